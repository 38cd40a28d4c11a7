"""``cocapp reliability``: Cronbach's alpha per scale (complete cases) and item statistics, every group.

Alpha with its Feldt confidence interval, standardized alpha, mean inter-item r, and per item the
corrected item-total r and alpha if deleted (:func:`cocapp.stats.reliability.reliability_tables`; R
``psych::alpha``). Writes ``stats/reliability.csv`` and ``stats/reliability_items.csv``.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    concat_parts,
    group_files,
    group_instruments,
    instruments_option,
    load_given_instruments,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    group_files(parser, "items", "ingest/{group}_items.csv, one per group")
    instruments_option(parser)
    parser.add_argument("--alpha-out", required=True, help="stats/reliability.csv")
    parser.add_argument("--items-out", required=True, help="stats/reliability_items.csv")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.stats.reliability import reliability_tables

    st = settings["statistics"]
    scales, items = [], []
    instruments = load_given_instruments(args, settings, log)
    for group, path in by_group(settings, args.items, "items").items():
        by_scale, by_item = reliability_tables(
            read("items", path, log),
            group_instruments(settings, group, instruments),
            group,
            patterns=settings["groups"][group].get("item_columns"),
            confidence_level=float(st["confidence_level"]),
            acceptable_alpha=float(st["acceptable_alpha"]),
        )
        low = by_scale[by_scale["acceptable"] == False]  # noqa: E712 - NaN (no alpha) is not "low"
        log.info(f"{group}: {len(by_scale)} scales, {len(low)} below alpha {st['acceptable_alpha']}")
        scales.append(by_scale)
        items.append(by_item)
    return {args.alpha_out: concat_parts(scales), args.items_out: concat_parts(items)}
