"""ANCOVA of one group at one threshold, for every configured covariate model.

For every outcome (instrument × scale) and model: the type III table, adjusted (estimated marginal)
means, their pairwise comparisons and the homogeneity-of-slopes check (:func:`cocapp.stats.ancova.ancova`).
Pure: DataFrames in, DataFrames out (columns: :data:`OUTPUT_COLUMNS`, docs/outputs.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import format_threshold
from cocapp.stats.ancova import (
    ANCOVA_COLUMNS,
    MEANS_COLUMNS,
    POSTHOC_COLUMNS,
    SLOPES_COLUMNS,
    ancova,
    coded_labels,
    model_formula,
)
from cocapp.stats.outcomes import KEYS, outcomes, threshold_rows

__all__ = ["OUTPUT_COLUMNS", "compare_adjusted"]

OUTPUT_COLUMNS: dict[str, list[str]] = {
    # the model stated exactly (issue 14): formula, coding and how the adjusted means weight levels
    "ancova": KEYS + ["model", "covariates"] + ANCOVA_COLUMNS + ["formula", "coding", "emm_weights"],
    "ancova_means": KEYS + ["model"] + MEANS_COLUMNS,
    "ancova_posthoc": KEYS + ["model"] + POSTHOC_COLUMNS,
    "ancova_slopes": KEYS + ["model"] + SLOPES_COLUMNS,
}


def _covariate_frame(respondents: pd.DataFrame, covariates: dict, source: str) -> pd.DataFrame:
    """Respondents indexed by id with categorical covariates as text labels (empty = missing)."""
    for col in ("id", *covariates):
        if col not in respondents.columns:
            raise ValueError(f"{source}: column {col!r} is missing (covariates: {list(covariates)})")
    ids = respondents["id"].astype(str)
    dup = ids[ids.duplicated()].unique()[:5]
    if len(dup):
        raise ValueError(f"{source}: column 'id': duplicate id(s) {list(dup)}")
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name="id", dtype=object))
    for c, spec in covariates.items():
        col = respondents[c]
        if spec["type"] == "categorical":
            text = [None if (pd.isna(v) or str(v) == "") else str(v) for v in col.to_numpy(dtype=object)]
            out[c] = pd.Series(text, index=out.index, dtype=object)
        else:
            values = pd.to_numeric(col, errors="coerce")
            bad = col.notna() & values.isna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(f"{source}: column {c!r}, row {row + 2}: {col.iloc[row]!r} is not a number")
            out[c] = values.to_numpy(dtype=np.float64)
    return out


def compare_adjusted(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    instruments: list[str],
    levels: list[str],
    group: str,
    threshold: str | float,
    *,
    covariates: dict,
    models: dict,
    alpha: float,
    confidence: float,
    posthoc: str,
    respondents_source: str = "respondents",
    slopes: bool = True,
    emm_weights: str = "equal",
) -> dict[str, pd.DataFrame]:
    """ANCOVA of one group at one threshold for every covariate model (:func:`cocapp.stats.ancova.ancova`).

    ``respondents`` is ``ingest/{group}_respondents.csv`` (id, site, covariates); ``covariates`` the
    group's covariate specs, ``models`` name -> covariate list; ``emm_weights`` how adjusted means
    weight the levels of categorical covariates (:func:`cocapp.stats.ancova.ancova`), stated with the
    fitted formula and coding in ``ancova``'s last columns. Returns ``ancova``, ``ancova_means``,
    ``ancova_posthoc`` and ``ancova_slopes`` (no rows when ``slopes`` is False).
    """
    t = format_threshold(threshold)
    sc = threshold_rows(scores, t, levels)
    if not models:
        return {name: pd.DataFrame(columns=cols) for name, cols in OUTPUT_COLUMNS.items()}
    needed = {c: covariates[c] for m in models.values() for c in m}
    cov = _covariate_frame(respondents, needed, respondents_source)
    # each score row's respondent: the distinct ids looked up once (object arrays on both sides, so
    # pandas converts neither to Arrow strings)
    id_codes, id_values = pd.factorize(sc["id"].astype(str))
    ids = np.asarray(id_values, dtype=object)
    row_of_id = cov.index.get_indexer(pd.Index(ids, dtype=object))
    if (row_of_id < 0).any():
        missing_ids = sorted(set(ids[row_of_id < 0].tolist()))[:5]
        raise ValueError(f"{respondents_source}: id(s) {missing_ids} have scores but no respondent row")
    where = row_of_id[id_codes]
    # factors coded once per threshold, then taken row by row for every outcome and model
    kinds = {c: covariates[c]["type"] for c in needed}
    coded = {
        c: coded_labels(cov[c].to_numpy()) if kinds[c] == "categorical" else cov[c].to_numpy() for c in needed
    }
    # site codes from one factorization (a threshold has 1.6e7 rows at 10^6 respondents)
    site_of_row, site_names = pd.factorize(sc["site"])
    level_of = np.append(pd.Index(levels, dtype=object).get_indexer(np.asarray(site_names, dtype=object)), -1)
    sites = pd.Categorical.from_codes(level_of[site_of_row], categories=levels)
    parts: dict[str, list[tuple[dict, pd.DataFrame]]] = {name: [] for name in OUTPUT_COLUMNS}
    for keys, d in outcomes(sc, instruments, group, t, columns=["score"]):
        rows = sc.index.get_indexer(d.index)
        base = {"site": sites[rows], "score": d["score"].to_numpy()}
        for mname, mcovs in models.items():
            data = base | {c: coded[c][where[rows]] for c in mcovs}
            res = ancova(
                data,
                {c: kinds[c] for c in mcovs},
                levels,
                alpha=alpha,
                confidence=confidence,
                posthoc=posthoc,
                slopes=slopes,
                emm_weights=emm_weights,
            )
            mkeys = {**keys, "model": mname}
            # the model's columns of ``ancova`` (the same for each of its rows) are added like the keys
            stated = model_formula({c: kinds[c] for c in mcovs}, res.used, emm_weights)
            model_columns = {"covariates": "+".join(mcovs)} | {
                column: stated[column] for column in ("formula", "coding", "emm_weights")
            }
            parts["ancova"].append((mkeys | model_columns, res.terms))
            parts["ancova_means"].append((mkeys, res.means))
            parts["ancova_posthoc"].append((mkeys, res.posthoc))
            parts["ancova_slopes"].append((mkeys, res.slopes))
    return {name: _keyed(parts[name], cols) for name, cols in OUTPUT_COLUMNS.items()}


def _keyed(parts: list[tuple[dict, pd.DataFrame]], columns: list[str]) -> pd.DataFrame:
    """Row-bind the tables of every outcome and model, each row with its key columns (then the columns
    in the order of ``columns``)."""
    parts = [(k, df) for k, df in parts if len(df)]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat([df for _, df in parts], ignore_index=True)
    lengths = [len(df) for _, df in parts]
    for name in reversed(list(parts[0][0])):
        values = np.empty(len(parts), dtype=object)
        values[:] = [k[name] for k, _ in parts]
        table.insert(0, name, np.repeat(values, lengths))
    return table[columns]
