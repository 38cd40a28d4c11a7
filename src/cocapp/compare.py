"""Site comparisons of one group at one threshold (stage ``compare``).

For every outcome (instrument × scale) of the group: one-way ANOVA with Levene and Welch
(:mod:`cocapp.anova`), Tukey–Kramer and Games–Howell pairs (:mod:`cocapp.posthoc`), and for each
configured covariate model an ANCOVA with adjusted means, their pairwise comparisons and the
homogeneity-of-slopes check (:mod:`cocapp.ancova`); then Pearson correlations among the instruments'
``total`` scales, pooled and per site (:mod:`cocapp.correlation`). Sites, covariates, models,
significance and confidence levels and the post hoc family after ANCOVA all come from config.

    python -m cocapp.compare --config C --group G --threshold T --scores SCORES.csv \\
        --respondents G_respondents.csv --outdir DIR

writes ``anova.csv``, ``tukey.csv``, ``games_howell.csv``, ``ancova.csv``, ``ancova_means.csv``,
``ancova_posthoc.csv``, ``ancova_slopes.csv`` and ``correlations.csv`` in DIR (columns: docs/outputs.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cocapp.ancova import ANCOVA_COLUMNS, MEANS_COLUMNS, POSTHOC_COLUMNS, SLOPES_COLUMNS, ancova
from cocapp.anova import ANOVA_COLUMNS, oneway_anova, site_codes, summarise_groups
from cocapp.config import format_threshold, group_config, load_config, site_names
from cocapp.correlation import CORRELATION_COLUMNS, pearson_table
from cocapp.posthoc import PAIR_COLUMNS, games_howell, tukey_kramer

__all__ = ["OUTPUT_COLUMNS", "compare_group", "main"]

KEYS = ["group", "instrument", "scale", "threshold"]
_PAIR = PAIR_COLUMNS[: PAIR_COLUMNS.index("significant") + 1] + ["omnibus_significant", "method", "note"]
OUTPUT_COLUMNS: dict[str, list[str]] = {
    "anova": KEYS + ANOVA_COLUMNS,
    "tukey": KEYS + _PAIR,
    "games_howell": KEYS + _PAIR,
    "ancova": KEYS + ["model", "covariates"] + ANCOVA_COLUMNS,
    "ancova_means": KEYS + ["model"] + MEANS_COLUMNS,
    "ancova_posthoc": KEYS + ["model"] + POSTHOC_COLUMNS,
    "ancova_slopes": KEYS + ["model"] + SLOPES_COLUMNS,
    "correlations": ["group", "threshold"] + CORRELATION_COLUMNS,
}


def _with_keys(df: pd.DataFrame, keys: dict[str, object]) -> pd.DataFrame:
    df = df.copy()
    for i, (k, v) in enumerate(keys.items()):
        df.insert(i, k, v)
    return df


def _covariate_frame(respondents: pd.DataFrame, covariates: dict, source: str) -> pd.DataFrame:
    """Respondents indexed by id with categorical covariates as text labels (empty = missing)."""
    for col in ("id", *covariates):
        if col not in respondents.columns:
            raise ValueError(f"{source}: column {col!r} is missing (covariates: {list(covariates)})")
    ids = respondents["id"].astype(str)
    dup = ids[ids.duplicated()].unique()[:5]
    if len(dup):
        raise ValueError(f"{source}: column 'id': duplicate id(s) {list(dup)}")
    out = pd.DataFrame(index=pd.Index(ids.to_numpy(dtype=object), name="id"))
    for c, spec in covariates.items():
        col = respondents[c]
        if spec["type"] == "categorical":
            text = [None if (pd.isna(v) or str(v) == "") else str(v) for v in col.to_numpy(dtype=object)]
            out[c] = pd.Series(text, index=out.index, dtype=object)
        else:
            values = pd.to_numeric(col, errors="coerce")
            bad = col.notna() & values.isna()
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                raise ValueError(f"{source}: column {c!r}, row {row + 2}: {col.iloc[row]!r} is not a number")
            out[c] = values.to_numpy(dtype=np.float64)
    return out


def compare_group(
    scores: pd.DataFrame,
    respondents: pd.DataFrame,
    config: dict,
    group: str,
    threshold: str | float,
    *,
    respondents_source: str = "respondents",
) -> dict[str, pd.DataFrame]:
    """All site comparisons of one group at one threshold; returns the eight tables by file stem.

    ``scores`` is the long scores table (:func:`cocapp.scoring.read_scores`); rows of other thresholds
    are ignored. ``respondents`` is ``ingest/{group}_respondents.csv`` (id, site, covariates).
    Outcomes appear in the group's instrument order, scales in the order of the scores file.
    """
    gspec = group_config(config, group)
    levels = site_names(config)
    st = config["statistics"]
    alpha = float(st["significance_level"])
    conf = float(st.get("confidence_level", 0.95))
    post = st.get("post_hoc", {}).get("ancova", "tukey")
    labels = st.get("correlations", {}).get("effect_size_labels")
    t = format_threshold(threshold)
    sc = scores[scores["threshold"].astype(str).map(format_threshold) == t]
    if len(scores) and not len(sc):
        found = sorted(set(scores["threshold"].astype(str)))
        raise ValueError(f"scores: column 'threshold': no rows for threshold {t} (found {found})")
    unknown = sorted(set(sc["site"].dropna().astype(str)) - set(levels))
    if unknown:
        raise ValueError(f"scores: column 'site': value(s) {unknown} are not configured sites {levels}")

    dup = sc[sc.duplicated(["id", "instrument", "scale"])]
    if len(dup):
        r = dup.iloc[0]
        raise ValueError(
            f"scores: id {r['id']!r} has more than one {r['instrument']}/{r['scale']} score at threshold {t}"
        )
    covspec = gspec.get("covariates", {})
    models = gspec.get("ancova_models", {})
    needed = {c: covspec[c] for m in models.values() for c in m}
    cov = _covariate_frame(respondents, needed, respondents_source) if models else None
    if cov is not None:
        missing_ids = sorted(set(sc["id"].astype(str)) - set(cov.index))[:5]
        if missing_ids:
            raise ValueError(f"{respondents_source}: id(s) {missing_ids} have scores but no respondent row")

    out: dict[str, list[pd.DataFrame]] = {name: [] for name in OUTPUT_COLUMNS}
    anova_rows = []
    for inst in gspec["instruments"]:
        di = sc[sc["instrument"] == inst]
        for scale in pd.unique(di["scale"]):
            keys = {"group": group, "instrument": inst, "scale": scale, "threshold": t}
            d = di[(di["scale"] == scale) & di["score"].notna()]
            y = d["score"].to_numpy(dtype=np.float64)
            codes = site_codes(d["site"].astype(str), levels, "scores: column 'site'")
            row = oneway_anova(y, codes, levels, alpha)
            anova_rows.append({**keys, **row})
            summary = summarise_groups(y, codes, levels)
            tk = tukey_kramer(summary, alpha, conf)
            tk.insert(tk.columns.get_loc("significant") + 1, "omnibus_significant", row["significant"])
            out["tukey"].append(_with_keys(tk, keys))
            gh = games_howell(summary, alpha, conf)
            wp = row["welch_p"]
            gh.insert(
                gh.columns.get_loc("significant") + 1,
                "omnibus_significant",
                bool(wp < alpha) if np.isfinite(wp) else None,
            )
            out["games_howell"].append(_with_keys(gh, keys))
            for mname, mcovs in models.items():
                data = d[["id", "site", "score"]].reset_index(drop=True)
                covs = cov.loc[data["id"].astype(str).to_numpy(), list(mcovs)].reset_index(drop=True)
                data = pd.concat([data, covs], axis=1)
                res = ancova(
                    data,
                    {c: covspec[c]["type"] for c in mcovs},
                    levels,
                    alpha=alpha,
                    confidence=conf,
                    posthoc=post,
                )
                mkeys = {**keys, "model": mname}
                terms = _with_keys(res.terms, mkeys)
                terms.insert(len(mkeys), "covariates", "+".join(mcovs))
                out["ancova"].append(terms)
                out["ancova_means"].append(_with_keys(res.means, mkeys))
                out["ancova_posthoc"].append(_with_keys(res.posthoc, mkeys))
                out["ancova_slopes"].append(_with_keys(res.slopes, mkeys))
    out["anova"] = [pd.DataFrame(anova_rows)] if anova_rows else []

    # correlations among the instruments' total scales (pairwise deletion)
    totals = [i for i in gspec["instruments"] if ((sc["instrument"] == i) & (sc["scale"] == "total")).any()]
    if len(totals) >= 2:
        tot = sc[sc["scale"] == "total"]
        wide = tot.pivot(index="id", columns="instrument", values="score")
        site_of = tot.drop_duplicates("id").set_index("id")["site"]
        wide = wide.reindex(columns=totals)
        wide["site"] = site_of.reindex(wide.index).to_numpy()
        corr = pearson_table(
            wide.reset_index(drop=True), totals, levels, alpha=alpha, confidence=conf, labels=labels
        )
        corr.insert(0, "threshold", t)
        corr.insert(0, "group", group)
        out["correlations"].append(corr)

    tables = {}
    for name, cols in OUTPUT_COLUMNS.items():
        parts = [p for p in out[name] if len(p)]
        tables[name] = pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)
    return tables


def main(argv: list[str] | None = None) -> int:
    """``cocapp compare``: write the eight comparison tables of one group and threshold."""
    from cocapp.io import read_respondents, write_csv_atomic
    from cocapp.scoring import read_scores

    parser = argparse.ArgumentParser(prog="cocapp compare", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--threshold", required=True)
    parser.add_argument("--scores", required=True, help="scores/by_threshold/{group}/{threshold}.csv")
    parser.add_argument("--respondents", required=True, help="ingest/{group}_respondents.csv")
    parser.add_argument("--outdir", required=True)
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        scores = read_scores(args.scores)
        respondents = read_respondents(args.respondents)
        tables = compare_group(
            scores, respondents, config, args.group, args.threshold, respondents_source=args.respondents
        )
        outdir = Path(args.outdir)
        for name, df in tables.items():
            write_csv_atomic(df, outdir / f"{name}.csv")
    except Exception as err:  # noqa: BLE001 - reported to the log, non-zero exit
        print(f"cocapp compare: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
