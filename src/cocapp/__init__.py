"""cocapp: regenerate the COCAPP survey analysis (Simpson et al. 2016, BMC Psychiatry 16:147) stage by stage."""

__version__ = "0.1.0"
