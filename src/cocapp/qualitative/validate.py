"""Validation of coded qualitative data and construction of the canonical tables.

All problems are collected and raised together in one :class:`QualitativeValidationError`, each
naming the file and element (``segments.csv row 12: code 'x' is not in the codebook (codebook.csv)``,
``project.qde: PlainTextSelection guid=... endPosition 9999 beyond text length 812 of source 'S1'``).

Checks
------
codebook
    every code has a name and a theme; code names are unique (segments refer to codes by name).
cases
    every case has an id, a configured site and a participant group; ids are unique; when interview
    counts are given, a site x group never has more cases than interviews.
segments
    source, case and code present; the code is in the codebook and its theme (if given) agrees with
    the codebook; the case is in the case table and the site / participant group (if given) agree with
    it; offsets are integers with ``0 <= start < end``, within the source text when the format stores
    it (REFI-QDA), and ``len(text) == end - start`` otherwise; two segments of the same source coded
    with the same code do not overlap (that would count the same words twice); and where segments of
    one source overlap, their texts agree on the shared characters.
"""

from __future__ import annotations

import pandas as pd

from cocapp.qualitative.io import SEGMENT_INPUT_COLUMNS, QualInput

__all__ = [
    "CANONICAL_SEGMENT_COLUMNS",
    "QualitativeValidationError",
    "canonical_tables",
    "validate_cases",
    "validate_codebook",
]

# The canonical segment table has exactly the columns every reader may produce.
CANONICAL_SEGMENT_COLUMNS = list(SEGMENT_INPUT_COLUMNS)


class QualitativeValidationError(ValueError):
    """Coded qualitative data are invalid; the message lists every problem with file and element."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__(f"{len(problems)} problem(s) in the qualitative data:\n  " + "\n  ".join(problems))


def _blank(v: object) -> bool:
    return v is None or (not isinstance(v, str) and pd.isna(v)) or (isinstance(v, str) and not v.strip())


def _s(v: object) -> str:
    return "" if _blank(v) else str(v).strip()


def validate_codebook(codebook: pd.DataFrame, source: str) -> tuple[pd.DataFrame, list[str]]:
    """Check the codebook; return (codebook with ``code_path`` filled, problems)."""
    problems: list[str] = []
    cb = codebook.copy()
    if "_where" not in cb.columns:
        cb["_where"] = [f"{source} row {i}" for i in range(1, len(cb) + 1)]
    if "code_path" not in cb.columns:
        cb["code_path"] = pd.NA
    cb["code"] = cb["code"].map(_s)
    cb["theme"] = cb["theme"].map(_s)
    cb["code_path"] = [
        _s(p) if not _blank(p) else (t if c == t else f"{t}/{c}")
        for p, c, t in zip(cb["code_path"], cb["code"], cb["theme"], strict=True)
    ]
    seen: dict[str, str] = {}
    for rec in cb.to_dict("records"):
        code, theme, path = rec["code"], rec["theme"], rec["code_path"]
        if not code or not theme:
            problems.append(
                f"{rec['_where']}: code and theme must both be given (code {code!r}, theme {theme!r})"
            )
            continue
        if path in seen:
            what = f"code {code!r}" if path == code or path == f"{theme}/{code}" else f"code path {path!r}"
            problems.append(f"{rec['_where']}: {what} appears twice in the codebook (also {seen[path]})")
        seen[path] = rec["_where"]
    return cb, problems


def validate_cases(
    cases: pd.DataFrame, sites: list[str], source: str, interviews: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Check the case table against the configured sites (and interview counts when given)."""
    problems: list[str] = []
    cs = cases.copy()
    if "_where" not in cs.columns:
        cs["_where"] = [f"{source} row {i}" for i in range(1, len(cs) + 1)]
    for col in ("site", "participant_group"):
        if col not in cs.columns:
            problems.append(
                f"{source}: cases have no {col!r} attribute (a column, or a case Variable in .qdpx)"
            )
            cs[col] = pd.NA
    seen: dict[str, str] = {}
    for rec in cs.to_dict("records"):
        cid, site, group = _s(rec["case_id"]), _s(rec["site"]), _s(rec["participant_group"])
        if not cid:
            problems.append(f"{rec['_where']}: case_id is empty")
            continue
        if cid in seen:
            problems.append(
                f"{rec['_where']}: case {cid!r} appears twice in the case table (also {seen[cid]})"
            )
        seen[cid] = rec["_where"]
        if site not in sites:
            problems.append(f"{rec['_where']}: case {cid!r}: site {site!r} is not a configured site {sites}")
        if not group:
            problems.append(f"{rec['_where']}: case {cid!r}: participant_group is empty")
    for col in ("case_id", "site", "participant_group"):
        cs[col] = cs[col].map(_s)
    if interviews is not None and not problems:
        n_cases = cs.groupby(["site", "participant_group"]).size()
        ceiling = {
            (r["site"], r["participant_group"]): int(r["n_interviewed"])
            for r in interviews.to_dict("records")
        }
        for (site, group), n in n_cases.items():
            if (site, group) in ceiling and n > ceiling[(site, group)]:
                problems.append(
                    f"{source}: {n} cases of site {site!r}, participant_group {group!r}, but only "
                    f"{ceiling[(site, group)]} interviews are recorded for them"
                )
    return cs, problems


def _offset(value: object) -> int | None | str:
    """Parse an offset: int, None when blank, or the offending text."""
    if _blank(value):
        return None
    text = str(value).strip()
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f == int(f) else text


def canonical_tables(
    inp: QualInput,
    cases: pd.DataFrame,
    codebook: pd.DataFrame,
    sites: list[str],
    *,
    cases_source: str = "cases",
    codebook_source: str = "codebook",
    interviews: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate segments, cases and codebook together; return the canonical (segments, cases, codebook).

    Segments are completed from the codebook (``theme``, ``code_path``) and case table (``site``,
    ``participant_group``); ``source_label`` defaults to ``source_id``. For REFI-QDA input the text is
    cut from the source (``source[start:end]``). Rows are sorted by site (config order), case, source,
    start, end, theme and code (codebook order) so that the same data give the same file whatever the
    input format or row order. Raises :class:`QualitativeValidationError` listing every problem.
    """
    cb, problems = validate_codebook(codebook, codebook_source)
    cs, case_problems = validate_cases(cases, sites, cases_source, interviews)
    problems += case_problems
    check = _SegmentCheck(inp, cb, cs, problems, codebook_source, cases_source)
    out = [row for row in map(check.row, inp.segments.to_dict("records")) if row is not None]
    seg = pd.DataFrame(out, columns=[*CANONICAL_SEGMENT_COLUMNS, "_where"])
    if not problems:
        problems += _overlap_problems(seg)
    if problems:
        raise QualitativeValidationError(problems)
    site_rank = {s: i for i, s in enumerate(sites)}
    return _ordered_segments(seg, site_rank, cb), _ordered_cases(cs, site_rank), _ordered_codebook(cb)


class _SegmentCheck:
    """Segment rows made canonical against the codebook, the case table and the source texts; the
    problems found are appended to ``problems`` (a row's in the order source/case/code, code, case,
    source text, offsets, text)."""

    def __init__(
        self,
        inp: QualInput,
        cb: pd.DataFrame,
        cs: pd.DataFrame,
        problems: list[str],
        codebook_source: str,
        cases_source: str,
    ):
        self.inp = inp
        self.problems = problems
        self.code_rec = _CodeIndex(cb)
        self.case_rec = {r["case_id"]: r for r in cs.to_dict("records") if r["case_id"]}
        self.fstart, self.fend = inp.fields.get("start", "start"), inp.fields.get("end", "end")
        self.code_file = f" ({codebook_source})"
        self.case_file = f" ({cases_source})"

    def row(self, rec: dict) -> dict | None:
        """The canonical row of one segment as read, or ``None`` when its source, case or code is empty."""
        where = rec["_where"]
        row = {c: rec.get(c, pd.NA) for c in CANONICAL_SEGMENT_COLUMNS}
        if self.empty_keys(rec, where):
            return None
        code, cid = _s(rec["code"]), _s(rec["case_id"])
        row["source_id"], row["code"], row["case_id"] = _s(rec["source_id"]), code, cid
        self.code(rec, row, where)
        self.case(rec, row, where)
        self.offsets(rec, row, where)
        if _blank(row["source_label"]):
            row["source_label"] = row["source_id"]
        row["_where"] = where
        return row

    def empty_keys(self, rec: dict, where: str) -> bool:
        """Whether the segment's source, case or code is empty (each reported)."""
        bad = False
        for col in ("source_id", "case_id", "code"):
            if _blank(rec.get(col)):
                if col == "case_id" and self.inp.kind == "qdpx":
                    self.problems.append(
                        f"{where}: source {_s(rec.get('source_id'))!r} is in no Case (SourceRef or "
                        "SelectionRef); give qualitative.cases keyed by source (a source_id column)"
                    )
                else:
                    self.problems.append(f"{where}: {col} is empty")
                bad = True
        return bad

    def code(self, rec: dict, row: dict, where: str) -> None:
        """The row's ``theme`` and ``code_path`` from the codebook (a theme given must agree with it)."""
        code = row["code"]
        found = self.code_rec.lookup(code, rec.get("theme"), rec.get("code_path"))
        if isinstance(found, str):
            self.problems.append(f"{where}: {found}{self.code_file}")
            return
        theme = found["theme"]
        if not _blank(rec.get("theme")) and _s(rec["theme"]) != theme:
            self.problems.append(
                f"{where}: theme {_s(rec['theme'])!r} of code {code!r} differs from the codebook's "
                f"theme {theme!r}{self.code_file}"
            )
        row["theme"], row["code_path"] = theme, found["code_path"]

    def case(self, rec: dict, row: dict, where: str) -> None:
        """The row's ``site`` and ``participant_group`` from the case table (those given must agree)."""
        cid = row["case_id"]
        if cid not in self.case_rec:
            self.problems.append(f"{where}: case {cid!r} is not in the case table{self.case_file}")
            return
        for col in ("site", "participant_group"):
            given, known = _s(rec.get(col)), self.case_rec[cid][col]
            if given and given != known:
                self.problems.append(
                    f"{where}: {col} {given!r} differs from case {cid!r}'s {col} {known!r}{self.case_file}"
                )
            row[col] = known

    def offsets(self, rec: dict, row: dict, where: str) -> None:
        """The row's ``start``, ``end`` (empty unless valid) and ``text`` (cut from the source text when
        the format stores it, else checked against the offsets)."""
        start, end = _offset(rec.get("start")), _offset(rec.get("end"))
        source_text = self.inp.sources.get(row["source_id"]) if self.inp.sources is not None else None
        if self.inp.sources is not None and source_text is None:
            self.problems.append(f"{where}: source {row['source_id']!r} has no text")
        problem = self.offset_problem(start, end, source_text, row["source_id"], where)
        if problem is not None:
            self.problems.append(problem)
        offsets_ok = problem is None and start is not None
        if source_text is not None and offsets_ok:
            row["text"] = source_text[start:end]
        elif self.inp.sources is not None:
            pass  # text is cut from the source; the offset problem is already reported
        elif _blank(rec.get("text")):
            self.problems.append(f"{where}: text is empty")
        elif offsets_ok and len(str(rec["text"])) != end - start:
            self.problems.append(
                f"{where}: text has {len(str(rec['text']))} characters but {self.fend} - {self.fstart} = "
                f"{end - start}"
            )
            offsets_ok = False
        row["start"] = start if offsets_ok else pd.NA
        row["end"] = end if offsets_ok else pd.NA

    def offset_problem(
        self, start: int | None | str, end: int | None | str, source_text: str | None, source: str, where: str
    ) -> str | None:
        """The problem with a segment's parsed offsets, or ``None`` (none given is no problem when the
        format stores no source text)."""
        fstart, fend = self.fstart, self.fend
        if isinstance(start, str):
            return f"{where}: {fstart} {start!r} is not a whole number"
        if isinstance(end, str):
            return f"{where}: {fend} {end!r} is not a whole number"
        if (start is None) != (end is None):
            return f"{where}: {fstart} and {fend} must both be given or both be empty"
        if start is None:
            return f"{where}: {fstart} and {fend} are required" if self.inp.sources is not None else None
        if start < 0:
            return f"{where}: {fstart} {start} is negative"
        if start >= end:
            return f"{where}: {fstart} {start} is not before {fend} {end}"
        if source_text is not None and end > len(source_text):
            return f"{where}: {fend} {end} beyond text length {len(source_text)} of source {source!r}"
        return None


def _ordered_segments(seg: pd.DataFrame, site_rank: dict[str, int], cb: pd.DataFrame) -> pd.DataFrame:
    """The canonical segment table: rows sorted by site (config order), case, source, start, end, theme
    and code (codebook order) and coder; the canonical columns in their dtypes."""
    code_rank = {c: i for i, c in enumerate(cb["code_path"])}
    theme_rank = {t: i for i, t in enumerate(dict.fromkeys(cb["theme"]))}
    seg = seg.assign(
        _site=seg["site"].map(site_rank),
        _theme=seg["theme"].map(theme_rank),
        _code=seg["code_path"].map(code_rank),
        _start=pd.to_numeric(seg["start"]),
        _end=pd.to_numeric(seg["end"]),
    )
    seg = seg.sort_values(
        ["_site", "case_id", "source_id", "_start", "_end", "_theme", "_code", "coder"],
        kind="stable",
        na_position="last",
    )
    seg = seg[CANONICAL_SEGMENT_COLUMNS].reset_index(drop=True)
    for col in CANONICAL_SEGMENT_COLUMNS:
        if col in ("start", "end"):
            seg[col] = seg[col].astype("Int64")
        else:  # one text dtype whatever the reader produced (an all-empty column must not become float)
            seg[col] = seg[col].map(lambda v: pd.NA if _blank(v) else str(v)).astype("string")
    return seg


def _ordered_cases(cs: pd.DataFrame, site_rank: dict[str, int]) -> pd.DataFrame:
    """The canonical case table: rows by site (config order); ``case_id``, ``site``,
    ``participant_group``, then the other attributes."""
    cs = cs.assign(_site=cs["site"].map(site_rank)).sort_values("_site", kind="stable")
    case_cols = ["case_id", "site", "participant_group"] + [
        c for c in cs.columns if c not in {"case_id", "site", "participant_group", "_where", "_site"}
    ]
    return cs[case_cols].reset_index(drop=True)


def _ordered_codebook(cb: pd.DataFrame) -> pd.DataFrame:
    """The canonical codebook: ``code``, ``theme``, ``code_path``, ``definition``, then the other columns."""
    cb_cols = ["code", "theme", "code_path", "definition"] + [
        c for c in cb.columns if c not in {"code", "theme", "code_path", "definition", "_where"}
    ]
    return cb[cb_cols].reset_index(drop=True)


class _CodeIndex:
    """Codebook rows by code path, by (theme, code) and by code name (when the name is unique)."""

    def __init__(self, cb: pd.DataFrame):
        recs = [r for r in cb.to_dict("records") if r["code"]]
        self.by_path = {r["code_path"]: r for r in recs}
        self.by_theme_code = {(r["theme"], r["code"]): r for r in recs}
        self.by_name: dict[str, list[dict]] = {}
        for r in recs:
            self.by_name.setdefault(r["code"], []).append(r)

    def lookup(self, code: str, theme: object, path: object) -> dict | str:
        """The codebook row of a segment's code, or the problem (text) when there is none or several."""
        if not _blank(path) and _s(path) in self.by_path:
            return self.by_path[_s(path)]
        named = self.by_name.get(code, [])
        if not named:
            return f"code {code!r} is not in the codebook"
        if len(named) == 1:
            return named[0]
        if not _blank(theme) and (_s(theme), code) in self.by_theme_code:
            return self.by_theme_code[(_s(theme), code)]
        paths = [r["code_path"] for r in named]
        return f"code {code!r} is ambiguous: the codebook has it at {paths}; give code_path"


def _overlap_problems(seg: pd.DataFrame) -> list[str]:
    """Same-code overlaps within a source (per coder), and disagreeing text where segments overlap.

    Interval-based: segments are sorted by start and compared with the running coverage, so memory
    grows with the text covered (one copy), not with a dictionary entry per coded character. Two
    coders coding the same passage with the same code is not an overlap (that is what an inter-coder
    comparison needs).
    """
    problems: list[str] = []
    has = seg[seg["start"].notna()].copy()
    if has.empty:
        return problems
    has["_coder"] = has["coder"].map(_s)
    for (source, _path, _coder), part in has.groupby(["source_id", "code_path", "_coder"], sort=False):
        part = part.sort_values(["start", "end"], kind="stable")
        prev = None
        for rec in part.to_dict("records"):
            if prev is not None and rec["start"] < prev["end"]:
                problems.append(
                    f"{rec['_where']}: overlaps {prev['_where']} (characters {rec['start']}-{prev['end']} of "
                    f"source {source!r} coded {rec['code']!r} twice"
                    + (f" by {rec['_coder']!r})" if rec["_coder"] else ")")
                )
            if prev is None or rec["end"] > prev["end"]:
                prev = rec
    for source, part in has.groupby("source_id", sort=False):
        # merged blocks of covered text: (start, text, where of each character run)
        block_start, block_text, block_where = None, "", []  # block_where: list of (end, where)
        order = sorted(
            part[["start", "end", "text", "_where"]].itertuples(index=False),
            key=lambda r: (int(r[0]), int(r[1])),
        )
        for start, end, text, where in order:
            start, end, text = int(start), int(end), str(text)
            if block_start is None or start >= block_start + len(block_text):
                block_start, block_text, block_where = start, text, [(start + len(text), where)]
                continue
            shared = min(end, block_start + len(block_text)) - start
            known = block_text[start - block_start : start - block_start + shared]
            mine = text[:shared]
            if known != mine:
                i = next(k for k in range(shared) if known[k] != mine[k])
                at = start + i
                other = next(w for e, w in block_where if e > at)
                problems.append(
                    f"{where}: text disagrees with {other} at character {at} of source {source!r} "
                    f"({mine[i]!r} vs {known[i]!r}); overlapping segments must quote the same text"
                )
            if end > block_start + len(block_text):
                block_text += text[block_start + len(block_text) - start :]
                block_where.append((end, where))
    return problems
