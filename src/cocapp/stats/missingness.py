"""Missing-data profile (stage ``missingness``): incomplete returns, missing codes, patterns, Little's test.

Every returned questionnaire counts (``ingest/{group}_items.csv`` has one row per return; its row
count is ``n_returned``). A respondent is *complete* on a scale when every item of that scale is an
answer inside the instrument's declared response range; ``pct_incomplete = 100 (1 - n_complete /
n_returned)``, the quantity behind COCAPP's "mean level of missing data across the 22 scales/sub-scales
was 19.9 %, range from 6.5 to 69 %". Missing cells are split by why they are missing: a declared code
(instrument file, then config ``input.missing_codes``: ``not_applicable``, ``no_response``, ``refused``,
``other_missing``), an empty (system-missing) cell, or an undeclared non-answer.

Little's (1988) MCAR test is computed per instrument over all its items: maximum-likelihood mean and
covariance under MAR by the EM algorithm (multivariate normal), then
``d2 = sum_j n_j (ybar_j - mu_j)' Sigma_jj^-1 (ybar_j - mu_j)`` over missing-data patterns j, referred
to chi-square with ``sum_j p_j - p`` degrees of freedom. It assumes multivariate normal items (the
items are ordinal), and a significant result says the data are not MCAR; it cannot show MNAR.
No R package with Little's test (misty, naniar, mvnmle, norm) is packaged in Debian, so the test is
validated against an independent base-R implementation (different EM formulation: conditional
regressions on Sigma_OO instead of the precision matrix) in ``tests/reference/measurement.R``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cocapp.instruments import Instrument
from cocapp.stats.distributions import chi2_sf

__all__ = [
    "MISSING_KINDS",
    "SCALE_COLUMNS",
    "ITEM_COLUMNS",
    "PATTERN_COLUMNS",
    "MCAR_COLUMNS",
    "LittleResult",
    "classify_cells",
    "em_mvn",
    "incomplete_summary",
    "incomplete_summary_text",
    "item_missingness",
    "little_mcar",
    "mcar_table",
    "missing_patterns",
    "scale_missingness",
]

# Kinds of declared missing codes (config schema ``missing_codes``), then the two undeclared kinds.
MISSING_KINDS = ["not_applicable", "no_response", "refused", "other_missing"]
_ALL_KINDS = [*MISSING_KINDS, "empty", "undeclared"]

SCALE_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "k_items",
    "n_returned",
    "n_complete",
    "n_incomplete",
    "pct_incomplete",
    "n_no_item_answered",
    "n_cells",
    "n_cells_missing",
    "pct_cells_missing",
    *[f"n_cells_{k}" for k in _ALL_KINDS],
]
ITEM_COLUMNS = [
    "group",
    "instrument",
    "item",
    "column",
    "subscale",
    "n_returned",
    "n_answered",
    "n_missing",
    "pct_missing",
    *[f"n_{k}" for k in _ALL_KINDS],
]
PATTERN_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "pattern",
    "n_items_missing",
    "n_respondents",
    "pct_respondents",
]
MCAR_COLUMNS = [
    "group",
    "instrument",
    "n_items",
    "n_respondents",
    "n_patterns",
    "chi2",
    "df",
    "p",
    "computable",
    "reason",
    "em_iterations",
    "em_converged",
]


# -- cells -----------------------------------------------------------------------------------------
def classify_cells(
    raw: np.ndarray, instrument: Instrument, extra_codes: dict[float, str] | None = None
) -> np.ndarray:
    """Label every raw cell: ``answered`` or one of the missing kinds.

    Answers are values inside the instrument's declared response range. Declared codes come from the
    instrument file, then ``extra_codes`` (config ``input.missing_codes``); NaN is ``empty``; any other
    value (outside the range, not declared) is ``undeclared``.
    """
    raw = np.asarray(raw, dtype=float)
    codes = {**(extra_codes or {}), **instrument.missing_codes}
    # fixed-width text, not objects: the counts by kind compare millions of cells
    out = np.full(raw.shape, "undeclared", dtype=f"<U{max(map(len, [*_ALL_KINDS, 'answered']))}")
    out[np.isnan(raw)] = "empty"
    for code, kind in codes.items():
        out[raw == float(code)] = kind if kind in MISSING_KINDS else "other_missing"
    out[instrument.valid_mask(raw)] = "answered"
    return out


def _raw(items: pd.DataFrame, instrument: Instrument, pattern: str | None, numbers=None) -> np.ndarray:
    cols = instrument.columns(numbers, pattern=pattern)
    absent = [c for c in cols if c not in items.columns]
    if absent:
        raise ValueError(f"items table lacks the {instrument.key} item column(s) {absent}")
    return items[cols].to_numpy(dtype=float)


def scale_missingness(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    *,
    patterns: dict[str, str] | None = None,
    extra_codes: dict[float, str] | None = None,
) -> pd.DataFrame:
    """Per instrument x scale: returned, complete, % incomplete, and missing cells by kind.

    ``pct_incomplete`` is a percentage (0-100) of the returned questionnaires, NaN when none was
    returned. ``n_no_item_answered`` counts returns with no answer on the scale (they are incomplete).
    """
    patterns = patterns or {}
    n_ret = len(items)
    rows = []
    for key, inst in instruments.items():
        for scale in inst.scales:
            kinds = classify_cells(_raw(items, inst, patterns.get(key), scale.items), inst, extra_codes)
            answered = kinds == "answered"
            n_complete = int(answered.all(axis=1).sum())
            n_cells = int(kinds.size)
            n_missing = int((~answered).sum())
            row = {
                "group": group,
                "instrument": key,
                "scale": scale.key,
                "k_items": scale.k,
                "n_returned": n_ret,
                "n_complete": n_complete,
                "n_incomplete": n_ret - n_complete,
                "pct_incomplete": 100.0 * (1.0 - n_complete / n_ret) if n_ret else float("nan"),
                "n_no_item_answered": int((~answered).all(axis=1).sum()),
                "n_cells": n_cells,
                "n_cells_missing": n_missing,
                "pct_cells_missing": 100.0 * n_missing / n_cells if n_cells else float("nan"),
            }
            row.update({f"n_cells_{k}": int((kinds == k).sum()) for k in _ALL_KINDS})
            rows.append(row)
    return pd.DataFrame(rows, columns=SCALE_COLUMNS)


def item_missingness(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    *,
    patterns: dict[str, str] | None = None,
    extra_codes: dict[float, str] | None = None,
) -> pd.DataFrame:
    """Per instrument x item: answered and missing counts split by kind (item order)."""
    patterns = patterns or {}
    n_ret = len(items)
    rows = []
    for key, inst in instruments.items():
        kinds = classify_cells(_raw(items, inst, patterns.get(key)), inst, extra_codes)
        subscales = {
            i: [s.key for s in inst.scales if s.key != "total" and i in s.items]
            for i in range(1, inst.n_items + 1)
        }
        for j in range(inst.n_items):
            col = kinds[:, j]
            n_answered = int((col == "answered").sum())
            row = {
                "group": group,
                "instrument": key,
                "item": j + 1,
                "column": inst.column(j + 1, patterns.get(key)),
                "subscale": ";".join(subscales[j + 1]),
                "n_returned": n_ret,
                "n_answered": n_answered,
                "n_missing": n_ret - n_answered,
                "pct_missing": 100.0 * (n_ret - n_answered) / n_ret if n_ret else float("nan"),
            }
            row.update({f"n_{k}": int((col == k).sum()) for k in _ALL_KINDS})
            rows.append(row)
    return pd.DataFrame(rows, columns=ITEM_COLUMNS)


def missing_patterns(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    *,
    patterns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Missing-data patterns per instrument x scale over every returned questionnaire.

    ``pattern`` has one character per item of the scale, in the scale's item order: ``.`` answered,
    ``M`` missing (any kind); not digits, so that no CSV reader turns a pattern into a number. Rows are
    ordered by ``n_respondents`` (descending), then ``pattern``.
    """
    patterns = patterns or {}
    n_ret = len(items)
    frames = []
    for key, inst in instruments.items():
        for scale in inst.scales:
            miss = ~inst.valid_mask(_raw(items, inst, patterns.get(key), scale.items))
            text = np.ascontiguousarray(np.where(miss, "M", ".")).view(f"<U{miss.shape[1]}").ravel()
            counts = pd.Series(text.tolist(), dtype=object).value_counts()
            df = pd.DataFrame({"pattern": counts.index.astype(object), "n_respondents": counts.to_numpy()})
            df = df.sort_values(["n_respondents", "pattern"], ascending=[False, True], kind="stable")
            df.insert(0, "scale", scale.key)
            df.insert(0, "instrument", key)
            df.insert(0, "group", group)
            df["n_items_missing"] = df["pattern"].str.count("M").astype(int)
            df["pct_respondents"] = 100.0 * df["n_respondents"] / n_ret
            frames.append(df)
    if not frames:
        return pd.DataFrame(columns=PATTERN_COLUMNS)
    return pd.concat(frames, ignore_index=True)[PATTERN_COLUMNS]


# -- Little's MCAR test ------------------------------------------------------------------------------
@dataclass
class EMResult:
    """EM estimates of a multivariate normal mean and covariance (maximum likelihood, divisor n)."""

    mean: np.ndarray
    cov: np.ndarray
    iterations: int
    converged: bool


# above this many rows EM iterates on per-pattern sums (:func:`_em_mvn_sums`) instead of every row; the
# default study (649 rows) and the example study (2,577) stay on the row route, so their outputs are
# unchanged. Both routes are checked against each other and against R (tests/test_missingness.py).
EM_ROWS = 20_000


def em_mvn(x: np.ndarray, *, tol: float = 1e-12, max_iter: int = 10000, route: str = "auto") -> EMResult:
    """Maximum-likelihood mean and covariance of multivariate normal data with missing values (EM).

    Parameters
    ----------
    x
        n x p array, NaN = missing; every row has at least one observed value and every column at
        least one observed value.
    tol
        Convergence: stop when no element of the mean or covariance changes by more than ``tol``.
    max_iter
        Iteration limit (``converged`` is False when it is reached).

    Notes
    -----
    Start: observed-case means and a diagonal covariance of observed-case variances (divisor n_i).
    E step with the precision matrix L = Sigma^-1: E[x_M | x_O] = mu_M - L_MM^-1 L_MO (x_O - mu_O),
    Cov[x_M | x_O] = L_MM^-1 (Little & Rubin 2002, ch. 11). M step: mu = mean of completed rows,
    Sigma = mean of completed cross-products + conditional covariances - mu mu'.
    Raises ``numpy.linalg.LinAlgError`` when Sigma becomes singular.

    ``route``: ``"rows"`` completes every row in each E step; ``"sums"`` the same iteration on each
    missing-data pattern's sums (:func:`_em_mvn_sums`, for large n); ``"auto"``: sums above
    :data:`EM_ROWS` rows.
    """
    x = np.asarray(x, dtype=float)
    if route == "sums" or (route == "auto" and x.shape[0] > EM_ROWS):
        return _em_mvn_sums(x, tol=tol, max_iter=max_iter)
    n, p = x.shape
    obs = ~np.isnan(x)
    mu = np.array([x[obs[:, j], j].mean() for j in range(p)])
    sigma = np.diag([x[obs[:, j], j].var() for j in range(p)])
    # rows batched by their number of missing items (:func:`_pattern_batches`); within a batch, the
    # distinct patterns: the conditional-mean coefficients L_MM^-1 L_MO and covariances L_MM^-1 are
    # computed once per pattern
    batches = []
    for rows, of_row, o_pat, m_pat in _pattern_batches(obs):
        if not m_pat.shape[1]:
            continue  # complete rows
        o_idx, m_idx = o_pat[of_row], m_pat[of_row]  # each row's observed and missing columns
        count = np.bincount(of_row).astype(float)
        batches.append((rows, x[rows[:, None], o_idx], o_idx, m_idx, o_pat, m_pat, of_row, count))
    x0 = np.where(obs, x, 0.0)

    def step(mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prec = np.linalg.inv(sigma)
        filled = x0.copy()
        cond_cov = np.zeros((p, p))
        for rows, x_obs, o_idx, m_idx, o_pat, m_pat, of_row, count in batches:
            inv_mm = np.linalg.inv(prec[m_pat[:, :, None], m_pat[:, None, :]])
            coef = inv_mm @ prec[m_pat[:, :, None], o_pat[:, None, :]]
            dev = x_obs - mu[o_idx]
            filled[rows[:, None], m_idx] = mu[m_idx] - np.matmul(coef[of_row], dev[:, :, None])[:, :, 0]
            np.add.at(cond_cov, (m_pat[:, :, None], m_pat[:, None, :]), inv_mm * count[:, None, None])
        new_mu = filled.mean(axis=0)
        centred = filled - new_mu
        return new_mu, (centred.T @ centred + cond_cov) / n

    return _em_iterate(step, mu, sigma, tol, max_iter)


def _em_iterate(step, mu: np.ndarray, sigma: np.ndarray, tol: float, max_iter: int) -> EMResult:
    """EM steps (``step(mu, sigma)`` -> new mean and covariance) from ``mu``, ``sigma`` until no element
    changes by more than ``tol`` or ``max_iter`` steps; the covariance symmetrised after each step."""
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - `it` is reported after the loop
        new_mu, new_sigma = step(mu, sigma)
        new_sigma = (new_sigma + new_sigma.T) / 2
        change = max(np.abs(new_mu - mu).max(), np.abs(new_sigma - sigma).max())
        mu, sigma = new_mu, new_sigma
        if change < tol:
            converged = True
            break
    return EMResult(mu, sigma, it, converged)


def _pattern_batches(obs: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Rows batched by their number of missing items m (complete rows: m = 0): per batch the rows,
    each row's pattern number within the batch, and the patterns' observed and missing columns."""
    n, p = obs.shape
    n_miss = p - obs.sum(axis=1)
    out = []
    for m in sorted(set(n_miss.tolist())):
        rows = np.flatnonzero(n_miss == m)
        order = np.argsort(~obs[rows], axis=1, kind="stable")  # observed first, then missing
        patterns, of_row = np.unique(order, axis=0, return_inverse=True)
        out.append((rows, of_row.ravel(), patterns[:, : p - m], patterns[:, p - m :]))
    return out


def _scatter(index: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Sum of ``values`` into ``size`` cells by ``index`` (``np.add.at``, via the faster bincount)."""
    return np.bincount(index.ravel(), weights=values.ravel(), minlength=size)


def _pattern_sums(xc: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
    """For :func:`_em_mvn_sums`: the observed part of the completed sums and cross-products (the same
    at every step), and per batch of patterns with missing items (:func:`_pattern_batches`) their
    observed and missing columns, row counts, sums and cross-products of the observed items."""
    p = obs.shape[1]
    fixed1, fixed2 = np.zeros(p), np.zeros((p, p))
    batches = []
    for rows, of_row, o_pat, m_pat in _pattern_batches(obs):
        k = len(o_pat)
        x_obs = np.take_along_axis(xc[rows], o_pat[of_row], axis=1)  # each row's observed items
        count = np.bincount(of_row, minlength=k).astype(float)
        by = np.argsort(of_row, kind="stable")
        starts = np.r_[0, np.cumsum(count.astype(int))[:-1]]
        s1 = np.empty((k, o_pat.shape[1]))
        s2 = np.empty((k, o_pat.shape[1], o_pat.shape[1]))
        for j in range(k):
            block = x_obs[by[starts[j] : starts[j] + int(count[j])]]
            s1[j] = block.sum(axis=0)
            s2[j] = block.T @ block
        fixed1 += _scatter(o_pat, s1, p)
        fixed2 += _scatter(o_pat[:, :, None] * p + o_pat[:, None, :], s2, p * p).reshape(p, p)
        if m_pat.shape[1]:
            batches.append((o_pat, m_pat, count, s1, s2))
    return fixed1, fixed2, batches


def _em_mvn_sums(x: np.ndarray, *, tol: float, max_iter: int) -> EMResult:
    """:func:`em_mvn` on sufficient statistics: the same EM iteration, with each pattern's rows
    entering only through their count, sum and sum of cross-products of the observed items.

    The E-step completion is linear in the observed values, x_M = a - C x_O with C = L_MM^-1 L_MO and
    a = mu_M + C mu_O, so a pattern's completed sums are S1_M = c a - C S1_O and cross-products
    S2_MO = a S1_O' - C S2_OO, S2_MM = c a a' - a (C S1_O)' - (C S1_O) a' + C S2_OO C' (Little & Rubin
    2002, ch. 11; Schafer 1997, ch. 5, the sweep-based EM of R's ``norm``). Each iteration then costs
    O(patterns p^3) instead of O(n p^2). The data are centred at the observed item means first (the
    estimates are shift-equivariant) so that Sigma = S2/n - mu mu' loses no digits to cancellation.
    """
    x = np.asarray(x, dtype=float)
    n, p = x.shape
    obs = ~np.isnan(x)
    shift = np.array([x[obs[:, j], j].mean() for j in range(p)])
    xc = np.where(obs, x - shift, 0.0)
    mu = np.zeros(p)
    sigma = np.diag([xc[obs[:, j], j].var() for j in range(p)])
    fixed1, fixed2, batches = _pattern_sums(xc, obs)

    def step(mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prec = np.linalg.inv(sigma)
        t1, t2 = fixed1.copy(), fixed2.copy()
        for o_pat, m_pat, count, s1, s2 in batches:
            inv_mm = np.linalg.inv(prec[m_pat[:, :, None], m_pat[:, None, :]])
            coef = inv_mm @ prec[m_pat[:, :, None], o_pat[:, None, :]]
            a = mu[m_pat] + np.einsum("kmo,ko->km", coef, mu[o_pat])
            cs1 = np.einsum("kmo,ko->km", coef, s1)
            t1 += _scatter(m_pat, count[:, None] * a - cs1, p)
            mo = a[:, :, None] * s1[:, None, :] - coef @ s2
            mm = (
                count[:, None, None] * a[:, :, None] * a[:, None, :]
                - a[:, :, None] * cs1[:, None, :]
                - cs1[:, :, None] * a[:, None, :]
                + coef @ s2 @ coef.transpose(0, 2, 1)
                + count[:, None, None] * inv_mm
            )
            mo_cells = m_pat[:, :, None] * p + o_pat[:, None, :]
            om_cells = o_pat[:, None, :] * p + m_pat[:, :, None]
            mm_cells = m_pat[:, :, None] * p + m_pat[:, None, :]
            t2 += _scatter(
                np.concatenate([mo_cells.ravel(), om_cells.ravel(), mm_cells.ravel()]),
                np.concatenate([mo.ravel(), mo.ravel(), mm.ravel()]),
                p * p,
            ).reshape(p, p)
        new_mu = t1 / n
        return new_mu, t2 / n - np.outer(new_mu, new_mu)

    res = _em_iterate(step, mu, sigma, tol, max_iter)
    return EMResult(res.mean + shift, res.cov, res.iterations, res.converged)


@dataclass
class LittleResult:
    """Little's MCAR test on one item matrix; ``computable`` False with a ``reason`` when undefined."""

    n_items: int
    n_respondents: int
    n_patterns: int
    chi2: float
    df: float
    p: float
    computable: bool
    reason: str
    em_iterations: int
    em_converged: bool


def little_mcar(x: np.ndarray, *, tol: float = 1e-12, max_iter: int = 10000) -> LittleResult:
    """Little's (1988) chi-square test that data are missing completely at random.

    Parameters
    ----------
    x
        n x p item matrix after keying (NaN = missing). Rows with no observed value are dropped
        (they carry no information; their pattern adds 0 to both the statistic and the df).

    Returns
    -------
    LittleResult
        ``chi2 = sum_j n_j (ybar_j - mu_j)' Sigma_jj^-1 (ybar_j - mu_j)`` with the EM (ML) estimates
        mu, Sigma (:func:`em_mvn`), ``df = sum_j p_j - p`` (p_j = observed items in pattern j), and
        ``p = P(chi2_df > chi2)``. Not computable (NaN, with the reason) when an item is never
        answered, there is only one missing-data pattern, fewer respondents than items + 1, the EM
        covariance is singular, or EM does not converge.

    Notes
    -----
    Little RJA (1988) A test of missing completely at random for multivariate data with missing
    values. JASA 83:1198-1202. Validated against a base-R implementation (measurement.R).
    """
    x = np.asarray(x, dtype=float)
    p = x.shape[1]
    obs = ~np.isnan(x)
    x = x[obs.any(axis=1)]
    obs = obs[obs.any(axis=1)]
    n = x.shape[0]
    keys = np.packbits(obs, axis=1)
    _, pat_id = np.unique(keys, axis=0, return_inverse=True)
    pat_id = pat_id.ravel()
    n_pat = int(pat_id.max() + 1) if n else 0

    def fail(reason: str, iters: int = 0, conv: bool = False) -> LittleResult:
        return LittleResult(p, n, n_pat, float("nan"), float("nan"), float("nan"), False, reason, iters, conv)

    never = np.flatnonzero(~obs.any(axis=0)) + 1 if n else np.arange(1, p + 1)
    if len(never):
        return fail(
            f"item(s) {never.tolist()} (position in the instrument) never answered: "
            "their mean is not estimable"
        )
    if n_pat < 2:
        return fail(
            "only one missing-data pattern (no missing data among respondents who answered): nothing to test"
        )
    if n < p + 1:
        return fail(f"{n} respondents answered at least one item, fewer than items + 1 = {p + 1}")
    if (np.nanvar(x, axis=0) == 0).any():
        return fail("an item has no variance among its answers: the covariance matrix is singular")
    try:
        em = em_mvn(x, tol=tol, max_iter=max_iter)
    except np.linalg.LinAlgError:
        return fail("the EM covariance matrix became singular (collinear items)")
    if not em.converged:
        return fail(f"EM did not converge in {em.iterations} iterations", em.iterations, False)
    eig = np.linalg.eigvalsh(em.cov)
    if eig.min() <= 1e-10 * eig.max():
        return fail("the EM covariance matrix is (near) singular (collinear items)", em.iterations, True)
    d2 = 0.0
    df = 0
    by_pattern = np.argsort(pat_id, kind="stable")  # each pattern's rows, in file order
    ends = np.cumsum(np.bincount(pat_id, minlength=n_pat))
    for j in range(n_pat):
        rows = by_pattern[(ends[j - 1] if j else 0) : ends[j]]
        o = obs[rows[0]]
        diff = x[rows][:, o].mean(axis=0) - em.mean[o]
        d2 += len(rows) * float(diff @ np.linalg.solve(em.cov[np.ix_(o, o)], diff))
        df += int(o.sum())
    df -= p
    return LittleResult(p, n, n_pat, d2, float(df), float(chi2_sf(d2, df)), True, "", em.iterations, True)


def mcar_table(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    *,
    patterns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Little's MCAR test per instrument over all its items (after keying), one row per instrument."""
    patterns = patterns or {}
    rows = []
    for key, inst in instruments.items():
        _raw(items, inst, patterns.get(key))  # names absent columns clearly
        res = little_mcar(inst.keyed(items, pattern=patterns.get(key)).to_numpy(dtype=float))
        rows.append({"group": group, "instrument": key, **res.__dict__})
    return pd.DataFrame(rows, columns=MCAR_COLUMNS)


# -- the paper's summary line ------------------------------------------------------------------------
def incomplete_summary(missingness: pd.DataFrame) -> pd.DataFrame:
    """Mean and range of ``pct_incomplete`` over every outcome (group x instrument x scale) given.

    COCAPP: 22 outcomes (16 service-user, 6 care-coordinator scales), mean 19.9 %, range 6.5-69 %.
    Returns one row: ``n_outcomes``, ``mean_pct_incomplete``, ``min_pct_incomplete``,
    ``max_pct_incomplete`` (NaN outcomes, i.e. groups without returns, are left out and counted in
    ``n_outcomes_undefined``).
    """
    pct = pd.to_numeric(missingness["pct_incomplete"], errors="raise")
    ok = pct.dropna()
    return pd.DataFrame(
        {
            "n_outcomes": [int(len(ok))],
            "n_outcomes_undefined": [int(pct.isna().sum())],
            "mean_pct_incomplete": [float(ok.mean()) if len(ok) else float("nan")],
            "min_pct_incomplete": [float(ok.min()) if len(ok) else float("nan")],
            "max_pct_incomplete": [float(ok.max()) if len(ok) else float("nan")],
        }
    )


def incomplete_summary_text(missingness: pd.DataFrame, digits: int = 1) -> str:
    """The paper's sentence, from :func:`incomplete_summary` (rounded for display only).

    >>> df = pd.DataFrame({"pct_incomplete": [6.5, 69.0, 10.0]})
    >>> incomplete_summary_text(df)
    'mean level of missing data across the 3 scales/sub-scales was 28.5 %, range from 6.5 to 69.0 %'
    """
    s = incomplete_summary(missingness).iloc[0]
    return (
        f"mean level of missing data across the {int(s.n_outcomes)} scales/sub-scales was "
        f"{s.mean_pct_incomplete:.{digits}f} %, range from {s.min_pct_incomplete:.{digits}f} to "
        f"{s.max_pct_incomplete:.{digits}f} %"
    )
