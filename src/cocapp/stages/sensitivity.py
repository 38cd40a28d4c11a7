"""``cocapp sensitivity``: do the conclusions change between complete cases and 20–50 % replacement?

From the site comparisons at every threshold: the summary per outcome and threshold (n, F, p, the
ANCOVA models), site-mean shifts against the primary threshold, the Tukey pairs whose inference
changes, consistency checks (n never falls as the threshold rises; the complete-case n equals the
reliability stage's), the verdict (Markdown and its facts as JSON) and two figures per group
(:mod:`cocapp.stats.sensitivity`, :mod:`cocapp.presentation.sensitivity_figures`).
"""

from __future__ import annotations

import json

from cocapp.stages.common import (
    file_options,
    instruments_option,
    load_calibration,
    load_given_instruments,
    match_outputs,
    read_named,
    run_thunks,
    switched_inputs,
    workers_option,
)
from cocapp.words import grouping_words

__all__ = ["add_arguments", "run"]

INPUTS = ("anova", "ancova", "tukey", "descriptives", "reliability")
MI_INPUTS = ("mi_means", "mi_tests", "mi_tipping")
OUTPUTS = ("summary", "site_shifts", "pairs", "checks", "verdict", "facts")


def add_arguments(parser) -> None:
    file_options(parser, INPUTS, "stats")
    for name in MI_INPUTS:  # from stage impute: given (all three) exactly when imputation is on
        parser.add_argument(
            f"--{name.replace('_', '-')}", help=f"sensitivity/{name}.csv (stage impute; imputation on)"
        )
    instruments_option(parser)
    file_options(parser, OUTPUTS, "sensitivity", suffix="")
    parser.add_argument("--figures", nargs="+", required=True, help="figures/sensitivity/*.png|svg")
    parser.add_argument(
        "--calibration", help="calibration targets of synthetic data (config study.calibration.targets)"
    )
    workers_option(parser, "drawing the figures")


def run(args, settings, log) -> dict:
    import pandas as pd

    from cocapp.config import imputation_enabled
    from cocapp.presentation.calibration import add_verdict_calibration, calibration_statement
    from cocapp.presentation.mi_figures import comparison_tasks
    from cocapp.presentation.sensitivity_figures import figure_tasks
    from cocapp.presentation.verdict import render_verdict
    from cocapp.stats.mi_summary import add_mi_columns, comparison_table, mi_facts
    from cocapp.stats.sensitivity import (
        CHECK_COLUMNS,
        _models,
        _settings,
        changing_pairs,
        check_complete_case_n,
        check_n_monotone,
        n_counts,
        outcome_label,
        sensitivity_summary,
        site_shifts,
        verdict_facts,
    )

    instruments = load_given_instruments(args, settings, log)
    stats = read_named(args, INPUTS, log)
    thresholds, _, _ = _settings(settings)
    summary = sensitivity_summary(
        stats["anova"], stats["ancova"], stats["descriptives"], settings, instruments
    )
    shifts = site_shifts(stats["descriptives"], settings)
    pairs = changing_pairs(stats["tukey"], settings)
    checks = [
        check_n_monotone(n_counts(summary, shifts, _models(settings)), thresholds),
        check_complete_case_n(summary, stats["reliability"], settings),
    ]
    checks_df = pd.concat([c for c in checks if len(c)] or [checks[0]], ignore_index=True)[CHECK_COLUMNS]
    facts = verdict_facts(
        summary, shifts, pairs, checks_df, settings, instruments, complete_case_checked=True
    )
    # multiple imputation (stage impute) beside complete cases and the thresholds, when given
    switched_inputs(args, MI_INPUTS, imputation_enabled(settings), "imputation (imputation.enabled)")
    given = [n for n in MI_INPUTS if getattr(args, n)]
    comparison = None
    if given:
        mi = read_named(args, MI_INPUTS, log)
        summary = add_mi_columns(summary, mi["mi_tests"], mi["mi_tipping"], list(_models(settings)))
        labels = {
            (i, sc): outcome_label(i, sc, instruments)
            for i, sc in zip(summary["instrument"], summary["scale"], strict=True)
        }
        mi_by_group = mi_facts(summary, mi["mi_tests"], mi["mi_tipping"], settings, labels)
        for g in facts["groups"]:
            if g["group"] in mi_by_group:
                g["multiple_imputation"] = mi_by_group[g["group"]]
        comparison = comparison_table(
            stats["descriptives"], mi["mi_means"], settings["scoring"]["primary_threshold"]
        )
    # what the data can show: calibration targets (by construction) against illustrative results
    targets = load_calibration(args.calibration, settings, log)
    add_verdict_calibration(facts, calibration_statement(settings, targets))
    facts_json = json.dumps(facts, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    for message in checks_df["message"]:
        log.warning(message)
    n_change = int((summary["changes_inference"] == True).sum())  # noqa: E712
    log.info(f"{len(summary)} outcome x threshold rows, {n_change} change the inference; {len(pairs)} pairs")
    tasks = figure_tasks(summary, shifts, settings, instruments)
    if comparison is not None:
        tasks += comparison_tasks(comparison, settings, instruments)
    rendered: dict = {}
    for files in run_thunks(tasks, args.workers):
        rendered.update(files)
    figures = match_outputs(args.figures, rendered, "figures")
    return {
        args.summary: summary,
        args.site_shifts: shifts,
        args.pairs: pairs,
        args.checks: checks_df,
        # the Markdown is rendered from the facts as written, exactly as the report renders them
        args.verdict: render_verdict(json.loads(facts_json), words=grouping_words(settings)),
        args.facts: facts_json,
        **figures,
    }
