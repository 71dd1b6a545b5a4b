"""Buyers' jargon: acronym/typo expansion of search queries and the domain-anchor vocabulary.

The word lists are data (``knowledge/lexique.yaml``); expansions only widen the search query and
never appear in an answer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import yaml

from assistant.answer.scope import same_word
from assistant.text import fold, tokens


class Lexicon(NamedTuple):
    synonyms: dict[str, str]
    anchors: frozenset[str]
    neighbours: tuple[tuple[str, str], ...] = ()  # (folded word or phrase of a neighbouring field, the field)
    exact: frozenset[str] = frozenset()  # the neighbours' terms matched as written only, not in a close form

    def neighbour_fields(self, text: str) -> list[tuple[str, str]]:
        """The neighbouring fields' words that ``text`` uses, with their field: a phrase as written, a
        single word also in a close form (« imputer » names « on les impute », not « s'assurer »
        « assurance »)."""
        # « 35 000 € HT », « 35,000 euros excl. VAT »: a tax named to qualify an amount is not the subject.
        text = _TAX_QUALIFIER.sub(" ", fold(text))
        words = re.findall(r"[0-9a-z]+", text)
        folded = f" {' '.join(words)} "
        # « Prime Minister »: a word inside a phrase of the domain's own jargon names no other field.
        jargon = [set(p.split()) for p in self.phrases if f" {p} " in folded]

        def uses(term: str, ws: list[str]) -> bool:
            return f" {term} " in f" {' '.join(ws)} " or (
                " " not in term and term not in self.exact and any(close_form(term, w) for w in ws))

        def inside_jargon(term: str) -> bool:
            return any(set(term.split()) <= phrase for phrase in jargon)

        return [(term, field) for term, field in self.neighbours if uses(term, words) and not inside_jargon(term)]

    @property
    def phrases(self) -> tuple[str, ...]:
        """The jargon's phrases of several words, longest first."""
        return tuple(sorted((k for k in self.synonyms if " " in k), key=len, reverse=True))

    def expansions(self, query: str) -> list[str]:
        """The expansions of the jargon ``query`` contains."""
        folded = f" {' '.join(re.findall(r'[0-9a-z]+', fold(query)))} "
        return [exp for key, exp in self.synonyms.items() if f" {key} " in folded]

    def expand(self, query: str) -> str:
        """The query plus the expansions of the jargon it contains."""
        extra = self.expansions(query)
        return f"{query} ({'; '.join(extra)})" if extra else query

    def has_anchor(self, query: str) -> bool:
        return bool(self.anchors & set(tokens(query)))


# The amount's unit: « € », « k€ », « M€ », « 12 M EUR », « 3 million euros », « 2 bn ».
_AMOUNT_UNIT = r"(?:\s*(?:k|m|md|mn|bn|million|millions|milliards?|billion)\b)?\s*(?:€|eur\b|euros?\b)?"
_TAX_QUALIFIER = re.compile(
    r"(?<=[0-9€])" + _AMOUNT_UNIT + r"\s*\(?\s*(?:hors|excl\.?|excluding|incl\.?|including|inclusive of|exclusive of|"
    r"toutes?|before|net of|ex\.?|plus)\s*(?:taxes?|tva|vat)\b\)?"
    r"|(?<=[0-9€])" + _AMOUNT_UNIT + r"\s*\(?\s*(?:ht|ttc|(?:vat|tva|tax)[\s-]*(?:incl|excl|inclusive|exclusive|included|excluded|free)\w*)\b\)?"
)


CLOSE_FORM_RATIO = 0.8  # the shorter of two close forms is at least this share of the longer


def close_form(term: str, word: str) -> bool:
    """An inflection of the field's word (« amortit », « imputer » -> « impute »), not another word of its
    family: « avancé » is not « avancement », « contenté » not « contentieux », « licence » not « licenciement »."""
    return same_word(term, word) and min(len(term), len(word)) >= CLOSE_FORM_RATIO * max(len(term), len(word))


@lru_cache(maxsize=4)
def _load(path: str) -> Lexicon:
    file = Path(path)
    if not file.is_file():
        return Lexicon({}, frozenset())
    data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    synonyms = {" ".join(re.findall(r"[0-9a-z]+", fold(str(k)))): str(v) for k, v in (data.get("synonyms") or {}).items()}
    anchors = frozenset(tokens(str(data.get("anchors") or "")))
    entries = data.get("neighbours") or []
    neighbours = tuple((_folded(term), str(entry["field"])) for entry in entries for term in entry.get("terms") or [])
    exact = frozenset(_folded(term) for entry in entries if entry.get("exact") for term in entry.get("terms") or [])
    return Lexicon(synonyms, anchors, neighbours, exact)


def _folded(term: object) -> str:
    return " ".join(re.findall(r"[0-9a-z]+", fold(str(term))))


def load_lexicon(knowledge_dir: Path) -> Lexicon:
    """The corpus' own lexicon, else the one shipped with the project."""
    from assistant.config import PROJECT_ROOT

    own = knowledge_dir / "lexique.yaml"
    return _load(str(own if own.is_file() else PROJECT_ROOT / "knowledge" / "lexique.yaml"))
