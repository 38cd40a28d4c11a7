"""Shared figure helpers: deterministic bytes and the synthetic-data stamp."""

from matplotlib.figure import Figure

from cocapp.presentation.plotting import figure_bytes, save_figure, stamp_data_note


def small_figure() -> Figure:
    fig = Figure(figsize=(2, 1.5), dpi=72)
    fig.add_subplot().plot([1, 2, 3], [3, 1, 2])
    return fig


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.texts]


def test_stamp_only_when_config_says_synthetic():
    assert texts(stamp_data_note(small_figure(), {"study": {"synthetic": True}})) == ["SYNTHETIC DATA"]
    assert texts(stamp_data_note(small_figure(), {"study": {"synthetic": False}})) == []


def test_svg_carries_the_stamp_as_text_path_and_bytes_are_stable(tmp_path):
    fig = stamp_data_note(small_figure(), {"study": {"synthetic": True}})
    a = save_figure(fig, tmp_path / "a")
    b = save_figure(stamp_data_note(small_figure(), {"study": {"synthetic": True}}), tmp_path / "b")
    for x, y in zip(a, b, strict=True):
        assert x.read_bytes() == y.read_bytes()
    svg = figure_bytes(fig, "svg").decode()
    assert "<dc:date>" not in svg and "Matplotlib v" not in svg
    assert b"Software" not in figure_bytes(fig, "png")
