"""The sensitivity verdict rendered from its facts (``verdict.json``) by one Jinja2 template.

``templates/verdict.j2`` gives both the Markdown of ``verdict.md`` and the HTML of the report, from
the same facts (:func:`cocapp.stats.sensitivity.verdict_facts`), so nothing is parsed back from
Markdown into HTML.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from cocapp.config import threshold_fraction
from cocapp.formatting import fmt_g, fmt_num, fmt_p_text, fmt_signed
from cocapp.stats.sensitivity import _join, _where, _where_list, threshold_label
from cocapp.words import GroupingWords

__all__ = ["VERDICT_TEMPLATE", "changed_labels", "render_verdict"]

VERDICT_TEMPLATE = "verdict.j2"
CHANGED_STATUSES = ("loses_significance", "gains_significance")


def changed_labels(group: Mapping) -> list[str]:
    """Labels of a group's outcomes whose conclusion changes in any analysis, in outcome order.

    >>> g = {"analyses": [{"outcomes": [{"label": "A", "status": "significant_at_every_threshold"},
    ...                                 {"label": "B", "status": "not_significant_at_any_threshold"}]},
    ...                   {"outcomes": [{"label": "A", "status": "not_significant_at_any_threshold"},
    ...                                 {"label": "B", "status": "gains_significance"}]}]}
    >>> changed_labels(g)
    ['B']
    """
    changed = {
        o["label"] for a in group["analyses"] for o in a["outcomes"] if o["status"] in CHANGED_STATUSES
    }
    order = [o["label"] for o in group["analyses"][0]["outcomes"]]
    return sorted(changed, key=order.index)


def _n_p_text(x: Mapping, alpha: float) -> str:
    """``n = 382, p = 0.032`` (``p < 0.001``; ``not available`` for a missing n or p) for running text."""
    n = "not available" if x["n"] is None else str(x["n"])
    p = fmt_p_text(x["p"], alpha)
    return f"n = {n}, p {p}" if p.startswith("<") else f"n = {n}, p = {p}"


def _p_text(p: float, alpha: float) -> str:
    """``= 0.032`` or ``< 0.001`` for running text (:func:`cocapp.formatting.fmt_p_text`)."""
    t = fmt_p_text(p, alpha)
    return t if t.startswith("<") else f"= {t}"


def _escape_html_text(value: Any) -> Markup:
    """Escape ``&``, ``<`` and ``>`` of a value written into the HTML verdict (quotes stay as they are)."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=False))


def _verdict_environment(as_html: bool) -> jinja2.Environment:
    """Jinja2 environment of :data:`VERDICT_TEMPLATE`: escaping for HTML, none for Markdown."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parent / "templates")),
        autoescape=as_html,
        finalize=_escape_html_text if as_html else None,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # plain-text join (the built-in escapes quotes when autoescaping; the output is escaped once anyway)
    env.filters["join"] = lambda items, sep="": sep.join(str(x) for x in items)
    env.filters["threshold_label"] = threshold_label
    env.filters["where"] = _where
    env.filters["fmt_g"] = fmt_g
    env.filters["ascending"] = lambda ts: sorted(ts, key=threshold_fraction)
    return env


def render_verdict(
    facts: dict, max_pairs: int = 10, fmt: str = "md", words: GroupingWords | None = None
) -> str:
    """The verdict from :func:`verdict_facts` (or ``verdict.json``), one section per group.

    Rendered by the template ``templates/verdict.j2``: ``fmt="md"`` gives the Markdown of
    ``verdict.md`` (ending in one newline), ``fmt="html"`` the same sentences as an HTML fragment for the
    report (headings one level below the report's sections). p is shown by
    :func:`cocapp.formatting.fmt_p_text` (three decimals, more when needed to show which side of the
    significance level it is on; ``p < 0.001`` below that); every other number is the count or the shift
    as stored, rounded to two decimals for the mean shift. At most ``max_pairs`` changing Tukey pairs
    are listed. ``words``: the grouping's name (config ``grouping``, :mod:`cocapp.words`; default "site").
    """
    if fmt not in ("md", "html"):
        raise ValueError(f"render_verdict: fmt must be 'md' or 'html', not {fmt!r}")
    as_html = fmt == "html"
    alpha = facts["significance_level"]
    text = (
        _verdict_environment(as_html)
        .get_template(VERDICT_TEMPLATE)
        .render(
            facts=facts,
            w=words or GroupingWords(),
            html=as_html,
            max_pairs=max_pairs,
            threshold_label=threshold_label,
            where=_where,
            where_list=_where_list,
            listing=_join,
            changed_labels=changed_labels,
            n_p=lambda x: _n_p_text(x, alpha),
            fmt_g=fmt_g,
            fmt_p=lambda p: _p_text(p, alpha),
            fmt_num=fmt_num,
            fmt_signed=fmt_signed,
        )
    )
    return text.rstrip("\n") if as_html else text.rstrip("\n") + "\n"
