"""``cocapp report``: one self-contained HTML report of the run
(:func:`cocapp.presentation.report.render_report`).

Every table, figure, the sensitivity verdict, the published comparison and the qualitative section
are declared inputs; the stage checks that each file the report is meant to show was given and
exists, so a missing upstream file is an error, never a quietly emptier report.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    parser.add_argument("--tables", nargs="+", required=True, help="every table file (tables stage)")
    parser.add_argument("--figures", nargs="+", required=True, help="every figure file (figures stage)")
    parser.add_argument(
        "--sensitivity", nargs="+", required=True, help="verdict.json and the sensitivity figures"
    )
    parser.add_argument("--audit", nargs="*", default=[], help="published_comparison/consistency.csv")
    parser.add_argument("--qualitative-section", help="qualitative/qualitative_section.html")
    parser.add_argument("--raw", nargs="+", required=True, help="raw input files (SHA-256 in provenance)")
    parser.add_argument("--config-file", nargs="+", required=True, help="the config file(s) of the run")
    parser.add_argument("--out", required=True, help="reports/report.html")


def _folder(files: list[str], name: str) -> Path:
    """The one folder holding ``name`` among ``files`` (a declared input)."""
    hits = [Path(f) for f in files if Path(f).name == name]
    if len(hits) != 1:
        raise ValueError(f"{name}: expected exactly one among the given files, found {len(hits)}")
    return hits[0].parent


def _check_given(expected: list[str], given: list[str], option: str) -> None:
    """Every file the report shows must be among the declared inputs, and exist."""
    tails = {Path(g).as_posix() for g in given}
    missing = [e for e in expected if not any(t.endswith(e) for t in tails)]
    if missing:
        raise ValueError(f"--{option}: the report shows {missing[:5]} but they were not given")
    absent = [g for g in given if not Path(g).is_file()]
    if absent:
        raise FileNotFoundError(f"--{option}: {absent[0]}: file not found")


def run(args, settings, log) -> dict:
    from cocapp.presentation.figures import figure_specs
    from cocapp.presentation.report import render_report
    from cocapp.presentation.tables import FORMATS, table_specs

    config = settings.plain()
    _check_given([f"{key}.html" for key, _ in table_specs(config)], args.tables, "tables")
    _check_given([f"{s.stem}.png" for s in figure_specs(config)], args.figures, "figures")
    _check_given(["verdict.json"], args.sensitivity, "sensitivity")
    _check_given([], args.audit + args.raw + args.config_file, "inputs")
    tables_dir = _folder(args.tables, f"{table_specs(config)[0][0]}.{FORMATS[0]}")
    figures_dir = Path(os.path.commonpath(args.figures))
    qual = Path(args.qualitative_section).read_text("utf-8") if args.qualitative_section else None
    text = render_report(
        config,
        args.config_file[0],
        tables_dir,
        figures_dir,
        _folder(args.sensitivity, "verdict.json"),
        qual,
        args.raw,
    )
    log.info(f"{len(args.tables)} table files, {len(args.figures)} figure files embedded or linked")
    return {args.out: text}
