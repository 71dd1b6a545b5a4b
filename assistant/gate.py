"""Evidence gate: decide whether the retrieved passages can support an answer at all.

Refusing is better than answering from general knowledge. Three signals, thresholds calibrated
on the evaluation cases (evals/README.md): the best dense similarity, the share of the question's
informative terms found in the best passages, and legal references (article, annexe) cited by the
question that appear nowhere in the retrieved text (an invented provision).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from assistant.retrieval import Hit
from assistant.text import fold, tokens, words

# Words every in-scope question shares: they prove nothing about coverage.
_GENERIC = """
circulaire doctrine achat achats acheter acheteur acheteuse acheteurs numerique numeriques etat public publique
publics publiques texte textes dit disent dire prevoit prevu quel quelle quels quelles comment faut faire doit
doivent devons dois pouvons peut peux question questions selon concernant propos sujet regle regles cadre
ministere ministeres administration administrations service services notre nos mon ma mes je nous besoin
exactement precisement expliquer explique expliquez savoir voudrais aimerais souhaite merci bonjour svp
quoi qui ou quand combien pourquoi lequel laquelle cas chose choses general particulier vrai faux oui non
"""
GENERIC_STEMS = frozenset(tokens(_GENERIC))

_REFERENCE = re.compile(
    r"\b(articles?|art\.|annexes?|alin[ée]a|chapitre|paragraphe|§)\s*(?:n°\s*)?"
    r"((?:[LRD]\.?\s*)?\d+(?:[-.]\d+)*(?:\s*(?:bis|ter))?|[IVX]{1,5}\b)",
    re.IGNORECASE,
)
_EN_STOP = frozenset("the what which is are does do of and to for in on with how can should must who when".split())


class GateDecision(NamedTuple):
    refused: bool
    reason: str
    top_dense: float
    overlap: float
    missing_reference: str | None


def informative_terms(question: str) -> set[str]:
    return {t for t in tokens(question) if t not in GENERIC_STEMS}


def term_overlap(question: str, hits: Sequence[Hit], top: int = 3) -> float:
    terms = informative_terms(question)
    if not terms:
        return 1.0
    seen: set[str] = set()
    for hit in hits[:top]:
        seen |= set(tokens(f"{hit.title} {hit.section} {hit.text}"))
    return len(terms & seen) / len(terms)


def missing_reference(question: str, hits: Sequence[Hit]) -> str | None:
    """A cited article/annexe whose number appears in none of the retrieved passages."""
    text = fold(" ".join(f"{h.section} {h.text}" for h in hits))
    for match in _REFERENCE.finditer(question):
        number = fold(re.sub(r"\s+", "", match.group(2)))
        digits = re.sub(r"^[lrd]\.?", "", number)
        if digits and not re.search(rf"(?<![0-9a-z]){re.escape(digits)}(?![0-9])", text.replace(" ", "")
                                    if "." in digits else text):
            return f"{match.group(1).lower()} {match.group(2)}"
    return None


def is_english(question: str) -> bool:
    ws = words(question)
    return len(ws) >= 3 and sum(w in _EN_STOP for w in ws) / len(ws) >= 0.25


def decide(
    question: str, hits: Sequence[Hit], *, min_dense: float, min_overlap: float
) -> GateDecision:
    if not hits:
        return GateDecision(True, "aucun passage", 0.0, 0.0, None)
    top_dense = max(h.dense for h in hits)
    overlap = term_overlap(question, hits)
    reference = missing_reference(question, hits)
    if reference:
        return GateDecision(True, "référence introuvable", top_dense, overlap, reference)
    english = is_english(question)
    if top_dense < min_dense:
        return GateDecision(True, "similarité trop faible", top_dense, overlap, None)
    if overlap < min_overlap and not english:
        return GateDecision(True, "termes de la question absents des passages", top_dense, overlap, None)
    return GateDecision(False, "", top_dense, overlap, None)
