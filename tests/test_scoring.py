"""Scoring: hand-computed cases and a golden file from base R (tests/reference/scoring.R)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.instruments import load_instrument
from cocapp.stats.scoring import allowed_missing, score_group, score_instrument

REF = Path(__file__).parent / "reference"


def frame(instrument_key: str, rows: list[dict[int, float]], fill: float) -> pd.DataFrame:
    """Respondents with every item = fill, overridden per item number."""
    inst = load_instrument(instrument_key)
    records = []
    for i, overrides in enumerate(rows):
        rec = {"id": f"r{i + 1}", "site": "S"}
        rec.update({inst.column(k): fill for k in range(1, inst.n_items + 1)})
        rec.update({inst.column(k): v for k, v in overrides.items()})
        records.append(rec)
    return pd.DataFrame(records)


def score_of(scores: pd.DataFrame, rid: str, scale: str, threshold: str) -> float:
    sel = scores[(scores.id == rid) & (scores.scale == scale) & (scores.threshold == threshold)]
    assert len(sel) == 1
    return float(sel.score.iloc[0])


# -- the allowance rule floor(t * k) in exact arithmetic ------------------------------------------
@pytest.mark.parametrize(
    ("t", "k", "expected"),
    [
        (0.0, 10, 0),
        (0.2, 10, 2),
        (0.3, 10, 3),
        (0.4, 10, 4),
        (0.5, 10, 5),
        (0.2, 5, 1),
        (0.3, 5, 1),
        (0.4, 5, 2),
        (0.5, 5, 2),
        (0.2, 3, 0),
        (0.3, 3, 0),
        (0.4, 3, 1),
        (0.5, 3, 1),
        (0.2, 36, 7),
        (0.5, 36, 18),
        (0.5, 12, 6),
        (0.3, 28, 8),
        # float products just below an integer: 0.29 * 100 = 28.999999999999996,
        # 0.57 * 100 = 56.99999999999999
        (0.29, 100, 29),
        (0.57, 100, 57),
        (0.7, 10, 7),
        (1.0, 7, 7),
    ],
)
def test_allowed_missing_exact(t, k, expected):
    assert allowed_missing(t, k) == expected


def test_allowed_missing_rejects_out_of_range():
    with pytest.raises(ValueError, match="threshold"):
        allowed_missing(1.5, 10)


# -- hand-computed scores --------------------------------------------------------------------------
def test_rsa_life_goals_boundaries_every_threshold():
    """Life goals has k = 10 items; respondent j misses j of them (coded 8, 9 or empty)."""
    life = [10, 11, 14, 16, 17, 18, 19, 20, 21, 22]
    rows = []
    for n_missing in range(0, 7):
        codes = [8, 9, np.nan]
        rows.append({item: codes[i % 3] for i, item in enumerate(life[:n_missing])})
    # answered items are all 4, except item 22 (answered unless 10 missing) is 2
    for r in rows:
        if 22 not in r:
            r[22] = 2
    scores = score_instrument(frame("RSA", rows, 4), load_instrument("RSA"), [0.0, 0.2, 0.3, 0.4, 0.5])
    # mean of the answered life-goal items: (4 * (9 - j) + 2) / (10 - j)
    for j in range(0, 7):
        mean = (4 * (9 - j) + 2) / (10 - j)
        for t, allowed in [("0.0", 0), ("0.2", 2), ("0.3", 3), ("0.4", 4), ("0.5", 5)]:
            got = score_of(scores, f"r{j + 1}", "life_goals", t)
            if j <= allowed:
                assert got == pytest.approx(mean, rel=1e-15)
            else:
                assert np.isnan(got)


def test_total_has_its_own_allowance():
    """RSA total: 36 items, 18 may be missing at 0.5 even though a subscale is fully missing."""
    inst = load_instrument("RSA")
    missing = {i: 9 for i in inst.scale("life_goals").items}  # whole subscale missing: 10 of 36
    missing.update({i: 8 for i in (32, 33, 34, 35, 36, 1, 2, 3)})  # 18 missing in all
    scores = score_instrument(frame("RSA", [missing], 3), inst, [0.4, 0.5])
    assert np.isnan(score_of(scores, "r1", "life_goals", "0.5"))
    assert score_of(scores, "r1", "total", "0.5") == 3.0
    assert np.isnan(score_of(scores, "r1", "total", "0.4"))  # allowance floor(0.4 * 36) = 14 < 18


def test_reverse_keying_uses_declared_range_not_data():
    """STAR-P items 4, 8, 12 are reversed as 4 - x even when every respondent answered 1..3 only."""
    inst = load_instrument("STAR-P")
    rows = [{4: 1, 8: 1, 12: 3}, {4: 3, 8: 2, 12: 2}]
    scores = score_instrument(frame("STAR-P", rows, 2), inst, [0.0])
    # r1: reversed (3, 3, 1) -> sum 7; r2: (1, 2, 2) -> 5 (prorated sum of a complete scale = plain sum)
    assert score_of(scores, "r1", "non_supportive_clinician_input", "0.0") == 7.0
    assert score_of(scores, "r2", "non_supportive_clinician_input", "0.0") == 5.0
    # total: nine 2s + reversed items; r1 = 18 + 7 = 25
    assert score_of(scores, "r1", "total", "0.0") == 25.0


def test_sum_scale_is_prorated():
    """STAR-P positive collaboration (6 items): answers 4, 4, 3, 1 and two missing -> mean 3 x 6 = 18."""
    inst = load_instrument("STAR-P")
    row = {1: 4, 3: 4, 5: 3, 7: 1, 9: 9, 11: np.nan}
    scores = score_instrument(frame("STAR-P", [row], 2), inst, [0.2, 0.3, 0.5])
    assert np.isnan(score_of(scores, "r1", "positive_collaboration", "0.2"))  # allowance 1
    assert np.isnan(score_of(scores, "r1", "positive_collaboration", "0.3"))  # allowance 1
    assert score_of(scores, "r1", "positive_collaboration", "0.5") == 18.0  # allowance 3


def test_es_reversed_items_and_mean():
    """ES optimism (items 1, 12, 13, 14, all reversed 5 - x): raw 1, 2, 4, 8 -> keyed 4, 3, 1 -> mean 8/3."""
    inst = load_instrument("ES")
    scores = score_instrument(frame("ES", [{1: 1, 12: 2, 13: 4, 14: 8}], 2), inst, [0.2, 0.3])
    assert np.isnan(score_of(scores, "r1", "optimism_control_future", "0.2"))  # floor(0.8) = 0
    assert score_of(scores, "r1", "optimism_control_future", "0.3") == pytest.approx(8 / 3, rel=1e-15)
    # righteous anger: 3, 4, 7 as printed, 15 reversed: all raw 2 -> (2, 2, 2, 3) -> 2.25
    assert score_of(scores, "r1", "righteous_anger", "0.3") == 2.25


def test_all_missing_respondent_has_no_rows_and_codes_are_not_scores():
    inst = load_instrument("STAR-P")
    rows = [{i: 8 for i in range(1, 13)}, {i: (9 if i % 2 else np.nan) for i in range(1, 13)}, {}]
    scores = score_instrument(frame("STAR-P", rows, 1), inst, [0.5])
    assert set(scores.id) == {"r3"}
    assert score_of(scores, "r3", "total", "0.5") == 18.0  # nine 1s + three reversed 1s (= 3)


def test_out_of_range_values_never_score():
    """A stray 8 or 9 in a 0-4 item is missing, never averaged in."""
    inst = load_instrument("STAR-P")
    scores = score_instrument(frame("STAR-P", [{2: 8}, {2: 8, 6: 9}], 4), inst, [0.5, 0.0])
    assert np.isnan(score_of(scores, "r1", "positive_clinician_input", "0.0"))
    assert score_of(scores, "r1", "positive_clinician_input", "0.5") == 12.0  # two answered 4s: 4 x 3
    assert np.isnan(score_of(scores, "r2", "positive_clinician_input", "0.5"))  # 2 missing > floor(1.5)


def test_score_group_columns_and_threshold_order():
    items = frame("STAR-P", [{}, {1: 0}], 3)
    scores = score_group(items, {"STAR-P": load_instrument("STAR-P")}, [0.5, 0.0])
    assert list(scores.columns) == [
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
    assert scores.threshold.unique().tolist() == ["0.5", "0.0"]
    assert len(scores) == 2 * 4 * 2


# -- golden file from R --------------------------------------------------------------------------------
def test_scores_match_base_r_golden():
    """Every score of 300 generated respondents x 3 instruments x 16 scales x 5 thresholds equals R's."""
    items = pd.read_csv(REF / "inputs" / "scoring_items.csv", dtype={"id": str, "site": str})
    instruments = {k: load_instrument(k) for k in ("RSA", "STAR-P", "ES")}
    ours = score_group(items, instruments, [0.0, 0.2, 0.3, 0.4, 0.5])
    golden = pd.read_csv(REF / "golden" / "scoring" / "scores.csv", dtype={"id": str, "threshold": str})
    key = ["id", "instrument", "scale", "threshold"]
    merged = golden.merge(ours, on=key, how="outer", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), "the same respondent x scale x threshold rows exist"
    assert len(merged) == len(golden) == 22920
    assert (merged.items_answered_r == merged.items_answered).all()
    assert (merged.items_allowed_missing_r == merged.items_allowed_missing).all()
    assert (merged.score_r.isna() == merged.score.isna()).all()
    both = merged.dropna(subset=["score"])
    # R writes 15 significant digits, so 1e-12 relative is as close as the file can show.
    np.testing.assert_allclose(both.score, both.score_r, rtol=1e-12)
    assert both.score.notna().sum() > 10000
