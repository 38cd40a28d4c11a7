"""Provenance of a stage run: one manifest per job, next to its log (issue 14).

``cocapp.stages.runner.run_stage`` writes it to the path given as ``--manifest`` (the Snakefile passes
each rule's ``output.manifest``, ``data/derived/logs/<rule>.manifest.json``), else to
``COCAPP_MANIFEST``, else to ``<log without .log>.manifest.json`` when the stage's stderr goes to a log
file (a stage run by hand). The manifest says what ran and on what:

* ``stage``, ``rule`` (the log's stem, e.g. ``score_service_users``), ``command`` (the argument vector
  as run), ``cwd``, ``status`` (``ok`` / ``failed``) and ``error``;
* ``inputs``: SHA-256 and size of every file the stage was given as an argument (every file it reads:
  raw data, codebooks, instrument files, the published numbers, qualitative inputs, the calibration
  file, the derived files of earlier stages; a stage finds no file through a config value), and
  ``package_data`` of every file of the package data it declares (the built-in instrument files with
  their provisional keys, schemas, templates; a built-in instrument file given as an argument is listed
  there only);
* ``outputs``: path, SHA-256, size and rows of everything written;
* ``settings``: the config values the stage was given, and ``settings_read`` the keys it read;
* ``rows_read``: each input read with its row count (from the stage's log), ``warnings``;
* ``software``: Python and package versions; ``code``: the cocapp checkout's git commit and whether
  it has uncommitted changes; ``platform``; ``started``/``finished`` (UTC) and ``seconds``.

Manifests change between identical runs only in times, seconds and the platform's host details. The
Snakefile declares each as an output of its rule (Snakemake removes it with the job's other outputs when
the job fails) and gives them all to the report (``--manifests``), which lists them. :func:`mark_stale`
marks the report of an earlier run when a later run fails (the Snakefile's ``onerror``).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shlex
import stat
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

__all__ = [
    "PACKAGES",
    "git_state",
    "manifest_path",
    "mark_stale",
    "package_versions",
    "sha256_file",
    "stage_manifest",
]

PACKAGES = (
    "cocapp",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "jinja2",
    "python-docx",
    "pyreadstat",
    "pandera",
    "snakemake",
)
SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout holding src/cocapp
STALE_MARK = "<!-- cocapp:stale -->"


def sha256_file(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Python and the versions of the packages cocapp's results depend on."""
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_state(root: Path = SOURCE_ROOT) -> dict:
    """``commit`` of the cocapp checkout and ``dirty`` (uncommitted changes to tracked files), or
    ``None`` for both when the code does not run from a git checkout."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return {"commit": None, "dirty": None, "root": str(root)}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()), "root": str(root)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None, "root": str(root)}


def manifest_path(stream=None, given: str | None = None) -> Path | None:
    """Where the manifest goes: ``given`` (the stage's ``--manifest``, as the workflow passes it), else
    ``COCAPP_MANIFEST``, else beside the log file stderr is redirected to (``logs/x.log`` ->
    ``logs/x.manifest.json``); None when stderr is not a file (a terminal)."""
    if given:
        return Path(given)
    if os.environ.get("COCAPP_MANIFEST"):
        return Path(os.environ["COCAPP_MANIFEST"])
    stream = stream or sys.stderr
    try:
        fd = stream.fileno()
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
    except (OSError, ValueError, AttributeError):
        return None
    name = target.name[: -len(".log")] if target.name.endswith(".log") else target.name
    return target.with_name(f"{name}.manifest.json")


def _file_record(path: str | Path) -> dict:
    p = Path(path)
    return {"path": str(path), "bytes": p.stat().st_size, "sha256": sha256_file(p)}


def _candidate_files(values: Iterable) -> list[str]:
    """Existing files among (nested) string values."""
    out: list[str] = []

    def walk(v):
        if isinstance(v, str):
            if v and len(v) < 4096 and "\n" not in v and Path(v).is_file():
                out.append(v)
        elif isinstance(v, Mapping):
            for x in v.values():
                walk(x)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)

    for v in values:
        walk(v)
    return out


def _package_data(data: Iterable[str]) -> list[Path]:
    base = Path(__file__).resolve().parent
    files: list[Path] = []
    for folder in data:
        root = base / folder
        if root.is_dir():
            files += sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        elif root.is_file():  # one file of a folder other stages read as a whole (a template)
            files.append(root)
    return files


def stage_manifest(
    *,
    stage: str,
    argv: list[str],
    args: Mapping,
    settings: Mapping,
    settings_read: Iterable[tuple[str, ...]],
    package_data: Iterable[str],
    outputs: Mapping[str, object] | None,
    reads: list[tuple[str, int | None]],
    warnings: list[str],
    started: _dt.datetime,
    finished: _dt.datetime,
    error: str | None,
    rule: str | None,
) -> dict:
    """The manifest of one stage run (module docstring)."""
    arg_files = _candidate_files(v for k, v in args.items() if k not in ("settings", "manifest"))
    out_paths = {str(p) for p in (outputs or {})}
    package_files = _package_data(package_data)
    # a file given that is package data (a built-in instrument file) is listed once, as package data
    packaged = {p.resolve() for p in package_files}
    inputs: dict[str, dict] = {}
    for f in arg_files:
        if f not in out_paths and f not in inputs and Path(f).resolve() not in packaged:
            inputs[f] = _file_record(f) | {"source": "argument"}
    package = [
        _file_record(p) | {"path": p.relative_to(Path(__file__).resolve().parent).as_posix()}
        for p in package_files
    ]
    written = []
    for path, content in (outputs or {}).items():
        rec = _file_record(path) if Path(path).is_file() else {"path": str(path)}
        shape = getattr(content, "shape", None)
        if shape is not None:
            rec["rows"] = int(shape[0])
        written.append(rec)
    return {
        "stage": stage,
        "rule": rule,
        "status": "failed" if error else "ok",
        "error": error,
        "command": "cocapp " + stage + " " + shlex.join(argv),
        "cwd": os.getcwd(),
        "inputs": list(inputs.values()),
        "package_data": package,
        "outputs": written,
        "rows_read": [{"path": str(p), "rows": n} for p, n in reads],
        "warnings": list(warnings),
        "settings": settings,
        "settings_read": sorted(".".join(map(str, k)) for k in settings_read),
        "software": package_versions(),
        "code": git_state(),
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "python": platform.python_implementation() + " " + platform.python_version(),
        },
        "started": started.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "finished": finished.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "seconds": round((finished - started).total_seconds(), 3),
    }


def write_manifest(path: Path, manifest: dict) -> None:
    """Write the manifest (UTF-8 JSON) through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False, default=str) + "\n", "utf-8")
    os.replace(tmp, path)


def mark_stale(report: str | Path, reason: str) -> bool:
    """Put a 'stale' banner at the top of an existing report (once): a later run failed, so the report
    shows an earlier run's results. Returns whether the file was marked."""
    path = Path(report)
    if not path.is_file():
        return False
    text = path.read_text("utf-8")
    if STALE_MARK in text:
        return False
    import html

    banner = (
        f'{STALE_MARK}<div class="banner" id="stale-banner" role="alert" style="background:#f8d7da;'
        'border-color:#a71d2a;color:#58151c">STALE REPORT: a later run of the workflow failed '
        f"({html.escape(reason)}); this report shows the results of an earlier run and may not match the "
        "current inputs. Fix the error and rerun.</div>"
    )
    marked = text.replace("<body>", "<body>\n" + banner, 1)
    if marked == text:
        return False
    path.write_text(marked, "utf-8")
    return True
