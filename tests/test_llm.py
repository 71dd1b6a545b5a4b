"""LLM path against a real OpenAI-compatible server on 127.0.0.1 (scripted replies)."""

from __future__ import annotations

import pytest

from assistant.answer.types import Answer
from assistant.config import Settings
from assistant.pipeline import Pipeline
from tests.llm_server import ScriptedLLMServer

QUESTION = "Que faut-il exiger pour la réversibilité ?"


def _pipeline(small_index: Settings, server: ScriptedLLMServer, timeout: float = 5.0) -> Pipeline:
    settings = small_index.model_copy(update={
        "llm_base_url": server.base_url, "llm_model": "test-model", "llm_timeout_s": timeout,
    })
    return Pipeline(settings)


@pytest.fixture
def small_index(small_settings: Settings) -> Settings:
    from assistant.index.ingest import run_index

    run_index(small_settings)
    return small_settings


def test_prompt_carries_numbered_fenced_sources_and_answer_is_checked(small_index: Settings) -> None:
    reply = ("La réversibilité suppose un plan de sortie et des formats ouverts [1]. "
             "Le prestataire doit tout rendre gratuitement [9].")
    with ScriptedLLMServer([reply]) as server:
        answer = _pipeline(small_index, server).chain.invoke(QUESTION)
        body = server.requests[-1]
    messages = body["messages"]
    assert messages[0]["role"] == "system" and "uniquement" in messages[0]["content"]
    user = messages[-1]["content"]
    assert '<source n="1"' in user and "</sources>" in user and QUESTION in user
    assert "plan de sortie" in user
    assert answer.generator == "llm:test-model"
    assert "[9]" not in answer.answer and "[1]" in answer.answer
    assert any("[9]" in p for p in answer.problems)
    assert [c.n for c in answer.citations] == [1]


def test_fabricated_quote_is_flagged(small_index: Settings) -> None:
    reply = "La circulaire dit « la réversibilité est totalement facultative pour tous » [1]."
    with ScriptedLLMServer([reply]) as server:
        answer = _pipeline(small_index, server).chain.invoke(QUESTION)
    assert "[citation non vérifiée]" in answer.answer
    assert any("mot pour mot" in p for p in answer.problems)


def test_streaming_yields_tokens_then_answer(small_index: Settings) -> None:
    reply = "Il faut un plan de sortie [1] et des formats d'export ouverts [1]."
    with ScriptedLLMServer([reply]) as server:
        events = list(_pipeline(small_index, server).chain.stream(QUESTION))
        assert server.requests[-1]["stream"] is True
    tokens = [e for e in events if isinstance(e, str)]
    final = events[-1]
    assert isinstance(final, Answer) and len(tokens) > 3
    assert "".join(tokens) == reply == final.answer
    assert final.citations and final.citations[0].doc_id == "circulaire-test"


def test_timeout_falls_back_to_extractive_with_notice(small_index: Settings) -> None:
    with ScriptedLLMServer([{"delay": 3}]) as server:
        answer = _pipeline(small_index, server, timeout=0.5).chain.invoke(QUESTION)
    assert answer.generator.startswith("extractive")
    assert any(n.key == "llm_fallback" and "LLM" in n.text and "repli" not in n.text for n in answer.notices)
    assert answer.citations and not answer.refused


def test_server_error_and_unreachable_endpoint_fall_back(small_index: Settings) -> None:
    with ScriptedLLMServer([{"status": 500}]) as server:
        answer = _pipeline(small_index, server).chain.invoke(QUESTION)
    assert answer.generator.startswith("extractive") and answer.citations
    unreachable = small_index.model_copy(update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m",
                                                 "llm_timeout_s": 2})
    answer = Pipeline(unreachable).chain.invoke(QUESTION)
    assert answer.generator.startswith("extractive") and any("LLM" in n.text for n in answer.notices)
    streamed = list(Pipeline(unreachable).chain.stream(QUESTION))
    assert isinstance(streamed[-1], Answer) and streamed[-1].citations


def test_refused_question_never_reaches_the_llm(small_index: Settings) -> None:
    with ScriptedLLMServer(["ne devrait pas être appelé"]) as server:
        answer = _pipeline(small_index, server).chain.invoke("Quelle est la recette de la tarte tatin ?")
        assert server.requests == []
    assert answer.refused


def test_follow_up_is_condensed_by_the_llm(small_index: Settings) -> None:
    history = [{"role": "user", "content": "Que dit la circulaire sur la méthode en trois temps ?"},
               {"role": "assistant", "content": "Mutualisation, étagère, spécifique."}]
    with ScriptedLLMServer(["Que faut-il exiger pour la réversibilité ?", "Un plan de sortie [1]."]) as server:
        answer = _pipeline(small_index, server).chain.invoke("et pour la réversibilité ?", history)
        assert "Historique" in server.requests[0]["messages"][0]["content"]
    assert answer.standalone_question == "Que faut-il exiger pour la réversibilité ?"
    assert answer.answer == "Un plan de sortie [1]."
