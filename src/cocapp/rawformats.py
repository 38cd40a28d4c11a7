"""Raw questionnaire file formats by suffix (plain data: the workflow reads it at parse time, so this
module imports nothing heavy). The readers are in :mod:`cocapp.io`."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CASE_INSENSITIVE",
    "DECLARES_MISSING",
    "FORMAT_NAMES",
    "METADATA_FORMATS",
    "RAW_FORMATS",
    "format_of",
    "is_copy_of",
    "needs_codebook",
    "raw_copies",
]

# Everything SPSS, Stata and SAS write is read by pyreadstat (ReadStat); Excel workbooks by openpyxl;
# text tables by the csv module.
RAW_FORMATS: dict[str, str] = {
    ".sav": "sav",
    ".zsav": "sav",
    ".por": "por",
    ".dta": "dta",
    ".sas7bdat": "sas7bdat",
    ".xpt": "xport",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
}
FORMAT_NAMES = {
    "sav": "SPSS .sav/.zsav file",
    "por": "SPSS portable .por file",
    "dta": "Stata .dta file",
    "sas7bdat": "SAS .sas7bdat file",
    "xport": "SAS transport .xpt file",
    "xlsx": "Excel .xlsx workbook",
    "csv": "text table (CSV/TSV)",
}
# Formats whose files carry their own value labels (the codebook is used for the others).
METADATA_FORMATS = frozenset({"sav", "por", "dta", "sas7bdat"})
# Formats that declare numeric user-missing codes themselves (input.missing_codes serves the others).
DECLARES_MISSING = frozenset({"sav"})
# Formats whose variable names are case-insensitive (SPSS, SAS): ``AGE`` is the column ``age``.
CASE_INSENSITIVE = frozenset({"sav", "por", "sas7bdat", "xport"})


def format_of(path: str | Path) -> str | None:
    """The format key of a raw file from its suffix (None when unsupported)."""
    return RAW_FORMATS.get(Path(path).suffix.lower())


def needs_codebook(raw: str | Path, copies: list[str] = ()) -> bool:
    """Whether reading ``raw`` or one of its other ``copies`` takes the group's codebook: one of them is
    in a format without value labels of its own."""
    return any(format_of(f) not in METADATA_FORMATS for f in [raw, *copies])


def raw_copies(path: str | Path) -> list[str]:
    """Other copies of a raw file beside it: the same name with another raw-file suffix
    (``data/raw/users.csv`` next to ``data/raw/users.sav``), sorted. The workflow reads only the
    configured one; ingest refuses to run while a copy holds different data (an edit to the other
    copy would otherwise be silently ignored). The workflow lists them when it is parsed
    (:meth:`cocapp.workflow.Workflow.raw_copies`) and gives them to ingest (``--copies``)."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    return sorted(
        str(path.parent / p.name) for p in path.parent.iterdir() if p.is_file() and is_copy_of(p, path)
    )


def is_copy_of(copy: str | Path, raw: str | Path) -> bool:
    """Whether ``copy`` is another copy of the raw file ``raw`` as :func:`raw_copies` finds them: in
    the same folder, the same name with another raw-file suffix (decided from the two paths alone)."""
    copy, raw = Path(copy), Path(raw)
    return (
        Path(os.path.normpath(copy.parent)) == Path(os.path.normpath(raw.parent))
        and copy.stem == raw.stem
        and copy.name.lower() != raw.name.lower()
        and format_of(copy) is not None
    )
