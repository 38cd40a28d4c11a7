"""Provenance (issue 14): a manifest per stage run beside its log, the report's list of them, stale
results marked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from stage_inputs import instrument_inputs, run_stats

from cocapp import provenance
from cocapp.stages.report import read_manifests
from cocapp.stages.runner import StageLog
from cocapp.stages.settings import settings_json

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
A_STATS = ("anova", "descriptives", "reliability", "correlations")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audit_argv(out: Path, config: dict, published: Path = PUBLISHED) -> list[str]:
    from cocapp.stages import STAGES

    stats = [x for name in A_STATS for x in (f"--{name}", str(FIX / "stats" / f"{name}.csv"))]
    recon = [str(FIX / "ingest" / f"{g}_reconciliation.csv") for g in config["groups"]]
    return [
        "--settings", settings_json(config, STAGES["audit"].settings), "--published", str(published), *stats,
        *run_stats("missingness", "normality"), "--reconciliation", *recon, *instrument_inputs(config),
        "--comparison", str(out / "published_comparison.csv"),
        "--consistency", str(out / "published_consistency.csv"),
    ]  # fmt: skip


def run_with_log(tmp_path: Path, argv: list[str]) -> tuple[int, Path]:
    """``cocapp audit`` as a Snakemake rule runs it: stderr to logs/audit.log."""
    log = tmp_path / "logs" / "audit.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("COCAPP_MANIFEST", None)
    with open(log, "w") as err:
        code = subprocess.run(
            [sys.executable, "-m", "cocapp", "audit", *argv], stderr=err, env=env
        ).returncode
    return code, log


def test_manifest_beside_the_log_hashes_every_input(tmp_path, publication_config):
    code, log = run_with_log(tmp_path, audit_argv(tmp_path / "out", publication_config))
    assert code == 0, log.read_text()
    m = json.loads((tmp_path / "logs" / "audit.manifest.json").read_text())
    assert m["stage"] == "audit" and m["rule"] == "audit" and m["status"] == "ok" and m["error"] is None
    assert m["command"].startswith("cocapp audit --settings ")
    inputs = {f["path"]: f for f in m["inputs"]}
    assert inputs[str(PUBLISHED)]["sha256"] == _sha(PUBLISHED)
    anova = FIX / "stats" / "anova.csv"
    assert inputs[str(anova)]["sha256"] == _sha(anova) and inputs[str(anova)]["bytes"] == anova.stat().st_size
    # package data the stage declares: the instrument files with their provisional keys
    package = {f["path"]: f for f in m["package_data"]}
    rsa = ROOT / "src" / "cocapp" / "instruments" / "RSA.yaml"
    assert package["instruments/RSA.yaml"]["sha256"] == _sha(rsa)
    outputs = {Path(o["path"]).name: o for o in m["outputs"]}
    cmp_ = tmp_path / "out" / "published_comparison.csv"
    assert outputs["published_comparison.csv"]["sha256"] == _sha(cmp_)
    assert outputs["published_comparison.csv"]["rows"] == len(pd.read_csv(cmp_))
    assert {"path": str(anova), "rows": len(pd.read_csv(anova))} in m["rows_read"]
    assert "scoring.primary_threshold" in m["settings_read"]
    assert m["settings"]["scoring"]["primary_threshold"] == publication_config["scoring"]["primary_threshold"]
    assert m["software"]["pandas"] == pd.__version__
    assert len(m["code"]["commit"] or "") in (0, 40) and m["code"]["dirty"] in (True, False, None)
    assert m["started"] <= m["finished"] and m["seconds"] >= 0


def test_failed_stage_writes_a_failed_manifest_and_no_output(tmp_path, publication_config):
    bad = tmp_path / "published.yaml"
    bad.write_text("- not a mapping\n")
    code, log = run_with_log(tmp_path, audit_argv(tmp_path / "out", publication_config, bad))
    assert code == 1
    m = json.loads((tmp_path / "logs" / "audit.manifest.json").read_text())
    assert m["status"] == "failed" and "expected a mapping" in m["error"]
    assert m["outputs"] == [] and not (tmp_path / "out").exists()


def test_no_manifest_when_stderr_is_not_a_file():
    assert provenance.manifest_path(io.StringIO()) is None


def test_report_lists_manifests_and_finds_stale_outputs(tmp_path, publication_config):
    """The report reads the manifests it is given (no folder is listed): a missing or malformed one is
    an error naming it. It hashes again only the files it was given; an output another stage read is
    checked against the hash that stage recorded."""
    code, _ = run_with_log(tmp_path, audit_argv(tmp_path / "out", publication_config))
    assert code == 0
    out = tmp_path / "reports" / "report.html"
    log = StageLog("report", io.StringIO())
    audit = str(tmp_path / "logs" / "audit.manifest.json")
    comparison = str(tmp_path / "out" / "published_comparison.csv")
    rows, issues = read_manifests([audit], str(out), [comparison], log)
    assert [r["rule"] for r in rows] == ["audit"] and issues == []
    assert rows[0]["link"] == "../logs/audit.manifest.json"
    assert any(f["path"] == "cocapp/instruments/RSA.yaml" for f in rows[0]["inputs"])
    # an output edited after its stage wrote it, and a failed stage, make the results stale
    with open(comparison, "a") as fh:
        fh.write("edited\n")
    failed = json.loads((tmp_path / "logs" / "audit.manifest.json").read_text()) | {
        "rule": "score_users", "status": "failed", "error": "bad value", "outputs": []
    }  # fmt: skip
    score = tmp_path / "logs" / "score_users.manifest.json"
    score.write_text(json.dumps(failed))
    _, issues = read_manifests([audit, str(score)], str(out), [comparison], log)
    assert any("published_comparison.csv changed after audit wrote it" in i for i in issues)
    assert any("stage score_users failed in its last run: bad value" in i for i in issues)
    # not given to the report, but read by a later stage: compared with the hash that stage recorded
    reader = json.loads(Path(audit).read_text()) | {"rule": "report_like", "stage": "tables", "outputs": []}
    reader["inputs"] = [{"path": comparison, "sha256": "0" * 64, "bytes": 1}]
    later = tmp_path / "logs" / "later.manifest.json"
    later.write_text(json.dumps(reader))
    _, issues = read_manifests([audit, str(later)], str(out), [], log)
    assert issues == [f"{comparison} changed after audit wrote it (report_like read another)"]
    # a manifest given must exist and be one
    with pytest.raises(FileNotFoundError, match="none.manifest.json: stage manifest not found"):
        read_manifests([str(tmp_path / "none.manifest.json")], str(out), [], log)
    later.write_text("{not json")
    with pytest.raises(ValueError, match="later.manifest.json: not a readable stage manifest"):
        read_manifests([str(later)], str(out), [], log)


def test_mark_stale_banners_the_report_once(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<html><body>\n<p>results</p></body></html>")
    assert provenance.mark_stale(report, "see .snakemake/log/x.log")
    text = report.read_text()
    assert 'id="stale-banner"' in text and "STALE REPORT" in text and "see .snakemake/log/x.log" in text
    assert not provenance.mark_stale(report, "again")
    assert report.read_text() == text
    assert not provenance.mark_stale(tmp_path / "missing.html", "x")
