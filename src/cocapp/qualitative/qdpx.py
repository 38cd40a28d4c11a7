"""Reader of REFI-QDA projects (``.qdpx``) as real software writes them.

Tested on exports of NVivo (Mac 15), qc (1.2, 1.3) and ATLAS.ti (8.4), and on constructed projects
imitating NVivo for Windows. What is read:

``Users/User``
    the coder of each coding (``Coding@creatingUser``, else the selection's): the coder is a dimension
    of the segments, so the same passage coded by two coders gives two segments.
``CodeBook/Codes/Code``
    codes identified by ``guid``; their path (names of the chain, joined by ``/``) is the code's key,
    so the same name under two parents (common in NVivo) gives two codes. The theme is the ancestor at
    depth ``theme_level`` (1 = the top-level code); a code above that depth is its own theme.
``Sources/TextSource``
    text from ``PlainTextContent`` or ``plainTextPath`` (``internal://``, ``relative://`` or a bare
    path, resolved by :class:`cocapp.qualitative.archive.SafeArchive`); a TextSource without ``name``
    (qc) is named after its file. ``PlainTextSelection`` offsets: see *offset unit* below.
``Sources/PDFSource/Representation``
    the text representation of a PDF (``plainTextPath``) and its ``PlainTextSelection`` codings, read
    like a text source named after the PDF.
``Cases/Case``
    ``SourceRef`` (all selections of a source) and ``SelectionRef`` (one selection) place codings in
    cases; case and source ``VariableValue`` give attributes, renamed to ``site`` /
    ``participant_group`` by ``qualitative.variables``. A project without ``Cases`` (none of the real
    exports has one) makes each source a case, with a warning.
``Notes/Note``
    memos: name, author, dates, text (kept for the analyst workbook).

What cannot be used is listed in the import report (:attr:`QualInput.report`), never dropped
silently: picture, audio, video and PDF-region selections and their codings, transcripts,
whole-source codings, codings of a case (NVivo case coding), sets and links (counted).

Offset unit
-----------
REFI-QDA 1.5 counts offsets in Unicode code points; NVivo for Windows writes UTF-16 code units
(a character outside the Basic Multilingual Plane, such as an emoji, counts twice). The unit is taken
from ``qualitative.offset_unit`` (``auto``, ``code_points``, ``utf16``); ``auto`` starts from the
exporting software (``Project@origin`` naming NVivo -> UTF-16) and checks the choice against the
text wherever the two units differ (sources with such characters): a selection whose ``name`` quotes
its text (ATLAS.ti, NVivo) must match, and selection bounds should fall on word boundaries. If the
other unit fits clearly better, it is used and the report says so. UTF-16 offsets are converted to
code points; one that falls inside a surrogate pair is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd

from cocapp.qualitative.archive import ArchiveLimits, SafeArchive

__all__ = ["OFFSET_UNITS", "QdpxOptions", "read_qdpx", "utf16_to_code_points"]

QDA_NAMESPACE_PREFIX = "urn:QDA-XML:project:"
OFFSET_UNITS = ("auto", "code_points", "utf16")
_MEDIA_SELECTIONS = (
    "PictureSelection",
    "AudioSelection",
    "VideoSelection",
    "PDFSelection",
    "TranscriptSelection",
)
_MEDIA_SOURCES = ("PictureSource", "AudioSource", "VideoSource", "PDFSource")
# selection names that are labels, not quotations
_LABEL_NAME = re.compile(r"^(line:\d+|quotation \d+:\d+|\d+:\d+.*|.*\d\d:\d\d\.\d\d.*)$", re.I)


@dataclass(frozen=True)
class QdpxOptions:
    """How to read a project: theme level, offset unit, variable names for site/group, limits."""

    theme_level: int = 1
    offset_unit: str = "auto"
    variables: dict = field(default_factory=dict)  # canonical column -> project variable name
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)


def _error(message: str):
    from cocapp.qualitative.io import QualitativeInputError

    return QualitativeInputError(message)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _Cases(NamedTuple):
    """A project's Cases: case rows, case of each source guid, case of each selection guid, guids of cases."""

    rows: list[dict]
    of_source: dict[str, str]
    of_selection: dict[str, str]
    guids: set[str]


class _Reader:
    """One pass over a parsed project: collects rows, report lines and problems."""

    def __init__(
        self, path: Path, archive: SafeArchive | None, root: ET.Element, qde_name: str, opts: QdpxOptions
    ):
        self.path, self.archive, self.root, self.qde, self.opts = path, archive, root, qde_name, opts
        ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        self.ns = {"q": ns}
        self.problems: list[str] = []
        self.report: list[dict] = []
        self.origin = root.get("origin") or ""

    # helpers
    def find(self, elem, path):
        return elem.find(path, self.ns)

    def iterfind(self, elem, path):
        return elem.iterfind(path, self.ns)

    def note(self, kind: str, element: str, where: str, detail: str) -> None:
        self.report.append({"kind": kind, "element": element, "where": where, "detail": detail})

    # -- users, variables, codes -----------------------------------------------------------------
    def users(self) -> dict[str, str]:
        return {
            u.get("guid"): (u.get("name") or u.get("id") or "")
            for u in self.iterfind(self.root, "q:Users/q:User")
        }

    def variables(self) -> dict[str, str]:
        return {
            v.get("guid"): (v.get("name") or "").strip()
            for v in self.iterfind(self.root, "q:Variables/q:Variable")
        }

    def codebook(self) -> tuple[pd.DataFrame, dict[str, dict]]:
        """Codes by guid with name, path, theme (ancestor at ``theme_level``), depth and definition."""
        rows: list[dict] = []
        level = max(int(self.opts.theme_level), 1)

        def walk(elem, chain: list[str]) -> None:
            for code in self.iterfind(elem, "q:Code"):
                guid, name = code.get("guid"), (code.get("name") or "").strip()
                if not guid or not name:
                    self.problems.append(
                        f"{self.qde}: Code guid={guid} name={name!r}: a Code needs guid and name"
                    )
                    continue
                path = [*chain, name]
                desc = self.find(code, "q:Description")
                rows.append(
                    {
                        "code": name,
                        "theme": path[min(level, len(path)) - 1],
                        "code_path": "/".join(path),
                        "definition": (desc.text or "").strip() if desc is not None and desc.text else pd.NA,
                        "_where": f"{self.qde}: Code guid={guid}",
                        "_guid": guid,
                        "_depth": len(path),
                    }
                )
                walk(code, path)

        book = self.find(self.root, "q:CodeBook/q:Codes")
        if book is not None:
            walk(book, [])
        seen: dict[str, str] = {}
        for r in rows:
            if r["code_path"] in seen:
                self.problems.append(
                    f"{r['_where']}: code path {r['code_path']!r} is also that of {seen[r['code_path']]}; "
                    "two codes with the same name under the same parent cannot be told apart"
                )
            seen[r["code_path"]] = r["_where"]
        by_guid = {r["_guid"]: r for r in rows}
        deep = sum(r["_depth"] < level for r in rows)
        if deep:
            self.note(
                "info",
                "Code",
                self.qde,
                f"{deep} code(s) above theme level {level} are their own theme",
            )
        table = pd.DataFrame(rows, columns=["code", "theme", "code_path", "definition", "_where"])
        return table, by_guid

    def values(self, elem, variables: dict[str, str], where: str) -> dict:
        out: dict = {}
        for vv in self.iterfind(elem, "q:VariableValue"):
            ref = self.find(vv, "q:VariableRef")
            vname = variables.get(ref.get("targetGUID")) if ref is not None else None
            if not vname:
                self.problems.append(f"{where}: VariableValue refers to no Variable")
                continue
            value = next((c.text for c in vv if _local(c.tag).endswith("Value") and c.text is not None), None)
            out[vname] = value.strip() if value is not None else pd.NA
        return self.rename(out)

    def rename(self, values: dict) -> dict:
        """Project variable names -> canonical columns per ``qualitative.variables``."""
        out = dict(values)
        for canonical, vname in (self.opts.variables or {}).items():
            if vname in values and canonical != vname:
                out[canonical] = out.pop(vname)
        return out

    def cases(self, variables) -> _Cases:
        """Case rows, case of each source guid, case of each selection guid, guids of cases."""
        rows, of_source, of_selection, guids = [], {}, {}, set()
        for case in self.iterfind(self.root, "q:Cases/q:Case"):
            cguid, cname = case.get("guid"), (case.get("name") or "").strip()
            guids.add(cguid or "")
            where = f"{self.qde}: Case guid={cguid}"
            rows.append({"case_id": cname, "_where": where, **self.values(case, variables, where)})
            for tag, target in (("q:SourceRef", of_source), ("q:SelectionRef", of_selection)):
                for ref in self.iterfind(case, tag):
                    g = ref.get("targetGUID")
                    if g in target and target[g] != cname:
                        what = "source" if tag == "q:SourceRef" else "selection"
                        self.problems.append(
                            f"{where}: {tag[2:]} targetGUID={g} already belongs to case {target[g]!r}; "
                            f"a {what} must belong to one case"
                        )
                    target[g] = cname
        return _Cases(rows, of_source, of_selection, guids)

    # -- source texts -----------------------------------------------------------------------------
    def text_of(self, elem, where: str) -> str | None:
        content = self.find(elem, "q:PlainTextContent")
        if content is not None:
            return content.text or ""
        ref = elem.get("plainTextPath")
        if not ref:
            self.problems.append(f"{where}: has neither PlainTextContent nor plainTextPath")
            return None
        if self.archive is None:
            self.problems.append(f"{where}: plainTextPath {ref} cannot be read (no archive)")
            return None
        data = self.archive.read_ref(ref)
        if isinstance(data, str):
            self.problems.append(f"{where}: plainTextPath {ref}: {data}")
            return None
        try:
            if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 with its byte-order mark
                return data.decode("utf-16")
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            self.problems.append(f"{where}: plainTextPath {ref} is not UTF-8 text ({err})")
            return None

    def text_sources(self) -> list[tuple[ET.Element, str, str, str]]:
        """(element holding selections, source guid, name, where) for TextSources and PDF representations."""
        out = []
        for src in self.iterfind(self.root, "q:Sources/q:TextSource"):
            guid = src.get("guid")
            name = (src.get("name") or "").strip()
            if not name:
                ref = src.get("plainTextPath") or ""
                name = Path(ref.split("://", 1)[-1]).name if ref else (guid or "")
            out.append((src, guid, name, f"{self.qde}: TextSource guid={guid} name={name!r}"))
        for pdf in self.iterfind(self.root, "q:Sources/q:PDFSource"):
            for rep in self.iterfind(pdf, "q:Representation"):
                name = (pdf.get("name") or "").strip() or (pdf.get("guid") or "")
                out.append(
                    (
                        rep,
                        pdf.get("guid"),
                        name,
                        f"{self.qde}: PDFSource guid={pdf.get('guid')} name={name!r} Representation",
                    )
                )
        return out

    # -- what is not used -----------------------------------------------------------------------------
    def unusable(self, case_guids: set[str]) -> None:
        q = self.ns["q"]
        for src in self.iterfind(self.root, "q:Sources/*"):
            kind = _local(src.tag)
            sname = src.get("name") or src.get("plainTextPath") or src.get("guid")
            for coding in src.findall(f"{{{q}}}Coding"):
                self.note(
                    "not used",
                    f"{kind}/Coding",
                    f"{self.qde}: {kind} name={sname!r} Coding guid={coding.get('guid')}",
                    "whole-source coding (no passage): not a coded segment",
                )
            if kind in _MEDIA_SOURCES[:3]:
                for tr in src.iter(f"{{{q}}}Transcript"):
                    n_sel = len(tr.findall(f"{{{q}}}TranscriptSelection"))
                    self.note(
                        "not used",
                        "Transcript",
                        f"{self.qde}: {kind} name={sname!r} Transcript guid={tr.get('guid')}",
                        f"transcript of a media source not read ({n_sel} TranscriptSelection)",
                    )
            for sel in src.iter():
                tag = _local(sel.tag)
                if tag not in _MEDIA_SELECTIONS:
                    continue
                n = len(sel.findall(f"{{{q}}}Coding"))
                self.note(
                    "not used",
                    tag,
                    f"{self.qde}: {kind} name={sname!r} {tag} guid={sel.get('guid')}",
                    f"{tag} ({n} coding(s)): only text selections are analysed",
                )
        n_sets = len(list(self.iterfind(self.root, "q:Sets/q:Set")))
        n_links = len(list(self.iterfind(self.root, "q:Links/q:Link")))
        n_graphs = len(list(self.iterfind(self.root, "q:Graphs/q:Graph")))
        for n, what in ((n_sets, "Set"), (n_links, "Link"), (n_graphs, "Graph")):
            if n:
                self.note("not used", what, self.qde, f"{n} {what}(s) in the project: not analysed")

    def notes(self, users: dict[str, str]) -> pd.DataFrame:
        rows = []
        for note in self.iterfind(self.root, "q:Notes/q:Note"):
            desc = self.find(note, "q:Description")
            content = self.find(note, "q:PlainTextContent")
            text = content.text if content is not None and content.text else None
            if text is None and note.get("plainTextPath"):
                text = self.text_of(note, f"{self.qde}: Note guid={note.get('guid')}")
            rows.append(
                {
                    "memo": (note.get("name") or "").strip(),
                    "author": users.get(note.get("creatingUser"), note.get("creatingUser") or ""),
                    "created": note.get("creationDateTime") or "",
                    "modified": note.get("modifiedDateTime") or "",
                    "description": (desc.text or "").strip() if desc is not None and desc.text else "",
                    "text": (text or "").strip(),
                }
            )
        if rows:
            self.note("info", "Note", self.qde, f"{len(rows)} Note(s) (memos) read for the analyst workbook")
        return pd.DataFrame(rows, columns=["memo", "author", "created", "modified", "description", "text"])

    # -- selections and segments ------------------------------------------------------------------------
    def text_selections(self, variables: dict[str, str]) -> tuple[dict[str, str], list[dict], list[dict]]:
        """The selections of every text source: texts by source name, source rows (name, attributes) and
        the ``PlainTextSelection`` elements with their source (``sel``, ``source``, ``sguid``)."""
        sources: dict[str, str] = {}
        source_rows: list[dict] = []
        raw: list[dict] = []  # selections with offsets as written
        for elem, sguid, sname, swhere in self.text_sources():
            text = self.text_of(elem, swhere)
            if text is None:
                continue
            if sname in sources:
                self.problems.append(
                    f"{swhere}: a second source has the same name; source names must be unique"
                )
                continue
            sources[sname] = text
            source_rows.append(
                {"source_id": sname, "_guid": sguid, "_where": swhere, **self.values(elem, variables, swhere)}
            )
            for sel in self.iterfind(elem, "q:PlainTextSelection"):
                raw.append({"sel": sel, "source": sname, "sguid": sguid})
        return sources, source_rows, raw

    def segment_rows(
        self,
        raw: list[dict],
        sources: dict[str, str],
        unit: str,
        codes: dict[str, dict],
        users: dict[str, str],
        cases: _Cases,
    ) -> list[dict]:
        """Segment rows of the selections ``raw``, in their order; then the notes of :meth:`case_notes`."""
        rows: list[dict] = []
        n_case_codings = 0
        no_case: set[str] = set()
        for item in raw:
            case_id = _case_of(item, cases)
            if case_id is None:
                no_case.add(item["source"])
            sel_rows, n = self.selection_rows(
                item, case_id, sources[item["source"]], unit, codes, users, cases.guids
            )
            rows.extend(sel_rows)
            n_case_codings += n
        self.case_notes(no_case, n_case_codings)
        return rows

    def selection_rows(
        self,
        item: dict,
        case_id: str | None,
        text: str,
        unit: str,
        codes: dict[str, dict],
        users: dict[str, str],
        case_guids: set[str],
    ) -> tuple[list[dict], int]:
        """One ``PlainTextSelection``'s codings as segment rows (one per Coding of a code, offsets in code
        points), and the number of its codings of a Case (not segments)."""
        sel = item["sel"]
        where = f"{self.qde}: PlainTextSelection guid={sel.get('guid')}"
        start, end = sel.get("startPosition"), sel.get("endPosition")
        if unit == "utf16":
            start, end = _convert(text, start, end, where, self.problems)
        desc = self.find(sel, "q:Description")
        memo = desc.text.strip() if desc is not None and desc.text else pd.NA
        codings = list(self.iterfind(sel, "q:Coding"))
        rows, n_case_codings = [], 0
        for coding in codings:
            ref = self.find(coding, "q:CodeRef")
            target = ref.get("targetGUID") if ref is not None else None
            if target in case_guids:
                n_case_codings += 1
                continue
            if target not in codes:
                self.problems.append(
                    f"{where}: CodeRef targetGUID={target} refers to no Code in the CodeBook"
                )
                continue
            user = coding.get("creatingUser") or sel.get("creatingUser")
            coder = users.get(user, pd.NA) if user else pd.NA
            rows.append(_segment_row(item, case_id, codes[target], coder, (start, end), memo, where))
        if not codings:
            self.note("not used", "PlainTextSelection", where, "selection without Coding (a quotation only)")
        return rows, n_case_codings

    def case_notes(self, no_case: set[str], n_case_codings: int) -> None:
        """Report the sources whose selections are in no Case, and the codings of a Case (not used)."""
        for source in sorted(no_case):
            self.note(
                "warning",
                "Cases",
                self.qde,
                f"coded source {source!r} is in no Case (SourceRef or SelectionRef): its segments need a "
                "case "
                "table keyed by source (qualitative.cases with a source_id column)",
            )
        if n_case_codings:
            self.note(
                "not used", "Coding", self.qde, f"{n_case_codings} coding(s) of a Case (NVivo case coding)"
            )

    # -- the tables read ----------------------------------------------------------------------------------
    def sources_as_cases(self, source_rows: list[dict]) -> pd.DataFrame:
        """The case table of a project without Cases: each text source a case, with the source's attributes
        (the report warns)."""
        cases = pd.DataFrame(
            [
                {
                    "case_id": s["source_id"],
                    "_where": s["_where"],
                    **{k: v for k, v in s.items() if not k.startswith("_") and k != "source_id"},
                }
                for s in source_rows
            ]
        )
        self.note(
            "warning",
            "Cases",
            self.qde,
            f"the project has no Cases: each of its {len(source_rows)} text source(s) is taken as a case "
            "(give qualitative.cases, keyed by case_id = source name or with a source_id column, "
            "for attributes)",
        )
        return cases

    def qual_input(
        self,
        seg_rows: list[dict],
        codebook: pd.DataFrame,
        cases: pd.DataFrame | None,
        sources: dict[str, str],
        notes: pd.DataFrame,
        source_rows: list[dict],
    ):
        """The :class:`cocapp.qualitative.io.QualInput` of the project from the rows and tables read."""
        from cocapp.qualitative.io import SEGMENT_INPUT_COLUMNS, QualInput

        seg = pd.DataFrame(seg_rows, columns=[*SEGMENT_INPUT_COLUMNS, "_where", "_name"]).astype("object")
        return QualInput(
            path=str(self.path),
            segments=seg,
            codebook=codebook,
            cases=cases,
            sources=sources,
            kind="qdpx",
            fields={"start": "startPosition", "end": "endPosition"},
            report=self.report,
            notes=notes,
            source_table=pd.DataFrame(source_rows).drop(columns=["_guid"], errors="ignore")
            if source_rows
            else None,
            origin=self.origin,
        )


def _segment_row(item: dict, case_id, code: dict, coder, offsets: tuple, memo, where: str) -> dict:
    """The segment row of one Coding of ``code`` on the selection ``item`` (what REFI-QDA lacks left NA)."""
    return {
        "source_id": item["source"],
        "source_label": pd.NA,
        "case_id": case_id if case_id is not None else pd.NA,
        "site": pd.NA,
        "participant_group": pd.NA,
        "theme": code["theme"],
        "code": code["code"],
        "code_path": code["code_path"],
        "text": pd.NA,
        "start": offsets[0],
        "end": offsets[1],
        "coder": coder,
        "reference": pd.NA,
        "memo": memo,
        "_where": where,
        "_name": item["sel"].get("name"),
    }


def _case_of(item: dict, cases: _Cases) -> str | None:
    """The case of a selection: its SelectionRef's, else its source's; in a project without Cases, the
    source itself (None: in none of the project's Cases)."""
    case_id = cases.of_selection.get(item["sel"].get("guid")) or cases.of_source.get(item["sguid"])
    if case_id is None and not cases.rows:
        case_id = item["source"]
    return case_id


def read_project(path: str | Path, opts: QdpxOptions | None = None):
    """Read a ``.qdpx`` project; return a :class:`cocapp.qualitative.io.QualInput` (see module docstring)."""
    opts = opts or QdpxOptions()
    if opts.offset_unit not in OFFSET_UNITS:
        raise _error(f"key qualitative.offset_unit: {opts.offset_unit!r} is not one of {list(OFFSET_UNITS)}")
    path = Path(path)
    with SafeArchive(path, opts.limits) as archive:
        qde_name, data = archive.project_xml()
        root = parse_xml(path, qde_name, data)
        r = _Reader(path, archive, root, qde_name, opts)
        users = r.users()
        variables = r.variables()
        codebook, codes = r.codebook()
        cases = r.cases(variables)
        sources, source_rows, raw = r.text_selections(variables)
        r.unusable(cases.guids)
        notes = r.notes(users)
        unit, unit_note = choose_offset_unit(r.origin, raw, sources, opts.offset_unit)
        r.note("info", "PlainTextSelection", qde_name, unit_note)
        seg_rows = r.segment_rows(raw, sources, unit, codes, users, cases)
        if r.problems:
            raise _error(f"{path}: invalid REFI-QDA project:\n  " + "\n  ".join(r.problems))
    case_table = None
    if cases.rows:
        case_table = pd.DataFrame(cases.rows)
    elif seg_rows or source_rows:
        case_table = r.sources_as_cases(source_rows)
    return r.qual_input(seg_rows, codebook, case_table, sources, notes, source_rows)


read_qdpx = read_project


def parse_xml(path: Path, member: str, data: bytes) -> ET.Element:
    """The project XML parsed with DTDs (and so entity expansion) refused; must be a REFI-QDA Project."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as err:
        raise _error(
            f"{path}: {member}: refused: the XML declares a DTD or entities ({type(err).__name__}); "
            "REFI-QDA projects have none"
        ) from None
    except ET.ParseError as err:
        raise _error(f"{path}: {member}: not well-formed XML ({err})") from None
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Project" or not ns.startswith(QDA_NAMESPACE_PREFIX):
        raise _error(
            f"{path}: {member}: root element is {root.tag!r}, expected Project in namespace "
            f"{QDA_NAMESPACE_PREFIX}1.0"
        )
    return root


# -- offsets ---------------------------------------------------------------------------------------
def utf16_to_code_points(text: str, offsets: np.ndarray) -> np.ndarray:
    """Code-point indices of UTF-16 code-unit ``offsets`` into ``text``; -1 where an offset falls
    inside a surrogate pair, ``len(text)+k`` style overflow kept as beyond-the-end (> len(text)).

    >>> utf16_to_code_points("a😀b", np.array([0, 1, 3, 4, 2])).tolist()
    [0, 1, 2, 3, -1]
    """
    astral = np.fromiter((ord(c) > 0xFFFF for c in text), dtype=np.int64, count=len(text))
    # UTF-16 position of each code point boundary 0..len(text)
    u16 = np.concatenate([[0], np.cumsum(1 + astral)])
    offsets = np.asarray(offsets, dtype=np.int64)
    idx = np.searchsorted(u16, offsets)
    inside = idx <= len(text)
    exact = np.zeros(len(offsets), dtype=bool)
    exact[inside] = u16[idx[inside]] == offsets[inside]
    over = offsets > u16[-1]
    out = np.where(exact, idx, -1)
    return np.where(over, len(text) + (offsets - u16[-1]), out)


def _int(v) -> int | None:
    try:
        f = float(str(v).strip())
    except (TypeError, ValueError):
        return None
    return int(f) if f == int(f) else None


def _convert(text: str, start, end, where: str, problems: list[str]):
    """UTF-16 start/end converted to code points (left as written when not whole numbers)."""
    s, e = _int(start), _int(end)
    if s is None or e is None:
        return start, end
    cs, ce = utf16_to_code_points(text, np.array([s, e])).tolist()
    if cs < 0 or ce < 0:
        problems.append(
            f"{where}: startPosition {start} / endPosition {end} (UTF-16 code units) fall inside a character "
            "outside the Basic Multilingual Plane"
        )
        return start, end
    return cs, ce


def _is_word_start(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (i == 0 or not text[i - 1].isalnum() or not text[i].isalnum())


def _is_word_end(text: str, i: int) -> bool:
    return 0 < i <= len(text) and (i == len(text) or not text[i].isalnum() or not text[i - 1].isalnum())


def _name_matches(name: str | None, extract: str) -> bool | None:
    """Does a selection's ``name`` quote its text? ``None`` when the name is a label, not a quote."""
    if not name or _LABEL_NAME.match(name.strip()) or len(name.strip()) < 4:
        return None
    clean = name.strip().rstrip("…").rstrip(".").strip()
    squash = lambda s: re.sub(r"\s+", " ", s).strip()  # noqa: E731
    return squash(extract).startswith(squash(clean)[: max(len(squash(clean)), 1)])


def offset_fit(raw: list[dict], sources: dict[str, str], unit: str) -> dict[str, int]:
    """How well offsets read in ``unit`` fit the texts, over selections in sources where the units differ:
    ``n`` selections, ``names`` checkable names, ``name_match``, ``bounds`` on word boundaries, ``bad``
    out of range or inside a character."""
    fit = {"n": 0, "names": 0, "name_match": 0, "bounds": 0, "bad": 0}
    differs = {s: any(ord(c) > 0xFFFF for c in t) for s, t in sources.items()}
    for item in raw:
        text = sources[item["source"]]
        if not differs[item["source"]]:
            continue
        sel = item["sel"]
        s, e = _int(sel.get("startPosition")), _int(sel.get("endPosition"))
        if s is None or e is None:
            continue
        fit["n"] += 1
        if unit == "utf16":
            s, e = utf16_to_code_points(text, np.array([s, e])).tolist()
        if s < 0 or e < 0 or e > len(text) or s >= e:
            fit["bad"] += 1
            continue
        fit["bounds"] += int(_is_word_start(text, s) and _is_word_end(text, e))
        m = _name_matches(sel.get("name"), text[s:e])
        if m is not None:
            fit["names"] += 1
            fit["name_match"] += int(m)
    return fit


def choose_offset_unit(
    origin: str, raw: list[dict], sources: dict[str, str], setting: str
) -> tuple[str, str]:
    """The offset unit to use and a sentence for the import report (see module docstring)."""
    if setting != "auto":
        return setting, f"offsets read as {setting} (qualitative.offset_unit)"
    default = "utf16" if "nvivo" in origin.lower() else "code_points"
    other = "code_points" if default == "utf16" else "utf16"
    fd, fo = offset_fit(raw, sources, default), offset_fit(raw, sources, other)
    why = f"origin {origin!r}" if origin else "no origin given"
    if fd["n"] == 0:
        return default, (
            f"offsets read as {default} ({why}); no source has characters outside the Basic Multilingual "
            "Plane, so both units give the same text"
        )

    def says(f):
        return (
            f"{f['name_match']}/{f['names']} selection names quote the text, {f['bounds']}/{f['n']} bounds "
            f"on word boundaries, {f['bad']} out of range"
        )

    # Names that quote the text decide; without them, the other unit must put clearly more selections
    # on word boundaries (a selection out of range or inside a character counts as not on them). One
    # defective selection does not switch a project's unit.
    if fo["name_match"] or fd["name_match"]:
        clearly_better = fo["name_match"] > fd["name_match"]
    else:
        clearly_better = fo["bounds"] >= fd["bounds"] + max(2, fd["n"] // 10)
    if clearly_better:
        return other, (
            f"offsets read as {other}, not {default} as {why} suggests: checked against the text, {other}: "
            f"{says(fo)}; {default}: {says(fd)}"
        )
    return (
        default,
        f"offsets read as {default} ({why}); checked against the text: {says(fd)}; as {other}: {says(fo)}",
    )
