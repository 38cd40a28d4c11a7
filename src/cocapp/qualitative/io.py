"""Readers for coded qualitative data: canonical CSV, REFI-QDA ``.qdpx`` projects, QualCoder CSV export.

Every reader returns a :class:`QualInput`: the coded segments as read (one row per code applied to a
text selection), plus whatever codebook, case table and source texts the format carries. Each segment
row keeps a ``_where`` locator (``"segments.csv row 12"``, ``"project.qde: PlainTextSelection
guid=..."``) so that validation can name the file and element of every problem. Nothing here decides
whether the data are valid; :mod:`cocapp.qualitative.validate` does that.

Formats
-------
Canonical CSV (``segments.csv``)
    One row per coded segment. Required columns ``source_id``, ``case_id``, ``code``, ``text``;
    optional ``site``, ``participant_group``, ``theme``, ``code_path``, ``start``, ``end``, ``coder``,
    ``source_label``, ``reference``, ``memo``. ``start``/``end`` are 0-based character offsets into the
    source document, ``end`` exclusive (``text == source[start:end]``), as in REFI-QDA.
REFI-QDA project (``.qdpx``, REFI-QDA standard 1.0/1.5)
    A zip archive holding ``project.qde`` (XML, namespace ``urn:QDA-XML:project:1.0``) and, for
    sources stored as files, ``sources/<name>.txt``. Read: ``Users/User`` (``guid``, ``name``),
    ``CodeBook/Codes/Code`` (nested codes form the hierarchy; the top-level code is the theme, the
    coded leaf the code; ``Description`` is the definition), ``Variables/Variable``,
    ``Cases/Case`` (``name`` = case id, ``SourceRef`` links the case to its sources, ``VariableValue``
    gives attributes such as ``site`` and ``participant_group``), ``Sources/TextSource`` (text from
    ``PlainTextContent`` or ``plainTextPath`` ``internal://file`` / ``relative://file``) with
    ``PlainTextSelection`` (``startPosition``, ``endPosition``, 0-based, end exclusive) holding
    ``Coding/CodeRef targetGUID``. Only the standard library (``zipfile``, ``xml.etree``) is used.
QualCoder CSV export (Reports > Coding reports > export CSV)
    Columns ``File`` (or ``Case`` and ``Filename`` when the report is by case), ``Coder``, ``Coded``,
    ``Id``, ``Codename``, ``Coded_Memo``, any number of ``Category`` columns (the code's parents,
    nearest first; the last non-empty one is taken as the theme), and optional ``FileVar_<name>`` /
    ``CaseVar_<name>`` attribute columns (``CaseVar_site`` and ``CaseVar_participant_group`` are
    used). The export carries no character offsets, so ``start``/``end`` stay empty. Only text codings
    are supported (rows whose ``Id`` starts with ``imid:`` or ``avid:`` are an error). When the report is
    by file, the file name is taken as the case id.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd

from cocapp.io import write_outputs_atomic  # noqa: F401 - re-exported for the qualitative stages

__all__ = [
    "QualInput",
    "QualitativeInputError",
    "SEGMENT_INPUT_COLUMNS",
    "read_cases",
    "read_codebook",
    "read_interviews",
    "read_qdpx",
    "read_qualcoder_csv",
    "read_segments",
    "read_segments_csv",
    "write_outputs_atomic",
]

QDA_NAMESPACE_PREFIX = "urn:QDA-XML:project:"

#: Columns a segment row may carry after reading (``_where`` is added by every reader).
SEGMENT_INPUT_COLUMNS = [
    "source_id",
    "source_label",
    "case_id",
    "site",
    "participant_group",
    "theme",
    "code",
    "code_path",
    "text",
    "start",
    "end",
    "coder",
    "reference",
    "memo",
]
REQUIRED_SEGMENT_COLUMNS = ["source_id", "case_id", "code", "text"]
REQUIRED_CASE_COLUMNS = ["case_id", "site", "participant_group"]
REQUIRED_CODEBOOK_COLUMNS = ["code", "theme"]


class QualitativeInputError(ValueError):
    """A qualitative input file cannot be read or is invalid; the message names file and element."""


@dataclass
class QualInput:
    """Coded segments as read, with what the format carries besides.

    ``fields`` maps canonical names to the names used in the input format (``end`` ->
    ``endPosition`` for REFI-QDA), so that messages speak the user's language. ``sources`` maps
    ``source_id`` to its full text when the format stores it (REFI-QDA); ``None`` otherwise.
    """

    path: str
    segments: pd.DataFrame
    codebook: pd.DataFrame | None = None
    cases: pd.DataFrame | None = None
    sources: dict[str, str] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    kind: str = "csv"


# -- CSV helpers -----------------------------------------------------------------------------------
def _read_text_csv(path: str | Path, what: str) -> pd.DataFrame:
    """Read a CSV keeping every cell as text (empty -> NA); a missing or empty file is an error."""
    path = Path(path)
    if not path.is_file():
        raise QualitativeInputError(f"{path}: {what} file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise QualitativeInputError(f"{path}: {what} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise QualitativeInputError(f"{path}: not a readable CSV file ({err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    dups = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dups:
        raise QualitativeInputError(f"{path}: column {dups[0]!r} appears more than once in the header")
    return df


def _require(df: pd.DataFrame, columns: list[str], path: str | Path, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise QualitativeInputError(f"{path}: {what} lacks required column(s) {missing}")


def _row_where(path: str | Path, n: int) -> list[str]:
    # data row 1 is file line 2 (after the header); say "row" as in the rest of cocapp
    return [f"{Path(path).name} row {i}" for i in range(1, n + 1)]


def read_segments_csv(path: str | Path) -> QualInput:
    """Read a canonical coded-segment CSV (see module docstring for its columns)."""
    df = _read_text_csv(path, "segments")
    _require(df, REQUIRED_SEGMENT_COLUMNS, path, "segments table")
    out = pd.DataFrame(
        {
            c: df[c] if c in df.columns else pd.Series(pd.NA, index=df.index, dtype="string")
            for c in SEGMENT_INPUT_COLUMNS
        }
    )
    out["_where"] = _row_where(path, len(df))
    return QualInput(path=str(path), segments=out, kind="csv", fields={"start": "start", "end": "end"})


def read_cases(path: str | Path) -> pd.DataFrame:
    """Read the case (participant) table: ``case_id``, ``site``, ``participant_group`` + attributes.

    A ``_where`` column (``cases.csv row N``) is added for messages; other columns are kept as text.
    """
    df = _read_text_csv(path, "case table")
    _require(df, REQUIRED_CASE_COLUMNS, path, "case table")
    df["_where"] = _row_where(path, len(df))
    return df


def read_codebook(path: str | Path) -> pd.DataFrame:
    """Read the codebook: ``code``, ``theme``, optional ``definition``, ``code_path``, ``provenance``."""
    df = _read_text_csv(path, "codebook")
    _require(df, REQUIRED_CODEBOOK_COLUMNS, path, "codebook")
    if "definition" not in df.columns:
        df["definition"] = pd.NA
    df["_where"] = _row_where(path, len(df))
    return df


def read_interviews(path: str | Path) -> pd.DataFrame:
    """Read the interview counts by site and participant group (``site``, ``participant_group``,
    ``n_interviewed``): aggregate numbers from a publication, used as a ceiling for the case table."""
    df = _read_text_csv(path, "interview counts")
    _require(df, ["site", "participant_group", "n_interviewed"], path, "interview counts table")
    n = pd.to_numeric(df["n_interviewed"], errors="coerce")
    bad = df.index[n.isna() | (n < 0) | (n != n.round())]
    if len(bad):
        i = int(bad[0])
        raise QualitativeInputError(
            f"{Path(path).name} row {i + 1}: n_interviewed {df.loc[i, 'n_interviewed']!r} is not a count"
        )
    df["n_interviewed"] = n.astype(int)
    return df


# -- QualCoder -------------------------------------------------------------------------------------
def _is_qualcoder_header(header: list[str]) -> bool:
    return "Codename" in header and "Coded" in header and ("File" in header or "Case" in header)


def read_qualcoder_csv(path: str | Path) -> QualInput:
    """Read a QualCoder coding-report CSV export (columns documented in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise QualitativeInputError(f"{path}: segments file not found")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise QualitativeInputError(f"{path}: segments file is empty")
    header = [h.strip() for h in rows[0]]
    if not _is_qualcoder_header(header):
        raise QualitativeInputError(
            f"{path}: not a QualCoder coding export (needs File/Case, Coded, Codename)"
        )
    by_case = "Case" in header
    cat_idx = [i for i, h in enumerate(header) if h == "Category"]
    col = {h: i for i, h in enumerate(header) if h != "Category"}
    recs = []
    for n, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        row = row + [""] * (len(header) - len(row))

        def get(name: str, row: list[str] = row) -> str:
            return row[col[name]].strip() if name in col else ""

        ident = get("Id")
        where = f"{path.name} row {n}" + (f" (Id {ident})" if ident else "")
        if ident.startswith(("imid:", "avid:")):
            raise QualitativeInputError(
                f"{where}: only text codings are supported (this is an image or a/v coding)"
            )
        cats = [row[i].strip() for i in cat_idx if row[i].strip()]
        source = get("Filename") if by_case else get("File")
        case = get("Case") if by_case else get("File")
        recs.append(
            {
                "source_id": source,
                "source_label": pd.NA,
                "case_id": case,
                "site": get("CaseVar_site") or pd.NA,
                "participant_group": get("CaseVar_participant_group") or pd.NA,
                "theme": cats[-1] if cats else pd.NA,
                "code": get("Codename"),
                "code_path": "/".join([*reversed(cats), get("Codename")]) if cats else pd.NA,
                "text": row[col["Coded"]],
                "start": pd.NA,
                "end": pd.NA,
                "coder": get("Coder") or pd.NA,
                "reference": pd.NA,
                "memo": get("Coded_Memo") or pd.NA,
                "_where": where,
            }
        )
    seg = pd.DataFrame(recs, columns=[*SEGMENT_INPUT_COLUMNS, "_where"]).astype("object")
    for c in ("source_id", "case_id", "code", "text"):
        seg[c] = seg[c].map(lambda v: pd.NA if v == "" else v)
    return QualInput(path=str(path), segments=seg, kind="qualcoder", fields={"start": "start", "end": "end"})


# -- REFI-QDA ----------------------------------------------------------------------------------------
def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_qdpx(path: str | Path) -> QualInput:
    """Read a REFI-QDA project (``.qdpx``): segments, codebook, cases and source texts.

    Selections are read as stored; offsets are checked by validation against the source text
    (``startPosition``/``endPosition`` are 0-based character positions, end exclusive). Each
    ``Coding`` of a ``PlainTextSelection`` gives one segment row. Structural problems (not a zip,
    no ``project.qde``, malformed XML, a ``CodeRef`` to no code, a source in no case, unreadable
    ``plainTextPath``) raise :class:`QualitativeInputError` naming the element; the problems inside a
    well-formed project are collected and reported together.
    """
    path = Path(path)
    with _open_archive(path) as zf:
        qde = _parse_project(path, zf)
        users = _qdpx_users(qde)
        codebook, codes_by_guid = _qdpx_codebook(qde)
        cases, case_of_source, case_guids = _qdpx_cases(qde)
        sources, seg_rows = _qdpx_sources(qde, codes_by_guid, case_of_source, case_guids, users)
        if qde.problems:
            raise QualitativeInputError(f"{path}: invalid REFI-QDA project:\n  " + "\n  ".join(qde.problems))
    seg = pd.DataFrame(seg_rows, columns=[*SEGMENT_INPUT_COLUMNS, "_where"]).astype("object")
    return QualInput(
        path=str(path),
        segments=seg,
        codebook=codebook,
        cases=cases,
        sources=sources,
        kind="qdpx",
        fields={"start": "startPosition", "end": "endPosition"},
    )


_QDE = "project.qde"


@dataclass
class _Project:
    """An open ``.qdpx`` archive with its parsed ``project.qde`` and the problems found in it so far."""

    path: Path
    zf: zipfile.ZipFile
    names: dict[str, str]  # archive member names by lower-case name
    root: ET.Element
    ns: dict[str, str]  # {"q": the REFI-QDA namespace URI}
    problems: list[str] = field(default_factory=list)

    def find(self, elem: ET.Element, path: str) -> ET.Element | None:
        """First element at ``path`` (``q:`` = the REFI-QDA namespace) below ``elem``."""
        return elem.find(path, self.ns)

    def iterfind(self, elem: ET.Element, path: str) -> Iterator[ET.Element]:
        """Every element at ``path`` (``q:`` = the REFI-QDA namespace) below ``elem``, in document order."""
        return elem.iterfind(path, self.ns)


def _open_archive(path: Path) -> zipfile.ZipFile:
    """The ``.qdpx`` file opened as a zip archive; an error when it is missing or not a zip."""
    if not path.is_file():
        raise QualitativeInputError(f"{path}: REFI-QDA project not found")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise QualitativeInputError(
            f"{path}: not a REFI-QDA project: not a valid zip archive ({err})"
        ) from None


def _parse_project(path: Path, zf: zipfile.ZipFile) -> _Project:
    """``project.qde`` of the archive parsed; an error when it is absent, malformed or not REFI-QDA XML."""
    names = {n.lower(): n for n in zf.namelist()}
    if _QDE not in names:
        raise QualitativeInputError(f"{path}: project.qde not found in the archive")
    try:
        root = ET.fromstring(zf.read(names[_QDE]))
    except ET.ParseError as err:
        raise QualitativeInputError(f"{path}: project.qde: not well-formed XML ({err})") from None
    except (zipfile.BadZipFile, OSError) as err:
        raise QualitativeInputError(f"{path}: project.qde cannot be read from the archive ({err})") from None
    ns_uri = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if _local(root.tag) != "Project" or not ns_uri.startswith(QDA_NAMESPACE_PREFIX):
        raise QualitativeInputError(
            f"{path}: project.qde: root element is {root.tag!r}, expected Project in namespace "
            f"{QDA_NAMESPACE_PREFIX}1.0"
        )
    return _Project(path, zf, names, root, {"q": ns_uri})


def _qdpx_users(qde: _Project) -> dict[str, str]:
    """User names by guid (``Users/User``), for the coder of each coding."""
    return {u.get("guid"): u.get("name") or "" for u in qde.iterfind(qde.root, "q:Users/q:User")}


def _qdpx_codebook(qde: _Project) -> tuple[pd.DataFrame, dict[str, dict]]:
    """The codebook (``CodeBook/Codes``) as rows and by guid.

    Nested codes form the hierarchy: the top-level code is the theme, ``code_path`` joins the chain
    with ``/`` and ``Description`` is the definition. A Code without guid or name is a problem.
    Columns: code, theme, code_path, definition, _where.
    """
    code_rows: list[dict] = []

    def walk(elem: ET.Element, parents: list[str]) -> None:
        for code in qde.iterfind(elem, "q:Code"):
            guid, name = code.get("guid"), (code.get("name") or "").strip()
            if not guid or not name:
                qde.problems.append(f"{_QDE}: Code guid={guid} name={name!r}: a Code needs guid and name")
                continue
            chain = [*parents, name]
            desc = qde.find(code, "q:Description")
            code_rows.append(
                {
                    "code": name,
                    "theme": chain[0],
                    "code_path": "/".join(chain),
                    "definition": (desc.text or "").strip() if desc is not None and desc.text else pd.NA,
                    "_where": f"{_QDE}: Code guid={guid}",
                    "_guid": guid,
                }
            )
            walk(code, chain)

    book = qde.find(qde.root, "q:CodeBook/q:Codes")
    if book is not None:
        walk(book, [])
    by_guid = {r.pop("_guid"): r for r in code_rows}
    return pd.DataFrame(code_rows, columns=["code", "theme", "code_path", "definition", "_where"]), by_guid


def _qdpx_cases(qde: _Project) -> tuple[pd.DataFrame | None, dict[str, str], set[str]]:
    """The case table, the case of each source and the guids of all cases (``Cases/Case``).

    A case row has ``case_id`` (the Case name), one column per ``VariableValue`` (named after its
    ``Variable``) and ``_where``; ``None`` when the project has no case. A ``SourceRef`` links a source
    to its case; a source in two cases, or a VariableValue of no Variable, is a problem.
    """
    variables = {
        v.get("guid"): (v.get("name") or "").strip() for v in qde.iterfind(qde.root, "q:Variables/q:Variable")
    }
    case_of_source: dict[str, str] = {}
    case_rows: list[dict] = []
    case_guids: set[str] = set()
    for case in qde.iterfind(qde.root, "q:Cases/q:Case"):
        cguid, cname = case.get("guid"), (case.get("name") or "").strip()
        case_guids.add(cguid or "")
        values = _case_values(qde, case, variables)
        case_rows.append({"case_id": cname, "_where": f"{_QDE}: Case guid={cguid}", **values})
        for sref in qde.iterfind(case, "q:SourceRef"):
            sguid = sref.get("targetGUID")
            if sguid in case_of_source and case_of_source[sguid] != cname:
                qde.problems.append(
                    f"{_QDE}: Case guid={cguid}: SourceRef targetGUID={sguid} already belongs to case "
                    f"{case_of_source[sguid]!r}; a source must belong to one case"
                )
            case_of_source[sguid] = cname
    return (pd.DataFrame(case_rows) if case_rows else None), case_of_source, case_guids


def _case_values(qde: _Project, case: ET.Element, variables: dict[str, str]) -> dict:
    """A Case's attribute values by variable name (text stripped; NA for an empty value)."""
    values: dict = {}
    for vv in qde.iterfind(case, "q:VariableValue"):
        ref = qde.find(vv, "q:VariableRef")
        vname = variables.get(ref.get("targetGUID")) if ref is not None else None
        if not vname:
            qde.problems.append(f"{_QDE}: Case guid={case.get('guid')}: VariableValue refers to no Variable")
            continue
        value = next((c.text for c in vv if _local(c.tag).endswith("Value") and c.text is not None), None)
        values[vname] = value.strip() if value is not None else pd.NA
    return values


def _qdpx_sources(
    qde: _Project,
    codes_by_guid: dict[str, dict],
    case_of_source: dict[str, str],
    case_guids: set[str],
    users: dict[str, str],
) -> tuple[dict[str, str], list[dict]]:
    """Each ``Sources/TextSource``'s text by name, and the segment rows of its coded selections.

    A source's name must be unique, its text readable (:func:`_source_text`) and, when it has coded
    selections, the source must belong to a case; a source that fails is skipped with a problem.
    """
    sources: dict[str, str] = {}
    seg_rows: list[dict] = []
    for src in qde.iterfind(qde.root, "q:Sources/q:TextSource"):
        sguid, sname = src.get("guid"), (src.get("name") or "").strip() or (src.get("guid") or "")
        swhere = f"{_QDE}: TextSource guid={sguid} name={sname!r}"
        content = qde.find(src, "q:PlainTextContent")
        if content is not None:
            text = content.text or ""
        else:
            text = _source_text(qde, src.get("plainTextPath"), swhere)
            if text is None:
                continue
        if sname in sources:
            qde.problems.append(
                f"{swhere}: a second TextSource has the same name; source names must be unique"
            )
            continue
        sources[sname] = text
        selections = list(qde.iterfind(src, "q:PlainTextSelection"))
        if selections and sguid not in case_of_source:
            qde.problems.append(f"{swhere}: coded source is not referenced by any Case (SourceRef)")
            continue
        for sel in selections:
            seg_rows += _selection_segments(
                qde, sel, sname, case_of_source.get(sguid), codes_by_guid, case_guids, users
            )
    return sources, seg_rows


def _source_text(qde: _Project, ref: str | None, where: str) -> str | None:
    """Text of a source stored as a file (``internal://`` inside the archive, ``relative://`` beside it).

    ``None``, with a problem recorded, when there is no path, the file cannot be read or the scheme is
    another.
    """
    if not ref:
        qde.problems.append(f"{where}: has neither PlainTextContent nor plainTextPath")
        return None
    try:
        if ref.startswith("internal://"):
            member = "sources/" + ref[len("internal://") :]
            if member.lower() not in qde.names:
                qde.problems.append(
                    f"{where}: plainTextPath {ref} not found in the archive (looked for {member})"
                )
                return None
            return qde.zf.read(qde.names[member.lower()]).decode("utf-8-sig")
        if ref.startswith("relative://"):
            return (qde.path.parent / ref[len("relative://") :]).read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        qde.problems.append(f"{where}: plainTextPath {ref} cannot be read ({err})")
        return None
    qde.problems.append(
        f"{where}: plainTextPath {ref!r}: only internal:// and relative:// paths are supported"
    )
    return None


def _selection_segments(
    qde: _Project,
    sel: ET.Element,
    source: str,
    case_id: str | None,
    codes_by_guid: dict[str, dict],
    case_guids: set[str],
    users: dict[str, str],
) -> list[dict]:
    """One segment row per ``Coding`` of a ``PlainTextSelection`` (offsets as stored, text cut later).

    A CodeRef to a Case is NVivo's "case coding" and is skipped; a CodeRef to no Code is a problem.
    The coder is the coding's ``creatingUser`` (else the selection's), the memo its ``Description``.
    """
    where = f"{_QDE}: PlainTextSelection guid={sel.get('guid')}"
    desc = qde.find(sel, "q:Description")
    memo = desc.text.strip() if desc is not None and desc.text else pd.NA
    rows = []
    for coding in qde.iterfind(sel, "q:Coding"):
        ref = qde.find(coding, "q:CodeRef")
        target = ref.get("targetGUID") if ref is not None else None
        if target in case_guids:
            continue  # NVivo "case coding": the selection belongs to a case, not a code
        if target not in codes_by_guid:
            qde.problems.append(f"{where}: CodeRef targetGUID={target} refers to no Code in the CodeBook")
            continue
        code = codes_by_guid[target]
        user = coding.get("creatingUser") or sel.get("creatingUser")
        rows.append(
            {
                "source_id": source,
                "source_label": pd.NA,
                "case_id": case_id,
                "site": pd.NA,
                "participant_group": pd.NA,
                "theme": code["theme"],
                "code": code["code"],
                "code_path": code["code_path"],
                "text": pd.NA,  # cut from the source after offsets are validated
                "start": sel.get("startPosition"),
                "end": sel.get("endPosition"),
                "coder": users.get(user, pd.NA) if user else pd.NA,
                "reference": pd.NA,
                "memo": memo,
                "_where": where,
            }
        )
    return rows


def read_segments(path: str | Path) -> QualInput:
    """Read coded segments from a ``.qdpx`` project, a QualCoder CSV export or a canonical CSV.

    The format is chosen by extension (``.qdpx``) or, for ``.csv``, by the header (QualCoder's
    ``Codename``/``Coded`` columns).
    """
    path = Path(path)
    if path.suffix.lower() == ".qdpx":
        return read_qdpx(path)
    if path.suffix.lower() != ".csv":
        raise QualitativeInputError(f"{path}: unsupported segments file (use .csv or .qdpx)")
    if not path.is_file():
        raise QualitativeInputError(f"{path}: segments file not found")
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(io.StringIO(fh.readline())), [])
    if _is_qualcoder_header([h.strip() for h in header]):
        return read_qualcoder_csv(path)
    return read_segments_csv(path)
