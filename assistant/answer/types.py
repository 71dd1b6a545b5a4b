"""The values the answer pipeline's stages exchange, all immutable.

    Question --condense--> Condensed --retrieve--> Retrieval --gate--> GateDecision
             --generate--> Generated --check citations--> Answer

``Hit`` (a retrieved passage) and ``Citation`` (a numbered, verbatim quote of a passage) are the
evidence that flows through them; ``Notice`` is a message shown with an answer, with its kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, NamedTuple, Protocol

from assistant.answer.analysis import Part, QuestionAnalysis
from assistant.config import RetrievalMode
from assistant.index.chunking import SectionRecord

Turn = Mapping[str, str]  # {"role": "user" | "assistant", "content": "..."}
SectionLookup = Callable[[str], SectionRecord | None]

# Dense score of hits found while Chroma was unavailable: "unknown", not "dissimilar".
DEGRADED = -1.0


class Filters(NamedTuple):
    kinds: tuple[str, ...] = ()
    in_force_on: date | None = None
    doc_ids: tuple[str, ...] = ()
    official_only: bool = False  # the official corpus only: files added by users are left out

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.in_force_on or self.doc_ids or self.official_only)


class Hit(NamedTuple):
    """A retrieved passage, with its document's metadata and its scores."""

    chunk_id: str
    doc_id: str
    title: str
    section: str
    section_id: str
    text: str
    score: float
    dense: float
    bm25: float
    source_url: str
    kind: str
    date: str | None
    confidence: str
    status: str = "en_vigueur"  # en_vigueur | projet | proposition | abroge | expire
    origin: str = "knowledge"  # knowledge (the official corpus) | user (a file someone added)

    @classmethod
    def from_meta(
        cls, meta: Mapping[str, Any], *, chunk_id: str, doc_id: str, section: str, section_id: str, text: str,
        score: float = 0.0, dense: float = 0.0, bm25: float = 0.0,
    ) -> Hit:
        """The one constructor: passage fields plus the document metadata (``SourceDocument.meta()``)."""
        return cls(
            chunk_id=chunk_id, doc_id=doc_id, title=str(meta.get("title", doc_id)), section=section,
            section_id=section_id, text=text, score=score, dense=dense, bm25=bm25,
            source_url=str(meta.get("source_url") or ""), kind=str(meta.get("kind", "")),
            date=meta.get("date") or None, confidence=str(meta.get("confidence", "")),
            status=str(meta.get("status") or "en_vigueur"), origin=str(meta.get("origin") or "knowledge"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "chunk_id": self.chunk_id, "title": self.title, "section": self.section,
            "text": self.text, "score": round(self.score, 4), "source_url": self.source_url,
            "status": self.status, "origin": self.origin,
        }


class Citation(NamedTuple):
    """A numbered quote; ``passage`` is the text the quote must appear in, verbatim."""

    n: int
    doc_id: str
    title: str
    section: str
    quote: str
    source_url: str
    score: float
    chunk_id: str = ""
    passage: str = ""
    date: str | None = None
    kind: str = ""
    confidence: str = ""
    status: str = "en_vigueur"
    origin: str = "knowledge"

    @classmethod
    def from_hit(cls, n: int, hit: Hit, quote: str, passage: str) -> Citation:
        return cls(
            n=n, doc_id=hit.doc_id, title=hit.title, section=hit.section, quote=quote, source_url=hit.source_url,
            score=hit.score, chunk_id=hit.chunk_id, passage=passage, date=hit.date, kind=hit.kind,
            confidence=hit.confidence, status=hit.status, origin=hit.origin,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n, "doc_id": self.doc_id, "title": self.title, "section": self.section,
            "quote": self.quote, "source_url": self.source_url, "score": round(float(self.score), 4),
            "chunk_id": self.chunk_id, "passage": self.passage, "date": self.date, "kind": self.kind,
            "confidence": self.confidence, "status": self.status, "origin": self.origin,
        }


@dataclass(frozen=True)
class Notice:
    """A message shown with an answer or a draft. ``kind`` says how (a warning stands out), ``key``
    what it is (its entry in the wording catalogue): nobody has to read the French to know."""

    kind: Literal["info", "warning"]
    key: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question as asked and checked (``text`` is cleaned), with what the asker set."""

    text: str
    history: tuple[Turn, ...] = ()
    k: int = 5
    filters: Filters = Filters()
    use_llm: bool = True


@dataclass(frozen=True)
class Condensed:
    """The question made standalone; ``focus`` is the user's own words when it was a follow-up."""

    question: Question
    standalone: str
    focus: str | None = None


@dataclass(frozen=True)
class PartRetrieval:
    """The search of one part of the question on its subject alone (context words left out)."""

    part: Part
    hits: tuple[Hit, ...]
    max_dense: float

    @property
    def dense(self) -> float:
        return max([self.max_dense, *(h.dense for h in self.hits[:5])])


@dataclass(frozen=True)
class Retrieval:
    """What a search found: the ranked ``hits``, and the signals the evidence gate reads.

    ``query`` and ``filters`` are exactly what was sent to the searcher (the evaluation reruns
    them at depth 10). ``gate_hits`` are the best passages of the gate's reference fusion (empty
    when there is none: BM25 alone, or dense search unavailable; the gate then reads ``hits``);
    ``max_dense`` is the best cosine among all dense candidates.
    """

    query: str
    filters: Filters
    mode: RetrievalMode
    hits: tuple[Hit, ...] = ()
    gate_hits: tuple[Hit, ...] = ()
    max_dense: float = 0.0
    parts: tuple[PartRetrieval, ...] = ()  # one search per part of the question, on its subject
    # The ranking before the searches added for the generator only (an objective's catalogue query):
    # the scope and premise checks read it, as they were calibrated on it. Empty: they read ``hits``.
    scope_hits: tuple[Hit, ...] = ()
    indirect: tuple[PartRetrieval, ...] = ()  # the same for its indirect questions (``QuestionAnalysis.indirect``)

    @property
    def judged(self) -> tuple[Hit, ...]:
        """The passages the gate judges."""
        return self.gate_hits or self.hits

    @property
    def degraded(self) -> bool:
        """Dense search was unavailable for some of these hits (answered from BM25)."""
        return any(h.dense <= DEGRADED for h in self.hits)


@dataclass(frozen=True)
class GateDecision:
    """Whether the evidence can support an answer. ``reason`` is a code (empty when accepted)."""

    refused: bool
    reason: str
    top_dense: float
    overlap: float
    missing_reference: str | None
    anchored: bool = True
    not_covered: tuple[str, ...] = ()  # parts of the question the texts do not treat (the user's words)
    premises: tuple[str, ...] = ()  # claims the question takes for granted that no indexed text supports
    answered_by: frozenset[str] = frozenset()  # subject the answer leads with when it differs from the question's


@dataclass(frozen=True)
class GenerationRequest:
    """What a generator writes from: the standalone question, its focus, the ranked hits, ``k``,
    and the question's analysis (its subject, the kind of answer wanted)."""

    question: str
    focus: str | None
    hits: tuple[Hit, ...]
    k: int
    sections: SectionLookup
    analysis: QuestionAnalysis | None = None
    idf: Callable[[str], float] | None = None  # corpus term weights: a rare subject word counts more
    hint: str = ""  # French words of the glossary for an English question: its sentences are French


@dataclass(frozen=True)
class Generated:
    """A generator's text with ``[n]`` markers, and the citations those numbers refer to."""

    text: str
    citations: tuple[Citation, ...]
    generator: str


@dataclass(frozen=True)
class DraftReply:
    """A drafting request typed in the chat, drafted: the text with ``[n]`` markers, its citations,
    and the request read from the message (to prefill the drafting form)."""

    text: str
    citations: tuple[Citation, ...]
    request: dict[str, Any]


class DraftResponder(Protocol):
    """Drafts what a chat message asks to draft (built by the pipeline from the draft package).
    ``support``: what the texts say on the message's own subject (an extractive answer), shown in
    the draft after the justification paragraphs."""

    def __call__(self, message: str, support: Generated | None = None) -> DraftReply: ...


@dataclass(frozen=True)
class Answer:
    """What every entry point returns; ``to_json`` is the ``doctrine ask --json`` contract.

    ``decision`` and ``retrieval`` record how the answer was reached (not part of the contract):
    the evaluation reads the retrieval actually used instead of spying on the searcher.
    """

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    generator: str
    timings_ms: dict[str, float]
    standalone_question: str = ""
    related: list[Citation] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    decision: GateDecision | None = None
    retrieval: Retrieval | None = None
    id: str | None = None
    draft_request: dict[str, Any] | None = None  # a drafting request read from the message (prefills the form)

    @property
    def premises(self) -> tuple[str, ...]:
        return self.decision.premises if self.decision is not None else ()

    @property
    def not_covered(self) -> tuple[str, ...]:
        return self.decision.not_covered if self.decision is not None else ()

    @property
    def gate(self) -> dict[str, Any]:
        """The gate's signals, rounded (shown in test failures and the app's technical details)."""
        d = self.decision
        if d is None:
            return {}
        return {"top_dense": round(d.top_dense, 4), "overlap": round(d.overlap, 4), "reason": d.reason,
                "anchored": d.anchored, "missing_reference": d.missing_reference}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.id is not None:
            data["id"] = self.id
        data |= {
            "question": self.question,
            "answer": self.answer,
            "refused": self.refused,
            "citations": [c.to_json() for c in self.citations],
            "generator": self.generator,
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "standalone_question": self.standalone_question,
            "related": [c.to_json() for c in self.related],
            "notices": [n.text for n in self.notices],
            "citation_problems": self.problems,
            "unsupported_premises": list(self.premises),
            "not_covered": list(self.not_covered),
            "draft_request": self.draft_request,
        }
        return data
