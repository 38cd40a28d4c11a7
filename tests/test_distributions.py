"""The ``distributions`` stage: descriptives, normality and reference comparisons of every group at every
configured threshold, from the scores files (the statistics themselves are checked against R in
test_descriptives.py, test_normality.py and test_reference.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

from cocapp.contracts import CONTRACTS, read
from cocapp.stats.reference import NO_REFERENCE

SCORES = Path(__file__).parent / "reference" / "inputs" / "measurement_scores.csv"
OUTPUTS = {"descriptives": "descriptives", "normality": "normality", "reference": "reference_comparison"}


def outputs(folder: Path) -> dict[str, Path]:
    return {option: folder / f"{name}.csv" for option, name in OUTPUTS.items()}


def options(outs: dict[str, Path]) -> list:
    return [x for option, path in outs.items() for x in (f"--{option}", path)]


@pytest.fixture(scope="module")
def written(tmp_path_factory, run_cocapp, measurement_config) -> dict[str, Path]:
    outs = outputs(tmp_path_factory.mktemp("distributions"))
    assert run_cocapp("distributions", measurement_config, "--scores", SCORES, *options(outs)) == 0
    return outs


def test_every_output_meets_its_contract_at_every_threshold(written):
    tables = {option: read(OUTPUTS[option], path) for option, path in written.items()}
    for option, df in tables.items():
        assert list(df.columns) == CONTRACTS[OUTPUTS[option]].names, option
        assert list(dict.fromkeys(df.threshold)) == ["0.0", "0.5"], option  # config order
    # 22 scales (RSA 6, STAR-P 4, ES 6, EDGE 6) x 2 thresholds; descriptives by 5 sites and All
    assert len(tables["normality"]) == 22 * 2
    assert len(tables["descriptives"]) == 22 * 2 * 6
    ref = tables["reference"]
    assert NO_REFERENCE in set(ref.status) and "compared" in set(ref.status)


def test_stage_output_is_the_pure_functions_output(written, tmp_path, measurement_config, measurement_scores):
    """What the stage writes is what the statistics function returns, at full precision."""
    from cocapp.config import site_names
    from cocapp.instruments import load_instruments
    from cocapp.stats.descriptives import descriptives_table

    cfg = measurement_config
    inst = load_instruments(cfg["groups"]["users"]["instruments"], cfg["instrument_paths"])
    descriptives_table(measurement_scores, inst, "users", "0.5", site_names(cfg)).to_csv(
        tmp_path / "want.csv", index=False
    )
    want = read("descriptives", tmp_path / "want.csv")
    got = read("descriptives", written["descriptives"])
    got = got[got.threshold == "0.5"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_rerun_gives_identical_bytes(written, tmp_path, cocapp_stage, measurement_config):
    outs = outputs(tmp_path)
    code, log = cocapp_stage("distributions", measurement_config, "--scores", SCORES, *options(outs))
    assert code == 0, log
    for option, path in outs.items():
        assert path.read_bytes() == written[option].read_bytes(), option
    assert "44 scale x threshold distributions" in log


def test_configured_threshold_without_scores_fails_and_writes_nothing(
    tmp_path, cocapp_stage, measurement_config
):
    cfg = copy.deepcopy(measurement_config)
    cfg["scoring"]["thresholds"] = [0.0, 0.3, 0.5]
    outs = outputs(tmp_path / "out")
    code, log = cocapp_stage("distributions", cfg, "--scores", SCORES, *options(outs))
    assert code == 1
    assert "no row for threshold 0.3" in log
    assert not (tmp_path / "out").exists()


def test_one_scores_file_per_group(tmp_path, cocapp_stage, measurement_config):
    code, log = cocapp_stage(
        "distributions", measurement_config, "--scores", SCORES, SCORES, *options(outputs(tmp_path))
    )
    assert code == 1
    assert "--scores: 2 file(s) given for 1 configured group(s) ['users']" in log
