"""The systems an evaluation runs: our pipeline, and the same chain restricted to one retrieval mode.

Every system answers a case (timed) and then, untimed, repeats the chain's own search (same
query string, after condensation and jargon expansion, same filters) at depth 10: that ranking
feeds the retrieval metrics, so they measure what the chain actually retrieved.
"""

from __future__ import annotations

import time
from typing import Protocol

from assistant.answer.chain import AnswerChain
from assistant.answer.generators import LLMGenerator
from assistant.answer.retrieval import Searcher
from assistant.answer.types import Filters
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


class PipelineSystem:
    """Our answer chain (possibly with another retrieval mode): same generator, gate and condensation."""

    def __init__(self, name: str, label: str, chain: AnswerChain, *, use_llm: bool = False) -> None:
        self.name = name
        self.label = label
        self.chain = chain
        self.use_llm = use_llm
        self.setup_s = 0.0

    def warm_up(self) -> None:
        """Load models and the index outside the timed cases."""
        self.chain.invoke(WARM_UP_QUESTION, use_llm=False)

    def run(self, case: EvalCase) -> SystemOutput:
        t0 = time.perf_counter()
        answer = self.chain.invoke(case.question, list(case.history), use_llm=self.use_llm)
        latency = (time.perf_counter() - t0) * 1000
        used = answer.retrieval  # the chain's own search: query after condensation and expansion, filters
        query = used.query if used is not None else answer.standalone_question or case.question
        filters = used.filters if used is not None else Filters()
        hits = self.chain.searcher.search(query, RETRIEVAL_DEPTH, filters=filters)
        return SystemOutput(
            answer=answer.answer, refused=answer.refused, citations=list(answer.citations),
            retrieved_doc_ids=[h.doc_id for h in hits], latency_ms=latency, query=query, generator=answer.generator,
            premise_rejected=bool(answer.premises),
        )

    def close(self) -> None:
        pass


def chain_system(
    name: str, label: str, settings: Settings, reader: IndexReader, *, llm: LLMGenerator | None = None,
    searcher: Searcher | None = None,
) -> PipelineSystem:
    """A fresh AnswerChain on the shared index and models (the app's own pipeline is left untouched);
    it answers with ``llm`` when given, else with the extractive generator, and drafts what a
    message asks to draft, as the product does."""
    from assistant.draft.chat import chat_chain
    from assistant.draft.drafter import Drafter

    searcher = searcher or Searcher(settings, reader)
    chain = chat_chain(settings, searcher, llm, Drafter(settings, searcher, None))
    return PipelineSystem(name, label, chain, use_llm=llm is not None)


def ours(settings: Settings, reader: IndexReader, llm: LLMGenerator | None = None) -> PipelineSystem:
    label = f"Doctrine ({MODE_LABELS.get(settings.retrieval_mode, settings.retrieval_mode).lower()}, garde-fou)"
    return chain_system("ours", label, settings, reader, llm=llm)


def single_mode(settings: Settings, reader: IndexReader, mode: RetrievalMode) -> PipelineSystem:
    """The same chain (generator, gate, condensation) with one retriever only."""
    moded = settings.model_copy(update={"retrieval_mode": mode})
    return chain_system(mode, f"{MODE_LABELS.get(mode, mode)} (même générateur, même garde-fou)", moded, reader)
