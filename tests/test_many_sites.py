"""Many sites (issue 16): funnel and caterpillar plots replace the per-site figure above
``statistics.funnel.site_threshold``, a table lists the sites outside the control limits, the methods
text says so; the default (6 sites) is unchanged. And the generated national study
(``cocapp synthesize --sites --respondents``)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cocapp.cli import main as cli_main
from cocapp.config import validate_config, with_defaults
from cocapp.instruments import configured_instruments
from cocapp.presentation import figures as FG
from cocapp.presentation import plotting
from cocapp.presentation.outputs import figure_specs, many_sites, table_specs
from cocapp.presentation.report import methods_text
from cocapp.presentation.tables import table_outlying_sites
from cocapp.synthetic.national import national_raw, site_sizes

N_SITES = 40
ROOT = Path(__file__).resolve().parents[1]


def _many(config: dict, n_sites: int = N_SITES) -> dict:
    cfg = copy.deepcopy(config)
    cfg["sites"] = [{"name": f"S{j:03d}"} for j in range(1, n_sites + 1)]
    cfg["statistics"]["post_hoc"]["reference_site"] = "S001"
    return cfg


def _descriptives(cfg: dict, rng: np.random.Generator) -> pd.DataFrame:
    """One outcome (service users' STAR-P total) at the primary threshold, σ = 8 within every site;
    S002 lies 6 standard errors above the target, S003 2.5 below."""
    sites = [s["name"] for s in cfg["sites"]]
    n = rng.integers(20, 400, len(sites)).astype(float)
    mean = 30 + rng.normal(0, 0.2, len(sites))
    mean[1] = 30 + 6 * 8 / np.sqrt(n[1])
    mean[2] = 30 - 2.5 * 8 / np.sqrt(n[2])
    half = 1.96 * 8 / np.sqrt(n)
    return pd.DataFrame(
        {
            "group": "service_users",
            "instrument": "STAR-P",
            "scale": "total",
            "threshold": str(cfg["scoring"]["primary_threshold"]),
            "site": sites,
            "n": n.astype(int),
            "mean": mean,
            "sd": 8.0,
            "ci_low": mean - half,
            "ci_high": mean + half,
        }
    )


def test_default_study_keeps_its_site_figures(default_config):
    assert not many_sites(default_config)
    kinds = {s.kind for s in figure_specs(default_config)}
    assert kinds == {"sites", "scatter"}
    assert "outlying_sites" not in dict(table_specs(default_config))


def test_threshold_switches_to_funnel_and_caterpillar(default_config):
    cfg = _many(default_config)
    assert many_sites(cfg)
    specs = figure_specs(cfg)
    stems = [s.stem for s in specs]
    assert "sites/service_users/STAR-P_total_funnel" in stems
    assert "sites/service_users/STAR-P_total_caterpillar" in stems
    assert not any(s.kind == "sites" and not s.label for s in specs)
    assert dict(table_specs(cfg))["outlying_sites"] == "Supplementary table S3"
    cfg["statistics"].setdefault("funnel", {})["site_threshold"] = (
        N_SITES  # "exceeds": 40 sites, threshold 40
    )
    assert not many_sites(cfg)


def test_threshold_and_levels_are_validated(default_config):
    raw = yaml.safe_load(yaml.safe_dump(default_config))
    raw["statistics"]["funnel"] = {"site_threshold": 0}
    with pytest.raises(Exception, match="site_threshold"):
        validate_config(raw, "config")
    raw["statistics"]["funnel"] = {"levels": [0.95, 1.0]}
    with pytest.raises(Exception, match="levels"):
        validate_config(raw, "config")


def test_outlying_sites_table_lists_only_sites_outside(default_config):
    cfg = _many(default_config)
    desc = _descriptives(cfg, np.random.default_rng(1))
    table = table_outlying_sites(desc, cfg)
    star = [
        r for r, sec in zip(table.rows, table.sections, strict=True) if "STAR-P" in sec and r[1] != "none"
    ]
    star_total = [r for r in star if r[0] == "Total"]
    assert [r[1] for r in star_total] == ["S002", "S003"]  # most extreme first
    assert [r[6] for r in star_total] == ["99.8%", "95%"]
    assert [r[7] for r in star_total] == ["above", "below"]
    # outcomes without values: one "none" row each, never a row per pair
    assert len(table.rows) < 40
    assert "Spiegelhalter 2005" in " ".join(table.notes)


def test_funnel_and_caterpillar_figures_are_drawn_and_byte_stable(default_config):
    cfg = _many(default_config)
    desc = _descriptives(cfg, np.random.default_rng(2))
    spec = next(s for s in figure_specs(cfg) if s.stem.endswith("STAR-P_total_funnel"))
    sites = [s["name"] for s in cfg["sites"]]
    t = str(cfg["scoring"]["primary_threshold"])
    rows, funnel = FG.outcome_funnel(desc, "service_users", "STAR-P", "total", t, sites, [0.95, 0.998])
    assert funnel["outside"].tolist()[1:3] == ["99.8%", "95%"]
    figs = []
    for kind in ("funnel", "caterpillar"):
        s = spec.__class__(spec.stem.replace("funnel", kind), kind, spec.group, spec.instrument, spec.scale)
        first = FG._many_sites_figure(s, cfg, configured_instruments(cfg), desc, sites, t, 0.95)
        second = FG._many_sites_figure(s, cfg, configured_instruments(cfg), desc, sites, t, 0.95)
        a = plotting.figure_files(first, s.stem, ("png",))
        b = plotting.figure_files(second, s.stem, ("png",))
        assert a == b
        figs.append(a)
    assert all(next(iter(f.values()))[:8] == b"\x89PNG\r\n\x1a\n" for f in figs)


def test_methods_text_names_the_funnel_instead_of_every_site(default_config):
    cfg = _many(default_config)
    text = " ".join(methods_text(cfg))
    assert "S017" not in text and f"{N_SITES} sites" in text
    assert "Spiegelhalter 2005" in text and "funnel plot" in text
    assert "Spiegelhalter" not in " ".join(methods_text(default_config))


def _pairs(cfg: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Every site pair of two outcomes at two thresholds, with p values that tie at the smallest."""
    sites = [s["name"] for s in cfg["sites"]]
    rows = []
    for scale in ("total", "positive_collaboration"):
        for t in ("0.0", str(cfg["scoring"]["primary_threshold"])):
            for i in range(len(sites)):
                for j in range(i + 1, len(sites)):
                    p = float(rng.choice([1e-12, rng.uniform(0, 0.2)], p=[0.01, 0.99]))
                    diff = float(rng.normal(0, 2))
                    rows.append(
                        (
                            "service_users",
                            "STAR-P",
                            scale,
                            t,
                            sites[i],
                            sites[j],
                            diff,
                            0.5,
                            3.1,
                            diff - 1,
                            diff + 1,
                        )
                        + (p, p < 0.05, True, "tukey-kramer", "")
                    )
    cols = ["group", "instrument", "scale", "threshold", "site_a", "site_b", "diff", "se", "q", "ci_low"]
    cols += ["ci_high", "p_adj", "significant", "omnibus_significant", "method", "note"]
    return pd.DataFrame(rows, columns=cols)


def test_report_summarises_pairs_per_outcome_instead_of_listing_them(default_config):
    """Above the site threshold the report's pair block has one row per outcome (the number of pairs,
    how many are significant, the strongest pair) and no row per pair; each count is traced to the
    file's rows it counts, the strongest pair to its line."""
    from cocapp.presentation.analyses import pairs_block

    cfg = _many(default_config)
    pairs = _pairs(cfg, np.random.default_rng(5))
    block = pairs_block(pairs, "tukey", cfg, {}, "Table A6", "Tukey-Kramer pairs", "tukey")
    assert block.folded == [] and len(block.shown) == 1
    table = block.shown[0]
    primary = pairs[pairs["threshold"] == str(cfg["scoring"]["primary_threshold"])]
    assert len(table.rows) == 2
    for row, trace, cells, (scale, part) in zip(
        table.rows, table.traces, table.cell_traces, primary.groupby("scale", sort=False), strict=True
    ):
        k = N_SITES * (N_SITES - 1) // 2
        assert row[2] == f"{k:,}" and len(part) == k
        assert row[3] == f"{int((part['p_adj'] < 0.05).sum()):,}"
        smallest = part[part["p_adj"] == part["p_adj"].min()]
        best = smallest.loc[smallest["diff"].abs().idxmax()]
        assert row[4] == f"{best['site_a']}–{best['site_b']}"
        assert trace == f"tukey|{best.name + 2}"
        assert cells[3] == (
            f"tukey|group=service_users&instrument=STAR-P&scale={scale}&threshold=0.5&significant=True|#"
        )
    significant = int((primary["p_adj"] < 0.05).sum())
    assert block.finding.startswith(f"{significant:,} of {len(primary):,} site pairs")
    # the default study (6 sites) still lists its pairs
    few = pairs_block(pairs[pairs["site_b"] <= "S006"], "tukey", default_config, {}, "A6", "T", "tukey")
    assert len(few.folded) == 1


# -- the generated national study -------------------------------------------------------------------
def test_site_sizes_are_skewed_and_add_up():
    rng = np.random.default_rng(3)
    sizes = site_sizes(250, 1_000_000, rng)
    assert sizes.sum() == 1_000_000 and sizes.min() >= 5
    assert sizes.max() > 8 * np.median(sizes)  # log-normal weights, σ = 1


def test_national_raw_is_deterministic_with_site_effects():
    rng = np.random.default_rng(0)
    template = pd.DataFrame(
        {"id": [f"t{i}" for i in range(200)], "site": "X", "q1": rng.integers(1, 6, 200).astype(str)}
    )
    template.loc[::17, "q1"] = "9"
    a, sites = national_raw(template, ["q1"], 12, 6000, seed=7)
    b, _ = national_raw(template, ["q1"], 12, 6000, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert sites[0] == "S001" and a["site"].nunique() == 12 and len(a) == 6000
    assert a["id"].is_unique and (a["q1"] == "9").any()  # missing-answer codes kept
    means = a[a["q1"] != "9"].assign(v=lambda d: d["q1"].astype(int)).groupby("site")["v"].mean()
    assert means.max() - means.min() > 0.3  # site effects
    c, _ = national_raw(template, ["q1"], 12, 6000, seed=8)
    assert not c.equals(a)


def test_cli_writes_a_valid_study_folder(tmp_path):
    out = tmp_path / "study"
    rc = cli_main(
        [
            "synthesize",
            "--sites",
            "35",
            "--respondents",
            "700",
            "--out",
            str(out),
            "--config",
            str(ROOT / "config.yaml"),
        ]
    )
    assert rc == 0
    cfg = with_defaults(validate_config(yaml.safe_load((out / "config.yaml").read_text("utf-8")), "config"))
    assert len(cfg["sites"]) == 35 and list(cfg["groups"]) == ["service_users"] and many_sites(cfg)
    raw = pd.read_csv(out / "data/raw/service_users.csv", dtype=str, keep_default_na=False)
    assert len(raw) == 700 and set(raw["site"]) <= {s["name"] for s in cfg["sites"]}
    book = pd.read_csv(out / "data/raw/codebook.csv", dtype=str, keep_default_na=False)
    assert book.loc[book["variable"] == "site", "valid_values"].item().count(";") == 34
    with pytest.raises(SystemExit):  # argparse error: --sites without --respondents
        cli_main(["synthesize", "--sites", "3", "--out", str(out)])


def test_synthesize_into_a_copy_of_the_default_study_replaces_its_raw_copies(tmp_path, capsys):
    """--out a checkout of the default study (its data/raw/service_users.sav beside the CSV): the
    template's other copy is removed with a message, so that ingest (which refuses another copy of
    a raw file holding different data, cocapp.rawformats.raw_copies) finds none."""
    import shutil

    from cocapp.rawformats import raw_copies

    study = tmp_path / "study"
    shutil.copytree(
        ROOT / "data" / "raw", study / "data" / "raw", ignore=shutil.ignore_patterns("qualitative")
    )
    shutil.copy(ROOT / "config.yaml", study / "config.yaml")
    assert raw_copies(study / "data/raw/service_users.csv")  # the template's .sav is there
    args = ["synthesize", "--sites", "35", "--respondents", "700", "--out", str(study)]
    assert cli_main([*args, "--config", str(study / "config.yaml")]) == 0
    assert raw_copies(study / "data/raw/service_users.csv") == []  # what ingest checks
    printed = capsys.readouterr().out
    assert "removed" in printed and "service_users.sav" in printed
    cfg = with_defaults(validate_config(yaml.safe_load((study / "config.yaml").read_text("utf-8")), "config"))
    raw = pd.read_csv(study / "data/raw/service_users.csv", dtype=str, keep_default_na=False)
    assert len(raw) == 700 and len(cfg["sites"]) == 35


@pytest.mark.parametrize("method", ["multiplicative", "additive"])
def test_overdispersion_setting_widens_limits_in_table_and_figure(default_config, method):
    """statistics.funnel.overdispersion: validated; the outlying-sites table and the funnel figure use
    the adjusted limits and say so (the statistics themselves: tests/test_funnel.py against R)."""
    cfg = _many(default_config)
    raw = yaml.safe_load(yaml.safe_dump(cfg))
    raw["statistics"]["funnel"] = {"overdispersion": "quadratic"}
    with pytest.raises(Exception, match="overdispersion"):
        validate_config(raw, "config")
    desc = _descriptives(cfg, np.random.default_rng(1))
    rng = np.random.default_rng(3)
    desc["n"] = rng.integers(2000, 20000, len(desc))  # national sizes, real spread between sites
    desc["mean"] = 30 + rng.normal(0, 1.0, len(desc))
    plain = table_outlying_sites(desc, cfg)
    cfg["statistics"]["funnel"] = {"overdispersion": method}
    adjusted = table_outlying_sites(desc, cfg)
    assert len(adjusted.rows) < len(plain.rows)
    assert "over-dispersion" in " ".join(adjusted.notes)
    assert "over-dispersion" not in " ".join(plain.notes)
    assert "over-dispersion" in " ".join(methods_text(cfg))
    spec = next(s for s in figure_specs(cfg) if s.stem.endswith("STAR-P_total_funnel"))
    sites = [s["name"] for s in cfg["sites"]]
    fig = FG._many_sites_figure(
        spec, cfg, configured_instruments(cfg), desc, sites, str(cfg["scoring"]["primary_threshold"]), 0.95
    )
    assert any("over-dispersion" in t.get_text() for t in fig.texts)
