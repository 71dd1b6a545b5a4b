"""The answer pipeline, one path through typed stages (values of ``answer/types.py``)::

    prepare   question, history, k, filters         -> Question     (checked, cleaned)
    condense  Question                              -> Condensed    (follow-ups made standalone)
    retrieve  Condensed                             -> Retrieval    (hybrid search, follow-up fusion)
    gate      Condensed, Retrieval                  -> GateDecision (refuse when evidence is weak)
    generate  GenerationRequest                     -> text chunks, then Generated
    finish    everything above                      -> Answer       (citations checked)

``stream`` runs the stages once and yields the generator's text chunks, then the ``Answer``;
``invoke`` is the last item of ``stream``. The chain is a plain class, not an LCEL runnable: the
stages exchange typed values rather than a dict, and wrapping them in ``RunnableLambda`` would
only add a second way to call the same methods. LangChain stays where it does real work, at the
edges: the chat model and prompt templates of ``LLMGenerator``, the ``Embeddings`` of the index.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import Literal

from assistant.answer.citations import check_answer, verify_citations
from assistant.answer.condense import heuristic_condense, history_text, text_names
from assistant.answer.fusion import fuse_hits
from assistant.answer.gate import decide, is_english
from assistant.answer.generators import (
    CIRCULAR_ID,
    ExtractiveGenerator,
    LLMGenerator,
    llm_error,
    numbered_sources,
)
from assistant.answer.lexicon import load_lexicon
from assistant.answer.question import check_question
from assistant.answer.retrieval import Searcher
from assistant.answer.types import (
    Answer,
    Condensed,
    Filters,
    GateDecision,
    Generated,
    GenerationRequest,
    Notice,
    Question,
    Retrieval,
    Turn,
)
from assistant.config import Settings
from assistant.index.snapshot import Snapshot
from assistant.wording import load_wording

RETRIEVE_AT_LEAST = 6  # passages retrieved whatever k: the gate judges six, the extractive generator k + 1
RELATED = 3  # passages listed « à consulter » with a refusal


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


class AnswerChain:
    def __init__(self, settings: Settings, searcher: Searcher, llm: LLMGenerator | None = None) -> None:
        self.settings = settings
        self.searcher = searcher
        self.extractive = ExtractiveGenerator(settings)
        self.llm = llm
        self.wording = load_wording(settings.prompts_dir)
        self.lexicon = load_lexicon(settings.knowledge_dir)

    # -- public API

    def invoke(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        use_llm: bool = True,
    ) -> Answer:
        *_, answer = self.stream(question, history, k=k, filters=filters, use_llm=use_llm)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        use_llm: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield the generator's text chunks as they come (LLM tokens; none for the extractive
        generator, whose text arrives whole in the Answer), then the Answer."""
        t_start = time.perf_counter()
        asked = self.prepare(question, history, k, filters, use_llm)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        condensed = self.condense(asked)
        timings["condense"] = _ms(t0)
        t0 = time.perf_counter()
        retrieval = self.retrieve(condensed)
        timings["retrieve"] = _ms(t0)
        snap = self.searcher.reader.snapshot()
        decision = self.gate(condensed, retrieval, snap)
        notices = self._context_notices(asked, retrieval, snap)
        request = GenerationRequest(condensed.standalone, condensed.focus, retrieval.hits, asked.k, snap.sections.get)
        t0 = time.perf_counter()
        generated: Generated | None = None
        if decision.refused:
            generated = Generated(self._refusal(decision), (), self.extractive.name)
        else:
            generator = self.llm if self.llm is not None and asked.use_llm else self.extractive
            try:
                for item in generator.stream(request):
                    if isinstance(item, Generated):
                        generated = item
                    else:
                        yield item
            except Exception as exc:  # noqa: BLE001 - any endpoint failure falls back to extractive
                if generator is self.extractive:
                    raise
                error = llm_error(exc, self.wording.text("answer.llm_timeout"))
                notices.append(self._notice("warning", "llm_fallback", error=error))
                generated = self._fallback(request)
        assert generated is not None
        timings["generate"] = _ms(t0)
        yield self.finish(asked, condensed, retrieval, decision, generated, request, notices, timings, t_start)

    # -- stages

    def prepare(
        self, question: str, history: Sequence[Turn] | None, k: int | None, filters: Filters, use_llm: bool,
    ) -> Question:
        cleaned = check_question(question, self.settings.max_question_chars, self.wording)
        return Question(cleaned, tuple(history or ()), k or self.settings.k, filters, use_llm)

    def condense(self, asked: Question) -> Condensed:
        standalone = asked.text
        if asked.history:
            standalone = heuristic_condense(asked.text, asked.history)
            if self.llm is not None and asked.use_llm and standalone != asked.text:
                try:
                    history = history_text(asked.history, self.wording.text("answer.history_user"),
                                           self.wording.text("answer.history_assistant"))
                    rewritten = self.llm.condense(asked.text, history)
                    if rewritten and len(rewritten) < self.settings.max_question_chars:
                        standalone = rewritten
                except Exception:  # noqa: BLE001,S110 - the heuristic result stands
                    pass
        return Condensed(asked, standalone, asked.text if standalone != asked.text else None)

    def retrieve(self, condensed: Condensed) -> Retrieval:
        """Search the standalone question (jargon expanded). A follow-up also searches its own words
        with the names of the texts discussed before, so « et pour la réversibilité ? » is not drowned
        by the previous question's topic; both rankings are fused, the gate keeps the first's signals."""
        asked = condensed.question
        k = max(asked.k, RETRIEVE_AT_LEAST)
        primary = self.searcher.retrieve(self.lexicon.expand(condensed.standalone), k, filters=asked.filters)
        if not condensed.focus:
            return primary
        names = text_names(asked.history)
        focused = self.searcher.retrieve(self.lexicon.expand(f"{condensed.focus} {names}"), k, filters=asked.filters)
        return Retrieval(primary.query, primary.filters, primary.mode, tuple(fuse_hits([focused.hits, primary.hits], k)),
                         primary.gate_hits, primary.max_dense)

    def gate(self, condensed: Condensed, retrieval: Retrieval, snap: Snapshot) -> GateDecision:
        question = condensed.standalone
        scope = snap.doc_text("circulaire") if re.search(r"circulaire|6519", question, re.I) else ""
        expanded = self.lexicon.expand(question)
        return decide(
            expanded,
            retrieval.judged[:6],
            thresholds=self.settings.gate,
            idf=snap.idf,
            anchored=self.lexicon.has_anchor(expanded),
            max_dense=retrieval.max_dense,
            scope_text=scope,
        )

    def finish(
        self, asked: Question, condensed: Condensed, retrieval: Retrieval, decision: GateDecision,
        generated: Generated, request: GenerationRequest, notices: list[Notice], timings: dict[str, float],
        t_start: float,
    ) -> Answer:
        checked = check_answer(generated.text, generated.citations, self.wording)
        problems = checked.problems + verify_citations(checked.citations, self.wording)
        if any(c.doc_id == CIRCULAR_ID for c in checked.citations):
            notices.append(self._notice("info", "circular_caveat"))
        related = numbered_sources(retrieval.hits[:RELATED], request.sections) if decision.refused else []
        answer_text = checked.text
        if decision.refused and related:
            answer_text += (
                "\n\n"
                + self.wording.text("answer.to_consult")
                + "\n"
                + "\n".join(f"- {c.title} — {c.section}" for c in related)
            )
        timings["total"] = _ms(t_start)
        return Answer(
            question=asked.text,
            answer=answer_text,
            refused=decision.refused,
            citations=checked.citations,
            generator=generated.generator,
            timings_ms=timings,
            standalone_question=condensed.standalone,
            related=related,
            notices=notices,
            problems=problems,
            decision=decision,
            retrieval=retrieval,
        )

    # -- helpers

    def _context_notices(self, asked: Question, retrieval: Retrieval, snap: Snapshot) -> list[Notice]:
        notices = []
        if snap.interrupted:
            notices.append(self._notice("warning", "index_interrupted", generation=snap.generation))
        if retrieval.degraded:
            notices.append(self._notice("info", "dense_degraded"))
        if is_english(asked.text):
            notices.append(self._notice("info", "english_notice"))
        return notices

    def _notice(self, kind: Literal["info", "warning"], key: str, **values: object) -> Notice:
        return Notice(kind, key, self.wording.text(f"answer.{key}", **values))

    def _fallback(self, request: GenerationRequest) -> Generated:
        generated = self.extractive.generate(
            request.question, request.hits[: request.k + 1], request.sections, request.focus
        )
        name = self.wording.text("answer.fallback_generator", name=self.extractive.name)
        return Generated(generated.text, generated.citations, name)

    def _refusal(self, decision: GateDecision) -> str:
        if decision.missing_reference:
            return self.wording.text("answer.refused_reference", reference=decision.missing_reference)
        return self.wording.text("answer.refused")
