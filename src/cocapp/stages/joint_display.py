"""``cocapp joint-display``: survey results beside the qualitative coverage per site, and the
report's qualitative section."""

from __future__ import annotations

from cocapp.stages.qualitative import canonical_arguments, read_canonical

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    canonical_arguments(parser)
    parser.add_argument("--descriptives", required=True, help="stats/descriptives.csv")
    parser.add_argument("--tukey", required=True, help="stats/tukey.csv")
    parser.add_argument("--joint", required=True, help="qualitative/joint_display.csv")
    parser.add_argument("--section", required=True, help="qualitative/qualitative_section.html")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.qualitative.io import read_interviews
    from cocapp.qualitative.joint import joint_display, render_section, suppress_joint

    qual = settings["qualitative"]
    descriptives = read("descriptives", args.descriptives, log)
    tukey = read("tukey", args.tukey, log)
    interviews = read_interviews(qual["interviews"]) if qual.get("interviews") else None
    seg, cases, codes = read_canonical(args, log)
    files = (str(args.descriptives), str(args.tukey))
    table = joint_display(seg, cases, codes, descriptives, tukey, settings, interviews, files=files)
    html = render_section(seg, cases, codes, table, settings)
    return {args.joint: suppress_joint(table, qual), args.section: html}
