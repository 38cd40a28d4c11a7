"""The command-line shell shared by the per-threshold stages that turn one scores file into one table.

``descriptives``, ``normality`` and ``reference`` differ only in the table they compute; the
arguments, config and instrument loading, atomic writing and error reporting are the same and live here.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import pandas as pd

from cocapp.instruments import Instrument

__all__ = ["ScoresTableBuilder", "run_scores_stage"]

# (scores, instruments, group, threshold, sites, config) -> tidy table
ScoresTableBuilder = Callable[[pd.DataFrame, dict[str, Instrument], str, str, list[str], dict], pd.DataFrame]


def run_scores_stage(
    name: str, description: str, build: ScoresTableBuilder, argv: list[str] | None = None
) -> int:
    """Parse ``--config --group --threshold --scores --out``, build the table, write it atomically.

    Returns 0, or 1 with ``cocapp <name>: error: ...`` on stderr (nothing written) on any failure.
    """
    from cocapp.config import group_config, load_config, site_names
    from cocapp.instruments import load_instruments
    from cocapp.io import write_csv_atomic
    from cocapp.scoring import read_scores

    parser = argparse.ArgumentParser(prog=f"cocapp {name}", description=description)
    parser.add_argument("--config", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--threshold", required=True)
    parser.add_argument("--scores", required=True, help="scores/by_threshold/{group}/{threshold}.csv")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        group = group_config(config, args.group)
        instruments = load_instruments(group["instruments"], config["instrument_paths"])
        table = build(
            read_scores(args.scores), instruments, args.group, args.threshold, site_names(config), config
        )
        write_csv_atomic(table, args.out)
    except Exception as err:  # noqa: BLE001 - reported to the log, non-zero exit
        print(f"cocapp {name}: error: {err}", file=sys.stderr)
        return 1
    return 0
