"""Input checks shared by every entry point (CLI, app, batch): clear French messages, no crash."""

from __future__ import annotations

from assistant.text import clean_control_chars
from assistant.wording import Wording, load_wording


class QuestionError(ValueError):
    """A question that cannot be processed; the message is shown to the user as is."""


def check_question(question: object, max_chars: int = 2000, wording: Wording | None = None) -> str:
    """Return the cleaned question or raise ``QuestionError`` with a user-facing message."""
    wording = wording or load_wording()
    if not isinstance(question, str):
        raise QuestionError(wording.text("answer.question_not_text"))
    cleaned = clean_control_chars(question).strip()
    if not cleaned:
        raise QuestionError(wording.text("answer.question_empty"))
    if len(cleaned) > max_chars:
        raise QuestionError(wording.text("answer.question_too_long", length=len(cleaned), maximum=max_chars))
    if not any(ch.isalnum() for ch in cleaned):
        raise QuestionError(wording.text("answer.question_no_word"))
    return cleaned
