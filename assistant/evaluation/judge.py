"""Optional LLM judge: faithfulness to the cited passages and correctness against expected facts.

Off by default and never needed for CI: it runs only when an LLM endpoint is configured and
``--judge`` is passed. Prompts are French data files (prompts/judge_system.md, judge_user.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from assistant.config import Settings
from assistant.wording import load_prompt

_JSON_OBJECT = re.compile(r"\{.*\}", re.S)


class JudgeUnavailable(RuntimeError):
    """No LLM endpoint configured (French message)."""


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(str(value).replace(",", "."))
    except ValueError:
        return None
    if 1.0 < number <= 100.0:  # some models answer in percent
        number /= 100.0
    return min(1.0, max(0.0, number))


def parse_verdict(text: str) -> dict[str, Any]:
    """The judge's JSON reply, tolerant of code fences and surrounding prose; ``error`` when unusable."""
    match = _JSON_OBJECT.search(text or "")
    if not match:
        return {"error": "réponse du juge sans objet JSON", "raw": (text or "")[:300]}
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return {"error": "JSON du juge illisible", "raw": match.group(0)[:300]}
    if not isinstance(data, dict):
        return {"error": "JSON du juge inattendu", "raw": match.group(0)[:300]}
    faithfulness, correctness = _score(data.get("faithfulness")), _score(data.get("correctness"))
    if faithfulness is None or correctness is None:
        return {"error": "notes manquantes dans la réponse du juge", "raw": match.group(0)[:300]}
    return {
        "faithfulness": faithfulness, "correctness": correctness,
        "unsupported_claims": [str(c) for c in data.get("unsupported_claims") or []][:20],
        "missing_facts": [str(c) for c in data.get("missing_facts") or []][:20],
        "comment": str(data.get("comment") or "")[:500],
    }


class LLMJudge:
    """One chat call per answered case, through the configured OpenAI-compatible endpoint."""

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_enabled:
            raise JudgeUnavailable(
                "juge LLM indisponible : configurez DOCTRINE_LLM_BASE_URL et DOCTRINE_LLM_MODEL"
            )
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        from assistant.answer.generators import LLMGenerator

        prompt = ChatPromptTemplate.from_messages([
            ("system", load_prompt(settings.prompts_dir, "judge_system.md")),
            ("human", load_prompt(settings.prompts_dir, "judge_user.md")),
        ])
        self.chain = prompt | LLMGenerator(settings).model | StrOutputParser()

    def grade(
        self, question: str, answer: str, citations: Sequence[dict[str, Any]], expected_facts: Sequence[str],
    ) -> dict[str, Any]:
        sources = "\n".join(
            f"[{c.get('n')}] ({c.get('doc_id')} — {c.get('section', '')}) {c.get('quote', '')}" for c in citations
        ) or "(aucun extrait cité)"
        facts = "\n".join(f"- {f}" for f in expected_facts) or "(aucun fait attendu)"
        try:
            reply = self.chain.invoke(
                {"question": question, "answer": answer, "sources": sources, "expected_facts": facts}
            )
        except Exception as exc:  # noqa: BLE001 - a judge failure must not stop the evaluation
            return {"error": f"juge injoignable ({type(exc).__name__})"}
        return parse_verdict(reply)
