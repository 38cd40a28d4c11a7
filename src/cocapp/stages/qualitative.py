"""What the qualitative arm's stages share (``qualitative-ingest``, ``qualitative-framework``,
``joint-display``).

``qualitative-ingest`` reads coded segments (canonical CSV, QualCoder CSV export or REFI-QDA
``.qdpx``) with the case table, codebook and interview counts, validates them and writes the
canonical ``segments.csv``, ``cases.csv``, ``codes.csv``. ``qualitative-framework`` builds the case,
site and participant-group × theme matrices, code frequencies and the codebook with counts (small
cells suppressed). ``joint-display`` puts the survey results beside the qualitative coverage per site
and renders the report's qualitative section.
"""

from __future__ import annotations

from cocapp.stages.common import file_options

__all__ = ["CANONICAL", "FRAMEWORK", "canonical_arguments", "read_canonical"]

CANONICAL = ("segments", "cases", "codes")
FRAMEWORK = {
    "case_theme": "framework_case_theme.csv",
    "site_theme": "framework_site_theme.csv",
    "group_theme": "framework_group_theme.csv",
    "code_frequencies": "code_frequencies_by_site.csv",
    "codebook": "codebook.csv",
}


def canonical_arguments(parser) -> None:
    file_options(parser, CANONICAL, "qualitative")


def read_canonical(args, log):
    """The canonical segments, cases and codes, read under their contracts (start/end: nullable
    integers)."""
    from cocapp.contracts import read

    return (
        read("segments", args.segments, log),
        read("cases", args.cases, log),
        read("codes", args.codes, log),
    )
