# cocapp: the COCAPP survey analysis (Simpson et al. 2016, BMC Psychiatry 16:147), stage by stage.
#
# One rule per stage of the paper's Methods, each a thin call of `cocapp <stage>` that is given every
# file it reads and writes, and -- as `params: settings` -- exactly the config values it reads, so a
# changed setting reruns exactly the stages that use it; `params: code` is a hash of the stage's own
# code, so editing e.g. src/cocapp/anova.py reruns the stages that import it. Each job also writes its
# provenance manifest (cocapp.provenance; output `manifest`, passed as --manifest), which the report
# lists (its inputs). Errors are printed on the console (profiles/default: show-failed-logs).
# Priorities start the longest chain first
# (scores -> ANCOVA -> sensitivity -> report) when two jobs could run. Threads: the imputation and the
# sensitivity stage take half the cores, so each runs beside the other stages (on 2 cores a two-core job
# waits until both are free, which happens only when nothing else is left: measured 1-4 s later for the
# default run); the report, which runs alone, draws and scales its figures in two processes.
# `--set-threads impute=N sensitivity=N` overrides.

import sys

from snakemake.utils import min_version

# The Snakefile reads the cocapp of this checkout, the code its jobs run (shell.prefix below), never
# another installed copy: the stages' settings and code hashes are those of the code that runs.
sys.path.insert(0, f"{workflow.basedir}/src")

from cocapp.config import ConfigError, validate_config, with_defaults
from cocapp.workflow import Workflow

min_version("8.0")


# The study's config is config.yaml in the folder snakemake runs in (-d/--directory), or the file(s)
# given by --configfile instead of it: never the two merged (a study's --configfile run from the clone
# would otherwise inherit the repository's groups and published reference).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


# An invalid config is one message naming each offending key (no Python traceback), exit code 1.
try:
    config = with_defaults(validate_config(config, "config"))
except ConfigError as err:
    raise SystemExit(f"cocapp: error: {err}") from None
W = Workflow(config)
GROUPS = W.groups
# the files the numbers of the report's qualitative section come from (issue 14: traced)
QUALITATIVE_TRACED = [
    "data/derived/qualitative/joint_display.csv",
    "data/derived/qualitative/framework_site_theme.csv",
    "data/derived/qualitative/framework_group_theme.csv",
    "data/derived/qualitative/code_frequencies_by_site.csv",
    "data/derived/qualitative/codebook.csv",
]

# Every job runs the cocapp of this checkout (src/ first on PYTHONPATH), also in the conda
# environment of `--use-conda`, which holds only the dependencies (envs/cocapp.yaml).
shell.prefix(W.shell_prefix(workflow.basedir))


# A failed run leaves the previous report in place: mark it STALE (issue 14).
onerror:
    W.mark_stale(log)


# Snakemake arms a one-second timer after each scheduling round and Python waits for the last one.
onsuccess:
    W.release_timers()


wildcard_constraints:
    group="|".join(GROUPS),


rule all:
    default_target: True
    input:
        "reports/report.html",
        W.audit_files(),
        expand(
            "data/derived/stats/{name}.csv",
            name=[
                "missingness_items",
                "missingness_patterns",
                "mcar",
                "normality",
                "reference_comparison",
            ],
        ),
        expand(
            "data/derived/stats/{name}.csv",
            name=["games_howell", "ancova_posthoc", "ancova_slopes"],
        ),
        "data/derived/stats/reliability_items.csv",
        "data/derived/sensitivity/summary.csv",
        W.mi_results(),
        "data/derived/qualitative/codebook.csv" if W.qualitative_enabled else [],
        "data/derived/qualitative/joint_display.csv" if W.qualitative_enabled else [],
        "data/derived/qualitative/analyst_workbook.xlsx"
        if W.qualitative_enabled
        else [],


# -- 1. Questionnaire returns: read and validate the raw files -------------------------------------
rule ingest:
    input:
        raw=W.raw_data_files(),  # one per group, config order
        codebooks=W.codebook_files(),
        catalogs=W.catalog_files(),
        copies=W.raw_copies(),  # other copies beside a raw file: checked to hold the same data
        instruments=W.instrument_files(),
    output:
        answers=expand(
            W.intermediate("data/derived/ingest/{group}_items.csv"), group=GROUPS
        ),
        respondents=expand(
            W.intermediate("data/derived/ingest/{group}_respondents.csv"), group=GROUPS
        ),
        reconciliation=expand(
            "data/derived/ingest/{group}_reconciliation.csv", group=GROUPS
        ),
        manifest="data/derived/logs/ingest.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/ingest.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("ingest"),
        code=W.code("ingest"),
    shell:
        "cocapp ingest --settings {params.settings:q} --raw {input.raw} --codebook {input.codebooks}"
        " --catalog {input.catalogs} --copies {input.copies} --instruments {input.instruments}"
        " --items {output.answers}"
        " --respondents {output.respondents} --reconciliation {output.reconciliation}"
        " --manifest {output.manifest} 2> {log}"


# -- 2. Scale scores: person-mean replacement at every threshold, per group ------------------------
rule score:
    input:
        answers=W.intermediate("data/derived/ingest/{group}_items.csv"),
        instruments=W.group_instrument_files(),
    output:
        scores=W.intermediate("data/derived/scores/{group}.csv"),
        manifest="data/derived/logs/score_{group}.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/score_{group}.log",
    priority: 40
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("score", per_group=True),
        code=W.code("score"),
    shell:
        "cocapp score --settings {params.settings:q} --group {wildcards.group} --items {input.answers}"
        " --instruments {input.instruments} --out {output.scores} --manifest {output.manifest} 2> {log}"


# -- 3. Measurement: reliability (complete cases) and the missing-data profile ---------------------
rule reliability:
    input:
        answers=expand(
            W.intermediate("data/derived/ingest/{group}_items.csv"), group=GROUPS
        ),
        instruments=W.instrument_files(),
    output:
        alpha="data/derived/stats/reliability.csv",
        by_item="data/derived/stats/reliability_items.csv",
        manifest="data/derived/logs/reliability.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/reliability.log",
    priority: 20
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("reliability"),
        code=W.code("reliability"),
    shell:
        "cocapp reliability --settings {params.settings:q} --items {input.answers}"
        " --instruments {input.instruments} --alpha-out {output.alpha}"
        " --items-out {output.by_item} --manifest {output.manifest} 2> {log}"


rule missingness:
    input:
        answers=expand(
            W.intermediate("data/derived/ingest/{group}_items.csv"), group=GROUPS
        ),
        instruments=W.instrument_files(),
    output:
        by_scale="data/derived/stats/missingness.csv",
        by_item="data/derived/stats/missingness_items.csv",
        patterns="data/derived/stats/missingness_patterns.csv",
        mcar="data/derived/stats/mcar.csv",
        manifest="data/derived/logs/missingness.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/missingness.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("missingness"),
        code=W.code("missingness"),
    shell:
        "cocapp missingness --settings {params.settings:q} --items {input.answers}"
        " --instruments {input.instruments} --by-scale {output.by_scale}"
        " --by-item {output.by_item} --patterns {output.patterns}"
        " --mcar {output.mcar} --manifest {output.manifest} 2> {log}"


# -- 4. Distributions: descriptives by site, skewness and kurtosis, reference values --------------
rule distributions:
    input:
        scores=expand(W.intermediate("data/derived/scores/{group}.csv"), group=GROUPS),
        instruments=W.instrument_files(),
    output:
        descriptives="data/derived/stats/descriptives.csv",
        normality="data/derived/stats/normality.csv",
        reference="data/derived/stats/reference_comparison.csv",
        manifest="data/derived/logs/distributions.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/distributions.log",
    priority: 20
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("distributions"),
        code=W.code("distributions"),
    shell:
        "cocapp distributions --settings {params.settings:q} --scores {input.scores}"
        " --instruments {input.instruments} --descriptives {output.descriptives}"
        " --normality {output.normality}"
        " --reference {output.reference} --manifest {output.manifest} 2> {log}"


# -- 5. Site comparisons: one-way ANOVA, Tukey-Kramer and Games-Howell, correlations --------------
rule compare_sites:
    input:
        scores=expand(W.intermediate("data/derived/scores/{group}.csv"), group=GROUPS),
    output:
        anova="data/derived/stats/anova.csv",
        tukey="data/derived/stats/tukey.csv",
        games_howell="data/derived/stats/games_howell.csv",
        correlations="data/derived/stats/correlations.csv",
        manifest="data/derived/logs/compare_sites.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/compare_sites.log",
    priority: 20
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("compare-sites"),
        code=W.code("compare-sites"),
    shell:
        "cocapp compare-sites --settings {params.settings:q} --scores {input.scores}"
        " --anova {output.anova} --tukey {output.tukey} --games-howell {output.games_howell}"
        " --correlations {output.correlations} --manifest {output.manifest} 2> {log}"


# -- 6. ANCOVA: site differences adjusted for the demographic and service covariates --------------
rule ancova:
    input:
        scores=expand(W.intermediate("data/derived/scores/{group}.csv"), group=GROUPS),
        respondents=expand(
            W.intermediate("data/derived/ingest/{group}_respondents.csv"), group=GROUPS
        ),
    output:
        ancova="data/derived/stats/ancova.csv",
        means="data/derived/stats/ancova_means.csv",
        posthoc="data/derived/stats/ancova_posthoc.csv",
        slopes="data/derived/stats/ancova_slopes.csv",
        manifest="data/derived/logs/ancova.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/ancova.log",
    priority: 30
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("ancova"),
        code=W.code("ancova"),
    shell:
        "cocapp ancova --settings {params.settings:q} --scores {input.scores}"
        " --respondents {input.respondents} --ancova {output.ancova} --ancova-means {output.means}"
        " --ancova-posthoc {output.posthoc} --ancova-slopes {output.slopes}"
        " --manifest {output.manifest} 2> {log}"


# -- 7. Sensitivity: complete cases vs 20-50 % person-mean replacement, with a verdict -----------
rule sensitivity:
    input:
        anova="data/derived/stats/anova.csv",
        ancova="data/derived/stats/ancova.csv",
        tukey="data/derived/stats/tukey.csv",
        descriptives="data/derived/stats/descriptives.csv",
        reliability="data/derived/stats/reliability.csv",
        mi=W.mi_results(),  # means, tests, tipping of stage impute (none when imputation is off)
        instruments=W.instrument_files(),
        calibration=W.calibration_targets or [],
    output:
        summary="data/derived/sensitivity/summary.csv",
        shifts="data/derived/sensitivity/site_shifts.csv",
        pairs="data/derived/sensitivity/pairs.csv",
        checks="data/derived/sensitivity/checks.csv",
        verdict="data/derived/sensitivity/verdict.md",
        facts="data/derived/sensitivity/verdict.json",
        figures=[*W.sensitivity_figures(), *W.mi_figures("mi_site_means")],
        manifest="data/derived/logs/sensitivity.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/sensitivity.log",
    priority: 10
    conda:
        "envs/cocapp.yaml"
    threads: W.half_the_cores(workflow)
    params:
        settings=W.settings("sensitivity"),
        code=W.code("sensitivity"),
        mi=lambda wildcards, input: (
            "--mi-means {} --mi-tests {} --mi-tipping {}".format(*input.mi)
            if input.mi
            else ""
        ),
        calibration=W.options("calibration"),
    shell:
        "cocapp sensitivity --settings {params.settings:q} --anova {input.anova} --ancova {input.ancova}"
        " --tukey {input.tukey} --descriptives {input.descriptives} --reliability {input.reliability}"
        " {params.mi} --instruments {input.instruments} --summary {output.summary} --site-shifts {output.shifts}"
        " --pairs {output.pairs} --checks {output.checks} --verdict {output.verdict}"
        " --facts {output.facts} --figures {output.figures} {params.calibration}"
        " --workers {threads} --manifest {output.manifest} 2> {log}"


# -- 7b. Multiple imputation: PMM chained equations, pooled comparisons, MNAR delta tipping points -
rule impute:
    input:
        answers=expand(
            W.intermediate("data/derived/ingest/{group}_items.csv"), group=GROUPS
        ),
        respondents=expand(
            W.intermediate("data/derived/ingest/{group}_respondents.csv"), group=GROUPS
        ),
        instruments=W.instrument_files(),
    output:
        means="data/derived/sensitivity/mi_means.csv",
        tests="data/derived/sensitivity/mi_tests.csv",
        pairs="data/derived/sensitivity/mi_pairs.csv",
        correlations="data/derived/sensitivity/mi_correlations.csv",
        tipping="data/derived/sensitivity/mi_tipping.csv",
        diagnostics="data/derived/sensitivity/mi_diagnostics.csv",
        predictors="data/derived/sensitivity/mi_predictors.csv",
        figures=W.mi_figures(),
        manifest="data/derived/logs/impute.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/impute.log",
    priority: 50
    conda:
        "envs/cocapp.yaml"
    threads: W.half_the_cores(workflow)
    params:
        settings=W.settings("impute"),
        code=W.code("impute"),
    shell:
        "cocapp impute --settings {params.settings:q} --items {input.answers}"
        " --respondents {input.respondents} --instruments {input.instruments}"
        " --means {output.means} --tests {output.tests}"
        " --pairs {output.pairs} --correlations {output.correlations} --tipping {output.tipping}"
        " --diagnostics {output.diagnostics} --predictors {output.predictors}"
        " --figures {output.figures} --workers {threads} --manifest {output.manifest} 2> {log}"


# -- 8. Qualitative arm: coded interview extracts -> framework matrices -> joint display ----------
rule qualitative_ingest:
    input:
        segments=W.qualitative_file("segments"),
        # optional: [] when the config names none
        cases=W.qualitative_file("cases"),
        codebook=W.qualitative_file("codebook"),
        interviews=W.qualitative_file("interviews"),
    output:
        segments="data/derived/qualitative/segments.csv",
        cases="data/derived/qualitative/cases.csv",
        codes="data/derived/qualitative/codes.csv",
        report="data/derived/qualitative/import_report.csv",
        memos="data/derived/qualitative/memos.csv",
        sources="data/derived/qualitative/sources.csv",
        manifest="data/derived/logs/qualitative_ingest.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/qualitative_ingest.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("qualitative-ingest"),
        code=W.code("qualitative-ingest"),
        optional=W.options("cases", "codebook", "interviews"),
    shell:
        "cocapp qualitative-ingest --settings {params.settings:q} --segments {input.segments}"
        " {params.optional} --out-segments {output.segments}"
        " --out-cases {output.cases} --out-codes {output.codes}"
        " --out-import-report {output.report} --out-memos {output.memos}"
        " --out-sources {output.sources} --manifest {output.manifest} 2> {log}"


rule qualitative_framework:
    input:
        segments="data/derived/qualitative/segments.csv",
        cases="data/derived/qualitative/cases.csv",
        codes="data/derived/qualitative/codes.csv",
    output:
        case_theme="data/derived/qualitative/framework_case_theme.csv",
        site_theme="data/derived/qualitative/framework_site_theme.csv",
        group_theme="data/derived/qualitative/framework_group_theme.csv",
        code_frequencies="data/derived/qualitative/code_frequencies_by_site.csv",
        codebook="data/derived/qualitative/codebook.csv",
        manifest="data/derived/logs/qualitative_framework.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/qualitative_framework.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("qualitative-framework"),
        code=W.code("qualitative-framework"),
    shell:
        "cocapp qualitative-framework --settings {params.settings:q} --segments {input.segments}"
        " --cases {input.cases} --codes {input.codes} --case-theme {output.case_theme}"
        " --site-theme {output.site_theme} --group-theme {output.group_theme}"
        " --code-frequencies {output.code_frequencies} --codebook {output.codebook}"
        " --manifest {output.manifest} 2> {log}"


rule qualitative_workbook:
    input:
        segments="data/derived/qualitative/segments.csv",
        cases="data/derived/qualitative/cases.csv",
        codes="data/derived/qualitative/codes.csv",
        sources="data/derived/qualitative/sources.csv",
        memos="data/derived/qualitative/memos.csv",
    output:
        workbook="data/derived/qualitative/analyst_workbook.xlsx",
        html="data/derived/qualitative/analyst_workbook.html",
        comparison="data/derived/qualitative/coding_comparison.csv",
        alpha="data/derived/qualitative/coding_alpha.csv",
        manifest="data/derived/logs/qualitative_workbook.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/qualitative_workbook.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("qualitative-workbook"),
        code=W.code("qualitative-workbook"),
    shell:
        "cocapp qualitative-workbook --settings {params.settings:q} --segments {input.segments}"
        " --cases {input.cases} --codes {input.codes} --sources {input.sources} --memos {input.memos}"
        " --workbook {output.workbook} --workbook-html {output.html}"
        " --coding-comparison {output.comparison} --coding-alpha {output.alpha}"
        " --manifest {output.manifest} 2> {log}"


rule joint_display:
    input:
        segments="data/derived/qualitative/segments.csv",
        cases="data/derived/qualitative/cases.csv",
        codes="data/derived/qualitative/codes.csv",
        descriptives="data/derived/stats/descriptives.csv",
        tukey="data/derived/stats/tukey.csv",
        interviews=W.qualitative_file("interviews"),  # [] when the config names none
        # the section shows (and traces) the counts of the published framework tables
        site_theme="data/derived/qualitative/framework_site_theme.csv",
        group_theme="data/derived/qualitative/framework_group_theme.csv",
        code_frequencies="data/derived/qualitative/code_frequencies_by_site.csv",
        codebook="data/derived/qualitative/codebook.csv",
    output:
        joint="data/derived/qualitative/joint_display.csv",
        section="data/derived/qualitative/qualitative_section.html",
        manifest="data/derived/logs/joint_display.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/joint_display.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("joint-display"),
        code=W.code("joint-display"),
        interviews=W.options("interviews"),
    shell:
        "cocapp joint-display --settings {params.settings:q} --segments {input.segments}"
        " --cases {input.cases} --codes {input.codes} --descriptives {input.descriptives}"
        " --tukey {input.tukey} {params.interviews} --site-theme {input.site_theme}"
        " --group-theme {input.group_theme} --code-frequencies {input.code_frequencies}"
        " --codebook {input.codebook} --joint {output.joint} --section {output.section}"
        " --manifest {output.manifest} 2> {log}"


# -- 9. Publication: Tables 1-4 and more, figures, the reproduced-vs-published audit, the report --
rule tables:
    input:
        anova="data/derived/stats/anova.csv",
        descriptives="data/derived/stats/descriptives.csv",
        reliability="data/derived/stats/reliability.csv",
        correlations="data/derived/stats/correlations.csv",
        ancova="data/derived/stats/ancova.csv",
        means="data/derived/stats/ancova_means.csv",
        reconciliation=expand(
            "data/derived/ingest/{group}_reconciliation.csv", group=GROUPS
        ),
        instruments=W.instrument_files(),
    output:
        tables=W.registered(W.table_files()),
        manifest="data/derived/logs/tables.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/tables.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("tables"),
        code=W.code("tables"),
    shell:
        "cocapp tables --settings {params.settings:q} --anova {input.anova}"
        " --descriptives {input.descriptives} --reliability {input.reliability}"
        " --correlations {input.correlations} --ancova {input.ancova} --ancova-means {input.means}"
        " --reconciliation {input.reconciliation} --instruments {input.instruments}"
        " --out {output.tables} --manifest {output.manifest} 2> {log}"


rule figures:
    input:
        descriptives="data/derived/stats/descriptives.csv",
        tukey="data/derived/stats/tukey.csv",
        correlations="data/derived/stats/correlations.csv",
        scores=expand(W.intermediate("data/derived/scores/{group}.csv"), group=GROUPS),
        instruments=W.instrument_files(),
    output:
        figures=W.registered(W.figure_files()),
        manifest="data/derived/logs/figures.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/figures.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("figures"),
        code=W.code("figures"),
    shell:
        "cocapp figures --settings {params.settings:q} --descriptives {input.descriptives}"
        " --tukey {input.tukey} --correlations {input.correlations} --scores {input.scores}"
        " --instruments {input.instruments} --out {output.figures} --manifest {output.manifest} 2> {log}"


rule audit:
    input:
        published=W.published_reference or [],
        calibration=W.calibration_targets or [],
        anova="data/derived/stats/anova.csv",
        descriptives="data/derived/stats/descriptives.csv",
        reliability="data/derived/stats/reliability.csv",
        correlations="data/derived/stats/correlations.csv",
        missingness="data/derived/stats/missingness.csv",
        normality="data/derived/stats/normality.csv",
        reconciliation=expand(
            "data/derived/ingest/{group}_reconciliation.csv", group=GROUPS
        ),
        instruments=W.instrument_files(),
    output:
        comparison=W.registered(["reports/tables/published_comparison.csv"])[0],
        consistency=W.registered(["reports/tables/published_consistency.csv"])[0],
        manifest="data/derived/logs/audit.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/audit.log",
    conda:
        "envs/cocapp.yaml"
    params:
        settings=W.settings("audit"),
        code=W.code("audit"),
        calibration=W.options("calibration"),
    shell:
        "cocapp audit --settings {params.settings:q} --published {input.published} {params.calibration}"
        " --anova {input.anova} --descriptives {input.descriptives} --reliability {input.reliability}"
        " --correlations {input.correlations} --reconciliation {input.reconciliation}"
        " --instruments {input.instruments} --missingness {input.missingness}"
        " --normality {input.normality}"
        " --comparison {output.comparison} --consistency {output.consistency}"
        " --manifest {output.manifest} 2> {log}"


rule report:
    input:
        tables=W.table_files(),
        figures=W.figure_files(),
        verdict="data/derived/sensitivity/verdict.json",
        sensitivity_figures=[
            *W.sensitivity_figures(),
            *W.mi_figures("mi_site_means"),
            *W.mi_figures(),
        ],
        # the optional parts: [] when the config switches them off
        published_comparison=(
            "reports/tables/published_comparison.csv" if W.published_reference else []
        ),
        published_consistency=(
            "reports/tables/published_consistency.csv" if W.published_reference else []
        ),
        qualitative_section=(
            "data/derived/qualitative/qualitative_section.html"
            if W.qualitative_enabled
            else []
        ),
        # the files the numbers of the qualitative section come from (issue 14: traced)
        joint_display=QUALITATIVE_TRACED[0] if W.qualitative_enabled else [],
        framework_site_theme=QUALITATIVE_TRACED[1] if W.qualitative_enabled else [],
        framework_group_theme=QUALITATIVE_TRACED[2] if W.qualitative_enabled else [],
        code_frequencies=QUALITATIVE_TRACED[3] if W.qualitative_enabled else [],
        qualitative_codebook=QUALITATIVE_TRACED[4] if W.qualitative_enabled else [],
        raw=W.raw_files(),
        config=W.config_files(workflow),
        instruments=W.instrument_files(),
        calibration=W.calibration_targets or [],
        # the statistics shown as compact tables
        missingness="data/derived/stats/missingness.csv",
        mcar="data/derived/stats/mcar.csv",
        normality="data/derived/stats/normality.csv",
        anova="data/derived/stats/anova.csv",
        correlations="data/derived/stats/correlations.csv",
        tukey="data/derived/stats/tukey.csv",
        games_howell="data/derived/stats/games_howell.csv",
        ancova_slopes="data/derived/stats/ancova_slopes.csv",
        ancova_posthoc="data/derived/stats/ancova_posthoc.csv",
        mi_correlations=W.mi_results(("correlations",)),
        mi_pairs=W.mi_results(("pairs",)),
        # the derived files behind Tables 1-4 and S1-S2: every number of the report carries its trace
        descriptives="data/derived/stats/descriptives.csv",
        reliability="data/derived/stats/reliability.csv",
        ancova="data/derived/stats/ancova.csv",
        ancova_means="data/derived/stats/ancova_means.csv",
        reconciliation=expand(
            "data/derived/ingest/{group}_reconciliation.csv", group=GROUPS
        ),
        # the provenance manifest of every other job of the run
        manifests=[
            rules.ingest.output.manifest,
            *expand(rules.score.output.manifest, group=GROUPS),
            rules.reliability.output.manifest,
            rules.missingness.output.manifest,
            rules.distributions.output.manifest,
            rules.compare_sites.output.manifest,
            rules.ancova.output.manifest,
            rules.sensitivity.output.manifest,
            *([rules.impute.output.manifest] if W.imputation_enabled else []),
            *(
                [
                    rules.qualitative_ingest.output.manifest,
                    rules.qualitative_framework.output.manifest,
                    rules.qualitative_workbook.output.manifest,
                    rules.joint_display.output.manifest,
                ]
                if W.qualitative_enabled
                else []
            ),
            rules.tables.output.manifest,
            rules.figures.output.manifest,
            *([rules.audit.output.manifest] if W.published_reference else []),
        ],
    output:
        report=W.registered(["reports/report.html"]),
        manifest="data/derived/logs/report.manifest.json",  # written by the stage runner
    log:
        "data/derived/logs/report.log",
    conda:
        "envs/cocapp.yaml"
    threads: 2
    params:
        settings=W.settings("report"),
        code=W.code("report"),
        optional=W.options(
            "published_comparison",
            "published_consistency",
            "qualitative_section",
            "joint_display",
            "framework_site_theme",
            "framework_group_theme",
            "code_frequencies",
            "qualitative_codebook",
            "calibration",
            "mi_correlations",
            "mi_pairs",
        ),
    shell:
        "cocapp report --settings {params.settings:q} --tables {input.tables} --figures {input.figures}"
        " --verdict {input.verdict} --sensitivity-figures {input.sensitivity_figures}"
        " --raw {input.raw} --config-file {input.config} --instruments {input.instruments}"
        " {params.optional} --missingness {input.missingness} --mcar {input.mcar}"
        " --normality {input.normality} --anova {input.anova} --correlations {input.correlations}"
        " --tukey {input.tukey} --games-howell {input.games_howell}"
        " --ancova-slopes {input.ancova_slopes} --ancova-posthoc {input.ancova_posthoc}"
        " --descriptives {input.descriptives} --reliability {input.reliability}"
        " --ancova {input.ancova} --ancova-means {input.ancova_means}"
        " --reconciliation {input.reconciliation} --manifests {input.manifests} --out {output.report}"
        " --workers {threads} --manifest {output.manifest} 2> {log}"
