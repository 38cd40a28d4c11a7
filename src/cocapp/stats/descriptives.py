"""Descriptive statistics of scale scores (stage ``descriptives``) by site and pooled.

For one group and one missing-item threshold, per instrument x scale and per site (config order, then
``All`` = every site pooled): n, mean, SD (divisor n - 1), SEM = SD / sqrt(n), the t-based confidence
interval of the mean (``mean +/- t_{1-g/2, n-1} SEM``, g = 1 - config ``statistics.confidence_level``),
minimum, median and maximum. Respondents whose score is empty at this threshold (too many missing items)
are not in n; they are counted in ``n_not_scored``. Validated against base R (``mean``, ``sd``,
``qt``, ``median``) in ``tests/reference/measurement.R``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from cocapp.config import at_threshold, format_threshold
from cocapp.instruments import Instrument
from cocapp.stats.distributions import t_ppf
from cocapp.stats.outcomes import outcome_positions

__all__ = ["COLUMNS", "ALL_SITES", "describe", "descriptives_table", "scale_scores", "site_rows"]

ALL_SITES = "All"
COLUMNS = [
    "group",
    "instrument",
    "scale",
    "threshold",
    "site",
    "n",
    "n_not_scored",
    "mean",
    "sd",
    "sem",
    "ci_low",
    "ci_high",
    "confidence_level",
    "min",
    "median",
    "max",
    "note",
]


def scale_scores(
    scores: pd.DataFrame, instruments: dict[str, Instrument], threshold: float | str, sites: list[str]
) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """Yield (instrument, scale, rows) for every configured scale at ``threshold`` (instrument-file order).

    ``rows`` are that scale's score rows (possibly none), columns ``site`` (categorical) and ``score``,
    in file order. Raises ``ValueError`` naming the values when the scores hold a site that is not
    configured, or hold no row at all for ``threshold``. The scales' rows come from
    :func:`cocapp.stats.outcomes.outcome_positions`, and only the two columns used are taken (a
    national study's threshold has 1.6e7 rows; taking every text column per scale was most of the
    stage).
    """
    t = format_threshold(threshold)
    needed = ["site", "instrument", "scale", "threshold", "score"]
    absent = [c for c in needed if c not in scores.columns]
    if absent:
        raise ValueError(f"scores table lacks column(s) {absent}")
    at = scores[at_threshold(scores["threshold"], t)]
    if len(scores) and not len(at):
        present = sorted({format_threshold(v) for v in scores["threshold"].astype(str).unique()})
        raise ValueError(f"scores hold no row for threshold {t} (thresholds present: {present})")
    unknown = sorted(set(at["site"].astype(str).unique()) - set(sites))
    if unknown:
        raise ValueError(f"scores hold site(s) {unknown} that are not configured sites {sites}")
    rows = outcome_positions(at)
    slim = pd.DataFrame({"site": pd.Categorical(at["site"]), "score": at["score"].to_numpy()}, index=at.index)
    for key, inst in instruments.items():
        for scale in inst.scales:
            yield key, scale.key, slim.iloc[rows.get((key, scale.key), [])]


def site_rows(site: np.ndarray, sites: list[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(name, positions of its rows, ascending) for every configured site in order, then
    (:data:`ALL_SITES`, every row): the rows ``site == name`` selects, from one sort of the site codes
    instead of one comparison of all rows per site (250 sites × millions of rows at national size).

    >>> [(n, r.tolist()) for n, r in site_rows(np.array(["B", "A", "B"]), ["A", "B", "C"])]
    [('A', [1]), ('B', [0, 2]), ('C', []), ('All', [0, 1, 2])]

    ``site`` may be a ``pandas.Categorical`` (recoded by category name, without hashing every row).
    """
    codes = pd.Categorical(site, categories=list(dict.fromkeys(sites))).codes
    order = np.argsort(codes, kind="stable")  # within a site: ascending positions
    bounds = np.searchsorted(codes[order], np.arange(len(sites) + 1))
    where = {name: j for j, name in enumerate(dict.fromkeys(sites))}
    for name in sites:
        j = where[name]
        yield name, order[bounds[j] : bounds[j + 1]]
    yield ALL_SITES, np.arange(len(site))


def describe(x: np.ndarray, confidence_level: float = 0.95) -> dict:
    """n, mean, SD, SEM, t-based CI, min, median, max of the non-missing values of ``x``.

    SD uses divisor n - 1. With n = 0 everything is NaN; with n = 1 the mean, min, median and max are
    the value and SD, SEM and the CI are NaN (``note`` says why).

    >>> d = describe(np.array([1.0, 2.0, 3.0, np.nan]))
    >>> print(d["n"], d["mean"], d["sd"], f"{d['ci_high']:.6f}")  # R: 2 + qt(0.975, 2) / sqrt(3)
    3 2.0 1.0 4.484138
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    nan = float("nan")
    out = {
        "n": n,
        "mean": nan,
        "sd": nan,
        "sem": nan,
        "ci_low": nan,
        "ci_high": nan,
        "min": nan,
        "median": nan,
        "max": nan,
        "note": "",
    }
    if n == 0:
        out["note"] = "no respondent with a score"
        return out
    mean = float(x.mean())
    out.update(mean=mean, min=float(x.min()), median=float(np.median(x)), max=float(x.max()))
    if n == 1:
        out["note"] = "1 respondent: SD, SEM and CI are undefined"
        return out
    sd = float(np.sqrt(((x - mean) ** 2).sum() / (n - 1)))
    sem = sd / np.sqrt(n)
    half = float(t_ppf(1 - (1 - confidence_level) / 2, n - 1)) * sem
    out.update(sd=sd, sem=float(sem), ci_low=mean - half, ci_high=mean + half)
    return out


def descriptives_table(
    scores: pd.DataFrame,
    instruments: dict[str, Instrument],
    group: str,
    threshold: float | str,
    sites: list[str],
    *,
    confidence_level: float = 0.95,
) -> pd.DataFrame:
    """Descriptives per instrument x scale x site (config order, then ``All``) at one threshold.

    Parameters
    ----------
    scores
        Long scores (``scores/{group}.csv``).
    instruments
        The group's instruments (config order); every scale gets rows even without scores.
    group, threshold
        Written to the ``group`` and ``threshold`` (text form, "0.5") columns.
    sites
        Configured site names in display order; a site without respondents gets n = 0 and NaNs.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`.
    """
    t = format_threshold(threshold)
    rows = []
    for key, skey, sub in scale_scores(scores, instruments, t, sites):
        score = pd.to_numeric(sub["score"], errors="raise").to_numpy(dtype=float)
        for name, sel in site_rows(sub["site"].array, sites):
            d = describe(score[sel], confidence_level)
            rows.append(
                {
                    "group": group,
                    "instrument": key,
                    "scale": skey,
                    "threshold": t,
                    "site": name,
                    "n_not_scored": int(np.isnan(score[sel]).sum()),
                    "confidence_level": confidence_level,
                    **d,
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
