"""The stage layer: every ``cocapp <stage>`` command, the one place that reads, writes and logs.

Each stage module (``cocapp.stages.<name>``) has ``add_arguments(parser)`` (the files it reads and
writes) and ``run(args, settings, log) -> {path: content}``; :mod:`cocapp.stages.runner` does the rest
(argument parsing, the guarded :class:`~cocapp.stages.settings.Settings`, logging, all-or-nothing
writing, errors). :data:`STAGES` below is plain data, light enough for the Snakefile to read at parse
time: what each stage does, the config keys it reads (its rule's ``params``) and the package data it
uses besides code (for the code hash of :func:`cocapp.workflow.code_hash`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STAGES", "StageSpec"]

# The instrument files are no setting: the workflow finds them (instrument_paths) and passes them
# (--instruments); a stage reads the instruments its groups use.
_GROUP_ITEMS = ("groups.*.instruments", "groups.*.item_columns")


@dataclass(frozen=True)
class StageSpec:
    """What the workflow needs to know about one stage without importing it."""

    module: str
    description: str
    # dotted config keys the stage reads: `*` = every group, `groups.*` = the group names alone,
    # `{a.b}` = the value of key a.b (cocapp.stages.settings.expand_keys)
    settings: tuple[str, ...] = ()
    data: tuple[str, ...] = ()  # package data (folders or files, relative to src/cocapp) the stage reads


# The report shows the whole configuration, so it reads every section.
_ALL = (
    "study",
    "sites",
    "grouping",
    "input",
    "groups",
    "instrument_paths",
    "scoring",
    "statistics",
    "qualitative",
    "published",
    "imputation",
)

# What every display of results reads: the synthetic-data stamp, sites, groups and their labels,
# the primary threshold, and the significance and confidence levels.
_DISPLAY = (
    "study.synthetic",
    "sites",
    "grouping",
    "groups.*.instruments",
    "groups.*.correlations",
    "groups.*.label",
    "groups.*.label_in_sentence",
    "scoring.primary_threshold",
    "statistics.significance_level",
    "statistics.confidence_level",
)
# The qualitative small-cell rule and the dataset's label, shown on every qualitative output.
_SMALL_CELLS = (
    "qualitative.dataset_label",
    "qualitative.small_cell_threshold",
    "qualitative.suppress_single_case_extracts",
)

STAGES: dict[str, StageSpec] = {
    "ingest": StageSpec(
        "cocapp.stages.ingest",
        "read and validate the raw questionnaires; write items, respondents and reconciliation",
        (
            "sites",
            "grouping",
            "input.missing_codes",
            "groups.*.raw",
            "groups.*.codebook",
            "groups.*.read",
            "groups.*.id_column",
            "groups.*.site_column",
            "groups.*.covariates",
            *_GROUP_ITEMS,
        ),
        ("instruments", "schemas"),
    ),
    "score": StageSpec(
        "cocapp.stages.score",
        "score every scale of one group at every threshold (person-mean replacement)",
        ("scoring.thresholds", *_GROUP_ITEMS),
        ("instruments", "schemas"),
    ),
    "reliability": StageSpec(
        "cocapp.stages.reliability",
        "Cronbach's alpha per scale (complete cases) with Feldt CI, and item statistics",
        ("statistics.confidence_level", "statistics.acceptable_alpha", *_GROUP_ITEMS),
        ("instruments", "schemas"),
    ),
    "missingness": StageSpec(
        "cocapp.stages.missingness",
        "missing data per scale and item, missing-data patterns, Little's MCAR test",
        ("input.missing_codes", *_GROUP_ITEMS),
        ("instruments", "schemas"),
    ),
    "distributions": StageSpec(
        "cocapp.stages.distributions",
        "descriptives by site, skewness and kurtosis, reference values, at every threshold",
        (
            "sites",
            "scoring.thresholds",
            "statistics.confidence_level",
            "statistics.normality_limits",
            "groups.*.instruments",
        ),
        ("instruments", "schemas"),
    ),
    "compare-sites": StageSpec(
        "cocapp.stages.compare_sites",
        "one-way ANOVA (+ Levene, Welch), Tukey-Kramer, Games-Howell and correlations, every threshold",
        (
            "sites",
            "scoring.thresholds",
            "statistics.significance_level",
            "statistics.confidence_level",
            "statistics.correlations.effect_size_labels",
            "groups.*.instruments",
            "groups.*.correlations",
        ),
    ),
    "ancova": StageSpec(
        "cocapp.stages.ancova",
        "ANCOVA per covariate model: type III table, adjusted means, post hoc, slopes, every threshold",
        (
            "sites",
            "scoring.thresholds",
            "statistics.significance_level",
            "statistics.confidence_level",
            "statistics.post_hoc.ancova",
            "statistics.adjusted_means_weights",
            "groups.*.instruments",
            "groups.*.covariates",
            "groups.*.ancova_models",
        ),
    ),
    "sensitivity": StageSpec(
        "cocapp.stages.sensitivity",
        "complete cases vs 20-50 % replacement: summary, shifts, changing pairs, checks, verdict, figures",
        (
            "study.name",
            "study.synthetic",
            "study.data_note",
            "study.calibration",
            "sites",
            "grouping",
            "groups.*.instruments",
            "groups.*.label",
            "groups.*.ancova_models",
            "scoring.thresholds",
            "scoring.primary_threshold",
            "statistics.significance_level",
            "statistics.confidence_level",
            "imputation",
        ),
        ("instruments", "schemas", "presentation/templates/verdict.j2"),
    ),
    "impute": StageSpec(
        "cocapp.stages.impute",
        "multiple imputation (PMM chained equations), pooled site comparisons, delta tipping points",
        (
            "study.synthetic",
            "sites",
            "groups.*.label",
            "groups.*.covariates",
            "groups.*.ancova_models",
            *_GROUP_ITEMS,
            "groups.*.correlations",
            "statistics.significance_level",
            "statistics.confidence_level",
            "statistics.adjusted_means_weights",
            "imputation",
        ),
        ("instruments", "schemas"),
    ),
    "qualitative-ingest": StageSpec(
        "cocapp.stages.qualitative_ingest",
        "validate coded segments (CSV, QualCoder, .qdpx); write canonical segments, cases, codes",
        (
            "sites",
            "qualitative.segments",
            "qualitative.cases",
            "qualitative.codebook",
            "qualitative.interviews",
            "qualitative.theme_level",
            "qualitative.offset_unit",
            "qualitative.variables",
            "qualitative.qdpx_limits",
        ),
    ),
    "qualitative-framework": StageSpec(
        "cocapp.stages.qualitative_framework",
        "framework matrices, code frequencies by site, codebook with counts (small cells suppressed)",
        ("sites", *_SMALL_CELLS),
    ),
    "qualitative-workbook": StageSpec(
        "cocapp.stages.qualitative_workbook",
        "analyst workbook (Excel + HTML, unsuppressed, not for publication) and inter-coder agreement",
        ("qualitative.dataset_label",),
    ),
    "joint-display": StageSpec(
        "cocapp.stages.joint_display",
        "survey results beside the qualitative coverage per site; the report's qualitative section",
        (
            "study.synthetic",
            "sites",
            "groups.{qualitative.joint_display.group}.label",  # the group shown
            "scoring.primary_threshold",
            "statistics.confidence_level",
            "statistics.significance_level",
            "qualitative.interviews",
            "qualitative.joint_display",
            *_SMALL_CELLS,
        ),
        ("qualitative/templates",),
    ),
    "tables": StageSpec(
        "cocapp.stages.tables",
        "publication tables 1-4, reliability and ANCOVA means (CSV, Markdown, HTML, DOCX)",
        (
            *_DISPLAY,
            "study.data_note",
            "groups.*.ancova_models",
            "statistics.acceptable_alpha",
            "statistics.ancova_ss_type",
            "statistics.correlations.method",
            "statistics.correlations.deletion",
            "statistics.funnel",
        ),
        ("instruments", "schemas"),
    ),
    "figures": StageSpec(
        "cocapp.stages.figures",
        "site means +/- CI for every outcome (Fig. 3 layout), correlation scatter plots",
        (*_DISPLAY, "published.figures", "statistics.post_hoc.reference_site", "statistics.funnel"),
        ("instruments", "schemas"),
    ),
    "audit": StageSpec(
        "cocapp.stages.audit",
        "printed vs regenerated numbers; statcheck-style consistency checks of the print",
        (
            "groups.*.instruments",  # the group names and their instruments
            "scoring.primary_threshold",
            "statistics.significance_level",
            # calibration of synthetic data and the methods compared with the paper's (issue 14)
            "study.synthetic",
            "study.calibration",
            "statistics.post_hoc.anova",
            "statistics.acceptable_alpha",
        ),
        ("instruments", "schemas"),
    ),
    "report": StageSpec(
        "cocapp.stages.report",
        "one self-contained HTML report (reports/report.html)",
        _ALL,
        ("instruments", "schemas", "presentation/templates"),
    ),
}
