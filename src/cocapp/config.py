"""Study configuration: load ``config.yaml``, validate it, and answer questions about it.

The JSON schema (``cocapp/schemas/config.schema.yaml``) checks keys, types and values; the
cross-field checks here catch what a schema cannot (a primary threshold that is not among the
thresholds, an ANCOVA model naming an undeclared covariate, an unknown instrument). Every error names
the offending key.
"""

from __future__ import annotations

import codecs
from fractions import Fraction
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from cocapp import yamlio
from cocapp.instruments import (
    InstrumentError,
    YamlFileError,
    instrument_file,
    load_instrument,
    pattern_problem,
    read_yaml_file,
)

__all__ = [
    "ConfigError",
    "config_schema",
    "correlation_measures",
    "group_correlation_measures",
    "format_threshold",
    "group_config",
    "imputation_enabled",
    "load_config",
    "published_reference",
    "qualitative_enabled",
    "site_names",
    "threshold_fraction",
    "validate_config",
]


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""


def config_schema() -> dict:
    """The JSON schema for config.yaml, as a dict."""
    text = resources.files("cocapp.schemas").joinpath("config.schema.yaml").read_text("utf-8")
    return yamlio.safe_load(text)


@cache
def _validator() -> jsonschema.Draft202012Validator:
    """The config schema's validator, built once per process."""
    return jsonschema.Draft202012Validator(config_schema())


def schema_path() -> Path:
    """File path of the config schema (for ``snakemake.utils.validate``)."""
    return Path(str(resources.files("cocapp.schemas").joinpath("config.schema.yaml")))


def format_threshold(t: float | str) -> str:
    """Canonical text of a threshold, as used in file names and the ``threshold`` column: 0.5 -> "0.5"."""
    return str(float(t))


def canonical_thresholds(values):
    """A ``threshold`` column in canonical text (:func:`format_threshold`), each distinct value
    formatted once (a scores table has millions of rows but a handful of thresholds)."""
    text = values.astype(str)
    return text.map({value: format_threshold(value) for value in text.unique()})


def at_threshold(values, threshold: float | str):
    """Boolean mask of a ``threshold`` column's rows at ``threshold`` (in any written form: "0.50" is
    0.5); vectorised, each distinct value formatted once."""
    text = values.astype(str)
    wanted = format_threshold(threshold)
    return text.isin([value for value in text.unique() if format_threshold(value) == wanted])


def threshold_fraction(t: float | str) -> Fraction:
    """Exact rational value of a threshold as written (0.3 -> 3/10, never 0.29999...)."""
    return Fraction(format_threshold(t))


def group_config(config: dict, group: str) -> dict:
    """The config block of ``group``; ConfigError naming the configured groups when it is unknown."""
    if group not in config["groups"]:
        raise ConfigError(f"group {group!r} is not configured (groups: {list(config['groups'])})")
    return config["groups"][group]


def correlation_measures(config: dict, group: str) -> list[tuple[str, str, str]]:
    """``(name, instrument, scale)`` of the scales correlated for ``group``, in display order:
    ``groups.<group>.correlations`` (each ``{instrument, scale}``), else every instrument's total. A
    total is named by its instrument's key (``RSA``), a subscale ``<key>.<scale>`` (``RSA.choice``)."""
    return group_correlation_measures(config["groups"][group])


def group_correlation_measures(spec: dict) -> list[tuple[str, str, str]]:
    """:func:`correlation_measures` of one group's config block ``spec`` (``correlations``, else the
    totals of ``instruments``)."""
    chosen = spec.get("correlations") or [{"instrument": i, "scale": "total"} for i in spec["instruments"]]
    out = []
    for m in chosen:
        name = m["instrument"] if m["scale"] == "total" else f"{m['instrument']}.{m['scale']}"
        out.append((name, m["instrument"], m["scale"]))
    return out


# What the config switches on or off (the workflow's rules and the stages that check their inputs agree)
def imputation_enabled(config) -> bool:
    """Whether stage impute runs (``imputation.enabled``, default true)."""
    return bool((config.get("imputation") or {}).get("enabled", True))


def qualitative_enabled(config) -> bool:
    """Whether the qualitative arm runs (``qualitative.enabled``, default false)."""
    return bool((config.get("qualitative") or {}).get("enabled", False))


def published_reference(config) -> str | None:
    """The published numbers the audit compares with (``published.reference``), or None."""
    return (config.get("published") or {}).get("reference")


def site_names(config: dict) -> list[str]:
    """Site names in display order."""
    return [s["name"] for s in config["sites"]]


def _key_path(err: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "(top level)"


def validate_config(config: Any, source: str = "config", base: str | Path | None = None) -> dict:
    """Validate a config mapping; return it. Raises ConfigError naming every offending key.

    Relative paths (``instrument_paths``) are looked up under ``base`` (the config file's folder, a
    study's folder; default: the working directory, where the workflow runs)."""
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    validator = _validator()
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [f"key {_key_path(e)}: {e.message}" for e in errors]
    if not problems:
        problems = _cross_checks(config, base)
    if problems:
        raise ConfigError(f"{source}: invalid configuration:\n  " + "\n  ".join(problems))
    return config


def _cross_checks(config: dict, base: str | Path | None = None) -> list[str]:
    problems: list[str] = []
    scoring = config["scoring"]
    thresholds = [format_threshold(t) for t in scoring["thresholds"]]
    if len(set(thresholds)) != len(thresholds):
        problems.append("key scoring.thresholds: a threshold is listed twice")
    if format_threshold(scoring["primary_threshold"]) not in thresholds:
        problems.append(
            f"key scoring.primary_threshold: {scoring['primary_threshold']} is not one of "
            f"scoring.thresholds {scoring['thresholds']}"
        )
    if config["study"].get("calibration") and not config["study"].get("synthetic"):
        problems.append(
            "key study.calibration: given, but study.synthetic is false (only synthetic data are "
            "calibrated; a real study's numbers are never matched by construction)"
        )
    names = site_names(config)
    if len(set(names)) != len(names):
        problems.append("key sites: a site name is listed twice")
    ref = config["statistics"].get("post_hoc", {}).get("reference_site")
    if ref is not None and ref not in names:
        problems.append(f"key statistics.post_hoc.reference_site: {ref!r} is not a configured site {names}")
    paths = [Path(base or ".") / p for p in config.get("instrument_paths", [])]
    for gname, group in config["groups"].items():
        for inst in group["instruments"]:
            try:
                instrument_file(inst, paths)
            except InstrumentError as err:
                problems.append(f"key groups.{gname}.instruments: {err}")
        read = group.get("read") or {}
        encoding = read.get("encoding", "auto")
        if encoding != "auto":
            try:
                codecs.lookup(encoding)
            except LookupError:
                problems.append(f"key groups.{gname}.read.encoding: unknown encoding {encoding!r}")
        if read.get("decimal") == "," and read.get("delimiter") == ",":
            problems.append(
                f"key groups.{gname}.read: decimal comma needs another delimiter (; or tab), not ','"
            )
        for inst, pattern in (group.get("item_columns") or {}).items():
            problem = pattern_problem(pattern)
            if problem:
                problems.append(f"key groups.{gname}.item_columns.{inst}: {problem}")
        for k, m in enumerate(group.get("correlations") or []):
            if m["instrument"] not in group["instruments"]:
                problems.append(
                    f"key groups.{gname}.correlations.{k}.instrument: {m['instrument']!r} is not one of the "
                    f"group's instruments {group['instruments']}"
                )
                continue
            try:
                scales = load_instrument(m["instrument"], paths).scale_keys
            except InstrumentError:
                continue  # reported above
            if m["scale"] not in scales:
                problems.append(
                    f"key groups.{gname}.correlations.{k}.scale: {m['instrument']} has no scale "
                    f"{m['scale']!r} (scales: {scales})"
                )
        covs = group.get("covariates", {})
        for mname, model in group.get("ancova_models", {}).items():
            for cov in model:
                if cov not in covs:
                    problems.append(
                        f"key groups.{gname}.ancova_models.{mname}: covariate {cov!r} is not declared "
                        f"under groups.{gname}.covariates"
                    )
        for cname, cov in covs.items():
            if "min" in cov and "max" in cov and cov["min"] > cov["max"]:
                problems.append(f"key groups.{gname}.covariates.{cname}: min is above max")
    qual = config.get("qualitative", {})
    jd = qual.get("joint_display", {})
    if qual.get("enabled") and jd.get("group") and jd["group"] not in config["groups"]:
        problems.append(f"key qualitative.joint_display.group: {jd['group']!r} is not a configured group")
    return problems


def load_config(path: str | Path) -> dict:
    """Read and validate a config file; defaults from the schema are filled in."""
    path = Path(path)
    try:
        config = read_yaml_file(path, "config file")
    except YamlFileError as err:
        raise ConfigError(str(err)) from None
    validate_config(config, str(path), path.parent)
    return with_defaults(config)


IMPUTATION_DEFAULTS = {
    "m": 20,
    "iterations": 10,
    "seed": 20160147,
    "donors": 5,
    "min_correlation": 0.1,
    "deltas": [0, -0.25, -0.5, -1],
    "delta_sites": None,
    "delta_ancova": False,
}


def with_defaults(config: dict) -> dict:
    """Fill the optional keys with their documented defaults (explicit values always win)."""
    stats = config["statistics"]
    stats.setdefault("acceptable_alpha", 0.7)
    stats.setdefault("confidence_level", 0.95)
    stats.setdefault("normality_limits", {"conservative": 1.0, "liberal": 2.0})
    stats.setdefault("ancova_ss_type", 3)
    stats.setdefault("categorical_covariates", "factor")
    stats.setdefault("adjusted_means_weights", "equal")
    post = stats.setdefault("post_hoc", {})
    post.setdefault("anova", "tukey")
    post.setdefault("ancova", "tukey")
    corr = stats.setdefault("correlations", {})
    corr.setdefault("method", "pearson")
    corr.setdefault("deletion", "pairwise")
    corr.setdefault("effect_size_labels", {"small": 0.1, "medium": 0.3, "large": 0.5})
    imp = config.setdefault("imputation", {})
    for key, value in IMPUTATION_DEFAULTS.items():
        imp.setdefault(key, list(value) if isinstance(value, list) else value)
    config.setdefault("input", {}).setdefault("missing_codes", {})
    config.setdefault("instrument_paths", [])
    for group in config["groups"].values():
        group.setdefault("label", None)
        group.setdefault("covariates", {})
        group.setdefault("ancova_models", {})
        group.setdefault("item_columns", {})
    return config
