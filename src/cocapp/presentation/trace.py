"""From a report number to where it came from (issue 14): ``cocapp trace "<table> <row> <column>"``.

A display table (``reports/tables/<key>.csv``, the cells the report shows) is matched by its number
(``Table 2``, ``Supplementary table S1``) or its key (``table2_service_users``); the row by its label
cells (section and first column, e.g. ``RSA Life goals``; the longest label found in the query wins)
and the column by its header (``Artois``, ``One-way ANOVA parameters``). Parts may be separated by
``|`` to avoid any ambiguity. The answer names the derived file and its row (the CSV line number and
the key values), the rule and the function that computed it, and the config keys the rule reads with
their values (:data:`cocapp.stages.STAGES`). Everything is resolved from the config and the files of
the run; nothing is specific to one study.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from cocapp.config import format_threshold
from cocapp.presentation.outputs import table_specs

__all__ = ["TraceError", "format_trace", "trace"]


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


def _scale_key(instrument: str, label: str, config: Mapping) -> str:
    from cocapp.instruments import load_instrument

    inst = load_instrument(instrument, config.get("instrument_paths") or [])
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


def _derived_row(path: Path, **keys: object) -> tuple[int, dict]:
    """(CSV line number, row values) of the one row of ``path`` with these key values (as text)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    mask = pd.Series(True, index=df.index)
    for k, v in keys.items():
        mask &= df[k] == str(v)
    hits = df.index[mask].tolist()
    if len(hits) != 1:
        raise TraceError(f"{path}: {len(hits)} rows with {keys} (expected one)")
    return hits[0] + 2, df.loc[hits[0]].to_dict()


def _config_keys(stage: str, config: Mapping, group: str | None) -> dict:
    from cocapp.stages import STAGES
    from cocapp.stages.settings import pick

    name = stage if stage in STAGES else stage.replace("_", "-")
    return pick(dict(config), STAGES[name].settings, group)


def trace(query: str, config: Mapping, root: str | Path = ".") -> dict:
    """Where the number at ``<table> <row> <column>`` of the report comes from (module docstring).

    ``root`` is the folder the workflow ran in (``reports/tables`` and ``data/derived`` under it)."""
    root = Path(root)
    key, number, rest = _table(query, config)
    display_path = root / "reports" / "tables" / f"{key}.csv"
    if not display_path.is_file():
        raise TraceError(f"{display_path}: display table not found (run the workflow first)")
    display = pd.read_csv(display_path, dtype=str, keep_default_na=False)
    cols = list(display.columns)
    primary = format_threshold(config["scoring"]["primary_threshold"])
    sites = [s["name"] for s in config["sites"]]
    groups = {g: (spec.get("label") or g) for g, spec in config["groups"].items()}
    derived = root / "data" / "derived"

    def site_of(column: str) -> str | None:
        for s in sites:
            if column == s or column.startswith(f"{s} "):
                return s
        return "All" if _norm(column) == "total sample" else None

    if key == "table1_returns":
        i, rest = _pick_row(display, [cols[0]], rest)
        column = _pick_column(cols[1:], rest)
        site = next(s for s in sites if display.loc[i, cols[0]].startswith(s))
        g = next(g for g, lab in groups.items() if column.startswith(f"{lab}:"))
        path = derived / "ingest" / f"{g}_reconciliation.csv"
        recon = pd.read_csv(path, dtype=str, keep_default_na=False)
        analysed = column.endswith("analysed")
        rows = recon.index[(recon["site"] == site) & ((recon["status"] == "analysed") | (not analysed))]
        which = f"site = {site}" + (", status = analysed" if analysed else "")
        where = dict(file=str(path), rows=f"{len(rows)} rows ({which})", line=None, values={})
        kind, group = "reconciliation", g
    elif re.fullmatch(r"table\d+_correlations_.+", key):
        group = key.split("_correlations_", 1)[1]
        i, rest = _pick_row(display, cols[:2], rest)
        column = _pick_column(cols[2:], rest)
        x, y = display.loc[i, cols[0]].split(" and ", 1)
        path = derived / "stats" / "correlations.csv"
        line, values = _derived_row(path, group=group, threshold=primary, site=site_of(column), x=x, y=y)
        param = display.loc[i, cols[1]]
        where = dict(
            file=str(path),
            line=line,
            values=values,
            column={"r": "r", "Sig.": "p", "N": "n"}.get(param, param),
        )
        kind = "correlations"
    elif re.fullmatch(r"table\d+_.+", key):
        group = key.split("_", 1)[1]
        i, rest = _pick_row(display, cols[:2], rest)
        column = _pick_column(cols[2:], rest)
        inst = _instrument_key(display.loc[i, cols[0]])
        scale = _scale_key(inst, display.loc[i, cols[1]], config)
        site = site_of(column)
        if site is None:
            kind, path = "anova", derived / "stats" / "anova.csv"
            line, values = _derived_row(path, group=group, instrument=inst, scale=scale, threshold=primary)
            col = "F, df1, df2, p"
        else:
            kind, path = "descriptives", derived / "stats" / "descriptives.csv"
            line, values = _derived_row(
                path, group=group, instrument=inst, scale=scale, threshold=primary, site=site
            )
            col = "mean, sem"
        where = dict(file=str(path), line=line, values=values, column=col)
    elif key in ("reliability", "ancova_means"):
        label_cols = cols[:3] if key == "ancova_means" else cols[:2]
        i, rest = _pick_row(display, label_cols, rest)
        column = _pick_column(cols[len(label_cols) :], rest)
        section = display.loc[i, cols[0]]
        group = next(g for g, lab in groups.items() if section.startswith(f"{lab}:"))
        inst = _instrument_key(section)
        scale = _scale_key(inst, display.loc[i, cols[1]], config)
        if key == "reliability":
            kind, path = "reliability", derived / "stats" / "reliability.csv"
            line, values = _derived_row(path, group=group, instrument=inst, scale=scale)
            col = {
                "N (complete cases)": "n_complete",
                "Cronbach's alpha": "alpha",
                "95% CI": "ci_low, ci_high",
            }.get(column, column)
        else:
            model = display.loc[i, cols[2]]
            site = site_of(column)
            if site is None:
                kind, path = "ancova", derived / "stats" / "ancova.csv"
                line, values = _derived_row(
                    path,
                    group=group,
                    instrument=inst,
                    scale=scale,
                    threshold=primary,
                    model=model,
                    term="site",
                )
                col = "F, df, p, partial_eta2 (df_resid: the Residuals row)"
            else:
                kind, path = "ancova_means", derived / "stats" / "ancova_means.csv"
                line, values = _derived_row(
                    path, group=group, instrument=inst, scale=scale, threshold=primary, model=model, site=site
                )
                col = "adj_mean, se"
        where = dict(file=str(path), line=line, values=values, column=col)
    else:  # pragma: no cover - table_specs lists only the kinds above
        raise TraceError(f"{number}: no trace for this table")
    rule = _RULES[kind]
    return dict(
        table=number,
        table_key=key,
        row=" / ".join(
            display.loc[i, c]
            for c in cols[: (3 if key == "ancova_means" else 2 if key != "table1_returns" else 1)]
        ),
        column=column,
        shown=display.loc[i, column],
        display_file=str(display_path),
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
