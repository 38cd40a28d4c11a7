"""``cocapp distributions``: descriptives by site, normality and reference values, every threshold.

Per group, threshold and scale: n, mean, SD, SEM and CI by site and pooled
(:func:`cocapp.stats.descriptives.descriptives_table`); skewness G1 and kurtosis G2 with SPSS standard
errors (:func:`cocapp.stats.normality.normality_table`); one-sample comparisons with the instruments'
published reference values (:func:`cocapp.stats.reference.reference_table`). Rows: groups in config order,
then thresholds. Writes ``stats/descriptives.csv``, ``normality.csv``, ``reference_comparison.csv``.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    concat_outputs,
    group_files,
    group_instruments,
    instruments_option,
    load_given_instruments,
    scores_by_threshold,
    thresholds_of,
)

__all__ = ["add_arguments", "run"]

# the columns of the scores table these statistics use (no ids: one threshold of a national study
# is millions of rows)
COLUMNS = ["site", "instrument", "scale", "threshold", "score"]


def add_arguments(parser) -> None:
    group_files(parser, "scores", "scores/{group}.csv, one per group")
    instruments_option(parser)
    parser.add_argument("--descriptives", required=True, help="stats/descriptives.csv")
    parser.add_argument("--normality", required=True, help="stats/normality.csv")
    parser.add_argument("--reference", required=True, help="stats/reference_comparison.csv")


def run(args, settings, log) -> dict:
    from cocapp.config import site_names
    from cocapp.stats.descriptives import descriptives_table
    from cocapp.stats.normality import normality_table
    from cocapp.stats.reference import reference_table

    sites = site_names(settings)
    level = float(settings["statistics"]["confidence_level"])
    limits = settings["statistics"]["normality_limits"]
    parts: dict[str, list] = {"descriptives": [], "normality": [], "reference": []}
    given = load_given_instruments(args, settings, log)
    for group, path in by_group(settings, args.scores, "scores").items():
        instruments = group_instruments(settings, group, given)
        for t, at_t in scores_by_threshold(path, thresholds_of(settings), log, COLUMNS):
            parts["descriptives"].append(
                descriptives_table(at_t, instruments, group, t, sites, confidence_level=level)
            )
            parts["normality"].append(
                normality_table(
                    at_t,
                    instruments,
                    group,
                    t,
                    sites,
                    conservative=float(limits["conservative"]),
                    liberal=float(limits["liberal"]),
                )
            )
            parts["reference"].append(
                reference_table(at_t, instruments, group, t, sites, confidence_level=level)
            )
            del at_t  # before the next threshold is read
    out = concat_outputs(args, parts)
    normality = out[args.normality]
    beyond = int((normality["beyond_liberal"] == True).sum())  # noqa: E712 - NaN counts as not beyond
    log.info(f"{len(normality)} scale x threshold distributions; {beyond} beyond the liberal limit")
    return out
