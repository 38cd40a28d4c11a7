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
