"""Follow-up questions: make them standalone before retrieval (offline heuristics; the chain may ask
the LLM instead when one is configured)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.types import Turn
from assistant.text import tokens

_ELLIPTIC_START = re.compile(
    r"^\s*(et|mais|aussi|pareil|idem|dans ce cas|alors|ensuite|puis|sinon|et si|et pour|et en|et quand|"
    r"et qu|et la|et le|et les|qu'en est-il|quid|and|what about|how about|so)\b",
    re.IGNORECASE,
)
ELLIPTIC_MAX_WORDS = 3  # content words: « et le délai ? »
_ANAPHORA = re.compile(
    r"(?<![-\w])(il|elle|ils|elles|celui-ci|celle-ci|ce texte|cette circulaire|ce dispositif|dedans|"
    r"l'a|la signe|le signe|en vigueur|it|its|they|them|this one|that one|"
    r"(?:does|do|is|would|will|can|could|should) (?:that|this)|that (?:also|still|too)|same (?:rule|thing))(?![-\w])",
    re.IGNORECASE,
)
# An object pronoun before a verb points at what was said before (« on est obligé de le respecter »,
# « je la mets où ? », « il faut les signaler ») ; « de le », « de les » are never articles.
_OBJECT_PRONOUN = re.compile(
    r"(?<![-\w])(?:(?:on|je|j'|il|elle|ils|elles|nous|vous|ne|n')\s+(?:le|la|les|l'|lui|leur)\s*[a-zàâçéèêëîïôûù]{2,}"
    r"|de\s+(?:le|les)\s+[a-zàâçéèêëîïôûù]{3,}"
    r"|(?:peut|peux|doit|dois|faut|veut|veux|va|vais)\s+(?:le|la|les|l'|lui|leur)\s*[a-zàâçéèêëîïôûù]{2,}(?:er|ir|re|oir))(?![-\w])",
    re.IGNORECASE,
)
# Words that point at what was said before: demonstratives (« ça », « ce référentiel »), « c'est »,
# « aussi », « même » as in « même pour… », « lui-même ». « Ce que », « ce qui » do not.
_DEIXIS = re.compile(
    r"(?<![-\w])(ça|ca|cela|c'est|c'était|aussi|même pour|même si|même quand|même chose|lui[- ]m[êe]me|"
    r"eux[- ]m[êe]mes|(?:ce|cet|cette|ces)\s+(?!que\b|qui\b|qu'|dont\b|sont\b)\w+)(?![-\w])",
    re.IGNORECASE,
)


# A subject pronoun that stands for something named before (« Sur quelle base elle est calculée ? »);
# « il faut », « il y a », « il s'agit » are impersonal, and « la CNIL attend-elle » names its subject.
_SUBJECT_PRONOUN = re.compile(
    r"(?<![-\w'])(?:elles?|ils|il(?!\s+(?:faut|fallait|faudra|y|s'agit|existe|convient|suffit|reste|semble|para[iî]t)\b))"
    r"(?![-\w'])|(?<![-\w])(?:ça|ca|cela|celui-ci|celle-ci)(?![-\w])",
    re.IGNORECASE,
)


def refers_back(text: str) -> bool:
    """Whether a question leans on what was named before it (a pronoun subject or object)."""
    return bool(_SUBJECT_PRONOUN.search(text) or _OBJECT_PRONOUN.search(text))


def history_text(history: Sequence[Turn], user: str = "Acheteur", assistant: str = "Assistant") -> str:
    """The conversation as the LLM's condensation prompt shows it (each turn cut at 600 characters)."""
    return "\n".join(
        f"{user if t.get('role') == 'user' else assistant} : {t.get('content', '')[:600]}"
        for t in history
    )


def heuristic_condense(question: str, history: Sequence[Turn]) -> str:
    """Offline condensation: an elliptic follow-up inherits the topic of the previous question."""
    previous = [t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")]
    if not previous:
        return question
    elliptic = (
        bool(_ELLIPTIC_START.match(question))
        or len(tokens(question)) <= ELLIPTIC_MAX_WORDS
        or bool(_ANAPHORA.search(question))
        or bool(_DEIXIS.search(question))
        or bool(_OBJECT_PRONOUN.search(question))
    )
    if not elliptic:
        return question
    stripped = _ELLIPTIC_START.sub("", question).strip(" ,?") or question
    return f"{stripped} — {previous[-1].strip()}"


def text_names(history: Sequence[Turn]) -> str:
    """Names of texts (acronyms, « circulaire », « loi »...) in the last user turn."""
    previous = next((t.get("content", "") for t in reversed(history) if t.get("role") == "user"), "")
    keep = re.findall(r"\b(?:circulaire|doctrine|loi|règlement|code|[A-Z][\w-]*[A-Z0-9][\w-]*|\d[\w/-]*)\b", previous)
    return " ".join(dict.fromkeys(keep))
