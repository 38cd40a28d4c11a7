"""``cocapp compare-sites``: one-way ANOVA, Tukey–Kramer, Games–Howell and correlations, every threshold.

Per group, threshold and outcome: ANOVA with Levene and Welch, Tukey–Kramer and Games–Howell site
pairs, and Pearson correlations among the instruments' totals (:func:`cocapp.stats.compare.compare_sites`).
Writes ``stats/anova.csv``, ``tukey.csv``, ``games_howell.csv`` and ``correlations.csv``.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    concat_outputs,
    file_options,
    group_files,
    scores_by_threshold,
    thresholds_of,
)

__all__ = ["add_arguments", "run"]

TABLES = ("anova", "tukey", "games_howell", "correlations")


def add_arguments(parser) -> None:
    group_files(parser, "scores", "scores/{group}.csv, one per group")
    file_options(parser, TABLES, "stats")


def run(args, settings, log) -> dict:
    from cocapp.config import correlation_measures, site_names
    from cocapp.stats.compare import compare_sites

    sites = site_names(settings)
    st = settings["statistics"]
    parts: dict[str, list] = {name: [] for name in TABLES}
    for group, path in by_group(settings, args.scores, "scores").items():
        for t, at_t in scores_by_threshold(path, thresholds_of(settings), log):
            tables = compare_sites(
                at_t,
                settings["groups"][group]["instruments"],
                sites,
                group,
                t,
                alpha=float(st["significance_level"]),
                confidence=float(st["confidence_level"]),
                effect_size_labels=st["correlations"]["effect_size_labels"],
                measures=correlation_measures(settings, group),
            )
            del at_t  # before the next threshold is read
            for name in TABLES:
                parts[name].append(tables[name])
    out = concat_outputs(args, parts)
    anova = out[args.anova]
    log.info(f"{len(anova)} ANOVAs, {int((anova['significant'] == True).sum())} significant")  # noqa: E712
    return out
