"""Figures of the multiple-imputation analysis (PNG + SVG, deterministic bytes as the sensitivity figures).

- ``{group}_mi_convergence`` (stage ``impute``): per instrument, the mean (left) and SD (right) of the
  imputed answers — averaged over the instrument's items with something imputed — after each iteration,
  one line per chain; chains that mix and show no trend indicate convergence (van Buuren 2018 §6.5, what
  ``plot(mids)`` shows per variable).
- ``{group}_mi_site_means`` (stage ``sensitivity``): per outcome, site means with their confidence
  intervals under complete cases, person-mean replacement at the primary threshold and multiple
  imputation (pooled by Rubin's rules), side by side.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import rc_context  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from cocapp.config import site_names  # noqa: E402
from cocapp.formatting import fmt_percent  # noqa: E402
from cocapp.presentation import plotting  # noqa: E402
from cocapp.presentation.sensitivity_figures import DPI, RC, _label  # noqa: E402
from cocapp.words import grouping_words  # noqa: E402

__all__ = [
    "convergence_figure",
    "convergence_files",
    "site_means_comparison",
    "comparison_files",
    "comparison_tasks",
]


def convergence_figure(
    diagnostics: pd.DataFrame, config: Mapping, group: str, instruments: Mapping | None = None
) -> Figure:
    """Chain means and SDs of the imputed answers per iteration, one row per instrument of ``group``;
    panels are titled with the instrument's display name (``instruments``: key -> Instrument, loaded
    from the config's instrument files when not given)."""
    label = config["groups"][group].get("label") or group
    d = diagnostics[diagnostics["group"] == group]
    insts = list(pd.unique(d["instrument"]))
    if not insts:
        fig = Figure(figsize=(6.0, 1.6), dpi=DPI)
        FigureCanvasAgg(fig)
        fig.text(0.5, 0.5, f"{label}: no answer was missing, nothing was imputed.", ha="center", va="center")
        return fig
    fig = Figure(figsize=(7.0, 0.6 + 2.2 * len(insts)), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"{label}: convergence of the imputation chains (mean over items of the imputed answers)", fontsize=9
    )
    axes = fig.subplots(len(insts), 2, squeeze=False)
    for r, inst in enumerate(insts):
        di = d[d["instrument"] == inst]
        avg = di.groupby(["chain", "iteration"], sort=True)[["mean", "sd"]].mean().reset_index()
        for c, stat in enumerate(("mean", "sd")):
            stat_word = "mean" if stat == "mean" else "SD"
            ax = axes[r][c]
            for chain, g in avg.groupby("chain", sort=True):
                ax.plot(g["iteration"], g[stat], lw=0.8, color=f"C{(int(chain) - 1) % 10}")
            ax.set_title(f"{_display_name(instruments, config, inst)}: {stat_word} of imputed answers")
            ax.set_xlabel("iteration")
            ax.grid(True, color="0.92", lw=0.6)
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    return fig


def _display_name(instruments: Mapping | None, config: Mapping, key: str) -> str:
    """The instrument's name in figures (:attr:`cocapp.instruments.Instrument.display_name`)."""
    from cocapp.instruments import configured_instruments

    return configured_instruments(config, instruments)[key].display_name


def convergence_files(
    diagnostics: pd.DataFrame, config: Mapping, instruments: Mapping | None = None
) -> dict[str, bytes]:
    """``{group}_mi_convergence`` PNG and SVG bytes for every configured group (``instruments``: the
    configured instruments by key, as the stage loaded them; None: loaded through the config)."""
    out: dict[str, bytes] = {}
    with rc_context(RC):
        for group in config["groups"]:
            fig = convergence_figure(diagnostics, config, group, instruments)
            fig = plotting.stamp_data_note(fig, config)
            out.update(plotting.figure_files(fig, f"{group}_mi_convergence", dpi=DPI))
    return out


METHODS = ("complete cases", "person-mean replacement", "multiple imputation")


def site_means_comparison(table: pd.DataFrame, config: Mapping, group: str, instruments: Mapping) -> Figure:
    """Site means with CIs per outcome of ``group`` under the three methods of ``table`` (columns group,
    instrument, scale, method, site, mean, ci_low, ci_high)."""
    label = config["groups"][group].get("label") or group
    t = table[table["group"] == group]
    outcomes = list(dict.fromkeys(zip(t["instrument"], t["scale"], strict=True)))
    sites = site_names(config)
    ncols = 4
    nrows = max(1, -(-len(outcomes) // ncols))
    fig = Figure(figsize=(3.0 * ncols, 0.9 + 2.5 * nrows), dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"{label}: {grouping_words(config).noun} means with "
        f"{fmt_percent(config['statistics']['confidence_level'], sep=' ')} CI "
        "— complete cases, person-mean replacement (primary threshold), multiple imputation",
        fontsize=9,
    )
    gs = fig.add_gridspec(
        nrows,
        ncols,
        left=0.06,
        right=0.99,
        top=1 - 0.55 / fig.get_figheight(),
        bottom=0.6 / fig.get_figheight(),
        hspace=0.6,
        wspace=0.3,
    )
    offsets = dict(zip(METHODS, (-0.22, 0.0, 0.22), strict=True))
    for k, (inst, scale) in enumerate(outcomes):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        o = t[(t["instrument"] == inst) & (t["scale"] == scale)]
        for j, method in enumerate(METHODS):
            r = o[o["method"] == method].set_index("site").reindex(sites)
            x = np.arange(len(sites)) + offsets[method]
            ax.errorbar(
                x,
                r["mean"],
                yerr=[r["mean"] - r["ci_low"], r["ci_high"] - r["mean"]],
                fmt="o",
                ms=2.5,
                lw=0.8,
                capsize=1.5,
                color=f"C{j}",
            )
        ax.set_xticks(np.arange(len(sites)))
        ax.set_xticklabels([s[:3] for s in sites], fontsize=6.5)
        ax.set_title("\n".join(textwrap.wrap(_label(instruments, inst, scale), 34)), fontsize=7.5)
        ax.grid(True, axis="y", color="0.92", lw=0.6)
    handles = [Line2D([], [], color=f"C{j}", marker="o", ms=3, label=m) for j, m in enumerate(METHODS)]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    return fig


def comparison_tasks(table: pd.DataFrame, config: Mapping, instruments: Mapping) -> list:
    """``{group}_mi_site_means`` for every configured group, one render task each
    (:func:`cocapp.presentation.plotting.render_task`)."""
    return [
        plotting.render_task(
            site_means_comparison,
            (table, config, group, instruments),
            f"{group}_mi_site_means",
            config,
            RC,
            DPI,
        )
        for group in config["groups"]
    ]


def comparison_files(table: pd.DataFrame, config: Mapping, instruments: Mapping) -> dict[str, bytes]:
    """``{group}_mi_site_means`` PNG and SVG bytes for every configured group."""
    out: dict[str, bytes] = {}
    for task in comparison_tasks(table, config, instruments):
        out.update(task())
    return out
