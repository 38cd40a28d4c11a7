"""Scale scoring with person-mean replacement (stage ``score``).

For every scale (subscale or total) and missing-item threshold t, a respondent's score exists when
the number of missing items is at most ``floor(t * k)`` (k = items in the scale), computed in exact
rational arithmetic so that e.g. 0.3 x 10 is exactly 3. The score is the mean of the answered items
after reverse keying, which equals replacing each missing item by the respondent's own mean on that
scale (person-mean replacement, SPSS ``MEAN.n``); ``sum`` scales (STAR-P) report that mean x k, a prorated
sum. t = 0 is complete-case scoring. Totals are scored over their own item set with their own
allowance, never from the subscale scores.

Reverse keying uses the instrument's declared response range, (min + max) - x, never the range observed
in the data.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from cocapp.config import format_threshold, threshold_fraction
from cocapp.instruments import Instrument, Scale

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "SCORE_COLUMNS",
    "PersonMeans",
    "allowed_missing",
    "person_means",
    "score_group",
    "score_group_blocks",
    "score_instrument",
]

SCORE_COLUMNS = [
    "id",
    "site",
    "instrument",
    "scale",
    "threshold",
    "score",
    "items_answered",
    "items_total",
    "items_allowed_missing",
]


def allowed_missing(threshold: float | str | Fraction, k: int) -> int:
    """Largest number of missing items out of ``k`` that still gives a score: floor(t * k), exactly.

    >>> allowed_missing(0.3, 10)
    3
    >>> allowed_missing(0.2, 6)
    1
    >>> allowed_missing(0.0, 36)
    0
    """
    t = threshold if isinstance(threshold, Fraction) else threshold_fraction(threshold)
    if not 0 <= t <= 1:
        raise ValueError(f"threshold must lie in [0, 1], got {threshold}")
    return math.floor(t * k)


@dataclass(frozen=True)
class PersonMeans:
    """Wide intermediate of one instrument: per respondent and scale, the keyed person mean.

    ``mean[i, s]`` is the mean of respondent i's answered items of scale s after keying (x k for
    ``sum`` scales; NaN when none answered); ``answered[i, s]`` counts them. ``keep`` marks respondents
    who answered at least one item of the instrument.
    """

    scales: tuple[Scale, ...]
    mean: np.ndarray
    answered: np.ndarray
    keep: np.ndarray

    def scores(self, thresholds: Iterable[float | str]) -> np.ndarray:
        """Scores as an array (respondent, scale, threshold); NaN where too many items are missing."""
        ts = list(thresholds)
        k = np.array([s.k for s in self.scales])
        allowed = np.array([[allowed_missing(t, kk) for t in ts] for kk in k])  # (scale, threshold)
        missing = k[None, :] - self.answered  # (respondent, scale)
        ok = (missing[:, :, None] <= allowed[None, :, :]) & (self.answered[:, :, None] > 0)
        return np.where(ok, self.mean[:, :, None], np.nan)


def person_means(items: pd.DataFrame, instrument: Instrument, pattern: str | None = None) -> PersonMeans:
    """Keyed person means of every scale of ``instrument`` (one matrix product, no per-row loops).

    Answers outside the declared response range (missing codes, empty cells) are not answers;
    reverse-keyed items become (min + max) - x.
    """
    raw = items[instrument.columns(pattern=pattern)].to_numpy(dtype=np.float64, copy=True)
    valid = instrument.valid_mask(raw)
    rev = [i - 1 for i in sorted(instrument.reverse_keyed)]
    if rev:
        raw[:, rev] = (instrument.response_min + instrument.response_max) - raw[:, rev]
    raw[~valid] = 0.0
    # item x scale indicator: sums and counts of answered items for all scales at once
    member = np.zeros((instrument.n_items, len(instrument.scales)))
    for j, scale in enumerate(instrument.scales):
        member[[i - 1 for i in scale.items], j] = 1.0
    sums = raw @ member
    answered = (valid.astype(np.float32) @ member.astype(np.float32)).astype(np.int64)  # exact below 2**24
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / answered
    if instrument.score_kind == "sum":
        mean = mean * np.array([s.k for s in instrument.scales], dtype=np.float64)
    return PersonMeans(instrument.scales, mean, answered, valid.any(axis=1))


def score_instrument(
    items: pd.DataFrame,
    instrument: Instrument,
    thresholds: Iterable[float],
    *,
    pattern: str | None = None,
    id_column: str = "id",
    site_column: str = "site",
) -> pd.DataFrame:
    """Score every scale of ``instrument`` for every respondent at every threshold (long form).

    Parameters
    ----------
    items
        One row per respondent with ``id_column``, ``site_column`` and the instrument's raw item
        columns (printed responses; declared missing codes and empty cells are missing).
    instrument
        The instrument spec (range, keying, scales, score kind).
    thresholds
        Missing-item thresholds t in [0, 1].
    pattern
        Item column pattern overriding the instrument's ``column_pattern`` (config ``item_columns``).

    Returns
    -------
    pandas.DataFrame
        :data:`SCORE_COLUMNS`, ordered threshold, scale, respondent; ``score`` is NaN when more than
        floor(t*k) items are missing. Respondents who answered none of the instrument's items get no
        rows (ingest lists them as excluded from the instrument).
    """
    columns = _long_scores(items, instrument, thresholds, pattern, id_column, site_column)
    return pd.DataFrame(columns)[SCORE_COLUMNS]


def _long_scores(
    items: pd.DataFrame,
    instrument: Instrument,
    thresholds: Iterable[float],
    pattern: str | None,
    id_column: str = "id",
    site_column: str = "site",
) -> dict[str, np.ndarray]:
    """The columns of :func:`score_instrument` as arrays, rows ordered threshold, scale, respondent
    (built by tiling and repeating: a national study has millions of rows)."""
    thresholds = [format_threshold(t) for t in thresholds]
    pm = person_means(items, instrument, pattern)
    keep = pm.keep
    scores = pm.scores(thresholds)[keep]  # (respondent, scale, threshold)
    answered = pm.answered[keep]
    n = len(answered)
    blocks = [(t, scale) for t in thresholds for scale in pm.scales]  # one block of n rows each
    return {
        "id": np.tile(items[id_column].to_numpy()[keep], len(blocks)),
        "site": np.tile(items[site_column].to_numpy()[keep], len(blocks)),
        "instrument": np.full(n * len(blocks), instrument.key, dtype=object),
        "scale": np.repeat(np.array([sc.key for _, sc in blocks], dtype=object), n),
        "threshold": np.repeat(np.array([t for t, _ in blocks], dtype=object), n),
        "score": scores.transpose(2, 1, 0).reshape(-1),
        "items_answered": np.tile(answered.T.reshape(-1), len(thresholds)),
        "items_total": np.repeat(np.array([sc.k for _, sc in blocks], dtype=np.int64), n),
        "items_allowed_missing": np.repeat(
            np.array([allowed_missing(t, sc.k) for t, sc in blocks], dtype=np.int64), n
        ),
    }


def score_group(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    thresholds: Iterable[float],
    patterns: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Score all instruments a group answered; rows ordered threshold, instrument, scale, respondent."""
    thresholds = list(thresholds)
    patterns = patterns or {}
    if not instruments:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    parts = [_long_scores(items, inst, thresholds, patterns.get(key)) for key, inst in instruments.items()]
    order = {format_threshold(t): i for i, t in enumerate(thresholds)}
    per_threshold = np.array([order[format_threshold(t)] for t in thresholds], dtype=np.int64)
    # each part's rows come in equal blocks per threshold, in ``thresholds`` order
    rank = np.concatenate([np.repeat(per_threshold, len(p["score"]) // len(thresholds)) for p in parts])
    rows = np.argsort(rank, kind="stable")  # threshold first, then instrument, scale and respondent
    return pd.DataFrame({c: np.concatenate([p[c] for p in parts])[rows] for c in SCORE_COLUMNS})


def score_group_blocks(
    items: pd.DataFrame,
    instruments: dict[str, Instrument],
    thresholds: Iterable[float],
    patterns: dict[str, str] | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`score_group` in blocks (one per threshold and instrument, in its row order), so that a
    national study's scores table (respondents × scales × thresholds rows) is never whole in memory:
    concatenated, the blocks are exactly :func:`score_group`'s table.

    Each instrument's person means and its respondents' ids and sites are prepared once (not once per
    threshold), and a block's text columns are taken from those few distinct values as Arrow arrays
    rather than built from millions of Python strings."""
    import pyarrow as pa  # only the blocks (a large study's score stage) need it

    thresholds = list(thresholds)
    patterns = patterns or {}
    prepared: dict[str, tuple[PersonMeans, pa.Array, pa.Array]] = {}
    for t in thresholds:
        for key, inst in instruments.items():
            if key not in prepared:
                pm = person_means(items, inst, patterns.get(key))
                prepared[key] = (
                    pm,
                    pa.array(items["id"].to_numpy()[pm.keep], from_pandas=True),
                    pa.array(items["site"].to_numpy()[pm.keep], from_pandas=True),
                )
            yield _score_block(*prepared[key], inst, format_threshold(t))


def _score_block(
    pm: PersonMeans, ids: pa.Array, sites: pa.Array, instrument: Instrument, t: str
) -> pd.DataFrame:
    """One threshold's scores of one instrument, rows ordered scale, respondent (:func:`_long_scores`)."""
    import pyarrow as pa

    n, n_scales = len(ids), len(pm.scales)
    respondent = np.tile(np.arange(n), n_scales)
    scale_of = np.repeat(np.arange(n_scales), n)
    same = np.zeros(n * n_scales, dtype=np.int64)
    k = np.array([sc.k for sc in pm.scales], dtype=np.int64)
    allowed = np.array([allowed_missing(t, sc.k) for sc in pm.scales], dtype=np.int64)
    columns = {
        "id": ids.take(respondent),
        "site": sites.take(respondent),
        "instrument": pa.array([instrument.key]).take(same),
        "scale": pa.array([sc.key for sc in pm.scales]).take(scale_of),
        "threshold": pa.array([t]).take(same),
        "score": pm.scores([t])[pm.keep][:, :, 0].T.reshape(-1),
        "items_answered": pm.answered[pm.keep].T.reshape(-1),
        "items_total": k[scale_of],
        "items_allowed_missing": allowed[scale_of],
    }
    return pa.table(columns).to_pandas()[SCORE_COLUMNS]
