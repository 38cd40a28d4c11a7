"""``cocapp impute``: multiple imputation of the item answers, pooled site comparisons, δ tipping points.

Per group: ``imputation.m`` imputations of every missing item answer by chained equations with
predictive mean matching (:mod:`cocapp.stats.imputation`; ``imputation.iterations``, ``.seed``,
``.donors``, ``.min_correlation``); each completed dataset is scored and analysed with the pipeline's
own code and the results pooled (:mod:`cocapp.stats.mi`). For each δ of ``imputation.deltas`` (MNAR
sensitivity; only at ``imputation.delta_sites`` when given) the omnibus tests are recomputed and pooled,
and the tipping point of each outcome is the smallest |δ| at which its conclusion changes.

Writes under ``sensitivity/``: ``mi_means.csv``, ``mi_tests.csv``, ``mi_pairs.csv``,
``mi_correlations.csv``, ``mi_tipping.csv``, ``mi_diagnostics.csv``, ``mi_predictors.csv`` and the
convergence figure of every group. ``--workers N`` analyses the completed datasets in N processes
(results are gathered in a fixed order: the same bytes for any N).
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    concat_parts,
    file_options,
    group_files,
    group_instruments,
    instruments_option,
    load_given_instruments,
    parallel_map,
    workers_option,
)

__all__ = ["add_arguments", "run"]

OUTPUTS = ("means", "tests", "pairs", "correlations", "tipping", "diagnostics", "predictors")

# the imputed groups, set before the worker processes are forked (they inherit them)
_IMPUTED: dict = {}


def add_arguments(parser) -> None:
    group_files(parser, "items", "ingest/{group}_items.csv, one per group")
    group_files(parser, "respondents", "ingest/{group}_respondents.csv, one per group")
    instruments_option(parser)
    file_options(parser, OUTPUTS, "sensitivity/mi_")
    parser.add_argument("--figures", nargs="+", required=True, help="figures/sensitivity/*_mi_convergence.*")
    workers_option(parser, "imputing the groups and analysing the completed datasets")


def _analysis_settings(settings) -> dict:
    st = settings["statistics"]
    # pooled pairs are always referred to the studentized range (cocapp.stats.mi), so the ANCOVA post hoc
    # family of the complete-data analysis is not a setting of this stage
    return {
        "alpha": float(st["significance_level"]),
        "confidence": float(st["confidence_level"]),
        "emm_weights": st.get("adjusted_means_weights", "equal"),
    }


def _task(task):
    """Analyse completed dataset ``index`` of ``group`` shifted by ``delta`` (runs in a worker)."""
    from cocapp.stats.mi import analyse

    group, index, delta, full, adjusted = task
    ctx = _IMPUTED[group]
    data = ctx["imputed"].dataset(index, delta, ctx["delta_sites"])
    return analyse(
        data,
        ctx["respondents"],
        ctx["instruments"],
        group,
        ctx["spec"],
        ctx["sites"],
        full=full,
        adjusted=adjusted,
        covariate_frame=ctx["covariates"],
        site_models=ctx["site_models"],  # prepared by the first dataset of the group analysed in this process
        **ctx["analysis"],
    )


def _impute_task(group: str):
    """Impute ``group``'s item answers (runs in a worker)."""
    from cocapp.stats.imputation import impute_group

    ctx = _IMPUTED[group]
    return impute_group(
        group,
        ctx["items"],
        ctx["respondents"],
        ctx["instruments"],
        ctx["sites"],
        ctx["covariate_specs"],
        patterns=ctx["spec"].get("item_columns"),
        **ctx["engine"],
    )


def run(args, settings, log) -> dict:
    import time

    from cocapp.config import site_names
    from cocapp.contracts import read
    from cocapp.presentation.mi_figures import convergence_files
    from cocapp.stages.common import match_outputs
    from cocapp.stats.adjusted import _covariate_frame
    from cocapp.stats.mi import pool_analyses, tipping_points

    sites = site_names(settings)
    cfg = settings["imputation"]
    m, iterations = int(cfg["m"]), int(cfg["iterations"])
    deltas = [float(d) for d in cfg["deltas"]]
    if 0.0 not in deltas:
        deltas = [0.0, *deltas]
    delta_sites = cfg.get("delta_sites")
    unknown = sorted(set(delta_sites or []) - set(sites))
    if unknown:
        raise ValueError(f"imputation.delta_sites: {unknown} are not configured sites {sites}")
    analysis = _analysis_settings(settings)
    items_files = by_group(settings, args.items, "items")
    resp_files = by_group(settings, args.respondents, "respondents")
    instruments = load_given_instruments(args, settings, log)
    _IMPUTED.clear()
    started = time.perf_counter()
    for group, path in items_files.items():
        spec = settings["groups"][group]
        respondents = read("respondents", resp_files[group], log)
        covs = {c: spec["covariates"][c] for model in spec["ancova_models"].values() for c in model}
        _IMPUTED[group] = {
            "items": read("items", path, log),
            "covariate_specs": covs,
            "covariates": _covariate_frame(respondents, covs, resp_files[group]),
            "respondents": respondents,
            "instruments": group_instruments(settings, group, instruments),
            "spec": spec,
            "sites": sites,
            "delta_sites": delta_sites,
            "analysis": analysis,
            "site_models": {},
            "engine": {
                "m": m,
                "iterations": iterations,
                "seed": int(cfg["seed"]),
                "min_correlation": float(cfg["min_correlation"]),
                "donors": int(cfg["donors"]),
            },
        }
    # the groups are imputed independently (one random stream each), in parallel when workers allow
    for group, imputed in zip(
        _IMPUTED, parallel_map(_impute_task, list(_IMPUTED), args.workers), strict=True
    ):
        _IMPUTED[group]["imputed"] = imputed
        log.info(
            f"{group}: {int(imputed.imputed.sum())} item answers imputed {m} times "
            f"({iterations} iterations, {int(imputed.imputed.any(axis=1).sum())} respondents)"
        )
    delta_ancova = bool(cfg["delta_ancova"])
    tasks = [
        (g, i, d, d == 0.0, d == 0.0 or delta_ancova) for g in _IMPUTED for d in deltas for i in range(m)
    ]
    log.info(f"imputed in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    results = parallel_map(_task, tasks, args.workers)
    log.info(
        f"{len(tasks)} completed datasets analysed in {time.perf_counter() - started:.1f} s "
        f"({args.workers} worker(s))"
    )
    parts: dict[str, list] = {name: [] for name in OUTPUTS}
    pool_kw = {"alpha": analysis["alpha"], "confidence": analysis["confidence"]}
    k = 0
    for g in _IMPUTED:
        tests_g = []
        for d in deltas:
            res = results[k : k + m]
            k += m
            pooled = pool_analyses(res, sites, d, full=(d == 0.0), **pool_kw)
            tests_g.append(pooled["tests"])
            if d == 0.0:
                for name in ("means", "pairs", "correlations"):
                    parts[name].append(pooled[name])
        tests = concat_parts(tests_g)
        parts["tests"].append(tests)
        parts["tipping"].append(tipping_points(tests, deltas))
        parts["diagnostics"].append(_IMPUTED[g]["imputed"].diagnostics)
        parts["predictors"].append(_IMPUTED[g]["imputed"].predictors)
    instruments = load_given_instruments(args, settings, log)
    _IMPUTED.clear()
    out = {getattr(args, name): concat_parts(frames) for name, frames in parts.items()}
    tipping = out[args.tipping]
    changed = tipping["tipping_delta"].notna().sum()
    log.info(f"{len(tipping)} outcome x analysis conclusions, {changed} change within the deltas {deltas}")
    figures = convergence_files(out[args.diagnostics], settings, instruments)
    out.update(match_outputs(args.figures, figures, "figures"))
    return out
