"""``cocapp missingness``: the missing-data profile of every group.

Per scale and per item: answered, missing by declared code (not applicable, no response, ...);
missing-data patterns per scale; Little's MCAR test per instrument (:mod:`cocapp.stats.missingness`).
Writes ``stats/missingness.csv``, ``missingness_items.csv``, ``missingness_patterns.csv``, ``mcar.csv``.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    concat_outputs,
    group_files,
    group_instruments,
    instruments_option,
    load_given_instruments,
)

__all__ = ["add_arguments", "run"]

OUTPUTS = ("by_scale", "by_item", "patterns", "mcar")


def add_arguments(parser) -> None:
    group_files(parser, "items", "ingest/{group}_items.csv, one per group")
    instruments_option(parser)
    parser.add_argument("--by-scale", required=True, help="stats/missingness.csv")
    parser.add_argument("--by-item", required=True, help="stats/missingness_items.csv")
    parser.add_argument("--patterns", required=True, help="stats/missingness_patterns.csv")
    parser.add_argument("--mcar", required=True, help="stats/mcar.csv")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.stats.missingness import item_missingness, mcar_table, missing_patterns, scale_missingness

    extra = {float(k): v for k, v in settings["input"]["missing_codes"].items()}
    parts: dict[str, list] = {name: [] for name in OUTPUTS}
    given = load_given_instruments(args, settings, log)
    for group, path in by_group(settings, args.items, "items").items():
        items = read("items", path, log)
        instruments = group_instruments(settings, group, given)
        pats = settings["groups"][group].get("item_columns")
        by_scale = scale_missingness(items, instruments, group, patterns=pats, extra_codes=extra)
        parts["by_scale"].append(by_scale)
        parts["by_item"].append(item_missingness(items, instruments, group, patterns=pats, extra_codes=extra))
        parts["patterns"].append(missing_patterns(items, instruments, group, patterns=pats))
        mcar = mcar_table(items, instruments, group, patterns=pats)
        parts["mcar"].append(mcar)
        log.info(
            f"{group}: {len(items)} respondents; {int(by_scale['n_incomplete'].sum())} incomplete "
            f"scale answers; MCAR computable for {int(mcar['computable'].sum())} of {len(mcar)} instruments"
        )
    return concat_outputs(args, parts)
