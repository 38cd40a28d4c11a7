"""End to end: run snakemake on the tiny two-site fixture study in a temporary directory.

The workflow runs as a user runs it from another folder: ``-s <repo>/Snakefile --directory <study>`` with
the repository's workflow profile (``profiles/default``: a failed stage's log on the console), and the
stages it calls (``cocapp <stage>``) import this checkout's package.
"""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.contracts import CONTRACTS, read, read_json

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "fixtures" / "tiny"
GROUPS = ("users", "staff")


def derived_files(work: Path) -> list[str]:
    """Every file under data/derived except the logs, relative to the study folder."""
    derived = work / "data" / "derived"
    files = [p for p in derived.rglob("*") if p.is_file() and "logs" not in p.relative_to(derived).parts]
    return sorted(p.relative_to(work).as_posix() for p in files)


@pytest.fixture(scope="module")
def run(tmp_path_factory, run_snakemake):
    work = tmp_path_factory.mktemp("tiny")
    shutil.copytree(TINY, work, dirs_exist_ok=True)
    proc = run_snakemake(work, "--cores", "2", "--configfile", str(work / "config.yaml"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return work


def score(scores: pd.DataFrame, rid: str, instrument: str, scale: str, threshold: str) -> float:
    sel = scores[
        (scores.id == rid)
        & (scores.instrument == instrument)
        & (scores.scale == scale)
        & (scores.threshold == threshold)
    ]
    assert len(sel) == 1
    return float(sel.score.iloc[0])


def test_scores_match_hand_computed_values(run):
    users = pd.read_csv(run / "data/derived/scores/users.csv", dtype={"id": str, "threshold": str})
    staff = pd.read_csv(run / "data/derived/scores/staff.csv", dtype={"id": str, "threshold": str})
    # U01 RSA choice: items 3 (=8) and 6 (=9) missing; 7, 13, 29 answered 3, 3, 4
    assert score(users, "U01", "RSA", "choice", "0.5") == pytest.approx(10 / 3, rel=1e-15)
    assert score(users, "U01", "RSA", "choice", "0.4") == pytest.approx(10 / 3, rel=1e-15)  # floor(2.0) = 2
    assert np.isnan(score(users, "U01", "RSA", "choice", "0.2"))  # floor(1.0) = 1 < 2 missing
    # U02 STAR-P: item 4 empty; items 8 and 12 answered 4 -> reversed 0 -> prorated sum 0
    assert score(users, "U02", "STAR-P", "non_supportive_clinician_input", "0.4") == 0.0
    assert np.isnan(score(users, "U02", "STAR-P", "non_supportive_clinician_input", "0.2"))
    # U02 STAR-P total: answered keyed items sum to 26 over 11 items -> 26 / 11 x 12
    assert score(users, "U02", "STAR-P", "total", "0.2") == pytest.approx(312 / 11, rel=1e-15)
    assert np.isnan(score(users, "U02", "STAR-P", "total", "0.0"))
    # U03 answered no RSA item: no RSA rows at all
    assert users[(users.id == "U03") & (users.instrument == "RSA")].empty
    # S01 life goals: five 9s, answered 3, 3, 4, 5, 5
    assert score(staff, "S01", "RSA", "life_goals", "0.5") == 4.0
    assert np.isnan(score(staff, "S01", "RSA", "life_goals", "0.4"))
    assert sorted(users.threshold.unique()) == ["0.0", "0.2", "0.4", "0.5"]


def test_every_stage_writes_its_outputs(run):
    from cocapp.config import load_config
    from cocapp.workflow import Workflow

    w = Workflow(load_config(run / "config.yaml"))
    reports = [*w.final_targets(), *w.table_files(), *w.figure_files(), *w.sensitivity_figures()]
    assert [t for t in reports if not (run / t).is_file()] == []
    assert not (run / "reports/tables/published_comparison.csv").exists()  # no published reference
    # data/derived holds exactly the contracted intermediate files and the sensitivity outputs, each
    # readable under its contract; nothing else (no per-threshold parts, no effective config)
    contracted = {
        name: [c.file.format(group=g) for g in GROUPS] if "{group}" in c.file else [c.file]
        for name, c in CONTRACTS.items()
        # the tiny study has no qualitative arm and no published reference (so no audit)
        if not c.file.startswith(("qualitative/", "reports/"))
    }
    # every CSV is contracted (issue 12 point 4); besides them only the verdict (its JSON has a schema)
    sensitivity = ["sensitivity/verdict.md", "sensitivity/verdict.json"]
    expected = [f"data/derived/{f}" for files in contracted.values() for f in files] + [
        f"data/derived/{f}" for f in sensitivity
    ]
    assert derived_files(run) == sorted(expected)
    for name, files in contracted.items():
        for f in files:
            read(name, run / "data/derived" / f)  # ContractError if a file breaks its contract
    read_json("verdict", run / "data/derived/sensitivity/verdict.json")  # and the verdict its schema
    assert not (run / "config").exists()
    # one log per job: ingest, score x 2, reliability, missingness, distributions, compare_sites,
    # ancova, sensitivity, impute, tables, figures, report
    entries = sorted(p.name for p in (run / "data/derived/logs").iterdir())
    logs = [n for n in entries if n.endswith(".log")]
    # and beside each log the job's provenance manifest, status ok (issue 14)
    manifests = [n for n in entries if n.endswith(".manifest.json")]
    assert sorted(logs + manifests) == entries
    assert manifests == sorted(n[: -len(".log")] + ".manifest.json" for n in logs)
    for n in manifests:
        assert json.loads((run / "data/derived/logs" / n).read_text())["status"] == "ok", n
    assert logs == sorted(
        [
            "ingest.log",
            "score_users.log",
            "score_staff.log",
            "reliability.log",
            "missingness.log",
            "distributions.log",
            "compare_sites.log",
            "ancova.log",
            "sensitivity.log",
            "impute.log",
            "tables.log",
            "figures.log",
            "report.log",
        ]
    )
    anova = read("anova", run / "data/derived/stats/anova.csv")
    # 2 groups: users 10 outcomes, staff 6 outcomes, at 4 thresholds
    assert len(anova) == (10 + 6) * 4
    assert set(anova.threshold) == {"0.0", "0.2", "0.4", "0.5"}
    summary = pd.read_csv(run / "data/derived/sensitivity/summary.csv", dtype={"threshold": str})
    assert len(summary) == (10 + 6) * 4
    html = (run / "reports/report.html").read_text()
    assert "TEST FIXTURE: hand-made data" in html


def test_reconciliation_lists_every_raw_row(run):
    rec = pd.read_csv(
        run / "data/derived/ingest/users_reconciliation.csv", dtype={"id": str}, keep_default_na=False
    )
    raw = pd.read_csv(run / "data/raw/users.csv", dtype={"id": str})
    assert rec.id.tolist() == raw.id.tolist()
    assert rec.loc[rec.id == "U03", "RSA_status"].item() == "excluded"


def test_second_run_has_nothing_to_do(run, run_snakemake):
    proc = run_snakemake(run, "--cores", "1", "-n", "--configfile", str(run / "config.yaml"))
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def lint_messages(proc) -> set[str]:
    text = proc.stdout + proc.stderr
    return {m.rstrip(":") for m in re.findall(r"^    \* (.+)$", text, re.M)}


def test_lint_is_clean(run, run_snakemake):
    proc = run_snakemake(run, "--lint", "--configfile", str(run / "config.yaml"))
    assert lint_messages(proc) == set(), proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr


def test_lint_is_clean_for_the_default_config(run_snakemake):
    """The default config turns on rules the fixture does not (published audit, qualitative arm)."""
    proc = run_snakemake(ROOT, "--lint", "-n", timeout=300)
    assert lint_messages(proc) == set(), proc.stdout + proc.stderr
    assert "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_derived_files_are_deterministic(run, tmp_path, run_snakemake):
    again = tmp_path / "again"
    shutil.copytree(TINY, again)
    proc = run_snakemake(again, "--cores", "2", "--configfile", str(again / "config.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = derived_files(run), derived_files(again)
    assert first == second and first
    for rel in first:
        assert (run / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_bad_config_stops_the_run_naming_the_key(tmp_path, run_snakemake):
    work = tmp_path / "bad"
    shutil.copytree(TINY, work)
    cfg = (work / "config.yaml").read_text().replace("primary_threshold: 0.5", "primary_threshold: 0.35")
    (work / "config.yaml").write_text(cfg)
    proc = run_snakemake(work, "--cores", "1", "--configfile", str(work / "config.yaml"))
    assert proc.returncode != 0
    assert "key scoring.primary_threshold" in proc.stdout + proc.stderr
    assert not (work / "data/derived/ingest").exists()


def test_bad_data_stops_the_run_and_leaves_no_derived_data(tmp_path, run_snakemake):
    work = tmp_path / "baddata"
    shutil.copytree(TINY, work)
    raw = (work / "data/raw/staff.csv").read_text().replace("S04,South", "S04,Nowhere")
    (work / "data/raw/staff.csv").write_text(raw)
    proc = run_snakemake(work, "--cores", "2", "--configfile", str(work / "config.yaml"))
    assert proc.returncode != 0
    message = "data/raw/staff.csv: column 'site', data row 4: value 'Nowhere': site must be one of"
    # the stage's own message (file, column, row, value) is on the console, not only in its log
    assert message in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert message in (work / "data/derived/logs/ingest.log").read_text()
    assert derived_files(work) == []  # no derived output is left, not even of the valid group
