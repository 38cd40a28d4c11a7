"""Figures: Fig. 3 layout (reference site, Tukey marks, y-range), scatter line, byte-stable files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cocapp.presentation import figures as FG
from cocapp.presentation.outputs import figure_files

FIX = Path(__file__).parent / "fixtures" / "publication"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]


@pytest.fixture(scope="module")
def config(publication_config) -> dict:
    return publication_config


@pytest.fixture(scope="module")
def drawn(publication_reports) -> Path:
    """The figures stage's output on the publication fixture (``reports/figures``)."""
    return publication_reports / "reports" / "figures"


def _desc(means, half=1.0):
    return pd.DataFrame(
        {"site": SITES, "mean": means, "ci_low": np.array(means) - half, "ci_high": np.array(means) + half}
    )


def test_specs_cover_every_outcome_and_the_published_figure(config):
    specs = FG.figure_specs(config)
    sites = [s for s in specs if s.kind == "sites" and not s.label]
    assert len(sites) == 16 + 6  # every scale of every group
    assert [s.stem for s in specs if s.kind == "scatter"] == [
        "correlations/service_users/RSA_STAR-P",
        "correlations/service_users/RSA_ES",
        "correlations/service_users/STAR-P_ES",
    ]
    (fig3,) = [s for s in specs if s.label]
    assert (fig3.stem, fig3.group, fig3.instrument, fig3.scale) == (
        "published_fig3",
        "service_users",
        "STAR-P",
        "total",
    )


def test_stage_writes_exactly_the_declared_files(drawn, config):
    written = sorted(p.relative_to(drawn.parents[1]).as_posix() for p in drawn.rglob("*") if p.is_file())
    assert written == sorted(figure_files(config))
    assert len(written) == 2 * (22 + 3 + 1)  # PNG and SVG: every outcome, every pair, the published figure


def test_files_carry_no_timestamp_or_version(drawn):
    png = (drawn / "published_fig3.png").read_bytes()
    assert png.startswith(b"\x89PNG") and b"Software" not in png and b"matplotlib" not in png.lower()
    svg = (drawn / "published_fig3.svg").read_text("utf-8")
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg and "<svg" in svg


def test_redrawing_gives_identical_bytes(drawn, config, publication_stats, publication_scores):
    stats_ = {name: publication_stats[name] for name in ("descriptives", "tukey", "correlations")}
    again = FG.draw_all(config, stats_, publication_scores)
    assert sorted(again) == sorted(p.relative_to(drawn).as_posix() for p in drawn.rglob("*") if p.is_file())
    for stem in ("published_fig3", "sites/care_coordinators/RSA_choice", "correlations/service_users/RSA_ES"):
        for fmt in ("png", "svg"):
            assert again[f"{stem}.{fmt}"] == (drawn / f"{stem}.{fmt}").read_bytes(), stem


def test_site_plot_marks_reference_and_tukey_results():
    tukey = pd.DataFrame(
        {
            "site_a": ["Artois", "Burgundy", "Burgundy", "Burgundy", "Burgundy", "Artois"],
            "site_b": ["Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence", "Provence"],
            "p_adj": [0.03, 0.2, 0.0005, 0.9, 0.01, 0.0001],  # last pair does not involve the reference
        }
    )
    fig = FG.site_plot(
        _desc([34.5, 38.5, 34.1, 33.5, 36.1, 32.3]),
        tukey,
        SITES,
        "Burgundy",
        (0.0, 48.0),
        "STAR-P total",
        "t",
        alpha=0.05,
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Artois",
        "Burgundy #",
        "Champagne",
        "Dauphine",
        "Languedoc",
        "Provence",
    ]
    assert ax.get_ylim() == (0.0, 48.0)
    marks = {round(t.get_position()[0]): t.get_text() for t in ax.texts}
    # Artois * (0.03); Dauphine ** (0.0005); Provence * (0.01 is not below 0.01); Champagne, Languedoc none
    assert marks == {0: "*", 3: "**", 5: "*"}


def test_site_plot_without_reference_or_tukey():
    fig = FG.site_plot(_desc([3.0] * 6, 0.1), None, SITES, None, (1.0, 5.0), "RSA total", "t")
    ax = fig.axes[0]
    assert "#" not in "".join(t.get_text() for t in ax.get_xticklabels())
    assert len(ax.texts) == 0


def test_scatter_line_is_the_least_squares_fit():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = 2 * x + 1  # exact line: the fit must pass through every point
    fig = FG.scatter_plot(x, y, "x", "y", "t", r=1.0, n=4, p=0.0)
    (line,) = fig.axes[0].lines
    xs, ys = line.get_data()
    assert np.allclose(ys, 2 * np.asarray(xs) + 1)
    assert "r = 1.000, n = 4, p < 0.001" in fig.axes[0].texts[0].get_text()


def test_scatter_shows_points_at_the_scale_maximum_and_keeps_the_label_off_the_data():
    """Issue 14: points at the scale's maximum (and minimum) are drawn whole (limits = the scale's range
    plus a margin), and the r/n/p label is drawn above the axes, outside the area holding the points."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    x = np.array([1.0, 5.0, 5.0, 3.0, 1.0])  # scale 1-5: points on both limits and in the top-left corner
    y = np.array([60.0, 60.0, 12.0, 40.0, 12.0])  # scale 12-60
    fig = FG.scatter_plot(x, y, "x", "y", "t", 0.5, 5, 0.2, (1.0, 5.0), (12.0, 60.0))
    ax = fig.axes[0]
    assert ax.get_xlim() == pytest.approx((1.0 - 0.16, 5.0 + 0.16))
    assert ax.get_ylim() == pytest.approx((12.0 - 1.92, 60.0 + 1.92))
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    label = ax.texts[0].get_window_extent(renderer)
    axes_box = ax.get_window_extent(renderer)
    assert label.y0 >= axes_box.y1  # above the axes: cannot cover a point
    title = ax.title.get_window_extent(renderer)
    assert not label.overlaps(title)
    # every point's marker lies inside the axes (not clipped at the edge)
    pts = ax.transData.transform(np.column_stack([x, y]))
    assert (pts[:, 0] > axes_box.x0 + 2).all() and (pts[:, 0] < axes_box.x1 - 2).all()
    assert (pts[:, 1] > axes_box.y0 + 2).all() and (pts[:, 1] < axes_box.y1 - 2).all()
    # a point outside the scale's range widens the axes instead of vanishing
    fig2 = FG.scatter_plot(
        np.array([1.0, 6.0]), np.array([12.0, 61.0]), "x", "y", "t", 1.0, 2, 0.5, (1.0, 5.0), (12.0, 60.0)
    )
    assert fig2.axes[0].get_xlim()[1] > 6.0 and fig2.axes[0].get_ylim()[1] > 61.0


def test_large_scatter_is_rasterized_in_svg_small_one_stays_vector():
    """Beyond SCATTER_VECTOR_POINTS points the SVG holds the cloud as one embedded image (a national
    study's 10^6 points made 100 MB SVGs); below it every point is a vector marker."""
    from cocapp.presentation.plotting import figure_bytes

    rng = np.random.default_rng(3)

    def svg(n: int) -> str:
        x = rng.normal(3, 1, n)
        fig = FG.scatter_plot(x, x + rng.normal(0, 1, n), "x", "y", "t", 0.7, n, 0.001, (1, 5), (1, 5))
        return figure_bytes(fig, "svg").decode("utf-8")

    small, large = svg(300), svg(FG.SCATTER_VECTOR_POINTS + 1)
    assert "<image" not in small and small.count("<use ") >= 300
    assert "<image" in large and large.count("<use ") < 100 and len(large) < 500_000  # glyphs only
