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
* correlations among instrument totals: Fisher z (``mice::pool.r.squared``'s rule).

For the MNAR sensitivity (δ adjustment) only the omnibus tests are recomputed per δ, and the tipping
point of each outcome and analysis is the δ of smallest |δ| at which the D1 conclusion (p < α) differs
from the conclusion under MAR (δ = 0).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from cocapp.stats import studentized_range
from cocapp.stats.adjusted import compare_adjusted
from cocapp.stats.anova import oneway_anova, site_codes, summarise_groups
from cocapp.stats.compare import compare_sites
from cocapp.stats.outcomes import outcomes
from cocapp.stats.pooling import d1, d2, emm_contrasts, oneway_contrasts, pool_correlation, rubin
from cocapp.stats.scoring import score_group

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
    "means": _KEYS + ["delta", "analysis", "site", "n", "m", "estimate", "se", "df", "ci_low", "ci_high",
                      "riv", "fmi", "re"],
    "tests": _KEYS + ["delta", "analysis", "method", "m", "F", "df1", "df2", "p", "riv", "fmi",
                      "significant"],
    "pairs": _KEYS + ["delta", "analysis", "site_a", "site_b", "m", "diff", "se", "df", "t", "p",
                      "p_adj", "ci_low", "ci_high", "riv", "fmi", "re", "significant"],
    "correlations": ["group", "site", "x", "y", "n", "m", "r", "ci_low", "ci_high", "p", "df", "riv",
                     "fmi", "re", "significant"],
    "tipping": _KEYS + ["analysis", "method", "p_mar", "significant_mar", "deltas_tested",
                        "tipping_delta", "p_at_tipping", "significant_at_tipping", "conclusion"],
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
    posthoc: str,
    labels: Mapping | None = None,
    full: bool = True,
) -> dict[str, pd.DataFrame]:
    """The per-dataset analyses of one completed items table (one imputation, one δ).

    Returns ``sites`` (keys, site, n, mean, var), ``anova`` (keys, df1, df2, F, ms_within), ``ancova``
    (terms), ``ancova_means``, ``ancova_posthoc`` and, when ``full``, ``tukey`` and ``correlations`` —
    the tables of :func:`compare_sites` / :func:`compare_adjusted` at threshold 0.
    """
    scores = score_group(items, instruments, [0.0], spec.get("item_columns"))
    keys_in = list(instruments)
    out: dict[str, pd.DataFrame] = {}
    if full:
        comp = compare_sites(scores, keys_in, list(sites), group, COMPLETE, alpha=alpha,
                             confidence=confidence, effect_size_labels=labels)
        out["anova"], out["tukey"], out["correlations"] = comp["anova"], comp["tukey"], comp["correlations"]
    rows, anova_rows = [], []
    for keys, d in outcomes(scores, keys_in, group, COMPLETE):
        y = d["score"].to_numpy(dtype=np.float64)
        codes = site_codes(d["site"].astype(str), list(sites), "scores: column 'site'")
        s = summarise_groups(y, codes, list(sites))
        for i, site in enumerate(sites):
            rows.append({**keys, "site": site, "n": int(s.n[i]), "mean": s.mean[i], "var": s.var[i]})
        if not full:
            anova_rows.append({**keys, **oneway_anova(y, codes, list(sites), alpha)})
    out["sites"] = pd.DataFrame(rows)
    if not full:
        out["anova"] = pd.DataFrame(anova_rows)
    adj = compare_adjusted(
        scores, respondents, keys_in, list(sites), group, COMPLETE, covariates=spec["covariates"],
        models=spec["ancova_models"], alpha=alpha, confidence=confidence, posthoc=posthoc, slopes=False,
    )
    out["ancova"], out["ancova_means"], out["ancova_posthoc"] = (
        adj["ancova"], adj["ancova_means"], adj["ancova_posthoc"])
    return out


def _stack(results: Sequence[Mapping[str, pd.DataFrame]], name: str) -> list[pd.DataFrame]:
    return [r[name].reset_index(drop=True) for r in results]


def _per_key(frames: list[pd.DataFrame], keys: list[str]):
    """Yield (key values, [rows of that key per imputation]) — every imputation has the same rows."""
    first = frames[0]
    for key, idx in first.groupby(keys, sort=False).indices.items():
        yield key, [f.iloc[idx] for f in frames]


def pool_analyses(
    results: Sequence[Mapping[str, pd.DataFrame]],
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
    k = len(sites)
    means, tests, pairs, cors = [], [], [], []
    # -- site means (unadjusted) and the one-way omnibus test
    site_frames = _stack(results, "sites")
    anova_frames = _stack(results, "anova")
    anova_index = {tuple(r[_KEYS]): i for i, r in anova_frames[0].iterrows()}
    for key, rows in _per_key(site_frames, _KEYS):
        base = dict(zip(_KEYS, key, strict=True)) | {"delta": delta}
        n = rows[0]["n"].to_numpy(dtype=np.float64)
        q = np.array([r["mean"].to_numpy() for r in rows])
        u = np.array([r["var"].to_numpy() for r in rows]) / n
        pooled = rubin(q, u, dfcom=n - 1, confidence=confidence)
        for i, site in enumerate(sites):
            means.append(base | {"analysis": ONEWAY, "site": site, "n": int(n[i]), "m": m}
                         | {c: float(pooled[c][i]) for c in ("estimate", "se", "df", "ci_low", "ci_high",
                                                              "riv", "fmi", "re")})
        a = [f.iloc[anova_index[key]] for f in anova_frames]
        if all(n > 0) and all(np.isfinite(x["F"]) for x in a):
            contrasts = [oneway_contrasts(r["mean"].to_numpy(), n, x["ms_within"]) for r, x in
                         zip(rows, a, strict=True)]
            t1 = d1(np.array([c[0] for c in contrasts]), np.array([c[1] for c in contrasts]),
                    dfcom=float(a[0]["df2"]))
            t2 = d2([x["df1"] * x["F"] for x in a], int(a[0]["df1"]))
            tests += [_test_row(base, ONEWAY, "D1", m, t1, alpha), _test_row(base, ONEWAY, "D2", m, t2, alpha)]
        if full:
            tk = [f for f in _stack(results, "tukey")]
            sel = [f[(f[_KEYS] == pd.Series(key, index=_KEYS)).all(axis=1)] for f in tk]
            pairs += _pool_pairs(base, ONEWAY, sel, float(a[0]["df2"]), k, m, alpha, confidence)
    # -- ANCOVA: adjusted means, omnibus, pairs
    anc = _stack(results, "ancova")
    emm = _stack(results, "ancova_means")
    post = _stack(results, "ancova_posthoc")
    mkeys = _KEYS + ["model"]
    post_groups = [f.groupby(mkeys, sort=False).indices for f in post]
    term_groups = [f.groupby(mkeys, sort=False).indices for f in anc]
    for key, rows in _per_key(emm, mkeys):
        base = dict(zip(_KEYS, key[:3], strict=True)) | {"delta": delta}
        name = _ancova_name(key[3])
        df_res = rows[0]["df"].to_numpy(dtype=np.float64)
        q = np.array([r["adj_mean"].to_numpy(dtype=np.float64) for r in rows])
        se = np.array([r["se"].to_numpy(dtype=np.float64) for r in rows])
        ok = bool(np.isfinite(q).all() and np.isfinite(se).all())
        pooled = rubin(q, se**2, dfcom=df_res, confidence=confidence) if ok else None
        for i, site in enumerate(rows[0]["site"]):
            row = base | {"analysis": name, "site": site, "n": int(rows[0]["n"].iloc[i]), "m": m}
            stats_ = {c: float(pooled[c][i]) if ok else np.nan
                      for c in ("estimate", "se", "df", "ci_low", "ci_high", "riv", "fmi", "re")}
            means.append(row | stats_)
        if not ok:
            continue
        pp = [f.iloc[g[key]] for f, g in zip(post, post_groups, strict=True)]
        contrasts = [emm_contrasts(q[i], se[i], pp[i]["se"].to_numpy(dtype=np.float64)) for i in range(m)]
        t1 = d1(np.array([c[0] for c in contrasts]), np.array([c[1] for c in contrasts]), dfcom=float(df_res[0]))
        terms = [f.iloc[g[key]].set_index("term").loc["site"] for f, g in zip(anc, term_groups, strict=True)]
        t2 = d2([t["df"] * t["F"] for t in terms], int(terms[0]["df"]))
        tests += [_test_row(base, name, "D1", m, t1, alpha), _test_row(base, name, "D2", m, t2, alpha)]
        if full:
            pairs += _pool_pairs(base, name, pp, float(df_res[0]), k, m, alpha, confidence)
    if full:
        cors = _pool_correlations(_stack(results, "correlations"), m, alpha, confidence)
    out = {"means": pd.DataFrame(means, columns=COLUMNS["means"]),
           "tests": pd.DataFrame(tests, columns=COLUMNS["tests"])}
    if full:
        out["pairs"] = pd.DataFrame(pairs, columns=COLUMNS["pairs"])
        out["correlations"] = pd.DataFrame(cors, columns=COLUMNS["correlations"])
    return out


def _test_row(base: dict, analysis: str, method: str, m: int, t: dict, alpha: float) -> dict:
    p = t["p"]
    return base | {"analysis": analysis, "method": method, "m": m, "F": t["F"], "df1": t["df1"],
                   "df2": t["df2"], "p": p, "riv": t["riv"], "fmi": t["fmi"],
                   "significant": bool(p < alpha) if np.isfinite(p) else None}


def _pool_pairs(base, analysis, frames, dfcom, k, m, alpha, confidence) -> list[dict]:
    """Rubin-pooled pairwise differences; Tukey-adjusted p from the studentized range on the pooled
    t·√2 with the Barnard–Rubin df (approximation: the range distribution is not exact for pooled t)."""
    q = np.array([f["diff"].to_numpy(dtype=np.float64) for f in frames])
    u = np.array([f["se"].to_numpy(dtype=np.float64) ** 2 for f in frames])
    rows = []
    ok = np.isfinite(q).all(axis=0) & np.isfinite(u).all(axis=0)
    pooled = rubin(np.where(ok, q, 0.0), np.where(ok, u, 1.0), dfcom=dfcom, confidence=confidence)
    stat = np.abs(pooled["statistic"]) * np.sqrt(2.0)
    p_adj = np.where(ok, studentized_range.sf(stat, k, pooled["df"]), np.nan)
    for i in range(q.shape[1]):
        get = (lambda c: float(pooled[c][i]) if ok[i] else np.nan)  # noqa: E731
        pa = float(p_adj[i])
        rows.append(base | {
            "analysis": analysis, "site_a": frames[0]["site_a"].iloc[i], "site_b": frames[0]["site_b"].iloc[i],
            "m": m, "diff": get("estimate"), "se": get("se"), "df": get("df"), "t": get("statistic"),
            "p": get("p"), "p_adj": pa, "ci_low": get("ci_low"), "ci_high": get("ci_high"),
            "riv": get("riv"), "fmi": get("fmi"), "re": get("re"),
            "significant": bool(pa < alpha) if np.isfinite(pa) else None,
        })
    return rows


def _pool_correlations(frames: list[pd.DataFrame], m: int, alpha: float, confidence: float) -> list[dict]:
    if not len(frames[0]):
        return []
    rows = []
    for i in range(len(frames[0])):
        r0 = frames[0].iloc[i]
        rs = np.array([f["r"].iloc[i] for f in frames], dtype=np.float64)
        ns = np.array([f["n"].iloc[i] for f in frames], dtype=np.float64)
        base = {"group": r0["group"], "site": r0["site"], "x": r0["x"], "y": r0["y"], "n": int(ns[0]), "m": m}
        if not (np.isfinite(rs).all() and (ns > 3).all()):
            rows.append(base | {c: np.nan for c in ("r", "ci_low", "ci_high", "p", "df", "riv", "fmi", "re")}
                        | {"significant": None})
            continue
        pc = pool_correlation(rs, ns, confidence)
        rows.append(base | {c: pc[c] for c in ("r", "ci_low", "ci_high", "p", "df", "riv", "fmi", "re")}
                    | {"significant": bool(pc["p"] < alpha)})
    return rows


def tipping_points(tests: pd.DataFrame, deltas: Sequence[float], method: str = "D1") -> pd.DataFrame:
    """Per outcome and analysis: the conclusion about site differences under MAR (δ = 0, D1 p < α) and
    the δ of smallest |δ| (negative before positive on ties) at which it changes; empty when it never
    changes over the δ tested."""
    t = tests[tests["method"] == method]
    order = sorted([d for d in deltas if d != 0], key=lambda d: (abs(d), d > 0))
    tested = ", ".join(f"{d:g}" for d in deltas)
    rows = []
    for key, g in t.groupby(_KEYS + ["analysis"], sort=False):
        by = g.set_index("delta")
        if 0.0 not in by.index:
            continue
        sig0 = by.loc[0.0, "significant"]
        row = dict(zip(_KEYS + ["analysis"], key, strict=True)) | {
            "method": method, "p_mar": float(by.loc[0.0, "p"]), "significant_mar": sig0,
            "deltas_tested": tested, "tipping_delta": np.nan, "p_at_tipping": np.nan,
            "significant_at_tipping": None,
        }
        for d in order:
            if d in by.index and by.loc[d, "significant"] is not None and by.loc[d, "significant"] != sig0:
                row |= {"tipping_delta": d, "p_at_tipping": float(by.loc[d, "p"]),
                        "significant_at_tipping": by.loc[d, "significant"]}
                break
        what = "site differences" if sig0 else "no site differences"
        row["conclusion"] = (
            f"{what} under MAR; unchanged for every delta tested" if np.isnan(row["tipping_delta"])
            else f"{what} under MAR; changes at delta = {row['tipping_delta']:g}"
        )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS["tipping"])
