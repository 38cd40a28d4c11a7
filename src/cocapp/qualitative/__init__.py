"""Qualitative arm of cocapp: coded interview segments -> framework matrices -> joint display.

Its stages (:mod:`cocapp.stages`, run as ``cocapp <stage>``):

``qualitative-ingest`` (:mod:`cocapp.qualitative.ingest`)
    read coded segments (canonical CSV, QualCoder CSV export or REFI-QDA ``.qdpx``), validate them
    against the case table and codebook, write the canonical ``segments.csv``, ``cases.csv``, ``codes.csv``.
``qualitative-framework`` (:mod:`cocapp.qualitative.framework`)
    case x theme, site x theme and participant group x theme matrices, code frequencies by site and the
    codebook with counts, after the small-cell rule.
``joint-display`` (:mod:`cocapp.qualitative.joint`)
    per site, the survey results beside the qualitative coverage and a representative extract (CSV),
    plus the qualitative section of the HTML report.
"""

from cocapp.qualitative.io import QualitativeInputError, read_segments
from cocapp.qualitative.validate import QualitativeValidationError, canonical_tables

__all__ = ["QualitativeInputError", "QualitativeValidationError", "canonical_tables", "read_segments"]
