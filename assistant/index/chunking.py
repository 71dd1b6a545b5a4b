"""Heading-aware chunking into small passages.

Dense retrieval with USE degrades fast past ~400 characters (offline-stack.md), so we index
passages of 1-3 sentences on sentence boundaries, each linked to its parent section, which is
what the user reads. List items are units of their own so a list is never cut mid-item.
"""

from __future__ import annotations

import hashlib
import re
from typing import NamedTuple

from assistant.index.documents import SourceDocument
from assistant.text import split_sentences

CHUNKING_VERSION = "5"

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
# A sentence opening on a demonstrative refers to the one before it.
_LEANS_BACK = re.compile(r"(?:Ce|Cet|Cette|Ces|Cela|Ceci|Celui-ci|Celle-ci|Ceux-ci|Celles-ci)\b")


class Unit(NamedTuple):
    text: str
    is_list: bool


class Passage(NamedTuple):
    chunk_id: str
    doc_id: str
    section_id: str
    section: str
    text: str
    position: int
    is_list: bool


class SectionRecord(NamedTuple):
    section_id: str
    doc_id: str
    section: str
    text: str


def _wrap(text: str, max_chars: int) -> list[str]:
    """Cut an over-long sentence at clause then word boundaries."""
    if len(text) <= max_chars:
        return [text]
    pieces: list[str] = []
    current = ""
    for token in re.split(r"(?<=[,;:])\s+|\s+", text):
        candidate = f"{current} {token}".strip()
        if current and len(candidate) > max_chars:
            pieces.append(current)
            current = token
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces


def section_units(text: str, max_chars: int, keep_leaning: bool = False) -> list[Unit]:
    """Sentences and list items of a section, in order; with ``keep_leaning``, a sentence that refers
    to the one before it (« Ce rappel n'est rapporté que par… ») stays with it, as an answer quotes
    it (the index keeps its short passages)."""
    units: list[Unit] = []
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        buffer: list[str] = []
        for line in lines:
            if _LIST_ITEM.match(line):
                _flush_prose(buffer, units, max_chars, keep_leaning)
                item = re.sub(r"\s+", " ", line.strip())
                units.extend(Unit(piece, True) for piece in _wrap(item, max_chars))
            elif units and units[-1].is_list and line.startswith(("  ", "\t")):
                last = units.pop()
                units.append(Unit(f"{last.text} {line.strip()}", True))
            else:
                buffer.append(line.strip())
        _flush_prose(buffer, units, max_chars, keep_leaning)
    return units


def _flush_prose(buffer: list[str], units: list[Unit], max_chars: int, keep_leaning: bool) -> None:
    if buffer:
        sentences: list[str] = []
        for sentence in split_sentences(" ".join(buffer)):
            # « Ce rappel n'est rapporté que par ce commentaire. » says nothing without the sentence
            # before it: a caveat or a gloss never travels alone.
            if keep_leaning and sentences and _LEANS_BACK.match(sentence) and len(sentences[-1]) + len(sentence) < max_chars:
                sentences[-1] = f"{sentences[-1]} {sentence}"
            else:
                sentences.append(sentence)
        for sentence in sentences:
            units.extend(Unit(piece, False) for piece in _wrap(sentence, max_chars))
        buffer.clear()


def list_run(units: list[Unit], index: int, max_items: int | None = None) -> tuple[int, int] | None:
    """The list around ``units[index]`` (a list item, or a lead-in ending with ':') with its lead-in.

    Returns (first, last) unit indexes; ``(index, index)`` for plain prose; None when a lead-in has
    no list after it or when the list is longer than ``max_items``.
    """
    unit = units[index]
    if not unit.is_list and not unit.text.endswith(":"):
        return index, index
    lo = hi = index
    if not unit.is_list:
        if index + 1 >= len(units) or not units[index + 1].is_list:
            return None
        hi = index + 1
    while lo > 0 and units[lo].is_list and units[lo - 1].is_list:
        lo -= 1
    if units[lo].is_list and lo > 0 and units[lo - 1].text.endswith(":"):
        lo -= 1
    while hi + 1 < len(units) and units[hi + 1].is_list:
        hi += 1
    if max_items is not None and hi - lo > max_items:
        return None
    return lo, hi


def _pack(units: list[Unit], max_chars: int, max_sentences: int) -> list[list[Unit]]:
    """Greedy windows of consecutive units, one unit of overlap between windows."""
    windows: list[list[Unit]] = []
    start = 0
    while start < len(units):
        window = [units[start]]
        size = len(units[start].text)
        end = start + 1
        # List items are short: a window may hold more of them so a list stays in one passage.
        while (
            end < len(units)
            and len(window) < (max_sentences * 3 if units[end].is_list else max_sentences)
            and size + 1 + len(units[end].text) <= max_chars
        ):
            window.append(units[end])
            size += 1 + len(units[end].text)
            end += 1
        windows.append(window)
        if end >= len(units):
            break
        start = end - 1 if len(window) > 1 else end
    return windows


def _join(units: list[Unit]) -> str:
    """Units back to text; line breaks around list items so the text re-splits into the same units."""
    text = ""
    previous: Unit | None = None
    for unit in units:
        if previous is None:
            text = unit.text
        else:
            newline = unit.is_list or previous.is_list or previous.text.endswith(":")
            text = f"{text}{chr(10) if newline else ' '}{unit.text}"
        previous = unit
    return text


def chunk_document(
    doc: SourceDocument, max_chars: int = 400, max_sentences: int = 3
) -> tuple[list[Passage], list[SectionRecord]]:
    passages: list[Passage] = []
    sections: list[SectionRecord] = []
    seen: dict[str, int] = {}
    position = 0
    for n, section in enumerate(doc.sections):
        section_id = f"{doc.doc_id}#s{n}"
        label = section.label or doc.title
        sections.append(SectionRecord(section_id, doc.doc_id, label, section.text))
        for window in _pack(section_units(section.text, max_chars), max_chars, max_sentences):
            text = _join(window)
            digest = hashlib.sha256(f"{CHUNKING_VERSION}\0{label}\0{text}".encode()).hexdigest()[:16]
            count = seen.get(digest, 0)
            seen[digest] = count + 1
            chunk_id = f"{doc.doc_id}:{digest}" + (f"-{count}" if count else "")
            passages.append(
                Passage(chunk_id, doc.doc_id, section_id, label, text, position, window[0].is_list)
            )
            position += 1
    return passages, sections


def dense_text(passage: Passage) -> str:
    """What the embedding model sees: the closest heading gives a short passage its topic."""
    heading = passage.section.rsplit(" > ", 1)[-1]
    return f"{heading} : {passage.text}"


def lexical_text(passage: Passage, title: str) -> str:
    """What BM25 sees: title and full heading path add the words a buyer searches with."""
    return f"{title} {passage.section} {passage.text}"
