"""``cocapp report``: one self-contained HTML report of the run
(:func:`cocapp.presentation.report.render_report`).

Every file the report reads is on its command line, each kind under its own option: the tables and
figures, the sensitivity verdict and figures, each statistics file it shows and each derived file its
numbers are traced to, the published comparison (when the config names published numbers), the
qualitative section and its files (when the qualitative arm is on), the pooled multiple-imputation files
(when imputation is on), the raw inputs and config file (hashed in the provenance section), the
instrument files and the manifest of every other job. The stage checks that each file it must show was
given and exists, and that an optional input is given exactly when the config switches its part on, so
a missing upstream file is an error naming it, never a quietly emptier report.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cocapp.stages.common import (
    BackgroundMap,
    InputError,
    by_group,
    file_options,
    group_files,
    instruments_option,
    load_given_instruments,
    switched_inputs,
    workers_option,
)

__all__ = ["REPORT_STATS", "add_arguments", "run"]

# The statistics files the report shows as compact tables (issue 14), by contract name: stats/<name>.csv,
# then the pooled results of stage impute (sensitivity/<name>.csv, when imputation is on).
STATS = (
    "missingness",
    "mcar",
    "normality",
    "anova",
    "correlations",
    "tukey",
    "games_howell",
    "ancova_slopes",
    "ancova_posthoc",
)
MI_STATS = ("mi_correlations", "mi_pairs")
REPORT_STATS = STATS + MI_STATS
# The further derived files the numbers of Tables 2-4 and S1-S2 are traced to (stats/<name>.csv); Table
# 1's are the groups' reconciliation files (--reconciliation).
TRACED = ("descriptives", "reliability", "ancova", "ancova_means")
# The published audit tables (when the config names published numbers) and the files of the qualitative
# section (when the qualitative arm is on), option -> file name.
AUDIT = {
    "published_comparison": "published_comparison.csv",
    "published_consistency": "published_consistency.csv",
}
QUALITATIVE = {
    "joint_display": "joint_display.csv",
    "framework_site_theme": "framework_site_theme.csv",
    "framework_group_theme": "framework_group_theme.csv",
    "code_frequencies": "code_frequencies_by_site.csv",
    "qualitative_codebook": "codebook.csv",
}


def add_arguments(parser) -> None:
    parser.add_argument("--tables", nargs="+", required=True, help="every table file (tables stage)")
    parser.add_argument("--figures", nargs="+", required=True, help="every figure file (figures stage)")
    parser.add_argument("--verdict", required=True, help="sensitivity/verdict.json")
    parser.add_argument(
        "--sensitivity-figures",
        nargs="+",
        required=True,
        help="the sensitivity figures (figures/sensitivity)",
    )
    for name, file in AUDIT.items():
        parser.add_argument(f"--{name.replace('_', '-')}", help=f"{file} (when published.reference is set)")
    parser.add_argument(
        "--qualitative-section", help="qualitative/qualitative_section.html (when the qualitative arm is on)"
    )
    for name, file in QUALITATIVE.items():
        parser.add_argument(f"--{name.replace('_', '-')}", help=f"qualitative/{file} (qualitative arm on)")
    parser.add_argument("--raw", nargs="+", required=True, help="raw input files (SHA-256 in provenance)")
    parser.add_argument("--config-file", nargs="+", required=True, help="the config file(s) of the run")
    instruments_option(parser)
    parser.add_argument(
        "--calibration", help="calibration targets of synthetic data (config study.calibration.targets)"
    )
    file_options(parser, STATS, "stats")  # shown as compact tables
    for name in MI_STATS:
        parser.add_argument(
            f"--{name.replace('_', '-')}", help=f"sensitivity/{name}.csv (when imputation is on)"
        )
    # the derived files the numbers of Tables 1-4 and S1-S2 come from: each number carries its trace
    file_options(parser, TRACED, "stats")
    group_files(parser, "reconciliation", "ingest/{group}_reconciliation.csv, one per group")
    parser.add_argument(
        "--manifests",
        nargs="+",
        required=True,
        metavar="FILE",
        help="the provenance manifest of every other job of the run (logs/<rule>.manifest.json)",
    )
    parser.add_argument("--out", required=True, help="reports/report.html")
    workers_option(parser, "scaling the figures down for embedding")


def _check_given(expected: list[str], given: list[str], option: str) -> None:
    """Every file the report shows must be among the declared inputs."""
    tails = {Path(g).as_posix() for g in given}
    missing = [e for e in expected if not any(t.endswith(e) for t in tails)]
    if missing:
        raise InputError(f"--{option}: the report shows {missing[:5]} but they were not given")


def check_inputs(args, config: dict) -> None:
    """The optional inputs are given exactly when the config switches their part on, and every file on
    the command line exists (the error names the option and the file)."""
    from cocapp.config import imputation_enabled, published_reference, qualitative_enabled

    switched_inputs(args, list(MI_STATS), imputation_enabled(config), "imputation (imputation.enabled)")
    switched_inputs(args, list(AUDIT), bool(published_reference(config)), "the audit (published.reference)")
    qualitative = ["qualitative_section", *QUALITATIVE]
    switched_inputs(
        args, qualitative, qualitative_enabled(config), "the qualitative arm (qualitative.enabled)"
    )
    for option, f in given_options(args):
        if not Path(f).is_file():
            raise FileNotFoundError(f"--{option.replace('_', '-')}: {f}: file not found")


def _by_stem(files: list[str], root: Path, suffix: str) -> dict[str, bytes]:
    """``{stem relative to root: bytes}`` of the given files ending in ``suffix``."""
    return {
        Path(f).relative_to(root).with_suffix("").as_posix(): Path(f).read_bytes()
        for f in files
        if f.endswith(suffix)
    }


def read_inputs(args, config: dict, log):
    """Read everything the report shows (checked: every file it must show was given and exists)."""
    from cocapp.contracts import read, read_json
    from cocapp.presentation.outputs import figure_specs, sensitivity_figure_stems, table_specs
    from cocapp.presentation.report import ReportInputs, sha256_of

    check_inputs(args, config)
    instruments = load_given_instruments(args, config, log)
    keys = [key for key, _ in table_specs(config)]
    _check_given([f"{key}.html" for key in keys], args.tables, "tables")
    _check_given([f"{s.stem}.png" for s in figure_specs(config, instruments)], args.figures, "figures")
    expected = [f"{stem}.png" for stem in sensitivity_figure_stems(config)]
    _check_given(expected, args.sensitivity_figures, "sensitivity-figures")
    tables = {Path(f).stem: Path(f).read_text("utf-8") for f in args.tables if f.endswith(".html")}
    table_files = {
        key: sorted((Path(f).name for f in args.tables if Path(f).stem == key), key=_format_order)
        for key in keys
    }
    verdict = read_json("verdict", args.verdict, log)
    audit = {name: getattr(args, name) for name in AUDIT if getattr(args, name)}
    raw = [Path(p) for p in args.raw]
    config_path = Path(args.config_file[0])
    log.info(f"{len(tables)} tables, {len(args.figures) // 2} figures, verdict from {args.verdict}")
    calibration, calibration_link = _calibration(args, config, log)
    stats, labels = _stats(args, instruments, log)
    manifests, manifest_issues = read_manifests(args.manifests, args.out, given_files(args), log)
    return ReportInputs(
        tables=tables,
        table_files=table_files,
        figures=_by_stem(args.figures, Path(os.path.commonpath(args.figures)), ".png"),
        sensitivity_figures={
            Path(f).stem: Path(f).read_bytes() for f in args.sensitivity_figures if f.endswith(".png")
        },
        verdict=verdict,
        comparison=read("published_comparison", audit["published_comparison"], log) if audit else None,
        consistency=read("published_consistency", audit["published_consistency"], log) if audit else None,
        qualitative_html=Path(args.qualitative_section).read_text("utf-8")
        if args.qualitative_section
        else None,
        inputs=[dict(path=str(p), size=p.stat().st_size, sha256=sha256_of(p.read_bytes())) for p in raw],
        config_path=str(config_path),
        config_sha256=sha256_of(config_path.read_bytes()),
        calibration=calibration,
        calibration_link=calibration_link,
        stats=stats,
        labels=labels,
        manifests=manifests,
        manifest_issues=manifest_issues,
        stats_links={Path(f).stem: _link(f, args.out) for f in _stats_files(args).values()},
        table_link_base=_table_link_base(args.tables, args.out),
        figure_link_base=_figure_link_base(args.figures, args.out),
        **_traces(args, config, keys, log),
        own_manifest=_own_manifest(args, log),
        instruments=instruments,
    )


def _own_manifest(args, log) -> str | None:
    """Where the runner will write this stage's manifest (relative to the working folder when inside
    it), or None when it writes none (:func:`cocapp.provenance.manifest_path`)."""
    from cocapp.provenance import manifest_path

    path = manifest_path(getattr(log, "stream", None), getattr(args, "manifest", None))
    if path is None:
        return None
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _stats_files(args) -> dict[str, str]:
    """The statistics files given, by contract name (the pooled imputation files when given)."""
    return {name: getattr(args, name) for name in REPORT_STATS if getattr(args, name, None)}


def _traces(args, config: dict, keys: list[str], log) -> dict:
    """What the report needs to trace its numbers: the files behind them by short name (stem), the
    display tables' cells and the derived tables behind Tables 1-4 and S1-S2 by their place under
    data/derived (``stats/anova.csv``), which are the files given and no other, read here as text
    under their contracts (a malformed one is an error; so is a malformed qualitative file the
    section's numbers trace to)."""
    from cocapp.contracts import read_text

    recon = by_group(config, args.reconciliation, "reconciliation")
    stats = _stats_files(args)
    audit = [getattr(args, name) for name in AUDIT if getattr(args, name)]
    qualitative = [getattr(args, name) for name in QUALITATIVE if getattr(args, name)]
    for name, file in QUALITATIVE.items():  # the contract of each is named as its file
        if getattr(args, name):
            read_text(Path(file).stem, getattr(args, name), log)
    traced = [getattr(args, name) for name in TRACED]
    files = [*stats.values(), *audit, *traced, *recon.values(), *qualitative]
    sources = {Path(f).stem: Path(f).as_posix() for f in files}
    derived = {
        f"stats/{name}.csv": read_text(name, getattr(args, name), log)
        for name in ("anova", "correlations", *TRACED)
    }
    derived |= {
        f"ingest/{g}_reconciliation.csv": read_text("reconciliation", f, log) for g, f in recon.items()
    }
    displays = {
        Path(f).stem: read_text(None, f, log).cells
        for f in args.tables
        if f.endswith(".csv") and Path(f).stem in keys
    }
    return dict(trace_sources=sources, displays=displays, derived=derived)


def _link(path: str, out: str) -> str:
    """``path`` relative to the report's folder (a local link that survives moving the run folder)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve().parent)).as_posix()


def _figure_link_base(figures: list[str], out: str) -> str:
    """The root of the figure files (their common folder) relative to the report, with a trailing slash."""
    root = Path(os.path.commonpath([str(Path(f).resolve()) for f in figures]))
    rel = Path(os.path.relpath(root, Path(out).resolve().parent)).as_posix()
    return "" if rel == "." else rel + "/"


def _table_link_base(tables: list[str], out: str) -> str:
    """The folder of the table files relative to the report, with a trailing slash ('' when beside it)."""
    folders = {str(Path(t).resolve().parent) for t in tables}
    if len(folders) != 1:
        return ""
    rel = Path(os.path.relpath(folders.pop(), Path(out).resolve().parent)).as_posix()
    return "" if rel == "." else rel + "/"


def given_options(args) -> list[tuple[str, str]]:
    """(option, file) of every input file on the report's command line (its output, settings and the
    manifests aside)."""
    skip = {"settings", "out", "manifest", "manifests", "workers"}
    out: list[tuple[str, str]] = []
    for name, value in vars(args).items():
        if name in skip or not value:
            continue
        out += [(name, str(v)) for v in (value if isinstance(value, list) else [value])]
    return out


def given_files(args) -> list[str]:
    """Every input file on the report's command line (:func:`given_options`)."""
    return [f for _, f in given_options(args)]


def read_manifests(files: list[str], out: str, given: list[str], log) -> tuple[list[dict], list[str]]:
    """The stage manifests ``files`` (:mod:`cocapp.provenance`; each must exist and be valid JSON) in
    name order, each with a link relative to the report, and what makes the results stale: a stage
    whose last run failed, an output that changed (or went missing) after its stage wrote it. Only
    files on the report's command line (``given``) are hashed again; any other output is compared with
    the hash a later stage recorded when it read the file. The report's own manifest is left out (it is
    written after the report)."""
    import json

    from cocapp.provenance import sha256_file

    manifests = []
    for path in sorted(set(map(Path, files))):
        if not path.is_file():
            raise FileNotFoundError(f"--manifests: {path}: stage manifest not found")
        try:
            m = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"--manifests: {path}: not a readable stage manifest ({err})") from None
        if not isinstance(m, dict) or "stage" not in m:
            raise ValueError(f"--manifests: {path}: not a stage manifest (no key 'stage')")
        log.read(path)
        manifests.append((path, m))
    inputs = {os.path.abspath(f) for f in given}
    read_as: dict[str, list] = {}  # file -> (rule that read it, its SHA-256 then), from the manifests
    for _, m in manifests:
        for f in m.get("inputs", []):
            read_as.setdefault(os.path.abspath(f["path"]), []).append((m.get("rule"), f.get("sha256")))
    out_dir = Path(out).resolve().parent
    rows, issues = [], []
    for path, m in manifests:
        if m.get("stage") == "report":
            continue
        if m.get("status") != "ok":
            issues.append(f"stage {m.get('rule') or m.get('stage')} failed in its last run: {m.get('error')}")
        for o in m.get("outputs", []):
            where = os.path.abspath(o["path"])
            if where in inputs:
                if not Path(where).is_file():
                    issues.append(f"{o['path']} (written by {m.get('rule')}) is missing")
                elif "sha256" in o and sha256_file(where) != o["sha256"]:
                    issues.append(f"{o['path']} changed after {m.get('rule')} wrote it")
            for reader, sha in read_as.get(where, []):
                if sha and "sha256" in o and sha != o["sha256"]:
                    issues.append(
                        f"{o['path']} changed after {m.get('rule')} wrote it ({reader} read another)"
                    )
        code = m.get("code") or {}
        rows.append(
            dict(
                # the manifest as a trace source (issue 14): short name and path as given
                src=path.name.removesuffix(".json"),
                path=path.as_posix(),
                rule=m.get("rule") or m.get("stage"),
                stage=m.get("stage"),
                status=m.get("status"),
                finished=m.get("finished"),
                seconds=m.get("seconds"),
                n_inputs=len(m.get("inputs", [])) + len(m.get("package_data", [])),
                n_outputs=len(m.get("outputs", [])),
                rows_read=sum(r.get("rows") or 0 for r in m.get("rows_read", [])),
                rows_written=sum(o.get("rows") or 0 for o in m.get("outputs", [])),
                commit=(code.get("commit") or "unknown")[:12]
                + (" (uncommitted changes)" if code.get("dirty") else ""),
                link=Path(os.path.relpath(path.resolve(), out_dir)).as_posix(),
                inputs=[dict(f, pointer=f"/inputs/{i}") for i, f in enumerate(m.get("inputs", []))]
                + [
                    dict(p, path=f"cocapp/{p['path']}", pointer=f"/package_data/{i}")
                    for i, p in enumerate(m.get("package_data", []))
                ],
            )
        )
    log.info(f"{len(rows)} stage manifests, {len(issues)} staleness issue(s)")
    return rows, issues


def _stats(args, instruments, log) -> tuple[dict, dict]:
    """The statistics files given (name -> frame, each read under its contract) and the outcome labels
    of the configured ``instruments``."""
    from cocapp.contracts import read
    from cocapp.stats.sensitivity import outcome_label

    stats = {name: read(name, f, log) for name, f in _stats_files(args).items()}
    labels = {
        (k, sc.key): outcome_label(k, sc.key, instruments)
        for k, inst in instruments.items()
        for sc in inst.scales
    }
    return stats, labels


def _calibration(args, config: dict, log) -> tuple[dict, str | None]:
    """The calibration statement of the study (synthetic data) and the calibration report's path
    relative to the report's folder (a local link; None when no report is configured)."""
    from cocapp.presentation.calibration import calibration_statement
    from cocapp.stages.common import load_calibration

    statement = calibration_statement(
        config, load_calibration(getattr(args, "calibration", None), config, log)
    )
    link = None
    if statement.get("declared") and statement.get("report"):
        out_dir = Path(args.out).parent
        link = Path(os.path.relpath(Path(statement["report"]).resolve(), out_dir.resolve())).as_posix()
    return statement, link


def _format_order(name: str) -> int:
    from cocapp.presentation.outputs import TABLE_FORMATS

    return TABLE_FORMATS.index(Path(name).suffix.lstrip("."))


def _file_size(path: str) -> int:
    """Bytes of ``path`` (0 when missing: :func:`read_inputs` says which file is)."""
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _compact_file(path: str) -> bytes:
    from cocapp.presentation.report import compact_png

    return compact_png(Path(path).read_bytes())


class _Compacted(Mapping):
    """PNG bytes -> their :func:`~cocapp.presentation.report.compact_png` copy
    (``ReportInputs.compacted``), from the compaction of the PNG ``files`` running in ``background``
    (:class:`~cocapp.stages.common.BackgroundMap`); the first look-up waits for it (joining in)."""

    def __init__(self, files: list[str], background: BackgroundMap):
        self._files, self._background = files, background
        self._copies: dict | None = None

    def _all(self) -> dict:
        if self._copies is None:
            copies = self._background.results()
            self._copies = {Path(f).read_bytes(): c for f, c in zip(self._files, copies, strict=True)}
        return self._copies

    def __getitem__(self, data: bytes) -> bytes:
        return self._all()[data]

    def __iter__(self):
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def run(args, settings, log) -> dict:
    from cocapp.presentation.report import render_report

    config = settings.plain()
    pngs = list(dict.fromkeys(f for f in [*args.figures, *args.sensitivity_figures] if f.endswith(".png")))
    pngs.sort(key=_file_size, reverse=True)  # the largest first: the last tasks are short, none waits long
    # Compacting the figures for embedding is most of the stage's work: it begins at once, in the
    # background (--workers - 1 processes), while the inputs are read and the report is rendered;
    # render_report looks the figures up last, and this process then joins in.
    with BackgroundMap(_compact_file, pngs, args.workers) as compaction:
        inputs = read_inputs(args, config, log)
        inputs.compacted = _Compacted(pngs, compaction)
        text = render_report(config, inputs)
    return {args.out: text}
