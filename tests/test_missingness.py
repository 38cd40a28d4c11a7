"""Missing-data profile: counts by scale, item and code, patterns, Little's MCAR test, the paper's summary.

Expected values come from tests/reference/measurement.R (counts in base R; Little's test with an EM
written out in base R in a different formulation), from hand-made tables, and from the sample sizes
printed in the COCAPP paper (data/published/cocapp2016_published.yaml).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cocapp.contracts import CONTRACTS, read
from cocapp.instruments import load_instrument
from cocapp.stats.missingness import (
    classify_cells,
    em_mvn,
    incomplete_summary,
    incomplete_summary_text,
    item_missingness,
    little_mcar,
    mcar_table,
    missing_patterns,
    scale_missingness,
)

ROOT = Path(__file__).parents[1]
REF = Path(__file__).parent / "reference"
INPUTS = REF / "inputs"
GOLDEN = REF / "golden" / "measurement"
CODES = {8.0: "not_applicable", 9.0: "no_response"}


@pytest.fixture(scope="module")
def setup(measurement_items, measurement_instruments):
    return measurement_items, measurement_instruments


def assert_same(got: pd.DataFrame, want: pd.DataFrame, keys: list[str], cols: list[str], rel: float = 1e-9):
    merged = want.merge(got, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (merged["_merge"] == "both").all()
    assert len(got) == len(want)
    for c in cols:
        w = pd.to_numeric(merged[f"{c}_r"]).to_numpy(dtype=float)
        g = pd.to_numeric(merged[c]).to_numpy(dtype=float)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=c)
        ok = ~np.isnan(w)
        np.testing.assert_allclose(g[ok], w[ok], rtol=rel, atol=0, err_msg=c)


def test_scale_counts_match_r(setup):
    items, inst = setup
    got = scale_missingness(items, inst, "users", extra_codes=CODES)
    want = pd.read_csv(GOLDEN / "missingness.csv")
    cols = [c for c in want.columns if c not in ("instrument", "scale")]
    assert_same(got, want, ["instrument", "scale"], cols)
    assert (got.n_returned == 400).all()
    # percent of returned questionnaires, 0-100
    np.testing.assert_allclose(got.pct_incomplete, 100 * (1 - got.n_complete / got.n_returned), rtol=1e-15)
    assert (
        got.n_cells_missing == got[[c for c in got.columns if c.startswith("n_cells_")][1:]].sum(axis=1)
    ).all()


def test_item_counts_match_r(setup):
    items, inst = setup
    got = item_missingness(items, inst, "users", extra_codes=CODES)
    want = pd.read_csv(GOLDEN / "missingness_items.csv")
    cols = [c for c in want.columns if c not in ("instrument", "item")]
    assert_same(got, want, ["instrument", "item"], cols)
    rsa = got[got.instrument == "RSA"].set_index("item")
    assert rsa.loc[10, "subscale"] == "life_goals" and rsa.loc[32, "subscale"] == ""


def test_patterns_match_r(setup):
    items, inst = setup
    got = missing_patterns(items, inst, "users")
    want = pd.read_csv(GOLDEN / "missingness_patterns.csv", dtype={"pattern": str})
    assert_same(got, want, ["instrument", "scale", "pattern"], ["n_respondents"])
    for (_, _), sub in got.groupby(["instrument", "scale"], sort=False):
        assert sub.n_respondents.sum() == 400
        assert sub.n_respondents.is_monotonic_decreasing
    assert (got.n_items_missing == got.pattern.str.count("M")).all()


def test_little_mcar_matches_r(setup):
    items, inst = setup
    got = mcar_table(items, inst, "users")
    want = pd.read_csv(GOLDEN / "mcar.csv")
    assert_same(got, want, ["instrument"], ["n_items", "n_respondents", "n_patterns", "chi2", "df", "p"])
    assert got.computable.tolist() == want.computable.tolist() == [True, True, True, False]
    edge = got[got.instrument == "EDGE"].iloc[0]
    assert "[7]" in edge.reason and "never answered" in edge.reason


def test_little_mcar_on_pattern_sums_matches_r(setup, monkeypatch):
    """The large-n EM route (per-pattern sums, used above EM_ROWS rows) forced on the R fixture: the
    same MCAR statistics as R at 1e-9."""
    from cocapp.stats import missingness as M

    monkeypatch.setattr(M, "EM_ROWS", 0)
    items, inst = setup
    got = mcar_table(items, inst, "users")
    want = pd.read_csv(GOLDEN / "mcar.csv")
    assert_same(got, want, ["instrument"], ["n_items", "n_respondents", "n_patterns", "chi2", "df", "p"])


def test_em_routes_agree_on_many_rows_and_patterns():
    """Rows route and pattern-sums route: the same EM iteration, so the same number of iterations and
    estimates to rounding (30,000 rows, 12 correlated items on a 1-5 scale, a location far from 0,
    missing cells MCAR and, for one item, depending on another)."""
    rng = np.random.default_rng(17)
    n, p = 30_000, 12
    x = np.clip(np.round(rng.normal(size=(n, p)) @ rng.normal(0, 0.4, (p, p)) + 3), 1, 5) + 100
    x[rng.random((n, p)) < 0.05] = np.nan
    x[x[:, 0] > 103, 1] = np.nan
    a, b = em_mvn(x, route="rows"), em_mvn(x, route="sums")
    # the stopping rule (no change above 1e-12) is met at the rounding level of the row route's
    # uncentred sums, so the count may differ by one step
    assert a.converged and b.converged and abs(a.iterations - b.iterations) <= 1
    np.testing.assert_allclose(b.mean, a.mean, rtol=1e-12)
    np.testing.assert_allclose(b.cov, a.cov, rtol=1e-9, atol=1e-12 * np.abs(a.cov).max())
    assert em_mvn(x).iterations == b.iterations  # auto: sums above EM_ROWS
    assert em_mvn(x[:500]).iterations == em_mvn(x[:500], route="rows").iterations  # rows below


def test_classify_cells_by_hand():
    inst = load_instrument("RSA")
    raw = np.array([[1, 5, 8, 9, np.nan, 7, 0, 3.5]])
    got = classify_cells(raw, inst, {7.0: "refused"}).ravel().tolist()
    assert got == [
        "answered",
        "answered",
        "not_applicable",
        "no_response",
        "empty",
        "refused",
        "undeclared",
        "answered",
    ]


def test_scale_counts_by_hand():
    """Three returns by hand: one N/A and one no-response on positive clinician input, one blank form."""
    inst = load_instrument("STAR-P")
    cols = inst.columns()
    frame = pd.DataFrame([[2.0] * 12, [2.0] * 12, [np.nan] * 12], columns=cols)
    frame.loc[0, "starp_02"] = 8  # positive clinician input = items 2, 6, 10
    frame.loc[1, "starp_06"] = 9
    got = scale_missingness(frame, {"STAR-P": inst}, "g").set_index("scale")
    pci = got.loc["positive_clinician_input"]
    assert (pci.n_returned, pci.n_complete, pci.n_no_item_answered) == (3, 0, 1)
    assert pci.pct_incomplete == 100.0
    assert (pci.n_cells_not_applicable, pci.n_cells_no_response, pci.n_cells_empty) == (1, 1, 3)
    pc = got.loc["positive_collaboration"]
    assert pc.n_complete == 2 and pc.pct_incomplete == pytest.approx(100 / 3, rel=1e-15)


def test_summary_line_reproduces_the_paper():
    """Published complete-case Ns / returns (448 service users, 201 care coordinators) give the
    paper's 'mean 19.9 %, range 6.5 to 69 %' over 22 outcomes."""
    pub = yaml.safe_load((ROOT / "data" / "published" / "cocapp2016_published.yaml").read_text("utf-8"))
    returned = {
        g: sum(v[i] for k, v in pub["table1"].items() if k in [s["name"] for s in pub["sites"]])
        for g, i in [("service_users", 1), ("care_coordinators", 0)]
    }
    assert returned == {"service_users": 448, "care_coordinators": 201}
    rows = [
        {"group": g, "instrument": i, "scale": s, "pct_incomplete": 100 * (1 - n / returned[g])}
        for g, insts in pub["reliability"].items()
        if g in returned
        for i, scales in insts.items()
        for s, (_, n) in scales.items()
    ]
    summary = incomplete_summary(pd.DataFrame(rows)).iloc[0]
    assert summary.n_outcomes == pub["missing_data"]["outcomes_assessed"] == 22
    assert round(summary.mean_pct_incomplete, 1) == pub["missing_data"]["mean_percent_missing"]
    lo, hi = pub["missing_data"]["range_percent_missing"]
    assert round(summary.min_pct_incomplete, 1) == lo and round(summary.max_pct_incomplete) == hi
    text = incomplete_summary_text(pd.DataFrame(rows))
    assert (
        text
        == "mean level of missing data across the 22 scales/sub-scales was 19.9 %, range from 6.5 to 69.0 %"
    )


def test_em_without_missing_data_gives_ml_estimates():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    em = em_mvn(x)
    assert em.converged
    np.testing.assert_allclose(em.mean, x.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(em.cov, np.cov(x, rowvar=False, ddof=0), rtol=1e-12)


def test_little_not_computable_cases():
    full = np.arange(30, dtype=float).reshape(10, 3) % 7
    res = little_mcar(full)
    assert not res.computable and "one missing-data pattern" in res.reason and np.isnan(res.chi2)
    tiny = np.array([[1.0, np.nan], [2.0, 3.0]])
    res = little_mcar(tiny)
    assert not res.computable and "fewer than items + 1" in res.reason
    const = np.array([[1.0, 2], [1, np.nan], [1, 4], [1, 3], [np.nan, 2]])
    res = little_mcar(const)
    assert not res.computable and "no variance" in res.reason


def test_little_two_variable_hand_check():
    """Two variables, y2 missing in some rows: EM gives the complete-case-regression ML (Anderson 1957)
    estimates, and d2 has df = (2 + 1) - 2 = 1. Hand formulas written out here."""
    rng = np.random.default_rng(7)
    n = 60
    y1 = rng.normal(size=n)
    y2 = 0.5 * y1 + rng.normal(size=n)
    y2[y1 > 0.8] = np.nan  # missing depends on y1 (MAR, not MCAR)
    x = np.column_stack([y1, y2])
    res = little_mcar(x)
    assert res.computable and res.df == 1 and res.n_patterns == 2
    # ML under MAR (monotone pattern): mu1, s11 from all y1; regression of y2 on y1 from complete rows
    cc = ~np.isnan(y2)
    mu1, s11 = y1.mean(), y1.var()
    b = np.cov(y1[cc], y2[cc], ddof=0)[0, 1] / y1[cc].var()
    a = y2[cc].mean() - b * y1[cc].mean()
    s22_1 = np.mean((y2[cc] - a - b * y1[cc]) ** 2)
    mu = np.array([mu1, a + b * mu1])
    sig = np.array([[s11, b * s11], [b * s11, s22_1 + b * b * s11]])
    d2 = 0.0
    for rows, o in [(cc, [0, 1]), (~cc, [0])]:
        d = x[rows][:, o].mean(axis=0) - mu[o]
        d2 += rows.sum() * d @ np.linalg.solve(sig[np.ix_(o, o)], d)
    assert res.chi2 == pytest.approx(d2, rel=1e-9)


# -- the missingness stage ------------------------------------------------------------------------
OUTPUTS = {
    "by-scale": "missingness",
    "by-item": "missingness_items",
    "patterns": "missingness_patterns",
    "mcar": "mcar",
}


def test_stage_writes_every_file_deterministically(tmp_path, cocapp_stage, measurement_config):
    runs = []
    for run in ("a", "b"):
        outs = {option: tmp_path / run / f"{name}.csv" for option, name in OUTPUTS.items()}
        args = ["--items", INPUTS / "measurement_items.csv"]
        args += [x for option, path in outs.items() for x in (f"--{option}", path)]
        code, log = cocapp_stage("missingness", measurement_config, *args)
        assert code == 0, log
        runs.append({option: path.read_bytes() for option, path in outs.items()})
    assert runs[0] == runs[1]
    assert "users: 400 respondents" in log and "MCAR computable for 3 of 4 instruments" in log
    tables = {name: read(name, tmp_path / "a" / f"{name}.csv") for name in OUTPUTS.values()}
    for name, df in tables.items():
        assert list(df.columns) == CONTRACTS[name].names, name
    pats = tables["missingness_patterns"]
    assert pats.pattern.map(type).eq(str).all()  # "." / "M" never parse as numbers
    # the declared missing codes come from the config (input.missing_codes: 8, 9)
    got = tables["missingness"].drop(columns="group")
    want = pd.read_csv(GOLDEN / "missingness.csv")
    assert_same(
        got, want, ["instrument", "scale"], [c for c in want.columns if c not in ("instrument", "scale")]
    )


def test_missing_item_column_is_named(setup):
    items, inst = setup
    with pytest.raises(ValueError, match="rsa_03"):
        scale_missingness(items.drop(columns=["rsa_03"]), {"RSA": inst["RSA"]}, "users")
