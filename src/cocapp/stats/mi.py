"""Site comparisons on multiply imputed item answers, pooled (stage ``impute``).

Each completed dataset (:mod:`cocapp.stats.imputation`) is analysed with the pipeline's own code — scale
scores by :func:`cocapp.stats.scoring.score_group` (every item now answered, threshold 0), site means by
:func:`cocapp.stats.anova.summarise_groups`, one-way ANOVA, Tukey–Kramer pairs and Pearson correlations
by :func:`cocapp.stats.compare.compare_sites`, the ANCOVA models by
:func:`cocapp.stats.adjusted.compare_adjusted` (without the slopes check) — and the m results are pooled
by :mod:`cocapp.stats.pooling`:

* site means: Rubin's rules with U = SD²/n and complete-data df n − 1 (``mice::pool`` of ``lm(y ~ 1)``
  per site); ANCOVA adjusted means: U = SE², df = the residual df;
* pairwise differences: Rubin's rules on the Tukey–Kramer (U = MS_within(1/n_a + 1/n_b), df N − k) and
  ANCOVA (U = SE², residual df) differences; the pooled t = Q̄/√T is referred to the studentized range
  on the Barnard–Rubin df for a Tukey-adjusted p (q = |t|√2), an approximation documented as such;
* the omnibus site test: D1 on the k − 1 site contrasts (one-way: covariance from MS_within and n;
  ANCOVA: from the SEs of the adjusted means and of their differences) with the complete-data df, and
  D2 on the m statistics χ² = df1·F;
* correlations among the scales chosen by ``groups.<g>.correlations`` (default the instrument totals),
  the pairs and names of ``correlations.csv``: Fisher z (``mice::pool.r.squared``'s rule).

For the MNAR sensitivity (δ adjustment) only the omnibus tests are recomputed per δ — the one-way ANOVA
always, the ANCOVA models when asked (``imputation.delta_ancova``: m × δ × outcomes × models more
fits) — and the tipping point of each outcome and analysis is the δ of smallest |δ| at which the D1
conclusion (p < α) differs from the conclusion under MAR (δ = 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cocapp.config import group_correlation_measures
from cocapp.stats import studentized_range
from cocapp.stats.anova import anova_from_summary, site_codes, summarise_groups
from cocapp.stats.compare import scale_correlations
from cocapp.stats.pooling import d1, d2, emm_contrasts, oneway_contrasts, pool_correlation, rubin
from cocapp.stats.posthoc import tukey_differences
from cocapp.stats.scoring import person_means

__all__ = [
    "COLUMNS",
    "ONEWAY",
    "analyse",
    "pool_analyses",
    "tipping_points",
]

ONEWAY = "one-way ANOVA"
COMPLETE = "0.0"
_KEYS = ["group", "instrument", "scale"]
COLUMNS: dict[str, list[str]] = {
    "means": _KEYS
    + [
        "delta",
        "analysis",
        "site",
        "n",
        "m",
        "estimate",
        "se",
        "df",
        "ci_low",
        "ci_high",
        "riv",
        "fmi",
        "re",
    ],
    "tests": _KEYS
    + ["delta", "analysis", "method", "m", "F", "df1", "df2", "p", "riv", "fmi", "significant"],
    "pairs": _KEYS
    + [
        "delta",
        "analysis",
        "site_a",
        "site_b",
        "m",
        "diff",
        "se",
        "df",
        "t",
        "p",
        "p_adj",
        "ci_low",
        "ci_high",
        "riv",
        "fmi",
        "re",
        "significant",
    ],
    "correlations": [
        "group",
        "site",
        "x",
        "y",
        "n",
        "m",
        "r",
        "ci_low",
        "ci_high",
        "p",
        "df",
        "riv",
        "fmi",
        "re",
        "significant",
    ],
    "tipping": _KEYS
    + [
        "analysis",
        "method",
        "p_mar",
        "significant_mar",
        "deltas_tested",
        "tipping_delta",
        "p_at_tipping",
        "significant_at_tipping",
        "conclusion",
    ],
}


def _ancova_name(model: str) -> str:
    return f"ANCOVA: {model}"


def analyse(
    items: pd.DataFrame,
    respondents: pd.DataFrame,
    instruments: Mapping,
    group: str,
    spec: Mapping,
    sites: Sequence[str],
    *,
    alpha: float,
    confidence: float,
    full: bool = True,
    adjusted: bool = True,
    emm_weights: str = "equal",
    covariate_frame: pd.DataFrame | None = None,
    site_models: dict | None = None,
) -> dict[str, object]:
    """The per-dataset analyses of one completed items table (one imputation, one δ).

    Scores every scale at threshold 0 (:func:`cocapp.stats.scoring.person_means`, the core of
    ``score_group``); per outcome the site summaries (:func:`summarise_groups`), the one-way ANOVA
    (:func:`anova_from_summary`, the F test of ``oneway_anova``) and the estimates of every ANCOVA model
    (:func:`cocapp.stats.ancova.site_estimates`: the adjusted means, pair differences and site F of
    ``ancova``, adjusted means weighted by ``emm_weights``); when ``full`` also the Tukey–Kramer
    differences and standard errors (:func:`tukey_differences`) and the correlations among the scales
    chosen by ``spec["correlations"]`` (totals and/or subscales; default every instrument's total),
    named as in ``correlations.csv`` (:func:`cocapp.stats.compare.scale_correlations`, the complete-case
    code); ``adjusted`` False leaves the ANCOVA models out.
    The p values of each dataset are not computed: pooling needs estimates and variances only.
    Returns arrays in outcome order, ready for :func:`pool_analyses`: ``keys`` (list of outcome keys),
    ``n``/``mean``/``var`` (outcomes × sites),
    ``F``/``df1``/``df2``/``ms_within`` (outcomes), per model ``ancova`` dicts of arrays, and when
    ``full`` ``tukey_diff``/``tukey_se`` (outcomes × pairs) and the ``correlations`` table.
    """
    from cocapp.stats.adjusted import _covariate_frame
    from cocapp.stats.ancova import SiteModel, coded_labels

    levels = list(sites)
    patterns = spec.get("item_columns") or {}
    models = spec["ancova_models"] if adjusted else {}
    prepared = {} if site_models is None else site_models
    needed = {c: spec["covariates"][c] for mm in models.values() for c in mm}
    kinds = {c: needed[c]["type"] for c in needed}
    if models:
        cov = (
            covariate_frame
            if covariate_frame is not None
            else _covariate_frame(respondents, needed, "respondents")
        )
    # factors coded once per dataset, then taken row by row for every outcome and model -- when a model is
    # prepared, i.e. only by the first dataset of a group that a process analyses
    coded: dict[str, object] = {}

    def covariate(c: str):
        if c not in coded:
            coded[c] = coded_labels(cov[c].to_numpy()) if kinds[c] == "categorical" else cov[c].to_numpy()
        return coded[c]

    keys, n, mean, var, anova, tk_diff, tk_se, chosen = [], [], [], [], [], [], [], []
    chosen_spec = spec if "instruments" in spec else {"instruments": list(instruments), **spec}
    measures = group_correlation_measures(chosen_spec)
    # fewer than two measures: no correlations (scale_correlations would return None)
    correlated = {(inst, scale) for _, inst, scale in measures} if len(measures) > 1 else set()
    adj: dict[str, dict[str, list]] = {
        mname: {"q": [], "se": [], "pair_se": [], "diff": [], "df": [], "F": [], "df1": [], "n": []}
        for mname in models
    }
    all_ids = items["id"].astype(str).to_numpy()
    all_sites = items["site"].astype(str).to_numpy()
    all_codes = np.asarray(pd.Index(levels, dtype=object).get_indexer(all_sites), dtype=np.intp)  # site_codes
    for key, inst in instruments.items():
        # the scores of score_group at threshold 0 (every item answered after imputation), kept as arrays
        pm = person_means(items, inst, patterns.get(key))
        sc = pm.scores([COMPLETE])[:, :, 0]
        keep = pm.keep
        ids, site = all_ids[keep], all_sites[keep]
        codes_all = all_codes[keep]
        if (codes_all < 0).any():
            site_codes(site, levels, "items: column 'site'")  # raises naming the unknown sites
        rows_all = cov.index.get_indexer(ids) if models else None
        if models and (rows_all < 0).any():
            missing = sorted(set(ids[rows_all < 0].tolist()))[:5]
            raise ValueError(f"respondents: id(s) {missing} have item answers but no respondent row")
        for j, scale in enumerate(pm.scales):
            y_all = sc[keep, j]
            ok = np.isfinite(y_all)
            y, codes = y_all[ok], codes_all[ok]
            s = summarise_groups(y, codes, levels)
            keys.append((group, key, scale.key))
            n.append(s.n)
            mean.append(s.mean)
            var.append(s.var)
            anova.append(anova_from_summary(s))
            if full:
                d, se = tukey_differences(s)
                tk_diff.append(d)
                tk_se.append(se)
                if (key, scale.key) in correlated:
                    scores = {"id": ids[ok], "site": site[ok], "instrument": key, "scale": scale.key}
                    chosen.append(pd.DataFrame(scores | {"score": y}))
            if not models:
                continue
            rows = rows_all[ok]
            for mname, mcovs in models.items():
                # the completed datasets share each outcome's respondents: the model is prepared once
                where = (group, key, scale.key, mname, keep.tobytes(), ok.tobytes())
                if where not in prepared:
                    site_y = {"site": pd.Categorical.from_codes(codes, categories=levels), "score": y}
                    prepared[where] = SiteModel(
                        site_y | {c: covariate(c)[rows] for c in mcovs},
                        {c: kinds[c] for c in mcovs},
                        levels,
                        emm_weights=emm_weights,
                    )
                est = prepared[where].estimates(y)
                a = adj[mname]
                a["q"].append(est.adj_mean)
                a["se"].append(est.se)
                a["n"].append(est.n)
                a["df"].append(est.df)
                a["pair_se"].append(est.pair_se)
                a["diff"].append(est.diff)
                a["F"].append(est.F)
                a["df1"].append(est.df1)
    out: dict[str, object] = {
        "keys": keys,
        "n": np.array(n),
        "mean": np.array(mean),
        "var": np.array(var),
        "F": np.array([r["F"] for r in anova], dtype=np.float64),
        "df1": np.array([r["df1"] for r in anova], dtype=np.float64),
        "df2": np.array([r["df2"] for r in anova], dtype=np.float64),
        "ms_within": np.array([r["ms_within"] for r in anova], dtype=np.float64),
        "ancova": {mname: {c: np.array(v) for c, v in a.items()} for mname, a in adj.items()},
    }
    if full:
        out["tukey_diff"] = np.array(tk_diff)
        out["tukey_se"] = np.array(tk_se)
        sc_chosen = (
            pd.concat(chosen, ignore_index=True)
            if chosen
            else pd.DataFrame(columns=["id", "site", "instrument", "scale", "score"])
        )
        corr = (
            scale_correlations(sc_chosen, measures, levels, alpha, confidence, None) if correlated else None
        )
        out["correlations"] = corr if corr is not None else pd.DataFrame(columns=["site", "x", "y", "n", "r"])
        if corr is not None:
            out["correlations"].insert(0, "group", group)
    return out


_RUBIN_OUT = ("estimate", "se", "df", "ci_low", "ci_high", "riv", "fmi", "re")


def pool_analyses(
    results: Sequence[Mapping[str, object]],
    sites: Sequence[str],
    delta: float,
    *,
    alpha: float,
    confidence: float,
    full: bool = True,
) -> dict[str, pd.DataFrame]:
    """Pool the per-imputation results of :func:`analyse` (m ≥ 2) for one δ: ``means``, ``tests`` and,
    when ``full``, ``pairs`` and ``correlations`` (columns: :data:`COLUMNS`)."""
    m = len(results)
    levels = list(sites)
    k_sites = len(levels)
    keys = results[0]["keys"]
    a_idx, b_idx = np.triu_indices(k_sites, k=1)
    means, tests, pairs = [], [], []
    # -- unadjusted site means: U = SD²/n, dfcom = n - 1 (all outcomes at once)
    n = results[0]["n"]  # outcomes x sites (complete data: the same in every imputation)
    q = np.stack([r["mean"] for r in results])
    u = np.stack([r["var"] for r in results]) / n
    ok = n > 1
    pooled = rubin(
        np.where(ok, q, 0.0), np.where(ok, u, 1.0), dfcom=np.where(ok, n - 1, 1.0), confidence=confidence
    )
    for o, key in enumerate(keys):
        base = dict(zip(_KEYS, key, strict=True)) | {"delta": delta}
        for i, site in enumerate(levels):
            vals = {c: float(pooled[c][o, i]) if ok[o, i] else np.nan for c in _RUBIN_OUT}
            means.append(base | {"analysis": ONEWAY, "site": site, "n": int(n[o, i]), "m": m} | vals)
    # -- one-way omnibus: D1 on site contrasts, D2 on df1·F
    F = np.stack([r["F"] for r in results])
    df1, df2 = results[0]["df1"], results[0]["df2"]
    msw = np.stack([r["ms_within"] for r in results])
    for o, key in enumerate(keys):
        base = dict(zip(_KEYS, key, strict=True)) | {"delta": delta}
        if not (np.isfinite(F[:, o]).all() and (n[o] > 0).all()):
            continue
        con = [oneway_contrasts(r["mean"][o], n[o], msw[i, o]) for i, r in enumerate(results)]
        t1 = d1(np.array([c[0] for c in con]), np.array([c[1] for c in con]), dfcom=float(df2[o]))
        t2 = d2(df1[o] * F[:, o], int(df1[o]))
        tests += [_test_row(base, ONEWAY, "D1", m, t1, alpha), _test_row(base, ONEWAY, "D2", m, t2, alpha)]
    # -- ANCOVA models
    for mname, a0 in results[0]["ancova"].items():
        name = _ancova_name(mname)
        A = {c: np.stack([r["ancova"][mname][c] for r in results]) for c in a0}
        dfres = a0["df"]
        for o, key in enumerate(keys):
            base = dict(zip(_KEYS, key, strict=True)) | {"delta": delta}
            qq, se = A["q"][:, o], A["se"][:, o]
            fine = bool(np.isfinite(qq).all() and np.isfinite(se).all() and np.isfinite(dfres[o]))
            pooled = rubin(qq, se**2, dfcom=dfres[o], confidence=confidence) if fine else None
            for i, site in enumerate(levels):
                vals = {c: float(pooled[c][i]) if fine else np.nan for c in _RUBIN_OUT}
                means.append(
                    base
                    | {"analysis": name, "site": site, "n": int(np.nan_to_num(a0["n"][o, i])), "m": m}
                    | vals
                )
            if not fine:
                continue
            con = [emm_contrasts(qq[i], se[i], A["pair_se"][i, o]) for i in range(m)]
            t1 = d1(np.array([c[0] for c in con]), np.array([c[1] for c in con]), dfcom=float(dfres[o]))
            t2 = d2(A["df1"][:, o] * A["F"][:, o], int(a0["df1"][o]))
            tests += [_test_row(base, name, "D1", m, t1, alpha), _test_row(base, name, "D2", m, t2, alpha)]
            if full:
                pairs += _pool_pairs(
                    base,
                    name,
                    levels,
                    a_idx,
                    b_idx,
                    A["diff"][:, o],
                    A["pair_se"][:, o] ** 2,
                    float(dfres[o]),
                    m,
                    alpha,
                    confidence,
                )
    out = {
        "means": pd.DataFrame(means, columns=COLUMNS["means"]),
        "tests": pd.DataFrame(tests, columns=COLUMNS["tests"]),
    }
    if full:
        diff = np.stack([r["tukey_diff"].ravel() for r in results])
        u = np.stack([r["tukey_se"].ravel() ** 2 for r in results])
        npairs = len(a_idx)
        oneway_pairs = []
        for o, key in enumerate(keys):
            base = dict(zip(_KEYS, key, strict=True)) | {"delta": delta}
            sl = slice(o * npairs, (o + 1) * npairs)
            oneway_pairs += _pool_pairs(
                base, ONEWAY, levels, a_idx, b_idx, diff[:, sl], u[:, sl], float(df2[o]), m, alpha, confidence
            )
        order = {k: i for i, k in enumerate(keys)}
        allp = oneway_pairs + pairs
        allp.sort(key=lambda r: order[(r["group"], r["instrument"], r["scale"])])  # stable: one-way first
        out["pairs"] = pd.DataFrame(allp, columns=COLUMNS["pairs"])
        out["correlations"] = pd.DataFrame(
            _pool_correlations([r["correlations"] for r in results], m, alpha, confidence),
            columns=COLUMNS["correlations"],
        )
    return out


def _test_row(base: dict, analysis: str, method: str, m: int, t: dict, alpha: float) -> dict:
    p = t["p"]
    return base | {
        "analysis": analysis,
        "method": method,
        "m": m,
        "F": t["F"],
        "df1": t["df1"],
        "df2": t["df2"],
        "p": p,
        "riv": t["riv"],
        "fmi": t["fmi"],
        "significant": bool(p < alpha) if np.isfinite(p) else None,
    }


def _pool_pairs(base, analysis, levels, a_idx, b_idx, q, u, dfcom, m, alpha, confidence) -> list[dict]:
    """Rubin-pooled pairwise differences (``q``, ``u``: m × pairs); Tukey-adjusted p from the
    studentized range on the pooled |t|·√2 with the Barnard–Rubin df (an approximation: the range
    distribution is not exact for pooled t)."""
    ok = np.isfinite(q).all(axis=0) & np.isfinite(u).all(axis=0)
    pooled = rubin(np.where(ok, q, 0.0), np.where(ok, u, 1.0), dfcom=dfcom, confidence=confidence)
    stat = np.abs(pooled["statistic"]) * np.sqrt(2.0)
    p_adj = np.full(len(ok), np.nan)
    if ok.any():
        p_adj[ok] = studentized_range.sf(stat[ok], len(levels), pooled["df"][ok])
    rows = []
    for i in range(len(ok)):

        def get(c, i=i):
            return float(pooled[c][i]) if ok[i] else np.nan

        pa = float(p_adj[i])
        rows.append(
            base
            | {
                "analysis": analysis,
                "site_a": levels[a_idx[i]],
                "site_b": levels[b_idx[i]],
                "m": m,
                "diff": get("estimate"),
                "se": get("se"),
                "df": get("df"),
                "t": get("statistic"),
                "p": get("p"),
                "p_adj": pa,
                "ci_low": get("ci_low"),
                "ci_high": get("ci_high"),
                "riv": get("riv"),
                "fmi": get("fmi"),
                "re": get("re"),
                "significant": bool(pa < alpha) if np.isfinite(pa) else None,
            }
        )
    return rows


def _pool_correlations(frames: list[pd.DataFrame], m: int, alpha: float, confidence: float) -> list[dict]:
    if not len(frames[0]):
        return []
    rs = np.stack([f["r"].to_numpy(dtype=np.float64) for f in frames])
    ns = np.stack([f["n"].to_numpy(dtype=np.float64) for f in frames])
    rows = []
    for i in range(rs.shape[1]):
        r0 = frames[0].iloc[i]
        base = {
            "group": r0["group"],
            "site": r0["site"],
            "x": r0["x"],
            "y": r0["y"],
            "n": int(ns[0, i]),
            "m": m,
        }
        if not (np.isfinite(rs[:, i]).all() and (ns[:, i] > 3).all() and (np.abs(rs[:, i]) < 1).all()):
            rows.append(
                base
                | {c: np.nan for c in ("r", "ci_low", "ci_high", "p", "df", "riv", "fmi", "re")}
                | {"significant": None}
            )
            continue
        pc = pool_correlation(rs[:, i], ns[:, i], confidence)
        rows.append(
            base
            | {c: pc[c] for c in ("r", "ci_low", "ci_high", "p", "df", "riv", "fmi", "re")}
            | {"significant": bool(pc["p"] < alpha)}
        )
    return rows


def tipping_points(tests: pd.DataFrame, deltas: Sequence[float], method: str = "D1") -> pd.DataFrame:
    """Per outcome and analysis: the conclusion about site differences under MAR (δ = 0, D1 p < α) and
    the δ of smallest |δ| (negative before positive on ties) at which it changes; empty when it never
    changes over the δ tested."""
    t = tests[tests["method"] == method]
    order = sorted([d for d in deltas if d != 0], key=lambda d: (abs(d), d > 0))
    rows = []
    for key, g in t.groupby(_KEYS + ["analysis"], sort=False):
        by = g.set_index("delta")
        if 0.0 not in by.index:
            continue
        tested = ", ".join(f"{d:g}" for d in deltas if d in by.index)  # ANCOVA: only with delta_ancova
        sig0 = by.loc[0.0, "significant"]
        row = dict(zip(_KEYS + ["analysis"], key, strict=True)) | {
            "method": method,
            "p_mar": float(by.loc[0.0, "p"]),
            "significant_mar": sig0,
            "deltas_tested": tested,
            "tipping_delta": np.nan,
            "p_at_tipping": np.nan,
            "significant_at_tipping": None,
        }
        for d in order:
            if d in by.index and by.loc[d, "significant"] is not None and by.loc[d, "significant"] != sig0:
                row |= {
                    "tipping_delta": d,
                    "p_at_tipping": float(by.loc[d, "p"]),
                    "significant_at_tipping": by.loc[d, "significant"],
                }
                break
        what = "site differences" if sig0 else "no site differences"
        if not any(d in by.index for d in order):
            row["conclusion"] = f"{what} under MAR; no delta tested for this analysis"
        elif np.isnan(row["tipping_delta"]):
            row["conclusion"] = f"{what} under MAR; unchanged for every delta tested"
        else:
            row["conclusion"] = f"{what} under MAR; changes at delta = {row['tipping_delta']:g}"
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS["tipping"])
