"""Reproduced versus published: every printed number beside the regenerated one, and checks of the print.

Two outputs:

``published_comparison.csv`` (one row per printed number of Tables 1-4 and the reported alphas/Ns)
    printed text, its value, the regenerated full-precision value and whether they **match within
    printed precision**: ``|regenerated - printed| <= 0.5 * 10**-d`` for a number printed with ``d``
    decimals (``0.000`` means ``p < 0.0005``); integers (df, n) must be equal.

``published_consistency.csv`` (one row per check) — checks made from the printed numbers alone:

``p_from_F``
    statcheck-style (Nuijten et al. 2016, Behav Res Methods 48:1205): the p implied by the printed F and
    df, with F's rounding interval (F ± half a unit of its last printed digit), must overlap the printed
    p's rounding interval.
``p_from_r``
    the same for a correlation: t = r √(n−2) / √(1−r²) on n−2 df, r ± its rounding.
``stars``
    the significance markings agree with the printed p and the significance level.
``sem_bound``
    a site's printed SEM must be possible for a score bounded by the scale's theoretical range
    (``Instrument.scale_range``): by the Bhatia–Davis inequality a sample variance is at most
    (max − mean)(mean − min)·n/(n−1), so SEM ≤ √((max − mean)(mean − min)/(n−1)). The test uses the
    smallest n the site can have (see below), which makes it lenient; a cell failing it **cannot be
    consistent** with any data.
``F_from_cells``
    the F implied by the row's printed means, SEMs and Ns — SS_between = Σ nᵢ(mᵢ − m̄)²,
    SS_within = Σ (nᵢ − 1)·nᵢ·SEMᵢ² — over the rounding box of every printed cell and every admissible
    set of Ns (a bounded optimisation, SLSQP), must reach the printed F's rounding interval.

For a row whose F check fails, the cell that cannot be consistent (``sem_bound``) gets the value that
would be: the SEM that makes the row's implied F equal the printed F (others as printed, Ns as
estimated), and the range of SEMs with which the printed F stays reachable over all rounding and
admissible Ns (bisection; capped at the SEM bound). When no cell breaks a bound,
a single equation cannot say which cell is wrong: the row is flagged and the note lists the single-cell
values that would fit.

Site Ns. The analysed N of a row is df1 + df2 + 1. Per-site Ns are printed only as returns (Table 1).
When the row's N equals the total returns, the site Ns are the returns (COCAPP care coordinators,
df2 = 195). Otherwise each site's n lies between N − (other sites' returns) and its own returns, and
is estimated as returns × N / total returns (service users). With no Table 1, n is between 2 and
N − 2(k − 1), estimated N/k.

The detector never reads ``print_anomalies`` of the published file: it works from the numbers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import yaml
from scipy import optimize

from cocapp.config import format_threshold
from cocapp.formatting import fmt_g, fmt_num
from cocapp.instruments import InstrumentError, configured_instruments
from cocapp.presentation import calibration as _calibration
from cocapp.presentation import lookup
from cocapp.stats.distributions import f_sf, t_sf

__all__ = [
    "COMPARISON_COLUMNS",
    "CONSISTENCY_COLUMNS",
    "Printed",
    "SiteRow",
    "compare",
    "consistency_checks",
    "implied_f",
    "method_differences",
    "mismatch_reason",
    "parse_published",
    "printed_numbers",
    "site_rows",
]

COMPARISON_COLUMNS = [
    "table",
    "group",
    "instrument",
    "scale",
    "site",
    "quantity",
    "printed",
    "printed_value",
    "printed_decimals",
    "tolerance",
    "regenerated",
    "difference",
    "match",
    "consistency_flag",
    "note",
    "evidence",
    "calibration_target",
    "reason",
]
CONSISTENCY_COLUMNS = [
    "check",
    "table",
    "group",
    "instrument",
    "scale",
    "site",
    "quantity",
    "printed",
    "recomputed",
    "recomputed_low",
    "recomputed_high",
    "consistent",
    "cannot_be_consistent",
    "suggested_value",
    "suggested_low",
    "suggested_high",
    "note",
]


# -- printed numbers -------------------------------------------------------------------------------
class Printed(float):
    """A float that remembers how it was printed (``2.80`` keeps 2 decimals; ``0.000`` is ``p < 0.0005``)."""

    text: str

    def __new__(cls, text: str) -> Printed:
        text = str(text).strip()
        obj = super().__new__(cls, float(text.lstrip("<").strip()))
        obj.text = text
        return obj

    @property
    def decimals(self) -> int:
        body = self.text.lstrip("<").strip()
        if "e" in body.lower():
            return 0
        return len(body.split(".")[1]) if "." in body else 0

    @property
    def half_unit(self) -> float:
        """Half a unit in the last printed digit (0 for an integer)."""
        return 0.5 * 10.0**-self.decimals if self.decimals else 0.0

    def interval(self) -> tuple[float, float]:
        """Values that print as this text (``< x`` -> [0, x))."""
        if self.text.startswith("<"):
            return 0.0, float(self)
        h = self.half_unit
        return float(self) - h, float(self) + h


class _PrintedLoader(yaml.SafeLoader):
    """YAML loader that keeps floats' printed text (trailing zeros matter for precision)."""


def _construct_float(loader: yaml.SafeLoader, node: yaml.Node) -> Printed:
    return Printed(loader.construct_scalar(node))


_PrintedLoader.add_constructor("tag:yaml.org,2002:float", _construct_float)


def parse_published(text: str, source: str = "published numbers") -> dict:
    """Parse the published-numbers YAML keeping each float's printed text (:class:`Printed`)."""
    data = yaml.load(text, Loader=_PrintedLoader)  # noqa: S506 (SafeLoader subclass)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    return data


def _printed(x: object) -> Printed:
    if isinstance(x, Printed):
        return x
    if isinstance(x, str):
        return Printed(x.replace("p", "").replace("=", "").strip())
    return Printed(str(x))


# -- layout of the published file ------------------------------------------------------------------
_TABLE_KEY = re.compile(r"^table(\d+)_(.+)$")


def _published_sites(pub: dict) -> list[str]:
    return [s["name"] if isinstance(s, dict) else str(s) for s in pub.get("sites", [])]


def _site_tables(pub: dict, groups: list[str]) -> list[tuple[str, str, dict]]:
    """``(table label, group, body)`` of each printed site-comparison table naming a configured group."""
    out = []
    for key, body in pub.items():
        m = _TABLE_KEY.match(str(key))
        if m and m.group(2) in groups and isinstance(body, dict):
            out.append((f"Table {m.group(1)}", m.group(2), body))
    return out


def _correlation_tables(pub: dict, groups: list[str]) -> list[tuple[str, str, dict]]:
    out = []
    for key, body in pub.items():
        m = _TABLE_KEY.match(str(key))
        if m and m.group(2).startswith("correlations_") and m.group(2)[len("correlations_") :] in groups:
            out.append((f"Table {m.group(1)}", m.group(2)[len("correlations_") :], body))
    return out


def _returns_column(columns: list[str], group: str) -> str | None:
    """Table 1 column of a group's returns (``service_users`` -> ``service_user_questionnaires``)."""
    stem = group[:-1] if group.endswith("s") else group
    for cand in (f"{stem}_questionnaires", f"{group}_questionnaires", f"{group}_returns"):
        if cand in columns:
            return cand
    return None


def published_returns(pub: dict, group: str) -> dict[str, int] | None:
    """Printed questionnaire returns per site for ``group`` (Table 1), or ``None``."""
    t1 = pub.get("table1")
    if not isinstance(t1, dict) or "columns" not in t1:
        return None
    col = _returns_column(list(t1["columns"]), group)
    if col is None:
        return None
    j = list(t1["columns"]).index(col)
    return {s: int(t1[s][j]) for s in _published_sites(pub) if s in t1}


# -- the printed numbers as a long table -----------------------------------------------------------
def printed_numbers(pub: dict, config: dict) -> list[dict]:
    """Every printed number of Tables 1-4 and the reliability block as records.

    Keys: kind (returns/anova/site/correlation/reliability), table, group, instrument, scale (for a
    correlation: the pair), site, quantity, printed (:class:`Printed`).
    """
    groups = list(config["groups"])
    sites = _published_sites(pub)
    recs: list[dict] = []

    def rec(kind, table, group, instrument, scale, site, quantity, value):
        recs.append(
            dict(
                kind=kind,
                table=table,
                group=group,
                instrument=instrument,
                scale=scale,
                site=site,
                quantity=quantity,
                printed=_printed(value),
            )
        )

    for g in groups:
        ret = published_returns(pub, g)
        for site, n in (ret or {}).items():
            rec("returns", "Table 1", g, "", "", site, "returned", n)
    for label, g, body in _site_tables(pub, groups):
        for inst, scales in body.items():
            if not isinstance(scales, dict):
                continue
            for scale, row in scales.items():
                if not isinstance(row, dict) or "anova" not in row:
                    continue
                for q, v in zip(("df1", "df2", "F", "p"), row["anova"], strict=True):
                    rec("anova", label, g, inst, scale, "All", q, v)
                for site, (m, se) in zip(sites, row["sites"], strict=True):
                    rec("site", label, g, inst, scale, site, "mean", m)
                    rec("site", label, g, inst, scale, site, "sem", se)
    for label, g, body in _correlation_tables(pub, groups):
        for pair in body.get("pairs", []):
            x, y = pair["pair"]
            rec("correlation", label, g, x, y, "All", "r", pair["r"])
            rec("correlation", label, g, x, y, "All", "p", pair.get("p_reported", pair.get("p")))
            rec("correlation", label, g, x, y, "All", "n", pair["n"])
    for g, insts in (pub.get("reliability") or {}).items():
        if g not in groups or not isinstance(insts, dict):
            continue
        for inst, scales in insts.items():
            for scale, (alpha, n) in scales.items():
                rec("reliability", "Reliability", g, inst, scale, "All", "alpha", alpha)
                rec("reliability", "Reliability", g, inst, scale, "All", "n_complete", n)
    return recs


# -- regenerated values ----------------------------------------------------------------------------
def _lookup(df: pd.DataFrame | None, col: str, **eq: object) -> float:
    if df is None or df.empty or col not in df.columns or any(k not in df.columns for k in eq):
        return float("nan")
    sub = lookup.select(df, **eq)[col]
    if len(sub) > 1:
        raise ValueError(f"{col} for {eq}: {len(sub)} rows where one was expected")
    return float(sub.iloc[0]) if len(sub) else float("nan")


def regenerated_value(
    rec: dict, stats_: dict[str, pd.DataFrame], recon: dict[str, pd.DataFrame], threshold: str
) -> float:
    """The regenerated full-precision value matching one printed record (NaN when absent)."""
    q, g, inst, scale, site, kind = (
        rec[k] for k in ("quantity", "group", "instrument", "scale", "site", "kind")
    )
    if kind == "returns":
        df = recon.get(g)
        return float((df["site"].astype(str) == site).sum()) if df is not None else float("nan")
    if kind == "reliability":
        return _lookup(stats_.get("reliability"), q, group=g, instrument=inst, scale=scale)
    if kind == "anova":
        return _lookup(stats_.get("anova"), q, group=g, instrument=inst, scale=scale, threshold=threshold)
    if kind == "site":
        return _lookup(
            stats_.get("descriptives"),
            q,
            group=g,
            instrument=inst,
            scale=scale,
            threshold=threshold,
            site=site,
        )
    # correlations: (instrument, scale) hold the pair (x, y), in either order in the file
    corr = stats_.get("correlations")
    val = _lookup(corr, q, group=g, threshold=threshold, site="All", x=inst, y=scale)
    if math.isnan(val):
        val = _lookup(corr, q, group=g, threshold=threshold, site="All", x=scale, y=inst)
    return val


# -- methods: as configured against as the paper declares them -------------------------------------
# (config key, published key path, what it is, record kinds of the audit whose numbers it changes)
_METHOD_SETTINGS = (
    (
        "scoring.primary_threshold",
        "missing_data.threshold_used_in_primary_analysis",
        "missing-item threshold of the primary analysis",
        ("anova", "site", "correlation", "normality", "significant"),
    ),
    ("statistics.significance_level", "significance_level", "significance level", ("significant",)),
    ("statistics.post_hoc.anova", "post_hoc", "post hoc test after one-way ANOVA", ()),
    ("statistics.acceptable_alpha", "reliability.acceptable_alpha", "acceptable Cronbach's alpha", ()),
)


def _dig(data: object, dotted: str) -> object:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _same_setting(a: object, b: object) -> bool:
    try:
        return math.isclose(float(a), float(b), rel_tol=0, abs_tol=1e-12)
    except (TypeError, ValueError):
        return str(a).strip().lower() == str(b).strip().lower()


def method_differences(pub: dict, config: dict) -> list[dict]:
    """Each method setting the published file declares, beside the configured one.

    Rows: ``setting`` (config key), ``configured``, ``published_key``, ``published`` (as printed),
    ``what``, ``differs`` and ``affects`` (audit record kinds whose regenerated numbers depend on it).
    A setting the published file does not declare is left out (nothing to compare)."""
    out = []
    for key, pub_key, what, affects in _METHOD_SETTINGS:
        printed = _dig(pub, pub_key)
        configured = _dig(config, key)
        if printed is None or configured is None:
            continue
        printed_text = printed.text if isinstance(printed, Printed) else str(printed)
        out.append(
            dict(
                setting=key,
                configured=str(configured),
                published_key=pub_key,
                published=printed_text,
                what=what,
                differs=not _same_setting(configured, printed),
                affects=affects,
            )
        )
    return out


def mismatch_reason(kind: str, flag: str, evidence: str, differences: list[dict]) -> str:
    """Why a printed number is not matched, most specific reason first: the print cannot be
    consistent (``flag``); a configured method differs from the paper's declared one for this kind of
    number; on synthetic data, the number was not a calibration target (or one that was missed);
    otherwise the difference is unexplained (real data, same methods)."""
    reasons = []
    if flag:
        reasons.append(f"the printed value {flag}")
    for d in differences:
        if d["differs"] and kind in d["affects"]:
            reasons.append(
                f"method differs from the paper: {d['setting']} = {d['configured']} configured, the paper "
                f"used {d['published']} ({d['published_key']} of the published file)"
            )
    if not reasons:
        if evidence == _calibration.ILLUSTRATIVE:
            reasons.append("not a calibration target: the synthetic data were not tuned to this number")
        elif evidence == _calibration.CALIBRATION_TARGET:
            reasons.append("calibration target missed: see the calibration report")
        elif evidence == _calibration.UNDECLARED:
            reasons.append("synthetic data whose calibration is not declared (study.calibration)")
        else:
            reasons.append("unexplained: same methods as the paper, the regenerated value differs")
    return "; ".join(reasons)


# -- statements of the paper's text (missing data, normality, significant findings) -----------------
def statement_numbers(pub: dict, config: dict, given: set[str]) -> list[dict]:
    """Numbers the paper states in its text, as records like :func:`printed_numbers`'s, for the
    statistics files ``given`` (a statement is compared only when its file is part of the audit):

    ``Missing data`` (``missingness``): outcomes assessed, mean and range of the percent of returned
    questionnaires incomplete on a scale (``missing_data``); ``Normality`` (``normality``): outcomes
    assessed per group and outcomes beyond the conservative limit (``normality``); ``Significant
    findings`` (``anova``): per group, the number of outcomes the table lists as significant (the
    record keeps the list in ``listed``)."""
    recs: list[dict] = []

    def rec(kind, table, group, quantity, value, **extra):
        recs.append(
            dict(kind=kind, table=table, group=group, instrument="", scale="", site="All",
                 quantity=quantity, printed=_printed(value), **extra)
        )  # fmt: skip

    miss = pub.get("missing_data") or {}
    if "missingness" in given and miss:
        if "outcomes_assessed" in miss:
            rec("missing", "Missing data", "All", "outcomes_assessed", miss["outcomes_assessed"])
        if "mean_percent_missing" in miss:
            rec("missing", "Missing data", "All", "percent_incomplete_mean", miss["mean_percent_missing"])
        rng = miss.get("range_percent_missing")
        if isinstance(rng, list) and len(rng) == 2:
            rec("missing", "Missing data", "All", "percent_incomplete_min", rng[0])
            rec("missing", "Missing data", "All", "percent_incomplete_max", rng[1])
    norm = pub.get("normality") or {}
    if "normality" in given and norm:
        for g, n in (norm.get("outcomes_assessed") or {}).items():
            if g in config["groups"]:
                rec("normality", "Normality", g, "outcomes_assessed", n)
        if "outcomes_exceeding_1" in norm:
            rec("normality", "Normality", "All", "outcomes_beyond_conservative", norm["outcomes_exceeding_1"])
    if "anova" in given:
        for _label, g, body in _site_tables(pub, list(config["groups"])):
            listed = body.get("significant")
            if isinstance(listed, list):
                rec("significant", "Significant findings", g, "n_significant", str(len(listed)),
                    listed=[str(x) for x in listed])  # fmt: skip
    return recs


# Statement quantities that are measurements, not counts (printed without decimals they still round).
_MEASURED_QUANTITIES = frozenset(
    {"percent_incomplete_mean", "percent_incomplete_min", "percent_incomplete_max"}
)


def _statement_value(rec: dict, stats_: dict[str, pd.DataFrame], threshold: str, alpha: float) -> float:
    """The regenerated value of a :func:`statement_numbers` record (NaN when its file is absent)."""
    kind, q, g = rec["kind"], rec["quantity"], rec["group"]
    if kind == "missing":
        df = stats_.get("missingness")
        if df is None or df.empty:
            return float("nan")
        pct = df["pct_incomplete"]
        return {
            "outcomes_assessed": float(len(df)),
            "percent_incomplete_mean": float(pct.mean()),
            "percent_incomplete_min": float(pct.min()),
            "percent_incomplete_max": float(pct.max()),
        }[q]
    if kind == "normality":
        df = stats_.get("normality")
        if df is None or df.empty:
            return float("nan")
        df = df[df["threshold"] == threshold]
        if g != "All":
            return float((df["group"] == g).sum())
        return float(df["beyond_conservative"].sum())  # an empty flag is not counted
    if kind == "significant":
        df = stats_.get("anova")
        if df is None or df.empty:
            return float("nan")
        df = df[(df["group"] == g) & (df["threshold"] == threshold)]
        return float((df["p"] < alpha).sum())
    return float("nan")


def compare(
    pub: dict,
    config: dict,
    stats_: dict[str, pd.DataFrame],
    reconciliation: dict[str, pd.DataFrame] | None = None,
    consistency: pd.DataFrame | None = None,
    calibration_targets: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Printed vs regenerated for every printed number (columns :data:`COMPARISON_COLUMNS`).

    ``match`` is True when the regenerated value rounds to the printed text (within half a unit of
    the last printed digit; integers equal), False when not, NaN when nothing was regenerated.
    ``consistency_flag`` repeats a ``cannot_be_consistent`` finding of :func:`consistency_checks`.
    ``evidence`` and ``calibration_target`` say whether the number was a calibration target of
    synthetic data (:func:`cocapp.presentation.calibration.evidence_of`; ``calibration_targets`` is
    the file of ``study.calibration.targets``); ``reason`` explains every mismatch
    (:func:`mismatch_reason`, with :func:`method_differences`) and is empty otherwise.
    """
    index = _calibration.target_index(calibration_targets) if calibration_targets is not None else None
    differences = method_differences(pub, config)
    threshold = format_threshold(config["scoring"]["primary_threshold"])
    recon = reconciliation or {}
    records = printed_numbers(pub, config)
    flags: dict[tuple, str] = {}
    if consistency is not None and not consistency.empty:
        bad = consistency[consistency["cannot_be_consistent"] == True]  # noqa: E712 (object column)
        for r in bad.itertuples():
            flags[(r.group, r.instrument, r.scale, r.site, r.quantity)] = (
                f"cannot be consistent ({r.check}); value that fits: {r.suggested_value}"
            )
    statements = statement_numbers(pub, config, {k for k, v in stats_.items() if v is not None})
    alpha = float(config["statistics"]["significance_level"])
    with lookup.indexed():
        regenerated = [regenerated_value(rec, stats_, recon, threshold) for rec in records]
    regenerated += [_statement_value(rec, stats_, threshold, alpha) for rec in statements]
    records = records + statements
    rows = []
    for rec, regen in zip(records, regenerated, strict=True):
        p = rec["printed"]
        lo, hi = p.interval()
        # a measurement printed without decimals (the paper's "69 %") rounds to units; counts must be equal
        rounded_integer = p.decimals == 0 and rec["quantity"] in _MEASURED_QUANTITIES
        if rounded_integer:
            lo, hi = float(p) - 0.5, float(p) + 0.5
        if math.isnan(regen):
            match, diff = None, float("nan")
        elif p.decimals == 0 and not p.text.startswith("<") and not rounded_integer:
            match, diff = bool(regen == float(p)), regen - float(p)
        else:
            tol = 1e-9 * max(1.0, abs(float(p)))
            if p.text.startswith("<"):
                match = bool(regen < hi + tol)
            elif float(p) == 0.0 and rec["quantity"] == "p":
                match = bool(regen < hi)  # "0.000" prints p < 0.0005
            else:
                match = bool(lo - tol <= regen <= hi + tol)
            diff = regen - float(p)
        key = (rec["group"], rec["instrument"], rec["scale"], rec["site"], rec["quantity"])
        evidence, target = _calibration.evidence_of(rec["kind"], rec, config, index)
        rows.append(
            dict(
                table=rec["table"],
                group=rec["group"],
                instrument=rec["instrument"],
                scale=rec["scale"],
                site=rec["site"],
                quantity=rec["quantity"],
                printed=p.text,
                printed_value=float(p),
                printed_decimals=p.decimals,
                tolerance=0.5 if rounded_integer else p.half_unit,
                regenerated=regen,
                difference=diff,
                match=match,
                consistency_flag=flags.get(key, ""),
                note="" if not math.isnan(regen) else "no regenerated value",
                evidence=evidence,
                calibration_target=target,
                reason=mismatch_reason(rec["kind"], flags.get(key, ""), evidence, differences)
                if match is False
                else "",
            )
        )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


# -- consistency of the print ----------------------------------------------------------------------
def implied_f(means: np.ndarray, sems: np.ndarray, ns: np.ndarray) -> float:
    """One-way ANOVA F from group means, SEMs and sizes (SD = SEM·√n).

    F = [Σ nᵢ(mᵢ − m̄)² / (k − 1)] / [Σ (nᵢ − 1) nᵢ SEMᵢ² / (N − k)], m̄ = Σ nᵢmᵢ / N.

    Two groups of 4 with means 1 and 2 and SD 1 (SEM 0.5): SSB = 2, SSW = 6, F = (2/1)/(6/6) = 2.

    >>> implied_f(np.array([1.0, 2.0]), np.array([0.5, 0.5]), np.array([4.0, 4.0]))
    2.0
    """
    means, sems, ns = (np.asarray(a, float) for a in (means, sems, ns))
    k, n_all = len(means), ns.sum()
    grand = np.dot(ns, means) / n_all
    ssb = float(np.dot(ns, (means - grand) ** 2))
    ssw = float(np.dot((ns - 1) * ns, sems**2))
    if ssw <= 0:
        return float("inf") if ssb > 0 else float("nan")
    return float((ssb / (k - 1)) / (ssw / (n_all - k)))


@dataclass
class SiteRow:
    """One printed row of a site-comparison table: ANOVA parameters and each site's mean and SEM."""

    table: str
    group: str
    instrument: str
    scale: str
    sites: list[str]
    df1: Printed
    df2: Printed
    F: Printed
    p: Printed
    means: list[Printed]
    sems: list[Printed]
    returns: list[int] | None
    scale_min: float
    scale_max: float

    @property
    def n_total(self) -> int:
        return int(round(float(self.df1) + float(self.df2) + 1))

    def n_bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
        """(lower, upper, estimate) of each site's n and how they were derived (see module docstring)."""
        k, n_all = len(self.sites), self.n_total
        if self.returns is not None and len(self.returns) == k:
            r = np.array(self.returns, float)
            if int(r.sum()) == n_all:
                return r, r, r, "site n = printed returns (analysed N equals returns)"
            lo = np.maximum(2.0, n_all - (r.sum() - r))
            hi = np.minimum(r, n_all - 2.0 * (k - 1))
            est = r * n_all / r.sum()
            return (
                lo,
                hi,
                est,
                (
                    f"site n unknown: between N - other sites' returns and own returns; estimated as "
                    f"returns x {n_all}/{int(r.sum())}"
                ),
            )
        lo = np.full(k, 2.0)
        hi = np.full(k, n_all - 2.0 * (k - 1))
        return lo, hi, np.full(k, n_all / k), f"site n unknown: estimated N/k = {n_all}/{k}"


def site_rows(pub: dict, config: dict, instruments: dict | None = None) -> list[SiteRow]:
    """The printed site-comparison rows with everything the consistency checks need (``instruments``:
    the configured instruments by key, as the stage loaded them from its ``--instruments`` files; None:
    loaded through the config)."""
    groups = list(config["groups"])
    sites = _published_sites(pub)
    known = configured_instruments(config, instruments)
    out = []
    for label, g, body in _site_tables(pub, groups):
        ret = published_returns(pub, g)
        returns = [ret[s] for s in sites] if ret and all(s in ret for s in sites) else None
        for inst, scales in body.items():
            if not isinstance(scales, dict):
                continue
            if inst not in known:
                raise InstrumentError(f"the published numbers show instrument {inst}, which no group uses")
            instrument = known[inst]
            for scale, row in scales.items():
                if not isinstance(row, dict) or "anova" not in row:
                    continue
                lo, hi = instrument.scale_range(instrument.scale(scale))
                df1, df2, f, p = (_printed(v) for v in row["anova"])
                out.append(
                    SiteRow(
                        label,
                        g,
                        inst,
                        scale,
                        sites,
                        df1,
                        df2,
                        f,
                        p,
                        [_printed(m) for m, _ in row["sites"]],
                        [_printed(s) for _, s in row["sites"]],
                        returns,
                        lo,
                        hi,
                    )
                )
    return out


def _f_extreme(row: SiteRow, maximise: bool) -> float:
    """Largest (or smallest) F reachable in the rounding box of the row's means and SEMs and the n bounds."""
    m = np.array([float(x) for x in row.means])
    hm = np.array([x.half_unit for x in row.means])
    s = np.array([float(x) for x in row.sems])
    hs = np.array([x.half_unit for x in row.sems])
    # SS_within grows with every SEM, so the extreme SEMs are the box corners.
    s_ext = np.maximum(s - hs, 1e-12) if maximise else s + hs
    lo, hi, est, _ = row.n_bounds()
    k = len(m)
    sign = -1.0 if maximise else 1.0
    c = float(row.df2) / float(row.df1)
    w = s_ext**2

    def obj_jac(x):
        # F = (df2/df1) SSB/SSW, analytic derivatives:
        # dSSB/dm_i = 2 n_i (m_i - g), dSSB/dn_i = (m_i - g)^2
        # (the terms through the grand mean g vanish), dSSW/dn_i = (2 n_i - 1) SEM_i^2.
        mm, nn = x[:k], x[k:]
        g = np.dot(nn, mm) / nn.sum()
        d = mm - g
        ssb = float(np.dot(nn, d * d))
        ssw = float(np.dot((nn - 1) * nn, w))
        f = c * ssb / ssw
        grad = np.concatenate([c * 2 * nn * d / ssw, c * (d * d * ssw - ssb * (2 * nn - 1) * w) / ssw**2])
        return sign * f, sign * grad

    bounds = [(a - h, a + h) for a, h in zip(m, hm, strict=True)] + [
        (a, b) for a, b in zip(lo, hi, strict=True)
    ]
    cons = [
        {
            "type": "eq",
            "fun": lambda x: x[k:].sum() - row.n_total,
            "jac": lambda x: np.r_[np.zeros(k), np.ones(k)],
        }
    ]
    grand = np.dot(est, m) / est.sum()
    push = np.sign(m - grand) * hm * (1 if maximise else -1)
    x0 = np.concatenate([m + push, np.clip(est, lo, hi)])
    best = obj_jac(x0)[0]
    if np.any(hi > lo):
        res = optimize.minimize(
            obj_jac,
            x0,
            jac=True,
            method="SLSQP",
            bounds=bounds,
            constraints=cons,
            options={"maxiter": 300, "ftol": 1e-12},
        )
        if np.isfinite(res.fun) and abs(res.x[k:].sum() - row.n_total) < 1e-6:
            best = min(best, float(res.fun))
    else:  # site n known: only the means move, and the push to the box corner is optimal for SSB
        res = optimize.minimize(obj_jac, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        if np.isfinite(res.fun):
            best = min(best, float(res.fun))
    return sign * best


def _solve_cell(row: SiteRow, index: int, target_f: float, what: str) -> list[float]:
    """Values of one cell (``sem`` or ``mean`` of site ``index``) giving implied F = ``target_f``.

    Other cells as printed, site Ns at their estimate; roots searched over the scale's theoretical
    range (SEM: 0 to the range's width). Empty when none exists. A mean can have two roots (one on
    each side of the other sites' mean); they are returned nearest to the printed value first.
    """
    _, _, est, _ = row.n_bounds()
    m = np.array([float(x) for x in row.means])
    s = np.array([float(x) for x in row.sems])

    def f_of(v: float) -> float:
        mm, ss = m.copy(), s.copy()
        if what == "sem":
            ss[index] = v
        else:
            mm[index] = v
        return implied_f(mm, ss, est) - target_f

    if what == "sem":
        a, b = 1e-9, max(row.scale_max - row.scale_min, 1e-6)
        if f_of(a) * f_of(b) > 0:
            return []
        return [float(optimize.brentq(f_of, a, b, xtol=1e-12))]
    roots: list[float] = []
    grid = np.linspace(row.scale_min, row.scale_max, 801)
    vals = [f_of(v) for v in grid]
    for a, b, fa, fb in zip(grid[:-1], grid[1:], vals[:-1], vals[1:], strict=True):
        if fa == 0:
            roots.append(float(a))
        elif fa * fb < 0:
            roots.append(float(optimize.brentq(f_of, a, b, xtol=1e-12)))
    return sorted(roots, key=lambda r: abs(r - m[index]))


def _with_cell(row: SiteRow, index: int, value: float) -> SiteRow:
    """A copy of ``row`` whose SEM of site ``index`` is ``value`` printed at the row's precision."""
    sems = list(row.sems)
    sems[index] = Printed(f"{value:.{row.sems[index].decimals}f}")
    return replace(row, sems=sems)


def _sem_fits(row: SiteRow, index: int, value: float, f_lo: float, f_hi: float) -> tuple[bool, bool]:
    """(reachable F low enough, reachable F high enough) with the SEM of site ``index`` = ``value``."""
    alt = _with_cell(row, index, value)
    return _f_extreme(alt, maximise=False) <= f_hi, _f_extreme(alt, maximise=True) >= f_lo


def _feasible_sem_interval(
    row: SiteRow, index: int, start: float, f_lo: float, f_hi: float
) -> tuple[float, float]:
    """Range of printed SEMs of one site that keep the row's F reachable (rounding and site-n bounds).

    F falls as an SEM grows, so the feasible SEMs form an interval around ``start`` (a feasible value);
    its ends are found by bisection on printed values (steps of one unit in the last printed digit).
    """
    step = 10.0 ** -row.sems[index].decimals
    if not all(_sem_fits(row, index, start, f_lo, f_hi)):
        return float("nan"), float("nan")
    lo, hi = 0.0, start  # lower end: smallest SEM whose reachable F is not above the printed F
    while hi - lo > step / 2:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if _sem_fits(row, index, mid, f_lo, f_hi)[0] else (mid, hi)
    low = hi
    lo, hi = start, max(row.scale_max - row.scale_min, start)
    while hi - lo > step / 2:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _sem_fits(row, index, mid, f_lo, f_hi)[1] else (lo, mid)
    return round(low / step) * step, round(lo / step) * step


def _first(values: list[float]) -> float:
    return values[0] if values else float("nan")


def _fmt(x: float, d: int) -> str:
    """A suggested value with ``d`` decimals; ``""`` when there is none (NaN, infinite)."""
    return fmt_num(x, d, missing="")


def consistency_checks(pub: dict, config: dict, instruments: dict | None = None) -> pd.DataFrame:
    """All checks of the print (module docstring), one row each; columns :data:`CONSISTENCY_COLUMNS`.

    Per printed site-comparison row, in this order: ``p_from_F``, ``stars`` (when the table lists its
    significant outcomes), one ``mean_range`` or ``sem_bound`` row per site, ``F_from_cells`` and, when
    the F check fails and no cell breaks a bound, the ``F_single_cell_fit`` rows; then ``p_from_r`` per
    printed correlation.
    """
    alpha = float(pub.get("significance_level", config["statistics"]["significance_level"]))
    out: list[dict] = []
    for row in site_rows(pub, config, instruments):
        out += _site_row_checks(row, _significant_list(pub, row), alpha)
    for label, g, body in _correlation_tables(pub, list(config["groups"])):
        out += [_check_p_from_r(label, g, pair) for pair in body.get("pairs", [])]
    df = pd.DataFrame(out, columns=CONSISTENCY_COLUMNS)
    df["consistent"] = df["consistent"].astype(bool)
    df["cannot_be_consistent"] = df["cannot_be_consistent"].astype(bool)
    return df


def _check_row(**kw: object) -> dict:
    """One row of :data:`CONSISTENCY_COLUMNS`: text columns default to ``""``, numbers to NaN."""
    row = {c: kw.get(c, "") for c in CONSISTENCY_COLUMNS}
    for c in ("recomputed", "recomputed_low", "recomputed_high", "suggested_low", "suggested_high"):
        row[c] = kw.get(c, float("nan"))
    row["cannot_be_consistent"] = bool(kw.get("cannot_be_consistent", False))
    return row


def _row_key(row: SiteRow) -> dict:
    """The columns naming a printed row in its check rows: table, group, instrument, scale."""
    return dict(table=row.table, group=row.group, instrument=row.instrument, scale=row.scale)


def _site_row_checks(row: SiteRow, significant: list[str] | None, alpha: float) -> list[dict]:
    """Every check of one printed site-comparison row, in output order (see :func:`consistency_checks`).

    When the row's F cannot be reached, each cell that breaks a bound gets the value that would fit
    (:func:`_suggest_cell_values`); when none does, the single-cell values that would fit are listed.
    """
    checks = [_check_p_from_f(row)]
    if significant is not None:
        checks.append(_check_stars(row, significant, alpha))
    lo_n, _, _, _ = row.n_bounds()
    cells = [_check_cell(row, i, float(lo_n[i])) for i in range(len(row.sites))]
    f_check = _check_f_from_cells(row)
    if not f_check["consistent"]:
        if any(c["cannot_be_consistent"] for c in cells):
            _suggest_cell_values(row, cells)
            return [*checks, *cells, f_check]
        fits = _single_cell_fits(row)
        f_check["note"] += f"; no cell breaks a bound; {len(fits)} single-cell values that would fit follow"
        return [*checks, *cells, f_check, *fits]
    return [*checks, *cells, f_check]


def _check_p_from_f(row: SiteRow) -> dict:
    """statcheck: the p of the printed F and df (F over its rounding interval) against the printed p."""
    df1, df2 = float(row.df1), float(row.df2)
    f_lo, f_hi = row.F.interval()
    p_lo, p_hi = float(f_sf(f_hi, df1, df2)), float(f_sf(max(f_lo, 0.0), df1, df2))
    pp_lo, pp_hi = row.p.interval()
    ok = p_lo <= pp_hi and pp_lo <= p_hi
    p_exact = float(f_sf(float(row.F), df1, df2))
    return _check_row(
        check="p_from_F",
        **_row_key(row),
        site="All",
        quantity="p",
        printed=row.p.text,
        recomputed=p_exact,
        recomputed_low=p_lo,
        recomputed_high=p_hi,
        consistent=ok,
        cannot_be_consistent=not ok,
        suggested_value="" if ok else _fmt(p_exact, max(row.p.decimals, 3)),
        note=f"p of F({row.df1.text}, {row.df2.text}) = {row.F.text} "
        f"with F in [{fmt_g(f_lo)}, {fmt_g(f_hi)}]",
    )


def _check_stars(row: SiteRow, significant: list[str], alpha: float) -> dict:
    """The table's list of significant outcomes against its printed p and the significance level."""
    listed = f"{row.instrument}/{row.scale}" in set(significant)
    sig = float(row.p) < alpha
    return _check_row(
        check="stars",
        **_row_key(row),
        site="All",
        quantity="p",
        printed=row.p.text,
        recomputed=float(f_sf(float(row.F), float(row.df1), float(row.df2))),
        consistent=sig == listed,
        cannot_be_consistent=sig != listed,
        suggested_value="" if sig == listed else ("significant" if sig else "not significant"),
        note=f"listed as significant: {listed}; printed p < {fmt_g(alpha)}: {sig}",
    )


def _check_cell(row: SiteRow, index: int, n_min: float) -> dict:
    """One site's printed cell: ``mean_range`` when its mean lies outside the scale, else ``sem_bound``.

    Bhatia–Davis: the largest variance of a score bounded by [min, max] with mean m is
    (max − m)(m − min), so SEM ≤ √(that / (n − 1)) with the smallest n the site can have and m moved
    within its rounding box towards the middle of the range (the most lenient choice).
    """
    m, s = row.means[index], row.sems[index]
    site = row.sites[index]
    m_lo, m_hi = m.interval()
    if m_hi < row.scale_min or m_lo > row.scale_max:
        return _check_row(
            check="mean_range",
            **_row_key(row),
            site=site,
            quantity="mean",
            printed=m.text,
            consistent=False,
            cannot_be_consistent=True,
            note=f"mean outside the scale's range {fmt_g(row.scale_min)}-{fmt_g(row.scale_max)}",
        )
    mc = min(max((row.scale_min + row.scale_max) / 2, m_lo), m_hi)
    vmax = (row.scale_max - mc) * (mc - row.scale_min)
    sem_max = math.sqrt(vmax / (n_min - 1)) if n_min > 1 else float("inf")
    s_lo, _ = s.interval()
    ok = s_lo <= sem_max
    return _check_row(
        check="sem_bound",
        **_row_key(row),
        site=site,
        quantity="sem",
        printed=s.text,
        recomputed=sem_max,
        recomputed_high=sem_max,
        consistent=ok,
        cannot_be_consistent=not ok,
        note=f"largest possible SEM for mean {m.text} on {fmt_g(row.scale_min)}-{fmt_g(row.scale_max)} "
        f"with n >= {fmt_g(n_min)} (Bhatia-Davis)",
    )


def _check_f_from_cells(row: SiteRow) -> dict:
    """Whether the printed F is reachable from the printed means, SEMs and admissible site n.

    ``recomputed`` is the F at the estimated site n; low/high are the extremes over every cell's
    rounding box and the n bounds (:func:`_f_extreme`). The row is checked, the printed F not blamed.
    """
    _, _, est_n, n_note = row.n_bounds()
    f_lo, f_hi = row.F.interval()
    m_arr = np.array([float(x) for x in row.means])
    s_arr = np.array([float(x) for x in row.sems])
    f_min, f_max = _f_extreme(row, maximise=False), _f_extreme(row, maximise=True)
    return _check_row(
        check="F_from_cells",
        **_row_key(row),
        site="All",
        quantity="F",
        printed=row.F.text,
        recomputed=implied_f(m_arr, s_arr, est_n),
        recomputed_low=f_min,
        recomputed_high=f_max,
        consistent=f_min <= f_hi and f_lo <= f_max,
        note="row check (the printed F itself is not blamed); F implied by printed means, SEMs and "
        f"site n (reachable range over rounding and n); {n_note}",
    )


def _suggest_cell_values(row: SiteRow, cells: list[dict]) -> None:
    """Write into each cell check that cannot be consistent the value that would fit the printed F.

    The value makes the row's implied F equal the printed F (others as printed, site n at estimate);
    for an SEM also the range of printed SEMs with which the printed F stays reachable
    (:func:`_feasible_sem_interval`), capped at the cell's SEM bound.
    """
    f_lo, f_hi = row.F.interval()
    for i, cell in enumerate(cells):
        if not cell["cannot_be_consistent"]:
            continue
        what = "mean" if cell["check"] == "mean_range" else "sem"
        v = _first(_solve_cell(row, i, float(row.F), what))
        printed = (row.sems if what == "sem" else row.means)[i]
        v_lo, v_hi = (
            _feasible_sem_interval(row, i, v, f_lo, f_hi)
            if what == "sem" and np.isfinite(v)
            else (float("nan"), float("nan"))
        )
        bound = cell["recomputed_high"] if cell["check"] == "sem_bound" else float("inf")
        v_hi = min(v_hi, bound) if np.isfinite(v_hi) else v_hi
        cell["suggested_value"] = _fmt(v, printed.decimals)
        cell["suggested_low"], cell["suggested_high"] = v_lo, v_hi
        cell["note"] += (
            f"; the {what} that makes the row's implied F equal the printed {row.F.text}"
            f" is {fmt_num(v, 4)} with site n at estimate; any {what} in"
            f" [{fmt_num(v_lo, 4)}, {fmt_num(v_hi, 4)}] is"
            " consistent with the row over rounding and admissible site n"
        )


def _single_cell_fits(row: SiteRow) -> list[dict]:
    """``F_single_cell_fit`` rows: each mean or SEM that alone would make the implied F the printed F.

    One equation cannot say which cell is wrong, so every single-cell value that fits is listed (others
    as printed, site n at estimate; :func:`_solve_cell`).
    """
    fits = []
    for i, site in enumerate(row.sites):
        for what, printed in (("mean", row.means[i]), ("sem", row.sems[i])):
            for v in _solve_cell(row, i, float(row.F), what):
                fits.append(
                    _check_row(
                        check="F_single_cell_fit",
                        **_row_key(row),
                        site=site,
                        quantity=what,
                        printed=printed.text,
                        recomputed=v,
                        consistent=False,
                        suggested_value=_fmt(v, printed.decimals),
                        note=f"{what} that alone would make the implied F equal the printed {row.F.text} "
                        "(others as printed, site n at estimate)",
                    )
                )
    return fits


def _p_of_r(r: float, n: int) -> float:
    """Two-sided p of a Pearson r on n pairs: t = r √(n − 2) / √(1 − r²) on n − 2 df.

    r = 0.5, n = 5: t = 0.5·√3/√0.75 = 1, two-sided p on 3 df = 0.391.

    >>> round(_p_of_r(0.5, 5), 3)
    0.391
    """
    r = min(max(r, -0.999999999), 0.999999999)
    t = r * math.sqrt(n - 2) / math.sqrt(1 - r * r)
    return float(2 * t_sf(abs(t), n - 2))


def _check_p_from_r(table: str, group: str, pair: dict) -> dict:
    """statcheck for a printed correlation: the p of r (over r's rounding interval) against the printed p.

    A printed ``0.000`` means p < 0.0005.
    """
    x, y = pair["pair"]
    r, n = _printed(pair["r"]), int(pair["n"])
    pp = _printed(pair.get("p_reported", pair.get("p")))
    r_lo, r_hi = r.interval()
    ps = sorted((_p_of_r(r_lo, n), _p_of_r(r_hi, n)))
    if r_lo <= 0 <= r_hi:
        ps[1] = 1.0
    pp_lo, pp_hi = pp.interval()
    if float(pp) == 0.0:
        pp_lo, pp_hi = 0.0, pp.half_unit
    ok = ps[0] <= pp_hi and pp_lo <= ps[1]
    exact = _p_of_r(float(r), n)
    return _check_row(
        check="p_from_r",
        table=table,
        group=group,
        instrument=x,
        scale=y,
        site="All",
        quantity="p",
        printed=pp.text,
        recomputed=exact,
        recomputed_low=ps[0],
        recomputed_high=ps[1],
        consistent=ok,
        cannot_be_consistent=not ok,
        suggested_value="" if ok else _fmt(exact, max(pp.decimals, 3)),
        note=f"two-sided p of r = {r.text}, n = {n} (t on n - 2 df)"
        + ("; printed 0.000 means p < 0.0005 (write p < 0.001)" if float(pp) == 0.0 else ""),
    )


def _significant_list(pub: dict, row: SiteRow) -> list[str] | None:
    """Outcomes (``instrument/scale``) the row's table lists as significant; ``None`` when it has no list."""
    for _label, g, body in _site_tables(pub, [row.group]):
        if g == row.group and isinstance(body.get("significant"), list):
            return [str(x) for x in body["significant"]]
    return None


# -- CLI -------------------------------------------------------------------------------------------
