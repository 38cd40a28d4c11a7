"""Publication figures: site means with CIs (the paper's Fig. 3) and correlation scatter plots.

Every figure is written as PNG and SVG with deterministic bytes: the Agg/SVG backends through an
object-oriented :class:`matplotlib.figure.Figure` (no pyplot state), PNG metadata ``{"Software": None}``,
SVG metadata ``{"Date": None, "Creator": None}`` and a fixed ``svg.hashsalt`` (matplotlib otherwise
writes a version string, a date and random clip-path ids).

Site plot (Simpson et al. 2016, Fig. 3: "Mean total STAR-P score for service users ± 95 % CI. Scoring
range for the scale from 0 to 48. ** p = 0.01, # refers to the reference site"): one point per site in
config order at the site mean, error bars from the descriptives' CI, y-axis on the scale's theoretical
range (``Instrument.scale_range``), the reference site (``statistics.post_hoc.reference_site``) marked
``#``, and Tukey-Kramer results against the reference site marked ``*`` (p_adj < significance level)
or ``**`` (p_adj < 0.01) above the bar. One such plot is drawn for every outcome; the outcomes listed
under ``published.figures`` are also written under their published label (e.g. ``published_fig3``).

Many sites (more than ``statistics.funnel.site_threshold``): instead of the site plot, a funnel plot
(Spiegelhalter 2005, Stat Med 24:1185: each site's mean against its precision n/σ², with the control
limits θ₀ ± z_p/√precision of :mod:`cocapp.stats.funnel` at ``statistics.funnel.levels``, sites outside
the widest limit labelled) and a caterpillar plot (site means with their CIs, ranked, the overall mean
as a line), both readable with hundreds of sites.

Scatter plot: total scores of two instruments at the primary threshold, pairwise complete, with the
least-squares line and the r, n and p of ``correlations.csv`` (computed from the plotted points when
that file lacks the pair).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import textwrap  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cocapp.config import at_threshold, correlation_measures, format_threshold, site_names  # noqa: E402
from cocapp.formatting import (  # noqa: E402
    STRICT_LEVEL,
    fmt_g,
    fmt_num,
    fmt_p_eq,
    fmt_percent,
    fmt_sig,
    significance_stars,
)
from cocapp.instruments import configured_instruments  # noqa: E402
from cocapp.presentation import plotting  # noqa: E402
from cocapp.presentation.outputs import (  # noqa: E402
    FigureSpec,
    figure_specs,
    funnel_overdispersion,
    funnel_settings,
)
from cocapp.words import GroupingWords, group_in_sentence, grouping_words, in_sentence  # noqa: E402

__all__ = [
    "FigureSpec",
    "caterpillar_plot",
    "figure_specs",
    "funnel_plot",
    "scatter_plot",
    "site_plot",
]

FORMATS = ("png", "svg")
RC = {
    "svg.hashsalt": "cocapp",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


# -- drawing ---------------------------------------------------------------------------------------
def _wrap(text: str, width: int) -> str:
    """``text`` on lines of at most ``width`` characters (at spaces, never at a hyphen: STAR-P stays
    whole); text that fits is returned unchanged. Instrument names from the files can be long."""
    if len(text) <= width:
        return text
    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False))


def site_plot(
    descriptives: pd.DataFrame,
    tukey: pd.DataFrame | None,
    sites: list[str],
    reference_site: str | None,
    y_range: tuple[float, float],
    ylabel: str,
    title: str,
    alpha: float = 0.05,
    confidence_level: float = 0.95,
    site_word: str = "site",
) -> Figure:
    """Site means ± CI on the scale's theoretical range, reference site ``#``, Tukey marks vs reference
    (``site_word``: the grouping's name inside a sentence, :mod:`cocapp.words`).

    ``descriptives``: rows of one outcome (``site``, ``mean``, ``ci_low``, ``ci_high``); ``tukey``: its
    site pairs (``site_a``, ``site_b``, ``p_adj``). Sites without a row are left empty.
    """
    fig = Figure(figsize=(6.0, 3.8), dpi=150)
    ax = fig.add_subplot()
    x = np.arange(len(sites))
    by_site = {str(r["site"]): r for _, r in descriptives.iterrows()}
    means = np.array([float(by_site[s]["mean"]) if s in by_site else np.nan for s in sites])
    lo = np.array([float(by_site[s]["ci_low"]) if s in by_site else np.nan for s in sites])
    hi = np.array([float(by_site[s]["ci_high"]) if s in by_site else np.nan for s in sites])
    yerr = np.vstack([means - lo, hi - means])
    ax.errorbar(
        x, means, yerr=yerr, fmt="o", color="#1f4e79", ecolor="#1f4e79", capsize=5, markersize=6, lw=1.2
    )
    labels = [f"{s} #" if s == reference_site else s for s in sites]
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.6, len(sites) - 0.4)
    ymin, ymax = y_range
    span = ymax - ymin
    ax.set_ylim(ymin, ymax)
    ax.set_ylabel(_wrap(ylabel, 50))
    ax.set_title(_wrap(title, 85), fontsize=9.5)
    if tukey is not None and reference_site is not None and not tukey.empty:
        for i, s in enumerate(sites):
            if s == reference_site:
                continue
            pair = tukey[
                ((tukey["site_a"].astype(str) == s) & (tukey["site_b"].astype(str) == reference_site))
                | ((tukey["site_a"].astype(str) == reference_site) & (tukey["site_b"].astype(str) == s))
            ]
            if pair.empty:
                continue
            stars = significance_stars(float(pair["p_adj"].iloc[0]), alpha)
            if stars and np.isfinite(hi[i]):
                ax.text(
                    x[i], hi[i] + 0.01 * span, stars, ha="center", va="bottom", fontsize=11, clip_on=False
                )
    ax.grid(axis="y", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    note = f"Mean ± {fmt_percent(confidence_level)} CI"
    if reference_site:
        note += (
            f"; # reference {site_word}; Tukey vs reference: * p < {fmt_g(alpha)}, "
            f"** p < {fmt_g(min(alpha, STRICT_LEVEL))}"
        )
    _footer(fig, note)
    fig.subplots_adjust(bottom=0.17, top=0.9, left=0.11, right=0.98)
    return fig


def _footer(fig: Figure, text: str) -> None:
    """The small grey note at the figure's bottom left (legend, method, reference)."""
    fig.text(0.01, 0.01, text, fontsize=7, color="#444444")


_SITE_WORDS = GroupingWords()  # the default grouping's words (Site, Sites)
_OUTSIDE_COLOURS = ("#c00000", "#e07b00")  # outside the widest limit, outside a narrower one
_LIMIT_STYLES = ("-", "--", ":")
_MAX_LABELS = 12  # sites named in a funnel plot (the most extreme outside the widest limit)


def _outside_colours(outside: pd.Series, levels: list[float]) -> list[str]:
    from cocapp.stats.funnel import level_label

    widest = level_label(max(levels))
    return [
        _OUTSIDE_COLOURS[0] if o == widest else (_OUTSIDE_COLOURS[1] if o else "#1f4e79") for o in outside
    ]


def _adjustment_note(funnel: pd.DataFrame) -> str:
    """'; limits widened for over-dispersion (φ = …)' or '' when the limits are plain."""
    if funnel.empty or funnel["overdispersion"].iloc[0] == "none":
        return ""
    if funnel["overdispersion"].iloc[0] == "multiplicative":
        return f"; limits × √φ, φ = {fmt_sig(funnel['phi'].iloc[0])} (over-dispersion)"
    return f"; limits with τ² = {fmt_sig(funnel['tau2'].iloc[0])} (over-dispersion)"


def funnel_plot(
    funnel: pd.DataFrame,
    levels: list[float],
    ylabel: str,
    title: str,
    words: GroupingWords = _SITE_WORDS,
) -> Figure:
    """Site means against precision with the control limits of every level (Spiegelhalter 2005).

    ``funnel``: :func:`cocapp.stats.funnel.funnel_sites` of one outcome. Sites outside the widest
    limit are red (the most extreme named), outside a narrower one orange. ``words``: the grouping's
    name (:func:`cocapp.words.grouping_words`) in the axis label and footer.
    """
    from cocapp.stats.funnel import funnel_curve, level_label

    fig = Figure(figsize=(6.4, 4.4), dpi=150)
    ax = fig.add_subplot()
    ok = funnel[np.isfinite(funnel["precision"]) & np.isfinite(funnel["mean"])]
    if not ok.empty:
        target = float(ok["target"].iloc[0])
        lo, hi = float(ok["precision"].min()), float(ok["precision"].max())
        grid = np.geomspace(lo * 0.9, hi * 1.1, 200) if hi > 0 else np.array([])
        phi, tau2 = float(ok["phi"].iloc[0]), float(ok["tau2"].iloc[0])
        curve = funnel_curve(target, grid, levels, phi, tau2)
        for i, level in enumerate(sorted(levels, reverse=True)):
            part = curve[curve["level"] == level]
            style = _LIMIT_STYLES[min(i, len(_LIMIT_STYLES) - 1)]
            ax.plot(
                part["precision"], part["lower"], style, color="#555555", lw=0.9, label=level_label(level)
            )
            ax.plot(part["precision"], part["upper"], style, color="#555555", lw=0.9)
        ax.axhline(target, color="#555555", lw=0.7)
        ax.scatter(
            ok["precision"],
            ok["mean"],
            s=12,
            c=_outside_colours(ok["outside"], levels),
            linewidths=0,
            zorder=3,
        )
        widest = ok[ok["outside"] == level_label(max(levels))]
        named = widest.reindex(widest["z"].abs().sort_values(ascending=False).index)[:_MAX_LABELS]
        for _, r in named.iterrows():
            ax.annotate(
                str(r["site"]),
                (r["precision"], r["mean"]),
                fontsize=6,
                xytext=(3, 2),
                textcoords="offset points",
            )
        ax.set_xscale("log")
        ax.legend(title="Control limits", fontsize=7, title_fontsize=7, loc="upper right", frameon=False)
    ax.set_xlabel(f"Precision (n / pooled within-{words.noun} variance)")
    ax.set_ylabel(_wrap(ylabel, 50))
    ax.set_title(_wrap(title, 85), fontsize=9.5)
    n_out = int((funnel["outside"] != "").sum())
    _footer(
        fig,
        f"{len(ok)} {words.nouns}; target = overall mean; {n_out} outside a limit "
        f"(red: outside {level_label(max(levels))}){_adjustment_note(funnel)}; Spiegelhalter 2005",
    )
    fig.subplots_adjust(bottom=0.17, top=0.9, left=0.11, right=0.98)
    return fig


def caterpillar_plot(
    descriptives: pd.DataFrame,
    funnel: pd.DataFrame,
    levels: list[float],
    ylabel: str,
    title: str,
    confidence_level: float = 0.95,
    words: GroupingWords = _SITE_WORDS,
) -> Figure:
    """Site means ± CI (``descriptives`` rows of one outcome) ranked by mean, the overall mean as a line,
    coloured by the funnel's ``outside`` label (same colours as :func:`funnel_plot`); ``words``: the
    grouping's name in the axis label."""
    fig = Figure(figsize=(6.4, 3.8), dpi=150)
    ax = fig.add_subplot()
    merged = funnel.merge(descriptives[["site", "ci_low", "ci_high"]], on="site", how="left")
    merged = merged[np.isfinite(merged["mean"])].sort_values(["mean", "site"], kind="mergesort")
    x = np.arange(len(merged))
    if len(merged):
        colours = _outside_colours(merged["outside"], levels)
        mean = merged["mean"].to_numpy(float)
        err = np.vstack([mean - merged["ci_low"].to_numpy(float), merged["ci_high"].to_numpy(float) - mean])
        ax.vlines(x, mean - err[0], mean + err[1], colors=colours, lw=0.6)
        ax.scatter(x, mean, s=6, c=colours, linewidths=0, zorder=3)
        ax.axhline(float(merged["target"].iloc[0]), color="#555555", lw=0.7)
    ax.set_xlim(-1, max(len(merged), 1))
    ax.set_xticks([])
    ax.set_xlabel(f"{words.plural} ranked by mean ({len(merged)})")
    ax.set_ylabel(_wrap(ylabel, 50))
    ax.set_title(_wrap(title, 85), fontsize=9.5)
    level = fmt_percent(confidence_level)
    _footer(fig, f"Mean ± {level} CI; line: overall mean; colours: outside the funnel limits")
    fig.subplots_adjust(bottom=0.15, top=0.9, left=0.11, right=0.98)
    return fig


def scatter_plot(
    x: np.ndarray,
    y: np.ndarray,
    xlabel: str,
    ylabel: str,
    title: str,
    r: float,
    n: int,
    p: float,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
) -> Figure:
    """Scatter of pairwise-complete scores with the least-squares line and ``r``, ``n``, ``p`` annotated.

    The axes span the scale's possible range (``x_range``, ``y_range``; widened to any point outside
    it) plus a margin of :data:`SCATTER_MARGIN` of the span, so points at the scale's minimum or
    maximum are drawn whole; the ``r``, ``n``, ``p`` label stands above the axes, never on the data."""
    fig = Figure(figsize=(4.6, 4.0), dpi=150)
    ax = fig.add_subplot()
    # beyond SCATTER_VECTOR_POINTS points the cloud is one embedded image in the SVG (PNG unchanged)
    many = len(x) > SCATTER_VECTOR_POINTS
    ax.scatter(x, y, s=10, color="#1f4e79", alpha=0.45, linewidths=0, rasterized=many)
    if len(x) >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        xs = np.array([np.min(x), np.max(x)])
        ax.plot(xs, intercept + slope * xs, color="#c00000", lw=1.4)
    if x_range is not None:
        ax.set_xlim(*_with_margin(x_range, x))
    if y_range is not None:
        ax.set_ylim(*_with_margin(y_range, y))
    ax.set_xlabel(_wrap(xlabel, 60))
    ax.set_ylabel(_wrap(ylabel, 50))
    ax.set_title(_wrap(title, 60), fontsize=9.5, pad=15)
    ax.text(
        0.0,
        1.015,
        f"r = {fmt_num(r, 3)}, n = {n}, {fmt_p_eq(p)}",
        transform=ax.transAxes,
        va="bottom",
        ha="left",
        fontsize=8,
    )
    fig.subplots_adjust(bottom=0.13, top=0.86, left=0.14, right=0.97)
    return fig


SCATTER_MARGIN = 0.04
# Up to this many points a scatter's SVG draws each one as a vector marker; beyond it (a national
# study: 10^6 respondents made 100 MB SVGs that took half the figures stage) the points are
# rasterized at the figure's resolution, axes, line and text staying vectors.
SCATTER_VECTOR_POINTS = 20_000


def _with_margin(scale_range: tuple[float, float], values: np.ndarray) -> tuple[float, float]:
    """The scale's possible range, widened to every finite value, plus :data:`SCATTER_MARGIN` of its span
    on each side."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    lo, hi = float(scale_range[0]), float(scale_range[1])
    if finite.size:
        lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    pad = (hi - lo) * SCATTER_MARGIN if hi > lo else 0.5
    return lo - pad, hi + pad


def _wide_totals(scores: pd.DataFrame, threshold: str) -> pd.DataFrame:
    sub = scores[(scores["scale"].astype(str) == "total") & at_threshold(scores["threshold"], threshold)]
    return sub.pivot_table(index="id", columns="instrument", values="score", aggfunc="first")


def _wide_measures(scores: pd.DataFrame, threshold: str, measures) -> pd.DataFrame:
    """One column per correlated scale (``(name, instrument, scale)``), one row per respondent."""
    at_t = scores[at_threshold(scores["threshold"], threshold)]
    cols = {}
    for name, inst, scale in measures:
        sub = at_t[(at_t["instrument"].astype(str) == inst) & (at_t["scale"].astype(str) == scale)]
        cols[name] = sub.groupby("id")["score"].first()
    return pd.DataFrame(cols)


def draw_all(
    config: dict,
    stats_: dict[str, pd.DataFrame],
    scores: dict[str, pd.DataFrame],
    instruments: dict | None = None,
) -> dict[str, bytes]:
    """Draw every figure of :func:`figure_specs`: ``{"<stem>.png"|"<stem>.svg": bytes}``, in order.
    ``instruments``: the configured instruments by key, as the stage loaded them from its
    ``--instruments`` files (None: loaded through the config)."""
    with matplotlib.rc_context(RC):
        return _draw_all(config, stats_, scores, configured_instruments(config, instruments))


def _draw_all(config, stats_, scores, instruments) -> dict[str, bytes]:
    """Every figure of :func:`figure_specs` in order, stamped and rendered as PNG and SVG bytes."""
    sites = site_names(config)
    t = format_threshold(config["scoring"]["primary_threshold"])
    level = float(config["statistics"].get("confidence_level", 0.95))
    desc = stats_.get("descriptives")
    corr = stats_.get("correlations")
    written: dict[str, bytes] = {}
    for spec in figure_specs(config, instruments):
        g = spec.group
        glabel = config["groups"][g].get("label") or g
        if spec.kind == "sites":
            fig = _site_figure(spec, config, instruments, desc, stats_.get("tukey"), sites, t, level)
        elif spec.kind in ("funnel", "caterpillar"):
            fig = _many_sites_figure(spec, config, instruments, desc, sites, t, level)
        elif any(scale != "total" for _, _, scale in correlation_measures(config, g)):
            fig = _scale_scatter(spec, config, instruments, scores, corr, t, glabel)
        else:
            fig = _total_scatter(spec, config, instruments, scores, corr, t, glabel)
        written.update(plotting.figure_files(plotting.stamp_data_note(fig, config), spec.stem, FORMATS))
    return written


def _outcome_rows(table: pd.DataFrame, g: str, instrument: str, scale: str, t: str) -> pd.DataFrame:
    """The rows of ``table`` (descriptives or Tukey) of one outcome of group ``g`` at threshold ``t``."""
    return table[
        (table["group"].astype(str) == g)
        & (table["instrument"].astype(str) == instrument)
        & (table["scale"].astype(str) == scale)
        & (table["threshold"] == t)
    ]


def _site_figure(spec: FigureSpec, config, instruments, desc, tukey, sites, t, level) -> Figure:
    """The site plot of one outcome: its descriptives and Tukey pairs at threshold ``t``, titled."""
    stats_config = config["statistics"]
    inst = instruments[spec.instrument]
    scale = inst.scale(spec.scale)
    if desc is not None:
        rows = _outcome_rows(desc, spec.group, spec.instrument, spec.scale, t)
    else:
        rows = pd.DataFrame(columns=["site", "mean", "ci_low", "ci_high"])
    tk = _outcome_rows(tukey, spec.group, spec.instrument, spec.scale, t) if tukey is not None else None
    lo, hi = inst.scale_range(scale)
    who = group_in_sentence(config, spec.group)
    title = f"Mean {inst.scale_phrase(spec.scale)} score for {who} ± {fmt_percent(level)} CI"
    if spec.label:
        title = f"{spec.label} {title}"
    return site_plot(
        rows,
        tk,
        sites,
        stats_config.get("post_hoc", {}).get("reference_site"),
        (lo, hi),
        f"{inst.scale_title(spec.scale)} ({fmt_g(lo)}–{fmt_g(hi)})",
        title,
        float(stats_config["significance_level"]),
        level,
        grouping_words(config).noun,
    )


def _plotted_correlation(
    corr, g, t, x: str, y: str, xv: np.ndarray, yv: np.ndarray
) -> tuple[float, float, float]:
    """r, n, p of the pair from ``correlations.csv``, or of the plotted points when the file disagrees."""
    r, n, p = _corr_row(corr, g, t, x, y)
    # The annotation must describe the plotted points: fall back to them when the file disagrees.
    if (not np.isfinite(r) or n != len(xv)) and len(xv) >= 3:
        from scipy import stats as _st

        res = _st.pearsonr(xv, yv)
        r, n, p = float(res.statistic), len(xv), float(res.pvalue)
    return r, n, p


def _total_scatter(spec: FigureSpec, config, instruments, scores, corr, t, glabel) -> Figure:
    """Scatter of two instruments' total scores (``spec.instrument`` and ``spec.scale`` name them)."""
    g = spec.group
    xi, yi = instruments[spec.instrument], instruments[spec.scale]
    wide = _wide_totals(scores[g], t) if g in scores else pd.DataFrame()
    if spec.instrument in wide.columns and spec.scale in wide.columns:
        both = wide[[spec.instrument, spec.scale]].dropna()
    else:
        both = pd.DataFrame(columns=[spec.instrument, spec.scale], dtype=float)
    xv = both[spec.instrument].to_numpy(float)
    yv = both[spec.scale].to_numpy(float)
    r, n, p = _plotted_correlation(corr, g, t, spec.instrument, spec.scale, xv, yv)
    xs, ys = xi.scale(xi.scale_keys[-1]), yi.scale(yi.scale_keys[-1])
    return scatter_plot(
        xv,
        yv,
        f"{xi.display_name} {in_sentence(xs.label)}",
        f"{yi.display_name} {in_sentence(ys.label)}",
        f"{glabel}: {xi.display_name} and {yi.display_name} total scores",
        r,
        int(n) if np.isfinite(n) else len(xv),
        p,
        xi.scale_range(xs),
        yi.scale_range(ys),
    )


def _scale_scatter(spec, config, instruments, scores, corr, t, glabel) -> Figure:
    """Scatter of two chosen scales (``groups.<g>.correlations``), on their theoretical ranges."""
    g = spec.group
    measures = {name: (inst, scale) for name, inst, scale in correlation_measures(config, g)}
    picked = [(name, *measures[name]) for name in (spec.instrument, spec.scale)]
    wide = _wide_measures(scores[g], t, picked) if g in scores else pd.DataFrame()
    both = wide.dropna() if not wide.empty else pd.DataFrame(columns=[spec.instrument, spec.scale])
    xv, yv = both[spec.instrument].to_numpy(float), both[spec.scale].to_numpy(float)
    r, n, p = _plotted_correlation(corr, g, t, spec.instrument, spec.scale, xv, yv)
    labels, ranges = [], []
    for _, inst_key, scale_key in picked:
        inst = instruments[inst_key]
        scale = inst.scale(scale_key)
        labels.append(inst.scale_title(scale_key))
        ranges.append(inst.scale_range(scale))
    return scatter_plot(
        xv,
        yv,
        labels[0],
        labels[1],
        f"{glabel}: {labels[0]} and {labels[1]}",
        r,
        int(n) if np.isfinite(n) else len(xv),
        p,
        ranges[0],
        ranges[1],
    )


def outcome_funnel(
    desc: pd.DataFrame | None,
    g: str,
    instrument: str,
    scale: str,
    t: str,
    sites,
    levels,
    overdispersion: str = "none",
):
    """The descriptives rows (by site) and :func:`cocapp.stats.funnel.funnel_sites` of one outcome at
    threshold ``t`` (with the ``overdispersion`` adjustment of the limits); sites without a row have
    n = 0."""
    from cocapp.stats.funnel import funnel_sites

    cols = ["site", "n", "mean", "sd", "ci_low", "ci_high"]
    if desc is None:
        rows = pd.DataFrame(columns=cols)
    else:
        rows = _outcome_rows(desc, g, instrument, scale, t)
    by_site = rows[cols].set_index(rows["site"].astype(str).rename("site_key"))
    by_site = by_site[~by_site.index.duplicated()].reindex(list(sites))
    by_site["site"] = list(sites)
    f = funnel_sites(
        list(sites),
        by_site["n"].fillna(0).to_numpy(float),
        by_site["mean"].to_numpy(float),
        by_site["sd"].to_numpy(float),
        levels,
        overdispersion,
    )
    return by_site.reset_index(drop=True)[cols], f


def _many_sites_figure(spec: FigureSpec, config, instruments, desc, sites, t, level) -> Figure:
    levels = funnel_settings(config)[1]
    inst = instruments[spec.instrument]
    scale = inst.scale(spec.scale)
    method = funnel_overdispersion(config)
    rows, funnel = outcome_funnel(desc, spec.group, spec.instrument, spec.scale, t, sites, levels, method)
    what = inst.scale_phrase(spec.scale)
    lo, hi = inst.scale_range(scale)
    ylabel = f"{inst.scale_title(spec.scale)} ({fmt_g(lo)}–{fmt_g(hi)})"
    who = group_in_sentence(config, spec.group)
    words = grouping_words(config)
    if spec.kind == "funnel":
        return funnel_plot(funnel, levels, ylabel, f"Funnel plot: mean {what} score for {who}", words)
    title = f"Mean {what} score for {who} by {words.noun}, ranked"
    return caterpillar_plot(rows, funnel, levels, ylabel, title, level, words)


def _corr_row(corr: pd.DataFrame | None, g: str, t: str, x: str, y: str) -> tuple[float, float, float]:
    if corr is None or corr.empty:
        return float("nan"), float("nan"), float("nan")
    base = (corr["group"].astype(str) == g) & (corr["threshold"] == t) & (corr["site"].astype(str) == "All")
    for a, b in ((x, y), (y, x)):
        sub = corr[base & (corr["x"].astype(str) == a) & (corr["y"].astype(str) == b)]
        if not sub.empty:
            row = sub.iloc[0]
            return float(row["r"]), float(row["n"]), float(row["p"])
    return float("nan"), float("nan"), float("nan")
