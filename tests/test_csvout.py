"""cocapp.csvout.write_csv writes exactly what DataFrame.to_csv writes (the reference), fast path or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cocapp.csvout import write_csv

FLOATS = [0.1, -0.0, 1e-05, 1e16, 123456789.123, np.nan, 2.5, np.inf, -np.inf, 1 / 3, 5e-324, 4.0]


def frames():
    rng = np.random.default_rng(7)
    yield (
        "numbers and text",
        pd.DataFrame(
            {
                "id": [f"{i:03d}" for i in range(12)],
                "site": ["Artois", None, "", "Dauphiné"] * 3,
                "x": FLOATS,
                "n": np.arange(12, dtype=np.int64) - 5,
            }
        ),
    )
    yield (
        "many rows",
        pd.DataFrame(
            {
                "g": rng.choice(["a", "b", "c"], 5000),
                "v": rng.normal(size=5000).round(3),
                "k": rng.integers(0, 9, 5000),
            }
        ),
    )
    yield (
        "str dtype with missing",
        pd.DataFrame({"a": pd.array(["x", None, "z"], dtype="string"), "b": [1.5, np.nan, 3.0]}),
    )
    yield "quoting needed", pd.DataFrame({"a": ['say "hi"', "a,b", "line\nbreak"], "b": [1, 2, 3]})
    yield (
        "flags and mixed objects",
        pd.DataFrame(
            {"ok": [True, False, None], "v": [1, "two", 3.5], "w": pd.array([1, None, 3], dtype="Int64")}
        ),
    )
    yield (
        "bool, nullable boolean and Int64",
        pd.DataFrame(
            {
                "flag": np.array([True, False, True, True]),
                "maybe": pd.array([True, None, False, None], dtype="boolean"),
                "count": pd.array([None, 0, -3, 12], dtype="Int64"),
                "v": [0.5, np.nan, 1e-7, 2.0],
            }
        ),
    )
    yield (
        "flags as objects with gaps",
        pd.DataFrame({"s": pd.Series([True, None, False, np.nan], dtype=object), "t": ["a", "b", "c", "d"]}),
    )
    yield "all missing nullable", pd.DataFrame({"m": pd.array([None, None], dtype="boolean"), "n": [1, 2]})
    yield "one column", pd.DataFrame({"a": ["", "x", ""]})
    yield "float32", pd.DataFrame({"a": np.array([0.1, 0.2], dtype=np.float32), "b": ["p", "q"]})
    yield "empty", pd.DataFrame(columns=["a", "b"])
    yield "comma in header", pd.DataFrame({"a,b": [1, 2], "c": [3, 4]})


@pytest.mark.parametrize(("label", "df"), list(frames()), ids=[label for label, _ in frames()])
def test_write_csv_matches_to_csv_byte_for_byte(tmp_path, label, df):
    ours, reference = tmp_path / "ours.csv", tmp_path / "reference.csv"
    write_csv(df, ours)
    df.to_csv(reference, index=False, lineterminator="\n", encoding="utf-8")
    assert ours.read_bytes() == reference.read_bytes(), label
