"""``cocapp figures``: site means ± CI for every outcome (the layout of the paper's Fig. 3, Tukey marks
against the reference site), correlation scatter plots, and the published figures under their label.
"""

from __future__ import annotations

from cocapp.stages.common import (
    by_group,
    file_options,
    group_files,
    instruments_option,
    load_given_instruments,
    match_outputs,
    read_named,
    scores_by_threshold,
)

__all__ = ["add_arguments", "run"]

STATS = ("descriptives", "tukey", "correlations")


def add_arguments(parser) -> None:
    file_options(parser, STATS, "stats")
    group_files(parser, "scores", "scores/{group}.csv, one per group")
    instruments_option(parser)
    parser.add_argument("--out", nargs="+", required=True, help="every figure file to write")


def run(args, settings, log) -> dict:
    from cocapp.config import format_threshold
    from cocapp.presentation.figures import draw_all

    stats = read_named(args, STATS, log)
    # the scatter plots draw the primary threshold's scores only (one threshold of a national study)
    primary = [format_threshold(settings["scoring"]["primary_threshold"])]
    scores = {
        g: next(scores_by_threshold(p, primary, log))[1]
        for g, p in by_group(settings, args.scores, "scores").items()
    }
    drawn = draw_all(settings, stats, scores, load_given_instruments(args, settings, log))
    log.info(f"{len(drawn) // 2} figures (PNG and SVG)")
    return match_outputs(args.out, drawn, "out")
