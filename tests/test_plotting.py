"""Shared figure helpers: deterministic bytes and the synthetic-data stamp."""

from matplotlib.figure import Figure

from cocapp.presentation.plotting import figure_bytes, figure_files, stamp_data_note


def small_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5), dpi=72)
    fig.add_subplot().plot([1, 2, 3], [3, 1, 2])
    return fig


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_stamp_only_when_config_says_synthetic():
    assert texts(stamp_data_note(small_figure(), {"study": {"synthetic": True}})) == ["SYNTHETIC DATA"]
    assert texts(stamp_data_note(small_figure(), {"study": {"synthetic": False}})) == []


def test_svg_carries_the_stamp_as_text_path_and_bytes_are_stable():
    fig = stamp_data_note(small_figure(), {"study": {"synthetic": True}})
    a = figure_files(fig, "sites/a")
    b = figure_files(stamp_data_note(small_figure(), {"study": {"synthetic": True}}), "sites/a")
    assert list(a) == ["sites/a.png", "sites/a.svg"]
    assert a == b
    svg = figure_bytes(fig, "svg").decode()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert b"Software" not in figure_bytes(fig, "png")
