"""Ingest stage: read every group's raw questionnaires, validate them, and write tidy inputs.

All groups are read and validated before anything is written, so bad input anywhere stops the run
with one report and leaves no derived file behind. For each group the stage writes (see
docs/architecture.md): ``{group}_items.csv`` (raw item responses, missing codes kept apart),
``{group}_respondents.csv`` (site + covariates, categorical covariates as labels) and
``{group}_reconciliation.csv`` (every raw row: analysed or excluded, with the reason).

Soft problems are not errors: a respondent who answered no item of an instrument is excluded from that
instrument (and from the whole analysis if that holds for every instrument), with the reason listed;
a missing covariate is noted (the respondent leaves only the ANCOVA models that use it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from cocapp.config import site_names
from cocapp.instruments import configured_instruments
from cocapp.io import DECLARES_MISSING, RawTable, ReadOptions, match_column_case, raw_format, read_raw
from cocapp.validate import (
    DataValidationError,
    GroupSpec,
    categorical_labels,
    format_problems,
    ids_of,
    site_names_of,
    stacked,
    to_number,
    validate_raw,
)
from cocapp.words import grouping_words, unknown_groups

__all__ = [
    "IngestResult",
    "group_spec",
    "ingest_group",
    "ingest_study",
    "output_paths",
    "read_group",
    "read_options",
]

OUTPUT_KINDS = ("items", "respondents", "reconciliation")


def output_paths(outdir: str | Path, group: str) -> dict[str, Path]:
    """The three files the stage writes for ``group``."""
    return {kind: Path(outdir) / f"{group}_{kind}.csv" for kind in OUTPUT_KINDS}


def group_spec(config: dict, group: str, instruments: dict | None = None) -> GroupSpec:
    """What the raw file of ``group`` must contain, from config and instrument files (``instruments``:
    the configured instruments by key, as the stage loaded them from its ``--instruments`` files; None:
    loaded through the config's ``instrument_paths``)."""
    g = config["groups"][group]
    known = configured_instruments(config, instruments)
    extra = {float(k): v for k, v in config.get("input", {}).get("missing_codes", {}).items()}
    return GroupSpec(
        name=group,
        id_column=g["id_column"],
        site_column=g["site_column"],
        sites=site_names(config),
        instruments={k: known[k] for k in g["instruments"]},
        item_patterns=g.get("item_columns", {}),
        covariates=g.get("covariates", {}),
        # the config's item missing codes serve every format that cannot declare them itself
        extra_missing_codes=extra if raw_format(g["raw"]) not in DECLARES_MISSING else {},
        unknown_sites=unknown_groups(config),
        site_word=grouping_words(config).noun,
    )


def compare_raw_copy(
    config: dict,
    group: str,
    spec: GroupSpec,
    result: IngestResult,
    copy: str,
    codebook: str | None,
    options: ReadOptions,
) -> str | None:
    """Why the other copy ``copy`` of ``group``'s raw file (:func:`cocapp.rawformats.raw_copies`)
    holds different data than the configured file, or None when both give the same validated items
    and respondents. The copy is read and validated as its format is (its own missing codes, the
    group's ``codebook`` for a format without labels); ``spec`` is what the configured file was
    validated against and ``options`` how it was read (they serve a copy of the same format only)."""
    g = config["groups"][group]
    extra = {float(k): v for k, v in config.get("input", {}).get("missing_codes", {}).items()}
    spec = replace(spec, extra_missing_codes=extra if raw_format(copy) not in DECLARES_MISSING else {})
    try:
        # the group's read options (encoding, delimiter, sheet) fit a copy of the same format only
        same_format = raw_format(copy) == raw_format(g["raw"])
        options = options if same_format else ReadOptions()
        other = ingest_group(spec, read_raw(copy, codebook, dataset=group, options=options))
    except DataValidationError as err:
        # every problem with its file, column, row and value (the first line is only their count)
        return "it does not pass the checks the configured file passes: " + format_problems(err.problems)
    except ValueError as err:
        return f"it cannot be read as the configured file is: {err}"
    for kind in ("items", "respondents"):
        a, b = getattr(result, kind), getattr(other, kind)
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            return f"its {kind} differ in columns or rows ({len(b)} rows here, {len(a)} there)"
        for col in a.columns:
            x, y = a[col].astype(object), b[col].astype(object)
            same = (x == y) | (pd.isna(x) & pd.isna(y))
            if not same.all():
                i = int(np.flatnonzero(~same.to_numpy())[0])
                row = int(a["row"].iloc[i])
                return f"column {col!r}, data row {row}: {y.iloc[i]!r} here, {x.iloc[i]!r} there"
    return None


def read_options(config: dict, group: str) -> ReadOptions:
    """How to read ``group``'s raw file (``groups.<group>.read``; defaults when absent)."""
    return ReadOptions.from_config(config["groups"][group].get("read"), f"groups.{group}.read")


def read_group(config: dict, group: str) -> RawTable:
    """Read ``group``'s raw file (any format, with its codebook where the format needs one)."""
    g = config["groups"][group]
    return read_raw(g["raw"], g.get("codebook"), dataset=group, options=read_options(config, group))


class IngestResult:
    """Tidy tables for one group (nothing written yet)."""

    def __init__(self, items: pd.DataFrame, respondents: pd.DataFrame, reconciliation: pd.DataFrame):
        self.items = items
        self.respondents = respondents
        self.reconciliation = reconciliation


def _numbers(data: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """:func:`~cocapp.validate.to_number` of the columns ``cols``, converted in one call (the cells
    stacked column after column; the conversion is elementwise, so the values are the same)."""
    block = data[cols]
    flat = to_number(stacked(block))
    return pd.DataFrame(flat.to_numpy().reshape(len(cols), len(block)).T, columns=cols, index=data.index)


def ingest_group(spec: GroupSpec, table: RawTable) -> IngestResult:
    """Validate ``table`` and derive items, respondents and reconciliation (pure; no files)."""
    table = match_column_case(table, spec.required_columns())
    validate_raw(spec, table)
    data = table.data
    rows = np.arange(1, len(data) + 1)
    ids = ids_of(data[spec.id_column]).to_numpy()
    sites = site_names_of(data[spec.site_column], table.value_labels.get(spec.site_column, {}))
    sites = sites.where(sites.astype("string").str.strip().fillna("") != "", None).to_numpy()
    # rows without a configured site (grouping.unknown: exclude; else validation refused them)
    unknown = ~pd.Series(sites).isin(spec.sites).to_numpy()
    base = pd.DataFrame({"row": rows, "id": ids, "site": sites})

    item_frames = [base]
    recon = base.copy()
    excluded_from: list[list[str]] = [[] for _ in rows]
    for key, inst in spec.instruments.items():
        cols = spec.item_columns(key)
        values = _numbers(data, cols)
        item_frames.append(values)
        answered = inst.valid_mask(values.to_numpy()).sum(axis=1)
        recon[f"{key}_items_answered"] = answered
        recon[f"{key}_status"] = np.where(answered > 0, "analysed", "excluded")
        for i in np.flatnonzero(answered == 0):
            excluded_from[i].append(key)
    items = pd.concat(item_frames, axis=1)

    resp = base.copy()
    notes: list[list[str]] = [[] for _ in rows]
    for name, cov in spec.covariates.items():
        col = spec.covariate_column(name)
        raw = data[col]
        codes = set(table.missing_codes.get(col, {}))
        if cov["type"] == "numeric":
            x = to_number(raw)
            x = x.where(~x.isin(sorted(codes)))
            resp[name] = x
        else:
            labels = categorical_labels(cov, table, col)
            x = to_number(raw)
            text = raw.astype("string").str.strip()
            text = text.mask(text == "")  # empty text is missing (SPSS string columns hold "")
            text_labels = {k: v for k, v in labels.items() if isinstance(k, str)}  # a labelled text column
            if text_labels:
                text = text.map(lambda v, t=text_labels: t.get(v, v) if isinstance(v, str) else v)
            as_label = x.map(labels).astype(object)
            values = as_label.where(as_label.notna(), text.where(x.isna()).astype(object))
            if not labels:
                values = text.astype(object)
            values = values.where(~x.isin(sorted(codes)), None)
            resp[name] = values.where(pd.notna(values), None)
        for i in np.flatnonzero(pd.isna(resp[name]).to_numpy()):
            notes[i].append(f"covariate {name} missing (left out of ANCOVA models using it)")

    n_inst = len(spec.instruments)
    status, reason = [], []
    for i in range(len(rows)):
        if unknown[i]:
            what = "empty" if sites[i] is None else f"{sites[i]!r}, not a configured {spec.site_word}"
            status.append("excluded")
            reason.append(f"{spec.site_word} {what} (excluded from every analysis: grouping.unknown)")
            continue
        parts = []
        if excluded_from[i]:
            parts.append("answered no item of " + ", ".join(excluded_from[i]) + " (excluded from it)")
        parts += notes[i]
        status.append("excluded" if len(excluded_from[i]) == n_inst else "analysed")
        reason.append("; ".join(parts))
    recon.insert(3, "status", status)
    recon.insert(4, "reason", reason)
    if unknown.any():
        keep = ~unknown
        items, resp = items[keep].reset_index(drop=True), resp[keep].reset_index(drop=True)
    return IngestResult(items=items, respondents=resp, reconciliation=recon)


def ingest_study(config: dict, groups: list[str] | None = None) -> dict[str, IngestResult]:
    """Read and validate every group; raise DataValidationError listing the problems of all files."""
    groups = list(config["groups"]) if groups is None else groups
    results: dict[str, IngestResult] = {}
    problems = []
    for group in groups:
        spec = group_spec(config, group)
        table = read_group(config, group)
        try:
            results[group] = ingest_group(spec, table)
        except DataValidationError as err:
            problems.extend(err.problems)
    if problems:
        raise DataValidationError(problems)
    return results
