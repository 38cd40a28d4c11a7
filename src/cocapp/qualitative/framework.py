"""Framework matrices (Ritchie & Spencer's framework method) from canonical coded segments.

A framework matrix crosses units (cases, sites, participant groups) with themes; each cell holds the
coded extracts with their source labels and counts. Tables are long (one row per unit x theme) with
every combination present, so that an empty cell is visible as a zero rather than missing.

Counts
------
``n_cases``
    distinct cases with at least one segment in the cell.
``n_segments``
    coded segments in the cell (a passage coded with two codes of the same theme counts twice).

Small cells
-----------
Tables that leave the pipeline go through :func:`suppress`: a count ``1 <= n < threshold`` is written
``"<threshold"`` (e.g. ``"<3"``; zero is shown as 0, since it discloses no one), and when
``suppress_single_case_extracts`` is true a cell with ``1 <= n_cases < threshold`` shows no extract and
its ``note`` says so in words that do not depend on the count (issue 14: a note "single-case cell" would
tell a one-case cell from a two-case one and undo the rule). The report's qualitative section applies
the same rule. The canonical ``segments.csv`` written by the ingest stage keeps everything, unsuppressed.
"""

from __future__ import annotations

import pandas as pd

__all__ = [
    "case_theme_matrix",
    "code_frequencies_by_site",
    "codebook_table",
    "format_extract",
    "group_theme_matrix",
    "site_theme_matrix",
    "suppress",
    "theme_order",
]

EXTRACT_SEPARATOR = "\n"
WITHHELD_SMALL = "extracts withheld: fewer than {threshold} cases"


def theme_order(codebook: pd.DataFrame) -> list[str]:
    """Themes in codebook order (first appearance)."""
    return list(dict.fromkeys(codebook["theme"]))


def format_extract(text: str, label: str) -> str:
    """One extract as quoted in a report: ``“text” [label]``.

    >>> print(format_extract("it is all about delegation", "D-CC-001"))
    “it is all about delegation” [D-CC-001]
    """
    return f"“{text}” [{label}]"


def _cell_rows(
    segments: pd.DataFrame, units: pd.DataFrame, unit_cols: list[str], codebook: pd.DataFrame
) -> pd.DataFrame:
    """Every unit x theme with n_cases, n_segments, codes (codebook order) and extracts (unsuppressed)."""
    themes = theme_order(codebook)
    code_rank = {c: i for i, c in enumerate(codebook["code"])}
    rows = []
    by_key = {k: g for k, g in segments.groupby([*unit_cols, "theme"], sort=False)}
    for unit in units[unit_cols].itertuples(index=False):
        for theme in themes:
            g = by_key.get((*unit, theme))
            if g is None:
                rows.append(
                    {
                        **dict(zip(unit_cols, unit, strict=True)),
                        "theme": theme,
                        "n_cases": 0,
                        "n_segments": 0,
                        "codes": "",
                        "extracts": "",
                    }
                )
                continue
            # an extract coded twice within one theme is quoted once
            quoted = g.drop_duplicates(["source_id", "start", "end", "text"])
            rows.append(
                {
                    **dict(zip(unit_cols, unit, strict=True)),
                    "theme": theme,
                    "n_cases": int(g["case_id"].nunique()),
                    "n_segments": len(g),
                    "codes": "; ".join(sorted(set(g["code"]), key=code_rank.__getitem__)),
                    "extracts": EXTRACT_SEPARATOR.join(
                        format_extract(t, lab)
                        for t, lab in zip(quoted["text"], quoted["source_label"], strict=True)
                    ),
                }
            )
    return pd.DataFrame(rows, columns=[*unit_cols, "theme", "n_cases", "n_segments", "codes", "extracts"])


def case_theme_matrix(segments: pd.DataFrame, cases: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """Case x theme matrix: ``case_id``, ``site``, ``participant_group``, ``theme``, counts, codes, extracts.

    Every case of the case table appears with every theme (case-table order, codebook theme order).
    """
    units = cases[["case_id", "site", "participant_group"]]
    seg = segments.copy()
    out = _cell_rows(seg, units, ["case_id", "site", "participant_group"], codebook)
    return out.drop(columns="n_cases").assign(n_cases=lambda d: (d["n_segments"] > 0).astype(int))[
        ["case_id", "site", "participant_group", "theme", "n_cases", "n_segments", "codes", "extracts"]
    ]


def site_theme_matrix(
    segments: pd.DataFrame, cases: pd.DataFrame, codebook: pd.DataFrame, sites: list[str]
) -> pd.DataFrame:
    """Site x theme matrix (sites in config order), with ``n_cases_site`` = cases of that site."""
    units = pd.DataFrame({"site": sites})
    out = _cell_rows(segments, units, ["site"], codebook)
    n_site = cases.groupby("site").size()
    out.insert(1, "n_cases_site", out["site"].map(n_site).fillna(0).astype(int))
    return out


def group_theme_matrix(segments: pd.DataFrame, cases: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """Participant group x theme matrix (groups in case-table order), with ``n_cases_group``."""
    groups = list(dict.fromkeys(cases["participant_group"]))
    out = _cell_rows(segments, pd.DataFrame({"participant_group": groups}), ["participant_group"], codebook)
    n_group = cases.groupby("participant_group").size()
    out.insert(1, "n_cases_group", out["participant_group"].map(n_group).fillna(0).astype(int))
    return out


def code_frequencies_by_site(
    segments: pd.DataFrame, codebook: pd.DataFrame, sites: list[str]
) -> pd.DataFrame:
    """One row per site x code (config site order, codebook code order): ``n_cases``, ``n_segments``."""
    rows = []
    grouped = {k: g for k, g in segments.groupby(["site", "code"], sort=False)}
    for site in sites:
        for rec in codebook[["theme", "code"]].to_dict("records"):
            g = grouped.get((site, rec["code"]))
            rows.append(
                {
                    "site": site,
                    "theme": rec["theme"],
                    "code": rec["code"],
                    "n_cases": 0 if g is None else int(g["case_id"].nunique()),
                    "n_segments": 0 if g is None else len(g),
                }
            )
    return pd.DataFrame(rows, columns=["site", "theme", "code", "n_cases", "n_segments"])


def codebook_table(segments: pd.DataFrame, codebook: pd.DataFrame) -> pd.DataFrame:
    """Codebook with use counts: ``code``, ``theme``, ``code_path``, ``definition``, ``n_cases``,
    ``n_segments`` and any further codebook columns (e.g. ``provenance``)."""
    n_cases = segments.groupby("code")["case_id"].nunique()
    n_seg = segments.groupby("code").size()
    out = codebook.copy()
    out["n_cases"] = out["code"].map(n_cases).fillna(0).astype(int)
    out["n_segments"] = out["code"].map(n_seg).fillna(0).astype(int)
    first = ["code", "theme", "code_path", "definition", "n_cases", "n_segments"]
    return out[first + [c for c in out.columns if c not in first]]


def suppress(
    table: pd.DataFrame,
    threshold: int,
    *,
    count_columns: list[str] | None = None,
    case_column: str | None = "n_cases",
    suppress_single_case_extracts: bool = True,
) -> pd.DataFrame:
    """Apply the small-cell rule to a table that leaves the pipeline.

    Counts ``1 <= n < threshold`` become the text ``"<threshold"``; zero and counts at or above the
    threshold are kept. When ``suppress_single_case_extracts`` is true, ``extracts`` is emptied in every
    small cell (``1 <= case_column < threshold``, not only single-case ones: withholding only those would
    show which small cells hold one case) and ``note`` says why, the same words for every small cell.

    >>> t = pd.DataFrame({"n_cases": [0, 1, 2, 3], "extracts": ["", "a", "b", "c"]})
    >>> for row in suppress(t, 3)[["n_cases", "extracts", "note"]].values.tolist():
    ...     print(row)
    ['0', '', '']
    ['<3', '', 'extracts withheld: fewer than 3 cases']
    ['<3', '', 'extracts withheld: fewer than 3 cases']
    ['3', 'c', '']
    """
    out = table.copy()
    if "extracts" in out.columns:
        note = pd.Series("", index=out.index, dtype="object")
        if suppress_single_case_extracts and case_column in out.columns:
            small = (out[case_column] >= 1) & (out[case_column] < threshold)
            out.loc[small, "extracts"] = ""
            note[small] = WITHHELD_SMALL.format(threshold=threshold)
        out["note"] = note
    cols = count_columns if count_columns is not None else [c for c in out.columns if c.startswith("n_")]
    for col in cols:
        out[col] = [
            "" if pd.isna(v) else (f"<{threshold}" if 0 < int(v) < threshold else str(int(v)))
            for v in out[col]
        ]
    return out


def framework_tables(
    segments: pd.DataFrame, cases: pd.DataFrame, codebook: pd.DataFrame, sites: list[str]
) -> dict[str, pd.DataFrame]:
    """All framework outputs, unsuppressed, keyed by output file name."""
    return {
        "framework_case_theme.csv": case_theme_matrix(segments, cases, codebook),
        "framework_site_theme.csv": site_theme_matrix(segments, cases, codebook, sites),
        "framework_group_theme.csv": group_theme_matrix(segments, cases, codebook),
        "code_frequencies_by_site.csv": code_frequencies_by_site(segments, codebook, sites),
        "codebook.csv": codebook_table(segments, codebook),
    }


def suppressed_framework_tables(
    segments: pd.DataFrame, cases: pd.DataFrame, codebook: pd.DataFrame, sites: list[str], qual_config: dict
) -> dict[str, pd.DataFrame]:
    """:func:`framework_tables` after the configured small-cell rule (what is written to disk), each with
    a last column ``qualitative_dataset`` holding ``qualitative.dataset_label`` so that a table read on
    its own still says what data it comes from."""
    threshold = int(qual_config.get("small_cell_threshold", 3))
    single = bool(qual_config.get("suppress_single_case_extracts", True))
    label = qual_config.get("dataset_label", "")
    return {
        name: suppress(t, threshold, suppress_single_case_extracts=single).assign(qualitative_dataset=label)
        for name, t in framework_tables(segments, cases, codebook, sites).items()
    }
