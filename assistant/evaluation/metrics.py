"""Offline evaluation metrics: pure functions over ids, strings and numbers (no model, no LLM).

Definitions (also in evals/README.md):

* Retrieval is scored at document level: the retrieved passages (10) are turned into a document
  ranking by first appearance; ``hit@k`` = 1 if an expected document is among the first k
  documents, ``recall@k`` = share of expected documents there, ``MRR@10`` = 1 / rank of the first
  expected document (0 if none in 10), ``nDCG@10`` with binary relevance. Cases without expected
  sources are not scored (``None``).
* A fact is a string of alternatives separated by `` | ``, matched on tokens (``assistant.text.tokens``:
  case and accent folding, French stopwords removed, Snowball stemming) in any order. An answer
  token matches a fact token when they are equal or are derivations of one word (a common prefix of
  at least 6 letters, the shorter stem missing at most its last letter: « réversible » /
  « réversibilité », « souverain » / « souveraineté », but not « public » / « publicité »). An
  alternative is found when every number in it is in the answer and its words are there: all of
  them up to three words, three quarters beyond (reasonable rewording of a longer phrase). An
  alternative made only of stopwords (« non ») is matched on folded words instead; one with no
  word at all (« % ») never matches. Fact coverage = share of facts with one alternative found.
* Citation validity: a citation is valid when its document exists in the index and its quote is a
  verbatim (whitespace-normalised) substring of its passage.
* Refusals: positive class = refused; precision and recall are ``None`` when undefined (0/0).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from assistant.answer.citations import quote_in_passage
from assistant.text import tokens, words

RETRIEVAL_DEPTH = 10
FACT_SEPARATOR = "|"


# ---------------------------------------------------------------- retrieval


def doc_ranking(passage_doc_ids: Iterable[str]) -> list[str]:
    """Documents in order of first appearance in a passage ranking."""
    return list(dict.fromkeys(d for d in passage_doc_ids if d))


def hit_at_k(ranking: Sequence[str], expected: Iterable[str], k: int) -> float | None:
    wanted = set(expected)
    if not wanted:
        return None
    return 1.0 if wanted & set(ranking[:k]) else 0.0


def recall_at_k(ranking: Sequence[str], expected: Iterable[str], k: int) -> float | None:
    wanted = set(expected)
    if not wanted:
        return None
    return len(wanted & set(ranking[:k])) / len(wanted)


def mrr_at_k(ranking: Sequence[str], expected: Iterable[str], k: int = RETRIEVAL_DEPTH) -> float | None:
    wanted = set(expected)
    if not wanted:
        return None
    for rank, doc in enumerate(ranking[:k], start=1):
        if doc in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranking: Sequence[str], expected: Iterable[str], k: int = RETRIEVAL_DEPTH) -> float | None:
    """Binary-relevance nDCG: every expected document is equally relevant."""
    wanted = set(expected)
    if not wanted:
        return None
    dcg = sum(1.0 / math.log2(rank + 1) for rank, doc in enumerate(ranking[:k], start=1) if doc in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return dcg / ideal


def retrieval_scores(ranking: Sequence[str], expected: Sequence[str]) -> dict[str, float | None]:
    """All retrieval metrics of one case (``hit@1..10`` feed the hit@k curve)."""
    scores: dict[str, float | None] = {f"hit@{k}": hit_at_k(ranking, expected, k) for k in range(1, 11)}
    scores |= {
        "recall@5": recall_at_k(ranking, expected, 5),
        "recall@10": recall_at_k(ranking, expected, 10),
        "mrr@10": mrr_at_k(ranking, expected, 10),
        "ndcg@10": ndcg_at_k(ranking, expected, 10),
    }
    return scores


# ---------------------------------------------------------------- facts


class AnswerTerms(NamedTuple):
    """What facts are matched against: stemmed content tokens, and folded words for stopword-only facts."""

    tokens: frozenset[str]
    words: frozenset[str]


def answer_terms(answer: str) -> AnswerTerms:
    return AnswerTerms(frozenset(tokens(answer)), frozenset(words(answer)))


def fact_alternatives(fact: str) -> list[str]:
    return [alt.strip() for alt in fact.split(FACT_SEPARATOR) if alt.strip()]


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 6 and common >= min(len(a), len(b)) - 1


def _token_in(token: str, answer: frozenset[str]) -> bool:
    if token in answer:
        return True
    if any(ch.isdigit() for ch in token):
        return False
    return any(_same_word(token, other) for other in answer)


def alternative_found(alternative: str, terms: AnswerTerms) -> bool:
    needed = list(dict.fromkeys(tokens(alternative)))
    if needed:
        numbers = [t for t in needed if any(ch.isdigit() for ch in t)]
        plain = [t for t in needed if t not in numbers]
        if not all(t in terms.tokens for t in numbers):
            return False
        hits = sum(1 for t in plain if _token_in(t, terms.tokens))
        required = len(plain) if len(plain) <= 3 else math.ceil(len(plain) * 3 / 4)
        return hits >= required
    plain_words = set(words(alternative))
    return bool(plain_words) and plain_words <= terms.words


def fact_found(fact: str, terms: AnswerTerms) -> bool:
    return any(alternative_found(alt, terms) for alt in fact_alternatives(fact))


def facts_found(facts: Sequence[str], answer: str) -> list[bool]:
    terms = answer_terms(answer)
    return [fact_found(f, terms) for f in facts]


def lead(answer: str) -> str:
    """The part of an answer a reader sees first: its first paragraph (up to the first blank line),
    where the answer-style wants the direct answer (answer-style.md: « la réponse d'abord »)."""
    return re.split(r"\n\s*\n", answer.strip(), maxsplit=1)[0]


def fact_coverage(facts: Sequence[str], answer: str) -> float | None:
    """Share of expected facts found in the answer; ``None`` when no fact is expected."""
    if not facts:
        return None
    found = facts_found(facts, answer)
    return sum(found) / len(found)


# ---------------------------------------------------------------- citations


class CitationCheck(NamedTuple):
    valid: bool
    problem: str | None


def check_citation(doc_id: str, quote: str, passage: str, index_doc_ids: set[str] | frozenset[str]) -> CitationCheck:
    if doc_id not in index_doc_ids:
        return CitationCheck(False, f"document « {doc_id} » absent de l'index")
    if not quote_in_passage(quote, passage):
        return CitationCheck(False, f"extrait non retrouvé mot pour mot dans le passage de « {doc_id} »")
    return CitationCheck(True, None)


def citation_validity(checks: Sequence[bool]) -> float | None:
    """Share of valid citations; ``None`` when nothing was cited."""
    return sum(checks) / len(checks) if checks else None


# ---------------------------------------------------------------- refusals


class RefusalScores(NamedTuple):
    precision: float | None
    recall: float | None
    tp: int
    fp: int
    fn: int
    tn: int


def refusal_scores(pairs: Iterable[tuple[bool, bool]]) -> RefusalScores:
    """``pairs`` = (expected refused, actually refused); positive class = refused."""
    tp = fp = fn = tn = 0
    for expected, actual in pairs:
        if actual and expected:
            tp += 1
        elif actual:
            fp += 1
        elif expected:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return RefusalScores(precision, recall, tp, fp, fn, tn)


# ---------------------------------------------------------------- aggregates


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (q in 0..100); ``None`` for no value."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the defined values; ``None`` when none is defined."""
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None
