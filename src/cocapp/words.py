"""The study's own words for what its respondents are grouped by (config ``grouping``).

COCAPP compares sites; another study compares education levels, services or waves. Every caption,
heading, axis and method sentence takes the grouping's name from here: ``grouping.label`` (singular,
as at the start of a heading; default ``Site``) and ``grouping.plural`` (default: the label + "s").
Inside a sentence the first letter is lower-cased unless the first word is an abbreviation (``NHS
trust`` stays, ``Education level`` becomes ``education level``). Group values (site names) are always
shown as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GroupingWords", "group_in_sentence", "grouping_words", "in_sentence", "reword", "unknown_groups"]


def in_sentence(text: str) -> str:
    """``text`` inside a sentence: first letter lower-cased unless the first word is an abbreviation.

    >>> in_sentence("Education level"), in_sentence("NHS trusts"), in_sentence("Sites")
    ('education level', 'NHS trusts', 'sites')
    """
    first = text.split(" ", 1)[0]
    if len(first) > 1 and first[:2].isupper():
        return text
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class GroupingWords:
    """``label``/``plural`` as at the start of a heading; ``noun``/``nouns`` inside a sentence."""

    label: str = "Site"
    plural: str = "Sites"

    @property
    def noun(self) -> str:
        return in_sentence(self.label)

    @property
    def nouns(self) -> str:
        return in_sentence(self.plural)


def grouping_words(config) -> GroupingWords:
    """The grouping's words from ``config`` (a config dict or a stage's settings declaring ``grouping``)."""
    g = config.get("grouping") or {}
    label = g.get("label") or "Site"
    plural = g.get("plural") or (label + "s" if g.get("label") else "Sites")
    return GroupingWords(label=label, plural=plural)


def unknown_groups(config) -> str:
    """``grouping.unknown``: ``error`` (default) or ``exclude`` rows whose group value is empty or unknown."""
    return (config.get("grouping") or {}).get("unknown") or "error"


def group_in_sentence(config, group: str) -> str:
    """A respondent group's name inside a sentence: ``groups.<group>.label_in_sentence``, else its
    ``label`` as written (never lower-cased: "Web respondents" stays), else its key with spaces."""
    spec = config["groups"][group]
    return spec.get("label_in_sentence") or spec.get("label") or group.replace("_", " ")


def reword(text: str, config) -> str:
    """``text`` written with the statistics layer's word for the grouping ("site", as in its column
    names, notes and model formulas) in the study's words: site/sites/Site/Sites become the grouping's
    noun/nouns/label/plural. The default's words are "site"/"sites", so its text is unchanged.

    >>> reword("some site x covariate cells are empty; Sites differ", {"grouping": {"label": "School"}})
    'some school x covariate cells are empty; Schools differ'
    """
    w = grouping_words(config)
    words = {"site": w.noun, "sites": w.nouns, "Site": w.label, "Sites": w.plural}
    return re.sub(r"\b(site|sites|Site|Sites)\b", lambda m: words[m.group(1)], text)
