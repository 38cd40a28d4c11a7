"""cocapp: regenerate the COCAPP survey analysis stage by stage.

Simpson et al. 2016, BMC Psychiatry 16:147.
"""

__version__ = "0.1.0"
