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
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
import pandas as pd
import yaml
from markupsafe import Markup

from cocapp.config import correlation_measures, format_threshold, site_names
from cocapp.formatting import MISSING_TEXT, STRICT_LEVEL, fmt_g, fmt_num, fmt_percent
from cocapp.presentation import tables as _tables
from cocapp.presentation.outputs import (
    FigureSpec,
    caption_path,
    figure_specs,
    funnel_overdispersion,
    funnel_settings,
    many_sites,
    overdispersion_text,
    report_items,
    templates_dir,
)
from cocapp.presentation.verdict import render_verdict
from cocapp.provenance import package_versions
from cocapp.stats.ancova import model_formula
from cocapp.words import group_in_sentence, grouping_words, in_sentence, reword

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


# -- methods from the config -----------------------------------------------------------------------
def methods_text(config: dict) -> list[str]:
    """Paragraphs describing the analysis exactly as configured (thresholds, models, post hoc, alpha)."""
    paras = [_scoring_paragraph(config), _reliability_paragraph(config), _anova_paragraph(config)]
    if many_sites(config):
        paras.append(_funnel_paragraph(config))
    ancova = _ancova_paragraph(config)
    if ancova:
        paras.append(ancova)
    paras.append(_correlations_paragraph(config))
    paras.append(
        "Display tables round only at the end, from full-precision results: means and SEMs to 2 decimals, "
        "r to 3 decimals, p to 3 decimals with p < 0.001 written as such."
    )
    return paras


def _scoring_paragraph(config: dict) -> str:
    """How scale scores are made and the missing-item thresholds of the primary and sensitivity analyses."""
    sc = config["scoring"]
    ts = [format_threshold(t) for t in sc["thresholds"]]
    primary = format_threshold(sc["primary_threshold"])
    return (
        "Scale scores are person means of the answered items after reverse keying (sum scales: the mean "
        "times the number of items). A score exists when the number of missing items is at most "
        f"floor(t x k) for a scale of k items; the primary analysis uses t = {primary} (up to "
        f"{fmt_percent(primary)} of a scale's items replaced by the person's mean), and the sensitivity "
        f"analysis repeats every comparison at t = {', '.join(ts)} (0.0 = complete cases)."
    )


def _reliability_paragraph(config: dict) -> str:
    """Internal consistency: Cronbach's alpha, its confidence level and the acceptable value."""
    st = config["statistics"]
    return (
        "Internal consistency is Cronbach's alpha on respondents complete on the scale's items (before "
        f"mean replacement), with {fmt_percent(st.get('confidence_level', 0.95))} confidence intervals; "
        f"alpha >= {fmt_g(st.get('acceptable_alpha', 0.7))} counts as acceptable."
    )


def _anova_paragraph(config: dict) -> str:
    """The one-way ANOVA of the sites and its post hoc tests (many sites: counted, not named)."""
    st = config["statistics"]
    alpha = st["significance_level"]
    words = grouping_words(config)
    post = st.get("post_hoc", {})
    text = (
        f"{words.plural} ({', '.join(site_names(config))}) are compared by one-way ANOVA on each scale and "
        f"subscale, significance level {fmt_g(alpha)}. Post hoc comparisons after ANOVA: "
        f"{_posthoc_name(post.get('anova', 'tukey'))} for every {words.noun} pair (reported whether or "
        "not the omnibus test is significant; flagged only where it is)"
        + (
            f"; figures mark differences from the reference {words.noun} {post['reference_site']}."
            if post.get("reference_site")
            else "."
        )
    )
    if many_sites(config):
        text = text.replace(", ".join(site_names(config)), f"{len(site_names(config))} sites", 1)
    return text


def _funnel_paragraph(config: dict) -> str:
    """With many sites: the funnel and caterpillar plots shown instead of every site pair."""
    threshold, levels = funnel_settings(config)
    return (
        f"With more than {threshold} sites, every site pair is computed "
        "(tukey.csv, games_howell.csv) but not listed here: each outcome is shown as a funnel plot of "
        "site means against precision with "
        f"{' and '.join(fmt_percent(v) for v in sorted(levels))} control limits around the overall "
        "mean (Spiegelhalter 2005, Stat Med 24:1185)"
        + (
            f", {overdispersion_text(funnel_overdispersion(config))},"
            if funnel_overdispersion(config) != "none"
            else ""
        )
        + " and a caterpillar plot, and Supplementary table S3 lists the sites outside the limits."
    )


def _ancova_paragraph(config: dict) -> str | None:
    """The ANCOVA: its covariate models, adjusted means and fitted formulas (None without models)."""
    st = config["statistics"]
    words = grouping_words(config)
    post = st.get("post_hoc", {})
    ss = int(st.get("ancova_ss_type", 3))
    ss_name = {1: "I", 2: "II", 3: "III"}.get(ss, str(ss))
    models = []
    formulas = []
    weights = st.get("adjusted_means_weights", "equal")
    for g, spec in config["groups"].items():
        label = spec.get("label") or g
        for m, covs in spec.get("ancova_models", {}).items():
            names = [spec["covariates"].get(c, {}).get("label") or c for c in covs]
            models.append(f"{label}, {m} model: {', '.join(names)}")
            kinds = {c: spec["covariates"].get(c, {}).get("type", "numeric") for c in covs}
            stated = model_formula(kinds, weights=weights)
            formulas.append(reword(f"{label}, {m}: {stated['formula']} ({stated['coding']})", config))
    if not models:
        return None
    return (
        f"{words.label} effects are also estimated by one-way ANCOVA with Type {ss_name} sums of squares "
        f"and sum-to-zero contrasts (as SPSS UNIANOVA); categorical covariates enter as "
        f"{st.get('categorical_covariates', 'factor')}s. Covariate models: "
        + "; ".join(models)
        + ". "
        + _emm_sentence(weights)
        + f" Pairwise comparisons of adjusted means use {_posthoc_name(post.get('ancova', 'tukey'))}. "
        "Fitted models (as in ancova.csv, columns formula and coding; a covariate constant in a "
        "model sample is left out there): " + "; ".join(formulas) + "."
    )


def _correlations_paragraph(config: dict) -> str:
    """The correlations between instrument totals: method, deletion and the effect-size labels."""
    corr = config["statistics"].get("correlations", {})
    return (
        f"Associations between the total scores of a group's instruments are {corr.get('method', 'pearson')} "
        f"correlations with {corr.get('deletion', 'pairwise')} deletion; effect sizes are labelled small, "
        "medium and large at r = "
        + ", ".join(
            fmt_g(v)
            for v in (corr.get("effect_size_labels") or {"small": 0.1, "medium": 0.3, "large": 0.5}).values()
        )
        + " (Cohen)."
    )


def _emm_sentence(weights: str) -> str:
    """How the adjusted means were computed (``statistics.adjusted_means_weights``), stated exactly."""
    if weights == "proportional":
        return (
            "Adjusted means are estimated marginal means with numeric covariates at their mean in the "
            "model sample and the levels of categorical covariates weighted by their frequency in the "
            'model sample (emmeans weights = "proportional"; SPSS with the dummy-coded factors as WITH '
            "covariates at their means)."
        )
    return (
        "Adjusted means are estimated marginal means with numeric covariates at their mean in the model "
        "sample and every combination of levels of the categorical covariates weighted equally, whatever "
        "its size (emmeans default; SPSS EMMEANS with the factors as BY): they are not the means at the "
        "observed covariate distribution (for those: statistics.adjusted_means_weights: proportional)."
    )


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
    # issue 14: what synthetic data can show (calibration.calibration_statement) and the link to the
    # calibration report, relative to the report's folder
    calibration: dict | None = None
    calibration_link: str | None = None
    # issue 14: the statistics files shown as compact tables (name -> frame) and outcome labels
    stats: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    # issue 14: the stage manifests of the run and what makes its results stale
    manifests: list = field(default_factory=list)
    manifest_issues: list = field(default_factory=list)
    # the embedded copies of the figures (PNG bytes -> compact_png of them, any mapping), when the stage
    # makes them (in parallel; render_report looks them up last); any figure missing here is compacted
    # while the report is rendered
    compacted: Mapping = field(default_factory=dict)
    # links (relative to the report) to the statistics files and to the folder of the table files
    stats_links: dict = field(default_factory=dict)
    table_link_base: str = ""
    figure_link_base: str | None = None
    # issue 14, traces: short name (file stem) -> path of every derived file a report number comes from,
    # the display tables (key -> the cells of reports/tables/<key>.csv) and the derived tables behind
    # Tables 1-4 and S1-S2 by their place under data/derived (stats/anova.csv -> cocapp.contracts.TextTable,
    # the file given read by the stage; None: no trace of Tables 1-4 and S1-S2)
    trace_sources: dict = field(default_factory=dict)
    displays: dict = field(default_factory=dict)
    derived: Mapping | None = None
    # the report's own manifest (written by the runner after the report, in the same process: its
    # package versions are the ones shown), None when the stage writes none
    own_manifest: str | None = None
    # the configured instruments by key, as the report stage loaded them from its --instruments files
    # (None: loaded through the config's instrument_paths)
    instruments: Mapping | None = None


# -- small helpers ---------------------------------------------------------------------------------
def _png(data: bytes, name: str) -> tuple[str, int, int]:
    """Base64 text, width and height of PNG bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{name}: not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return base64.b64encode(data).decode("ascii"), width, height


# Figures are embedded at report resolution (the PNG files keep full resolution and are linked): at most
# this wide, as a palette PNG (issue 14: the default report under 1.5 MB).
REPORT_FIGURE_WIDTH = 700
REPORT_FIGURE_PIXELS = 700 * 600  # tall multi-panel figures are scaled to this area
REPORT_FIGURE_COLOURS = 48


def compact_png(
    data: bytes,
    max_width: int = REPORT_FIGURE_WIDTH,
    colours: int = REPORT_FIGURE_COLOURS,
    max_pixels: int = REPORT_FIGURE_PIXELS,
) -> bytes:
    """A smaller copy of a figure for embedding: scaled (Lanczos) to at most ``max_width`` pixels wide and
    ``max_pixels`` in area, quantised to ``colours`` (median cut, no dithering). Deterministic: the same
    bytes in, the same bytes out."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    scale = min(1.0, max_width / rgb.width, (max_pixels / (rgb.width * rgb.height)) ** 0.5)
    if scale < 1.0:
        size = (round(rgb.width * scale), round(rgb.height * scale))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    pal = rgb.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    pal.save(out, "PNG", optimize=True)
    return out.getvalue()


def sha256_of(data: bytes) -> str:
    """SHA-256 hex digest of ``data`` (provenance of the input files)."""
    return hashlib.sha256(data).hexdigest()


# -- traces (issue 14) ------------------------------------------------------------------------------
def _flat_settings(d: object, prefix: str = "") -> list[str]:
    """``a.b=value`` for every scalar setting (lists and mappings of values shortened)."""
    import json

    if isinstance(d, dict):
        out: list[str] = []
        for k, v in d.items():
            out += _flat_settings(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    text = json.dumps(d, ensure_ascii=False, separators=(",", ":"))
    return [f"{prefix}={text if len(text) <= 60 else text[:57] + '...'}"]


def trace_sources(paths: dict, config: dict, extra: dict | None = None) -> dict:
    """For the report's hover: ``src``: short name -> [derived file, rule, function]; ``rules``: rule
    (``ingest:<group>`` for a group's ingest) -> the config keys, with their values, it read
    (:data:`cocapp.stages.STAGES`), each rule's once, as positions in ``keys``, the list of every
    distinct ``key=value`` (rules share most of their settings: written once, the block is a third the
    size). ``extra``: further sources (the provenance tables' manifests and input files), short name ->
    (file, rule, group or None, function)."""
    from cocapp.presentation.trace import _config_keys, source_group, source_info

    entries = {}
    for name in paths:
        rule, function = source_info(name)
        entries[name] = (str(paths[name]), rule, source_group(name, config), function)
    entries.update(extra or {})
    src: dict = {}
    rules: dict = {}
    keys: dict[str, int] = {}
    for name in sorted(entries):
        path, rule, group, function = entries[name]
        rkey = f"{rule}:{group}" if group else rule
        if rkey not in rules:
            flat = _flat_settings(_config_keys(rule, config, group))
            rules[rkey] = [keys.setdefault(k, len(keys)) for k in flat]
        src[name] = [path, rkey, function]
    return dict(src=src, rules=rules, keys=list(keys)) if src else {}


def provenance_sources(inputs: ReportInputs, config: dict) -> dict:
    """The sources of the provenance tables' numbers (issue 14), for :func:`trace_sources`: each stage
    manifest (the manifests table, the bytes of every input file), the raw input files themselves (their
    size) and the report's own manifest (the package versions shown)."""
    from cocapp.presentation.trace import INPUT_FUNCTION, MANIFEST_FUNCTION

    out = {}
    for m in inputs.manifests:
        stage = str(m.get("stage") or m["rule"]).replace("-", "_")
        group = m["rule"].removeprefix(f"{stage}_") if m["rule"] != stage else None
        group = group if group in config["groups"] else None
        out[m["src"]] = (m["path"], stage, group, MANIFEST_FUNCTION)
    for f in inputs.inputs:
        out[f"raw:{f['path']}"] = (str(f["path"]), "report", None, INPUT_FUNCTION)
    if inputs.own_manifest:
        out["report.manifest"] = (inputs.own_manifest, "report", None, MANIFEST_FUNCTION)
    return out


_ROW = re.compile(r"<tr(?![^>]*class=\"section\")[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<(th|td)\b([^>]*)>")


def with_traces(fragment: str, traces: list[list[str]]) -> str:
    """The table fragment of a display table with ``data-t`` on the cells that ``traces`` names (one
    list per data row of the display CSV, one entry per CSV column; a section column of the CSV is a
    section row in HTML, so the row's cells are the CSV's last ones)."""
    import html as _html

    head, sep, rest = fragment.partition("<tbody>")
    body, sep2, tail = rest.partition("</tbody>")
    rows = iter(traces)

    def one_row(m: re.Match) -> str:
        tr = next(rows)
        cells = list(_CELL.finditer(m.group(0)))
        offset = len(tr) - len(cells)
        text, out, pos = m.group(0), [], 0
        for j, c in enumerate(cells):
            t = tr[j + offset] if 0 <= j + offset < len(tr) else ""
            out.append(text[pos : c.end() - 1])
            if t:
                out.append(f' data-t="{_html.escape(t)}"')
            pos = c.end() - 1
        out.append(text[pos:])
        return "".join(out)

    body = _ROW.sub(one_row, body)
    left = next(rows, None)
    if left is not None:
        raise ValueError("display table has more rows than its HTML fragment")
    return head + sep + body + sep2 + tail


# -- sections --------------------------------------------------------------------------------------
def _figure_caption(spec: FigureSpec, config: dict, instruments: Mapping | None = None) -> str:
    g = config["groups"][spec.group].get("label") or spec.group
    in_text = group_in_sentence(config, spec.group)
    level = config["statistics"].get("confidence_level", 0.95)
    ref = config["statistics"].get("post_hoc", {}).get("reference_site")
    alpha = config["statistics"]["significance_level"]
    measures = {name: (inst, scale) for name, inst, scale in correlation_measures(config, spec.group)}
    if spec.kind == "scatter" and any(measures[m][1] != "total" for m in (spec.instrument, spec.scale)):
        picked = (measures[m] for m in (spec.instrument, spec.scale))
        x, y = (_instrument(config, inst, instruments).scale_title(scale) for inst, scale in picked)
        return f"{g}: {x} and {y} scores (primary threshold, pairwise complete) with the least-squares line."
    if spec.kind == "scatter":
        x, y = (_instrument(config, k, instruments).display_name for k in (spec.instrument, spec.scale))
        return (
            f"{g}: {x} and {y} total scores (primary threshold, pairwise complete) "
            "with "
            "the least-squares line."
        )
    inst = _instrument(config, spec.instrument, instruments)
    what = f"{inst.display_name} {in_sentence(inst.scale(spec.scale).label)}"
    if spec.kind == "funnel":
        return (
            f"Funnel plot: mean {what} score of each {grouping_words(config).noun} for "
            f"{in_text} against its precision (n / pooled within-{grouping_words(config).noun} variance), "
            "with control limits around the overall mean (Spiegelhalter 2005); those outside the widest "
            "limit are red and the most extreme named."
        )
    if spec.kind == "caterpillar":
        return (
            f"Mean {what} score for {in_text} at every {grouping_words(config).noun} "
            f"± {fmt_percent(level)} CI, ranked, coloured as in the funnel plot."
        )
    text = f"Mean {what} score for {in_text} ± {fmt_percent(level)} CI"
    text += ", on the scale's theoretical range."
    if ref:
        text += (
            f" # marks the reference {grouping_words(config).noun} ({ref}); * p < {fmt_g(alpha)} and "
            f"** p < {fmt_g(STRICT_LEVEL)} mark Tukey-Kramer differences from it."
        )
    if spec.label:
        text = f"The paper's {spec.label}, redrawn from the regenerated data. " + text
    return text


def _instrument(config: dict, key: str, instruments: Mapping | None = None):
    """The instrument ``key`` of the config (captions use its names, never file names or keys):
    from ``instruments`` (as the report stage loaded them), else loaded through the config."""
    from cocapp.instruments import configured_instruments

    return configured_instruments(config, instruments)[key]


def _compact(data: bytes, compacted: Mapping | None) -> bytes:
    return (compacted or {}).get(data) or compact_png(data)


def figure_entries(
    config: dict, figures: dict[str, bytes], compacted: dict | None = None, instruments: Mapping | None = None
) -> list[dict]:
    """Embedded figures in report order (published labels first, then site plots, then scatters);
    ``figures`` maps each figure's stem to its PNG bytes, and every figure of the config must be there;
    ``compacted`` (optional) holds their :func:`compact_png` copies made beforehand; ``instruments``
    the configured instruments by key (None: loaded through the config)."""
    specs = figure_specs(config, instruments)
    specs = [s for s in specs if s.label] + [s for s in specs if not s.label]
    out = []
    for spec in specs:
        if spec.stem not in figures:
            raise ValueError(f"figure {spec.stem}.png was not given to the report")
        _png(figures[spec.stem], f"{spec.stem}.png")  # checks the file given is a PNG
        data, w, h = _png(_compact(figures[spec.stem], compacted), f"{spec.stem}.png")
        out.append(
            dict(
                id=re.sub(r"[^A-Za-z0-9_-]+", "-", spec.stem),
                data=data,
                width=w,
                height=h,
                number=f"Figure {len(out) + 1}",
                stem=spec.stem,
                caption=_figure_caption(spec, config, instruments),
                alt=_figure_caption(spec, config, instruments),
            )
        )
    return out


SENSITIVITY_CAPTIONS = {
    "n_p": "{group}: n and p of the {noun} effect of every outcome and analysis by replacement threshold.",
    "site_means": "{group}: {noun} means by replacement threshold, for the outcomes whose conclusion "
    "changes.",
    "mi_site_means": (
        "{group}: {noun} means with confidence intervals by complete cases, person-mean replacement "
        "(primary threshold) and multiple imputation."
    ),
    "mi_convergence": "{group}: convergence of the imputation chains (mean and SD of the imputed answers).",
}


def _sensitivity_caption(stem: str, config: dict | None) -> str:
    """A sensitivity figure's caption from the group's label and the grouping's name (file names are
    ``{group}_{kind}``); the file name only for a figure of no known kind."""
    if config is not None:
        for group in config["groups"]:
            kind = stem.removeprefix(f"{group}_") if stem.startswith(f"{group}_") else None
            if kind in SENSITIVITY_CAPTIONS:
                label = config["groups"][group].get("label") or group
                return SENSITIVITY_CAPTIONS[kind].format(group=label, noun=grouping_words(config).noun)
    return f"Sensitivity analysis: {stem.replace('_', ' ')}."


def sensitivity_figures(
    figures: dict[str, bytes], start: int, config: dict | None = None, compacted: dict | None = None
) -> list[dict]:
    """The sensitivity figures (stem -> PNG bytes) in name order, numbered from ``start``, captioned
    from the config's labels (:func:`_sensitivity_caption`); ``compacted`` as for :func:`figure_entries`."""
    out = []
    for stem in sorted(figures):
        _png(figures[stem], f"{stem}.png")
        data, w, h = _png(_compact(figures[stem], compacted), f"{stem}.png")
        caption = _sensitivity_caption(stem, config)
        out.append(
            dict(
                id=f"sensitivity-{re.sub(r'[^A-Za-z0-9_-]+', '-', stem)}",
                data=data,
                width=w,
                height=h,
                number=f"Figure {start + len(out)}",
                caption=caption,
                alt=caption.rstrip("."),
            )
        )
    return out


def _matches(comparison: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(compared, matched, not matched) masks of the audit's ``match`` flag (nullable boolean under
    the contract: empty where nothing was regenerated)."""
    match = comparison["match"]
    return match.notna(), match.fillna(False).astype(bool), (~match).fillna(False).astype(bool)


def _yes_no(flag: object, missing: str) -> str:
    """A flag of the audit (nullable boolean) as ``yes``/``no``; ``missing`` where it is empty."""
    return missing if pd.isna(flag) else ("yes" if flag else "no")


def _text(value: object) -> str:
    """A text cell of the audit as text: empty (never ``nan``) when missing."""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _regenerated_text(r) -> str:
    """The regenerated value to two more decimals than printed; a count printed as an integer stays an
    integer (``70``, not ``70.0000``); missing is an em dash."""
    x = r.regenerated
    if int(r.printed_decimals) == 0 and not pd.isna(x) and float(x).is_integer() and r.quantity != "p":
        return str(int(x))
    return fmt_num(x, max(int(r.printed_decimals), 2) + 2)


def _printed_and_regenerated(r) -> list[str]:
    """Where a printed number stands, as printed, and the regenerated value to two more decimals."""
    return [
        _text(r.table),
        _text(r.group),
        _text(r.instrument),
        _text(r.scale),
        _text(r.site),
        _text(r.quantity),
        _text(r.printed),
        _regenerated_text(r),
    ]


def evidence_sentences(comparison: pd.DataFrame | None, statement: dict | None) -> list[str]:
    """What the match with the paper can show, from the audit's ``evidence`` column and the calibration
    statement (:func:`cocapp.presentation.calibration.calibration_statement`): how many matched numbers
    were calibration targets (matched by construction) and which results are illustrative. Empty for
    data that are not synthetic and no calibration claimed."""
    out: list[str] = []
    if comparison is not None and "evidence" in comparison.columns:
        _, matched, _ = _matches(comparison)
        ev = comparison["evidence"].map(_text)
        n_target = int((ev == "calibration target").sum())
        n_target_ok = int(((ev == "calibration target") & matched).sum())
        n_ill = int((ev == "illustrative").sum())
        n_ill_ok = int(((ev == "illustrative") & matched).sum())
        if n_target:
            out.append(
                f"{n_target} of the {len(comparison)} printed numbers were calibration targets of the "
                f"synthetic data ({n_target_ok} of them match): they match by construction, because the "
                "data were tuned until they came back out, and are no independent confirmation of the paper."
            )
        if n_ill:
            out.append(
                f"{n_ill} printed numbers were not calibration targets at the configured settings "
                f"({n_ill_ok} of them match): on synthetic data these comparisons are illustrative."
            )
        if (ev == "independent").all() and len(ev):
            out.append("The data are not synthetic: every match is a reproduction from the study's data.")
    if statement and statement.get("synthetic") and not statement.get("declared"):
        out.append(
            "The data are synthetic and their calibration is not declared (study.calibration): which "
            "published numbers they were tuned to is unknown, so no match is evidence."
        )
    return out


def calibration_block(statement: dict | None, link: str | None, config: dict | None = None) -> dict | None:
    """The report's 'What these data can show' block (None for data that are not synthetic), in the
    study's words for its grouping."""
    if not statement or not statement.get("synthetic"):
        return None
    families = [f"{f['family']} ({f['n_targets']})" for f in statement.get("families", [])]
    lead = (
        f"The data are synthetic, tuned to {statement['n_targets']} calibration targets taken from the "
        f"paper ({statement['n_passed']} met) at the {fmt_percent(statement['threshold'])} threshold. "
        "Numbers that were targets match the paper by construction: " + ", ".join(families) + "."
        if statement.get("declared")
        else "The data are synthetic and their calibration is not declared (study.calibration)."
    )
    notes = []
    if statement.get("declared") and not statement.get("primary_is_calibrated"):
        notes.append(
            f"The configured primary threshold is not the calibration threshold "
            f"({fmt_percent(statement['threshold'])}): the primary analysis's numbers were not targets."
        )
    if statement.get("anova_thresholds"):
        notes.append(
            "The one-way ANOVA's conclusion (significant or not) was a target at every threshold "
            f"({', '.join(fmt_percent(t) for t in statement['anova_thresholds'])}): its robustness "
            "across thresholds is by construction."
        )
    return dict(
        lead=lead,
        notes=notes,
        illustrative=[reword(f, config or {}) for f in statement.get("illustrative", [])],
        link=link,
        link_text=statement.get("report") or statement.get("targets"),
    )


def comparison_section(
    comparison: pd.DataFrame | None, consistency: pd.DataFrame | None, config: dict
) -> dict | None:
    """Summary sentence and display tables of the published comparison and the consistency checks."""
    if comparison is None:
        return None
    synthetic = bool(config["study"].get("synthetic"))
    notes = _tables._base_notes(config)
    compared, matched, mismatched = _matches(comparison)
    n_all, n_cmp = len(comparison), int(compared.sum())
    n_ok = int(matched.sum())
    summary = (
        f"{n_ok} of {n_cmp} printed numbers with a regenerated value match within printed precision "
        f"({n_all} printed numbers in all)."
    )
    tables = [
        _matched_by_table(comparison, notes, synthetic),
        _mismatches_table(comparison[mismatched], notes, synthetic),
    ]
    if consistency is not None:
        tables.append(_consistency_table(consistency, notes, synthetic))
    tables.append(_every_printed_number_table(comparison, notes, synthetic))
    return dict(summary=summary, tables=[Markup(_tables.to_html_fragment(t)) for t in tables])


def _matched_by_table(comparison: pd.DataFrame, notes: list[str], synthetic: bool) -> _tables.DisplayTable:
    """Table C1: the printed numbers of each published table, how many were regenerated and matched."""
    by = _tables.DisplayTable(
        "published-summary",
        "Table C1",
        "Printed numbers matched, by table",
        ["Table", "Printed numbers", "Regenerated", "Matched", "Not matched"],
        notes=notes,
        synthetic=synthetic,
    )
    for table, sub in comparison.groupby("table", sort=False):
        compared, matched, mismatched = _matches(sub)
        where = f"published_comparison|table={table}"
        by.add(
            [
                str(table),
                str(len(sub)),
                str(int(compared.sum())),
                str(int(matched.sum())),
                str(int(mismatched.sum())),
            ],
            # counts of rows of the audit file: ``#`` = the number of rows matching the filter
            cell_traces=[
                "",
                f"{where}|#",
                f"{where}&match!=|#",
                f"{where}&match=True|#",
                f"{where}&match=False|#",
            ],
        )
    return by


def _mismatches_table(bad: pd.DataFrame, notes: list[str], synthetic: bool) -> _tables.DisplayTable:
    """Table C2: the printed numbers (rows ``bad`` of the audit) that the regenerated results do not match."""
    has_reason = "reason" in bad.columns
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
            *(["Reason"] if has_reason else []),
        ],
        notes=notes,
        synthetic=synthetic,
        trace_columns=["", "", "", "", "", "", "printed", "regenerated", "", *([""] if has_reason else [])],
    )
    for r in bad.itertuples():
        mis.add(
            [
                *_printed_and_regenerated(r),
                _text(r.consistency_flag),
                *([_text(r.reason)] if has_reason else []),
            ],
            trace=f"published_comparison|{int(r.Index) + 2}",
        )
    if not len(bad):
        mis.add(["(none)", "", "", "", "", "", "", "", "", *([""] if has_reason else [])])
    return mis


def _consistency_table(consistency: pd.DataFrame, notes: list[str], synthetic: bool) -> _tables.DisplayTable:
    """Table C3: the printed values that fail a consistency check of the printed numbers alone."""
    flagged = consistency[~consistency["consistent"].fillna(False).astype(bool)]
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
        trace_columns=["", "", "", "", "", "", "printed", "", "suggested_value", ""],
    )
    for r in flagged.itertuples():
        ct.add(
            [
                _text(r.check),
                _text(r.table),
                _text(r.instrument),
                _text(r.scale),
                _text(r.site),
                _text(r.quantity),
                _text(r.printed),
                _yes_no(r.cannot_be_consistent, "no"),
                _text(r.suggested_value),
                _text(r.note),
            ],
            trace=f"published_consistency|{int(r.Index) + 2}",
        )
    if not len(flagged):
        ct.add(["(none)", "", "", "", "", "", "", "", "", ""])
    return ct


def _every_printed_number_table(
    comparison: pd.DataFrame, notes: list[str], synthetic: bool
) -> _tables.DisplayTable:
    """Table C4: every printed number beside the regenerated value and whether they match."""
    has_evidence = "evidence" in comparison.columns
    full = _tables.DisplayTable(
        "published-comparison",
        "Table C4",
        "Every printed number beside the regenerated value",
        [
            "Table",
            "Group",
            "Instrument",
            "Scale",
            "Site",
            "Quantity",
            "Printed",
            "Regenerated",
            "Match",
            *(["Evidence"] if has_evidence else []),
        ],
        notes=notes,
        synthetic=synthetic,
        trace_columns=["", "", "", "", "", "", "printed", "regenerated", "", *([""] if has_evidence else [])],
    )
    for r in comparison.itertuples():
        full.add(
            [
                *_printed_and_regenerated(r),
                _yes_no(r.match, MISSING),
                *([_text(r.evidence)] if has_evidence else []),
            ],
            trace=f"published_comparison|{int(r.Index) + 2}",
        )
    return full


MISSING = MISSING_TEXT


# Which calibration families (calibration.calibration_statement) touch each analysis block.
_BLOCK_FAMILIES = {
    "normality": ("normality", "the count of outcomes beyond the conservative limit"),
    "correlations": ("correlations (all sites pooled)", "r and n with all sites pooled"),
    "tukey": ("Tukey p against the reference site", "the Tukey p of each site against the reference site"),
}


def _block_evidence(key: str, statement: dict | None) -> str:
    """``illustrative`` (synthetic data not tuned to the block's numbers), or which of its numbers were
    calibration targets; empty for data that are not synthetic."""
    if not statement or not statement.get("synthetic"):
        return ""
    if not statement.get("declared"):
        return "synthetic data, calibration not declared"
    fams = {f["family"] for f in statement.get("families", [])}
    family, what = _BLOCK_FAMILIES.get(key, (None, None))
    if family in fams:
        return f"illustrative, except {what} (a calibration target)"
    return "illustrative: not a calibration target"


def analyses_section(inputs: ReportInputs, config: dict) -> list[dict]:
    """The compact tables of every statistics family given to the report (:mod:`.analyses`)."""
    from cocapp.presentation.analyses import analysis_blocks

    out = []
    published_missing = _published_missing(inputs.comparison)
    for b in analysis_blocks(inputs.stats, config, inputs.labels, published_missing, inputs.instruments):
        out.append(
            dict(
                key=b.key,
                title=b.title,
                finding=b.finding,
                evidence=_block_evidence(b.key, inputs.calibration),
                shown=[Markup(_tables.to_html_fragment(t)) for t in b.shown],
                folded=[Markup(_tables.to_html_fragment(t)) for t in b.folded],
                folded_summary=b.folded_summary,
                source=[
                    dict(path=f"data/derived/stats/{n}.csv", link=(inputs.stats_links or {}).get(n))
                    for n in b.source
                ],
            )
        )
    return out


def _published_missing(comparison: pd.DataFrame | None) -> dict | None:
    """The paper's missing-data statement as the audit holds it (rows of table ``Missing data``)."""
    if comparison is None or "table" not in comparison.columns:
        return None
    rows = comparison[comparison["table"] == "Missing data"]
    if rows.empty:
        return None
    return {str(r.quantity).replace("percent_incomplete_", ""): str(r.printed) for r in rows.itertuples()}


def glance(inputs: ReportInputs, config: dict) -> dict:
    """The one-screen summary at the top of the report: what was found and what to worry about, each
    line taken from a derived file the report already shows (nothing recomputed)."""
    alpha = float(config["statistics"]["significance_level"])
    primary = format_threshold(config["scoring"]["primary_threshold"])
    statement = inputs.calibration or {}
    anova = inputs.stats.get("anova")
    a = anova[anova["threshold"] == primary] if anova is not None and len(anova) else None
    found = [
        *_glance_differences(a, inputs.labels, config, alpha),
        *_glance_published(inputs.comparison, statement),
    ]
    worries = [
        *_glance_variances(a, alpha),
        *_glance_thresholds(inputs.verdict),
        *_glance_slopes(inputs.stats.get("ancova_slopes"), config, alpha, primary),
        *_glance_mcar(inputs.stats.get("mcar"), alpha),
        *_glance_audit(inputs.comparison, inputs.consistency),
    ]
    return dict(data=_glance_data(statement), found=found, worries=worries)


def _glance_data(statement: dict) -> str:
    """The line on synthetic data and their calibration (empty for data that are not synthetic)."""
    if not statement.get("synthetic"):
        return ""
    return "Synthetic data: every number below describes data generated to match the paper" + (
        f" ({statement['n_targets']} calibration targets); matches with the paper are by construction "
        "and everything not calibrated is illustrative."
        if statement.get("declared")
        else "; which numbers were calibrated is not declared."
    )


def _glance_differences(a: pd.DataFrame | None, labels: Mapping, config: dict, alpha: float) -> list[str]:
    """One line per respondent group: the outcomes whose one-way ANOVA (rows ``a``) is significant."""
    if a is None:
        return []
    out = []
    for g, spec in config["groups"].items():
        ga = a[a["group"] == g]
        sig = ga[ga["p"] < alpha]
        label = spec.get("label") or g
        names = ", ".join(
            f"{labels.get((r.instrument, r.scale), f'{r.instrument} {r.scale}')} (p {fmt_p_glance(r.p)})"
            for r in sig.itertuples()
        )
        out.append(
            f"{label}: {grouping_words(config).nouns} differ (one-way ANOVA, p < {fmt_g(alpha)}) on "
            f"{len(sig)} of {len(ga)} "
            f"outcomes" + (f": {names}." if names else ".")
        )
    return out


def _glance_variances(a: pd.DataFrame | None, alpha: float) -> list[str]:
    """Worries from the ANOVA rows ``a``: unequal variances (Levene), Welch's F disagreeing with F."""
    if a is None:
        return []
    out = []
    lev = int((a["levene_median_p"] < alpha).sum())
    if lev:
        out.append(f"Unequal variances (Levene, median-centred) for {lev} of {len(a)} outcomes.")
    dis = a[((a["p"] < alpha) != (a["welch_p"] < alpha)) & a["p"].notna() & a["welch_p"].notna()]
    if len(dis):
        out.append(f"Welch's F disagrees with the F test on significance for {len(dis)} outcome(s).")
    return out


def _glance_thresholds(verdict: dict | None) -> list[str]:
    """One worry per group whose conclusions depend on the missing-item threshold (the verdict's facts)."""
    from cocapp.presentation.verdict import changed_labels

    out = []
    for g in (verdict or {}).get("groups", []):
        changed = changed_labels(g)
        moving = {
            a.get("evidence")
            for a in g["analyses"]
            if any(o["status"] in ("loses_significance", "gains_significance") for o in a["outcomes"])
        }
        if changed and moving == {"illustrative"}:
            changed = [
                *changed[:-1],
                f"{changed[-1]}; only in analyses that are illustrative on synthetic data",
            ]
        if changed:
            out.append(
                f"{g['label']}: the conclusion depends on the missing-item threshold for "
                f"{len(changed)} of "
                f"{g['n_outcomes']} outcomes ({', '.join(changed)})."
            )
    return out


def _glance_slopes(slopes: pd.DataFrame | None, config: dict, alpha: float, primary: str) -> list[str]:
    """The worry that ANCOVA slopes are not parallel (equal-slopes checks at the primary threshold)."""
    if slopes is None or not len(slopes):
        return []
    sl = slopes[slopes["threshold"] == primary]
    n = int((sl["p"] < alpha).sum())
    if not n:
        return []
    return [
        f"ANCOVA slopes not parallel ({grouping_words(config).noun} x covariate "
        f"p < {fmt_g(alpha)}) in {n} of {len(sl)} checks."
    ]


def _glance_mcar(mcar: pd.DataFrame | None, alpha: float) -> list[str]:
    """The worry that Little's test rejects missing completely at random."""
    if mcar is None or not len(mcar):
        return []
    n = int((mcar["p"] < alpha).sum())
    return [f"Little's test rejects MCAR for {n} of {len(mcar)} instruments."] if n else []


def _glance_published(comparison: pd.DataFrame | None, statement: dict) -> list[str]:
    """The line on how many published numbers match (none without a published comparison)."""
    if comparison is None:
        return []
    compared, matched, _ = _matches(comparison)
    return [
        f"Published numbers: {int(matched.sum())} of {int(compared.sum())} match "
        "within printed "
        "precision"
        + (
            f" ({int((comparison['evidence'].map(_text) == 'calibration target').sum())} were "
            "calibration targets)."
            if "evidence" in comparison.columns and statement.get("declared")
            else "."
        )
    ]


def _glance_audit(comparison: pd.DataFrame | None, consistency: pd.DataFrame | None) -> list[str]:
    """Worries from the audit: printed numbers not reproduced, printed values that cannot be consistent."""
    out = []
    if comparison is not None:
        bad = int(_matches(comparison)[2].sum())
        if bad:
            out.append(f"{bad} printed number(s) not reproduced; each has its reason in Table C2.")
    if consistency is not None:
        n = int(consistency["cannot_be_consistent"].sum())
        if n:
            out.append(f"{n} printed value(s) cannot be consistent with any data (Table C3).")
    return out


def fmt_p_glance(p: float) -> str:
    """``= 0.002`` or ``< 0.001`` for the summary lines."""
    from cocapp.formatting import fmt_p

    t = fmt_p(p)
    return t if t.startswith("<") else f"= {t}"


def _all_inputs(manifests: list[dict]) -> list[dict]:
    """Every distinct input file of the run's stages (path, bytes, SHA-256, the rules that read it)."""
    seen: dict[str, dict] = {}
    for m in manifests:
        for f in m.get("inputs", []):
            entry = seen.setdefault(
                f["path"],
                dict(
                    path=f["path"],
                    bytes=f.get("bytes"),
                    sha256=f.get("sha256"),
                    rules=[],
                    # the trace of its bytes: the first manifest listing it, at its entry there
                    trace=f"{m['src']}|{f['pointer']}|bytes" if m.get("src") and f.get("pointer") else "",
                ),
            )
            entry["rules"].append(m["rule"])
    return sorted(seen.values(), key=lambda e: (e["path"].startswith("cocapp/"), e["path"]))


def _code_state() -> str:
    """The cocapp checkout's commit and whether it has uncommitted changes."""
    from cocapp.provenance import git_state

    g = git_state()
    if not g["commit"]:
        return "not a git checkout"
    return g["commit"] + (" with uncommitted changes" if g["dirty"] else " (clean)")


def render_report(config: dict, inputs: ReportInputs, run_time: str | None = None) -> str:
    """The report's HTML text (see module docstring) from what the report stage read."""
    table_blocks = _table_blocks(config, inputs)
    sens_html = (
        Markup(render_verdict(inputs.verdict, fmt="html", words=grouping_words(config)))
        if inputs.verdict is not None
        else None
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    groups = [
        # instruments by the names of their files (short_name, else name), never their keys
        dict(
            key=g,
            label=spec.get("label") or g,
            instruments=_tables._display_names(config, spec["instruments"], inputs.instruments),
        )
        for g, spec in config["groups"].items()
    ]
    template = env.get_template(TEMPLATE)
    context = _report_context(config, inputs, run_time, table_blocks, sens_html, groups)
    # the figures last: the report stage compacts them in the background meanwhile (inputs.compacted)
    figs = figure_entries(config, inputs.figures, inputs.compacted, inputs.instruments)
    sens_figs = sensitivity_figures(inputs.sensitivity_figures, len(figs) + 1, config, inputs.compacted)
    html = template.render(**context, figures=figs, sensitivity_figures=sens_figs)
    return compact_cells(html)


def _table_blocks(config: dict, inputs: ReportInputs) -> list[dict]:
    """The report's Tables 1-4 and S1-S3 (``key``, ``html`` with each cell's trace, ``files``), in the
    order of :func:`cocapp.presentation.tables.table_specs`."""
    from cocapp.presentation.trace import cell_traces, traceable

    table_blocks = []
    for key, _number in _tables.table_specs(config):
        if key not in inputs.tables:
            raise ValueError(f"table {key}.html was not given to the report")
        frag = _tables.html_fragment_from_document(inputs.tables[key])
        if key in inputs.displays and inputs.derived is not None and traceable(key):
            traces = cell_traces(key, inputs.displays[key], config, inputs.derived, inputs.instruments)
            frag = with_traces(frag, traces)
        table_blocks.append(dict(key=key, html=Markup(frag), files=inputs.table_files.get(key, [])))
    return table_blocks


def _report_context(
    config: dict,
    inputs: ReportInputs,
    run_time: str | None,
    table_blocks: list[dict],
    sens_html: Markup | None,
    groups: list[dict],
) -> dict:
    """The template's variables but the figures: the study, its sections and the run's provenance."""
    study = config["study"]
    return dict(
        study=dict(
            name=study.get("name", ""), title=study.get("title", ""), citation=study.get("citation", "")
        ),
        synthetic=bool(study.get("synthetic")),
        data_note=" ".join(str(study.get("data_note") or "SYNTHETIC DATA").split()),
        note=" ".join(str(study.get("data_note") or "").split()),
        grouping=grouping_words(config),
        # every site attribute beyond ``name`` is optional (the schema's): absent is None, never an error
        sites=[dict(name=s["name"], code=s.get("code"), country=s.get("country")) for s in config["sites"]],
        groups=groups,
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        methods=methods_text(config),
        tables=table_blocks,
        sensitivity_html=sens_html,
        comparison=comparison_section(inputs.comparison, inputs.consistency, config),
        evidence=evidence_sentences(inputs.comparison, inputs.calibration),
        calibration=calibration_block(inputs.calibration, inputs.calibration_link, config),
        analyses=analyses_section(inputs, config),
        glance=glance(inputs, config),
        manifests=inputs.manifests,
        manifest_issues=inputs.manifest_issues,
        all_inputs=_all_inputs(inputs.manifests),
        code_state=_code_state(),
        table_link_base=inputs.table_link_base,
        figure_link_base=inputs.figure_link_base,
        qualitative_html=Markup(inputs.qualitative_html) if inputs.qualitative_html else None,
        inputs=inputs.inputs,
        versions=package_versions(),
        config_path=inputs.config_path,
        config_sha256=inputs.config_sha256,
        trace_sources=trace_sources(inputs.trace_sources, config, provenance_sources(inputs, config)),
        own_manifest=bool(inputs.own_manifest),
        run_time=run_time or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    )


_REPORT_TABLE = re.compile(r'<table class="cocapp-table".*?</table>', re.S)
_TD = re.compile(r'<td( class="nw")?(?=[\s>])')


def compact_cells(html: str) -> str:
    """The report's tables with the common case as the default (issue 14: the report under 1.5 MB):
    a short cell kept on one line (``<td class="nw">``, most cells of the table files) becomes a bare
    ``<td>``, and a cell that may wrap gets ``class="w"``; the report's stylesheet reads them so (the
    table files keep their own markup). Saves about 90 KB on the default run's report.

    >>> compact_cells('<table class="cocapp-table"><td class="nw">1.0</td><td colspan="2">a</td></table>')
    '<table class="cocapp-table"><td>1.0</td><td class="w" colspan="2">a</td></table>'
    """

    def table(m: re.Match) -> str:
        return _TD.sub(lambda c: "<td" if c.group(1) else '<td class="w"', m.group(0))

    return _REPORT_TABLE.sub(table, html)
