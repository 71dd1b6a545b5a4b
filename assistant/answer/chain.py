"""The answer pipeline, as one LCEL runnable:

condense (follow-ups) -> hybrid retrieval -> evidence gate -> generation -> citation check -> Answer
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from assistant.answer.citations import Citation, check_answer, verify_citations
from assistant.answer.gate import GateDecision, GateThresholds, decide, is_english
from assistant.answer.generators import CIRCULAR_ID, ExtractiveGenerator, LLMGenerator, numbered_sources
from assistant.answer.lexicon import load_lexicon
from assistant.answer.question import check_question
from assistant.answer.retrieval import DEGRADED, Filters, Hit, Searcher
from assistant.config import Settings
from assistant.text import tokens
from assistant.wording import messages

Turn = dict[str, str]

_ELLIPTIC_START = re.compile(
    r"^\s*(et|mais|aussi|pareil|idem|dans ce cas|alors|ensuite|puis|sinon|et si|et pour|et en|et quand|"
    r"et qu|et la|et le|et les|qu'en est-il|quid)\b",
    re.IGNORECASE,
)
_ANAPHORA = re.compile(
    r"(?<![-\w])(il|elle|ils|elles|celui-ci|celle-ci|ce texte|cette circulaire|ce dispositif|dedans|"
    r"l'a|la signe|le signe|en vigueur)(?![-\w])",
    re.IGNORECASE,
)


@dataclass
class Answer:
    """What every entry point returns; ``to_json`` is the ``doctrine ask --json`` contract."""

    question: str
    answer: str
    refused: bool
    citations: list[Citation]
    generator: str
    timings_ms: dict[str, float]
    standalone_question: str = ""
    related: list[Citation] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

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
            "notices": self.notices,
            "citation_problems": self.problems,
        }
        return data


def history_text(history: Sequence[Turn]) -> str:
    return "\n".join(
        f"{'Acheteur' if t.get('role') == 'user' else 'Assistant'} : {t.get('content', '')[:600]}"
        for t in history
    )


def heuristic_condense(question: str, history: Sequence[Turn]) -> str:
    """Offline condensation: an elliptic follow-up inherits the topic of the previous question."""
    previous = [t.get("content", "") for t in history if t.get("role") == "user" and t.get("content")]
    if not previous:
        return question
    elliptic = (
        bool(_ELLIPTIC_START.match(question))
        or len(tokens(question)) <= 3
        or bool(_ANAPHORA.search(question))
    )
    if not elliptic:
        return question
    stripped = _ELLIPTIC_START.sub("", question).strip(" ,?") or question
    return f"{stripped} — {previous[-1].strip()}"


def text_names(history: Sequence[Turn]) -> str:
    """Names of texts (acronyms, « circulaire », « loi »...) in the last user turn."""
    previous = next((t.get("content", "") for t in reversed(history) if t.get("role") == "user"), "")
    keep = re.findall(r"\b(?:circulaire|doctrine|loi|règlement|code|[A-Z][\w-]*[A-Z0-9][\w-]*|\d[\w/-]*)\b", previous)
    return " ".join(dict.fromkeys(keep))


def fuse_rankings(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """Reciprocal-rank fusion of several hit lists (first list wins ties)."""
    scores: dict[str, float] = {}
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (60 + rank)
            first.setdefault(hit.chunk_id, hit)
    ordered = sorted(scores, key=lambda cid: -scores[cid])[:k]
    return [first[cid] for cid in ordered]


class AnswerChain:
    def __init__(self, settings: Settings, searcher: Searcher, llm: LLMGenerator | None = None) -> None:
        self.settings = settings
        self.searcher = searcher
        self.extractive = ExtractiveGenerator(settings)
        self.llm = llm
        self.msg = messages(settings.prompts_dir)
        self.lexicon = load_lexicon(settings.knowledge_dir)
        self.thresholds = GateThresholds(
            settings.gate_min_dense,
            settings.gate_weak_overlap,
            settings.gate_weak_dense,
            settings.gate_unanchored_overlap,
            settings.gate_unanchored_dense,
        )
        self.runnable: Runnable = (
            RunnableLambda(self._condense, name="condense")
            | RunnableLambda(self._retrieve, name="retrieve")
            | RunnableLambda(self._gate, name="evidence_gate")
            | RunnableLambda(self._generate, name="generate")
            | RunnableLambda(self._finish, name="verify_citations")
        )

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
        return self.runnable.invoke(self._state(question, history, k, filters, use_llm))

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        use_llm: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield text chunks as they come (LLM tokens, or the extractive text in one piece), then the Answer."""
        state = self._gate(
            self._retrieve(self._condense(self._state(question, history, k, filters, use_llm)))
        )
        if state["decision"].refused or not self._llm_active(state):
            yield self._finish(self._generate(state))
            return
        t0 = time.perf_counter()
        parts: list[str] = []
        try:
            for token in self.llm.stream(state["standalone"], state["sources"]):  # type: ignore[union-attr]
                parts.append(token)
                yield token
            state["generated"] = ("".join(parts), state["sources"], self.llm.name)  # type: ignore[union-attr]
        except Exception as exc:  # noqa: BLE001 - any endpoint failure falls back to extractive
            state = self._fallback(state, exc)
        state["timings"]["generate"] = (time.perf_counter() - t0) * 1000
        yield self._finish(state)

    # -- steps

    def _state(self, question, history, k, filters, use_llm) -> dict[str, Any]:  # noqa: ANN001
        cleaned = check_question(question, self.settings.max_question_chars)
        return {
            "question": cleaned,
            "history": list(history or []),
            "k": k or self.settings.k,
            "filters": filters,
            "use_llm": use_llm,
            "timings": {},
            "notices": [],
            "t_start": time.perf_counter(),
        }

    def _llm_active(self, state: dict[str, Any]) -> bool:
        return self.llm is not None and state["use_llm"]

    def _condense(self, state: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        standalone = state["question"]
        if state["history"]:
            standalone = heuristic_condense(state["question"], state["history"])
            if self._llm_active(state) and standalone != state["question"]:
                try:
                    rewritten = self.llm.condense(state["question"], history_text(state["history"]))  # type: ignore[union-attr]
                    if rewritten and len(rewritten) < self.settings.max_question_chars:
                        standalone = rewritten
                except Exception:  # noqa: BLE001,S110 - the heuristic result stands
                    pass
        state["standalone"] = standalone
        state["focus"] = state["question"] if standalone != state["question"] else None
        state["timings"]["condense"] = (time.perf_counter() - t0) * 1000
        return state

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        k = max(state["k"], 6)
        signals: dict[str, Any] = {}
        hits = self.searcher.search(
            self.lexicon.expand(state["standalone"]), k, filters=state["filters"], signals=signals
        )
        if state["focus"]:
            # A follow-up: also search its own words with the names of the texts discussed before,
            # so « et pour la réversibilité ? » is not drowned by the previous question's topic.
            names = text_names(state["history"])
            focused = self.searcher.search(
                self.lexicon.expand(f"{state['focus']} {names}"), k, filters=state["filters"]
            )
            hits = fuse_rankings([focused, hits], k)
        state["hits"] = hits
        state["max_dense"] = signals.get("max_dense", 0.0)
        state["gate_hits"] = signals.get("gate_hits") or hits
        state["timings"]["retrieve"] = (time.perf_counter() - t0) * 1000
        return state

    def _gate(self, state: dict[str, Any]) -> dict[str, Any]:
        hits: list[Hit] = state["hits"]
        snap = self.searcher.reader.snapshot()
        question = state["standalone"]
        scope = snap.doc_text("circulaire") if re.search(r"circulaire|6519", question, re.I) else ""
        expanded = self.lexicon.expand(question)
        state["decision"] = decide(
            expanded,
            state.get("gate_hits", hits)[:6],
            thresholds=self.thresholds,
            idf=snap.idf,
            anchored=self.lexicon.has_anchor(expanded),
            max_dense=state.get("max_dense", 0.0),
            scope_text=scope,
        )
        state["section_lookup"] = snap.sections.get
        state["sources"] = numbered_sources(hits[: state["k"]], snap.sections.get)
        if snap.interrupted:
            state["notices"].append(
                "Une indexation a été interrompue : les réponses proviennent de la dernière version complète "
                f"de l'index ({snap.generation}). Relancez « doctrine index »."
            )
        if any(h.dense <= DEGRADED for h in hits):
            state["notices"].append(self.msg["dense_degraded"])
        if is_english(state["question"]):
            state["notices"].append(self.msg["english_notice"])
        return state

    def _generate(self, state: dict[str, Any]) -> dict[str, Any]:
        t0 = time.perf_counter()
        decision: GateDecision = state["decision"]
        if decision.refused:
            state["generated"] = (self._refusal(decision), [], self.extractive.name)
        elif self._llm_active(state):
            try:
                text = "".join(self.llm.stream(state["standalone"], state["sources"]))  # type: ignore[union-attr]
                state["generated"] = (text, state["sources"], self.llm.name)  # type: ignore[union-attr]
            except Exception as exc:  # noqa: BLE001
                state = self._fallback(state, exc)
        else:
            gen = self.extractive.generate(
                state["standalone"], state["hits"][: state["k"] + 1], state["section_lookup"], state["focus"]
            )
            state["generated"] = (gen.text, gen.citations, self.extractive.name)
        state["timings"]["generate"] = (time.perf_counter() - t0) * 1000
        return state

    def _fallback(self, state: dict[str, Any], exc: Exception) -> dict[str, Any]:
        error = type(exc).__name__
        if "timeout" in error.lower() or "timeout" in str(exc).lower():
            error = "délai dépassé"
        state["notices"].append(self.msg["llm_fallback"].format(error=error))
        gen = self.extractive.generate(
            state["standalone"], state["hits"][: state["k"] + 1], state["section_lookup"], state["focus"]
        )
        state["generated"] = (gen.text, gen.citations, f"{self.extractive.name} (repli)")
        return state

    def _refusal(self, decision: GateDecision) -> str:
        if decision.missing_reference:
            return self.msg["refused_reference"].format(reference=f"« {decision.missing_reference} »")
        return self.msg["refused"]

    def _finish(self, state: dict[str, Any]) -> Answer:
        text, sources, generator = state["generated"]
        decision: GateDecision = state["decision"]
        checked = check_answer(text, sources)
        problems = checked.problems + verify_citations(checked.citations)
        notices = list(state["notices"])
        if any(c.doc_id == CIRCULAR_ID for c in checked.citations):
            notices.append(self.msg["circular_caveat"])
        related = [] if not decision.refused else numbered_sources(state["hits"][:3], state["section_lookup"])
        answer_text = checked.text
        if decision.refused and related:
            answer_text += (
                "\n\n"
                + self.msg["to_consult"]
                + "\n"
                + "\n".join(f"- {c.title} — {c.section}" for c in related)
            )
        state["timings"]["total"] = (time.perf_counter() - state["t_start"]) * 1000
        return Answer(
            question=state["question"],
            answer=answer_text,
            refused=decision.refused,
            citations=checked.citations,
            generator=generator,
            timings_ms=state["timings"],
            standalone_question=state["standalone"],
            related=related,
            notices=notices,
            problems=problems,
            gate={
                "top_dense": round(decision.top_dense, 4),
                "overlap": round(decision.overlap, 4),
                "reason": decision.reason,
                "anchored": decision.anchored,
                "missing_reference": decision.missing_reference,
            },
        )
