"""Embedded synthetic default: item-level COCAPP data reconstructed from the published statistics.

The COCAPP questionnaires are not public. So that ``snakemake`` regenerates the paper's Tables 2-4 and
Fig. 3 out of the box, ``data/raw/`` holds a **synthetic** dataset built in the spirit of SPRITE
(Heathers et al. 2018) / rsprite2: item-level responses consistent with the reported summaries. Steps:

1. Respondents per site exactly as Table 1; covariates with plausible distributions and site variation
   (:mod:`cocapp.synthetic.design`).
2. A missingness pattern constructed to hit every printed N exactly (complete-case N of each alpha, scored
   N = df2 + 6 of each F test, Table 4's pairwise n), not missing at random.
3. Ordinal items from a factor model (general factor per instrument + subscale factors; correlated across
   instruments), site means/spreads and loadings tuned in a few passes
   (:mod:`cocapp.synthetic.generate`).
4. A deterministic hill climb nudging single answers by +/-1 until every target rounds to the printed value
   (:mod:`cocapp.synthetic.climb`).
5. Files (``.sav`` with labels and user-missing 8/9, ``.csv``, codebook) and a calibration report listing
   every target, published vs achieved (:mod:`cocapp.synthetic.output`).

Run ``cocapp synthesize --out data/raw --reports reports --seed 6``.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

__all__ = ["DEFAULT_SEED", "synthesize"]

DEFAULT_SEED = 6


def synthesize(
    config_path: str | Path,
    out_dir: str | Path,
    reports_dir: str | Path | None,
    seed: int,
    published_path: str | Path | None = None,
    log=print,
    only: list[str] | None = None,
) -> dict:
    """Generate the synthetic default and write data, codebook and calibration report.

    ``only`` restricts generation to some groups (each group has its own random stream, so a group comes
    out identical whether generated alone or with the others). Returns a summary dict (``seconds``,
    ``n_targets``, ``n_pass``, ``failing``).
    """
    from cocapp.config import load_config, site_names, threshold_fraction
    from cocapp.instruments import load_instrument

    from .generate import generate
    from .output import (
        achieved_values,
        codebook,
        count_targets,
        report_frame,
        report_markdown,
        variable_info,
        write_group,
    )

    t0 = time.perf_counter()
    config = load_config(config_path)
    pub_path = Path(published_path or config["published"]["reference"])
    published = yaml.safe_load(pub_path.read_text("utf-8"))
    sites = site_names(config)
    threshold = threshold_fraction(config["scoring"]["primary_threshold"])
    results = generate(config, published, seed, log=log, only=only)
    out_dir = Path(out_dir)
    infos = {}
    all_targets = []
    for group, res in results.items():
        gcfg = config["groups"][group]
        instruments = [load_instrument(k, config.get("instrument_paths", [])) for k in gcfg["instruments"]]
        infos[group] = variable_info(group, gcfg, instruments, sites)
        reference = config["statistics"]["post_hoc"].get("reference_site") or sites[0]
        achieved_values(group, res.data, instruments, sites, threshold, res.targets, reference)
        write_group(res.data, infos[group], out_dir, group, sites)
        all_targets += res.targets
    cb = codebook(infos)
    from cocapp.io import write_csv_atomic, write_text_atomic

    write_csv_atomic(cb, out_dir / "codebook.csv")
    all_targets = count_targets(results, published, sites) + all_targets
    frame = report_frame(all_targets)
    seconds = time.perf_counter() - t0
    if reports_dir is not None:
        reports_dir = Path(reports_dir)
        write_csv_atomic(frame, reports_dir / "synthetic_calibration.csv")
        md = report_markdown(
            frame,
            seed,
            seconds,
            {g: r.climb for g, r in results.items()},
            {g: r.n_missing_by_code for g, r in results.items()},
        )
        write_text_atomic(md, reports_dir / "synthetic_calibration.md")
    failing = frame.loc[~frame["pass"], "target_id"].tolist()
    log(
        f"[synthesize] {int(frame['pass'].sum())} of {len(frame)} calibration targets pass; "
        f"generator time {seconds:.1f} s"
    )
    return {
        "seconds": seconds,
        "n_targets": len(frame),
        "n_pass": int(frame["pass"].sum()),
        "failing": failing,
    }
