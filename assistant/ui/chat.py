"""« Poser une question » tab: session state, streaming answers, feedback and export.

All per-user data lives in the session's ``gr.State`` dict (``turns``, ``target``, ``session``);
handlers return a new dict instead of mutating shared objects.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer.question import QuestionError, check_question
from assistant.answer.types import Answer, Filters
from assistant.config import Settings
from assistant.fileio import append_line, atomic_write_text
from assistant.index.errors import IndexError_
from assistant.pipeline import get_pipeline
from assistant.ui import render
from assistant.ui.files import session_dir
from assistant.wording import load_wording

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 2000
HISTORY_TURNS = 3
REVEAL_STEPS = 6
REVEAL_DELAY_S = 0.025
MIN_YIELD_INTERVAL_S = 0.05

_feedback_lock = threading.Lock()

ChatOutputs = tuple[Any, ...]


def ratings() -> dict[str, str]:
    """Feedback choices: label shown -> value recorded (``up`` / ``down``)."""
    return {label: value for value, label in load_wording().mapping("ui.chat.ratings").items()}


def reason_tags() -> list[str]:
    """Feedback reasons, recorded as shown."""
    return render.texts("chat.reason_tags")


def new_state() -> dict[str, Any]:
    return {"turns": [], "target": None, "session": ""}


def _copy(state: dict[str, Any] | None) -> dict[str, Any]:
    state = dict(state or new_state())
    state["turns"] = list(state.get("turns") or [])
    if not state.get("session"):
        state["session"] = uuid.uuid4().hex[:16]
    return state


def history_for(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The last turns as chain history (plain answer text, no markup)."""
    history: list[dict[str, str]] = []
    for turn in turns[-HISTORY_TURNS:]:
        history.append({"role": "user", "content": turn["question"]})
        history.append({"role": "assistant", "content": str(turn["answer"].get("answer", ""))})
    return history


class ChatService:
    """Handlers of the chat tab; stateless apart from the settings (one pipeline per process)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # -- asking

    def ask(
        self, question: str, state: dict[str, Any] | None, official_only: bool | None = False,
    ) -> Iterator[ChatOutputs]:
        """Stream an answer: user message first, then tokens (LLM) or a progressive reveal, then sources.

        ``official_only``: answer from the official corpus only (files added by users left out).
        """
        state = _copy(state)
        try:
            cleaned = check_question(question, self.settings.max_question_chars)
        except QuestionError as exc:
            raise gr.Error(str(exc), title=render.text("chat.question_refused")) from exc
        turns = state["turns"]
        turn_index = len(turns)
        before = render.chat_messages(turns)
        user_msg = {"role": "user", "content": render.question_message(cleaned)}
        thinking = {"role": "assistant", "content": f"*{render.esc(render.text('thinking'))}*"}
        yield [*before, user_msg, thinking], gr.skip(), None, gr.skip(), ""

        try:
            chain = get_pipeline(self.settings).chain
            answer: Answer | None = None
            streamed: list[str] = []
            last_yield = 0.0
            filters = Filters(official_only=bool(official_only))
            for item in chain.stream(cleaned, history_for(turns), filters=filters):
                if isinstance(item, Answer):
                    answer = item
                    break
                streamed.append(item)
                now = time.monotonic()
                if now - last_yield >= MIN_YIELD_INTERVAL_S:
                    last_yield = now
                    partial = {"role": "assistant", "content": render.answer_body("".join(streamed), turn_index)}
                    yield [*before, user_msg, partial], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except QuestionError as exc:
            raise gr.Error(str(exc), title=render.text("chat.question_refused")) from exc
        except IndexError_ as exc:
            raise gr.Error(f"{render.text('index_missing')} : {exc}", title=render.text("app.index_unavailable")) from exc
        except Exception as exc:  # noqa: BLE001 - the user gets a clear message, the log the details
            log.exception("answer failed")
            raise gr.Error(render.text("internal_error"), title=render.text("app.error_title")) from exc
        if answer is None:  # pragma: no cover - the chain always ends with an Answer
            raise gr.Error(render.text("internal_error"))

        data = answer.to_json()
        if not streamed and not answer.refused:
            yield from self._reveal(data, before, user_msg, turn_index)
        # The answer's JSON (the contract) plus how to show each notice: no need to read the French.
        turns.append({"question": cleaned, "answer": data, "notice_kinds": [n.kind for n in answer.notices]})
        state["target"] = None
        yield render.chat_messages(turns), render.sources_panel(turns), data, state, ""

    def _reveal(
        self, data: dict[str, Any], before: list[dict[str, str]], user_msg: dict[str, str], turn_index: int,
    ) -> Iterator[ChatOutputs]:
        """Progressive display of an answer that came in one piece (extractive generator)."""
        words = str(data.get("answer", "")).split(" ")
        step = max(1, len(words) // REVEAL_STEPS)
        titles = {c["n"]: c.get("title", "") for c in data.get("citations", [])}
        for end in range(step, len(words), step):
            time.sleep(REVEAL_DELAY_S)
            partial = {"role": "assistant", "content": render.answer_body(" ".join(words[:end]), turn_index, titles)}
            yield [*before, user_msg, partial], gr.skip(), gr.skip(), gr.skip(), gr.skip()

    # -- conversation management

    @staticmethod
    def example_text(data: gr.SelectData) -> str:
        """An example clicked in the empty chat becomes the question."""
        value = data.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    def reset(self, state: dict[str, Any] | None) -> tuple[list, str, None, dict[str, Any], str]:
        fresh = new_state()
        fresh["session"] = (state or {}).get("session") or uuid.uuid4().hex[:16]
        return [], render.sources_panel([]), None, fresh, ""

    def on_like(self, data: gr.LikeData, state: dict[str, Any] | None) -> tuple[Any, Any, dict[str, Any]]:
        """Thumbs in the chat pick the answer the feedback form refers to."""
        state = _copy(state)
        index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        state["target"] = int(index) // 2
        rating = render.text("chat.ratings.up" if data.liked else "chat.ratings.down")
        return gr.update(value=rating), gr.update(open=True), state

    def feedback(
        self, rating: str | None, tags: list[str] | None, comment: str | None, state: dict[str, Any] | None,
    ) -> tuple[str, Any, Any, Any]:
        """Append one JSON line to settings.feedback_file about the targeted (default: last) answer."""
        state = _copy(state)
        turns = state["turns"]
        choices = ratings()
        if not turns:
            raise gr.Error(render.text("feedback_no_answer"))
        if rating not in choices:
            raise gr.Error(render.text("feedback_need_rating"))
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise gr.Error(render.text("chat.comment_too_long", length=len(comment), maximum=MAX_COMMENT_CHARS))
        bad = [t for t in tags or [] if t not in reason_tags()]
        if bad:
            raise gr.Error(render.text("chat.unknown_tags", tags=", ".join(bad)))
        target = state.get("target")
        index = target if isinstance(target, int) and 0 <= target < len(turns) else len(turns) - 1
        turn = turns[index]
        answer = turn["answer"]
        record = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "session": state["session"],
            "turn": index,
            "rating": choices[rating],
            "tags": list(tags or []),
            "comment": comment,
            "question": turn["question"],
            "answer": answer.get("answer", ""),
            "refused": answer.get("refused", False),
            "generator": answer.get("generator", ""),
            "citations": [{"n": c["n"], "doc_id": c["doc_id"], "section": c["section"]}
                          for c in answer.get("citations", [])],
        }
        path: Path = self.settings.feedback_file
        with _feedback_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            append_line(path, json.dumps(record, ensure_ascii=False))
        return (render.notice_html(render.text("feedback_thanks"), "ok"), gr.update(value=None),
                gr.update(value=[]), gr.update(value=""))

    def export(self, state: dict[str, Any] | None) -> list[str]:
        """Markdown and DOCX files of the conversation, with its sources."""
        state = _copy(state)
        turns = state["turns"]
        if not turns:
            raise gr.Error(render.text("export_empty"))
        try:
            from assistant.draft.export import conversation_to_docx, conversation_to_markdown
        except ImportError as exc:
            raise gr.Error(render.text("module_missing", module="export")) from exc
        folder = session_dir("exports")
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        md_path = folder / f"conversation-doctrine-{stamp}.md"
        docx_path = folder / f"conversation-doctrine-{stamp}.docx"
        items = [{"question": t["question"], "answer": t["answer"]} for t in turns]
        atomic_write_text(md_path, conversation_to_markdown(items))
        conversation_to_docx(items, docx_path)
        return [str(md_path), str(docx_path)]
