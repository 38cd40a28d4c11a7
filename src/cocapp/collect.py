"""Collect stage: concatenate per-group / per-threshold parts into one tidy file of the output contract.

Parts are concatenated in the order given (the workflow passes them in config order: groups, then
thresholds), so the collected file is deterministic. Parts with a header and no rows contribute
nothing; the column order is the first part's, with any extra columns of later parts appended.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from cocapp.io import write_csv_atomic

__all__ = ["concat_parts", "main"]


def concat_parts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-bind tables keeping the first table's column order (union of columns)."""
    columns: list[str] = []
    for f in frames:
        columns += [c for c in f.columns if c not in columns]
    non_empty = [f for f in frames if len(f)]
    if not non_empty:
        return pd.DataFrame(columns=columns)
    return pd.concat(non_empty, ignore_index=True)[columns]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cocapp collect", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("parts", nargs="+")
    args = parser.parse_args(argv)
    try:
        # Everything is read as text so that values pass through byte for byte.
        frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in args.parts]
        write_csv_atomic(concat_parts(frames), args.out)
    except Exception as err:  # noqa: BLE001 - reported in the log, non-zero exit
        print(f"cocapp collect: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
