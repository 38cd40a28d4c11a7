"""The HTML report: content from the config and the stage outputs, and a real headless browser opening it."""

from __future__ import annotations

import copy
import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from cocapp.presentation import audit, figures, report, tables
from cocapp.presentation import verdict as sensitivity
from cocapp.config import load_config

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
QUAL = '<div class="qual"><h3>Themes</h3><table id="qual-table"><tr><td>Recovery</td></tr></table></div>'
# hand-written facts of a verdict (verdict.json), shared with tests/test_sensitivity.py
VERDICT_FACTS = Path(__file__).parent / "fixtures" / "sensitivity" / "verdict_facts.json"


@pytest.fixture(scope="module")
def config() -> dict:
    return load_config(FIX / "config.yaml")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Every upstream publication stage on the fixtures, as the workflow runs them."""
    base = tmp_path_factory.mktemp("reports")
    cfg = str(FIX / "config.yaml")
    tdir, fdir, sdir = base / "tables", base / "figures", base / "sensitivity"
    assert (
        tables.main(
            [
                "--config",
                cfg,
                "--stats-dir",
                str(FIX / "stats"),
                "--ingest-dir",
                str(FIX / "ingest"),
                "--outdir",
                str(tdir),
            ]
        )
        == 0
    )
    assert (
        audit.main(
            [
                "--config",
                cfg,
                "--published",
                str(PUBLISHED),
                "--stats-dir",
                str(FIX / "stats"),
                "--ingest-dir",
                str(FIX / "ingest"),
                "--out",
                str(tdir / "published_comparison.csv"),
            ]
        )
        == 0
    )
    assert (
        figures.main(
            [
                "--config",
                cfg,
                "--stats-dir",
                str(FIX / "stats"),
                "--scores-dir",
                str(FIX / "scores"),
                "--outdir",
                str(fdir),
            ]
        )
        == 0
    )
    (fdir / "sensitivity").mkdir()
    shutil.copy(
        fdir / "sites" / "service_users" / "RSA_total.png", fdir / "sensitivity" / "f_by_threshold.png"
    )
    sdir.mkdir()
    shutil.copy(VERDICT_FACTS, sdir / "verdict.json")
    (base / "qual.html").write_text(QUAL, "utf-8")
    out = base / "report.html"
    inputs = [str(FIX / "ingest" / "service_users_reconciliation.csv"), str(PUBLISHED)]
    assert (
        report.main(
            [
                "--config",
                cfg,
                "--tables-dir",
                str(tdir),
                "--figures-dir",
                str(fdir),
                "--sensitivity-dir",
                str(sdir),
                "--qualitative-html",
                str(base / "qual.html"),
                "--inputs",
                *inputs,
                "--out",
                str(out),
            ]
        )
        == 0
    )
    return dict(
        base=base,
        tables=tdir,
        figures=fdir,
        sensitivity=sdir,
        out=out,
        inputs=inputs,
        html=out.read_text("utf-8"),
    )


def test_report_is_self_contained(run):
    html = run["html"]
    # no external resource: every src/href is a data: URI or an in-page anchor
    for attr in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attr.startswith(("data:", "#")), attr
    assert "<script" not in html


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
    n_png = len(list(run["figures"].rglob("*.png")))
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
    assert "415 of 417 printed numbers" in html
    assert 'id="qual-table"' in html
    assert "value that fits: 0.12" in html
    assert '<td class="nw">1.00</td>' in html  # printed text kept as printed (not 1.0)
    assert "<blockquote><p>Synthetic fixture: hand-written verdict facts.</p></blockquote>" in html


def test_provenance_hashes_are_the_files_sha256(run):
    html = run["html"]
    for path in run["inputs"]:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        assert digest in html
    assert "python-docx" in html and "matplotlib" in html


def test_only_the_run_time_differs_between_runs(run, config):
    args = (
        config,
        FIX / "config.yaml",
        run["tables"],
        run["figures"],
        run["sensitivity"],
        QUAL,
        run["inputs"],
    )
    a = report.render_report(*args, run_time="2026-01-01 00:00:00 UTC")
    b = report.render_report(*args, run_time="2026-01-01 00:00:00 UTC")
    assert a == b


def test_not_synthetic_no_banner_and_optional_parts(run, config):
    cfg = copy.deepcopy(config)
    cfg["study"]["synthetic"] = False
    html = report.render_report(cfg, FIX / "config.yaml", run["tables"], run["figures"], None, None, [])
    assert "synthetic-banner" not in html
    assert '<section id="qualitative">' not in html
    assert "No sensitivity verdict was provided." in html


def test_verdict_comes_from_the_facts_not_from_markdown(run, tmp_path):
    """The report renders verdict.json with the verdict template; a verdict.md beside it is not read."""
    html = run["html"]
    assert sensitivity.render_verdict(json.loads(VERDICT_FACTS.read_text("utf-8")), fmt="html") in html
    (tmp_path / "verdict.md").write_text("# Not this\n", "utf-8")
    assert report.verdict_html(tmp_path) is None
    (tmp_path / "verdict.json").write_text("{not json", "utf-8")
    with pytest.raises(ValueError, match="verdict.json: not valid JSON"):
        report.verdict_html(tmp_path)


def test_report_items_for_snakemake(config):
    items = report.report_items(config)
    for item in items:
        assert Path(item["caption"]).is_file()
        assert 1 <= len(Path(item["caption"]).read_text("utf-8").strip().split(". ")) <= 3
    paths = {i["path"] for i in items}
    assert set(p for p in tables.expected_outputs(config) if p.endswith(".html")) <= paths
    assert set(p for p in figures.expected_outputs(config) if p.endswith(".png")) <= paths
    assert report.expected_outputs(config)[0] in paths


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
        tables_ = driver.find_elements(By.CSS_SELECTOR, "table")
        assert len(tables_) >= 6 + 4 + 2  # publication tables, comparison tables, provenance
        for t in tables_:
            driver.execute_script("arguments[0].scrollIntoView();", t)
            assert t.is_displayed(), t.get_attribute("id")
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == len(list(run["figures"].rglob("*.png")))
        for img in images:
            driver.execute_script("arguments[0].scrollIntoView();", img)
            assert img.is_displayed()
            loaded = driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0;", img
            )
            assert loaded, img.get_attribute("alt")
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert severe == []
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
