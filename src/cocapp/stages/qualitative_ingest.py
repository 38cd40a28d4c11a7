"""``cocapp qualitative-ingest``: read and validate the coded segments; write the canonical segments,
cases and codes, and (when asked) the import report and the memos.

Reads exactly the files given: the coded segments (``--segments``) and, when the config names them, the
case table, codebook and interview counts (``--cases``, ``--codebook``, ``--interviews``); each must be
the file its ``qualitative.<key>`` names. (A REFI-QDA project may name source texts beside the
``.qdpx`` file, ``relative://``: those are found through the project, see docs/qualitative.md.)"""

from __future__ import annotations

__all__ = ["INPUTS", "add_arguments", "run"]

INPUTS = ("segments", "cases", "codebook", "interviews")  # qualitative.<key> of each input file


def add_arguments(parser) -> None:
    parser.add_argument("--segments", required=True, help="the coded segments (qualitative.segments)")
    for name in INPUTS[1:]:
        parser.add_argument(f"--{name}", help=f"qualitative.{name}: given when the config names it")
    parser.add_argument("--out-segments", required=True, help="qualitative/segments.csv")
    parser.add_argument("--out-cases", required=True, help="qualitative/cases.csv")
    parser.add_argument("--out-codes", required=True, help="qualitative/codes.csv")
    parser.add_argument(
        "--out-import-report",
        help="qualitative/import_report.csv: what the input holds that could not be used, what was assumed",
    )
    parser.add_argument("--out-memos", help="qualitative/memos.csv: the project's memos (REFI-QDA Notes)")
    parser.add_argument(
        "--out-sources", help="qualitative/sources.csv: each source and its length in characters"
    )


def run(args, settings, log) -> dict:
    from cocapp.config import site_names
    from cocapp.qualitative.ingest import ingest_all
    from cocapp.qualitative.io import QualitativeInputError
    from cocapp.stages.common import configured_file

    qual = settings["qualitative"]
    if not qual.get("segments"):
        raise QualitativeInputError("key qualitative.segments: no coded-segment file configured")
    files = {
        name: configured_file(getattr(args, name), qual.get(name), f"qualitative.{name}", name)
        for name in INPUTS
    }
    segments = files["segments"]
    out = ingest_all(
        segments,
        site_names(settings),
        cases_path=files["cases"],
        codebook_path=files["codebook"],
        interviews_path=files["interviews"],
        qual_config=qual,
    )
    seg, cases, codes, report = out["segments"], out["cases"], out["codes"], out["report"]
    for rec in report.to_dict("records"):
        if rec["kind"] in ("warning", "not used"):
            log.warning(f"{rec['where']}: {rec['detail']}")
    not_used = int((report["kind"] == "not used").sum())
    log.info(
        f"{len(seg)} segments, {len(cases)} cases, {len(codes)} codes from {segments}"
        + (f"; {not_used} element(s) not used, listed in the import report" if not_used else "")
    )
    files = {args.out_segments: seg, args.out_cases: cases, args.out_codes: codes}
    if args.out_import_report:
        files[args.out_import_report] = report
    if args.out_memos:
        files[args.out_memos] = out["memos"]
    if args.out_sources:
        files[args.out_sources] = out["sources"]
    return files
