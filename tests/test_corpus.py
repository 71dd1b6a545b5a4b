"""Corpus loading: knowledge front matter contract and user-file loaders."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from assistant.index.documents import (
    FrontMatterError,
    LoadError,
    load_knowledge,
    load_knowledge_file,
    markdown_sections,
)
from assistant.index.loaders import load_user_file, load_user_files
from tests.conftest import SMALL_CORPUS, write_corpus

GOOD = SMALL_CORPUS["circulaire-test.md"]


def test_markdown_sections_keep_heading_path() -> None:
    sections = markdown_sections("## A\n\ntexte a\n\n### B\n\ntexte b\n\n## C\n\ntexte c\n")
    assert [s.label for s in sections] == ["A", "A > B", "C"]
    assert sections[1].text == "texte b"


def test_knowledge_file_loads_with_metadata(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    doc = load_knowledge_file(tmp_path / "circulaire-test.md")
    assert doc.doc_id == "circulaire-test"
    assert doc.kind == "circulaire"
    assert doc.reference == "n° 0000/SG"
    assert doc.source_url == "https://example.org/circulaire"
    assert [s.label for s in doc.sections] == ["Méthode en trois temps", "Réversibilité"]


@pytest.mark.parametrize(
    ("mutation", "field"),
    [
        (lambda t: t.replace("kind: circulaire", "kind: roman"), "kind"),
        (lambda t: t.replace("date: 2026-02-05\n", "date: pas-une-date\n"), "date"),
        (lambda t: t.replace("    confidence: officiel", "    confidence: rumeur"), "sources.0.confidence"),
        (lambda t: t.replace('title: "Circulaire de test sur les achats numériques"\n', ""), "title"),
        (lambda t: t.replace("id: circulaire-test", "id: Mauvais_Id"), "id"),
        (lambda t: t.replace("sources:\n  - url: https://example.org/circulaire\n    confidence: officiel\n",
                             "sources: []\n"), "sources"),
        (lambda t: t.replace("kind: circulaire", "kind: circulaire\nauteur: moi"), "auteur"),
    ],
)
def test_front_matter_errors_name_file_and_field(tmp_path: Path, mutation, field: str) -> None:  # noqa: ANN001
    path = tmp_path / "circulaire-test.md"
    path.write_text(mutation(GOOD), encoding="utf-8")
    with pytest.raises(FrontMatterError) as info:
        load_knowledge_file(path)
    assert info.value.field == field
    assert "circulaire-test.md" in str(info.value)
    assert field in str(info.value)


def test_broken_yaml_and_unclosed_block(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\nid: [unclosed\n---\n## T\n\ntexte\n", encoding="utf-8")
    with pytest.raises(FrontMatterError, match="bad.md"):
        load_knowledge_file(bad)
    open_block = tmp_path / "open.md"
    open_block.write_text("---\nid: open\n## T\n\ntexte\n", encoding="utf-8")
    with pytest.raises(FrontMatterError, match="non fermé"):
        load_knowledge_file(open_block)


def test_load_knowledge_skips_bad_files_and_duplicates(tmp_path: Path) -> None:
    write_corpus(tmp_path)
    (tmp_path / "casse.md").write_text("---\nid: casse\n---\n## T\n\nx\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "circulaire-test.md").write_text(GOOD, encoding="utf-8")
    report = load_knowledge(tmp_path)
    assert sorted(d.doc_id for d in report.documents) == ["ancien-texte", "circulaire-test"]
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert "casse.md" in reasons and "title" in reasons["casse.md"]
    assert "déjà utilisé" in reasons["circulaire-test.md"]


# ------------------------------------------------------------------ user files


def _docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Note de service", level=1)
    document.add_paragraph("La réversibilité du contrat est exigée par la direction des achats.")
    document.add_heading("Hébergement", level=2)
    document.add_paragraph("Les données sensibles sont hébergées sur un cloud qualifié SecNumCloud.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _pdf_bytes(text: str, encrypt: str | None = None) -> bytes:
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    })
    stream = DecodedStreamObject()
    stream.set_data(f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    if encrypt:
        writer.encrypt(encrypt)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_each_format_gives_the_same_document_type(tmp_path: Path) -> None:
    files = {
        "note.md": "# Note interne\n\n## Réversibilité\n\nLe plan de réversibilité est exigé.\n",
        "note.txt": "Le plan de réversibilité est exigé dans tous les marchés.\n",
        "page.html": "<html><head><title>Page</title><script>alert(1)</script></head><body><h1>Titre</h1>"
                     "<p>Le plan de <b>réversibilité</b> est exigé.</p><h2>Suite</h2><ul><li>export CSV</li></ul></body></html>",
        "note.docx": _docx_bytes(),
        "note.pdf": _pdf_bytes("Le plan de reversibilite est exige."),
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        doc = load_user_file(path)
        assert doc.origin == "user" and doc.kind == "utilisateur"
        assert doc.doc_id.startswith("user-")
        text = " ".join(s.text for s in doc.sections)
        assert "versibilit" in text, name
    html = load_user_file(tmp_path / "page.html")
    assert "alert" not in " ".join(s.text for s in html.sections)
    assert [s.label for s in html.sections][:2] == ["Titre", "Titre > Suite"]
    docx_doc = load_user_file(tmp_path / "note.docx")
    assert any("Hébergement" in s.label for s in docx_doc.sections)


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("vide.txt", b"", "vide"),
        ("image.png", b"\x89PNG\r\n", "non pris en charge"),
        ("faux.md", b"\x00\x01\x02binary\x00" * 50, "binaire"),
        ("casse.pdf", b"%PDF-1.4 ceci n'est pas un pdf", "PDF"),
        ("casse.docx", b"PK\x03\x04 pas un zip", "DOCX"),
        ("chiffre.pdf", None, "chiffré"),
        ("front.md", b"---\ntitle: [oops\n---\ntexte\n", "front matter"),
    ],
)
def test_bad_files_are_reported_by_name(tmp_path: Path, name: str, content: bytes | None, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content if content is not None else _pdf_bytes("secret", encrypt="motdepasse"))
    with pytest.raises(LoadError) as info:
        load_user_file(path)
    assert name in str(info.value)
    assert reason in info.value.reason


def test_batch_load_skips_bad_and_keeps_good(tmp_path: Path) -> None:
    good = tmp_path / "bon fichier é.txt"
    good.write_text("La réversibilité est exigée.", encoding="utf-8")
    bad = tmp_path / "mauvais.pdf"
    bad.write_bytes(b"not a pdf")
    report = load_user_files([good, bad, tmp_path / "absent.txt"])
    assert [d.doc_id for d in report.documents] == ["user-bon-fichier-e-txt"]
    assert sorted(Path(s.path).name for s in report.skipped) == ["absent.txt", "mauvais.pdf"]


def test_non_utf8_text_is_decoded_and_size_limit_applies(tmp_path: Path) -> None:
    latin = tmp_path / "latin.txt"
    latin.write_bytes("Réversibilité exigée à l'échéance.".encode("cp1252"))
    assert "Réversibilité" in load_user_file(latin).sections[0].text
    with pytest.raises(LoadError, match="volumineux"):
        load_user_file(latin, max_bytes=10)


def test_deeply_nested_html_does_not_crash(tmp_path: Path) -> None:
    path = tmp_path / "profond.html"
    path.write_text("<div>" * 50_000 + "<p>Texte profond sur la réversibilité.</p>" + "</div>" * 50_000,
                    encoding="utf-8")
    doc = load_user_file(path)
    assert "réversibilité" in " ".join(s.text for s in doc.sections)


def test_zip_named_docx_without_document_is_rejected(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "x")
    path = tmp_path / "vide.docx"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(LoadError, match="vide.docx"):
        load_user_file(path)
