"""Markdown and DOCX exports of drafts and conversations, reopened and checked."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from xml.dom import minidom

import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.draft.drafter import Draft, Drafter, load_request
from assistant.draft.export import (
    conversation_to_docx,
    conversation_to_markdown,
    draft_to_docx,
    draft_to_markdown,
)

EXAMPLE = PROJECT_ROOT / "examples" / "draft-rh-sur-etagere.yaml"


@pytest.fixture(scope="module")
def draft(pipeline, corpus_settings: Settings) -> Draft:  # noqa: ANN001
    request = load_request(EXAMPLE).model_copy(update={"entity": "Ministère <test> & « essai » 🙂"})
    return Drafter(corpus_settings, pipeline.searcher).draft(request)


@pytest.fixture(scope="module")
def turns(pipeline) -> list[dict]:  # noqa: ANN001
    questions = [
        "Dans quel ordre dois-je examiner les options avant d'acheter une solution numérique ?",
        "Quelle est la meilleure recette de tarte tatin ?",
    ]
    return [{"question": q, "answer": pipeline.chain.invoke(q).to_json()} for q in questions]


def _well_formed(path: Path) -> None:
    """Every XML part of the package parses: what Word and LibreOffice check first."""
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
        names = package.namelist()
        assert "word/document.xml" in names and "[Content_Types].xml" in names
        for name in names:
            if name.endswith((".xml", ".rels")):
                minidom.parseString(package.read(name))


def _expected_headings(draft: Draft) -> list[str]:
    route = f"1. Justification de la voie retenue : {draft.route_label}"
    sections = [f"{i}. {s.title}" for i, s in enumerate(draft.sections, start=2)]
    notices = ["Avertissements"] if draft.notices or draft.problems else []
    return [route, *sections, *notices, "Sources", "Provenance"]


def test_draft_markdown(draft: Draft) -> None:
    text = draft_to_markdown(draft)
    assert text.startswith("# Note de justification du choix de la solution numérique\n")
    assert re.findall(r"^## (.+)$", text, flags=re.MULTILINE) == _expected_headings(draft)
    rows = re.findall(r"^\| \[(\d+)\] \| ([^|]+) \|", text, flags=re.MULTILINE)
    assert [int(n) for n, _ in rows] == [c.n for c in draft.sources()]
    assert [doc.strip() for _, doc in rows] == [c.doc_id for c in draft.sources()]
    body = text.split("## Sources")[0]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", body)} == {c.n for c in draft.sources()}
    assert "**Pièces à obtenir / points à vérifier**" in text and draft.provenance["corpus_version"] in text
    assert "Ministère &lt;test> &amp; « essai » 🙂" in text  # literal in every Markdown renderer, never HTML


def test_draft_docx_reopens_with_headings_paragraphs_and_sources(draft: Draft, tmp_path: Path) -> None:
    from docx import Document

    path = draft_to_docx(draft, tmp_path / "sortie" / "note.docx")
    _well_formed(path)
    doc = Document(str(path))
    assert doc.core_properties.title == draft.title
    assert doc.core_properties.author.startswith("Doctrine")
    headings = [(p.style.name, p.text) for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[0] == ("Title", draft.title)
    assert [text for style, text in headings[1:]] == _expected_headings(draft)
    assert all(style == "Heading 1" for style, _ in headings[1:])
    texts = [p.text for p in doc.paragraphs]
    for section in draft.all_sections():
        for paragraph in section.paragraph.split("\n\n"):
            assert paragraph in texts
        for item in [*section.evidence_to_request, *section.to_complete]:
            assert item in texts
    assert "Objet de l'achat : " + draft.request.object in texts
    assert "Entité acheteuse : Ministère <test> & « essai » 🙂" in texts
    cited = {int(n) for t in texts for n in re.findall(r"\[(\d+)\]", t)}
    assert cited == {c.n for c in draft.sources()}
    assert len(doc.tables) == 1
    table = doc.tables[0]
    assert [c.text for c in table.rows[0].cells] == ["n°", "Identifiant", "Titre", "Section", "Date", "URL"]
    body = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert body == [
        [f"[{c.n}]", c.doc_id, c.title, c.section, c.date or "", c.source_url] for c in draft.sources()
    ]
    provenance = texts[texts.index("Provenance") + 1]
    assert draft.provenance["generator"] in provenance and draft.provenance["index_generation"] in provenance


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice n'est pas installé")
def test_draft_docx_opens_in_libreoffice(draft: Draft, tmp_path: Path) -> None:
    path = draft_to_docx(draft, tmp_path / "note.docx")
    result = subprocess.run(
        ["soffice", "--headless", "--norestore", "--convert-to", "txt:Text", "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=180, env=os.environ | {"HOME": str(tmp_path)}, check=False,
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "note.txt").read_text(encoding="utf-8-sig")
    for heading in _expected_headings(draft):
        assert heading in text
    assert draft.sources()[0].doc_id in text and "[1]" in text


def test_conversation_markdown(turns: list[dict]) -> None:
    text = conversation_to_markdown(turns)
    assert re.findall(r"^## (.+)$", text, flags=re.MULTILINE) == ["Question 1", "Question 2"]
    answered, refused = turns[0]["answer"], turns[1]["answer"]
    assert not answered["refused"] and refused["refused"]
    assert "**Non couvert par les textes indexés**" in text
    for c in answered["citations"]:
        assert f"[{c['n']}] {c['title']}" in text
    assert answered["answer"].splitlines()[0] in text


def test_conversation_docx(turns: list[dict], tmp_path: Path) -> None:
    from docx import Document

    hostile = {"question": "Texte\x0b avec caractère de contrôle", "answer": {"answer": "**Gras** et\x00 suite"}}
    path = conversation_to_docx([*turns, hostile], tmp_path / "conversation.docx")
    _well_formed(path)
    doc = Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["Question 1", "Question 2", "Question 3"]
    texts = [p.text for p in doc.paragraphs]
    assert turns[0]["question"] in texts and "Texte avec caractère de contrôle" in texts
    bold = [r.text for p in doc.paragraphs for r in p.runs if r.bold]
    assert "Gras" in bold and "Gras et suite" in texts
    answered = turns[0]["answer"]
    assert len(doc.tables) == 1  # only the answered question has sources
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows[1:]]
    assert [r[0] for r in rows] == [f"[{c['n']}]" for c in answered["citations"]]
    assert [r[3] for r in rows] == [c["quote"] for c in answered["citations"]]
