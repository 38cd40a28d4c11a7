"""Stage ``qualitative-ingest``: read coded segments, validate them, write the canonical tables.

Input is the config's ``qualitative.segments`` (canonical CSV, QualCoder CSV/XLSX export or REFI-QDA
``.qdpx``), ``qualitative.cases`` (case table) and ``qualitative.codebook``; for a ``.qdpx`` project the
case table and codebook may be left out and are then taken from the project (case variables ``site``
and ``participant_group``, or the variables named by ``qualitative.variables``; nested codes, theme at
``qualitative.theme_level``). A project without Cases makes each source a case (with a warning). A
case table may be keyed by source: with a ``source_id`` column, each listed source's segments belong
to that row's ``case_id`` (one row per source; the rows of a case must agree on its attributes).
``qualitative.interviews`` (optional) gives interview counts by site and participant group, a ceiling
for the case table.

Outputs (directory ``<outputs.derived>/qualitative`` unless ``--outdir``): ``segments.csv`` (canonical
columns, see :data:`cocapp.qualitative.validate.CANONICAL_SEGMENT_COLUMNS`; unsuppressed, internal),
``cases.csv`` and ``codes.csv`` (validated case table and codebook), and, when asked, the import
report (what the input holds that could not be used, and what was assumed) and the memos. Any problem
stops the stage with every problem listed and no output written.
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

__all__ = [
    "IMPORT_REPORT_COLUMNS",
    "MEMO_COLUMNS",
    "import_report",
    "ingest",
    "ingest_all",
    "options_from_config",
    "source_table",
]

IMPORT_REPORT_COLUMNS = ["kind", "element", "where", "detail"]
MEMO_COLUMNS = ["memo", "author", "created", "modified", "description", "text"]


def options_from_config(qual_config: dict | None):
    """:class:`cocapp.qualitative.qdpx.QdpxOptions` from ``qualitative.theme_level``, ``offset_unit``,
    ``variables`` and ``qdpx_limits``."""
    from cocapp.qualitative.archive import limits_from_config
    from cocapp.qualitative.qdpx import QdpxOptions

    q = qual_config or {}
    return QdpxOptions(
        theme_level=int(q.get("theme_level", 1)),
        offset_unit=q.get("offset_unit", "auto"),
        variables=dict(q.get("variables") or {}),
        limits=limits_from_config(q),
    )


def _rename_variables(cases: pd.DataFrame, variables: dict) -> pd.DataFrame:
    ren = {v: k for k, v in (variables or {}).items() if v in cases.columns and k not in cases.columns}
    return cases.rename(columns=ren)


def _cases_by_source(inp: QualInput, cases: pd.DataFrame, source: str) -> pd.DataFrame:
    """Apply a case table keyed by source (``source_id``): set each segment's case; one row per case."""
    mapping: dict[str, str] = {}
    for rec in cases.to_dict("records"):
        sid, cid = rec.get("source_id"), rec.get("case_id")
        if isinstance(sid, str) and sid.strip() and isinstance(cid, str) and cid.strip():
            mapping[sid.strip()] = cid.strip()
    seg = inp.segments
    listed = seg["source_id"].map(lambda s: isinstance(s, str) and s.strip() in mapping)
    seg.loc[listed, "case_id"] = seg.loc[listed, "source_id"].map(lambda s: mapping[s.strip()])
    attrs = [c for c in cases.columns if c not in ("source_id", "_where")]
    one = cases.drop_duplicates(subset=attrs).drop(columns="source_id")
    return one.reset_index(drop=True)


def ingest_all(
    segments_path: str | Path,
    sites: list[str],
    cases_path: str | Path | None = None,
    codebook_path: str | Path | None = None,
    interviews_path: str | Path | None = None,
    qual_config: dict | None = None,
) -> dict:
    """Read and validate coded segments: ``segments``, ``cases``, ``codes`` (canonical), ``report``
    (import report, :data:`IMPORT_REPORT_COLUMNS`), ``memos`` (:data:`MEMO_COLUMNS`) and ``input``
    (the :class:`QualInput` as read)."""
    options = options_from_config(qual_config)
    inp: QualInput = read_segments(segments_path, options)
    variables = options.variables
    if cases_path:
        cases, cases_source = read_cases(cases_path, allow_source_key=True), Path(cases_path).name
        cases = _rename_variables(cases, variables)
        if "source_id" in cases.columns:
            cases = _cases_by_source(inp, cases, cases_source)
            inp.report.append(
                {
                    "kind": "info",
                    "element": "case table",
                    "where": cases_source,
                    "detail": "segments assigned to cases by source (source_id column of the case table)",
                }
            )
    elif inp.cases is not None:
        cases, cases_source = _rename_variables(inp.cases, variables), f"{Path(inp.path).name}: Cases"
    else:
        raise QualitativeInputError(f"{segments_path}: no case table: set qualitative.cases")
    if codebook_path:
        codebook, codebook_source = read_codebook(codebook_path), Path(codebook_path).name
    elif inp.codebook is not None and len(inp.codebook):
        codebook, codebook_source = inp.codebook, f"{Path(inp.path).name}: CodeBook"
    else:
        raise QualitativeInputError(f"{segments_path}: no codebook: set qualitative.codebook")
    interviews = read_interviews(interviews_path) if interviews_path else None
    seg, cs, cb = canonical_tables(
        inp,
        cases,
        codebook,
        sites,
        cases_source=cases_source,
        codebook_source=codebook_source,
        interviews=interviews,
    )
    memos = inp.notes if inp.notes is not None else pd.DataFrame(columns=MEMO_COLUMNS)
    return {
        "segments": seg,
        "cases": cs,
        "codes": cb,
        "report": import_report(inp),
        "memos": memos[MEMO_COLUMNS].astype("string"),
        "sources": source_table(inp, seg),
        "input": inp,
    }


def source_table(inp: QualInput, segments: pd.DataFrame) -> pd.DataFrame:
    """``source_id``, ``n_characters``: every source read (with its length in code points when the
    format carries the text, as REFI-QDA does; empty otherwise), sorted by source."""
    if inp.sources is not None:
        ids = sorted(inp.sources)
        n = [len(inp.sources[s]) for s in ids]
    else:
        ids = sorted(segments["source_id"].dropna().unique())
        n = [pd.NA] * len(ids)
    return pd.DataFrame(
        {"source_id": pd.Series(ids, dtype="string"), "n_characters": pd.array(n, dtype="Int64")}
    )


def import_report(inp: QualInput) -> pd.DataFrame:
    """The import report as a table (:data:`IMPORT_REPORT_COLUMNS`), in the order found."""
    return pd.DataFrame(inp.report, columns=IMPORT_REPORT_COLUMNS).astype("string")


def ingest(
    segments_path: str | Path,
    sites: list[str],
    cases_path: str | Path | None = None,
    codebook_path: str | Path | None = None,
    interviews_path: str | Path | None = None,
    qual_config: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read and validate coded segments; return canonical (segments, cases, codebook).

    A case table / codebook file, when given, is the authority; otherwise a ``.qdpx`` project's own
    cases and codebook are used (other formats need both files).
    """
    out = ingest_all(segments_path, sites, cases_path, codebook_path, interviews_path, qual_config)
    return out["segments"], out["cases"], out["codes"]
