"""Multiple imputation beside the thresholds in stage ``sensitivity`` (:mod:`cocapp.stats.mi_summary`).

On the sensitivity fixture (tests/fixtures/sensitivity) with hand-made ``mi_tests``/``mi_tipping``/
``mi_means``: the MI result of every outcome is appended to ``summary.csv`` (existing columns unchanged),
disagreements with the primary analysis and tipping points reach the verdict, and the comparison figure
is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stage_inputs import without_imputation

from cocapp.instruments import instrument_file
from cocapp.workflow import Workflow

FIX = Path(__file__).parent / "fixtures" / "sensitivity"
OUTPUTS = {
    "summary": "summary.csv",
    "site-shifts": "site_shifts.csv",
    "pairs": "pairs.csv",
    "checks": "checks.csv",
    "verdict": "verdict.md",
    "facts": "verdict.json",
}


def stage_args(config: dict, outdir: Path) -> list:
    """``cocapp sensitivity`` on the fixture files (as tests/test_sensitivity.py), ``--figures`` last."""
    args = [
        x
        for n in ("anova", "ancova", "tukey", "descriptives", "reliability")
        for x in (f"--{n}", FIX / f"{n}.csv")
    ]
    args += ["--instruments", *(instrument_file(k) for k in ("RSA", "STAR-P"))]
    args += [x for option, name in OUTPUTS.items() for x in (f"--{option}", outdir / name)]
    return [*args, "--figures", *(outdir / f for f in Workflow(config).sensitivity_figures())]


KEYS = ["group", "instrument", "scale"]


@pytest.fixture(scope="module")
def config(sensitivity_config):
    return sensitivity_config


@pytest.fixture()
def mi_files(tmp_path, sensitivity_inputs):
    anova = sensitivity_inputs["anova"]
    prim = anova[anova["threshold"] == "0.5"].reset_index(drop=True)
    tests, tipping, means = [], [], []
    for i, r in prim.iterrows():
        flip = i == 0  # the first outcome disagrees with the primary analysis under MAR
        sig = (not r["significant"]) if flip else bool(r["significant"])
        p = 0.2 if not sig else 0.01
        key = {k: r[k] for k in KEYS}
        for delta, pd_ in ((0.0, p), (-0.5, 0.3 if sig else p)):
            tests.append(
                key
                | {
                    "delta": delta,
                    "analysis": "one-way ANOVA",
                    "method": "D1",
                    "m": 5,
                    "F": 2.0,
                    "df1": 2.0,
                    "df2": 50.0,
                    "p": pd_,
                    "riv": 0.1,
                    "fmi": 0.1,
                    "significant": pd_ < 0.05,
                }
            )
        tip = -0.5 if sig else np.nan
        tipping.append(
            key
            | {
                "analysis": "one-way ANOVA",
                "method": "D1",
                "p_mar": p,
                "significant_mar": sig,
                "deltas_tested": "0, -0.5",
                "tipping_delta": tip,
                "p_at_tipping": 0.3 if sig else np.nan,
                "significant_at_tipping": False if sig else None,
                "conclusion": "x",
            }
        )
    d = sensitivity_inputs["descriptives"]
    d = d[(d["threshold"] == "0.5") & (d["site"] != "All")]
    for _, r in d.iterrows():
        means.append(
            {k: r[k] for k in KEYS}
            | {
                "delta": 0.0,
                "analysis": "one-way ANOVA",
                "site": r["site"],
                "n": int(r["n"]),
                "m": 5,
                "estimate": r["mean"] + 0.1,
                "se": 0.1,
                "df": 30.0,
                "ci_low": r["mean"] - 0.1,
                "ci_high": r["mean"] + 0.3,
                "riv": 0.1,
                "fmi": 0.1,
                "re": 0.98,
            }
        )
    out = {}
    for name, rows in (("mi_tests", tests), ("mi_tipping", tipping), ("mi_means", means)):
        out[name] = tmp_path / f"{name}.csv"
        pd.DataFrame(rows).to_csv(out[name], index=False)
    return out, prim


def test_sensitivity_gains_multiple_imputation(tmp_path, config, cocapp_stage, mi_files):
    files, prim = mi_files
    out = tmp_path / "o"
    args = stage_args(config, out)
    figs = [out / f for f in Workflow(config).mi_figures("mi_site_means")]
    args += [*figs]  # appended to --figures, the last option of stage_args
    args += [
        "--mi-means",
        files["mi_means"],
        "--mi-tests",
        files["mi_tests"],
        "--mi-tipping",
        files["mi_tipping"],
    ]
    code, log = cocapp_stage("sensitivity", config, *args)
    assert code == 0, log
    plain = tmp_path / "plain"
    code, log = cocapp_stage("sensitivity", without_imputation(config), *stage_args(config, plain))
    assert code == 0, log
    with_mi = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False)
    without = pd.read_csv(plain / "summary.csv", dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(with_mi[without.columns], without)  # existing columns unchanged
    added = [c for c in with_mi.columns if c not in without.columns]
    assert added[:6] == [
        "mi_F",
        "mi_p",
        "mi_fmi",
        "mi_significant",
        "mi_changes_inference",
        "mi_tipping_delta",
    ]
    first = with_mi[(with_mi[KEYS] == prim.loc[0, KEYS].to_numpy()).all(axis=1)]
    assert set(first["mi_changes_inference"]) == {"True"}
    facts = json.loads((out / "verdict.json").read_text("utf-8"))
    users = next(g for g in facts["groups"] if g["group"] == "users")
    oneway = users["multiple_imputation"]["analyses"][0]
    assert oneway["analysis"] == "one-way ANOVA"
    assert [o["agrees_with_primary"] for o in oneway["outcomes"]].count(False) == 1
    md = (out / "verdict.md").read_text("utf-8")
    assert "# Multiple imputation and missing not at random" in md
    assert "reach the same conclusion as the primary analysis" in md and "these differ:" in md
    assert "δ = -0.5" in md  # the significant outcomes tip at -0.5
    for f in figs:
        assert Path(f).stat().st_size > 1000
