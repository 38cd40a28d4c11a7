"""File input and output: the only module (with each stage's ``main``) that touches files.

Raw questionnaires are read from SPSS ``.sav`` with pyreadstat keeping user-missing codes apart
(``user_missing=True``, so 8 and 9 stay visible as numbers instead of becoming NaN) together with value
labels, or from CSV plus a codebook. Derived files are written atomically (temporary file, then rename)
so that a failing stage never leaves a half-written output behind.
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cocapp.csvout import write_csv

__all__ = [
    "RawTable",
    "RawReadError",
    "atomic_path",
    "read_codebook",
    "read_csv_table",
    "read_raw",
    "read_sav",
    "write_csv_atomic",
    "write_outputs_atomic",
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
    ``first_data_line`` is the 1-based line of the first data row (2 for CSV with a header).
    """

    path: str
    data: pd.DataFrame
    value_labels: dict[str, dict[float, str]] = field(default_factory=dict)
    variable_labels: dict[str, str] = field(default_factory=dict)
    missing_codes: dict[str, dict[float, str]] = field(default_factory=dict)
    file_label: str = ""
    kind: str = "csv"


# -- writing -------------------------------------------------------------------------------------
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


def write_outputs_atomic(outputs: Mapping[str | Path, pd.DataFrame | str | bytes]) -> None:
    """Write several outputs all-or-nothing: each goes to a temporary file first, and all are renamed
    only once every one was written, so a failure leaves no new output behind. DataFrames are written
    as by :func:`write_csv_atomic`, strings as UTF-8 text, bytes as they are."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in outputs.items():
            path = Path(path)
            tmp = _temp_beside(path)
            staged.append((tmp, path))
            if isinstance(content, pd.DataFrame):
                write_csv(content, tmp)
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
    """Write ``df`` as UTF-8 CSV at full precision (no index, ``\\n`` line ends), atomically."""
    with atomic_path(path) as tmp:
        write_csv(df, tmp)


def write_text_atomic(text: str, path: str | Path) -> None:
    """Write text atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# -- raw input -----------------------------------------------------------------------------------
def read_sav(path: str | Path) -> RawTable:
    """Read an SPSS file keeping user-missing codes and value labels (pyreadstat, ``user_missing=True``).

    Labelled columns stay numeric codes (``pd.read_spss`` would turn them into categoricals, which
    silently breaks ANOVA; pingouin issue #224).
    """
    import pyreadstat

    path = Path(path)
    if not path.is_file():
        raise RawReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise RawReadError(f"{path}: file is empty")
    try:
        df, meta = pyreadstat.read_sav(str(path), user_missing=True, apply_value_formats=False)
    except Exception as err:  # pyreadstat raises its own ReadstatError / PyreadstatError
        raise RawReadError(f"{path}: not a readable SPSS .sav file ({err})") from None
    missing: dict[str, dict[float, str]] = {}
    for col, ranges in (meta.missing_ranges or {}).items():
        codes: dict[float, str] = {}
        for rng in ranges:
            lo, hi = rng["lo"], rng["hi"]
            if lo == hi:
                label = (meta.variable_value_labels or {}).get(col, {}).get(lo, "user-missing")
                codes[float(lo)] = str(label)
            else:  # a range of user-missing codes: keep its ends; validation treats the range
                codes[float(lo)] = f"user-missing range {lo}-{hi}"
                codes[float(hi)] = f"user-missing range {lo}-{hi}"
        missing[col] = codes
    labels = {
        col: {float(k): str(v) for k, v in vl.items()}
        for col, vl in (meta.variable_value_labels or {}).items()
    }
    var_labels = dict(zip(meta.column_names, meta.column_labels or [], strict=False))
    return RawTable(
        path=str(path),
        data=df,
        value_labels=labels,
        variable_labels={k: v for k, v in var_labels.items() if v},
        missing_codes=missing,
        file_label=meta.file_label or "",
        kind="sav",
    )


def read_csv_table(path: str | Path) -> pd.DataFrame:
    """Read a raw CSV as text (every cell a string, empty = NaN) so that validation sees what was typed."""
    path = Path(path)
    if not path.is_file():
        raise RawReadError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise RawReadError(f"{path}: file is empty")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    names = [h.strip() for h in header]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise RawReadError(
            f"{path}: column {dups[0]!r}: the column name appears more than once in the header"
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise RawReadError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise RawReadError(f"{path}: not a readable CSV file ({err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def read_codebook(path: str | Path) -> pd.DataFrame:
    """Read a codebook (data dictionary): dataset, variable, label, type, valid_values, missing_codes."""
    cb = read_csv_table(path)
    required = ["variable", "type"]
    missing = [c for c in required if c not in cb.columns]
    if missing:
        raise RawReadError(f"{path}: codebook lacks column(s) {missing}")
    for col in ["dataset", "label", "valid_values", "missing_codes"]:
        if col not in cb.columns:
            cb[col] = pd.NA
    return cb


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


def read_raw(path: str | Path, codebook: str | Path | None = None, dataset: str | None = None) -> RawTable:
    """Read a raw questionnaire file (``.sav``, or ``.csv`` with an optional codebook)."""
    path = Path(path)
    if path.suffix.lower() == ".sav":
        return read_sav(path)
    if path.suffix.lower() != ".csv":
        raise RawReadError(f"{path}: unsupported raw file type (use .sav or .csv)")
    data = read_csv_table(path)
    table = RawTable(path=str(path), data=data, kind="csv")
    if codebook is not None:
        cb = read_codebook(codebook)
        if dataset is not None and cb["dataset"].notna().any():
            cb = cb[cb["dataset"].isna() | (cb["dataset"] == dataset)]
        for rec in cb.to_dict("records"):
            var = rec["variable"]
            if rec.get("label") is not None and not pd.isna(rec.get("label")):
                table.variable_labels[var] = str(rec["label"])
            if str(rec["type"]) in {"categorical", "item"}:
                labels = parse_code_labels(rec.get("valid_values"))
                if labels:
                    table.value_labels[var] = labels
            miss = parse_code_labels(rec.get("missing_codes"))
            if miss:
                table.missing_codes[var] = miss
    return table


# -- derived input -------------------------------------------------------------------------------
