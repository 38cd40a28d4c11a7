"""Cell-by-cell lookups in the statistics tables, indexed once per table.

Tables and the published audit look up hundreds of single rows (group x instrument x scale x
threshold x site ...) in the same few frames; filtering the whole frame for each took most of their
time. :func:`select` builds, per frame and set of key columns, a map from the keys' text values to row
positions on first use. Call it inside :func:`indexed` so the maps (which keep their frames alive,
so a frame's ``id`` cannot be reused) are dropped when the work is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pandas as pd

__all__ = ["indexed", "select"]

_INDEX: dict[tuple[int, tuple[str, ...]], tuple[pd.DataFrame, dict[tuple[str, ...], list[int]]]] = {}


def _row_index(df: pd.DataFrame, columns: tuple[str, ...]) -> dict[tuple[str, ...], list[int]]:
    key = (id(df), columns)
    if key not in _INDEX:
        index: dict[tuple[str, ...], list[int]] = {}
        texts = [df[c].astype(str).to_numpy() for c in columns]
        for i, values in enumerate(zip(*texts, strict=True)):
            index.setdefault(values, []).append(i)
        _INDEX[key] = (df, index)
    return _INDEX[key][1]


def select(df: pd.DataFrame, **eq: object) -> pd.DataFrame:
    """Rows of ``df`` whose columns ``eq`` equal the given values, compared as text (``str(value)``);
    the same rows, in the same order, as ``df[(df[c].astype(str) == str(v)) & ...]``."""
    for col in eq:
        if col not in df.columns:
            raise KeyError(f"column {col!r} missing (have {list(df.columns)})")
    rows = _row_index(df, tuple(eq)).get(tuple(str(v) for v in eq.values()), [])
    return df.iloc[rows]


@contextlib.contextmanager
def indexed() -> Iterator[None]:
    """Drop the row maps built by :func:`select` on leaving the block."""
    try:
        yield
    finally:
        _INDEX.clear()
