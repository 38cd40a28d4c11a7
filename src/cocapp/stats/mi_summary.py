"""Multiple imputation beside complete cases and person-mean replacement (stage ``sensitivity``).

Pure functions joining the pooled results of stage ``impute`` (``mi_tests.csv``, ``mi_tipping.csv``,
``mi_means.csv``) to the threshold analysis:

* :func:`add_mi_columns` appends to every row of the sensitivity summary the multiple-imputation result
  of the outcome (D1-pooled site test under MAR; the same for every threshold row), whether it differs
  from the primary person-mean analysis and the δ tipping point — for the one-way ANOVA (``mi_*``) and
  every ANCOVA model (``ancova_<model>_mi_*``);
* :func:`mi_facts` gives the verdict's facts per group (``multiple_imputation``);
* :func:`comparison_table` lines up site means with their CIs under complete cases, person-mean
  replacement at the primary threshold (``descriptives.csv``) and multiple imputation (``mi_means.csv``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cocapp.config import format_threshold
from cocapp.stats.mi import ONEWAY

__all__ = ["add_mi_columns", "comparison_table", "mi_facts"]

_KEYS = ["group", "instrument", "scale"]
MI_METHOD = "D1"


def _analysis_name(model: str | None) -> str:
    return ONEWAY if model is None else f"ANCOVA: {model}"


def _mar(tests: pd.DataFrame) -> pd.DataFrame:
    return tests[(tests["delta"] == 0.0) & (tests["method"] == MI_METHOD)]


def add_mi_columns(
    summary: pd.DataFrame, tests: pd.DataFrame, tipping: pd.DataFrame, models: list[str]
) -> pd.DataFrame:
    """``summary`` with the multiple-imputation columns appended (existing columns unchanged)."""
    out = summary.copy()
    mar = _mar(tests)
    tip = tipping[tipping["method"] == MI_METHOD]
    for model in [None, *models]:
        name = _analysis_name(model)
        prefix = "mi" if model is None else f"ancova_{model}_mi"
        primary = "significant_primary" if model is None else None
        t = mar[mar["analysis"] == name].set_index(_KEYS)
        tp = tip[tip["analysis"] == name].set_index(_KEYS)
        idx = pd.MultiIndex.from_frame(out[_KEYS])
        out[f"{prefix}_F"] = t["F"].reindex(idx).to_numpy()
        out[f"{prefix}_p"] = t["p"].reindex(idx).to_numpy()
        out[f"{prefix}_fmi"] = t["fmi"].reindex(idx).to_numpy()
        sig = t["significant"].reindex(idx).to_numpy(dtype=object)
        out[f"{prefix}_significant"] = [None if pd.isna(s) else bool(s) for s in sig]
        if primary is None:  # the model's significance in the primary person-mean analysis
            prim = _primary_flags(out, model)
        else:
            prim = out[primary].to_numpy(dtype=object)
        out[f"{prefix}_changes_inference"] = [
            None if (pd.isna(a) or pd.isna(b)) else bool(a) != bool(b)
            for a, b in zip(out[f"{prefix}_significant"], prim, strict=True)
        ]
        out[f"{prefix}_tipping_delta"] = tp["tipping_delta"].reindex(idx).to_numpy()
    return out


def _primary_flags(summary: pd.DataFrame, model: str) -> np.ndarray:
    """Per row, the model's significance at the primary threshold of the same outcome."""
    prim = summary[summary["is_primary"] == True]  # noqa: E712
    flags = prim.set_index(_KEYS)[f"ancova_{model}_significant"]
    return flags.reindex(pd.MultiIndex.from_frame(summary[_KEYS])).to_numpy(dtype=object)


def mi_facts(
    summary: pd.DataFrame,
    tests: pd.DataFrame,
    tipping: pd.DataFrame,
    settings: Mapping,
    labels: Mapping[tuple[str, str], str],
) -> dict[str, dict]:
    """Per group: the verdict facts of the multiple-imputation analysis (JSON-ready).

    ``labels`` maps (instrument, scale) to the outcome's display label. For each analysis, every
    outcome's MAR result (p, significance), its significance in the primary person-mean analysis, whether
    they agree, and the δ tipping point (None when the conclusion holds for every δ tested).
    """
    cfg = settings["imputation"]
    mar = _mar(tests)
    tip = tipping[tipping["method"] == MI_METHOD]
    out = {}
    for group, spec in settings["groups"].items():
        s = summary[(summary["group"] == group) & (summary["is_primary"] == True)]  # noqa: E712
        if not len(s):
            continue
        analyses = []
        for model in [None, *list(spec.get("ancova_models") or {})]:
            name = _analysis_name(model)
            col = "significant" if model is None else f"ancova_{model}_significant"
            t = mar[(mar["group"] == group) & (mar["analysis"] == name)].set_index(["instrument", "scale"])
            tp = tip[(tip["group"] == group) & (tip["analysis"] == name)].set_index(["instrument", "scale"])
            outs = []
            for _, r in s.iterrows():
                key = (r["instrument"], r["scale"])
                if key not in t.index:
                    continue
                p = float(t.loc[key, "p"])
                sig = t.loc[key, "significant"]
                prim = r[col]
                tipping_delta = tp.loc[key, "tipping_delta"] if key in tp.index else np.nan
                outs.append(
                    {
                        "instrument": key[0],
                        "scale": key[1],
                        "label": labels.get(key, f"{key[0]} {key[1]}"),
                        "p": _num(p),
                        "fmi": _num(t.loc[key, "fmi"]),
                        "significant": None if pd.isna(sig) else bool(sig),
                        "primary_significant": None if pd.isna(prim) else bool(prim),
                        "agrees_with_primary": None
                        if (pd.isna(sig) or pd.isna(prim))
                        else bool(sig) == bool(prim),
                        "tipping_delta": None if pd.isna(tipping_delta) else float(tipping_delta),
                    }
                )
            shifted = tests[
                (tests["group"] == group) & (tests["analysis"] == name) & (tests["method"] == MI_METHOD)
            ]
            analyses.append(
                {
                    "analysis": name,
                    "model": model,
                    "delta_tested": bool((shifted["delta"] != 0.0).any()),
                    "covariates": list((spec.get("ancova_models") or {}).get(model, [])) if model else [],
                    "outcomes": outs,
                }
            )
        out[group] = {
            "m": int(cfg["m"]),
            "deltas": [float(d) for d in cfg["deltas"]],
            "delta_sites": list(cfg["delta_sites"]) if cfg.get("delta_sites") else None,
            "analyses": analyses,
        }
    return out


def _num(x) -> float | None:
    """A float for JSON, None for NaN."""
    x = float(x)
    return None if np.isnan(x) else x


def comparison_table(descriptives: pd.DataFrame, mi_means: pd.DataFrame, primary: str) -> pd.DataFrame:
    """Site means with CIs: complete cases (threshold 0), person-mean replacement at ``primary`` and
    multiple imputation (MAR, unadjusted), columns group, instrument, scale, method, site, mean, ci_low,
    ci_high."""
    d = descriptives[descriptives["site"] != "All"]
    rows = []
    for t, method in (("0.0", "complete cases"), (format_threshold(primary), "person-mean replacement")):
        x = d[d["threshold"].astype(str) == t][_KEYS + ["site", "mean", "ci_low", "ci_high"]].copy()
        x.insert(3, "method", method)
        rows.append(x)
    mi = mi_means[(mi_means["delta"] == 0.0) & (mi_means["analysis"] == ONEWAY)]
    x = mi[_KEYS + ["site", "estimate", "ci_low", "ci_high"]].rename(columns={"estimate": "mean"}).copy()
    x.insert(3, "method", "multiple imputation")
    rows.append(x)
    return pd.concat(rows, ignore_index=True)
