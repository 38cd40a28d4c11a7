"""Multiple imputation of item answers by chained equations with predictive mean matching (stage ``impute``).

Every item answer that is not an answer (empty cell or declared missing code, see
:meth:`cocapp.instruments.Instrument.valid_mask`) of a respondent who answered at least one item of the
instrument is imputed ``m`` times; respondents who answered none of an instrument's items stay
unscored, as in :mod:`cocapp.stats.scoring`.

Algorithm (van Buuren & Groothuis-Oudshoorn 2011, R ``mice(method = "pmm")`` with its defaults):
``m`` independent chains, each started from random draws of the item's observed answers; in every
iteration each item in turn is regressed on its predictors over the respondents who answered it, a
parameter vector is drawn from its posterior (``mice:::.norm.draw``: ridge 1e-5 × diag(XᵀX),
σ* = √(RSS/χ²_{n_obs − d}), β* = β̂ + σ* chol(V) z), predictions with β̂ for the observed and with β* for
the missing answers are matched (type-1 matching) and each missing answer takes the answer of one of
the ``donors`` (5) nearest observed respondents, chosen at random. Imputed values are therefore always
answers somebody gave: valid responses inside the declared range.

Predictor rule (documented; like ``mice::quickpred`` it keeps 76 items tractable): for each item,
(1) the site (dummy coded), (2) the covariates of the group's ANCOVA models (numeric ones as values with
the missing filled by the mean plus a missing indicator; categorical ones as dummies with "missing" as
a level — covariates are predictors only, never imputed: the ANCOVA deletes them listwise as in the
main analysis), (3) the other items sharing a scale with it whose observed (pairwise) correlation with
it is at least ``min_correlation`` in absolute value (quickpred's ``mincor``, default 0.1), and (4) the
current mean answer of each other instrument of the group (a passive summary, so that correlations
between instruments' scores are not pulled towards zero).

Everything runs on all ``m`` chains at once (batched numpy linear algebra) from one
``numpy.random.Generator`` seeded with the configured seed and the group's name: the same data and
configuration give the same imputations, byte for byte, on one BLAS thread.

The δ adjustment (MNAR sensitivity; van Buuren 2018 §9.2, Carpenter & Kenward 2013 ch. 10) shifts
every imputed answer by δ on the scored (keyed) metric — reverse-keyed items are shifted by −δ as
printed — optionally only at named sites, and clips to the declared range; it is applied to the
completed datasets after imputation (the MAR imputations are reused, not re-run).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cocapp.instruments import Instrument

__all__ = [
    "DIAGNOSTIC_COLUMNS",
    "PREDICTOR_COLUMNS",
    "ImputedGroup",
    "impute_group",
    "pmm_chained",
]

DIAGNOSTIC_COLUMNS = ["group", "instrument", "item", "chain", "iteration", "n_imputed", "mean", "sd"]
PREDICTOR_COLUMNS = ["group", "instrument", "item", "n_missing", "predictor", "kind"]


# -- the engine ------------------------------------------------------------------------------------------
def pmm_chained(
    values: np.ndarray,
    fixed: np.ndarray,
    predictors: Sequence[np.ndarray],
    summaries: Sequence[np.ndarray],
    summary_use: Sequence[np.ndarray],
    *,
    m: int,
    iterations: int,
    rng: np.random.Generator,
    donors: int = 5,
    ridge: float = 1e-5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chained equations with predictive mean matching on ``m`` chains at once.

    Parameters
    ----------
    values
        (n, p) answers; NaN = missing. A cell is imputed when it is NaN and its row is in scope for the
        column (at least one non-NaN answer in the column's summary block); other NaN cells stay NaN.
    fixed
        (n, q) complete predictors used for every column (an intercept is added).
    predictors
        Per column j, the indices of the other columns used as predictors (in scope for j's rows).
    summaries
        Column index blocks (one per instrument) whose row means are summary predictors; a column's own
        block also defines its scope.
    summary_use
        Per column j, the indices of the ``summaries`` used as predictors (not j's own block).
    m, iterations, rng, donors, ridge
        Chains, iterations per chain, random generator, donor pool size (mice ``donors``) and the ridge
        penalty (mice ``ridge``).

    Returns
    -------
    (completed, chain_mean, chain_sd)
        ``completed`` (m, n, p); ``chain_mean``/``chain_sd`` (m, iterations, p): mean and SD (n − 1) of
        the imputed values of each column after each iteration (NaN when nothing is imputed).
    """
    values = np.asarray(values, dtype=np.float64)
    n, p = values.shape
    observed = ~np.isnan(values)
    block_of = np.full(p, -1)
    for b, cols in enumerate(summaries):
        block_of[cols] = b
    in_scope_block = [observed[:, cols].any(axis=1) for cols in summaries]
    scope = np.zeros((n, p), dtype=bool)
    for b, cols in enumerate(summaries):
        scope[:, cols] = in_scope_block[b][:, None]
    impute = scope & ~observed
    state = np.broadcast_to(values, (m, n, p)).copy()
    for j in range(p):  # start: random draws of the observed answers (mice's initialisation)
        rows = np.flatnonzero(impute[:, j])
        obs = values[observed[:, j], j]
        if len(rows):
            state[:, rows, j] = rng.choice(obs, size=(m, len(rows)), replace=True)
    fixed1 = np.column_stack([np.ones(n), np.asarray(fixed, dtype=np.float64)])
    chain_mean = np.full((m, iterations, p), np.nan)
    chain_sd = np.full((m, iterations, p), np.nan)
    means = _BlockMeans(state, summaries, in_scope_block)
    for it in range(iterations):
        for j in range(p):
            if not impute[:, j].any():
                continue
            # rows in scope (every predictor item answered or imputed): the observed first, then the missing
            obs = np.flatnonzero(scope[:, j] & observed[:, j])
            mis = np.flatnonzero(impute[:, j])
            rows = np.concatenate([obs, mis])
            x = _design(state, rows, fixed1, predictors[j], means, summary_use[j])
            imp = _pmm_draw(x, values[obs, j], len(obs), rng, donors, ridge)
            state[:, mis, j] = imp
            means.changed(block_of[j])
            chain_mean[:, it, j] = imp.mean(axis=1)
            chain_sd[:, it, j] = imp.std(axis=1, ddof=1) if len(mis) > 1 else np.nan
    return state, chain_mean, chain_sd


class _BlockMeans:
    """Each instrument's mean answer per chain and respondent (the summary predictors), recomputed only
    after one of its items was imputed again: each respondent's mean is the same expression over the
    same values whichever rows a model takes, so caching it changes no bit."""

    def __init__(self, state: np.ndarray, summaries, in_scope_block):
        self.state, self.summaries, self.in_scope = state, summaries, in_scope_block
        self.cache: dict[int, np.ndarray] = {}

    def changed(self, block: int) -> None:
        self.cache.pop(int(block), None)

    def __call__(self, block: int) -> np.ndarray:
        if block not in self.cache:
            cols = self.summaries[block]
            self.cache[block] = self.state[:, :, cols[0] : cols[-1] + 1].mean(axis=2)  # blocks are contiguous
        return self.cache[block]


def _design(state, rows, fixed1, preds, means: _BlockMeans, use) -> np.ndarray:
    """(m, len(rows), d) predictors of one column on its in-scope rows: intercept + fixed, other items,
    each other instrument's mean answer (mean-filled, + indicator, where that instrument is unanswered)."""
    m = state.shape[0]
    parts = [np.broadcast_to(fixed1[rows], (m, len(rows), fixed1.shape[1])), state[:, rows[:, None], preds]]
    for b in use:
        ok = means.in_scope[b][rows]
        mean = means(int(b))[:, rows]
        if not ok.all():
            fill = mean[:, ok].mean(axis=1, keepdims=True) if ok.any() else np.zeros((m, 1))
            mean = np.where(ok[None, :], mean, fill)
            parts.append(np.broadcast_to((~ok).astype(np.float64)[None, :, None], (m, len(rows), 1)))
        parts.append(mean[:, :, None])
    return np.concatenate(parts, axis=2)


def _pmm_draw(x, y_obs, n_obs, rng, donors, ridge) -> np.ndarray:
    """One PMM step on all chains (``x``: the observed rows first, then the missing ones): Bayesian draw
    of β (mice ``.norm.draw``), type-1 matching."""
    m = x.shape[0]
    xo = x[:, :n_obs, :]
    xm = x[:, n_obs:, :]
    d = x.shape[2]
    xot = np.transpose(xo, (0, 2, 1))
    xtx = xot @ xo
    diag = np.diagonal(xtx, axis1=1, axis2=2)
    v = np.linalg.inv(xtx + diag[:, :, None] * (ridge * np.eye(d)))
    v = (v + np.transpose(v, (0, 2, 1))) / 2.0
    coef = (v @ (xot @ y_obs)[:, :, None])[:, :, 0]  # (m, d)
    yhat_obs = (xo @ coef[:, :, None])[:, :, 0]
    rss = ((y_obs[None, :] - yhat_obs) ** 2).sum(axis=1)
    df = max(n_obs - d, 1)
    sigma = np.sqrt(rss / rng.chisquare(df, size=m))
    chol = np.linalg.cholesky(v)
    beta = coef + (chol @ rng.standard_normal((m, d))[:, :, None])[:, :, 0] * sigma[:, None]
    yhat_mis = (xm @ beta[:, :, None])[:, :, 0]
    donor = _nearest_donors(yhat_obs, yhat_mis, donors, rng)
    return np.take_along_axis(np.broadcast_to(y_obs, yhat_obs.shape), donor, axis=1)


def _nearest_donors(yhat_obs, yhat_mis, donors, rng) -> np.ndarray:
    """Per chain and missing answer, one of the ``donors`` observed respondents with the nearest
    predictions, chosen at random (mice ``matchindex``): a window of 2·donors around the insertion
    point in the sorted predictions holds the nearest ``donors``; ties broken by sort order."""
    m, n_obs = yhat_obs.shape
    n_mis = yhat_mis.shape[1]
    k = min(donors, n_obs)
    order = np.argsort(yhat_obs, axis=1, kind="stable")
    srt = np.take_along_axis(yhat_obs, order, axis=1)
    pos = np.stack([np.searchsorted(srt[c], yhat_mis[c]) for c in range(m)])  # (m, n_mis)
    start = np.clip(pos - k, 0, max(n_obs - 2 * k, 0))
    width = min(2 * k, n_obs)
    window = start[:, :, None] + np.arange(width)  # (m, n_mis, width) positions in sorted order
    cand = srt[np.arange(m)[:, None, None], window]
    dist = np.abs(cand - yhat_mis[:, :, None])
    nearest = np.argsort(dist, axis=2, kind="stable")[:, :, :k]
    pick = rng.integers(0, k, size=(m, n_mis))
    chosen = np.take_along_axis(nearest, pick[:, :, None], axis=2)[:, :, 0]
    pos_sorted = np.take_along_axis(window, chosen[:, :, None], axis=2)[:, :, 0]
    return np.take_along_axis(order, pos_sorted, axis=1)


# -- a group's questionnaire -------------------------------------------------------------------------------
@dataclass
class ImputedGroup:
    """The ``m`` completed item tables of one group and what was done.

    ``completed`` (m, n, p) raw answers; ``columns`` the item columns; ``imputed`` (n, p) the cells
    imputed; ``items`` the items table as read (ids, sites, other columns); ``diagnostics`` and
    ``predictors`` tidy tables (:data:`DIAGNOSTIC_COLUMNS`, :data:`PREDICTOR_COLUMNS`).
    """

    group: str
    items: pd.DataFrame
    columns: list[str]
    completed: np.ndarray
    imputed: np.ndarray
    keyed_sign: np.ndarray
    low: np.ndarray
    high: np.ndarray
    diagnostics: pd.DataFrame
    predictors: pd.DataFrame

    @property
    def m(self) -> int:
        return self.completed.shape[0]

    def dataset(self, index: int, delta: float = 0.0, sites: Sequence[str] | None = None) -> pd.DataFrame:
        """Completed items table ``index`` (0-based) with imputed answers shifted by ``delta`` on the keyed
        metric (only at ``sites`` when given) and clipped to the declared range."""
        values = self.completed[index]
        if delta:
            shift = self.imputed.copy()
            if sites is not None:
                shift &= self.items["site"].isin(list(sites)).to_numpy()[:, None]
            values = np.where(shift, np.clip(values + delta * self.keyed_sign, self.low, self.high), values)
        # the item columns as one block beside the others, in the items table's column order (setting
        # them one by one on a copy took a third of the time of analysing a dataset)
        item_set = set(self.columns)
        others = self.items[[c for c in self.items.columns if c not in item_set]]
        block = pd.DataFrame(values, columns=self.columns, index=self.items.index)
        return pd.concat([others, block], axis=1)[list(self.items.columns)]


def _fixed_predictors(
    items: pd.DataFrame, respondents: pd.DataFrame, sites: Sequence[str], covariates: Mapping[str, dict]
) -> tuple[np.ndarray, list[str]]:
    """Site dummies and covariate columns (numeric: value, mean-filled, + missing indicator;
    categorical: dummies with missing as a level), rows in the order of ``items``."""
    cols, names = [], []
    site = items["site"].astype(str).to_numpy()
    for s in list(sites)[1:]:
        cols.append((site == s).astype(np.float64))
        names.append(f"site[{s}]")
    resp = respondents.assign(id=respondents["id"].astype(str)).set_index("id")
    ids = items["id"].astype(str)
    missing_ids = sorted(set(ids) - set(resp.index))[:5]
    if missing_ids:
        raise ValueError(f"respondents: id(s) {missing_ids} have item answers but no respondent row")
    resp = resp.loc[ids.to_numpy()]
    for c, spec in covariates.items():
        if c not in resp.columns:
            raise ValueError(f"respondents: column {c!r} is missing (covariates: {list(covariates)})")
        col = resp[c]
        if spec["type"] == "categorical":
            text = col.astype(object).where(col.notna() & (col.astype(str) != ""), "(missing)").astype(str)
            levels = sorted(set(text))
            for lv in levels[1:]:
                cols.append((text == lv).to_numpy(dtype=np.float64))
                names.append(f"{c}[{lv}]")
        else:
            x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
            miss = np.isnan(x)
            fill = float(np.nanmean(x)) if (~miss).any() else 0.0
            cols.append(np.where(miss, fill, x))
            names.append(c)
            if miss.any():
                cols.append(miss.astype(np.float64))
                names.append(f"{c}[missing]")
    fixed = np.column_stack(cols) if cols else np.zeros((len(items), 0))
    return fixed, names


def _pairwise_correlation(values: np.ndarray) -> np.ndarray:
    """Pearson correlations of the columns over pairwise complete rows (NaN when undefined)."""
    ok = ~np.isnan(values)
    x = np.nan_to_num(values)
    o = ok.astype(np.float64)
    n = o.T @ o
    sx = x.T @ o
    sxx = (x * x).T @ o
    sxy = x.T @ x
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sx.T / n
        vx = sxx - sx * sx / n
        r = cov / np.sqrt(vx * vx.T)
    return r


def impute_group(
    group: str,
    items: pd.DataFrame,
    respondents: pd.DataFrame,
    instruments: Mapping[str, Instrument],
    sites: Sequence[str],
    covariates: Mapping[str, dict],
    *,
    m: int,
    iterations: int,
    seed: int,
    min_correlation: float = 0.1,
    donors: int = 5,
    patterns: Mapping[str, str] | None = None,
) -> ImputedGroup:
    """Impute the item answers of one group ``m`` times (module docstring: algorithm, predictor rule).

    ``items`` is ``ingest/{group}_items.csv`` (id, site, item columns), ``respondents`` its respondents
    table, ``covariates`` the specs of the covariates named in the group's ANCOVA models.
    """
    patterns = patterns or {}
    columns, inst_of, item_no, blocks = [], [], [], []
    sign, low, high = [], [], []
    raw_parts = []
    for key, inst in instruments.items():
        cols = inst.columns(pattern=patterns.get(key))
        raw = items[cols].to_numpy(dtype=np.float64)
        raw_parts.append(np.where(inst.valid_mask(raw), raw, np.nan))
        blocks.append(np.arange(len(columns), len(columns) + len(cols)))
        columns += cols
        inst_of += [key] * len(cols)
        item_no += list(range(1, inst.n_items + 1))
        sign += [-1.0 if i in inst.reverse_keyed else 1.0 for i in range(1, inst.n_items + 1)]
        low += [inst.response_min] * len(cols)
        high += [inst.response_max] * len(cols)
    values = np.column_stack(raw_parts) if raw_parts else np.zeros((len(items), 0))
    fixed, fixed_names = _fixed_predictors(items, respondents, sites, covariates)
    corr = _pairwise_correlation(values)
    predictors, summary_use, pred_rows = [], [], []
    scope = np.zeros(values.shape, dtype=bool)
    for blk in blocks:
        scope[:, blk] = (~np.isnan(values[:, blk])).any(axis=1)[:, None]
    imputed = scope & np.isnan(values)
    n_missing = imputed.sum(axis=0)
    for b, (key, inst) in enumerate(instruments.items()):
        for local in range(inst.n_items):
            j = int(blocks[b][local])
            share = sorted({i for s in inst.scales if local + 1 in s.items for i in s.items} - {local + 1})
            cand = [int(blocks[b][i - 1]) for i in share]
            chosen = [c for c in cand if np.isfinite(corr[j, c]) and abs(corr[j, c]) >= min_correlation]
            predictors.append(np.array(chosen, dtype=np.intp))
            others = [o for o in range(len(blocks)) if o != b]
            summary_use.append(np.array(others, dtype=np.intp))
            base = {"group": group, "instrument": key, "item": columns[j], "n_missing": int(n_missing[j])}
            pred_rows += [base | {"predictor": nm, "kind": "site or covariate"} for nm in fixed_names]
            pred_rows += [base | {"predictor": columns[c], "kind": "item of the same scale"} for c in chosen]
            pred_rows += [
                base | {"predictor": f"mean of {list(instruments)[o]}", "kind": "other instrument"}
                for o in others
            ]
    rng = np.random.default_rng([int(seed), zlib.crc32(group.encode("utf-8"))])
    completed, cmean, csd = pmm_chained(
        values, fixed, predictors, blocks, summary_use, m=m, iterations=iterations, rng=rng, donors=donors
    )
    diag = _diagnostics(group, inst_of, columns, imputed, cmean, csd)
    return ImputedGroup(
        group,
        items.reset_index(drop=True),
        columns,
        completed,
        imputed,
        np.array(sign),
        np.array(low),
        np.array(high),
        diag,
        pd.DataFrame(pred_rows, columns=PREDICTOR_COLUMNS),
    )


def _diagnostics(group, inst_of, columns, imputed, cmean, csd) -> pd.DataFrame:
    """Tidy chain means and SDs per item, chain and iteration (items with something imputed)."""
    m, iterations, _ = cmean.shape
    cols = np.flatnonzero(imputed.any(axis=0))
    chain, it, j = np.meshgrid(np.arange(m), np.arange(iterations), cols, indexing="ij")
    chain, it, j = chain.ravel(), it.ravel(), j.ravel()
    return pd.DataFrame(
        {
            "group": group,
            "instrument": np.array(inst_of, dtype=object)[j] if len(j) else [],
            "item": np.array(columns, dtype=object)[j] if len(j) else [],
            "chain": chain + 1,
            "iteration": it + 1,
            "n_imputed": imputed.sum(axis=0)[j],
            "mean": cmean[chain, it, j],
            "sd": csd[chain, it, j],
        },
        columns=DIAGNOSTIC_COLUMNS,
    )
