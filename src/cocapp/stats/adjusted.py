"""ANCOVA of one group at one threshold, for every configured covariate model.

For every outcome (instrument × scale) and model: the type III table, adjusted (estimated marginal)
means, their pairwise comparisons and the homogeneity-of-slopes check (:func:`cocapp.stats.ancova.ancova`).
Pure: DataFrames in, DataFrames out (columns: :data:`OUTPUT_COLUMNS`, docs/outputs.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import format_threshold
from cocapp.stats.ancova import ANCOVA_COLUMNS, MEANS_COLUMNS, POSTHOC_COLUMNS, SLOPES_COLUMNS, ancova
from cocapp.stats.outcomes import KEYS, concat_tables, outcomes, threshold_rows, with_keys

__all__ = ["OUTPUT_COLUMNS", "compare_adjusted"]

OUTPUT_COLUMNS: dict[str, list[str]] = {
    "ancova": KEYS + ["model", "covariates"] + ANCOVA_COLUMNS,
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
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name="id"))
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
) -> dict[str, pd.DataFrame]:
    """ANCOVA of one group at one threshold for every covariate model (:func:`cocapp.stats.ancova.ancova`).

    ``respondents`` is ``ingest/{group}_respondents.csv`` (id, site, covariates); ``covariates`` the
    group's covariate specs, ``models`` name -> covariate list. Returns ``ancova``, ``ancova_means``,
    ``ancova_posthoc`` and ``ancova_slopes`` (no rows when ``slopes`` is False).
    """
    t = format_threshold(threshold)
    sc = threshold_rows(scores, t, levels)
    out: dict[str, list[pd.DataFrame]] = {name: [] for name in OUTPUT_COLUMNS}
    if not models:
        return concat_tables(out, OUTPUT_COLUMNS)
    needed = {c: covariates[c] for m in models.values() for c in m}
    cov = _covariate_frame(respondents, needed, respondents_source)
    missing_ids = sorted(set(sc["id"].astype(str)) - set(cov.index))[:5]
    if missing_ids:
        raise ValueError(f"{respondents_source}: id(s) {missing_ids} have scores but no respondent row")
    for keys, d in outcomes(sc, instruments, group, t):
        for mname, mcovs in models.items():
            data = d[["id", "site", "score"]].reset_index(drop=True)
            covs = cov.loc[data["id"].astype(str).to_numpy(), list(mcovs)].reset_index(drop=True)
            data = pd.concat([data, covs], axis=1)
            res = ancova(
                data,
                {c: covariates[c]["type"] for c in mcovs},
                levels,
                alpha=alpha,
                confidence=confidence,
                posthoc=posthoc,
                slopes=slopes,
            )
            mkeys = {**keys, "model": mname}
            terms = with_keys(res.terms, mkeys)
            terms.insert(len(mkeys), "covariates", "+".join(mcovs))
            out["ancova"].append(terms)
            out["ancova_means"].append(with_keys(res.means, mkeys))
            out["ancova_posthoc"].append(with_keys(res.posthoc, mkeys))
            out["ancova_slopes"].append(with_keys(res.slopes, mkeys))
    return concat_tables(out, OUTPUT_COLUMNS)
