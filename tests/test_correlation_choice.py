"""Correlations between the scales a study chooses (``groups.<g>.correlations``): totals and/or
subscales, across or within instruments. Hand-checked against the textbook formula on a tiny table."""

import copy

import numpy as np
import pandas as pd
import pytest

from cocapp.config import ConfigError, correlation_measures, validate_config, with_defaults
from cocapp.presentation.outputs import correlation_groups, figure_specs, table_specs
from cocapp.stats.compare import compare_sites

SITES = ["North", "South"]


def scores_table() -> pd.DataFrame:
    """Six respondents, RSA choice and life_goals subscales and the STAR-P total, one threshold;
    respondent 6 has no STAR-P total (pairwise deletion)."""
    choice = [1.0, 2.0, 3.0, 4.0, 5.0, 2.5]
    goals = [2.0, 1.0, 4.0, 3.0, 5.0, 4.5]
    starp = [10.0, 14.0, 12.0, 20.0, 18.0, None]
    rows = []
    for i in range(6):
        site = SITES[i % 2]
        for inst, scale, value in (("RSA", "choice", choice[i]), ("RSA", "life_goals", goals[i])):
            rows.append((f"R{i}", site, inst, scale, value))
        if starp[i] is not None:
            rows.append((f"R{i}", site, "STAR-P", "total", starp[i]))
    frame = pd.DataFrame(rows, columns=["id", "site", "instrument", "scale", "score"])
    frame["threshold"] = "0.5"
    return frame


def textbook_r(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    dx, dy = x - x.mean(), y - y.mean()
    return float((dx * dy).sum() / np.sqrt((dx**2).sum() * (dy**2).sum()))


MEASURES = [
    ("RSA.choice", "RSA", "choice"),
    ("RSA.life_goals", "RSA", "life_goals"),
    ("STAR-P", "STAR-P", "total"),
]


def test_chosen_subscales_within_and_across_instruments():
    out = compare_sites(
        scores_table(),
        ["RSA", "STAR-P"],
        SITES,
        "users",
        "0.5",
        alpha=0.05,
        confidence=0.95,
        measures=MEASURES,
    )["correlations"]
    pooled = out[out.site == "All"].set_index(["x", "y"])
    assert list(pooled.index) == [
        ("RSA.choice", "RSA.life_goals"),
        ("RSA.choice", "STAR-P"),
        ("RSA.life_goals", "STAR-P"),
    ]
    choice, goals, starp = [1, 2, 3, 4, 5, 2.5], [2, 1, 4, 3, 5, 4.5], [10, 14, 12, 20, 18]
    assert pooled.loc[("RSA.choice", "RSA.life_goals"), "r"] == pytest.approx(
        textbook_r(choice, goals), rel=1e-12
    )
    assert pooled.loc[("RSA.choice", "RSA.life_goals"), "n"] == 6
    assert pooled.loc[("RSA.life_goals", "STAR-P"), "r"] == pytest.approx(
        textbook_r(goals[:5], starp), rel=1e-12
    )
    assert pooled.loc[("RSA.life_goals", "STAR-P"), "n"] == 5
    north = out[(out.site == "North") & (out.x == "RSA.choice") & (out.y == "RSA.life_goals")]
    assert float(north.r.iloc[0]) == pytest.approx(textbook_r([1, 3, 5], [2, 4, 5]), rel=1e-12)


def test_default_is_every_instrument_total(tiny_config):
    assert correlation_measures(tiny_config, "users") == [
        ("RSA", "RSA", "total"),
        ("STAR-P", "STAR-P", "total"),
    ]
    assert correlation_groups(tiny_config) == ["users"]


def test_config_chooses_the_scales_and_the_outputs_follow(tiny_config):
    cfg = copy.deepcopy(tiny_config)
    chosen = [{"instrument": i, "scale": s} for _, i, s in MEASURES]
    cfg["groups"]["users"]["correlations"] = chosen
    cfg["groups"]["staff"]["correlations"] = chosen[:2]  # within one instrument
    with_defaults(validate_config(cfg))
    assert correlation_groups(cfg) == ["users", "staff"]
    scatters = [s.stem for s in figure_specs(cfg) if s.kind == "scatter"]
    assert scatters == [
        "correlations/users/RSA.choice_RSA.life_goals",
        "correlations/users/RSA.choice_STAR-P",
        "correlations/users/RSA.life_goals_STAR-P",
        "correlations/staff/RSA.choice_RSA.life_goals",
    ]
    assert [k for k, _ in table_specs(cfg) if "correlations" in k] == [
        "table4_correlations_users",
        "table5_correlations_staff",
    ]


@pytest.mark.parametrize(
    "measure, message",
    [
        (
            {"instrument": "ES", "scale": "total"},
            "key groups.staff.correlations.1.instrument: 'ES' is not one of",
        ),
        (
            {"instrument": "RSA", "scale": "hope"},
            "key groups.staff.correlations.1.scale: RSA has no scale 'hope'",
        ),
    ],
)
def test_a_wrong_measure_names_its_key(tiny_config, measure, message):
    cfg = copy.deepcopy(tiny_config)
    cfg["groups"]["staff"]["correlations"] = [{"instrument": "RSA", "scale": "total"}, measure]
    with pytest.raises(ConfigError, match=message):
        validate_config(cfg)
