"""What the site-comparison stages share: one threshold's checked rows, outcome by outcome.

Pure functions (no files): the long scores table in, the rows of one threshold and one outcome
(instrument × scale) out, and the tidy tables put together with their key columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import at_threshold, format_threshold

__all__ = [
    "KEYS",
    "by_threshold",
    "concat_tables",
    "outcome_positions",
    "outcomes",
    "threshold_rows",
    "with_keys",
]

KEYS = ["group", "instrument", "scale", "threshold"]


def with_keys(df: pd.DataFrame, keys: dict[str, object]) -> pd.DataFrame:
    """``df`` with the key columns (in order) inserted first."""
    df = df.copy()
    for i, (k, v) in enumerate(keys.items()):
        df.insert(i, k, v)
    return df


def by_threshold(scores: pd.DataFrame, thresholds: list[str]) -> dict[str, pd.DataFrame]:
    """The rows of each threshold, in file order, from one pass over the ``threshold`` column.

    The same rows as ``scores[at_threshold(scores["threshold"], t)]`` for every ``t`` (a threshold in
    any written form, "0.50" is 0.5), without scanning millions of rows once per threshold and per
    analysis. A threshold without rows maps to the whole table, so that the analysis given it reports
    the missing threshold with its own message, as before.
    """
    codes, written = scores["threshold"].astype(str).factorize()
    canonical = written.map(format_threshold).to_numpy()
    out = {}
    for t in thresholds:
        rows = (canonical == format_threshold(t))[codes]
        out[t] = scores[rows] if rows.any() else scores
    return out


def threshold_rows(scores: pd.DataFrame, threshold: str | float, levels: list[str]) -> pd.DataFrame:
    """Rows of one threshold, checked: known sites, one score per (id, instrument, scale)."""
    t = format_threshold(threshold)
    sc = scores[at_threshold(scores["threshold"], t)]
    if len(scores) and not len(sc):
        found = sorted(set(scores["threshold"].astype(str)))
        raise ValueError(f"scores: column 'threshold': no rows for threshold {t} (found {found})")
    unknown = sorted(set(sc["site"].dropna().astype(str).unique()) - set(levels))
    if unknown:
        raise ValueError(f"scores: column 'site': value(s) {unknown} are not configured sites {levels}")
    dup = _duplicated_rows(sc, ["id", "instrument", "scale"])
    if len(dup):
        r = sc.iloc[dup[0]]
        raise ValueError(
            f"scores: id {r['id']!r} has more than one {r['instrument']}/{r['scale']} score at threshold {t}"
        )
    return sc


def _duplicated_rows(df: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Positions of the rows repeating an earlier row's ``columns`` (``DataFrame.duplicated``'s
    ``keep="first"``), from one integer key per row: each column factorized once (a national study's
    threshold has 1.6e7 rows, where hashing three text columns together took seconds)."""
    key = np.zeros(len(df), dtype=np.int64)
    size = 1
    for c in columns:
        codes, uniques = pd.factorize(df[c], use_na_sentinel=False)
        size *= max(len(uniques), 1)
        if size >= 2**62:  # the combined key would overflow: let pandas hash the columns
            return np.flatnonzero(df.duplicated(columns).to_numpy())
        key = key * len(uniques) + codes
    return np.flatnonzero(pd.Series(key).duplicated().to_numpy())


def outcome_positions(sc: pd.DataFrame) -> dict[tuple[str, str], np.ndarray]:
    """Every (instrument, scale) of ``sc`` -> the positions of its rows, ascending; pairs in order of
    first appearance. From one factorization of each column (a national study's threshold has 1.6e7
    rows, where a text comparison per instrument and per scale, or a groupby on two text columns,
    took most of a stage); rows with a missing instrument or scale belong to no pair."""
    inst_codes, inst_names = pd.factorize(sc["instrument"], use_na_sentinel=True)
    scale_codes, scale_names = pd.factorize(sc["scale"], use_na_sentinel=True)
    valid = np.flatnonzero((inst_codes >= 0) & (scale_codes >= 0))
    code = inst_codes[valid].astype(np.int64) * len(scale_names) + scale_codes[valid]
    order = np.argsort(code, kind="stable")
    present, first, counts = np.unique(code, return_index=True, return_counts=True)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    out = {}
    for j in np.argsort(first, kind="stable"):
        c = int(present[j])
        pair = (inst_names[c // len(scale_names)], scale_names[c % len(scale_names)])
        out[pair] = valid[order[starts[j] : starts[j] + counts[j]]]
    return out


def outcomes(sc: pd.DataFrame, instruments: list[str], group: str, t: str, columns: list[str] | None = None):
    """Yield (keys, scored rows) per outcome: instruments in config order, scales in file order
    (:func:`outcome_positions`); ``columns``: only these columns are taken (default all)."""
    positions = outcome_positions(sc)
    scored = sc["score"].notna().to_numpy()
    taken = sc if columns is None else sc[columns]
    for inst in instruments:
        for (i, scale), rows in positions.items():
            if i == inst:
                keys = {"group": group, "instrument": inst, "scale": scale, "threshold": t}
                yield keys, taken.iloc[rows[scored[rows]]]


def concat_tables(
    out: dict[str, list[pd.DataFrame]], columns: dict[str, list[str]]
) -> dict[str, pd.DataFrame]:
    """Row-bind each table's parts in order (an empty table with its columns when there are none)."""
    tables = {}
    for name, cols in columns.items():
        parts = [p for p in out.get(name, []) if len(p)]
        tables[name] = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    return tables
