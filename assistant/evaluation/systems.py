"""The systems an evaluation runs: our pipeline, and the same chain restricted to one retrieval mode.

Every system answers a case (timed) and then, untimed, repeats the chain's own search (same
query string, after condensation and jargon expansion, same filters) at depth 10: that ranking
feeds the retrieval metrics, so they measure what the chain actually retrieved.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import numpy as np

from assistant.answer.chain import AnswerChain
from assistant.answer.generators import LLMGenerator
from assistant.answer.retrieval import Hit, Searcher, exact_cosines
from assistant.config import RetrievalMode, Settings
from assistant.evaluation.cases import EvalCase
from assistant.evaluation.metrics import RETRIEVAL_DEPTH
from assistant.evaluation.records import SystemOutput
from assistant.index.store import IndexReader

WARM_UP_QUESTION = "Que prévoit la doctrine d'achat numérique de l'État ?"
MODE_LABELS = {"bm25": "BM25 seul", "dense": "Dense seul", "rrf": "Fusion RRF", "hybrid": "Hybride"}


class EvalSystem(Protocol):
    name: str
    label: str
    setup_s: float

    def warm_up(self) -> None: ...

    def run(self, case: EvalCase) -> SystemOutput: ...

    def close(self) -> None: ...


class RecordingSearcher(Searcher):
    """A Searcher that records the chain's search calls and embeds each query string once.

    In ``bm25`` mode the plain searcher computes no dense similarity (``Hit.dense`` = 0) and the
    gate would refuse everything; the BM25 baseline must differ from ours by its ranking only, so
    its hits carry the cosine of the returned passages (ranking untouched) for the gate.
    """

    def __init__(self, settings: Settings, reader: IndexReader, vectors: dict[str, np.ndarray] | None = None) -> None:
        super().__init__(settings, reader)
        self.vectors: dict[str, np.ndarray] = {} if vectors is None else vectors
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def vector(self, query: str) -> np.ndarray:
        if query not in self.vectors:
            self.vectors[query] = self.embeddings.encode([query])[0]
        return self.vectors[query]

    def search(self, query: str, k: int | None = None, **kwargs: Any) -> list[Hit]:  # type: ignore[override]
        self.calls.append((query, {key: v for key, v in kwargs.items() if key != "query_vector"}))
        if kwargs.get("query_vector") is None and query.strip():
            kwargs["query_vector"] = self.vector(query)
        hits = super().search(query, k, **kwargs)
        if (kwargs.get("mode") or self.settings.retrieval_mode) != "bm25" or not hits:
            return hits
        vector = kwargs["query_vector"]
        cosines = exact_cosines(self.reader.embeddings_for([h.chunk_id for h in hits]), vector)
        return [h._replace(dense=cosines[h.chunk_id]) if h.chunk_id in cosines else h for h in hits]


class PipelineSystem:
    """Our answer chain (possibly with another retrieval mode): same generator, gate and condensation."""

    def __init__(self, name: str, label: str, chain: AnswerChain, searcher: RecordingSearcher, *,
                 use_llm: bool = False) -> None:
        self.name = name
        self.label = label
        self.chain = chain
        self.searcher = searcher
        self.use_llm = use_llm
        self.setup_s = 0.0
        self.fresh_vectors = True  # each case pays its own embedding: latencies stay comparable

    def warm_up(self) -> None:
        """Load models and the index outside the timed cases."""
        self.chain.invoke(WARM_UP_QUESTION, use_llm=False)

    def run(self, case: EvalCase) -> SystemOutput:
        self.searcher.calls.clear()
        if self.fresh_vectors:
            self.searcher.vectors.clear()
        t0 = time.perf_counter()
        answer = self.chain.invoke(case.question, list(case.history), use_llm=self.use_llm)
        latency = (time.perf_counter() - t0) * 1000
        if self.searcher.calls:
            query, kwargs = self.searcher.calls[0]  # the chain's retrieval step
        else:
            query, kwargs = answer.standalone_question or case.question, {}
        hits = self.searcher.search(query, RETRIEVAL_DEPTH, **kwargs)
        return SystemOutput(
            answer=answer.answer, refused=answer.refused, citations=list(answer.citations),
            retrieved_doc_ids=[h.doc_id for h in hits], latency_ms=latency, query=query, generator=answer.generator,
        )

    def close(self) -> None:
        self.searcher.vectors.clear()


def chain_system(
    name: str, label: str, settings: Settings, reader: IndexReader, *, llm: LLMGenerator | None = None,
    searcher: RecordingSearcher | None = None,
) -> PipelineSystem:
    """A fresh AnswerChain on the shared index and models (the app's own pipeline is left untouched);
    it answers with ``llm`` when given, else with the extractive generator."""
    searcher = searcher or RecordingSearcher(settings, reader)
    return PipelineSystem(name, label, AnswerChain(settings, searcher, llm), searcher, use_llm=llm is not None)


def ours(settings: Settings, reader: IndexReader, llm: LLMGenerator | None = None) -> PipelineSystem:
    label = f"Doctrine ({MODE_LABELS.get(settings.retrieval_mode, settings.retrieval_mode).lower()}, garde-fou)"
    return chain_system("ours", label, settings, reader, llm=llm)


def single_mode(settings: Settings, reader: IndexReader, mode: RetrievalMode) -> PipelineSystem:
    """The same chain (generator, gate, condensation) with one retriever only."""
    moded = settings.model_copy(update={"retrieval_mode": mode})
    return chain_system(mode, f"{MODE_LABELS.get(mode, mode)} (même générateur, même garde-fou)", moded, reader)
