"""The extractive generator on hand-made passages: which sentences it quotes, and from where."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.answer.citations import quote_in_passage
from assistant.answer.generators import ExtractiveGenerator
from assistant.answer.types import Hit
from assistant.index.chunking import SectionRecord
from tests.conftest import make_settings

SECTION = SectionRecord(
    "guide#s1", "guide", "Guide > Critères",
    "L'objectif de disponibilité porte sur la solution achetée.\n\n"
    "La disponibilité s'apprécie au regard du délai de mise à disposition de la solution.\n\n"
    "Une solution disponible sur étagère se déploie plus vite qu'un développement.",
)
OTHER = SectionRecord(
    "guide#s2", "guide", "Guide > Liste",
    "Le guide fixe neuf objectifs pour chaque achat.\n\nChaque objectif est apprécié au regard du besoin.",
)
SECTIONS = {s.section_id: s for s in (SECTION, OTHER)}


def _hit(section: SectionRecord, text: str, score: float, chunk: str) -> Hit:
    return Hit.from_meta({"title": "Guide", "kind": "guide"}, chunk_id=chunk, doc_id=section.doc_id,
                         section=section.section, section_id=section.section_id, text=text, score=score)


def _generator(tmp_path: Path, **options: object) -> ExtractiveGenerator:
    return ExtractiveGenerator(make_settings(tmp_path), **options)  # type: ignore[arg-type]


def test_a_fact_cut_off_by_the_passage_boundary_is_quoted_from_its_section(tmp_path: Path) -> None:
    """The passage holds the first sentence only; the fact asked for is in the next one."""
    hit = _hit(SECTION, "L'objectif de disponibilité porte sur la solution achetée.", 0.9, "c1")
    question = "Quel délai de mise à disposition faut-il évaluer ?"

    with_section = _generator(tmp_path).generate(question, [hit], SECTIONS.get)
    assert "délai de mise à disposition" in with_section.text
    for citation in with_section.citations:
        assert quote_in_passage(citation.quote, citation.passage)  # the section is the cited passage

    passage_only = _generator(tmp_path, section_context=False).generate(question, [hit], SECTIONS.get)
    assert "délai de mise à disposition" not in passage_only.text


def test_a_section_is_offered_once_even_when_two_of_its_passages_are_retrieved(tmp_path: Path) -> None:
    first = _hit(SECTION, "L'objectif de disponibilité porte sur la solution achetée.", 0.9, "c1")
    second = _hit(SECTION, "Une solution disponible sur étagère se déploie plus vite qu'un développement.", 0.8, "c2")
    generated = _generator(tmp_path).generate("Que recouvre l'objectif de disponibilité ?", [first, second],
                                               SECTIONS.get)
    bodies = [line for line in generated.text.splitlines() if line.strip() and not line.startswith("Sources")]
    assert len(bodies) == len(set(bodies))
    assert generated.text.count("se déploie plus vite") == 1


def test_the_rare_subject_word_outweighs_the_common_one(tmp_path: Path) -> None:
    """« disponibilité » is rare, « objectif » is everywhere: the sentence on availability leads."""
    common = _hit(OTHER, "Le guide fixe neuf objectifs pour chaque achat.", 0.9, "c3")
    rare = _hit(SECTION, "La disponibilité s'apprécie au regard du délai de mise à disposition de la solution.", 0.85,
                "c4")
    idf = {"objectif": 0.2, "disponibil": 3.0}.get
    question = "Que recouvre l'objectif de disponibilité ?"

    weighted = _generator(tmp_path, section_context=False).generate(
        question, [common, rare], SECTIONS.get, idf=lambda t: idf(t, 1.0))
    assert weighted.text.startswith("**La disponibilité s'apprécie"), weighted.text

    flat = _generator(tmp_path, section_context=False, idf_weighting=False).generate(
        question, [common, rare], SECTIONS.get, idf=lambda t: idf(t, 1.0))
    assert flat.text.splitlines()[0].startswith("**Le guide fixe neuf objectifs"), flat.text


def test_words_no_passage_holds_do_not_change_the_choice(tmp_path: Path) -> None:
    """A buyer's tool name (absent from every passage) must not reorder what is quoted."""
    hits = [_hit(OTHER, "Le guide fixe neuf objectifs pour chaque achat.", 0.9, "c3"),
            _hit(SECTION, "La disponibilité s'apprécie au regard du délai de mise à disposition de la solution.", 0.85,
                 "c4")]
    plain = _generator(tmp_path).generate("Que recouvre l'objectif de disponibilité ?", hits, SECTIONS.get)
    named = _generator(tmp_path).generate("Que recouvre l'objectif de disponibilité pour Zorglubix ?", hits,
                                          SECTIONS.get)
    assert plain.text == named.text


def test_a_sentence_is_about_its_headings(tmp_path: Path) -> None:
    """The sentence never says « disponibilité »; its heading does, so it answers the question."""
    headed = SectionRecord("guide#s3", "guide", "Objectifs > Disponibilité",
                           "Il faut évaluer le délai dans lequel la solution peut être livrée aux utilisateurs.")
    other = SectionRecord("guide#s4", "guide", "Méthode > Achat",
                          "Le guide décrit la méthode d'achat et ses objectifs.")
    sections = {s.section_id: s for s in (headed, other)}
    hits = [_hit(other, other.text, 0.9, "c5"), _hit(headed, headed.text, 0.7, "c6")]
    generated = _generator(tmp_path).generate("Que recouvre l'objectif de disponibilité ?", hits, sections.get,
                                              idf=lambda _t: 1.0)
    assert generated.text.startswith("**Il faut évaluer le délai"), generated.text



def test_an_english_question_is_matched_through_its_french_hint(tmp_path: Path) -> None:
    """English words match no French sentence; the glossary's French words (the hint) do."""
    hits = [_hit(OTHER, "Le guide fixe neuf objectifs pour chaque achat.", 0.9, "c3"),
            _hit(SECTION, "La disponibilité s'apprécie au regard du délai de mise à disposition de la solution.", 0.85,
                 "c4")]
    question = "What does availability cover?"
    plain = _generator(tmp_path, section_context=False).generate(question, hits, SECTIONS.get)
    assert plain.text.startswith("**Le guide fixe neuf objectifs"), plain.text
    hinted = _generator(tmp_path, section_context=False).generate(question, hits, SECTIONS.get, hint="disponibilité")
    assert hinted.text.startswith("**La disponibilité s'apprécie"), hinted.text


def test_one_document_telling_a_fact_twice_does_not_take_two_places(tmp_path: Path) -> None:
    from assistant.index.chunking import Unit

    said = "Le seuil de dispense est de 60 000 € HT pour les fournitures et services."
    again = "Pour les services et les fournitures, le seuil de dispense est de 60 000 € HT."
    other = "La réversibilité doit être prévue dès le lancement du marché."
    hits = [_hit(SECTION, said, 0.9, "c1"), _hit(SECTION, again, 0.8, "c2")]
    scored = [(1.0, 0, 0, Unit(said, False)), (0.95, 1, 0, Unit(again, False)), (0.9, 1, 1, Unit(other, False))]
    order = [u.text for _, _, _, u in _generator(tmp_path)._novel_first(scored, 1.0, hits)]
    assert order.index(other) < order.index(again)  # the new fact comes before the same one retold
    plain = [u.text for _, _, _, u in _generator(tmp_path, redundancy=0.0)._novel_first(scored, 1.0, hits)]
    assert plain == [said, again, other]


def test_a_fact_two_documents_word_differently_is_one_bullet_with_both_citations(tmp_path: Path) -> None:
    said = ("Le vade-mecum de la DINUM précise que l'article 31 de la loi SREN ne s'applique qu'aux données "
            "d'une sensibilité particulière traitées par un système d'information de l'État.")
    retold = "Selon le vade-mecum, l'article 31 de la loi SREN ne joue que pour les données d'une sensibilité particulière."
    dated = "Selon la presse, l'article 31 de la loi SREN laisse jusqu'au 8 juin 2026 aux contrats en cours pour s'y conformer."
    first = SectionRecord("vademecum#s1", "vademecum", "Vade-mecum > Article 31", said)
    second = SectionRecord("presse#s1", "presse", "Presse > SREN", f"{retold}\n\n{dated}")
    sections = {s.section_id: s for s in (first, second)}
    hits = [_hit(first, said, 0.9, "v1"), _hit(second, f"{retold}\n\n{dated}", 0.85, "p1")]
    generated = _generator(tmp_path).generate("À quelles données l'article 31 de la loi SREN s'applique-t-il ?",
                                              hits, sections.get)
    assert "ne joue que pour" not in generated.text, generated.text  # said once…
    bullet = next(line for line in generated.text.splitlines() if "ne s'applique qu'aux" in line)
    assert {c.doc_id for c in generated.citations} == {"vademecum", "presse"}
    assert len(set(re.findall(r"\[\d+\]", bullet))) == 2, generated.text  # …with both sources
    assert "8 juin 2026" in generated.text  # a figure of its own is another fact


def test_a_draft_is_tagged_on_what_it_proposes_not_on_the_law_it_recalls(tmp_path: Path) -> None:
    draft = SectionRecord(
        "revision#s1", "revision", "Révision > État du droit",
        "Le droit en vigueur interdit de discriminer les candidats selon leur nationalité.\n\n"
        "La Commission propose une préférence européenne pour certains achats numériques.",
    )
    law = "Le droit en vigueur interdit de discriminer les candidats selon leur nationalité."
    hit = Hit.from_meta({"title": "Révision des directives", "kind": "guide", "status": "projet"},
                        chunk_id="r1", doc_id="revision", section=draft.section, section_id=draft.section_id,
                        text=law, score=0.9)
    note = "*(projet de texte, non adopté à ce jour selon les sources)*"
    recalled = _generator(tmp_path, section_context=False).generate(
        "Peut-on discriminer les candidats selon leur nationalité ?", [hit], {draft.section_id: draft}.get)
    assert note not in recalled.text.split("Sources :")[0]  # the law in force is not called a draft
    assert note in recalled.text.split("Sources :")[1]  # the sources line says what the document is
    proposed = _generator(tmp_path).generate(
        "Que propose la Commission sur la préférence européenne ?", [hit], {draft.section_id: draft}.get)
    assert note in proposed.text.split("Sources :")[0]
