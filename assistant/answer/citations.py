"""Citations and their verification: every ``[n]`` must point to a real source and every quote
must appear verbatim (whitespace aside) in the passage it cites."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from assistant.answer.types import Citation
from assistant.wording import Wording, load_wording

_MARKER = re.compile(r"\[(\d{1,3})\]")
# Quoted spans in generated text: « ... » or "..." (at least a few words, to skip titles).
_QUOTED = re.compile(r"«\s*([^«»]{12,}?)\s*»|“([^”]{12,}?)”|\"([^\"]{12,}?)\"")


SHORT_QUOTE_WORDS = 4  # an unmarked quoted span this short is a name or a term, not a quotation


class CheckResult(NamedTuple):
    text: str
    citations: list[Citation]
    problems: list[str]


def squash(text: str) -> str:
    """Whitespace-normalised form used for verbatim comparison."""
    return re.sub(r"\s+", " ", text).strip()


def quote_in_passage(quote: str, passage: str) -> bool:
    q = squash(quote)
    return bool(q) and q in squash(passage)


def markers(text: str) -> list[int]:
    return [int(m) for m in _MARKER.findall(text)]


def check_answer(
    text: str, sources: Sequence[Citation], wording: Wording | None = None, echo: str = "",
) -> CheckResult:
    """Drop markers that point nowhere, flag quotes not found in the cited source.

    ``echo`` is what the user wrote: a quoted span repeating their own words (a refusal naming the
    reference they asked about, a draft quoting their object) is theirs, not a citation.
    Returns the cleaned text, the citations actually used (numbering kept), and the problems found
    (in French, for the notice shown to the user).
    """
    wording = wording or load_wording()
    by_n = {c.n: c for c in sources}
    problems: list[str] = []
    bad = sorted({n for n in markers(text) if n not in by_n})
    if bad:
        problems.append(wording.text("answer.marker_removed", markers=", ".join(f"[{n}]" for n in bad)))
        text = _MARKER.sub(lambda m: "" if int(m.group(1)) in bad else m.group(0), text)
        text = re.sub(r"[ \t]+([.,;:])", r"\1", text)
    echoed = squash(echo).lower()
    for match in _QUOTED.finditer(text):
        quote = next(g for g in match.groups() if g)
        if echoed and squash(quote).lower() in echoed:
            continue
        tail = text[match.end() : match.end() + 12]
        cited = [int(m) for m in _MARKER.findall(tail)]
        if not cited and len(quote.split()) <= SHORT_QUOTE_WORDS:
            continue  # « cloud au centre », « sur étagère »: a name in French quotation marks, not a citation
        pool = [by_n[n] for n in cited if n in by_n] or list(sources)
        if not any(quote_in_passage(quote, c.passage or c.quote) for c in pool):
            problems.append(wording.text("answer.quote_not_found", quote=quote[:80]))
            text = text.replace(match.group(0), f"{match.group(0)} {wording.text('answer.quote_unverified')}", 1)
    used = sorted(set(markers(text)))
    citations = [by_n[n] for n in used if n in by_n]
    return CheckResult(text, citations, problems)


def verify_citations(citations: Sequence[Citation], wording: Wording | None = None) -> list[str]:
    """Problems with quotes that are not verbatim in their own passage (should be none)."""
    wording = wording or load_wording()
    return [
        wording.text("answer.quote_not_in_passage", n=c.n, chunk_id=c.chunk_id)
        for c in citations
        if c.passage and not quote_in_passage(c.quote, c.passage)
    ]
