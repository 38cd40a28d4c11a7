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
    parser.add_argument(
        "--framework",
        nargs="*",
        default=[],
        help="the published framework tables (qualitative-framework's framework_site_theme.csv, "
        "framework_group_theme.csv, code_frequencies_by_site.csv, codebook.csv): the section shows their "
        "counts and traces each to its line (issue 14); computed alike when not given",
    )


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
    html = render_section(seg, cases, codes, table, settings, _framework(args.framework))
    return {args.joint: suppress_joint(table, qual), args.section: html}


def _framework(files: list[str]) -> dict | None:
    """The framework tables given (file name -> cells as text), or None when none was given; all four
    the section shows, or none."""
    from pathlib import Path

    import pandas as pd

    from cocapp.stages.qualitative import FRAMEWORK

    if not files:
        return None
    shown = [f for k, f in FRAMEWORK.items() if k != "case_theme"]
    given = {Path(f).name: f for f in files}
    missing = [name for name in shown if name not in given]
    if missing:
        raise ValueError(f"--framework: {', '.join(missing)} not given (the section shows all of {shown})")
    return {name: pd.read_csv(given[name], dtype=str, keep_default_na=False) for name in shown}
