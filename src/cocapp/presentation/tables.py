"""Publication tables: the paper's Tables 1-4 plus reliability and ANCOVA adjusted means, for a manuscript.

Every table is built from the full-precision derived statistics (output contract) at the config's
primary threshold; rounding happens here and only here. Each table is written as CSV (the cells as
displayed, one column per printed column), Markdown, a standalone HTML page and a Word document
(python-docx), all byte-stable for the same input.

Display conventions (the paper's, Simpson et al. 2016, Tables 2-4):

* ANOVA cell ``F(5, 394) = 0.65, p = 0.659`` with `` *`` when p < the config's significance level and
  `` **`` when p < 0.01; degrees of freedom printed as integers (one decimal when fractional).
* Site cells ``Mean (SEM)`` with 2 decimals; correlations r with 3 decimals.
* p with 3 decimals; a p below 0.001 is written ``< 0.001`` (never ``0.000``).
* A value that does not exist (NaN) is written as an em dash ``—``; ``-0.00`` is written ``0.00``.

The formatters live in :mod:`cocapp.formatting` (shared with the figures, the verdict and the report)
and are re-exported here.

When ``study.synthetic`` is true every caption says so and every table's notes carry
``study.data_note``.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import re
import zipfile
from dataclasses import dataclass, field

import pandas as pd

from cocapp.config import correlation_measures, format_threshold, site_names
from cocapp.formatting import (
    MISSING_TEXT,
    STRICT_LEVEL,
    fmt_anova,
    fmt_ci,
    fmt_df,
    fmt_g,
    fmt_mean_sem,
    fmt_num,
    fmt_p,
    fmt_p_eq,
    fmt_percent,
    is_missing,
    significance_stars,
)
from cocapp.instruments import Instrument, configured_instruments
from cocapp.io import neutralise_formulas
from cocapp.presentation import lookup
from cocapp.presentation.outputs import (
    correlation_groups,
    funnel_overdispersion,
    funnel_settings,
    overdispersion_text,
    table_specs,
)
from cocapp.words import group_in_sentence, grouping_words

__all__ = [
    "MISSING_TEXT",
    "DisplayTable",
    "build_tables",
    "fmt_anova",
    "fmt_df",
    "fmt_mean_sem",
    "fmt_num",
    "fmt_p",
    "fmt_p_eq",
    "significance_stars",
    "table_ancova_means",
    "table_correlations",
    "table_outlying_sites",
    "table_reliability",
    "table_returns",
    "table_site_comparison",
    "table_specs",
    "to_csv_text",
    "to_docx_bytes",
    "to_html_document",
    "to_html_fragment",
    "to_markdown",
    "table_files",
]

FORMATS = ("csv", "md", "html", "docx")
HTML_START = "<!-- cocapp-table:start -->"
NOWRAP_MAX = 40
HTML_END = "<!-- cocapp-table:end -->"


# -- the display table -----------------------------------------------------------------------------
@dataclass
class DisplayTable:
    """A table as printed: header, text cells, optional section rows (e.g. one per instrument), notes.

    ``sections[i]`` is the section label of ``rows[i]`` (``None`` = no sections). In CSV the section
    is a first column named ``section_header``; in Markdown, HTML and DOCX it is a full-width row.
    """

    key: str
    number: str
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    sections: list[str | None] = field(default_factory=list)
    section_header: str = "Section"
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False
    # issue 14, the trace of each number (HTML only; see :func:`to_html_fragment`): per column the derived
    # column(s) its cells show (``""`` = not traced), per row ``"<source>|<line>"`` (the derived file's
    # short name and the CSV line, header = line 1) and, where a row's cells come from different derived
    # rows, per cell ``"<source>|<line or filter>|<columns>"``.
    trace_columns: list[str] = field(default_factory=list)
    traces: list[str | None] = field(default_factory=list)
    cell_traces: list[list[str] | None] = field(default_factory=list)

    @property
    def caption(self) -> str:
        lead = f"{self.number}. " if self.number else ""
        tag = " [SYNTHETIC DATA]" if self.synthetic else ""
        return f"{lead}{self.title}{tag}"

    def add(
        self,
        cells: list[str],
        section: str | None = None,
        trace: str | None = None,
        cell_traces: list[str] | None = None,
    ) -> None:
        """Append a row; ``trace`` (``"<source>|<line>"``) and ``cell_traces`` as in the class notes."""
        if len(cells) != len(self.columns):
            raise ValueError(f"{self.key}: row has {len(cells)} cells for {len(self.columns)} columns")
        if cell_traces is not None and len(cell_traces) != len(self.columns):
            raise ValueError(f"{self.key}: {len(cell_traces)} cell traces for {len(self.columns)} columns")
        self.rows.append([str(c) for c in cells])
        self.sections.append(section)
        self.traces.append(trace)
        self.cell_traces.append(cell_traces)

    @property
    def has_sections(self) -> bool:
        return any(s is not None for s in self.sections)

    def blocks(self) -> list[tuple[str | None, list[list[str]]]]:
        """Rows grouped by consecutive section label."""
        out: list[tuple[str | None, list[list[str]]]] = []
        for sec, row in zip(self.sections, self.rows, strict=True):
            if not out or out[-1][0] != sec:
                out.append((sec, []))
            out[-1][1].append(row)
        return out


# -- writers ---------------------------------------------------------------------------------------
def to_csv_text(table: DisplayTable) -> str:
    """The displayed cells as CSV (a first section column when the table has sections); text a
    spreadsheet would run as a formula (``=...``, ``@...``) gets a leading apostrophe."""
    header = ([table.section_header] if table.has_sections else []) + table.columns
    rows = [
        ([sec or ""] if table.has_sections else []) + row
        for sec, row in zip(table.sections, table.rows, strict=True)
    ]
    df = pd.DataFrame(rows, columns=header, dtype=object)
    return neutralise_formulas(df).to_csv(index=False, lineterminator="\n")


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|").replace("\n", " ")


def to_markdown(table: DisplayTable) -> str:
    """GitHub-flavoured Markdown: bold caption, pipe table (sections as bold rows), notes below."""
    cols = table.columns
    lines = [f"**{_md_cell(table.caption)}**", ""]
    lines.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(cols) - 1)) + "|")
    for sec, rows in table.blocks():
        if sec is not None:
            lines.append("| " + " | ".join([f"**{_md_cell(sec)}**"] + [""] * (len(cols) - 1)) + " |")
        for row in rows:
            lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    if table.notes:
        lines.append("")
        lines += [f"{_md_cell(n)}  " for n in table.notes]
    return "\n".join(lines).rstrip() + "\n"


def _has_number(text: str) -> bool:
    return any(ch.isdigit() for ch in str(text))


def to_html_fragment(table: DisplayTable) -> str:
    """A ``<table>`` with ``<caption>``, ``<thead>``, section rows and notes in ``<tfoot>``.

    Traces (issue 14) become attributes: ``data-c`` on a column header (the derived columns), ``data-t``
    on a row (``source|line``) and on a cell (``source|line|columns``), only on cells showing a number.
    When every row trace names the same source, the table carries it once (``data-s``) and the rows
    only their line. A table without traces gives the same HTML as before traces existed."""
    e = html.escape
    n = len(table.columns)
    tcols = table.trace_columns or [""] * n
    sources = {t.split("|", 1)[0] for t in table.traces if t}
    source = sources.pop() if len(sources) == 1 else None
    out = [
        f'<table class="cocapp-table" id="{e(table.key)}"' + (f' data-s="{e(source)}">' if source else ">"),
        f"<caption>{e(table.caption)}</caption>",
        "<thead><tr>",
    ]
    out += [
        f'<th scope="col" data-c="{e(tc)}">{e(c)}</th>' if tc else f'<th scope="col">{e(c)}</th>'
        for c, tc in zip(table.columns, tcols, strict=True)
    ]
    out.append("</tr></thead>")
    out.append("<tbody>")
    traces = table.traces or [None] * len(table.rows)
    cell_traces = table.cell_traces or [None] * len(table.rows)
    previous: object = object()
    for sec, row, rt, ct in zip(table.sections, table.rows, traces, cell_traces, strict=True):
        # a section row wherever the section changes (as :meth:`DisplayTable.blocks` groups them)
        if sec is not None and sec != previous:
            out.append(f'<tr class="section"><th colspan="{n}" scope="rowgroup">{e(sec)}</th></tr>')
        previous = sec
        # short cells (numbers, "F(5, 394) = 0.65, p = 0.659") stay on one line; long notes wrap
        cells = [f'<th scope="row">{e(row[0])}</th>']
        for j, c in enumerate(row[1:], start=1):
            attrs = ' class="nw"' if len(c) <= NOWRAP_MAX else ""
            if ct and ct[j] and _has_number(c):
                attrs += f' data-t="{e(ct[j])}"'
            cells.append(f"<td{attrs}>{e(c)}</td>")
        traced_row = rt and any(tc and _has_number(c) for tc, c in zip(tcols, row, strict=True))
        if traced_row and source:
            rt = rt.split("|", 1)[1]
        out.append((f'<tr data-t="{e(rt)}">' if traced_row else "<tr>") + "".join(cells) + "</tr>")
    out.append("</tbody>")
    if table.notes:
        out.append("<tfoot>")
        out += [f'<tr><td colspan="{n}">{e(note)}</td></tr>' for note in table.notes]
        out.append("</tfoot>")
    out.append("</table>")
    return "\n".join(out) + "\n"


_TABLE_CSS = """
body{font-family:system-ui,sans-serif;margin:2em}
table.cocapp-table{border-collapse:collapse;font-size:0.9em;margin:1em 0}
table.cocapp-table caption{font-weight:bold;text-align:left;padding-bottom:0.4em;caption-side:top}
table.cocapp-table th,table.cocapp-table td{border-bottom:1px solid #ccc;padding:0.25em 0.6em;
text-align:right}
table.cocapp-table th[scope=row],table.cocapp-table tr.section th{text-align:left}
table.cocapp-table tr.section th{background:#eee}
table.cocapp-table tfoot td{text-align:left;font-size:0.85em;border:none}
table.cocapp-table td.nw{white-space:nowrap}
""".strip()


def to_html_document(table: DisplayTable) -> str:
    """A standalone HTML page holding :func:`to_html_fragment` between marker comments."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(table.caption)}</title>\n<style>\n{_TABLE_CSS}\n</style>\n</head>\n<body>\n"
        f"{HTML_START}\n{to_html_fragment(table)}{HTML_END}\n</body>\n</html>\n"
    )


def html_fragment_from_document(text: str) -> str:
    """The table fragment of a document written by :func:`to_html_document`."""
    start, end = text.find(HTML_START), text.find(HTML_END)
    if start < 0 or end < start:
        raise ValueError("not a cocapp table HTML file (markers missing)")
    return text[start + len(HTML_START) : end].strip() + "\n"


# A fixed timestamp keeps the .docx bytes stable (Word needs some date in the zip and core properties).
_FIXED_TIME = _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)


def to_docx_bytes(table: DisplayTable) -> bytes:
    """A Word document (python-docx): caption paragraph, grid table with bold header and section rows, notes.

    The zip entries and core properties carry a fixed date so the same table gives the same bytes.
    """
    import docx
    from docx.shared import Pt

    table = _xml_safe_table(table)
    doc = docx.Document()
    props = doc.core_properties
    props.created = _FIXED_TIME.replace(tzinfo=None)
    props.modified = _FIXED_TIME.replace(tzinfo=None)
    props.last_printed = _FIXED_TIME.replace(tzinfo=None)
    props.author = "cocapp"
    props.last_modified_by = "cocapp"
    props.title = table.caption
    props.revision = 1
    cap = doc.add_paragraph()
    cap.add_run(table.caption).bold = True
    ncol = len(table.columns)
    grid = doc.add_table(rows=1, cols=ncol)
    grid.style = "Table Grid"
    # Row-wise filling: Table.cell(i, j) rescans the whole table on every call (quadratic time).
    for cell, name in zip(grid.rows[0].cells, table.columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(name).bold = True
    for sec, rows in table.blocks():
        if sec is not None:
            cells = grid.add_row().cells
            merged = cells[0].merge(cells[-1]) if ncol > 1 else cells[0]
            merged.text = ""
            merged.paragraphs[0].add_run(sec).bold = True
        for row in rows:
            for cell, text in zip(grid.add_row().cells, row, strict=True):
                cell.text = text
    for note in table.notes:
        para = doc.add_paragraph()
        run = para.add_run(note)
        run.font.size = Pt(8)
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue())


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text Word can hold: characters XML 1.0 forbids (control characters) become U+FFFD."""
    return _XML_ILLEGAL.sub("\ufffd", text)


def _xml_safe_table(table: DisplayTable) -> DisplayTable:
    """``table`` with every text :func:`_xml_text`-cleaned (python-docx refuses control characters)."""
    return DisplayTable(
        key=table.key,
        number=table.number,
        title=_xml_text(table.title),
        columns=[_xml_text(c) for c in table.columns],
        rows=[[_xml_text(c) for c in row] for row in table.rows],
        sections=[None if s is None else _xml_text(s) for s in table.sections],
        section_header=_xml_text(table.section_header),
        notes=[_xml_text(n) for n in table.notes],
        synthetic=table.synthetic,
    )


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry dates and order-preserving deflate (byte-stable output)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            new = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            new.compress_type = zipfile.ZIP_DEFLATED
            new.external_attr = 0o644 << 16
            dst.writestr(new, src.read(info.filename))
    return out.getvalue()


def table_files(table: DisplayTable, formats: tuple[str, ...] = FORMATS) -> dict[str, str | bytes]:
    """``table`` rendered in each format: ``{"<key>.<fmt>": text or bytes}`` (nothing written)."""
    renderers = {"csv": to_csv_text, "md": to_markdown, "html": to_html_document, "docx": to_docx_bytes}
    unknown = [f for f in formats if f not in renderers]
    if unknown:
        raise ValueError(f"unknown table format {unknown[0]!r}; use one of {FORMATS}")
    return {f"{table.key}.{fmt}": renderers[fmt](table) for fmt in formats}


# -- config helpers --------------------------------------------------------------------------------
def _alpha(config: dict) -> float:
    return float(config["statistics"]["significance_level"])


def _primary(config: dict) -> str:
    return format_threshold(config["scoring"]["primary_threshold"])


def _group_label(config: dict, group: str) -> str:
    return config["groups"][group].get("label") or group.replace("_", " ").capitalize()


def _instruments(config: dict, group: str, instruments: dict | None = None) -> dict[str, Instrument]:
    """The group's instruments (``instruments``: every configured one by key, as a stage loaded them from
    its ``--instruments`` files; None: loaded through the config, :func:`configured_instruments`)."""
    known = configured_instruments(config, instruments)
    return {k: known[k] for k in config["groups"][group]["instruments"]}


def _instrument_heading(inst: Instrument) -> str:
    return f"{inst.name} ({inst.key})"


def _base_notes(config: dict) -> list[str]:
    """The study's data note (``study.data_note``) whenever it is set; "SYNTHETIC DATA." for synthetic
    data without one."""
    study = config.get("study", {})
    if study.get("synthetic") or study.get("data_note"):
        return [" ".join(str(study.get("data_note") or "SYNTHETIC DATA.").split())]
    return []


def _threshold_note(config: dict) -> str:
    t = _primary(config)
    return (
        f"Scores with person-mean replacement when at most {fmt_percent(t)} of a scale's items are missing "
        f"(threshold {t})."
    )


def _stars_note(config: dict) -> str:
    a = _alpha(config)
    return (
        f"* Significant at the p < {fmt_g(a)} level; ** significant at the p < {fmt_g(min(STRICT_LEVEL, a))} "
        "level."
    )


def _select(df: pd.DataFrame | None, **eq: str) -> pd.DataFrame:
    """Rows of ``df`` whose columns equal the given values (compared as text)."""
    if df is None or df.empty:
        return pd.DataFrame()
    return lookup.select(df, **eq)


def _one(df: pd.DataFrame, what: str) -> pd.Series | None:
    if df.empty:
        return None
    if len(df) > 1:
        raise ValueError(f"{what}: expected one row, found {len(df)}")
    return df.iloc[0]


def _measure_label(config: dict, instrument: str, scale: str, instruments: dict | None = None) -> str:
    """A correlated scale as shown: the instrument's display name (``short_name``, else ``name``, from
    its file) for its total, else ``<display name> <scale label>`` (:meth:`Instrument.scale_title`)."""
    inst = configured_instruments(config, instruments)[instrument]
    return inst.display_name if scale == "total" else inst.scale_title(scale)


def measure_labels(config: dict, group: str, instruments: dict | None = None) -> dict[str, str]:
    """Correlated measure name (``RSA``, ``RSA.choice``; :func:`cocapp.config.correlation_measures`)
    -> its label as shown (:func:`_measure_label`: names from the instrument files)."""
    from cocapp.config import correlation_measures

    return {
        name: _measure_label(config, inst, scale, instruments)
        for name, inst, scale in correlation_measures(config, group)
    }


def _display_names(config: dict, keys: list[str], instruments: dict | None = None) -> list[str]:
    """The instruments' names as shown (``short_name``, else ``name``, from their files)."""
    known = configured_instruments(config, instruments)
    return [known[k].display_name for k in keys]


def _join(names: list[str]) -> str:
    """``["RSA", "STAR-P", "ES"]`` -> ``"RSA, STAR-P and ES"``."""
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# -- table builders --------------------------------------------------------------------------------
def table_returns(
    reconciliation: dict[str, pd.DataFrame], config: dict, number: str = "Table 1"
) -> DisplayTable:
    """Table 1: questionnaires returned (every raw row) and analysed, per site and group, with totals.

    ``reconciliation`` maps group -> ``ingest/{group}_reconciliation.csv`` (``site``, ``status``).
    """
    sites = site_names(config)
    countries = {s["name"]: s.get("country") for s in config["sites"]}
    words = grouping_words(config)
    cols = [words.label]
    for g in config["groups"]:
        label = _group_label(config, g)
        cols += [f"{label}: returned", f"{label}: analysed"]
    table = DisplayTable(
        key="table1_returns",
        number=number,
        title=f"Questionnaire returns by {words.noun}",
        columns=cols,
        notes=_base_notes(config)
        + ["Returned: rows of the raw file; analysed: rows contributing to at least one instrument."],
        synthetic=bool(config["study"].get("synthetic")),
    )
    totals = {g: [0, 0] for g in config["groups"]}
    for site in sites:
        name = f"{site} ({countries[site]})" if countries.get(site) else site
        cells = [name]
        for g in config["groups"]:
            rec = reconciliation.get(g)
            if rec is None:
                cells += [MISSING_TEXT, MISSING_TEXT]
                continue
            here = rec[rec["site"].astype(str) == site]
            ret, ana = len(here), int((here["status"].astype(str) == "analysed").sum())
            totals[g][0] += ret
            totals[g][1] += ana
            cells += [str(ret), str(ana)]
        table.add(cells)
    # rows without a configured site (grouping.unknown: exclude): returned, never analysed
    unplaced = {g: int((~rec["site"].astype(str).isin(sites)).sum()) for g, rec in reconciliation.items()}
    if any(unplaced.values()):
        cells = [f"No or unknown {words.noun} (excluded)"]
        for g in config["groups"]:
            n = unplaced.get(g)
            cells += [MISSING_TEXT, MISSING_TEXT] if n is None else [str(n), "0"]
            if n is not None:
                totals[g][0] += n
        table.add(cells)
    cells = ["Total"]
    for g in config["groups"]:
        cells += [str(x) for x in totals[g]] if g in reconciliation else [MISSING_TEXT, MISSING_TEXT]
    table.add(cells)
    return table


def table_site_comparison(
    anova: pd.DataFrame,
    descriptives: pd.DataFrame,
    config: dict,
    group: str,
    number: str,
    key: str,
    instruments: dict | None = None,
) -> DisplayTable:
    """Tables 2-3: per scale, the one-way ANOVA cell and each site's ``Mean (SEM)``.

    Rows follow the group's instruments and each instrument's scale order (subscales, then total);
    sites follow config order. Values at the primary threshold.
    """
    sites = site_names(config)
    alpha, t = _alpha(config), _primary(config)
    table = DisplayTable(
        key=key,
        number=number,
        title=f"Summary scores of {group_in_sentence(config, group)} on the "
        f"{_join(_display_names(config, config['groups'][group]['instruments'], instruments))} "
        f"{'scales' if len(config['groups'][group]['instruments']) > 1 else 'scale'}, "
        f"by {grouping_words(config).noun}",
        columns=["Scale", "One-way ANOVA parameters", *[f"{s} Mean (SEM)" for s in sites]],
        section_header="Instrument",
        notes=_base_notes(config)
        + [_stars_note(config), _threshold_note(config), "SEM: standard error of the mean."],
        synthetic=bool(config["study"].get("synthetic")),
    )
    for ikey, inst in _instruments(config, group, instruments).items():
        for scale in inst.scales:
            sel = dict(group=group, instrument=ikey, scale=scale.key, threshold=t)
            row = _one(_select(anova, **sel), f"anova.csv {sel}")
            cell = (
                fmt_anova(row["df1"], row["df2"], row["F"], row["p"], alpha)
                if row is not None
                else MISSING_TEXT
            )
            cells = [scale.label, cell]
            for site in sites:
                d = _one(_select(descriptives, **sel, site=site), f"descriptives.csv {sel} site={site}")
                cells.append(fmt_mean_sem(d["mean"], d["sem"]) if d is not None else MISSING_TEXT)
            table.add(cells, _instrument_heading(inst))
    return table


def table_correlations(
    correlations: pd.DataFrame,
    config: dict,
    group: str,
    number: str,
    key: str,
    instruments: dict | None = None,
) -> DisplayTable:
    """Table 4: Pearson r (3 dp), p and n for each instrument pair, total sample then each site.

    Rows per pair: ``r``, ``Sig.`` (p, ``< 0.001`` when below), ``N`` (pairwise complete).
    """
    sites = site_names(config)
    t = _primary(config)
    method = config["statistics"].get("correlations", {}).get("method", "pearson")
    deletion = config["statistics"].get("correlations", {}).get("deletion", "pairwise")
    measures = correlation_measures(config, group)
    shown = {name: _measure_label(config, inst, scale, instruments) for name, inst, scale in measures}
    totals_only = all(scale == "total" for _, _, scale in measures)
    what = "total scores" if totals_only else "scale scores"
    table = DisplayTable(
        key=key,
        number=number,
        title=f"Correlation analysis of the responses of {group_in_sentence(config, group)} "
        "to the outcome scales",
        columns=["Parameter", "Total sample", *sites],
        section_header="Measures",
        notes=_base_notes(config)
        + [
            f"{method.capitalize()} correlations of {what}, {deletion} deletion; Sig. is the two-sided p.",
            _threshold_note(config),
        ],
        synthetic=bool(config["study"].get("synthetic")),
    )
    names = [name for name, _, _ in measures]
    for i, x in enumerate(names):
        for y in names[i + 1 :]:
            cells = {"r": ["r"], "p": ["Sig."], "n": ["N"]}
            for site in ["All", *sites]:
                sub = _select(correlations, group=group, threshold=t, site=site, x=x, y=y)
                if sub.empty:  # the file may hold the pair the other way round
                    sub = _select(correlations, group=group, threshold=t, site=site, x=y, y=x)
                r = _one(sub, f"correlations.csv {group} {site} {x}/{y}")
                cells["r"].append(fmt_num(r["r"], 3) if r is not None else MISSING_TEXT)
                cells["p"].append(fmt_p(r["p"]) if r is not None else MISSING_TEXT)
                n_text = str(int(r["n"])) if r is not None and not is_missing(r["n"]) else MISSING_TEXT
                cells["n"].append(n_text)
            for k in ("r", "p", "n"):
                table.add(cells[k], f"{shown[x]} and {shown[y]}")
    return table


def table_reliability(
    reliability: pd.DataFrame,
    config: dict,
    number: str = "Supplementary table S1",
    instruments: dict | None = None,
) -> DisplayTable:
    """Internal consistency: Cronbach's alpha (2 dp) with its CI, on complete cases, per group and scale."""
    acceptable = config["statistics"].get("acceptable_alpha", 0.7)
    table = DisplayTable(
        key="reliability",
        number=number,
        title="Internal consistency of the scales (Cronbach's alpha, complete cases)",
        columns=["Scale", "Items", "N (complete cases)", "Cronbach's alpha", "CI", "Acceptable"],
        section_header="Group / instrument",
        notes=_base_notes(config)
        + [
            f"Alpha on respondents who answered every item of the scale (before mean replacement); "
            f"acceptable when alpha >= {fmt_g(acceptable)}."
        ],
        synthetic=bool(config["study"].get("synthetic")),
    )
    level = config["statistics"].get("confidence_level", 0.95)
    table.columns[4] = f"{fmt_percent(level)} CI"
    for g in config["groups"]:
        for ikey, inst in _instruments(config, g, instruments).items():
            for scale in inst.scales:
                row = _one(
                    _select(reliability, group=g, instrument=ikey, scale=scale.key), f"reliability.csv {g}"
                )
                if row is None:
                    cells = [
                        scale.label,
                        str(scale.k),
                        MISSING_TEXT,
                        MISSING_TEXT,
                        MISSING_TEXT,
                        MISSING_TEXT,
                    ]
                else:
                    has_ci = "ci_low" in row.index
                    ci = fmt_ci(row.get("ci_low"), row.get("ci_high")) if has_ci else MISSING_TEXT
                    ok = (
                        MISSING_TEXT
                        if is_missing(row["alpha"])
                        else ("yes" if row["alpha"] >= acceptable else "no")
                    )
                    n_c = MISSING_TEXT if is_missing(row["n_complete"]) else str(int(row["n_complete"]))
                    cells = [scale.label, str(int(row["k_items"])), n_c, fmt_num(row["alpha"]), ci, ok]
                table.add(cells, f"{_group_label(config, g)}: {_instrument_heading(inst)}")
    return table


def _roman(ss: object) -> str:
    return {1: "I", 2: "II", 3: "III"}.get(int(ss), str(ss)) if str(ss).isdigit() else str(ss)


_RESIDUAL_TERMS = {"residual", "residuals", "error"}


def table_ancova_means(
    ancova: pd.DataFrame,
    ancova_means: pd.DataFrame,
    config: dict,
    number: str = "Supplementary table S2",
    instruments: dict | None = None,
) -> DisplayTable:
    """ANCOVA: the site effect (Type III F, p, partial eta squared) and each site's adjusted mean (SE).

    One row per group x instrument x scale x covariate model, at the primary threshold.
    """
    sites = site_names(config)
    words = grouping_words(config)
    alpha, t = _alpha(config), _primary(config)
    ss = config["statistics"].get("ancova_ss_type", 3)
    table = DisplayTable(
        key="ancova_means",
        number=number,
        title=f"{words.label} effect adjusted for covariates (one-way ANCOVA) and adjusted "
        f"{words.noun} means",
        columns=[
            "Scale",
            "Covariate model",
            f"{words.label} effect",
            "Partial eta squared",
            *[f"{s} Adj. mean (SE)" for s in sites],
        ],
        section_header="Group / instrument",
        notes=_base_notes(config)
        + [
            f"Type {_roman(ss)} sums of squares; adjusted "
            "means at the covariate means (estimated marginal means).",
            _stars_note(config),
            _threshold_note(config),
        ]
        + [
            f"{_group_label(config, g)}, {m} model: {', '.join(covs)}."
            for g in config["groups"]
            for m, covs in config["groups"][g].get("ancova_models", {}).items()
        ],
        synthetic=bool(config["study"].get("synthetic")),
    )
    for g in config["groups"]:
        models = list(config["groups"][g].get("ancova_models", {}))
        for ikey, inst in _instruments(config, g, instruments).items():
            for scale in inst.scales:
                for m in models:
                    sel = dict(group=g, instrument=ikey, scale=scale.key, threshold=t, model=m)
                    terms = _select(ancova, **sel)
                    site_row = (
                        _one(terms[terms["term"].astype(str) == "site"], f"ancova.csv {sel}")
                        if not terms.empty
                        else None
                    )
                    if site_row is None:
                        effect, eta = MISSING_TEXT, MISSING_TEXT
                    else:
                        resid = terms[terms["term"].astype(str).str.lower().isin(_RESIDUAL_TERMS)]
                        df2 = resid["df"].iloc[0] if not resid.empty else float("nan")
                        if is_missing(df2):
                            effect = f"F = {fmt_num(site_row['F'])}, {fmt_p_eq(site_row['p'])}"
                            stars = significance_stars(site_row["p"], alpha)
                            effect = f"{effect} {stars}" if stars else effect
                        else:
                            effect = fmt_anova(site_row["df"], df2, site_row["F"], site_row["p"], alpha)
                        eta = fmt_num(site_row.get("partial_eta2"), 3)
                    cells = [scale.label, m, effect, eta]
                    for site in sites:
                        d = _one(_select(ancova_means, **sel, site=site), f"ancova_means.csv {sel} {site}")
                        cells.append(fmt_mean_sem(d["adj_mean"], d["se"]) if d is not None else MISSING_TEXT)
                    table.add(cells, f"{_group_label(config, g)}: {_instrument_heading(inst)}")
    return table


def table_outlying_sites(
    descriptives: pd.DataFrame | None,
    config: dict,
    number: str = "Supplementary table S3",
    instruments: dict | None = None,
) -> DisplayTable:
    """Many sites: the sites whose mean lies outside the funnel plot's control limits (Spiegelhalter
    2005; :func:`cocapp.stats.funnel.funnel_sites`), per group and outcome at the primary threshold,
    most extreme first -- instead of every one of the k(k − 1)/2 site pairs."""
    from cocapp.presentation.figures import outcome_funnel
    from cocapp.stats.funnel import level_label, z_for

    levels = funnel_settings(config)[1]
    method = funnel_overdispersion(config)
    adjusted = f"; limits {overdispersion_text(method)}, z the adjusted z-score" if method != "none" else ""
    sites = site_names(config)
    t = _primary(config)
    limits = ", ".join(f"{level_label(v)} (|z| > {fmt_num(z_for(v), 2)})" for v in sorted(levels))
    table = DisplayTable(
        key="outlying_sites",
        number=number,
        title="Sites outside the funnel plot control limits",
        columns=["Scale", "Site", "n", "Mean", "Overall mean", "z", "Outside", "Direction"],
        section_header="Group / instrument",
        notes=_base_notes(config)
        + [
            f"{len(sites)} sites. Control limits: overall mean ± z · σ/√n, σ the pooled within-site SD "
            f"(Spiegelhalter 2005, Stat Med 24:1185); limits {limits}{adjusted}. Sites within every limit "
            "are not listed; each site's mean and CI is in descriptives.csv, every site pair in tukey.csv "
            "and games_howell.csv."
        ],
        synthetic=bool(config["study"].get("synthetic")),
    )
    for g in config["groups"]:
        for ikey, inst in _instruments(config, g, instruments).items():
            for scale in inst.scales:
                _, f = outcome_funnel(descriptives, g, ikey, scale.key, t, sites, levels, method)
                out = f[f["outside"] != ""]
                out = out.reindex(
                    out["z_adjusted"].abs().sort_values(ascending=False, kind="mergesort").index
                )
                section = f"{_group_label(config, g)}: {_instrument_heading(inst)}"
                if out.empty:
                    table.add([scale.label, "none", "", "", "", "", "", ""], section)
                for _, r in out.iterrows():
                    cells = [
                        scale.label,
                        str(r["site"]),
                        str(int(r["n"])),
                        fmt_num(r["mean"]),
                        fmt_num(r["target"]),
                        fmt_num(r["z_adjusted"]),
                        str(r["outside"]),
                        str(r["direction"]),
                    ]
                    table.add(cells, section)
    return table


def build_tables(
    stats: dict[str, pd.DataFrame],
    reconciliation: dict[str, pd.DataFrame],
    config: dict,
    instruments: dict | None = None,
) -> list[DisplayTable]:
    """Every table of :func:`table_specs`, in order (``instruments``: the configured instruments by key,
    as the stage loaded them from its ``--instruments`` files; None: loaded through the config)."""
    with lookup.indexed():
        return _build_tables(stats, reconciliation, config, configured_instruments(config, instruments))


def _build_tables(
    stats: dict[str, pd.DataFrame], reconciliation: dict[str, pd.DataFrame], config: dict, instruments: dict
) -> list[DisplayTable]:
    specs = dict(table_specs(config))
    tables = [table_returns(reconciliation, config, specs["table1_returns"])]
    for g in config["groups"]:
        key = next(
            k for k in specs if k.startswith("table") and k.endswith(f"_{g}") and "correlations" not in k
        )
        tables.append(
            table_site_comparison(
                stats.get("anova"), stats.get("descriptives"), config, g, specs[key], key, instruments
            )
        )
    for g in correlation_groups(config):
        key = next(k for k in specs if k.endswith(f"_correlations_{g}"))
        tables.append(table_correlations(stats.get("correlations"), config, g, specs[key], key, instruments))
    tables.append(table_reliability(stats.get("reliability"), config, specs["reliability"], instruments))
    tables.append(
        table_ancova_means(
            stats.get("ancova"), stats.get("ancova_means"), config, specs["ancova_means"], instruments
        )
    )
    if "outlying_sites" in specs:
        tables.append(
            table_outlying_sites(stats.get("descriptives"), config, specs["outlying_sites"], instruments)
        )
    return tables
