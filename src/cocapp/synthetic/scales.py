"""Minimal scoring used inside the generator (independent of ``cocapp.stats.scoring``, which must not
be used to check the data it will later score).

Rules (as in the pipeline's documented method): reverse keying x' = (min + max) - x with the declared
range; a scale is scored when missing items <= floor(t k) and at least one item is answered; score = mean
of answered keyed items (x k for ``sum`` scales); alpha on rows complete on the scale, after keying.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor

import numpy as np

from cocapp.instruments import Instrument

__all__ = ["ScaleDef", "cronbach_alpha", "scale_defs", "score_matrix"]


@dataclass(frozen=True)
class ScaleDef:
    """A scored scale placed in a group's item matrix (column indices into the keyed matrix)."""

    instrument: str
    scale: str
    cols: tuple[int, ...]
    mult: float  # 1 for mean scales, k for prorated sums
    lo: float  # item range (keyed = raw range)
    hi: float
    threshold: Fraction | None = None  # own threshold (sensitivity copies in the climber), else the caller's

    @property
    def k(self) -> int:
        return len(self.cols)

    def allow(self, threshold: Fraction) -> int:
        t = self.threshold if self.threshold is not None else threshold
        return floor(t * self.k)


def scale_defs(instruments: list[Instrument]) -> tuple[list[tuple[str, int]], list[ScaleDef]]:
    """Columns (instrument key, item number) of a group's item matrix and its scales in file order."""
    columns: list[tuple[str, int]] = []
    scales: list[ScaleDef] = []
    for inst in instruments:
        offset = len(columns)
        columns += [(inst.key, i) for i in range(1, inst.n_items + 1)]
        mult_sum = inst.score_kind == "sum"
        for s in inst.scales:
            scales.append(
                ScaleDef(
                    inst.key,
                    s.key,
                    tuple(offset + i - 1 for i in s.items),
                    float(s.k) if mult_sum else 1.0,
                    inst.response_min,
                    inst.response_max,
                )
            )
    return columns, scales


def score_matrix(keyed: np.ndarray, scales: list[ScaleDef], threshold: Fraction) -> np.ndarray:
    """Scores (rows x scales), NaN where the respondent has too many missing items at ``threshold``."""
    out = np.full((keyed.shape[0], len(scales)), np.nan)
    for j, s in enumerate(scales):
        block = keyed[:, s.cols]
        answered = (~np.isnan(block)).sum(axis=1)
        ok = (s.k - answered <= s.allow(threshold)) & (answered > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(block, axis=1) / answered
        out[ok, j] = mean[ok] * s.mult
    return out


def cronbach_alpha(block: np.ndarray) -> tuple[float, int]:
    """Cronbach's alpha on the rows of ``block`` with no NaN (listwise within the scale); (alpha, n)."""
    rows = block[~np.isnan(block).any(axis=1)]
    k = rows.shape[1]
    if rows.shape[0] < 2 or k < 2:
        return float("nan"), rows.shape[0]
    item_var = rows.var(axis=0, ddof=1).sum()
    total_var = rows.sum(axis=1).var(ddof=1)
    return float(k / (k - 1) * (1 - item_var / total_var)), rows.shape[0]
