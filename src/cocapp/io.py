"""File input and output: the only module (with each stage's ``main``) that touches files.

Raw questionnaires are read from SPSS (``.sav``, ``.zsav``, ``.por``), Stata (``.dta``) and SAS
(``.sas7bdat``, ``.xpt``) files with pyreadstat, keeping user-missing codes apart (``user_missing=True``,
so 8 and 9 stay visible as numbers instead of becoming NaN) together with value labels; or from an
Excel ``.xlsx`` worksheet or a CSV/TSV text table (any encoding, delimiter and decimal mark, see
:class:`ReadOptions`) plus a codebook. Every malformed file is a :class:`RawReadError` naming the file
and, where there is one, the line, byte, row or column. Derived files are written atomically
(temporary file, then rename) so that a failing stage never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cocapp.csvout import write_csv
from cocapp.rawformats import (
    CASE_INSENSITIVE,
    DECLARES_MISSING,
    FORMAT_NAMES,
    METADATA_FORMATS,
    RAW_FORMATS,
    format_of,
)

__all__ = [
    "DECLARES_MISSING",
    "METADATA_FORMATS",
    "RAW_FORMATS",
    "RawTable",
    "RawReadError",
    "TableChunks",
    "ReadOptions",
    "apply_codebook",
    "atomic_path",
    "neutralise_formula",
    "neutralise_formulas",
    "match_column_case",
    "raw_format",
    "read_codebook",
    "read_csv_table",
    "read_raw",
    "read_sav",
    "read_stat_file",
    "read_text_table",
    "read_xlsx_table",
    "write_csv_atomic",
    "write_outputs_atomic",
    "write_parquet",
    "write_text_atomic",
]


class RawReadError(ValueError):
    """A raw file cannot be read at all (missing, empty, not the declared format)."""


@dataclass
class RawTable:
    """A raw questionnaire file as read: values plus the metadata needed to interpret them.

    ``data`` keeps every column as read (user-missing codes as numbers, system-missing as NaN,
    SPSS-labelled codes as codes). ``value_labels`` maps column -> {code: label};
    ``missing_codes`` maps column -> {code: kind-or-label} for declared missing values.
    ``kind`` is the format key (:data:`RAW_FORMATS`); ``notes`` say how the file was read when that is
    not the default (encoding detected, sheet, extended missing values), for the stage's log.
    """

    path: str
    data: pd.DataFrame
    value_labels: dict[str, dict] = field(default_factory=dict)  # numeric codes as float, text codes as str
    variable_labels: dict[str, str] = field(default_factory=dict)
    missing_codes: dict[str, dict[float, str]] = field(default_factory=dict)
    file_label: str = ""
    kind: str = "csv"
    # column -> (its codebook type, the codebook's path): declared types the data must fit (validate.py)
    declared_types: dict[str, tuple[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # how it was read (encoding, sheet), for the log


# -- writing -------------------------------------------------------------------------------------
# A spreadsheet opening a CSV runs a cell starting with one of these as a formula (OWASP "CSV
# injection"); such text cells are written with a leading apostrophe, which spreadsheets show as text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$", re.IGNORECASE)


def neutralise_formula(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would run it as a formula (it starts with
    ``= + - @``, tab or carriage return and is not a number: ``-0.5`` stays ``-0.5``)."""
    if text[:1] in FORMULA_TRIGGERS and not _NUMBER_TEXT.match(text.strip()):
        return "'" + text
    return text


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell and column name passed through :func:`neutralise_formula`; numeric
    columns are untouched. Distinct values are checked once (score tables have millions of rows)."""
    out = None
    for j in range(df.shape[1]):
        series = df.iloc[:, j]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        # the distinct values as one object array first (iterating an Arrow-backed array converts
        # cell by cell: a scores block has 10^6 distinct ids)
        distinct = np.asarray(pd.unique(series.dropna()), dtype=object)
        risky = [v for v in distinct if isinstance(v, str) and v[:1] in FORMULA_TRIGGERS]
        fixed = {v: neutralise_formula(v) for v in risky}
        fixed = {k: v for k, v in fixed.items() if k != v}
        if fixed:
            out = df.copy() if out is None else out
            out.isetitem(j, series.map(lambda v, fixed=fixed: fixed.get(v, v) if isinstance(v, str) else v))
    names = [neutralise_formula(c) if isinstance(c, str) else c for c in df.columns]
    if names != list(df.columns):
        out = (df.copy() if out is None else out).set_axis(names, axis=1)
    return df if out is None else out


def _temp_beside(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder, with the permissions a plain open() would give."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600 files; outputs should be readable like any other file the user writes.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    tmp_path = _temp_beside(path)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


class TableChunks:
    """A table returned in parts (same columns, in row order) so that it is never whole in memory:
    :func:`write_outputs_atomic` writes the parts one after the other (CSV: the header once; Parquet:
    one row group each). ``parts`` is an iterable of DataFrames, consumed once."""

    def __init__(self, parts):
        self.parts = parts
        self.rows = 0

    def __len__(self) -> int:  # rows written so far (for the log)
        return self.rows


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` as Parquet (pyarrow; zstd, dictionary-encoded text; no index), the columnar format
    of large per-respondent intermediate files (``intermediate_format: parquet``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, compression="zstd")


def _write_chunks(content: TableChunks, tmp: Path, parquet: bool) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer = None
    try:
        for part in content.parts:
            part = neutralise_formulas(part)
            content.rows += len(part)
            if parquet:
                table = pa.Table.from_pandas(part, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
            elif writer is None:
                write_csv(part, tmp)
                writer = open(tmp, "a", encoding="utf-8", newline="")  # noqa: SIM115 - closed below
            else:
                buffer = io.StringIO()
                part.to_csv(buffer, index=False, header=False, lineterminator="\n")
                writer.write(buffer.getvalue())
    finally:
        if writer is not None:
            writer.close()


def write_outputs_atomic(outputs: Mapping[str | Path, pd.DataFrame | TableChunks | str | bytes]) -> None:
    """Write several outputs all-or-nothing: each goes to a temporary file first, and all are renamed
    only once every one was written, so a failure leaves no new output behind. DataFrames are written
    as by :func:`write_csv_atomic` (formula-like text cells neutralised), or as Parquet when the path
    ends in ``.parquet`` (text cells neutralised too, so both formats hold the same values);
    :class:`TableChunks` part by part; strings as UTF-8 text, bytes as they are."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in outputs.items():
            path = Path(path)
            tmp = _temp_beside(path)
            staged.append((tmp, path))
            if isinstance(content, TableChunks):
                _write_chunks(content, tmp, path.suffix == ".parquet")
            elif isinstance(content, pd.DataFrame) and path.suffix == ".parquet":
                write_parquet(neutralise_formulas(content), tmp)
            elif isinstance(content, pd.DataFrame):
                write_csv(neutralise_formulas(content), tmp)
            elif isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                tmp.write_text(content, encoding="utf-8")
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


def write_csv_atomic(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` as UTF-8 CSV at full precision (no index, ``\\n`` line ends), atomically; text
    cells a spreadsheet would run as formulas are neutralised (:func:`neutralise_formulas`)."""
    with atomic_path(path) as tmp:
        write_csv(neutralise_formulas(df), tmp)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write text atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# -- raw input -----------------------------------------------------------------------------------
# Formats: cocapp.rawformats (plain data, read by the workflow too). Text tables are read by the csv
# module, so that every structural problem can be named with its line.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}

# Bounds for .xlsx workbooks (zip archives of XML): refuse what no questionnaire export needs.
XLSX_MAX_MEMBERS = 10_000
XLSX_MAX_TOTAL_BYTES = 4 * 1024**3
XLSX_MAX_RATIO = 200  # uncompressed / compressed, for members over 1 MiB (zip bombs reach 1000s)


@dataclass(frozen=True)
class ReadOptions:
    """How to read a raw file (``groups.<group>.read`` in the config; every key optional).

    ``encoding`` of a text table: ``auto`` (UTF-8 with or without BOM, UTF-16 with BOM, else
    Windows-1252 when no byte sequence of the file is UTF-8) or any Python codec name;
    ``delimiter``: ``auto`` (the most frequent of , ; tab | in the header line) or the character;
    ``decimal``: ``.`` or ``,`` (decimal comma: ``2,5`` is read as 2.5); ``sheet``: the .xlsx worksheet
    (default: the first); ``catalog``: a SAS format catalog (.sas7bcat) holding the value labels of a
    .sas7bdat file; ``extended_missing``: Stata/SAS extended missing values (``.a`` ... ``.z``, ``._``)
    mapped to numeric missing codes (unmapped ones are read as system-missing).
    ``config_key`` names the setting in error messages.
    """

    encoding: str = "auto"
    delimiter: str = "auto"
    decimal: str = "."
    sheet: str | None = None
    catalog: str | None = None
    extended_missing: Mapping[str, float] = field(default_factory=dict)
    config_key: str = "read"

    @classmethod
    def from_config(cls, read: Mapping | None, config_key: str = "read") -> ReadOptions:
        """Options from a group's ``read`` mapping (absent keys take their defaults)."""
        read = read or {}
        return cls(
            encoding=read.get("encoding", "auto"),
            delimiter=read.get("delimiter", "auto"),
            decimal=read.get("decimal", "."),
            sheet=read.get("sheet"),
            catalog=read.get("catalog"),
            extended_missing={
                str(k).lower(): float(v) for k, v in (read.get("extended_missing") or {}).items()
            },
            config_key=config_key,
        )


def raw_format(path: str | Path) -> str:
    """The format key of a raw file from its suffix (RawReadError for an unsupported one)."""
    fmt = format_of(path)
    if fmt is None:
        suffix = Path(path).suffix.lower()
        known = ", ".join(RAW_FORMATS)
        raise RawReadError(f"{path}: unsupported raw file type {suffix or '(none)'!r} (use one of {known})")
    return fmt


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; RawReadError when it is missing, not a file, unreadable or empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise RawReadError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise RawReadError(f"{path}: is a folder, not a file") from None
    except OSError as err:
        raise RawReadError(f"{path}: cannot be read ({err.strerror or err})") from None
    if not data:
        raise RawReadError(f"{path}: file is empty")
    return data


def _check_file(path: Path) -> None:
    """RawReadError unless ``path`` is a readable, non-empty file (for readers that open it themselves)."""
    if not path.exists():
        raise RawReadError(f"{path}: file not found")
    if not path.is_file():
        raise RawReadError(f"{path}: is a folder, not a file")
    if path.stat().st_size == 0:
        raise RawReadError(f"{path}: file is empty")
    if not os.access(path, os.R_OK):
        raise RawReadError(f"{path}: cannot be read (permission denied)")


# Leading bytes of binary files that are sometimes given a text name.
_MAGIC = (
    (b"PK\x03\x04", "a zip archive (an .xlsx workbook? name it .xlsx)"),
    (b"$FL2", "an SPSS .sav file (name it .sav)"),
    (b"$FL3", "an SPSS .zsav file (name it .zsav)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or other OLE) file: save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
)
_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(path: Path, data: bytes, options: ReadOptions) -> tuple[str, str]:
    """Decode a text table: (text, encoding used). Errors name line and byte and suggest the setting."""
    setting = f"{options.config_key}.encoding"
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise RawReadError(f"{path}: not a text table: the file is {what}")
    encoding = options.encoding
    if encoding.lower().replace("_", "-") in {"auto", "utf-8", "utf8", "utf-8-sig"}:
        encoding = "auto" if encoding == "auto" else "utf-8-sig"
    if encoding == "auto" and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    if not encoding.lower().startswith(("utf-16", "utf16", "utf-32", "utf32")):
        nul = data.find(b"\x00")
        if nul >= 0:
            raise RawReadError(
                f"{path}: line {_line_of(data, nul)}, byte offset {nul}: NUL byte: this is not a text "
                "table (a binary file, or UTF-16 text without a byte-order mark: then set "
                f"{setting}: utf-16-le)"
            )
    if encoding == "auto":
        try:
            return data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as err:
            if _UTF8_MULTIBYTE.search(data):
                raise RawReadError(
                    f"{path}: line {_line_of(data, err.start)}, byte offset {err.start}: byte "
                    f"0x{data[err.start]:02x} is not UTF-8, yet other characters of the file are: mixed "
                    f"encodings; re-save the file as UTF-8 (or set {setting})"
                ) from None
            encoding = "cp1252"
    try:
        text = data.decode(encoding)
    except LookupError:
        raise RawReadError(f"{path}: unknown encoding {encoding!r} (setting {setting})") from None
    except UnicodeDecodeError as err:
        hint = "cp1252 for a CSV saved by Excel on Windows" if "utf" in encoding.lower() else "utf-8"
        raise RawReadError(
            f"{path}: line {_line_of(data, err.start)}, byte offset {err.start}: byte 0x{data[err.start]:02x}"
            f" is not valid {encoding}; set {setting} to the file's encoding (e.g. {hint})"
        ) from None
    return text.lstrip("\ufeff"), ("utf-8" if encoding == "utf-8-sig" else encoding)


def _delimiter(path: Path, text: str, options: ReadOptions) -> str:
    """The configured delimiter, or the most frequent candidate in the header line (``,`` if none)."""
    if options.delimiter != "auto":
        return options.delimiter
    if path.suffix.lower() == ".tsv":
        return "\t"
    header = text.split("\n", 1)[0]
    candidates = [d for d in DELIMITERS if not (options.decimal == "," and d == ",")]
    counts = {d: header.count(d) for d in candidates}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else candidates[0]


_DECIMAL_COMMA = re.compile(r"^\s*[-+]?(\d+,\d*|,\d+)\s*$")
MAX_LISTED_LINES = 10


def _parse_rows(path: Path, text: str, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line, cells) of every non-blank record; quoting errors name the line where the record starts."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[tuple[int, list[str]]] = []
    line = 0
    while True:
        start = line + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as err:
            msg = str(err)
            if "end of data" in msg or "field limit" in msg:
                raise RawReadError(
                    f'{path}: line {start}: a quoted cell is never closed (unterminated quote ")'
                ) from None
            raise RawReadError(f"{path}: line {reader.line_num}: malformed quoting ({msg})") from None
        line = reader.line_num
        if cells:
            rows.append((start, cells))
    return rows


def read_text_table(path: str | Path, options: ReadOptions | None = None) -> tuple[pd.DataFrame, str]:
    """Read a raw text table (CSV/TSV) as text: every cell a string, empty = NaN, so that validation sees
    what was typed. Returns (data, encoding used).

    Structural problems are errors naming the line: NUL bytes, undecodable bytes (with the encoding
    setting to use), unterminated quotes, empty or repeated header names, rows with more or fewer cells
    than the header (an empty column without a name, e.g. from a trailing delimiter, is dropped).
    """
    options = options or ReadOptions()
    path = Path(path)
    data = _read_bytes(path)
    text, encoding = _decode(path, data, options)
    delimiter = _delimiter(path, text, options)
    if options.decimal == "," and delimiter == ",":
        raise RawReadError(
            f"{path}: decimal comma with comma as delimiter is ambiguous; set {options.config_key}.delimiter"
        )
    rows = _parse_rows(path, text, delimiter)
    if not rows:
        raise RawReadError(f"{path}: file is empty")
    header_line, header = rows[0]
    names = [h.strip() for h in header]
    body = rows[1:]
    width = len(names)
    # trailing delimiters: cells past the header that are all empty are not data
    ragged = []
    cells_rows = []
    for line, cells in body:
        if len(cells) > width and not any(c.strip() for c in cells[width:]):
            cells = cells[:width]
        if len(cells) != width:
            ragged.append((line, len(cells)))
        cells_rows.append(cells)
    if ragged:
        what = DELIMITERS.get(delimiter, repr(delimiter))
        listed = "; ".join(f"line {ln} has {n}" for ln, n in ragged[:MAX_LISTED_LINES])
        more = f" (and {len(ragged) - MAX_LISTED_LINES} more lines)" if len(ragged) > MAX_LISTED_LINES else ""
        raise RawReadError(
            f"{path}: {len(ragged)} row(s) with a different number of cells than the header's {width} "
            f"({what}-separated): {listed}{more}; check for a stray {what} or an unquoted {what} in a cell"
        )
    empty = [j for j, n in enumerate(names) if not n]
    keep = list(range(width))
    for j in empty:
        if any(cells[j].strip() for cells in cells_rows):
            raise RawReadError(
                f"{path}: line {header_line}, column {j + 1}: the header cell is empty but the column holds "
                "data; every column needs a name"
            )
        keep.remove(j)
    names = [names[j] for j in keep]
    dups = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if dups:
        where = [str(keep[j] + 1) for j, n in enumerate(names) if n == dups[0]]
        raise RawReadError(
            f"{path}: column {dups[0]!r}: the column name appears more than once in the header "
            f"(columns {', '.join(where)})"
        )
    if len(keep) != width:
        cells_rows = [[cells[j] for j in keep] for cells in cells_rows]
    frame = (
        pd.DataFrame(cells_rows, columns=names, dtype=object)
        if cells_rows
        else pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    )
    if options.decimal == ",":
        frame = frame.map(lambda v: v.replace(",", ".") if _DECIMAL_COMMA.match(v) else v)
    frame = frame.where(frame != "", np.nan)
    return frame, encoding


def read_csv_table(path: str | Path, options: ReadOptions | None = None) -> pd.DataFrame:
    """Read a text table (see :func:`read_text_table`) and return only its cells."""
    return read_text_table(path, options)[0]


def _check_xlsx_zip(path: Path) -> None:
    """Refuse a workbook that is not a zip, or whose members are too many or inflate too far."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise RawReadError(
            f"{path}: not a readable .xlsx workbook (truncated, or not an Excel file: {err})"
        ) from None
    if len(members) > XLSX_MAX_MEMBERS:
        raise RawReadError(f"{path}: refused: the workbook archive holds {len(members)} members")
    total = sum(m.file_size for m in members)
    if total > XLSX_MAX_TOTAL_BYTES:
        raise RawReadError(f"{path}: refused: the workbook would inflate to {total} bytes")
    for m in members:
        if m.file_size > 2**20 and m.file_size > XLSX_MAX_RATIO * max(m.compress_size, 1):
            raise RawReadError(
                f"{path}: refused: member {m.filename!r} inflates {m.file_size // max(m.compress_size, 1)}"
                "-fold (a zip bomb?)"
            )


def _excel_text(value: object) -> object:
    """An Excel cell as the text it shows: integral numbers without ``.0``, dates in ISO form."""
    if value is None:
        return np.nan
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if np.isnan(value):
            return np.nan
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, int):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    return text if text != "" else np.nan


def read_xlsx_table(path: str | Path, options: ReadOptions | None = None) -> tuple[pd.DataFrame, str]:
    """Read one worksheet of an .xlsx workbook as text cells (first row = header); returns (data, sheet).

    openpyxl in read-only mode (streamed; XML parsed with defusedxml when installed), after the zip's
    member count and inflation were checked. Formulas give their cached values.
    """
    import openpyxl

    options = options or ReadOptions()
    path = Path(path)
    _check_file(path)
    _check_xlsx_zip(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
        raise RawReadError(f"{path}: not a readable .xlsx workbook ({type(err).__name__}: {err})") from None
    try:
        sheets = book.sheetnames
        if not sheets:
            raise RawReadError(f"{path}: the workbook has no worksheet")
        name = options.sheet if options.sheet is not None else sheets[0]
        if name not in sheets:
            raise RawReadError(
                f"{path}: no worksheet {name!r} (sheets: {', '.join(map(repr, sheets))}); "
                f"set {options.config_key}.sheet"
            )
        sheet = book[name]
        if not hasattr(sheet, "iter_rows"):
            raise RawReadError(f"{path}: sheet {name!r} is a chart sheet, not a worksheet")
        try:
            rows = [
                (i, [_excel_text(v) for v in values])
                for i, values in enumerate(sheet.iter_rows(values_only=True), start=1)
            ]
        except RawReadError:
            raise
        except Exception as err:  # noqa: BLE001 - a damaged sheet XML
            raise RawReadError(
                f"{path}: sheet {name!r} cannot be read ({type(err).__name__}: {err})"
            ) from None
    finally:
        book.close()
    rows = [(i, cells) for i, cells in rows if any(not _isna(c) for c in cells)]
    if not rows:
        raise RawReadError(f"{path}: sheet {name!r} is empty")
    header_row, header = rows[0]
    body = [cells for _, cells in rows[1:]]
    width = max(len(header), *(len(c) for c in body)) if body else len(header)
    header = header + [np.nan] * (width - len(header))
    body = [cells + [np.nan] * (width - len(cells)) for cells in body]
    keep = []
    names = []
    for j, h in enumerate(header):
        text = "" if _isna(h) else str(h).strip()
        if not text:
            if any(not _isna(cells[j]) for cells in body):
                raise RawReadError(
                    f"{path}: sheet {name!r}, row {header_row}, column {_excel_column(j)}: the header cell "
                    "is empty but the column holds data; every column needs a name"
                )
            continue
        keep.append(j)
        names.append(text)
    dups = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if dups:
        where = [_excel_column(keep[j]) for j, n in enumerate(names) if n == dups[0]]
        raise RawReadError(
            f"{path}: sheet {name!r}, column {dups[0]!r}: the column name appears more than once in the "
            f"header (columns {', '.join(where)})"
        )
    frame = pd.DataFrame([[cells[j] for j in keep] for cells in body], columns=names, dtype=object)
    if body and options.decimal == ",":
        frame = frame.map(
            lambda v: v.replace(",", ".") if isinstance(v, str) and _DECIMAL_COMMA.match(v) else v
        )
    if not body:
        frame = pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return frame, name


def _isna(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _excel_column(j: int) -> str:
    """Excel's letter name of the 0-based column ``j`` (0 -> A, 26 -> AA)."""
    name = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        name = chr(65 + r) + name
    return name


def _float_key(value: object) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _crash_signal(read) -> int | None:
    """Run ``read`` once in a forked child process: the signal that killed it, or None.

    pyreadstat's C reader can crash the whole process (a segmentation fault) on a damaged file, which
    no ``except`` can catch (the fuzz harness found it on mutated .sav files); the trial read in a child
    turns that into a message naming the file. Python errors in the child are left to the real read,
    which reports them. Where ``fork`` does not exist, nothing is tried (None)."""
    if not hasattr(os, "fork"):
        return None
    pid = os.fork()
    if pid == 0:  # the child: read, then leave without running any of the parent's exit handlers
        import faulthandler

        faulthandler.disable()  # a crash here is reported by the parent, not dumped on the console
        code = 1
        try:
            read()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else None


def _read_stat_file(path: Path, fmt: str, options: ReadOptions):
    """pyreadstat's (data, metadata) for an SPSS, Stata or SAS file; RawReadError when unreadable."""
    import pyreadstat

    _check_file(path)
    name = str(path)
    catalog = options.catalog
    if catalog is not None:
        _check_file(Path(catalog))
    readers = {
        "sav": lambda: pyreadstat.read_sav(name, user_missing=True, apply_value_formats=False),
        "por": lambda: pyreadstat.read_por(name, apply_value_formats=False),
        "dta": lambda: pyreadstat.read_dta(name, user_missing=True, apply_value_formats=False),
        # the catalog is read apart (metadata only): given to the data read, pyreadstat would turn
        # labelled codes into categoricals of their labels
        "sas7bdat": lambda: pyreadstat.read_sas7bdat(name, user_missing=True),
        "xport": lambda: pyreadstat.read_xport(name),
    }
    crashed = _crash_signal(readers[fmt])
    if crashed is not None:
        raise RawReadError(
            f"{path}: not a readable {FORMAT_NAMES[fmt]}: the reader crashed on it (signal {crashed}); "
            "the file is truncated or damaged"
        )
    try:
        df, meta = readers[fmt]()
        if fmt == "sas7bdat" and catalog is not None:
            _, labelled = pyreadstat.read_sas7bdat(name, catalog_file=catalog, metadataonly=True)
            meta.variable_value_labels = labelled.variable_value_labels
        return df, meta
    except Exception as err:  # noqa: BLE001 - pyreadstat raises ReadstatError / PyreadstatError / others
        message = " ".join(str(err).split()) or type(err).__name__
        hint = ""
        if fmt == "sas7bdat" and catalog is not None:
            hint = f" (or the catalog {catalog} is not a readable .sas7bcat)"
        raise RawReadError(
            f"{path}: not a readable {FORMAT_NAMES[fmt]}{hint}: {message} (truncated or damaged?)"
        ) from None


def read_stat_file(path: str | Path, fmt: str | None = None, options: ReadOptions | None = None) -> RawTable:
    """Read an SPSS (.sav/.zsav/.por), Stata (.dta) or SAS (.sas7bdat/.xpt) file with its metadata.

    SPSS user-missing codes stay numbers (``user_missing=True``: 8 and 9 stay visible instead of
    becoming NaN) and are listed in ``missing_codes``; value labels are kept as code -> label (codes
    stay codes: ``pd.read_spss`` would turn them into categoricals, which silently breaks ANOVA;
    pingouin issue #224). Stata/SAS extended missing values (``.a``-``.z``, ``._``) become the numeric
    code that ``options.extended_missing`` maps them to, else system-missing (NaN).
    """
    options = options or ReadOptions()
    path = Path(path)
    fmt = fmt or raw_format(path)
    df, meta = _read_stat_file(path, fmt, options)
    value_labels_raw = dict(meta.variable_value_labels or {})
    types = getattr(meta, "readstat_variable_types", {}) or {}
    labels: dict[str, dict] = {}
    for col, vl in value_labels_raw.items():
        if types.get(col) == "string":  # a text column labelled by text codes (SPSS, SAS $formats)
            codes = {str(k).strip(): str(v) for k, v in (vl or {}).items()}
        else:
            codes = {_float_key(k): str(v) for k, v in (vl or {}).items()}
            codes = {k: v for k, v in codes.items() if k is not None}
        if codes:
            labels[col] = codes
    missing: dict[str, dict[float, str]] = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        codes: dict[float, str] = {}
        for rng in ranges:
            lo, hi = _float_key(rng["lo"]), _float_key(rng["hi"])
            if lo is None or hi is None:
                continue
            if lo == hi:
                label = (meta.variable_value_labels or {}).get(col, {}).get(rng["lo"], "user-missing")
                codes[lo] = str(label)
            else:  # a range of user-missing codes: keep its ends; validation treats the range
                codes[lo] = f"user-missing range {lo:g}-{hi:g}"
                codes[hi] = f"user-missing range {lo:g}-{hi:g}"
        if codes:
            missing[col] = codes
    notes: list[str] = []
    if fmt in {"dta", "sas7bdat"}:
        df = _extended_missing(df, meta, options, missing, notes)
    var_labels = dict(zip(meta.column_names, meta.column_labels or [], strict=False))
    return RawTable(
        path=str(path),
        data=df,
        value_labels=labels,
        variable_labels={k: v for k, v in var_labels.items() if v},
        missing_codes=missing,
        file_label=meta.file_label or "",
        kind=fmt,
        notes=notes,
    )


def _extended_missing(df, meta, options: ReadOptions, missing: dict, notes: list[str]) -> pd.DataFrame:
    """Numeric columns holding Stata/SAS extended missing letters: mapped codes, or NaN (counted)."""
    types = getattr(meta, "readstat_variable_types", {}) or {}
    df = df.copy()
    unmapped: list[str] = []
    for col in df.columns:
        if types.get(col) == "string" or pd.api.types.is_numeric_dtype(df[col]):
            continue
        values = df[col]
        is_letter = values.map(lambda v: isinstance(v, str))
        if not is_letter.any():
            continue
        letters = values[is_letter].astype(str).str.lower().str.lstrip(".")
        mapped = letters.map(lambda x: options.extended_missing.get(x, np.nan))
        for letter, code in options.extended_missing.items():
            if (letters == letter).any():
                label = (meta.variable_value_labels or {}).get(col, {}).get(letter.upper()) or (
                    meta.variable_value_labels or {}
                ).get(col, {}).get(letter)
                missing.setdefault(col, {})[float(code)] = str(label or f"extended missing .{letter}")
        n_nan = int(mapped.isna().sum())
        if n_nan:
            unmapped.append(f"{col} ({n_nan})")
        out = pd.to_numeric(values.where(~is_letter), errors="coerce").astype(float)
        out[is_letter] = mapped.astype(float)
        df[col] = out
    if unmapped:
        notes.append(
            "extended missing values read as system-missing (map them with "
            f"{options.config_key}.extended_missing): {', '.join(unmapped)}"
        )
    return df


def read_sav(path: str | Path) -> RawTable:
    """Read an SPSS .sav/.zsav file keeping user-missing codes and value labels (see
    :func:`read_stat_file`)."""
    return read_stat_file(path, "sav")


def read_codebook(path: str | Path, options: ReadOptions | None = None) -> pd.DataFrame:
    """Read a codebook (data dictionary): dataset, variable, label, type, valid_values, missing_codes."""
    cb = read_csv_table(path, ReadOptions(encoding=(options or ReadOptions()).encoding))
    required = ["variable", "type"]
    missing = [c for c in required if c not in cb.columns]
    if missing:
        raise RawReadError(f"{path}: codebook lacks column(s) {missing}")
    for col in ["dataset", "label", "valid_values", "missing_codes"]:
        if col not in cb.columns:
            cb[col] = pd.NA
    allowed = codebook_types()
    bad = [
        f"{path}: column 'type', data row {row}: value {'(empty)' if _isna(kind) else repr(str(kind))}"
        f" (variable {str(var)!r}): must be one of {', '.join(allowed)}"
        for row, (var, kind) in enumerate(zip(cb["variable"], cb["type"], strict=True), start=1)
        if _isna(kind) or str(kind).strip() not in allowed
    ]
    if bad:
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise RawReadError(
            f"{len(bad)} codebook row(s) of unknown type:\n  " + "\n  ".join(bad[:20]) + more
            if len(bad) > 1
            else bad[0]
        )
    cb["type"] = cb["type"].astype(str).str.strip()
    return cb


def codebook_types() -> list[str]:
    """The allowed values of a codebook's ``type`` column, from the codebook schema (one source for
    the generated docs and the check at ingest)."""
    from cocapp.schemadoc import schema

    return list(schema("codebook")["properties"]["type"]["enum"])


def parse_code_labels(text: object) -> dict[float, str]:
    """Parse ``"1=Male; 2=Female"`` into {1.0: "Male", 2.0: "Female"}; empty -> {}."""
    if text is None or (isinstance(text, float) and pd.isna(text)) or pd.isna(text):
        return {}
    out: dict[float, str] = {}
    for part in str(text).split(";"):
        part = part.strip()
        if not part or "=" not in part:
            continue
        code, label = part.split("=", 1)
        try:
            out[float(code.strip())] = label.strip()
        except ValueError:
            continue
    return out


def apply_codebook(table: RawTable, codebook: str | Path, dataset: str | None = None) -> None:
    """Add a codebook's variable labels, value labels and missing codes to ``table`` (in place)."""
    cb = read_codebook(codebook)
    if dataset is not None and cb["dataset"].notna().any():
        cb = cb[cb["dataset"].isna() | (cb["dataset"] == dataset)]
    for rec in cb.to_dict("records"):
        var = rec["variable"]
        if _isna(var):
            continue
        var = str(var).strip()
        if rec.get("label") is not None and not pd.isna(rec.get("label")):
            table.variable_labels[var] = str(rec["label"])
        table.declared_types[var] = (str(rec["type"]), str(codebook))
        # the codebook fills the gaps of the file's own labels and missing codes; where both label a
        # code, the codebook's word wins
        if str(rec["type"]) in {"categorical", "item"}:
            labels = parse_code_labels(rec.get("valid_values"))
            if labels:
                table.value_labels[var] = {**table.value_labels.get(var, {}), **labels}
        miss = parse_code_labels(rec.get("missing_codes"))
        if miss:
            table.missing_codes[var] = {**table.missing_codes.get(var, {}), **miss}


def read_raw(
    path: str | Path,
    codebook: str | Path | None = None,
    dataset: str | None = None,
    options: ReadOptions | None = None,
) -> RawTable:
    """Read a raw questionnaire file in any supported format (:data:`RAW_FORMATS`).

    SPSS, Stata and SAS files bring their own value labels and missing codes (the codebook is not
    used); text tables and workbooks are read as text and take labels and missing codes from the
    ``codebook`` (its rows for ``dataset``, when it has a ``dataset`` column).
    """
    options = options or ReadOptions()
    path = Path(path)
    fmt = raw_format(path)
    if fmt in METADATA_FORMATS or fmt == "xport":
        table = read_stat_file(path, fmt, options)
    elif fmt == "xlsx":
        data, sheet = read_xlsx_table(path, options)
        table = RawTable(path=str(path), data=data, kind="xlsx", notes=[f"sheet {sheet!r}"])
    else:
        data, encoding = read_text_table(path, options)
        notes = [] if encoding == "utf-8" else [f"encoding {encoding}"]
        table = RawTable(path=str(path), data=data, kind="csv", notes=notes)
    if codebook is not None and fmt not in METADATA_FORMATS:
        apply_codebook(table, codebook, dataset)
    return table


def match_column_case(table: RawTable, wanted: list[str]) -> RawTable:
    """For formats with case-insensitive names (SPSS, SAS), rename a column to the configured spelling
    when only its case differs (``AGE`` -> ``age``); other formats are returned unchanged."""
    if table.kind not in CASE_INSENSITIVE:
        return table
    present = list(table.data.columns)
    renames: dict[str, str] = {}
    for name in wanted:
        if name in present:
            continue
        same = [c for c in present if str(c).lower() == name.lower() and c not in wanted]
        if len(same) == 1:
            renames[same[0]] = name
    if not renames:
        return table

    def keyed(d: dict) -> dict:
        return {renames.get(k, k): v for k, v in d.items()}

    return RawTable(
        path=table.path,
        data=table.data.rename(columns=renames),
        value_labels=keyed(table.value_labels),
        variable_labels=keyed(table.variable_labels),
        missing_codes=keyed(table.missing_codes),
        file_label=table.file_label,
        kind=table.kind,
        notes=table.notes,
        declared_types=keyed(table.declared_types),
    )


# -- derived input -------------------------------------------------------------------------------
