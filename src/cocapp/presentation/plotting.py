"""What every cocapp figure shares: byte-stable PNG/SVG writing and the synthetic-data stamp.

Deterministic bytes: matplotlib writes a creation date and its version into PNG and SVG metadata and
salts SVG ids randomly; the metadata are cleared and ``svg.hashsalt`` fixed, so the same figure gives
the same file on every run.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import rc_context  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

__all__ = [
    "FORMATS",
    "METADATA",
    "STABLE_RC",
    "figure_bytes",
    "figure_files",
    "render_task",
    "stamp_data_note",
]

FORMATS = ("png", "svg")
METADATA = {"png": {"Software": None, "Creation Time": None}, "svg": {"Date": None, "Creator": None}}
STABLE_RC = {"svg.hashsalt": "cocapp", "svg.fonttype": "path"}


def figure_bytes(fig: Figure, fmt: str, dpi: float | None = None) -> bytes:
    """Render ``fig`` as ``png`` or ``svg`` bytes without date or software metadata."""
    buf = io.BytesIO()
    with rc_context(STABLE_RC):
        fig.savefig(buf, format=fmt, dpi=dpi or fig.dpi, metadata=METADATA[fmt])
    return buf.getvalue()


def figure_files(
    fig: Figure, stem: str | Path, formats: tuple[str, ...] = FORMATS, dpi: float | None = None
) -> dict[str, bytes]:
    """``{"<stem>.png": bytes, "<stem>.svg": bytes}`` with byte-stable metadata (nothing written)."""
    return {f"{stem}.{fmt}": figure_bytes(fig, fmt, dpi) for fmt in formats}


def stamp_data_note(fig: Figure, config: Mapping) -> Figure:
    """Mark the figure "SYNTHETIC DATA" in its top-right corner when the config says the data are synthetic.

    The embedded default must be labelled synthetic wherever results are shown; a figure copied out of
    the report keeps the label.
    """
    if (config.get("study") or {}).get("synthetic"):
        fig.text(
            0.995,
            0.995,
            "SYNTHETIC DATA",
            ha="right",
            va="top",
            fontsize=7,
            fontweight="bold",
            color="#b00020",
        )
    return fig


def _render(
    make: Callable[..., Figure], args: tuple, stem: str, config: Mapping, rc, dpi
) -> dict[str, bytes]:
    with rc_context(rc or {}):
        fig = stamp_data_note(make(*args), config)
        return figure_files(fig, stem, dpi=dpi)


def render_task(
    make: Callable[..., Figure], args: tuple, stem: str, config: Mapping, rc: Mapping | None = None, dpi=None
) -> Callable[[], dict[str, bytes]]:
    """A no-argument callable that draws ``make(*args)`` under the style ``rc``, stamps the data note
    and returns ``{"<stem>.png": bytes, "<stem>.svg": bytes}``.

    Figures are independent of each other, so a stage may call these tasks in parallel processes
    (:func:`cocapp.stages.common.run_thunks`); the bytes are the same in any process.
    """
    return functools.partial(_render, make, args, stem, config, rc, dpi)
