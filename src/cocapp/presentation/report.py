"""One self-contained HTML report (``reports/report.html``) from the tables, figures and verdicts of a run.

Rendered with Jinja2 (``templates/report.html.j2``, autoescaped). Images are embedded as base64 PNG,
tables are the HTML fragments written by :mod:`cocapp.presentation.tables` and the sensitivity verdict is
rendered from the facts of ``verdict.json`` with the verdict's own template, so the file opens anywhere
with no network and no other file. Sections: synthetic-data banner (``study.synthetic``), study and config
summary, methods generated from the config, tables, figures, the sensitivity verdict, the published
comparison, an optional qualitative fragment, and provenance (SHA-256 of the input files, the config,
package versions, run time). The run time is the only part that changes between identical runs.

:func:`report_items` lists the outputs to register with Snakemake's ``report()`` (caption files in
``templates/captions/``), so ``snakemake --report`` builds its own index.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import re
import struct
import sys
from importlib import metadata
from pathlib import Path

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup

from cocapp.config import format_threshold, site_names
from cocapp.formatting import MISSING_TEXT, STRICT_LEVEL, fmt_g, fmt_num, fmt_percent
from cocapp.presentation import figures as _figures
from cocapp.presentation import tables as _tables
from cocapp.presentation.outputs import caption_path, report_items, templates_dir
from cocapp.presentation.verdict import render_verdict

__all__ = [
    "caption_path",
    "comparison_section",
    "methods_text",
    "render_report",
    "report_items",
    "verdict_html",
]

TEMPLATE = "report.html.j2"
PACKAGES = (
    "cocapp",
    "pandas",
    "numpy",
    "scipy",
    "statsmodels",
    "pingouin",
    "matplotlib",
    "jinja2",
    "python-docx",
    "pyreadstat",
    "pandera",
    "snakemake",
)


# -- methods from the config -----------------------------------------------------------------------
def methods_text(config: dict) -> list[str]:
    """Paragraphs describing the analysis exactly as configured (thresholds, models, post hoc, alpha)."""
    st = config["statistics"]
    sc = config["scoring"]
    ts = [format_threshold(t) for t in sc["thresholds"]]
    primary = format_threshold(sc["primary_threshold"])
    alpha = st["significance_level"]
    post = st.get("post_hoc", {})
    corr = st.get("correlations", {})
    ss = int(st.get("ancova_ss_type", 3))
    ss_name = {1: "I", 2: "II", 3: "III"}.get(ss, str(ss))
    paras = [
        "Scale scores are person means of the answered items after reverse keying (sum scales: the mean "
        "times the number of items). A score exists when the number of missing items is at most "
        f"floor(t x k) for a scale of k items; the primary analysis uses t = {primary} (up to "
        f"{fmt_percent(primary)} of a scale's items replaced by the person's mean), and the sensitivity "
        f"analysis repeats every comparison at t = {', '.join(ts)} (0.0 = complete cases).",
        "Internal consistency is Cronbach's alpha on respondents complete on the scale's items (before "
        f"mean replacement), with {fmt_percent(st.get('confidence_level', 0.95))} confidence intervals; "
        f"alpha >= {fmt_g(st.get('acceptable_alpha', 0.7))} counts as acceptable.",
        f"Sites ({', '.join(site_names(config))}) are compared by one-way ANOVA on each scale and "
        f"subscale, significance level {fmt_g(alpha)}. Post hoc comparisons after ANOVA: "
        f"{_posthoc_name(post.get('anova', 'tukey'))} for every site pair (reported whether or not the "
        "omnibus test is significant; flagged only where it is)"
        + (
            f"; figures mark differences from the reference site {post['reference_site']}."
            if post.get("reference_site")
            else "."
        ),
    ]
    models = []
    for g, spec in config["groups"].items():
        label = spec.get("label") or g
        for m, covs in spec.get("ancova_models", {}).items():
            names = [spec["covariates"].get(c, {}).get("label") or c for c in covs]
            models.append(f"{label}, {m} model: {', '.join(names)}")
    if models:
        paras.append(
            f"Site effects are also estimated by one-way ANCOVA with Type {ss_name} sums of squares and "
            f"sum-to-zero contrasts (as SPSS UNIANOVA); categorical covariates enter as "
            f"{st.get('categorical_covariates', 'factor')}s. Covariate models: " + "; ".join(models) + ". "
            f"Adjusted means are estimated marginal means at the covariate means; pairwise comparisons of "
            f"adjusted means use {_posthoc_name(post.get('ancova', 'tukey'))}."
        )
    paras.append(
        f"Associations between the total scores of a group's instruments are {corr.get('method', 'pearson')} "
        f"correlations with {corr.get('deletion', 'pairwise')} deletion; effect sizes are labelled small, "
        "medium and large at r = "
        + ", ".join(
            fmt_g(v)
            for v in (corr.get("effect_size_labels") or {"small": 0.1, "medium": 0.3, "large": 0.5}).values()
        )
        + " (Cohen)."
    )
    paras.append(
        "Display tables round only at the end, from full-precision results: means and SEMs to 2 decimals, "
        "r to 3 decimals, p to 3 decimals with p < 0.001 written as such."
    )
    return paras


def _posthoc_name(key: str) -> str:
    return {
        "tukey": "Tukey-Kramer (unequal group sizes)",
        "bonferroni": "Bonferroni-adjusted pairwise comparisons",
        "sidak": "Sidak-adjusted pairwise comparisons",
        "games_howell": "Games-Howell",
    }.get(str(key), str(key))


# -- small helpers ---------------------------------------------------------------------------------
def _png(path: Path) -> tuple[str, int, int]:
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return base64.b64encode(data).decode("ascii"), width, height


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- sections --------------------------------------------------------------------------------------
def _figure_caption(spec: _figures.FigureSpec, config: dict) -> str:
    g = config["groups"][spec.group].get("label") or spec.group
    level = config["statistics"].get("confidence_level", 0.95)
    ref = config["statistics"].get("post_hoc", {}).get("reference_site")
    alpha = config["statistics"]["significance_level"]
    if spec.kind == "scatter":
        return (
            f"{g}: {spec.instrument} and {spec.scale} total scores (primary threshold, pairwise complete) "
            "with "
            "the least-squares line."
        )
    what = "total" if spec.scale == "total" else spec.scale.replace("_", " ")
    text = f"Mean {spec.instrument} {what} score for {g.lower()} ± {fmt_percent(level)} CI"
    text += ", on the scale's theoretical range."
    if ref:
        text += (
            f" # marks the reference site ({ref}); * p < {fmt_g(alpha)} and "
            f"** p < {fmt_g(STRICT_LEVEL)} mark Tukey-Kramer differences from it."
        )
    if spec.label:
        text = f"{spec.label} as published, redrawn from the regenerated data. " + text
    return text


def figure_entries(config: dict, figures_dir: Path) -> list[dict]:
    """Embedded figures in report order (published labels first, then site plots, then scatters)."""
    specs = _figures.figure_specs(config)
    specs = [s for s in specs if s.label] + [s for s in specs if not s.label]
    out = []
    for spec in specs:
        path = figures_dir / f"{spec.stem}.png"
        if not path.is_file():
            continue
        data, w, h = _png(path)
        out.append(
            dict(
                id=re.sub(r"[^A-Za-z0-9_-]+", "-", spec.stem),
                data=data,
                width=w,
                height=h,
                number=f"Figure {len(out) + 1}",
                caption=_figure_caption(spec, config),
                alt=_figure_caption(spec, config),
            )
        )
    return out


def sensitivity_figures(figures_dir: Path, start: int) -> list[dict]:
    out = []
    for path in sorted((figures_dir / "sensitivity").glob("*.png")):
        data, w, h = _png(path)
        name = path.stem.replace("_", " ")
        out.append(
            dict(
                id=f"sensitivity-{re.sub(r'[^A-Za-z0-9_-]+', '-', path.stem)}",
                data=data,
                width=w,
                height=h,
                number=f"Figure {start + len(out)}",
                caption=f"Sensitivity analysis: {name}.",
                alt=f"Sensitivity analysis: {name}",
            )
        )
    return out


def comparison_section(
    comparison: pd.DataFrame | None, consistency: pd.DataFrame | None, config: dict
) -> dict | None:
    """Summary sentence and display tables of the published comparison and the consistency checks."""
    if comparison is None:
        return None
    synthetic = bool(config["study"].get("synthetic"))
    notes = _tables._base_notes(config)
    match = comparison["match"].map(lambda v: str(v).lower() if not pd.isna(v) else "")
    n_all, n_cmp = len(comparison), int((match != "").sum())
    n_ok = int((match == "true").sum())
    summary = (
        f"{n_ok} of {n_cmp} printed numbers with a regenerated value match within printed precision "
        f"({n_all} printed numbers in all)."
    )
    by = _tables.DisplayTable(
        "published-summary",
        "Table C1",
        "Printed numbers matched, by table",
        ["Table", "Printed numbers", "Regenerated", "Matched", "Not matched"],
        notes=notes,
        synthetic=synthetic,
    )
    for table, sub in comparison.groupby("table", sort=False):
        m = sub["match"].map(lambda v: str(v).lower() if not pd.isna(v) else "")
        by.add(
            [
                str(table),
                str(len(sub)),
                str(int((m != "").sum())),
                str(int((m == "true").sum())),
                str(int((m == "false").sum())),
            ]
        )
    tables = [by]
    bad = comparison[match == "false"]
    mis = _tables.DisplayTable(
        "published-mismatches",
        "Table C2",
        "Printed numbers that the regenerated results do not match",
        [
            "Table",
            "Group",
            "Instrument",
            "Scale",
            "Site",
            "Quantity",
            "Printed",
            "Regenerated",
            "Check of the print",
        ],
        notes=notes,
        synthetic=synthetic,
    )
    for r in bad.itertuples():
        mis.add(
            [
                r.table,
                r.group,
                r.instrument,
                r.scale,
                r.site,
                r.quantity,
                str(r.printed),
                fmt_num(r.regenerated, max(int(r.printed_decimals), 2) + 2),
                "" if pd.isna(r.consistency_flag) else str(r.consistency_flag),
            ]
        )
    if not len(bad):
        mis.add(["(none)", "", "", "", "", "", "", "", ""])
    tables.append(mis)
    if consistency is not None:
        flagged = consistency[consistency["consistent"].map(lambda v: str(v).lower()) != "true"]
        ct = _tables.DisplayTable(
            "published-consistency",
            "Table C3",
            "Printed values that fail a consistency check (from the printed numbers alone)",
            [
                "Check",
                "Table",
                "Instrument",
                "Scale",
                "Site",
                "Quantity",
                "Printed",
                "Cannot be consistent",
                "Value that would fit",
                "Note",
            ],
            notes=notes
            + [
                f"{len(consistency)} checks run; statcheck-style p from F and r, "
                "SEM bounds (Bhatia-Davis), F implied by site means and SEMs."
            ],
            synthetic=synthetic,
        )
        for r in flagged.itertuples():
            ct.add(
                [
                    r.check,
                    r.table,
                    r.instrument,
                    r.scale,
                    r.site,
                    r.quantity,
                    str(r.printed),
                    "yes" if str(r.cannot_be_consistent).lower() == "true" else "no",
                    "" if pd.isna(r.suggested_value) else str(r.suggested_value),
                    "" if pd.isna(r.note) else str(r.note),
                ]
            )
        if not len(flagged):
            ct.add(["(none)", "", "", "", "", "", "", "", "", ""])
        tables.append(ct)
    full = _tables.DisplayTable(
        "published-comparison",
        "Table C4",
        "Every printed number beside the regenerated value",
        ["Table", "Group", "Instrument", "Scale", "Site", "Quantity", "Printed", "Regenerated", "Match"],
        notes=notes,
        synthetic=synthetic,
    )
    for r in comparison.itertuples():
        full.add(
            [
                r.table,
                r.group,
                r.instrument,
                r.scale,
                r.site,
                r.quantity,
                str(r.printed),
                fmt_num(r.regenerated, max(int(r.printed_decimals), 2) + 2),
                {"true": "yes", "false": "no"}.get(str(r.match).lower(), MISSING),
            ]
        )
    tables.append(full)
    return dict(summary=summary, tables=[Markup(_tables.to_html_fragment(t)) for t in tables])


MISSING = MISSING_TEXT


def verdict_html(sensitivity_dir: str | Path) -> Markup | None:
    """The sensitivity verdict as HTML, rendered from the facts in ``verdict.json`` (``None`` if absent).

    The same template and facts as ``verdict.md`` (:func:`cocapp.presentation.verdict.render_verdict`), so the
    report and the Markdown say the same sentences.
    """
    path = Path(sensitivity_dir) / "verdict.json"
    if not path.is_file():
        return None
    try:
        facts = json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    return Markup(render_verdict(facts, fmt="html"))


def render_report(
    config: dict,
    config_path: str | Path,
    tables_dir: str | Path,
    figures_dir: str | Path,
    sensitivity_dir: str | Path | None = None,
    qualitative_html: str | None = None,
    inputs: list[str] | None = None,
    run_time: str | None = None,
) -> str:
    """The report's HTML text (see module docstring)."""
    tables_dir, figures_dir = Path(tables_dir), Path(figures_dir)
    study = config["study"]
    synthetic = bool(study.get("synthetic"))
    table_blocks = []
    for key, _number in _tables.table_specs(config):
        path = tables_dir / f"{key}.html"
        if not path.is_file():
            continue
        frag = _tables.html_fragment_from_document(path.read_text("utf-8"))
        files = [f"{key}.{fmt}" for fmt in _tables.FORMATS if (tables_dir / f"{key}.{fmt}").is_file()]
        table_blocks.append(dict(key=key, html=Markup(frag), files=files))
    figs = figure_entries(config, figures_dir)
    sens_figs = sensitivity_figures(figures_dir, len(figs) + 1)
    sens_html = verdict_html(sensitivity_dir) if sensitivity_dir is not None else None
    comp_path, cons_path = tables_dir / "published_comparison.csv", tables_dir / "published_consistency.csv"
    text_cols = {"printed": str, "suggested_value": str, "site": str, "scale": str, "instrument": str}
    comparison = (
        pd.read_csv(comp_path, keep_default_na=False, na_values=[""], dtype=text_cols)
        if comp_path.is_file()
        else None
    )
    consistency = (
        pd.read_csv(cons_path, keep_default_na=False, na_values=[""], dtype=text_cols)
        if cons_path.is_file()
        else None
    )
    inputs_info = []
    for p in inputs or []:
        path = Path(p)
        if not path.is_file():
            raise FileNotFoundError(f"input file for provenance not found: {path}")
        inputs_info.append(dict(path=str(p), size=path.stat().st_size, sha256=_sha256(path)))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    groups = [
        dict(key=g, label=spec.get("label") or g, instruments=spec["instruments"])
        for g, spec in config["groups"].items()
    ]
    return env.get_template(TEMPLATE).render(
        study=dict(
            name=study.get("name", ""), title=study.get("title", ""), citation=study.get("citation", "")
        ),
        synthetic=synthetic,
        data_note=" ".join(str(study.get("data_note") or "SYNTHETIC DATA").split()),
        sites=config["sites"],
        groups=groups,
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        methods=methods_text(config),
        tables=table_blocks,
        figures=figs,
        sensitivity_html=sens_html,
        sensitivity_figures=sens_figs,
        comparison=comparison_section(comparison, consistency, config),
        qualitative_html=Markup(qualitative_html) if qualitative_html else None,
        inputs=inputs_info,
        versions=_versions(),
        config_path=str(config_path),
        config_sha256=_sha256(Path(config_path)),
        run_time=run_time or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
