"""``cocapp qualitative-framework``: framework matrices (case, site and participant group × theme),
code frequencies by site and the codebook with counts, small cells suppressed."""

from __future__ import annotations

from cocapp.stages.qualitative import FRAMEWORK, canonical_arguments, read_canonical

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    canonical_arguments(parser)
    for name, file in FRAMEWORK.items():
        parser.add_argument(f"--{name.replace('_', '-')}", required=True, help=f"qualitative/{file}")


def run(args, settings, log) -> dict:
    from cocapp.config import site_names
    from cocapp.qualitative.framework import suppressed_framework_tables

    seg, cases, codes = read_canonical(args, log)
    sites = site_names(settings)
    tables = suppressed_framework_tables(seg, cases, codes, sites, settings["qualitative"])
    return {getattr(args, name): tables[file] for name, file in FRAMEWORK.items()}
