"""``cocapp ingest``: read and validate every group's raw questionnaires, write the tidy tables.

Reads each group's raw file (SPSS, Stata, SAS, .xlsx, or CSV/TSV with its codebook; read as
``groups.<group>.read`` says) and instrument files, checks
everything (:mod:`cocapp.validate`; all problems of all files are reported together, with file,
column, row and value) and writes, per group, ``{group}_items.csv``, ``{group}_respondents.csv`` and
``{group}_reconciliation.csv`` (every raw row, analysed or excluded with its reason).
"""

from __future__ import annotations

from cocapp.stages.common import by_group, group_files

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    group_files(parser, "items", "ingest/{group}_items.csv to write")
    group_files(parser, "respondents", "ingest/{group}_respondents.csv to write")
    group_files(parser, "reconciliation", "ingest/{group}_reconciliation.csv to write")


def run(args, settings, log) -> dict:
    from cocapp.ingest import compare_raw_copy, group_spec, ingest_group, read_group
    from cocapp.io import RawReadError
    from cocapp.rawformats import raw_copies
    from cocapp.validate import DataValidationError, format_problems

    outputs: dict = {}
    problems = []
    unreadable: list[str] = []  # files that cannot be read at all: one line each, every group checked
    paths = {
        kind: by_group(settings, getattr(args, kind), kind)
        for kind in ("items", "respondents", "reconciliation")
    }
    for group, g in settings["groups"].items():
        try:
            table = read_group(settings, group)
        except RawReadError as err:
            if str(err) not in unreadable:  # a codebook shared by the groups is reported once
                unreadable.append(str(err))
            continue
        log.read(g["raw"], len(table.data))
        for note in table.notes:
            log.info(f"{g['raw']}: {note}")
        try:
            result = ingest_group(group_spec(settings, group), table)
        except DataValidationError as err:
            problems.extend(err.problems)
            continue
        for copy in raw_copies(g["raw"]):
            problem = compare_raw_copy(settings, group, result, copy)
            if problem:
                unreadable.append(
                    f"{copy}: another copy of {g['raw']} (groups.{group}.raw) with different data (keep "
                    f"one copy in its folder, or make them agree: the workflow reads only the configured "
                    f"one): {problem}"
                )
            else:
                log.info(f"{copy}: a copy of {g['raw']}, checked: same data")
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
