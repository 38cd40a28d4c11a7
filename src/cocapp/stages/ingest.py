"""``cocapp ingest``: read and validate every group's raw questionnaires, write the tidy tables.

Reads exactly the files given: each group's raw file (``--raw``, one per group in config order: SPSS,
Stata, SAS, .xlsx, or CSV/TSV read as ``groups.<group>.read`` says), the codebooks of the files in a
format without labels of their own (``--codebook``), SAS format catalogs (``--catalog``), the other
copies beside a raw file (``--copies``, checked to hold the same data) and the instrument files
(``--instruments``). Every file given must be one the config names for a group, and every file a
group needs must be given. Checks everything (:mod:`cocapp.validate`; all problems of all files are
reported together, with file, column, row and value) and writes, per group, ``{group}_items.csv``,
``{group}_respondents.csv`` and ``{group}_reconciliation.csv`` (every raw row, analysed or excluded
with its reason).
"""

from __future__ import annotations

import os

from cocapp.stages.common import InputError, by_group, group_files, instruments_option, load_given_instruments

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    group_files(parser, "raw", "each group's raw file (groups.<group>.raw), in config order")
    optional = dict(nargs="*", default=[], metavar="FILE")
    parser.add_argument(
        "--codebook",
        **optional,
        help="the codebook (groups.<group>.codebook) of each group whose raw file, or a copy of it, is in "
        "a format without labels of its own",
    )
    parser.add_argument("--catalog", **optional, help="SAS format catalogs (groups.<group>.read.catalog)")
    parser.add_argument(
        "--copies",
        **optional,
        help="the other copies beside a raw file (same name, another format): checked to hold the same data",
    )
    instruments_option(parser)
    group_files(parser, "items", "ingest/{group}_items.csv to write")
    group_files(parser, "respondents", "ingest/{group}_respondents.csv to write")
    group_files(parser, "reconciliation", "ingest/{group}_reconciliation.csv to write")


def _same(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def _config_file(given: list[str], configured: str | None, needed: bool, key: str, option: str, used: set):
    """The file given with ``option`` that the config names as ``key`` (None when the config names
    none, or the group does not need it); an error when it is needed and was not given."""
    if not configured or not needed:
        return None
    for f in given:
        if _same(f, configured):
            used.add(f)
            return f
    raise InputError(f"{option}: {key} is {configured}, which the group needs, but it was not given")


def inputs_by_group(args, settings) -> dict[str, dict]:
    """The input files given on the command line, matched to the groups (config order): ``raw``,
    ``codebook`` and ``catalog`` (None when the group needs none) and ``copies``. A file given that no
    group needs, or a file a group needs that was not given, is an error naming it."""
    from cocapp.rawformats import is_copy_of, needs_codebook

    raws = by_group(settings, args.raw, "raw")
    used: dict[str, set] = {"copies": set(), "codebook": set(), "catalog": set()}
    out: dict[str, dict] = {}
    for group, g in settings["groups"].items():
        if not _same(raws[group], g["raw"]):
            raise InputError(
                f"--raw: {raws[group]} is given for group {group} (config order), "
                f"but groups.{group}.raw is {g['raw']}"
            )
        copies = [c for c in args.copies if is_copy_of(c, raws[group])]
        used["copies"].update(copies)
        codebook = _config_file(
            args.codebook,
            g.get("codebook"),
            needs_codebook(raws[group], copies),
            f"groups.{group}.codebook",
            "--codebook",
            used["codebook"],
        )
        catalog = _config_file(
            args.catalog,
            (g.get("read") or {}).get("catalog"),
            True,
            f"groups.{group}.read.catalog",
            "--catalog",
            used["catalog"],
        )
        out[group] = dict(raw=raws[group], codebook=codebook, catalog=catalog, copies=copies)
    for option, files in used.items():
        unused = [f for f in getattr(args, option) if f not in files]
        if unused:
            raise InputError(f"--{option}: {unused[0]} is given, but no configured group's raw file needs it")
    return out


def run(args, settings, log) -> dict:
    from dataclasses import replace

    from cocapp.ingest import compare_raw_copy, group_spec, ingest_group, read_options
    from cocapp.io import RawReadError, read_raw
    from cocapp.validate import DataValidationError, format_problems

    outputs: dict = {}
    problems = []
    unreadable: list[str] = []  # files that cannot be read at all: one line each, every group checked
    given = inputs_by_group(args, settings)
    instruments = load_given_instruments(args, settings, log)
    paths = {
        kind: by_group(settings, getattr(args, kind), kind)
        for kind in ("items", "respondents", "reconciliation")
    }
    for group in settings["groups"]:
        files = given[group]
        raw = files["raw"]
        options = replace(read_options(settings, group), catalog=files["catalog"])
        try:
            table = read_raw(raw, files["codebook"], dataset=group, options=options)
        except RawReadError as err:
            if str(err) not in unreadable:  # a codebook shared by the groups is reported once
                unreadable.append(str(err))
            continue
        log.read(raw, len(table.data))
        for note in table.notes:
            log.info(f"{raw}: {note}")
        spec = group_spec(settings, group, instruments)
        try:
            result = ingest_group(spec, table)
        except DataValidationError as err:
            problems.extend(err.problems)
            continue
        for copy in files["copies"]:
            problem = compare_raw_copy(settings, group, spec, result, copy, files["codebook"], options)
            if problem:
                unreadable.append(
                    f"{copy}: another copy of {raw} (groups.{group}.raw) with different data (keep "
                    f"one copy in its folder, or make them agree: the workflow reads only the configured "
                    f"one): {problem}"
                )
            else:
                log.info(f"{copy}: a copy of {raw}, checked: same data")
        rec = result.reconciliation
        n_ex = int((rec["status"] == "excluded").sum())
        log.info(f"{group}: {len(rec)} raw rows, {len(rec) - n_ex} analysed, {n_ex} excluded")
        for kind in paths:
            outputs[paths[kind][group]] = getattr(result, kind)
    if unreadable:
        raise RawReadError("\n".join(unreadable + ([format_problems(problems)] if problems else [])))
    if problems:
        raise DataValidationError(problems)
    return outputs
