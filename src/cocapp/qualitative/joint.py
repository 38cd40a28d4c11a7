"""Stage ``joint-display``: survey results beside qualitative coverage, per site (mixed-methods view).

The joint display (Guetterman, Fetters & Creswell 2015, Ann Fam Med 13:554) puts, for each site in
config order, the survey outcomes named in ``qualitative.joint_display.outcomes`` for the group
``qualitative.joint_display.group`` at the primary threshold (``scoring.primary_threshold``) - n, mean
and confidence interval from ``stats/descriptives.csv``, and the Tukey contrasts involving that site
with ``p_adj`` below ``statistics.significance_level`` from ``stats/tukey.csv`` - beside the qualitative
coverage of that site: cases and segments, cases per theme, the themes covered and one representative
extract with its source label.

Representative extract: the theme with most cases at the site (ties: codebook order; when
single-case extracts are suppressed only themes with at least two cases qualify), then its most
frequent code at the site (ties: codebook order), then, among that code's segments, the one whose case
has most segments in the theme at the site (ties: canonical order).
Counts of the qualitative columns follow the small-cell rule (:func:`cocapp.qualitative.framework.suppress`);
survey numbers are copied at full precision (the ``*_tukey_significant`` text rounds for reading; the
exact values are in ``tukey.csv``).

The stage also renders the qualitative section of the HTML report (``qualitative_section.html``, an
HTML fragment from the Jinja2 template ``templates/qualitative_section.html.j2``).
"""

from __future__ import annotations

import re
from importlib import resources

import pandas as pd

from cocapp.config import at_threshold, format_threshold
from cocapp.csvout import record_lines
from cocapp.formatting import fmt_num, fmt_percent, fmt_sig
from cocapp.qualitative.framework import (
    suppress,
    suppressed_framework_tables,
    theme_order,
)

__all__ = ["joint_display", "outcome_slug", "render_section", "theme_slug"]


def outcome_slug(instrument: str, scale: str) -> str:
    """Column prefix of an outcome.

    >>> outcome_slug("STAR-P", "total")
    'star_p_total'
    """
    return re.sub(r"[^a-z0-9]+", "_", f"{instrument}_{scale}".lower()).strip("_")


def theme_slug(theme: str) -> str:
    """Column suffix of a theme.

    >>> theme_slug("Connecting and mobilising")
    'connecting_and_mobilising'
    """
    return re.sub(r"[^a-z0-9]+", "_", theme.lower()).strip("_")


def _at_threshold(df: pd.DataFrame, threshold: float | str) -> pd.Series:
    return at_threshold(df["threshold"], threshold)


def _survey_columns(
    site: str,
    descriptives: pd.DataFrame,
    tukey: pd.DataFrame,
    group: str,
    outcomes: list[dict],
    threshold: float | str,
    alpha: float,
    files: tuple[str, str],
) -> dict:
    out: dict = {}
    for oc in outcomes:
        inst, scale = oc["instrument"], oc["scale"]
        slug = outcome_slug(inst, scale)
        sel = descriptives[
            (descriptives["group"] == group)
            & (descriptives["instrument"] == inst)
            & (descriptives["scale"] == scale)
            & _at_threshold(descriptives, threshold)
            & (descriptives["site"] == site)
        ]
        if len(sel) != 1:
            raise ValueError(
                f"{files[0]}: expected one row for group {group!r}, instrument {inst!r}, scale {scale!r}, "
                f"threshold {format_threshold(threshold)}, site {site!r}; found {len(sel)}"
            )
        rec = sel.iloc[0]
        out[f"{slug}_n"] = rec["n"]
        out[f"{slug}_mean"] = rec["mean"]
        out[f"{slug}_ci_low"] = rec["ci_low"]
        out[f"{slug}_ci_high"] = rec["ci_high"]
        tk = tukey[
            (tukey["group"] == group)
            & (tukey["instrument"] == inst)
            & (tukey["scale"] == scale)
            & _at_threshold(tukey, threshold)
            & ((tukey["site_a"] == site) | (tukey["site_b"] == site))
        ]
        texts = []
        for t in tk.to_dict("records"):
            if not float(t["p_adj"]) < alpha:
                continue
            other, diff = (
                (t["site_b"], float(t["diff"])) if t["site_a"] == site else (t["site_a"], -float(t["diff"]))
            )
            word = "higher" if diff > 0 else "lower"
            texts.append(f"{word} than {other} (difference {fmt_num(diff)}, p_adj {fmt_sig(t['p_adj'])})")
        out[f"{slug}_tukey_significant"] = "; ".join(texts) if texts else "none"
    return out


def _representative(seg: pd.DataFrame, codebook: pd.DataFrame, min_cases: int) -> tuple[str, str, str]:
    """(theme, formatted extract, source label) of the representative extract, or empty strings."""
    if seg.empty:
        return "", "", ""
    themes = theme_order(codebook)
    code_rank = {c: i for i, c in enumerate(codebook["code"])}
    n_by_theme = seg.groupby("theme")["case_id"].nunique()
    eligible = [t for t in themes if n_by_theme.get(t, 0) >= max(min_cases, 1)]
    if not eligible:
        return "", "", ""
    theme = max(eligible, key=lambda t: (n_by_theme[t], -themes.index(t)))
    in_theme = seg[seg["theme"] == theme]
    counts = in_theme.groupby("code").size()
    code = max(counts.index, key=lambda c: (counts[c], -code_rank[c]))
    # the voice that speaks most to this theme at the site, then canonical order
    per_case = in_theme.groupby("case_id").size()
    of_code = in_theme[in_theme["code"] == code]
    rank = of_code["case_id"].map(per_case)
    first = of_code.loc[rank[rank == rank.max()].index[0]]
    return theme, str(first["text"]), str(first["source_label"])


def joint_display(
    segments: pd.DataFrame,
    cases: pd.DataFrame,
    codebook: pd.DataFrame,
    descriptives: pd.DataFrame,
    tukey: pd.DataFrame,
    config: dict,
    interviews: pd.DataFrame | None = None,
    files: tuple[str, str] = ("descriptives.csv", "tukey.csv"),
) -> pd.DataFrame:
    """One row per configured site: survey outcomes beside qualitative coverage (unsuppressed counts).

    Columns: ``site``, then per outcome ``<slug>_n``, ``_mean``, ``_ci_low``, ``_ci_high``,
    ``_tukey_significant``; ``survey_data_synthetic`` (config ``study.synthetic``: the survey numbers
    come from synthetic data), ``qualitative_dataset`` (the dataset label), ``n_interviewed`` (from the
    interview counts, empty without them), ``n_cases``, ``n_segments``, ``n_cases_<theme>`` per theme,
    ``themes_covered``, ``representative_theme``, ``representative_extract``,
    ``representative_source``. Apply :func:`cocapp.qualitative.framework.suppress` before publishing.
    """
    qual = config.get("qualitative", {})
    jd = qual.get("joint_display", {})
    group = jd.get("group")
    outcomes = jd.get("outcomes", [])
    if outcomes and group is None:
        raise ValueError("key qualitative.joint_display.group: needed to pick survey outcomes")
    threshold = config["scoring"]["primary_threshold"]
    alpha = float(config["statistics"]["significance_level"])
    min_cases = 2 if qual.get("suppress_single_case_extracts", True) else 1
    themes = theme_order(codebook)
    slugs = [theme_slug(t) for t in themes] + [outcome_slug(o["instrument"], o["scale"]) for o in outcomes]
    clash = sorted({x for x in slugs if slugs.count(x) > 1})
    if clash:
        raise ValueError(f"themes or outcomes {clash} give the same column name; rename one of them")
    rows = []
    for site in [s["name"] for s in config["sites"]]:
        row: dict = {"site": site}
        row.update(_survey_columns(site, descriptives, tukey, group, outcomes, threshold, alpha, files))
        seg = segments[segments["site"] == site]
        row["survey_data_synthetic"] = bool(config.get("study", {}).get("synthetic", False))
        row["qualitative_dataset"] = qual.get("dataset_label", "")
        row["n_interviewed"] = (
            int(interviews.loc[interviews["site"] == site, "n_interviewed"].sum())
            if interviews is not None
            else pd.NA
        )
        row["n_cases"] = int((cases["site"] == site).sum())
        row["n_segments"] = len(seg)
        by_theme = seg.groupby("theme")["case_id"].nunique()
        for theme in themes:
            row[f"n_cases_{theme_slug(theme)}"] = int(by_theme.get(theme, 0))
        row["themes_covered"] = "; ".join(t for t in themes if by_theme.get(t, 0) > 0)
        theme, text, label = _representative(seg, codebook, min_cases)
        row["representative_theme"] = theme
        row["representative_extract"] = text
        row["representative_source"] = label
        rows.append(row)
    return pd.DataFrame(rows)


def suppress_joint(table: pd.DataFrame, qual_config: dict) -> pd.DataFrame:
    """The small-cell rule for the joint display: qualitative ``n_*`` counts suppressed, and (with
    ``suppress_single_case_extracts``) no representative extract, source or theme where the theme's case
    count at the site is suppressed: quoting it would say the cell holds more than one case (the same
    rule as the framework matrices, :func:`cocapp.qualitative.framework.suppress`)."""
    threshold = int(qual_config.get("small_cell_threshold", 3))
    cols = [c for c in table.columns if c.startswith("n_")]
    out = suppress(table, threshold, count_columns=cols, suppress_single_case_extracts=False)
    if bool(qual_config.get("suppress_single_case_extracts", True)) and "representative_theme" in out:
        for i, theme in out["representative_theme"].items():
            n = out.at[i, "n_cases_" + theme_slug(theme)] if isinstance(theme, str) and theme else None
            if _is_small(n):
                out.loc[i, ["representative_theme", "representative_extract", "representative_source"]] = ""
    return out


def _is_small(count: object) -> bool:
    """Whether a count was suppressed by the small-cell rule (written ``"<threshold"``)."""
    return str(count).startswith("<")


def _joint_rows(joint: pd.DataFrame, threshold: int, single: bool) -> list[dict]:
    """The rows of the published joint display (:func:`suppress_joint`) for the report, with the note
    shown where no extract is quoted (its words never depend on a count)."""
    rows = joint.to_dict("records")
    for r in rows:
        r["no_extract_note"] = (
            f"no extract shown (small-cell rule: themes with fewer than {threshold} cases are not quoted)"
            if single
            else "no extract"
        )
    return rows


def csv_lines(table: pd.DataFrame) -> list[int]:
    """The line (header = 1) of each row of ``table`` in its CSV file as the stages write it
    (:func:`cocapp.csvout.write_csv`; a cell with line breaks spans lines)."""
    return record_lines(table.to_csv(index=False, lineterminator="\n"))


def render_section(
    segments: pd.DataFrame,
    cases: pd.DataFrame,
    codebook: pd.DataFrame,
    joint: pd.DataFrame,
    config: dict,
    framework: dict[str, pd.DataFrame] | None = None,
) -> str:
    """The qualitative section of the HTML report (an HTML fragment, ``<section>`` ... ``</section>``).

    Shows the dataset label, the small-cell rule, the joint display, the site x theme and participant
    group x theme matrices (counts, and extracts quoted with their source labels where the rule allows),
    code frequencies by site and the codebook. ``framework`` holds the published framework tables as
    written by ``qualitative-framework`` (file name -> cells as text; computed with
    :func:`cocapp.qualitative.framework.suppressed_framework_tables` when not given), so every count
    shown is the one of a file. Numbers are rounded here for reading only.

    Traces (issue 14): each count carries ``data-t="<file stem>|<line>|<columns>"`` (on the cell, or
    ``<line>`` on the row with the table's ``data-s`` and the column header's ``data-c``), the line of
    ``joint_display.csv`` or of the framework file that holds it; the report names the files.
    """
    qual = config.get("qualitative", {})
    threshold = int(qual.get("small_cell_threshold", 3))
    single = bool(qual.get("suppress_single_case_extracts", True))
    sites = [s["name"] for s in config["sites"]]
    themes = theme_order(codebook)
    pub = framework or suppressed_framework_tables(segments, cases, codebook, sites, qual)
    lines = {name: csv_lines(t) for name, t in pub.items()}
    matrices = _Matrices(pub, lines, segments, themes)
    jd = qual.get("joint_display", {})
    outcomes = _outcome_labels(jd)
    conf = float(config["statistics"].get("confidence_level", 0.95))
    freq_rows = _frequency_rows(
        codebook, sites, pub["code_frequencies_by_site.csv"], lines["code_frequencies_by_site.csv"]
    )
    published_joint = suppress_joint(joint, qual)
    template = _jinja_environment().get_template("qualitative_section.html.j2")
    return template.render(
        dataset_label=qual.get("dataset_label", ""),
        threshold=threshold,
        single=single,
        themes=themes,
        sites=sites,
        group=(config.get("groups", {}).get(jd.get("group")) or {}).get("label") or jd.get("group"),
        synthetic=bool(config.get("study", {}).get("synthetic", False)),
        primary_threshold=format_threshold(config["scoring"]["primary_threshold"]),
        alpha=config["statistics"]["significance_level"],
        confidence=fmt_percent(conf),
        outcomes=outcomes,
        joint=_joint_rows(published_joint, threshold, single),
        joint_lines=csv_lines(published_joint),
        theme_slugs={t: theme_slug(t) for t in themes},
        site_matrix=matrices.rows("site", "framework_site_theme.csv"),
        group_matrix=matrices.rows("participant_group", "framework_group_theme.csv"),
        codebook=pub["codebook.csv"].to_dict("records"),
        codebook_lines=lines["codebook.csv"],
        freq_rows=freq_rows,
    )


class _Matrices:
    """The framework matrices of the report: the published framework files (``pub``, file name ->
    table; ``lines``, file name -> CSV line of each row) with the extracts of ``segments`` they quote."""

    def __init__(
        self,
        pub: dict[str, pd.DataFrame],
        lines: dict[str, list[int]],
        segments: pd.DataFrame,
        themes: list[str],
    ):
        self.pub, self.lines, self.segments, self.themes = pub, lines, segments, themes

    def rows(self, unit_col: str, name: str) -> list[dict]:
        """Matrix rows for the template: unit, and per theme counts + extracts (or the withheld note)."""
        table = self.pub[name]
        out = []
        for unit in dict.fromkeys(table[unit_col]):
            cells = [self.cell(table, name, unit_col, unit, theme) for theme in self.themes]
            out.append({"unit": unit, "cells": cells})
        return out

    def cell(self, table: pd.DataFrame, name: str, unit_col: str, unit: str, theme: str) -> dict:
        """One matrix cell: counts and note as the file ``name`` publishes them, the extracts quoted and
        the trace of the counts."""
        hit = table.index[(table[unit_col] == unit) & (table["theme"] == theme)]
        rec = table.loc[hit[0]]
        # extracts as the file publishes them (none for a small cell when the rule is on)
        quotes = self.quotes(unit_col, unit, theme) if rec["extracts"] else []
        return {
            "n_cases": rec["n_cases"],
            "n_segments": rec["n_segments"],
            "note": rec["note"],
            "quotes": quotes,
            # the number of extracts only where the segment count is shown too
            "n_quotes_shown": not _is_small(rec["n_segments"]),
            "trace": f"{name.removesuffix('.csv')}|{self.lines[name][table.index.get_loc(hit[0])]}|"
            "n_cases,n_segments",
        }

    def quotes(self, unit_col: str, unit: str, theme: str) -> list[dict]:
        """The extracts of a unit's theme (each passage once, canonical order) with their source labels."""
        seg = self.segments[(self.segments[unit_col] == unit) & (self.segments["theme"] == theme)]
        seg = seg.drop_duplicates(["source_id", "start", "end", "text"])
        return [{"text": t, "label": lab} for t, lab in zip(seg["text"], seg["source_label"], strict=True)]


def _outcome_labels(jd: dict) -> list[dict]:
    """Label (instrument and scale) and column prefix of each joint-display outcome."""
    outcomes = []
    for oc in jd.get("outcomes", []):
        slug = outcome_slug(oc["instrument"], oc["scale"])
        outcomes.append({"label": f"{oc['instrument']} {oc['scale']}", "slug": slug})
    return outcomes


def _frequency_rows(
    codebook: pd.DataFrame, sites: list[str], freq: pd.DataFrame, freq_lines: list[int]
) -> list[dict]:
    """Code frequencies by site for the template: per code (codebook order) its theme and, per site, the
    published case count with its trace in ``code_frequencies_by_site.csv``."""
    freq_rows = []
    for rec in codebook.to_dict("records"):
        counts = []
        for site in sites:
            i = freq.index.get_loc(freq.index[(freq["site"] == site) & (freq["code"] == rec["code"])][0])
            trace = f"code_frequencies_by_site|{freq_lines[i]}|n_cases"
            counts.append({"n": freq.iloc[i]["n_cases"], "trace": trace})
        freq_rows.append({"code": rec["code"], "theme": rec["theme"], "counts": counts})
    return freq_rows


def _jinja_environment():
    """The Jinja2 environment of the package's templates (autoescaped; filter ``fmt``: :func:`_fmt`)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("cocapp.qualitative").joinpath("templates", name).read_text("utf-8")
        ),
        autoescape=True,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    return env


def _fmt(v: object, digits: int = 2) -> str:
    """A number with ``digits`` decimals, or "" for what is not a number."""
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return ""
