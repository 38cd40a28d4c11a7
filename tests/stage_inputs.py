"""The input options of a stage as the workflow gives them (the Snakefile's file lists,
:class:`cocapp.workflow.Workflow`), for tests that run a stage in-process in a study folder."""

from __future__ import annotations

import argparse
import importlib
from functools import cache
from pathlib import Path

from cocapp.stages import STAGES
from cocapp.workflow import Workflow


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
