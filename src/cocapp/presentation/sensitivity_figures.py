"""Figures of the mean-replacement sensitivity analysis (PNG + SVG with deterministic bytes).

Two figures per group, always both written so that the workflow's outputs are fixed:

- ``{group}_n_p``: small multiples, one cell per outcome: the number analysed (top) and the p-value of
  the site effect on a log axis (bottom) by threshold, for the one-way ANOVA and every ANCOVA model of the
  group; filled markers are significant, open ones not; the dashed line is the significance level and
  the dotted line the primary threshold.
- ``{group}_site_means``: site means (and the pooled mean) by threshold for the outcomes whose
  inference changes (ANOVA or any ANCOVA model). When no outcome changes, the figure says so in words
  instead of being left out (decision recorded in docs/outputs.md).

Determinism: the Agg canvas, a fixed size and dpi, no ``Software``/date metadata, ``svg.hashsalt`` fixed
and glyphs drawn as paths, so the same input gives byte-identical files.
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from cocapp.config import format_threshold, site_names, threshold_fraction  # noqa: E402
from cocapp.formatting import fmt_g, fmt_percent  # noqa: E402
from cocapp.instruments import Instrument  # noqa: E402
from cocapp.presentation import plotting
from cocapp.words import grouping_words  # noqa: E402

__all__ = ["RC", "figure_bytes", "n_p_figure", "figure_files", "figure_tasks", "site_means_figure"]

DPI = 150
CELL_W, CELL_H = 3.1, 3.6
RC = {
    "svg.hashsalt": "cocapp",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7.5,
}
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
LINESTYLES = ["-", "--", "-.", ":"]
P_FLOOR = 1e-16  # p below this (or p = 0 for an infinite F) is drawn at the axis floor


def _with_rc(func):
    """Build the figure under :data:`RC` so that fonts and sizes never depend on the caller's rcParams."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with rc_context(RC):
            return func(*args, **kwargs)

    return wrapper


def _tick_label(t: str) -> str:
    fraction = threshold_fraction(t)
    return "CC" if fraction == 0 else fmt_percent(fraction)


def _label(instruments: Mapping[str, Instrument], inst: str, scale: str) -> str:
    """An outcome's title: the instrument's display name and the scale's label from its file
    (:meth:`Instrument.scale_title`); the raw names only for an instrument or scale not given."""
    try:
        return instruments[inst].scale_title(scale)
    except KeyError:
        return f"{inst} {scale}"


def _group_models(config: Mapping, group: str) -> list[str]:
    return list(config["groups"][group].get("ancova_models") or {})


def _grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    cols = max(1, min(max_cols, n))
    return math.ceil(max(n, 1) / cols), cols


def _frame(nrows: int, ncols: int, cell_w: float, cell_h: float, n_handles: int) -> dict:
    """Figure size and margins in inches -> fractions: room for titles, tick labels, legend and note."""
    width = max(cell_w * ncols, 7.5)
    ncol = max(1, min(n_handles, int(width // 1.9)))
    bottom = 0.75 + 0.2 * math.ceil(n_handles / ncol)
    top = 0.8
    height = cell_h * nrows + top + bottom
    return {
        "size": (width, height),
        "ncol": ncol,
        "height": height,
        "grid": {
            "left": 0.65 / width,
            "right": 1 - 0.15 / width,
            "top": 1 - top / height,
            "bottom": bottom / height,
        },
    }


def _outcomes(df: pd.DataFrame) -> list[tuple[str, str]]:
    return list(dict.fromkeys(zip(df["instrument"], df["scale"], strict=True)))


def _series(
    rows: pd.DataFrame, prefix: str, xs: Sequence[float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = pd.to_numeric(rows[f"{prefix}n"], errors="coerce").to_numpy(dtype=np.float64)
    p = pd.to_numeric(rows[f"{prefix}p"], errors="coerce").to_numpy(dtype=np.float64)
    sig = rows[f"{prefix}significant"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    return n, p, sig


def _thresholds(config: Mapping) -> tuple[list[str], list[float]]:
    """The configured thresholds in increasing order and their fractions (the x positions)."""
    thresholds = sorted(
        (format_threshold(t) for t in config["scoring"]["thresholds"]), key=threshold_fraction
    )
    return thresholds, [float(threshold_fraction(t)) for t in thresholds]


def _by_threshold(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with their threshold's fraction as ``_x``, sorted by it (stable)."""
    rows = rows.copy()
    rows["_x"] = rows["threshold"].map(lambda t: float(threshold_fraction(t)))
    return rows.sort_values("_x", kind="mergesort")


def _primary_line_and_grid(ax, primary: float) -> None:
    """The dotted primary-threshold line and the light grid behind the data of one panel."""
    ax.axvline(primary, color="0.4", ls=":", lw=0.9)
    ax.grid(True, color="0.92", lw=0.6)
    ax.set_axisbelow(True)


def _threshold_axis(ax, thresholds: Sequence[str], xs: Sequence[float]) -> None:
    """An x axis with one tick per threshold (``CC``, ``10%``, ...) and a small margin."""
    ax.set_xticks(xs)
    ax.set_xticklabels([_tick_label(t) for t in thresholds])
    ax.set_xlim(min(xs) - 0.04, max(xs) + 0.04)


def _note(fig: Figure, text: str, height: float) -> None:
    """The small grey note at the bottom centre of a sensitivity figure, below the legend."""
    fig.text(0.5, 0.06 / height, text, ha="center", va="bottom", fontsize=7, color="0.3")


def _analyses(config: Mapping, group: str, g: pd.DataFrame) -> list[tuple[str, str]]:
    """(name, column prefix) of the one-way ANOVA and every ANCOVA model of ``group`` in ``g``."""
    analyses = [("One-way ANOVA", "")] + [
        (f"ANCOVA {m}", f"ancova_{m}_") for m in _group_models(config, group)
    ]
    return [(name, pre) for name, pre in analyses if f"{pre}p" in g.columns]


def _p_axis_floor(
    g: pd.DataFrame, analyses: Sequence[tuple[str, str]], alpha: float
) -> tuple[pd.Series, float]:
    """The finite p-values of every analysis and the lower end of the p axis (a power of ten)."""
    pvals = pd.concat([pd.to_numeric(g[f"{pre}p"], errors="coerce") for _, pre in analyses])
    pvals = pvals[np.isfinite(pvals)]
    low = max(float(pvals.min()) if len(pvals) else alpha, P_FLOOR)
    return pvals, 10 ** math.floor(math.log10(min(low, alpha / 10)))


def _n_p_lines(ax_n, ax_p, rows: pd.DataFrame, analyses: Sequence[tuple[str, str]], xs, ylow: float) -> None:
    """One line per analysis in an outcome's n panel and p panel; filled p markers significant, open not."""
    x = rows["_x"].to_numpy(dtype=np.float64)
    for j, (_, pre) in enumerate(analyses):
        n, p, sig = _series(rows, pre, xs)
        colour = f"C{j % 10}"
        ls, mk = LINESTYLES[j % len(LINESTYLES)], MARKERS[j % len(MARKERS)]
        ax_n.plot(x, n, ls=ls, marker=mk, ms=3.5, lw=1.1, color=colour)
        pp = np.where(np.isfinite(p), np.maximum(p, ylow), np.nan)
        ax_p.plot(x, pp, ls=ls, lw=1.1, color=colour)
        ax_p.scatter(x[sig], pp[sig], marker=mk, s=18, color=colour, zorder=3)
        ax_p.scatter(x[~sig], pp[~sig], marker=mk, s=18, facecolors="white", edgecolors=colour, zorder=3)


def _n_p_cell(
    fig: Figure,
    cell,
    rows: pd.DataFrame,
    analyses: Sequence[tuple[str, str]],
    thresholds: Sequence[str],
    xs: Sequence[float],
    lines: Mapping[str, float],
    title: str,
    first_column: bool,
) -> None:
    """One outcome's cell: n (top), p on a log axis (bottom); ``lines``: primary, alpha, ylow."""
    ax_n = fig.add_subplot(cell[0])
    ax_p = fig.add_subplot(cell[1], sharex=ax_n)
    _n_p_lines(ax_n, ax_p, rows, analyses, xs, lines["ylow"])
    for ax in (ax_n, ax_p):
        _primary_line_and_grid(ax, lines["primary"])
    ax_p.axhline(lines["alpha"], color="firebrick", ls="--", lw=0.9)
    ax_p.set_yscale("log")
    ax_p.set_ylim(lines["ylow"], 1.5)
    ax_n.set_title("\n".join(textwrap.wrap(title, 34)))
    ax_n.tick_params(labelbottom=False)
    ax_n.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    _threshold_axis(ax_p, thresholds, xs)
    if first_column:
        ax_n.set_ylabel("n")
        ax_p.set_ylabel("p (log scale)")


def _n_p_legend(fig: Figure, analyses: Sequence[tuple[str, str]], alpha: float, frame: Mapping) -> None:
    """The n and p figure's legend: each analysis, the significance level, the primary threshold."""
    handles = [
        Line2D(
            [],
            [],
            color=f"C{j % 10}",
            ls=LINESTYLES[j % len(LINESTYLES)],
            marker=MARKERS[j % len(MARKERS)],
            ms=4,
            label=name,
        )
        for j, (name, _) in enumerate(analyses)
    ]
    handles += [
        Line2D([], [], color="firebrick", ls="--", label=f"significance level {fmt_g(alpha)}"),
        Line2D([], [], color="0.4", ls=":", label="primary threshold"),
    ]
    _legend(fig, handles, frame)


def _legend(fig: Figure, handles: list, frame: Mapping) -> None:
    """The figure's legend centred at the bottom, above the note, in the frame's number of columns."""
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=frame["ncol"],
        frameon=False,
        bbox_to_anchor=(0.5, 0.2 / frame["height"]),
    )


@_with_rc
def n_p_figure(
    summary: pd.DataFrame, config: Mapping, group: str, instruments: Mapping[str, Instrument]
) -> Figure:
    """Small multiples of n and p by threshold for every outcome of ``group`` (see module docstring)."""
    thresholds, xs = _thresholds(config)
    primary = float(threshold_fraction(config["scoring"]["primary_threshold"]))
    alpha = float(config["statistics"]["significance_level"])
    g = summary[summary["group"] == group]
    outcomes = _outcomes(g)
    analyses = _analyses(config, group, g)
    nrows, ncols = _grid(len(outcomes))
    frame = _frame(nrows, ncols, CELL_W, CELL_H, len(analyses) + 2)
    fig = Figure(figsize=frame["size"], dpi=DPI)
    FigureCanvasAgg(fig)
    label = config["groups"][group].get("label") or group
    fig.suptitle(
        f"{label}: n and p of the {grouping_words(config).noun} effect by replacement threshold", fontsize=10
    )
    outer = fig.add_gridspec(nrows, ncols, **frame["grid"], hspace=0.32, wspace=0.35)
    pvals, ylow = _p_axis_floor(g, analyses, alpha)
    lines = {"primary": primary, "alpha": alpha, "ylow": ylow}
    for k, (inst, scale) in enumerate(outcomes):
        rows = _by_threshold(g[(g["instrument"] == inst) & (g["scale"] == scale)])
        cell = outer[k // ncols, k % ncols].subgridspec(2, 1, height_ratios=[1, 1.7], hspace=0.08)
        title = _label(instruments, inst, scale)
        _n_p_cell(fig, cell, rows, analyses, thresholds, xs, lines, title, k % ncols == 0)
    _n_p_legend(fig, analyses, alpha, frame)
    note = "CC = complete-case analysis; filled markers: significant, open: not significant"
    if len(pvals) and float(pvals.min()) < ylow:
        note += f"; p below {fmt_g(ylow)} drawn at the axis floor"
    _note(fig, note + ".", frame["height"])
    return fig


def _changed(summary: pd.DataFrame, models: Sequence[str]) -> pd.Series:
    cols = ["changes_inference"] + [f"ancova_{m}_changes_inference" for m in models]
    cols = [c for c in cols if c in summary.columns]
    flags = pd.concat([summary[c].astype("boolean").fillna(False) for c in cols], axis=1)
    return flags.any(axis=1)


def _no_change_figure(label: str, config: Mapping) -> Figure:
    """The sentence that no outcome of the group changes its conclusion (instead of site means)."""
    fig = Figure(figsize=(6.0, 1.6), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.text(
        0.5,
        0.5,
        f"{label}: no outcome changes its conclusion about {grouping_words(config).noun} differences\n"
        f"between replacement thresholds, so there are no {grouping_words(config).noun} means to show.",
        ha="center",
        va="center",
        fontsize=9,
    )
    return fig


def _site_means_lines(ax, rows: pd.DataFrame, sites: Sequence[str]) -> None:
    """One line of means by threshold per site (colour by site) and the pooled mean (black, dashed)."""
    for j, site in enumerate([*sites, "All"]):
        r = _by_threshold(rows[rows["site"] == site])
        if site == "All":
            ax.plot(r["_x"], r["mean"], color="black", lw=1.8, ls="--", marker="o", ms=3)
        else:
            ax.plot(
                r["_x"],
                r["mean"],
                color=f"C{j % 10}",
                lw=1.1,
                marker=MARKERS[(j // 10) % len(MARKERS)],
                ms=3,
            )


def _site_means_panel(
    ax,
    rows: pd.DataFrame,
    sites: Sequence[str],
    thresholds: Sequence[str],
    xs: Sequence[float],
    primary: float,
    title: str,
) -> None:
    """One outcome's panel: the site means by threshold, the primary threshold, the outcome's title."""
    _site_means_lines(ax, rows, sites)
    _primary_line_and_grid(ax, primary)
    _threshold_axis(ax, thresholds, xs)
    ax.set_title("\n".join(textwrap.wrap(title, 38)))


def _site_means_legend(fig: Figure, sites: Sequence[str], config: Mapping, frame: Mapping) -> None:
    """The legend of the site-means figure: one entry per site, all sites pooled, the primary threshold."""
    handles = [
        Line2D([], [], color=f"C{j % 10}", marker=MARKERS[(j // 10) % len(MARKERS)], ms=3, label=site)
        for j, site in enumerate(sites)
    ]
    handles += [
        Line2D(
            [],
            [],
            color="black",
            ls="--",
            lw=1.8,
            marker="o",
            ms=3,
            label=f"All {grouping_words(config).nouns}",
        ),
        Line2D([], [], color="0.4", ls=":", label="primary threshold"),
    ]
    _legend(fig, handles, frame)


@_with_rc
def site_means_figure(
    summary: pd.DataFrame,
    shifts: pd.DataFrame,
    config: Mapping,
    group: str,
    instruments: Mapping[str, Instrument],
) -> Figure:
    """Site means by threshold for the outcomes of ``group`` whose inference changes.

    When none changes, the figure holds a sentence saying so (the file is always written).
    """
    thresholds, xs = _thresholds(config)
    primary = float(threshold_fraction(config["scoring"]["primary_threshold"]))
    label = config["groups"][group].get("label") or group
    g = summary[summary["group"] == group]
    flag = _changed(g, _group_models(config, group))
    changed = _outcomes(g[flag.to_numpy()])
    if not changed:
        return _no_change_figure(label, config)
    sites = site_names(config)
    nrows, ncols = _grid(len(changed), 3)
    frame = _frame(nrows, ncols, 3.4, 2.9, len(sites) + 2)
    fig = Figure(figsize=frame["size"], dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"{label}: {grouping_words(config).noun} means by replacement threshold "
        "(outcomes whose inference changes)",
        fontsize=10,
    )
    gs = fig.add_gridspec(nrows, ncols, **frame["grid"], hspace=0.5, wspace=0.3)
    s = shifts[shifts["group"] == group]
    for k, (inst, scale) in enumerate(changed):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        rows = s[(s["instrument"] == inst) & (s["scale"] == scale)]
        _site_means_panel(ax, rows, sites, thresholds, xs, primary, _label(instruments, inst, scale))
        if k % ncols == 0:
            ax.set_ylabel("mean score")
    _site_means_legend(fig, sites, config, frame)
    _note(fig, "CC = complete-case analysis; unadjusted means (descriptives).", frame["height"])
    return fig


def figure_bytes(fig: Figure, fmt: str) -> bytes:
    """Render ``fig`` as ``png`` or ``svg`` bytes without any date or software metadata."""
    with rc_context(RC):
        return plotting.figure_bytes(fig, fmt, DPI)


def figure_tasks(
    summary: pd.DataFrame,
    shifts: pd.DataFrame,
    config: Mapping,
    instruments: Mapping[str, Instrument],
) -> list:
    """``{group}_n_p`` and ``{group}_site_means`` for every configured group, one render task each
    (:func:`cocapp.presentation.plotting.render_task`)."""
    tasks = []
    for group in config["groups"]:
        tasks.append(
            plotting.render_task(
                n_p_figure, (summary, config, group, instruments), f"{group}_n_p", config, RC, DPI
            )
        )
        tasks.append(
            plotting.render_task(
                site_means_figure,
                (summary, shifts, config, group, instruments),
                f"{group}_site_means",
                config,
                RC,
                DPI,
            )
        )
    return tasks


def figure_files(
    summary: pd.DataFrame,
    shifts: pd.DataFrame,
    config: Mapping,
    instruments: Mapping[str, Instrument],
) -> dict[str, bytes]:
    """``{group}_n_p`` and ``{group}_site_means`` as PNG and SVG bytes for every configured group."""
    written: dict[str, bytes] = {}
    for task in figure_tasks(summary, shifts, config, instruments):
        written.update(task())
    return written
