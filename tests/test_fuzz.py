"""Property-based fuzzing of the study's inputs (Hypothesis; the harness is tests/fuzz_harness.py).

Mutated copies of the default study -- raw .sav or CSV, codebook, instrument files, config.yaml; bytes,
cells and structure -- either run (byte-identical outputs when the mutation changes nothing a study
means) or stop with exit 1 and a message naming the file, with no traceback and no output left behind.
A fixed set of cases runs here (derandomised, so CI is reproducible); benchmarks/fuzz.py runs 10,000.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import fuzz_harness
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors

from cocapp.config import load_config
from cocapp.ingest import group_spec, read_group
from cocapp.io import RawReadError
from cocapp.validate import build_schema, schema_holds

CASES = 260  # with the 40 schema cases below: 300 in CI (benchmarks/fuzz.py runs 10,000)
TINY = Path(__file__).parent / "fixtures" / "tiny"


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    return fuzz_harness.Fuzzer(tmp_path_factory.mktemp("fuzz"))


@settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(data=st.data())
def test_fuzzed_inputs_run_or_stop_with_a_message(fuzzer, data):
    case, outcome = fuzzer.case(data)
    assert outcome.kind != "crash", f"{outcome.target}: {case.mutation}\n{outcome.message}"


def test_the_harness_sees_a_crash(tmp_path, monkeypatch):
    """The harness must report what it looks for: a stage that raises an unexpected exception."""
    base = fuzz_harness.make_base(tmp_path / "s", "csv", ("care_coordinators",))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("cocapp.ingest.ingest_group", broken)
    outcome = fuzz_harness.run_study(base)
    assert outcome.kind == "crash" and "ZeroDivisionError" in outcome.message


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny") / "study"
    shutil.copytree(TINY, root)
    return root


@settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
@given(data=st.data())
def test_fast_check_agrees_with_pandera(tiny_study, data):
    """validate.schema_holds (the checks evaluated directly) says True exactly when pandera's lazy
    validation passes, on 40 cell-mutated raw files."""
    import os

    raw = tiny_study / "data" / "raw" / "users.csv"
    original = raw.read_bytes()
    before = os.getcwd()
    os.chdir(tiny_study)
    try:
        mutated, _, _ = fuzz_harness._csv_mutation(data, original, neutral_allowed=False)
        raw.write_bytes(mutated)
        config = load_config("config.yaml")
        try:
            table = read_group(config, "users")
        except RawReadError:
            return
        spec = group_spec(config, "users")
        if table.data.columns.duplicated().any() or len(table.data) == 0:
            return
        schema = build_schema(spec, table)
        try:
            schema.validate(table.data, lazy=True)
            pandera_ok = True
        except SchemaErrors:
            pandera_ok = False
        assert schema_holds(schema, table.data) == pandera_ok
    finally:
        raw.write_bytes(original)
        os.chdir(before)
