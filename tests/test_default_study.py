"""The default run on the embedded synthetic dataset regenerates the paper's printed numbers.

Expected values come from the printed paper (data/published/cocapp2016_published.yaml), never from
cocapp. Runs the whole workflow once (about 1.5-3 minutes on 2 cores).
"""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = yaml.safe_load((ROOT / "data/published/cocapp2016_published.yaml").read_text())

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory, run_snakemake):
    work = tmp_path_factory.mktemp("default")
    shutil.copy(ROOT / "config.yaml", work / "config.yaml")
    shutil.copytree(ROOT / "data/raw", work / "data/raw")
    shutil.copytree(ROOT / "data/published", work / "data/published")
    (work / "reports").mkdir()
    for name in ("synthetic_calibration.csv", "synthetic_calibration.md"):  # study.calibration (issue 14)
        shutil.copy(ROOT / "reports" / name, work / "reports" / name)
    proc = run_snakemake(work, "--cores", "2", timeout=1800)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return work


def printed_anova():
    rows = []
    for table, group in (
        ("table2_service_users", "service_users"),
        ("table3_care_coordinators", "care_coordinators"),
    ):
        for inst, scales in PUBLISHED[table].items():
            if not isinstance(scales, dict):
                continue
            for scale, spec in scales.items():
                df1, df2, f, p = spec["anova"]
                rows.append((group, inst, scale, df1, df2, f, p, spec["sites"]))
    return rows


def test_anova_rows_agree_with_tables_2_and_3(run):
    anova = pd.read_csv(run / "data/derived/stats/anova.csv", dtype={"threshold": str})
    desc = pd.read_csv(run / "data/derived/stats/descriptives.csv", dtype={"threshold": str})
    sites = [s["name"] for s in PUBLISHED["sites"]]
    rows = printed_anova()
    assert len(rows) == 22
    for group, inst, scale, df1, df2, f, p, printed_sites in rows:
        key = (
            (anova.group == group)
            & (anova.instrument == inst)
            & (anova.scale == scale)
            & (anova.threshold == "0.5")
        )
        row = anova[key].iloc[0]
        assert (row.df1, row.df2) == (df1, df2), (inst, scale)
        decimals = 3 if f == 0.997 else 2
        assert round(row.F, decimals) == pytest.approx(f, abs=1e-9), (inst, scale)
        assert round(row.p, 3) == pytest.approx(p, abs=1e-9), (inst, scale)
        for site, (mean, sem) in zip(sites, printed_sites, strict=True):
            d = desc[
                (desc.group == group)
                & (desc.instrument == inst)
                & (desc.scale == scale)
                & (desc.threshold == "0.5")
                & (desc.site == site)
            ].iloc[0]
            assert round(d["mean"], 2) == pytest.approx(mean, abs=1e-9), (inst, scale, site)
            if sem < 0.9:  # the two printed SEMs near 1 are print anomalies (see the audit test)
                assert round(d["sem"], 2) == pytest.approx(sem, abs=1e-9), (inst, scale, site)


def test_alphas_and_complete_case_ns_agree(run):
    rel = pd.read_csv(run / "data/derived/stats/reliability.csv")
    for group, insts in PUBLISHED["reliability"].items():
        if not isinstance(insts, dict):
            continue
        for inst, scales in insts.items():
            for scale, (alpha, n) in scales.items():
                row = rel[(rel.group == group) & (rel.instrument == inst) & (rel.scale == scale)].iloc[0]
                assert row.n_complete == n, (group, inst, scale)
                assert round(row.alpha, 2) == pytest.approx(alpha, abs=1e-9), (group, inst, scale)


def test_correlations_agree_with_table_4(run):
    corr = pd.read_csv(run / "data/derived/stats/correlations.csv", dtype={"threshold": str})
    pooled = corr[(corr.threshold == "0.5") & (corr.site == "All")]
    for pair in PUBLISHED["table4_correlations_service_users"]["pairs"]:
        x, y = pair["pair"]
        row = pooled[((pooled.x == x) & (pooled.y == y)) | ((pooled.x == y) & (pooled.y == x))].iloc[0]
        assert row.n == pair["n"]
        assert round(row.r, 3) == pytest.approx(pair["r"], abs=1e-9)


def test_audit_flags_exactly_the_two_impossible_sems(run):
    comp = pd.read_csv(run / "reports/tables/published_comparison.csv")
    bad = comp[~comp["match"].astype(bool)]
    assert sorted(zip(bad.scale, bad.site, bad.quantity, strict=True)) == [
        ("individually_tailored_services", "Artois", "sem"),
        ("life_goals", "Champagne", "sem"),
    ]


def test_normality_three_of_22_beyond_one(run):
    norm = pd.read_csv(run / "data/derived/stats/normality.csv", dtype={"threshold": str})
    primary = norm[norm.threshold == "0.5"]
    assert len(primary) == 22
    beyond = (primary["skewness"].abs() > 1) | (primary["kurtosis"].abs() > 1)
    assert int(beyond.sum()) == PUBLISHED["normality"]["outcomes_exceeding_1"]
    assert (primary["skewness"].abs() < 2).all() and (primary["kurtosis"].abs() < 2).all()


def test_report_is_labelled_synthetic(run):
    html = (run / "reports/report.html").read_text()
    assert "SYNTHETIC DATA" in html
    verdict = (run / "data/derived/sensitivity/verdict.md").read_text()
    assert "SYNTHETIC DATA" in verdict


def test_report_is_honest_compact_and_traceable(run):
    """Issue 14 on the default run: under 1.5 MB, calibration stated, every rule has an ok manifest."""
    import json

    report = run / "reports/report.html"
    assert report.stat().st_size < 1_500_000
    html = report.read_text()
    assert 'id="what-data-show"' in html and 'id="glance"' in html and 'id="all-analyses"' in html
    comp = pd.read_csv(
        run / "reports/tables/published_comparison.csv", keep_default_na=False, dtype={"printed": str}
    )
    assert set(comp["evidence"]) <= {"calibration target", "illustrative"}
    assert (comp.loc[comp["match"].astype(str) == "False", "reason"] != "").all()
    missing = comp[comp["table"] == "Missing data"].set_index("quantity")
    assert missing.loc["percent_incomplete_mean", "printed"] == "19.9"
    manifests = sorted((run / "data/derived/logs").glob("*.manifest.json"))
    logs = sorted((run / "data/derived/logs").glob("*.log"))
    assert len(manifests) == len(logs)
    assert all(json.loads(m.read_text())["status"] == "ok" for m in manifests)


def test_every_number_of_the_default_report_traces_back(run):
    """Issue 14's done-when on the default run: every number of every table of the report (Tables 1-4,
    S1-S2, A1-A9b, C1-C4, the qualitative section's tables and the provenance tables) follows its hover
    trace to a derived file and line (or a count of rows, a stage manifest's entry, an input file's size)
    whose value, rounded as displayed, is the number shown."""
    from report_traces import check_report

    checked, untraced = check_report((run / "reports/report.html").read_text(), run)
    for key in ("table1_returns", "table2_service_users", "ancova_means", "analysis-missing",
                "analysis-mcar", "analysis-normality", "analysis-assumptions", "analysis-slopes-all",
                "analysis-games-howell-significant", "analysis-ancova-pairs-significant",
                "published-summary", "published-comparison", "joint-display", "framework-site-theme",
                "framework-group-theme", "code-frequencies", "codebook", "provenance-manifests",
                "provenance-all-inputs", "provenance-inputs", "provenance-versions"):  # fmt: skip
        assert checked.get(key, 0) > 0, key
    assert sum(checked.values()) > 3000
    assert untraced == set()


def test_console_trace_of_the_qualitative_and_provenance_tables(run):
    """``cocapp trace`` answers for the tables traced last (issue 14): a joint-display count leads to
    its line of joint_display.csv, a framework cell to the line its record starts on (extracts with
    line breaks before it), a stage's seconds to its manifest; each names rule, function, config keys."""
    import json

    from cocapp.config import load_config
    from cocapp.contracts import RunFiles
    from cocapp.presentation.trace import trace as trace_query

    def trace(query, config, root):
        return trace_query(query, config, RunFiles(root))

    config = load_config(run / "config.yaml")
    joint = pd.read_csv(run / "data/derived/qualitative/joint_display.csv", dtype=str, keep_default_na=False)
    got = trace("joint-display | Burgundy | Segments", config, run)
    line = joint.index[joint["site"] == "Burgundy"][0] + 2
    assert got["derived"]["line"] == line and got["shown"] == joint.loc[line - 2, "n_segments"]
    assert got["rule"] == "joint_display" and "qualitative" in got["config_keys"]
    got = trace("framework-site-theme | Provence | Accommodating and adjusting", config, run)
    v = got["derived"]["values"]
    assert (v["site"], v["theme"]) == ("Provence", "Accommodating and adjusting")
    assert got["shown"].startswith(f"{v['n_cases']} cases, {v['n_segments']} segments")
    text = (run / "data/derived/qualitative/framework_site_theme.csv").read_text("utf-8").splitlines()
    assert text[got["derived"]["line"] - 1].startswith("Provence,")
    assert got["rule"] == "qualitative_framework" and "site_theme_matrix" in got["function"]
    got = trace("provenance-manifests | ancova | Seconds", config, run)
    manifest = json.loads((run / "data/derived/logs/ancova.manifest.json").read_text("utf-8"))
    assert got["shown"] == str(manifest["seconds"]) and got["derived"]["rows"] == "JSON /"
    assert got["rule"] == "ancova" and "adjusted_means_weights" in got["config_keys"]["statistics"]


# -- a malformed upstream file is an error, never a quietly emptier result (issue 12 point 4) ------------
def _contracted_inputs(run: Path) -> list[tuple[str, list[str], str]]:
    """(stage, its arguments, one derived input file with a contract) for every job of the run, from the
    jobs' manifests (the command each ran and the files it was given)."""
    import json
    import shlex

    from cocapp.contracts import contract_for

    out = []
    for path in sorted((run / "data/derived/logs").glob("*.manifest.json")):
        manifest = json.loads(path.read_text("utf-8"))
        argv = shlex.split(manifest["command"])[2:]  # cocapp <stage> ...
        for entry in manifest["inputs"]:
            # a derived file (a raw file given may share a derived one's name: qualitative/codebook.csv)
            derived = entry["path"].startswith("data/derived/")
            if entry["source"] == "argument" and derived and contract_for(entry["path"]):
                out.append((manifest["stage"], argv, entry["path"]))
    return out


def _malformed(path: Path, how: str) -> list[str] | None:
    """Write a malformed version of the contracted file ``path`` in place (``how``: ``type``, a value of
    the wrong type in every typed column of the first row; ``missing``, every declared column but the
    first dropped) and
    return what the error must name; None when the file has no typed column or no row."""
    import json

    from cocapp.contracts import CONTRACTS, JSON_CONTRACTS, contract_for

    name = contract_for(path)
    if name in JSON_CONTRACTS:
        doc = json.loads(path.read_text("utf-8"))
        if how == "type":
            doc["significance_level"] = "high"
            wanted = ["at /significance_level", "'high'"]
        else:
            del doc["groups"]
            wanted = ["at /", "'groups' is a required property"]
        path.write_text(json.dumps(doc), "utf-8")
        return [str(path.name), *wanted]
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    contract = CONTRACTS[name]
    if how == "type":
        typed = [c for c, kind, _ in contract.parsed() if kind in ("int", "float", "bool", "count")]
        if not typed or not len(df):
            return None
        df.loc[0, typed] = "oops"
        wanted = ["column '", "row 2", "'oops'"]
    else:
        # every declared column but the first: a stage that reads only some columns misses one of them
        df = df.drop(columns=contract.names[1:])
        wanted = ["column(s) [", "] missing"]
    df.to_csv(path, index=False)
    return [str(path.name), *wanted]


@pytest.mark.parametrize("how", ["type", "missing"])
def test_a_malformed_upstream_file_stops_every_stage_that_reads_it(run, how, monkeypatch, capsys):
    """Each job of the default run is run again with one of its contracted inputs malformed (a value of
    the wrong type; a missing column): the stage fails, writes nothing but its own manifest (its
    --manifest, saying it failed; Snakemake removes it with the failed job's outputs), and its error
    names the file, the column, the row and the value. (The ancova stage reads of the respondents file
    only the ids and the covariates, which have no declared type: a wrong value in another column is
    none of its concern.)"""
    import json

    from cocapp.stages.runner import run_stage

    monkeypatch.chdir(run)
    checked, quiet = [], []
    for stage, argv, file in _contracted_inputs(run):
        path = run / file
        before = path.read_bytes()
        own = run / argv[argv.index("--manifest") + 1]
        own_before = own.read_bytes()
        times = {p: p.stat().st_mtime_ns for p in (path, own)}
        outputs = {p: p.stat().st_mtime_ns for p in (run / "data/derived").rglob("*") if p.is_file()}
        try:
            wanted = _malformed(path, how)
            if wanted is None or (how, stage, file.endswith("_respondents.csv")) == ("type", "ancova", True):
                continue
            capsys.readouterr()
            code = run_stage(stage, argv)
            log = capsys.readouterr().err
            failed = json.loads(own.read_text("utf-8")) if own.stat().st_mtime_ns != times[own] else None
        finally:
            path.write_bytes(before)
            own.write_bytes(own_before)
            for p, t in times.items():  # as they were, times too (the workflow sees nothing new)
                os.utime(p, ns=(t, t))
        error = next((line for line in log.splitlines() if ": error: " in line), "")
        if code != 1 or not all(w in error for w in wanted):
            quiet.append((stage, file, code, error[:300] or log[-300:]))
        changed = [p for p, t in outputs.items() if p not in (path, own) and p.stat().st_mtime_ns != t]
        assert changed == [], (stage, file, "wrote", changed[:3])
        assert failed is None or failed["status"] == "failed", (stage, file, failed["status"])
        checked.append((stage, file))
    assert quiet == []
    stages = {s for s, _ in checked}
    expected = {"score", "reliability", "missingness", "distributions", "compare-sites", "ancova"}
    expected |= {"sensitivity", "impute", "tables", "figures", "audit", "report"}
    expected |= {"qualitative-framework", "qualitative-workbook", "joint-display"}
    assert expected <= stages, expected - stages
