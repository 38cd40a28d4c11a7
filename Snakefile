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
        settings=W.settings("sites", "input", "groups", "instrument_paths"),
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
