"""``cocapp audit``: every printed number of the paper against the regenerated one, and statcheck-style
checks of the print itself (:mod:`cocapp.presentation.audit`). Writes ``published_comparison.csv`` and
``published_consistency.csv``.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    file_options,
    group_files,
    instruments_option,
    load_calibration,
    load_given_instruments,
    read_named,
)

__all__ = ["add_arguments", "run"]

STATS = ("anova", "descriptives", "reliability", "correlations")
STATEMENT_STATS = ("missingness", "normality")


def add_arguments(parser) -> None:
    parser.add_argument("--published", required=True, help="published numbers (config published.reference)")
    file_options(parser, STATS, "stats")
    group_files(parser, "reconciliation", "ingest/{group}_reconciliation.csv, one per group")
    instruments_option(parser)
    file_options(parser, STATEMENT_STATS, "stats")  # the paper's missing-data and normality statements
    parser.add_argument(
        "--calibration", help="calibration targets of synthetic data (config study.calibration.targets)"
    )
    parser.add_argument("--comparison", required=True, help="published_comparison.csv")
    parser.add_argument("--consistency", required=True, help="published_consistency.csv")


def load_published(path: str) -> dict:
    """The published numbers (``published.reference``), each float with its printed text."""
    from pathlib import Path

    from cocapp.presentation.audit import parse_published

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: published numbers file not found")
    return parse_published(path.read_text("utf-8"), str(path))


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.presentation.audit import compare, consistency_checks

    pub = load_published(args.published)
    log.read(args.published)
    stats = read_named(args, STATS, log)
    stats.update(read_named(args, STATEMENT_STATS, log))
    files = by_group(settings, args.reconciliation, "reconciliation")
    recon = {g: read("reconciliation", p, log) for g, p in files.items()}
    checks = consistency_checks(pub, settings, load_given_instruments(args, settings, log))
    targets = load_calibration(args.calibration, settings, log)
    comparison = compare(pub, settings, stats, recon, checks, targets)
    n_match = int((comparison["match"] == True).sum())  # noqa: E712
    n_compared = int(comparison["match"].notna().sum())
    log.info(f"{n_match} of {n_compared} printed numbers matched within printed precision")
    for evidence, n in comparison["evidence"].value_counts(sort=False).items():
        log.info(f"  evidence {evidence}: {n} printed numbers")
    flagged = checks[checks["cannot_be_consistent"]]
    log.info(f"{len(flagged)} printed value(s) that cannot be consistent")
    for r in flagged.itertuples():
        log.info(
            f"  {r.check}: {r.group} {r.instrument}/{r.scale} {r.site} {r.quantity} printed {r.printed}"
            f" -> {r.suggested_value}"
        )
    return {args.comparison: comparison, args.consistency: checks}
