"""From a report number to where it came from (issue 14): ``cocapp trace "<table> <row> <column>"``.

A display table (``reports/tables/<key>.csv``, the cells the report shows) is matched by its number
(``Table 2``, ``Supplementary table S1``) or its key (``table2_service_users``); the row by its label
cells (section and first column, e.g. ``RSA Life goals``; the longest label found in the query wins)
and the column by its header (``Artois``, ``One-way ANOVA parameters``). Parts may be separated by
``|`` to avoid any ambiguity. The answer names the derived file and its row (the CSV line number and
the key values), the rule and the function that computed it, and the config keys the rule reads with
their values (:data:`cocapp.stages.STAGES`). Everything is resolved from the config and the files of
the run; nothing is specific to one study.

This module opens no file: the derived tables come already read (the report stage reads the files it
was given, ``cocapp trace`` a run's folder, both through :mod:`cocapp.contracts`), as text tables
(:class:`cocapp.contracts.TextTable`) by their path relative to the derived folder
(``stats/anova.csv``); ``cocapp trace`` hands in a :class:`cocapp.contracts.RunFiles` for the rest.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

from cocapp.config import format_threshold
from cocapp.contracts import ContractError
from cocapp.presentation import tables as _tables
from cocapp.presentation.outputs import table_specs

__all__ = [
    "SOURCES",
    "TraceError",
    "cell_traces",
    "format_trace",
    "source_info",
    "trace",
    "trace_report",
    "traceable",
]


class TraceError(ValueError):
    """The query names no table, row or column of the report (the message lists what there is)."""


# table kind -> (stage/rule, function, derived file for each kind of column)
_FUNCTIONS = {
    "anova": "cocapp.stats.anova.oneway_anova (via cocapp.stats.compare.compare_sites)",
    "descriptives": "cocapp.stats.descriptives.describe (via descriptives_table)",
    "correlations": "cocapp.stats.correlation.pearson (via cocapp.stats.compare.total_correlations)",
    "reliability": "cocapp.stats.reliability.cronbach_alpha (via reliability_tables)",
    "ancova": "cocapp.stats.ancova.ancova (via cocapp.stats.adjusted.compare_adjusted)",
    "ancova_means": "cocapp.stats.ancova.ancova (adjusted means; via cocapp.stats.adjusted.compare_adjusted)",
    "reconciliation": "cocapp.ingest (reconciliation of every raw row)",
}
_RULES = {
    "anova": "compare_sites",
    "descriptives": "distributions",
    "correlations": "compare_sites",
    "reliability": "reliability",
    "ancova": "ancova",
    "ancova_means": "ancova",
    "reconciliation": "ingest",
}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def _table(query: str, config: Mapping) -> tuple[str, str, str]:
    """(key, number, rest of the query) of the table the query starts with."""
    q = _norm(query)
    best = None
    for key, number in table_specs(dict(config)):
        for name in (number, key):
            n = _norm(name)
            if q.startswith(n) and (best is None or len(n) > len(best[2])):
                best = (key, number, n)
    if best is None:
        names = ", ".join(f"{n} ({k})" for k, n in table_specs(dict(config)))
        raise TraceError(f"no report table starts the query {query!r}; tables: {names}")
    return best[0], best[1], q[len(best[2]) :].strip(" |")


def _instrument_key(section: str) -> str:
    m = re.search(r"\(([^()]+)\)\s*$", str(section))
    return m.group(1) if m else str(section)


def _scale_key(instrument: str, label: str, config: Mapping, instruments: Mapping | None = None) -> str:
    from cocapp.instruments import configured_instruments

    inst = configured_instruments(config, instruments)[instrument]
    for sc in inst.scales:
        if _norm(sc.label) == _norm(label) or _norm(sc.key) == _norm(label):
            return sc.key
    raise TraceError(f"instrument {instrument} has no scale labelled {label!r}")


def _pick_row(display: pd.DataFrame, label_cols: list[str], rest: str) -> tuple[int, str]:
    """Index of the row whose label cells best match the query, and what is left of the query."""
    best, best_len, best_used, ties = None, -1, "", []
    for i, row in display.iterrows():
        used = []
        score = 0
        for c in label_cols:
            cell = _norm(row[c])
            bare = _norm(re.sub(r"\s*\([^()]*\)\s*$", "", str(row[c])))
            for cand in sorted({cell, _norm(_instrument_key(row[c])), bare}, key=len, reverse=True):
                if cand and re.search(rf"(^|[\s|]){re.escape(cand)}($|[\s|])", rest):
                    score += len(cand)
                    used.append(cand)
                    break
        if len(used) == len(label_cols) or (used and label_cols[-1] == label_cols[0]):
            pass
        else:
            # the last label cell (scale, parameter) must be named; sections may be left out
            last = row[label_cols[-1]]
            if not any(u in {_norm(last), _norm(_instrument_key(last))} for u in used):
                continue
        if score > best_len:
            best, best_len, best_used, ties = i, score, used, [i]
        elif score == best_len:
            ties.append(i)
    if best is None:
        raise TraceError(f"no row of the table matches {rest!r}")
    if len(ties) > 1:
        options = ["/".join(str(display.loc[t, c]) for c in label_cols) for t in ties[:6]]
        raise TraceError(f"{rest!r} matches {len(ties)} rows ({'; '.join(options)}): name the section too")
    left = rest
    for u in best_used:
        left = re.sub(rf"(^|[\s|]){re.escape(u)}($|[\s|])", " ", left, count=1)
    return int(best), left.strip(" |")


def _pick_column(columns: list[str], rest: str) -> str:
    rest = _norm(rest)
    if not rest:
        raise TraceError(f"no column named; columns: {columns}")
    exact = [c for c in columns if _norm(c) == rest]
    if exact:
        return exact[0]
    starts = [c for c in columns if _norm(c).startswith(rest) or rest.startswith(_norm(c))]
    if len(starts) == 1:
        return starts[0]
    raise TraceError(
        f"column {rest!r} is {'ambiguous' if starts else 'not in the table'}; columns: {columns}"
    )


@contextlib.contextmanager
def _as_trace_errors():
    """A file of the run missing or breaking its contract, said as a :class:`TraceError`."""
    try:
        yield
    except ContractError as err:
        raise TraceError(str(err)) from None


def _derived(derived: Mapping, rel: str):
    """The derived table ``rel`` (``stats/anova.csv``) of ``derived`` (path -> text table)."""
    try:
        with _as_trace_errors():
            return derived[rel]
    except KeyError:
        raise TraceError(f"{rel}: derived file not given (run the workflow first)") from None


def _derived_row(table, **keys: object) -> tuple[int, dict]:
    """(CSV line number, row values) of the one row of the text table ``table`` with these key values
    (as text)."""
    hits = _row_index(table, tuple(keys)).get(tuple(str(v) for v in keys.values()), [])
    if len(hits) != 1:
        raise TraceError(f"{table.path}: {len(hits)} rows with {keys} (expected one)")
    return hits[0] + 2, table.cells.loc[hits[0]].to_dict()


def _row_index(table, columns: tuple[str, ...]) -> dict[tuple, list[int]]:
    """The rows of ``table`` for every combination of ``columns``' values, built once per table and key
    set (kept in the table's ``memo``): a report traces thousands of cells into tables of 10^4-10^6
    rows, where a scan per cell took most of the report stage."""
    key = ("trace.rows", columns)
    if key not in table.memo:
        df = table.cells
        index: dict[tuple, list[int]] = {}
        for i, values in enumerate(zip(*(df[c].tolist() for c in columns), strict=True)):
            index.setdefault(values, []).append(i)
        table.memo[key] = index
    return table.memo[key]


def _config_keys(stage: str, config: Mapping, group: str | None) -> dict:
    from cocapp.stages import STAGES
    from cocapp.stages.settings import pick

    name = stage if stage in STAGES else stage.replace("_", "-")
    return pick(dict(config), STAGES[name].settings, group)


# Every file a traced report cell points at: short name -> (rule that writes it, function that computes
# it). The short name is the file's stem; :func:`source_paths` gives its place in a run.
SOURCES = {
    "descriptives": ("distributions", _FUNCTIONS["descriptives"]),
    "normality": ("distributions", "cocapp.stats.normality.normality_table"),
    "anova": ("compare_sites", _FUNCTIONS["anova"]),
    "tukey": ("compare_sites", "cocapp.stats.posthoc.tukey_kramer (via cocapp.stats.compare.compare_sites)"),
    "games_howell": (
        "compare_sites",
        "cocapp.stats.posthoc.games_howell (via cocapp.stats.compare.compare_sites)",
    ),
    "correlations": ("compare_sites", _FUNCTIONS["correlations"]),
    "reliability": ("reliability", _FUNCTIONS["reliability"]),
    "missingness": ("missingness", "cocapp.stats.missingness.scale_missingness"),
    "mcar": ("missingness", "cocapp.stats.missingness.little_mcar (via mcar_table)"),
    "ancova": ("ancova", _FUNCTIONS["ancova"]),
    "ancova_means": ("ancova", _FUNCTIONS["ancova_means"]),
    "ancova_slopes": ("ancova", "cocapp.stats.ancova.ancova (site x covariate interaction; equal slopes)"),
    "ancova_posthoc": ("ancova", "cocapp.stats.ancova.site_estimates (pairs of adjusted means)"),
    "mi_correlations": ("impute", "cocapp.stats.mi.pool_analyses (Rubin's rules on Fisher's z)"),
    "mi_pairs": ("impute", "cocapp.stats.mi.pool_analyses (pooled site differences, Rubin's rules)"),
    "published_comparison": ("audit", "cocapp.presentation.audit.compare"),
    "published_consistency": ("audit", "cocapp.presentation.audit.consistency_checks"),
    # the report's qualitative section (written by the qualitative stages, small cells suppressed)
    "joint_display": (
        "joint_display",
        "cocapp.qualitative.joint.joint_display (small cells: cocapp.qualitative.joint.suppress_joint)",
    ),
    "framework_site_theme": (
        "qualitative_framework",
        "cocapp.qualitative.framework.site_theme_matrix (small cells: framework.suppress)",
    ),
    "framework_group_theme": (
        "qualitative_framework",
        "cocapp.qualitative.framework.group_theme_matrix (small cells: framework.suppress)",
    ),
    "code_frequencies_by_site": (
        "qualitative_framework",
        "cocapp.qualitative.framework.code_frequencies_by_site (small cells: framework.suppress)",
    ),
    "codebook": (
        "qualitative_framework",
        "cocapp.qualitative.framework.codebook_table (small cells: framework.suppress)",
    ),
}
# the provenance tables: a stage manifest (JSON) and the report's own input files
MANIFEST_FUNCTION = "cocapp.provenance.stage_manifest (written by cocapp.stages.runner after the stage)"
INPUT_FUNCTION = "cocapp.stages.report.read_inputs (size of the file; SHA-256 by report.sha256_of)"
_RECONCILIATION = "_reconciliation"


def source_info(name: str) -> tuple[str, str]:
    """(rule, function) behind the derived file with short name ``name`` (its stem)."""
    if name.endswith(_RECONCILIATION):
        return _RULES["reconciliation"], _FUNCTIONS["reconciliation"]
    if name not in SOURCES:
        raise TraceError(f"{name}: no known derived file of that name")
    return SOURCES[name]


def source_group(name: str, config: Mapping) -> str | None:
    """The group whose settings the rule read for ``name`` (only the ingest's files are per group)."""
    g = name.removesuffix(_RECONCILIATION)
    return g if name.endswith(_RECONCILIATION) and g in config["groups"] else None


_LABEL_COLUMNS = {"table1_returns": 1, "ancova_means": 3}


def _label_count(key: str) -> int:
    return _LABEL_COLUMNS.get(key, 2)


def _correlated_pair(
    label: str, config: Mapping, group: str, instruments: Mapping | None = None
) -> tuple[str, str]:
    """The measure names (x, y in ``correlations.csv``) of a correlation table's row label
    ``"<shown x> and <shown y>"``, the shown names being the instrument files' (tables._measure_label)."""
    from cocapp.presentation.tables import measure_labels

    shown = measure_labels(dict(config), group, instruments)
    for x, sx in shown.items():
        for y, sy in shown.items():
            if label == f"{sx} and {sy}":
                return x, y
    raise TraceError(f"correlation row {label!r}: not a pair of the measures {sorted(shown.values())}")


def _resolve(
    key: str,
    number: str,
    display: pd.DataFrame,
    i: int,
    column: str,
    config: Mapping,
    derived: Mapping,
    instruments: Mapping | None = None,
) -> tuple[str, str | None, dict]:
    """(kind, group, where) of the cell at row ``i``, ``column`` of the display table ``key``; ``derived``
    holds the derived tables by path relative to the derived folder (``instruments``: the configured
    instruments by key as a stage loaded them; None: through the config).

    ``where``: ``file``, ``line`` (CSV line, header = 1) or ``rows`` (a count: ``filter``), ``values``
    of the derived row, ``column`` (as text for the console) and ``columns`` (the derived columns the
    cell shows, comma-separated; ``#`` = the number of rows matching ``filter``)."""
    primary = format_threshold(config["scoring"]["primary_threshold"])
    sites = [s["name"] for s in config["sites"]]
    # the groups as the tables label them (a group without a label: its key, capitalised)
    groups = {g: _tables._group_label(dict(config), g) for g in config["groups"]}
    label = display.loc[i, display.columns[0]]
    if key == "table1_returns":
        return _resolve_returns(label, column, sites, groups, derived)
    if re.fullmatch(r"table\d+_correlations_.+", key):
        group = key.split("_correlations_", 1)[1]
        param = display.loc[i, display.columns[1]]
        site = _site_of(column, sites)
        return _resolve_correlation(label, param, group, site, config, primary, derived, instruments)
    if re.fullmatch(r"table\d+_.+", key):
        group = key.split("_", 1)[1]
        inst = _instrument_key(label)
        scale = _scale_key(inst, display.loc[i, display.columns[1]], config, instruments)
        return _resolve_scores(group, inst, scale, _site_of(column, sites), primary, derived)
    if key in ("reliability", "ancova_means"):
        group = next(g for g, lab in groups.items() if label.startswith(f"{lab}:"))
        inst = _instrument_key(label)
        scale = _scale_key(inst, display.loc[i, display.columns[1]], config, instruments)
        if key == "reliability":
            return _resolve_reliability(group, inst, scale, column, derived)
        model = display.loc[i, display.columns[2]]
        return _resolve_ancova(group, inst, scale, model, column, _site_of(column, sites), primary, derived)
    raise TraceError(f"{number}: no trace for this table")  # pragma: no cover - table_specs lists the kinds


def _site_of(column: str, sites: list[str]) -> str | None:
    """The site a display column is about (``Artois``, ``Artois n``), ``All`` for the total sample."""
    for s in sites:
        if column == s or column.startswith(f"{s} "):
            return s
    return "All" if _norm(column) == "total sample" else None


def _resolve_returns(
    label: str, column: str, sites: list[str], groups: dict[str, str], derived: Mapping
) -> tuple[str, str | None, dict]:
    """:func:`_resolve` for Table 1 (returns): a count of the rows of the group's reconciliation file,
    a site's row (``label``) or the total over every site (a row whose label names no site)."""
    site = next((s for s in sites if label.startswith(s)), None)
    g = next(g for g, lab in groups.items() if column.startswith(f"{lab}:"))
    table = _derived(derived, f"ingest/{g}_reconciliation.csv")
    recon = table.cells
    analysed = column.endswith("analysed")
    # the row of respondents without a configured site (grouping.unknown: exclude) is neither a
    # site's row nor the total: its site is none of the configured ones
    unplaced = site is None and label != "Total"
    conds = (
        [("site", "=", site)] if site is not None else [("site", "!=", s) for s in sites] if unplaced else []
    ) + ([("status", "=", "analysed")] if analysed else [])
    mask = pd.Series(True, index=recon.index)
    for k, op, v in conds:
        mask &= (recon[k] == v) if op == "=" else (recon[k] != v)
    rows = recon.index[mask]
    which = ", ".join(f"{k} {op} {v}" for k, op, v in conds) or "every row"
    flt = "&".join(f"{k}{op}{v}" for k, op, v in conds)
    where = dict(
        file=table.path, rows=f"{len(rows)} rows ({which})", line=None, values={}, filter=flt, columns="#"
    )
    return "reconciliation", g, where


def _resolve_correlation(
    label: str,
    param: str,
    group: str,
    site: str | None,
    config: Mapping,
    primary: str,
    derived: Mapping,
    instruments: Mapping | None = None,
) -> tuple[str, str | None, dict]:
    """:func:`_resolve` for a correlation table (Table 4): the pair's row of ``correlations.csv`` at
    the site, ``param`` (r, Sig., N) naming the column."""
    x, y = _correlated_pair(label, config, group, instruments)
    table = _derived(derived, "stats/correlations.csv")
    line, values = _derived_row(table, group=group, threshold=primary, site=site, x=x, y=y)
    c = {"r": "r", "Sig.": "p", "N": "n"}.get(param, param)
    return "correlations", group, dict(file=table.path, line=line, values=values, column=c, columns=c)


def _resolve_scores(
    group: str, inst: str, scale: str, site: str | None, primary: str, derived: Mapping
) -> tuple[str, str | None, dict]:
    """:func:`_resolve` for a group's scores table (Tables 2-3): a site's mean (SEM) in
    ``descriptives.csv``, or the one-way ANOVA in ``anova.csv`` (a column of no site)."""
    if site is None:
        table = _derived(derived, "stats/anova.csv")
        line, values = _derived_row(table, group=group, instrument=inst, scale=scale, threshold=primary)
        c = "F,df1,df2,p"
        return "anova", group, dict(file=table.path, line=line, values=values, column=c, columns=c)
    table = _derived(derived, "stats/descriptives.csv")
    line, values = _derived_row(
        table, group=group, instrument=inst, scale=scale, threshold=primary, site=site
    )
    c = "mean,sem"
    return "descriptives", group, dict(file=table.path, line=line, values=values, column=c, columns=c)


def _resolve_reliability(
    group: str, inst: str, scale: str, column: str, derived: Mapping
) -> tuple[str, str | None, dict]:
    """:func:`_resolve` for the reliability table (Supplementary table S1): the scale's row of
    ``reliability.csv``."""
    table = _derived(derived, "stats/reliability.csv")
    line, values = _derived_row(table, group=group, instrument=inst, scale=scale)
    c = {
        "Items": "k_items",
        "N (complete cases)": "n_complete",
        "Cronbach's alpha": "alpha",
        "95% CI": "ci_low,ci_high",
    }.get(column, column)
    return "reliability", group, dict(file=table.path, line=line, values=values, column=c, columns=c)


def _resolve_ancova(
    group: str,
    inst: str,
    scale: str,
    model: str,
    column: str,
    site: str | None,
    primary: str,
    derived: Mapping,
) -> tuple[str, str | None, dict]:
    """:func:`_resolve` for the adjusted-means table (Supplementary table S2): a site's adjusted mean in
    ``ancova_means.csv``, or the model's site term in ``ancova.csv`` (a column of no site)."""
    if site is None:
        table = _derived(derived, "stats/ancova.csv")
        line, values = _derived_row(
            table, group=group, instrument=inst, scale=scale, threshold=primary, model=model, term="site"
        )
        c = "partial_eta2" if "eta" in _norm(column) else "F,df,p"
        where = dict(
            file=table.path,
            line=line,
            values=values,
            column="F, df, p, partial_eta2 (df_resid: the Residuals row)",
            columns=c,
        )
        return "ancova", group, where
    table = _derived(derived, "stats/ancova_means.csv")
    line, values = _derived_row(
        table, group=group, instrument=inst, scale=scale, threshold=primary, model=model, site=site
    )
    c = "adj_mean,se"
    return "ancova_means", group, dict(file=table.path, line=line, values=values, column=c, columns=c)


def traceable(key: str) -> bool:
    """Whether :func:`cell_traces` knows the display table ``key`` (Tables 1-4 and S1-S2; not the
    many-sites table S3 of outlying sites)."""
    return key in ("table1_returns", "reliability", "ancova_means") or bool(re.fullmatch(r"table\d+_.+", key))


def cell_traces(
    key: str, display: pd.DataFrame, config: Mapping, derived: Mapping, instruments: Mapping | None = None
) -> list[list[str]]:
    """Per row of the display table ``key``, per column, the cell's trace as the report writes it
    (``<source>|<line or filter>|<columns>``; ``""`` for the label columns and cells without a number).
    ``derived``: the derived tables behind it, as text tables by path relative to the derived folder
    (``stats/descriptives.csv``, ``ingest/<group>_reconciliation.csv``); ``instruments``: the configured
    instruments by key, as the report stage loaded them (None: through the config)."""
    number = dict((k, n) for k, n in table_specs(dict(config)))[key]
    n_labels = _label_count(key)
    out = []
    for i in range(len(display)):
        row = [""] * len(display.columns)
        for j, column in enumerate(display.columns[n_labels:], start=n_labels):
            if not any(ch.isdigit() for ch in str(display.iloc[i, j])):
                continue
            _kind, _group, w = _resolve(key, number, display, i, column, config, derived, instruments)
            where = w["filter"] if w.get("line") is None else str(w["line"])
            row[j] = f"{Path(w['file']).stem}|{where}|{w['columns']}"
        out.append(row)
    return out


# -- the other tables of the report (A*, C*): traced from the report's own hover data ---------------
class _ReportTables(HTMLParser):
    """Tables of the report: id, number (caption up to the first '. '), data-s, header cells (text,
    data-c), rows (data-t; cells: tag, data-t, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.sources = ""
        self._t: dict | None = None
        self._cell: dict | None = None
        self._part = ""
        self._in_sources = False
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("id") == "cocapp-trace-sources":
            self._in_sources = True
        elif tag == "table":
            self._t = dict(id=a.get("id") or "", caption="", source=a.get("data-s"), header=[], rows=[])
            self.tables.append(self._t)
        elif self._t is None:
            return
        elif tag == "caption":
            self._in_caption = True
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._part == "tbody" and a.get("class") != "section":
            self._t["rows"].append(dict(trace=a.get("data-t"), cells=[]))
        elif tag in ("th", "td") and self._part in ("thead", "tbody"):
            self._cell = dict(tag=tag, trace=a.get("data-t"), column=a.get("data-c"), text="")
            if self._part == "thead":
                self._t["header"].append(self._cell)
            elif self._t["rows"]:
                self._t["rows"][-1]["cells"].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_sources = False
        elif tag == "caption":
            self._in_caption = False
        elif tag == "table":
            self._t = None
        elif tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data):
        if self._in_sources:
            self.sources += data
        elif self._in_caption and self._t is not None:
            self._t["caption"] += data
        elif self._cell is not None:
            self._cell["text"] += data


def _dash(text: str) -> str:
    return _norm(str(text).replace("–", "-").replace("−", "-"))


def _named(label: str, query: str) -> bool:
    """Whether ``label`` stands in ``query`` as a whole part (bounded by spaces, ``|`` or the ends)."""
    return re.search(rf"(?:^|[\s|]){re.escape(label)}(?=$|[\s|])", query) is not None


def _cell_trace(table: dict, row: dict, j: int) -> str | None:
    """``source|line-or-filter|columns`` of cell ``j`` (its own, or its row's with the column's)."""
    cell = row["cells"][j]
    if cell["trace"]:
        return cell["trace"]
    head = table["header"]
    col = head[j]["column"] if j < len(head) else None
    if not row["trace"] or not col:
        return None
    where = row["trace"] if "|" in row["trace"] else f"{table['source']}|{row['trace']}"
    return f"{where}|{col}"


def _rows_named(rows: list[dict], first: int, rest: str, headers_only: bool) -> list[dict]:
    """The rows whose label cells (before column ``first``; only the row headers when
    ``headers_only``) the query names most fully."""
    scores = []
    for r in rows:
        cells = [c for c in r["cells"][:first] if c["tag"] == "th" or not headers_only]
        labels = [_dash(c["text"]) for c in cells if c["text"].strip()]
        if labels and all(_named(lab, rest) for lab in labels):
            scores.append((sum(map(len, labels)), r))
        elif labels:
            hit = [lab for lab in labels if _named(lab, rest)]
            scores.append((sum(map(len, hit)) - 10_000, r))
    top = max((sc for sc, _ in scores), default=None)
    return [r for sc, r in scores if sc == top] if top is not None and top > 0 else []


def trace_report(query: str, config: Mapping, files) -> dict:
    """The trace of a number of any traced table of the report (``Table A4``, ``Table C4``, ... or the
    table's id), read from the report's own hover data: the row is the one whose label cells the query
    names most fully, the column the header the query names (the longest found). ``files``: the run's
    files (:class:`cocapp.contracts.RunFiles`)."""
    import json

    report = Path("reports") / "report.html"
    with _as_trace_errors():
        html = files.text(report)
    p = _ReportTables()
    p.feed(html)
    sources = json.loads(p.sources or "{}")
    q = _dash(query)
    t, n, number = _report_table(p.tables, q, query, report)
    rest = q[len(n) :].strip(" |")
    j, rest = _report_column(t, rest, query, number)
    # the row's labels: its cells before the first traced column (group, outcome, pair, ...)
    first = min(_traced_columns(t))
    row = _report_row(t["rows"], first, rest, number)
    cell = _cell_trace(t, row, j)
    if not cell:
        raise TraceError(f"{number}: that cell carries no trace")
    name, where, cols = cell.split("|")
    path, rule_key, function = sources["src"][name]
    rule, _, group = rule_key.partition(":")
    with _as_trace_errors():
        derived = _report_derived(path, where, cols, files, name)
    logs = Path("data") / "derived" / "logs"
    return dict(
        table=number,
        table_key=t["id"],
        row=" / ".join(c["text"].strip() for c in row["cells"][:first] if c["text"].strip()),
        column=t["header"][j]["text"],
        shown=row["cells"][j]["text"].strip(),
        display_file=str(files.path(report)),
        derived=derived,
        rule=rule + (f" (group {group})" if group else ""),
        log=str(logs / f"{rule}.log"),
        manifest=str(logs / f"{rule}.manifest.json"),
        function=function,
        config_keys=_config_keys(rule, config, group or None),
    )


def _table_number(caption: str) -> str:
    """The table's number at the start of its caption (``Table A4``), ``""`` when it carries none."""
    numbered = re.match(r"((?:Supplementary )?[Tt]able [^\s.]+)\. ", caption)
    return numbered.group(1) if numbered else ""


def _report_table(tables: list[dict], q: str, query: str, report: Path) -> tuple[dict, str, str]:
    """(table, the name the query starts with, its number or id) of the report's table the query
    ``q`` (:func:`_dash` of ``query``) names: by its number, or its id when its caption has none."""
    best = None
    for t in tables:
        # the table's number ("Table A4"), or its id when its caption carries none (provenance tables)
        number = _table_number(t["caption"].strip())
        for name in (number, t["id"]):
            n = _dash(name)
            if n and q.startswith(n) and (best is None or len(n) > len(best[1])):
                best = (t, n, number or t["id"])
    if best is None:
        names = ", ".join(_table_number(t["caption"]) or t["id"] for t in tables if t["caption"] or t["id"])
        raise TraceError(f"no table of {report} starts the query {query!r}; tables: {names}")
    return best


def _traced_columns(t: dict) -> set[int]:
    """The columns of table ``t`` with a trace: by their header, or in a cell of their own."""
    traced = {j for j, h in enumerate(t["header"]) if h["column"]}
    return traced | {j for r in t["rows"] for j, c in enumerate(r["cells"]) if c["trace"]}


def _report_column(t: dict, rest: str, query: str, number: str) -> tuple[int, str]:
    """(index, what is left of ``rest``) of the traced column of table ``t`` whose header ``rest``
    names nearest its end (the longest on a tie)."""
    heads = [_dash(h["text"]) for h in t["header"]]
    found = []
    for k in sorted(_traced_columns(t)):
        hits = list(re.finditer(rf"(?:^|[\s|]){re.escape(heads[k])}(?=$|[\s|])", rest)) if heads[k] else []
        if hits:
            found.append((hits[-1].end(), len(heads[k]), k, hits[-1]))
    if not found:
        raise TraceError(
            f"no column of {number} named in {query!r}; columns: {[h['text'] for h in t['header']]}"
        )
    _, _, j, m = max(found)
    return j, rest[: m.start()] + " " + rest[m.end() :]


def _report_row(rows: list[dict], first: int, rest: str, number: str) -> dict:
    """The one row whose label cells (before column ``first``) ``rest`` names most fully, else the one
    whose row header it names."""
    named = _rows_named(rows, first, rest, headers_only=False)
    if len(named) != 1:
        # a row header (<th scope="row">: a site, a code, a file) may name the row on its own, without
        # the descriptive cells beside it (a code's definition)
        by_header = _rows_named(rows, first, rest, headers_only=True)
        named = by_header if len(by_header) == 1 else named
    if len(named) != 1:
        raise TraceError(
            f"{rest!r} matches {len(named)} rows of {number}: name every label cell of the row "
            "(group, outcome, pair, ...)"
        )
    return named[0]


def _report_derived(path: str, where: str, cols: str, files, name: str | None = None) -> dict:
    """What a report cell's trace (``where``, ``cols``) names in the file ``path`` (relative to the
    run's folder, or absolute; ``name`` its short name in the report): a JSON value, a count of rows or
    a CSV record."""
    if where == "@" or where.startswith("/"):
        values = json_value(files, path, where, cols)
        at = "the file itself" if where == "@" else f"JSON {where}"
        return dict(file=path, line=None, rows=at, values=values, column=cols)
    if cols == "#":
        return dict(file=path, line=None, rows=f"rows where {where or 'any'} (counted)", values={})
    line, values = _csv_line(files.table(path, name), int(where))
    return dict(file=path, line=line, values=values, column=cols)


def _csv_line(table, line: int) -> tuple[int, dict]:
    """(line, values) of the record of the text table ``table`` (read with the line each record starts
    on: a quoted cell with line breaks makes a record span lines) starting on ``line`` (header = 1)."""
    starts = table.lines
    if line not in starts:
        raise TraceError(f"{table.path}: no record starts on line {line} (the run changed since the report?)")
    return line, table.cells.iloc[starts.index(line)].to_dict()


def json_value(files, path: str | Path, where: str, columns: str) -> dict:
    """What a trace into a JSON file (a stage manifest) or into a file itself names (``path`` one of
    the run's ``files``, :class:`cocapp.contracts.RunFiles`).

    ``where`` is a JSON pointer (RFC 6901: ``/`` the whole document, ``/inputs/3`` an entry) or ``@``
    (the file itself: ``bytes`` is its size). ``columns``: keys of the object found, comma-separated;
    ``#a+b`` = the number of entries of the lists ``a`` and ``b``; ``+a.k`` = the sum of ``k`` over the
    entries of the list ``a``. Returns ``{column: value as text}``."""
    if where == "@":
        if columns != "bytes":
            raise TraceError(f"{path}: a trace to the file itself names its bytes, not {columns!r}")
        return {"bytes": str(files.size(path))}
    node = files.json(path)
    for part in filter(None, where.split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise TraceError(f"{path}: nothing at {where} (the run changed since the report?)") from None
    if columns.startswith("#"):
        return {columns: str(sum(len(node.get(k) or []) for k in columns[1:].split("+")))}
    if columns.startswith("+"):
        key, _, field = columns[1:].partition(".")
        return {columns: str(sum((e.get(field) or 0) for e in node.get(key) or []))}
    return {c: "" if node.get(c) is None else str(node.get(c)) for c in columns.split(",")}


def trace(query: str, config: Mapping, files) -> dict:
    """Where the number at ``<table> <row> <column>`` of the report comes from (module docstring).

    ``files`` are the files of the folder the workflow ran in (:class:`cocapp.contracts.RunFiles`:
    ``reports/tables`` and ``data/derived`` under it). Tables 1-4 and S1-S2 are resolved from their
    display files; every other table of the report from the report's own traces
    (:func:`trace_report`)."""
    try:
        key, number, rest = _table(query, config)
    except TraceError as err:
        try:
            return trace_report(query, config, files)
        except TraceError as err2:
            raise TraceError(f"{err}; {err2}") from None
    with _as_trace_errors():
        shown = files.display(key)
    display = shown.cells
    cols = list(display.columns)
    n_labels = _label_count(key)
    i, rest = _pick_row(display, cols[:n_labels], rest)
    column = _pick_column(cols[n_labels:], rest)
    kind, group, where = _resolve(key, number, display, i, column, config, files.derived)
    rule = _RULES[kind]
    derived = files.path(Path("data") / "derived")
    return dict(
        table=number,
        table_key=key,
        row=" / ".join(display.loc[i, c] for c in cols[:n_labels]),
        column=column,
        shown=display.loc[i, column],
        display_file=shown.path,
        derived=where,
        rule=rule + (f" (group {group})" if rule == "ingest" else ""),
        log=str(derived / "logs" / f"{rule}.log"),
        manifest=str(derived / "logs" / f"{rule}.manifest.json"),
        function=_FUNCTIONS[kind],
        config_keys=_config_keys(rule, config, group),
    )


def format_trace(t: Mapping) -> str:
    """The trace as lines for the console."""
    import json

    d = t["derived"]
    lines = [
        f"{t['table']} ({t['table_key']}), row {t['row']!r}, column {t['column']!r}: shown as {t['shown']!r}",
        f"  display file : {t['display_file']}",
        f"  derived file : {d['file']}" + (f", line {d['line']}" if d.get("line") else f", {d.get('rows')}"),
    ]
    if d.get("column"):
        lines.append(f"  column(s)    : {d['column']}")
    if d.get("values"):
        lines.append("  row values   : " + ", ".join(f"{k}={v}" for k, v in d["values"].items()))
    lines += [
        f"  rule         : {t['rule']} (log {t['log']}, manifest {t['manifest']})",
        f"  function     : {t['function']}",
        "  config keys  : " + json.dumps(t["config_keys"], ensure_ascii=False, sort_keys=True),
    ]
    return "\n".join(lines)
