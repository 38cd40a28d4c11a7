"""The HTML report: content from the config and the stage outputs, and a real headless browser opening it."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import io
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from stage_inputs import RUN_STATS, instrument_inputs, publication_report_args, run_stats, without_imputation

from cocapp.presentation import outputs, report, tables
from cocapp.presentation import verdict as sensitivity
from cocapp.stages import report as report_stage
from cocapp.stages.runner import StageLog

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
QUAL = '<div class="qual"><h3>Themes</h3><table id="qual-table"><tr><td>Recovery</td></tr></table></div>'
# hand-written facts of a verdict (verdict.json), shared with tests/test_sensitivity.py
VERDICT_FACTS = Path(__file__).parent / "fixtures" / "sensitivity" / "verdict_facts.json"


@pytest.fixture(scope="module")
def config(publication_config) -> dict:
    # the publication fixture has no pooled imputation results: imputation off
    return without_imputation(publication_config)


@pytest.fixture(scope="module")
def run(publication_reports, config, run_cocapp):
    """The report stage on the outputs of every upstream publication stage, as the workflow runs it."""
    base = publication_reports
    tdir, fdir = base / "reports" / "tables", base / "reports" / "figures"
    sdir = base / "data" / "derived" / "sensitivity"
    sdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(VERDICT_FACTS, sdir / "verdict.json")
    (base / "qual.html").write_text(QUAL, "utf-8")
    out = base / "reports" / "report.html"
    inputs = [str(FIX / "ingest" / "service_users_reconciliation.csv"), str(PUBLISHED)]
    args = publication_report_args(base, config, out, sdir / "verdict.json", inputs, base / "qual.html")
    assert run_cocapp("report", config, *args) == 0
    return dict(
        report_inputs=read_report_inputs(args, config),
        base=base,
        tables=tdir,
        figures=fdir,
        sensitivity=sdir,
        out=out,
        inputs=inputs,
        args=args,
        html=out.read_text("utf-8"),
    )


def read_report_inputs(args: list, config: dict) -> report.ReportInputs:
    """What the report stage reads for these arguments (:func:`cocapp.stages.report.read_inputs`)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings")
    report_stage.add_arguments(parser)
    args = [*args, *instrument_inputs(config)] if "--instruments" not in args else args
    return report_stage.read_inputs(
        parser.parse_args([str(a) for a in args]), config, StageLog("report", io.StringIO())
    )


def test_report_is_self_contained(run):
    html = run["html"]
    # no external resource: every src is a data: URI; every href an in-page anchor or a file of the
    # run beside the report (a relative path: no scheme, no host)
    for attr in re.findall(r'src="([^"]*)"', html):
        assert attr.startswith("data:"), attr
    for attr in re.findall(r'href="([^"]*)"', html):
        assert attr.startswith(("data:", "#")) or not re.match(r"^([a-z][a-z0-9+.-]*:|//|/)", attr), attr
    # the one script: the hover that composes each number's trace (issue 14) from the inline JSON of
    # its sources; nothing loaded from anywhere
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="application/json" id="cocapp-trace-sources">',
        "<script>",
    ]


def test_banner_and_sections(run, config):
    html = run["html"]
    assert 'id="synthetic-banner"' in html
    assert "SYNTHETIC DATA: the embedded default" in html
    for sec in (
        "study",
        "methods",
        "tables",
        "figures",
        "sensitivity",
        "published",
        "qualitative",
        "provenance",
    ):
        assert f'<section id="{sec}">' in html


def test_every_table_and_figure_is_embedded(run, config):
    html = run["html"]
    for key, _ in tables.table_specs(config):
        assert f'id="{key}"' in html
    n_png = len(list(run["figures"].rglob("*.png"))) + len(
        list((run["base"] / "sensitivity-figures").glob("*.png"))
    )
    assert html.count('src="data:image/png;base64,') == n_png
    assert "published-comparison" in html and "published-consistency" in html


def test_methods_come_from_the_config(run, config):
    html = run["html"]
    assert "t = 0.5" in html and "0.0, 0.2, 0.3, 0.4, 0.5" in html
    assert "Tukey-Kramer" in html and "reference site Burgundy" in html
    assert "Relationship status" in html and "Time as a care coordinator (years)" in html
    assert "Type III" in html
    cfg = copy.deepcopy(config)
    cfg["scoring"]["primary_threshold"] = 0.3
    cfg["statistics"]["post_hoc"]["ancova"] = "bonferroni"
    text = " ".join(report.methods_text(cfg))
    assert "t = 0.3" in text and "Bonferroni" in text


def test_sensitivity_verdict_comparison_and_qualitative(run):
    html = run["html"]
    assert "<strong>Verdict.</strong> The conclusion about site differences" in html
    assert "depends on the replacement threshold for 1 of 2 outcomes (RSA &lt;Total&gt;)" in html
    assert "424 of 426 printed numbers" in html
    assert 'id="qual-table"' in html
    assert "value that fits: 0.12" in html
    assert "<td>1.00</td>" in html  # printed text kept as printed (not 1.0)
    assert "<blockquote><p>Synthetic fixture: hand-written verdict facts.</p></blockquote>" in html


def test_provenance_hashes_are_the_files_sha256(run):
    html = run["html"]
    for path in run["inputs"]:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert digest in html
    assert "python-docx" in html and "matplotlib" in html


def test_only_the_run_time_differs_between_runs(run, config):
    a = report.render_report(config, run["report_inputs"], run_time="2026-01-01 00:00:00 UTC")
    b = report.render_report(config, run["report_inputs"], run_time="2026-01-01 00:00:00 UTC")
    assert a == b


def test_figures_compacted_in_the_background_give_the_same_report(run, config, run_cocapp):
    """--workers 2 compacts the figures in a forked process while the report is rendered: the same
    report as one process makes (but for the run's time)."""
    args = list(run["args"])
    args[args.index("--out") + 1] = run["out"].with_name("report_two_workers.html")
    assert run_cocapp("report", config, *args, "--workers", "2") == 0
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")
    two = run["out"].with_name("report_two_workers.html").read_text("utf-8")
    assert stamp.sub("T", two) == stamp.sub("T", run["html"])


def test_not_synthetic_no_banner_and_optional_parts(run, config):
    cfg = copy.deepcopy(config)
    cfg["study"]["synthetic"] = False
    inputs = dataclasses.replace(run["report_inputs"], verdict=None, qualitative_html=None)
    html = report.render_report(cfg, inputs)
    assert "synthetic-banner" not in html
    assert '<section id="qualitative">' not in html
    assert "No sensitivity verdict was provided." in html


def test_verdict_comes_from_the_facts_not_from_markdown(run, config, tmp_path):
    """The report renders verdict.json with the verdict template; no Markdown is read."""
    html = run["html"]
    assert sensitivity.render_verdict(json.loads(VERDICT_FACTS.read_text("utf-8")), fmt="html") in html
    bad = tmp_path / "verdict.json"
    bad.write_text("{not json", "utf-8")
    args = [bad if str(a).endswith("verdict.json") else a for a in run["args"]]
    with pytest.raises(ValueError, match="verdict.json: not valid JSON"):
        read_report_inputs(args, config)


def test_a_figure_the_report_must_show_is_an_error_when_missing(run, config, cocapp_stage, tmp_path):
    args = list(run["args"])
    i = args.index("--figures")
    args.pop(i + 1)  # drop the first figure
    args[args.index("--out") + 1] = tmp_path / "report.html"
    code, log = cocapp_stage("report", config, *args)
    assert code == 1 and "the report shows" in log and "were not given" in log
    assert not (tmp_path / "report.html").exists()


def test_report_items_for_snakemake(config):
    items = outputs.report_items(config)
    for item in items:
        assert Path(item["caption"]).is_file()
        assert 1 <= len(Path(item["caption"]).read_text("utf-8").strip().split(". ")) <= 3
    paths = {i["path"] for i in items}
    assert set(p for p in outputs.table_files(config) if p.endswith(".html")) <= paths
    assert set(p for p in outputs.figure_files(config) if p.endswith(".png")) <= paths
    assert set(outputs.audit_files()) <= paths
    assert "reports/report.html" in paths


def test_stage_refuses_a_report_without_a_declared_table(run, config, tmp_path, cocapp_stage):
    """Every file the report shows must be a declared input: a missing one is an error, never a
    quietly emptier report."""
    args = [a for a in run["args"] if not str(a).endswith("table2_service_users.html")]
    args[args.index("--out") + 1] = tmp_path / "report.html"
    code, log = cocapp_stage("report", config, *args)
    assert code == 1
    assert "--tables: the report shows ['table2_service_users.html'] but they were not given" in log
    assert not (tmp_path / "report.html").exists()


# -- the browser -----------------------------------------------------------------------------------
def _chrome_paths() -> tuple[str | None, str | None]:
    return shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.mark.browser
def test_report_opens_in_headless_chromium(run):
    browser, driver_path = _chrome_paths()
    if browser is None or driver_path is None:
        pytest.skip(
            "Debian chromium/chromium-driver not installed (apt-get install -y chromium chromium-driver; "
            ".ci/run installs them)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
    ):
        opts.add_argument(arg)
    profile = tempfile.mkdtemp(prefix="cocapp-chromium-")
    opts.add_argument(f"--user-data-dir={profile}")
    opts.binary_location = browser
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.get(run["out"].resolve().as_uri())
        assert "cocapp report" in driver.title
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert severe == []
        banner = driver.find_element(By.ID, "synthetic-banner")
        assert banner.is_displayed() and "SYNTHETIC DATA" in banner.text
        # folded lists (<details>) are opened, as a reader would, before every table is checked
        driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true);")
        tables_ = driver.find_elements(By.CSS_SELECTOR, "table")
        assert len(tables_) >= 6 + 4 + 2  # publication tables, comparison tables, provenance
        for t in tables_:
            driver.execute_script("arguments[0].scrollIntoView();", t)
            assert t.is_displayed(), t.get_attribute("id")
        images = driver.find_elements(By.TAG_NAME, "img")
        shown = [*run["figures"].rglob("*.png"), *(run["base"] / "sensitivity-figures").glob("*.png")]
        assert len(images) == len(shown)
        for img in images:
            driver.execute_script("arguments[0].scrollIntoView();", img)
            assert img.is_displayed()
            loaded = driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0;", img
            )
            assert loaded, img.get_attribute("alt")
        # hovering a number shows its trace (issue 14): derived file and line, rule, function, config
        cell = driver.find_element(By.CSS_SELECTOR, "#analysis-assumptions tbody tr[data-t] td")
        cell = cell.find_element(By.XPATH, "following-sibling::td")  # the F test column
        webdriver.ActionChains(driver).move_to_element(cell).perform()
        title = cell.get_attribute("title")
        assert re.search(r"stats/anova\.csv, line \d+, column\(s\) F,df1,df2,p\nrule: compare_sites\n", title)
        assert "function: cocapp.stats.anova.oneway_anova" in title and "config keys: " in title
        assert "statistics.significance_level=0.05" in title  # from the shared key=value list
        # a provenance number: an input file's size, traced to the file itself (issue 14)
        cell = driver.find_element(By.CSS_SELECTOR, "#provenance-inputs tbody td[data-t]")
        driver.execute_script("arguments[0].scrollIntoView();", cell)
        webdriver.ActionChains(driver).move_to_element(cell).perform()
        title = cell.get_attribute("title")
        assert "(the file itself), key(s) bytes\nrule: report\nfunction: cocapp.stages.report" in title
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert severe == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_text_from_config_and_data_stays_escaped(run, config):
    """Free text that reaches the report (study title and note, group labels, covariate labels, the
    raw files' names) is escaped: markup in it shows as text and runs nothing."""
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>&amp;'
    cfg = copy.deepcopy(config)
    cfg["study"]["title"] = f"Title {evil}"
    cfg["study"]["data_note"] = f"Note {evil}"
    for group in cfg["groups"].values():
        group["label"] = f"Group {evil}"
        for cov in group["covariates"].values():
            cov["label"] = f"Covariate {evil}"
    # the traces are left out: the display tables were made with the plain labels
    html = report.render_report(cfg, dataclasses.replace(run["report_inputs"], derived=None))
    assert html.count("<script") == run["html"].count("<script")
    assert "<img src=x" not in html
    assert "Title &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "&amp;amp;" in html


# -- issue 14: honesty about calibration, readable audit tables ------------------------------------
def _table_rows(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
        for r in rows
    ]


def test_audit_tables_have_no_nan_and_integer_counts(run):
    html = run["html"]
    rows = _table_rows(html, "published-comparison")
    assert not any(c.lower() == "nan" for r in rows for c in r)
    returned = [r for r in rows if len(r) > 7 and r[5] == "returned"]
    assert returned and all(re.fullmatch(r"\d+", r[7]) for r in returned), returned[:2]
    n_rows = [r for r in rows if len(r) > 7 and r[5] in ("df1", "df2", "n", "n_complete")]
    assert n_rows and all(re.fullmatch(r"\d+", r[7]) for r in n_rows)


def test_no_doubled_synthetic_label_and_published_figure_caption(run):
    html = run["html"]
    assert "Synthetic: SYNTHETIC DATA" not in html
    assert "as published, redrawn" not in html
    assert "The paper&#39;s Fig. 3, redrawn from the regenerated data." in html


def test_calibration_is_stated_from_the_config(run, config, tmp_path, cocapp_stage):
    """The fixture config declares no calibration: the report says the calibration is not declared;
    with study.calibration it states the targets, links the calibration report (a local file, not an
    external link) and the audit section counts the matches by construction."""
    assert "their calibration is not declared" in run["html"]
    cal_cfg = copy.deepcopy(config)
    cal_cfg["study"]["calibration"] = {
        "targets": str(ROOT / "reports" / "synthetic_calibration.csv"),
        "report": str(ROOT / "reports" / "synthetic_calibration.md"),
        "threshold": 0.5,
    }
    base = run["base"]
    audit_dir = tmp_path / "audit"
    stats = [
        x
        for n in ("anova", "descriptives", "reliability", "correlations")
        for x in (f"--{n}", FIX / "stats" / f"{n}.csv")
    ]
    recon = [FIX / "ingest" / f"{g}_reconciliation.csv" for g in config["groups"]]
    code, log = cocapp_stage(
        "audit", cal_cfg, "--published", PUBLISHED, *stats, *run_stats("missingness", "normality"),
        "--reconciliation", *recon, "--calibration", ROOT / "reports" / "synthetic_calibration.csv",
        "--comparison", audit_dir / "published_comparison.csv",
        "--consistency", audit_dir / "published_consistency.csv",
    )  # fmt: skip
    assert code == 0, log
    args = [a for a in run["args"]]
    args[args.index("--published-comparison") + 1] = audit_dir / "published_comparison.csv"
    args[args.index("--published-consistency") + 1] = audit_dir / "published_consistency.csv"
    out = tmp_path / "reports" / "report.html"
    args[args.index("--out") + 1] = out
    code, log = cocapp_stage(
        "report", cal_cfg, *args, "--calibration", ROOT / "reports" / "synthetic_calibration.csv"
    )
    assert code == 0, log
    html = out.read_text("utf-8")
    assert 'id="what-data-show"' in html
    assert "tuned to 514 calibration targets taken from the paper (514 met) at the 50% threshold" in html
    link = re.search(r'Calibration report: <a href="([^"]+)">', html).group(1)
    assert (out.parent / link).resolve() == (ROOT / "reports" / "synthetic_calibration.md").resolve()
    assert (
        "420 of the 426 printed numbers were calibration targets of the synthetic data (418 of them match)"
        in html
    )
    assert "ANCOVA site effects" in html  # listed as illustrative
    assert base.exists()


def test_every_analysis_given_is_shown_compactly(run):
    """anova.csv and tukey.csv given: effect sizes and assumption checks, Tukey pairs (significant
    shown, every pair folded), each naming its derived file."""
    html = run["html"]
    assert 'id="all-analyses"' in html
    for key in ("analysis-assumptions", "analysis-tukey-significant", "analysis-tukey-all"):
        assert f'id="{key}"' in html, key
    folded = html.split('id="analysis-tukey"', 1)[1].split("</details>", 1)[0]
    assert "<details>" in folded and 'id="analysis-tukey-all"' in folded
    # the derived file, linked relative to the report (the fixture's file lives in tests/fixtures)
    link = re.search(r'Derived file: <a href="([^"]+)"><code>data/derived/stats/tukey.csv</code></a>', html)
    assert link and (run["out"].parent / link.group(1)).resolve() == (FIX / "stats" / "tukey.csv").resolve()
    # synthetic data, calibration not declared in the fixture config: every block says so
    assert "(synthetic data, calibration not declared)" in html


def test_a_missing_or_switched_off_input_is_an_error_naming_it(run, config, cocapp_stage, tmp_path, capsys):
    """Every input the report's rule always gives is required, each under its own option: one left out
    or missing on disk stops the stage with a message naming it, never a smaller report; an optional
    input is given exactly when the config switches its part on."""
    out = tmp_path / "r.html"

    def report(args) -> str:
        args = list(args)
        args[args.index("--out") + 1] = out
        code, log = cocapp_stage("report", config, *args)
        assert code == 1 and not out.exists(), log
        return log

    def without(option: str) -> list:
        args = list(run["args"])
        i = args.index(option)
        return args[:i] + args[i + 2 :]

    for option in ("--games-howell", "--mcar", "--manifests", "--descriptives", "--verdict"):
        capsys.readouterr()
        with pytest.raises(SystemExit):  # argparse: usage and the option on stderr, exit code 2
            cocapp_stage("report", config, *without(option))
        assert f"the following arguments are required: {option}" in capsys.readouterr().err, option
    gone = [tmp_path / "games_howell.csv" if str(a).endswith("games_howell.csv") else a for a in run["args"]]
    assert f"--games-howell: {tmp_path / 'games_howell.csv'}: file not found" in report(gone)
    assert "--qualitative-section: the qualitative arm (qualitative.enabled) is on, but not given" in report(
        without("--qualitative-section")
    )
    with_mi = [*run["args"], "--mi-pairs", RUN_STATS / "ancova_posthoc.csv"]
    assert "--mi-pairs: given, but imputation (imputation.enabled) is off" in report(with_mi)
    sens = list(run["args"])
    sens.pop(sens.index("--sensitivity-figures") + 1)  # the first group's n/p figure
    assert "--sensitivity-figures: the report shows ['service_users_n_p.png']" in report(sens)


def test_table_files_are_linked_and_print_stylesheet_present(run):
    html = run["html"]
    # the tables stage writes reports/tables/<key>.<fmt>; the report (reports/report.html) links them
    assert '<a href="tables/table1_returns.csv"><code>table1_returns.csv</code></a>' in html
    assert "@media print{" in html and "@page{size:A4" in html


def test_at_a_glance_summarises_findings_and_worries(run):
    html = run["html"]
    glance = html.split('<section id="glance"', 1)[1].split("</section>", 1)[0]
    assert glance.index("What was found") < glance.index("What to worry about")
    # from anova.csv at the primary threshold and the audit; the fixture's two impossible SEMs
    assert "Service users: sites differ (one-way ANOVA, p &lt; 0.05) on 3 of 16 outcomes" in glance
    assert "Care coordinators: sites differ (one-way ANOVA, p &lt; 0.05) on 1 of 6 outcomes" in glance
    assert "2 printed value(s) cannot be consistent with any data (Table C3)." in glance
    assert html.index('id="glance"') < html.index('<section id="study">')
