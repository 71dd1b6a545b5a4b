"""Misspelt words read as the corpus word they stand for (« numerik » -> « numérique »).

A buyer's typo is a word the corpus never uses, and the scope check weighs such words the most: a
question on « objectifs doctrine achat numerik » was refused for « numerik ». A word the corpus does
not use, typed in lower case, is respelt when exactly one corpus word sounds the same (a rough French
phonetic key) or, for a long word, is one letter away (one too many or missing, two swapped). Names
(capitalised words), forms of a corpus word (same stem), French words (``prompts/mots-francais.txt``)
and words with digits are left as typed: they are the buyer's own, not typos.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from assistant.text import fold, tokens

MIN_LENGTH = 6  # shorter words have too many neighbours to guess from
EDIT_MIN_LENGTH = 7  # one keystroke away: only long words

_WORD = re.compile(r"(?<![\w'’-])[^\W\d_]+(?![\w-])")
_SOUNDS = (
    (re.compile(r"ph"), "f"), (re.compile(r"qu|ck|q"), "k"), (re.compile(r"c(?=[aoukrlt])"), "k"),
    (re.compile(r"c(?=[eiy])"), "s"), (re.compile(r"y"), "i"), (re.compile(r"z"), "s"),
    (re.compile(r"(?<=[aeiou])s(?=[aeiou])"), "z"), (re.compile(r"eau|au"), "o"), (re.compile(r"h"), ""),
    (re.compile(r"(.)\1+"), r"\1"), (re.compile(r"(?:e|es|s|x|t|ts|d)$"), ""),
)


def phonetic_key(word: str) -> str:
    """A rough French sound key of a folded word (« numerique », « numerik » -> « numerik »)."""
    key = word
    for pattern, repl in _SOUNDS:
        key = pattern.sub(repl, key)
    return key


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


class Speller(NamedTuple):
    words: dict[str, str]  # folded corpus word -> its most used written form
    by_sound: dict[str, str | None]  # phonetic key -> the corpus word (None: several words share it)
    by_deletion: dict[str, str | None]  # a long corpus word less one letter -> the word (None: ambiguous)
    stems: frozenset[str]  # a word whose stem the corpus uses is a form of a corpus word, not a typo


def build_speller(texts: Iterable[str]) -> Speller:
    counts: dict[str, dict[str, int]] = {}
    stems: set[str] = set()
    for text in texts:
        stems.update(tokens(text))
        for word in _WORD.findall(text):
            if word[:1].isupper() and not word.istitle():
                continue  # acronyms are names, not spellings to copy
            lower = word.lower()
            forms = counts.setdefault(fold(lower), {})
            forms[lower] = forms.get(lower, 0) + 1
    words = {folded: max(forms, key=lambda w: (forms[w], w)) for folded, forms in counts.items()}
    by_sound: dict[str, str | None] = {}
    by_deletion: dict[str, str | None] = {}
    frequency = {folded: sum(forms.values()) for folded, forms in counts.items()}
    for folded in sorted(words, key=lambda w: (-frequency[w], w)):
        if len(folded) >= MIN_LENGTH:
            # « numerique » and « numeriques » sound alike: one word, the most used form stands for it.
            key, other = phonetic_key(folded), by_sound.get(phonetic_key(folded), folded)
            by_sound[key] = other if other is not None and tokens(other) == tokens(folded) else None
        if len(folded) >= EDIT_MIN_LENGTH:
            for shorter in _deletions(folded) | {folded}:
                by_deletion[shorter] = folded if by_deletion.get(shorter, folded) == folded else None
    return Speller(words, by_sound, by_deletion, frozenset(stems))


def correction(word: str, speller: Speller, known: frozenset[str] = frozenset()) -> str | None:
    """The corpus word a misspelt ``word`` stands for, or None when it is a word of its own."""
    folded = fold(word.lower())
    if (len(folded) < MIN_LENGTH or not word.islower() or folded in speller.words or folded in known
            or any(t in speller.stems for t in tokens(word))):
        return None
    found = speller.by_sound.get(phonetic_key(folded))
    if found is None and len(folded) >= EDIT_MIN_LENGTH:
        # A letter too many or missing, or two letters swapped; not a letter replaced by another
        # (« dépense » is a word of its own, not « défense »).
        swaps = {folded[:i] + folded[i + 1] + folded[i] + folded[i + 2:] for i in range(len(folded) - 1)}
        candidates = ({speller.by_deletion.get(v) for v in _deletions(folded)} | {speller.by_deletion.get(folded)}
                      | {w for v in swaps if (w := speller.by_deletion.get(v)) == v}) - {None}
        candidates = {w for w in candidates if len(w) != len(folded) or w in swaps}
        if len(candidates) == 1:
            found = candidates.pop()
    if found is None or found[:1] != folded[:1]:
        return None
    return speller.words[found]


def respell(text: str, speller: Speller, known: frozenset[str] = frozenset()) -> str:
    """``text`` with each misspelt word replaced by the corpus word it stands for."""
    return _WORD.sub(lambda m: correction(m.group(0), speller, known) or m.group(0), text)
