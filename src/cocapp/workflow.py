"""Target lists, input functions and rerun parameters for the Snakefile.

The Snakefile only wires stages together; everything that needs logic (which files exist for which
group and threshold, which config values a rule depends on) lives here, so it can be tested without
Snakemake. Each rule's ``params: settings=`` is the JSON text of exactly the config values the stage
uses, so Snakemake's ``params`` rerun trigger reruns a job when, and only when, those values change
(adding a threshold adds jobs without rerunning the others).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import yaml

from cocapp.config import format_threshold
from cocapp.instruments import instrument_file

__all__ = ["Workflow"]

# Per-threshold statistics parts, by the stage that writes them.
THRESHOLD_PARTS = {
    "descriptives": ["descriptives"],
    "normality": ["normality"],
    "reference": ["reference_comparison"],
    "compare": [
        "anova",
        "tukey",
        "games_howell",
        "ancova",
        "ancova_means",
        "ancova_posthoc",
        "ancova_slopes",
        "correlations",
    ],
}
# Threshold-free statistics parts (one per group).
GROUP_PARTS = {
    "reliability": ["reliability", "reliability_items"],
    "missingness": ["missingness", "missingness_items", "missingness_patterns", "mcar"],
}


class Workflow:
    """Paths and parameters derived from a validated config."""

    def __init__(self, config: dict):
        self.config = config
        self.derived = Path(config["outputs"]["derived"])
        self.reports = Path(config["outputs"]["reports"])

    # -- basics -------------------------------------------------------------------------------
    @property
    def groups(self) -> list[str]:
        return list(self.config["groups"])

    @property
    def thresholds(self) -> list[str]:
        return [format_threshold(t) for t in self.config["scoring"]["thresholds"]]

    def path(self, *parts: str) -> str:
        return str(self.derived.joinpath(*parts))

    def report_path(self, *parts: str) -> str:
        return str(self.reports.joinpath(*parts))

    def log(self, *parts: str) -> str:
        return str(self.derived.joinpath("logs", *parts))

    def wildcard_constraints(self) -> dict[str, str]:
        alt = lambda xs: "|".join(map(_escape, xs))  # noqa: E731
        names = [n for ns in (*THRESHOLD_PARTS.values(), *GROUP_PARTS.values()) for n in ns]
        return {"group": alt(self.groups), "threshold": r"[0-9]+\.[0-9]+", "name": alt(names)}

    # -- effective config ---------------------------------------------------------------------
    def write_effective_config(self) -> str:
        """Write the merged config the stages read (only when its content changed); return its path."""
        path = self.derived / "config" / "effective.yaml"
        text = yaml.safe_dump(self.config, sort_keys=False, allow_unicode=True)
        if not path.is_file() or path.read_text("utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text, "utf-8")
            tmp.replace(path)
        return str(path)

    # -- inputs -------------------------------------------------------------------------------
    def raw_inputs(self) -> list[str]:
        files: list[str] = []
        for g in self.config["groups"].values():
            files.append(g["raw"])
            if Path(g["raw"]).suffix.lower() == ".csv" and g.get("codebook"):
                files.append(g["codebook"])
        return sorted(set(files), key=files.index)

    def instrument_files(self, groups: list[str] | None = None) -> list[str]:
        keys: list[str] = []
        for g in groups or self.groups:
            keys += [k for k in self.config["groups"][g]["instruments"] if k not in keys]
        paths = self.config.get("instrument_paths", [])
        return [str(instrument_file(k, paths)) for k in keys]

    def group_instrument_files(self) -> Callable:
        return lambda wc: self.instrument_files([wc.group])

    # -- outputs ------------------------------------------------------------------------------
    def ingest_outputs(self) -> list[str]:
        return [
            self.path("ingest", f"{g}_{kind}.csv")
            for g in self.groups
            for kind in ("items", "respondents", "reconciliation")
        ]

    def score_parts(self) -> Callable:
        return lambda wc: [self.path("scores", "by_threshold", wc.group, f"{t}.csv") for t in self.thresholds]

    def stats_parts(self) -> Callable:
        """Input function of the collect rule: every part of ``{name}`` in config order."""

        def parts(wc) -> list[str]:
            for names in THRESHOLD_PARTS.values():
                if wc.name in names:
                    return [
                        self.path("stats", "parts", g, t, f"{wc.name}.csv")
                        for g in self.groups
                        for t in self.thresholds
                    ]
            return [self.path("stats", "parts", g, f"{wc.name}.csv") for g in self.groups]

        return parts

    def compare_outputs(self) -> list[str]:
        return [
            self.path("stats", "parts", "{group}", "{threshold}", f"{n}.csv")
            for n in THRESHOLD_PARTS["compare"]
        ]

    def stats_files(self) -> list[str]:
        names = [n for ns in (*GROUP_PARTS.values(), *THRESHOLD_PARTS.values()) for n in ns]
        return [self.path("stats", f"{n}.csv") for n in names]

    def score_files(self) -> list[str]:
        return [self.path("scores", f"{g}.csv") for g in self.groups]

    # -- qualitative arm ---------------------------------------------------------------------
    @property
    def qualitative_enabled(self) -> bool:
        return bool(self.config.get("qualitative", {}).get("enabled", False))

    def qualitative_inputs(self) -> list[str]:
        q = self.config.get("qualitative", {})
        return [q[k] for k in ("segments", "cases", "codebook", "interviews") if q.get(k)]

    def qualitative_outputs(self, stage: str) -> list[str]:
        names = {
            "ingest": ["segments.csv", "cases.csv", "codes.csv"],
            "framework": [
                "framework_case_theme.csv",
                "framework_site_theme.csv",
                "framework_group_theme.csv",
                "code_frequencies_by_site.csv",
                "codebook.csv",
            ],
            "joint": ["joint_display.csv", "qualitative_section.html"],
        }[stage]
        return [self.path("qualitative", n) for n in names]

    def sensitivity_figures(self) -> list[str]:
        return [
            self.report_path("figures", "sensitivity", f"{g}_{kind}.{ext}")
            for g in self.groups
            for kind in ("n_p", "site_means")
            for ext in ("png", "svg")
        ]

    # -- publication ---------------------------------------------------------------------------
    @property
    def published_reference(self) -> str | None:
        return (self.config.get("published") or {}).get("reference")

    def publication_outputs(self, stage: str) -> list:
        """Outputs of ``tables``/``figures``/``audit``/``report``, wrapped in Snakemake ``report()``
        (caption + category) where the stage registers them for ``snakemake --report``."""
        from snakemake.io import report

        from cocapp import audit, figures, tables
        from cocapp import report as report_stage

        module = {"tables": tables, "figures": figures, "audit": audit, "report": report_stage}[stage]
        registered = {item["path"]: item for item in report_stage.report_items(self.config)}
        out = []
        for path in module.expected_outputs(self.config):
            item = registered.get(path)
            if item is None:
                out.append(path)
            else:
                out.append(
                    report(
                        path,
                        caption=item["caption"],
                        category=item["category"],
                        subcategory=item["subcategory"],
                    )
                )
        return out

    def stats_file(self, *names: str) -> list[str]:
        return [self.path("stats", f"{n}.csv") for n in names]

    def reconciliation_files(self) -> list[str]:
        return [self.path("ingest", f"{g}_reconciliation.csv") for g in self.groups]

    def sensitivity_outputs(self) -> list[str]:
        names = ["summary.csv", "site_shifts.csv", "pairs.csv", "checks.csv", "verdict.md", "verdict.json"]
        return [self.path("sensitivity", n) for n in names]

    def report_inputs(self) -> dict[str, list[str]]:
        """Everything the HTML report shows (and the raw files whose hashes it records)."""
        inputs = {
            "tables": [str(p) for p in self.publication_outputs("tables")],
            "figures": [str(p) for p in self.publication_outputs("figures")],
            "sensitivity": self.sensitivity_outputs(),
            "sensitivity_figures": self.sensitivity_figures(),
            "raw": self.raw_inputs(),
        }
        if self.published_reference:
            inputs["audit"] = [str(p) for p in self.publication_outputs("audit")]
        if self.qualitative_enabled:
            inputs["qualitative"] = [self.path("qualitative", "qualitative_section.html")]
        return inputs

    def report_options(self) -> str:
        """Optional command-line parts of the report stage."""
        if self.qualitative_enabled:
            return "--qualitative-html " + self.path("qualitative", "qualitative_section.html")
        return ""

    def all_targets(self) -> list[str]:
        """Every final output of a default run."""
        targets = [
            *self.ingest_outputs(),
            *self.score_files(),
            *self.stats_files(),
            *self.sensitivity_outputs(),
            *self.sensitivity_figures(),
            *map(str, self.publication_outputs("tables")),
            *map(str, self.publication_outputs("figures")),
            *map(str, self.publication_outputs("report")),
        ]
        if self.published_reference:
            targets += map(str, self.publication_outputs("audit"))
        if self.qualitative_enabled:
            for stage in ("ingest", "framework", "joint"):
                targets += self.qualitative_outputs(stage)
        return targets

    @staticmethod
    def output_dir(index: int = 0) -> Callable:
        """Params function: the folder of the rule's ``index``-th output (for stages taking --outdir)."""
        return lambda wildcards, output: str(Path(output[index]).parent)

    @staticmethod
    def folder_of(kind: str, key: str | None = None) -> Callable:
        """Params function: the folder holding all of a rule's inputs/outputs (``key`` selects a named
        group), so a stage that takes a folder is given one derived from its declared files."""

        def folder(wildcards, input, output) -> str:  # noqa: A002 - Snakemake's argument names
            files = output if kind == "output" else input
            if key is not None:
                files = getattr(files, key)
            paths = [files] if isinstance(files, str) else list(files)
            common = os.path.commonpath(paths)
            return str(Path(common).parent) if len(paths) == 1 or common in paths else common

        return folder

    # -- rerun parameters ---------------------------------------------------------------------
    def settings(self, *keys: str, group_keys: tuple[str, ...] = ()) -> Callable:
        """Params function: JSON of the named top-level config sections (+ the group's own keys)."""

        def value(wc) -> str:
            picked = {k: self.config.get(k) for k in keys}
            group = getattr(wc, "group", None)
            if group is not None and group_keys:
                g = self.config["groups"][group]
                picked["group"] = {k: g.get(k) for k in group_keys}
            return json.dumps(picked, sort_keys=True, default=str)

        return value

    def ingest_settings(self) -> str:
        """What ingest depends on: sites, missing codes, and each group's raw layout and covariates."""
        keys = ("raw", "codebook", "id_column", "site_column", "instruments", "item_columns", "covariates")
        picked = {
            "sites": self.config["sites"],
            "input": self.config.get("input"),
            "instrument_paths": self.config.get("instrument_paths"),
            "groups": {g: {k: spec.get(k) for k in keys} for g, spec in self.config["groups"].items()},
        }
        return json.dumps(picked, sort_keys=True, default=str)

    def all_settings(self) -> str:
        return json.dumps(self.config, sort_keys=True, default=str)


def _escape(text: str) -> str:
    import re

    return re.escape(text)
