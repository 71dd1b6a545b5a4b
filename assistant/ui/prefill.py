"""A conversation of the chat tab read as a drafting request, to prefill the drafting form.

When an answer was a draft (``draft_request``: the chain read the message as a drafting request),
that request is the starting point; otherwise the user's messages are read with
``assistant.draft.chat.read_request``: the object bought, the route, the objectives and the
exception they name. Facts are the user's own statements (not questions, not the drafting request
itself) that name an objective: they prefill that objective's « ce que l'offre apporte » field.
Nothing is invented: what the conversation does not say stays empty for the user to fill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.answer.analysis import analyse
from assistant.draft.chat import read_request
from assistant.text import split_sentences

MAX_FACT_CHARS = 1500


@dataclass(frozen=True)
class FormPrefill:
    """What the drafting form receives; ``from_draft`` when an answer of the chat was a draft."""

    object: str = ""
    route: str | None = None
    criteria: tuple[str, ...] = ()
    exception: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    from_draft: bool = False

    @property
    def empty(self) -> bool:
        return not (self.object or self.route or self.criteria or self.facts)


def _object_found(message: str, read: str) -> bool:
    """read_request falls back to the whole message when it finds no object: that is not one."""
    whole = message.strip()[:300].rstrip(" ?.!")
    return bool(read) and read != whole and read != message[:300]


def _facts(messages: Sequence[str], prompts_dir: Path) -> dict[str, list[str]]:
    """criterion id -> the user's statements about it (questions and drafting requests left out)."""
    found: dict[str, list[str]] = {}
    for message in messages:
        for sentence in split_sentences(message):
            if sentence.endswith("?") or analyse(sentence, prompts_dir).intent == "draft":
                continue
            for criterion in read_request(sentence, prompts_dir).criteria:
                if sentence not in found.setdefault(criterion, []):
                    found[criterion].append(sentence)
    return found


def prefill_from_turns(turns: Sequence[Mapping[str, Any]], prompts_dir: Path, order: Sequence[str]) -> FormPrefill:
    """The form values a conversation gives (``turns`` as kept by the chat tab, oldest first);
    ``order`` is the catalogue's order of the objectives."""
    messages = [str(t.get("question", "")) for t in turns]
    drafted = next((t["answer"]["draft_request"] for t in reversed(turns)
                    if isinstance(t.get("answer"), Mapping) and t["answer"].get("draft_request")), None)
    facts = _facts(messages, prompts_dir)
    if drafted:
        context = drafted.get("context") or {}
        criteria = set(drafted.get("criteria") or ()) | set(facts)
        return FormPrefill(
            object=str(drafted.get("object") or ""), route=drafted.get("route") or None,
            criteria=tuple(c for c in order if c in criteria), exception=context.get("exception"),
            facts=_joined(facts), from_draft=True,
        )
    object_, route, exception = "", None, None
    criteria: set[str] = set(facts)
    for message in reversed(messages):  # the latest message that says it wins
        read = read_request(message, prompts_dir)
        if not object_ and _object_found(message, read.object):
            object_ = read.object
        route = route or read.route
        exception = exception or read.exception
        criteria |= set(read.criteria)
    return FormPrefill(object=object_, route=route, criteria=tuple(c for c in order if c in criteria),
                       exception=exception, facts=_joined(facts))


def _joined(facts: Mapping[str, list[str]]) -> dict[str, str]:
    return {c: " ".join(sentences)[:MAX_FACT_CHARS] for c, sentences in facts.items()}
