"""Certainty of the shipped knowledge base, sentence by sentence.

Answers and drafted justifications quote corpus sentences word for word, so a sentence must not sound
surer than its source (fact base ``shared/research/doctrine-facts.md``, levels OFFICIEL / PRESSE / INFÉRÉ):

(a) a sentence of an « En bref » section or of ``criteria.yaml`` that says what the circular, the doctrine or
    a rule requires carries an attribution (« selon », « d'après »…) or an explicit hedge; for texts other than
    the 2026 circular and the press-known rules, an ``officiel`` source in the note is enough;
(b) a note whose main subject is a bill or a proposal carries the matching ``status`` and says so in « En bref »;
(c) no sentence puts a 2026 date already past (corpus review date) with a future-tense verb;
(d) every note has ``authority`` and a « Ce qui n'est pas établi » section.
(e) every check is also run on small synthetic bad examples, so that it can fail.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import pytest
import yaml

from assistant.config import PROJECT_ROOT
from assistant.index.documents import SourceDocument, doc_in_force, load_knowledge

KNOWLEDGE = PROJECT_ROOT / "knowledge"
# Date of the last review of the corpus against the fact base: dates before it are in the past.
CORPUS_REVIEW_DATE = date(2026, 11, 30)
GAPS_HEADING = "Ce qui n'est pas établi"

# ---------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[«(A-ZÀÂÉÈÊÎÔÛÇ])")


def sentences(text: str) -> Iterator[str]:
    """Sentences of a Markdown block: list items and lines first, then sentence ends."""
    for line in text.splitlines():
        line = line.strip().lstrip("-*").strip()
        if line:
            yield from (s.strip() for s in _SENTENCE_END.split(line) if s.strip())


# ---------------------------------------------------------------- (a) attribution

_REQUIRES = re.compile(
    r"\b(?:exigen?t?|exigeait|imposen?t?|imposait|obligen?t?|doi(?:t|vent)|devai(?:t|ent)|demanden?t?|demandait"
    r"|prévoi(?:t|ent)|prévoyait|interdi(?:t|sent)|(?<!sous )réserven?t?|réservait|n'admet|admet|réaffirme"
    r"|rappelle|requiert|recommande|encourage)\b",
    re.IGNORECASE,
)
# the 2026 circular (known only from the press) and the rules known only through the press
_PRESS_KNOWN = re.compile(
    r"6519/SG|\bla circulaire\b(?! n° (?:6282|6404|5608|6264))|doctrine d'achat numérique|\bla doctrine\b(?! «)"
    r"|règle R(?:4|9)\b|\bR9\b|article 31 de la loi SREN|^(?!.*\bR1\b).*doctrine « cloud au centre »",
    re.IGNORECASE,
)
# any normative source as subject
_RULE = re.compile(
    r"\b(?:circulaire|doctrine|règle|article|loi|décret|arrêté|directive|règlement|code|référentiel|CCAG|RGI|RGS"
    r"|RGAA|RGESN|SecNumCloud|Data Act|vade-mecum|texte)\b",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"\bselon\b|\bd'après\b|rapporté|reprise? (?:par|dans) la presse|relayé|\bcitée? par\b|tel(?:le)? que "
    r"(?:rapporté|repris|présenté|résumé)|source unique|résumé automatique"
    r"|\b(?:décrit|relève|souligne|juge|estime|évoque)\b",  # reported speech: « La Banque des Territoires décrit… »
    re.IGNORECASE,
)
_HEDGE = re.compile(r"\bil semble\b|déduction|à vérifier|à confirmer|\bpiste\b", re.IGNORECASE)
_PRONOUN_START = re.compile(r"^(?:Elle|Il|Elles|Ils|Celle-ci|Celui-ci|Cette circulaire|La même circulaire)\b")
_PRONOUN_AFTER_COMMA = re.compile(r",\s*(?:elle|il)s?\b")


def unattributed(block: str, has_officiel: bool) -> list[str]:
    """Sentences of ``block`` stating what a rule requires without the attribution their source calls for."""
    bad: list[str] = []
    previous_press_known = previous_rule = False
    for sentence in sentences(block):
        inherits = bool(_PRONOUN_START.match(sentence) or _PRONOUN_AFTER_COMMA.search(sentence))
        press_known = bool(_PRESS_KNOWN.search(sentence)) or (inherits and previous_press_known)
        rule = bool(_RULE.search(sentence)) or press_known or (inherits and previous_rule)
        if rule and _REQUIRES.search(sentence) and not (_ATTRIBUTION.search(sentence) or _HEDGE.search(sentence)):
            if press_known or not has_officiel:
                bad.append(sentence)
        previous_press_known, previous_rule = press_known, rule
    return bad


def has_officiel_source(doc: SourceDocument) -> bool:
    return any(s.confidence == "officiel" for s in doc.sources)


def en_bref(doc: SourceDocument) -> str:
    return "\n".join(s.text for s in doc.sections if s.path and s.path[0] == "En bref")


# criteria.yaml keys that name things (sections, ids, search queries) rather than state facts
_NAME_KEYS = {"id", "doc", "section", "query", "label", "related"}


def strings(node: object) -> Iterator[str]:
    """Every prose string value of a YAML tree (naming keys left out)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in _NAME_KEYS:
                yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


def en_bref_violations(docs: Iterable[SourceDocument]) -> list[str]:
    return [f"{d.doc_id}: « {s} »" for d in docs for s in unattributed(en_bref(d), has_officiel_source(d))]


def criteria_violations(catalog: object) -> list[str]:
    # criteria.yaml is a synthesis: its officiel sources are those of the notes it cites, so no escape here
    # for the circular and press-known rules; other rules need an attribution too.
    return [f"criteria.yaml: « {s} »" for text in strings(catalog) for s in unattributed(text, has_officiel=False)]


# ---------------------------------------------------------------- (b) legal status

_STATUS_OF_SUBJECT = (
    (re.compile(r"\bproposition de loi\b", re.IGNORECASE), "proposition"),
    (re.compile(r"\bproposition de (?:règlement|directive)\b", re.IGNORECASE), "proposition"),
    (re.compile(r"\bprojet de loi\b", re.IGNORECASE), "projet"),
)
_NOT_IN_FORCE = re.compile(r"n'est pas en vigueur|non adoptée?s?\b|pas adoptée?s?\b", re.IGNORECASE)


def main_subject(doc: SourceDocument) -> str:
    first = next(sentences(en_bref(doc)), "")
    return " ".join(filter(None, (doc.title, doc.reference, first)))


def status_violations(docs: Iterable[SourceDocument]) -> list[str]:
    bad: list[str] = []
    for doc in docs:
        subject = main_subject(doc)
        found = [(m.start(), status) for pattern, status in _STATUS_OF_SUBJECT if (m := pattern.search(subject))]
        if found:
            expected = min(found)[1]
            if doc.status != expected:
                bad.append(f"{doc.doc_id}: sujet principal « {expected} » mais status « {doc.status} »")
        if doc.status != "en_vigueur" and not _NOT_IN_FORCE.search(en_bref(doc)):
            bad.append(f"{doc.doc_id}: status « {doc.status} » sans « n'est pas en vigueur » / « non adopté » dans En bref")
    return bad


# ---------------------------------------------------------------- (c) past 2026 dates in the future tense

_MONTHS = {m: i for i, m in enumerate(
    ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
     "décembre"), start=1)}
_DATE = re.compile(r"\b(?:(1er|\d{1,2}) )?(" + "|".join(_MONTHS) + r") 2026\b", re.IGNORECASE)
_FUTURE = re.compile(
    r"\b(?:sera|seront|devra|devront|entrera|entreront|interviendra|interviendront|s'appliquera|s'appliqueront"
    r"|pourra|pourront|deviendra|deviendront|imposera|imposeront|prendra effet)\b",
    re.IGNORECASE,
)
# a deadline or an expected event written as still to come (present tense)
_UPCOMING = re.compile(
    r"(?<!étaient )(?<!était )\battendue?s? (?:au|pour le)\b|\bau plus tard\b[^.]*\bdoi(?:t|vent)\b"
    r"|\bdoi(?:t|vent)\b[^.]*\bau plus tard\b",
    re.IGNORECASE,
)


def dates_2026(sentence: str) -> Iterator[date]:
    for day, month in _DATE.findall(sentence):
        number = _MONTHS[month.lower()]
        last = calendar.monthrange(2026, number)[1]
        yield date(2026, number, 1 if day == "1er" else int(day) if day else last)


def future_tense_violations(texts: Iterable[tuple[str, str]], today: date = CORPUS_REVIEW_DATE) -> list[str]:
    bad: list[str] = []
    for where, text in texts:
        for sentence in sentences(text):
            if (_FUTURE.search(sentence) or _UPCOMING.search(sentence)) and any(d < today for d in dates_2026(sentence)):
                bad.append(f"{where}: « {sentence} »")
    return bad


def knowledge_texts(root: Path) -> Iterator[tuple[str, str]]:
    """Every indexed Markdown body and criteria.yaml (front matter and URLs left out)."""
    for path in sorted(root.rglob("*.md")):
        if path.name == "README.md":
            continue
        raw = path.read_text(encoding="utf-8")
        body = raw.split("---", 2)[2] if raw.startswith("---") else raw
        yield path.name, body
    criteria = root / "criteria.yaml"
    if criteria.exists():
        yield criteria.name, "\n".join(strings(yaml.safe_load(criteria.read_text(encoding="utf-8"))))


# ---------------------------------------------------------------- (d) metadata and gaps

def metadata_violations(docs: Iterable[SourceDocument]) -> list[str]:
    bad: list[str] = []
    for doc in docs:
        if not (doc.authority and doc.authority.strip()):
            bad.append(f"{doc.doc_id}: authority manquant")
        if not any(s.path and s.path[0] == GAPS_HEADING for s in doc.sections):
            bad.append(f"{doc.doc_id}: section « {GAPS_HEADING} » manquante")
    return bad


# ================================================================ the shipped corpus

REPORT = load_knowledge(KNOWLEDGE)
DOCS = REPORT.documents
CATALOG = yaml.safe_load((KNOWLEDGE / "criteria.yaml").read_text(encoding="utf-8"))


def test_corpus_loads_without_skipped_files() -> None:
    assert REPORT.skipped == []
    assert len(DOCS) >= 28


def test_en_bref_requirements_are_attributed() -> None:
    assert en_bref_violations(DOCS) == []


def test_criteria_requirements_are_attributed() -> None:
    assert criteria_violations(CATALOG) == []


def test_bills_and_proposals_carry_their_status() -> None:
    assert status_violations(DOCS) == []
    by_id = {d.doc_id: d for d in DOCS}
    expected = {"ppl-securisation-marches-numeriques": "proposition", "europe-eucs-souverainete-cloud": "proposition",
                "nis2": "projet", "revision-directives-marches-publics": "projet"}
    assert {k: by_id[k].status for k in expected} == expected
    assert all(not doc_in_force(by_id[k].meta(), CORPUS_REVIEW_DATE) for k in expected)


def test_no_past_2026_date_in_the_future_tense() -> None:
    assert future_tense_violations(knowledge_texts(KNOWLEDGE)) == []


def test_every_note_has_authority_and_gaps_section() -> None:
    assert metadata_violations(DOCS) == []


def test_in_force_notes_are_not_hidden_by_a_later_obligation() -> None:
    # loi Climat et résilience: L. 3-1 dates from 2021; only part of the note applies from August 2026
    climat = next(d for d in DOCS if d.doc_id == "loi-climat-resilience-commande-publique")
    assert doc_in_force(climat.meta(), date(2026, 1, 1))


# ================================================================ (e) synthetic bad examples

def _note(root: Path, doc_id: str, body: str, *, confidence: str = "presse", extra: str = "",
          authority: str | None = "Auteur") -> None:
    front = [f"id: {doc_id}", f'title: "{doc_id}"', "kind: fiche", "date: 2025-01-01"]
    if authority:
        front.append(f'authority: "{authority}"')
    front += [extra] if extra else []
    front += ["sources:", "  - url: https://example.org/a", f"    confidence: {confidence}"]
    (root / f"{doc_id}.md").write_text("---\n" + "\n".join(front) + "\n---\n\n" + body, encoding="utf-8")


@pytest.fixture
def synthetic(tmp_path: Path) -> list[SourceDocument]:
    gaps = f"\n\n## {GAPS_HEADING}\n\n- Rien.\n"
    _note(tmp_path, "bad-circulaire", "## En bref\n\nLa circulaire n° 6519/SG exige une offre qualifiée SecNumCloud."
          + gaps, confidence="officiel")
    _note(tmp_path, "bad-pronom", "## En bref\n\nLa circulaire n° 6519/SG vise les achats numériques, selon Weka. "
          "Elle impose aussi une clause de réversibilité." + gaps)
    _note(tmp_path, "bad-virgule", "## En bref\n\nLa doctrine « cloud au centre » vise le cloud de l'État. "
          "Pour les données sensibles, elle n'admet qu'une offre SecNumCloud."
          + gaps, confidence="officiel")
    _note(tmp_path, "bad-regle", "## En bref\n\nLe référentiel impose des formats ouverts." + gaps)
    _note(tmp_path, "good-regle", "## En bref\n\nLe référentiel impose des formats ouverts." + gaps, confidence="officiel")
    _note(tmp_path, "good-circulaire", "## En bref\n\nSelon Mondaq, la circulaire n° 6519/SG exige une offre qualifiée "
          "SecNumCloud. Il semble que la doctrine impose aussi un plan de réversibilité." + gaps)
    _note(tmp_path, "bad-ppl", "## En bref\n\nLa proposition de loi étend l'article 31 aux collectivités." + gaps)
    _note(tmp_path, "bad-status-silent", "## En bref\n\nLe texte est discuté au Parlement." + gaps, extra="status: projet")
    _note(tmp_path, "bad-no-gaps", "## En bref\n\nUne fiche sans lacunes.\n", authority=None)
    report = load_knowledge(tmp_path)
    assert report.skipped == []
    return report.documents


def test_attribution_check_can_fail(synthetic: list[SourceDocument]) -> None:
    flagged = {v.split(":")[0] for v in en_bref_violations(synthetic)}
    assert {"bad-circulaire", "bad-pronom", "bad-virgule", "bad-regle"} <= flagged
    assert not flagged & {"good-regle", "good-circulaire"}
    bad_catalog = {"criteria": [{"doctrine": "La circulaire rappelle l'obligation d'une offre SecNumCloud.",
                                 "when": "Les données sensibles doivent être hébergées sur une offre SecNumCloud (règle R9)."}]}
    assert len(criteria_violations(bad_catalog)) == 2
    good_catalog = {"criteria": [{"doctrine": "Selon Mondaq, la circulaire rappelle l'obligation d'une offre "
                                              "SecNumCloud."}]}
    assert criteria_violations(good_catalog) == []


def test_status_check_can_fail(synthetic: list[SourceDocument]) -> None:
    flagged = {v.split(":")[0] for v in status_violations(synthetic)}
    assert {"bad-ppl", "bad-status-silent"} <= flagged
    assert "good-circulaire" not in flagged


def test_future_tense_check_can_fail() -> None:
    texts = [("a.md", "Les hébergeurs devront se mettre à niveau avant le 16 mai 2026."),
             ("b.md", "Le choix de l'hébergeur interviendra fin mars 2026."),
             ("c.md", "Les frais seront interdits à compter du 12 janvier 2027."),
             ("d.md", "Les hébergeurs devaient se mettre à niveau avant le 16 mai 2026."),
             ("e.md", "La décision sera prise le 15 décembre 2026."),
             ("f.md", "16 mai 2026 au plus tard : les hébergeurs déjà certifiés doivent s'être mis à niveau."),
             ("g.md", "L'État passe par l'UGAP, avec des devis attendus au 30 mars 2026."),
             ("h.md", "L'État est passé par l'UGAP ; des devis étaient attendus pour le 30 mars 2026.")]
    assert [v.split(":")[0] for v in future_tense_violations(texts)] == ["a.md", "b.md", "f.md", "g.md"]


def test_metadata_check_can_fail(synthetic: list[SourceDocument]) -> None:
    flagged = metadata_violations(synthetic)
    assert any(v.startswith("bad-no-gaps: authority") for v in flagged)
    assert any(v.startswith("bad-no-gaps: section") for v in flagged)
    assert not [v for v in flagged if not v.startswith("bad-no-gaps")]
