"""The ``cocapp`` console command.

``cocapp <stage> --settings JSON <files>`` runs one stage of the workflow (the Snakefile's rules call
these; :mod:`cocapp.stages`). Besides the stages: ``cocapp run`` runs the whole workflow with
Snakemake, ``cocapp check-config`` validates a config file, ``cocapp synthesize`` regenerates the
embedded synthetic dataset.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from cocapp.stages import STAGES

TOOLS: dict[str, str] = {
    "run": "run the whole workflow (snakemake) in the current folder",
    "check-config": "validate a config file against the schema",
    "synthesize": "regenerate the embedded synthetic COCAPP dataset (data/raw) and its calibration report",
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


def run_workflow(argv: list[str]) -> int:
    """``cocapp run [snakemake options]``: ``snakemake --cores <all>`` plus the given options."""
    cmd = [sys.executable, "-m", "snakemake", *(argv or ["--cores", "all"])]
    return subprocess.call(cmd)


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
    args = parser.parse_args(argv)
    summary = generate(args.config, args.out, args.reports or None, args.seed, args.published)
    if summary["failing"]:
        failing = summary["failing"]
        print(
            f"cocapp synthesize: {len(failing)} calibration target(s) fail: {failing[:10]}", file=sys.stderr
        )
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
    from cocapp.presentation.trace import TraceError, format_trace
    from cocapp.presentation.trace import trace as trace_query

    try:
        config = load_config(args.config)
        print(format_trace(trace_query(" ".join(args.query), config, args.directory)))
    except (TraceError, ConfigError, FileNotFoundError) as err:
        print(f"cocapp trace: error: {err}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    tools = {"run": run_workflow, "check-config": check_config, "synthesize": synthesize, "trace": trace}
    if command in tools:
        return tools[command](rest)
    if command not in STAGES:
        print(f"cocapp: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    from cocapp.stages.runner import run_stage

    return run_stage(command, rest)


if __name__ == "__main__":
    raise SystemExit(main())
