"""The systems an evaluation runs: our pipeline, and the same chain restricted to one retrieval mode.

Every system answers a case (timed) and, untimed, gives the 10 passages it retrieves for the
question it actually searched, which the retrieval metrics rank by document.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from assistant.chain import AnswerChain
from assistant.config import RetrievalMode, Settings
from assistant.evaluation.cases import EvalCase
from assistant.evaluation.metrics import RETRIEVAL_DEPTH
from assistant.evaluation.records import SystemOutput
from assistant.pipeline import Pipeline
from assistant.retrieval import Hit, Searcher

WARM_UP_QUESTION = "Que prévoit la doctrine d'achat numérique de l'État ?"


class EvalSystem(Protocol):
    name: str
    label: str
    setup_s: float

    def warm_up(self) -> None: ...

    def run(self, case: EvalCase) -> SystemOutput: ...

    def close(self) -> None: ...


class PipelineSystem:
    """Our answer chain (possibly with another retrieval mode), same generator and evidence gate."""

    def __init__(
        self, name: str, label: str, chain: AnswerChain, searcher: Searcher, *,
        mode: RetrievalMode | None = None, use_llm: bool = False,
    ) -> None:
        self.name = name
        self.label = label
        self.chain = chain
        self.searcher = searcher
        self.mode = mode
        self.use_llm = use_llm
        self.setup_s = 0.0

    def warm_up(self) -> None:
        """Load models and the index outside the timed cases."""
        self.chain.invoke(WARM_UP_QUESTION, use_llm=False)

    def run(self, case: EvalCase) -> SystemOutput:
        t0 = time.perf_counter()
        answer = self.chain.invoke(case.question, list(case.history), use_llm=self.use_llm)
        latency = (time.perf_counter() - t0) * 1000
        query = answer.standalone_question or case.question
        hits = self.searcher.search(query, RETRIEVAL_DEPTH, mode=self.mode)
        return SystemOutput(
            answer=answer.answer, refused=answer.refused, citations=list(answer.citations),
            retrieved_doc_ids=[h.doc_id for h in hits], latency_ms=latency, query=query, generator=answer.generator,
        )

    def close(self) -> None:
        return None


def ours(pipeline: Pipeline, use_llm: bool = False) -> PipelineSystem:
    settings = pipeline.settings
    label = f"Doctrine ({settings.retrieval_mode}, garde-fou)"
    return PipelineSystem("ours", label, pipeline.chain, pipeline.searcher, use_llm=use_llm)


class DenseSignalSearcher(Searcher):
    """Searcher whose BM25-mode hits still carry their dense cosine.

    In ``bm25`` mode the searcher computes no dense similarity (``Hit.dense`` = 0), and the gate
    would refuse everything. The BM25 baseline must differ from ours by its ranking only, so the
    gate gets the same evidence signal: the cosine of the returned passages (ranking untouched).
    """

    def search(self, query: str, k: int | None = None, **kwargs: Any) -> list[Hit]:  # type: ignore[override]
        hits = super().search(query, k, **kwargs)
        if (kwargs.get("mode") or self.settings.retrieval_mode) != "bm25" or not hits:
            return hits
        vector = kwargs.get("query_vector")
        if vector is None:
            vector = self.embeddings.encode([query])[0]
        stored = self.reader.embeddings_for([h.chunk_id for h in hits])
        return [h._replace(dense=float(stored[h.chunk_id] @ vector)) if h.chunk_id in stored else h for h in hits]


def single_mode(pipeline: Pipeline, mode: RetrievalMode) -> PipelineSystem:
    """The same chain (generator, gate, condensation) with one retriever only."""
    settings: Settings = pipeline.settings.model_copy(update={"retrieval_mode": mode})
    searcher = DenseSignalSearcher(settings, pipeline.reader)
    chain = AnswerChain(settings, searcher, llm=None)
    labels = {"bm25": "BM25 seul", "dense": "Dense seul", "rrf": "Fusion RRF", "hybrid": "Hybride"}
    return PipelineSystem(mode, f"{labels.get(mode, mode)} (même générateur, même garde-fou)", chain, searcher,
                          mode=mode)
