"""Site comparisons of one group at one threshold: ANOVA, Tukey–Kramer, Games–Howell, correlations.

For every outcome (instrument × scale): one-way ANOVA with Levene and Welch (:mod:`cocapp.stats.anova`),
Tukey–Kramer and Games–Howell pairs (:mod:`cocapp.stats.posthoc`); then Pearson correlations among the
instruments' ``total`` scales, pooled and per site (:mod:`cocapp.stats.correlation`). Pure: DataFrames in,
DataFrames out (columns: :data:`OUTPUT_COLUMNS`, docs/outputs.md). ANCOVA is :mod:`cocapp.stats.adjusted`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cocapp.config import format_threshold
from cocapp.stats.anova import ANOVA_COLUMNS, oneway_anova, site_codes, summarise_groups
from cocapp.stats.correlation import CORRELATION_COLUMNS, pearson_table
from cocapp.stats.outcomes import KEYS, concat_tables, outcomes, threshold_rows
from cocapp.stats.posthoc import PAIR_COLUMNS, games_howell_columns, tukey_columns

__all__ = ["OUTPUT_COLUMNS", "compare_sites"]

_PAIR = PAIR_COLUMNS[: PAIR_COLUMNS.index("significant") + 1] + ["omnibus_significant", "method", "note"]
OUTPUT_COLUMNS: dict[str, list[str]] = {
    "anova": KEYS + ANOVA_COLUMNS,
    "tukey": KEYS + _PAIR,
    "games_howell": KEYS + _PAIR,
    "correlations": ["group", "threshold"] + CORRELATION_COLUMNS,
}


def compare_sites(
    scores: pd.DataFrame,
    instruments: list[str],
    levels: list[str],
    group: str,
    threshold: str | float,
    *,
    alpha: float,
    confidence: float,
    effect_size_labels: dict | None = None,
    measures: list[tuple[str, str, str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """ANOVA (+ Levene, Welch), Tukey–Kramer, Games–Howell and correlations of one group, one threshold.

    ``scores`` is the long scores table (rows of other thresholds are ignored). Returns the tables
    ``anova``, ``tukey``, ``games_howell`` and ``correlations`` (columns: :data:`OUTPUT_COLUMNS`).
    The omnibus flag beside each pair is the ANOVA's for Tukey and Welch's for Games–Howell.
    ``measures`` (``(name, instrument, scale)``, :func:`cocapp.config.correlation_measures`) are the
    scales correlated; default every instrument's total.
    """
    t = format_threshold(threshold)
    sc = threshold_rows(scores, t, levels)
    out: dict[str, list[pd.DataFrame]] = {"anova": [], "tukey": [], "games_howell": [], "correlations": []}
    anova_rows = []
    pairs: dict[str, list[tuple[dict, dict]]] = {"tukey": [], "games_howell": []}
    for keys, d in outcomes(sc, instruments, group, t, columns=["site", "score"]):
        y = d["score"].to_numpy(dtype=np.float64)
        codes = site_codes(d["site"].astype(str), levels, "scores: column 'site'")
        row = oneway_anova(y, codes, levels, alpha, confidence)
        anova_rows.append({**keys, **row})
        summary = summarise_groups(y, codes, levels)
        tk = tukey_columns(summary, alpha, confidence)
        pairs["tukey"].append((keys, _with_omnibus(tk, row["significant"])))
        gh = games_howell_columns(summary, alpha, confidence)
        wp = row["welch_p"]
        welch_significant = bool(wp < alpha) if np.isfinite(wp) else None
        pairs["games_howell"].append((keys, _with_omnibus(gh, welch_significant)))
    for name, families in pairs.items():
        if families:
            out[name] = [_pairs_table(families)]
    if anova_rows:
        out["anova"] = [pd.DataFrame(anova_rows)]
    if measures is None or all(scale == "total" and name == inst for name, inst, scale in measures):
        chosen = instruments if measures is None else [inst for _, inst, _ in measures]
        corr = total_correlations(sc, chosen, levels, alpha, confidence, effect_size_labels)
    else:
        corr = scale_correlations(sc, measures, levels, alpha, confidence, effect_size_labels)
    if corr is not None:
        corr.insert(0, "threshold", t)
        corr.insert(0, "group", group)
        out["correlations"].append(corr)
    return concat_tables(out, OUTPUT_COLUMNS)


def _with_omnibus(cols: dict[str, object], significant: bool | None) -> dict[str, object]:
    """Pair columns (:func:`cocapp.stats.posthoc.tukey_columns`) with the omnibus test's flag after
    ``significant``."""
    out: dict[str, object] = {}
    for name, values in cols.items():
        out[name] = values
        if name == "significant":
            out["omnibus_significant"] = significant
    return out


def _pairs_table(families: list[tuple[dict, dict]]) -> pd.DataFrame:
    """One table of the pair columns of every family (outcome) with its keys first, row-bound in
    order: one DataFrame instead of one per family (which cost most of the stage). Scalars (keys,
    ``method``, the omnibus flag) are repeated over their family's rows; the column types are those
    of the per-family frames row-bound (a flag column holding None somewhere is of objects)."""
    sizes = [len(cols["diff"]) for _, cols in families]
    columns: dict[str, object] = {}
    for name in list(families[0][0]) + list(families[0][1]):
        parts = []
        for (keys, cols), n in zip(families, sizes, strict=True):
            v = keys[name] if name in keys else cols[name]
            parts.append(v if isinstance(v, (np.ndarray, list)) else [v] * n)
        if all(isinstance(p, np.ndarray) for p in parts):
            columns[name] = np.concatenate(parts)
        else:
            columns[name] = [x for p in parts for x in p]
    return pd.DataFrame(columns)


def scale_correlations(
    sc: pd.DataFrame,
    measures: list[tuple[str, str, str]],
    levels: list[str],
    alpha: float,
    confidence: float,
    labels,
) -> pd.DataFrame | None:
    """Pearson correlations among the chosen scales (``(name, instrument, scale)``; totals and/or
    subscales, across or within instruments), pooled and per site, pairwise deletion; columns ``x`` and
    ``y`` hold the measures' names. None when fewer than two of them have a score."""
    present = [
        (name, inst, scale)
        for name, inst, scale in measures
        if ((sc["instrument"] == inst) & (sc["scale"] == scale)).any()
    ]
    if len(present) < 2:
        return None
    parts = []
    for name, inst, scale in present:
        rows = sc[(sc["instrument"] == inst) & (sc["scale"] == scale)]
        parts.append(rows.assign(measure=name))
    long = pd.concat(parts)
    wide = long.pivot(index="id", columns="measure", values="score")
    site_of = long.drop_duplicates("id").set_index("id")["site"]
    names = [name for name, _, _ in present]
    wide = wide.reindex(columns=names)
    wide["site"] = site_of.reindex(wide.index).to_numpy()
    return pearson_table(
        wide.reset_index(drop=True), names, levels, alpha=alpha, confidence=confidence, labels=labels
    )


def total_correlations(
    sc: pd.DataFrame, instruments: list[str], levels: list[str], alpha: float, confidence: float, labels
) -> pd.DataFrame | None:
    """Pearson correlations among the instruments' ``total`` scales, pooled and per site (pairwise
    deletion); None when fewer than two instruments have a total."""
    totals = [i for i in instruments if ((sc["instrument"] == i) & (sc["scale"] == "total")).any()]
    if len(totals) < 2:
        return None
    tot = sc[sc["scale"] == "total"]
    wide = tot.pivot(index="id", columns="instrument", values="score")
    site_of = tot.drop_duplicates("id").set_index("id")["site"]
    wide = wide.reindex(columns=totals)
    wide["site"] = site_of.reindex(wide.index).to_numpy()
    return pearson_table(
        wide.reset_index(drop=True), totals, levels, alpha=alpha, confidence=confidence, labels=labels
    )
