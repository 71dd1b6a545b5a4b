"""Input checks shared by every entry point (CLI, app, batch): clear French messages, no crash."""

from __future__ import annotations

from assistant.text import clean_control_chars


class QuestionError(ValueError):
    """A question that cannot be processed; the message is shown to the user as is."""


def check_question(question: object, max_chars: int = 2000) -> str:
    """Return the cleaned question or raise ``QuestionError`` with a user-facing message."""
    if not isinstance(question, str):
        raise QuestionError("La question doit être du texte.")
    cleaned = clean_control_chars(question).strip()
    if not cleaned:
        raise QuestionError("La question est vide : saisissez une question en français.")
    if len(cleaned) > max_chars:
        raise QuestionError(
            f"La question est trop longue ({len(cleaned)} caractères, maximum {max_chars}). "
            "Résumez-la ou découpez-la en plusieurs questions."
        )
    if not any(ch.isalnum() for ch in cleaned):
        raise QuestionError("La question ne contient aucun mot : reformulez-la.")
    return cleaned
