"""One typed contract per intermediate file, and the one reader that applies it.

Every CSV a stage writes has a contract here: its columns, in order, with a type (``str`` read as
text, ``int``, ``float``, ``bool``, ``count`` -- a whole number or a small count suppressed as ``<3``,
read as text -- and ``any``) and whether they may be empty; ``sensitivity/verdict.json`` has a JSON
Schema (:data:`JSON_CONTRACTS`). The stage runner checks every contracted output before writing it
(:func:`check_outputs`), and :func:`read` is the only way stages read these files: text columns stay
text (ids "007", thresholds "0.5"), numbers and flags come typed (float64, int64 or nullable Int64,
nullable boolean: :func:`typed`; no reader repairs a type), and a missing, empty or malformed file
stops the stage with a message naming the file, column, row and value -- never a quietly emptier
result. :func:`read_text` reads the cells as written (what a report shows or traces), under the same
checks; :func:`read_json` the JSON files. The schemas are pandera ``DataFrameSchema`` objects
(``lazy=True``: every problem is collected before failing); ``docs/outputs.md`` is tested against
:data:`CONTRACTS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

__all__ = [
    "CONTRACTS",
    "JSON_CONTRACTS",
    "Contract",
    "ContractError",
    "JsonContract",
    "RunFiles",
    "TextTable",
    "TextTables",
    "check_frame",
    "check_json",
    "check_outputs",
    "contract_for",
    "contracts_markdown",
    "distinct_text",
    "read",
    "read_json",
    "read_text",
    "schema",
    "typed",
]


class ContractError(ValueError):
    """An intermediate file does not match its contract (missing, empty, wrong columns or values)."""


@dataclass(frozen=True)
class Contract:
    """Columns of one file: ``"name:type"`` with type ``str|int|float|bool``, ``?`` = may be empty.

    ``extra`` is a regular expression for further columns whose names depend on the study (items,
    covariates, per-instrument counts), all of type ``extra_type``.
    """

    file: str
    columns: tuple[str, ...]
    extra: str | None = None
    extra_type: str = "float?"
    extra_doc: str = "study-specific columns"  # what the further columns are (docs/outputs.md)

    def parsed(self) -> list[tuple[str, str, bool]]:
        out = []
        for spec in self.columns:
            name, kind = spec.rsplit(":", 1)
            out.append((name, kind.rstrip("?"), kind.endswith("?")))
        return out

    @property
    def names(self) -> list[str]:
        return [name for name, _, _ in self.parsed()]

    @property
    def text_columns(self) -> list[str]:
        return [name for name, kind, _ in self.parsed() if kind in TEXT_TYPES]


# column types read as text (a published count is "<3" below the small-cell threshold)
TEXT_TYPES = ("str", "count")


def _c(
    file: str, spec: str, extra: str | None = None, extra_type: str = "float?", extra_doc: str | None = None
) -> Contract:
    return Contract(file, tuple(spec.split()), extra, extra_type, extra_doc or "study-specific columns")


_KEYS = "group:str instrument:str scale:str threshold:str"
_PAIR = (
    "site_a:str site_b:str n_a:int n_b:int mean_a:float? mean_b:float? diff:float? se:float? df:float? "
    "q:float? ci_low:float? ci_high:float? p_adj:float? significant:bool? omnibus_significant:bool? "
    "method:str note:str?"
)
# a framework matrix cell: theme, counts (suppressed below the small-cell threshold), codes, extracts
_CELL = "theme:str n_cases:count n_segments:count codes:str? extracts:str? note:str?"
CONTRACTS: dict[str, Contract] = {
    # -- ingest ------------------------------------------------------------------------------------
    "items": _c("ingest/{group}_items.csv", "row:int id:str site:str", r".+", "float?"),
    "respondents": _c("ingest/{group}_respondents.csv", "row:int id:str site:str", r".+", "any?"),
    "reconciliation": _c(
        "ingest/{group}_reconciliation.csv",
        "row:int id:str site:str? status:str reason:str?",
        r".+_(items_answered|status)",
        "any",
    ),
    # -- scores ------------------------------------------------------------------------------------
    "scores": _c(
        "scores/{group}.csv",
        "id:str site:str instrument:str scale:str threshold:str score:float? items_answered:int "
        "items_total:int items_allowed_missing:int",
    ),
    # -- measurement -------------------------------------------------------------------------------
    "reliability": _c(
        "stats/reliability.csv",
        "group:str instrument:str scale:str n_complete:int k_items:int alpha:float? ci_low:float? "
        "ci_high:float? confidence_level:float acceptable:bool? acceptable_alpha:float "
        "alpha_standardized:float? mean_inter_item_r:float? scale_mean:float? scale_sd:float? note:str?",
    ),
    "reliability_items": _c(
        "stats/reliability_items.csv",
        "group:str instrument:str scale:str item:str column:str reverse_keyed:bool n_complete:int "
        "item_mean:float? item_sd:float? corrected_item_total_r:float? alpha_if_deleted:float?",
    ),
    "missingness": _c(
        "stats/missingness.csv",
        "group:str instrument:str scale:str k_items:int n_returned:int n_complete:int n_incomplete:int "
        "pct_incomplete:float? n_no_item_answered:int n_cells:int n_cells_missing:int "
        "pct_cells_missing:float? n_cells_not_applicable:int n_cells_no_response:int n_cells_refused:int "
        "n_cells_other_missing:int n_cells_empty:int n_cells_undeclared:int",
    ),
    "missingness_items": _c(
        "stats/missingness_items.csv",
        "group:str instrument:str item:str column:str subscale:str? n_returned:int n_answered:int "
        "n_missing:int pct_missing:float? n_not_applicable:int n_no_response:int n_refused:int "
        "n_other_missing:int n_empty:int n_undeclared:int",
    ),
    "missingness_patterns": _c(
        "stats/missingness_patterns.csv",
        "group:str instrument:str scale:str pattern:str n_items_missing:int n_respondents:int "
        "pct_respondents:float",
    ),
    "mcar": _c(
        "stats/mcar.csv",
        "group:str instrument:str n_items:int n_respondents:int n_patterns:int? chi2:float? df:float? "
        "p:float? computable:bool reason:str? em_iterations:int? em_converged:bool?",
    ),
    # -- distributions -----------------------------------------------------------------------------
    "descriptives": _c(
        "stats/descriptives.csv",
        f"{_KEYS} site:str n:int n_not_scored:int mean:float? sd:float? sem:float? ci_low:float? "
        "ci_high:float? confidence_level:float min:float? median:float? max:float? note:str?",
    ),
    "normality": _c(
        "stats/normality.csv",
        f"{_KEYS} n:int skewness:float? skewness_se:float? kurtosis:float? kurtosis_se:float? "
        "conservative_limit:float liberal_limit:float beyond_conservative:bool? beyond_liberal:bool? "
        "note:str?",
    ),
    "reference_comparison": _c(
        "stats/reference_comparison.csv",
        f"{_KEYS} site:str status:str reference_sample:str? reference_citation:str? reference_n:float? "
        "reference_mean:float? reference_sd:float? n:float? mean:float? sd:float? difference:float? "
        "diff_ci_low:float? diff_ci_high:float? confidence_level:float t:float? df:float? p:float? "
        "cohens_d:float? cohens_d_reference_sd:float?",
    ),
    # -- site comparisons --------------------------------------------------------------------------
    "anova": _c(
        "stats/anova.csv",
        f"{_KEYS} n:int k_sites:int df1:int? df2:int? ss_between:float? ss_within:float? ms_between:float? "
        "ms_within:float? F:float? p:float? eta2:float? eta2_ci_low:float? eta2_ci_high:float? omega2:float? "
        "levene_mean_F:float? "
        "levene_mean_p:float? levene_median_F:float? levene_median_p:float? welch_F:float? "
        "welch_df1:float? welch_df2:float? welch_p:float? significant:bool? note:str?",
    ),
    "tukey": _c("stats/tukey.csv", f"{_KEYS} {_PAIR}"),
    "games_howell": _c("stats/games_howell.csv", f"{_KEYS} {_PAIR}"),
    "correlations": _c(
        "stats/correlations.csv",
        "group:str threshold:str site:str x:str y:str n:int r:float? p:float? ci_low:float? ci_high:float? "
        "effect_size:str? significant:bool? note:str?",
    ),
    # -- ANCOVA ------------------------------------------------------------------------------------
    "ancova": _c(
        "stats/ancova.csv",
        f"{_KEYS} model:str covariates:str term:str ss:float? df:float? F:float? p:float? "
        "partial_eta2:float? n:int note:str? formula:str coding:str emm_weights:str",
    ),
    "ancova_means": _c(
        "stats/ancova_means.csv",
        f"{_KEYS} model:str site:str n:int adj_mean:float? se:float? df:float? ci_low:float? "
        "ci_high:float? note:str?",
    ),
    "ancova_posthoc": _c(
        "stats/ancova_posthoc.csv",
        f"{_KEYS} model:str site_a:str site_b:str diff:float? se:float? df:float? t:float? ci_low:float? "
        "ci_high:float? p_adj:float? significant:bool? omnibus_significant:bool? method:str note:str?",
    ),
    "ancova_slopes": _c(
        "stats/ancova_slopes.csv",
        f"{_KEYS} model:str covariate:str covariate_type:str df1:float? df2:float? F:float? p:float? "
        "significant:bool? note:str?",
    ),
    # -- multiple imputation (stage impute; read by sensitivity) ------------------------------------
    "mi_means": _c(
        "sensitivity/mi_means.csv",
        "group:str instrument:str scale:str delta:float analysis:str site:str n:int m:int estimate:float? "
        "se:float? df:float? ci_low:float? ci_high:float? riv:float? fmi:float? re:float?",
    ),
    "mi_tests": _c(
        "sensitivity/mi_tests.csv",
        "group:str instrument:str scale:str delta:float analysis:str method:str m:int F:float? df1:float? "
        "df2:float? p:float? riv:float? fmi:float? significant:bool?",
    ),
    "mi_pairs": _c(
        "sensitivity/mi_pairs.csv",
        "group:str instrument:str scale:str delta:float analysis:str site_a:str site_b:str m:int diff:float? "
        "se:float? df:float? t:float? p:float? p_adj:float? ci_low:float? ci_high:float? riv:float? "
        "fmi:float? re:float? significant:bool?",
    ),
    "mi_correlations": _c(
        "sensitivity/mi_correlations.csv",
        "group:str site:str x:str y:str n:int m:int r:float? ci_low:float? ci_high:float? p:float? "
        "df:float? riv:float? fmi:float? re:float? significant:bool?",
    ),
    "mi_tipping": _c(
        "sensitivity/mi_tipping.csv",
        "group:str instrument:str scale:str analysis:str method:str p_mar:float? significant_mar:bool? "
        "deltas_tested:str tipping_delta:float? p_at_tipping:float? significant_at_tipping:bool? "
        "conclusion:str",
    ),
    "mi_diagnostics": _c(
        "sensitivity/mi_diagnostics.csv",
        "group:str instrument:str item:str chain:int iteration:int n_imputed:int mean:float? sd:float?",
    ),
    "mi_predictors": _c(
        "sensitivity/mi_predictors.csv",
        "group:str instrument:str item:str n_missing:int predictor:str kind:str",
    ),
    # -- mean-replacement sensitivity (stage sensitivity) -------------------------------------------
    "sensitivity_summary": _c(
        "sensitivity/summary.csv",
        "group:str instrument:str scale:str threshold:str is_primary:bool n:int? n_primary:int? df1:int? "
        "df2:int? F:float? p:float? eta2:float? significant:bool? significant_primary:bool? "
        "changes_inference:bool? max_abs_mean_shift:float? max_abs_mean_shift_site:str? "
        "max_abs_mean_shift_sd:float? n_not_decreasing:bool note:str?",
        r"ancova_.+|mi_.+",
        "any?",
        "per ANCOVA model `ancova_<model>_n`, `_F`, `_p`, `_partial_eta2`, `_significant`, "
        "`_changes_inference` (after `changes_inference`); with imputation `mi_F`, `mi_p`, `mi_fmi`, "
        "`mi_significant`, `mi_changes_inference`, `mi_tipping_delta` and `ancova_<model>_mi_*` (at the end)",
    ),
    "site_shifts": _c(
        "sensitivity/site_shifts.csv",
        "group:str instrument:str scale:str threshold:str site:str n:int? n_primary:int? mean:float? "
        "mean_primary:float? shift:float? shift_sd:float?",
    ),
    "sensitivity_pairs": _c(
        "sensitivity/pairs.csv",
        "group:str instrument:str scale:str site_a:str site_b:str threshold:str diff:float? p_adj:float? "
        "significant:bool? significant_primary:bool? changes_inference:bool? omnibus_significant:bool? "
        "significant_at:str? not_significant_at:str?",
    ),
    "sensitivity_checks": _c(
        "sensitivity/checks.csv",
        "check:str group:str instrument:str? scale:str? source:str threshold:str? compared_with:str "
        "expected:int? observed:int? message:str",
    ),
    # -- qualitative arm ---------------------------------------------------------------------------
    "segments": _c(
        "qualitative/segments.csv",
        "source_id:str source_label:str? case_id:str site:str? participant_group:str? theme:str code:str "
        "code_path:str? text:str start:int? end:int? coder:str? reference:str? memo:str?",
    ),
    "cases": _c("qualitative/cases.csv", "case_id:str site:str? participant_group:str?", r".+", "str?"),
    "codes": _c(
        "qualitative/codes.csv", "code:str theme:str code_path:str? definition:str?", r".+", "str?"
    ),  # further codebook columns (e.g. provenance) are kept as they are
    "import_report": _c("qualitative/import_report.csv", "kind:str element:str where:str detail:str"),
    "sources": _c("qualitative/sources.csv", "source_id:str n_characters:int?"),
    "memos": _c(
        "qualitative/memos.csv", "memo:str? author:str? created:str? modified:str? description:str? text:str?"
    ),
    # published tables: counts below the small-cell threshold are written "<3" (type count)
    "framework_case_theme": _c(
        "qualitative/framework_case_theme.csv",
        f"case_id:str site:str? participant_group:str? {_CELL} qualitative_dataset:str?",
    ),
    "framework_site_theme": _c(
        "qualitative/framework_site_theme.csv",
        f"site:str n_cases_site:count {_CELL} qualitative_dataset:str?",
    ),
    "framework_group_theme": _c(
        "qualitative/framework_group_theme.csv",
        f"participant_group:str? n_cases_group:count {_CELL} qualitative_dataset:str?",
    ),
    "code_frequencies_by_site": _c(
        "qualitative/code_frequencies_by_site.csv",
        "site:str theme:str code:str n_cases:count n_segments:count qualitative_dataset:str?",
    ),
    "codebook": _c(
        "qualitative/codebook.csv",
        "code:str theme:str code_path:str? definition:str? n_cases:count n_segments:count "
        "qualitative_dataset:str?",
        r".+",
        "str?",
        "the further codebook columns (e.g. `provenance`), before `qualitative_dataset`",
    ),
    "joint_display": _c(
        "qualitative/joint_display.csv",
        "site:str survey_data_synthetic:bool qualitative_dataset:str? n_interviewed:count? n_cases:count "
        "n_segments:count themes_covered:str? representative_theme:str? representative_extract:str? "
        "representative_source:str?",
        r".+",
        "any?",
        "per outcome `<slug>_n`, `_mean`, `_ci_low`, `_ci_high`, `_tukey_significant` (after `site`); "
        "`n_cases_<theme>` per theme (counts, after `n_segments`)",
    ),
    "coding_comparison": _c(
        "qualitative/coding_comparison.csv",
        "theme:str code:str code_path:str? source_id:str coder_a:str coder_b:str n_characters:int "
        "a_only:int b_only:int both:int neither:int agreement_pct:float kappa:float",
    ),
    "coding_alpha": _c(
        "qualitative/coding_alpha.csv",
        "theme:str code:str code_path:str? source_id:str n_coders:int coders:str n_characters:int "
        "alpha:float?",
    ),
    # -- audit (read by the report) ----------------------------------------------------------------
    "published_comparison": _c(
        "reports/tables/published_comparison.csv",
        "table:str group:str instrument:str? scale:str? site:str? quantity:str printed:str? "
        "printed_value:float? printed_decimals:int? tolerance:float? regenerated:float? difference:float? "
        "match:bool?",
        r".+",
        "any?",
        "`consistency_flag`, `note`, `evidence`, `calibration_target`, `reason`",
    ),
    "published_consistency": _c(
        "reports/tables/published_consistency.csv",
        "check:str table:str group:str instrument:str? scale:str? site:str? quantity:str printed:str? "
        "recomputed:float? recomputed_low:float? recomputed_high:float? consistent:bool? "
        "cannot_be_consistent:bool suggested_value:str?",
        r".+",
        "any?",
        "`suggested_low`, `suggested_high`, `note`",
    ),
}


def _numbers(s):
    import pandas as pd

    return pd.to_numeric(s, errors="coerce")


def _check(kind: str):
    """pandera checks of one column type; each reports the failing rows and values."""
    import pandera.pandas as pa

    def is_number(s):
        return s.isna() | _numbers(s).notna()

    def is_whole(s):
        x = _numbers(s)
        return x.isna() | (x % 1 == 0)

    def is_flag(s):
        return s.isna() | s.isin([True, False, "True", "False"])

    def is_count(s):
        return s.isna() | s.astype(str).str.fullmatch(r"\d+|<\d+")

    checks = {
        "float": [pa.Check(is_number, error="not a number")],
        "int": [pa.Check(is_number, error="not a number"), pa.Check(is_whole, error="not a whole number")],
        "bool": [pa.Check(is_flag, error="not True/False")],
        "count": [pa.Check(is_count, error="not a count (a whole number, or <n when suppressed)")],
    }
    return checks.get(kind, [])


@cache
def schema(name: str, only: tuple[str, ...] | None = None):
    """The pandera ``DataFrameSchema`` of contract ``name`` (columns in order; extra columns by regex);
    with ``only``, of those of its declared columns alone (a projected read)."""
    import pandera.pandas as pa

    contract = CONTRACTS[name]
    columns = {
        col: pa.Column(None, checks=_check(kind), nullable=nullable, required=True)
        for col, kind, nullable in contract.parsed()
        if only is None or col in only
    }
    if contract.extra and only is None:
        kind = contract.extra_type.rstrip("?")
        declared = "|".join(re.escape(c) for c in contract.names)
        columns[f"^(?!(?:{declared})$)(?:{contract.extra})$"] = pa.Column(
            None, checks=_check(kind), nullable=contract.extra_type.endswith("?"), regex=True, required=False
        )
    elif contract.extra:  # projected: the study-specific columns read are checked by their type
        kind = contract.extra_type.rstrip("?")
        for col in only:
            if col not in columns:
                columns[col] = pa.Column(
                    None, checks=_check(kind), nullable=contract.extra_type.endswith("?"), required=True
                )
    return pa.DataFrameSchema(
        columns, strict=contract.extra is None and only is None, ordered=False, name=contract.file
    )


def _first_rows(failures) -> str:
    lines = []
    for rec in failures.head(5).itertuples():
        row = "" if rec.index is None or rec.index != rec.index else f", row {int(rec.index) + 2}"
        lines.append(f"column {rec.column!r}{row}: {rec.check} (value {rec.failure_case!r})")
    more = len(failures) - 5
    return "; ".join(lines) + (f"; and {more} more" if more > 0 else "")


# files above this size are parsed by pyarrow's multithreaded CSV reader (half the CPU of pandas' own
# on a national study's 8 M-row scores table; the same values: both parse floats exactly)
ARROW_MIN_BYTES = 64 * 2**20


def _read_csv(path: Path, dtype: dict, exact: dict, usecols=None):
    """``pandas.read_csv`` of an intermediate file: text columns as text, empty cells missing; only
    the columns ``usecols`` when given.

    Large files go through the pyarrow engine when pyarrow is installed; whatever it cannot read is
    read again by pandas' own parser, so errors are always that parser's."""
    import pandas as pd

    options = {"dtype": dtype, "keep_default_na": False, "na_values": [""], **exact}
    if usecols is not None:
        header = pd.read_csv(path, nrows=0, dtype=str).columns
        options["usecols"] = [c for c in header if c in usecols]
    if not exact and path.stat().st_size >= ARROW_MIN_BYTES:
        try:
            import pyarrow  # noqa: F401 - an optional speed-up

            return pd.read_csv(path, engine="pyarrow", **options)
        except Exception:  # noqa: BLE001 - the C parser below reports the problem
            pass
    return pd.read_csv(path, **options)


def _read_parquet(path: Path, text_columns: list[str], columns=None, where=None):
    """A Parquet intermediate file (``intermediate_format: parquet``) read to the same frame the CSV
    reader gives: text columns as text with empty text missing, and other columns that were written
    as text (study-specific extra columns of type ``any``) typed as the CSV reader would type them
    (all whole numbers -> int, numbers -> float, True/False -> bool). Only ``columns`` (all when
    None) are read, and with ``where`` only the rows whose text column holds one of the given
    values: the filter is applied by pyarrow while reading (row groups whose statistics exclude the
    values are skipped), so a national study's table is never whole in memory."""
    import pandas as pd
    import pyarrow.parquet as pq

    filters = [(col, "in", list(values)) for col, values in (where or {}).items()] or None
    try:
        table = pq.read_table(path, columns=columns, filters=filters)
    except Exception as err:  # noqa: BLE001 - pyarrow's many error types: one message naming the file
        raise ContractError(f"{path}: not a readable Parquet file ({err})") from None
    df = table.to_pandas()
    del table
    for col in df.columns:
        series = df[col]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        text = series.astype("str")
        series = text.where(series.notna() & (text != ""))
        del text
        if col not in text_columns:
            series = _as_csv_would(series)
        df[col] = series
    return df


def _as_csv_would(series):
    """The type pandas' CSV reader infers for a text column (no declared dtype)."""
    import pandas as pd

    values = series.dropna()
    if values.empty:
        return pd.Series(float("nan"), index=series.index, dtype="float64")
    if values.isin(["True", "False"]).all() and series.notna().all():
        return series == "True"
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return series
    whole = values.str.fullmatch(r"[+-]?\d+").all()
    if whole and series.notna().all():
        return pd.to_numeric(series).astype("int64")
    return pd.to_numeric(series).astype("float64")


def read(name: str, path: str | Path, log=None, *, columns=None, where=None):
    """Read ``path`` under contract ``name``: text columns as text, every column checked, numbers and
    flags of the contract's type (:func:`typed`).

    ``columns`` (a list of the contract's columns; default all) reads only those, in file order --
    from a Parquet file without touching the others. ``where`` (``{text column: [values]}``) keeps
    only the rows whose column holds one of the values as written (a Parquet file is filtered while
    it is read; a CSV file after). Raises :class:`ContractError` naming the file (and column, row,
    value) when the file is missing, empty, lacks a column or holds a value of the wrong type.
    """
    import pandas as pd

    contract = CONTRACTS[name]
    path = Path(path)
    if not path.is_file():
        raise ContractError(f"{path}: file not found (expected the {contract.file} of an earlier stage)")
    wanted = contract.names if columns is None else list(columns)
    if columns is not None and where:
        wanted += [c for c in where if c not in wanted]
    dtype = {c: str for c in contract.text_columns}
    # floats exactly as written: pandas 3 parses them exactly by default, pandas 2 needs round_trip
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    try:
        if path.suffix == ".parquet":
            present = _parquet_columns(path)
            missing = [c for c in wanted if c not in present]
            if missing:
                raise ContractError(f"{path}: column(s) {missing} missing (contract {contract.file})")
            subset = None if columns is None else [c for c in present if c in wanted]
            df = _read_parquet(path, contract.text_columns, subset, where)
        else:
            df = _read_csv(path, dtype, exact, None if columns is None else set(wanted))
            if where:
                keep = pd.Series(True, index=df.index)
                for col, values in where.items():
                    keep &= df[col].isin(list(values))
                df = df[keep.to_numpy()].reset_index(drop=True)
    except pd.errors.EmptyDataError:
        raise ContractError(f"{path}: file is empty (expected columns {contract.names})") from None
    _check_read(name, df, path, wanted, None if columns is None else tuple(df.columns))
    if log is not None:
        log.read(path, len(df))
    return typed(name, df)


def _check_read(name: str, df, path: Path, wanted: list[str], columns: tuple[str, ...] | None = None):
    """The frame read from ``path`` holds the ``wanted`` columns of contract ``name`` and every value
    passes the contract's schema (of ``columns`` alone when given); else a :class:`ContractError`
    naming the file (and column, row and value)."""
    import pandera.errors

    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ContractError(f"{path}: column(s) {missing} missing (contract {CONTRACTS[name].file})")
    try:
        schema(name, columns).validate(df, lazy=True)
    except pandera.errors.SchemaErrors as err:
        raise ContractError(f"{path}: {_first_rows(err.failure_cases)}") from None


def typed(name: str, df):
    """``df`` (read under contract ``name``, every value checked) with each declared column of the
    contract's type: ``float`` -> float64, ``int`` -> int64 (``int?`` -> nullable Int64), ``bool`` ->
    nullable boolean; text columns stay text. So the readers of a file never repair a type."""
    import pandas as pd

    for col, kind, nullable in CONTRACTS[name].parsed():
        if col not in df.columns:
            continue
        s = df[col]
        want = {"float": "float64", "int": "Int64" if nullable else "int64", "bool": "boolean"}.get(kind)
        if want is None or s.dtype == want:
            continue
        if kind == "bool":
            df[col] = s.astype("boolean") if s.dtype == bool else s.map(_FLAGS).astype("boolean")
        else:
            df[col] = pd.to_numeric(s).astype(want)
    return df


_FLAGS = {True: True, False: False, "True": True, "False": False}


def _parquet_columns(path: Path) -> list[str]:
    """The column names of a Parquet file, from its footer (no data read)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001 - pyarrow's many error types: one message naming the file
        raise ContractError(f"{path}: not a readable Parquet file ({err})") from None


def distinct_text(name: str, path: str | Path, column: str) -> list[str]:
    """The distinct values, as written, of text column ``column`` of the contract ``name`` file
    ``path`` (first-seen order; empty cells left out). From a Parquet file only that column is read
    (dictionary-encoded: a few bytes per row); a CSV file is read with that column alone."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".parquet" and path.is_file() and column in _parquet_columns(path):
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        seen: dict[str, None] = {}
        file = pq.ParquetFile(path)
        for i in range(file.num_row_groups):  # one row group at a time: memory stays small
            for value in pc.unique(file.read_row_group(i, columns=[column]).column(0)).to_pylist():
                if value not in (None, ""):
                    seen.setdefault(str(value))
        return list(seen)
    df = read(name, path, columns=[column])
    return [v for v in pd.unique(df[column].dropna()) if v != ""]


# -- on write: the frame a stage returns for a contracted file is checked before anything is written ---
@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    """(pattern of the path's tail, contract name) of every contract, CSV and JSON."""
    out = []
    files = [(c.file, name) for name, c in CONTRACTS.items()]
    files += [(c.file, name) for name, c in JSON_CONTRACTS.items()]
    for file, name in files:
        stem, _, suffix = file.rpartition(".")
        body = re.escape(stem).replace(re.escape("{group}"), "[^/]+")
        suffixes = "csv|parquet" if suffix == "csv" else re.escape(suffix)
        out.append((re.compile(rf"(?:^|/){body}\.(?:{suffixes})$"), name))
    return out


def contract_for(path: str | Path) -> str | None:
    """The contract of the file at ``path`` by where it lies in a run (``.../stats/anova.csv`` ->
    ``anova``; ``ingest/<group>_items.parquet`` -> ``items``), None for a file without one."""
    text = Path(path).as_posix()
    for pattern, name in _patterns():
        if pattern.search(text):
            return name
    return None


def check_frame(name: str, df, path: str | Path = "") -> None:
    """Check the frame a stage is about to write as ``path`` against contract ``name``: every declared
    column, in the contract's order, and every value of the column's type. Raises
    :class:`ContractError` naming the file, column, row (the CSV line it would be on) and value."""
    import pandas as pd
    import pandera.errors

    contract = CONTRACTS[name]
    where = f"{path or contract.file}: not written"
    missing = [c for c in contract.names if c not in df.columns]
    if missing:
        raise ContractError(f"{where}: column(s) {missing} missing (contract {contract.file})")
    declared = set(contract.names)
    order = [c for c in df.columns if c in declared]
    if order != contract.names:
        raise ContractError(f"{where}: columns in the order {order}, not {contract.names} (contract)")
    index = df.index
    if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
        df = df.reset_index(drop=True)  # row numbers as in the file
    # an empty text is written as an empty cell, which reads back as missing: check it as missing
    text = [c for c in df.columns if df[c].dtype == object or isinstance(df[c].dtype, pd.StringDtype)]
    empty = {c: (df[c] == "").fillna(False) for c in text}
    empty = {c: e for c, e in empty.items() if e.any()}
    if empty:
        df = df.assign(**{c: df[c].mask(e) for c, e in empty.items()})
    try:
        schema(name).validate(df, lazy=True)
    except pandera.errors.SchemaErrors as err:
        raise ContractError(f"{where}: {_first_rows(err.failure_cases)} (contract {contract.file})") from None


def check_outputs(outputs) -> None:
    """Check every output of a stage that has a contract (by its path, :func:`contract_for`) before
    it is written: a table (``DataFrame``) by :func:`check_frame`, a JSON text by
    :func:`check_json`. Tables written part by part (``cocapp.io.TableChunks``) are checked by their
    readers."""
    import pandas as pd

    for path, content in outputs.items():
        name = contract_for(path)
        if name is None:
            continue
        if name in JSON_CONTRACTS and isinstance(content, str | bytes):
            check_json(name, content, path)
        elif name in CONTRACTS and isinstance(content, pd.DataFrame):
            check_frame(name, content, path)


# -- JSON files ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class JsonContract:
    """A JSON file checked against the JSON Schema ``cocapp/schemas/<schema>.schema.yaml``."""

    file: str
    schema: str


JSON_CONTRACTS: dict[str, JsonContract] = {
    "verdict": JsonContract("sensitivity/verdict.json", "verdict"),
}


@cache
def _json_validator(name: str):
    import jsonschema

    return jsonschema.Draft202012Validator(_json_schema(JSON_CONTRACTS[name].schema))


def check_json(name: str, text: str | bytes, path: str | Path = ""):
    """The JSON document ``text`` of contract ``name`` (parsed), checked against its schema; raises
    :class:`ContractError` naming the file, where in the document (a JSON pointer) and the value."""
    import json

    path = path or JSON_CONTRACTS[name].file
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise ContractError(f"{path}: not valid JSON ({err})") from None
    problems = sorted(_json_validator(name).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if problems:
        lines = []
        for e in problems[:5]:
            pointer = "/" + "/".join(str(p) for p in e.absolute_path)
            lines.append(f"at {pointer}: {e.message}")
        more = len(problems) - 5
        raise ContractError(
            f"{path}: "
            + "; ".join(lines)
            + (f"; and {more} more" if more > 0 else "")
            + f" (schema {JSON_CONTRACTS[name].schema}.schema.yaml)"
        )
    return doc


def read_json(name: str, path: str | Path, log=None):
    """Read the JSON file ``path`` under contract ``name`` (:data:`JSON_CONTRACTS`): a missing file,
    invalid JSON or a document its schema rejects is a :class:`ContractError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(
            f"{path}: file not found (expected the {JSON_CONTRACTS[name].file} of an earlier stage)"
        )
    doc = check_json(name, path.read_bytes(), path)
    if log is not None:
        log.read(path)
    return doc


# -- text tables: the cells as written, for what shows or traces them ---------------------------------
@dataclass(frozen=True, eq=False)
class TextTable:
    """A CSV file's cells as written (every cell text, ``""`` when empty), checked under its contract.

    ``lines``: the line (header = 1) each record starts on, when asked for (a quoted cell with line
    breaks makes a record span lines). ``memo`` keeps look-up structures built on the table by its
    users (e.g. an index of rows by key), so they are built once per file."""

    path: str
    cells: object  # pandas.DataFrame
    lines: list[int] | None = None
    memo: dict = field(default_factory=dict, repr=False)


def read_text(name: str | None, path: str | Path, log=None, *, lines: bool = False) -> TextTable:
    """Read the CSV ``path`` as text cells (ids, thresholds and numbers exactly as written), checked
    under contract ``name`` as :func:`read` checks it. ``name`` None reads a display table
    (``reports/tables/<key>.csv``: the cells a report shows, in columns of the study's sites; no
    contract). With ``lines``, :attr:`TextTable.lines` holds the line each record starts on."""
    import pandas as pd

    from cocapp.csvout import record_lines

    path = Path(path)
    expected = CONTRACTS[name].file if name else "display table"
    if not path.is_file():
        raise ContractError(f"{path}: file not found (expected the {expected} of an earlier stage)")
    try:
        cells = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise ContractError(f"{path}: file is empty (expected the {expected})") from None
    if name is not None:
        _check_read(name, cells.mask(cells == ""), path, CONTRACTS[name].names)
    if log is not None:
        log.read(path, len(cells))
    starts = record_lines(path.read_text("utf-8")) if lines and len(cells) else [] if lines else None
    return TextTable(str(path), cells, starts)


class TextTables(Mapping):
    """Text tables (:func:`read_text`) by path relative to ``root`` (``stats/anova.csv``), each read
    under the contract its path names on its first look-up and kept. With ``files`` only those files
    (the inputs a stage was given) can be looked up; others are missing (``KeyError``)."""

    def __init__(self, root: str | Path, files=None, log=None, *, lines: bool = False):
        self.root = Path(root)
        self._log, self._lines = log, lines
        self._files = None
        if files is not None:
            root_dir = self.root.resolve()
            self._files = {}
            for f in files:
                try:
                    self._files[Path(f).resolve().relative_to(root_dir).as_posix()] = Path(f)
                except ValueError:
                    continue  # not under root
        self._read: dict[str, TextTable] = {}

    def __getitem__(self, rel: str) -> TextTable:
        return self.read(rel)

    def read(self, rel: str, name: str | None = None) -> TextTable:
        """The table ``rel`` under contract ``name`` (None: the one its path names, :func:`contract_for`;
        a file given under an option named as its contract may lie anywhere)."""
        if rel not in self._read:
            if self._files is not None and rel not in self._files:
                raise KeyError(rel)
            path = self._files[rel] if self._files is not None else self.root / rel
            name = name if name in CONTRACTS else contract_for(path)
            if name is None or name not in CONTRACTS:
                raise ContractError(f"{path}: no contract names this file")
            self._read[rel] = read_text(name, path, self._log, lines=self._lines)
        return self._read[rel]

    def __iter__(self):
        return iter(self._files if self._files is not None else self._read)

    def __len__(self) -> int:
        return len(self._files if self._files is not None else self._read)


class RunFiles:
    """The files of a workflow run (the folder it ran in), read for ``cocapp trace`` through the
    readers above: derived tables under their contracts (:attr:`derived`, by path relative to
    ``data/derived``; :meth:`table`, by path relative to the run or absolute), display tables, the
    report and the stage manifests (JSON)."""

    def __init__(self, root: str | Path = "."):
        self.root = Path(root)
        self.derived = TextTables(self.root / "data" / "derived")
        self._tables = TextTables(self.root, lines=True)

    def path(self, path: str | Path) -> Path:
        return self.root / path  # an absolute path stays as it is

    def table(self, path: str | Path, name: str | None = None) -> TextTable:
        """A contracted CSV file of the run, with the line each record starts on, read under contract
        ``name`` (the short name the report traces it by, when that is a contract's: the report is
        given each statistics file under an option of that name, wherever the file lies), else the
        one its path names."""
        return self._tables.read(Path(path).as_posix(), name)

    def display(self, key: str) -> TextTable:
        """The display table ``reports/tables/<key>.csv``."""
        return read_text(None, self.path(Path("reports") / "tables" / f"{key}.csv"))

    def text(self, path: str | Path) -> str:
        full = self.path(path)
        if not full.is_file():
            raise ContractError(f"{full}: file not found (run the workflow first)")
        return full.read_text("utf-8")

    def json(self, path: str | Path):
        import json

        text = self.text(path)
        try:
            return json.loads(text)
        except json.JSONDecodeError as err:
            raise ContractError(f"{self.path(path)}: not valid JSON ({err})") from None

    def size(self, path: str | Path) -> int:
        full = self.path(path)
        if not full.is_file():
            raise ContractError(f"{full}: file not found (run the workflow first)")
        return full.stat().st_size


def contracts_markdown() -> str:
    """The contracts as a Markdown table (the generated block of ``docs/outputs.md``)."""
    lines = ["| file | columns (type; `?` = may be empty) |", "|---|---|"]
    for contract in CONTRACTS.values():
        cols = ", ".join(
            f"`{name}` {kind}{'?' if nullable else ''}" for name, kind, nullable in contract.parsed()
        )
        if contract.extra:
            cols += f"; further columns ({contract.extra_type}): {contract.extra_doc}"
        lines.append(f"| `{contract.file}` | {cols} |")
    for contract in JSON_CONTRACTS.values():
        keys = ", ".join(f"`{k}`" for k in _json_schema(contract.schema)["required"])
        lines.append(
            f"| `{contract.file}` | JSON checked against `src/cocapp/schemas/{contract.schema}.schema.yaml`; "
            f"keys {keys} |"
        )
    return "\n".join(lines) + "\n"


def _json_schema(name: str) -> dict:
    from cocapp.schemadoc import schema as load_schema

    return load_schema(name)
