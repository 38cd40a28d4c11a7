"""One-way ANCOVA of an outcome across sites adjusted for covariates (SPSS UNIANOVA ... BY site WITH ...).

The model ``y ~ C(site, Sum) + C(factor, Sum) + numeric`` is fitted by least squares (Moore–Penrose
pseudo-inverse: statsmodels OLS's arithmetic to the bit, :mod:`cocapp.stats.pinvls`); the table has
Type III sums of squares with sum-to-zero contrasts (as SPSS UNIANOVA and R ``car::Anova(type = 3)``
under ``options(contrasts = c("contr.sum", "contr.poly"))``; with treatment coding Type III main
effects would be wrong), each term's SS backed out of the Wald F test of its coefficients as
statsmodels ``anova_lm(typ=3)`` does. Cases are deleted listwise over the
outcome and the model's covariates; ``n`` is that listwise n.

The design matrix is built here directly from the category codes, column for column as patsy builds it
for the formula (same sum-to-zero codes, same term order, same products for interactions), so that the
fit is the one ``statsmodels.formula.api.ols(formula)`` gives — without parsing a formula and building a
matrix for every model, the grid of adjusted means and every slopes model (that took most of the time).

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
from dataclasses import dataclass, field, replace
from itertools import product

import numpy as np
import pandas as pd

from cocapp.stats import studentized_range
from cocapp.stats.blockls import CompressedFit, compressed, group_factors, within_group_ssr
from cocapp.stats.distributions import f_sf, t_ppf, t_sf
from cocapp.stats.pinvls import PinvFit, PinvOLS

__all__ = [
    "ANCOVA_COLUMNS",
    "MEANS_COLUMNS",
    "POSTHOC_COLUMNS",
    "POSTHOC_METHODS",
    "EMM_WEIGHTS",
    "model_formula",
    "SLOPES_COLUMNS",
    "AncovaResult",
    "SiteEstimates",
    "SiteModel",
    "ancova",
    "site_estimates",
    "adjust_pvalues",
]

EMM_WEIGHTS = ("equal", "proportional")

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
    used: list[str] | None = None  # covariates in the fitted model (constant ones dropped); None: all


def model_formula(
    covariates: Mapping[str, str], used: Sequence[str] | None = None, weights: str = "equal"
) -> dict:
    """The fitted model stated exactly, for ``ancova.csv`` and the report.

    ``formula``: R notation of the model fitted (covariates constant in the sample left out, as fitted);
    ``coding``: the contrasts and sums of squares; ``emm_weights``: how the adjusted means average over
    categorical covariates and where the numeric ones are held.

    >>> f = model_formula({"age": "numeric", "gender": "categorical"})
    >>> f["formula"]
    'score ~ site + age + gender'
    >>> f["coding"]
    'site, gender: sum-to-zero (contr.sum); age: numeric, linear; Type III sums of squares'
    """
    used = list(covariates) if used is None else [c for c in covariates if c in used]
    factors = ["site", *[c for c in used if _is_categorical(covariates[c])]]
    numeric = [c for c in used if not _is_categorical(covariates[c])]
    coding = f"{', '.join(factors)}: sum-to-zero (contr.sum)"
    if numeric:
        coding += f"; {', '.join(numeric)}: numeric, linear"
    coding += "; Type III sums of squares"
    held = "numeric covariates at their mean in the model sample" if numeric else ""
    cat = [c for c in used if _is_categorical(covariates[c])]
    if cat:
        how = (
            "levels of categorical covariates weighted equally (emmeans default; SPSS EMMEANS)"
            if weights == "equal"
            else "levels of categorical covariates weighted by their frequency in the model sample "
            '(emmeans weights = "proportional")'
        )
        held = f"{held}; {how}" if held else how
    return dict(formula="score ~ " + " + ".join(["site", *used]), coding=coding, emm_weights=held or "none")


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


@dataclass
class _Sample:
    """The listwise-complete model sample of one outcome and covariate model.

    ``frame`` has ``y``, ``site`` (categorical over ``present``) and one column per covariate under its
    internal name ``c0``, ``c1``, … (categorical ones as categoricals over their sorted labels);
    ``used`` are the covariates that vary in the sample, ``dropped`` the constant ones with their note.
    """

    frame: pd.DataFrame
    n: int
    site_n: pd.Series
    present: list[str]
    used: list[str]
    dropped: dict[str, str]
    notes: list[str]
    internal: dict[str, str]
    cats: dict[str, bool]
    complete: np.ndarray | None = None  # the rows of the data in the sample (outcome and covariates known)
    # :func:`_factors` of the sample, computed on first use (every design of the model reuses them)
    factors: dict[str, tuple] | None = field(default=None, repr=False, compare=False)


@dataclass
class _Design:
    """A design matrix with its column names (patsy's, with internal covariate names) and, per model term,
    its column slice (terms keyed ``"(Intercept)"``, ``"site"``, the covariate names and ``"site:<cov>"``)."""

    X: np.ndarray
    names: list[str]
    terms: dict[str, slice]
    rows: int | None = None  # data rows when X is the compressed matrix of blockls (not n × p)


def _aliased(X: np.ndarray, names: Sequence[str], rows: int | None = None) -> list[str]:
    """Columns that are linear combinations of earlier ones (R's ``alias``), by a greedy rank scan.
    ``rows``: the data rows when ``X`` is a compressed matrix with the design's cross-product."""
    out, kept = [], []
    size = max(X.shape) if rows is None else max(rows, X.shape[1])
    tol = size * np.finfo(float).eps * (np.linalg.norm(X, 2) if X.size else 1.0)
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


# -- 1. model sample ------------------------------------------------------------------------------------
def _labels(column) -> np.ndarray:
    """A categorical covariate as text labels (``str`` of each value), missing and empty text as None."""
    values = np.asarray(pd.Series(column).astype(object), dtype=object)
    present = np.asarray(pd.notna(values), dtype=bool)
    text = values.astype(str).astype(object)
    text[~present | (text == "")] = None
    return text


def coded_labels(column) -> pd.Categorical:
    """A categorical covariate as a ``pandas.Categorical`` over its sorted text labels (``str`` of each
    value; missing and empty text are missing): the form :func:`ancova` codes factors from, so a
    caller fitting many models to the same respondents codes them once."""
    if _is_coded(column):
        return column
    labels = _labels(column)
    return pd.Categorical(labels, categories=sorted({v for v in labels.tolist() if v is not None}))


def _is_coded(column) -> bool:
    """Whether ``column`` is already what :func:`coded_labels` returns."""
    if not isinstance(column, pd.Categorical):
        return False
    cats = column.categories.tolist()
    return all(isinstance(v, str) and v != "" for v in cats) and cats == sorted(cats)


def _codes_in(codes: np.ndarray, n_categories: int) -> tuple[np.ndarray, np.ndarray]:
    """The categories that occur in ``codes`` (ascending) and the codes renumbered over them."""
    occurs = np.flatnonzero(np.bincount(codes, minlength=n_categories))
    return occurs, np.searchsorted(occurs, codes)


def _site_codes(column, levels: list[str], complete: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Codes of the complete rows' sites in ``levels`` and ``levels`` as the index of those codes; a
    value that is not a configured site is an error."""
    cat = column if isinstance(column, pd.Categorical) and column.categories.tolist() == levels else None
    if cat is None:
        cat = pd.Categorical(np.asarray(pd.Series(column).astype(object), dtype=object), categories=levels)
    codes = np.asarray(cat.codes, dtype=np.intp)[complete]
    if (codes < 0).any():
        values = np.asarray(pd.Series(column).astype(object), dtype=object)[complete][codes < 0]
        raise ValueError(f"site value(s) {sorted(set(values.tolist()))} are not configured sites {levels}")
    return codes, cat.categories


def _model_sample(
    data, covs: list[str], cats: dict[str, bool], levels: list[str], outcome: str, site: str
) -> _Sample:
    """Listwise deletion over the outcome and the model's covariates (SPSS UNIANOVA's default; R ``lm``
    with ``na.action = na.omit``); categorical covariates as text labels, empty text missing. Sites without
    complete cases and covariates constant in the sample are named in ``notes`` (not errors).

    Factors are handled as integer codes (categories: configured sites in config order, covariate
    labels sorted), so that fitting many models to the same respondents does no text work per model."""
    missing_cols = [c for c in [outcome, site, *covs] if c not in data]
    if missing_cols:
        raise ValueError(f"ANCOVA data lack column(s) {missing_cols}")
    y = np.asarray(pd.to_numeric(data[outcome], errors="coerce"), dtype=np.float64)
    internal = {c: f"c{i}" for i, c in enumerate(covs)}
    columns = {
        c: coded_labels(data[c])
        if cats[c]
        else np.asarray(pd.to_numeric(data[c], errors="coerce"), dtype=np.float64)
        for c in covs
    }
    complete = np.isfinite(y)
    for c in covs:
        complete &= np.asarray(columns[c].codes >= 0 if cats[c] else ~np.isnan(columns[c]), dtype=bool)
    y = y[complete]
    site_codes, level_index = _site_codes(data[site], levels, complete)
    n = len(y)
    counts = np.bincount(site_codes, minlength=len(levels))

    notes: list[str] = []
    site_n = pd.Series(counts, index=level_index, dtype=np.int64)
    present = [s for s, k in zip(levels, counts, strict=True) if k > 0]
    empty = [s for s, k in zip(levels, counts, strict=True) if k == 0]
    if empty:
        notes.append(f"no complete cases at site(s) {', '.join(empty)}: left out of the model")
    frame = {"y": y, "site": np.asarray(levels, dtype=object)[site_codes]}
    used: list[str] = []
    dropped: dict[str, str] = {}
    for c in covs:
        if cats[c]:
            labels = columns[c].categories.tolist()
            occurs, codes = _codes_in(np.asarray(columns[c].codes, dtype=np.intp)[complete], len(labels))
            first = labels[occurs[codes[0]]] if n else None
            # the categories that occur, taken from the coded column's (codes valid by construction)
            occurring = columns[c].categories[occurs]
            values = pd.Categorical.from_codes(codes, categories=occurring, validate=False)
            distinct = len(occurs)
        else:
            values = columns[c][complete]
            first = values[0] if n else None
            distinct = len(np.unique(values))
        frame[internal[c]] = values
        if n and distinct < 2:
            dropped[c] = f"covariate {c} is constant in the model sample ({first!r}): dropped from the model"
            notes.append(dropped[c])
        else:
            used.append(c)
    if n and len(present) >= 2:
        occurs, codes = _codes_in(site_codes, len(levels))
        frame["site"] = pd.Categorical.from_codes(codes, categories=level_index[occurs], validate=False)
    return _Sample(pd.DataFrame(frame), n, site_n, present, used, dropped, notes, internal, cats, complete)


# -- 2. design ------------------------------------------------------------------------------------------
def _sum_coding(n_levels: int) -> np.ndarray:
    """Sum-to-zero (deviation) contrasts: level j < last → unit vector e_j, last level → all −1
    (R ``contr.sum``, patsy ``Sum``, SPSS's deviation coding)."""
    out = np.empty((n_levels, n_levels - 1))
    out[:-1, :] = np.eye(n_levels - 1)
    out[-1, :] = -1
    return out


def _factors(sample: _Sample, rows: Mapping[str, np.ndarray] | None = None) -> dict[str, tuple]:
    """Per model factor (``site`` and each covariate used): (internal name, category codes or numeric
    values, sum-to-zero contrast matrix or None if numeric, level labels) -- of the sample (computed once
    and kept in it), or of other ``rows`` given as internal name (``site`` for the site) → codes in the
    sample's levels (factors) or values (numeric), e.g. the reference grid of :func:`_emm_weights`."""
    if sample.factors is None:
        sample.factors = _sample_factors(sample)
    if rows is None:
        return sample.factors
    out = {}
    for f, (name, _, contrast, lv) in sample.factors.items():
        values = np.asarray(rows[name], dtype=np.float64 if contrast is None else np.intp)
        if contrast is not None and ((values < 0) | (values >= len(lv))).any():
            raise KeyError(f"{name}: values outside the model's levels")
        out[f] = (name, values, contrast, lv)
    return out


def _sample_factors(sample: _Sample) -> dict[str, tuple]:
    """:func:`_factors` of the model sample: the codes of its categoricals, its numeric columns."""
    frame = sample.frame
    present = sample.present
    out = {"site": ("site", frame["site"].cat.codes.to_numpy(), _sum_coding(len(present)), present)}
    for c in sample.used:
        name = sample.internal[c]
        if sample.cats[c]:
            lv = list(frame[name].cat.categories)
            out[c] = (name, frame[name].cat.codes.to_numpy(), _sum_coding(len(lv)), lv)
        else:
            out[c] = (name, frame[name].to_numpy(dtype=np.float64), None, None)
    return out


def _term_order(terms: list[tuple[str, list[str]]], factors: dict[str, tuple]) -> list[tuple[str, list[str]]]:
    """patsy's column order of formula terms: bucketed by the set of numeric factors they contain (the
    bucket without numeric factors first, the others in order of appearance), by number of factors
    within a bucket (patsy.build.design_matrix_builders)."""
    buckets: dict[frozenset, list[tuple[str, list[str]]]] = {frozenset(): []}
    for term in terms:
        buckets.setdefault(frozenset(f for f in term[1] if factors[f][2] is None), []).append(term)
    return [t for b in buckets.values() for t in sorted(b, key=lambda t: len(t[1]))]


def _layout(sample: _Sample, factors: dict[str, tuple], interaction: str | None) -> list[tuple]:
    """The design's columns as (term label, factors, one tuple of level-column indices per column), in
    patsy's order (:func:`_term_order`; within a term the first factor varies fastest)."""
    terms: list[tuple[str, list[str]]] = [("(Intercept)", []), ("site", ["site"])]
    terms += [(c, [c]) for c in sample.used]
    if interaction is not None:
        terms.append((f"site:{interaction}", ["site", interaction]))
    layout = []  # (term label, factors, column combos), in patsy's order
    for label, fs in _term_order(terms, factors):
        widths = [1 if factors[f][2] is None else factors[f][2].shape[1] for f in fs]
        layout.append((label, fs, [c[::-1] for c in product(*[range(w) for w in reversed(widths)])]))
    return layout


def _design(
    sample: _Sample, rows: Mapping[str, np.ndarray] | None = None, interaction: str | None = None
) -> _Design:
    """Design matrix of ``y ~ C(site, Sum) + C(factor, Sum) + numeric [+ C(site, Sum):covariate]`` for the
    model sample (or for ``rows``, e.g. the reference grid, coded with the sample's levels: :func:`_factors`).

    Columns are those patsy builds for that formula, bit for bit: terms in patsy's order
    (:func:`_term_order`), sum-to-zero codes with the last level omitted, an interaction's columns the
    products 1 · site code · covariate column with the site varying fastest (patsy's ``_build_subterm``).
    Fitting it reproduces ``statsmodels.formula.api.ols`` (tests/test_ancova.py checks both).
    """
    factors = _factors(sample, rows)
    n = len(factors["site"][1])
    layout = _layout(sample, factors, interaction)
    # column-major, as patsy returns it: BLAS takes other code paths (other rounding) for other layouts;
    # each column is 1 multiplied by its factors' codes in turn, as patsy computes it
    X = np.empty((n, sum(len(combos) for _, _, combos in layout)), order="F")
    names, slices, k = [], {}, 0
    for label, fs, combos in layout:
        slices[label] = slice(k, k + len(combos))
        for combo in combos:
            column = X[:, k]
            column[:] = 1.0
            parts = []
            for f, j in zip(fs, combo, strict=True):
                name, values, contrast, lv = factors[f]
                column *= values if contrast is None else contrast[values, j]
                parts.append(name if contrast is None else f"C({name}, Sum)[S.{lv[j]}]")
            names.append(":".join(parts) or "Intercept")
            k += 1
    return _Design(X, names, slices)


# -- 2b. the same designs from per-site QR factors (national size) ------------------------------------------
METHODS = ("auto", "dense", "sufficient")
DENSE_CELLS = 200_000  # "auto": dense design (statsmodels route, bit for bit) up to n × p cells, then blockls


def _method(sample: _Sample, method: str) -> str:
    """``dense`` (the n × p design fitted by statsmodels, as the formula route: the default study's
    bytes) or ``sufficient`` (per-site QR factors, :mod:`cocapp.stats.blockls`); ``auto`` picks dense
    while the main design has at most :data:`DENSE_CELLS` cells."""
    if method not in METHODS:
        raise ValueError(f"ANCOVA method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    widths = [
        len(sample.frame[sample.internal[c]].cat.categories) - 1 if sample.cats[c] else 1 for c in sample.used
    ]
    p = len(sample.present) + sum(widths)
    return "dense" if sample.n * p <= DENSE_CELLS else "sufficient"


@dataclass
class _Blocks:
    """Per-site QR factors of u = [1, covariate columns (as in the design), y] (blockls.group_factors):
    ``base`` maps () (intercept) and (covariate, level column) to u's columns, ``y`` is y's column."""

    factors: np.ndarray
    base: dict
    y: int
    site_n: np.ndarray


def _blocks(sample: _Sample) -> _Blocks:
    """The per-site factors of the model sample's non-site columns and outcome (one pass over the rows)."""
    factors = _factors(sample, None)
    cols, base = [np.ones(sample.n)], {(): 0}
    for c in sample.used:
        _, values, contrast, _ = factors[c]
        for j in range(1 if contrast is None else contrast.shape[1]):
            base[(c, j)] = len(cols)
            cols.append(values if contrast is None else contrast[values, j])
    cols.append(sample.frame["y"].to_numpy(dtype=np.float64))
    codes = np.asarray(factors["site"][1], dtype=np.intp)
    k = len(sample.present)
    order = np.argsort(codes, kind="stable")  # rows of a site together: each site's block a slice
    u = np.empty((sample.n, len(cols)), order="F")
    for j, col in enumerate(cols):
        u[:, j] = np.broadcast_to(col, (sample.n,))[order]
    counts = np.bincount(codes, minlength=k)
    return _Blocks(group_factors(u, counts), base, len(cols) - 1, counts)


def _compressed_design(sample: _Sample, blocks: _Blocks) -> tuple[_Design, np.ndarray]:
    """The main model's design as the stacked ``R_s A_s`` (:func:`blockls.compressed`; same columns,
    names and term slices as :func:`_design`, same cross-product), and that matrix with y appended."""
    factors = _factors(sample, None)
    layout = _layout(sample, factors, None)
    k, q = len(sample.present), blocks.factors.shape[1]
    p = sum(len(combos) for _, _, combos in layout)
    maps = np.zeros((k, q, p + 1))
    names, slices, col = [], {}, 0
    for label, fs, combos in layout:
        slices[label] = slice(col, col + len(combos))
        for combo in combos:
            coef, key, parts = np.ones(k), (), []
            for f, j in zip(fs, combo, strict=True):
                name, _, contrast, lv = factors[f]
                if f == "site":
                    coef = coef * contrast[:, j]
                else:
                    key = (f, j)
                parts.append(name if contrast is None else f"C({name}, Sum)[S.{lv[j]}]")
            maps[:, blocks.base[key], col] = coef
            names.append(":".join(parts) or "Intercept")
            col += 1
    maps[:, blocks.y, p] = 1.0
    xy = compressed(blocks.factors, maps)
    return _Design(xy[:, :p], names, slices, rows=sample.n), xy


# -- 3. fit -----------------------------------------------------------------------------------------------
def _fit(y: np.ndarray, design: _Design) -> PinvFit:
    """Ordinary least squares through the Moore–Penrose pseudo-inverse: coefficients, residual SS and
    df, and the coefficient covariance σ̂²(XᵀX)⁺ -- statsmodels ``OLS(y, X).fit()`` (``method="pinv"``)
    to the bit (:mod:`cocapp.stats.pinvls`)."""
    return PinvOLS(design.X).fit(y)


def _residual(y: np.ndarray, design: _Design) -> tuple[float, float, bool]:
    """Residual SS and df of the least-squares fit of ``y`` on the design, and whether it has full rank
    (for the nested F tests of the slopes check, which need nothing else of the fit).

    Full rank: from the triangular factor R of the Householder QR decomposition of [X | y] (LAPACK
    ``dgeqrf``; |R[p, p]| is the residual norm, R[:p, :p] has the singular values of X), a fraction of
    the cost of the SVD behind the pseudo-inverse on large samples; df = n − p. Rank-deficient (empty
    site × level cells; NumPy's ``matrix_rank`` rule on those singular values) or n ≤ p: the
    pseudo-inverse fit (:func:`_fit`), whose df counts only the estimable columns (R ``anova(m0, m1)``).
    """
    n, p = design.X.shape
    if n > p:
        r = np.linalg.qr(np.column_stack([design.X, y]), mode="r")
        s = np.linalg.svd(r[:p, :p], compute_uv=False)
        if np.count_nonzero(s > s.max(initial=0.0) * n * np.finfo(float).eps) == p:
            return float(r[p, p] ** 2), float(n - p), True
    res1 = _fit(y, design)
    return float(res1.ssr), float(res1.df_resid), False


def _rank(res, design: _Design) -> int:
    """Numerical rank of the design matrix with NumPy's ``matrix_rank`` rule (singular values above
    σ_max · max(n, p) · ε), from the singular values the fit already computed (one SVD less per model)."""
    if isinstance(res, CompressedFit):
        return res.rank
    return _rank_of(np.asarray(res.singular_values), design.X.shape)


def _rank_of(s: np.ndarray, shape: tuple[int, int]) -> int:
    """How many of the singular values ``s`` of a matrix of ``shape`` exceed σ_max · max(shape) · ε."""
    tol = s.max(initial=0.0) * max(shape) * np.finfo(s.dtype).eps
    return int(np.count_nonzero(s > tol))


def _fit_model(sample: _Sample, method: str = "dense") -> tuple[_Design | None, object, str]:
    """The design and least-squares fit of the model sample, or why the model cannot be fitted (the
    statistics are then NaN with that note): a constant outcome, fewer than two sites with complete
    cases, no residual df, or collinear columns (rank-deficient design; the aliased columns named).
    ``method`` ``sufficient``: the compressed design and its QR fit (:class:`blockls.CompressedFit`,
    carrying the per-site factors as ``blocks`` for the slopes check) instead of statsmodels OLS."""
    if sample.n and float(np.ptp(sample.frame["y"].to_numpy())) == 0.0:
        return None, None, "outcome is constant: F undefined"
    if len(sample.present) < 2:
        return None, None, "fewer than two sites with complete cases"
    if method == "sufficient":
        blocks = _blocks(sample)
        design, xy = _compressed_design(sample, blocks)
        res = CompressedFit(xy, sample.n)
        res.blocks = blocks
    else:
        design = _design(sample)
        res = _fit(sample.frame["y"].to_numpy(dtype=np.float64), design)
    p_cols = design.X.shape[1]
    if res.df_resid < 1:
        return None, None, f"no residual degrees of freedom (n = {sample.n}, {p_cols} parameters)"
    rank = _rank(res, design)
    if rank < p_cols:
        return None, None, _collinearity_note(design, sample, rank)
    return design, res, ""


# -- 4. Type III table ------------------------------------------------------------------------------------
def _type3_table(res, design: _Design, sample: _Sample, covs: list[str], note_text: str) -> pd.DataFrame:
    """Type III sums of squares: for each term, the Wald F test that all its coefficients are 0 given
    every other term (sum-to-zero contrasts), SS = F · df · σ̂² — statsmodels ``anova_lm(typ=3)``, SPSS
    UNIANOVA, R ``car::Anova(type = 3)``; partial η² = SS/(SS + SS_residual)."""
    ss_res = float(res.ssr)
    df_res = float(res.df_resid)
    cov = _covariance(res)
    eye = np.eye(design.X.shape[1])
    rows = []
    for t in ["(Intercept)", "site", *covs, "Residuals"]:
        base = {"term": t, "n": sample.n}
        if t in sample.dropped:
            rows.append(base | _nan_row("terms", sample.dropped[t]))
            continue
        if t == "Residuals":
            row = {"ss": ss_res, "df": df_res, "F": np.nan, "p": np.nan, "partial_eta2": np.nan}
            rows.append(base | row | {"note": note_text})
            continue
        L = eye[design.terms[t]]
        f = _wald(res, L, cov)
        r = float(L.shape[0])
        ss = float(f.fvalue * r * res.ssr / res.df_resid)  # the expression of anova_lm(typ=3)
        row = {"ss": ss, "df": r, "F": float(f.fvalue), "p": float(f.pvalue)}
        rows.append(
            base
            | row
            | {"partial_eta2": ss / (ss + ss_res) if ss + ss_res > 0 else np.nan, "note": note_text}
        )
    return pd.DataFrame(rows, columns=ANCOVA_COLUMNS)


def _wald(res, L: np.ndarray, cov: np.ndarray):
    """Wald F test that the coefficients selected by the rows of ``L`` are all 0 (statsmodels
    ``f_test``; for one term, the Type III test of :func:`_type3_table`); numpy's warnings of a
    degenerate contrast (F infinite or undefined) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return res.f_test(L, cov_p=cov)


_STATISTICS = {
    "terms": ["ss", "df", "F", "p", "partial_eta2"],
    "means": ["adj_mean", "se", "df", "ci_low", "ci_high"],
    "posthoc": ["diff", "se", "df", "t", "ci_low", "ci_high", "p_adj", "significant"],
    "slopes": ["df1", "df2", "F", "p", "significant"],
}


def _covariance(res) -> np.ndarray:
    """σ̂²(XᵀX)⁺, column-major as the pandas frame statsmodels returns for a formula model (the layout
    decides the BLAS path, hence the last bits of L V Lᵀ)."""
    return np.asfortranarray(res.cov_params())


def _nan_row(table: str, note: str) -> dict:
    """The statistics of a row of ``table`` as NaN (``significant``: None), with a note."""
    return {c: None if c == "significant" else np.nan for c in _STATISTICS[table]} | {"note": note}


# -- 5. estimated marginal means ------------------------------------------------------------------------
def _emm_weights(sample: _Sample, weights: str = "equal") -> np.ndarray:
    """Rows L of the reference grid averaged per site: numeric covariates at their mean in the model
    sample; the combinations of factor-covariate levels weighted equally (``weights="equal"``:
    ``emmeans`` default, SPSS EMMEANS with the factors as BY) or in proportion to how often each
    combination occurs in the model sample, all sites together (``weights="proportional"``:
    ``emmeans(..., weights = "proportional")``; for this additive model the same as SPSS with the
    dummy-coded factors as WITH covariates at their means)."""
    if weights not in EMM_WEIGHTS:
        raise ValueError(f"statistics.adjusted_means_weights must be one of {EMM_WEIGHTS}, got {weights!r}")
    factor_covs = [c for c in sample.used if sample.cats[c]]
    levels = [_factors(sample)[c][3] for c in factor_covs]
    # the grid coded directly: per site (slowest) every combination of levels, the last factor fastest
    combos = np.array(list(product(*[range(len(lv)) for lv in levels])), dtype=np.intp)
    k = len(sample.present)
    means = {c: float(sample.frame[sample.internal[c]].mean()) for c in sample.used if not sample.cats[c]}
    grid = {"site": np.repeat(np.arange(k, dtype=np.intp), len(combos))}
    for i, c in enumerate(factor_covs):
        grid[sample.internal[c]] = np.tile(combos[:, i], k)
    for c, m in means.items():
        grid[sample.internal[c]] = np.full(k * len(combos), m)
    D = np.ascontiguousarray(_design(sample, rows=grid).X)  # row-major, as patsy builds it
    D = D.reshape(k, len(combos), D.shape[1])
    if weights == "equal" or not factor_covs:
        return D.mean(axis=1)
    # frequency of each combination (in ``combos`` order) among the model sample's respondents
    codes = [sample.frame[sample.internal[c]].cat.codes.to_numpy() for c in factor_covs]
    flat = np.ravel_multi_index(codes, [len(lv) for lv in levels])
    w = np.bincount(flat, minlength=len(combos)).astype(np.float64)
    return np.einsum("scp,c->sp", D, w / w.sum())


def _emm(params: np.ndarray, V: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted means Lβ and their standard errors √diag(L V Lᵀ)."""
    return L @ params, np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))


def _pair_difference(params: np.ndarray, ld: np.ndarray, V: np.ndarray) -> tuple[float, float]:
    """One contrast of adjusted means: d β and its standard error √(d V dᵀ)."""
    return float(ld @ params), float(math.sqrt(ld @ V @ ld))


def _adjusted_means(
    res, L: np.ndarray, sample: _Sample, levels: list[str], confidence: float, note_text: str
) -> pd.DataFrame:
    """Adjusted site means Lβ with standard errors √(L V Lᵀ) and t intervals on the residual df."""
    emm, emm_se = _emm(np.asarray(res.params), _covariance(res), L)
    df_res = float(res.df_resid)
    tcrit = t_ppf(0.5 + confidence / 2, df_res)
    where = dict(zip(sample.present, range(len(sample.present)), strict=True))
    rows = []
    for s in levels:
        if s not in where:
            row = _nan_row("means", f"no complete cases at site {s}")
            rows.append({"site": s, "n": 0} | row)
            continue
        i = where[s]
        row = {"adj_mean": float(emm[i]), "se": float(emm_se[i]), "df": df_res}
        row |= {"ci_low": float(emm[i] - tcrit * emm_se[i]), "ci_high": float(emm[i] + tcrit * emm_se[i])}
        rows.append({"site": s, "n": int(sample.site_n[s])} | row | {"note": note_text})
    return pd.DataFrame(rows, columns=MEANS_COLUMNS)


# -- 6. pairwise comparisons of the adjusted means ------------------------------------------------------
def _pairwise(
    res,
    L: np.ndarray,
    sample: _Sample,
    levels: list[str],
    posthoc: str,
    alpha: float,
    confidence: float,
    omnibus: bool | None,
    note_text: str,
) -> pd.DataFrame:
    """Every config pair: diff = EMM(a) − EMM(b), se = √(d V dᵀ), t = diff/se, with the family's
    adjusted p and simultaneous CI over the m = k(k−1)/2 pairs of the k sites in the model:
    ``tukey`` P(Q_{k,df} > |t|√2) and diff ± q_{1−α}(k, df)/√2 · se (studentized range,
    :mod:`cocapp.stats.studentized_range`; ``emmeans::pairs(adjust = "tukey")``), ``bonferroni`` min(1, m·p),
    ``sidak`` 1 − (1 − p)^m with t critical values at α/m and 1 − confidence^(1/m)."""
    V = _covariance(res)
    df_res = float(res.df_resid)
    k = len(sample.present)
    m = k * (k - 1) // 2
    if posthoc == "tukey":
        crit = float(studentized_range.ppf(confidence, k, df_res)) / math.sqrt(2.0)
    elif posthoc == "bonferroni":
        crit = t_ppf(1 - (1 - confidence) / (2 * m), df_res)
    else:  # Šidák: each interval at level confidence^(1/m)
        crit = t_ppf(0.5 + confidence ** (1.0 / m) / 2, df_res)
    where = dict(zip(sample.present, range(len(sample.present)), strict=True))
    if isinstance(res, CompressedFit):
        post = _pairs_vectorised(res, L, sample, levels, posthoc, crit, omnibus, note_text)
    else:
        rows = []
        for i, j in zip(*np.triu_indices(len(levels), k=1), strict=True):
            sa, sb = levels[i], levels[j]
            base = {"site_a": sa, "site_b": sb, "method": posthoc, "omnibus_significant": omnibus}
            if sa not in where or sb not in where:
                miss = [s for s in (sa, sb) if s not in where]
                rows.append(base | _nan_row("posthoc", f"no complete cases at site(s) {', '.join(miss)}"))
                continue
            diff, se = _pair_difference(np.asarray(res.params), L[where[sa]] - L[where[sb]], V)
            t = diff / se if se > 0 else np.nan
            rows.append(base | {"diff": diff, "se": se, "df": df_res, "t": t, "ci_low": diff - crit * se})
            rows[-1] |= {"ci_high": diff + crit * se, "note": note_text}
        post = pd.DataFrame(rows, columns=POSTHOC_COLUMNS)
    t = post["t"].to_numpy(dtype=np.float64)
    p = np.full(len(t), np.nan)
    ok = np.isfinite(t)
    if ok.any():  # one vectorised call for the family
        if posthoc == "tukey":
            p[ok] = studentized_range.sf(np.abs(t[ok]) * math.sqrt(2.0), k, df_res)
        else:
            p[ok] = adjust_pvalues(2 * t_sf(np.abs(t[ok]), df_res), posthoc, m)
    post["p_adj"] = p
    significant = np.full(len(p), None, dtype=object)  # True/False, None where p is NaN
    finite = np.isfinite(p)
    significant[finite] = (p[finite] < alpha).tolist()
    post["significant"] = significant
    return post


def _pair_estimates(
    res: CompressedFit, L: np.ndarray, sample: _Sample, levels: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every config site pair (upper triangle, config order): whether both sites are in the model,
    diff = L_a β − L_b β and se = σ̂ ‖(L_a − L_b) R⁻¹‖ (= √(d V dᵀ) without forming V; all pairs at
    once from the k × k Gram matrix of the rows of L R⁻¹ centred over sites, for the 31,125 pairs of
    250 sites); NaN where a site is not in the model."""
    where = {s: i for i, s in enumerate(sample.present)}
    pos = np.array([where.get(s, -1) for s in levels])
    a, b = np.triu_indices(len(levels), k=1)
    ok = (pos[a] >= 0) & (pos[b] >= 0)
    pa, pb = pos[a[ok]], pos[b[ok]]
    diff, se = np.full(len(a), np.nan), np.full(len(a), np.nan)
    G = res.whitened(L)
    G = G - G.mean(axis=0)  # differences unchanged; the part common to all sites no longer cancels below
    S = G @ G.T  # ‖G_a − G_b‖² = S_aa + S_bb − 2 S_ab: k × k products instead of one row per pair
    emm = L @ res.params
    diff[ok] = emm[pa] - emm[pb]
    se[ok] = np.sqrt(res.scale * np.maximum(S[pa, pa] + S[pb, pb] - 2.0 * S[pa, pb], 0.0))
    return ok, diff, se


def _pairs_vectorised(
    res: CompressedFit,
    L: np.ndarray,
    sample: _Sample,
    levels: list[str],
    posthoc: str,
    crit: float,
    omnibus: bool | None,
    note_text: str,
) -> pd.DataFrame:
    """The pairs table of :func:`_pairwise` (without p values) built column-wise from
    :func:`_pair_estimates`, for compressed fits."""
    ok, diff, se = _pair_estimates(res, L, sample, levels)
    a, b = np.triu_indices(len(levels), k=1)
    names = np.asarray(levels, dtype=object)
    present = set(sample.present)
    notes = np.full(len(a), note_text, dtype=object)
    for r in np.flatnonzero(~ok):
        miss = [s for s in (levels[a[r]], levels[b[r]]) if s not in present]
        notes[r] = f"no complete cases at site(s) {', '.join(miss)}"
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se > 0, diff / se, np.nan)
    omni = np.empty(len(a), dtype=object)
    omni[:] = omnibus
    return pd.DataFrame(
        {
            "site_a": names[a],
            "site_b": names[b],
            "diff": diff,
            "se": se,
            "df": np.where(ok, float(res.df_resid), np.nan),
            "t": t,
            "ci_low": diff - crit * se,
            "ci_high": diff + crit * se,
            "p_adj": np.nan,
            "significant": None,
            "omnibus_significant": omni,
            "method": posthoc,
            "note": notes,
        },
        columns=POSTHOC_COLUMNS,
    )


# -- 7. homogeneity of regression slopes -------------------------------------------------------------------
def _slopes(
    res, sample: _Sample, covs: list[str], kinds: Mapping[str, str], alpha: float, note_text: str
) -> pd.DataFrame:
    """Per covariate, the site × covariate interaction added to the model and tested against the model
    without it: F = [(SSR₀ − SSR₁)/df₁] / [SSR₁/df₂] (nested F test; R ``anova(m0, m1)``; for a factor
    covariate the site × factor interaction). Empty site × level cells reduce df₁ to the estimable part."""
    y = sample.frame["y"].to_numpy(dtype=np.float64)
    rows = []
    for c in covs:
        base = {"covariate": c, "covariate_type": kinds[c]}
        if c in sample.dropped:
            rows.append(base | _nan_row("slopes", sample.dropped[c]))
            continue
        if isinstance(res, CompressedFit):
            ssr1, df2, full_rank = _within_site_residual(res.blocks, sample, c)
        else:
            design = _design(sample, interaction=c)
            ssr1, df2, full_rank = _residual(y, design)
        df1 = float(res.df_resid - df2)
        if df1 < 1 or df2 < 1:
            note = "interaction not estimable (no extra or no residual degrees of freedom)"
            rows.append(base | _nan_row("slopes", note) | {"df1": df1, "df2": df2})
            continue
        F = ((res.ssr - ssr1) / df1) / (ssr1 / df2)
        p = float(f_sf(F, df1, df2))
        extra = []
        if not full_rank:
            extra.append(
                "some site x covariate cells are empty: interaction df reduced to the estimable part"
            )
        row = {
            "df1": df1,
            "df2": df2,
            "F": float(F),
            "p": p,
            "significant": bool(p < alpha) if np.isfinite(p) else None,
        }
        rows.append(base | row | {"note": "; ".join([x for x in [note_text, *extra] if x])})
    return pd.DataFrame(rows, columns=SLOPES_COLUMNS)


def _within_site_residual(blocks: _Blocks, sample: _Sample, c: str) -> tuple[float, float, bool]:
    """Residual SS, df and full rank of the site × ``c`` interaction model from the per-site factors:
    site, ``c`` and their interaction span "every site its own intercept and ``c`` coefficients", so
    the model is the within-site projection on [1, c] plus common coefficients of the other covariates
    (:func:`blockls.within_group_ssr`); its design has k·(1 + width of c) + (other widths) columns."""
    lead = [0, *[i for key, i in blocks.base.items() if key and key[0] == c]]
    rest = [i for key, i in blocks.base.items() if key and key[0] != c]
    ssr, rank = within_group_ssr(blocks.factors, lead, rest, blocks.y, blocks.site_n)
    p = len(sample.present) * len(lead) + len(rest)
    return ssr, float(sample.n - rank), rank == p


def _collinearity_note(design: _Design, sample: _Sample, rank: int) -> str:
    """The note for a rank-deficient design, naming the aliased columns with config covariate names."""
    names = list(design.names)
    for c in sample.used:  # internal names back to config keys ("C(c1, Sum)[S.x]" -> "gender[S.x]")
        pattern = re.compile(rf"C\({sample.internal[c]}, Sum\)|\b{sample.internal[c]}\b")
        names = [pattern.sub(c, nm) for nm in names]
    alias = _aliased(design.X, names, design.rows)
    return (
        f"collinear covariates: design matrix rank {rank} < {design.X.shape[1]} columns "
        f"(aliased: {', '.join(alias)}); model not estimable"
    )


# -- the model ----------------------------------------------------------------------------------------------
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
    slopes: bool = True,
    emm_weights: str = "equal",
    method: str = "auto",
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
    slopes
        False skips the homogeneity-of-slopes models (``slopes`` has no rows); the pooled analyses of
        multiply imputed data (:mod:`cocapp.stats.mi`) do not use them and they take most of the time.
    emm_weights
        How the adjusted means average over the levels of categorical covariates: ``equal`` (every
        combination of levels alike: ``emmeans`` default, SPSS EMMEANS) or ``proportional`` (by their
        frequency in the model sample: ``emmeans(weights = "proportional")``).
    method
        How the least squares are computed (the results agree to ~1e-12): ``dense`` builds the n × p
        design and fits it as statsmodels' formula route does; ``sufficient`` works from per-site QR
        factors of the rows' covariates and outcome (:mod:`cocapp.stats.blockls`; memory and time
        independent of n × p, the slopes models by within-site projection), for hundreds of sites and
        millions of respondents; ``auto`` (default) uses dense up to :data:`DENSE_CELLS` cells.

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
    if emm_weights not in EMM_WEIGHTS:
        raise ValueError(
            f"statistics.adjusted_means_weights must be one of {EMM_WEIGHTS}, got {emm_weights!r}"
        )
    levels = list(levels)
    covs = list(covariates)
    kinds = {c: covariates[c] for c in covs}
    cats = {c: _is_categorical(kinds[c]) for c in covs}
    sample = _model_sample(data, covs, cats, levels, outcome, site)
    n, notes = sample.n, sample.notes
    note_text = "; ".join(notes)
    design, res, failure = _fit_model(sample, _method(sample, method))
    if failure:
        return _nan_tables(covs, levels, kinds, n, "; ".join([*notes, failure]), posthoc)

    terms = _type3_table(res, design, sample, covs, note_text)
    site_p = float(terms["p"].iloc[1])  # the rows: (Intercept), site, covariates, Residuals
    omnibus = bool(site_p < alpha) if np.isfinite(site_p) else None
    L = _emm_weights(sample, emm_weights)
    means = _adjusted_means(res, L, sample, levels, confidence, note_text)
    post = _pairwise(res, L, sample, levels, posthoc, alpha, confidence, omnibus, note_text)
    slope_tests = (
        _slopes(res, sample, covs, kinds, alpha, note_text)
        if slopes
        else pd.DataFrame(columns=SLOPES_COLUMNS)
    )
    return AncovaResult(terms, means, post, slope_tests, notes, used=list(sample.used))


@dataclass
class SiteEstimates:
    """What pooling across imputations takes from one ANCOVA model (:func:`site_estimates`), as arrays
    over the configured sites (``adj_mean``, ``se``, ``n``) and site pairs (``diff``, ``pair_se``, in
    the order of :func:`ancova`'s ``posthoc`` table); NaN where :func:`ancova` has NaN."""

    adj_mean: np.ndarray
    se: np.ndarray
    n: np.ndarray
    df: float
    diff: np.ndarray
    pair_se: np.ndarray
    F: float
    df1: float


def site_estimates(
    data,
    covariates: Mapping[str, str],
    levels: Sequence[str],
    *,
    outcome: str = "score",
    site: str = "site",
    emm_weights: str = "equal",
    method: str = "auto",
) -> SiteEstimates:
    """The estimates of :func:`ancova` (same sample, design, fit and reference grid) without its
    inference: adjusted site means and standard errors, the differences of every site pair with their
    standard errors, the residual df (NaN when the first configured site has no complete cases, as the
    first row of ``ancova(...).means``), and the site term's Type III F and df. The pooled analyses of
    multiply imputed data (:mod:`cocapp.stats.mi`, Rubin's rules and D1) need nothing else, and the p
    values and simultaneous intervals (studentized range) of every model took most of their time.
    ``emm_weights`` and ``method`` as in :func:`ancova`. Many outcomes on the same respondents (the
    completed datasets of an imputation): :class:`SiteModel`, prepared once.
    """
    model = SiteModel(
        data, covariates, levels, outcome=outcome, site=site, emm_weights=emm_weights, method=method
    )
    return model.estimates(data[outcome])


class SiteModel:
    """One ANCOVA model of :func:`site_estimates` prepared for many outcomes that share its respondents
    and missing cells -- the ``m`` completed datasets of a multiple imputation, which differ only in the
    imputed values.

    What does not depend on the outcome's values is computed once: the listwise sample (from which
    values are missing), the design, on the dense route (:func:`_method`) its decomposition
    (:class:`cocapp.stats.pinvls.PinvOLS`: X⁺, (XᵀX)⁺, rank), the reference grid L and the site term's
    contrast rows; :meth:`estimates` fits the outcome and computes what :func:`ancova` computes from
    the fit, with the same expressions, so the numbers are :func:`ancova`'s to the bit
    (tests/test_ancova.py). The ``sufficient`` route factors each outcome with its site blocks, so
    there the whole model is fitted per outcome.
    """

    def __init__(
        self,
        data,
        covariates: Mapping[str, str],
        levels: Sequence[str],
        *,
        outcome: str = "score",
        site: str = "site",
        emm_weights: str = "equal",
        method: str = "auto",
    ):
        self.levels = list(levels)
        cats = {c: _is_categorical(covariates[c]) for c in covariates}
        self.sample = _model_sample(data, list(covariates), cats, self.levels, outcome, site)
        self.finite = np.isfinite(self._values(data[outcome]))
        self.method = _method(self.sample, method)
        self.emm_weights = emm_weights
        where = {s: i for i, s in enumerate(self.sample.present)}
        self.pos = np.array([where.get(s, -1) for s in self.levels])
        self.fitted = len(self.sample.present) >= 2
        if not self.fitted or self.method == "sufficient":
            return
        self.design = _design(self.sample)
        self.ols = PinvOLS(self.design.X)
        rank = _rank_of(self.ols.singular_values, self.design.X.shape)
        self.fitted = self.ols.df_resid >= 1 and rank == self.design.X.shape[1]  # as _fit_model
        if self.fitted:
            self.L = _emm_weights(self.sample, emm_weights)

    @staticmethod
    def _values(y) -> np.ndarray:
        return np.asarray(pd.to_numeric(y, errors="coerce"), dtype=np.float64)

    def estimates(self, y) -> SiteEstimates:
        """The model's :class:`SiteEstimates` for outcome values ``y`` (missing where the prepared
        outcome was missing, else an error)."""
        y = self._values(y)
        if not np.array_equal(np.isfinite(y), self.finite):
            raise ValueError("SiteModel.estimates: the outcome is missing for other rows than when prepared")
        ys = y[self.sample.complete]
        if not self.fitted or (len(ys) and float(np.ptp(ys)) == 0.0):
            return self._missing()
        fit = self._fit_sufficient(ys) if self.method == "sufficient" else self._fit_dense(ys)
        if fit is None:
            return self._missing()
        design, res, L, V, diff, pair_se = fit
        params = np.asarray(res.params)
        L_site = np.eye(design.X.shape[1])[design.terms["site"]]
        emm, emm_se = _emm(params, V, L)
        ok = self.pos >= 0
        adj_mean, se = np.full(len(self.levels), np.nan), np.full(len(self.levels), np.nan)
        adj_mean[ok], se[ok] = emm[self.pos[ok]], emm_se[self.pos[ok]]
        n = np.where(ok, self.sample.site_n.reindex(self.levels).to_numpy(dtype=np.float64), 0.0)
        df = float(res.df_resid) if ok[0] else np.nan
        F = float(_wald(res, L_site, V).fvalue)
        return SiteEstimates(adj_mean, se, n, df, diff, pair_se, F, float(L_site.shape[0]))

    def _fit_dense(self, ys: np.ndarray) -> tuple:
        """The prepared design fitted to ``ys``: design, fit, grid, V and every config pair's difference
        and standard error (:func:`_pair_difference`, as :func:`_pairwise`)."""
        res = self.ols.fit(ys)
        V, params = _covariance(res), np.asarray(res.params)
        a, b = np.triu_indices(len(self.levels), k=1)
        diff, pair_se = np.full(len(a), np.nan), np.full(len(a), np.nan)
        for r, (i, j) in enumerate(zip(self.pos[a], self.pos[b], strict=True)):
            if i >= 0 and j >= 0:
                diff[r], pair_se[r] = _pair_difference(params, self.L[i] - self.L[j], V)
        return self.design, res, self.L, V, diff, pair_se

    def _fit_sufficient(self, ys: np.ndarray) -> tuple | None:
        """The per-site QR route for ``ys`` (None when the model cannot be fitted), as :func:`_fit_dense`."""
        sample = replace(self.sample, frame=self.sample.frame.assign(y=ys))
        design, res, failure = _fit_model(sample, "sufficient")
        if failure:
            return None
        L = _emm_weights(sample, self.emm_weights)
        _, diff, pair_se = _pair_estimates(res, L, sample, self.levels)
        return design, res, L, _covariance(res), diff, pair_se

    def _missing(self) -> SiteEstimates:
        k, pairs = len(self.levels), len(self.levels) * (len(self.levels) - 1) // 2
        nan_sites, nan_pairs = np.full(k, np.nan), np.full(pairs, np.nan)
        return SiteEstimates(
            nan_sites, nan_sites.copy(), nan_sites.copy(), np.nan, nan_pairs, nan_pairs.copy(), np.nan, np.nan
        )
