"""The ``cocapp`` console command: ``cocapp <stage> [args]`` runs ``cocapp.<stage>.main(args)``.

Every stage is also runnable as ``python -m cocapp.<stage>``; the Snakefile uses that form.
"""

from __future__ import annotations

import importlib
import sys

# stage name -> (module, one-line description), in pipeline order
STAGES: dict[str, tuple[str, str]] = {
    "check-config": ("cocapp.config", "validate a config file against the schema"),
    "ingest": (
        "cocapp.ingest",
        "read and validate raw questionnaires; write items, respondents, reconciliation",
    ),
    "score": ("cocapp.scoring", "score every scale at one threshold (person-mean replacement)"),
    "reliability": ("cocapp.reliability", "Cronbach's alpha per scale (complete cases), Feldt CI, items"),
    "missingness": ("cocapp.missingness", "missing data: % incomplete, codes, patterns, Little's MCAR test"),
    "descriptives": ("cocapp.descriptives", "n, mean, SD, SEM, 95% CI per scale by site and pooled"),
    "normality": ("cocapp.normality", "skewness G1 and kurtosis G2 (SPSS) with SEs, pooled across sites"),
    "reference": ("cocapp.reference", "one-sample t-tests against the instruments' reference values"),
    "compare": (
        "cocapp.compare",
        "site comparisons at one threshold: ANOVA, Tukey, Games-Howell, ANCOVA, correlations",
    ),
    "collect": ("cocapp.collect", "concatenate per-group / per-threshold parts into one tidy file"),
    "sensitivity": (
        "cocapp.sensitivity",
        "mean-replacement sensitivity: summary, changing pairs, verdict, figures",
    ),
    "tables": (
        "cocapp.tables",
        "publication tables 1-4, reliability, ANCOVA means (CSV, Markdown, HTML, DOCX)",
    ),
    "figures": (
        "cocapp.figures",
        "site means +/- CI for every outcome (Fig. 3 layout), correlation scatter plots",
    ),
    "audit": (
        "cocapp.audit",
        "printed vs regenerated numbers; statcheck-style consistency checks of the print",
    ),
    "report": ("cocapp.report", "one self-contained HTML report (reports/report.html)"),
    "synthesize": ("cocapp.synthetic", "regenerate the embedded synthetic COCAPP dataset"),
    "qualitative-ingest": ("cocapp.qualitative.ingest", "validate coded segments (CSV, QualCoder, .qdpx)"),
    "qualitative-framework": ("cocapp.qualitative.framework", "framework matrices, code counts, codebook"),
    "joint-display": ("cocapp.qualitative.joint", "survey beside qualitative coverage; report section"),
}


def usage() -> str:
    width = max(map(len, STAGES))
    lines = ["usage: cocapp <stage> [options]   (cocapp <stage> --help for a stage's options)", "", "stages:"]
    lines += [f"  {name:<{width}}  {desc}" for name, (_, desc) in STAGES.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"}:
        print(usage())
        return 0 if argv else 2
    stage, rest = argv[0], argv[1:]
    if stage not in STAGES:
        print(f"cocapp: unknown stage {stage!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(STAGES[stage][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
