"""Chunking: small passages on sentence boundaries, lists whole, parent section kept."""

from __future__ import annotations

from assistant.index.chunking import chunk_document, section_units
from assistant.index.documents import Section, SourceDocument
from assistant.text import split_sentences


def _doc(text: str, path: tuple[str, ...] = ("Circulaire", "Méthode")) -> SourceDocument:
    return SourceDocument(doc_id="d", title="Titre", kind="circulaire", sections=[Section(path, text)], path="d.md")


def test_sentences_respect_abbreviations() -> None:
    text = "La circulaire n° 6519/SG du 5 février 2026 s'applique. Voir l'art. 31 de la loi. Fin."
    assert split_sentences(text) == [
        "La circulaire n° 6519/SG du 5 février 2026 s'applique.", "Voir l'art. 31 de la loi.", "Fin.",
    ]


def test_passages_are_small_with_section_path_and_overlap() -> None:
    sentences = [f"Phrase numéro {i} sur la réversibilité des contrats de services numériques de l'État." for i in range(12)]
    passages, sections = chunk_document(_doc(" ".join(sentences)), max_chars=400, max_sentences=3)
    assert len(sections) == 1 and sections[0].section == "Circulaire > Méthode"
    assert all(len(p.text) <= 400 for p in passages)
    assert all(1 <= len(split_sentences(p.text)) <= 3 for p in passages)
    assert all(p.section == "Circulaire > Méthode" and p.section_id == "d#s0" for p in passages)
    # one sentence of overlap between consecutive passages
    assert split_sentences(passages[0].text)[-1] == split_sentences(passages[1].text)[0]
    covered = {s for p in passages for s in split_sentences(p.text)}
    assert covered == set(sentences)


def test_lists_stay_whole_and_in_order() -> None:
    text = "Les objectifs sont :\n\n1. la performance métier ;\n2. la souveraineté ;\n3. la sécurité.\n\nSuite du texte."
    units = section_units(text, 400)
    assert [u.is_list for u in units] == [False, True, True, True, False]
    passages, _ = chunk_document(_doc(text))
    first = passages[0].text
    assert first.index("1. la performance") < first.index("2. la souveraineté") < first.index("3. la sécurité")


def test_long_sentence_is_wrapped_and_ids_are_stable() -> None:
    long = "mot " * 300
    passages, _ = chunk_document(_doc(long.strip() + "."), max_chars=400)
    assert all(len(p.text) <= 400 for p in passages)
    again, _ = chunk_document(_doc(long.strip() + "."), max_chars=400)
    assert [p.chunk_id for p in passages] == [p.chunk_id for p in again]
    assert len({p.chunk_id for p in passages}) == len(passages)


def test_a_sentence_leaning_on_the_one_before_stays_with_it_when_asked() -> None:
    text = ("Selon un cabinet, la circulaire rappelle la règle. Ce rappel n'est rapporté que par ce commentaire. "
            "Une autre phrase suit.")
    assert [u.text for u in section_units(text, 10_000, keep_leaning=True)] == [
        "Selon un cabinet, la circulaire rappelle la règle. Ce rappel n'est rapporté que par ce commentaire.",
        "Une autre phrase suit.",
    ]
    # The index keeps its short passages; a new paragraph does not lean on the one before.
    assert len(section_units(text, 10_000)) == 3
    assert len(section_units("Première phrase.\n\nCette fiche rassemble la presse.", 10_000, keep_leaning=True)) == 2
