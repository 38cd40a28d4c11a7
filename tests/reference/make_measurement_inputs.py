"""Write the input fixtures of the measurement tests (reliability, missingness, normality, descriptives,
reference values). Run once (fixed seed); the outputs are committed and read by measurement.R (goldens)
and by tests/test_{reliability,missingness,normality,descriptives,reference}.py.

Writes under tests/reference/inputs/:
- measurement_items.csv: 400 generated respondents in the layout of ingest/{group}_items.csv (raw
  printed answers; 8 = not applicable, 9 = no response, empty = system-missing) for RSA, STAR-P, ES and
  the fixture instrument EDGE. Items load on one latent trait per scale (so alphas are realistic),
  reverse-keyed items are written as printed, and missingness depends on a respondent propensity and on
  the latent trait (not MCAR), with some respondents answering no item of an instrument.
- measurement_scores.csv: long scores (scores/by_threshold layout) at thresholds 0.0 and 0.5, drawn
  directly from chosen distributions (normal, skewed, heavy-tailed, constant) - not made by cocapp.
- measurement_config.yaml and measurement_instruments/{STAR-P,ES,EDGE}.yaml: a config with five sites
  (the last has no respondent) and instrument files whose ``reference`` blocks hold FIXTURE values
  (made up for the tests, not published reference values). RSA stays the shipped file (empty block).

EDGE (fixture, 7 items, 1-5, item 6 reverse keyed) has one scale per edge case: ``single`` (item 1),
``constant`` (items 2, 3: every answer 3), ``sparse`` (items 4, 5: only one respondent answers both),
``pair`` (items 1, 6), ``allmiss`` (items 5, 7: item 7 never answered), ``total`` (all 7).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).parent
INPUTS = HERE / "inputs"
INSTR = INPUTS / "measurement_instruments"
BUILTIN = HERE.parents[1] / "src" / "cocapp" / "instruments"

rng = np.random.default_rng(20260523)
N = 400
SITES = ["Alpha", "Beta", "Gamma", "Delta", "Epsilon"]

# -- instrument definitions (as in the shipped files / EDGE below) ---------------------------------
RSA = {
    "prefix": "rsa_{:02d}",
    "k": 36,
    "lo": 1,
    "hi": 5,
    "reverse": [],
    "scales": [
        [10, 11, 14, 16, 17, 18, 19, 20, 21, 22],
        [4, 12, 15, 23, 24, 25],
        [1, 9, 26, 27, 28],
        [3, 6, 7, 13, 29],
        [2, 5, 8, 30, 31],
        [32, 33, 34, 35, 36],
    ],
}
STARP = {
    "prefix": "starp_{:02d}",
    "k": 12,
    "lo": 0,
    "hi": 4,
    "reverse": [4, 8, 12],
    "scales": [[1, 3, 5, 7, 9, 11], [2, 6, 10], [4, 8, 12]],
}
ES = {
    "prefix": "es_{:02d}",
    "k": 28,
    "lo": 1,
    "hi": 4,
    "reverse": [1, 2, 5, 6, 9, 11, 12, 13, 14, 15, 18, 19, 20, 24, 25, 26, 27, 28],
    "scales": [
        [5, 6, 9, 18, 19, 24, 26],
        [8, 10, 16, 17, 21, 22, 23],
        [2, 11, 20, 25, 27, 28],
        [1, 12, 13, 14],
        [3, 4, 7, 15],
    ],
}

site = rng.choice(SITES[:3], N, p=[0.4, 0.35, 0.25]).astype(object)
site[N - 1] = "Delta"  # a site with one respondent; Epsilon has none
data: dict[str, object] = {
    "row": np.arange(1, N + 1),
    "id": [f"M{i:03d}" for i in range(1, N + 1)],
    "site": site,
}
general = rng.normal(size=N)


def items_for(spec: dict, loading: float, miss_base: float, codes: list[float], p_codes: list[float]) -> None:
    k, lo, hi = spec["k"], spec["lo"], spec["hi"]
    keyed = np.empty((N, k))
    for s_items in spec["scales"]:
        trait = 0.6 * general + 0.8 * rng.normal(size=N)
        for i in s_items:
            cont = (lo + hi) / 2 + (hi - lo) / 4 * (loading * trait + rng.normal(size=N) * (1.1 - loading))
            keyed[:, i - 1] = np.clip(np.rint(cont), lo, hi)
    printed = keyed.copy()
    rev = [i - 1 for i in spec["reverse"]]
    printed[:, rev] = lo + hi - keyed[:, rev]
    propensity = rng.beta(0.6, 4.0, N) * miss_base / 0.13 + 0.05 * (general < -1)
    none = rng.random(N) < 0.03  # answered no item of this instrument
    for i in range(k):
        item_rate = rng.uniform(0.3, 1.7)
        miss = (rng.random(N) < np.clip(propensity * item_rate, 0, 1)) | none
        code = rng.choice(codes, N, p=p_codes)
        col = printed[:, i].copy()
        col[miss] = code[miss]
        data[spec["prefix"].format(i + 1)] = col


items_for(RSA, 0.75, 0.12, [8.0, 9.0, np.nan], [0.6, 0.25, 0.15])
items_for(STARP, 0.8, 0.03, [8.0, 9.0, np.nan], [0.1, 0.5, 0.4])
items_for(ES, 0.55, 0.035, [8.0, 9.0, np.nan], [0.1, 0.5, 0.4])

# EDGE: hand-shaped edge cases
e1 = rng.integers(1, 6, N).astype(float)
e1[rng.random(N) < 0.1] = 9.0
e6_keyed = np.clip(np.rint(e1 + rng.normal(0, 1, N)), 1, 5)
e6_keyed[e1 == 9.0] = 3
e6 = 6 - e6_keyed  # printed (reverse keyed item)
e6[rng.random(N) < 0.1] = np.nan
e2 = np.full(N, 3.0)
e2[rng.random(N) < 0.1] = 8.0
e3 = np.full(N, 3.0)
e3[rng.random(N) < 0.1] = np.nan
e4 = rng.integers(1, 6, N).astype(float)
e4[0] = 2.0
e5 = np.full(N, 9.0)
e5[0] = 4.0  # the only answer to item 5: respondent 1 is the one complete case of `sparse`
e7 = rng.choice([8.0, 9.0, np.nan], N)
for i, col in enumerate([e1, e2, e3, e4, e5, e6, e7], start=1):
    data[f"edge_{i}"] = col

items = pd.DataFrame(data)
INPUTS.mkdir(exist_ok=True)
items.to_csv(INPUTS / "measurement_items.csv", index=False, lineterminator="\n", float_format="%.0f")

# -- scores fixture (drawn directly; not computed by cocapp) -----------------------------------------
score_scales = {
    "RSA": [
        ("life_goals", "normal", 3.4, 0.9),
        ("involvement", "normal", 2.8, 1.0),
        ("diversity_of_treatment_options", "normal", 3.0, 0.9),
        ("choice", "left", 3.7, 0.8),
        ("individually_tailored_services", "normal", 3.1, 1.0),
        ("total", "normal", 3.2, 0.8),
    ],
    "STAR-P": [
        ("positive_collaboration", "left", 18.0, 5.0),
        ("positive_clinician_input", "normal", 8.3, 2.5),
        ("non_supportive_clinician_input", "right", 8.8, 2.5),
        ("total", "heavy", 35.0, 9.0),
    ],
    "ES": [
        ("self_esteem_self_efficacy", "normal", 2.6, 0.5),
        ("power_powerlessness", "normal", 2.5, 0.4),
        ("community_activism_autonomy", "normal", 3.1, 0.4),
        ("optimism_control_future", "uniform", 2.6, 0.5),
        ("righteous_anger", "normal", 2.3, 0.5),
        ("total", "normal", 2.65, 0.3),
    ],
    "EDGE": [
        ("single", "first2", 3.0, 1.0),
        ("constant", "constant", 3.0, 0.0),
        ("sparse", "first3", 3.0, 1.0),
        ("pair", "normal", 3.0, 0.8),
        ("allmiss", "none", 0, 0),
        ("total", "first4", 3.0, 1.0),
    ],
}


def draw(kind: str, mean: float, sd: float) -> np.ndarray:
    if kind == "normal":
        return rng.normal(mean, sd, N)
    if kind == "left":  # long left tail
        return mean + sd - rng.gamma(1.2, sd / 1.1, N)
    if kind == "right":
        return mean - sd + rng.gamma(1.2, sd / 1.1, N)
    if kind == "heavy":
        return mean + sd * rng.standard_t(3, N) / np.sqrt(3)
    if kind == "uniform":
        return rng.uniform(mean - 2 * sd, mean + 2 * sd, N)
    if kind == "constant":
        return np.full(N, mean)
    x = np.full(N, np.nan)
    if kind.startswith("first"):  # only the first few respondents have a score
        m = int(kind[5:])
        x[:m] = rng.normal(mean, sd, m)
    return x


frames = []
for threshold, extra_missing in [("0.0", 0.25), ("0.5", 0.06)]:
    for inst, scales in score_scales.items():
        keep = rng.random(N) >= 0.03
        for skey, kind, mean, sd in scales:
            x = draw(kind, mean, sd)
            if not kind.startswith("first") and kind != "none":
                x[rng.random(N) < extra_missing] = np.nan
            frames.append(
                pd.DataFrame(
                    {
                        "id": items["id"][keep],
                        "site": items["site"][keep],
                        "instrument": inst,
                        "scale": skey,
                        "threshold": threshold,
                        "score": x[keep],
                        "items_answered": 0,
                        "items_total": 0,
                        "items_allowed_missing": 0,
                    }
                )
            )
scores = pd.concat(frames, ignore_index=True)
scores.to_csv(INPUTS / "measurement_scores.csv", index=False, lineterminator="\n", float_format="%.6f")

# -- config and instrument files with FIXTURE reference blocks ---------------------------------------
INSTR.mkdir(exist_ok=True)
FIXTURE_NOTE = "FIXTURE reference sample for cocapp's tests (made-up numbers, not a published value)"
refs = {
    "STAR-P": {
        "sample": FIXTURE_NOTE,
        "citation": "cocapp test fixture",
        "scales": {
            "positive_collaboration": {"n": 120, "mean": 18.5, "sd": 4.5},
            "non_supportive_clinician_input": {"mean": 9.0},
            "total": {"n": 120, "mean": 36.0, "sd": 8.0},
        },
    },
    "ES": {
        "sample": FIXTURE_NOTE,
        "citation": "cocapp test fixture",
        "scales": {
            "self_esteem_self_efficacy": {"n": 250, "mean": 2.7, "sd": 0.5},
            "power_powerlessness": {"n": 250, "mean": 2.5, "sd": 0.4},
            "community_activism_autonomy": {"n": 250, "mean": 3.0, "sd": 0.4},
            "optimism_control_future": {"n": 250, "mean": 2.7, "sd": 0.5},
            "righteous_anger": {"n": 250, "mean": 2.2, "sd": 0.5},
            "total": {"n": 250, "mean": 2.7, "sd": 0.3},
        },
    },
    "EDGE": {
        "sample": FIXTURE_NOTE,
        "citation": "cocapp test fixture",
        "scales": {
            "single": {"mean": 3.0, "sd": 1.0},
            "constant": {"mean": 2.5},
            "sparse": {"mean": 3.0},
            "allmiss": {"mean": 3.0},
            "total": {"n": 10, "mean": 3.2, "sd": 1.0},
        },
    },
}
for key in ["STAR-P", "ES"]:
    text = (BUILTIN / f"{key}.yaml").read_text("utf-8")
    if "\nreference: {}\n" not in text:
        raise SystemExit(f"{key}.yaml: expected an empty reference block to replace")
    block = yaml.safe_dump({"reference": refs[key]}, sort_keys=False, allow_unicode=True)
    (INSTR / f"{key}.yaml").write_text(text.replace("\nreference: {}\n", "\n" + block), "utf-8")
edge = {
    "key": "EDGE",
    "name": "Edge-case fixture instrument (tests only)",
    "citation": "cocapp test fixture",
    "items": 7,
    "column_pattern": "edge_{item}",
    "response": {"min": 1, "max": 5},
    "missing_codes": {8: "not_applicable", 9: "no_response"},
    "score": {"kind": "mean"},
    "reverse_keyed": [6],
    "subscales": {
        "single": {"items": [1]},
        "constant": {"items": [2, 3]},
        "sparse": {"items": [4, 5]},
        "pair": {"items": [1, 6]},
        "allmiss": {"items": [5, 7]},
    },
    "total": {"items": "all"},
    "reference": refs["EDGE"],
}
(INSTR / "EDGE.yaml").write_text(yaml.safe_dump(edge, sort_keys=False), "utf-8")

config = {
    "study": {
        "name": "MEASUREMENT-FIXTURE",
        "synthetic": True,
        "data_note": "TEST FIXTURE for cocapp's measurement tests.",
    },
    "sites": [{"name": s} for s in SITES],
    "input": {"missing_codes": {"8": "not_applicable", "9": "no_response"}},
    "groups": {
        "users": {
            "raw": "data/raw/users.csv",
            "id_column": "id",
            "site_column": "site",
            "instruments": ["RSA", "STAR-P", "ES", "EDGE"],
        }
    },
    # relative to this folder; tests make it absolute
    "instrument_paths": ["measurement_instruments"],
    "scoring": {"thresholds": [0.0, 0.5], "primary_threshold": 0.5},
    "statistics": {
        "significance_level": 0.05,
        "acceptable_alpha": 0.7,
        "confidence_level": 0.95,
        "normality_limits": {"conservative": 1.0, "liberal": 2.0},
    },
}
(INPUTS / "measurement_config.yaml").write_text(
    "# Fixture config of the measurement tests (written by make_measurement_inputs.py).\n"
    + yaml.safe_dump(config, sort_keys=False),
    "utf-8",
)
print(f"wrote {len(items)} respondents, {len(scores)} score rows, config and instrument files under {INPUTS}")
