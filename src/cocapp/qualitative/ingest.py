"""Stage ``qualitative-ingest``: read coded segments, validate them, write the canonical tables.

Input is the config's ``qualitative.segments`` (canonical CSV, QualCoder CSV export or REFI-QDA
``.qdpx``), ``qualitative.cases`` (case table) and ``qualitative.codebook``; for a ``.qdpx`` project the
case table and codebook may be left out and are then taken from the project (case variables ``site``
and ``participant_group``; nested codes, top level = theme). ``qualitative.interviews`` (optional)
gives interview counts by site and participant group, a ceiling for the case table.

Outputs (directory ``<outputs.derived>/qualitative`` unless ``--outdir``): ``segments.csv`` (canonical
columns, see :data:`cocapp.qualitative.validate.CANONICAL_SEGMENT_COLUMNS`; unsuppressed, internal),
``cases.csv`` and ``codes.csv`` (validated case table and codebook). Any problem stops the stage with
every problem listed and no output written.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from cocapp.qualitative.io import (
    QualInput,
    QualitativeInputError,
    read_cases,
    read_codebook,
    read_interviews,
    read_segments,
)
from cocapp.qualitative.validate import canonical_tables

__all__ = ["ingest"]


def ingest(
    segments_path: str | Path,
    sites: list[str],
    cases_path: str | Path | None = None,
    codebook_path: str | Path | None = None,
    interviews_path: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate coded segments; return canonical (segments, cases, codebook).

    A case table / codebook file, when given, is the authority; otherwise a ``.qdpx`` project's own
    cases and codebook are used (other formats need both files).
    """
    inp: QualInput = read_segments(segments_path)
    if cases_path:
        cases, cases_source = read_cases(cases_path), Path(cases_path).name
    elif inp.cases is not None:
        cases, cases_source = inp.cases, f"{Path(inp.path).name}: Cases"
    else:
        raise QualitativeInputError(f"{segments_path}: no case table: set qualitative.cases")
    if codebook_path:
        codebook, codebook_source = read_codebook(codebook_path), Path(codebook_path).name
    elif inp.codebook is not None and len(inp.codebook):
        codebook, codebook_source = inp.codebook, f"{Path(inp.path).name}: CodeBook"
    else:
        raise QualitativeInputError(f"{segments_path}: no codebook: set qualitative.codebook")
    interviews = read_interviews(interviews_path) if interviews_path else None
    return canonical_tables(
        inp,
        cases,
        codebook,
        sites,
        cases_source=cases_source,
        codebook_source=codebook_source,
        interviews=interviews,
    )
