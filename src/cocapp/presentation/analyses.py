"""Every derived statistic family as a compact display table for the report (issue 14).

Nothing is recomputed here: each table shows rows of one statistics file of the run
(``data/derived/stats/<name>.csv``) at the primary threshold, rounded only for display, and names
that file in its notes. Flags mark where an assumption check fails: Levene's test significant,
Welch's F disagreeing with the one-way ANOVA, site x covariate interactions (slopes not parallel),
skewness or kurtosis beyond the configured limits. Pairs tables put significant pairs first; the
report shows the significant ones and folds the full list (``<details>``).

Each builder returns :class:`AnalysisBlock`: a heading, a one-line finding, the display tables (first
shown, the rest folded) and the derived file behind them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from cocapp.config import format_threshold
from cocapp.formatting import MISSING_TEXT, fmt_g, fmt_num, fmt_p, fmt_percent, is_missing
from cocapp.presentation.outputs import funnel_settings, many_sites
from cocapp.presentation.tables import DisplayTable
from cocapp.words import grouping_words, reword

__all__ = [
    "AnalysisBlock",
    "analysis_blocks",
    "assumption_block",
    "mcar_block",
    "mi_block",
    "missing_block",
    "normality_block",
    "pairs_block",
    "slopes_block",
]

STATS_FOLDER = "data/derived/stats"


@dataclass
class AnalysisBlock:
    """One family of results in the report: ``shown`` tables open, ``folded`` inside ``<details>``."""

    key: str
    title: str
    finding: str
    source: list[str]
    shown: list[DisplayTable] = field(default_factory=list)
    folded: list[DisplayTable] = field(default_factory=list)
    folded_summary: str = ""
    evidence: str = ""


def _label(instrument: str, scale: str, labels: Mapping) -> str:
    return labels.get((instrument, scale), f"{instrument} {scale}")


def _group_label(config: Mapping, group: str) -> str:
    return (config["groups"].get(group) or {}).get("label") or group


def _primary(config: Mapping) -> str:
    return format_threshold(config["scoring"]["primary_threshold"])


def _at_primary(df: pd.DataFrame, config: Mapping) -> pd.DataFrame:
    if "threshold" not in df.columns:
        return df
    return df[df["threshold"] == _primary(config)]


def _yes_no(flag: object, missing: str = "no") -> str:
    """A flag of a statistics file (nullable boolean under its contract) as ``yes``/``no``;
    ``missing`` where it is empty."""
    return missing if pd.isna(flag) else ("yes" if flag else "no")


def _num(x: object, dp: int = 2) -> str:
    return fmt_num(x, dp)


MI_FOLDER = "data/derived/sensitivity"


def _notes(
    config: Mapping,
    name: str,
    extra: list[str] | None = None,
    primary: bool = True,
    folder: str = STATS_FOLDER,
) -> list[str]:
    notes = list(extra or [])
    where = f"{folder}/{name}.csv"
    notes.append(
        f"Source: {where}" + (f", rows at the primary threshold {_primary(config)}." if primary else ".")
    )
    study = config.get("study") or {}
    if study.get("synthetic"):
        notes.append(" ".join(str(study.get("data_note") or "SYNTHETIC DATA.").split()))
    return notes


def _synthetic(config: Mapping) -> bool:
    return bool((config.get("study") or {}).get("synthetic"))


def _row(name: str, r) -> str:
    """The trace of a display row made from row ``r`` (``itertuples``) of ``stats/<name>.csv``: the
    file's short name and the CSV line of that row (header = line 1; the frames keep the file's order)."""
    return f"{name}|{int(r.Index) + 2}"


def _percent(x: object, dp: int = 1) -> str:
    """A percentage (0-100) with ``dp`` decimals and `` %``; ``—`` alone when absent."""
    return MISSING_TEXT if is_missing(x) else f"{fmt_num(x, dp)} %"


# -- missing data ----------------------------------------------------------------------------------
def missing_summary(missingness: pd.DataFrame) -> dict:
    """Mean and range over the outcomes of the percent of returned questionnaires incomplete on the
    scale (``pct_incomplete``: at least one item missing), and of missing item cells."""
    pct = missingness["pct_incomplete"]
    cells = missingness["pct_cells_missing"]
    return dict(
        n_outcomes=len(missingness),
        mean_incomplete=float(pct.mean()),
        min_incomplete=float(pct.min()),
        max_incomplete=float(pct.max()),
        mean_cells=float(cells.mean()),
        min_cells=float(cells.min()),
        max_cells=float(cells.max()),
    )


def missing_block(
    missingness: pd.DataFrame, config: Mapping, labels: Mapping, published: Mapping | None
) -> AnalysisBlock:
    """Missing data per scale and over all outcomes, beside the paper's statement when the audit has
    it (``published``: ``mean``, ``min``, ``max`` as printed)."""
    s = missing_summary(missingness)
    finding = (
        f"Across the {s['n_outcomes']} outcomes, {fmt_num(s['mean_incomplete'], 1)} % of returned "
        f"questionnaires miss at least one item of the scale on average (range "
        f"{fmt_num(s['min_incomplete'], 1)}–{fmt_num(s['max_incomplete'], 1)} %); "
        f"{fmt_num(s['mean_cells'], 1)} % of item answers are missing "
        f"(range {fmt_num(s['min_cells'], 1)}–{fmt_num(s['max_cells'], 1)} %)."
    )
    if published:
        finding += (
            f" The paper reports {published.get('mean', MISSING_TEXT)} % on average, range "
            f"{published.get('min', MISSING_TEXT)}–{published.get('max', MISSING_TEXT)} %."
        )
    t = DisplayTable(
        "analysis-missing",
        "Table A1",
        "Missing data by scale (before any replacement)",
        ["Group", "Outcome", "Items", "Returned", "Incomplete", "Incomplete %", "Item cells missing %"],
        notes=_notes(config, "missingness", primary=False),
        synthetic=_synthetic(config),
        trace_columns=[
            "",
            "",
            "k_items",
            "n_returned",
            "n_incomplete",
            "pct_incomplete",
            "pct_cells_missing",
        ],
    )
    for r in missingness.itertuples():
        t.add(
            [
                _group_label(config, r.group),
                _label(r.instrument, r.scale, labels),
                str(r.k_items),
                str(r.n_returned),
                str(r.n_incomplete),
                _percent(r.pct_incomplete),
                _percent(r.pct_cells_missing),
            ],
            trace=_row("missingness", r),
        )
    return AnalysisBlock("missing", "Missing data", finding, ["missingness"], shown=[t])


def _instrument_name(config: Mapping, key: str, instruments: Mapping | None = None) -> str:
    """The instrument's name as shown (``short_name``, else ``name``, from its file); the key itself
    only when no file is found (a hand-made config)."""
    from cocapp.instruments import InstrumentError
    from cocapp.presentation.tables import _display_names

    try:
        return _display_names(dict(config), [key], instruments)[0]
    except InstrumentError:
        return key


def mcar_block(mcar: pd.DataFrame, config: Mapping, instruments: Mapping | None = None) -> AnalysisBlock:
    """Little's MCAR test per group and instrument (``instruments``: the configured instruments by key
    as the report stage loaded them; None: through the config)."""
    alpha = float(config["statistics"]["significance_level"])
    done = mcar[mcar["computable"]]
    rejected = int((done["p"] < alpha).sum())
    finding = (
        f"Little's test rejects missing completely at random for {rejected} of {len(done)} instruments "
        f"(p < {fmt_g(alpha)})."
    )
    t = DisplayTable(
        "analysis-mcar",
        "Table A2",
        "Little's MCAR test (item answers of each instrument)",
        ["Group", "Instrument", "Items", "Respondents", "Patterns", "Chi-square", "df", "p", "Note"],
        notes=_notes(config, "mcar", primary=False),
        synthetic=_synthetic(config),
        trace_columns=["", "", "n_items", "n_respondents", "n_patterns", "chi2", "df", "p", ""],
    )
    for r in mcar.itertuples():
        t.add(
            [
                _group_label(config, r.group),
                _instrument_name(config, r.instrument, instruments),
                str(r.n_items),
                str(r.n_respondents),
                MISSING_TEXT if pd.isna(r.n_patterns) else str(int(r.n_patterns)),
                _num(r.chi2, 1),
                MISSING_TEXT if pd.isna(r.df) else fmt_g(float(r.df)),
                fmt_p(r.p),
                "" if pd.isna(r.reason) else str(r.reason),
            ],
            trace=_row("mcar", r),
        )
    return AnalysisBlock("mcar", "Little's MCAR test", finding, ["mcar"], shown=[t])


# -- normality -------------------------------------------------------------------------------------
def normality_block(normality: pd.DataFrame, config: Mapping, labels: Mapping) -> AnalysisBlock:
    d = _at_primary(normality, config)
    lim = config["statistics"].get("normality_limits") or {}
    cons, lib = lim.get("conservative", 1.0), lim.get("liberal", 2.0)
    n_cons = int(d["beyond_conservative"].sum())  # an empty flag (undefined statistic) is not counted
    n_lib = int(d["beyond_liberal"].sum())
    finding = (
        f"{n_cons} of {len(d)} outcomes have skewness or kurtosis beyond ±{fmt_g(cons)}; "
        f"{n_lib} beyond ±{fmt_g(lib)}."
    )
    t = DisplayTable(
        "analysis-normality",
        "Table A3",
        "Skewness and kurtosis of the scores",
        [
            "Group",
            "Outcome",
            "n",
            "Skewness (SE)",
            "Kurtosis (SE)",
            f"Beyond ±{fmt_g(cons)}",
            f"Beyond ±{fmt_g(lib)}",
        ],
        notes=_notes(config, "normality"),
        synthetic=_synthetic(config),
        trace_columns=["", "", "n", "skewness,skewness_se", "kurtosis,kurtosis_se", "", ""],
    )
    for r in d.itertuples():
        t.add(
            [
                _group_label(config, r.group),
                _label(r.instrument, r.scale, labels),
                str(r.n),
                f"{_num(r.skewness)} ({_num(r.skewness_se)})",
                f"{_num(r.kurtosis)} ({_num(r.kurtosis_se)})",
                _yes_no(r.beyond_conservative),
                _yes_no(r.beyond_liberal),
            ],
            trace=_row("normality", r),
        )
    return AnalysisBlock("normality", "Normality", finding, ["normality"], shown=[t])


# -- ANOVA assumptions and effect sizes -----------------------------------------------------------
def assumption_block(anova: pd.DataFrame, config: Mapping, labels: Mapping) -> AnalysisBlock:
    """Per outcome: the F test, eta² with its confidence interval and omega² (effect sizes), Levene's
    tests and Welch's F, with flags where Levene is significant or Welch's conclusion differs from the
    F test's."""
    alpha = float(config["statistics"]["significance_level"])
    level = float(config["statistics"].get("confidence_level", 0.95))
    d = _at_primary(anova, config)
    lev = d["levene_median_p"] < alpha
    lev_mean = d["levene_mean_p"] < alpha
    f_sig = d["p"] < alpha
    w_sig = d["welch_p"] < alpha
    disagree = (f_sig != w_sig) & d["welch_p"].notna() & d["p"].notna()
    finding = _assumption_finding(d, lev, lev_mean, disagree, config, labels, alpha)
    t = _assumption_table(config, alpha, level)
    for r, lv, dis in zip(d.itertuples(), lev, disagree, strict=True):
        t.add(_assumption_row(r, lv, dis, config, labels), trace=_row("anova", r))
    return AnalysisBlock("assumptions", "Effect sizes and assumption checks", finding, ["anova"], shown=[t])


def _assumption_finding(
    d: pd.DataFrame,
    lev: pd.Series,
    lev_mean: pd.Series,
    disagree: pd.Series,
    config: Mapping,
    labels: Mapping,
    alpha: float,
) -> str:
    """The finding of Table A4: how many outcomes fail Levene's tests, and those where Welch's F and the
    F test disagree on significance (rows ``d``, flags ``lev``, ``lev_mean``, ``disagree`` per row)."""
    return (
        f"Levene's test (median) p < {fmt_g(alpha)} for {int(lev.sum())} of {len(d)} outcomes (mean-centred: "
        f"{int(lev_mean.sum())}); Welch's F and the one-way ANOVA disagree on significance for "
        f"{int(disagree.sum())}"
        + (
            ": "
            + ", ".join(
                f"{_group_label(config, r.group)} {_label(r.instrument, r.scale, labels)} "
                f"(F p = {fmt_p(r.p)}, Welch p = {fmt_p(r.welch_p)})"
                for r in d[disagree].itertuples()
            )
            if disagree.any()
            else ""
        )
        + "."
    )


def _assumption_table(config: Mapping, alpha: float, level: float) -> DisplayTable:
    """Table A4 without its rows: the header, the notes on the effect sizes and flags, the traces."""
    return DisplayTable(
        "analysis-assumptions",
        "Table A4",
        "One-way ANOVA: effect sizes and assumption checks",
        [
            "Group",
            "Outcome",
            "F test",
            f"eta² [{fmt_percent(level)} CI]",
            "omega²",
            "Levene p (mean / median)",
            "Welch F test",
            "Flags",
        ],
        notes=_notes(
            config,
            "anova",
            [
                "eta² with its confidence interval from the noncentral F (Steiger 2004); omega² is a "
                "point estimate. Flags: "
                "'unequal variances' when Levene's test (median-centred, Brown-Forsythe) has "
                f"p < {fmt_g(alpha)}; "
                "'Welch disagrees' when Welch's F and the F test differ on significance."
            ],
        ),
        synthetic=_synthetic(config),
        trace_columns=[
            "",
            "",
            "F,df1,df2,p",
            "eta2,eta2_ci_low,eta2_ci_high",
            "omega2",
            "levene_mean_p,levene_median_p",
            "welch_F,welch_df1,welch_df2,welch_p",
            "",
        ],
    )


def _assumption_row(r, lv: bool, dis: bool, config: Mapping, labels: Mapping) -> list[str]:
    """The cells of one row of Table A4 (``r``: a row of ``anova.csv``; ``lv``, ``dis``: its flags)."""
    flags = [x for x, on in (("unequal variances", lv), ("Welch disagrees", dis)) if on]
    return [
        _group_label(config, r.group),
        _label(r.instrument, r.scale, labels),
        _f_text(r.F, r.df1, r.df2, r.p),
        f"{_num(r.eta2, 3)} [{_num(r.eta2_ci_low, 3)}, {_num(r.eta2_ci_high, 3)}]",
        _num(r.omega2, 3),
        f"{fmt_p(r.levene_mean_p)} / {fmt_p(r.levene_median_p)}",
        _f_text(r.welch_F, r.welch_df1, r.welch_df2, r.welch_p),
        "; ".join(flags),
    ]


def _df(x: object) -> str:
    """Degrees of freedom in Tables A4-A5: an integer when whole, else one decimal; ``—`` when absent."""
    # not formatting.fmt_df, which shows a df within 1e-9 of a whole number as that number: a Welch df2
    # of 9.999999999999998 (two sites of 6 with equal variances) is "10" there and "10.0" here
    if pd.isna(x):
        return MISSING_TEXT
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:.1f}"


def _f_text(F: object, df1: object, df2: object, p: object) -> str:
    if pd.isna(F):
        return MISSING_TEXT
    return f"F({_df(df1)}, {_df(df2)}) = {_num(F)}, p = {fmt_p(p)}".replace("p = < ", "p < ")


# -- equal slopes ----------------------------------------------------------------------------------
def slopes_block(slopes: pd.DataFrame, config: Mapping, labels: Mapping) -> AnalysisBlock:
    """The ANCOVA equal-slopes checks (group x covariate interaction): significant ones shown, all folded."""
    w = grouping_words(config)
    alpha = float(config["statistics"]["significance_level"])
    d = _at_primary(slopes, config)
    sig = d["p"] < alpha
    finding = (
        f"{int(sig.sum())} of {len(d)} {w.noun} x covariate interactions have p < {fmt_g(alpha)}: for those "
        f"outcomes and covariates the slopes are not parallel across {w.nouns} and the adjusted means assume "
        "what the data do not support."
    )

    def table(key: str, number: str, title: str, rows: pd.DataFrame) -> DisplayTable:
        t = DisplayTable(
            key,
            number,
            title,
            ["Group", "Outcome", "Model", "Covariate", "Interaction F", "p", "Note"],
            notes=_notes(config, "ancova_slopes"),
            synthetic=_synthetic(config),
            trace_columns=["", "", "", "", "F,df1,df2", "p", ""],
        )
        for r in rows.itertuples():
            t.add(
                [
                    _group_label(config, r.group),
                    _label(r.instrument, r.scale, labels),
                    str(r.model),
                    f"{r.covariate} ({r.covariate_type})",
                    MISSING_TEXT if pd.isna(r.F) else f"F({_df(r.df1)}, {_df(r.df2)}) = {_num(r.F)}",
                    fmt_p(r.p),
                    "" if pd.isna(r.note) else reword(str(r.note), config),
                ],
                trace=_row("ancova_slopes", r),
            )
        if not len(rows):
            t.add(["(none)", "", "", "", "", "", ""])
        return t

    return AnalysisBlock(
        "slopes",
        "ANCOVA equal-slopes checks",
        finding,
        ["ancova_slopes"],
        shown=[
            table(
                "analysis-slopes-significant",
                "Table A5",
                f"{w.label} x covariate interactions with p < {fmt_g(alpha)} (slopes not parallel)",
                d[sig],
            )
        ],
        folded=[table("analysis-slopes-all", "Table A5b", "Every equal-slopes check", d)],
        folded_summary=f"All {len(d)} equal-slopes checks",
    )


# -- pairs -----------------------------------------------------------------------------------------
def pairs_block(
    pairs: pd.DataFrame,
    name: str,
    config: Mapping,
    labels: Mapping,
    number: str,
    title: str,
    key: str,
    fold_all: bool = True,
) -> AnalysisBlock:
    """Pairwise comparisons (Tukey-Kramer, Games-Howell or ANCOVA adjusted means): significant pairs
    (p_adj < significance level) shown, strongest first; every pair folded, significant first (unless
    ``fold_all`` is False: then the derived file, linked from the report, holds the full list)."""
    alpha = float(config["statistics"]["significance_level"])
    d = _at_primary(pairs, config).copy()
    d["_sig"] = d["p_adj"] < alpha
    if config.get("sites") and many_sites(dict(config)):
        return _pairs_by_outcome_block(d, name, config, labels, number, title, key)
    d = d.sort_values(["_sig", "p_adj"], ascending=[False, True], kind="mergesort")
    sig = d[d["_sig"]]
    finding = _pairs_finding(d, sig, config, labels, alpha)
    sig_title = f"{title}: pairs with adjusted p < {fmt_g(alpha)}"
    shown = [_pairs_table(f"analysis-{key}-significant", number, sig_title, sig, name, config, labels)]
    every = f"{title}: every pair, significant first"
    # fold_all False: the full list only in the linked derived file (no table of every pair built)
    folded = (
        [_pairs_table(f"analysis-{key}-all", f"{number}b", every, d, name, config, labels)]
        if fold_all
        else []
    )
    return AnalysisBlock(
        key,
        title,
        finding,
        [name],
        shown=shown,
        folded=folded,
        folded_summary=f"All {len(d)} pairs" if fold_all else "",
    )


def _pairs_finding(d: pd.DataFrame, sig: pd.DataFrame, config: Mapping, labels: Mapping, alpha: float) -> str:
    """The finding of a pairs table: how many of the pairs ``d`` are significant (``sig``, strongest
    first) and the strongest of them."""
    finding = f"{len(sig)} of {len(d)} {grouping_words(config).noun} pairs have adjusted p < {fmt_g(alpha)}"
    if len(sig):
        r = sig.iloc[0]
        finding += (
            f"; the strongest: {_group_label(config, r['group'])} "
            f"{_label(r['instrument'], r['scale'], labels)}, "
            f"{r['site_a']}–{r['site_b']} (difference {_num(r['diff'])}, p_adj = {fmt_p(r['p_adj'])})"
        )
    return finding + "."


def _pairs_table(
    key: str,
    number: str,
    title: str,
    rows: pd.DataFrame,
    name: str,
    config: Mapping,
    labels: Mapping,
) -> DisplayTable:
    """A table of site pairs (``rows`` of ``<name>.csv``), one row per pair, ``(none)`` when there is
    none; the test statistic is the file's (t or q)."""
    stat = "t" if "t" in rows.columns else "q"
    level = config["statistics"].get("confidence_level", 0.95)
    t = DisplayTable(
        key,
        number,
        title,
        [
            "Group",
            "Outcome",
            "Pair",
            "Difference",
            f"{fmt_g(level * 100)}% CI",
            stat,
            "p (adjusted)",
            "Omnibus significant",
        ],
        notes=_notes(
            config,
            name,
            ["Difference = first {0} minus second {0}.".format(grouping_words(config).noun)],
        ),
        synthetic=_synthetic(config),
        trace_columns=["", "", "", "diff", "ci_low,ci_high", stat, "p_adj", ""],
    )
    for r in rows.itertuples():
        t.add(_pair_row(r, "model" in rows.columns, stat, config, labels), trace=_row(name, r))
    if not len(rows):
        t.add(["(none)", "", "", "", "", "", "", ""])
    return t


def _pair_row(r, with_model: bool, stat: str, config: Mapping, labels: Mapping) -> list[str]:
    """The cells of one pair's row (``r``: a row of the pairs file, ``itertuples``)."""
    return [
        _group_label(config, r.group),
        _label(r.instrument, r.scale, labels) + (f" ({r.model} model)" if with_model else ""),
        f"{r.site_a}–{r.site_b}",
        _num(r.diff),
        f"{_num(r.ci_low)} to {_num(r.ci_high)}",
        _num(getattr(r, stat)),
        fmt_p(r.p_adj),
        _yes_no(r.omnibus_significant, MISSING_TEXT),
    ]


def _pairs_by_outcome_block(
    d: pd.DataFrame, name: str, config: Mapping, labels: Mapping, number: str, title: str, key: str
) -> AnalysisBlock:
    """:func:`pairs_block` with more sites than ``statistics.funnel.site_threshold``: k(k - 1)/2 pairs
    per outcome are too many to list (31,125 at 250 sites), so one row per outcome (and model) gives
    the number of pairs, how many have adjusted p below the significance level, and the strongest pair
    (smallest adjusted p, then largest absolute difference); every pair stays in the linked derived file
    and the sites outside the funnel limits are listed in Supplementary table S3."""
    alpha = float(config["statistics"]["significance_level"])
    words = grouping_words(config)
    stat = "t" if "t" in d.columns else "q"
    keys = [c for c in ("group", "instrument", "scale", "model") if c in d.columns]
    d = d.assign(_abs=d["diff"].abs(), _p=d["p_adj"])
    # outcomes in file order; each one's strongest pair: its row of the file (index = file order)
    counts = d.groupby(keys, sort=False).agg(pairs=("_sig", "size"), significant=("_sig", "sum"))
    ranked = d.sort_values(["_p", "_abs"], ascending=[True, False], kind="mergesort")
    strongest = ranked.drop_duplicates(keys).assign(_row=lambda x: x.index).set_index(keys)["_row"]
    t = _pairs_by_outcome_table(name, config, number, title, key, stat)
    primary = _primary(config)
    total_sig = 0
    for values, c in counts.iterrows():
        values = values if isinstance(values, tuple) else (values,)
        r = next(d.loc[[strongest.loc[values]]].itertuples())
        where = "&".join(f"{k}={v}" for k, v in zip(keys, values, strict=True)) + f"&threshold={primary}"
        total_sig += int(c["significant"])
        cells, traces = _outcome_pairs_row(r, c, "model" in keys, name, where, stat, config, labels)
        t.add(cells, trace=_row(name, r), cell_traces=traces)
    finding = (
        f"{total_sig:,} of {len(d):,} {words.noun} pairs have adjusted p < {fmt_g(alpha)} "
        f"({len(counts)} outcomes; one row per outcome below, every pair in {name}.csv)."
    )
    return AnalysisBlock(key, title, finding, [name], shown=[t], folded=[], folded_summary="")


def _pairs_by_outcome_table(
    name: str, config: Mapping, number: str, title: str, key: str, stat: str
) -> DisplayTable:
    """The per-outcome pairs table of many sites without its rows: header, notes, traced columns."""
    alpha = float(config["statistics"]["significance_level"])
    level = config["statistics"].get("confidence_level", 0.95)
    words = grouping_words(config)
    return DisplayTable(
        f"analysis-{key}-by-outcome",
        number,
        f"{title}: per outcome, pairs with adjusted p < {fmt_g(alpha)} and the strongest pair",
        [
            "Group",
            "Outcome",
            f"{words.label} pairs",
            f"Pairs with p < {fmt_g(alpha)}",
            "Strongest pair",
            "Difference",
            f"{fmt_g(level * 100)}% CI",
            stat,
            "p (adjusted)",
        ],
        notes=_notes(
            config,
            name,
            [
                f"With more than {funnel_settings(dict(config))[0]} {words.nouns} every pair is computed "
                f"but not listed: each is a row of {STATS_FOLDER}/{name}.csv; the {words.nouns} outside "
                "the funnel limits are listed in Supplementary table S3.",
                f"Difference = first {words.noun} minus second {words.noun}.",
            ],
        ),
        synthetic=_synthetic(config),
        trace_columns=["", "", "", "", "", "diff", "ci_low,ci_high", stat, "p_adj"],
    )


def _outcome_pairs_row(
    r, c: pd.Series, with_model: bool, name: str, where: str, stat: str, config: Mapping, labels: Mapping
) -> tuple[list[str], list[str]]:
    """One outcome's row of the per-outcome pairs table: its cells and each cell's trace (``r``: the
    strongest pair, ``itertuples``; ``c``: the outcome's counts; ``where``: the outcome's filter)."""
    row = _row(name, r)
    cells = [
        _group_label(config, r.group),
        _label(r.instrument, r.scale, labels) + (f" ({r.model} model)" if with_model else ""),
        f"{int(c['pairs']):,}",
        f"{int(c['significant']):,}",
        f"{r.site_a}–{r.site_b}",
        _num(r.diff),
        f"{_num(r.ci_low)} to {_num(r.ci_high)}",
        _num(getattr(r, stat)),
        fmt_p(r.p_adj),
    ]
    traces = [
        "",
        "",
        f"{name}|{where}|#",
        f"{name}|{where}&significant=True|#",
        "",
        f"{row}|diff",
        f"{row}|ci_low,ci_high",
        f"{row}|{stat}",
        f"{row}|p_adj",
    ]
    return cells, traces


# -- correlations with confidence intervals -------------------------------------------------------
def _pair_label(config: Mapping, instruments: Mapping | None = None):
    """``pair(group, x, y)``: ``"<x> and <y>"`` with the measures' names as the tables show them
    (:func:`cocapp.presentation.tables.measure_labels`; the raw name for a measure not configured)."""
    from cocapp.instruments import InstrumentError
    from cocapp.presentation.tables import measure_labels

    labels: dict = {}

    def pair(group: str, x: str, y: str) -> str:
        if group not in labels:
            try:
                known = group in config["groups"]
                labels[group] = measure_labels(dict(config), group, instruments) if known else {}
            except InstrumentError:  # no instrument file (a hand-made config): the measures' own names
                labels[group] = {}
        return f"{labels[group].get(x, x)} and {labels[group].get(y, y)}"

    return pair


def correlations_block(
    correlations: pd.DataFrame, config: Mapping, instruments: Mapping | None = None
) -> AnalysisBlock:
    """Correlations of total scores with their confidence intervals: all sites pooled shown, per site
    folded (``correlations.csv``; ``instruments`` as :func:`mcar_block`)."""
    d = _at_primary(correlations, config)
    level = config["statistics"].get("confidence_level", 0.95)
    ci = f"{fmt_g(level * 100)}% CI"
    pair = _pair_label(config, instruments)
    pooled = d[d["site"] == "All"]
    sites = d[d["site"] != "All"]
    finding = _correlations_finding(pooled, config, ci, pair)
    return AnalysisBlock(
        "correlations",
        "Correlations with confidence intervals",
        (finding + ".") if finding else "No correlations were computed.",
        ["correlations"],
        shown=[
            _correlations_table(
                "analysis-correlations",
                "Table A9",
                f"Correlations of total scores, all {grouping_words(config).nouns} pooled",
                pooled,
                config,
                ci,
                pair,
            )
        ],
        folded=[
            _correlations_table(
                "analysis-correlations-sites",
                "Table A9b",
                f"Correlations within each {grouping_words(config).noun}",
                sites,
                config,
                ci,
                pair,
            )
        ],
        folded_summary=f"Correlations within each {grouping_words(config).noun}",
    )


def _correlations_finding(pooled: pd.DataFrame, config: Mapping, ci: str, pair) -> str:
    """The finding of Table A9: each pooled correlation with its confidence interval and n, ``; ``-joined
    (empty when there is none; ``pair``: :func:`_pair_label`'s)."""
    return "; ".join(
        f"{_group_label(config, r.group)} {pair(r.group, r.x, r.y)}: r = {_num(r.r, 3)} "
        f"({ci} {_num(r.ci_low, 3)} to {_num(r.ci_high, 3)}, n = {r.n})"
        for r in pooled.itertuples()
    )


def _correlations_table(
    key: str, number: str, title: str, rows: pd.DataFrame, config: Mapping, ci: str, pair
) -> DisplayTable:
    """A table of correlations (``rows`` of ``correlations.csv``), ``(none)`` when there is none."""
    t = DisplayTable(
        key,
        number,
        title,
        ["Group", grouping_words(config).label, "Pair", "n", "r", ci, "p", "Effect size"],
        notes=_notes(config, "correlations"),
        synthetic=_synthetic(config),
        trace_columns=["", "", "", "n", "r", "ci_low,ci_high", "p", ""],
    )
    for r in rows.itertuples():
        t.add(
            [
                _group_label(config, r.group),
                str(r.site),
                pair(r.group, r.x, r.y),
                str(r.n),
                _num(r.r, 3),
                f"{_num(r.ci_low, 3)} to {_num(r.ci_high, 3)}",
                fmt_p(r.p),
                "" if pd.isna(r.effect_size) else str(r.effect_size),
            ],
            trace=_row("correlations", r),
        )
    if not len(rows):
        t.add(["(none)", "", "", "", "", "", "", ""])
    return t


# -- multiple imputation beside complete cases ------------------------------------------------------
def _ci(lo: object, hi: object, dp: int) -> str:
    return f"{_num(lo, dp)} to {_num(hi, dp)}"


def mi_block(
    mi_correlations: pd.DataFrame | None,
    mi_pairs: pd.DataFrame | None,
    correlations: pd.DataFrame | None,
    config: Mapping,
    labels: Mapping,
    instruments: Mapping | None = None,
) -> AnalysisBlock:
    """Pooled results of the multiple imputation (stage impute, Rubin's rules; δ = 0, i.e. missing at
    random) that the verdict does not already show: correlations beside the complete-case ones at the
    primary threshold (``mi_correlations.csv``, ``correlations.csv``) and the pooled site pairs whose
    adjusted p is below the significance level (``mi_pairs.csv``; every pair in the linked file)."""
    words = grouping_words(config)
    alpha = float(config["statistics"]["significance_level"])
    m = ""
    shown, folded, finding, source = [], [], [], []
    if mi_correlations is not None:
        source.append("mi_correlations")
        mi = mi_correlations[mi_correlations["site"] == "All"]
        m = str(mi["m"].iloc[0]) if len(mi) else m
        shown.append(_mi_correlations_table(mi, _complete_cases(correlations, config), config, instruments))
        finding.append(f"{len(mi)} pooled correlation(s)")
    if mi_pairs is not None:
        source.append("mi_pairs")
        d = mi_pairs[mi_pairs["delta"] == 0.0]
        d = d.assign(_p=d["p_adj"]).sort_values("_p", kind="mergesort")
        sig = d[d["_p"] < alpha]
        m = m or (str(d["m"].iloc[0]) if len(d) else "")
        folded.append(_mi_pairs_table(sig, config, labels))
        finding.append(f"{len(sig)} of {len(d)} pooled {words.noun} pairs with adjusted p < {fmt_g(alpha)}")
    head = f"Multiple imputation (m = {m}, missing at random)" if m else "Multiple imputation"
    return AnalysisBlock(
        "mi",
        "Multiple imputation: correlations and pairs",
        f"{head}: " + "; ".join(finding) + ".",
        source,
        shown=shown,
        folded=folded,
        folded_summary="Pairs after multiple imputation" if folded else "",
    )


def _mi_ci(config: Mapping) -> str:
    """The heading of the confidence-interval columns of the imputation tables (``95% CI``)."""
    return f"{fmt_g(config['statistics'].get('confidence_level', 0.95) * 100)}% CI"


def _mi_illustrative(config: Mapping) -> list[str]:
    """The note that an imputation result is illustrative on synthetic data (none on real data)."""
    # synthetic data were calibrated to the paper's statistics, none of which is an imputation result
    return (
        ["Illustrative only: not a calibration target of the synthetic data."] if _synthetic(config) else []
    )


def _complete_cases(correlations: pd.DataFrame | None, config: Mapping) -> pd.DataFrame:
    """The complete-case correlations (all sites, primary threshold) by group and pair, with CSV line."""
    cc = (
        _at_primary(correlations, config)
        if correlations is not None
        else pd.DataFrame(columns=["group", "site", "x", "y"])
    )
    cc = cc[cc["site"] == "All"]
    return cc.assign(_line=cc.index + 2).set_index(["group", "x", "y"])  # CSV line (header = 1)


def _mi_correlations_table(
    mi: pd.DataFrame, cc: pd.DataFrame, config: Mapping, instruments: Mapping | None = None
) -> DisplayTable:
    """Table A10: the pooled correlations ``mi`` beside the complete-case ones ``cc`` at the threshold."""
    words = grouping_words(config)
    ci = _mi_ci(config)
    t = DisplayTable(
        "analysis-mi-correlations",
        "Table A10",
        f"Correlations after multiple imputation (pooled, all {words.nouns}) beside complete cases "
        f"at the primary threshold ({_primary(config)})",
        [
            "Group",
            "Pair",
            "n (threshold)",
            f"r (threshold, {ci})",
            "n (imputed)",
            f"r (imputed, {ci})",
            "p",
        ],
        notes=_notes(
            config,
            "mi_correlations",
            [
                "Pooled by Rubin's rules on Fisher's z (mice pool); the threshold columns from "
                f"{STATS_FOLDER}/correlations.csv.",
                *_mi_illustrative(config),
            ],
            primary=False,
            folder=MI_FOLDER,
        ),
        synthetic=_synthetic(config),
    )
    for r in mi.itertuples():
        cells, traces = _mi_correlation_row(r, cc, config, instruments)
        t.add(cells, cell_traces=traces)
    if not len(mi):
        t.add(["(none)", "", "", "", "", "", ""])
    return t


def _mi_correlation_row(
    r, cc: pd.DataFrame, config: Mapping, instruments: Mapping | None = None
) -> tuple[list[str], list[str]]:
    """One row of Table A10 (pooled correlation ``r``, ``itertuples``): its cells and each cell's trace."""
    c = cc.loc[(r.group, r.x, r.y)] if (r.group, r.x, r.y) in cc.index else None
    at_cc = "" if c is None else f"correlations|{int(c['_line'])}"
    at_mi = f"mi_correlations|{int(r.Index) + 2}"
    cells = [
        _group_label(config, r.group),
        _pair_label(config, instruments)(r.group, r.x, r.y),
        MISSING_TEXT if c is None else str(c["n"]),
        MISSING_TEXT if c is None else f"{_num(c['r'], 3)} ({_ci(c['ci_low'], c['ci_high'], 3)})",
        str(r.n),
        f"{_num(r.r, 3)} ({_ci(r.ci_low, r.ci_high, 3)})",
        fmt_p(r.p),
    ]
    # each cell its own file: the threshold columns correlations.csv, the rest mi_correlations.csv
    traces = [
        "",
        "",
        at_cc and f"{at_cc}|n",
        at_cc and f"{at_cc}|r,ci_low,ci_high",
        f"{at_mi}|n",
        f"{at_mi}|r,ci_low,ci_high",
        f"{at_mi}|p",
    ]
    return cells, traces


def _mi_pairs_table(sig: pd.DataFrame, config: Mapping, labels: Mapping) -> DisplayTable:
    """Table A11: the pooled site pairs ``sig`` whose adjusted p is below the significance level."""
    words = grouping_words(config)
    alpha = float(config["statistics"]["significance_level"])
    t = DisplayTable(
        "analysis-mi-pairs",
        "Table A11",
        f"{words.noun[:1].upper()}{words.noun[1:]} pairs after multiple imputation with adjusted "
        f"p < {fmt_g(alpha)}",
        ["Group", "Outcome", "Analysis", "Pair", "Difference", _mi_ci(config), "p (adjusted)"],
        trace_columns=["", "", "", "", "diff", "ci_low,ci_high", "p_adj"],
        notes=_notes(
            config,
            "mi_pairs",
            [
                f"Difference = first {words.noun} minus second {words.noun}; every pair in the linked file.",
                *_mi_illustrative(config),
            ],
            primary=False,
            folder=MI_FOLDER,
        ),
        synthetic=_synthetic(config),
    )
    for r in sig.itertuples():
        t.add(
            [
                _group_label(config, r.group),
                _label(r.instrument, r.scale, labels),
                str(r.analysis),
                f"{r.site_a}–{r.site_b}",
                _num(r.diff),
                _ci(r.ci_low, r.ci_high, 2),
                fmt_p(r.p_adj),
            ],
            trace=_row("mi_pairs", r),
        )
    if not len(sig):
        t.add(["(none)", "", "", "", "", "", ""])
    return t


def analysis_blocks(
    stats: Mapping[str, pd.DataFrame],
    config: Mapping,
    labels: Mapping,
    published_missing: Mapping | None = None,
    instruments: Mapping | None = None,
) -> list[AnalysisBlock]:
    """The blocks of every statistics file given (``stats``: name -> frame), in report order
    (``instruments``: the configured instruments by key, as the report stage loaded them; None: through
    the config)."""
    out: list[AnalysisBlock] = []
    if "missingness" in stats:
        out.append(missing_block(stats["missingness"], config, labels, published_missing))
    if "mcar" in stats:
        out.append(mcar_block(stats["mcar"], config, instruments))
    if "normality" in stats:
        out.append(normality_block(stats["normality"], config, labels))
    if "anova" in stats:
        out.append(assumption_block(stats["anova"], config, labels))
    if "correlations" in stats:
        out.append(correlations_block(stats["correlations"], config, instruments))
    if "tukey" in stats:
        out.append(
            pairs_block(stats["tukey"], "tukey", config, labels, "Table A6", "Tukey-Kramer pairs", "tukey")
        )
    if "games_howell" in stats:
        out.append(
            pairs_block(
                stats["games_howell"],
                "games_howell",
                config,
                labels,
                "Table A7",
                "Games-Howell pairs",
                "games-howell",
                # the same pairs as Tukey's (folded above); the full list stays in the linked CSV
                fold_all=False,
            )
        )
    if "ancova_slopes" in stats:
        out.append(slopes_block(stats["ancova_slopes"], config, labels))
    if "ancova_posthoc" in stats:
        b = pairs_block(
            stats["ancova_posthoc"],
            "ancova_posthoc",
            config,
            labels,
            "Table A8",
            "ANCOVA adjusted-mean pairs",
            "ancova-pairs",
            fold_all=False,  # 2 models x every pair: the full list stays in the (linked) CSV
        )
        out.append(b)
    if "mi_correlations" in stats or "mi_pairs" in stats:
        out.append(
            mi_block(
                stats.get("mi_correlations"),
                stats.get("mi_pairs"),
                stats.get("correlations"),
                config,
                labels,
                instruments,
            )
        )
    return out
