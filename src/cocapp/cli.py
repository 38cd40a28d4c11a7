"""The ``cocapp`` console command.

``cocapp <stage> --settings JSON <files>`` runs one stage of the workflow (the Snakefile's rules call
these; :mod:`cocapp.stages`). Besides the stages: ``cocapp run`` runs the whole workflow with
Snakemake on a study folder, ``cocapp init`` creates a study folder, ``cocapp check-config``
validates a config file, ``cocapp synthesize`` regenerates the embedded synthetic dataset.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from cocapp.stages import STAGES

TOOLS: dict[str, str] = {
    "init": "create a study folder (config, data/raw, instruments, README); --from FILE drafts it from data",
    "run": "run the whole workflow (snakemake) on a study folder (default: the current folder)",
    "check-config": "validate a config file against the schema",
    "synthesize": "regenerate the embedded synthetic COCAPP dataset (data/raw) and its calibration report;"
    " with --sites/--respondents: a generated national study folder",
    "trace": 'where a report number comes from: cocapp trace "<table> <row> <column>"',
}


def usage() -> str:
    names = [*TOOLS, *STAGES]
    width = max(map(len, names))
    lines = ["usage: cocapp <command> [options]   (cocapp <command> --help for its options)", "", "commands:"]
    lines += [f"  {name:<{width}}  {desc}" for name, desc in TOOLS.items()]
    lines += ["", "stages (called by the Snakefile, one per rule):"]
    lines += [f"  {name:<{width}}  {spec.description}" for name, spec in STAGES.items()]
    return "\n".join(lines)


def workflow_root() -> Path:
    """The checkout holding the Snakefile of this cocapp (``src/cocapp`` -> the repository)."""
    return Path(__file__).resolve().parents[2]


CORES_OPTION = re.compile(r"--cores|--jobs|--cores=.*|--jobs=.*|-[cj](\d+|all)?")


def snakemake_command(study: Path, options: list[str]) -> list[str]:
    """``snakemake`` on the study folder ``study`` with the repository's Snakefile and profile: the
    jobs run in the folder (its relative paths), whose config.yaml is the Snakefile's ``configfile``
    (relative to the folder, so the report names it ``config.yaml`` as in the default study). Nothing
    is merged into it but ``--config`` overrides; a ``--configfile`` in ``options`` replaces it."""
    root = workflow_root()
    cmd = [sys.executable, "-m", "snakemake", "-s", str(root / "Snakefile"), "--directory", str(study)]
    profile = root / "profiles" / "default"
    if profile.is_dir() and "--workflow-profile" not in options:
        cmd += ["--workflow-profile", str(profile)]
    if not any(CORES_OPTION.fullmatch(o) for o in options):
        cmd += ["--cores", "all"]
    return cmd + options


def run_workflow(argv: list[str]) -> int:
    """``cocapp run [DIR] [snakemake options]``: the workflow on the study folder DIR (default: the
    current folder), ``--cores all`` unless the options set the cores."""
    if argv and argv[0] in {"-h", "--help"}:
        print(
            "usage: cocapp run [DIR] [snakemake options]\n\n"
            + TOOLS["run"]
            + ": snakemake -s <cocapp>/Snakefile -d DIR [options], DIR/config.yaml the only config\n"
            "(--cores all unless given; e.g. cocapp run my-study --cores 2, cocapp run my-study -n)"
        )
        return 0
    study = Path(".")
    if argv and not argv[0].startswith("-"):
        study, argv = Path(argv[0]), argv[1:]
    if not study.is_dir():
        print(
            f"cocapp run: error: {study}: no such folder (cocapp init {study} creates a study)",
            file=sys.stderr,
        )
        return 2
    if not (study / "config.yaml").is_file() and "--configfile" not in argv:
        print(
            f"cocapp run: error: {study / 'config.yaml'}: no config file (cocapp init {study} creates one)",
            file=sys.stderr,
        )
        return 2
    if not (workflow_root() / "Snakefile").is_file():
        print(
            f"cocapp run: error: no Snakefile in {workflow_root()} (run cocapp from its checkout)",
            file=sys.stderr,
        )
        return 2
    return subprocess.call(snakemake_command(study.resolve(), argv))


def init(argv: list[str]) -> int:
    from cocapp.init_study import InitError, init_study

    parser = argparse.ArgumentParser(prog="cocapp init", description=TOOLS["init"])
    parser.add_argument("folder", help="the study folder to create (may exist, but not hold a config.yaml)")
    parser.add_argument(
        "--from",
        dest="source",
        metavar="FILE",
        help="a raw data file (.sav, .csv, ...): copied to data/raw/, codebook and instruments drafted",
    )
    parser.add_argument("--name", help="the study's short name (default: the folder's name)")
    args = parser.parse_args(argv)
    try:
        notes = init_study(args.folder, args.source, args.name)
    except InitError as err:
        print(f"cocapp init: error: {err}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"cocapp init: {note}", file=sys.stderr)
    print(f"{args.folder}: study folder made; edit {args.folder}/config.yaml, then: cocapp run {args.folder}")
    return 0


def check_config(argv: list[str]) -> int:
    from cocapp.config import ConfigError, load_config

    parser = argparse.ArgumentParser(prog="cocapp check-config", description=TOOLS["check-config"])
    parser.add_argument("config", nargs="?", default="config.yaml")
    args = parser.parse_args(argv)
    try:
        load_config(args.config)
    except ConfigError as err:
        print(f"cocapp check-config: error: {err}", file=sys.stderr)
        return 1
    print(f"{args.config}: valid")
    return 0


def synthesize(argv: list[str]) -> int:
    from cocapp.synthetic import DEFAULT_SEED
    from cocapp.synthetic import synthesize as generate

    parser = argparse.ArgumentParser(prog="cocapp synthesize", description=TOOLS["synthesize"])
    parser.add_argument("--config", default="config.yaml", help="config file (sites, groups, covariates)")
    parser.add_argument("--published", default=None, help="published-values YAML (default: the config's)")
    parser.add_argument("--out", default="data/raw", help="folder for the .sav/.csv files and codebook.csv")
    parser.add_argument("--reports", default="reports", help="folder for synthetic_calibration.md/.csv")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument("--sites", type=int, help="national study: number of sites (study folder in --out)")
    parser.add_argument("--respondents", type=int, help="national study: number of service users")
    args = parser.parse_args(argv)
    if args.sites is not None or args.respondents is not None:
        return synthesize_national(parser, args)
    summary = generate(args.config, args.out, args.reports or None, args.seed, args.published)
    if summary["failing"]:
        failing = summary["failing"]
        print(
            f"cocapp synthesize: {len(failing)} calibration target(s) fail: {failing[:10]}", file=sys.stderr
        )
        return 1
    return 0


def synthesize_national(parser, args) -> int:
    """``cocapp synthesize --sites K --respondents N --out DIR [--seed S]``: a generated study folder
    (:mod:`cocapp.synthetic.national`)."""
    from cocapp.synthetic.national import write_national_study

    if args.sites is None or args.respondents is None:
        parser.error("--sites and --respondents go together")
    if args.sites < 2 or args.respondents < 1:
        parser.error("--sites must be at least 2 and --respondents positive")
    try:
        write_national_study(args.out, args.sites, args.respondents, args.seed, args.config)
    except (OSError, ValueError, KeyError) as err:
        print(f"cocapp synthesize: error: {err}", file=sys.stderr)
        return 1
    return 0


def trace(argv: list[str]) -> int:
    """``cocapp trace "<table> <row> <column>"``: derived file and row, rule, function and config keys
    of a number in the report (:mod:`cocapp.presentation.trace`)."""
    parser = argparse.ArgumentParser(prog="cocapp trace", description=TOOLS["trace"])
    parser.add_argument(
        "query", nargs="+", help='e.g. "Table 2 RSA Life goals Artois" (parts may be split by |)'
    )
    parser.add_argument("--config", default="config.yaml", help="the run's config (default config.yaml)")
    parser.add_argument("--directory", default=".", help="the folder the workflow ran in (default .)")
    args = parser.parse_args(argv)
    from cocapp.config import ConfigError, load_config
    from cocapp.contracts import ContractError, RunFiles
    from cocapp.presentation.trace import TraceError, format_trace
    from cocapp.presentation.trace import trace as trace_query

    try:
        config = load_config(args.config)
        # the run's files, read through the contracts' readers (the trace itself opens none)
        print(format_trace(trace_query(" ".join(args.query), config, RunFiles(args.directory))))
    except (TraceError, ContractError, ConfigError, FileNotFoundError) as err:
        print(f"cocapp trace: error: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    tools = {
        "init": init,
        "run": run_workflow,
        "check-config": check_config,
        "synthesize": synthesize,
        "trace": trace,
    }
    if command in tools:
        return tools[command](rest)
    if command not in STAGES:
        print(f"cocapp: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from cocapp.stages.runner import run_stage

    return run_stage(command, rest)


if __name__ == "__main__":
    raise SystemExit(main())
