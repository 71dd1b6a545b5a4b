"""The shipped knowledge base: contract, sourcing, structure, and criteria.yaml references."""

from __future__ import annotations

import re

import pytest

from assistant.config import PROJECT_ROOT
from assistant.draft.catalogue import CRITERION_IDS, ROUTE_IDS, load_catalog
from assistant.index.documents import load_knowledge

KNOWLEDGE = PROJECT_ROOT / "knowledge"
REPORT = load_knowledge(KNOWLEDGE)
DOCS = {d.doc_id: d for d in REPORT.documents}


def test_every_file_is_valid_and_ids_unique() -> None:
    assert REPORT.skipped == []
    files = [p for p in KNOWLEDGE.rglob("*.md") if p.name != "README.md"]
    assert len(DOCS) == len(files) >= 28


@pytest.mark.parametrize("doc_id", sorted(DOCS))
def test_document_is_sourced_and_has_no_empty_section(doc_id: str) -> None:
    doc = DOCS[doc_id]
    assert doc.sources and all(s.url.startswith(("https://", "http://")) and s.confidence for s in doc.sources)
    assert all(s.text.strip() for s in doc.sections)
    raw = open(doc.path, encoding="utf-8").read()  # noqa: PTH123
    body = raw.split("---", 2)[2]
    headings = re.findall(r"^(#{2,6}) (.+)$", body, re.M)
    assert headings, doc_id
    # a heading directly followed by another heading of the same or higher level is an empty section
    lines = [ln for ln in body.splitlines() if ln.strip()]
    for current, following in zip(lines, lines[1:], strict=False):
        if current.startswith("#") and following.startswith("#"):
            assert len(following.split()[0]) > len(current.split()[0]), f"{doc_id}: section vide « {current} »"
    assert not re.search(r"^# ", body, re.M), f"{doc_id}: titre de niveau 1 dans le corps"


def test_press_documents_are_marked_and_circular_gaps_are_explicit() -> None:
    presse = [d for d in DOCS.values() if d.kind == "presse"]
    assert len(presse) >= 4
    circular = DOCS["circulaire-2026-achat-numerique"]
    labels = [s.label for s in circular.sections]
    assert any("Ce qui n'est pas établi" in label for label in labels)
    text = " ".join(s.text for s in circular.sections)
    assert "6519/SG" in text and "13 février 2026" in text
    assert "texte intégral" in text


def test_criteria_catalog_matches_contract_and_corpus() -> None:
    catalog = load_catalog(KNOWLEDGE)
    assert catalog.criterion_ids == CRITERION_IDS
    assert set(catalog.route_ids) == set(ROUTE_IDS)
    for item in [*catalog.criteria, *catalog.routes]:
        for ref in item.references:
            assert ref.doc in DOCS, f"{item.id}: document inconnu {ref.doc}"
            if ref.section:
                labels = [s.label for s in DOCS[ref.doc].sections] + [
                    " > ".join(s.path[: i + 1]) for s in DOCS[ref.doc].sections for i in range(len(s.path))
                ]
                assert any(lbl == ref.section or lbl.endswith(f" > {ref.section}") for lbl in labels), (
                    f"{item.id}: section « {ref.section} » absente de {ref.doc}"
                )
    for criterion in catalog.criteria:
        assert criterion.evidence_to_request, criterion.id
        for related in getattr(criterion, "related", ()):
            assert related in DOCS, f"{criterion.id}: related {related} inconnu"


def test_neighbouring_fields_are_fields_the_corpus_does_not_treat() -> None:
    """The lexicon's neighbouring fields refuse questions that use their words: a word the corpus
    treats (in more than two documents) would refuse in-scope questions."""
    from assistant.answer.lexicon import load_lexicon
    from assistant.text import fold

    lexicon = load_lexicon(PROJECT_ROOT / "knowledge")
    assert {field for _, field in lexicon.neighbours} >= {"la fiscalité", "la comptabilité publique et budgétaire"}
    texts = [" " + " ".join(re.findall(r"[0-9a-z]+", fold(p.read_text(encoding="utf-8")))) + " "
             for p in (PROJECT_ROOT / "knowledge").rglob("*.md")]
    for term, _ in lexicon.neighbours:
        assert sum(f" {term} " in t for t in texts) <= 2, term


def test_neighbouring_terms_added_without_review_of_cases_match_as_written_and_are_absent_from_the_corpus() -> None:
    """The terms a sub-session added (``exact: true``) name their field only as written: a word of another
    stem family (« licence » for « licenciement », « receives » for « receivership ») names nothing; and
    the corpus never writes them."""
    from assistant.answer.lexicon import load_lexicon
    from assistant.text import fold

    lexicon = load_lexicon(PROJECT_ROOT / "knowledge")
    assert len(lexicon.exact) > 500
    texts = [" " + " ".join(re.findall(r"[0-9a-z]+", fold(p.read_text(encoding="utf-8")))) + " "
             for p in (PROJECT_ROOT / "knowledge").rglob("*.md")]
    for term in lexicon.exact:
        assert not any(f" {term} " in t for t in texts), term
    fields = dict((field, term) for term, field in lexicon.neighbour_fields(
        "Who receives the request, and can the licence be renewed?"))
    assert not fields, fields
    named = {field for _, field in lexicon.neighbour_fields("Notre prestataire est en redressement judiciaire : que faire ?")}
    assert any("procédures collectives" in f for f in named), named


def test_a_neighbouring_field_is_named_by_an_inflection_of_its_word_not_by_another_word_of_its_family() -> None:
    from assistant.answer.lexicon import load_lexicon

    lexicon = load_lexicon(PROJECT_ROOT / "knowledge")

    def fields(text: str) -> set[str]:
        return {field for _, field in lexicon.neighbour_fields(text)}

    assert "la comptabilité publique et budgétaire" in fields("Les licences, on les amortit sur combien d'années ?")
    assert "la comptabilité publique et budgétaire" in fields("On les impute sur quel programme ?")
    assert not fields("Quel argument Bercy a-t-il avancé pour garder Visio ?")  # not « avancement »
    assert not fields("Pourquoi l'État ne s'est pas contenté d'acheter Teams ?")  # not « contentieux »
