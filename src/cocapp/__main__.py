import sys

# Every Snakemake job is `python -m cocapp <stage>`. pandera imports hypothesis (for its data-synthesis
# strategies, which no stage uses) whenever hypothesis is installed -- as the test extras install it --
# and that import is a quarter of a second of every job (issue 12: 18 jobs in the default run). Marking
# it absent in this entry point only (never on import of the library, so tests and users keep it) makes
# pandera take its own no-hypothesis path.
sys.modules.setdefault("hypothesis", None)

from cocapp.cli import main  # noqa: E402

raise SystemExit(main())
