"""Readers for coded qualitative data: canonical CSV, REFI-QDA ``.qdpx`` projects, QualCoder CSV export.

Every reader returns a :class:`QualInput`: the coded segments as read (one row per code applied to a
text selection), plus whatever codebook, case table and source texts the format carries. Each segment
row keeps a ``_where`` locator (``"segments.csv row 12"``, ``"project.qde: PlainTextSelection
guid=..."``) so that validation can name the file and element of every problem. Nothing here decides
whether the data are valid; :mod:`cocapp.qualitative.validate` does that.

Formats
-------
Canonical CSV (``segments.csv``)
    One row per coded segment. Required columns ``source_id``, ``case_id``, ``code``, ``text``;
    optional ``site``, ``participant_group``, ``theme``, ``code_path``, ``start``, ``end``, ``coder``,
    ``source_label``, ``reference``, ``memo``. ``start``/``end`` are 0-based character offsets into the
    source document, ``end`` exclusive (``text == source[start:end]``), as in REFI-QDA.
REFI-QDA project (``.qdpx``, REFI-QDA standard 1.0/1.5)
    Read safely and as real software writes it by :mod:`cocapp.qualitative.qdpx` (archive limits,
    DTDs refused, paths kept inside the project, offset unit, codes by guid/path, sources as cases,
    import report): see that module.
QualCoder coding-report export (CSV or XLSX; Reports > Coding reports)
    Columns ``File`` / ``File/case`` (or ``Case`` and ``Filename`` when the report is by case),
    ``Coder``, ``Coded``, ``Id``, ``Codename``, ``Coded_Memo``, any number of ``Category`` columns (the
    code's parents, nearest first; the last non-empty one is taken as the theme) and optional
    ``FileVar_<name>`` / ``CaseVar_<name>`` attribute columns (``CaseVar_site`` and
    ``CaseVar_participant_group`` are used). The export carries no character offsets, so
    ``start``/``end`` stay empty. Short CSV rows (QualCoder writes no empty ``Category`` cells before
    the variables) are realigned; image and a/v codings (``Id`` ``imid:``/``avid:``) are skipped and
    listed in the import report. When the report is by file, the file name is taken as the case id.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cocapp.io import write_outputs_atomic  # noqa: F401 - re-exported for the qualitative stages

__all__ = [
    "QualInput",
    "QualitativeInputError",
    "SEGMENT_INPUT_COLUMNS",
    "read_cases",
    "read_codebook",
    "read_interviews",
    "read_qdpx",
    "read_qualcoder_csv",
    "read_qualcoder_xlsx",
    "read_segments",
    "read_segments_csv",
    "write_outputs_atomic",
]

QDA_NAMESPACE_PREFIX = "urn:QDA-XML:project:"

#: Columns a segment row may carry after reading (``_where`` is added by every reader).
SEGMENT_INPUT_COLUMNS = [
    "source_id",
    "source_label",
    "case_id",
    "site",
    "participant_group",
    "theme",
    "code",
    "code_path",
    "text",
    "start",
    "end",
    "coder",
    "reference",
    "memo",
]
REQUIRED_SEGMENT_COLUMNS = ["source_id", "case_id", "code", "text"]
REQUIRED_CASE_COLUMNS = ["case_id", "site", "participant_group"]
REQUIRED_CODEBOOK_COLUMNS = ["code", "theme"]


class QualitativeInputError(ValueError):
    """A qualitative input file cannot be read or is invalid; the message names file and element."""


@dataclass
class QualInput:
    """Coded segments as read, with what the format carries besides.

    ``fields`` maps canonical names to the names used in the input format (``end`` ->
    ``endPosition`` for REFI-QDA), so that messages speak the user's language. ``sources`` maps
    ``source_id`` to its full text when the format stores it (REFI-QDA); ``None`` otherwise.
    """

    path: str
    segments: pd.DataFrame
    codebook: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    sources: dict[str, str] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    kind: str = "csv"
    #: what could not be used or was assumed (``kind``, ``element``, ``where``, ``detail``)
    report: list[dict] = field(default_factory=list)
    #: memos (REFI-QDA Notes): memo, author, created, modified, description, text
    notes: pd.DataFrame | None = None
    #: one row per source with its attributes (REFI-QDA source variables)
    source_table: pd.DataFrame | None = None
    origin: str = ""


# -- CSV helpers -----------------------------------------------------------------------------------
def _read_text_csv(path: str | Path, what: str) -> pd.DataFrame:
    """Read a CSV keeping every cell as text (empty -> NA); a missing or empty file is an error."""
    path = Path(path)
    if not path.is_file():
        raise QualitativeInputError(f"{path}: {what} file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise QualitativeInputError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise QualitativeInputError(f"{path}: not a readable CSV file ({err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    dups = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dups:
        raise QualitativeInputError(f"{path}: column {dups[0]!r} appears more than once in the header")
    return df


def _require(df: pd.DataFrame, columns: list[str], path: str | Path, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise QualitativeInputError(f"{path}: {what} lacks required column(s) {missing}")


def _row_where(path: str | Path, n: int) -> list[str]:
    # data row 1 is file line 2 (after the header); say "row" as in the rest of cocapp
    return [f"{Path(path).name} row {i}" for i in range(1, n + 1)]


def read_segments_csv(path: str | Path) -> QualInput:
    """Read a canonical coded-segment CSV (see module docstring for its columns)."""
    df = _read_text_csv(path, "segments")
    _require(df, REQUIRED_SEGMENT_COLUMNS, path, "segments table")
    out = pd.DataFrame(
        {
            c: df[c] if c in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
            for c in SEGMENT_INPUT_COLUMNS
        }
    )
    out["_where"] = _row_where(path, len(df))
    return QualInput(path=str(path), segments=out, kind="csv", fields={"start": "start", "end": "end"})


def read_cases(path: str | Path, allow_source_key: bool = False) -> pd.DataFrame:
    """Read the case (participant) table: ``case_id``, ``site``, ``participant_group`` + attributes.

    With ``allow_source_key`` only ``case_id`` is required here (``site`` and ``participant_group``
    may come under other names, renamed by ``qualitative.variables``; validation checks them) and a
    ``source_id`` column may key the table by source. A ``_where`` column (``cases.csv row N``) is
    added for messages; other columns are kept as text.
    """
    df = _read_text_csv(path, "case table")
    _require(df, ["case_id"] if allow_source_key else REQUIRED_CASE_COLUMNS, path, "case table")
    df["_where"] = _row_where(path, len(df))
    return df


def read_codebook(path: str | Path) -> pd.DataFrame:
    """Read the codebook: ``code``, ``theme``, optional ``definition``, ``code_path``, ``provenance``."""
    df = _read_text_csv(path, "codebook")
    _require(df, REQUIRED_CODEBOOK_COLUMNS, path, "codebook")
    if "definition" not in df.columns:
        df["definition"] = pd.NA
    df["_where"] = _row_where(path, len(df))
    return df


def read_interviews(path: str | Path) -> pd.DataFrame:
    """Read the interview counts by site and participant group (``site``, ``participant_group``,
    ``n_interviewed``): aggregate numbers from a publication, used as a ceiling for the case table."""
    df = _read_text_csv(path, "interview counts")
    _require(df, ["site", "participant_group", "n_interviewed"], path, "interview counts table")
    n = pd.to_numeric(df["n_interviewed"], errors="coerce")
    bad = df.index[n.isna() | (n < 0) | (n != n.round())]
    if len(bad):
        i = int(bad[0])
        raise QualitativeInputError(
            f"{Path(path).name} row {i + 1}: n_interviewed {df.loc[i, 'n_interviewed']!r} is not a count"
        )
    df["n_interviewed"] = n.astype(int)
    return df


# -- QualCoder -------------------------------------------------------------------------------------
_QC_FILE_COLUMNS = ("File", "File/case", "Case")


def _is_qualcoder_header(header: list[str]) -> bool:
    return "Codename" in header and "Coded" in header and any(c in header for c in _QC_FILE_COLUMNS)


def read_qualcoder_csv(path: str | Path) -> QualInput:
    """Read a QualCoder coding-report CSV export (columns documented in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise QualitativeInputError(f"{path}: segments file not found")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    return _qualcoder_rows(path, rows, padded=False)


def read_qualcoder_xlsx(path: str | Path, limits=None) -> QualInput:
    """Read a QualCoder coding-report XLSX export (first sheet; same columns as the CSV export).

    The workbook is a zip archive: its directory is checked under the same limits as a ``.qdpx``
    (:class:`cocapp.qualitative.archive.SafeArchive`) before openpyxl reads it (openpyxl parses its
    XML with defusedxml when that is installed, as it is for cocapp).
    """
    from cocapp.qualitative.archive import SafeArchive

    path = Path(path)
    with SafeArchive(path, limits, what="an XLSX workbook"):
        pass
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a broken workbook
        raise QualitativeInputError(f"{path}: not a readable XLSX workbook ({err})") from None
    try:
        ws = wb.worksheets[0]
        rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    while rows and rows[0] and not any(c.strip() for c in rows[0]):
        rows.pop(0)
    # openpyxl pads rows to the sheet's width; trailing empty cells are not data
    return _qualcoder_rows(path, rows, padded=True)


def _qualcoder_rows(path: Path, rows: list[list[str]], padded: bool) -> QualInput:
    """Segments from the rows of a QualCoder export (header first).

    QualCoder's CSV writer appends only as many ``Category`` cells as the row's code has parents and
    then the ``FileVar_``/``CaseVar_`` cells, so a row of a code with fewer parents than the header's
    ``Category`` columns is short and its variables sit under the wrong headings. Such a row is
    realigned (its categories are the first cells after ``Coded_Memo``, its variables the last
    cells) and counted in the import report. The XLSX export writes every cell in its column
    (``padded``). Image and audio/video codings (``Id`` ``imid:``/``avid:``) are skipped with a
    warning in the import report.
    """
    layout = _QcLayout.of(_qualcoder_header(path, rows))
    recs, report = [], []
    n_realigned = 0
    for n, raw in enumerate(rows[1:], start=1):
        if not any(str(cell).strip() for cell in raw):
            continue
        row, realigned = _qualcoder_cells(path, n, raw, layout, padded)
        n_realigned += realigned
        ident = layout.get(row, "Id")
        where = f"{path.name} row {n}" + (f" (Id {ident})" if ident else "")
        if ident.startswith(("imid:", "avid:")):
            report.append(_skipped_coding(ident, where))
            continue
        recs.append(_qualcoder_segment(row, layout, where))
    if n_realigned:
        report.insert(0, _realigned_note(path, n_realigned))
    seg = pd.DataFrame(recs, columns=[*SEGMENT_INPUT_COLUMNS, "_where"]).astype("object")
    for c in ("source_id", "case_id", "code", "text"):
        seg[c] = seg[c].map(lambda v: pd.NA if v == "" else v)
    return QualInput(
        path=str(path), segments=seg, kind="qualcoder", fields={"start": "start", "end": "end"}, report=report
    )


def _qualcoder_header(path: Path, rows: list[list[str]]) -> list[str]:
    """The header of a QualCoder export's rows (cells stripped, trailing empty cells dropped), checked."""
    if not rows:
        raise QualitativeInputError(f"{path}: segments file is empty")
    header = [h.strip() for h in rows[0]]
    while header and not header[-1]:
        header.pop()
    if not _is_qualcoder_header(header):
        raise QualitativeInputError(
            f"{path}: not a QualCoder coding export (needs File/Case, Coded, Codename)"
        )
    return header


@dataclass
class _QcLayout:
    """Where a QualCoder export's header puts things: the file column, the ``Category`` columns (and
    whether they are side by side), the number of variable columns after them, each other column."""

    header: list[str]
    by_case: bool
    file_col: str
    cat_idx: list[int]
    contiguous: bool
    after: int
    col: dict[str, int]

    @classmethod
    def of(cls, header: list[str]) -> _QcLayout:
        """The layout of a checked header (:func:`_qualcoder_header`)."""
        by_case = "Case" in header
        file_col = "Filename" if by_case else next(c for c in ("File", "File/case") if c in header)
        cat_idx = [i for i, h in enumerate(header) if h == "Category"]
        contiguous = bool(cat_idx) and cat_idx == list(range(cat_idx[0], cat_idx[0] + len(cat_idx)))
        after = len(header) - (cat_idx[-1] + 1) if cat_idx else 0  # variable columns after the categories
        col = {h: i for i, h in enumerate(header) if h != "Category"}
        return cls(header, by_case, file_col, cat_idx, contiguous, after, col)

    def get(self, row: list[str], name: str) -> str:
        """The stripped cell of column ``name`` ("" when the header has no such column)."""
        return str(row[self.col[name]]).strip() if name in self.col else ""


def _qualcoder_cells(
    path: Path, n: int, raw: list[str], layout: _QcLayout, padded: bool
) -> tuple[list[str], bool]:
    """Data row ``n``'s cells, one per header column (a short row realigned, see :func:`_qualcoder_rows`),
    and whether it was realigned; more non-empty cells than columns is an error."""
    header, cat_idx = layout.header, layout.cat_idx
    row = list(raw)
    if padded:
        row = row[: len(header)]
    if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
        raise QualitativeInputError(
            f"{path.name} row {n}: {len(row)} cells but the header has {len(header)} columns"
        )
    row = row[: len(header)]
    missing = len(header) - len(row)
    realigned = False
    if missing and layout.contiguous and layout.after and missing <= len(cat_idx):
        # short row: k = len(cat_idx) - missing categories, then the variables
        k = len(cat_idx) - missing
        start = cat_idx[0]
        cats_cells = row[start : start + k]
        row = row[:start] + cats_cells + [""] * missing + row[start + k :]
        realigned = True
    return row + [""] * (len(header) - len(row)), realigned


def _skipped_coding(ident: str, where: str) -> dict:
    """The import-report row of an image or audio/video coding (``Id`` ``imid:``/``avid:``), skipped."""
    what = "image" if ident.startswith("imid:") else "audio/video"
    return {
        "kind": "not used",
        "element": f"{what} coding",
        "where": where,
        "detail": f"{what} coding skipped: only text codings are analysed",
    }


def _qualcoder_segment(row: list[str], layout: _QcLayout, where: str) -> dict:
    """The segment of one text coding: theme the last non-empty ``Category``, code path from the
    categories, case the ``Case`` (report by case) or else the file."""
    get = layout.get
    cats = [str(row[i]).strip() for i in layout.cat_idx if str(row[i]).strip()]
    source = get(row, layout.file_col)
    case = get(row, "Case") if layout.by_case else source
    return {
        "source_id": source,
        "source_label": pd.NA,
        "case_id": case,
        "site": get(row, "CaseVar_site") or pd.NA,
        "participant_group": get(row, "CaseVar_participant_group") or pd.NA,
        "theme": cats[-1] if cats else pd.NA,
        "code": get(row, "Codename"),
        "code_path": "/".join([*reversed(cats), get(row, "Codename")]) if cats else pd.NA,
        "text": row[layout.col["Coded"]],
        "start": pd.NA,
        "end": pd.NA,
        "coder": get(row, "Coder") or pd.NA,
        "reference": pd.NA,
        "memo": get(row, "Coded_Memo") or pd.NA,
        "_where": where,
    }


def _realigned_note(path: Path, n_realigned: int) -> dict:
    """The import-report warning on the short rows realigned."""
    return {
        "kind": "warning",
        "element": "Category",
        "where": path.name,
        "detail": f"{n_realigned} row(s) shorter than the header (QualCoder writes no empty Category "
        "cells before the variables): categories and variables realigned",
    }


# -- REFI-QDA ----------------------------------------------------------------------------------------
def read_qdpx(path: str | Path, options=None) -> QualInput:
    """Read a REFI-QDA project (``.qdpx``) safely: see :mod:`cocapp.qualitative.qdpx`."""
    from cocapp.qualitative.qdpx import read_project

    return read_project(path, options)


def read_segments(path: str | Path, options=None) -> QualInput:
    """Read coded segments from a ``.qdpx`` project, a QualCoder CSV export or a canonical CSV.

    The format is chosen by extension (``.qdpx``) or, for ``.csv``, by the header (QualCoder's
    ``Codename``/``Coded`` columns).
    """
    path = Path(path)
    if path.suffix.lower() == ".qdpx":
        return read_qdpx(path, options)
    if path.suffix.lower() == ".xlsx":
        return read_qualcoder_xlsx(path, options.limits if options is not None else None)
    if path.suffix.lower() != ".csv":
        raise QualitativeInputError(f"{path}: unsupported segments file (use .csv, .xlsx or .qdpx)")
    if not path.is_file():
        raise QualitativeInputError(f"{path}: segments file not found")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(io.StringIO(fh.readline())), [])
    if _is_qualcoder_header([h.strip() for h in header]):
        return read_qualcoder_csv(path)
    return read_segments_csv(path)
