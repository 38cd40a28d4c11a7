"""Qualitative arm of cocapp: coded interview segments -> framework matrices -> joint display.

Stages (each a module with ``main(argv)``, also reachable as ``cocapp <stage>``):

``qualitative-ingest`` (:mod:`cocapp.qualitative.ingest`)
    read coded segments (canonical CSV, QualCoder CSV export or REFI-QDA ``.qdpx``), validate them
    against the case table and codebook, write the canonical ``segments.csv``, ``cases.csv``, ``codes.csv``.
``qualitative-framework`` (:mod:`cocapp.qualitative.framework`)
    case x theme, site x theme and participant group x theme matrices, code frequencies by site and the
    codebook with counts, after the small-cell rule.
``joint-display`` (:mod:`cocapp.qualitative.joint`)
    per site, the survey results beside the qualitative coverage and a representative extract (CSV),
    plus the qualitative section of the HTML report.

``python -m cocapp.qualitative --config config.yaml`` runs the three in turn.
"""

from cocapp.qualitative.io import QualitativeInputError, read_segments
from cocapp.qualitative.validate import QualitativeValidationError, canonical_tables

__all__ = ["QualitativeInputError", "QualitativeValidationError", "canonical_tables", "read_segments"]


def main(argv: list[str] | None = None) -> int:
    """Run ``qualitative-ingest``, ``qualitative-framework`` and ``joint-display`` with one config.

    Takes ``--config CONFIG``; the stages use their default paths (see each stage's ``--help``).
    """
    import argparse

    from cocapp.qualitative import framework, ingest, joint

    parser = argparse.ArgumentParser(
        prog="python -m cocapp.qualitative", description=main.__doc__.splitlines()[0]
    )
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    for stage in (ingest, framework, joint):
        rc = stage.main(["--config", args.config])
        if rc:
            return rc
    return 0
