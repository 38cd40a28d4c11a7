"""``cocapp joint-display``: survey results beside the qualitative coverage per site, and the
report's qualitative section."""

from __future__ import annotations

from cocapp.stages.qualitative import FRAMEWORK, canonical_arguments, read_canonical

__all__ = ["SHOWN", "add_arguments", "run"]

# the published framework tables the section shows (qualitative-framework's outputs but the case matrix)
SHOWN = tuple(name for name in FRAMEWORK if name != "case_theme")


def add_arguments(parser) -> None:
    canonical_arguments(parser)
    parser.add_argument("--descriptives", required=True, help="stats/descriptives.csv")
    parser.add_argument("--tukey", required=True, help="stats/tukey.csv")
    parser.add_argument(
        "--interviews", help="the interview counts (qualitative.interviews): given when the config names it"
    )
    for name in SHOWN:  # the section shows their counts and traces each to its line (issue 14)
        parser.add_argument(
            f"--{name.replace('_', '-')}", required=True, help=f"qualitative/{FRAMEWORK[name]} (published)"
        )
    parser.add_argument("--joint", required=True, help="qualitative/joint_display.csv")
    parser.add_argument("--section", required=True, help="qualitative/qualitative_section.html")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.qualitative.io import read_interviews
    from cocapp.qualitative.joint import joint_display, render_section, suppress_joint
    from cocapp.stages.common import configured_file

    qual = settings["qualitative"]
    descriptives = read("descriptives", args.descriptives, log)
    tukey = read("tukey", args.tukey, log)
    path = configured_file(args.interviews, qual.get("interviews"), "qualitative.interviews", "interviews")
    interviews = read_interviews(path) if path else None
    seg, cases, codes = read_canonical(args, log)
    files = (str(args.descriptives), str(args.tukey))
    table = joint_display(seg, cases, codes, descriptives, tukey, settings, interviews, files=files)
    html = render_section(seg, cases, codes, table, settings, _framework(args))
    return {args.joint: suppress_joint(table, qual), args.section: html}


def _framework(args) -> dict:
    """The published framework tables given (file name -> cells as written, checked under their
    contracts: the section shows the published counts, ``<3`` included)."""
    from pathlib import Path

    from cocapp.contracts import read_text

    # the contract of each is named as its file (framework_site_theme.csv: framework_site_theme)
    return {
        FRAMEWORK[name]: read_text(Path(FRAMEWORK[name]).stem, getattr(args, name)).cells for name in SHOWN
    }
