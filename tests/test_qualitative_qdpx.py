"""The REFI-QDA (.qdpx) reader on real exports, on constructed NVivo-style projects and on hostile archives.

Real projects are read from ``../shared/qdpx-real/`` beside the repository (never copied into it); their
expected counts come from that folder's README (written from the files, not by cocapp). Constructed
projects are written element by element here, with the expected extracts written out by hand.
"""

from __future__ import annotations

import os
import struct
import subprocess
import time
import tracemalloc
import unicodedata
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from stage_inputs import qualitative_inputs

from cocapp.qualitative import ingest
from cocapp.qualitative.archive import ArchiveLimits, SafeArchive
from cocapp.qualitative.io import QualitativeInputError, read_segments
from cocapp.qualitative.qdpx import QdpxOptions, read_project, utf16_to_code_points
from cocapp.qualitative.validate import QualitativeValidationError, _overlap_problems
from cocapp.qualitative.workbook import analyst_tables

ROOT = Path(__file__).resolve().parents[1]
NS = "urn:QDA-XML:project:1.0"


def _real_dir() -> Path | None:
    """``../shared/qdpx-real`` relative to the repository (also for a git worktree of it)."""
    if os.environ.get("COCAPP_QDPX_REAL"):
        return Path(os.environ["COCAPP_QDPX_REAL"])
    candidates = [ROOT.parent / "shared" / "qdpx-real"]
    try:
        common = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-common-dir"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        candidates.append(Path(common).parent.parent / "shared" / "qdpx-real")
    except (OSError, subprocess.CalledProcessError):
        pass
    return next((c for c in candidates if c.is_dir()), None)


REAL = _real_dir()


def real(name: str) -> Path:
    if REAL is None or not (REAL / name).is_file():
        pytest.skip(f"real export {name} not available: ../shared/qdpx-real/ is absent beside the repository")
    return REAL / name


def by_source_cases(tmp_path: Path, sources, sites=("North", "South")) -> Path:
    """A case table keyed by source name (case_id = source), sites alternating."""
    path = tmp_path / "cases.csv"
    pd.DataFrame(
        {
            "case_id": list(sources),
            "site": [sites[i % len(sites)] for i in range(len(sources))],
            "participant_group": "staff",
        }
    ).to_csv(path, index=False)
    return path


def line_index(text: str, pos: int) -> int | None:
    """Index of the line starting exactly at ``pos`` (None when ``pos`` starts no line)."""
    starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
    return starts.index(pos) if pos in starts else None


# -- the four real exports ---------------------------------------------------------------------------
def test_real_nvivo_mac_codes_by_path_no_codings_sources_as_cases():
    inp = read_segments(real("nvivo-mac15.0_nvivo_project.qdpx"))
    book = inp.codebook
    assert len(book) == 262
    assert book["code_path"].str.count("/").max() + 1 == 7  # depth 7
    assert book["code_path"].is_unique
    assert (book["code"] == "citizenship").sum() == 3 and (book["code"] == "programming").sum() == 2
    assert len(inp.sources) == 2 and len(inp.segments) == 0
    assert inp.cases["case_id"].tolist() == list(inp.sources)  # no Cases: each source is a case
    warnings = [r for r in inp.report if r["kind"] == "warning"]
    assert len(warnings) == 1 and "has no Cases" in warnings[0]["detail"]
    assert inp.origin == "NVivo for Mac 15.0.0"


@pytest.mark.parametrize(
    ("name", "n_codes", "n_sources", "n_selections", "n_codings", "n_top_level"),
    [("qc-1.3.2_demo.qdpx", 262, 2, 158, 205, 0), ("qc-1.2.0_demo.qdpx", 112, 3, 168, 213, 5)],
)
def test_real_qc_projects_bare_paths_counts_and_line_offsets(
    tmp_path, name, n_codes, n_sources, n_selections, n_codings, n_top_level
):
    path = real(name)
    inp = read_segments(path)
    assert len(inp.codebook) == n_codes and len(inp.sources) == n_sources
    assert len(inp.segments) == n_codings
    assert inp.segments["_where"].nunique() == n_selections
    # qc names each selection "line:N": it starts at the start of line N (0-based) of its source,
    # an independent check that the bare plainTextPath was resolved and the offsets read as code points
    firsts = inp.segments.drop_duplicates("_where")
    for rec in firsts.to_dict("records"):
        assert line_index(inp.sources[rec["source_id"]], int(rec["start"])) == int(rec["_name"].split(":")[1])
    seg, cases, codes = ingest.ingest(path, ["North", "South"], by_source_cases(tmp_path, inp.sources))
    assert len(seg) == n_codings
    assert (seg["code_path"] == seg["theme"]).sum() == n_top_level  # codings on top-level codes
    assert seg["coder"].nunique() == 1 and seg["case_id"].isin(list(inp.sources)).all()
    text = inp.sources[seg.loc[0, "source_id"]]
    assert seg.loc[0, "text"] == text[seg.loc[0, "start"] : seg.loc[0, "end"]]
    # the analyst workbook of a real project: every coding counted once per case x code and in coverage
    sources = ingest.source_table(inp, seg)
    tables = analyst_tables(seg, cases, codes, sources, pd.DataFrame(columns=ingest.MEMO_COLUMNS))
    assert tables["case x code"][list(codes["code_path"])].to_numpy().sum() == n_codings
    assert tables["coverage"]["n_segments"].sum() == n_codings
    assert (tables["coverage"]["coverage_pct"] <= 100).all() and tables["coding comparison"].empty


def test_real_atlasti_missing_sources_refused_naming_them():
    with pytest.raises(QualitativeInputError) as exc:
        read_segments(real("atlasti-mac8.4_refi-standard-project_no-sources.qdpx"))
    msg = str(exc.value)
    assert (
        "Project.qde: TextSource guid=EC0A7242-65E1-457C-B7D1-310DAE603FAB name='Mabel.txt': plainTextPath "
        "internal://B2F54555-0D2D-43B2-B40C-2A1C048F5F1C.txt: not found in the archive" in msg
    )
    assert msg.count("not found in the archive") == 8  # 6 TextSources + the text representations of 2 PDFs


def test_real_atlasti_with_sources_restored_reads_text_codings_and_lists_the_rest(tmp_path):
    """The sample with stand-in texts for its missing files: 7 text codings + 2 on the PDF's text;
    the other 7 of its 16 codings (picture, PDF regions, video) are listed as not used."""
    src = real("atlasti-mac8.4_refi-standard-project_no-sources.qdpx")
    dst = tmp_path / "restored.qdpx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        qde = zin.read("Project.qde")
        zout.writestr("Project.qde", qde)
        import re

        for ref in sorted(set(re.findall(rb'plainTextPath="internal://([^"]+)"', qde))):
            zout.writestr(f"Sources/{ref.decode()}", "word " * 200)
    inp = read_segments(dst)
    assert len(inp.segments) == 9
    nfc = [(unicodedata.normalize("NFC", k), v) for k, v in inp.segments["source_id"].value_counts().items()]
    assert sorted(nfc) == [
        ("1994 Diet Coke-Diet Coke Break.docx", 1),
        ("Mabel.txt", 3),
        ("Pay de Limón con Base de Granola | Kellogg's ®.pdf", 2),
        ("Simon.docx", 3),
    ]
    unused = pd.DataFrame([r for r in inp.report if r["kind"] == "not used"])
    counts = unused["element"].value_counts().to_dict()
    assert counts["PictureSelection"] == 1 and counts["PDFSelection"] == 4 and counts["VideoSelection"] == 2
    codings = sum(int(d.split("(")[1].split()[0]) for d in unused["detail"] if "coding(s)" in d)
    assert codings == 2 + 4 + 1  # 16 codings = 9 read + 7 listed
    assert counts["Transcript"] == 3 and counts["Set"] == 1 and "16 Set(s)" in " ".join(unused["detail"])
    assert "selection without Coding" in " ".join(unused["detail"])  # Mabêl 2ième: a quotation only
    assert len(inp.notes) == 2 and inp.notes.loc[0, "memo"] == "Research Plan"
    assert inp.notes.loc[0, "author"] == "Friedrich Markgraf"
    # the selection names quote the text: every read extract begins with stand-in words
    assert inp.codebook["code_path"].is_unique


# -- constructed projects ------------------------------------------------------------------------------
def project_xml(sources: list[dict], *, origin: str | None, codes: str | None = None, extra: str = "") -> str:
    """A project.qde: sources = [{name, text or path, selections: [(guid, start, end, code, user, name)]}]."""
    codes = codes or (
        '<Code guid="t1" name="Feelings"><Code guid="c1" name="safety"/><Code guid="c2" name="noise"/></Code>'
        '<Code guid="t2" name="Place"><Code guid="c3" name="noise"/></Code>'
    )
    out = [
        f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="{NS}" name="p"'
        + (f' origin="{origin}"' if origin else "")
        + '><Users><User guid="u1" name="alice"/><User guid="u2" name="bob"/></Users>'
        f"<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>"
    ]
    for s in sources:
        attrs = f'guid="s-{s["name"]}" name="{s["name"]}"'
        if "path" in s:
            out.append(f'<TextSource {attrs} plainTextPath="{s["path"]}">')
        else:
            text = s["text"].replace("&", "&amp;").replace("<", "&lt;").replace("\r", "&#13;")
            out.append(f"<TextSource {attrs}><PlainTextContent>{text}</PlainTextContent>")
        for guid, start, end, code, user, name in s.get("selections", []):
            nm = f' name="{name}"' if name else ""
            out.append(
                f'<PlainTextSelection guid="{guid}" startPosition="{start}" endPosition="{end}"{nm}>'
                f'<Coding guid="k-{guid}-{code}" creatingUser="{user}">'
                f'<CodeRef targetGUID="{code}"/></Coding>'
                "</PlainTextSelection>"
            )
        out.append("</TextSource>")
    out.append(f"</Sources>{extra}</Project>")
    return "".join(out)


def write_qdpx(
    path: Path, xml: str, members: dict[str, bytes | str] | None = None, qde: str = "project.qde"
) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(qde, xml)
        for name, data in (members or {}).items():
            zf.writestr(name, data)
    return path


# An interview with emoji (outside the BMP: 2 UTF-16 code units each) and Windows line ends.
EMOJI_TEXT = "Intro 😀 fine.\r\nI feel 😊 safe here.\r\nThe 🏥 ward is loud 🔊 at night."


def u16(prefix: str) -> int:
    """UTF-16 code units of ``prefix`` (Python's codec, independent of cocapp)."""
    return len(prefix.encode("utf-16-le")) // 2


def emoji_selections(named: bool) -> list[tuple]:
    t = EMOJI_TEXT
    picks = [("safe here.", "c1", "u1"), ("ward is loud", "c2", "u1"), ("at night.", "c3", "u2")]
    out = []
    for i, (quote, code, user) in enumerate(picks):
        start = t.index(quote)
        out.append(
            (f"sel{i}", u16(t[:start]), u16(t[: start + len(quote)]), code, user, quote if named else None)
        )
    return out


def test_nvivo_windows_utf16_offsets_give_the_right_extracts(tmp_path):
    xml = project_xml(
        [{"name": "int1", "text": EMOJI_TEXT, "selections": emoji_selections(named=False)}],
        origin="NVivo 12 (Windows) 12.6.1.970",
    )
    inp = read_segments(write_qdpx(tmp_path / "nv.qdpx", xml))
    seg, cases, codes = ingest.ingest(tmp_path / "nv.qdpx", ["North"], by_source_cases(tmp_path, ["int1"]))
    assert seg[["code_path", "text", "coder"]].values.tolist() == [
        ["Feelings/safety", "safe here.", "alice"],
        ["Feelings/noise", "ward is loud", "alice"],
        ["Place/noise", "at night.", "bob"],
    ]
    assert seg["theme"].tolist() == ["Feelings", "Feelings", "Place"]  # same name, two parents: two codes
    assert any("offsets read as utf16" in r["detail"] for r in inp.report)
    # the same offsets read as code points quote the wrong characters: that is what the unit fixes
    wrong = read_project(tmp_path / "nv.qdpx", QdpxOptions(offset_unit="code_points"))
    quoted = [
        EMOJI_TEXT[int(s) : int(e)]
        for s, e in zip(wrong.segments["start"], wrong.segments["end"], strict=True)
    ]
    assert quoted[:2] == ["fe here.\r\n", "d is loud 🔊 "]  # 2 and 3 emoji before: 2 and 3 places late


def test_offset_unit_checked_against_selection_names(tmp_path):
    """No origin (would mean code points), but the names quote the text only when read as UTF-16."""
    xml = project_xml(
        [{"name": "int1", "text": EMOJI_TEXT, "selections": emoji_selections(named=True)}], origin=None
    )
    inp = read_segments(write_qdpx(tmp_path / "x.qdpx", xml))
    note = next(r["detail"] for r in inp.report if "offsets read as" in r["detail"])
    assert note.startswith("offsets read as utf16, not code_points")
    assert "3/3 selection names quote the text" in note
    # and an NVivo export whose offsets are code points after all is read as code points
    t = EMOJI_TEXT
    sels = [("a", t.index("safe"), t.index("safe") + 10, "c1", "u1", "safe here.")]
    sels.append(("b", t.index("ward"), t.index("ward") + 12, "c2", "u1", "ward is loud"))
    xml = project_xml([{"name": "int1", "text": t, "selections": sels}], origin="NVivo 14")
    seg = ingest.ingest(write_qdpx(tmp_path / "y.qdpx", xml), ["North"], by_source_cases(tmp_path, ["int1"]))[
        0
    ]
    assert seg["text"].tolist() == ["safe here.", "ward is loud"]


def test_utf16_offset_inside_a_surrogate_pair_is_an_error(tmp_path):
    start = u16(EMOJI_TEXT[: EMOJI_TEXT.index("😀")]) + 1  # between the two halves of 😀
    xml = project_xml(
        [{"name": "int1", "text": EMOJI_TEXT, "selections": [("bad", start, start + 4, "c1", "u1", None)]}],
        origin="NVivo 12",
    )
    with pytest.raises(
        QualitativeInputError, match="PlainTextSelection guid=bad: startPosition 7 / endPosition 11"
    ):
        read_project(write_qdpx(tmp_path / "s.qdpx", xml), QdpxOptions(offset_unit="utf16"))
    # with good selections beside it, auto keeps UTF-16 (one defect does not switch the unit) and says so
    sels = [*emoji_selections(named=False), ("bad", start, start + 4, "c1", "u1", None)]
    xml = project_xml([{"name": "int1", "text": EMOJI_TEXT, "selections": sels}], origin="NVivo 12")
    with pytest.raises(QualitativeInputError, match="guid=bad: startPosition 7 / endPosition 11"):
        read_segments(write_qdpx(tmp_path / "t.qdpx", xml))


def test_utf16_to_code_points_hand_cases():
    # "a😀b😀": code points a=0 😀=1 b=2 😀=3 end=4; UTF-16 a=0 😀=1,2 b=3 😀=4,5 end=6
    got = utf16_to_code_points("a😀b😀", np.array([0, 1, 3, 4, 6, 2, 5, 8]))
    assert got.tolist() == [0, 1, 2, 3, 4, -1, -1, 6]


def test_project_named_after_the_study_relative_and_bare_paths(tmp_path):
    """Any single *.qde (ATLAS.ti 26 names it after the project); relative:// beside the .qdpx; bare names
    in sources/; case by Case SelectionRef and by SourceRef; case variables renamed to site/group."""
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "beside.txt").write_text("Beside the archive, read relative.", encoding="utf-8")
    cases = (
        '<Variables><Variable guid="v1" name="Location"/><Variable guid="v2" name="Role"/></Variables>'
        '<Cases><Case guid="k1" name="P1"><VariableValue><VariableRef targetGUID="v1"/><TextValue>North'
        '</TextValue></VariableValue><VariableValue><VariableRef targetGUID="v2"/>'
        "<TextValue>nurse</TextValue>"
        '</VariableValue><SourceRef targetGUID="s-inside"/></Case>'
        '<Case guid="k2" name="P2"><VariableValue><VariableRef targetGUID="v1"/><TextValue>South</TextValue>'
        '</VariableValue><VariableValue><VariableRef targetGUID="v2"/><TextValue>user</TextValue>'
        "</VariableValue>"
        '<SelectionRef targetGUID="r1"/></Case></Cases>'
    )
    xml = project_xml(
        [
            {"name": "inside", "path": "inside.txt", "selections": [("i1", 0, 6, "c1", "u1", None)]},
            {
                "name": "beside",
                "path": "relative:///media/beside.txt",
                "selections": [("r1", 0, 6, "c1", "u1", None)],
            },
        ],
        origin="ATLAS.ti 26",
        extra=cases,
    )
    path = write_qdpx(
        tmp_path / "Trial.qdpx", xml, {"sources/inside.txt": "Inside the archive."}, qde="Trial.qde"
    )
    seg, cs, _ = ingest.ingest(
        path, ["North", "South"], qual_config={"variables": {"site": "Location", "participant_group": "Role"}}
    )
    assert seg[["source_id", "case_id", "site", "participant_group", "text"]].values.tolist() == [
        ["inside", "P1", "North", "nurse", "Inside"],
        ["beside", "P2", "South", "user", "Beside"],
    ]


def test_case_table_keyed_by_source_and_coders_as_a_dimension(tmp_path):
    text = "We talk. We listen. We act."
    sels = [("a1", 0, 8, "c1", "u1", None), ("b1", 0, 8, "c1", "u2", None), ("b2", 9, 19, "c1", "u2", None)]
    xml = project_xml(
        [{"name": "int1", "text": text, "selections": sels}, {"name": "int2", "text": text}], origin="qc 1.3"
    )
    path = write_qdpx(tmp_path / "two.qdpx", xml)
    table = tmp_path / "cases.csv"
    table.write_text(
        "source_id,case_id,site,participant_group\nint1,P1,North,nurse\nint2,P1,North,nurse\n",
        encoding="utf-8",
    )
    seg, cases, _ = ingest.ingest(path, ["North"], table)
    # identical codings by two coders are two segments, not an overlap
    assert seg[["case_id", "coder", "text"]].values.tolist() == [
        ["P1", "alice", "We talk."],
        ["P1", "bob", "We talk."],
        ["P1", "bob", "We listen."],
    ]
    assert cases["case_id"].tolist() == ["P1"]


def test_selection_codings_case_coding_and_unknown_code(tmp_path):
    xml = (
        f'<Project xmlns="{NS}" name="p" origin="NVivo 12"><Users><User guid="u1" name="alice"/></Users>'
        '<CodeBook><Codes><Code guid="t" name="Care"><Code guid="a" name="trust"/></Code></Codes></CodeBook>'
        '<Cases><Case guid="k1" name="P1"><SourceRef targetGUID="s1"/></Case></Cases>'
        '<Sources><TextSource guid="s1" name="int_P1"><PlainTextContent>I trust my nurse.</PlainTextContent>'
        '<PlainTextSelection guid="sel" startPosition="2" endPosition="7" creatingUser="u1">'
        "<Description>memo</Description>"
        '<Coding guid="c1"><CodeRef targetGUID="a"/></Coding>'
        '<Coding guid="c2"><CodeRef targetGUID="k1"/></Coding></PlainTextSelection>'
        '<Coding guid="w1"><CodeRef targetGUID="a"/></Coding></TextSource></Sources></Project>'
    )
    inp = read_segments(write_qdpx(tmp_path / "p.qdpx", xml))
    row = inp.segments.iloc[0]
    assert len(inp.segments) == 1  # the case coding (c2) is no segment
    assert (row["case_id"], row["code_path"], row["coder"], row["memo"]) == (
        "P1",
        "Care/trust",
        "alice",
        "memo",
    )
    details = " ".join(r["detail"] for r in inp.report)
    assert "1 coding(s) of a Case" in details and "whole-source coding" in details
    bad = write_qdpx(
        tmp_path / "bad.qdpx",
        xml.replace(
            'targetGUID="a"/></Coding><Coding guid="c2"', 'targetGUID="zz"/></Coding><Coding guid="c2"'
        ),
    )
    with pytest.raises(
        QualitativeInputError, match="PlainTextSelection guid=sel: CodeRef targetGUID=zz refers to no Code"
    ):
        read_segments(bad)


def test_theme_level_two(tmp_path):
    codes = (
        '<Code guid="r" name="RQ1"><Code guid="t" name="Care"><Code guid="c1" name="trust"/></Code></Code>'
    )
    xml = project_xml(
        [
            {
                "name": "int1",
                "text": "I trust you.",
                "selections": [("s", 2, 7, "c1", "u1", None), ("s2", 0, 1, "r", "u1", None)],
            }
        ],
        origin="qc",
        codes=codes,
    )
    inp = read_project(write_qdpx(tmp_path / "t.qdpx", xml), QdpxOptions(theme_level=2))
    assert inp.segments[["code_path", "theme"]].values.tolist() == [
        ["RQ1/Care/trust", "Care"],
        ["RQ1", "RQ1"],
    ]


# -- hostile archives ------------------------------------------------------------------------------
def bounded(fn, max_seconds=2.0, max_bytes=20 * 2**20):
    """Run ``fn`` and check it took little time and memory (Python allocations, tracemalloc)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
    finally:
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert elapsed < max_seconds, elapsed
    assert peak < max_bytes, peak


def test_zip_bomb_refused_before_expanding(tmp_path):
    bomb = tmp_path / "bomb.qdpx"
    xml = project_xml([{"name": "a", "path": "internal://big.txt"}], origin="x")
    write_qdpx(bomb, xml, {"sources/big.txt": b"\0" * (50 * 2**20)})  # 50 MB of zeros, ~50 KB compressed
    assert bomb.stat().st_size < 200_000

    def read():
        with pytest.raises(
            QualitativeInputError, match=r"bomb\.qdpx: member 'sources/big\.txt' expands \d+-fold .*max_ratio"
        ):
            read_segments(bomb)

    bounded(read)
    # the same archive under a member-size limit is refused for its size
    with pytest.raises(QualitativeInputError, match=r"expands to 50\.0 MB, more than the limit of 1\.0 MB"):
        read_project(bomb, QdpxOptions(limits=ArchiveLimits(max_member_bytes=2**20, max_ratio=1e9)))


def test_limits_on_members_and_total(tmp_path):
    xml = project_xml([], origin="x")
    many = write_qdpx(tmp_path / "many.qdpx", xml, {f"sources/{i}.txt": "x" for i in range(20)})
    with pytest.raises(
        QualitativeInputError, match=r"many\.qdpx: the archive has 21 members, more than the limit of 10"
    ):
        ingest.ingest(many, ["North"], qual_config={"qdpx_limits": {"max_members": 10}})
    with pytest.raises(
        QualitativeInputError,
        match=r"members expand to .* more than the limit of 100 bytes .*max_total_bytes",
    ):
        read_project(many, QdpxOptions(limits=ArchiveLimits(max_total_bytes=100)))
    with pytest.raises(QualitativeInputError, match=r"unknown limit\(s\) \['max_size'\]"):
        ingest.options_from_config({"qdpx_limits": {"max_size": 1}})


def test_entity_expansion_and_dtd_refused(tmp_path):
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + f']><Project xmlns="{NS}" name="&i;"/>'
    )
    path = write_qdpx(tmp_path / "laughs.qdpx", laughs)

    def read():
        with pytest.raises(
            QualitativeInputError, match=r"laughs\.qdpx: project\.qde: refused: the XML declares a DTD"
        ):
            read_segments(path)

    bounded(read)
    external = f'<?xml version="1.0"?><!DOCTYPE p SYSTEM "http://example.org/x.dtd"><Project xmlns="{NS}"/>'
    with pytest.raises(QualitativeInputError, match="declares a DTD"):
        read_segments(write_qdpx(tmp_path / "ext.qdpx", external))


@pytest.mark.parametrize(
    "ref",
    [
        "relative://../../../../etc/passwd",
        "relative:///../secret.txt",
        "internal://../../secret.txt",
        "../secret.txt",
        "/etc/passwd",
        "file:///etc/passwd",
        "C:\\Windows\\win.ini",
    ],
)
def test_paths_outside_the_archive_and_project_folder_refused(tmp_path, ref):
    (tmp_path / "secret.txt").write_text("do not read me", encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    xml = project_xml([{"name": "a", "path": ref, "selections": [("s", 0, 2, "c1", "u1", None)]}], origin="x")
    path = write_qdpx(project / "p.qdpx", xml)
    with pytest.raises(QualitativeInputError) as exc:
        read_segments(path)
    msg = str(exc.value)
    assert "TextSource guid=s-a name='a': plainTextPath" in msg
    assert "refused" in msg or "only internal://, relative:// and bare relative paths" in msg
    assert "do not read me" not in msg


def test_repeated_and_overlapping_members_refused(tmp_path):
    dup = tmp_path / "dup.qdpx"
    with zipfile.ZipFile(dup, "w") as zf:
        zf.writestr("project.qde", project_xml([], origin="x"))
        with pytest.warns(UserWarning):
            zf.writestr("sources/a.txt", "one")
            zf.writestr("sources/a.txt", "two")
    with pytest.raises(
        QualitativeInputError, match=r"dup\.qdpx: member 'sources/a\.txt' appears more than once"
    ):
        read_segments(dup)
    # overlapping entries: the second central-directory entry pointed at the first one's data
    over = tmp_path / "over.qdpx"
    write_qdpx(over, project_xml([], origin="x"), {"sources/b.txt": "b" * 100})
    data = bytearray(over.read_bytes())
    cd = [i for i in range(len(data)) if data[i : i + 4] == b"PK\x01\x02"]
    first_offset = struct.unpack_from("<I", data, cd[0] + 42)[0]
    struct.pack_into("<I", data, cd[1] + 42, first_offset)
    over.write_bytes(bytes(data))
    with pytest.raises(QualitativeInputError, match="share compressed data"):
        read_segments(over)


def test_a_member_referenced_many_times_is_read_once(tmp_path):
    text = "shared transcript " * 1000  # 18 KB
    sources = [{"name": f"s{i}", "path": "internal://shared.txt"} for i in range(8)]
    path = write_qdpx(tmp_path / "many.qdpx", project_xml(sources, origin="x"), {"sources/shared.txt": text})
    limits = ArchiveLimits(max_total_bytes=len(text) + 10_000)  # one copy + the XML, not eight copies
    inp = read_project(path, QdpxOptions(limits=limits))
    assert len(inp.sources) == 8 and all(t == text for t in inp.sources.values())
    with SafeArchive(path) as archive:
        archive.read("sources/shared.txt")
        archive.read("sources/shared.txt")
        assert archive.bytes_read == len(text)


def test_overlap_check_memory_is_bounded_by_the_text():
    n = 2_000_000
    text = "abcdefghij" * (n // 10)
    seg = pd.DataFrame(
        {
            "source_id": "s",
            "code": ["x", "y"],
            "code_path": ["T/x", "T/y"],
            "coder": "a",
            "start": [0, 10],
            "end": [n, n],
            "text": [text, text[10:]],
            "_where": ["row 1", "row 2"],
        }
    )
    tracemalloc.start()
    problems = _overlap_problems(seg)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert problems == []
    assert peak < 8 * n, peak  # a few bytes per character (was ~140 per coded character)
    seg.loc[1, "text"] = text[10:20] + "Z" + text[21:]
    assert _overlap_problems(seg) == [
        "row 2: text disagrees with row 1 at character 20 of source 's' ('Z' vs 'a'); "
        "overlapping segments must quote the same text"
    ]


def test_stage_writes_import_report_and_memos(tmp_path, cocapp_stage):
    from test_qualitative import qual_config  # noqa: I001  (shared config helper)

    xml = project_xml(
        [{"name": "int1", "text": EMOJI_TEXT, "selections": emoji_selections(named=False)}],
        origin="NVivo 12",
        extra='<Notes><Note guid="n1" name="Plan" creatingUser="u1" creationDateTime="2024-01-02T03:04:05Z">'
        "<PlainTextContent>Memo text</PlainTextContent></Note></Notes>",
    )
    path = write_qdpx(tmp_path / "nv.qdpx", xml)
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,site,participant_group\nint1,Artois,service_user\n", encoding="utf-8")
    config = qual_config(segments=str(path), cases=str(cases), codebook=None)
    out = tmp_path / "q"
    code, log = cocapp_stage(
        "qualitative-ingest",
        config,
        *qualitative_inputs(config),
        "--out-segments",
        out / "segments.csv",
        "--out-cases",
        out / "cases.csv",
        "--out-codes",
        out / "codes.csv",
        "--out-import-report",
        out / "import_report.csv",
        "--out-memos",
        out / "memos.csv",
    )
    assert code == 0, log
    report = pd.read_csv(out / "import_report.csv", dtype=str)
    assert list(report.columns) == ["kind", "element", "where", "detail"]
    assert report["detail"].str.contains("offsets read as utf16").any()
    memos = pd.read_csv(out / "memos.csv", dtype=str)
    assert memos[["memo", "author", "created", "text"]].values.tolist() == [
        ["Plan", "alice", "2024-01-02T03:04:05Z", "Memo text"]
    ]
    assert "3 segments" in log


def test_source_in_no_case_is_named_and_utf16_files_read(tmp_path):
    cases = '<Cases><Case guid="k1" name="P1"><SourceRef targetGUID="s-a"/></Case></Cases>'
    xml = project_xml(
        [
            {"name": "a", "text": "Alpha text.", "selections": [("x", 0, 5, "c1", "u1", None)]},
            {"name": "b", "path": "internal://b.txt", "selections": [("y", 0, 4, "c1", "u1", None)]},
        ],
        origin="MAXQDA 24",
        extra=cases,
    )
    path = write_qdpx(tmp_path / "p.qdpx", xml, {"sources/b.txt": "Beta text.".encode("utf-16")})
    inp = read_segments(path)
    assert inp.sources["b"] == "Beta text."  # UTF-16 with BOM
    assert any("coded source 'b' is in no Case" in r["detail"] for r in inp.report)
    with pytest.raises(QualitativeValidationError, match=r"guid=y: source 'b' is in no Case"):
        ingest.ingest(path, ["North"], qual_config={})
    table = tmp_path / "cases.csv"
    table.write_text(
        "source_id,case_id,site,participant_group\na,P1,North,x\nb,P2,North,y\n", encoding="utf-8"
    )
    seg = ingest.ingest(path, ["North"], table)[0]
    assert seg[["case_id", "text"]].values.tolist() == [["P1", "Alpha"], ["P2", "Beta"]]


def test_member_whose_header_understates_its_size_is_refused(tmp_path):
    """A member declaring 10 bytes but holding 5000: never more than the declared size is expanded."""
    path = tmp_path / "liar.qdpx"
    xml = project_xml([{"name": "a", "path": "internal://a.txt"}], origin="x")
    write_qdpx(path, xml, {"sources/a.txt": "y" * 5000})
    data = bytearray(path.read_bytes())
    cd = [i for i in range(len(data)) if data[i : i + 4] == b"PK\x01\x02"]
    struct.pack_into("<I", data, cd[1] + 24, 10)  # uncompressed size in the central directory
    path.write_bytes(bytes(data))
    with pytest.raises(
        QualitativeInputError, match=r"liar\.qdpx: member 'sources/a\.txt' (cannot be read|expands)"
    ):
        read_segments(path)
