"""The input options of a stage as the workflow gives them (the Snakefile's file lists,
:class:`cocapp.workflow.Workflow`), for tests that run a stage in-process in a study folder."""

from __future__ import annotations

import argparse
import importlib
from functools import cache
from pathlib import Path

from cocapp.stages import STAGES
from cocapp.workflow import Workflow

# statistics files of a run of the embedded default that the publication fixture lacks (README there)
RUN_STATS = Path(__file__).resolve().parent / "fixtures" / "run_stats"


def run_stats(*names: str) -> list:
    """``--<name> <file>`` of the run_stats fixture's files ``names`` (e.g. ``missingness``)."""
    return [x for name in names for x in (f"--{name.replace('_', '-')}", RUN_STATS / f"{name}.csv")]


@cache
def takes_instruments(stage: str) -> bool:
    """Whether ``cocapp <stage>`` loads instruments (has the ``--instruments`` option)."""
    parser = argparse.ArgumentParser()
    importlib.import_module(STAGES[stage].module).add_arguments(parser)
    return any("--instruments" in a.option_strings for a in parser._actions)


def instrument_inputs(config: dict, group: str | None = None) -> list[str]:
    """``--instruments`` with the files of the configured instruments (of ``group``), as the workflow
    finds them (``instrument_paths``, then the built-ins)."""
    return ["--instruments", *Workflow(config).instrument_files(group)]


def ingest_inputs(config: dict) -> list[str]:
    """``cocapp ingest``'s input options: the raw files, codebooks, SAS catalogs and other copies."""
    w = Workflow(config)
    return [
        *("--raw", *w.raw_data_files()),
        *("--codebook", *w.codebook_files()),
        *("--catalog", *w.catalog_files()),
        *("--copies", *w.raw_copies()),
    ]


def qualitative_inputs(config: dict) -> list[str]:
    """``cocapp qualitative-ingest``'s input options: the qualitative files the config names."""
    w = Workflow(config)
    keys = ("segments", "cases", "codebook", "interviews")
    return [x for k in keys if w.qualitative_file(k) for x in (f"--{k}", w.qualitative_file(k))]


def publication_manifests(base: Path) -> list[Path]:
    """The manifests of the stages the ``publication_reports`` fixture ran (a report's ``--manifests``)."""
    return [base / "data" / "derived" / "logs" / f"{s}.manifest.json" for s in ("tables", "audit", "figures")]


def without_imputation(config: dict) -> dict:
    """``config`` with ``imputation.enabled: false`` (no stage impute: the sensitivity stage then runs
    without its pooled results, and must not be given them)."""
    import copy

    out = copy.deepcopy(config)
    out.setdefault("imputation", {})["enabled"] = False
    return out


def without_qualitative(config: dict) -> dict:
    """``config`` with ``qualitative.enabled: false`` (no qualitative arm)."""
    import copy

    out = copy.deepcopy(config)
    out["qualitative"] = {**(out.get("qualitative") or {}), "enabled": False}
    return out


PUBLICATION = Path(__file__).resolve().parent / "fixtures" / "publication"


def publication_report_args(
    base: Path, config: dict, out: Path, verdict: Path, raw: list, qualitative_section: Path | None = None
) -> list:
    """``cocapp report``'s arguments on the publication fixture as the workflow gives them: the outputs
    of the ``publication_reports`` fixture (folder ``base``: tables, figures, audit, manifests), the
    publication statistics and, for the statistics it lacks, the run_stats fixture's; every sensitivity
    figure of ``config`` (stand-ins: copies of a site figure, in ``base/sensitivity-figures``) and, when
    the qualitative arm is on, the section ``qualitative_section`` with stand-ins for the files its
    numbers come from (their contracts' header, no row; their content is tested in
    tests/test_qualitative.py). ``config`` must have imputation off (no pooled results here)."""
    import shutil

    from cocapp.config import imputation_enabled, qualitative_enabled
    from cocapp.contracts import CONTRACTS
    from cocapp.presentation import outputs

    assert not imputation_enabled(config), "the publication fixture has no pooled imputation results"
    fdir = base / "reports" / "figures"
    sensitivity = []
    for stem in outputs.sensitivity_figure_stems(config):
        # beside, not under, the figures stage's folder (other tests list what that stage wrote there)
        f = base / "sensitivity-figures" / f"{stem}.png"
        if not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(fdir / "sites" / "service_users" / "RSA_total.png", f)
        sensitivity.append(f)
    qualitative: list = []
    if qualitative_enabled(config):
        qdir = base / "data" / "derived" / "qualitative"
        qdir.mkdir(parents=True, exist_ok=True)
        names = {
            "joint-display": "joint_display.csv",
            "framework-site-theme": "framework_site_theme.csv",
            "framework-group-theme": "framework_group_theme.csv",
            "code-frequencies": "code_frequencies_by_site.csv",
            "qualitative-codebook": "codebook.csv",
        }
        for option, name in names.items():
            # header only: the report checks each under its contract (named as the file)
            (qdir / name).write_text(",".join(CONTRACTS[Path(name).stem].names) + "\n", "utf-8")
            qualitative += [f"--{option}", qdir / name]
        qualitative += ["--qualitative-section", qualitative_section]
    stats = PUBLICATION / "stats"
    published = [stats / f"{n}.csv" for n in ("anova", "correlations", "tukey", *TRACED_STATS)]
    return [
        *("--tables", *[base / f for f in outputs.table_files(config)]),
        *("--figures", *[base / f for f in outputs.figure_files(config)]),
        *("--verdict", verdict, "--sensitivity-figures", *sensitivity),
        *(x for f in outputs.audit_files() for x in (f"--{Path(f).stem.replace('_', '-')}", base / f)),
        *qualitative,
        *("--raw", *raw),
        *("--config-file", PUBLICATION / "config.yaml"),
        *(x for f in published for x in (f"--{f.stem.replace('_', '-')}", f)),
        *run_stats("missingness", "mcar", "normality", "games_howell", "ancova_slopes", "ancova_posthoc"),
        *(
            "--reconciliation",
            *(PUBLICATION / "ingest" / f"{g}_reconciliation.csv" for g in config["groups"]),
        ),
        *("--manifests", *publication_manifests(base)),
        *("--out", out),
    ]


TRACED_STATS = ("descriptives", "reliability", "ancova", "ancova_means")
