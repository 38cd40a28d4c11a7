"""Tests of the qualitative arm: readers (canonical CSV, REFI-QDA .qdpx, QualCoder CSV), validation,
framework matrices of the embedded published extracts (against a hand tally), small-cell rule, joint
display and the HTML report section.

Expected numbers are written out by hand from the papers (Hannigan et al. 2018; Simpson et al. 2016)
and from the fixture files, never computed by cocapp.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

import pandas as pd
import pytest
from stage_inputs import qualitative_inputs

from cocapp.cli import main as cli_main
from cocapp.config import validate_config, with_defaults
from cocapp.contracts import read
from cocapp.qualitative import framework, ingest, qdpx
from cocapp.qualitative.framework import suppress
from cocapp.qualitative.io import QualitativeInputError, read_segments
from cocapp.qualitative.validate import QualitativeValidationError

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "tests" / "fixtures" / "qualitative"
RAW = ROOT / "data" / "raw" / "qualitative"
SITES = ["Artois", "Burgundy", "Champagne", "Dauphine", "Languedoc", "Provence"]
NS = "urn:QDA-XML:project:1.0"

# the fixture's source documents (tests/fixtures/qualitative/segments.csv quotes them)
SOURCES = {
    "int_P1": "I trust my nurse. She listens to me. The forms are endless.",
    "int_P2": "Paperwork takes most of my day. I listen first.",
    "int_P3": "Trust is earned slowly.",
}


# -- helpers ---------------------------------------------------------------------------------------
def qual_config(**qual) -> dict:
    """A minimal valid config (defaults filled in) with the fixture's qualitative section."""
    q = {
        "enabled": True,
        "segments": str(FIX / "segments.csv"),
        "cases": str(FIX / "cases.csv"),
        "codebook": str(FIX / "codebook.csv"),
        "dataset_label": "Fixture extracts, not real interview data",
        "small_cell_threshold": 3,
        "suppress_single_case_extracts": True,
        "joint_display": {
            "group": "service_users",
            "outcomes": [{"instrument": "STAR-P", "scale": "total"}, {"instrument": "RSA", "scale": "total"}],
        },
    }
    q.update(qual)
    q = {k: v for k, v in q.items() if v is not None}
    config = {
        "study": {"name": "test", "synthetic": True},
        "sites": [{"name": s} for s in SITES],
        "groups": {
            "service_users": {
                "raw": "x.csv",
                "id_column": "id",
                "site_column": "site",
                "instruments": ["RSA"],
            }
        },
        "scoring": {"thresholds": [0.0, 0.5], "primary_threshold": 0.5},
        "statistics": {"significance_level": 0.05},
        "qualitative": q,
    }
    return with_defaults(validate_config(config))


CANONICAL = ("segments", "cases", "codes")
FRAMEWORK = {
    "case-theme": "framework_case_theme.csv",
    "site-theme": "framework_site_theme.csv",
    "group-theme": "framework_group_theme.csv",
    "code-frequencies": "code_frequencies_by_site.csv",
    "codebook": "codebook.csv",
}


def published_config(**qual) -> dict:
    """:func:`qual_config` with the embedded default's published extracts (segments, cases, codebook)."""
    files = {k: str(RAW / f"{k}.csv") for k in ("segments", "cases", "codebook")}
    return qual_config(**files, **qual)


def ingest_args(config: dict, out: Path) -> list:
    """``cocapp qualitative-ingest`` reading the qualitative files of ``config``, writing the canonical
    tables into ``out``."""
    return qualitative_inputs(config) + [
        x for name in CANONICAL for x in (f"--out-{name}", out / f"{name}.csv")
    ]


def framework_args(out: Path) -> list:
    """``cocapp qualitative-framework`` reading the canonical tables of ``out`` and writing there."""
    canonical = [x for name in CANONICAL for x in (f"--{name}", out / f"{name}.csv")]
    return canonical + [x for option, file in FRAMEWORK.items() for x in (f"--{option}", out / file)]


def joint_args(
    config: dict, out: Path, descriptives: Path = FIX / "descriptives.csv", tukey: Path = FIX / "tukey.csv"
) -> list:
    """``cocapp joint-display`` on the canonical and framework tables of ``out`` (the interview counts
    of ``config`` when it names them) and the survey statistics."""
    canonical = [x for name in CANONICAL for x in (f"--{name}", out / f"{name}.csv")]
    interviews = (config.get("qualitative") or {}).get("interviews")
    shown = [
        x for option, file in FRAMEWORK.items() if option != "case-theme" for x in (f"--{option}", out / file)
    ]
    return canonical + [
        *("--descriptives", descriptives, "--tukey", tukey),
        *(("--interviews", interviews) if interviews else ()),
        *shown,
        *("--joint", out / "joint_display.csv", "--section", out / "qualitative_section.html"),
    ]


def el(tag: str, parent: ET.Element | None = None, text: str | None = None, **attrs: str) -> ET.Element:
    e = (
        ET.Element(f"{{{NS}}}{tag}", attrs)
        if parent is None
        else ET.SubElement(parent, f"{{{NS}}}{tag}", attrs)
    )
    if text is not None:
        e.text = text
    return e


def build_qdpx(
    path: Path, *, end_override: int | None = None, bad_coderef: bool = False, sources_as_files: bool = False
) -> Path:
    """Write the fixture's content as a REFI-QDA project, element by element from the standard."""
    segs = pd.read_csv(FIX / "segments.csv", dtype=str)
    cases = pd.read_csv(FIX / "cases.csv", dtype=str)
    users = {"alice": "u-alice", "bob": "u-bob"}
    project = el("Project", name="fixture", origin="cocapp test")
    us = el("Users", project)
    for name, guid in users.items():
        el("User", us, guid=guid, name=name)
    codes = el("Codes", el("CodeBook", project))
    code_guid = {}
    for theme, children in [("Relationships", ["trust", "listening"]), ("System", ["paperwork"])]:
        t = el("Code", codes, guid=f"c-{theme}", name=theme, isCodable="false")
        for child in children:
            c = el("Code", t, guid=f"c-{child}", name=child, isCodable="true")
            el("Description", c, text=f"definition of {child}")
            code_guid[child] = f"c-{child}"
    variables = el("Variables", project)
    el("Variable", variables, guid="v-site", name="site", typeOfVariable="Text")
    el("Variable", variables, guid="v-group", name="participant_group", typeOfVariable="Text")
    cs = el("Cases", project)
    for rec in cases.to_dict("records"):
        case = el("Case", cs, guid=f"k-{rec['case_id']}", name=rec["case_id"])
        for var, col in [("v-site", "site"), ("v-group", "participant_group")]:
            vv = el("VariableValue", case)
            el("VariableRef", vv, targetGUID=var)
            el("TextValue", vv, text=rec[col])
        el("SourceRef", case, targetGUID=f"s-{rec['case_id'].replace('P', 'int_P')}")
    srcs = el("Sources", project)
    files = {}
    for name, text in SOURCES.items():
        if sources_as_files:
            s = el("TextSource", srcs, guid=f"s-{name}", name=name, plainTextPath=f"internal://{name}.txt")
            files[f"sources/{name}.txt"] = text
        else:
            s = el("TextSource", srcs, guid=f"s-{name}", name=name)
            el("PlainTextContent", s, text=text)
        for i, rec in enumerate(segs[segs["source_id"] == name].to_dict("records")):
            end = str(end_override) if end_override is not None else rec["end"]
            sel = el(
                "PlainTextSelection",
                s,
                guid=f"sel-{name}-{i}",
                startPosition=rec["start"],
                endPosition=end,
                creatingUser=users[rec["coder"]],
            )
            coding = el("Coding", sel, guid=f"cd-{name}-{i}", creatingUser=users[rec["coder"]])
            el("CodeRef", coding, targetGUID="c-nowhere" if bad_coderef else code_guid[rec["code"]])
    ET.register_namespace("", NS)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", ET.tostring(project, encoding="utf-8", xml_declaration=True))
        for member, text in files.items():
            zf.writestr(member, text)
    return path


@pytest.fixture
def ingest_fails(cocapp_stage, tmp_path):
    """Run ``qualitative-ingest`` that must fail: exit code 1, every message in its log, no output."""

    def run(config: dict, *messages: str) -> str:
        out = tmp_path / "derived" / "qualitative"
        code, log = cocapp_stage("qualitative-ingest", config, *ingest_args(config, out))
        assert code == 1, log
        for m in messages:
            assert m in log, f"{m!r} not in: {log}"
        assert not out.exists() or not any(out.iterdir()), list(out.iterdir())
        return log

    return run


# -- readers: the same content in three formats ----------------------------------------------------
def test_qdpx_and_csv_give_identical_canonical_tables(tmp_path):
    from_csv = ingest.ingest(FIX / "segments.csv", SITES, FIX / "cases.csv", FIX / "codebook.csv")
    qdpx = build_qdpx(tmp_path / "fixture.qdpx")
    from_qdpx = ingest.ingest(qdpx, SITES, FIX / "cases.csv", FIX / "codebook.csv")
    pd.testing.assert_frame_equal(from_csv[0], from_qdpx[0])
    pd.testing.assert_frame_equal(from_csv[1], from_qdpx[1])
    # the project's own cases (variables) and codebook (nested codes) serve when no files are given
    seg_own, cases_own, codes_own = ingest.ingest(qdpx, SITES)
    pd.testing.assert_frame_equal(from_csv[0], seg_own)
    assert cases_own[["case_id", "site", "participant_group"]].values.tolist() == [
        ["P1", "Artois", "service_user"],
        ["P2", "Burgundy", "care_coordinator"],
        ["P3", "Burgundy", "care_coordinator"],
    ]
    assert codes_own["code_path"].tolist() == [
        "Relationships",
        "Relationships/trust",
        "Relationships/listening",
        "System",
        "System/paperwork",
    ]
    # sources stored as files inside the archive (plainTextPath internal://) read the same
    as_files = ingest.ingest(
        build_qdpx(tmp_path / "files.qdpx", sources_as_files=True),
        SITES,
        FIX / "cases.csv",
        FIX / "codebook.csv",
    )
    pd.testing.assert_frame_equal(from_csv[0], as_files[0])


def test_canonical_content_of_fixture():
    seg, _, _ = ingest.ingest(FIX / "segments.csv", SITES, FIX / "cases.csv", FIX / "codebook.csv")
    # sorted by site, case, source, start, end, theme, code (codebook order)
    assert seg[["case_id", "code", "start", "end", "text"]].values.tolist() == [
        ["P1", "trust", 0, 17, "I trust my nurse."],
        ["P1", "listening", 18, 36, "She listens to me."],
        ["P1", "paperwork", 37, 59, "The forms are endless."],
        ["P2", "paperwork", 0, 31, "Paperwork takes most of my day."],
        ["P2", "trust", 32, 47, "I listen first."],
        ["P2", "listening", 32, 47, "I listen first."],
        ["P3", "trust", 0, 23, "Trust is earned slowly."],
    ]
    assert seg["code_path"].iloc[0] == "Relationships/trust"
    assert seg["source_label"].tolist() == seg["source_id"].tolist()


def test_qualcoder_export_matches_csv_except_offsets():
    inp = read_segments(FIX / "qualcoder_export.csv")
    assert inp.kind == "qualcoder"
    from_qc = ingest.ingest(FIX / "qualcoder_export.csv", SITES, FIX / "cases.csv", FIX / "codebook.csv")[0]
    from_csv = ingest.ingest(FIX / "segments.csv", SITES, FIX / "cases.csv", FIX / "codebook.csv")[0]
    cols = [
        "source_id",
        "case_id",
        "site",
        "participant_group",
        "theme",
        "code",
        "code_path",
        "text",
        "coder",
    ]
    # QualCoder exports no offsets: same rows as a set, offsets empty
    key = cols
    assert sorted(map(tuple, from_qc[key].values.tolist())) == sorted(
        map(tuple, from_csv[key].values.tolist())
    )
    assert from_qc["start"].isna().all() and from_qc["end"].isna().all()


# -- validation ------------------------------------------------------------------------------------
def _write_segments(tmp: Path, edit) -> Path:
    df = pd.read_csv(FIX / "segments.csv", dtype=str)
    edit(df)
    path = tmp / "segments.csv"
    df.to_csv(path, index=False)
    return path


def test_unknown_code_names_file_row_and_value(tmp_path, ingest_fails):
    seg = _write_segments(tmp_path, lambda d: d.__setitem__("code", d["code"].where(d.index != 1, "hope")))
    ingest_fails(
        qual_config(segments=str(seg)),
        "segments.csv row 2: code 'hope' is not in the codebook (codebook.csv)",
    )


def test_unknown_case_names_file_row_and_value(tmp_path, ingest_fails):
    def edit(d):
        d.loc[6, "case_id"] = "P9"
        d.loc[6, "site"] = None

    ingest_fails(
        qual_config(segments=str(_write_segments(tmp_path, edit))),
        "segments.csv row 7: case 'P9' is not in the case table (cases.csv)",
    )


def test_qdpx_offset_beyond_text(tmp_path, ingest_fails):
    qdpx = build_qdpx(tmp_path / "bad.qdpx", end_override=9999)
    err = ingest_fails(
        qual_config(segments=str(qdpx)),
        "project.qde: PlainTextSelection guid=sel-int_P1-0: endPosition 9999 beyond text length 59 "
        "of source 'int_P1'",
        "project.qde: PlainTextSelection guid=sel-int_P3-0: endPosition 9999 beyond text length 23 "
        "of source 'int_P3'",
    )
    assert "7 problem(s)" in err  # all problems reported together


def test_qdpx_coderef_to_no_code(tmp_path, ingest_fails):
    ingest_fails(
        qual_config(segments=str(build_qdpx(tmp_path / "bad.qdpx", bad_coderef=True))),
        "project.qde: PlainTextSelection guid=sel-int_P1-0: CodeRef targetGUID=c-nowhere refers to no Code",
    )


def test_malformed_zip(tmp_path, ingest_fails):
    bad = tmp_path / "broken.qdpx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    ingest_fails(
        qual_config(segments=str(bad)),
        "broken.qdpx: not a REFI-QDA project: not a valid zip archive",
    )


def test_qdpx_without_project_qde_and_with_bad_xml(tmp_path):
    empty = tmp_path / "empty.qdpx"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", "no project here")
    with pytest.raises(QualitativeInputError, match="empty.qdpx: project.qde not found in the archive"):
        read_segments(empty)
    bad = tmp_path / "badxml.qdpx"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("project.qde", "<Project xmlns='urn:QDA-XML:project:1.0'><Sources>")
    with pytest.raises(QualitativeInputError, match="badxml.qdpx: project.qde: not well-formed XML"):
        read_segments(bad)


def test_offsets_start_not_before_end_and_text_length(tmp_path):
    def edit(d):
        d.loc[0, "end"] = "0"  # start 0, end 0
        d.loc[1, "end"] = "30"  # text has 18 characters, 30 - 18 = 12

    seg = _write_segments(tmp_path, edit)
    with pytest.raises(QualitativeValidationError) as exc:
        ingest.ingest(seg, SITES, FIX / "cases.csv", FIX / "codebook.csv")
    assert exc.value.problems == [
        "segments.csv row 1: start 0 is not before end 0",
        "segments.csv row 2: text has 18 characters but end - start = 12",
    ]


def test_same_code_overlap_and_disagreeing_text(tmp_path):
    def edit(d):
        extra = d.iloc[[0]].copy()  # trust on "I trust my nurse." again, shifted: overlaps row 1
        extra["start"], extra["end"], extra["text"] = "2", "19", "trust my nurse. S"
        d.loc[len(d)] = extra.iloc[0]
        d.loc[len(d) - 1, "code"] = "trust"
        d.loc[2, "text"] = "The forms are END1ess."

    seg = _write_segments(tmp_path, edit)
    with pytest.raises(QualitativeValidationError) as exc:
        ingest.ingest(seg, SITES, FIX / "cases.csv", FIX / "codebook.csv")
    msg = str(exc.value)
    assert (
        "segments.csv row 8: overlaps segments.csv row 1 "
        "(characters 2-17 of source 'int_P1' coded 'trust' twice by 'alice')" in msg
    )
    # row 8 quotes characters 2-19 of int_P1 correctly, so only the same-code overlap is reported;
    # row 3 overlaps nothing, so its typo cannot be seen from a CSV (no source text): no false alarm
    assert "disagrees" not in msg


def test_overlapping_segments_must_quote_the_same_text(tmp_path):
    def edit(d):
        d.loc[len(d)] = d.iloc[2]  # paperwork on characters 2-7 of int_P1, which read "trust"
        d.loc[len(d) - 1, ["start", "end", "text"]] = ["2", "7", "TRUST"]

    seg = _write_segments(tmp_path, edit)
    with pytest.raises(QualitativeValidationError) as exc:
        ingest.ingest(seg, SITES, FIX / "cases.csv", FIX / "codebook.csv")
    assert exc.value.problems == [
        "segments.csv row 8: text disagrees with segments.csv row 1 at character 2 of source 'int_P1' "
        "('T' vs 't'); overlapping segments must quote the same text"
    ]


def test_case_table_problems(tmp_path):
    cases = pd.read_csv(FIX / "cases.csv", dtype=str)
    cases.loc[2, "site"] = "Atlantis"
    cases.loc[len(cases)] = ["P1", "Artois", "service_user", "x"]
    path = tmp_path / "cases.csv"
    cases.to_csv(path, index=False)
    with pytest.raises(QualitativeValidationError) as exc:
        ingest.ingest(FIX / "segments.csv", SITES, path, FIX / "codebook.csv")
    assert "cases.csv row 3: case 'P3': site 'Atlantis' is not a configured site" in str(exc.value)
    assert "cases.csv row 4: case 'P1' appears twice in the case table (also cases.csv row 1)" in str(
        exc.value
    )


def test_more_cases_than_interviews(tmp_path):
    iv = tmp_path / "interviews.csv"
    iv.write_text("site,participant_group,n_interviewed\nBurgundy,care_coordinator,1\n", encoding="utf-8")
    with pytest.raises(
        QualitativeValidationError,
        match="2 cases of site 'Burgundy', participant_group 'care_coordinator', but only 1 interviews",
    ):
        ingest.ingest(FIX / "segments.csv", SITES, FIX / "cases.csv", FIX / "codebook.csv", iv)


# -- embedded default: published extracts ------------------------------------------------------------
T1 = "Engaging, attending and supporting recovery"
T2 = "Connecting and mobilising"
T3 = "Accommodating and adjusting"

# Hand tally from the papers (see data/raw/qualitative/README.md): site -> theme -> (cases, segments).
HAND_TALLY = {
    "Artois": {T1: (3, 6), T2: (0, 0), T3: (5, 7)},
    "Burgundy": {T1: (5, 6), T2: (1, 1), T3: (4, 6)},
    "Champagne": {T1: (5, 5), T2: (1, 1), T3: (2, 3)},
    "Dauphine": {T1: (2, 2), T2: (2, 2), T3: (5, 7)},
    "Languedoc": {T1: (3, 3), T2: (1, 1), T3: (2, 3)},
    "Provence": {T1: (1, 1), T2: (1, 1), T3: (4, 5)},
}
# participant group -> theme -> (cases, segments)
HAND_TALLY_GROUP = {
    "care_coordinator": {T1: (7, 8), T2: (5, 5), T3: (8, 13)},
    "senior_manager": {T1: (3, 3), T2: (0, 0), T3: (5, 7)},
    "senior_practitioner": {T1: (3, 3), T2: (1, 1), T3: (7, 9)},
    "service_user": {T1: (4, 7), T2: (0, 0), T3: (1, 1)},
    "carer": {T1: (2, 2), T2: (0, 0), T3: (1, 1)},
}

# Every published extract: (label as printed, opening words, site, theme). Hannigan et al. 2018 places
# its extracts under its three themes; Simpson et al. 2016 extracts were assigned by the maintainers.
PUBLISHED = [
    ("Care coordinator 2, Languedoc (England)", "They get a full package of care", "Languedoc", T1),
    ("Care coordinator 3, Burgundy (Wales)", "[...] to make the patient feel relaxed", "Burgundy", T1),
    ("Care coordinator 2, Artois (England)", "Within the care programme approach", "Artois", T1),
    ("Care coordinator 3, Burgundy (Wales)", "[...] the important bit for me", "Burgundy", T1),
    ("Care coordinator 3, Languedoc (England)", "I think, it's definitely become", "Languedoc", T1),
    ("Care coordinator 6, Dauphine (England)", "It's about them, it's their need", "Dauphine", T1),
    ("Care coordinator 4, Champagne (Wales)", "[...] some people do participate", "Champagne", T1),
    ("Care coordinator 3, Burgundy (Wales)", "Let's say, for instance, if a patient", "Burgundy", T2),
    ("Care coordinator 2, Champagne (Wales)", "[...] I hope they would know", "Champagne", T2),
    ("Care coordinator 1, Provence (England)", "I think as a care coordinator what", "Provence", T2),
    ("Care coordinator 1, Dauphine (England)", "[...] you've got to be very strong", "Dauphine", T2),
    ("Care coordinator 2, Languedoc (England)", "[...] to sit down, have a look", "Languedoc", T2),
    ("Care coordinator 4, Burgundy (Wales)", "One of the annoying things", "Burgundy", T3),
    ("Care coordinator 2, Dauphine (England)", "[...] it becomes more a paper exercise", "Dauphine", T3),
    ("Care coordinator 5, Provence (England)", "[...] with the best will in the world", "Provence", T3),
    ("Care coordinator 1, Artois (England)", "[...] for other people, when you say", "Artois", T3),
    ("Care coordinator 1, Champagne (Wales)", "[...] I think since our team", "Champagne", T3),
    (
        "Care coordinator 4, Burgundy (Wales)",
        "I think sometimes, rather than having more clout",
        "Burgundy",
        T3,
    ),
    ("Care coordinator 1, Artois (England)", "I think it's good to have a main named", "Artois", T3),
    ("Care coordinator 1, Champagne (Wales)", "[...] I think anyone who comes into", "Champagne", T3),
    ("Care coordinator 5, Champagne (Wales)", "And I think for those patients", "Champagne", T3),
    ("L-SM-001", "Very rarely you would find a social worker", "Languedoc", T3),
    ("B-SM-001", "...provided the impetus", "Burgundy", T3),
    ("P-CC-002", "The CPA computer system’s awful", "Provence", T3),
    ("A-SM-002", "...it’s almost like it’s [the CPA] been hijacked", "Artois", T3),
    ("P-SM-002", "...obviously, you’re pleasing two beasts", "Provence", T3),
    ("D-CC-002", "Paperwork for instance takes probably up to like 75 %", "Dauphine", T3),
    ("D-SP-005", "...another layer of paperwork", "Dauphine", T3),
    ("B-SP-003", "...in most cases, they see it [the CTP]", "Burgundy", T3),
    ("B-SM-002", "...we do something very similar", "Burgundy", T3),
    ("D-SP-001", "...the role is so complex", "Dauphine", T2),
    ("A-SP-005", "...whatever discipline you are", "Artois", T3),
    ("B-SP-003", "...extra demands of doing the [CTP] paperwork", "Burgundy", T3),
    ("C-CC-005", "...it's very much [the service user's]", "Champagne", T1),
    ("D-SM-002", "...a certain number of our care plans", "Dauphine", T1),
    ("A-SU-002", "...the form is a prompt for them", "Artois", T1),
    ("A-SP-002", "...the topmost heading", "Artois", T1),
    ("C-SP-002", "...very much at the forefront", "Champagne", T1),
    ("L-SM-002", "...the thing that we score best on", "Languedoc", T1),
    ("B-SM-001", "...[the risk assessment is] one thing", "Burgundy", T1),
    ("C-SU-005", "...[at home] nobody's checked up on me", "Champagne", T1),
    ("A-SU-002", "[I] stick them in a drawer somewhere", "Artois", T3),
    ("B-CA-004", "...it makes no difference to us", "Burgundy", T1),
    ("C-SP-001", "...providing hope, and delivering a service", "Champagne", T1),
    ("D-SP-001", "[I] have not heard the word recovery mentioned", "Dauphine", T3),
    ("L-SM-001", "...when everybody started to talk about recovery", "Languedoc", T3),
    ("P-SP-002", "I've got people on care packages", "Provence", T3),
    ("A-SU-002", "...finding the best way to live", "Artois", T1),
    ("P-SU-001", "I think the thing I found most helpful", "Provence", T1),
    ("D-CA-002", "You can write anything on a piece of paper", "Dauphine", T3),
    ("A-SU-002", "Nobody can write a WRAP plan for me", "Artois", T1),
    ("D-CC- 004", "I suppose often care co-ordinators", "Dauphine", T3),
    ("A-SP-004", "...there's tensions about how it works", "Artois", T3),
    ("D-SP-005", "...[clustering is] not personalised", "Dauphine", T3),
    ("A-SM-002", "...whilst very attractive and trendy", "Artois", T3),
    ("A-SU-002", "It means putting the person at the centre", "Artois", T1),
    ("B-SU-001", "...tailoring the plan around me", "Burgundy", T1),
    ("B-CA-003", "...[it's] rubbish... what care?", "Burgundy", T1),
    ("L-SP-002", "...absolutely dire", "Languedoc", T3),
    ("P-CC-002", "I think again if you give someone complete full reins", "Provence", T3),
]


@pytest.fixture(scope="module")
def default_tables():
    return ingest.ingest(
        RAW / "segments.csv", SITES, RAW / "cases.csv", RAW / "codebook.csv", RAW / "interviews.csv"
    )


def test_default_has_every_published_extract_once(default_tables):
    seg = default_tables[0]
    assert len(seg) == 60 == len(PUBLISHED)
    assert seg["case_id"].nunique() == 41
    for label, opening, site, theme in PUBLISHED:
        hits = seg[(seg["source_label"] == label) & seg["text"].str.startswith(opening, na=False)]
        assert len(hits) == 1, (label, opening)
        assert hits["site"].iloc[0] == site, (label, opening)
        assert hits["theme"].iloc[0] == theme, (label, opening)


def test_default_labels_match_sites_and_groups(default_tables):
    seg = default_tables[0]
    code_site = {
        "A": "Artois",
        "B": "Burgundy",
        "C": "Champagne",
        "D": "Dauphine",
        "L": "Languedoc",
        "P": "Provence",
    }
    groups = {
        "CC": "care_coordinator",
        "SM": "senior_manager",
        "SP": "senior_practitioner",
        "SU": "service_user",
        "CA": "carer",
    }
    for rec in seg.to_dict("records"):
        m = re.fullmatch(r"([ABCDLP])-(CC|SM|SP|SU|CA)- ?\d{3}", rec["source_label"])
        if m:
            assert (rec["site"], rec["participant_group"]) == (code_site[m.group(1)], groups[m.group(2)])
        else:
            m = re.fullmatch(r"Care coordinator (\d), (\w+) \((England|Wales)\)", rec["source_label"])
            assert m, rec["source_label"]
            assert rec["site"] == m.group(2) and rec["participant_group"] == "care_coordinator"
            # site code = initial of the site pseudonym; numbering assumed shared with Simpson et al. 2016
            assert rec["case_id"] == f"{m.group(2)[0]}-CC-00{m.group(1)}"


def test_default_site_theme_matrix_matches_hand_tally(default_tables):
    seg, cases, codes = default_tables
    m = framework.site_theme_matrix(seg, cases, codes, SITES)
    got = {(r["site"], r["theme"]): (r["n_cases"], r["n_segments"]) for r in m.to_dict("records")}
    want = {(s, t): v for s, themes in HAND_TALLY.items() for t, v in themes.items()}
    assert got == want
    # each published extract is quoted in its site x theme cell with its label
    for label, opening, site, theme in PUBLISHED:
        cell = m[(m["site"] == site) & (m["theme"] == theme)]["extracts"].iloc[0]
        assert f"“{opening}" in cell and f"[{label}]" in cell, (label, opening)


def test_default_group_theme_matrix_matches_hand_tally(default_tables):
    seg, cases, codes = default_tables
    m = framework.group_theme_matrix(seg, cases, codes)
    got = {
        (r["participant_group"], r["theme"]): (r["n_cases"], r["n_segments"]) for r in m.to_dict("records")
    }
    assert got == {(g, t): v for g, themes in HAND_TALLY_GROUP.items() for t, v in themes.items()}
    assert m.drop_duplicates("participant_group")["n_cases_group"].tolist() == [17, 7, 10, 4, 3]


def test_default_codebook_counts(default_tables):
    seg, _, codes = default_tables
    cb = framework.codebook_table(seg, codes)
    got = dict(zip(cb["code"], zip(cb["n_cases"], cb["n_segments"], strict=True), strict=True))
    assert got["care coordination – as administration"] == (
        7,
        8,
    )  # B-CC-004, D-CC-002, B-SP-003 x2, A-SU-002, D-CA-002, D-CC-004, L-SP-002
    assert got["care coordination – as articulation work"] == (5, 5)
    assert got["risk and safety"] == (5, 5)
    assert got["relational work"] == (2, 2)
    assert cb["n_segments"].sum() == 60
    assert len(cb) == 16 and cb["theme"].nunique() == 3


def test_small_cell_rule_on_published_matrix(tmp_path, cocapp_stage):
    cfg = published_config()
    out = tmp_path / "derived" / "qualitative"
    assert cocapp_stage("qualitative-ingest", cfg, *ingest_args(cfg, out))[0] == 0
    code, log = cocapp_stage("qualitative-framework", cfg, *framework_args(out))
    assert code == 0, log
    site = pd.read_csv(out / "framework_site_theme.csv", dtype=str, keep_default_na=False)
    assert site["qualitative_dataset"].eq("Fixture extracts, not real interview data").all()
    burgundy_t2 = site[(site["site"] == "Burgundy") & (site["theme"] == T2)].iloc[0]
    assert (burgundy_t2["n_cases"], burgundy_t2["n_segments"], burgundy_t2["extracts"]) == ("<3", "<3", "")
    assert burgundy_t2["note"] == "extracts withheld: fewer than 3 cases"
    dauphine_t1 = site[(site["site"] == "Dauphine") & (site["theme"] == T1)].iloc[0]
    assert (dauphine_t1["n_cases"], dauphine_t1["n_segments"]) == ("<3", "<3")
    # issue 14: a two-case cell is withheld like a one-case cell, with the same note (the note of the old
    # rule, "single-case cell", told the two apart and so revealed the count)
    assert (dauphine_t1["extracts"], dauphine_t1["note"]) == ("", burgundy_t2["note"])
    artois_t2 = site[(site["site"] == "Artois") & (site["theme"] == T2)].iloc[0]
    assert (artois_t2["n_cases"], artois_t2["n_segments"]) == ("0", "0")
    artois_t3 = site[(site["site"] == "Artois") & (site["theme"] == T3)].iloc[0]
    assert (artois_t3["n_cases"], artois_t3["n_segments"]) == ("5", "7")
    case = pd.read_csv(out / "framework_case_theme.csv", dtype=str, keep_default_na=False)
    assert (case["extracts"] == "").all()  # every case x theme cell holds one case
    for name in ["framework_group_theme.csv", "code_frequencies_by_site.csv", "codebook.csv"]:
        t = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        for col in [c for c in t.columns if c.startswith("n_")]:
            assert not t[col].isin(["1", "2"]).any(), (name, col)
    _check_framework_files_reveal_nothing(out)


def _check_framework_files_reveal_nothing(out: Path) -> None:
    """The published framework CSVs follow the report's small-cell rule (issue 14): every cell whose
    case count is suppressed shows no extract and one and the same note, a cell with a shown count
    carries no note, and no file mentions single cases."""
    notes = set()
    for name in ("framework_case_theme.csv", "framework_site_theme.csv", "framework_group_theme.csv"):
        t = pd.read_csv(out / name, dtype=str, keep_default_na=False)
        small = t["n_cases"].str.startswith("<")
        assert small.any() and (t.loc[small, "extracts"] == "").all(), name
        assert (t.loc[~small, "note"] == "").all(), name
        notes |= set(t.loc[small, "note"])
    assert notes == {"extracts withheld: fewer than 3 cases"}
    for f in out.glob("*.csv"):
        assert "single-case" not in f.read_text("utf-8"), f.name


def test_suppress_threshold_and_switch():
    t = pd.DataFrame({"n_cases": [1, 4], "n_segments": [4, 5], "extracts": ["a", "b"]})
    s = suppress(t, 5, suppress_single_case_extracts=False)
    assert s[["n_cases", "n_segments", "extracts", "note"]].values.tolist() == [
        ["<5", "<5", "a", ""],
        ["<5", "5", "b", ""],
    ]


# -- joint display and report section ------------------------------------------------------------------
def test_joint_display_stage(tmp_path, cocapp_stage):
    cfg = published_config(interviews=str(RAW / "interviews.csv"))
    out = tmp_path / "derived" / "qualitative"
    assert cocapp_stage("qualitative-ingest", cfg, *ingest_args(cfg, out))[0] == 0
    assert cocapp_stage("qualitative-framework", cfg, *framework_args(out))[0] == 0
    code, log = cocapp_stage("joint-display", cfg, *joint_args(cfg, out))
    assert code == 0, log
    jd = pd.read_csv(out / "joint_display.csv", dtype=str, keep_default_na=False)
    assert jd["site"].tolist() == SITES
    b = jd.set_index("site").loc["Burgundy"]
    # fixture: STAR-P total at threshold 0.5 = 30 + site index + 0.25; n = 40 + index
    assert (b["star_p_total_mean"], b["star_p_total_n"], b["star_p_total_ci_low"]) == ("31.25", "41", "30.25")
    assert b["star_p_total_tukey_significant"] == (
        "higher than Artois (difference 3.98, p_adj 0.004); "
        "higher than Provence (difference 6.16, p_adj 0.004)"
    )
    assert b["rsa_total_tukey_significant"] == "none"  # RSA pairs are significant only at threshold 0.0
    p = jd.set_index("site").loc["Provence"]
    assert p["star_p_total_tukey_significant"] == "lower than Burgundy (difference -6.16, p_adj 0.004)"
    # qualitative coverage, small cells suppressed; interviews from Simpson et al. 2016 Table 1
    assert (b["n_interviewed"], b["n_cases"], b["n_segments"]) == ("17", "8", "13")
    assert (
        b["n_cases_engaging_attending_and_supporting_recovery"],
        b["n_cases_connecting_and_mobilising"],
        b["n_cases_accommodating_and_adjusting"],
    ) == ("5", "<3", "4")
    assert b["themes_covered"] == f"{T1}; {T2}; {T3}"
    # representative: theme with most cases (T1: 5), its most frequent code (tailoring: 3 segments),
    # the case with most T1 segments at Burgundy (B-CC-003: 2)
    assert b["representative_theme"] == T1
    assert b["representative_source"] == "Care coordinator 3, Burgundy (Wales)"
    assert b["representative_extract"].startswith("[...] the important bit for me")
    assert jd["qualitative_dataset"].eq("Fixture extracts, not real interview data").all()
    assert jd["survey_data_synthetic"].eq("True").all()  # the test config says study.synthetic: true

    html = (out / "qualitative_section.html").read_text("utf-8")
    assert "Fixture extracts, not real interview data" in html
    assert "The survey numbers here come from synthetic data" in html
    assert "<cite>[Care coordinator 3, Burgundy (Wales)]</cite>" in html
    # issue 14: the report withholds the extracts of every small cell alike (Dauphine x T1 holds two
    # cases: quoting it would tell it from a single-case cell) and never counts a small cell's extracts;
    # D-SM-002 is still quoted in the larger participant-group cell
    assert html.count("<cite>[D-SM-002]</cite>") == 1
    assert "&lt;3" in html and "single-case" not in html
    _check_small_cells_reveal_nothing(html)
    assert "31.25 (30.25 to 32.25), 41" in html
    _check_balanced(html)


def test_section_numbers_trace_to_the_lines_of_the_published_files(tmp_path, cocapp_stage):
    """Issue 14: the joint-display stage, given the framework files as the workflow gives them, shows
    their counts, and every count of the section's tables carries a trace (file stem, line, columns)
    that leads to a record of joint_display.csv or of a framework file showing it; records with
    line breaks (extracts) are counted by the line they start on."""
    from report_traces import Files, cell_trace, follow, is_number, parse

    cfg = published_config(interviews=str(RAW / "interviews.csv"))
    out = tmp_path / "derived" / "qualitative"
    assert cocapp_stage("qualitative-ingest", cfg, *ingest_args(cfg, out))[0] == 0
    assert cocapp_stage("qualitative-framework", cfg, *framework_args(out))[0] == 0
    shown = [out / f for k, f in FRAMEWORK.items() if k != "case_theme"]
    code, log = cocapp_stage("joint-display", cfg, *joint_args(cfg, out))
    assert code == 0, log
    html = (out / "qualitative_section.html").read_text("utf-8")
    tables, _ = parse(html)
    names = [f.stem for f in shown] + ["joint_display"]
    files = Files(out, {"src": {n: [f"{n}.csv", "", ""] for n in names}})
    site_csv = (out / "framework_site_theme.csv").read_text("utf-8")
    assert site_csv.count("\n") > len(pd.read_csv(out / "framework_site_theme.csv")) + 1  # multi-line
    checked: dict[str, int] = {}
    for t in tables:
        for row in t["rows"]:
            for j, cell in enumerate(row["cells"]):
                text = cell["text"].strip()
                if cell["tag"] != "td" or not any(ch.isdigit() for ch in text):
                    continue
                trace = cell_trace(t, row, j)
                if trace is None:  # only text that quotes numbers (Tukey contrasts, extracts) is untraced
                    assert not is_number(text) and not text[:1].isdigit(), (t["id"], text)
                    continue
                follow(trace, text, files)
                checked[t["id"]] = checked.get(t["id"], 0) + 1
    assert set(checked) == {
        "joint-display", "framework-site-theme", "framework-group-theme", "code-frequencies", "codebook",
    }  # fmt: skip
    # a changed count in a file is caught at the cell that shows it
    site = pd.read_csv(out / "framework_site_theme.csv", dtype=str, keep_default_na=False)
    i = site.index[site["n_cases"] == "5"][0]
    site.loc[i, "n_cases"] = "6"
    site.to_csv(out / "framework_site_theme.csv", index=False, lineterminator="\n")
    with pytest.raises(AssertionError, match="framework_site_theme"):
        for t in tables:
            for row in t["rows"]:
                for j, cell in enumerate(row["cells"]):
                    trace = cell_trace(t, row, j)
                    if trace and trace.startswith("framework_site_theme|"):
                        follow(trace, cell["text"].strip(), Files(out, {"src": files.src}))


def _check_small_cells_reveal_nothing(html: str) -> None:
    """Every framework cell whose case count is suppressed ("<3") carries the same note and no extract;
    a summary counts extracts only where the segment count is shown; no joint-display extract comes from
    a theme whose count at the site is suppressed."""
    cells = re.findall(
        r'<td[^>]*><span class="counts">(.*?) cases, (.*?) segments</span>(.*?)</td>', html, re.S
    )
    assert cells
    small = [c for c in cells if c[0] == "&lt;3"]
    assert small and all(
        "extracts withheld: fewer than 3 cases" in rest and "<blockquote" not in rest for _, _, rest in small
    )
    for _, n_seg, rest in cells:
        for summary in re.findall(r"<summary>(.*?)</summary>", rest):
            assert (summary == "extracts") == (n_seg == "&lt;3"), (n_seg, summary)
    joint = html.split('<table class="joint-display"', 1)[1].split("</table>", 1)[0]
    heads = re.findall(r"<th[^>]*>(.*?)</th>", joint.split("</thead>")[0])
    themes = [h.removeprefix("Cases: ") for h in heads if h.startswith("Cases: ")]
    first = heads.index(f"Cases: {themes[0]}")
    rows = re.findall(r"<tr[^>]*><th scope=\"row\">.*?</tr>", joint.split("<tbody>")[1], re.S)
    assert rows and themes
    for row in rows:
        tds = re.findall(r"<td>(.*?)</td>", row, re.S)
        counts = dict(zip(themes, tds[first - 1 : first - 1 + len(themes)], strict=True))
        m = re.search(r'<span class="theme">\((.*?)\)</span>', row)
        if m:
            assert counts[m.group(1).replace("&amp;", "&")] != "&lt;3", row[:200]


def _check_balanced(html: str) -> None:
    """The fragment's tags nest properly (void elements aside)."""
    void = {"br", "meta", "img", "hr", "input"}

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag not in void:
                self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
            self.stack.pop()

    p = P()
    p.feed(html)
    assert p.stack == []


def test_joint_display_missing_outcome_fails_without_output(tmp_path, cocapp_stage):
    cfg = qual_config(
        joint_display={"group": "service_users", "outcomes": [{"instrument": "ES", "scale": "total"}]},
    )
    out = tmp_path / "derived" / "qualitative"
    assert cocapp_stage("qualitative-ingest", cfg, *ingest_args(cfg, out))[0] == 0
    assert cocapp_stage("qualitative-framework", cfg, *framework_args(out))[0] == 0
    before = sorted(p.name for p in out.iterdir())
    rc, err = cocapp_stage("joint-display", cfg, *joint_args(cfg, out))
    assert rc == 1
    assert (
        "descriptives.csv: expected one row for group 'service_users', instrument 'ES', scale 'total', "
        "threshold 0.5, site 'Artois'; found 0" in err
    )
    assert sorted(p.name for p in out.iterdir()) == before  # nothing new, no temporary files


def test_stage_outputs_are_deterministic(tmp_path, cocapp_stage):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name / "derived" / "qualitative"
        assert cocapp_stage("qualitative-ingest", qual_config(), *ingest_args(qual_config(), out))[0] == 0
        assert cocapp_stage("qualitative-framework", qual_config(), *framework_args(out))[0] == 0
        runs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert runs[0] == runs[1]
    assert set(runs[0]) == {
        "segments.csv",
        "cases.csv",
        "codes.csv",
        "framework_case_theme.csv",
        "framework_site_theme.csv",
        "framework_group_theme.csv",
        "code_frequencies_by_site.csv",
        "codebook.csv",
    }


def test_qualitative_inputs_are_the_files_the_config_names(tmp_path, cocapp_stage):
    """qualitative-ingest reads the files on its command line: one the config names but not given, or
    one given that is not the configured file, is an error naming both."""
    cfg = qual_config()
    out = tmp_path / "q"
    outputs = [x for name in CANONICAL for x in (f"--out-{name}", out / f"{name}.csv")]
    segments = ["--segments", cfg["qualitative"]["segments"]]
    code, log = cocapp_stage("qualitative-ingest", cfg, *segments, *outputs)
    assert code == 1 and f"--cases: qualitative.cases is {FIX / 'cases.csv'}, but it was not given" in log
    other = tmp_path / "cases.csv"
    shutil.copy(FIX / "cases.csv", other)
    given = [str(other) if x == str(FIX / "cases.csv") else x for x in qualitative_inputs(cfg)]
    code, log = cocapp_stage("qualitative-ingest", cfg, *given, *outputs)
    assert code == 1 and f"--cases {other}: not the file qualitative.cases names" in log
    code, log = cocapp_stage(
        "qualitative-ingest", cfg, *qualitative_inputs(cfg), "--interviews", other, *outputs
    )
    assert code == 1 and f"--interviews {other}: given, but the config sets no qualitative.interviews" in log
    assert not out.exists()


def test_canonical_output_reads_back_identically(tmp_path, cocapp_stage):
    """segments.csv written by the stage is itself valid canonical input giving the same table, and
    the three files meet the contracts the later stages read them with."""
    cfg = published_config()
    out = tmp_path / "derived" / "qualitative"
    code, log = cocapp_stage("qualitative-ingest", cfg, *ingest_args(cfg, out))
    assert code == 0, log
    assert "60 segments, 41 cases, 16 codes" in log
    assert [len(read(name, out / f"{name}.csv")) for name in CANONICAL] == [60, 41, 16]
    again = ingest.ingest(out / "segments.csv", SITES, out / "cases.csv", out / "codes.csv")
    first = ingest.ingest(RAW / "segments.csv", SITES, RAW / "cases.csv", RAW / "codebook.csv")
    pd.testing.assert_frame_equal(first[0], again[0])
    shutil.rmtree(out)


def test_the_three_stages_through_the_command_line(tmp_path):
    """``cocapp qualitative-ingest``, ``qualitative-framework`` and ``joint-display`` in turn, as the
    workflow's rules call them."""
    from cocapp.stages import STAGES
    from cocapp.stages.settings import settings_json

    cfg = qual_config()
    out = tmp_path / "derived" / "qualitative"
    stats = tmp_path / "derived" / "stats"
    stats.mkdir(parents=True)
    shutil.copy(FIX / "descriptives.csv", stats / "descriptives.csv")
    shutil.copy(FIX / "tukey.csv", stats / "tukey.csv")
    for stage, args in [
        ("qualitative-ingest", ingest_args(cfg, out)),
        ("qualitative-framework", framework_args(out)),
        ("joint-display", joint_args(cfg, out, stats / "descriptives.csv", stats / "tukey.csv")),
    ]:
        settings = settings_json(cfg, STAGES[stage].settings)
        assert cli_main([stage, "--settings", settings, *map(str, args)]) == 0, stage
    assert {p.name for p in out.iterdir()} == {
        "segments.csv",
        "cases.csv",
        "codes.csv",
        "framework_case_theme.csv",
        "framework_site_theme.csv",
        "framework_group_theme.csv",
        "code_frequencies_by_site.csv",
        "codebook.csv",
        "joint_display.csv",
        "qualitative_section.html",
    }
    site = pd.read_csv(out / "framework_site_theme.csv", dtype=str, keep_default_na=False)
    # fixture: Burgundy cases P2, P3; Relationships: P2 (listening + trust on one passage), P3 (trust)
    b = site[(site["site"] == "Burgundy") & (site["theme"] == "Relationships")].iloc[0]
    assert (b["n_cases"], b["n_segments"]) == ("<3", "3")
    # two cases: a small cell, its extracts withheld in the published file (issue 14); unsuppressed, the
    # passage coded twice in the theme is quoted once
    assert (b["extracts"], b["note"]) == ("", "extracts withheld: fewer than 3 cases")
    seg = pd.read_csv(out / "segments.csv", dtype=str, keep_default_na=False)
    cases = pd.read_csv(out / "cases.csv", dtype=str, keep_default_na=False)
    codes = pd.read_csv(out / "codes.csv", dtype=str, keep_default_na=False)
    raw = framework.site_theme_matrix(seg, cases, codes, ["Burgundy"])
    rel = raw[raw["theme"] == "Relationships"].iloc[0]
    assert rel["extracts"] == "“I listen first.” [int_P2]\n“Trust is earned slowly.” [int_P3]"


def test_qualcoder_export_by_file(tmp_path):
    path = tmp_path / "by_file.csv"
    path.write_text(
        '"File","Coder","Coded","Id","Codename","Coded_Memo","Category"\n'
        '"P3","alice","Trust is earned slowly.","ctid:1","trust","a memo","Relationships"\n',
        encoding="utf-8",
    )
    seg = ingest.ingest(path, SITES, FIX / "cases.csv", FIX / "codebook.csv")[0]
    assert seg[["source_id", "case_id", "site", "theme", "code", "memo"]].values.tolist() == [
        ["P3", "P3", "Burgundy", "Relationships", "trust", "a memo"]
    ]
    path.write_text(
        '"File","Coder","Coded","Id","Codename"\n"P3","a","image","imid:4","trust"\n'
        '"P3","a","Trust is earned slowly.","ctid:5","trust"\n',
        encoding="utf-8",
    )
    inp = read_segments(path)  # the image coding is skipped and listed, the text coding read
    assert inp.segments["text"].tolist() == ["Trust is earned slowly."]
    assert inp.report == [
        {
            "kind": "not used",
            "element": "image coding",
            "where": "by_file.csv row 1 (Id imid:4)",
            "detail": "image coding skipped: only text codings are analysed",
        }
    ]


# -- the REFI-QDA reader, one part at a time -------------------------------------------------------------
def _project(xml_body: str) -> qdpx._Reader:
    """A parsed project.qde from its body (no archive: only for parts that read no source file)."""
    root = ET.fromstring(f'<Project xmlns="{NS}" name="t">{xml_body}</Project>')
    return qdpx._Reader(Path("t.qdpx"), None, root, "project.qde", qdpx.QdpxOptions())


def test_qdpx_codebook_nesting_gives_theme_and_path():
    qde = _project(
        '<CodeBook><Codes><Code guid="t" name="Care"><Code guid="a" name="trust">'
        "<Description> Feeling safe </Description><Code guid='b' name='deep'/></Code></Code>"
        '<Code guid="x" name=""/></Codes></CodeBook>'
    )
    book, by_guid = qde.codebook()
    assert book["code"].tolist() == ["Care", "trust", "deep"]
    assert book["theme"].tolist() == ["Care"] * 3
    assert book["code_path"].tolist() == ["Care", "Care/trust", "Care/trust/deep"]
    assert book.loc[1, "definition"] == "Feeling safe" and pd.isna(book.loc[0, "definition"])
    assert by_guid["b"]["code_path"] == "Care/trust/deep"
    assert qde.problems == ["project.qde: Code guid=x name='': a Code needs guid and name"]


def test_qdpx_cases_values_and_one_case_per_source():
    qde = _project(
        '<Variables><Variable guid="v1" name="site"/></Variables><Cases>'
        '<Case guid="k1" name="P1"><VariableValue><VariableRef targetGUID="v1"/>'
        '<TextValue> North </TextValue></VariableValue><SourceRef targetGUID="s1"/></Case>'
        '<Case guid="k2" name="P2"><VariableValue><VariableRef targetGUID="nope"/></VariableValue>'
        '<SourceRef targetGUID="s1"/></Case></Cases>'
    )
    rows, case_of_source, _, guids = qde.cases(qde.variables())
    cases = pd.DataFrame(rows)
    assert cases["case_id"].tolist() == ["P1", "P2"] and cases.loc[0, "site"] == "North"
    assert case_of_source == {"s1": "P2"} and guids == {"k1", "k2"}
    assert qde.problems == [
        "project.qde: Case guid=k2: VariableValue refers to no Variable",
        "project.qde: Case guid=k2: SourceRef targetGUID=s1 already belongs to case 'P1'; "
        "a source must belong to one case",
    ]
