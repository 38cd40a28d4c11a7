"""``cocapp qualitative-workbook``: the analyst workbook (Excel and HTML, NOT suppressed: for the
analysts, not for publication) and the inter-coder coding comparison (CSV)."""

from __future__ import annotations

__all__ = ["add_arguments", "run"]


def add_arguments(parser) -> None:
    from cocapp.stages.common import file_options

    file_options(parser, ("segments", "cases", "codes", "sources", "memos"), "qualitative")
    parser.add_argument("--workbook", required=True, help="qualitative/analyst_workbook.xlsx")
    parser.add_argument("--workbook-html", required=True, help="qualitative/analyst_workbook.html")
    parser.add_argument("--coding-comparison", required=True, help="qualitative/coding_comparison.csv")
    parser.add_argument("--coding-alpha", required=True, help="qualitative/coding_alpha.csv")


def run(args, settings, log) -> dict:
    from cocapp.contracts import read
    from cocapp.qualitative.workbook import analyst_tables, workbook_html, workbook_xlsx
    from cocapp.stages.qualitative import read_canonical

    seg, cases, codes = read_canonical(args, log)
    sources = read("sources", args.sources, log)
    memos = read("memos", args.memos, log)
    tables = analyst_tables(seg, cases, codes, sources, memos)
    label = settings["qualitative"].get("dataset_label", "")
    n_pairs = len(tables["coding comparison"])
    log.info(
        f"analyst workbook: {len(tables)} sheets (not suppressed: not for publication); "
        + (
            f"{n_pairs} code x source x coder-pair comparisons"
            if n_pairs
            else "one coder: no coding comparison"
        )
    )
    return {
        args.workbook: workbook_xlsx(tables, label),
        args.workbook_html: workbook_html(tables, label),
        args.coding_comparison: tables["coding comparison"],
        args.coding_alpha: tables["coding alpha"],
    }
