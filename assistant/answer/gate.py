"""Evidence gate, first pass: refuse what no passage can support at all.

Refusing is better than answering from general knowledge. This pass reads the retrieval only: no
passage, a best dense similarity under ``min_dense`` (off-topic), an article or annexe the named
text never mentions (an invented provision), or, when dense search is down, too few of the
question's terms in the best passages. Whether the texts treat the question's subject, know the
texts it cites and support what it takes for granted is the second pass (``scope.py``, in the
chain). The calibration is ``config.GateThresholds`` (``settings.gate``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from math import fsum

from assistant.answer.types import DEGRADED, GateDecision, Hit
from assistant.config import GateThresholds
from assistant.text import ENGLISH_STOP, fold, tokens, words

# Words every in-scope question shares: they prove nothing about coverage.
_GENERIC = """
circulaire doctrine achat achats acheter acheteur acheteuse acheteurs numerique numeriques etat public publique
publics publiques texte textes dit disent dire prevoit prevu quel quelle quels quelles comment faut doit
doivent devons dois pouvons peut peux question questions selon concernant propos sujet regle regles cadre
ministere ministeres administration administrations service services notre nos mon ma mes je nous besoin
exactement precisement expliquer explique expliquez savoir voudrais aimerais souhaite merci bonjour svp
quoi qui ou quand combien pourquoi lequel laquelle cas chose choses general particulier vrai faux oui non
numérique numériques état ministère ministères prévoit prévu prévue règle règles général générale précisément
expliquez expliquer concernant acheteuse acheteurs publique publiques
"""
GENERIC_STEMS = frozenset(tokens(_GENERIC))

_REFERENCE = re.compile(
    r"\b(articles?|art\.|annexes?|annex|alin[ée]a|chapitre|chapter|paragraphe|§)\s*(?:n°\s*)?"
    # « One article I have says… »: the English pronoun is no article number.
    r"(?!I\s+(?:have|had|am|was|read|saw|found|got|think|know|need|want|mean|wrote|heard|see|believe|can|could|would|will|should|must|do|did)\b)((?:[LRD]\.?\s*)?\d+(?:[-.]\d+)*(?:\s*(?:bis|ter))?|[IVX]{1,5}\b|(?-i:[A-Z])\b(?!')|(?-i:[A-Z])(?=\s+(?:of|du|de)\b))",
    re.IGNORECASE,
)
_EN_STOP = ENGLISH_STOP

# Why the gate refused (``GateDecision.reason``); empty when it accepts.
NO_PASSAGE = "no_passage"
MISSING_REFERENCE = "missing_reference"
TERMS_ABSENT = "terms_absent"
LOW_SIMILARITY = "low_similarity"
SUBJECT_NOT_COVERED = "subject_not_covered"
INVENTED_REFERENCE = "invented_reference"
DENIED_REFERENCE = "denied_reference"  # a text the corpus says was not found


def informative_terms(question: str) -> set[str]:
    return {t for t in tokens(question) if t not in GENERIC_STEMS}


def term_overlap(
    question: str, hits: Sequence[Hit], top: int = 3, idf: Callable[[str], float] | None = None
) -> float:
    """Share of the question's informative terms found in the best passages, IDF-weighted when given.

    Terms unknown to the corpus get the highest weight: a question about « drones » or « enrobé »
    is not covered, however well its generic words match.
    """
    terms = informative_terms(question)
    if not terms:
        return 1.0
    seen: set[str] = set()
    for hit in hits[:top]:
        seen |= set(tokens(f"{hit.title} {hit.section} {hit.text}"))
    weight = idf or (lambda _t: 1.0)
    total = fsum(weight(t) for t in terms)
    return fsum(weight(t) for t in terms if t in seen) / total if total else 1.0


def missing_reference(question: str, hits: Sequence[Hit], scope_text: str = "") -> str | None:
    """A cited article/annexe that the scope never mentions (an invented provision).

    The scope is the named text when the question names one (e.g. the whole circular), otherwise
    the retrieved passages; the keyword and the number must appear together (« annexe 7 »).
    """
    text = fold(scope_text or " ".join(f"{h.section} {h.text}" for h in hits))
    for match in _REFERENCE.finditer(question):
        keyword = fold(match.group(1)).rstrip("s").rstrip(".")[:5]
        number = fold(re.sub(r"\s+", " ", match.group(2)).strip())
        core = re.sub(r"^[lrd]\.?\s*", "", number)
        pattern = rf"{re.escape(keyword)}\w*\.?\s*(?:n°\s*)?(?:[lrd]\.?\s*)?{re.escape(core)}(?![0-9a-z])"
        if keyword.startswith("§"):
            pattern = rf"§\s*{re.escape(core)}(?![0-9])"
        if core and not re.search(pattern, text):
            return f"{match.group(1).lower()} {match.group(2)}"
    return None


_FR_STOP = frozenset(
    "le la les l de des du un une et est sont pour que qui quoi dans sur au aux en ne pas nous on il elle ce cette "
    "ces quel quelle quels quelles notre nos votre vos je j d qu c n faut peut doit avec par mais ou comment "
    "combien pourquoi quand".split()
)


def is_english(question: str) -> bool:
    """Mostly English function words, or some and no French one (« Which accessibility standard must
    a ministry's web app meet? »); a French question quoting English terms keeps its French words."""
    ws = words(question)
    english = sum(w in _EN_STOP for w in ws)
    french = sum(w in _FR_STOP and w not in _EN_STOP for w in ws)  # « on » is both
    return len(ws) >= 3 and (english / len(ws) >= 0.25 or (english >= 2 and french == 0))


def decide(
    question: str,
    hits: Sequence[Hit],
    *,
    thresholds: GateThresholds = GateThresholds(),
    idf: Callable[[str], float] | None = None,
    anchored: bool = True,
    scope_text: str = "",
    max_dense: float = 0.0,
) -> GateDecision:
    """Refuse unless the evidence plausibly supports an answer (see module docstring)."""
    if not hits:
        return GateDecision(True, NO_PASSAGE, 0.0, 0.0, None, anchored)
    top_dense = max(h.dense for h in hits)
    if top_dense > DEGRADED:
        top_dense = max(top_dense, max_dense)
    overlap = term_overlap(question, hits, idf=idf)
    reference = missing_reference(question, hits, scope_text)
    t = thresholds

    def verdict(refused: bool, reason: str = "") -> GateDecision:
        return GateDecision(refused, reason, top_dense, overlap, reference, anchored)

    if reference:
        return verdict(True, MISSING_REFERENCE)
    degraded = top_dense <= DEGRADED  # dense search was unavailable: judge on the terms alone
    if degraded:
        return verdict(overlap < t.degraded_overlap, TERMS_ABSENT)
    if top_dense < t.min_dense:
        return verdict(True, LOW_SIMILARITY)
    return verdict(False)
