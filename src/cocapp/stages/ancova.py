"""``cocapp ancova``: ANCOVA of every outcome for every covariate model, every threshold.

Per group, threshold, outcome and model: the type III table, adjusted means, their pairwise
comparisons (``statistics.post_hoc.ancova``) and the homogeneity-of-slopes check
(:func:`cocapp.stats.adjusted.compare_adjusted`). Writes ``stats/ancova.csv``, ``ancova_means.csv``,
``ancova_posthoc.csv`` and ``ancova_slopes.csv``.
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

TABLES = ("ancova", "ancova_means", "ancova_posthoc", "ancova_slopes")


def add_arguments(parser) -> None:
    group_files(parser, "scores", "scores/{group}.csv, one per group")
    group_files(parser, "respondents", "ingest/{group}_respondents.csv, one per group")
    file_options(parser, TABLES, "stats")


def run(args, settings, log) -> dict:
    from cocapp.config import site_names
    from cocapp.contracts import read
    from cocapp.stats.adjusted import compare_adjusted

    sites = site_names(settings)
    st = settings["statistics"]
    parts: dict[str, list] = {name: [] for name in TABLES}
    respondents = by_group(settings, args.respondents, "respondents")
    for group, path in by_group(settings, args.scores, "scores").items():
        spec = settings["groups"][group]
        # the ids and the covariates the models use (a national study's respondents file has more)
        used = list(dict.fromkeys(c for covs in spec["ancova_models"].values() for c in covs))
        resp = read("respondents", respondents[group], log, columns=["id", *used])
        for t, at_t in scores_by_threshold(path, thresholds_of(settings), log):
            tables = compare_adjusted(
                at_t,
                resp,
                spec["instruments"],
                sites,
                group,
                t,
                covariates=spec["covariates"],
                models=spec["ancova_models"],
                alpha=float(st["significance_level"]),
                confidence=float(st["confidence_level"]),
                posthoc=st["post_hoc"]["ancova"],
                respondents_source=respondents[group],
                emm_weights=st.get("adjusted_means_weights", "equal"),
            )
            del at_t  # before the next threshold is read
            for name in TABLES:
                parts[name].append(tables[name])
    out = concat_outputs(args, parts)
    log.info(f"{len(out[args.ancova_means])} adjusted means ({st['post_hoc']['ancova']} post hoc)")
    return out
