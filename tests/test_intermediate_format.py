"""``intermediate_format: parquet`` (issue 16): the per-respondent intermediate files (ingest items and
respondents, scale scores) as Parquet, every other output byte for byte the same as with CSV; the
contract reader gives the same frame from either format; scores written in blocks equal the whole
table."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.contracts import ContractError, read
from cocapp.io import TableChunks, write_outputs_atomic
from cocapp.stats.scoring import score_group, score_group_blocks
from cocapp.workflow import Workflow

TINY = Path(__file__).parent / "fixtures" / "tiny"
PER_RESPONDENT = re.compile(r"data/derived/(ingest/\w+_(items|respondents)|scores/\w+)\.(csv|parquet)$")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, run_snakemake):
    done = {}
    for fmt in ("csv", "parquet"):
        work = tmp_path_factory.mktemp(f"tiny-{fmt}")
        shutil.copytree(TINY, work, dirs_exist_ok=True)
        proc = run_snakemake(work, "--cores", "1", "--config", f"intermediate_format={fmt}")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
        done[fmt] = work
    return done


@pytest.mark.slow
def test_parquet_run_gives_the_same_outputs(runs, comparable_outputs):
    pq_files = sorted(p.relative_to(runs["parquet"]).as_posix() for p in runs["parquet"].rglob("*.parquet"))
    assert pq_files == [
        "data/derived/ingest/staff_items.parquet",
        "data/derived/ingest/staff_respondents.parquet",
        "data/derived/ingest/users_items.parquet",
        "data/derived/ingest/users_respondents.parquet",
        "data/derived/scores/staff.parquet",
        "data/derived/scores/users.parquet",
    ]
    assert not list(runs["csv"].rglob("*.parquet"))

    def skip(rel: str) -> bool:  # the per-respondent intermediates differ in format by design
        return bool(PER_RESPONDENT.search(rel))

    csv_out, pq_out = comparable_outputs(runs["csv"], skip), comparable_outputs(runs["parquet"], skip)
    assert sorted(csv_out) == sorted(pq_out)
    differ = [name for name in csv_out if csv_out[name] != pq_out[name]]
    assert differ == []
    for name, kind in (
        ("ingest/users_items", "items"),
        ("ingest/users_respondents", "respondents"),
        ("scores/users", "scores"),
    ):
        a = read(kind, runs["csv"] / f"data/derived/{name}.csv")
        b = read(kind, runs["parquet"] / f"data/derived/{name}.parquet")
        pd.testing.assert_frame_equal(a, b)


def test_workflow_paths_follow_the_format():
    csv = Workflow({"groups": {}})
    pq = Workflow({"groups": {}, "intermediate_format": "parquet"})
    assert csv.intermediate("data/derived/scores/{group}.csv") == "data/derived/scores/{group}.csv"
    assert pq.intermediate("data/derived/scores/{group}.csv") == "data/derived/scores/{group}.parquet"


def test_reader_types_parquet_text_like_the_csv_reader(tmp_path):
    df = pd.DataFrame(
        {
            "row": [1, 2, 3],
            "id": ["007", "=cmd", "x"],
            "site": ["A", "B", "C"],
            "whole": ["1", "2", "3"],
            "decimal": ["1.5", "", "2"],
            "flag": ["True", "False", "True"],
            "word": ["a", "b", ""],
        }
    )
    write_outputs_atomic({tmp_path / "r.csv": df, tmp_path / "r.parquet": df})
    a = read("respondents", tmp_path / "r.csv")
    b = read("respondents", tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(a, b)
    assert b["id"].tolist() == ["007", "'=cmd", "x"]  # text kept, formula neutralised in both formats
    assert b["whole"].dtype == np.int64 and b["flag"].dtype == bool and np.isnan(b["decimal"].iloc[1])


def test_unreadable_parquet_names_the_file(tmp_path):
    bad = tmp_path / "scores.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(ContractError, match="scores.parquet: not a readable Parquet file"):
        read("scores", bad)


def test_blocks_equal_the_whole_scores_table(tmp_path):
    from cocapp.instruments import load_instruments

    items = pd.read_csv(
        Path(__file__).parent / "reference" / "inputs" / "scoring_items.csv", dtype={"id": str, "site": str}
    )
    instruments = load_instruments(["RSA", "STAR-P"], [])
    thresholds = [0.0, 0.2, 0.5]
    whole = score_group(items, instruments, thresholds)
    write_outputs_atomic(
        {
            tmp_path / "whole.csv": whole,
            tmp_path / "parts.csv": TableChunks(score_group_blocks(items, instruments, thresholds)),
            tmp_path / "parts.parquet": TableChunks(score_group_blocks(items, instruments, thresholds)),
        }
    )
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    pd.testing.assert_frame_equal(
        read("scores", tmp_path / "parts.parquet"), read("scores", tmp_path / "whole.csv")
    )
