"""The HTML report: content from the config and the stage outputs, and a real headless browser opening it."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from cocapp.presentation import outputs, report, tables

ROOT = Path(__file__).resolve().parents[1]
FIX = Path(__file__).parent / "fixtures" / "publication"
PUBLISHED = ROOT / "data" / "published" / "cocapp2016_published.yaml"
QUAL = '<div class="qual"><h3>Themes</h3><table id="qual-table"><tr><td>Recovery</td></tr></table></div>'
VERDICT = (
    "# Verdict\n\n> Synthetic fixture.\n\n"
    "The inference **does not change** for 21 of 22 outcomes.\n\n- STAR-P total: significant\n"
)


@pytest.fixture(scope="module")
def config(publication_config) -> dict:
    return publication_config


@pytest.fixture(scope="module")
def run(publication_reports, config, run_cocapp):
    """The report stage on the outputs of every upstream publication stage, as the workflow runs it."""
    base = publication_reports
    tdir, fdir = base / "reports" / "tables", base / "reports" / "figures"
    sdir = base / "data" / "derived" / "sensitivity"
    sens_fig = fdir / "sensitivity" / "f_by_threshold.png"
    sens_fig.parent.mkdir(exist_ok=True)
    shutil.copy(fdir / "sites" / "service_users" / "RSA_total.png", sens_fig)
    sdir.mkdir(parents=True, exist_ok=True)
    (sdir / "verdict.md").write_text(VERDICT, "utf-8")
    (base / "qual.html").write_text(QUAL, "utf-8")
    out = base / "reports" / "report.html"
    inputs = [str(FIX / "ingest" / "service_users_reconciliation.csv"), str(PUBLISHED)]
    args = [
        *("--tables", *[base / f for f in outputs.table_files(config)]),
        *("--figures", *[base / f for f in outputs.figure_files(config)]),
        *("--sensitivity", sdir / "verdict.md", sens_fig),
        *("--audit", *[base / f for f in outputs.audit_files()]),
        *("--qualitative-section", base / "qual.html"),
        *("--raw", *inputs),
        *("--config-file", FIX / "config.yaml"),
        *("--out", out),
    ]
    assert run_cocapp("report", config, *args) == 0
    return dict(
        base=base,
        tables=tdir,
        figures=fdir,
        sensitivity=sdir,
        out=out,
        inputs=inputs,
        args=args,
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
    assert "<strong>does not change</strong>" in html
    assert "415 of 417 printed numbers" in html
    assert 'id="qual-table"' in html
    assert "value that fits: 0.12" in html
    assert '<td class="nw">1.00</td>' in html  # printed text kept as printed (not 1.0)
    assert "<blockquote><p>Synthetic fixture.</p></blockquote>" in html


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


def test_markdown_subset_escapes_markup():
    out = report.markdown_to_html(
        "Hello <script>alert(1)</script> **bold**\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "<strong>bold</strong>" in out and "<td>1</td>" in out


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
