"""Fixtures shared by the test modules.

* the configs of the default study and of the fixture studies (``tests/fixtures/*/config.yaml``,
  validated, defaults filled in) -- shared: copy (``copy.deepcopy``) before changing one;
* the hand-set statistics of the publication and sensitivity fixtures and the R-reference inputs of
  the measurement tests, read the way the stages read them (:func:`cocapp.contracts.read`): the
  session-wide tables are shared (never change them), the function-scoped ones are each test's copies;
* ``cocapp_stage``: run ``cocapp <stage>`` in-process exactly as a Snakefile rule does, with
  ``--settings`` made from a config by :func:`cocapp.stages.settings.settings_json`;
* ``run_snakemake``: the repository's workflow on a study folder, as a user runs it from elsewhere;
* ``documented_columns``: the columns docs/outputs.md lists for a file (for the publication outputs,
  which have no contract in :mod:`cocapp.contracts`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from stage_inputs import run_stats

from cocapp.config import load_config, validate_config, with_defaults
from cocapp.contracts import read

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
TINY = FIXTURES / "tiny"
PUBLICATION = FIXTURES / "publication"
SENSITIVITY = FIXTURES / "sensitivity"
MEASUREMENT = ROOT / "tests" / "reference" / "inputs"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"

PUBLICATION_STATS = (
    "anova",
    "descriptives",
    "reliability",
    "correlations",
    "ancova",
    "ancova_means",
    "tukey",
)
SENSITIVITY_STATS = ("anova", "ancova", "tukey", "descriptives", "reliability")


def _copies(frames: dict) -> dict:
    return {key: frame.copy() for key, frame in frames.items()}


# -- configs ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def default_config() -> dict:
    """The shipped ``config.yaml`` (the embedded synthetic COCAPP study)."""
    return load_config(ROOT / "config.yaml")


@pytest.fixture(scope="session")
def tiny_config() -> dict:
    """The tiny two-site, two-group fixture study (its raw paths are relative to ``tests/fixtures/tiny``)."""
    return load_config(TINY / "config.yaml")


@pytest.fixture(scope="session")
def publication_config() -> dict:
    """The publication tests' config: a copy of the default config."""
    return load_config(PUBLICATION / "config.yaml")


@pytest.fixture(scope="session")
def sensitivity_config() -> dict:
    """The sensitivity fixture study: three sites, two groups, thresholds 0.0, 0.2 and 0.5."""
    return load_config(SENSITIVITY / "config.yaml")


def measurement_raw_config() -> dict:
    """The measurement fixture config as written, its instrument folder made absolute."""
    cfg = yaml.safe_load((MEASUREMENT / "measurement_config.yaml").read_text("utf-8"))
    cfg["instrument_paths"] = [str(MEASUREMENT / "measurement_instruments")]
    return cfg


@pytest.fixture(scope="session")
def measurement_config() -> dict:
    """Config of the R-reference measurement tests: five sites, one group ``users``, thresholds 0.0, 0.5."""
    return with_defaults(validate_config(measurement_raw_config()))


@pytest.fixture(scope="session")
def measurement_instruments(measurement_config) -> dict:
    """The measurement fixture's instruments (``EDGE`` and the shipped ones, with reference blocks)."""
    from cocapp.instruments import load_instruments

    cfg = measurement_config
    return load_instruments(cfg["groups"]["users"]["instruments"], cfg["instrument_paths"])


# -- hand-set and reference inputs, read under their file contracts --------------------------------
@pytest.fixture(scope="session")
def measurement_items():
    """``tests/reference/inputs/measurement_items.csv`` (the R goldens' item answers), as ingest writes
    it. Shared: never change it."""
    return read("items", MEASUREMENT / "measurement_items.csv")


@pytest.fixture(scope="session")
def measurement_scores():
    """``tests/reference/inputs/measurement_scores.csv`` (scores at thresholds 0.0 and 0.5). Shared."""
    return read("scores", MEASUREMENT / "measurement_scores.csv")


@pytest.fixture(scope="session")
def publication_inputs(publication_config) -> dict:
    """The publication fixture as read by the stages: ``stats`` (by name), ``reconciliation`` and
    ``scores`` (by group). Shared: never change it (use the fixtures below for copies)."""
    return {
        "stats": {name: read(name, PUBLICATION / "stats" / f"{name}.csv") for name in PUBLICATION_STATS},
        "reconciliation": {
            g: read("reconciliation", PUBLICATION / "ingest" / f"{g}_reconciliation.csv")
            for g in publication_config["groups"]
        },
        "scores": {"service_users": read("scores", PUBLICATION / "scores" / "service_users.csv")},
    }


@pytest.fixture
def publication_stats(publication_inputs) -> dict:
    """The publication fixture's ``stats/<name>.csv`` (the printed paper's numbers), by name."""
    return _copies(publication_inputs["stats"])


@pytest.fixture
def publication_reconciliation(publication_inputs) -> dict:
    """The publication fixture's ``ingest/{group}_reconciliation.csv`` (Table 1's returns), by group."""
    return _copies(publication_inputs["reconciliation"])


@pytest.fixture
def publication_scores(publication_inputs) -> dict:
    """The publication fixture's made-up scores (service users' totals), by group."""
    return _copies(publication_inputs["scores"])


@pytest.fixture(scope="session")
def sensitivity_inputs() -> dict:
    """The sensitivity fixture's statistics as read by the stages, by name. Shared: never change them."""
    return {name: read(name, SENSITIVITY / f"{name}.csv") for name in SENSITIVITY_STATS}


# -- stages ----------------------------------------------------------------------------------------
def _flat(args) -> list[str]:
    out: list[str] = []
    for a in args:
        out += _flat(a) if isinstance(a, list | tuple) else [str(a)]
    return out


def stage_argv(stage: str, config: dict, *args, group: str | None = None) -> list[str]:
    """The argument list of ``cocapp <stage>``: ``--settings`` with exactly the config values the stage
    declares (as the Snakefile's ``params: settings``), then ``args`` (lists are spread out), and, for a
    stage that loads instruments, ``--instruments`` with the files the workflow finds for the config
    (:func:`stage_inputs.instrument_inputs`) unless ``args`` give them."""
    from stage_inputs import instrument_inputs, takes_instruments

    from cocapp.stages import STAGES
    from cocapp.stages.settings import settings_json

    argv = ["--settings", settings_json(config, STAGES[stage].settings, group), *_flat(args)]
    if takes_instruments(stage) and "--instruments" not in argv:
        argv += instrument_inputs(config, group)
    return argv


@pytest.fixture(scope="session")
def run_cocapp():
    """Run one stage in-process: ``run_cocapp(stage, config, *args, group=None) -> exit code`` (the log
    goes to stderr); for module-scoped fixtures, which cannot capture output."""
    from cocapp.stages.runner import run_stage

    def run(stage: str, config: dict, *args, group: str | None = None) -> int:
        return run_stage(stage, stage_argv(stage, config, *args, group=group))

    return run


@pytest.fixture
def cocapp_stage(run_cocapp, capsys):
    """Run one stage in-process: ``cocapp_stage(stage, config, *args, group=None) -> (exit code, log)``.

    The log is what the stage printed on stderr (the rule's log file in a workflow run).
    """

    def run(stage: str, config: dict, *args, group: str | None = None) -> tuple[int, str]:
        capsys.readouterr()
        code = run_cocapp(stage, config, *args, group=group)
        return code, capsys.readouterr().err

    return run


@contextlib.contextmanager
def manifest_to(path: Path):
    """Stages run in-process meanwhile write their provenance manifest to ``path`` (``COCAPP_MANIFEST``;
    in a workflow run it goes beside the rule's log)."""
    before = os.environ.get("COCAPP_MANIFEST")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.environ["COCAPP_MANIFEST"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            del os.environ["COCAPP_MANIFEST"]
        else:
            os.environ["COCAPP_MANIFEST"] = before


@pytest.fixture(scope="session")
def publication_reports(tmp_path_factory, run_cocapp, publication_config) -> Path:
    """The ``tables``, ``audit`` and ``figures`` stages run on the publication fixture as the workflow
    runs them; returns the folder holding ``reports/tables/...``, ``reports/figures/...`` and their
    manifests (``data/derived/logs/<stage>.manifest.json``, :func:`stage_inputs.publication_manifests`)."""
    from cocapp.presentation.outputs import audit_files, figure_files, table_files

    base = tmp_path_factory.mktemp("publication")
    config = publication_config
    logs = base / "data" / "derived" / "logs"
    stats = {name: PUBLICATION / "stats" / f"{name}.csv" for name in PUBLICATION_STATS}
    recon = [PUBLICATION / "ingest" / f"{g}_reconciliation.csv" for g in config["groups"]]

    def given(*names: str) -> list:
        return [x for name in names for x in (f"--{name.replace('_', '-')}", stats[name])]

    tables = given("anova", "descriptives", "reliability", "correlations", "ancova", "ancova_means")
    out = [base / f for f in table_files(config)]
    with manifest_to(logs / "tables.manifest.json"):
        assert run_cocapp("tables", config, *tables, "--reconciliation", recon, "--out", out) == 0
    comparison, consistency = (base / f for f in audit_files())
    audit = given("anova", "descriptives", "reliability", "correlations")
    args = [
        "--published",
        PUBLISHED,
        *audit,
        *run_stats("missingness", "normality"),
        "--reconciliation",
        recon,
    ]
    with manifest_to(logs / "audit.manifest.json"):
        assert (
            run_cocapp("audit", config, *args, "--comparison", comparison, "--consistency", consistency) == 0
        )
    # the fixture has scores of the service users only: the care coordinators' file is header-only
    scores = [PUBLICATION / "scores" / "service_users.csv", base / "care_coordinators_scores.csv"]
    scores[1].write_text(scores[0].read_text("utf-8").splitlines()[0] + "\n", "utf-8")
    figures = given("descriptives", "tukey", "correlations")
    out = [base / f for f in figure_files(config)]
    with manifest_to(logs / "figures.manifest.json"):
        assert run_cocapp("figures", config, *figures, "--scores", scores, "--out", out) == 0
    return base


# -- the workflow ----------------------------------------------------------------------------------
def _environment() -> dict[str, str]:
    """This checkout's ``src`` first on PYTHONPATH, every entry absolute: the jobs (``cocapp <stage>``)
    run in the study folder, where a relative entry would miss and another installed copy would run."""
    given = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(ROOT / "src"), *given]))}


@pytest.fixture(scope="session")
def run_snakemake():
    """``run_snakemake(workdir, *args) -> CompletedProcess``: ``snakemake -s <repo>/Snakefile --directory
    <workdir> --workflow-profile <repo>/profiles/default *args``, output captured."""

    def run(workdir: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
        cmd += ["--workflow-profile", str(ROOT / "profiles" / "default"), "--directory", str(workdir), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_environment())

    return run


# -- documentation ---------------------------------------------------------------------------------
def _documented_columns(heading: str) -> list[str]:
    """Column names, in order, of the ``### `<heading>` `` section of docs/outputs.md: the backticked
    names that open a bullet (or a ``;``/``.``-separated part of one) and are followed by a colon."""
    text = (ROOT / "docs" / "outputs.md").read_text("utf-8")
    marker = f"### `{heading}`"
    assert marker in text, f"docs/outputs.md has no section {marker}"
    section = re.split(r"\n##+ ", text.split(marker, 1)[1], maxsplit=1)[0]
    names: list[str] = []
    for bullet in re.split(r"\n(?=- )", section):
        if bullet.startswith("- "):
            body = " ".join(bullet[2:].split())
            for m in re.finditer(r"(?:^|[;.] )((?:`[^`]+`(?:, | and )?)+):", body):
                names += re.findall(r"`([^`]+)`", m.group(1))
    return names


@pytest.fixture(scope="session")
def documented_columns():
    """``documented_columns("reports/tables/<file>.csv") -> [column, ...]``, from docs/outputs.md."""
    return _documented_columns


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A writable copy of the tiny fixture study; the working directory is its root (test_workflow.py
    has its own module-wide ``study``, which takes precedence there)."""
    root = tmp_path / "study"
    shutil.copytree(TINY, root)
    monkeypatch.chdir(root)
    return root


def _comparable_outputs(work: Path, skip: Callable[[str], bool] | None = None) -> dict[str, bytes]:
    """Every output of a finished run (data/derived and reports) as {relative path: bytes}, for
    comparing two runs of one study: logs and stage manifests left out, the report without its run time
    and its provenance section (the hashes, names and timings of that run's own files: a Parquet run's
    inputs are other files than a CSV run's, a cluster run's stages ran elsewhere)."""
    out = {}
    for p in sorted([*(work / "data" / "derived").rglob("*"), *(work / "reports").rglob("*")]):
        rel = p.relative_to(work).as_posix()
        if not p.is_file() or "/logs/" in rel or (skip is not None and skip(rel)):
            continue
        data = p.read_bytes()
        if rel == "reports/report.html":
            data = re.sub(rb"<dt>Generated</dt><dd>[^<]*", b"", data)
            data = re.sub(rb'<section id="provenance">.*?</section>', b"", data, flags=re.S)
        out[rel] = data
    return out


@pytest.fixture(scope="session")
def comparable_outputs():
    """:func:`_comparable_outputs`, for tests that compare two runs of the same study."""
    return _comparable_outputs
