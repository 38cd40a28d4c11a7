"""YAML reading for config, schema and instrument files: libyaml's C parser when PyYAML has it.

``yaml.CSafeLoader`` builds the same Python objects as ``yaml.SafeLoader`` (same safe constructors)
about ten times faster; the Snakefile reads the config, its schema and every instrument file each
time it is parsed, so this is most of what a run with nothing to do spends in cocapp.
"""

from __future__ import annotations

import yaml

__all__ = ["LOADER", "safe_load"]

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LOADER = LOADER


def safe_load(text: str):
    """``yaml.safe_load(text)`` through the C loader when available (errors are ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
