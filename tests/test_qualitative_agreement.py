"""Inter-coder agreement by character (cocapp.qualitative.agreement) against base-R goldens
(tests/reference/coding_agreement.R, per-character vectors) and hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.qualitative.agreement import coding_comparison, cohen_kappa_counts, krippendorff_alpha_binary

REF = Path(__file__).resolve().parent / "reference"
GOLDEN = REF / "golden" / "coding_agreement"


@pytest.fixture(scope="module")
def computed():
    seg = pd.read_csv(REF / "inputs" / "coding_agreement_segments.csv")
    n = dict(zip(seg["source_id"], seg["n_characters"], strict=False))
    seg = seg.assign(
        theme=seg["code_path"].str.split("/").str[0], code=seg["code_path"].str.split("/").str[-1]
    )
    return coding_comparison(seg, n)


def test_pairs_match_r(computed):
    pairs, _ = computed
    golden = pd.read_csv(GOLDEN / "pairs.csv")
    key = ["code_path", "source_id", "coder_a", "coder_b"]
    got = pairs.sort_values(key).reset_index(drop=True)
    golden = golden.sort_values(key).reset_index(drop=True)
    assert got[key].values.tolist() == golden[key].values.tolist()
    for col in ["n_characters", "a_only", "b_only", "both", "neither"]:
        assert got[col].astype(int).tolist() == golden[col].tolist(), col
    for col in ["agreement_pct", "kappa"]:
        np.testing.assert_allclose(got[col].astype(float), golden[col], rtol=1e-9, err_msg=col)


def test_alpha_matches_r(computed):
    _, alpha = computed
    golden = pd.read_csv(GOLDEN / "alpha.csv")
    key = ["code_path", "source_id"]
    got = alpha.sort_values(key).reset_index(drop=True)
    golden = golden.sort_values(key).reset_index(drop=True)
    assert got[key].values.tolist() == golden[key].values.tolist()
    np.testing.assert_allclose(got["alpha"].astype(float), golden["alpha"], rtol=1e-9, equal_nan=True)
    assert got.loc[got["code_path"] == "Care/identical", "alpha"].tolist() == [1.0]


def test_hand_computed_two_coders_ten_characters():
    # A codes characters 0-3, B codes 2-5 of a 10-character source:
    # both 2 (2,3), A only 2 (0,1), B only 2 (4,5), neither 4 -> agreement 60 %;
    # pA = pB = 0.4, pe = 0.16 + 0.36 = 0.52, kappa = (0.6 - 0.52) / 0.48 = 1/6;
    # alpha: n = 20 values, n1 = 8, n0 = 12, 4 disagreeing units -> 1 - 19 * 4 / 96 = 5/24.
    seg = pd.DataFrame(
        {
            "source_id": "s",
            "theme": "T",
            "code": "c",
            "code_path": "T/c",
            "coder": ["A", "B"],
            "start": [0, 2],
            "end": [4, 6],
        }
    )
    pairs, alpha = coding_comparison(seg, {"s": 10})
    rec = pairs.iloc[0]
    assert (rec["both"], rec["a_only"], rec["b_only"], rec["neither"]) == (2, 2, 2, 4)
    assert rec["agreement_pct"] == pytest.approx(60.0, rel=1e-12)
    assert rec["kappa"] == pytest.approx(1 / 6, rel=1e-12)
    assert alpha.iloc[0]["alpha"] == pytest.approx(5 / 24, rel=1e-12)
    assert cohen_kappa_counts(0, 0, 0, 10) == (100.0, 1.0)  # nobody coded: full agreement (NVivo)
    assert np.isnan(krippendorff_alpha_binary(np.array([10, 0, 0])))  # no variation: undefined


def test_one_coder_gives_empty_tables_and_long_texts_are_cheap():
    seg = pd.DataFrame(
        {
            "source_id": "s",
            "theme": "T",
            "code": "c",
            "code_path": "T/c",
            "coder": ["A", "A"],
            "start": [0, 5],
            "end": [3, 9],
        }
    )
    pairs, alpha = coding_comparison(seg, {"s": 10})
    assert pairs.empty and alpha.empty
    # 50 M characters: intervals, never one row per character
    big = pd.DataFrame(
        {
            "source_id": "s",
            "theme": "T",
            "code": "c",
            "code_path": "T/c",
            "coder": ["A", "B"],
            "start": [0, 10_000_000],
            "end": [30_000_000, 40_000_000],
        }
    )
    pairs, _ = coding_comparison(big, {"s": 50_000_000})
    assert pairs.iloc[0]["both"] == 20_000_000 and pairs.iloc[0]["neither"] == 10_000_000
