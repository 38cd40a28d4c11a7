"""The analyst workbook: framework charts and queries for the people doing the analysis.

Not for publication: nothing here is suppressed (the small-cell rule applies to the tables that leave
the pipeline, :mod:`cocapp.qualitative.framework`). Every sheet says so in its first row. Sheets:

``case x theme``
    the framework chart (Ritchie & Spencer): one row per case with its attributes, one column per
    theme; a cell holds the case's extracts for that theme, each with its code and source.
``case x theme counts`` / ``case x code``
    segments per case and theme / code (code columns by code path).
one sheet per theme
    cases x the theme's codes, extracts in the cells (sheet names shortened to Excel's 31 characters).
``attribute x theme``
    a matrix query on every case attribute (site, participant group and any other column of the case
    table): per attribute value and theme, cases and segments.
``co-occurrence``
    per pair of codes, the pairs of segments of the same source whose characters overlap, and the
    cases in which that happens (segments without offsets co-occur when they quote the same text).
``coverage``
    per source and code, segments, characters coded (overlapping segments counted once) and the share
    of the source's characters (NVivo's "coverage"; empty when the source text is not known).
``memos``
    the project's memos (REFI-QDA Notes: author, dates, text) and the memos attached to segments.
``coding comparison`` / ``coding alpha``
    inter-coder agreement (:mod:`cocapp.qualitative.agreement`), when there are several coders.

:func:`workbook_xlsx` writes the sheets with openpyxl (deterministic bytes: fixed document dates and
zip timestamps); :func:`workbook_html` writes the same tables as one HTML page.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from datetime import datetime

import pandas as pd

from cocapp.qualitative.agreement import coding_comparison, merge_intervals
from cocapp.qualitative.framework import theme_order

__all__ = [
    "NOT_FOR_PUBLICATION",
    "analyst_tables",
    "co_occurrence",
    "coverage",
    "workbook_html",
    "workbook_xlsx",
]

NOT_FOR_PUBLICATION = (
    "Analyst workbook - NOT FOR PUBLICATION: counts and extracts are not suppressed (small cells, "
    "single cases); publish only the suppressed framework tables."
)
_FIXED_TIME = datetime(2000, 1, 1)


def _extract(rec: dict) -> str:
    return f"“{rec['text']}” [{rec['code']}; {rec['source_label']}]"


def _cell(seg: pd.DataFrame) -> str:
    quoted = seg.drop_duplicates(["source_id", "start", "end", "text", "code_path"])
    return "\n".join(_extract(r) for r in quoted.to_dict("records"))


def _attributes(cases: pd.DataFrame) -> list[str]:
    return [c for c in cases.columns if c != "case_id"]


def case_theme_chart(segments, cases, codes) -> pd.DataFrame:
    """Cases (with attributes) x themes, extracts in the cells."""
    themes = theme_order(codes)
    groups = {k: g for k, g in segments.groupby(["case_id", "theme"], sort=False)}
    rows = []
    for rec in cases.to_dict("records"):
        row = dict(rec)
        for t in themes:
            g = groups.get((rec["case_id"], t))
            row[t] = "" if g is None else _cell(g)
        rows.append(row)
    return pd.DataFrame(rows, columns=[*cases.columns, *themes])


def case_counts(segments, cases, key: str, columns: list[str]) -> pd.DataFrame:
    """Segments per case x ``key`` value (``theme`` or ``code_path``), every case and column present."""
    counts = segments.groupby(["case_id", key]).size()
    out = cases[["case_id", *[c for c in ("site", "participant_group") if c in cases.columns]]].reset_index(
        drop=True
    )
    values = {c: [int(counts.get((cid, c), 0)) for cid in out["case_id"]] for c in columns}
    return pd.concat([out, pd.DataFrame(values, columns=columns)], axis=1)


def theme_sheet(segments, cases, codes, theme: str) -> pd.DataFrame:
    """Cases x the theme's codes (by path), extracts in the cells."""
    paths = [p for p, t in zip(codes["code_path"], codes["theme"], strict=True) if t == theme]
    seg = segments[segments["theme"] == theme]
    groups = {k: g for k, g in seg.groupby(["case_id", "code_path"], sort=False)}
    rows = []
    for rec in cases[["case_id", *[c for c in ("site", "participant_group") if c in cases.columns]]].to_dict(
        "records"
    ):
        row = dict(rec)
        for p in paths:
            g = groups.get((rec["case_id"], p))
            row[p] = "" if g is None else _cell(g)
        rows.append(row)
    return pd.DataFrame(
        rows, columns=[*[c for c in ("case_id", "site", "participant_group") if c in cases.columns], *paths]
    )


def attribute_theme(segments, cases, codes) -> pd.DataFrame:
    """Matrix query on every case attribute: attribute, value, theme, n_cases (with a segment), n_segments."""
    themes = theme_order(codes)
    seg = segments.merge(
        cases.drop(columns=[c for c in ("site", "participant_group") if c in segments.columns]),
        on="case_id",
        how="left",
    )
    rows = []
    for attr in _attributes(cases):
        values = list(dict.fromkeys(cases[attr].fillna("")))
        by = {k: g for k, g in seg.assign(_v=seg[attr].fillna("")).groupby(["_v", "theme"], sort=False)}
        n_value = cases[attr].fillna("").value_counts()
        for v in values:
            for t in themes:
                g = by.get((v, t))
                rows.append(
                    {
                        "attribute": attr,
                        "value": v,
                        "n_cases_with_value": int(n_value.get(v, 0)),
                        "theme": t,
                        "n_cases": 0 if g is None else int(g["case_id"].nunique()),
                        "n_segments": 0 if g is None else len(g),
                    }
                )
    return pd.DataFrame(
        rows, columns=["attribute", "value", "n_cases_with_value", "theme", "n_cases", "n_segments"]
    )


def co_occurrence(segments: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    """Per pair of codes (codebook order, a < b): overlapping segment pairs in the same source and the
    cases where they occur. With offsets, segments overlap when their character ranges intersect
    (sweep per source, sorted by start); without, when they quote the same text of the same source."""
    rank = {p: i for i, p in enumerate(codes["code_path"])}
    pairs: dict[tuple[str, str], list] = {}

    def add(a: dict, b: dict) -> None:
        if a["code_path"] == b["code_path"]:
            return
        x, y = sorted((a["code_path"], b["code_path"]), key=lambda p: rank.get(p, len(rank)))
        n, cs = pairs.setdefault((x, y), [0, set()])
        pairs[(x, y)][0] = n + 1
        cs.add(a["case_id"])

    has = segments[segments["start"].notna()]
    for _, part in has.groupby("source_id", sort=False):
        recs = sorted(part.to_dict("records"), key=lambda r: (int(r["start"]), int(r["end"])))
        active: list[dict] = []
        for r in recs:
            active = [a for a in active if int(a["end"]) > int(r["start"])]
            for a in active:
                add(a, r)
            active.append(r)
    no = segments[segments["start"].isna()]
    for _, part in no.groupby(["source_id", "text"], sort=False):
        recs = part.to_dict("records")
        for i in range(len(recs)):
            for j in range(i + 1, len(recs)):
                add(recs[i], recs[j])
    themes = dict(zip(codes["code_path"], codes["theme"], strict=True))
    rows = [
        {
            "code_path_a": a,
            "theme_a": themes.get(a, ""),
            "code_path_b": b,
            "theme_b": themes.get(b, ""),
            "n_overlapping_segment_pairs": n,
            "n_cases": len(cs),
        }
        for (a, b), (n, cs) in sorted(
            pairs.items(), key=lambda kv: (rank.get(kv[0][0], 0), rank.get(kv[0][1], 0))
        )
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "code_path_a",
            "theme_a",
            "code_path_b",
            "theme_b",
            "n_overlapping_segment_pairs",
            "n_cases",
        ],
    )


def coverage(segments: pd.DataFrame, sources: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    """Per source x code: n_segments, characters coded (union over segments and coders), coverage_pct."""
    rank = {p: i for i, p in enumerate(codes["code_path"])}
    n_chars = dict(zip(sources["source_id"], sources["n_characters"], strict=True))
    rows = []
    for (source, path), g in segments.groupby(["source_id", "code_path"], sort=False):
        has = g[g["start"].notna()]
        coded = (
            sum(e - s for s, e in merge_intervals(has["start"], has["end"])) if len(has) == len(g) else pd.NA
        )
        n = n_chars.get(source)
        pct = 100.0 * coded / n if coded is not pd.NA and n is not None and not pd.isna(n) and n else pd.NA
        rows.append(
            {
                "source_id": source,
                "theme": g["theme"].iloc[0],
                "code_path": path,
                "n_segments": len(g),
                "coded_characters": coded,
                "n_characters": n if n is not None else pd.NA,
                "coverage_pct": pct,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "source_id",
            "theme",
            "code_path",
            "n_segments",
            "coded_characters",
            "n_characters",
            "coverage_pct",
        ],
    )
    return (
        out.assign(_r=out["code_path"].map(rank))
        .sort_values(["source_id", "_r"], kind="stable")
        .drop(columns="_r")
        .reset_index(drop=True)
    )


def memo_table(memos: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Project memos, then the memos attached to segments (with their source, code and extract)."""
    cols = ["kind", "memo", "author", "created", "modified", "about", "text"]
    rows = [
        {
            "kind": "project memo",
            "memo": r["memo"],
            "author": r["author"],
            "created": r["created"],
            "modified": r["modified"],
            "about": r.get("description", ""),
            "text": r["text"],
        }
        for r in memos.fillna("").to_dict("records")
    ]
    seg = segments[segments["memo"].notna()].drop_duplicates(["source_id", "start", "end", "memo"])
    rows += [
        {
            "kind": "segment memo",
            "memo": "",
            "author": r["coder"] if not pd.isna(r["coder"]) else "",
            "created": "",
            "modified": "",
            "about": _extract(r),
            "text": r["memo"],
        }
        for r in seg.to_dict("records")
    ]
    return pd.DataFrame(rows, columns=cols)


def analyst_tables(
    segments: pd.DataFrame,
    cases: pd.DataFrame,
    codes: pd.DataFrame,
    sources: pd.DataFrame,
    memos: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """Every sheet of the workbook, by sheet name, in order (see module docstring)."""
    themes = theme_order(codes)
    n_chars = {
        s: int(n)
        for s, n in zip(sources["source_id"], sources["n_characters"], strict=True)
        if not pd.isna(n)
    }
    pairs, alpha = coding_comparison(segments, n_chars, codes)
    tables = {
        "case x theme": case_theme_chart(segments, cases, codes),
        "case x theme counts": case_counts(segments, cases, "theme", themes),
        "case x code": case_counts(segments, cases, "code_path", list(codes["code_path"])),
    }
    used: set[str] = set(tables) | {
        "attribute x theme",
        "co-occurrence",
        "coverage",
        "memos",
        "coding comparison",
        "coding alpha",
    }
    for i, t in enumerate(themes, start=1):
        name = _sheet_name(f"theme {i} {t}", used)
        used.add(name)
        tables[name] = theme_sheet(segments, cases, codes, t)
    tables["attribute x theme"] = attribute_theme(segments, cases, codes)
    tables["co-occurrence"] = co_occurrence(segments, codes)
    tables["coverage"] = coverage(segments, sources, codes)
    tables["memos"] = memo_table(memos, segments)
    tables["coding comparison"] = pairs
    tables["coding alpha"] = alpha
    return tables


def _sheet_name(name: str, used: set[str]) -> str:
    clean = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31]
    out, k = clean, 2
    while out in used:
        suffix = f" ({k})"
        out, k = clean[: 31 - len(suffix)] + suffix, k + 1
    return out


def _excel_value(v):
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def workbook_xlsx(tables: dict[str, pd.DataFrame], label: str = "") -> bytes:
    """The sheets as an .xlsx (openpyxl), first row the not-for-publication notice; same input, same bytes."""
    import openpyxl
    from openpyxl.styles import Alignment, Font

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    wrap = Alignment(wrap_text=True, vertical="top")
    for name, df in tables.items():
        ws = wb.create_sheet(name)
        ws.append([NOT_FOR_PUBLICATION + (f" Data: {label}" if label else "")])
        ws.append([str(c) for c in df.columns])
        for cell in ws[2]:
            cell.font = Font(bold=True)
        for rec in df.itertuples(index=False):
            ws.append([_excel_value(v) for v in rec])
            for cell in ws[ws.max_row]:
                if cell.data_type == "f":  # text that looks like a formula stays text (never evaluated)
                    cell.data_type = "s"
        long = {
            j
            for j, c in enumerate(df.columns)
            if df[c].map(lambda v: isinstance(v, str) and len(v) > 40).any()
        }
        for j, col in enumerate(ws.iter_cols(min_row=2, max_row=ws.max_row), start=0):
            letter = col[0].column_letter
            ws.column_dimensions[letter].width = 60 if j in long else 18
            if j in long:
                for cell in col[1:]:
                    cell.alignment = wrap
        ws.freeze_panes = "B3"
    wb.properties.created = _FIXED_TIME
    wb.properties.modified = _FIXED_TIME
    wb.properties.creator = "cocapp"
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The zip with every member's timestamp fixed (openpyxl stamps the time of writing)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            data = zin.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the time of saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            zout.writestr(fixed, data)
    return out.getvalue()


def workbook_html(tables: dict[str, pd.DataFrame], label: str = "") -> str:
    """The sheets as one self-contained HTML page (a section per sheet, extracts kept on their lines)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>Analyst workbook</title>',
        "<style>body{font-family:sans-serif;margin:1em}table{border-collapse:collapse;margin-bottom:2em}"
        "td,th{border:1px solid #999;padding:3px 6px;vertical-align:top;white-space:pre-wrap;max-width:40em}"
        "th{background:#eee}.warn{color:#a00;font-weight:bold}</style></head><body>",
        "<h1>Analyst workbook</h1>",
        f'<p class="warn">{html.escape(NOT_FOR_PUBLICATION)}</p>',
    ]
    if label:
        parts.append(f"<p>Data: {html.escape(label)}</p>")
    parts.append(
        "<ul>"
        + "".join(f'<li><a href="#s{i}">{html.escape(n)}</a></li>' for i, n in enumerate(tables))
        + "</ul>"
    )
    for i, (name, df) in enumerate(tables.items()):
        parts.append(f'<h2 id="s{i}">{html.escape(name)}</h2>')
        if df.empty:
            parts.append("<p>(none)</p>")
            continue
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_html_value(v))}</td>" for v in rec) + "</tr>"
            for rec in df.itertuples(index=False)
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _html_value(v) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
