"""Calibration targets of the synthetic default, read from the published-values file.

Every published number that the synthetic data must reproduce becomes one :class:`Target`: an
interval of achieved values that round to the printed value (``lo <= x < hi``), plus the printed value
and a human-readable criterion for the calibration report. Integers (Ns) are exact targets.

The published-values file is COCAPP's (``data/published/cocapp2016_published.yaml``); the mapping from
its table keys to the configured groups is the only COCAPP-specific knowledge here (``TABLE_KEYS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "TABLE_KEYS",
    "Target",
    "anova_interval",
    "round_interval",
]

# published-values file: group -> key of its site-comparison table / of its column in Table 1
TABLE_KEYS: dict[str, tuple[str, str]] = {
    "service_users": ("table2_service_users", "service_user_questionnaires"),
    "care_coordinators": ("table3_care_coordinators", "care_coordinator_questionnaires"),
}


@dataclass
class Target:
    """One calibration target: achieved value must lie in ``[lo, hi)`` (or equal ``lo`` when exact)."""

    target_id: str
    group: str
    instrument: str
    scale: str
    site: str
    statistic: str
    published: Any
    lo: float
    hi: float
    criterion: str
    exact: bool = False
    note: str = ""
    achieved: float = float("nan")
    extra: dict = field(default_factory=dict)

    def passes(self, value: float) -> bool:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return False
        if self.exact:
            return value == self.lo
        return self.lo <= value < self.hi


def round_interval(value: float, decimals: int) -> tuple[float, float]:
    """Interval of reals that round to ``value`` at ``decimals`` places (half-up convention)."""
    half = 0.5 * 10.0**-decimals
    return value - half, value + half


def decimals_of(value: float) -> int:
    """Printed decimals of a transcribed number (0.997 -> 3, 0.65 -> 2)."""
    text = repr(float(value))
    if "e" in text:
        return 6
    frac = text.split(".")[1].rstrip("0")
    return max(len(frac), 2)


def anova_interval(F: float, p: float, df1: int, df2: int) -> tuple[float, float, int]:
    """F values for which F rounds to the printed F and p = P(F(df1, df2) > F) rounds to the printed p.

    Returns (lo, hi, decimals of F). The two printed numbers constrain F jointly; their intersection is
    the calibration interval. Raises ValueError when the two are inconsistent.
    """
    dec = decimals_of(F)
    flo, fhi = round_interval(F, dec)
    plo, phi = round_interval(p, 3)
    # p decreases in F: p < phi  <=>  F > isf(phi)
    lo = max(flo, float(stats.f.isf(phi, df1, df2)))
    hi = min(fhi, float(stats.f.isf(plo, df1, df2)))
    if not lo < hi:
        raise ValueError(f"printed F({df1}, {df2}) = {F} and p = {p} are inconsistent")
    return lo, hi, dec
