"""Claims of an added file that the official corpus contradicts.

Anyone can add a file to the shared corpus. An answer already says when a sentence comes from an
added file; this goes further for figures: when an added file states a figure (a percentage, an
amount, a duration) on a topic that an official section also gives a figure for, and the two
differ, the answer carries a warning naming both. The official corpus is searched for the added
sentence itself; the topic must match (most of the sentence's words in the official section).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from assistant.answer.types import Citation, Filters, Hit
from assistant.text import tokens

_FIGURE = re.compile(
    r"(\d+(?:[  .,]\d+)*)\s*(%|pour ?cent|€|euros?|k€|M€|millions?|milliards?|jours?|mois|ans|années|heures?|points?)",
    re.IGNORECASE,
)
_UNIT = {"pour cent": "%", "pourcent": "%", "euro": "€", "euros": "€", "jour": "jours", "année": "ans",
         "années": "ans", "heure": "heures", "point": "points"}


class Conflict(NamedTuple):
    citation: Citation  # the added file's sentence
    official: Hit  # the official passage that gives another figure
    added_figures: tuple[str, ...]
    official_figures: tuple[str, ...]


def figures(text: str) -> dict[str, set[str]]:
    """Unit -> figures (« 30 % » -> {"%": {"30"}}), spaces and separators removed."""
    out: dict[str, set[str]] = {}
    for number, unit in _FIGURE.findall(text):
        key = _UNIT.get(unit.lower(), unit.lower())
        out.setdefault(key, set()).add(re.sub(r"[  .]", "", number).replace(",", "."))
    return out


def conflicts(
    citations: Sequence[Citation], search: Callable[[str, int, Filters], Sequence[Hit]], topic_share: float = 0.5,
) -> list[Conflict]:
    """Added-file citations whose figures an official passage on the same topic contradicts."""
    found: list[Conflict] = []
    for c in citations:
        if c.origin == "knowledge":
            continue
        mine = figures(c.quote)
        if not mine:
            continue
        words = set(tokens(re.sub(r"\d", " ", c.quote)))
        for hit in search(c.quote, 5, Filters(official_only=True)):
            theirs = figures(hit.text)
            shared_units = [u for u in mine if u in theirs]
            if not shared_units or not words:
                continue
            about = len(words & set(tokens(f"{hit.section} {hit.text}"))) / len(words)
            if about < topic_share:
                continue
            if any(not (mine[u] & theirs[u]) for u in shared_units):
                found.append(Conflict(
                    c, hit, tuple(f"{n} {u}" for u in shared_units for n in sorted(mine[u])),
                    tuple(f"{n} {u}" for u in shared_units for n in sorted(theirs[u])),
                ))
                break
    return found
