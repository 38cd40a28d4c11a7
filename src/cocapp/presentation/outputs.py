"""Which files the presentation stages write, from the config alone (light: no pandas, no matplotlib).

The Snakefile declares these lists as the outputs of ``tables``, ``figures``, ``audit`` and
``report``; the stages check that what they render is exactly what was declared. :func:`report_items`
adds the captions under which ``snakemake --report`` shows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cocapp.config import correlation_measures
from cocapp.instruments import configured_instruments

__all__ = [
    "FIGURE_FORMATS",
    "FigureSpec",
    "REPORTS",
    "TABLE_FORMATS",
    "audit_files",
    "correlation_groups",
    "caption_path",
    "figure_files",
    "figure_specs",
    "sensitivity_figure_stems",
    "funnel_overdispersion",
    "funnel_settings",
    "many_sites",
    "overdispersion_text",
    "report_items",
    "table_files",
    "table_specs",
    "templates_dir",
]

REPORTS = Path("reports")
TABLE_FORMATS = ("csv", "md", "html", "docx")
FIGURE_FORMATS = ("png", "svg")


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file stem (relative to the figures folder), kind and what it shows."""

    stem: str
    kind: str  # "sites" | "scatter" | "funnel" | "caterpillar" (many sites: :func:`many_sites`)
    group: str
    instrument: str
    scale: str  # for a scatter: the y measure (an instrument key, or <key>.<scale> for a subscale)
    label: str = ""  # published label, e.g. "Fig. 3"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", text).lower()


FUNNEL_DEFAULTS = {"site_threshold": 30, "levels": (0.95, 0.998)}


def funnel_settings(config: dict) -> tuple[int, list[float]]:
    """``statistics.funnel``: the site threshold and the control-limit levels, defaults filled in here
    (not by ``with_defaults``, so that a config without the key is shown in the report as written)."""
    funnel = config["statistics"].get("funnel") or {}
    threshold = int(funnel.get("site_threshold", FUNNEL_DEFAULTS["site_threshold"]))
    return threshold, [float(x) for x in funnel.get("levels", FUNNEL_DEFAULTS["levels"])]


_OVERDISPERSION_TEXT = {
    "multiplicative": "widened for over-dispersion by a multiplicative factor (Spiegelhalter 2005, "
    "section 6: √φ, φ the mean squared z-score Winsorised at 10%/90%, when above 1)",
    "additive": "widened for over-dispersion by an additive between-site variance τ² (Spiegelhalter 2005, "
    "section 6: random effects, τ² by the DerSimonian–Laird moment estimator on the z-scores Winsorised "
    "at 10%/90%)",
}


def overdispersion_text(method: str) -> str:
    """The sentence part saying how the control limits allow for over-dispersion ('' for ``none``)."""
    return _OVERDISPERSION_TEXT.get(method, "")


def funnel_overdispersion(config: dict) -> str:
    """``statistics.funnel.overdispersion`` (default ``none``; :func:`cocapp.stats.funnel.overdispersion`)."""
    return str((config["statistics"].get("funnel") or {}).get("overdispersion", "none"))


def many_sites(config: dict) -> bool:
    """More sites than ``statistics.funnel.site_threshold`` (default 30): each outcome's per-site figure
    is then a funnel plot and a caterpillar plot, and a table lists the sites outside the limits."""
    return len(config["sites"]) > funnel_settings(config)[0]


def figure_specs(config: dict, instruments: dict | None = None) -> list[FigureSpec]:
    """Every figure of a run, from the config and its instruments' scales (for ``expected_outputs`` and
    the report). ``instruments``: the configured instruments by key, as a stage loaded them from its
    ``--instruments`` files; None: loaded through the config (the workflow when it is parsed)."""
    specs: list[FigureSpec] = []
    known = configured_instruments(config, instruments)
    many = many_sites(config)
    for g, spec in config["groups"].items():
        for ikey in spec["instruments"]:
            inst = known[ikey]
            for scale in inst.scales:
                stem = f"sites/{g}/{ikey}_{scale.key}"
                if many:
                    specs.append(FigureSpec(f"{stem}_funnel", "funnel", g, ikey, scale.key))
                    specs.append(FigureSpec(f"{stem}_caterpillar", "caterpillar", g, ikey, scale.key))
                else:
                    specs.append(FigureSpec(stem, "sites", g, ikey, scale.key))
    for g in config["groups"]:
        names = [name for name, _, _ in correlation_measures(config, g)]
        for i, x in enumerate(names):
            for y in names[i + 1 :]:
                specs.append(FigureSpec(f"correlations/{g}/{x}_{y}", "scatter", g, x, y))
    for fig in config.get("published", {}).get("figures", []) or []:
        specs.append(
            FigureSpec(
                f"published_{_slug(fig['label'])}",
                "sites",
                fig["group"],
                fig["instrument"],
                fig["scale"],
                fig["label"],
            )
        )
    return specs


def correlation_groups(config: dict) -> list[str]:
    """Groups with two or more scales to correlate (they get a correlation table and scatter plots):
    by default those answering two or more instruments (:func:`cocapp.config.correlation_measures`)."""
    return [g for g in config["groups"] if len(correlation_measures(config, g)) >= 2]


def table_specs(config: dict) -> list[tuple[str, str]]:
    """``(file stem, number)`` of every table, in order, from the config alone.

    Table 1 = returns by site; then one site-comparison table per group; then one correlation table
    per group answering two or more instruments; then the reliability and ANCOVA tables.
    """
    specs = [("table1_returns", "Table 1")]
    n = 2
    for g in config["groups"]:
        specs.append((f"table{n}_{g}", f"Table {n}"))
        n += 1
    for g in correlation_groups(config):
        specs.append((f"table{n}_correlations_{g}", f"Table {n}"))
        n += 1
    specs.append(("reliability", "Supplementary table S1"))
    specs.append(("ancova_means", "Supplementary table S2"))
    if many_sites(config):
        specs.append(("outlying_sites", "Supplementary table S3"))
    return specs


def table_files(config: dict) -> list[str]:
    """Every file the tables stage writes: ``reports/tables/<key>.<fmt>``."""
    specs = table_specs(config)
    return [str(REPORTS / "tables" / f"{key}.{fmt}") for key, _ in specs for fmt in TABLE_FORMATS]


def figure_files(config: dict) -> list[str]:
    """Every file the figures stage writes: ``reports/figures/<stem>.<png|svg>``."""
    specs = figure_specs(config)
    return [str(REPORTS / "figures" / f"{s.stem}.{fmt}") for s in specs for fmt in FIGURE_FORMATS]


def sensitivity_figure_stems(config: dict) -> list[str]:
    """The sensitivity figures the report shows (``reports/figures/sensitivity/<stem>.png``): per group
    the n/p and site-means figures of stage sensitivity and, when imputation is on, the multiple
    imputation's site means (stage sensitivity) and convergence (stage impute)."""
    from cocapp.config import imputation_enabled

    kinds = ["n_p", "site_means"] + (
        ["mi_site_means", "mi_convergence"] if imputation_enabled(config) else []
    )
    return [f"{g}_{kind}" for g in config["groups"] for kind in kinds]


def audit_files() -> list[str]:
    """The audit stage's two files."""
    return [str(REPORTS / "tables" / f"published_{n}.csv") for n in ("comparison", "consistency")]


def templates_dir() -> Path:
    """The package's template folder (report template, caption files)."""
    return Path(__file__).resolve().parent / "templates"


def caption_path(name: str) -> str:
    """Path of a caption file (``templates/captions/<name>.rst``) for Snakemake's ``report()``."""
    path = templates_dir() / "captions" / f"{name}.rst"
    if not path.is_file():
        raise FileNotFoundError(f"no caption file {path}")
    return str(path)


def report_items(config: dict) -> list[dict]:
    """Outputs to register with Snakemake's ``report()``: path, caption file, category, subcategory.

    In the Snakefile: ``report(path, caption=item["caption"], category=item["category"],
    subcategory=item["subcategory"])``.
    """
    reports = REPORTS
    items = []
    for path in table_files(config):
        if path.endswith(".html"):
            items.append(dict(path=path, caption=caption_path("table"), category="Tables", subcategory=""))
    for name in ("published_comparison", "published_consistency"):
        items.append(
            dict(
                path=str(reports / "tables" / f"{name}.csv"),
                caption=caption_path("comparison" if name.endswith("comparison") else "consistency"),
                category="Reproduced vs published",
                subcategory="",
            )
        )
    for spec in figure_specs(config):
        cap = (
            "published_figure"
            if spec.label
            else {"sites": "site_figure", "scatter": "scatter"}.get(spec.kind, "funnel_figure")
        )
        sub = "Published" if spec.label else config["groups"][spec.group].get("label") or spec.group
        items.append(
            dict(
                path=str(reports / "figures" / f"{spec.stem}.png"),
                caption=caption_path(cap),
                category="Figures",
                subcategory=sub,
            )
        )
    items.append(
        dict(
            path=str(reports / "report.html"),
            caption=caption_path("report"),
            category="Report",
            subcategory="",
        )
    )
    return items
