"""Figures speak the instrument files' names, never the instruments' keys (issue 13).

Every text drawn on a figure (titles, axis labels, tick labels, legends, footers) is collected from the
matplotlib objects themselves, for the example study (whose instrument keys PERS and SWLS differ from
their names) and for a study whose COCAPP instruments lose their ``short_name``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from cocapp.config import load_config
from cocapp.instruments import load_instrument
from cocapp.presentation import figures as FG
from cocapp.presentation import mi_figures as MF
from cocapp.presentation import plotting
from cocapp.presentation import report as RP
from cocapp.presentation import sensitivity_figures as SF
from cocapp.presentation.outputs import figure_specs

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "education"
KEYS = re.compile(r"\b(PERS|SWLS)\b")


def texts(fig) -> list[str]:
    """Every non-empty text drawn on ``fig`` (a long one wrapped onto lines read as one line)."""
    return [" ".join(t.get_text().split("\n")) for t in fig.findobj(Text) if t.get_text().strip()]


@pytest.fixture
def example_config() -> dict:
    config = load_config(EXAMPLE / "config.yaml")
    config["instrument_paths"] = [str(EXAMPLE / "instruments")]
    return config


@pytest.fixture
def capture(monkeypatch) -> dict:
    """``plotting.figure_files`` replaced by a recorder: stem -> the Figure that would be written."""
    drawn: dict = {}

    def record(fig, stem, *args, **kwargs):
        drawn[stem] = fig
        return {}

    monkeypatch.setattr(plotting, "figure_files", record)
    return drawn


def _desc(config: dict) -> pd.DataFrame:
    """Descriptives of every scale of the example study's group at the primary threshold."""
    rows = []
    paths = config["instrument_paths"]
    for key in config["groups"]["respondents"]["instruments"]:
        inst = load_instrument(key, paths)
        for k, scale in enumerate(inst.scale_keys):
            for i, site in enumerate(s["name"] for s in config["sites"]):
                mean = 2.0 + 0.1 * i + k
                rows.append(
                    dict(
                        group="respondents",
                        instrument=key,
                        scale=scale,
                        threshold="0.2",
                        site=site,
                        n=40 + i,
                        mean=mean,
                        sd=0.5,
                        ci_low=mean - 0.2,
                        ci_high=mean + 0.2,
                    )
                )
    return pd.DataFrame(rows)


def test_display_name_is_short_name_else_name():
    star = load_instrument("STAR-P")
    assert (star.name, star.short_name, star.display_name) == (
        "Scale To Assess the therapeutic Relationship, patient version",
        "STAR-P",
        "STAR-P",
    )
    assert star.scale_phrase("total") == "total STAR-P"
    assert star.scale_phrase("positive_collaboration") == "positive collaboration STAR-P"
    assert star.scale_title("total") == "STAR-P Total"
    swls = load_instrument("SWLS", [EXAMPLE / "instruments"])
    assert swls.display_name == "Life satisfaction (example, 5 items)"
    assert swls.scale_title("total") == "Life satisfaction (example, 5 items) Life satisfaction"


def test_example_figures_show_names_not_keys(example_config, capture):
    FG.draw_all(example_config, {"descriptives": _desc(example_config)}, {})
    assert set(capture) == {s.stem for s in figure_specs(example_config)}
    drawn = {stem: texts(fig) for stem, fig in capture.items()}
    for stem, words in drawn.items():
        assert not [w for w in words if KEYS.search(w)], (stem, words)
    swls = drawn["sites/respondents/SWLS_total"]
    title = "Mean life satisfaction Life satisfaction (example, 5 items) score for Respondents ± 95% CI"
    assert title in swls
    assert "Life satisfaction (example, 5 items) Life satisfaction (5–35)" in swls
    extra = drawn["sites/respondents/PERS_extraversion"]
    assert "Five-factor personality short form (example) Extraversion (1–5)" in extra
    scatter = next(w for stem, w in drawn.items() if stem.startswith("correlations/"))
    assert any(w.startswith("Five-factor personality short form (example) ") for w in scatter), scatter


def test_many_groups_figures_show_names_not_keys(example_config, capture):
    example_config["statistics"]["funnel"] = {"site_threshold": 2}
    FG.draw_all(example_config, {"descriptives": _desc(example_config)}, {})
    kinds = {s.stem: s.kind for s in figure_specs(example_config)}
    assert {"funnel", "caterpillar"} <= set(kinds.values())
    for stem, fig in capture.items():
        words = texts(fig)
        assert not [w for w in words if KEYS.search(w)], (stem, words)
        if kinds[stem] in ("funnel", "caterpillar") and stem.endswith("SWLS_total"):
            assert "Life satisfaction (example, 5 items) Life satisfaction (5–35)" in words


def test_report_captions_show_names_not_keys(example_config):
    example_config["statistics"]["funnel"] = {"site_threshold": 2}
    specs = figure_specs(example_config)
    example_config["statistics"]["funnel"] = {"site_threshold": 30}
    specs += figure_specs(example_config)
    captions = [RP._figure_caption(s, example_config) for s in specs]
    assert len({s.kind for s in specs}) == 4  # sites, funnel, caterpillar, scatter
    assert not [c for c in captions if KEYS.search(c)]
    assert any("Mean Life satisfaction (example, 5 items) life satisfaction score" in c for c in captions)


def test_without_short_name_the_default_instruments_show_their_names(capture):
    """A COCAPP instrument without ``short_name`` is drawn with its ``name`` (the key never shows)."""
    from dataclasses import replace

    from cocapp.instruments import configured_instruments

    config = load_config(ROOT / "config.yaml")
    no_short = {k: replace(inst, short_name="") for k, inst in configured_instruments(config).items()}
    FG.draw_all(config, {}, {}, no_short)
    fig = capture["published_fig3"]
    words = texts(fig)
    name = "Scale To Assess the therapeutic Relationship, patient version"
    assert f"Fig. 3 Mean total {name} score" in " ".join(words)
    assert not [w for w in words if re.search(r"\bSTAR-P\b", w)], words


def _summary(config: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, shifts = [], []
    for t in ("0.0", "0.2", "0.4"):
        for scale in ("extraversion", "total"):
            inst = "PERS" if scale == "extraversion" else "SWLS"
            rows.append(
                dict(
                    group="respondents",
                    instrument=inst,
                    scale=scale,
                    threshold=t,
                    n=100,
                    p=0.01 if t == "0.4" else 0.2,
                    significant=t == "0.4",
                    changes_inference=True,
                )
            )
            for site in [s["name"] for s in config["sites"]] + ["All"]:
                shifts.append(
                    dict(group="respondents", instrument=inst, scale=scale, threshold=t, site=site, mean=3.0)
                )
    return pd.DataFrame(rows), pd.DataFrame(shifts)


def test_sensitivity_and_mi_figures_show_names_not_keys(example_config):
    paths = example_config["instrument_paths"]
    instruments = {k: load_instrument(k, paths) for k in ("PERS", "SWLS")}
    summary, shifts = _summary(example_config)
    figs = [
        SF.n_p_figure(summary, example_config, "respondents", instruments),
        SF.site_means_figure(summary, shifts, example_config, "respondents", instruments),
    ]
    diag = pd.DataFrame(
        [
            dict(group="respondents", instrument=k, item=k, chain=c, iteration=i, mean=3.0 + i, sd=1.0)
            for k in ("PERS", "SWLS")
            for c in (1, 2)
            for i in (1, 2, 3)
        ]
    )
    figs.append(MF.convergence_figure(diag, example_config, "respondents"))
    table = pd.DataFrame(
        [
            dict(
                group="respondents",
                instrument="SWLS",
                scale="total",
                method=m,
                site=s["name"],
                mean=20.0,
                ci_low=19.0,
                ci_high=np.float64(21.0),
            )
            for m in MF.METHODS
            for s in example_config["sites"]
        ]
    )
    figs.append(MF.site_means_comparison(table, example_config, "respondents", instruments))
    words = [w for f in figs for w in texts(f)]
    assert not [w for w in words if KEYS.search(w)], words
    joined = "\n".join(words)
    assert "Five-factor personality short form (example): mean of imputed answers" in joined
    assert "Life satisfaction (example, 5 items)" in joined


def test_many_groups_figures_speak_the_grouping_words(example_config, capture):
    """Funnel and caterpillar plots name the grouping from config (here: education levels), not sites."""
    example_config["statistics"]["funnel"] = {"site_threshold": 2}
    FG.draw_all(example_config, {"descriptives": _desc(example_config)}, {})
    funnel = texts(capture["sites/respondents/SWLS_total_funnel"])
    caterpillar = texts(capture["sites/respondents/SWLS_total_caterpillar"])
    for words in (funnel, caterpillar):
        assert not [w for w in words if re.search(r"\bsites?\b", w, re.I)], words
    assert "Precision (n / pooled within-education level variance)" in funnel
    assert any(w.startswith("4 education levels; target = overall mean; ") for w in funnel), funnel
    assert "Education levels ranked by mean (4)" in caterpillar
    assert any(w.endswith("score for Respondents by education level, ranked") for w in caterpillar)


def test_many_groups_figures_keep_the_default_words(example_config, capture):
    """Without ``grouping`` in the config the words are the default's: sites."""
    example_config["statistics"]["funnel"] = {"site_threshold": 2}
    del example_config["grouping"]
    FG.draw_all(example_config, {"descriptives": _desc(example_config)}, {})
    funnel = texts(capture["sites/respondents/SWLS_total_funnel"])
    caterpillar = texts(capture["sites/respondents/SWLS_total_caterpillar"])
    assert "Precision (n / pooled within-site variance)" in funnel
    assert any(w.startswith("4 sites; target = overall mean; ") for w in funnel), funnel
    assert "Sites ranked by mean (4)" in caterpillar


def test_table_and_verdict_labels_use_names_not_keys(example_config):
    """The correlation table's row labels and the verdict's outcome labels (also the report's analysis
    tables) come from the instrument files as well."""
    from cocapp.presentation.tables import _measure_label
    from cocapp.stats.sensitivity import outcome_label

    paths = example_config["instrument_paths"]
    instruments = {k: load_instrument(k, paths) for k in ("PERS", "SWLS")}
    swls = instruments["SWLS"]
    assert _measure_label(example_config, "SWLS", "total") == swls.display_name == swls.name
    labels = [
        _measure_label(example_config, "PERS", "extraversion"),
        outcome_label("SWLS", "total", instruments),
    ]
    labels.append(outcome_label("PERS", "extraversion", instruments))
    assert labels[1] == f"{swls.name} {swls.scale('total').label}"
    assert (
        labels[0]
        == labels[2]
        == f"{instruments['PERS'].name} {instruments['PERS'].scale('extraversion').label}"
    )
    assert not [x for x in labels if KEYS.search(x)]
    # the default's instruments name themselves by their short names, which are the paper's (unchanged)
    rsa = {"RSA": load_instrument("RSA", [])}
    assert outcome_label("RSA", "choice", rsa) == "RSA Choice"
    assert outcome_label("XYZ", "total", rsa) == "XYZ total"  # not given: the raw names
