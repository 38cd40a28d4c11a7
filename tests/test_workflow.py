"""The workflow around the stages: jobs, rerun parameters, settings, code hashes, console errors.

A module-scoped run of the default study in a temporary copy of the repository (its own ``src``
first on PYTHONPATH, so a test may edit the copy's code) is followed by dry runs after one change
each; the jobs Snakemake would rerun must be exactly the stages that read the changed setting or
run the changed code, and the stages downstream of their outputs.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from cocapp.stages import STAGES
from cocapp.stages.runner import run_stage
from cocapp.stages.settings import expand_keys, pick
from cocapp.workflow import module_closure

ROOT = Path(__file__).resolve().parents[1]
COPY = (
    "Snakefile",
    "config.yaml",
    "profiles",
    "envs",
    "src",
    "data/raw",
    "data/published",
    # the synthetic data's calibration (config study.calibration; issue 14)
    "reports/synthetic_calibration.csv",
    "reports/synthetic_calibration.md",
)


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # no PYTHONPATH: the Snakefile itself reads the copy's src (not the installed cocapp), so an edit
    # of the copy's code changes the code hashes of the stages that run it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def jobs_to_run(workdir: Path) -> set[str]:
    """Rule names of the jobs a dry run would execute (``all`` left out)."""
    out = snakemake(workdir, "-n").stdout
    if "Nothing to be done" in out:
        return set()
    table = out[out.index("Job stats:") :]
    names = re.findall(r"^(\w+)\s+\d+$", table, re.M)
    return {n for n in names if n not in ("all", "total")}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """The default study, run to completion in a copy of the repository."""
    work = tmp_path_factory.mktemp("study")
    for name in COPY:
        src, dst = ROOT / name, work / name
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
    snakemake(work)
    return work


@pytest.fixture()
def changed(study):
    """Apply a change to the study copy for one test, and undo it afterwards."""
    saved: dict[Path, bytes] = {}

    def change(rel: str, edit) -> None:
        path = study / rel
        saved.setdefault(path, path.read_bytes())
        path.write_text(edit(path.read_text("utf-8")), "utf-8")

    yield change
    for path, data in saved.items():
        path.write_bytes(data)


def set_config(key: str, value):
    """An edit of config.yaml setting the dotted ``key`` to ``value``."""

    def edit(text: str) -> str:
        cfg = yaml.safe_load(text)
        node = cfg
        *parents, last = key.split(".")
        for p in parents:
            node = node[p]
        node[last] = value
        return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)

    return edit


# -- the shape of the workflow ---------------------------------------------------------------------
def test_one_job_per_stage_and_group(study):
    forced = snakemake(study, "-n", "-F").stdout
    table = forced[forced.index("Job stats:") :]
    counts = {n: int(c) for n, c in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert counts.pop("total") == 19  # 17 + qualitative_workbook + impute
    assert counts.pop("all") == 1
    assert counts.pop("score") == 2  # one per group
    assert set(counts.values()) == {1}
    assert {"compare_sites", "ancova"} <= set(counts)


def test_second_run_has_nothing_to_do(study):
    assert jobs_to_run(study) == set()


def test_parsing_writes_nothing_and_imports_nothing_heavy(study):
    before = sorted(p for p in study.rglob("*") if ".snakemake" not in p.parts)
    snakemake(study, "-n")
    snakemake(study, "--lint", check=False)
    assert sorted(p for p in study.rglob("*") if ".snakemake" not in p.parts) == before
    probe = (
        "import sys; import cocapp.workflow, cocapp.config, cocapp.presentation.outputs; "
        "print(sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'scipy') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(study / "src")}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_stage_logs_what_it_did(study):
    logs = sorted((study / "data" / "derived" / "logs").glob("*.log"))
    assert len(logs) == 18  # 16 + qualitative_workbook + impute
    for log in logs:
        text = log.read_text("utf-8")
        assert re.search(r"read .+ \(\d+ rows\)|\d+ (respondents|raw rows|segments|table files)", text), (
            log.name
        )
        assert re.search(r"wrote .+ \(\d+ (rows|bytes|characters)\)", text), log.name
        assert re.search(r"done in [0-9.]+ s, \d+ warning\(s\)", text), log.name


# -- rerun exactly what a change affects -----------------------------------------------------------
def test_acceptable_alpha_reruns_reliability_and_what_reads_it(study, changed):
    changed("config.yaml", set_config("statistics.acceptable_alpha", 0.8))
    # reliability reads the setting; tables shows it; sensitivity and audit read reliability.csv;
    # the report shows the whole configuration
    assert jobs_to_run(study) == {"reliability", "tables", "sensitivity", "audit", "report"}


def test_reference_site_reruns_only_figures_and_report(study, changed):
    changed("config.yaml", set_config("statistics.post_hoc.reference_site", "Artois"))
    assert jobs_to_run(study) == {"figures", "report"}


def test_ancova_post_hoc_reruns_ancova_and_what_displays_it(study, changed):
    changed("config.yaml", set_config("statistics.post_hoc.ancova", "bonferroni"))
    # sensitivity and tables read ancova.csv / ancova_means.csv
    assert jobs_to_run(study) == {"ancova", "sensitivity", "tables", "report"}


def test_significance_level_reruns_the_stages_that_use_it(study, changed):
    changed("config.yaml", set_config("statistics.significance_level", 0.01))
    # the stages that declare statistics.significance_level, and the report (which shows the config)
    assert jobs_to_run(study) == {
        "compare_sites",
        "ancova",
        "sensitivity",
        "impute",
        "joint_display",
        "tables",
        "figures",
        "audit",
        "report",
    }


def test_imputation_off_drops_the_impute_stage_and_its_inputs(study, changed):
    """imputation.enabled: false (e.g. a national-scale study): no impute job, and sensitivity runs
    without the pooled results (the threshold analysis alone, as before the imputation stage)."""
    changed("config.yaml", set_config("imputation.enabled", False))
    dry = snakemake(study, "-n", "-F", "-p").stdout
    assert "rule impute:" not in dry and "localrule impute:" not in dry
    sensitivity = next(line for line in dry.splitlines() if "cocapp sensitivity " in line)
    assert "--mi-means" not in sensitivity and "mi_site_means" not in sensitivity


def test_per_group_rules_carry_only_their_groups_settings():
    from cocapp.config import load_config
    from cocapp.workflow import Workflow

    config = load_config(ROOT / "config.yaml")
    params = Workflow(config).settings("score", per_group=True)

    class Wildcards:
        group = "care_coordinators"

    assert list(json.loads(params(Wildcards))["groups"]) == ["care_coordinators"]


def test_editing_anova_reruns_the_stages_that_use_it(study, changed):
    changed("src/cocapp/stats/anova.py", lambda text: text + "\n# an edit\n")
    # compare-sites, sensitivity and impute import stats/anova.py; tables, figures, audit and the
    # joint display read compare-sites' outputs; the report reads everything
    assert jobs_to_run(study) == {
        "compare_sites",
        "sensitivity",
        "impute",
        "tables",
        "figures",
        "audit",
        "joint_display",
        "report",
    }


def test_editing_the_report_template_reruns_only_the_report(study, changed):
    changed("src/cocapp/presentation/templates/report.html.j2", lambda text: text + "\n")
    assert jobs_to_run(study) == {"report"}


def test_editing_the_verdict_template_reruns_the_sensitivity_stage_and_the_report(study, changed):
    changed("src/cocapp/presentation/templates/verdict.j2", lambda text: text + "\n")
    # verdict.md is rendered by the sensitivity stage, the report's verdict section by the report
    assert jobs_to_run(study) == {"sensitivity", "report"}


def test_editing_the_entry_point_reruns_every_stage(study, changed):
    changed("src/cocapp/cli.py", lambda text: text + "\n# an edit\n")
    # every job runs `python -m cocapp <stage>`: all 17 rules but `all` (score once per group)
    assert len(jobs_to_run(study)) == 17


def test_code_closure_follows_imports():
    compare = {p.name for p in module_closure("cocapp.stages.compare_sites")}
    ancova = {p.name for p in module_closure("cocapp.stages.ancova")}
    assert {"anova.py", "posthoc.py", "compare.py"} <= compare
    assert {"ancova.py", "adjusted.py"} <= ancova
    assert "anova.py" not in ancova


# -- declared settings are exactly what each stage reads -------------------------------------------
def test_each_stage_reads_exactly_its_declared_settings(study, tmp_path, monkeypatch):
    """Run every job's command in-process under the guarded settings (in a copy of the finished
    study, as the stages rewrite their outputs): an undeclared key raises, and every declared key
    must be read: the key itself or a key below it (reading a section only to look a key up in it does
    not count as reading the section's other keys)."""
    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    monkeypatch.chdir(copy)
    config = yaml.safe_load((study / "config.yaml").read_text("utf-8"))
    from cocapp.config import with_defaults

    config = with_defaults(config)
    dry = snakemake(study, "-n", "-F", "-p").stdout
    commands = [line.removeprefix("Shell command: ") for line in dry.splitlines() if "cocapp " in line]
    commands = [c for c in commands if c.startswith("cocapp ")]
    assert len(commands) == 18  # 16 + qualitative-workbook + impute
    never_read: dict[str, list[str]] = {}
    for command in commands:
        argv = shlex.split(command.split(" 2> ")[0])[1:]
        stage = argv[0]
        read: set = set()
        log = io.StringIO()
        assert run_stage(stage, argv[1:], stream=log, read_settings=read) == 0, log.getvalue()
        group = argv[argv.index("--group") + 1] if "--group" in argv else None
        declared = expand_keys(config, STAGES[stage].settings, group)
        unread = [".".join(d) for d in declared if not any(r[: len(d)] == d for r in read)]
        if unread:
            never_read[stage] = unread
    assert never_read == {}, f"declared but never read: {never_read}"


# -- every file a stage opens is on its command line (issue 12) ------------------------------------
_OPENED: list | None = None  # (event, path, mode, phase) recorded while a stage runs; None: not recording
_PHASE = ["stage"]  # "manifest" while the runner writes the provenance manifest


def _record(event: str, args: tuple) -> None:
    if _OPENED is None or event not in ("open", "os.listdir", "os.scandir", "glob.glob"):
        return
    path = args[0] if args else None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, (str, os.PathLike)):
        mode = args[1] if event == "open" and len(args) > 1 else None
        _OPENED.append((event, os.fspath(path), mode, _PHASE[0]))


_HOOKED: list = []


def _read(mode, flags) -> bool:
    """Whether an ``open`` event reads (mode ``r``/``rb``, or flags without write access)."""
    if isinstance(mode, str):
        return not any(c in mode for c in "wax+")
    return isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR) == 0


def stage_commands(study: Path) -> list[list[str]]:
    """The argument vector of every job of a forced dry run (``cocapp <stage> ...``), one worker each
    (a forked worker's file opens are not seen by this process's audit hook)."""
    dry = snakemake(study, "-n", "-F", "-p").stdout
    commands = [line.removeprefix("Shell command: ") for line in dry.splitlines() if "cocapp " in line]
    out = []
    for command in (c for c in commands if c.startswith("cocapp ")):
        argv = shlex.split(command.split(" 2> ")[0])[1:]
        if "--workers" in argv:
            argv[argv.index("--workers") + 1] = "1"
        out.append(argv)
    return out


def test_each_stage_opens_only_the_files_on_its_command_line(study, tmp_path, monkeypatch):
    """Run every job's command in-process (in a copy of the finished study) with an audit hook recording
    the files it opens and the folders it lists: every file under the study folder a stage reads is on
    its command line (its outputs are written through temporary files, its package data lies outside the
    study), no stage lists a folder of the study, and no stage finds a built-in instrument file itself
    or searches instrument_paths (the files come from --instruments). The provenance manifest is
    written too (COCAPP_MANIFEST), so its hashing is covered. (Files opened by C libraries, such as
    ReadStat reading a .sav file, raise no audit event; those stages give the path to the library.)"""
    global _OPENED
    from cocapp import instruments as I

    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    monkeypatch.chdir(copy)
    monkeypatch.setenv("COCAPP_MANIFEST", str(tmp_path / "manifest.json"))
    if not _HOOKED:
        sys.addaudithook(_record)
        _HOOKED.append(True)
    searched: list = []
    real = I.instrument_file

    def instrument_file(key, search_paths=()):
        if not isinstance(search_paths, Mapping):
            searched.append((key, list(search_paths)))
        return real(key, search_paths)

    monkeypatch.setattr(I, "instrument_file", instrument_file)
    from cocapp.stages import runner

    real_manifest = runner._manifest

    def manifest(*args, **kwargs):  # hashes the package data (built-in instrument files among them)
        _PHASE[0] = "manifest"
        try:
            return real_manifest(*args, **kwargs)
        finally:
            _PHASE[0] = "stage"

    monkeypatch.setattr(runner, "_manifest", manifest)
    root = copy.resolve()
    builtins = I.builtin_instrument_dir().resolve()
    commands = stage_commands(copy)
    assert len(commands) == 18
    problems: dict[str, list] = {}
    for argv in commands:
        stage = argv[0]
        given = {Path(a).resolve() for a in argv[1:] if not a.startswith("--")}
        log = io.StringIO()
        _OPENED, searched[:] = [], []
        try:
            code = run_stage(stage, argv[1:], stream=log)
        finally:
            opened, _OPENED = _OPENED, None
        assert code == 0, log.getvalue()
        job = " ".join(argv[:3]) if "--group" in argv else stage
        for event, path, mode, phase in opened:
            p = Path(path).resolve()
            if event != "open":
                if p.is_relative_to(root):
                    problems.setdefault(job, []).append(f"{event} {path}")
            elif phase == "stage" and p.is_relative_to(builtins) and p.suffix == ".yaml":
                problems.setdefault(job, []).append(f"found the built-in instrument file {path}")
            elif p.is_relative_to(root) and p not in given and _read(mode, mode):
                problems.setdefault(job, []).append(f"read {path}, not on its command line")
        if searched:
            problems.setdefault(job, []).append(f"searched instrument_paths for {searched}")
    assert problems == {}


def test_the_report_without_a_statistics_file_is_an_error_naming_it(study, tmp_path, monkeypatch):
    """A run of the report without games_howell.csv or mcar.csv (as its rule gives them) fails with a
    message naming the file, and writes no report: never a smaller report."""
    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    monkeypatch.chdir(copy)
    report = next(argv for argv in stage_commands(copy) if argv[0] == "report")
    before = (copy / "reports" / "report.html").read_bytes()
    for name, option in (("games_howell", "--games-howell"), ("mcar", "--mcar")):
        path = copy / "data" / "derived" / "stats" / f"{name}.csv"
        saved = path.read_bytes()
        path.unlink()
        log = io.StringIO()
        assert run_stage("report", report[1:], stream=log) == 1
        assert f"{option}: data/derived/stats/{name}.csv: file not found" in log.getvalue()
        assert (copy / "reports" / "report.html").read_bytes() == before
        path.write_bytes(saved)
    # left out of the command line: the option is required
    i = report.index("--mcar")
    with pytest.raises(SystemExit):
        run_stage("report", report[1:i] + report[i + 2 :], stream=io.StringIO())


def test_pick_takes_exactly_the_declared_keys():
    config = {"a": {"b": 1, "c": 2}, "groups": {"g": {"x": 1, "y": 2}, "h": {"x": 3}}, "d": 4}
    assert pick(config, ["a.b", "groups.*.x"]) == {"a": {"b": 1}, "groups": {"g": {"x": 1}, "h": {"x": 3}}}
    assert pick(config, ["groups.*.x"], group="h") == {"groups": {"h": {"x": 3}}}
    assert pick(config, ["a.missing"]) == {}


# -- errors on the console -------------------------------------------------------------------------
def test_a_bad_raw_value_is_reported_on_the_console(study, tmp_path):
    work = tmp_path / "bad"
    for name in COPY:
        src, dst = study / name, work / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
    raw = work / "data" / "raw" / "service_users.csv"
    lines = raw.read_text("utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("rsa_05")
    row = lines[3].split(",")
    row[col] = "77"
    lines[3] = ",".join(row)
    raw.write_text("\n".join(lines) + "\n", "utf-8")
    changed_cfg = set_config("groups.service_users.raw", "data/raw/service_users.csv")
    cfg = work / "config.yaml"
    cfg.write_text(changed_cfg(cfg.read_text("utf-8")), "utf-8")
    proc = snakemake(work, "ingest", check=False)
    console = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "service_users.csv" in console and "rsa_05" in console and "77" in console
    assert "data row 3" in console, console[-2000:]  # lines[3] is line 4 of the file, data row 3
    assert not (work / "data" / "derived" / "ingest" / "service_users_items.csv").exists()
