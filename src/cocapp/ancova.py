"""One-way ANCOVA of an outcome across sites adjusted for covariates (SPSS UNIANOVA ... BY site WITH ...).

The model ``y ~ C(site, Sum) + C(factor, Sum) + numeric`` is fitted with statsmodels OLS; the table is
``anova_lm(typ=3)``: Type III sums of squares with sum-to-zero contrasts (as SPSS UNIANOVA and R
``car::Anova(type = 3)`` under ``options(contrasts = c("contr.sum", "contr.poly"))``; with treatment
coding Type III main effects would be wrong). Cases are deleted listwise over the outcome and the
model's covariates; ``n`` is that listwise n.

Estimated marginal (adjusted) site means are computed on a reference grid, as ``emmeans`` and SPSS
EMMEANS do: numeric covariates at their mean in the model sample, every combination of factor-covariate
levels weighted equally; standard errors from the coefficient covariance (L V Lᵀ), t intervals on the
residual df. Pairwise comparisons of the adjusted means use the configured family: ``tukey``
(studentized range on |t|·√2, as ``emmeans::pairs(adjust = "tukey")``, jamovi, JASP), ``bonferroni`` or
``sidak`` (what SPSS EMMEANS COMPARE offers when covariates are present). The homogeneity-of-slopes
check adds a site × covariate interaction to the model and tests it against the model without it
(nested F test on residual SS; R ``anova(m0, m1)``).

Problems in the data give a ``note`` and NaN, never an exception: sites without complete cases are left
out (named), a covariate constant within the model sample is dropped (named), and collinear covariates
(rank-deficient design) make the model's statistics NaN (the aliased columns are named).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.anova import anova_lm

from cocapp import studentized_range

__all__ = [
    "ANCOVA_COLUMNS",
    "MEANS_COLUMNS",
    "POSTHOC_COLUMNS",
    "POSTHOC_METHODS",
    "SLOPES_COLUMNS",
    "AncovaResult",
    "ancova",
    "adjust_pvalues",
]

ANCOVA_COLUMNS = ["term", "ss", "df", "F", "p", "partial_eta2", "n", "note"]
MEANS_COLUMNS = ["site", "n", "adj_mean", "se", "df", "ci_low", "ci_high", "note"]
POSTHOC_COLUMNS = [
    "site_a",
    "site_b",
    "diff",
    "se",
    "df",
    "t",
    "ci_low",
    "ci_high",
    "p_adj",
    "significant",
    "omnibus_significant",
    "method",
    "note",
]
SLOPES_COLUMNS = ["covariate", "covariate_type", "df1", "df2", "F", "p", "significant", "note"]
POSTHOC_METHODS = ("tukey", "bonferroni", "sidak")


@dataclass
class AncovaResult:
    """The four tidy tables of one ANCOVA model (columns as the module constants)."""

    terms: pd.DataFrame
    means: pd.DataFrame
    posthoc: pd.DataFrame
    slopes: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def adjust_pvalues(p_raw: np.ndarray, method: str, m: int) -> np.ndarray:
    """Bonferroni min(1, m·p) or Šidák 1 − (1 − p)^m for a family of ``m`` comparisons.

    >>> adjust_pvalues(np.array([0.01, 0.5]), "bonferroni", 3).tolist()
    [0.03, 1.0]
    >>> float(round(adjust_pvalues(np.array([0.01]), "sidak", 3)[0], 12))
    0.029701
    """
    if method == "bonferroni":
        return np.minimum(1.0, m * p_raw)
    if method == "sidak":
        return -np.expm1(m * np.log1p(-p_raw))  # accurate for small p
    raise ValueError(f"unknown p-value adjustment {method!r}")


def _is_categorical(kind: str) -> bool:
    if kind not in ("numeric", "categorical"):
        raise ValueError(f"covariate type must be 'numeric' or 'categorical', got {kind!r}")
    return kind == "categorical"


def _design_rows(res, grid: pd.DataFrame) -> np.ndarray:
    """Model-matrix rows of new data through the fitted formula (patsy or formulaic engine)."""
    spec = res.model.data.model_spec
    if hasattr(spec, "get_model_matrix"):  # formulaic
        return np.asarray(spec.get_model_matrix(grid), dtype=np.float64)
    import patsy

    return np.asarray(patsy.build_design_matrices([spec], grid)[0], dtype=np.float64)


def _aliased(X: np.ndarray, names: Sequence[str]) -> list[str]:
    """Columns that are linear combinations of earlier ones (R's ``alias``), by a greedy rank scan."""
    out, kept = [], []
    tol = max(X.shape) * np.finfo(float).eps * (np.linalg.norm(X, 2) if X.size else 1.0)
    for j, name in enumerate(names):
        cand = kept + [j]
        s = np.linalg.svd(X[:, cand], compute_uv=False)
        if s.size and s[-1] > tol:
            kept = cand
        else:
            out.append(name)
    return out


def _nan_tables(
    model_covs: list[str], levels: Sequence[str], kinds: Mapping[str, str], n: int, note: str, posthoc: str
) -> AncovaResult:
    terms = pd.DataFrame(
        [
            {
                "term": t,
                "ss": np.nan,
                "df": np.nan,
                "F": np.nan,
                "p": np.nan,
                "partial_eta2": np.nan,
                "n": n,
                "note": note,
            }
            for t in ["(Intercept)", "site", *model_covs, "Residuals"]
        ],
        columns=ANCOVA_COLUMNS,
    )
    means = pd.DataFrame(
        [
            {
                "site": s,
                "n": np.nan,
                "adj_mean": np.nan,
                "se": np.nan,
                "df": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "note": note,
            }
            for s in levels
        ],
        columns=MEANS_COLUMNS,
    )
    a, b = np.triu_indices(len(levels), k=1)
    post = pd.DataFrame(
        [
            {
                "site_a": levels[i],
                "site_b": levels[j],
                "diff": np.nan,
                "se": np.nan,
                "df": np.nan,
                "t": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "p_adj": np.nan,
                "significant": None,
                "omnibus_significant": None,
                "method": posthoc,
                "note": note,
            }
            for i, j in zip(a, b, strict=True)
        ],
        columns=POSTHOC_COLUMNS,
    )
    slopes = pd.DataFrame(
        [
            {
                "covariate": c,
                "covariate_type": kinds[c],
                "df1": np.nan,
                "df2": np.nan,
                "F": np.nan,
                "p": np.nan,
                "significant": None,
                "note": note,
            }
            for c in model_covs
        ],
        columns=SLOPES_COLUMNS,
    )
    return AncovaResult(terms, means, post, slopes, [note])


def ancova(
    data: pd.DataFrame,
    covariates: Mapping[str, str],
    levels: Sequence[str],
    *,
    outcome: str = "score",
    site: str = "site",
    alpha: float = 0.05,
    confidence: float = 0.95,
    posthoc: str = "tukey",
) -> AncovaResult:
    """ANCOVA of ``outcome`` by site adjusted for ``covariates`` (Type III SS, sum-to-zero contrasts).

    Parameters
    ----------
    data
        One row per respondent with ``outcome``, ``site`` and every covariate column (categorical ones
        as labels; missing = NaN/None).
    covariates
        Covariate name → ``"numeric"`` or ``"categorical"``, in model order (config ``ancova_models``).
    levels
        Site names in config order.
    alpha, confidence
        Significance level of the ``significant`` flags and level of the confidence intervals.
    posthoc
        Family of the pairwise comparisons of adjusted means: ``tukey``, ``bonferroni`` or ``sidak``.

    Returns
    -------
    AncovaResult
        ``terms``: one row per term ``(Intercept)``, ``site``, each covariate, ``Residuals`` with Type III
        ``ss``, ``df``, ``F``, ``p``, ``partial_eta2`` = SS/(SS + SS_residual) and the listwise ``n``.
        ``means``: adjusted site means (EMMs) with ``se``, ``df`` (residual) and t CI.
        ``posthoc``: every config site pair, ``diff`` = EMM(site_a) − EMM(site_b), ``t`` = diff/se, the
        adjusted p and simultaneous CI of the family (m = k(k−1)/2 pairs of the k sites in the model).
        ``slopes``: per covariate, the F test of the site × covariate interaction (homogeneity of
        regression slopes; for a factor covariate, of the site × factor interaction).

    Notes
    -----
    Validated against R ``car::Anova(lm(...), type = 3)`` with ``contr.sum``, ``emmeans::emmeans``,
    ``pairs(adjust = "tukey" | "bonferroni" | "sidak")`` and ``anova(m0, m1)``
    (tests/reference/comparisons.R).
    """
    if posthoc not in POSTHOC_METHODS:
        raise ValueError(f"statistics.post_hoc.ancova must be one of {POSTHOC_METHODS}, got {posthoc!r}")
    levels = list(levels)
    covs = list(covariates)
    kinds = {c: covariates[c] for c in covs}
    cats = {c: _is_categorical(kinds[c]) for c in covs}
    missing_cols = [c for c in [outcome, site, *covs] if c not in data.columns]
    if missing_cols:
        raise ValueError(f"ANCOVA data lack column(s) {missing_cols}")

    # -- listwise deletion over outcome + covariates; categorical covariates as text labels ------------
    frame = pd.DataFrame({"y": pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=np.float64)})
    frame["site"] = data[site].astype(object).to_numpy()
    internal = {c: f"c{i}" for i, c in enumerate(covs)}
    for c in covs:
        col = data[c]
        if cats[c]:
            text = col.astype(object).where(col.notna(), None).map(lambda v: None if v is None else str(v))
            frame[internal[c]] = text.where(text.map(lambda v: v is not None and v != ""), None).to_numpy()
        else:
            frame[internal[c]] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    complete = frame["y"].notna().to_numpy() & np.isfinite(frame["y"].to_numpy())
    for c in covs:
        complete &= frame[internal[c]].notna().to_numpy()
    frame = frame[complete].reset_index(drop=True)
    n = len(frame)
    unknown = sorted(set(frame["site"]) - set(levels))
    if unknown:
        raise ValueError(f"site value(s) {unknown} are not configured sites {levels}")

    notes: list[str] = []
    site_n = frame["site"].value_counts().reindex(levels, fill_value=0)
    present = [s for s in levels if site_n[s] > 0]
    empty = [s for s in levels if site_n[s] == 0]
    if empty:
        notes.append(f"no complete cases at site(s) {', '.join(empty)}: left out of the model")

    # -- covariates constant in the model sample are dropped and named ----------------------------------
    used: list[str] = []
    dropped: dict[str, str] = {}
    for c in covs:
        col = frame[internal[c]]
        if n and col.nunique() < 2:
            value = col.iloc[0]
            dropped[c] = f"covariate {c} is constant in the model sample ({value!r}): dropped from the model"
            notes.append(dropped[c])
        else:
            used.append(c)
    note_text = "; ".join(notes)

    if n and float(np.ptp(frame["y"].to_numpy())) == 0.0:
        return _nan_tables(
            covs, levels, kinds, n, "; ".join(notes + ["outcome is constant: F undefined"]), posthoc
        )
    if len(present) < 2:
        return _nan_tables(
            covs, levels, kinds, n, "; ".join(notes + ["fewer than two sites with complete cases"]), posthoc
        )
    frame["site"] = pd.Categorical(frame["site"], categories=present)
    rhs = ["C(site, Sum)"]
    for c in used:
        if cats[c]:
            frame[internal[c]] = pd.Categorical(
                frame[internal[c]], categories=sorted(frame[internal[c]].unique())
            )
            rhs.append(f"C({internal[c]}, Sum)")
        else:
            rhs.append(internal[c])
    formula = "y ~ " + " + ".join(rhs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smf.ols(formula, data=frame).fit()
    X = res.model.exog
    p_cols = X.shape[1]
    if res.df_resid < 1:
        return _nan_tables(
            covs,
            levels,
            kinds,
            n,
            "; ".join(notes + [f"no residual degrees of freedom (n = {n}, {p_cols} parameters)"]),
            posthoc,
        )
    rank = int(np.linalg.matrix_rank(X))
    if rank < p_cols:
        names = list(res.model.exog_names)
        for c in used:  # internal names back to config keys ("C(c1, Sum)[S.x]" -> "gender[S.x]")
            pattern = re.compile(rf"C\({internal[c]}, Sum\)|\b{internal[c]}\b")
            names = [pattern.sub(c, nm) for nm in names]
        alias = _aliased(X, names)
        msg = (
            f"collinear covariates: design matrix rank {rank} < {p_cols} columns "
            f"(aliased: {', '.join(alias)}); model not estimable"
        )
        return _nan_tables(covs, levels, kinds, n, "; ".join(notes + [msg]), posthoc)

    # -- Type III table -----------------------------------------------------------------------------------
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = anova_lm(res, typ=3)
    ss_res = float(table.loc["Residual", "sum_sq"])
    df_res = float(res.df_resid)
    term_name = {"Intercept": "(Intercept)", "C(site, Sum)": "site", "Residual": "Residuals"}
    for c in used:
        term_name[f"C({internal[c]}, Sum)" if cats[c] else internal[c]] = c
    by_term = {term_name[idx]: row for idx, row in table.iterrows()}
    rows = []
    for t in ["(Intercept)", "site", *covs, "Residuals"]:
        if t in dropped:
            rows.append(
                {
                    "term": t,
                    "ss": np.nan,
                    "df": np.nan,
                    "F": np.nan,
                    "p": np.nan,
                    "partial_eta2": np.nan,
                    "n": n,
                    "note": dropped[t],
                }
            )
            continue
        r = by_term[t]
        if t == "Residuals":
            rows.append(
                {
                    "term": t,
                    "ss": ss_res,
                    "df": df_res,
                    "F": np.nan,
                    "p": np.nan,
                    "partial_eta2": np.nan,
                    "n": n,
                    "note": note_text,
                }
            )
            continue
        ss = float(r["sum_sq"])
        rows.append(
            {
                "term": t,
                "ss": ss,
                "df": float(r["df"]),
                "F": float(r["F"]),
                "p": float(r["PR(>F)"]),
                "partial_eta2": ss / (ss + ss_res) if ss + ss_res > 0 else np.nan,
                "n": n,
                "note": note_text,
            }
        )
    terms = pd.DataFrame(rows, columns=ANCOVA_COLUMNS)
    site_p = float(by_term["site"]["PR(>F)"])
    omnibus = bool(site_p < alpha) if np.isfinite(site_p) else None

    # -- estimated marginal means on the reference grid ----------------------------------------------
    factor_levels = [list(frame[internal[c]].cat.categories) for c in used if cats[c]]
    factor_names = [internal[c] for c in used if cats[c]]
    combos = list(product(*factor_levels)) if factor_names else [()]
    grid_rows = []
    for s in present:
        for combo in combos:
            row = {"site": s}
            row.update(dict(zip(factor_names, combo, strict=True)))
            for c in used:
                if not cats[c]:
                    row[internal[c]] = float(frame[internal[c]].mean())
            grid_rows.append(row)
    grid = pd.DataFrame(grid_rows)
    grid["site"] = pd.Categorical(grid["site"], categories=present)
    for c in used:
        if cats[c]:
            grid[internal[c]] = pd.Categorical(
                grid[internal[c]], categories=frame[internal[c]].cat.categories
            )
    D = _design_rows(res, grid)
    L = D.reshape(len(present), len(combos), p_cols).mean(axis=1)  # equal weights over factor cells
    beta = res.params.to_numpy()
    V = res.cov_params().to_numpy()
    emm = L @ beta
    emm_se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    tcrit = stats.t.ppf(0.5 + confidence / 2, df_res)
    emm_by_site = dict(zip(present, range(len(present)), strict=True))
    mrows = []
    for s in levels:
        if s in emm_by_site:
            i = emm_by_site[s]
            mrows.append(
                {
                    "site": s,
                    "n": int(site_n[s]),
                    "adj_mean": float(emm[i]),
                    "se": float(emm_se[i]),
                    "df": df_res,
                    "ci_low": float(emm[i] - tcrit * emm_se[i]),
                    "ci_high": float(emm[i] + tcrit * emm_se[i]),
                    "note": note_text,
                }
            )
        else:
            mrows.append(
                {
                    "site": s,
                    "n": 0,
                    "adj_mean": np.nan,
                    "se": np.nan,
                    "df": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "note": f"no complete cases at site {s}",
                }
            )
    means = pd.DataFrame(mrows, columns=MEANS_COLUMNS)

    # -- pairwise comparisons of the adjusted means -------------------------------------------------
    k = len(present)
    m = k * (k - 1) // 2
    if posthoc == "tukey":
        crit = float(studentized_range.ppf(confidence, k, df_res)) / math.sqrt(2.0)
    elif posthoc == "bonferroni":
        crit = stats.t.ppf(1 - (1 - confidence) / (2 * m), df_res)
    else:  # Šidák: each interval at level confidence^(1/m)
        crit = stats.t.ppf(0.5 + confidence ** (1.0 / m) / 2, df_res)
    prow = []
    a_idx, b_idx = np.triu_indices(len(levels), k=1)
    for i, j in zip(a_idx, b_idx, strict=True):
        sa, sb = levels[i], levels[j]
        base = {"site_a": sa, "site_b": sb, "method": posthoc}
        if sa not in emm_by_site or sb not in emm_by_site:
            miss = [s for s in (sa, sb) if s not in emm_by_site]
            prow.append(
                base
                | {
                    "diff": np.nan,
                    "se": np.nan,
                    "df": np.nan,
                    "t": np.nan,
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "p_adj": np.nan,
                    "significant": None,
                    "omnibus_significant": omnibus,
                    "note": f"no complete cases at site(s) {', '.join(miss)}",
                }
            )
            continue
        ld = L[emm_by_site[sa]] - L[emm_by_site[sb]]
        diff = float(ld @ beta)
        se = float(math.sqrt(ld @ V @ ld))
        t = diff / se if se > 0 else np.nan
        if not np.isfinite(t):
            p = np.nan
        elif posthoc == "tukey":
            p = float(studentized_range.sf(abs(t) * math.sqrt(2.0), k, df_res))
        else:
            p = float(adjust_pvalues(np.array([2 * stats.t.sf(abs(t), df_res)]), posthoc, m)[0])
        prow.append(
            base
            | {
                "diff": diff,
                "se": se,
                "df": df_res,
                "t": t,
                "ci_low": diff - crit * se,
                "ci_high": diff + crit * se,
                "p_adj": p,
                "significant": bool(p < alpha) if np.isfinite(p) else None,
                "omnibus_significant": omnibus,
                "note": note_text,
            }
        )
    post = pd.DataFrame(prow, columns=POSTHOC_COLUMNS)

    # -- homogeneity of regression slopes: site x covariate added to the model -----------------------
    srows = []
    for c in covs:
        if c in dropped:
            srows.append(
                {
                    "covariate": c,
                    "covariate_type": kinds[c],
                    "df1": np.nan,
                    "df2": np.nan,
                    "F": np.nan,
                    "p": np.nan,
                    "significant": None,
                    "note": dropped[c],
                }
            )
            continue
        term = f"C({internal[c]}, Sum)" if cats[c] else internal[c]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res1 = smf.ols(f"{formula} + C(site, Sum):{term}", data=frame).fit()
        df1 = float(res.df_resid - res1.df_resid)
        df2 = float(res1.df_resid)
        if df1 < 1 or df2 < 1:
            srows.append(
                {
                    "covariate": c,
                    "covariate_type": kinds[c],
                    "df1": df1,
                    "df2": df2,
                    "F": np.nan,
                    "p": np.nan,
                    "significant": None,
                    "note": "interaction not estimable (no extra or no residual degrees of freedom)",
                }
            )
            continue
        F = ((res.ssr - res1.ssr) / df1) / (res1.ssr / df2)
        p = float(stats.f.sf(F, df1, df2))
        extra = []
        if int(np.linalg.matrix_rank(res1.model.exog)) < res1.model.exog.shape[1]:
            extra.append(
                "some site x covariate cells are empty: interaction df reduced to the estimable part"
            )
        srows.append(
            {
                "covariate": c,
                "covariate_type": kinds[c],
                "df1": df1,
                "df2": df2,
                "F": float(F),
                "p": p,
                "significant": bool(p < alpha) if np.isfinite(p) else None,
                "note": "; ".join([x for x in [note_text, *extra] if x]),
            }
        )
    slopes = pd.DataFrame(srows, columns=SLOPES_COLUMNS)
    return AncovaResult(terms, means, post, slopes, notes)
