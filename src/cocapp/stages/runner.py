"""One runner for every stage: arguments, settings, logging, all-or-nothing writing, errors.

``cocapp <stage> --settings JSON <files...>`` parses the stage's arguments, builds the guarded
:class:`~cocapp.stages.settings.Settings`, calls ``run(args, settings, log)`` and writes what it
returns only if it succeeded and every file with a contract holds to it
(:func:`cocapp.contracts.check_outputs`), every file at once (:func:`cocapp.io.write_outputs_atomic`). The log
(stderr, which the Snakefile sends to the rule's log file) says what the stage read and wrote, with
counts and warnings. On failure the message names file, column, row and value; unexpected errors
keep their traceback in the log. The exit code is 0 or 1.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

from cocapp.stages import STAGES
from cocapp.stages.settings import Settings, expand_keys

__all__ = ["StageLog", "run_stage"]

# Errors whose message already says what is wrong with which input: no traceback needed.
_DATA_ERRORS = (
    "DataValidationError",
    "RawReadError",
    "ConfigError",
    "InstrumentError",
    "ContractError",
    "QualitativeValidationError",
    "QualitativeInputError",
    "InputError",
)


class StageLog:
    """Lines of the stage's log: ``cocapp <stage>: <message>`` on stderr."""

    def __init__(self, stage: str, stream=None):
        self.stage = stage
        self.stream = stream or sys.stderr
        self.warnings: list[str] = []
        self.reads: list[tuple[str, int | None]] = []  # (file, rows) for the run's manifest

    def info(self, message: str) -> None:
        print(f"cocapp {self.stage}: {message}", file=self.stream, flush=True)

    def warning(self, message: str) -> None:
        self.warnings.append(message)
        self.info(f"warning: {message}")

    def read(self, path: str | Path, n_rows: int | None = None) -> None:
        """Log one input file (and its row count)."""
        self.reads.append((str(path), n_rows))
        self.info(f"read {path}" + ("" if n_rows is None else f" ({n_rows} rows)"))


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _single_threaded_blas():
    """Run numerical code on one BLAS/OpenMP thread: reductions (and so optimiser paths, e.g. the
    audit's L-BFGS-B) otherwise depend on the machine's thread count, and the same inputs must give
    the same bytes everywhere (Snakemake sets OMP_NUM_THREADS=1 for its jobs; a stage run by hand
    would not). Libraries not loaded yet read the environment variables when they load; those
    already loaded are limited by threadpoolctl."""
    from threadpoolctl import threadpool_limits

    for name in _THREAD_VARIABLES:
        os.environ[name] = "1"
    return threadpool_limits(limits=1)


def _describe(content) -> str:
    rows = getattr(content, "shape", None)
    if rows is not None:
        return f"{rows[0]} rows"
    if hasattr(content, "parts"):  # cocapp.io.TableChunks, written part by part
        return f"{content.rows} rows, in parts"
    return f"{len(content)} bytes" if isinstance(content, bytes) else f"{len(str(content))} characters"


def run_stage(
    stage: str, argv: list[str] | None = None, stream=None, read_settings: set | None = None
) -> int:
    """Run ``cocapp <stage>`` with ``argv``; 0 on success, 1 (nothing written) on failure.

    ``read_settings``, when given, receives the config key paths the stage read (for the test that
    declared and read settings agree).
    """
    from cocapp.contracts import check_outputs
    from cocapp.io import write_outputs_atomic

    spec = STAGES[stage]
    module = importlib.import_module(spec.module)
    parser = argparse.ArgumentParser(prog=f"cocapp {stage}", description=spec.description)
    parser.add_argument(
        "--settings", required=True, help="JSON of the config values this stage reads (the rule's params)"
    )
    parser.add_argument(
        "--manifest",
        help="where to write the run's provenance manifest (default: COCAPP_MANIFEST, else beside the "
        "log file stderr goes to)",
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    log = StageLog(stage, stream)
    started = time.perf_counter()
    started_at = _dt.datetime.now(_dt.UTC)
    record = dict(values={}, settings=None, outputs=None)
    try:
        values = json.loads(args.settings)
        record["values"] = values
        declared = expand_keys(values, spec.settings, getattr(args, "group", None))
        settings = Settings(values, declared)
        record["settings"] = settings
        try:
            with _single_threaded_blas():
                outputs: Mapping = module.run(args, settings, log)
        finally:
            if read_settings is not None:
                read_settings.update(settings.read_paths)
        check_outputs(outputs)  # every contracted file checked before any is written
        write_outputs_atomic(outputs)
        record["outputs"] = outputs
        for path, content in outputs.items():
            log.info(f"wrote {path} ({_describe(content)})")
    except Exception as err:  # noqa: BLE001 - every failure becomes a message and exit code 1
        if type(err).__name__ not in _DATA_ERRORS:
            traceback.print_exc(file=log.stream)
        log.info(f"error: {err}")
        _manifest(stage, argv, args, spec, record, log, started_at, str(err))
        return 1
    log.info(f"done in {time.perf_counter() - started:.2f} s, {len(log.warnings)} warning(s)")
    _manifest(stage, argv, args, spec, record, log, started_at, None)
    return 0


def _manifest(stage, argv, args, spec, record, log, started_at, error) -> None:
    """Write the run's provenance manifest (:mod:`cocapp.provenance`) to ``--manifest``, else beside its
    log when stderr goes to a log file; a manifest that cannot be written is a warning in the log, never
    a failed stage (in the workflow the manifest is an output: a missing one fails the job)."""
    from cocapp import provenance

    path = provenance.manifest_path(log.stream, getattr(args, "manifest", None))
    if path is None:
        return
    try:
        settings = record["settings"]
        manifest = provenance.stage_manifest(
            stage=stage,
            argv=list(sys.argv[2:] if argv is None else argv),
            args=vars(args),
            settings=record["values"],
            settings_read=settings.read_paths if settings is not None else (),
            package_data=spec.data,
            outputs=record["outputs"],
            reads=log.reads,
            warnings=log.warnings,
            started=started_at,
            finished=_dt.datetime.now(_dt.UTC),
            error=error,
            rule=path.name[: -len(".manifest.json")],
        )
        provenance.write_manifest(path, manifest)
        log.info(f"manifest {path}")
    except Exception as err:  # noqa: BLE001 - provenance must not turn a result into a failure
        log.warning(f"manifest {path} not written: {err}")
