# cocapp: the COCAPP survey analysis (Simpson et al. 2016, BMC Psychiatry 16:147), stage by stage.
# Each rule is one stage of the paper's Methods and a thin call into the cocapp package; target lists,
# input functions and rerun parameters live in src/cocapp/workflow.py.

from snakemake.utils import min_version

from cocapp.config import validate_config, with_defaults
from cocapp.workflow import Workflow

min_version("8.0")


configfile: "config.yaml"


# Stop at once, naming the key, when the configuration is wrong.
config = with_defaults(validate_config(config, "config"))
W = Workflow(config)
CONFIG = W.write_effective_config()


wildcard_constraints:
    **W.wildcard_constraints(),


rule all:
    input:
        W.all_targets(),
    default_target: True


# -- 1. Questionnaire returns: read and validate the raw files -------------------------------------
rule ingest:
    input:
        raw=W.raw_inputs(),
        instruments=W.instrument_files(),
    output:
        W.ingest_outputs(),
    params:
        config=CONFIG,
        settings=W.ingest_settings(),
        outdir=W.output_dir(),
    log:
        W.log("ingest.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.ingest --config {params.config} --outdir {params.outdir} > {log} 2>&1"


# -- 2. Scale scores with person-mean replacement, one job per group and threshold ----------------
rule score:
    input:
        responses=W.path("ingest", "{group}_items.csv"),
        instruments=W.group_instrument_files(),
    output:
        W.path("scores", "by_threshold", "{group}", "{threshold}.csv"),
    params:
        config=CONFIG,
        settings=W.settings("instrument_paths", group_keys=("instruments", "item_columns")),
    log:
        W.log("score", "{group}_{threshold}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.scoring --config {params.config} --group {wildcards.group} --items {input.responses}"
        " --threshold {wildcards.threshold} --out {output} > {log} 2>&1"


rule combine_scores:
    input:
        W.score_parts(),
    output:
        W.path("scores", "{group}.csv"),
    params:
        config=CONFIG,
    log:
        W.log("combine_scores", "{group}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.collect --out {output} {input} > {log} 2>&1"


# -- 3. Measurement: reliability (complete cases) and the missing-data profile, per group ---------
rule reliability:
    input:
        responses=W.path("ingest", "{group}_items.csv"),
        instruments=W.group_instrument_files(),
    output:
        alpha=W.path("stats", "parts", "{group}", "reliability.csv"),
        by_item=W.path("stats", "parts", "{group}", "reliability_items.csv"),
    params:
        config=CONFIG,
        settings=W.settings("statistics", "instrument_paths", group_keys=("instruments", "item_columns")),
    log:
        W.log("reliability", "{group}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.reliability --config {params.config} --group {wildcards.group}"
        " --items {input.responses} --out {output.alpha} --items-out {output.by_item} > {log} 2>&1"


rule missingness:
    input:
        responses=W.path("ingest", "{group}_items.csv"),
        instruments=W.group_instrument_files(),
    output:
        by_scale=W.path("stats", "parts", "{group}", "missingness.csv"),
        by_item=W.path("stats", "parts", "{group}", "missingness_items.csv"),
        patterns=W.path("stats", "parts", "{group}", "missingness_patterns.csv"),
        mcar=W.path("stats", "parts", "{group}", "mcar.csv"),
    params:
        config=CONFIG,
        settings=W.settings("input", "instrument_paths", group_keys=("instruments", "item_columns")),
    log:
        W.log("missingness", "{group}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.missingness --config {params.config} --group {wildcards.group}"
        " --items {input.responses} --out {output.by_scale} --items-out {output.by_item}"
        " --patterns-out {output.patterns} --mcar-out {output.mcar} > {log} 2>&1"


# -- 4. Distributions: descriptives, normality and reference values, per group and threshold ------
rule descriptives:
    input:
        scores=W.path("scores", "by_threshold", "{group}", "{threshold}.csv"),
        instruments=W.group_instrument_files(),
    output:
        W.path("stats", "parts", "{group}", "{threshold}", "descriptives.csv"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "statistics", "instrument_paths"),
    log:
        W.log("descriptives", "{group}_{threshold}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.descriptives --config {params.config} --group {wildcards.group}"
        " --threshold {wildcards.threshold} --scores {input.scores} --out {output} > {log} 2>&1"


rule normality:
    input:
        scores=W.path("scores", "by_threshold", "{group}", "{threshold}.csv"),
        instruments=W.group_instrument_files(),
    output:
        W.path("stats", "parts", "{group}", "{threshold}", "normality.csv"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "statistics", "instrument_paths"),
    log:
        W.log("normality", "{group}_{threshold}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.normality --config {params.config} --group {wildcards.group}"
        " --threshold {wildcards.threshold} --scores {input.scores} --out {output} > {log} 2>&1"


rule reference_values:
    input:
        scores=W.path("scores", "by_threshold", "{group}", "{threshold}.csv"),
        instruments=W.group_instrument_files(),
    output:
        W.path("stats", "parts", "{group}", "{threshold}", "reference_comparison.csv"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "statistics", "instrument_paths"),
    log:
        W.log("reference_values", "{group}_{threshold}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.reference --config {params.config} --group {wildcards.group}"
        " --threshold {wildcards.threshold} --scores {input.scores} --out {output} > {log} 2>&1"


# -- 5. Site comparisons: ANOVA + Tukey, ANCOVA (two covariate models), correlations -------------
rule compare_sites:
    input:
        scores=W.path("scores", "by_threshold", "{group}", "{threshold}.csv"),
        respondents=W.path("ingest", "{group}_respondents.csv"),
    output:
        W.compare_outputs(),
    params:
        config=CONFIG,
        settings=W.settings("sites", "statistics", group_keys=("instruments", "covariates", "ancova_models")),
        outdir=W.output_dir(),
    log:
        W.log("compare_sites", "{group}_{threshold}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.compare --config {params.config} --group {wildcards.group}"
        " --threshold {wildcards.threshold} --scores {input.scores} --respondents {input.respondents}"
        " --outdir {params.outdir} > {log} 2>&1"


# One tidy file per statistic (output contract), concatenated in config order.
rule collect_statistics:
    input:
        W.stats_parts(),
    output:
        W.path("stats", "{name}.csv"),
    params:
        config=CONFIG,
    log:
        W.log("collect_statistics", "{name}.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.collect --out {output} {input} > {log} 2>&1"


# -- 6. Sensitivity: complete cases vs 20-50 % person-mean replacement, with a verdict -----------
rule sensitivity:
    input:
        anova=W.path("stats", "anova.csv"),
        ancova=W.path("stats", "ancova.csv"),
        tukey=W.path("stats", "tukey.csv"),
        descriptives=W.path("stats", "descriptives.csv"),
        reliability=W.path("stats", "reliability.csv"),
        instruments=W.instrument_files(),
    output:
        summary=W.path("sensitivity", "summary.csv"),
        shifts=W.path("sensitivity", "site_shifts.csv"),
        pairs=W.path("sensitivity", "pairs.csv"),
        checks=W.path("sensitivity", "checks.csv"),
        verdict=W.path("sensitivity", "verdict.md"),
        facts=W.path("sensitivity", "verdict.json"),
        figures=W.sensitivity_figures(),
    params:
        config=CONFIG,
        settings=W.settings("study", "sites", "groups", "scoring", "statistics", "instrument_paths"),
        outdir=W.output_dir(),
        figdir=W.output_dir(6),
    log:
        W.log("sensitivity.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.sensitivity --config {params.config} --anova {input.anova} --ancova {input.ancova}"
        " --tukey {input.tukey} --descriptives {input.descriptives} --reliability {input.reliability}"
        " --outdir {params.outdir} --figdir {params.figdir} > {log} 2>&1"


# -- 7. Qualitative arm: coded interview extracts -> framework matrices -> joint display ----------
rule qualitative_ingest:
    input:
        W.qualitative_inputs(),
    output:
        W.qualitative_outputs("ingest"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "qualitative"),
        outdir=W.output_dir(),
    log:
        W.log("qualitative_ingest.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.qualitative.ingest --config {params.config} --outdir {params.outdir} > {log} 2>&1"


rule framework_matrices:
    input:
        W.qualitative_outputs("ingest"),
    output:
        W.qualitative_outputs("framework"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "qualitative"),
        outdir=W.output_dir(),
    log:
        W.log("framework_matrices.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.qualitative.framework --config {params.config} --indir {params.outdir}"
        " --outdir {params.outdir} > {log} 2>&1"


rule joint_display:
    input:
        raw=W.qualitative_inputs(),
        qualitative=W.qualitative_outputs("ingest"),
        descriptives=W.path("stats", "descriptives.csv"),
        tukey=W.path("stats", "tukey.csv"),
    output:
        W.qualitative_outputs("joint"),
    params:
        config=CONFIG,
        settings=W.settings("sites", "scoring", "statistics", "qualitative"),
        outdir=W.output_dir(),
    log:
        W.log("joint_display.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.qualitative.joint --config {params.config} --qualdir {params.outdir}"
        " --descriptives {input.descriptives} --tukey {input.tukey} --outdir {params.outdir} > {log} 2>&1"


# -- 8. Publication: Tables 1-4 and more, figures, the reproduced-vs-published audit, the report --
rule tables:
    input:
        stats=W.stats_file("anova", "descriptives", "reliability", "correlations", "ancova", "ancova_means"),
        returns=W.reconciliation_files(),
        instruments=W.instrument_files(),
    output:
        W.publication_outputs("tables"),
    params:
        config=CONFIG,
        settings=W.settings("study", "sites", "groups", "scoring", "statistics", "instrument_paths"),
        stats_dir=W.folder_of("input", "stats"),
        ingest_dir=W.folder_of("input", "returns"),
        outdir=W.folder_of("output"),
    log:
        W.log("tables.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.tables --config {params.config} --stats-dir {params.stats_dir}"
        " --ingest-dir {params.ingest_dir} --outdir {params.outdir} > {log} 2>&1"


rule figures:
    input:
        stats=W.stats_file("descriptives", "tukey", "correlations"),
        scores=W.score_files(),
        instruments=W.instrument_files(),
    output:
        W.publication_outputs("figures"),
    params:
        config=CONFIG,
        settings=W.settings("study", "sites", "groups", "scoring", "statistics", "published", "instrument_paths"),
        stats_dir=W.folder_of("input", "stats"),
        scores_dir=W.folder_of("input", "scores"),
        outdir=W.folder_of("output"),
    log:
        W.log("figures.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.figures --config {params.config} --stats-dir {params.stats_dir}"
        " --scores-dir {params.scores_dir} --outdir {params.outdir} > {log} 2>&1"


if W.published_reference:

    rule audit_against_published:
        input:
            published=W.published_reference,
            stats=W.stats_file("anova", "descriptives", "reliability", "correlations"),
            returns=W.reconciliation_files(),
        output:
            comparison=W.publication_outputs("audit")[0],
            consistency=W.publication_outputs("audit")[1],
        params:
            config=CONFIG,
            settings=W.settings("study", "sites", "groups", "scoring", "statistics", "published"),
            stats_dir=W.folder_of("input", "stats"),
            ingest_dir=W.folder_of("input", "returns"),
        log:
            W.log("audit.log"),
        conda:
            "envs/cocapp.yaml"
        shell:
            "python -m cocapp.audit --config {params.config} --published {input.published}"
            " --stats-dir {params.stats_dir} --ingest-dir {params.ingest_dir}"
            " --out {output.comparison} --consistency-out {output.consistency} > {log} 2>&1"


rule report:
    input:
        **W.report_inputs(),
    output:
        W.publication_outputs("report"),
    params:
        config=CONFIG,
        tables_dir=W.folder_of("input", "tables"),
        figures_dir=W.folder_of("input", "figures"),
        sensitivity_dir=W.folder_of("input", "sensitivity"),
        options=W.report_options(),
    log:
        W.log("report.log"),
    conda:
        "envs/cocapp.yaml"
    shell:
        "python -m cocapp.report --config {params.config} --tables-dir {params.tables_dir}"
        " --figures-dir {params.figures_dir} --sensitivity-dir {params.sensitivity_dir} {params.options}"
        " --inputs {input.raw} --out {output} > {log} 2>&1"
