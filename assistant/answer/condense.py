"""Follow-up questions: make them standalone before retrieval (offline heuristics; the chain may ask
the LLM instead when one is configured)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.answer.types import Turn
from assistant.text import tokens

_ELLIPTIC_START = re.compile(
    r"^\s*(et|mais|aussi|pareil|idem|dans ce cas|alors|ensuite|puis|sinon|et si|et pour|et en|et quand|"
    r"et qu|et la|et le|et les|qu'en est-il|quid|and|what about|how about|so|even|also|only|just|what if|but if|"
    r"in that case|then)\b",
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
    # « ok », « merci », « Good. » carry no topic: the topic is that of the last turn that had one.
    previous = [text for text in previous if "?" in text or len(tokens(text)) >= 3] or previous
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


# « la 3e, c'est permis quand ? », « Pour la deuxième, il y a… », « the last one »: an item of a list the
# assistant just gave, pointed at by its rank. The rank stands alone (punctuation, a pronoun or a list noun
# follows), so « le premier ministre » or « la deuxième version du référentiel » are not ranks.
_RANKS = {
    "premier": 1, "première": 1, "premiere": 1, "1er": 1, "1re": 1, "1ère": 1, "first": 1,
    "deuxième": 2, "deuxieme": 2, "2e": 2, "2ème": 2, "2eme": 2, "2nde": 2, "seconde": 2, "second": 2,
    "troisième": 3, "troisieme": 3, "3e": 3, "3ème": 3, "3eme": 3, "third": 3,
    "quatrième": 4, "quatrieme": 4, "4e": 4, "4ème": 4, "fourth": 4,
    "cinquième": 5, "cinquieme": 5, "5e": 5, "5ème": 5, "fifth": 5,
    "dernier": -1, "dernière": -1, "derniere": -1, "last": -1,
}
_LIST_NOUN = r"(?:one|option|voie|étape|etape|piste|point|item|axe|élément|element|solution|step|route|choix)"
_RANK_REF = re.compile(
    r"(?<![-\w])(?:le|la|l'|the)\s*(" + "|".join(sorted(map(re.escape, _RANKS), key=len, reverse=True)) + r")"
    r"(?:\s+" + _LIST_NOUN + r"(?![-\w])|(?=\s*(?:[,:;?!.)]|$|\s+(?:c'est|ça|ca|elle|il|is|does|do|can|has)\b)))",
    re.IGNORECASE,
)
_COUNT = {"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "two": 2, "three": 3, "four": 4, "five": 5}
_LEADING_LINK = re.compile(r"^(?:et|ou bien|ou|puis|enfin|and|or|then|finally)\s+", re.IGNORECASE)
_MARKER = re.compile(r"^\s*(?:[-*•]|\d{1,2}\s*[).])\s+")
_INLINE_NUMBER = re.compile(r"(?:^|(?<=[\s;:,.]))\(?\d{1,2}\s?[)]\s+")


def _masked(text: str) -> str:
    """The text with separators inside parentheses blanked, so « (interne ou achetée) » is one item."""
    out, depth = [], 0
    for char in text:
        depth += char == "("
        out.append("\0" if depth and char in ",;" else char)
        depth -= char == ")" and depth > 0
    return "".join(out)


def list_items(text: str) -> list[str]:
    """The items of the list an answer gives: bullet or numbered lines, an inline « 1) … ; 2) … », or an
    enumeration after a colon (« Trois ministres : A, B et C »)."""
    lines = [line for line in text.splitlines() if _MARKER.match(line)]
    if len(lines) >= 2:
        return [re.sub(r"[*_`]+", "", _MARKER.sub("", line)).strip(" .;") for line in lines]
    numbered = _INLINE_NUMBER.split(text)
    if len(numbered) >= 3:
        return [item.strip(" ;,.") for item in numbered[1:] if item.strip(" ;,.")]
    sentence = next((s for s in re.split(r"(?<=[.!?])\s+", text) if "," in s or ";" in s), "")
    head, colon, body = _masked(sentence).partition(":")
    if not colon:
        head, body = "", head
    pieces = [p for p in re.split(r"\s*;\s*" if ";" in body else r"\s*,\s*", body.strip().rstrip(".")) if p]
    wanted = next((_COUNT[w] for w in re.findall(r"\w+", head.lower()) if w in _COUNT), 0)
    if pieces and len(pieces) < wanted:
        last = re.split(r"\s+(?:et|ou|and|or)\s+", pieces[-1])
        pieces = pieces[:-1] + last if len(pieces) - 1 + len(last) <= wanted else pieces
    if len(pieces) == 2 and not wanted and not _LEADING_LINK.match(pieces[1]):
        return []  # « La v3.2, datée de mars 2022 »: an apposition, not two items
    items = [_LEADING_LINK.sub("", p.replace("\0", ",")).strip() for p in pieces]
    return items if len(items) >= 2 else []


def resolve_rank(question: str, history: Sequence[Turn]) -> str:
    """« la 3e, c'est permis quand ? » after a numbered answer becomes « développement sur mesure…, c'est
    permis quand ? »: the rank is replaced by the item of the latest list the assistant gave."""
    match = _RANK_REF.search(question)
    if not match:
        return question
    rank = _RANKS[match.group(1).lower()]
    for turn in reversed(history):
        if turn.get("role") != "assistant":
            continue
        items = list_items(turn.get("content", ""))
        if items and rank <= len(items):
            item = items[rank - 1 if rank > 0 else -1]
            return f"{question[:match.start()]}{item}{question[match.end():]}"
    return question
