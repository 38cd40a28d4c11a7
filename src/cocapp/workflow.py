"""What the Snakefile needs from the package at parse time, kept light (no pandas, no matplotlib).

* :meth:`Workflow.settings` -- a rule's ``params: settings``: exactly the config values its stage
  reads (declared in :data:`cocapp.stages.STAGES`), as canonical JSON. Snakemake reruns a job when
  its params change, so a setting reruns exactly the stages that read it.
* :meth:`Workflow.code` -- a rule's ``params: code``: a hash of the source of every cocapp module the
  stage imports (directly or through other cocapp modules) and of the package data it reads, so
  editing ``anova.py`` reruns the stages that use it and nothing else.
* the file lists that depend on the config (groups, instrument files, tables, figures).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from functools import cache
from pathlib import Path

from cocapp.config import imputation_enabled, published_reference, qualitative_enabled
from cocapp.instruments import instrument_file
from cocapp.rawformats import METADATA_FORMATS, format_of, needs_codebook, raw_copies
from cocapp.stages import STAGES
from cocapp.stages.settings import settings_json

__all__ = ["PACKAGE_ROOT", "Workflow", "code_hash", "module_closure"]

PACKAGE_ROOT = Path(__file__).resolve().parent


@cache
def _module_file(module: str) -> Path | None:
    """Source file of a cocapp module (package ``__init__`` for packages), None when not cocapp's."""
    if not module.startswith("cocapp"):
        return None
    parts = module.split(".")[1:]
    base = PACKAGE_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<base>\.*[\w.]*)[ \t]+import[ \t]+(?P<names>\([^)]*\)|[^\n#]+)"
    r"|import[ \t]+(?P<modules>[^\n#]+))",
    re.M,
)


@cache
def _imports(path: Path) -> tuple[str, ...]:
    """cocapp modules imported anywhere in ``path`` (top level or inside functions).

    A line-based scan (import statements start their line), much faster than parsing the file; it
    may also see an import inside a string, which can only make a code hash more conservative.
    """
    text = path.read_text("utf-8")
    module = ".".join(["cocapp", *path.relative_to(PACKAGE_ROOT).with_suffix("").parts])
    # the package that relative imports start from: the module's own for __init__, else its parent
    package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: list[str] = []
    for m in _IMPORT.finditer(text):
        if m.group("modules"):
            found += [part.split(" as ")[0].strip() for part in m.group("modules").split(",")]
            continue
        base = m.group("base")
        if base.startswith("."):
            dots = len(base) - len(base.lstrip("."))
            base = importlib.util.resolve_name("." * dots + base.lstrip("."), package)
        names = m.group("names").strip("() \n").replace("\n", " ")
        found.append(base)
        found += [f"{base}.{n.split(' as ')[0].strip()}" for n in names.split(",") if n.strip()]
    return tuple(m for m in found if m.startswith("cocapp"))


@cache
def module_closure(module: str) -> tuple[Path, ...]:
    """Source files of ``module`` and every cocapp module it imports, transitively, sorted."""
    seen: set[Path] = set()
    todo = [module, "cocapp"]
    while todo:
        path = _module_file(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += _imports(path)
        # importing cocapp.a.b runs cocapp/a/__init__.py too
        rel = path.relative_to(PACKAGE_ROOT).parts[:-1]
        todo += ["cocapp." + ".".join(rel[: i + 1]) for i in range(len(rel))]
    return tuple(sorted(seen))


@cache
def _data_files(entry: str) -> tuple[Path, ...]:
    """The package data files of a stage's ``data`` entry: a folder (every file under it) or one file."""
    root = PACKAGE_ROOT / entry
    if root.is_file():
        return (root,)
    files = (p for p in root.rglob("*") if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts)
    return tuple(sorted(files))


# Every job is ``python -m cocapp <stage>``: the entry point and the command line, whatever the stage.
ENTRY_POINTS = ("__main__.py", "cli.py")


@cache
def code_hash(stage: str) -> str:
    """SHA-256 (first 16 hex digits) of the stage's code closure (with the runner's, which every
    stage runs under, and the entry point ``python -m cocapp``) and its package data."""
    spec = STAGES[stage]
    digest = hashlib.sha256()
    code = {
        *module_closure(spec.module),
        *module_closure("cocapp.stages.runner"),
        *(PACKAGE_ROOT / name for name in ENTRY_POINTS),
    }
    files = [*sorted(code), *(f for d in spec.data for f in _data_files(d))]
    for path in files:
        digest.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


class Workflow:
    """Config-dependent file lists and rerun parameters for the Snakefile."""

    def __init__(self, config: dict):
        self.config = config

    @property
    def groups(self) -> list[str]:
        return list(self.config["groups"])

    def intermediate(self, path: str) -> str:
        """A per-respondent intermediate file's path in the configured ``intermediate_format``:
        ``path`` itself (CSV, the default) or with ``.parquet`` instead of ``.csv`` (large studies;
        every stage reads both through :func:`cocapp.contracts.read` and writes by the extension)."""
        if self.config.get("intermediate_format", "csv") == "parquet":
            return path[: -len(".csv")] + ".parquet" if path.endswith(".csv") else path
        return path

    # -- rerun parameters -----------------------------------------------------------------------
    def settings(self, stage: str, per_group: bool = False):
        """``params: settings``: JSON of the config values ``stage`` reads (a function of the
        ``{group}`` wildcard for per-group rules, which then carry only their own group's values)."""
        keys = STAGES[stage].settings
        if per_group:
            return lambda wildcards: settings_json(self.config, keys, wildcards.group)
        return settings_json(self.config, keys)

    @staticmethod
    def code(stage: str) -> str:
        """``params: code``: hash of the code and package data the stage runs."""
        return code_hash(stage)

    @staticmethod
    def shell_prefix(basedir: str) -> str:
        """What every job's shell runs first: bash's strict mode, ``<basedir>/src`` first on
        PYTHONPATH and ``cocapp`` as ``python -m cocapp``, so a job runs this checkout's code in any
        environment that has the dependencies (also the conda one of ``--use-conda``). Snakemake
        formats the prefix like a command, so literal braces are doubled."""
        return (
            "set -euo pipefail; "
            f'export PYTHONPATH="{basedir}/src${{{{PYTHONPATH:+:$PYTHONPATH}}}}"; '
            'cocapp() {{ python -m cocapp "$@"; }}; '
        )

    # -- inputs ---------------------------------------------------------------------------------
    def raw_files(self) -> list[str]:
        """Each group's raw file, its codebook when the format has no labels of its own, and its SAS
        format catalog: the raw inputs the results come from (the report lists them with their
        SHA-256)."""
        files: list[str] = []
        for g in self.config["groups"].values():
            files.append(g["raw"])
            if format_of(g["raw"]) not in METADATA_FORMATS and g.get("codebook"):
                files.append(g["codebook"])
            if (g.get("read") or {}).get("catalog"):
                files.append(g["read"]["catalog"])
        return sorted(set(files), key=files.index)

    # ingest's inputs, each kind apart (``--raw``, ``--codebook``, ``--catalog``, ``--copies``)
    def raw_data_files(self) -> list[str]:
        """Each group's raw file (``groups.<group>.raw``), one per group in config order."""
        return [g["raw"] for g in self.config["groups"].values()]

    def codebook_files(self) -> list[str]:
        """The codebooks ingest reads: a group's codebook when its raw file, or another copy beside it
        (:meth:`raw_copies`), is in a format without labels of its own."""
        files = [
            g["codebook"]
            for g in self.config["groups"].values()
            if g.get("codebook") and needs_codebook(g["raw"], raw_copies(g["raw"]))
        ]
        return sorted(set(files), key=files.index)

    def catalog_files(self) -> list[str]:
        """The SAS format catalogs of the groups (``groups.<group>.read.catalog``)."""
        files = [(g.get("read") or {}).get("catalog") for g in self.config["groups"].values()]
        return sorted({f for f in files if f}, key=files.index)

    def raw_copies(self) -> list[str]:
        """Other copies beside the raw files (same name, another format): ingest checks that they hold
        the same data, so an edit to one reruns it (:func:`cocapp.rawformats.raw_copies`)."""
        files = [c for g in self.config["groups"].values() for c in raw_copies(g["raw"])]
        return sorted(set(files), key=files.index)

    def instrument_files(self, group: str | None = None) -> list[str]:
        """The instrument files of one group (or of all groups), found as the stages find them."""
        keys: list[str] = []
        for g in [group] if group else self.groups:
            keys += [k for k in self.config["groups"][g]["instruments"] if k not in keys]
        return [str(instrument_file(k, self.config.get("instrument_paths", []))) for k in keys]

    def group_instrument_files(self):
        """Input function: the ``{group}`` wildcard's instrument files."""
        return lambda wildcards: self.instrument_files(wildcards.group)

    def qualitative_file(self, key: str) -> str | list:
        """The qualitative input file ``qualitative.<key>`` (segments, cases, codebook, interviews), or
        ``[]`` (no input) when the config names none."""
        return (self.config.get("qualitative") or {}).get(key) or []

    @staticmethod
    def options(*names: str):
        """A ``params`` function: ``--<name> <file>`` for each of the rule's named inputs ``names`` that
        holds a file (an optional input the config switches off is ``[]`` and gives no option)."""

        def given(wildcards, input) -> str:
            files = {name: getattr(input, name) for name in names}
            return " ".join(f"--{name.replace('_', '-')} {f}" for name, f in files.items() if f)

        return given

    @property
    def qualitative_enabled(self) -> bool:
        return qualitative_enabled(self.config)

    @property
    def published_reference(self) -> str | None:
        return published_reference(self.config)

    @property
    def calibration_targets(self) -> str | None:
        """The calibration targets of synthetic data (``study.calibration.targets``), or None."""
        study = self.config.get("study") or {}
        return (study.get("calibration") or {}).get("targets") if study.get("synthetic") else None

    @staticmethod
    def mark_stale(log: str, report: str = "reports/report.html") -> None:
        """After a failed run (the Snakefile's ``onerror``): banner the report of an earlier run as
        stale (:func:`cocapp.provenance.mark_stale`)."""
        from cocapp.provenance import mark_stale

        if mark_stale(report, f"see {log}"):
            print(f"cocapp: {report} marked STALE (the run failed; it shows an earlier run)")

    @staticmethod
    def half_the_cores(workflow) -> int:
        """Threads of the imputation and sensitivity stages: half the cores of the run, at least one, so
        that on a small machine each runs beside the other stages (on 2 cores a two-thread job waits
        until both are free, which happens only when nothing else is left); 2 when Snakemake has no
        core count (a cluster executor such as profiles/slurm: every job gets its own allocation)."""
        from snakemake.exceptions import WorkflowError

        try:
            cores = workflow.cores
        except WorkflowError:
            return 2
        return max(1, int(cores) // 2)

    @staticmethod
    def release_timers() -> None:
        """After a successful run (the Snakefile's ``onsuccess``): cancel the timers Snakemake's job rate
        limiter (``--max-jobs-per-timespan``, 1 s by default) arms after every scheduling round. Nothing
        waits for them once the workflow is done, but Python does before it exits: a second added to
        every run that executed jobs (issue 12: measured 1.2 s between the last job and the exit)."""
        import threading

        for thread in threading.enumerate():
            if isinstance(thread, threading.Timer):
                thread.cancel()

    def config_files(self, workflow) -> list[str]:
        """The config file(s) Snakemake read (``configfile:`` and ``--configfile``)."""
        return [str(p) for p in workflow.configfiles]

    # -- presentation outputs -------------------------------------------------------------------
    def table_files(self) -> list[str]:
        from cocapp.presentation.outputs import table_files

        return table_files(self.config)

    def figure_files(self) -> list[str]:
        from cocapp.presentation.outputs import figure_files

        return figure_files(self.config)

    def sensitivity_figures(self) -> list[str]:
        return [
            f"reports/figures/sensitivity/{g}_{kind}.{ext}"
            for g in self.groups
            for kind in ("n_p", "site_means")
            for ext in ("png", "svg")
        ]

    @property
    def imputation_enabled(self) -> bool:
        return imputation_enabled(self.config)

    def mi_results(self, names: tuple[str, ...] = ("means", "tests", "tipping")) -> list[str]:
        """Pooled results of stage impute (none when it is off): by default those the sensitivity stage
        reads; the report reads ``("correlations", "pairs")``."""
        if not self.imputation_enabled:
            return []
        return [f"data/derived/sensitivity/mi_{name}.csv" for name in names]

    def mi_figures(self, kind: str = "mi_convergence") -> list[str]:
        """Figures of the multiple imputation: ``mi_convergence`` (stage impute) or ``mi_site_means``
        (stage sensitivity); none when imputation is off."""
        if not self.imputation_enabled:
            return []
        return [
            f"reports/figures/sensitivity/{g}_{kind}.{ext}" for g in self.groups for ext in ("png", "svg")
        ]

    def audit_files(self) -> list[str]:
        from cocapp.presentation.outputs import audit_files

        return audit_files() if self.published_reference else []

    def registered(self, paths: list[str]) -> list:
        """``paths`` wrapped in Snakemake's ``report()`` (caption, category) where registered."""
        from snakemake.io import report

        from cocapp.presentation.outputs import report_items

        items = {item["path"]: item for item in report_items(self.config)}
        out = []
        for path in paths:
            item = items.get(path)
            if item is None:
                out.append(path)
            else:
                kw = {k: item[k] for k in ("caption", "category", "subcategory")}
                out.append(report(path, **kw))
        return out

    def final_targets(self) -> list[str]:
        """The run's end products for a reader: the report, the audit tables and the joint display
        (the ``all`` rule in the Snakefile lists these and every other file nothing consumes)."""
        targets = ["reports/report.html", *self.audit_files()]
        if self.qualitative_enabled:
            targets.append("data/derived/qualitative/joint_display.csv")
        return targets
