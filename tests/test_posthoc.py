"""Tukey–Kramer and Games–Howell: R goldens (TukeyHSD; Games–Howell in base R with ptukey/qtukey,
tests/reference/comparisons.R), scipy.stats.tukey_hsd, pingouin, two-group identities, edge cases.

Tolerances: differences, SEs, df and q are compared at 1e-9 relative. p-values and CI limits come from
the studentized range distribution, which R computes less accurately than cocapp.stats.studentized_range
(ptukey: Copenhaver & Holland 1988 quadrature, off by up to ~3e-9 absolutely for df ≥ 10; qtukey: a
secant search documented as "accurate to the 4th decimal place"; see tests/test_studentized_range.py).
Observed agreement on the fixture is 5e-10 absolute for p and 1.3e-8 for CI limits; the tests use 2e-9
(p) and 1e-7 (CI limits) absolute, well inside R's accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cocapp.stats.anova import site_codes, summarise_groups
from cocapp.stats.posthoc import games_howell, tukey_kramer

REF = Path(__file__).parent / "reference"
GOLDEN = REF / "golden" / "comparisons"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
P_ABS = 2e-9
CI_ABS = 1e-7


def summary_of(instrument: str, scale: str):
    d = pd.read_csv(REF / "inputs" / "comparisons_scores.csv")
    d = d[(d.instrument == instrument) & (d.scale == scale) & d.score.notna()]
    return summarise_groups(d.score.to_numpy(), site_codes(d.site, SITES), SITES), d


def outcomes():
    g = pd.read_csv(GOLDEN / "tukey.csv")
    return sorted(set(zip(g.instrument, g.scale, strict=True)))


def compare_to_golden(ours: pd.DataFrame, golden: pd.DataFrame, exact_cols: list[str]) -> None:
    m = golden.merge(ours, on=["site_a", "site_b"], suffixes=("_r", ""), how="left", validate="1:1")
    assert len(m) == len(golden)
    for c in exact_cols:
        np.testing.assert_allclose(m[c], m[c + "_r"], rtol=1e-9, atol=0, err_msg=c)
    np.testing.assert_allclose(m["p_adj"], m["p_adj_r"], rtol=0, atol=P_ABS)
    np.testing.assert_allclose(m["ci_low"], m["ci_low_r"], rtol=0, atol=CI_ABS)
    np.testing.assert_allclose(m["ci_high"], m["ci_high_r"], rtol=0, atol=CI_ABS)


@pytest.mark.parametrize(("instrument", "scale"), outcomes())
def test_tukey_matches_r_tukeyhsd(instrument, scale):
    s, _ = summary_of(instrument, scale)
    ours = tukey_kramer(s)
    golden = pd.read_csv(GOLDEN / "tukey.csv")
    golden = golden[(golden.instrument == instrument) & (golden.scale == scale)].drop(
        columns=["instrument", "scale"]
    )
    compare_to_golden(ours, golden, ["diff"])
    assert (ours.method == "tukey-kramer").all()


@pytest.mark.parametrize(("instrument", "scale"), outcomes())
def test_games_howell_matches_r(instrument, scale):
    s, _ = summary_of(instrument, scale)
    ours = games_howell(s)
    golden = pd.read_csv(GOLDEN / "games_howell.csv")
    golden = golden[(golden.instrument == instrument) & (golden.scale == scale)].drop(
        columns=["instrument", "scale"]
    )
    finite = golden[golden.p_adj.notna()]
    compare_to_golden(ours, finite, ["diff", "se", "df", "q"])
    # R has NA where a site has one value; so must we, with a note
    na = golden[golden.p_adj.isna()].merge(ours, on=["site_a", "site_b"], suffixes=("_r", ""))
    assert na.p_adj.isna().all()
    assert na.note.str.contains("at least two values").all()


@pytest.mark.parametrize(("instrument", "scale"), [("RSA", "total"), ("STAR-P", "total")])
def test_tukey_matches_scipy_tukey_hsd(instrument, scale):
    s, d = summary_of(instrument, scale)
    samples = [d.score[d.site == x].to_numpy() for x in SITES]
    ref = stats.tukey_hsd(*samples)
    ci = ref.confidence_interval(0.95)
    ours = tukey_kramer(s)
    a, b = np.triu_indices(6, k=1)
    np.testing.assert_allclose(ours["diff"], ref.statistic[a, b], rtol=1e-12)
    # tukey_hsd's p is SciPy's studentized_range.sf = 1 − cdf, the cdf integrated to epsabs 1e-11: it
    # carries an absolute error (observed 2e-14 here, 6e-11 relative at p = 3e-4); ours is exact to 1e-14
    np.testing.assert_allclose(ours["p_adj"], ref.pvalue[a, b], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours["ci_low"], ci.low[a, b], rtol=1e-10)
    np.testing.assert_allclose(ours["ci_high"], ci.high[a, b], rtol=1e-10)


def test_games_howell_matches_pingouin():
    """pingouin.pairwise_gameshowell (it reports pairs in sorted level order: same as ours here)."""
    pg = pytest.importorskip("pingouin")
    s, d = summary_of("STAR-P", "total")
    ours = games_howell(s)
    ref = pg.pairwise_gameshowell(data=d, dv="score", between="site")
    m = ours.merge(ref, left_on=["site_a", "site_b"], right_on=["A", "B"], validate="1:1")
    assert len(m) == 15
    np.testing.assert_allclose(
        m["diff_x"] if "diff_x" in m else m["diff"], m["diff_y"] if "diff_y" in m else m["diff"], rtol=1e-12
    )
    np.testing.assert_allclose(m["se_x"], m["se_y"], rtol=1e-12)
    np.testing.assert_allclose(m["df_x"], m["df_y"], rtol=1e-12)
    pcol = "pval" if "pval" in m else "p_tukey"
    np.testing.assert_allclose(m["p_adj"], m[pcol], rtol=1e-9)


def test_two_sites_tukey_is_pooled_t_and_games_howell_is_welch_t():
    """With k = 2 the studentized range reduces to |t|·√2: Tukey p = pooled t test p, Games–Howell
    p = Welch t test p, and the CIs are the t intervals (independent check via scipy.stats.ttest_ind)."""
    x = np.array([3.1, 2.7, 3.9, 4.4, 3.3, 2.2, 3.0])
    y = np.array([4.0, 5.1, 3.8, 6.2, 4.9])
    s = summarise_groups(np.r_[x, y], np.r_[np.zeros(7, int), np.ones(5, int)], ["a", "b"])
    tk = tukey_kramer(s).iloc[0]
    ref = stats.ttest_ind(x, y)
    assert tk["diff"] == pytest.approx(x.mean() - y.mean(), rel=1e-14)
    assert tk["p_adj"] == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (tk["ci_low"], tk["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    gh = games_howell(s).iloc[0]
    ref = stats.ttest_ind(x, y, equal_var=False)
    assert gh["p_adj"] == pytest.approx(ref.pvalue, rel=1e-9)
    ci = ref.confidence_interval(0.95)
    assert (gh["ci_low"], gh["ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)


# -- edge cases -----------------------------------------------------------------------------------
def test_empty_site_pairs_are_nan_with_note_and_k_counts_present_sites():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9.5])
    codes = np.array([0, 0, 0, 2, 2, 2, 3, 3, 3])
    s = summarise_groups(y, codes, ["a", "b", "c", "d"])
    tk = tukey_kramer(s)
    assert len(tk) == 6
    with_b = tk[(tk.site_a == "b") | (tk.site_b == "b")]
    assert with_b.p_adj.isna().all() and with_b.note.str.contains("no values at site").all()
    rest = tk[(tk.site_a != "b") & (tk.site_b != "b")]
    # three sites with values: the studentized range uses k = 3
    ms_w = s.ss[[0, 2, 3]].sum() / 6
    se = np.sqrt(ms_w * (1 / 3 + 1 / 3))
    q = abs(2.0 - 5.0) / (se / np.sqrt(2))
    assert rest.iloc[0]["p_adj"] == pytest.approx(stats.studentized_range.sf(q, 3, 6), rel=1e-12)
    assert rest.note.eq("").all()


def test_no_within_site_variation_gives_nan_with_note():
    s = summarise_groups(np.array([1.0, 1, 2, 2]), np.array([0, 0, 1, 1]), ["a", "b"])
    tk = tukey_kramer(s).iloc[0]
    assert np.isnan(tk["p_adj"]) and "no variation" in tk["note"]
    gh = games_howell(s).iloc[0]
    assert np.isnan(gh["p_adj"]) and "se = 0" in gh["note"]


def test_p_values_are_not_clipped():
    """A large difference gives a p far below 0.001 (older tools clipped to 0.001), and the studentized
    range keeps its relative accuracy in the tail: with k = 2 it equals the exact t tail to 1e-12."""
    y = np.r_[np.linspace(0, 1, 50), np.linspace(0, 1, 50) + 0.35]
    s = summarise_groups(y, np.r_[np.zeros(50, int), np.ones(50, int)], ["a", "b"])
    p = tukey_kramer(s).iloc[0]["p_adj"]
    ref = stats.ttest_ind(y[:50], y[50:]).pvalue
    assert 0 < p < 1e-6 and p == pytest.approx(ref, rel=1e-12)


def _per_family_pairs(scores: pd.DataFrame, levels: list[str], alpha: float, confidence: float):
    """The pair tables of compare_sites built as before the one-table route: a DataFrame per outcome
    (tukey_kramer / games_howell), the omnibus flag inserted, the keys added, the frames row-bound."""
    from cocapp.stats.anova import oneway_anova
    from cocapp.stats.compare import OUTPUT_COLUMNS
    from cocapp.stats.outcomes import concat_tables, outcomes, with_keys

    out = {"tukey": [], "games_howell": []}
    for keys, d in outcomes(scores, ["RSA"], "g", "0.5", columns=["site", "score"]):
        y = d["score"].to_numpy(dtype=np.float64)
        codes = site_codes(d["site"].astype(str), levels)
        row = oneway_anova(y, codes, levels, alpha, confidence)
        s = summarise_groups(y, codes, levels)
        wp = row["welch_p"]
        omnibus = {"tukey": row["significant"], "games_howell": bool(wp < alpha) if np.isfinite(wp) else None}
        for name, test in (("tukey", tukey_kramer), ("games_howell", games_howell)):
            df = test(s, alpha, confidence)
            df.insert(df.columns.get_loc("significant") + 1, "omnibus_significant", omnibus[name])
            out[name].append(with_keys(df, keys))
    return concat_tables(out, {name: OUTPUT_COLUMNS[name] for name in out})


@pytest.mark.parametrize("levels", [SITES, SITES[:2], SITES[:1]])
def test_compare_sites_pair_tables_equal_the_per_family_frames(levels):
    """compare_sites builds each pair table once from the families' columns (tukey_columns,
    games_howell_columns): the same frame, bit for bit and type for type, as one DataFrame per
    outcome row-bound, on outcomes that give every note and flag (empty, single-value and constant
    sites, no residual df, significant and not)."""
    from cocapp.stats.compare import compare_sites

    rng = np.random.default_rng(7)
    shapes = {
        "normal": lambda i: rng.normal(size=5 + i),
        "empty_site": lambda i: rng.normal(size=0 if i == 1 else 4),
        "one_value": lambda i: rng.normal(size=1 if i == 0 else 4),
        "constant_within": lambda i: np.full(3, float(i)),
        "constant": lambda i: np.full(3, 2.0),
        "all_single": lambda i: rng.normal(size=1),
        "far_apart": lambda i: rng.normal(size=30) + 20 * i,
    }
    rows = [
        {
            "id": f"{scale}{i}{j}",
            "site": site,
            "instrument": "RSA",
            "scale": scale,
            "threshold": "0.5",
            "score": v,
        }
        for scale, make in shapes.items()
        for i, site in enumerate(levels)
        for j, v in enumerate(make(i))
    ]
    rows.append(
        {
            "id": "x",
            "site": levels[0],
            "instrument": "RSA",
            "scale": "none",
            "threshold": "0.5",
            "score": np.nan,
        }
    )
    scores = pd.DataFrame(rows)
    for alpha, confidence in ((0.05, 0.95), (0.01, 0.9)):
        got = compare_sites(scores, ["RSA"], levels, "g", "0.5", alpha=alpha, confidence=confidence)
        want = _per_family_pairs(scores, levels, alpha, confidence)
        for name, frame in want.items():
            pd.testing.assert_frame_equal(got[name], frame, check_exact=True, check_column_type=True)


def test_cached_critical_values_equal_the_quantiles():
    """The critical values cached per (confidence, k, df batch) are studentized_range.ppf's, bit for
    bit, on the first call and on the calls that the cache answers (small and large batches)."""
    from cocapp.stats import studentized_range
    from cocapp.stats.posthoc import _CACHED_DFS, _critical_values

    rng = np.random.default_rng(11)
    for size in (1, 15, _CACHED_DFS + 1):
        dfs = np.unique(rng.uniform(2.0, 300.0, size=size))
        want = studentized_range.ppf(0.95, 6, dfs)
        for _ in range(2):
            np.testing.assert_array_equal(_critical_values(0.95, 6, dfs), want)
