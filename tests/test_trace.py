"""``cocapp trace``: from a number in the report to its derived file and row, rule, function and config
keys (issue 14). The test samples the numbers of every display table and follows each trace back to a
derived row whose full-precision values round to what the table shows."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from stage_inputs import publication_report_args, without_imputation, without_qualitative

from cocapp.contracts import RunFiles
from cocapp.presentation.trace import TraceError
from cocapp.presentation.trace import trace as trace_query

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"


def trace(query: str, config, root: Path) -> dict:
    """``cocapp trace`` in the run folder ``root``: its files read through the contracts' readers."""
    return trace_query(query, config, RunFiles(root))


@pytest.fixture(scope="module")
def run_dir(publication_reports, tmp_path_factory) -> Path:
    """The publication fixture laid out as a run: reports/tables and data/derived."""
    root = tmp_path_factory.mktemp("traced")
    shutil.copytree(publication_reports / "reports" / "tables", root / "reports" / "tables")
    shutil.copytree(FIX / "stats", root / "data" / "derived" / "stats")
    shutil.copytree(FIX / "ingest", root / "data" / "derived" / "ingest")
    return root


def _cells(root: Path, key: str, label_cols: int) -> list[tuple[str, str, str]]:
    df = pd.read_csv(root / "reports" / "tables" / f"{key}.csv", dtype=str, keep_default_na=False)
    out = []
    for _, row in df.iterrows():
        label = " | ".join(row[c] for c in df.columns[:label_cols])
        for c in df.columns[label_cols:]:
            out.append((label, c, row[c]))
    return out


def _two(x: str) -> str:
    return f"{float(x):.2f}".replace("-0.00", "0.00")


def test_sampled_numbers_trace_to_rows_that_round_to_them(run_dir, publication_config):
    rng = random.Random(14)
    checked = 0
    for key, number in (("table2_service_users", "Table 2"), ("table3_care_coordinators", "Table 3")):
        cells = _cells(run_dir, key, 2)
        for label, column, shown in rng.sample(cells, 12):
            t = trace(f"{number} | {label} | {column}", publication_config, run_dir)
            v = t["derived"]["values"]
            assert t["derived"]["file"].endswith(("descriptives.csv", "anova.csv"))
            if t["derived"]["file"].endswith("descriptives.csv"):
                assert shown == f"{_two(v['mean'])} ({_two(v['sem'])})", (label, column)
                assert t["rule"] == "distributions" and "describe" in t["function"]
                assert v["site"] in column
            else:
                assert shown.startswith(f"F({int(float(v['df1']))}, {int(float(v['df2']))}) = {_two(v['F'])}")
                assert t["rule"] == "compare_sites" and "oneway_anova" in t["function"]
            assert v["threshold"] == str(float(publication_config["scoring"]["primary_threshold"]))
            assert "scoring" in t["config_keys"]
            # the line number points at that row of the file
            lines = Path(t["derived"]["file"]).read_text().splitlines()
            assert lines[t["derived"]["line"] - 1].startswith(
                ",".join([v["group"], v["instrument"], v["scale"]])
            )
            checked += 1
    for label, column, shown in rng.sample(_cells(run_dir, "reliability", 2), 10):
        if column != "Cronbach's alpha":
            continue
        t = trace(f"Supplementary table S1 | {label} | {column}", publication_config, run_dir)
        assert shown == _two(t["derived"]["values"]["alpha"]) and t["rule"] == "reliability"
        checked += 1
    corr = [c for c in _cells(run_dir, "table4_correlations_service_users", 2) if c[0].endswith("| r")]
    for label, column, shown in rng.sample(corr, 5):
        t = trace(f"Table 4 | {label} | {column}", publication_config, run_dir)
        assert shown == f"{float(t['derived']['values']['r']):.3f}"
        checked += 1
    means = [c for c in _cells(run_dir, "ancova_means", 3) if c[1].endswith("Adj. mean (SE)")]
    for label, column, shown in rng.sample(means, 6):
        t = trace(f"Supplementary table S2 | {label} | {column}", publication_config, run_dir)
        v = t["derived"]["values"]
        assert shown == f"{_two(v['adj_mean'])} ({_two(v['se'])})" and t["rule"] == "ancova"
        assert "adjusted_means_weights" in t["config_keys"]["statistics"]
        checked += 1
    t = trace("Table 1 | Artois | Service users: returned", publication_config, run_dir)
    assert t["shown"] == re.search(r"(\d+) rows", t["derived"]["rows"]).group(1)
    assert checked >= 30


def test_ambiguous_or_unknown_queries_say_what_exists(run_dir, publication_config):
    with pytest.raises(TraceError, match="matches 3 rows .* name the section too"):
        trace("Table 2 Total Artois", publication_config, run_dir)
    with pytest.raises(TraceError, match="no report table starts the query"):
        trace("Table 9 RSA Total Artois", publication_config, run_dir)
    with pytest.raises(TraceError, match="not in the table"):
        trace("Table 2 | RSA | Total | Atlantis", publication_config, run_dir)


def test_console_command(run_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "cocapp", "trace", "Table 2 | RSA | Life goals | Artois",
         "--config", str(FIX / "config.yaml"), "--directory", str(run_dir)],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "derived file :" in proc.stdout and "stats/descriptives.csv, line" in proc.stdout
    assert "rule         : distributions" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "cocapp", "trace", "Table 2 Total Artois",
         "--config", str(FIX / "config.yaml"), "--directory", str(run_dir)],
        capture_output=True, text=True, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert bad.returncode == 1 and "cocapp trace: error:" in bad.stderr


# -- the report's hover traces (issue 14): every number of every table, followed back ------------------
@pytest.fixture(scope="module")
def traced_report(publication_reports, publication_config, run_cocapp, tmp_path_factory) -> dict:
    """The report stage on the publication fixture, given the derived files behind every table."""

    base = publication_reports
    # no pooled imputation results and no qualitative section in the publication fixture
    config = without_qualitative(without_imputation(publication_config))
    root = tmp_path_factory.mktemp("traced-report")
    (root / "verdict.json").write_text(
        (Path(__file__).parent / "fixtures" / "sensitivity" / "verdict_facts.json").read_text("utf-8")
    )
    out = root / "reports" / "report.html"
    raw = [FIX / "ingest" / "service_users_reconciliation.csv"]
    args = publication_report_args(base, config, out, root / "verdict.json", raw)
    # the report's own manifest (as beside its log in a workflow run): the versions shown trace to it
    logs = root / "data" / "derived" / "logs"
    logs.mkdir(parents=True)
    before = os.environ.get("COCAPP_MANIFEST")
    os.environ["COCAPP_MANIFEST"] = str(logs / "report.manifest.json")
    try:
        assert run_cocapp("report", config, *args) == 0
    finally:
        if before is None:
            del os.environ["COCAPP_MANIFEST"]
        else:
            os.environ["COCAPP_MANIFEST"] = before
    return dict(html=out.read_text("utf-8"), root=root, args=args)


def test_every_number_of_the_report_traces_to_a_derived_row_showing_it(traced_report):
    """Each number of each table of the report (hover: ``data-t`` on the cell, or on its row with the
    column's ``data-c``) leads to a derived file and line whose value, rounded as displayed, is the
    number shown (or to a count of rows); the sources name the rule, function and config keys."""
    from report_traces import check_report, parse

    checked, untraced = check_report(traced_report["html"], traced_report["root"])
    expected = {
        "table1_returns", "table2_service_users", "table3_care_coordinators",
        "table4_correlations_service_users", "reliability", "ancova_means", "analysis-assumptions",
        "analysis-correlations", "analysis-correlations-sites", "analysis-tukey-significant",
        "analysis-tukey-all", "published-summary", "published-comparison", "published-consistency",
        "provenance-inputs", "provenance-versions",
    }  # fmt: skip
    assert expected <= set(checked), expected - set(checked)
    assert sum(checked.values()) > 1000
    assert untraced == set()
    _, sources = parse(traced_report["html"])
    assert sources["src"]["descriptives"][1:] == ["distributions", sources["src"]["descriptives"][2]]
    keys = [sources["keys"][i] for i in sources["rules"]["distributions"]]  # shared key=value list
    assert "scoring.thresholds=[0.0,0.2,0.3,0.4,0.5]" in keys
    assert sources["src"]["service_users_reconciliation"][1] == "ingest:service_users"
    assert "describe" in sources["src"]["descriptives"][2]


def test_a_trace_that_leads_to_another_value_fails(traced_report, tmp_path):
    """The check is real: one derived value changed beyond the displayed rounding (a copy of the files)
    is caught at the table that shows it."""
    from report_traces import check_report

    html = traced_report["html"]
    src = FIX / "stats" / "descriptives.csv"
    copy = tmp_path / "descriptives.csv"
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    df.loc[5, "mean"] = str(float(df.loc[5, "mean"]) + 0.02)
    df.to_csv(copy, index=False)
    tampered = html.replace(f'"{src}"', f'"{copy}"')
    assert tampered != html
    with pytest.raises(AssertionError, match=r"descriptives\|7\|mean,sem"):
        check_report(tampered, traced_report["root"])


def test_console_trace_of_the_analyses_and_audit_tables(traced_report, publication_config):
    """``cocapp trace`` answers for the A* and C* tables too, from the report's own traces: sampled
    cells of each, named by their row labels and column header, lead to the line showing the number."""
    from report_traces import parse, shows

    rng = random.Random(1414)
    tables, _ = parse(traced_report["html"])
    checked = 0
    for t in tables:
        if not t["id"].startswith(("analysis-", "published-")):
            continue
        number = t["caption"].split(". ", 1)[0]
        heads = [c["text"] for c in t["header"][0]["cells"]]
        traced = [j for j, c in enumerate(t["header"][0]["cells"]) if c["column"]]
        traced += [j for r in t["rows"] for j, c in enumerate(r["cells"]) if c["trace"]]
        first = min(traced)
        rows = [r for r in t["rows"] if any(ch.isdigit() for c in r["cells"][first:] for ch in c["text"])]
        for r in rng.sample(rows, min(3, len(rows))):
            j = rng.choice(sorted({k for k in traced if any(ch.isdigit() for ch in r["cells"][k]["text"])}))
            labels = [c["text"].strip() for c in r["cells"][:first] if c["text"].strip()]
            query = " | ".join([number, *labels, heads[j]])
            got = trace(query, publication_config, traced_report["root"])
            assert got["table_key"] == t["id"] and got["shown"] == r["cells"][j]["text"].strip(), query
            d = got["derived"]
            if d.get("line"):
                assert all(
                    shows(got["shown"], d["values"][c]) for c in d["column"].split(",") if d["values"][c]
                )
            else:
                assert "(counted)" in d["rows"]
            rules = ("missingness", "distributions", "compare_sites", "ancova", "audit")
            assert got["rule"] in rules and got["function"] and got["config_keys"]
            checked += 1
    assert checked >= 15


def test_console_trace_of_the_provenance_tables(traced_report, publication_config):
    """``cocapp trace`` answers for the provenance tables too: an input file's size leads to the file
    itself, a package version to the report's own manifest (JSON entry and key), each with its rule,
    function and config keys."""
    import json

    from cocapp.presentation.trace import format_trace

    root = traced_report["root"]
    got = trace("provenance-versions | pandas | Version", publication_config, root)
    manifest = json.loads((root / "data" / "derived" / "logs" / "report.manifest.json").read_text())
    assert got["shown"] == manifest["software"]["pandas"] == got["derived"]["values"]["pandas"]
    assert got["derived"]["rows"] == "JSON /software" and got["rule"] == "report"
    assert "stage_manifest" in got["function"] and "study" in got["config_keys"]
    raw = FIX / "ingest" / "service_users_reconciliation.csv"
    got = trace(f"provenance-inputs | {raw} | Bytes", publication_config, root)
    assert got["shown"] == str(raw.stat().st_size) == got["derived"]["values"]["bytes"]
    assert got["derived"]["rows"] == "the file itself" and "read_inputs" in got["function"]
    assert "the file itself" in format_trace(got)
