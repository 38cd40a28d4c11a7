"""``cocapp qualitative-ingest``: read and validate the coded segments; write the canonical segments,
cases and codes, and (when asked) the import report and the memos."""

from __future__ import annotations

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
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

    qual = settings["qualitative"]
    segments = qual.get("segments")
    if not segments:
        raise QualitativeInputError("key qualitative.segments: no coded-segment file configured")
    out = ingest_all(
        segments,
        site_names(settings),
        cases_path=qual.get("cases"),
        codebook_path=qual.get("codebook"),
        interviews_path=qual.get("interviews"),
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
