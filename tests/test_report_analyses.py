"""The report's compact tables of every statistics family (issue 14): shown as computed, never recomputed;
flags where assumption checks fail; significant pairs first."""

from __future__ import annotations

import pandas as pd
import pytest

from cocapp.presentation import analyses as AN
from cocapp.presentation.tables import to_html_fragment

CONFIG = {
    "study": {"name": "T", "synthetic": False},
    "groups": {"g": {"label": "Users", "instruments": ["X"]}},
    "scoring": {"primary_threshold": 0.5},
    "statistics": {
        "significance_level": 0.05,
        "confidence_level": 0.95,
        "normality_limits": {"conservative": 1.0, "liberal": 2.0},
    },
}
LABELS = {("X", "a"): "X Alpha", ("X", "b"): "X Beta", ("X", "c"): "X Gamma"}


def _anova_row(
    scale: str, p: float, welch_p: float, lev_mean: float, lev_med: float, threshold: str = "0.5"
) -> dict:
    return dict(
        group="g", instrument="X", scale=scale, threshold=threshold, n=30, k_sites=3, df1=2, df2=27,
        F=3.0, p=p, eta2=0.18, eta2_ci_low=0.01, eta2_ci_high=0.37, omega2=0.11,
        levene_mean_p=lev_mean, levene_median_p=lev_med,
        welch_F=4.0, welch_df1=2.0, welch_df2=17.3, welch_p=welch_p,
    )  # fmt: skip


def test_assumption_flags_count_levene_and_welch_disagreement():
    anova = pd.DataFrame(
        [
            _anova_row("a", p=0.068, welch_p=0.016, lev_mean=0.01, lev_med=0.03),  # Welch disagrees, Levene
            _anova_row("b", p=0.010, welch_p=0.020, lev_mean=0.50, lev_med=0.60),  # both significant
            _anova_row("c", p=0.300, welch_p=0.400, lev_mean=0.04, lev_med=0.20),  # Levene (mean) only
            _anova_row(
                "a", p=0.001, welch_p=0.9, lev_mean=0.01, lev_med=0.01, threshold="0.0"
            ),  # not primary
        ]
    )
    b = AN.assumption_block(anova, CONFIG, LABELS)
    assert b.finding.startswith(
        "Levene's test (median) p < 0.05 for 1 of 3 outcomes (mean-centred: 2); Welch's F and the one-way "
        "ANOVA disagree on significance for 1: Users X Alpha (F p = 0.068, Welch p = 0.016)."
    )
    t = b.shown[0]
    assert [r[-1] for r in t.rows] == ["unequal variances; Welch disagrees", "", ""]
    assert t.rows[0][2] == "F(2, 27) = 3.00, p = 0.068" and t.rows[0][6] == "F(2, 17.3) = 4.00, p = 0.016"
    assert any("data/derived/stats/anova.csv, rows at the primary threshold 0.5" in n for n in t.notes)


def _pair(scale, a, b, diff, p, threshold="0.5"):
    return dict(
        group="g", instrument="X", scale=scale, threshold=threshold, site_a=a, site_b=b, n_a=10, n_b=10,
        mean_a=1.0, mean_b=1.0 - diff, diff=diff, se=0.1, df=27.0, q=3.1, ci_low=diff - 0.2,
        ci_high=diff + 0.2, p_adj=p, significant=p < 0.05, omnibus_significant=True, method="tukey",
        note=None,
    )  # fmt: skip


def test_pairs_significant_first_strongest_named_all_folded():
    pairs = pd.DataFrame(
        [
            _pair("a", "A", "B", 0.1, 0.60),
            _pair("a", "A", "C", 0.5, 0.03),
            _pair("b", "B", "C", -0.7, 0.0094),
            _pair("b", "A", "C", 0.2, 0.20),
            _pair("b", "A", "C", 0.9, 0.0001, threshold="0.2"),  # other threshold: not shown
        ]
    )
    b = AN.pairs_block(pairs, "tukey", CONFIG, LABELS, "Table A6", "Tukey-Kramer pairs", "tukey")
    assert b.finding == (
        "2 of 4 site pairs have adjusted p < 0.05; the strongest: Users X Beta, B–C (difference -0.70, "
        "p_adj = 0.009)."
    )
    shown, folded = b.shown[0], b.folded[0]
    assert [r[2] for r in shown.rows] == ["B–C", "A–C"]
    assert [r[2] for r in folded.rows] == ["B–C", "A–C", "A–C", "A–B"]  # significant first, then by p
    assert folded.rows[0][4] == "-0.90 to -0.50"
    html = to_html_fragment(folded)
    assert 'id="analysis-tukey-all"' in html


def test_no_significant_pairs_says_none():
    pairs = pd.DataFrame([_pair("a", "A", "B", 0.1, 0.6)])
    b = AN.pairs_block(pairs, "games_howell", CONFIG, LABELS, "Table A7", "Games-Howell pairs", "gh")
    assert b.finding == "0 of 1 site pairs have adjusted p < 0.05."
    assert b.shown[0].rows == [["(none)", "", "", "", "", "", "", ""]]


def test_missing_summary_mean_and_range_by_hand():
    miss = pd.DataFrame(
        [
            dict(group="g", instrument="X", scale=s, k_items=5, n_returned=100, n_complete=100 - k,
                 n_incomplete=k, pct_incomplete=float(k), n_cells_missing=k, pct_cells_missing=k / 5)
            for s, k in (("a", 10), ("b", 20), ("c", 69))
        ]
    )  # fmt: skip
    b = AN.missing_block(miss, CONFIG, LABELS, {"mean": "19.9", "min": "6.5", "max": "69"})
    # mean of 10, 20, 69 = 33.0; cells 2, 4, 13.8 -> mean 6.6
    assert b.finding == (
        "Across the 3 outcomes, 33.0 % of returned questionnaires miss at least one item of the scale on "
        "average (range 10.0–69.0 %); 6.6 % of item answers are missing (range 2.0–13.8 %). The paper "
        "reports 19.9 % on average, range 6.5–69 %."
    )
    assert b.shown[0].rows[2][5] == "69.0 %"


def test_slopes_and_normality_counts():
    slopes = pd.DataFrame(
        [
            dict(group="g", instrument="X", scale="a", threshold="0.5", model="m", covariate=c,
                 covariate_type="numeric", df1=2.0, df2=24.0, F=f, p=p, significant=p < 0.05, note=None)
            for c, f, p in (("age", 5.0, 0.01), ("years", 0.5, 0.6))
        ]
    )  # fmt: skip
    b = AN.slopes_block(slopes, CONFIG, LABELS)
    assert b.finding.startswith("1 of 2 site x covariate interactions have p < 0.05")
    assert len(b.shown[0].rows) == 1 and len(b.folded[0].rows) == 2
    norm = pd.DataFrame(
        [
            dict(group="g", instrument="X", scale=s, threshold="0.5", n=30, skewness=sk, skewness_se=0.4,
                 kurtosis=ku, kurtosis_se=0.8, conservative_limit=1.0, liberal_limit=2.0,
                 beyond_conservative=abs(sk) > 1 or abs(ku) > 1, beyond_liberal=abs(sk) > 2 or abs(ku) > 2)
            for s, sk, ku in (("a", 0.2, -0.5), ("b", -1.4, 0.3), ("c", 0.1, 2.5))
        ]
    )  # fmt: skip
    nb = AN.normality_block(norm, CONFIG, LABELS)
    assert nb.finding == "2 of 3 outcomes have skewness or kurtosis beyond ±1; 1 beyond ±2."


@pytest.mark.parametrize("computable", [True, False])
def test_mcar_counts_only_computable_tests(computable):
    mcar = pd.DataFrame(
        [
            dict(group="g", instrument="X", n_items=5, n_respondents=50, n_patterns=4, chi2=30.0, df=12.0,
                 p=0.003, computable=True, reason=None),
            dict(group="g", instrument="Y", n_items=5, n_respondents=50, n_patterns=None, chi2=None, df=None,
                 p=None if not computable else 0.4, computable=computable,
                 reason=None if computable else "one pattern"),
        ]
    )  # fmt: skip
    b = AN.mcar_block(mcar, CONFIG)
    n = 2 if computable else 1
    expected = f"Little's test rejects missing completely at random for 1 of {n} instruments (p < 0.05)."
    assert b.finding == expected


def test_correlations_pooled_shown_sites_folded():
    rows = [
        dict(group="g", threshold="0.5", site=site, x="X", y="Y", n=n, r=r, p=p, ci_low=lo, ci_high=hi,
             effect_size="large", significant=True, note=None)
        for site, n, r, p, lo, hi in (
            ("All", 409, 0.607, 1e-40, 0.543, 0.664),
            ("A", 60, 0.5, 0.0001, 0.28, 0.67),
        )
    ]  # fmt: skip
    b = AN.correlations_block(pd.DataFrame(rows), CONFIG)
    assert b.finding == "Users X and Y: r = 0.607 (95% CI 0.543 to 0.664, n = 409)."
    assert [r[1] for r in b.shown[0].rows] == ["All"] and [r[1] for r in b.folded[0].rows] == ["A"]
    assert b.shown[0].rows[0][6] == "< 0.001"


def test_compact_png_is_smaller_bounded_and_deterministic():
    import io

    from PIL import Image

    from cocapp.presentation.report import REPORT_FIGURE_PIXELS, REPORT_FIGURE_WIDTH, compact_png

    buf = io.BytesIO()
    Image.new("RGB", (1800, 2400), "white").save(buf, "PNG")
    small = compact_png(buf.getvalue())
    with Image.open(io.BytesIO(small)) as im:
        assert im.width <= REPORT_FIGURE_WIDTH and im.width * im.height <= REPORT_FIGURE_PIXELS * 1.01
    assert compact_png(buf.getvalue()) == small


def test_mi_correlations_beside_complete_cases_and_significant_pooled_pairs():
    cc = pd.DataFrame(
        [
            dict(group="g", threshold=t, site="All", x="X", y="Y", n=n, r=r, p=0.01, ci_low=lo, ci_high=hi,
                 effect_size="medium", significant=True, note=None)
            for t, n, r, lo, hi in (("0.5", 126, 0.403, 0.245, 0.540), ("0.0", 90, 0.9, 0.8, 0.95))
        ]
    )  # fmt: skip
    mi_cor = pd.DataFrame(
        [
            dict(group="g", site=s, x="X", y="Y", n=n, m=20, r=r, ci_low=lo, ci_high=hi, p=p, df=3600.9,
                 riv=0.08, fmi=0.07, re=0.996, significant=True)
            for s, n, r, lo, hi, p in (
                ("All", 448, 0.6141, 0.5504, 0.6707, 1.5e-46), ("A", 70, 0.5, 0.3, 0.66, 2e-5)
            )
        ]
    )  # fmt: skip
    mi_pairs = pd.DataFrame(
        [
            dict(group="g", instrument="X", scale="a", delta=d, analysis="one-way ANOVA", site_a="A",
                 site_b=b, m=20, diff=diff, se=0.1, df=400.0, t=2.0, p=p / 2, p_adj=p, ci_low=diff - 0.3,
                 ci_high=diff + 0.3, riv=0.03, fmi=0.04, re=0.998, significant=p < 0.05)
            for d, b, diff, p in ((0.0, "B", 0.51, 0.0094), (0.0, "C", 0.1, 0.7), (0.0, "D", -0.6, 0.001),
                                  (-0.5, "B", 0.9, 0.0001))
        ]
    )  # fmt: skip
    b = AN.mi_block(mi_cor, mi_pairs, cc, CONFIG, LABELS)
    assert b.source == ["mi_correlations", "mi_pairs"]
    assert b.finding == (
        "Multiple imputation (m = 20, missing at random): 1 pooled correlation(s); "
        "2 of 3 pooled site pairs with adjusted p < 0.05."
    )
    t = b.shown[0]
    # the pooled ("All") row only, the complete-case columns from the primary threshold (0.5), not 0.0
    assert t.rows == [
        ["Users", "X and Y", "126", "0.403 (0.245 to 0.540)", "448", "0.614 (0.550 to 0.671)", "< 0.001"]
    ]
    assert any("data/derived/sensitivity/mi_correlations.csv" in n for n in t.notes)
    pairs = b.folded[0]
    # δ = 0 only, significant only, strongest first
    assert [(r[3], r[4], r[6]) for r in pairs.rows] == [("A–D", "-0.60", "0.001"), ("A–B", "0.51", "0.009")]
    assert pairs.rows[0][1] == "X Alpha"
    # a study without imputation shows no block; one without correlations shows the pairs only
    assert "mi_correlations" not in [x.key for x in AN.analysis_blocks({}, CONFIG, LABELS)]
    only_pairs = AN.mi_block(None, mi_pairs, None, CONFIG, LABELS)
    assert only_pairs.shown == [] and len(only_pairs.folded[0].rows) == 2
    # synthetic data were not calibrated to any imputation result: both tables say so
    synthetic = AN.mi_block(
        mi_cor, mi_pairs, cc, {**CONFIG, "study": {"name": "T", "synthetic": True}}, LABELS
    )
    for t in (synthetic.shown[0], synthetic.folded[0]):
        assert any(n.startswith("Illustrative only: not a calibration target") for n in t.notes)
    assert not any("Illustrative" in n for n in b.shown[0].notes)
    # traces (issue 14): each cell of Table A10 its own file and line, Table A11's rows their mi_pairs line
    assert b.shown[0].cell_traces == [
        [
            "",
            "",
            "correlations|2|n",
            "correlations|2|r,ci_low,ci_high",
            "mi_correlations|2|n",
            "mi_correlations|2|r,ci_low,ci_high",
            "mi_correlations|2|p",
        ]
    ]
    assert pairs.traces == ["mi_pairs|4", "mi_pairs|2"]
    assert pairs.trace_columns[4:] == ["diff", "ci_low,ci_high", "p_adj"]
