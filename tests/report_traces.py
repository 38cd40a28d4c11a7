"""Following the traces of a report's numbers back to the derived files (issue 14), shared by
tests/test_trace.py (the publication fixture's report) and tests/test_default_study.py (the default
run's report). Not a test module: imported by path-free name through conftest's sys.path (tests/)."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd

# a cell "is a number" when, apart from digits, it holds only the marks of a statistic
# ("F(5, 394) = 0.65, p = 0.659", "0.91 to 0.94", "< 0.001", "12.3 %", "0.015 [0.000, 0.031]")
_NUMBER_MARKS = re.compile(r"\b(?:F|p|to)\b|[-+<>=()\[\],.%/\s\d–−—]")


def is_number(text: str) -> bool:
    return any(ch.isdigit() for ch in text) and _NUMBER_MARKS.sub("", text) == ""


class _Tables(HTMLParser):
    """Every ``<table>``: id, data-s, header cells' data-c, rows (data-t, cells: tag, data-t, text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.scripts: dict[str, str] = {}
        self._t: dict | None = None
        self._cell: dict | None = None
        self._part = ""
        self._script: str | None = None
        self._caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self._script = a.get("id") or ""
            self.scripts[self._script] = ""
        elif tag == "table":
            self._t = dict(
                id=a.get("id"), cls=a.get("class"), source=a.get("data-s"), caption="", header=[], rows=[]
            )
            self.tables.append(self._t)
        elif self._t is None:
            return
        elif tag == "caption":
            self._caption = True
        elif tag in ("thead", "tbody", "tfoot"):
            self._part = tag
        elif tag == "tr" and self._part in ("thead", "tbody"):
            self._t["rows" if self._part == "tbody" else "header"].append(
                dict(trace=a.get("data-t"), cls=a.get("class"), cells=[])
            )
        elif tag in ("th", "td") and self._part in ("thead", "tbody"):
            target = self._t["rows" if self._part == "tbody" else "header"]
            self._cell = dict(tag=tag, trace=a.get("data-t"), column=a.get("data-c"), text="")
            target[-1]["cells"].append(self._cell)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None
        elif tag == "table":
            self._t = None
        elif tag == "caption":
            self._caption = False
        elif tag in ("th", "td"):
            self._cell = None

    def handle_data(self, data):
        if self._script is not None:
            self.scripts[self._script] += data
        if self._caption and self._t is not None:
            self._t["caption"] += data
        if self._cell is not None:
            self._cell["text"] += data


def parse(html: str) -> tuple[list[dict], dict]:
    """The report's tables and its trace sources (the JSON block ``cocapp-trace-sources``)."""
    p = _Tables()
    p.feed(html)
    sources = json.loads(p.scripts.get("cocapp-trace-sources") or "{}")
    return p.tables, sources


def cell_trace(table: dict, row: dict, j: int) -> str | None:
    """``source|line-or-filter|columns`` of cell ``j`` of ``row`` (its own trace, or its row's with the
    column's derived columns), as the report's hover composes it."""
    cell = row["cells"][j]
    if cell["trace"]:
        return cell["trace"]
    if not row["trace"] or not table["header"]:
        return None
    head = table["header"][0]["cells"]
    col = head[j]["column"] if j < len(head) else None
    if not col:
        return None
    where = row["trace"] if "|" in row["trace"] else f"{table['source']}|{row['trace']}"
    return f"{where}|{col}"


def _tokens(text: str) -> list[tuple[bool, float, int]]:
    """(preceded by '<', value, decimals) of every number in ``text``."""
    out = []
    for m in re.finditer(r"(<\s*)?([-−]?\d+(?:\.(\d+))?)", text):
        out.append((bool(m.group(1)), float(m.group(2).replace("−", "-")), len(m.group(3) or "")))
    return out


def shows(shown: str, value: str) -> bool:
    """Whether the displayed text shows the derived value (rounded as displayed, or ``< limit``)."""
    try:
        v = float(value)
    except ValueError:  # text (a printed number as printed): its numbers must all be shown
        want = [x for _, x, _ in _tokens(value)]
        have = [x for _, x, _ in _tokens(shown)]
        return bool(want) and all(any(math.isclose(w, h) for h in have) for w in want)
    for below, x, d in _tokens(shown):
        if below and v < x:
            return True
        if not below and abs(v - x) <= 0.5 * 10**-d * (1 + 1e-9) + 1e-12:
            return True
    return False


class Files:
    """The derived files of a run, each read once as text cells."""

    def __init__(self, root: Path, sources: dict) -> None:
        self.root, self.src = Path(root), sources["src"]
        self._cache: dict[str, pd.DataFrame] = {}

    def path(self, name: str) -> Path:
        p = Path(self.src[name][0])
        return p if p.is_absolute() else self.root / p

    def frame(self, name: str) -> pd.DataFrame:
        if name not in self._cache:
            self._cache[name] = pd.read_csv(self.path(name), dtype=str, keep_default_na=False)
        return self._cache[name]

    def line(self, name: str, line: int) -> dict:
        """The record starting on ``line`` of the CSV file (header = 1; a quoted cell with line breaks
        makes a record span lines), also checked against the file's text at that line."""
        import csv
        import io

        df = self.frame(name)
        text = self.path(name).read_text("utf-8")
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader)
        starts, at = [], reader.line_num
        for _ in reader:
            starts.append(at + 1)
            at = reader.line_num
        assert line in starts, f"{name}: no record starts on line {line}"
        row = df.iloc[starts.index(line)].to_dict()
        first = next(v for v in row.values() if v)
        assert first.split("\n")[0] in text.splitlines()[line - 1], (name, line, first)
        return row

    def json(self, name: str, where: str, cols: str) -> list[str]:
        """What a trace into a JSON file (a JSON pointer and keys, ``#a+b`` = entries of the lists a and
        b, ``+a.k`` = the sum of k over the list a) or into the file itself (``@``, its bytes) names."""
        path = self.path(name)
        if where == "@":
            assert cols == "bytes", (name, cols)
            return [str(path.stat().st_size)]
        node = json.loads(path.read_text("utf-8"))
        for part in filter(None, where.split("/")):
            node = node[int(part)] if isinstance(node, list) else node[part]
        if cols.startswith("#"):
            return [str(sum(len(node[k]) for k in cols[1:].split("+")))]
        if cols.startswith("+"):
            key, field = cols[1:].split(".")
            return [str(sum(e.get(field) or 0 for e in node[key]))]  # an entry without it: 0
        return [str(node[c]) for c in cols.split(",") if node[c] is not None]

    def count(self, name: str, flt: str) -> int:
        df = self.frame(name)
        mask = pd.Series(True, index=df.index)
        for cond in filter(None, flt.split("&")):
            if "!=" in cond:
                k, v = cond.split("!=", 1)
                mask &= df[k] != v
            else:
                k, v = cond.split("=", 1)
                mask &= df[k] == v
        return int(mask.sum())


def follow(trace: str, shown: str, files: Files) -> list[str]:
    """Follow one trace; the derived values it names (checked to be shown), as text."""
    name, where, cols = trace.split("|")
    assert name in files.src, f"{trace}: source {name!r} not among the report's trace sources"
    if where == "@" or where.startswith("/"):
        values = files.json(name, where, cols)
        assert values, trace
        for v in values:
            assert shows(shown, v), f"{trace}: shown {shown!r} does not show {v!r}"
        return values
    if cols == "#":
        n = files.count(name, where)
        assert shown.strip() == str(n), (trace, shown, n)
        return [str(n)]
    row = files.line(name, int(where))
    values = [row[c] for c in cols.split(",")]
    checked = [v for v in values if v != ""]
    assert checked, (trace, shown, values)
    for v in checked:
        assert shows(shown, v), f"{trace}: shown {shown!r} does not show {v!r} (row {row})"
    return values


# Tables whose numbers carry no trace (none since issue 14 traced the provenance and qualitative tables).
UNTRACED: tuple[str, ...] = ()


def check_report(html: str, root: Path) -> tuple[dict, set]:
    """Every number of every table carries a trace that leads to a derived row (or a count of rows, or a
    manifest's entry, or the size of an input file) showing it, and every other cell that carries a
    trace ("5 cases, 7 segments") leads to values it shows too. Returns ({table: cells checked}, the
    untraced tables that hold numbers: those :data:`UNTRACED` names). The trace sources name a rule, a
    function and config keys."""
    tables, sources = parse(html)
    assert sources and sources["src"], "the report carries no trace sources"
    for name, (_file, rule, function) in sources["src"].items():
        assert rule and function and rule in sources["rules"], name
        assert all(0 <= i < len(sources["keys"]) for i in sources["rules"][rule]), rule
    files = Files(root, sources)
    checked: dict[str, int] = {}
    untraced: set[str] = set()
    for t in tables:
        name = t["id"] or t["cls"] or "?"
        for row in t["rows"]:
            if row["cls"] == "section":
                continue
            for j, cell in enumerate(row["cells"]):
                if cell["tag"] != "td":
                    continue
                number = is_number(cell["text"].strip())
                if number and UNTRACED and name.startswith(UNTRACED):
                    untraced.add(name)
                    continue
                trace = cell_trace(t, row, j)
                if not number and not (trace and any(ch.isdigit() for ch in cell["text"])):
                    continue
                assert trace, f"table {name}: number {cell['text']!r} (column {j}) has no trace"
                follow(trace, cell["text"].strip(), files)
                checked[name] = checked.get(name, 0) + 1
    return checked, untraced
