"""Mean-replacement sensitivity analysis: do the site comparisons depend on the replacement threshold?

COCAPP scored every scale with person-mean replacement when at most 50 % of its items were missing,
after comparing that choice with complete-case analysis and with replacement allowances of 20–50 %
(Simpson et al. 2016, Methods, "missing value analysis"). This stage makes that comparison for every
outcome and every threshold the config lists, from the collected statistics files:

- the one-way ANOVA site effect (``stats/anova.csv``) and the ANCOVA site effect of every configured
  covariate model (``stats/ancova.csv``, ``term == "site"``) at each threshold, with ``significant``
  (p < the config's ``statistics.significance_level``) and ``changes_inference`` (significance differs
  from the primary threshold's);
- the shift of every site mean against the primary analysis (``stats/descriptives.csv``);
- the Tukey pairs whose significance differs between thresholds (``stats/tukey.csv``);
- two checks: the number analysed never decreases as the threshold grows (a more permissive threshold
  scores a superset of the respondents), and at the complete-case threshold (0.0) it equals the
  reliability stage's ``n_complete``;
- the facts of a plain-language verdict per group, taken only from those numbers (``verdict.json``);
  the verdict is rendered from them by one template (:mod:`cocapp.presentation.verdict`:
  ``verdict.md`` and the report's HTML); figures are drawn by
  :mod:`cocapp.presentation.sensitivity_figures`.

Nothing here recomputes a test statistic: the primary-threshold rows repeat the main analysis exactly.
Thresholds, the primary threshold, the significance level, sites, groups and ANCOVA models come from
config; outcome labels from the instrument files.

    python -m cocapp.stats.sensitivity --config C --anova stats/anova.csv --ancova stats/ancova.csv \\
        --tukey stats/tukey.csv --descriptives stats/descriptives.csv [--reliability stats/reliability.csv] \\
        --outdir data/derived/sensitivity --figdir reports/figures/sensitivity

writes ``summary.csv``, ``site_shifts.csv``, ``pairs.csv``, ``checks.csv``, ``verdict.md`` and
``verdict.json`` in OUTDIR and ``{group}_n_p.{png,svg}`` and ``{group}_site_means.{png,svg}`` in FIGDIR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cocapp.config import format_threshold, site_names, threshold_fraction
from cocapp.formatting import fmt_p_text, fmt_percent
from cocapp.instruments import Instrument

__all__ = [
    "ALL_SITES",
    "CHECK_COLUMNS",
    "PAIRS_COLUMNS",
    "SHIFT_COLUMNS",
    "check_complete_case_n",
    "check_n_monotone",
    "changing_pairs",
    "format_p",
    "n_counts",
    "sensitivity_summary",
    "significance",
    "site_shifts",
    "summary_columns",
    "threshold_label",
    "verdict_facts",
]

KEYS = ["group", "instrument", "scale"]
ALL_SITES = "All"
SHIFT_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "threshold",
    "site",
    "n",
    "n_primary",
    "mean",
    "mean_primary",
    "shift",
    "shift_sd",
]
PAIRS_COLUMNS = [
    "group",
    "instrument",
    "scale",
    "site_a",
    "site_b",
    "threshold",
    "diff",
    "p_adj",
    "significant",
    "significant_primary",
    "changes_inference",
    "omnibus_significant",
    "significant_at",
    "not_significant_at",
]
CHECK_COLUMNS = [
    "check",
    "group",
    "instrument",
    "scale",
    "source",
    "threshold",
    "compared_with",
    "expected",
    "observed",
    "message",
]
ANOVA_FIELDS = ["n", "df1", "df2", "F", "p", "eta2"]
ANCOVA_FIELDS = ["n", "F", "p", "partial_eta2"]


# -- small helpers ------------------------------------------------------------------------------
def threshold_label(threshold: str | float) -> str:
    """Plain-language name of a threshold: ``"complete-case"`` for 0, else the percentage.

    >>> threshold_label("0.0"), threshold_label(0.2), threshold_label("0.25"), threshold_label("0.125")
    ('complete-case', '20 %', '25 %', '12.5 %')
    """
    fraction = threshold_fraction(threshold)
    return "complete-case" if fraction == 0 else fmt_percent(fraction, sep=" ")


def _where(threshold: str) -> str:
    """``under complete-case analysis`` / ``at 20 %`` for running text."""
    label = threshold_label(threshold)
    return "under complete-case analysis" if label == "complete-case" else f"at {label}"


def _where_list(thresholds: Sequence[str], conj: str = "and") -> str:
    """``under complete-case analysis or at 20 % or 30 %`` for a list of thresholds."""
    zero = [t for t in thresholds if threshold_fraction(t) == 0]
    pcts = [threshold_label(t) for t in thresholds if threshold_fraction(t) != 0]
    parts = (["under complete-case analysis"] if zero else []) + ([f"at {_join(pcts, conj)}"] if pcts else [])
    return _join(parts, conj)


def _range_text(thresholds: Sequence[str]) -> str:
    """ "complete-case and 20–50 % replacement" for the thresholds compared (ascending)."""
    ordered = sorted(thresholds, key=threshold_fraction)
    zero = [t for t in ordered if threshold_fraction(t) == 0]
    rest = [threshold_label(t)[:-2] for t in ordered if threshold_fraction(t) != 0]
    if not rest:
        return "complete-case analysis"
    repl = f"{rest[0]} % replacement" if len(rest) == 1 else f"{rest[0]}–{rest[-1]} % replacement"
    return f"complete-case and {repl}" if zero else repl


def _join(items: Sequence[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


#: p for running text (kept under its old name; see :func:`cocapp.formatting.fmt_p_text`).
format_p = fmt_p_text


def significance(p: pd.Series, alpha: float) -> pd.Series:
    """``p < alpha`` as a nullable boolean; missing or non-finite p gives NA (never False).

    >>> significance(pd.Series([0.01, 0.05, float("nan")]), 0.05).tolist()
    [True, False, <NA>]
    """
    values = pd.to_numeric(p, errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    below = np.less(values, alpha, out=np.zeros(len(values), dtype=bool), where=finite)
    return pd.Series(pd.arrays.BooleanArray(below, ~finite), index=p.index)


def _differs(a: pd.Series, b: pd.Series) -> pd.Series:
    """Elementwise a != b for nullable booleans; NA when either side is NA."""
    return (a.astype("boolean") != b.astype("boolean")).astype("boolean")


def _require(df: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: column(s) {missing} missing (columns present: {list(df.columns)})")


def _unique(df: pd.DataFrame, keys: Sequence[str], name: str) -> None:
    dup = df.duplicated(list(keys), keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        where = ", ".join(f"{k}={row[k]!r}" for k in keys)
        raise ValueError(
            f"{name}: more than one row for {where} (file row {int(np.flatnonzero(dup)[0]) + 2})"
        )


def _settings(config: Mapping) -> tuple[list[str], str, float]:
    thresholds = [format_threshold(t) for t in config["scoring"]["thresholds"]]
    primary = format_threshold(config["scoring"]["primary_threshold"])
    alpha = float(config["statistics"]["significance_level"])
    return thresholds, primary, alpha


def _models(config: Mapping) -> list[str]:
    """Every ANCOVA model named in config, in first-appearance order over the groups."""
    models: list[str] = []
    for g in config["groups"].values():
        models += [m for m in (g.get("ancova_models") or {}) if m not in models]
    return models


def _normalise(df: pd.DataFrame, name: str, thresholds: Sequence[str], groups: Sequence[str]) -> pd.DataFrame:
    """Canonical threshold text; keep only configured groups and thresholds."""
    df = df.copy()
    for c in ("group", "instrument", "scale"):
        if c in df.columns:
            df[c] = df[c].astype(str)
    if "threshold" in df.columns:
        # each distinct value formatted once (a national study's Tukey table has millions of rows)
        codes, uniques = pd.factorize(df["threshold"], use_na_sentinel=False)
        canonical = []
        for j, value in enumerate(uniques):
            try:
                canonical.append(format_threshold(value))
            except (TypeError, ValueError):
                row = int(np.flatnonzero(codes == j)[0])
                raise ValueError(
                    f"{name}: column 'threshold', row {row + 2}: {value!r} is not a number"
                ) from None
        df["threshold"] = pd.Series(np.array(canonical, dtype=object)[codes], index=df.index, dtype=object)
        df = df[df["threshold"].isin(thresholds)]
    return df[df["group"].isin(groups)].reset_index(drop=True)


def _outcomes(anova: pd.DataFrame, config: Mapping, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Outcomes (group, instrument, scale) in display order: config groups and instruments, file scales."""
    rows = []
    present = anova[KEYS].drop_duplicates()
    for g, spec in config["groups"].items():
        for inst in spec["instruments"]:
            scales = present[(present.group == g) & (present.instrument == inst)]["scale"].tolist()
            order = instruments[inst].scale_keys if inst in instruments else []
            scales = [s for s in order if s in scales] + [s for s in scales if s not in order]
            rows += [{"group": g, "instrument": inst, "scale": s} for s in scales]
    return pd.DataFrame(rows, columns=KEYS)


def outcome_label(instrument: str, scale: str, instruments: Mapping[str, Instrument]) -> str:
    """``"RSA Choice"``: the instrument's display name and the scale's label, both from the instrument
    file (:meth:`Instrument.scale_title`; the key only for an instrument or scale not given)."""
    try:
        return instruments[instrument].scale_title(scale)
    except KeyError:
        return f"{instrument} {scale}"


def summary_columns(models: Sequence[str]) -> list[str]:
    """Columns of ``summary.csv`` for the given ANCOVA models (in order)."""
    cols = [
        *KEYS,
        "threshold",
        "is_primary",
        "n",
        "n_primary",
        "df1",
        "df2",
        "F",
        "p",
        "eta2",
        "significant",
        "significant_primary",
        "changes_inference",
    ]
    for m in models:
        cols += [f"ancova_{m}_{f}" for f in ANCOVA_FIELDS]
        cols += [f"ancova_{m}_significant", f"ancova_{m}_changes_inference"]
    return cols + [
        "max_abs_mean_shift",
        "max_abs_mean_shift_site",
        "max_abs_mean_shift_sd",
        "n_not_decreasing",
        "note",
    ]


# -- the summary ----------------------------------------------------------------------------------
def sensitivity_summary(
    anova: pd.DataFrame,
    ancova: pd.DataFrame,
    descriptives: pd.DataFrame,
    config: Mapping,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """One row per group × instrument × scale × threshold comparing each threshold with the primary one.

    Parameters
    ----------
    anova, ancova, descriptives
        The collected ``stats/anova.csv``, ``stats/ancova.csv`` and ``stats/descriptives.csv``. Only the
        config's groups and thresholds are used. ANCOVA rows are the ``term == "site"`` rows; a configured
        model without a site row (a model that failed, or a stage that wrote nothing) gives NA columns and
        a ``note``, never an error.
    config
        Validated config: ``scoring.thresholds``, ``scoring.primary_threshold``,
        ``statistics.significance_level``, groups and their ``ancova_models``, sites.
    instruments
        Instrument specs by key, only used to order scales (file order); default: file order of ``anova``.

    Returns
    -------
    pandas.DataFrame
        Columns :func:`summary_columns`. ``n``, ``df1``, ``df2``, ``F``, ``p``, ``eta2`` and the ANCOVA
        ``n``/``F``/``p``/``partial_eta2`` are copied unchanged from the inputs (so the primary row equals
        the main analysis exactly). ``significant`` = p < alpha (NA when p is missing);
        ``changes_inference`` = significance differs from the primary threshold's (NA when either is NA;
        False on the primary row), for the ANOVA and for each ANCOVA model. ``max_abs_mean_shift`` is the
        largest |site mean − primary site mean| over the configured sites (``site_shifts``), with its site
        and the same shift divided by the pooled (``All``) SD of the primary analysis.
        ``n_not_decreasing`` is False when the ANOVA, an ANCOVA or a site n is smaller than at the next
        lower threshold (:func:`check_n_monotone`).

    Raises
    ------
    ValueError
        A required column is missing, a key is duplicated, the ANOVA's ``significant`` column disagrees
        with p < alpha (statistics computed at another level), or an outcome lacks a configured threshold.
    """
    thresholds, primary, alpha = _settings(config)
    models = _models(config)
    anova, ancova = _summary_inputs(anova, ancova, config)
    significant = _anova_significance(anova, alpha)
    outcomes = _outcomes(anova, config, dict(instruments or {}))
    out = _anova_by_threshold(anova, significant, outcomes, thresholds, primary)
    notes = [list(out.pop("_note"))]  # one list of row notes per source, "" when none

    site_rows = _ancova_site_rows(ancova)
    for m in models:
        out, model_notes = _with_ancova_model(out, site_rows, m, config, alpha)
        notes.append(model_notes)

    shifts = site_shifts(descriptives, config)
    out = out.merge(_largest_site_shifts(shifts, config), on=[*KEYS, "threshold"], how="left")
    out["max_abs_mean_shift"] = out["max_abs_mean_shift"].astype(np.float64)
    out["max_abs_mean_shift_sd"] = out["max_abs_mean_shift_sd"].astype(np.float64)

    out["n_not_decreasing"], n_notes = _n_not_decreasing(out, shifts, models, thresholds)
    notes.append(n_notes)
    out["note"] = ["; ".join(n for n in row_notes if n) for row_notes in zip(*notes, strict=True)]
    return out[summary_columns(models)].reset_index(drop=True)


def _summary_inputs(
    anova: pd.DataFrame, ancova: pd.DataFrame, config: Mapping
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``anova.csv`` and ``ancova.csv`` with their required columns checked, normalised to the config's
    groups and thresholds (:func:`_normalise`); the ANOVA keys must be unique and every group present."""
    thresholds, _, _ = _settings(config)
    groups = list(config["groups"])
    _require(anova, [*KEYS, "threshold", *ANOVA_FIELDS], "anova.csv")
    _require(ancova, [*KEYS, "threshold", "model", "term", *ANCOVA_FIELDS], "ancova.csv")
    anova = _normalise(anova, "anova.csv", thresholds, groups)
    ancova = _normalise(ancova, "ancova.csv", thresholds, groups)
    _unique(anova, [*KEYS, "threshold"], "anova.csv")
    missing_groups = [g for g in groups if not (anova["group"] == g).any()]
    if missing_groups:
        raise ValueError(f"anova.csv: no rows for configured group(s) {missing_groups}")
    return anova, ancova


def _anova_significance(anova: pd.DataFrame, alpha: float) -> pd.Series:
    """``p < alpha`` of every ANOVA row (nullable boolean).

    Raises ValueError when the file's own ``significant`` column says otherwise for some row: the
    statistics were then computed at another significance level.
    """
    sig = significance(anova["p"], alpha)
    if "significant" in anova.columns:
        given = anova["significant"].map(_as_bool).astype("boolean")
        clash = given.notna() & sig.notna() & (given != sig)
        if clash.any():
            r = anova[clash.to_numpy()].iloc[0]
            raise ValueError(
                f"anova.csv: {r['group']} {r['instrument']} {r['scale']} threshold {r['threshold']}: "
                f"significant={r['significant']} but p={r['p']!r} at significance level {alpha}: "
                "the statistics were computed with another significance_level; rerun them"
            )
    return sig


def _anova_by_threshold(
    anova: pd.DataFrame,
    significant: pd.Series,
    outcomes: pd.DataFrame,
    thresholds: Sequence[str],
    primary: str,
) -> pd.DataFrame:
    """One row per outcome × configured threshold: the ANOVA copied, its significance against the primary's.

    Columns: the keys, ``threshold``, :data:`ANOVA_FIELDS`, ``significant``, ``is_primary``,
    ``n_primary``, ``significant_primary``, ``changes_inference`` and ``_note`` (the ANOVA's own note,
    ``""`` when none). Raises ValueError naming the first outcome that has no row for a threshold.
    """
    grid = outcomes.merge(pd.DataFrame({"threshold": thresholds}), how="cross")
    base = anova[[*KEYS, "threshold", *ANOVA_FIELDS]].assign(significant=significant.to_numpy())
    base = base.assign(_note=_text(anova["note"]) if "note" in anova.columns else "")
    out = grid.merge(base, on=[*KEYS, "threshold"], how="left", indicator=True)
    lacking = out[out["_merge"] == "left_only"]
    if len(lacking):
        r = lacking.iloc[0]
        raise ValueError(
            f"anova.csv: {r['group']} {r['instrument']} {r['scale']} has no row for threshold "
            f"{r['threshold']} (configured thresholds {thresholds}); rerun the statistics for every "
            "configured threshold"
        )
    out = out.drop(columns="_merge")
    out["n"] = _as_int(out["n"])
    out["is_primary"] = out["threshold"] == primary
    out["n_primary"] = _primary_value(out, "n")
    out["significant"] = out["significant"].astype("boolean")
    out["significant_primary"] = _primary_value(out, "significant").astype("boolean")
    out["changes_inference"] = _differs(out["significant"], out["significant_primary"])
    return out


def _ancova_site_rows(ancova: pd.DataFrame) -> pd.DataFrame:
    """The ANCOVA rows of the site effect (``term == "site"``), one per outcome × threshold × model."""
    site_rows = ancova[ancova["term"].astype(str) == "site"]
    _unique(site_rows, [*KEYS, "threshold", "model"], "ancova.csv (term 'site')")
    return site_rows


def _with_ancova_model(
    out: pd.DataFrame, site_rows: pd.DataFrame, model: str, config: Mapping, alpha: float
) -> tuple[pd.DataFrame, list[str]]:
    """``out`` with the ``ancova_<model>_*`` columns of one covariate model, and each row's note.

    The model's site-effect ``n``, ``F``, ``p`` and ``partial_eta2`` are copied; ``significant`` = p <
    alpha and ``changes_inference`` against the primary threshold's. A group that does not configure the
    model gets NA even if stale rows of it exist. The note (``""`` when none) says that a configured
    model has no site row, or repeats the model's own note.
    """
    cols = {f: f"ancova_{model}_{f}" for f in ANCOVA_FIELDS}
    part = site_rows[site_rows["model"].astype(str) == model]
    part = part[[*KEYS, "threshold", *ANCOVA_FIELDS]].rename(columns=cols)
    part["_model_note"] = _text(site_rows.loc[part.index, "note"]) if "note" in site_rows.columns else ""
    part["_has"] = True
    out = out.merge(part, on=[*KEYS, "threshold"], how="left")
    configured = out["group"].map(lambda g: model in (config["groups"][g].get("ancova_models") or {}))
    keep = configured.to_numpy(dtype=bool)
    for c in [*cols.values(), "_has"]:
        out[c] = out[c].where(keep)
    out[cols["n"]] = _as_int(out[cols["n"]])
    for f in ("F", "p", "partial_eta2"):
        out[cols[f]] = pd.to_numeric(out[cols[f]], errors="coerce").astype(np.float64)
    out[f"ancova_{model}_significant"] = significance(out[cols["p"]], alpha)
    prim = _primary_value(out, f"ancova_{model}_significant").astype("boolean")
    out[f"ancova_{model}_changes_inference"] = _differs(out[f"ancova_{model}_significant"], prim)
    has = out["_has"].notna().to_numpy()
    notes = []
    for configured_here, has_row, note in zip(keep, has, out["_model_note"], strict=True):
        if configured_here and not has_row:
            notes.append(f"ANCOVA {model}: no site row in ancova.csv")
        elif configured_here and note:
            notes.append(f"ANCOVA {model}: {note}")
        else:
            notes.append("")
    return out.drop(columns=["_has", "_model_note"]), notes


def _largest_site_shifts(shifts: pd.DataFrame, config: Mapping) -> pd.DataFrame:
    """Per outcome × threshold, the largest |site mean − primary site mean| over the configured sites.

    Columns: the keys, ``threshold``, ``max_abs_mean_shift``, ``max_abs_mean_shift_site`` (the first
    site in config order on a tie) and ``max_abs_mean_shift_sd`` (the same shift in pooled-SD units,
    absolute). Outcomes and thresholds without any shift are absent.
    """
    per_site = shifts[shifts["site"].isin(site_names(config))].copy()
    per_site["_abs"] = per_site["shift"].abs()
    best = (
        per_site.dropna(subset=["_abs"])
        .sort_values([*KEYS, "threshold", "_abs"], ascending=[True] * 4 + [False], kind="mergesort")
        .drop_duplicates([*KEYS, "threshold"])
    )
    best = best[[*KEYS, "threshold", "_abs", "site", "shift_sd"]].rename(
        columns={"_abs": "max_abs_mean_shift", "site": "max_abs_mean_shift_site"}
    )
    best["max_abs_mean_shift_sd"] = best.pop("shift_sd").abs()
    return best


def _n_not_decreasing(
    out: pd.DataFrame, shifts: pd.DataFrame, models: Sequence[str], thresholds: Sequence[str]
) -> tuple[pd.array, list[str]]:
    """Per summary row: does no count (ANOVA, ANCOVA, site n) fall below the next lower threshold's?

    Returns the nullable boolean column and each row's note naming the counts that decrease (``""`` when
    none); see :func:`check_n_monotone`.
    """
    viol = check_n_monotone(n_counts(out, shifts, models), thresholds)
    bad: dict[tuple, list[str]] = {}
    for v in viol.itertuples(index=False):
        bad.setdefault((v.group, v.instrument, v.scale, v.threshold), []).append(str(v.source))
    keys = [tuple(r) for r in out[[*KEYS, "threshold"]].itertuples(index=False)]
    ok = pd.array([k not in bad for k in keys], dtype="boolean")
    notes = [
        "n smaller than at the next lower threshold: " + ", ".join(bad[k]) if k in bad else "" for k in keys
    ]
    return ok, notes


def _as_bool(v: Any) -> Any:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return pd.NA
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    text = str(v).strip().lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    return pd.NA


def _text(s: pd.Series) -> list[str]:
    return ["" if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v))) else str(v) for v in s]


def _as_int(s: pd.Series) -> pd.Series:
    """Counts as nullable integers (a count read back as 186.0 stays 186; missing stays NA)."""
    values = pd.to_numeric(s, errors="coerce")
    if (values.dropna() % 1 != 0).any():
        raise ValueError(f"count column {s.name!r}: non-integer value {values[values % 1 != 0].iloc[0]!r}")
    return values.astype("Int64")


def _primary_value(df: pd.DataFrame, column: str) -> pd.Series:
    """For each row, ``column`` at the primary threshold of the same outcome."""
    prim = df[df["is_primary"]].set_index(KEYS)[column]
    idx = pd.MultiIndex.from_frame(df[KEYS])
    return pd.Series(prim.reindex(idx).to_numpy(), index=df.index, dtype=prim.dtype)


# -- site means -----------------------------------------------------------------------------------
def site_shifts(descriptives: pd.DataFrame, config: Mapping) -> pd.DataFrame:
    """Each site mean (and the pooled ``All`` mean) at each threshold against the primary analysis.

    ``shift`` = mean − mean at the primary threshold (scale units; NA when either is missing);
    ``shift_sd`` = shift / SD of the pooled (``All``) scores at the primary threshold, so that shifts on
    scales of different ranges can be compared. Sites in config order, then ``All``; thresholds in
    config order. Columns :data:`SHIFT_COLUMNS`.
    """
    thresholds, primary, _ = _settings(config)
    _require(descriptives, [*KEYS, "threshold", "site", "n", "mean", "sd"], "descriptives.csv")
    d = _normalise(descriptives, "descriptives.csv", thresholds, list(config["groups"]))
    d["site"] = d["site"].astype(str)
    sites = [*site_names(config), ALL_SITES]
    d = d[d["site"].isin(sites)]
    _unique(d, [*KEYS, "threshold", "site"], "descriptives.csv")
    d = d.assign(
        n=_as_int(d["n"]),
        mean=pd.to_numeric(d["mean"]).astype(np.float64),
        sd=pd.to_numeric(d["sd"]).astype(np.float64),
    )
    prim = d[d["threshold"] == primary][[*KEYS, "site", "n", "mean"]].rename(
        columns={"n": "n_primary", "mean": "mean_primary"}
    )
    sd_all = d[(d["threshold"] == primary) & (d["site"] == ALL_SITES)][[*KEYS, "sd"]].rename(
        columns={"sd": "_sd"}
    )
    out = d[[*KEYS, "threshold", "site", "n", "mean"]].merge(prim, on=[*KEYS, "site"], how="left")
    out = out.merge(sd_all, on=KEYS, how="left")
    out["shift"] = out["mean"] - out["mean_primary"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["shift_sd"] = np.where(out["_sd"] > 0, out["shift"] / out["_sd"], np.nan)
    out["_t"] = out["threshold"].map(thresholds.index)
    out["_s"] = out["site"].map(sites.index)
    order = {g: i for i, g in enumerate(config["groups"])}
    out["_g"] = out["group"].map(order)
    # outcome order follows the file's first appearance (the stats stages write instrument-file order)
    outcome_keys = list(zip(out["group"], out["instrument"], out["scale"], strict=True))
    first = {k: i for i, k in enumerate(dict.fromkeys(outcome_keys))}
    out["_o"] = [first[k] for k in outcome_keys]
    out = out.sort_values(["_g", "_o", "_t", "_s"], kind="mergesort")
    return out[SHIFT_COLUMNS].reset_index(drop=True)


# -- checks -------------------------------------------------------------------------------------
def n_counts(
    summary: pd.DataFrame, shifts: pd.DataFrame | None = None, models: Sequence[str] = ()
) -> pd.DataFrame:
    """Long table of every count that must not decrease with the threshold, by ``source``.

    Sources: ``anova`` (the ANOVA n), ``ancova <model>`` and ``site <name>`` (descriptives n per site and
    ``All``). Columns: group, instrument, scale, threshold, source, n.
    """
    parts = [summary[[*KEYS, "threshold", "n"]].assign(source="anova")]
    for m in models:
        col = f"ancova_{m}_n"
        if col in summary.columns:
            parts.append(
                summary[[*KEYS, "threshold", col]].rename(columns={col: "n"}).assign(source=f"ancova {m}")
            )
    if shifts is not None and len(shifts):
        parts.append(shifts[[*KEYS, "threshold", "n"]].assign(source="site " + shifts["site"].astype(str)))
    out = pd.concat(parts, ignore_index=True)
    return out[[*KEYS, "threshold", "source", "n"]]


def check_n_monotone(counts: pd.DataFrame, thresholds: Sequence[str]) -> pd.DataFrame:
    """Rows where a count is smaller than at the next lower threshold (it must never decrease).

    Person-mean replacement at a larger threshold scores every respondent scored at a smaller one, so
    every n (ANOVA, ANCOVA, each site) is non-decreasing in the threshold; a decrease means the inputs
    are inconsistent (stale parts, a scoring bug). Missing counts are skipped.

    Parameters
    ----------
    counts
        Long table with columns group, instrument, scale, threshold, source, n (:func:`n_counts`).
    thresholds
        The thresholds to compare (any order; compared in ascending numeric order).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHECK_COLUMNS` with ``check = "n_not_decreasing"``; ``threshold`` is the larger
        threshold, ``compared_with`` the next lower one, ``expected`` its n (a lower bound), ``observed``
        the smaller n found. Empty when the check passes.
    """
    order = sorted((format_threshold(t) for t in thresholds), key=threshold_fraction)
    rank = {t: i for i, t in enumerate(order)}
    c = counts.copy()
    c["threshold"] = c["threshold"].map(format_threshold)
    c = c[c["threshold"].isin(rank) & c["n"].notna()]
    c = c.assign(_r=c["threshold"].map(rank)).sort_values([*KEYS, "source", "_r"], kind="mergesort")
    rows = []
    for key, part in c.groupby([*KEYS, "source"], sort=False):
        ts, ns = part["threshold"].tolist(), part["n"].astype(np.int64).tolist()
        for i in range(1, len(ts)):
            if ns[i] < ns[i - 1]:
                rows.append(
                    {
                        "check": "n_not_decreasing",
                        "group": key[0],
                        "instrument": key[1],
                        "scale": key[2],
                        "source": key[3],
                        "threshold": ts[i],
                        "compared_with": ts[i - 1],
                        "expected": ns[i - 1],
                        "observed": ns[i],
                        "message": f"{key[3]} n = {ns[i]} at threshold {ts[i]} is smaller than "
                        f"n = {ns[i - 1]} at "
                        f"{ts[i - 1]}",
                    }
                )
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def check_complete_case_n(summary: pd.DataFrame, reliability: pd.DataFrame, config: Mapping) -> pd.DataFrame:
    """Outcomes whose ANOVA n at the complete-case threshold differs from the reliability ``n_complete``.

    Complete-case analysis (threshold 0) keeps exactly the respondents who answered every item of the
    scale, which is the sample of Cronbach's alpha (SPSS RELIABILITY, listwise within the scale). When the
    config has no zero threshold there is nothing to compare and the result is empty. An outcome missing
    from the reliability file is reported too.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CHECK_COLUMNS` with ``check = "complete_case_n"``, ``expected`` = ``n_complete``,
        ``observed`` = ANOVA n. Empty when the check passes.
    """
    thresholds, _, _ = _settings(config)
    zero = [t for t in thresholds if threshold_fraction(t) == 0]
    if not zero:
        return pd.DataFrame(columns=CHECK_COLUMNS)
    _require(reliability, [*KEYS, "n_complete"], "reliability.csv")
    rel = _normalise(reliability, "reliability.csv", thresholds, list(config["groups"]))
    _unique(rel, KEYS, "reliability.csv")
    cc = summary[summary["threshold"] == zero[0]][[*KEYS, "threshold", "n"]]
    m = cc.merge(rel[[*KEYS, "n_complete"]], on=KEYS, how="left")
    m["n_complete"] = _as_int(m["n_complete"])
    rows = []
    for r in m.itertuples(index=False):
        if pd.isna(r.n_complete):
            msg = "no row in reliability.csv"
        elif pd.isna(r.n) or int(r.n) != int(r.n_complete):
            msg = f"complete-case ANOVA n = {r.n} but reliability n_complete = {r.n_complete}"
        else:
            continue
        rows.append(
            {
                "check": "complete_case_n",
                "group": r.group,
                "instrument": r.instrument,
                "scale": r.scale,
                "source": "anova",
                "threshold": r.threshold,
                "compared_with": "reliability",
                "expected": r.n_complete,
                "observed": r.n,
                "message": msg,
            }
        )
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


# -- Tukey pairs ------------------------------------------------------------------------------------
def changing_pairs(tukey: pd.DataFrame, config: Mapping) -> pd.DataFrame:
    """Tukey–Kramer site pairs whose significance differs between thresholds, one row per pair × threshold.

    ``significant`` = p_adj < alpha (NA when p_adj is missing); a pair is kept when it is significant at
    some threshold and not significant at another. ``significant_at`` / ``not_significant_at`` list the
    thresholds (``;``-separated, config order) for the pair; ``changes_inference`` compares each
    threshold with the primary one. Columns :data:`PAIRS_COLUMNS`; pairs in file order (config site
    order), thresholds in config order.
    """
    thresholds, primary, alpha = _settings(config)
    _require(tukey, [*KEYS, "threshold", "site_a", "site_b", "diff", "p_adj"], "tukey.csv")
    t = _normalise(tukey, "tukey.csv", thresholds, list(config["groups"]))
    pair = [*KEYS, "site_a", "site_b"]
    for c in ("site_a", "site_b"):
        t[c] = t[c].astype(str)
    _unique(t, [*pair, "threshold"], "tukey.csv")
    t["diff"] = pd.to_numeric(t["diff"]).astype(np.float64)
    t["p_adj"] = pd.to_numeric(t["p_adj"]).astype(np.float64)
    t["significant"] = significance(t["p_adj"], alpha)
    if "omnibus_significant" in t.columns:
        codes, uniques = pd.factorize(t["omnibus_significant"], use_na_sentinel=False)
        values = pd.array([_as_bool(u) for u in uniques], dtype="boolean")
        t["omnibus_significant"] = pd.Series(values.take(codes), index=t.index)
    else:
        t["omnibus_significant"] = pd.array([pd.NA] * len(t), dtype="boolean")
    # pairs numbered in order of first appearance, their rows in config threshold order
    t["_o"] = t.groupby(pair, sort=False).ngroup()
    t["_t"] = t["threshold"].map(thresholds.index)
    t = t.sort_values(["_o", "_t"], kind="mergesort")
    sig = t["significant"]
    is_true = sig.eq(True).fillna(False).astype(bool)
    is_false = sig.eq(False).fillna(False).astype(bool)
    by_pair = t["_o"]
    changes = is_true.groupby(by_pair).transform("any") & is_false.groupby(by_pair).transform("any")
    t = t[changes.to_numpy()].reset_index(drop=True)
    if not len(t):
        return pd.DataFrame(columns=PAIRS_COLUMNS)
    is_true, is_false = is_true[changes].to_numpy(), is_false[changes].to_numpy()

    def joined(mask: np.ndarray) -> pd.Series:
        return t["threshold"][mask].groupby(t["_o"][mask], sort=False).agg(";".join)

    t["significant_at"] = t["_o"].map(joined(is_true)).astype(object)
    t["not_significant_at"] = t["_o"].map(joined(is_false)).astype(object)
    prim = t.loc[t["threshold"] == primary].set_index("_o")["significant"]
    t["significant_primary"] = pd.array(t["_o"].map(prim), dtype="boolean")
    t["changes_inference"] = _differs(t["significant"], t["significant_primary"])
    return t[PAIRS_COLUMNS]


# -- verdict ----------------------------------------------------------------------------------------
def _num(v: Any) -> Any:
    """JSON-safe number: NA/NaN -> None, numpy scalars -> Python."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    f = float(v)
    return None if math.isnan(f) else f


def _classify(rows: pd.DataFrame, prefix: str, primary: str) -> dict:
    """Status of one outcome in one analysis from its rows (one per threshold, config order)."""
    sig_col = f"{prefix}significant"
    per = [
        {
            "threshold": r["threshold"],
            "label": threshold_label(r["threshold"]),
            "n": _num(r[f"{prefix}n"]),
            "p": _num(r[f"{prefix}p"]),
            "significant": _num(r[sig_col]),
        }
        for _, r in rows.iterrows()
    ]
    prim = next(x for x in per if x["threshold"] == primary)
    missing = [x for x in per if x["significant"] is None]
    changes = [
        x
        for x in per
        if x["significant"] is not None
        and prim["significant"] is not None
        and x["significant"] != prim["significant"]
    ]
    if prim["significant"] is None:
        status = "not_estimable_at_primary"
    elif changes:
        status = "loses_significance" if prim["significant"] else "gains_significance"
    elif missing:
        status = "unchanged_where_estimable"
    else:
        status = (
            "significant_at_every_threshold" if prim["significant"] else "not_significant_at_any_threshold"
        )
    return {
        "status": status,
        "primary": prim,
        "changes": changes,
        "not_estimable": missing,
        "thresholds": per,
    }


def verdict_facts(
    summary: pd.DataFrame,
    shifts: pd.DataFrame,
    pairs: pd.DataFrame,
    checks: pd.DataFrame,
    config: Mapping,
    instruments: Mapping[str, Instrument],
    *,
    complete_case_checked: bool = True,
) -> dict:
    """The facts the verdict states, per group, as plain data (``verdict.json``).

    For each analysis (``anova`` and ``ancova <model>``) each outcome gets a status:
    ``significant_at_every_threshold``, ``not_significant_at_any_threshold``, ``loses_significance``
    (significant at the primary threshold, not at the listed ones), ``gains_significance`` (the
    reverse), ``unchanged_where_estimable`` (no change, but no result at some thresholds) or
    ``not_estimable_at_primary``. Also the largest site-mean shift, the Tukey pairs that change and the
    failed checks. Numbers are copied from the tables, never rounded.
    """
    thresholds, primary, alpha = _settings(config)
    models = _models(config)
    facts: dict[str, Any] = {
        "study": config.get("study", {}).get("name"),
        "synthetic": bool(config.get("study", {}).get("synthetic", False)),
        "data_note": config.get("study", {}).get("data_note"),
        "significance_level": alpha,
        "thresholds": thresholds,
        "threshold_labels": {t: threshold_label(t) for t in thresholds},
        "primary_threshold": primary,
        "range_text": _range_text(thresholds),
        "groups": [],
    }
    cc_checked = complete_case_checked and any(threshold_fraction(t) == 0 for t in thresholds)
    for g, gspec in config["groups"].items():
        gsum = summary[summary["group"] == g]
        gc = checks[checks["group"] == g]
        facts["groups"].append(
            {
                "group": g,
                "label": gspec.get("label") or g,
                "n_outcomes": len(gsum[KEYS].drop_duplicates()),
                "analyses": _analyses_facts(gsum, gspec, models, primary, instruments),
                "largest_mean_shift": _largest_shift_facts(shifts[shifts["group"] == g], instruments),
                "changing_pairs": _changing_pairs_facts(pairs[pairs["group"] == g], instruments),
                "checks": _checks_facts(gc, cc_checked, instruments),
            }
        )
    return facts


def _analyses_facts(
    gsum: pd.DataFrame,
    gspec: Mapping,
    models: Sequence[str],
    primary: str,
    instruments: Mapping[str, Instrument],
) -> list[dict]:
    """For one group, each analysis (``anova``, then ``ancova <model>`` of the group's models) with the
    status of every outcome (:func:`_classify`); an ANCOVA also names its model and covariates."""
    outcomes = gsum[KEYS].drop_duplicates()
    gmodels = [m for m in models if m in (gspec.get("ancova_models") or {})]
    analyses = []
    for name, prefix in [("anova", ""), *[(f"ancova {m}", f"ancova_{m}_") for m in gmodels]]:
        items = []
        for o in outcomes.itertuples(index=False):
            rows = gsum[(gsum["instrument"] == o.instrument) & (gsum["scale"] == o.scale)]
            items.append(
                {
                    "instrument": o.instrument,
                    "scale": o.scale,
                    "label": outcome_label(o.instrument, o.scale, instruments),
                    **_classify(rows, prefix, primary),
                }
            )
        entry = {"analysis": name, "outcomes": items}
        if name.startswith("ancova "):
            m = name.split(" ", 1)[1]
            entry["model"] = m
            entry["covariates"] = list(gspec["ancova_models"][m])
        analyses.append(entry)
    return analyses


def _largest_shift_facts(gshifts: pd.DataFrame, instruments: Mapping[str, Instrument]) -> dict | None:
    """The largest shift of a site mean against the primary analysis in one group (``None`` if none).

    Scales differ in range (1-5 means, 0-48 sums), so shifts are ranked in SD units when the pooled SD
    exists, else in scale units; the first of equal shifts wins.
    """
    gs = gshifts[gshifts["site"] != ALL_SITES].dropna(subset=["shift"])
    if not len(gs):
        return None
    by_sd = gs["shift_sd"].notna().any()
    r = gs.loc[(gs["shift_sd"] if by_sd else gs["shift"]).abs().idxmax()]
    return {
        "instrument": r["instrument"],
        "scale": r["scale"],
        "label": outcome_label(r["instrument"], r["scale"], instruments),
        "site": r["site"],
        "threshold": r["threshold"],
        "shift": _num(r["shift"]),
        "shift_sd": _num(r["shift_sd"]),
        "mean": _num(r["mean"]),
        "mean_primary": _num(r["mean_primary"]),
    }


def _changing_pairs_facts(gpairs: pd.DataFrame, instruments: Mapping[str, Instrument]) -> list[dict]:
    """One group's Tukey pairs that change significance (:func:`changing_pairs`), one entry per pair
    with the thresholds where it is and is not significant and its adjusted p at each threshold."""
    if not len(gpairs):
        return []
    # rows of one pair together (first-appearance order), then one entry per pair
    code = gpairs.groupby([*KEYS, "site_a", "site_b"], sort=False).ngroup().to_numpy()
    order = np.argsort(code, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(code[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    cols = {
        c: gpairs[c].to_numpy(dtype=object)[order]
        for c in [*KEYS[1:], "site_a", "site_b", "significant_at", "not_significant_at", "threshold", "p_adj"]
    }
    plist = []
    for a, b in zip(starts, ends, strict=True):
        plist.append(
            {
                "instrument": cols["instrument"][a],
                "scale": cols["scale"][a],
                "site_a": cols["site_a"][a],
                "site_b": cols["site_b"][a],
                "label": outcome_label(cols["instrument"][a], cols["scale"][a], instruments),
                "significant_at": [x for x in str(cols["significant_at"][a]).split(";") if x],
                "not_significant_at": [x for x in str(cols["not_significant_at"][a]).split(";") if x],
                "p_adj": {
                    x: _num(p) for x, p in zip(cols["threshold"][a:b], cols["p_adj"][a:b], strict=True)
                },
            }
        )
    return plist


def _checks_facts(
    gchecks: pd.DataFrame, complete_case_checked: bool, instruments: Mapping[str, Instrument]
) -> dict:
    """One group's two checks: passed or not, with the problems (``checks.csv`` messages)."""
    mono = gchecks[gchecks["check"] == "n_not_decreasing"]
    cc = gchecks[gchecks["check"] == "complete_case_n"]
    return {
        "n_not_decreasing": {"passed": not len(mono), "problems": mono["message"].tolist()},
        "complete_case_n": {
            "checked": complete_case_checked,
            "passed": not len(cc),
            "problems": [
                f"{outcome_label(r.instrument, r.scale, instruments)}: {r.message}"
                for r in cc.itertuples(index=False)
            ],
        },
    }
