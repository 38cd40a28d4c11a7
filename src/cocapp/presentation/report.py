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
import re
import struct
import sys
from dataclasses import dataclass
from importlib import metadata

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup

from cocapp.config import format_threshold, site_names
from cocapp.formatting import MISSING_TEXT, STRICT_LEVEL, fmt_g, fmt_num, fmt_percent
from cocapp.presentation import tables as _tables
from cocapp.presentation.outputs import (
    FigureSpec,
    caption_path,
    figure_specs,
    funnel_settings,
    many_sites,
    report_items,
    templates_dir,
)
from cocapp.presentation.verdict import render_verdict

__all__ = [
    "ReportInputs",
    "sha256_of",
    "caption_path",
    "comparison_section",
    "methods_text",
    "render_report",
    "report_items",
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
    if many_sites(config):
        threshold, levels = funnel_settings(config)
        paras[2] = paras[2].replace(", ".join(site_names(config)), f"{len(site_names(config))} sites", 1)
        paras.append(
            f"With more than {threshold} sites, every site pair is computed "
            "(tukey.csv, games_howell.csv) but not listed here: each outcome is shown as a funnel plot of "
            "site means against precision with "
            f"{' and '.join(fmt_percent(v) for v in sorted(levels))} control limits around the overall "
            "mean (Spiegelhalter 2005, Stat Med 24:1185) and a caterpillar plot, and Supplementary "
            "table S3 lists the sites outside the limits."
        )
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


@dataclass
class ReportInputs:
    """Everything the report shows, already read by the report stage (:mod:`cocapp.stages.report`).

    ``tables``: table key -> the table's HTML document; ``table_files``: table key -> the file names
    offered for download; ``figures`` and ``sensitivity_figures``: figure stem -> PNG bytes;
    ``verdict``: the facts of ``verdict.json``; ``comparison``/``consistency``: the audit's two
    tables (None when no published reference is configured); ``inputs``: provenance rows (path, size,
    sha256) of the raw files; ``config_path``/``config_sha256``: the configuration file of the run.
    """

    tables: dict[str, str]
    table_files: dict[str, list[str]]
    figures: dict[str, bytes]
    sensitivity_figures: dict[str, bytes]
    verdict: dict | None
    comparison: pd.DataFrame | None
    consistency: pd.DataFrame | None
    qualitative_html: str | None
    inputs: list[dict]
    config_path: str
    config_sha256: str


# -- small helpers ---------------------------------------------------------------------------------
def _png(data: bytes, name: str) -> tuple[str, int, int]:
    """Base64 text, width and height of PNG bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{name}: not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return base64.b64encode(data).decode("ascii"), width, height


def sha256_of(data: bytes) -> str:
    """SHA-256 hex digest of ``data`` (provenance of the input files)."""
    return hashlib.sha256(data).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# -- sections --------------------------------------------------------------------------------------
def _figure_caption(spec: FigureSpec, config: dict) -> str:
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
    if spec.kind == "funnel":
        return (
            f"Funnel plot: mean {spec.instrument} {what} score of each site for {g.lower()} against its "
            "precision (n / pooled within-site variance), with control limits around the overall mean "
            "(Spiegelhalter 2005); sites outside the widest limit are red and the most extreme named."
        )
    if spec.kind == "caterpillar":
        return (
            f"Mean {spec.instrument} {what} score for {g.lower()} at every site ± {fmt_percent(level)} CI, "
            "ranked, coloured as in the funnel plot."
        )
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


def figure_entries(config: dict, figures: dict[str, bytes]) -> list[dict]:
    """Embedded figures in report order (published labels first, then site plots, then scatters);
    ``figures`` maps each figure's stem to its PNG bytes, and every figure of the config must be there."""
    specs = figure_specs(config)
    specs = [s for s in specs if s.label] + [s for s in specs if not s.label]
    out = []
    for spec in specs:
        if spec.stem not in figures:
            raise ValueError(f"figure {spec.stem}.png was not given to the report")
        data, w, h = _png(figures[spec.stem], f"{spec.stem}.png")
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


def sensitivity_figures(figures: dict[str, bytes], start: int) -> list[dict]:
    """The sensitivity figures (stem -> PNG bytes) in name order, numbered from ``start``."""
    out = []
    for stem in sorted(figures):
        data, w, h = _png(figures[stem], f"{stem}.png")
        name = stem.replace("_", " ")
        out.append(
            dict(
                id=f"sensitivity-{re.sub(r'[^A-Za-z0-9_-]+', '-', stem)}",
                data=data,
                width=w,
                height=h,
                number=f"Figure {start + len(out)}",
                caption=f"Sensitivity analysis: {name}.",
                alt=f"Sensitivity analysis: {name}",
            )
        )
    return out


def _match_text(match: pd.Series) -> pd.Series:
    """The audit's ``match`` column as ``"true"``/``"false"``, empty where nothing was compared."""
    return match.map(lambda v: str(v).lower() if not pd.isna(v) else "")


def _printed_and_regenerated(r) -> list[str]:
    """Where a printed number stands, as printed, and the regenerated value to two more decimals."""
    return [
        r.table,
        r.group,
        r.instrument,
        r.scale,
        r.site,
        r.quantity,
        str(r.printed),
        fmt_num(r.regenerated, max(int(r.printed_decimals), 2) + 2),
    ]


def comparison_section(
    comparison: pd.DataFrame | None, consistency: pd.DataFrame | None, config: dict
) -> dict | None:
    """Summary sentence and display tables of the published comparison and the consistency checks."""
    if comparison is None:
        return None
    synthetic = bool(config["study"].get("synthetic"))
    notes = _tables._base_notes(config)
    match = _match_text(comparison["match"])
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
        m = _match_text(sub["match"])
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
                *_printed_and_regenerated(r),
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
                *_printed_and_regenerated(r),
                {"true": "yes", "false": "no"}.get(str(r.match).lower(), MISSING),
            ]
        )
    tables.append(full)
    return dict(summary=summary, tables=[Markup(_tables.to_html_fragment(t)) for t in tables])


MISSING = MISSING_TEXT


def render_report(config: dict, inputs: ReportInputs, run_time: str | None = None) -> str:
    """The report's HTML text (see module docstring) from what the report stage read."""
    study = config["study"]
    synthetic = bool(study.get("synthetic"))
    table_blocks = []
    for key, _number in _tables.table_specs(config):
        if key not in inputs.tables:
            raise ValueError(f"table {key}.html was not given to the report")
        frag = _tables.html_fragment_from_document(inputs.tables[key])
        table_blocks.append(dict(key=key, html=Markup(frag), files=inputs.table_files.get(key, [])))
    figs = figure_entries(config, inputs.figures)
    sens_figs = sensitivity_figures(inputs.sensitivity_figures, len(figs) + 1)
    sens_html = Markup(render_verdict(inputs.verdict, fmt="html")) if inputs.verdict is not None else None
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
        comparison=comparison_section(inputs.comparison, inputs.consistency, config),
        qualitative_html=Markup(inputs.qualitative_html) if inputs.qualitative_html else None,
        inputs=inputs.inputs,
        versions=_versions(),
        config_path=inputs.config_path,
        config_sha256=inputs.config_sha256,
        run_time=run_time or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
