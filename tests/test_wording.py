"""The wording catalogue (prompts/wording/*.yaml): every key the code asks for exists, and the code
takes no decision on the French of its own messages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from assistant.answer.types import Notice
from assistant.config import PROJECT_ROOT
from assistant.ui import render
from assistant.wording import WordingError, load_wording

PACKAGE = PROJECT_ROOT / "assistant"
ACCESSORS = {"text", "texts", "mapping"}


def _literal_keys(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literal_keys(node.body) + _literal_keys(node.orelse)
    return []  # built at run time (f-string): checked by the tests that exercise it


def _keys_used() -> list[tuple[str, str]]:
    """(file:line, full key) of every literal key passed to a catalogue accessor."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        in_ui = path.parent.name == "ui"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in ACCESSORS:
                ui = isinstance(func.value, ast.Name) and func.value.id == "render"
            elif isinstance(func, ast.Name) and in_ui and func.id in ("t", "text", "texts"):
                ui = True
            else:
                continue
            for key in _literal_keys(node.args[0]):
                if ui:
                    key = f"ui.{key}"
                if key.split(".", 1)[0] in ("answer", "draft", "ui"):
                    found.append((f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}", key))
    return found


def test_every_key_used_by_the_code_is_in_the_catalogue() -> None:
    wording = load_wording()
    used = _keys_used()
    assert len(used) > 150, "the scan no longer sees the accessors"
    missing = []
    for where, key in used:
        try:
            wording._get(key)
        except WordingError:
            missing.append(f"{where} {key}")
    assert not missing, "\n".join(missing)


def test_accessors_check_types_and_placeholders() -> None:
    wording = load_wording()
    assert wording.text("answer.refused_reference", reference="annexe 7").count("« annexe 7 »") == 1
    assert wording.texts("ui.examples") and wording.mapping("ui.kind_labels")["loi"] == "Loi"
    with pytest.raises(WordingError):
        wording.text("ui.examples")  # a list, not a text
    with pytest.raises(WordingError):
        wording.text("answer.index_interrupted")  # {generation} not given
    with pytest.raises(WordingError):
        wording.text("answer.nothing_like_this")


def test_no_decision_on_the_french_of_our_messages() -> None:
    """Notices carry their kind; « à compléter » items are listed by the draft, not found in its text."""
    marker = load_wording().text("draft.to_complete_marker", label="x").split("x")[0].strip()
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert marker not in source, f"{path}: the « to complete » marker is wording, not code"
    answer = {"answer": "Texte [1].", "citations": [], "refused": False,
              "notices": ["Une indexation a été interrompue.", "Les sources sont en français."],
              "citation_problems": ["[2] citation absente du passage c"]}
    html = render.answer_message(answer, 0, ["warning", "info"])
    assert html.count('class="answer-warning"') == 2 and html.count('class="answer-note"') == 1
    kinds = [n.kind for n in (Notice("warning", "index_interrupted", "x"), Notice("info", "english_notice", "y"))]
    assert render.answer_notes(answer, kinds)[0] == ("warning", "Une indexation a été interrompue.")


def test_one_catalogue_folder() -> None:
    folder = PROJECT_ROOT / "prompts" / "wording"
    assert {p.stem for p in folder.glob("*.yaml")} == {"answer", "draft", "ui"}
    assert not list(PACKAGE.rglob("*.yaml")), "French wording lives in prompts/wording/"
    assert not (PROJECT_ROOT / "prompts" / "messages.yaml").exists()
    assert isinstance(load_wording(Path(folder.parent)).mapping("draft.buyer_labels"), dict)
