"""Validation of raw questionnaire files: declarative pandera schemas built from config + instruments.

The schema for a group says which columns must exist and what each may hold: ids unique and
non-empty, sites among the configured ones, every item value an integer inside its instrument's
declared response range or one of the declared missing codes, covariates numeric within their
declared range or one of their labelled categories. pandera checks the whole file lazily, so every
problem is collected before failing; :class:`DataValidationError` turns pandera's failure cases into
one readable report naming file, column, data row, value and the rule broken.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from cocapp.instruments import Instrument
from cocapp.io import RawTable

__all__ = [
    "DataValidationError",
    "GroupSpec",
    "Problem",
    "build_schema",
    "format_problems",
    "schema_holds",
    "validate_raw",
]

MAX_LISTED = 50


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, column, data row) and what (value, rule)."""

    file: str
    column: str
    row: int | None  # 1-based data row as numbered in the file (CSV: line = row + 1)
    value: object
    rule: str

    def __str__(self) -> str:
        if not self.column and self.row is None:
            return f"{self.file}: {self.rule}"
        where = f"column {self.column!r}"
        if self.row is not None:
            where += f", data row {self.row}"
        value = "" if self.value is None else f": value {_show(self.value)}"
        return f"{self.file}: {where}{value}: {self.rule}"


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "(empty)"
    if isinstance(value, float) and value.is_integer():
        return repr(int(value))
    return repr(value)


class DataValidationError(ValueError):
    """Raw data break the study's rules; ``problems`` lists every one found."""

    def __init__(self, problems: list[Problem], limit: int = MAX_LISTED):
        self.problems = problems
        super().__init__(format_problems(problems, limit))


def format_problems(problems: list[Problem], limit: int = MAX_LISTED) -> str:
    """One readable report: a count, then up to ``limit`` problems, then how many more."""
    n = len(problems)
    lines = [f"{n} problem{'s' if n != 1 else ''} found in the raw data:"]
    lines += [f"  - {p}" for p in problems[:limit]]
    if n > limit:
        lines.append(f"  ... and {n - limit} more problem{'s' if n - limit != 1 else ''} not listed")
    return "\n".join(lines)


@dataclass
class GroupSpec:
    """What a group's raw file must contain (built from config + instruments)."""

    name: str
    id_column: str
    site_column: str
    sites: list[str]
    instruments: dict[str, Instrument]
    item_patterns: dict[str, str]
    covariates: dict[str, dict]
    extra_missing_codes: dict[float, str]
    # rows whose site is empty or not configured: "error", or "exclude" (config grouping.unknown)
    unknown_sites: str = "error"
    site_word: str = "site"  # the grouping's name inside a sentence (config grouping.label)

    def item_columns(self, key: str) -> list[str]:
        return self.instruments[key].columns(pattern=self.item_patterns.get(key))

    def covariate_column(self, name: str) -> str:
        return self.covariates[name].get("column", name)

    def required_columns(self) -> list[str]:
        """Every raw column the group reads: id, site, items, covariates."""
        cols = [self.id_column, self.site_column]
        for key in self.instruments:
            cols += self.item_columns(key)
        return cols + [self.covariate_column(name) for name in self.covariates]


# -- value helpers (vectorised) ------------------------------------------------------------------
_LAST_CONVERTED: list | None = None  # inside schema_holds: [series, its numbers] of the last conversion


def to_number(series: pd.Series) -> pd.Series:
    """Numbers as floats; empty stays NaN; text that is not a number becomes NaN.

    While :func:`schema_holds` checks a block of columns, the block's "numeric" and range checks
    convert the same Series (7.6e7 cells at national size): the second gets the first's result."""
    if pd.api.types.is_numeric_dtype(series):
        return series.astype(float)
    memo = _LAST_CONVERTED
    if memo is not None and memo[0] is series:
        return memo[1].copy()
    numbers = _text_to_number(series)
    if memo is not None:
        memo[:] = [series, numbers]
    return numbers if memo is None else numbers.copy()


def _text_to_number(series: pd.Series) -> pd.Series:
    # each distinct text converted once (a questionnaire column holds a handful of distinct answers;
    # the uniques are every value, so to_numeric infers the same type as on the whole column)
    codes, uniques = pd.factorize(series)
    values = pd.to_numeric(pd.Series(uniques, dtype=object).astype("string").str.strip(), errors="coerce")
    numbers = np.append(values.astype(float).to_numpy(), np.nan)  # code -1 (missing) -> NaN
    return pd.Series(numbers[codes], index=series.index, name=series.name, dtype=float)


def stacked(block: pd.DataFrame) -> pd.Series:
    """The cells of ``block`` column after column as one Series, as they are: numbers stay numbers,
    anything else stays the objects read (inferring a string dtype would copy 10^7-10^8 cells)."""
    cells = block.to_numpy().ravel(order="F")
    return pd.Series(cells, dtype=object if cells.dtype == object else None)


def _not_number(series: pd.Series) -> pd.Series:
    """True where a cell holds something that is not a number (empty cells are fine)."""
    return series.notna() & to_number(series).isna()


def site_names_of(series: pd.Series, labels: dict) -> pd.Series:
    """Site names: labelled codes become their labels (numeric SPSS/Stata codes, and text codes of a
    labelled text column: SPSS string value labels, SAS character formats); text stays text (stripped)."""
    if labels and pd.api.types.is_numeric_dtype(series):
        return series.map(lambda v: labels.get(float(v), v) if pd.notna(v) else v)
    if pd.api.types.is_numeric_dtype(series):
        return series
    text = series.astype("string").str.strip().astype(object)
    text_labels = {k: v for k, v in (labels or {}).items() if isinstance(k, str)}
    if text_labels:
        return text.map(lambda v: text_labels.get(v, v) if isinstance(v, str) else v)
    return text


def ids_of(series: pd.Series) -> pd.Series:
    """Respondent ids as text; SPSS numeric ids lose their ``.0``."""
    if pd.api.types.is_numeric_dtype(series):
        return series.map(
            lambda v: (str(int(v)) if float(v).is_integer() else str(v)) if pd.notna(v) else None
        )
    return series.astype("string").str.strip().astype(object)


# -- schema --------------------------------------------------------------------------------------
def _check(fn: Callable[[pd.Series], pd.Series], name: str, error: str) -> pa.Check:
    return pa.Check(fn, name=name, error=error, ignore_na=False)


def item_rule(inst: Instrument, codes: dict[float, str]) -> tuple[Callable[[pd.Series], pd.Series], str]:
    """The allowed-values rule of an item column and its text."""
    lo, hi = inst.response_min, inst.response_max
    code_set = sorted(codes)

    def ok(s: pd.Series) -> pd.Series:
        # empty cells and text that is not a number (the "numeric" rule's business) are both NaN in x
        x = to_number(s)
        in_range = (x >= lo) & (x <= hi) & (np.floor(x) == x)
        return x.isna() | in_range | x.isin(code_set)

    code_text = ", ".join(f"{c:g} ({codes[c]})" for c in code_set) or "none"
    return ok, (
        f"must be an integer from {lo:g} to {hi:g} ({inst.key} response range) or a declared missing "
        f"code [{code_text}]"
    )


def build_schema(spec: GroupSpec, table: RawTable) -> pa.DataFrameSchema:
    """The pandera schema for one group's raw file (checks run on the values as read)."""
    columns: dict[str, pa.Column] = {}
    site_labels = table.value_labels.get(spec.site_column, {})
    known_sites = list(spec.sites)

    columns[spec.id_column] = pa.Column(
        nullable=False,
        unique=True,
        checks=[_check(lambda s: ids_of(s).fillna("").str.len() > 0, "id_not_blank", "id must not be empty")],
        report_duplicates="all",
        title="respondent id",
    )
    site_rule = f"{spec.site_word} must be one of the configured sites {known_sites}"
    if site_labels:
        site_rule += f" (codes are read through their value labels {_labels_text(site_labels)})"
    if spec.unknown_sites == "exclude":  # such rows are excluded with their reason (cocapp.ingest)
        columns[spec.site_column] = pa.Column(nullable=True)
    else:
        site_rule += "; or set grouping.unknown: exclude to leave such rows out with the reason"
        columns[spec.site_column] = pa.Column(
            nullable=False,
            # an empty cell is one problem ("must not be empty"), not also an unknown site
            checks=[
                _check(
                    lambda s: s.isna() | site_names_of(s, site_labels).isin(known_sites),
                    "site_known",
                    site_rule,
                )
            ],
        )
    # Columns under the same rule share their Check objects (schema_holds checks them together).
    shared: dict[tuple, list[pa.Check]] = {}
    for key, inst in spec.instruments.items():
        for col in spec.item_columns(key):
            codes = {**spec.extra_missing_codes, **table.missing_codes.get(col, {}), **inst.missing_codes}
            rule_key = (key, tuple(sorted(codes.items())))
            if rule_key not in shared:
                ok, text = item_rule(inst, codes)
                shared[rule_key] = [
                    _check(lambda s: ~_not_number(s), "numeric", "must be a number"),
                    _check(ok, "in_range_or_missing_code", text),
                ]
            columns[col] = pa.Column(nullable=True, checks=shared[rule_key])
    for name, cov in spec.covariates.items():
        col = spec.covariate_column(name)
        # Covariates use only the missing codes their own metadata declares: 8 years is a real value.
        codes = sorted(table.missing_codes.get(col, {}))
        if cov["type"] == "numeric":
            lo, hi = cov.get("min", -np.inf), cov.get("max", np.inf)

            def covariate_in_range(s: pd.Series, lo=lo, hi=hi, codes=codes) -> pd.Series:
                x = to_number(s)
                return s.isna() | _not_number(s) | ((x >= lo) & (x <= hi)) | x.isin(codes)

            columns[col] = pa.Column(
                nullable=True,
                checks=[
                    _check(lambda s: ~_not_number(s), "numeric", f"covariate {name!r} must be a number"),
                    _check(
                        covariate_in_range,
                        "covariate_in_range",
                        f"covariate {name!r} must lie in {lo:g}..{hi:g}",
                    ),
                ],
            )
        else:
            labels = categorical_labels(cov, table, col)
            if labels:
                allowed = sorted(k for k in labels if not isinstance(k, str))
                allowed_text = _labels_text(labels)
                words = [*labels.values(), *(k for k in labels if isinstance(k, str)), ""]  # "": empty text

                def labelled(s: pd.Series, allowed=allowed, codes=codes, words=words) -> pd.Series:
                    x = to_number(s)
                    as_text = s.astype("string").str.strip()
                    return s.isna() | x.isin(allowed) | x.isin(codes) | as_text.isin(words)

                columns[col] = pa.Column(
                    nullable=True,
                    checks=[
                        _check(
                            labelled,
                            "labelled_category",
                            f"covariate {name!r} must be one of its labelled codes {allowed_text}",
                        )
                    ],
                )
            else:
                columns[col] = pa.Column(nullable=True)
    columns.update(declared_type_columns(spec, table))
    return pa.DataFrameSchema(columns, strict=False, name=spec.name)


def declared_type_columns(spec: GroupSpec, table: RawTable) -> dict[str, pa.Column]:
    """Rules for the columns the group does not read but its codebook declares (``type``, see
    schemas/codebook.schema.yaml): ``numeric`` and ``item`` hold numbers, ``categorical`` with value
    labels one of its labelled codes (or their labels), empty or a declared missing code always
    allowed; ``string`` and ``site`` hold any text. The columns the group reads have the config's and
    the instrument files' rules instead."""
    read = set(spec.required_columns())
    columns: dict[str, pa.Column] = {}
    for col, (kind, codebook) in table.declared_types.items():
        if col in read or col not in table.data.columns:
            continue
        where = f"the codebook {codebook} declares it {kind}"
        if kind in ("numeric", "item"):
            columns[col] = pa.Column(
                nullable=True,
                checks=[_check(lambda s: ~_not_number(s), "declared_numeric", f"{where}: must be a number")],
            )
        elif kind == "categorical" and table.value_labels.get(col):
            labels = table.value_labels[col]
            codes = sorted(table.missing_codes.get(col, {}))
            allowed = sorted(k for k in labels if not isinstance(k, str))
            words = [*map(str, labels.values()), *(k for k in labels if isinstance(k, str)), ""]

            def labelled(s: pd.Series, allowed=allowed, codes=codes, words=words) -> pd.Series:
                x = to_number(s)
                return s.isna() | x.isin(allowed) | x.isin(codes) | s.astype("string").str.strip().isin(words)

            columns[col] = pa.Column(
                nullable=True,
                checks=[
                    _check(
                        labelled,
                        "declared_categorical",
                        f"{where}: must be one of its labelled codes {_labels_text(labels)}",
                    )
                ],
            )
    return columns


def categorical_labels(cov: dict, table: RawTable, column: str) -> dict[float, str]:
    """Code -> label of a categorical covariate: config ``levels`` win, then the file's value labels."""
    if cov.get("levels"):
        return {float(k): str(v) for k, v in cov["levels"].items()}
    return dict(table.value_labels.get(column, {}))


def _labels_text(labels: dict) -> str:
    def code(k) -> str:
        return k if isinstance(k, str) else f"{k:g}"

    return (
        "{"
        + ", ".join(
            f"{code(k)}={v}"
            for k, v in sorted(
                labels.items(),
                key=lambda kv: (isinstance(kv[0], str), str(kv[0]) if isinstance(kv[0], str) else kv[0]),
            )
        )
        + "}"
    )


# -- running -------------------------------------------------------------------------------------
def validate_raw(spec: GroupSpec, table: RawTable) -> None:
    """Check a raw table against the group's schema; raise DataValidationError listing every problem."""
    problems: list[Problem] = []
    data = table.data
    if len(data) == 0:
        raise DataValidationError(
            [Problem(table.path, "", None, None, "the file has a header but no data rows")]
        )
    dup_cols = data.columns[data.columns.duplicated()].tolist()
    for col in dup_cols:
        problems.append(Problem(table.path, str(col), None, None, "the column name appears more than once"))
    wanted = spec.required_columns()
    for col in sorted({c for c in wanted if wanted.count(c) > 1}, key=wanted.index):
        problems.append(
            Problem(
                table.path,
                col,
                None,
                None,
                f"group {spec.name!r} reads this column for two purposes (id, site, an item or a covariate);"
                " check item_columns and the covariates' column in the config",
            )
        )
    if problems:
        raise DataValidationError(problems)
    schema = build_schema(spec, table)
    if schema_holds(schema, data):
        return
    try:
        schema.validate(data, lazy=True)
    except SchemaErrors as err:
        problems = _problems_from(err.failure_cases, table, schema)
        raise DataValidationError(problems) from None


def schema_holds(schema: pa.DataFrameSchema, data: pd.DataFrame) -> bool:
    """True when every rule of ``schema`` holds on ``data``: the checks pandera runs (required column,
    not empty, unique, each Check), evaluated directly. Every Check here is elementwise, so columns
    sharing their Check objects (the items of one instrument) are checked at once, stacked into one
    Series (pandera copies Check objects, but not their functions). pandera's own lazy run costs
    some 10 ms per column even on valid data; it is run only when this is False, to collect every
    failure case with its row for the report."""
    together: dict[tuple, list[str]] = {}
    for name, column in schema.columns.items():
        if name not in data.columns:
            return False
        if column.unique and data[name].duplicated().any():
            return False
        key = (column.nullable, tuple(id(check._check_fn) for check in column.checks))
        together.setdefault(key, []).append(name)
    global _LAST_CONVERTED
    _LAST_CONVERTED = [None, None]
    try:
        return _checks_hold(schema, data, together)
    finally:
        _LAST_CONVERTED = None


def _checks_hold(schema: pa.DataFrameSchema, data: pd.DataFrame, together: dict[tuple, list[str]]) -> bool:
    """:func:`schema_holds`'s Check functions, each block of columns sharing them stacked at once."""
    for (nullable, check_ids), names in together.items():
        if nullable and not check_ids:
            continue
        checks = schema.columns[names[0]].checks
        series = data[names[0]] if len(names) == 1 else stacked(data[names])
        if not nullable and series.isna().any():
            return False
        for check in checks:
            result = check._check_fn(series, **check._check_kwargs)
            if isinstance(result, pd.Series):
                if not result.fillna(False).astype(bool).all():
                    return False
            elif not bool(result):
                return False
    return True


_RULE_TEXT = {
    "column_in_dataframe": "required column is missing",
    "not_nullable": "must not be empty",
    "field_uniqueness": "id must be unique (appears more than once)",
}


def _problems_from(cases: pd.DataFrame, table: RawTable, schema: pa.DataFrameSchema) -> list[Problem]:
    errors = {(col, chk.name): chk.error for col, spec in schema.columns.items() for chk in spec.checks}
    out: list[Problem] = []
    for rec in cases.to_dict("records"):
        check = str(rec.get("check"))
        column = rec.get("column")
        column = "" if column is None or (isinstance(column, float) and np.isnan(column)) else str(column)
        idx = rec.get("index")
        row = None if idx is None or (isinstance(idx, float) and np.isnan(idx)) else int(idx) + 1
        value = rec.get("failure_case")
        if check == "column_in_dataframe":
            column, value = str(value), None
        rule = _RULE_TEXT.get(check) or errors.get((column, check)) or check
        if row is not None and check != "column_in_dataframe":
            value = table.data[column].iloc[row - 1] if column in table.data.columns else value
        out.append(Problem(table.path, column, row, value, rule))
    order = {c: i for i, c in enumerate(table.data.columns)}
    out.sort(key=lambda p: (p.row is not None, p.row or 0, order.get(p.column, -1), p.rule))
    # one line per (column, row, rule)
    seen: set[tuple] = set()
    unique = []
    for p in out:
        k = (p.column, p.row, p.rule)
        if k not in seen:
            seen.add(k)
            unique.append(p)
    return unique
