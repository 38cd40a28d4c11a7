"""``cocapp score``: every scale of one group at every threshold (person-mean replacement).

A scale score exists when no more than floor(threshold × k) of its k items are missing; it is the
mean of the answered items after reverse keying (:func:`cocapp.stats.scoring.score_group`). Writes the
long scores table ``scores/{group}.csv``, thresholds in config order.
"""

from __future__ import annotations

from cocapp.stages.common import group_instruments, instruments_option, load_given_instruments

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    parser.add_argument("--group", required=True)
    parser.add_argument("--items", required=True, help="ingest/{group}_items.csv")
    instruments_option(parser)
    parser.add_argument("--out", required=True, help="scores/{group}.csv")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.io import TableChunks
    from cocapp.stats.scoring import score_group, score_group_blocks

    items = read("items", args.items, log)
    group = settings["groups"][args.group]
    thresholds = settings["scoring"]["thresholds"]
    instruments = group_instruments(
        settings, args.group, load_given_instruments(args, settings, log, args.group)
    )
    if args.out.endswith(".parquet"):  # a national study: one block per threshold and instrument
        blocks = score_group_blocks(items, instruments, thresholds, group.get("item_columns"))
        log.info(f"{args.group}: {len(items)} respondents, {len(thresholds)} thresholds, written in blocks")
        return {args.out: TableChunks(blocks)}
    scores = score_group(items, instruments, thresholds, group.get("item_columns"))
    n_scored = scores["score"].notna().sum()
    log.info(f"{args.group}: {len(items)} respondents, {len(thresholds)} thresholds, {n_scored} scores")
    return {args.out: scores}
