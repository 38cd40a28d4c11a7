"""Atomic writers: all-or-nothing, and ordinary file permissions."""

import os
import stat

import pandas as pd
import pytest

from cocapp.io import write_csv_atomic, write_outputs_atomic


def test_write_outputs_is_all_or_nothing(tmp_path):
    good = tmp_path / "a.csv"
    with pytest.raises(TypeError):
        write_outputs_atomic({good: pd.DataFrame({"x": [1]}), tmp_path / "b.txt": 12345})
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_outputs_get_the_permissions_of_a_plain_open(tmp_path):
    old = os.umask(0o022)
    try:
        write_csv_atomic(pd.DataFrame({"x": [1.5]}), tmp_path / "one.csv")
        write_outputs_atomic({tmp_path / "two.txt": "text"})
    finally:
        os.umask(old)
    for name in ("one.csv", "two.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644
    assert (tmp_path / "one.csv").read_text() == "x\n1.5\n"
    assert (tmp_path / "two.txt").read_text() == "text"
