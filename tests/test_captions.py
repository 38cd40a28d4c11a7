"""The captions of Snakemake's report (``snakemake --report``; rst files under
presentation/templates/captions) are Jinja templates rendered with the run's config, as Snakemake
renders them (``snakemake.config``): they speak the study's words, not COCAPP's."""

from __future__ import annotations

import types
from pathlib import Path

import jinja2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CAPTIONS = sorted((ROOT / "src" / "cocapp" / "presentation" / "templates" / "captions").glob("*.rst"))


def render(path: Path, config: dict) -> str:
    return (
        jinja2.Environment()
        .from_string(path.read_text("utf-8"))
        .render(snakemake=types.SimpleNamespace(config=config))
    )


@pytest.mark.parametrize("path", CAPTIONS, ids=lambda p: p.name)
def test_example_study_captions_speak_its_words(path):
    config = yaml.safe_load((ROOT / "examples" / "education" / "config.yaml").read_text("utf-8"))
    text = render(path, config)
    assert text.strip()
    for word in ("site", "Site", "COCAPP", "Simpson"):
        assert word not in text, f"{path.name}: {word!r} in {text!r}"


def test_default_captions_keep_the_default_words():
    config = yaml.safe_load((ROOT / "config.yaml").read_text("utf-8"))
    text = {p.stem: render(p, config) for p in CAPTIONS}
    assert text["site_figure"].startswith("Site means with 95% confidence intervals")
    assert "(p < 0.05 / p < 0.01)" in text["site_figure"]
    assert "each site's mean" in text["funnel_figure"] and "95% and 99.8%" in text["funnel_figure"]
    assert "complete cases to\n50% of items missing" in text["sensitivity_figure"]
    assert "Simpson" in text["published_figure"]


def test_abbreviated_grouping_keeps_its_capitals():
    config = {"grouping": {"label": "NHS trust"}, "statistics": {"confidence_level": 0.9}}
    text = render(next(p for p in CAPTIONS if p.stem == "site_figure"), config)
    assert text.startswith("NHS trust means with 90% confidence intervals") and "reference\nNHS trust" in text
