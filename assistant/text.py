"""French text normalisation shared by BM25, the evidence gate and the evaluation metrics.

One tokenizer everywhere means a fact that the metric finds in an answer is a fact that the
lexical index would also match: folding (case, accents), French stopwords, Snowball stemming.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import Stemmer

# English function words: they tell an English question from a French one, and say nothing of its subject.
ENGLISH_STOP = frozenset(
    "the what which is are does do of and to for in on with how can should must who when where why at was were by "
    "from our we us it its this that these those be been has have had would could will an any there their "
    "without about into than if my your you they he she not but also only some other more most such please "
    "need want use using buy choose choosing draft write get".split()
)


_WORD = re.compile(r"[0-9a-z]+")

# A compact French stopword list (folded). Kept here rather than taken from a library so that
# the tokenizer is identical whatever search library is installed (the lexical index gets our tokens).
_STOPWORDS_RAW = """
a afin ai aie aient aies ait alors as au aucun aucune aupres auquel aura aurai auraient aurais
aurait auras aurez auriez aurions aurons auront aussi autre autres aux auxquelles auxquels avaient
avais avait avant avec avez aviez avions avoir avons ayant ayez ayons c ca car ce ceci cela celle
celles celui cependant certain certaine certaines certains ces cet cette ceux chaque chez ci comme
comment d dans de des deja depuis dernier derniere desquelles desquels dessous dessus doit donc dont du
duquel durant e elle elles en encore entre es est et etaient etais etait etant etc ete etes etiez
etions etre eu eue eues eumes eurent eus eusse eussent eusses eussiez eussions eut eutes eux fais
fait faites fut fumes furent fus fusse fussent fusses fussiez fussions fut futes ici il ils j je
jusqu jusque l la laquelle le lequel les lesquelles lesquels leur leurs lors lorsque lui m ma mais
me meme memes mes moi mon n ne ni nos notre nous on ont ou par parce pas peu peut peuvent plus
pour pourquoi puis qu quand que quel quelle quelles quels qui quoi s sa sans se selon ses seul
seule si sien soi soient sois soit sommes son sont sous soyez soyons suis sur t ta te tes toi ton
tous tout toute toutes tres tu un une unes uns vers via voici voila vos votre vous y
est-ce quoi dois doivent faut quelles quels dit disent
"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_RAW.split())

_SENTENCE_END = re.compile(r"(?<=[.!?…;])\s+(?=[«\"(\[A-ZÀ-ÖØ-Þ0-9])")
# Abbreviations after which a period does not end a sentence.
_INITIAL = re.compile(r"(?:^|\s)[A-Z]\.$")  # « article L. 2152-7 », « R. 2122-9 »
_ABBREVIATIONS = ("n°", "art.", "p.", "cf.", "M.", "Mme.", "etc.", "ex.", "al.", "min.", "vol.")


def fold(text: str) -> str:
    """Lowercase and strip accents (``Réversibilité`` -> ``reversibilite``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("œ", "oe")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("french")


def words(text: str) -> list[str]:
    """Folded word tokens, stopwords kept."""
    return _WORD.findall(fold(text))


_RAW_WORD = re.compile(r"[0-9a-zà-öø-ÿœæ]+")


def tokens(text: str) -> list[str]:
    """Stopword-free, stemmed, folded tokens: the unit of lexical matching everywhere.

    Stemming runs on the accented word (the French Snowball stemmer relies on accents:
    « signée » and « signé » both give « sign »), folding comes after.
    """
    return list(_text_tokens(text))


@lru_cache(maxsize=32768)
def _text_tokens(text: str) -> tuple[str, ...]:
    # The same passages and questions are tokenized over and over (gate, generator, metrics).
    out = (_word_token(raw) for raw in _RAW_WORD.findall(text.lower().replace("œ", "oe")))
    return tuple(t for t in out if t)


@lru_cache(maxsize=131072)
def _word_token(raw: str) -> str:
    """The token of one lowercased word, or "" for a stopword or a lone letter."""
    folded = fold(raw)
    if folded in STOPWORDS or (len(folded) < 2 and not folded.isdigit()):
        return ""
    return fold(_stemmer().stemWord(raw))


def split_sentences(text: str) -> list[str]:
    """Split French prose into sentences, keeping abbreviations such as ``n°`` or ``art.`` intact."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    parts = _SENTENCE_END.split(text)
    merged: list[str] = []
    for part in parts:
        if merged and (merged[-1].endswith(_ABBREVIATIONS) or _INITIAL.search(merged[-1])):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [p.strip() for p in merged if p.strip()]


def clean_control_chars(text: str) -> str:
    """Drop control characters (keeps newlines and tabs) that break terminals, JSON and HTML."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


_ACCENTED_WORD = re.compile(r"[a-zà-öø-ÿœæ]+")


def accent_map(texts: Iterable[str]) -> dict[str, str]:
    """Folded spelling -> the accented spelling the corpus uses most (« publiee » -> « publiée »).

    Buyers often type without accents; the French stemmer needs them (« publiee » and « publiee »
    stem differently from « publiée »), so a query is re-accented from the corpus' own vocabulary
    before matching. A word the corpus also writes without accents (« a », « des », « calcule ») is
    left alone: it is a word of its own, not a missing accent.
    """
    counts: dict[str, dict[str, int]] = {}
    plain: set[str] = set()
    for text in texts:
        for word in _ACCENTED_WORD.findall(text.lower()):
            folded = fold(word)
            if folded == word:
                plain.add(word)
            else:
                forms = counts.setdefault(folded, {})
                forms[word] = forms.get(word, 0) + 1
    return {folded: max(forms, key=lambda w: (forms[w], w)) for folded, forms in counts.items() if folded not in plain}


def reaccent(text: str, mapping: dict[str, str]) -> str:
    """Words typed without accents get the corpus' accented spelling; other words are kept."""
    if not mapping:
        return text

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower != fold(lower) or lower not in mapping:
            return word
        accented = mapping[lower]
        return accented.capitalize() if word[:1].isupper() else accented

    return re.sub(r"[^\W\d_]+", fix, text)  # whole words: « démarche » is not « d » + « marche »
