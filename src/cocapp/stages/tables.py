"""``cocapp tables``: the publication tables (Tables 1–4, reliability, ANCOVA means) in four formats.

Table 1 from the reconciliation files (every raw row returned / analysed), then per group the site
comparison table, per group with two or more instruments the correlation table, the reliability and
ANCOVA tables (:func:`cocapp.presentation.tables.build_tables`); each as CSV, Markdown, HTML and DOCX.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    file_options,
    group_files,
    instruments_option,
    load_given_instruments,
    match_outputs,
    read_named,
)

__all__ = ["STATS", "add_arguments", "run"]

STATS = ("anova", "descriptives", "reliability", "correlations", "ancova", "ancova_means")


def add_arguments(parser) -> None:
    file_options(parser, STATS, "stats")
    group_files(parser, "reconciliation", "ingest/{group}_reconciliation.csv, one per group")
    instruments_option(parser)
    parser.add_argument("--out", nargs="+", required=True, help="every table file to write")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.presentation.tables import build_tables, table_files

    stats = read_named(args, STATS, log)
    files = by_group(settings, args.reconciliation, "reconciliation")
    recon = {g: read("reconciliation", p, log) for g, p in files.items()}
    instruments = load_given_instruments(args, settings, log)
    rendered: dict = {}
    for table in build_tables(stats, recon, settings, instruments):
        rendered.update(table_files(table))
    log.info(f"{len(rendered)} table files")
    return match_outputs(args.out, rendered, "out")
