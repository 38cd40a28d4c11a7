"""``cocapp qualitative-ingest``: read and validate the coded segments; write the canonical segments,
cases and codes."""

from __future__ import annotations

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    parser.add_argument("--out-segments", required=True, help="qualitative/segments.csv")
    parser.add_argument("--out-cases", required=True, help="qualitative/cases.csv")
    parser.add_argument("--out-codes", required=True, help="qualitative/codes.csv")


def run(args, settings, log) -> dict:
    from cocapp.config import site_names
    from cocapp.qualitative.ingest import ingest
    from cocapp.qualitative.io import QualitativeInputError

    qual = settings["qualitative"]
    segments = qual.get("segments")
    if not segments:
        raise QualitativeInputError("key qualitative.segments: no coded-segment file configured")
    seg, cases, codes = ingest(
        segments,
        site_names(settings),
        cases_path=qual.get("cases"),
        codebook_path=qual.get("codebook"),
        interviews_path=qual.get("interviews"),
    )
    log.info(f"{len(seg)} segments, {len(cases)} cases, {len(codes)} codes from {segments}")
    return {args.out_segments: seg, args.out_cases: cases, args.out_codes: codes}
