"""Fuzzing the inputs of a study (used by tests/test_fuzz.py and benchmarks/fuzz.py).

A case copies a base study -- the default study as shipped (.sav raw files) or as CSV with its codebook
-- mutates one of its input files (raw file, codebook, an instrument file or config.yaml: bytes, cells
or structure), then does what a run does in-process: load the config, load the instruments, run the
``ingest`` stage and, when that succeeds, the ``score`` stage of each group, as the Snakefile's rules
call them. The invariant (:func:`run_case`):

* the run succeeds -- and for a mutation that changes nothing a study means (re-encoding, another
  delimiter, reordered or extra columns, CRLF, quoting, trailing delimiters or blank lines) its derived
  files are byte-identical to the unmutated study's; or
* it stops with an error naming an input file: exit code 1, no traceback, no derived file of the
  failing stage left behind.

Anything else (a traceback, an exception other than the ones that carry a message for the user, an
output left behind, an error that names no file, a changed output after a neutral mutation) is a crash.
"""

from __future__ import annotations

import copy
import io
import os
import re
import shutil
import traceback
from contextlib import contextmanager, redirect_stderr
from dataclasses import dataclass
from pathlib import Path

import pyreadstat
import yaml
from hypothesis import strategies as st

from cocapp.config import ConfigError, load_config
from cocapp.instruments import InstrumentError, builtin_instrument_dir, load_instruments
from cocapp.stages import STAGES
from cocapp.stages.runner import run_stage
from cocapp.stages.settings import settings_json

ROOT = Path(__file__).resolve().parents[1]
GROUPS = ("service_users", "care_coordinators")
KINDS = ("items", "respondents", "reconciliation")
INSTRUMENTS = ("RSA", "STAR-P", "ES")
VARIANTS = ("sav", "csv")


# -- base studies ----------------------------------------------------------------------------------
def make_base(folder: Path, variant: str, groups: tuple[str, ...] = GROUPS) -> Path:
    """The default study (``variant`` "sav": as shipped; "csv": its CSV files with the codebook) with
    only ``groups``, its instruments copied into the study (``instrument_paths``), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text("utf-8"))
    cfg["groups"] = {g: cfg["groups"][g] for g in groups}
    cfg["qualitative"] = {"enabled": False}
    cfg.pop("published", None)
    cfg["instrument_paths"] = ["instruments"]
    (folder / "data" / "raw").mkdir(parents=True, exist_ok=True)
    (folder / "instruments").mkdir(exist_ok=True)
    for key in INSTRUMENTS:
        shutil.copy(builtin_instrument_dir() / f"{key}.yaml", folder / "instruments" / f"{key}.yaml")
    shutil.copy(ROOT / "data" / "raw" / "codebook.csv", folder / "data" / "raw" / "codebook.csv")
    for g in groups:
        raw = f"data/raw/{g}.{variant}"
        shutil.copy(ROOT / raw, folder / raw)
        cfg["groups"][g]["raw"] = raw
        cfg["groups"][g]["codebook"] = "data/raw/codebook.csv"
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), "utf-8")
    return folder


@contextmanager
def working_directory(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@dataclass
class Outcome:
    """What one case did: ``kind`` is "ok", "refused" or "crash"; ``message`` the error or problem."""

    kind: str
    message: str = ""
    target: str = ""
    mutation: str = ""


def _stage_args(config: dict, out: str) -> list[str]:
    from stage_inputs import ingest_inputs

    return [
        *ingest_inputs(config),
        *(
            x
            for kind in KINDS
            for x in (f"--{kind}", *(f"{out}/ingest/{g}_{kind}.csv" for g in config["groups"]))
        ),
    ]


def _names_a_file(message: str, files: list[str]) -> bool:
    return any(f and f in message for f in files)


_PATHISH = re.compile(r"[\w./-]+\.(?:csv|tsv|txt|sav|zsav|por|dta|sas7bdat|xpt|xlsx|yaml|yml|sas7bcat)\b")


def _study_files(config: dict | None) -> list[str]:
    files = ["config.yaml", *(f"instruments/{k}.yaml" for k in INSTRUMENTS)]
    if config:
        for g in (config.get("groups") or {}).values():
            if isinstance(g, dict):
                files += [str(g.get(k)) for k in ("raw", "codebook") if g.get(k)]
    return files


def run_study(folder: Path, out: str = "derived") -> Outcome:
    """Load config and instruments, run ingest then score (in-process, in ``folder``); the outcome."""
    with working_directory(folder):
        try:
            config = load_config("config.yaml")
        except ConfigError as err:
            message = str(err)
            if "config.yaml" not in message:
                return Outcome("crash", f"config error without the file's name: {message}")
            return Outcome("refused", message)
        except Exception:  # noqa: BLE001 - any other exception is what the fuzzing looks for
            return Outcome("crash", "load_config: " + traceback.format_exc(limit=-3))
        files = _study_files(config)
        try:
            for g in config["groups"].values():
                load_instruments(g["instruments"], config.get("instrument_paths", []))
        except InstrumentError as err:
            if not _names_a_file(str(err), files) and not _PATHISH.search(str(err)):
                return Outcome("crash", f"instrument error without a file name: {err}")
        except Exception:  # noqa: BLE001
            return Outcome("crash", "load_instruments: " + traceback.format_exc(limit=-3))
        outcome = _run_stage_checked("ingest", config, _stage_args(config, out), files, Path(out) / "ingest")
        if outcome is not None:
            return outcome
        for g in config["groups"]:
            args = ["--group", g, "--items", f"{out}/ingest/{g}_items.csv", "--out", f"{out}/scores/{g}.csv"]
            outcome = _run_stage_checked("score", config, args, files, Path(out) / "scores", group=g)
            if outcome is not None:
                return outcome
    return Outcome("ok")


def _run_stage_checked(
    stage: str, config: dict, args: list[str], files: list[str], outdir: Path, group: str | None = None
) -> Outcome | None:
    """None when the stage succeeded; else its refusal, or a crash when the invariant is broken."""
    log = io.StringIO()
    from stage_inputs import instrument_inputs

    argv = ["--settings", settings_json(config, STAGES[stage].settings, group), *args]
    try:  # the instrument files, as the workflow finds them when it is parsed
        argv += instrument_inputs(config, group)
    except InstrumentError as err:  # the workflow refuses such a config before any stage runs
        return Outcome("refused", str(err))
    try:
        with redirect_stderr(log):
            code = run_stage(stage, argv, stream=log)
    except BaseException:  # noqa: BLE001 - run_stage must not raise (SystemExit from argparse included)
        return Outcome("crash", f"{stage} raised: " + traceback.format_exc(limit=-3))
    text = log.getvalue()
    if "Traceback" in text:
        return Outcome("crash", f"{stage} printed a traceback:\n{text[-3000:]}")
    if code == 0:
        return None
    left = sorted(str(p) for p in outdir.glob("**/*") if p.is_file()) if outdir.exists() else []
    if left:
        return Outcome("crash", f"{stage} failed but left {left}")
    marker = f"cocapp {stage}: error: "
    message = text[text.index(marker) + len(marker) :] if marker in text else text
    if not (_names_a_file(message, files) or _PATHISH.search(message)):
        return Outcome("crash", f"{stage} error names no file: {message[:500]}")
    return Outcome("refused", message.strip())


def derived_files(folder: Path, out: str = "derived") -> dict[str, bytes]:
    base = folder / out
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.glob("**/*.csv"))}


# -- mutations -------------------------------------------------------------------------------------
NASTY_TEXT = [
    "",
    " ",
    "0",
    "-1",
    "3.5",
    "1e308",
    "-0",
    "nan",
    "inf",
    "NA",
    "8",
    "9",
    "99",
    "1,5",
    "é",
    "\u00a0",
    "=1+1",
    "@SUM(A1)",
    "-2+3+cmd|' /C calc'!A0",
    '"',
    "a,b",
    "a;b",
    "line\nbreak",
    "\t",
    "\x00",
    "<script>",
    "9" * 400,
    "Artois",
    "Provence",
    "SU-A-0001",
]
NASTY_BYTES = [
    b"\x00",
    b"\xe9",
    b"\xc3",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b'"',
    b",",
    b";",
    b"\t",
    b"\n",
    b"\r",
    b"\r\n",
    b'""',
    b",,,",
    b"\x1a",
    b"\\",
    b"'",
    b"{",
    b"[",
    b":",
    b"- ",
    b"&a *a",
    b"!!python/object:os.system ",
]
YAML_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 100),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NASTY_TEXT),
    st.text(max_size=12),
    st.lists(st.integers(-2, 40), max_size=4),
    st.dictionaries(st.sampled_from(["a", "8", "1", "items", "min"]), st.integers(-1, 9), max_size=3),
)


def _bytes_mutation(data: st.DataObject, raw: bytes) -> tuple[bytes, str]:
    kind = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]), label="bytes")
    n = len(raw)
    if n == 0:
        return data.draw(st.binary(max_size=64)), "replace empty"
    at = data.draw(st.integers(0, n - 1), label="offset")
    if kind == "flip":
        k = data.draw(st.integers(1, 8))
        out = bytearray(raw)
        for _ in range(k):
            i = data.draw(st.integers(0, n - 1))
            out[i] = data.draw(st.integers(0, 255))
        return bytes(out), f"flip {k} bytes"
    if kind == "insert":
        piece = data.draw(st.one_of(st.sampled_from(NASTY_BYTES), st.binary(min_size=1, max_size=16)))
        return raw[:at] + piece + raw[at:], f"insert {piece!r} at {at}"
    if kind == "delete":
        length = data.draw(st.integers(1, 64))
        return raw[:at] + raw[at + length :], f"delete {length} bytes at {at}"
    if kind == "truncate":
        return raw[:at], f"truncate at {at}"
    length = data.draw(st.integers(1, 200))
    return raw[:at] + raw[at : at + length] + raw[at:], f"duplicate {length} bytes at {at}"


def _cell_text(data: st.DataObject) -> str:
    return data.draw(
        st.one_of(
            st.sampled_from(NASTY_TEXT),
            st.text(max_size=10),
            st.integers(-5, 20).map(str),
            st.floats(-10, 110, allow_nan=False).map(repr),
        ),
        label="cell",
    )


CSV_STRUCTURE = [
    "drop_column",
    "duplicate_header",
    "blank_header",
    "rename_header",
    "delete_row",
    "duplicate_row",
    "extra_cell",
    "missing_cell",
    "header_only",
    "blank_lines_inside",
]
CSV_NEUTRAL = [
    "reorder_columns",
    "unused_column",
    "utf8_bom",
    "utf16",
    "cp1252",
    "semicolon",
    "tab",
    "crlf",
    "quote_all",
    "trailing_delimiter",
    "trailing_blank_lines",
]


def _csv_rows(text: str) -> list[list[str]]:
    import csv

    return [r for r in csv.reader(io.StringIO(text, newline=""))]


def _csv_text(rows: list[list[str]], delimiter: str = ",", quoting: int = 0, newline: str = "\n") -> str:
    import csv

    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows(rows)
    return buf.getvalue()


def _csv_mutation(data: st.DataObject, raw: bytes, neutral_allowed: bool) -> tuple[bytes, str, bool]:
    """(new bytes, description, neutral?) for a CSV file."""
    import csv

    kinds = ["bytes", "cell", "structure"] + (["neutral"] if neutral_allowed else [])
    kind = data.draw(st.sampled_from(kinds), label="csv mutation")
    if kind == "bytes":
        out, what = _bytes_mutation(data, raw)
        return out, what, False
    rows = _csv_rows(raw.decode("utf-8"))
    header, body = rows[0], rows[1:]
    if kind == "cell":
        k = data.draw(st.integers(1, 5))
        whats = []
        for _ in range(k):
            i = data.draw(st.integers(0, len(body) - 1))
            j = data.draw(st.integers(0, len(header) - 1))
            value = _cell_text(data)
            body[i][j] = value
            whats.append(f"row {i + 1} {header[j]}={value!r}")
        return _csv_text([header, *body]).encode("utf-8"), "cells " + "; ".join(whats), False
    if kind == "structure":
        op = data.draw(st.sampled_from(CSV_STRUCTURE), label="structure")
        j = data.draw(st.integers(0, len(header) - 1))
        i = data.draw(st.integers(0, len(body) - 1))
        if op == "drop_column":
            rows = [r[:j] + r[j + 1 :] for r in [header, *body]]
        elif op == "duplicate_header":
            header[j] = header[(j + 1) % len(header)]
            rows = [header, *body]
        elif op == "blank_header":
            header[j] = ""
            rows = [header, *body]
        elif op == "rename_header":
            header[j] = _cell_text(data)
            rows = [header, *body]
        elif op == "delete_row":
            rows = [header, *body[:i], *body[i + 1 :]]
        elif op == "duplicate_row":
            rows = [header, *body[: i + 1], body[i], *body[i + 1 :]]
        elif op == "extra_cell":
            body[i] = body[i] + [_cell_text(data) or "x"]
            rows = [header, *body]
        elif op == "missing_cell":
            body[i] = body[i][:-1]
            rows = [header, *body]
        elif op == "header_only":
            rows = [header]
        else:  # blank lines inside
            text = _csv_text([header, *body[:i]]) + "\n\n" + _csv_text(body[i:])
            return text.encode("utf-8"), op, False
        return _csv_text(rows).encode("utf-8"), f"{op} (column {j + 1}, row {i + 1})", False
    op = data.draw(st.sampled_from(CSV_NEUTRAL), label="neutral")
    text = raw.decode("utf-8")
    if op == "reorder_columns":
        order = data.draw(st.permutations(range(len(header))))
        rows = [[r[k] for k in order] for r in [header, *body]]
        return _csv_text(rows).encode("utf-8"), op, True
    if op == "unused_column":
        # free text as a spreadsheet writes it: no NUL, line breaks only inside quotes (csv.writer
        # quotes "\n" but not a bare "\r", which every reader takes as the end of a line)
        cell = _cell_text(data).replace("\x00", "").replace("\r", "")
        rows = [header + ["free_text"], *[r + [cell] for r in body]]
        return _csv_text(rows).encode("utf-8"), op, True
    if op == "utf8_bom":
        return text.encode("utf-8-sig"), op, True
    if op == "utf16":
        return text.encode("utf-16"), op, True
    if op == "cp1252":
        return text.encode("cp1252"), op, True
    if op == "semicolon":
        return _csv_text([header, *body], ";").encode("utf-8"), op, True
    if op == "tab":
        return _csv_text([header, *body], "\t").encode("utf-8"), op, True
    if op == "crlf":
        return _csv_text([header, *body], newline="\r\n").encode("utf-8"), op, True
    if op == "quote_all":
        return _csv_text([header, *body], quoting=csv.QUOTE_ALL).encode("utf-8"), op, True
    if op == "trailing_delimiter":
        return "".join(line + ",\n" for line in text.splitlines()).encode("utf-8"), op, True
    return (text + "\n\n\r\n").encode("utf-8"), op, True


def _yaml_nodes(node, path=()):
    """Every (path, value) of a parsed YAML document, depth first."""
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _yaml_nodes(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _yaml_nodes(v, (*path, i))


def _yaml_mutation(data: st.DataObject, raw: bytes) -> tuple[bytes, str]:
    kind = data.draw(st.sampled_from(["bytes", "value", "delete", "add"]), label="yaml mutation")
    if kind == "bytes":
        return _bytes_mutation(data, raw)
    doc = yaml.safe_load(raw.decode("utf-8"))
    nodes = [(p, v) for p, v in _yaml_nodes(doc) if p]
    path, _ = data.draw(st.sampled_from(nodes), label="node")
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    if kind == "value":
        value = data.draw(YAML_VALUES, label="value")
        parent[last] = value
        what = f"{'/'.join(map(str, path))} = {value!r}"
    elif kind == "delete":
        del parent[last]
        what = f"delete {'/'.join(map(str, path))}"
    else:
        if not isinstance(parent, dict):
            parent = doc
        key = data.draw(st.sampled_from(["extra", "read", "levels", "8", "column", "label"]), label="key")
        value = data.draw(YAML_VALUES, label="value")
        parent[key] = value
        what = f"add {key}={value!r} beside {'/'.join(map(str, path))}"
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    return text.encode("utf-8"), what


def _sav_mutation(data: st.DataObject, path: Path) -> str:
    """Mutate a .sav file: its bytes, or a value / the metadata rewritten through pyreadstat."""
    kind = data.draw(st.sampled_from(["bytes", "value", "metadata"]), label="sav mutation")
    if kind == "bytes":
        out, what = _bytes_mutation(data, path.read_bytes())
        path.write_bytes(out)
        return what
    df, meta = pyreadstat.read_sav(str(path), user_missing=True)
    labels = dict(meta.variable_value_labels)
    missing = dict(meta.missing_ranges)
    if kind == "value":
        i = data.draw(st.integers(0, len(df) - 1))
        col = data.draw(st.sampled_from(list(df.columns)))
        if col == "id":
            value = data.draw(st.sampled_from(["", "SU-A-0002", "=1+1", "é", " "]))
        else:
            value = data.draw(
                st.one_of(
                    st.sampled_from([float("nan"), 0.0, -1.0, 2.5, 7.0, 8.0, 9.0, 1e9]), st.floats(-1e3, 1e3)
                )
            )
        df.loc[i, col] = value
        what = f"value row {i + 1} {col}={value!r}"
    else:
        col = data.draw(st.sampled_from(sorted(set(labels) | set(missing))))
        op = data.draw(st.sampled_from(["drop_labels", "drop_missing", "shift_labels"]))
        if op == "drop_labels":
            labels.pop(col, None)
        elif op == "drop_missing":
            missing.pop(col, None)
        else:
            labels[col] = {k + 1: v for k, v in labels.get(col, {1: "x"}).items()}
        what = f"{op} {col}"
    pyreadstat.write_sav(
        df, str(path), variable_value_labels=labels, missing_ranges=missing, column_labels=meta.column_labels
    )
    return what


TARGETS = ("raw", "codebook", "instrument", "config")


@dataclass
class Case:
    variant: str
    target: str
    file: str
    mutation: str
    neutral: bool


def mutate(data: st.DataObject, folder: Path, variant: str) -> Case:
    """Apply one drawn mutation to one input file of the study in ``folder``."""
    target = data.draw(st.sampled_from(TARGETS), label="target")
    cfg = yaml.safe_load((folder / "config.yaml").read_text("utf-8"))
    if target == "raw":
        group = data.draw(st.sampled_from(list(cfg["groups"])), label="group")
        rel = cfg["groups"][group]["raw"]
        path = folder / rel
        if variant == "sav":
            return Case(variant, target, rel, _sav_mutation(data, path), False)
        out, what, neutral = _csv_mutation(data, path.read_bytes(), neutral_allowed=True)
        path.write_bytes(out)
        return Case(variant, target, rel, what, neutral)
    if target == "codebook":
        rel = "data/raw/codebook.csv"
        out, what, _ = _csv_mutation(data, (folder / rel).read_bytes(), neutral_allowed=False)
        (folder / rel).write_bytes(out)
        return Case(variant, target, rel, what, False)
    if target == "instrument":
        key = data.draw(st.sampled_from(INSTRUMENTS), label="instrument")
        rel = f"instruments/{key}.yaml"
    else:
        rel = "config.yaml"
    out, what = _yaml_mutation(data, (folder / rel).read_bytes())
    (folder / rel).write_bytes(out)
    return Case(variant, target, rel, what, False)


class Fuzzer:
    """Base studies built once; :meth:`case` runs one drawn case in a fresh copy and checks it."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.bases: dict[tuple[str, tuple[str, ...]], Path] = {}
        self.expected: dict[tuple[str, tuple[str, ...]], dict[str, bytes]] = {}
        self.counter = 0

    def base(self, variant: str, groups: tuple[str, ...]) -> Path:
        key = (variant, groups)
        if key not in self.bases:
            folder = make_base(self.workdir / f"base-{variant}-{len(self.bases)}", variant, groups)
            outcome = run_study(folder)
            assert outcome.kind == "ok", f"the unmutated {variant} study must run: {outcome.message}"
            self.expected[key] = derived_files(folder)
            shutil.rmtree(folder / "derived")
            self.bases[key] = folder
        return self.bases[key]

    def case(self, data: st.DataObject) -> tuple[Case, Outcome]:
        variant = data.draw(st.sampled_from(VARIANTS), label="variant")
        # one group keeps a case fast; config mutations see both groups
        groups = data.draw(
            st.sampled_from([("service_users",), ("care_coordinators",), GROUPS]), label="groups"
        )
        base = self.base(variant, groups)
        self.counter += 1
        folder = self.workdir / f"case-{os.getpid()}-{self.counter}"
        shutil.copytree(base, folder)
        try:
            case = mutate(data, folder, variant)
            outcome = run_study(folder)
            if outcome.kind == "ok" and case.neutral:
                got = derived_files(folder)
                want = self.expected[(variant, groups)]
                if got != want:
                    changed = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
                    outcome = Outcome("crash", f"neutral mutation changed {changed}")
            if outcome.kind == "refused" and case.neutral:
                outcome = Outcome("crash", f"neutral mutation refused: {outcome.message}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        outcome.target, outcome.mutation = f"{variant}:{case.file}", case.mutation
        return case, outcome


def copy_config(config: dict) -> dict:
    return copy.deepcopy(config)
