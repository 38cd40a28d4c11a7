"""The second example study (examples/education) end to end, as a new user makes it: ``cocapp init``
from the raw CSV in a temporary folder outside the repository, edited (config, codebook and instrument
files as shipped in examples/education), then ``cocapp run``. Its statistics agree with R
(tests/reference/example_study.R, computed from the raw file) at 1e-9 relative; Tukey p and intervals
(studentized range) at R's own accuracy, 1e-7 absolute. Its outputs speak its own words."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cocapp.contracts import read

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "education"
GOLDEN = ROOT / "tests" / "reference" / "golden" / "example"
RTOL = 1e-9

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    import os

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    work = tmp_path_factory.mktemp("users-own") / "education"
    cocapp = [sys.executable, "-m", "cocapp"]
    init = subprocess.run(
        [*cocapp, "init", str(work), "--from", str(EXAMPLE / "data/raw/survey.csv")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert init.returncode == 0, init.stderr
    drafted = yaml.safe_load((work / "config.yaml").read_text("utf-8"))
    # the edit a user makes after reading docs/study.md: the drafts checked against the manual
    for name in ("config.yaml", "data/raw/codebook.csv", "instruments/PERS.yaml", "instruments/SWLS.yaml"):
        shutil.copyfile(EXAMPLE / name, work / name)
    (work / "instruments" / "ACENO.yaml").unlink()  # the draft of PERS (items A1 ... O3, five subscales)
    run = subprocess.run(
        [*cocapp, "run", str(work), "--cores", "1"], capture_output=True, text=True, env=env, timeout=1800
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return work, drafted


def test_init_drafted_the_study_from_the_raw_file(study):
    work, drafted = study
    group = drafted["groups"]["survey"]
    assert (group["id_column"], group["site_column"]) == ("resp_id", "education")
    assert group["instruments"] == ["ACENO", "SWLS"]
    assert [s["name"] for s in drafted["sites"]] == ["Primary", "Secondary", "University", "Vocational"]


def merged(ours: pd.DataFrame, golden: str, keys: list[str]) -> pd.DataFrame:
    want = pd.read_csv(GOLDEN / golden, dtype={k: str for k in keys})
    ours = ours.astype({k: str for k in keys})
    both = want.merge(ours, on=keys, how="left", suffixes=("_r", ""), indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"][keys].head()
    return both


def close(both: pd.DataFrame, columns: list[str], rtol: float = RTOL, atol: float = 0.0) -> None:
    for c in columns:
        want, got = both[f"{c}_r"].to_numpy(float), both[c].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=c)
        ok = ~np.isnan(want)
        np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=atol, err_msg=c)


def derived(work: Path, name: str, contract: str | None = None) -> pd.DataFrame:
    return read(contract or name, work / "data/derived/stats" / f"{name}.csv")


def test_scores_match_r(study):
    work, _ = study
    ours = read("scores", work / "data/derived/scores/respondents.csv")
    ours = ours[ours.score.notna()]
    both = merged(ours, "scores.csv", ["id", "site", "instrument", "scale", "threshold"])
    assert len(both) == len(ours)  # and no score R does not have
    close(both, ["score"])


def test_descriptives_anova_tukey_match_r(study):
    work, _ = study
    keys = ["instrument", "scale", "threshold", "site"]
    desc = derived(work, "descriptives")
    close(merged(desc[desc.site != "All"], "descriptives.csv", keys), ["n", "mean", "sd"])
    both = merged(derived(work, "anova"), "anova.csv", keys[:3])
    close(both, ["n", "df1", "df2", "ss_between", "ss_within", "F", "p", "welch_F", "welch_p"])
    both = merged(derived(work, "tukey"), "tukey.csv", [*keys[:3], "site_a", "site_b"])
    close(both, ["diff"])
    # studentized range: R's ptukey/qtukey are themselves accurate to about 1e-8 (absolute)
    close(both, ["ci_low", "ci_high", "p_adj"], rtol=0, atol=1e-7)


def test_correlations_reliability_match_r(study):
    work, _ = study
    both = merged(derived(work, "correlations"), "correlations.csv", ["threshold", "site", "x", "y"])
    close(both, ["n", "r", "p", "ci_low", "ci_high"])
    both = merged(derived(work, "reliability"), "reliability.csv", ["instrument", "scale"])
    close(both, ["n_complete", "k_items", "alpha"])


def test_ancova_matches_r(study):
    work, _ = study
    keys = ["instrument", "scale", "threshold", "term"]
    close(merged(derived(work, "ancova"), "ancova.csv", keys), ["ss", "df", "F", "p", "n"])
    keys = ["instrument", "scale", "threshold", "site"]
    close(
        merged(derived(work, "ancova_means"), "ancova_means.csv", keys),
        ["adj_mean", "se", "ci_low", "ci_high"],
    )


def test_rows_without_a_level_are_excluded_listed_and_counted(study):
    work, _ = study
    recon = read("reconciliation", work / "data/derived/ingest/respondents_reconciliation.csv")
    out = recon[recon.site.isna()]
    assert len(recon) == 412 and len(out) == 12
    assert set(out.status) == {"excluded"}
    assert out.reason.str.startswith("education level empty (excluded from every analysis").all()
    table1 = (work / "reports/tables/table1_returns.md").read_text("utf-8")
    assert "| No or unknown education level (excluded) | 12 | 0 |" in table1
    assert "| Total | 412 | 400 |" in table1


def reader_html(html: str) -> str:
    """The report without what a reader does not read as text: the config echo (pre, code), images,
    ids and links, and the trace data (data-t, the JSON script), which name the config's keys and the
    derived files' columns (e.g. ``sites``, ``site``)."""
    return re.sub(
        r"<pre>.*?</pre>|<code>.*?</code>|<script.*?</script>|data:image/png;base64,[^\"]+|"
        r"(id|href|data-[a-z]+)=\"[^\"]*\"",
        "",
        html,
        flags=re.S,
    )


def test_outputs_speak_the_study_words(study):
    """Neither COCAPP nor "site" in what a reader sees (the config echo and file names aside)."""
    work, _ = study
    text = reader_html((work / "reports/report.html").read_text("utf-8"))
    tables = "".join(p.read_text("utf-8") for p in (work / "reports/tables").glob("*.md"))
    for where in (text, tables):
        assert not re.search(r"\bsites?\b", where, re.I), re.search(r".{60}\bsites?\b.{60}", where, re.I)
        assert "COCAPP" not in where
    assert "Education levels (Primary, Secondary, Vocational, University) are compared" in text
    assert "Reproduced versus published" not in text  # no published reference: no empty section
    assert "Table 1. Questionnaire returns by education level" in tables


def test_every_number_traces_back_and_no_instrument_key_is_shown(study):
    """Issue 14's traces on a study unlike COCAPP (measures named by subscale, an excluded-level row in
    Table 1), and issue 13's names: the instrument keys PERS and SWLS never reach what a reader sees."""
    from report_traces import check_report

    work, _ = study
    html = (work / "reports/report.html").read_text("utf-8")
    checked, untraced = check_report(html, work)
    assert "table1_returns" in checked and sum(checked.values()) > 300
    assert {u for u in untraced if not u.startswith("provenance-")} == set()
    text = re.sub(r"<[^>]+>|\S+\.yaml", " ", reader_html(html))  # tags; the provenance's file names
    # a table's section row names an instrument "<name> (<key>)": the key only as the name's abbreviation
    for key, name in (
        ("PERS", "Five-factor personality short form (example)"),
        ("SWLS", "Life satisfaction"),
    ):
        text = re.sub(rf"{re.escape(name)}[^()]*(\([^()]*\))? \({key}\)", name, text)
    assert not re.search(r"\b(PERS|SWLS)\b", text), re.search(r".{60}\b(PERS|SWLS)\b.{40}", text)
