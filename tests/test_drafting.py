"""Drafting: input validation, grounded route/objective paragraphs, "à compléter" marks, LLM rewrite."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from assistant.answer.citations import quote_in_passage, squash
from assistant.answer.gate import GENERIC_STEMS
from assistant.answer.generators import LLMGenerator
from assistant.config import PROJECT_ROOT, Settings
from assistant.draft.catalogue import BUILD_ROUTE_IDS, CRITERION_IDS, EXCEPTION_IDS, ROUTE_IDS, load_catalog
from assistant.draft.drafter import Draft, Drafter, DraftInputError, load_request, parse_request
from assistant.text import tokens
from tests.llm_server import ScriptedLLMServer

EXAMPLES = PROJECT_ROOT / "examples"
_MARKER = re.compile(r"\s*\[(\d+)\]")


@pytest.fixture(scope="module")
def drafter(pipeline, corpus_settings: Settings) -> Drafter:  # noqa: ANN001
    return Drafter(corpus_settings, pipeline.searcher)


def _norm(text: str) -> str:
    """Paragraph or quote without markers, list bullets and emphasis: what a reader sees."""
    text = _MARKER.sub("", text)
    text = re.sub(r"(?:(?<=\s)|^)(?:[-*+•]|\d{1,2}[.)])\s+", "", text)
    return squash(text.replace("**", ""))


def _full_request(route: str, **overrides: object) -> dict:
    request = {
        "object": "Acquisition d'un logiciel de gestion des ressources humaines",
        "entity": "Ministère de test, direction des ressources humaines",
        "route": route,
        "criteria": list(CRITERION_IDS),
        "facts": {c: f"Élément d'offre numéro {i} pour {c}" for i, c in enumerate(CRITERION_IDS)},
        "context": {
            "data_sensitivity": "données personnelles des agents",
            "mutualised_examined": "portefeuille interministériel consulté sans solution adaptée",
            "market_examined": "trois éditeurs rencontrés lors du sourcing",
            "notes": "calendrier contraint",
        },
    }
    if route in BUILD_ROUTE_IDS:
        request["context"] |= {"exception": "aucune_solution", "exception_facts": "aucune offre ne couvre le besoin"}
    return request | overrides


# ---------------------------------------------------------------- input


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"object": "Achat test", "route": "acheter", "criteria": ["cout"]}, ", ".join(ROUTE_IDS)),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout", "prix"]}, ", ".join(CRITERION_IDS)),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout"], "facts": {"prix": "x"}}, "« prix »"),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout"], "facts": {"securite": "x"}},
         "absents de « criteria »"),
        ({"object": "Achat test", "route": "faire", "criteria": []}, "au moins un élément"),
        ({"route": "faire", "criteria": ["cout"]}, "« object » : champ obligatoire manquant"),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout"], "budget": 3}, "champ inconnu"),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout"], "context": {"sensibilite": "x"}},
         "data_sensitivity"),
        ({"object": "Achat test", "route": "sur_etagere", "criteria": ["cout"],
          "context": {"exception": "aucune_solution"}}, "ne s'applique qu'aux voies"),
        ({"object": "Achat test", "route": "faire", "criteria": ["cout"], "context": {"exception": "urgence"}},
         ", ".join(EXCEPTION_IDS)),
        (["pas", "un", "objet"], "doit être un objet"),
    ],
)
def test_invalid_input_is_refused_with_the_valid_ids(data: object, expected: str) -> None:
    with pytest.raises(DraftInputError) as info:
        parse_request(data)
    assert expected in str(info.value)


def test_input_is_normalised() -> None:
    request = parse_request({
        "object": "  Achat\x07 test [2] ", "route": "faire", "criteria": "cout, securite,cout",
        "facts": {"cout": "  ", "securite": "voir [3]"}, "context": None,
    })
    assert request.object == "Achat test (2)"  # control character dropped, marker neutralised
    assert request.criteria == ["cout", "securite"]
    assert request.facts == {"securite": "voir (3)"}
    assert request.context.mutualised_examined is None


def test_catalog_references_resolve_to_indexed_sections(pipeline) -> None:  # noqa: ANN001
    catalog = load_catalog(PROJECT_ROOT / "knowledge")
    assert catalog.criterion_ids == CRITERION_IDS and catalog.route_ids == ROUTE_IDS
    snap = pipeline.reader.snapshot()
    for item in [*catalog.criteria, *catalog.routes]:
        for ref in item.references:
            assert ref.doc in snap.docs, (item.id, ref.doc)
            if ref.section:
                assert any(ref.matches(s.doc_id, s.section) for s in snap.sections.values()), (item.id, ref)


# ---------------------------------------------------------------- grounding


def _assert_grounded(draft: Draft, snap) -> None:  # noqa: ANN001
    section_of = {p.chunk_id: p.section_id for p in snap.passages}
    assert draft.problems == []
    for section in draft.all_sections():
        assert section.citations, f"{section.key} : aucune citation"
        cited = {int(n) for n in _MARKER.findall(section.paragraph)}
        assert cited == {c.n for c in section.citations}, section.key
        for c in section.citations:
            assert c.doc_id in snap.docs
            record = snap.sections[section_of[c.chunk_id]]
            assert record.doc_id == c.doc_id and record.section == c.section
            assert c.passage == record.text
            assert quote_in_passage(c.quote, c.passage), (section.key, c.quote)
            assert _norm(c.quote) in _norm(section.doctrine_paragraph or ""), (section.key, c.quote)
        # the part about the offer never carries a corpus marker
        assert not _MARKER.search(section.offer_paragraph or "")


@pytest.mark.parametrize("route", ROUTE_IDS)
def test_every_route_and_criterion_gets_a_draft_citing_verbatim_passages(
    drafter: Drafter, pipeline, route: str  # noqa: ANN001
) -> None:
    draft = drafter.draft(_full_request(route))
    assert [s.key for s in draft.sections] == list(CRITERION_IDS)
    assert draft.route_justification.key == route
    _assert_grounded(draft, pipeline.reader.snapshot())
    catalog = load_catalog(PROJECT_ROOT / "knowledge")
    for section in draft.sections:
        criterion = catalog.criterion(section.key)
        assert section.evidence_to_request == list(criterion.evidence_to_request)
        assert _norm(criterion.not_documented)[1:] in _norm(section.paragraph)  # says what is not documented
    if route in BUILD_ROUTE_IDS:  # the exceptions passage is always cited when building
        assert any("Exceptions" in c.section for c in draft.route_justification.citations)
    numbers = [c.n for c in draft.sources()]
    assert numbers == list(range(1, len(numbers) + 1))
    for section in [draft.route_justification, *draft.sections]:  # each fact is said once per paragraph
        words = [set(tokens(c.quote)) - GENERIC_STEMS for c in section.citations]
        for i, a in enumerate(words):
            for b in words[i + 1:]:
                assert len(a & b) <= 0.75 * min(len(a), len(b)), (section.key, a & b)


def _offer_template(text: str, values: list[str]) -> str:
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, "@@")
    return text


def test_offer_part_contains_only_the_buyers_own_words(drafter: Drafter) -> None:
    """Same structure, different facts: once the facts are masked the offer parts are identical,
    so no sentence about the offer comes from anywhere but the input."""
    first = _full_request("sur_etagere")
    second = _full_request("sur_etagere")
    second["facts"] = {c: f"Autre déclaration {c.upper()} avec 42 % et SecNumCloud" for c in CRITERION_IDS}
    second["context"] = {k: f"autre valeur {k} 2027" for k in first["context"]}
    drafts = [drafter.draft(first), drafter.draft(second)]
    for a, b in zip(drafts[0].all_sections(), drafts[1].all_sections(), strict=True):
        values_a = parse_request(first).buyer_texts()
        values_b = parse_request(second).buyer_texts()
        assert a.offer_paragraph and b.offer_paragraph
        assert _offer_template(a.offer_paragraph, values_a) == _offer_template(b.offer_paragraph, values_b)
        assert not re.search(r"\d", _offer_template(a.offer_paragraph, values_a)), a.offer_paragraph
        quoted = re.findall(r"« (.+?) »", a.offer_paragraph)
        assert quoted and all(q in [squash(v).rstrip(" .") for v in values_a] for q in quoted), quoted
        assert a.offer_paragraph.count("Selon les éléments fournis par l'acheteur") == len(quoted)
    for criterion in CRITERION_IDS:
        section = next(s for s in drafts[1].sections if s.key == criterion)
        assert second["facts"][criterion] in section.offer_paragraph


def test_missing_inputs_are_marked_to_complete(drafter: Drafter) -> None:
    draft = drafter.draft({"object": "Outil de test", "route": "faire_faire", "criteria": list(CRITERION_IDS)})
    route = draft.route_justification
    assert len(route.to_complete) == 3
    joined = " | ".join(route.to_complete)
    assert "solutions mutualisées examinées" in joined and "solutions du marché examinées" in joined
    assert "exception invoquée" in joined
    for item in route.to_complete:
        assert f"[À compléter : {item}]" in route.paragraph
    for section in draft.sections:
        expected = 2 if section.key in ("souverainete", "securite") else 1  # + data sensitivity
        assert len(section.to_complete) == expected, section.key
        assert all(f"[À compléter : {item}]" in section.paragraph for item in section.to_complete)
        assert "Selon les éléments fournis par l'acheteur" not in section.paragraph
    complete = drafter.draft(_full_request("faire_faire"))
    assert all(not s.to_complete for s in complete.all_sections())


def test_exception_invoked_is_stated_from_the_catalog(drafter: Drafter) -> None:
    request = _full_request("faire")
    request["context"] = request["context"] | {"exception": "resilience_continuite"}
    del request["context"]["exception_facts"]
    route = drafter.draft(request).route_justification
    exception = load_catalog(PROJECT_ROOT / "knowledge").route("faire").exception("resilience_continuite")
    assert exception is not None and exception.text[1:] in route.offer_paragraph
    assert route.to_complete == ["circonstances établissant que l'exception invoquée est remplie"]


def test_json_contract_and_determinism(drafter: Drafter) -> None:
    request = load_request(EXAMPLES / "draft-rh-sur-etagere.yaml")
    first, second = drafter.draft(request).to_json(), drafter.draft(request).to_json()
    data = json.loads(json.dumps(first, ensure_ascii=False))
    assert {"object", "entity", "route", "route_justification", "sections", "provenance"} <= set(data)
    assert {"paragraph", "citations", "to_complete"} <= set(data["route_justification"])
    for section in data["sections"]:
        assert {"criterion", "title", "paragraph", "citations", "evidence_to_request", "to_complete"} <= set(section)
        for c in section["citations"]:
            assert {"n", "doc_id", "section", "quote", "source_url"} <= set(c)
    assert [s["criterion"] for s in data["sections"]] == request.criteria
    assert data["sections"][0]["title"] == "Souveraineté numérique"
    prov = data["provenance"]
    assert prov["generator"] == "template" and prov["corpus_version"] and prov["generated_at"]
    for d in (first, second):
        d["provenance"].pop("generated_at")
        d["provenance"].pop("timings_ms")
    assert first == second


def test_examples_parse_and_committed_sample_is_generated(drafter: Drafter) -> None:
    from assistant.draft.export import draft_to_markdown

    for path in EXAMPLES.glob("draft-*.yaml"):
        load_request(path)
    sample = (EXAMPLES / "draft-rh-sur-etagere.md").read_text(encoding="utf-8")
    draft = drafter.draft(load_request(EXAMPLES / "draft-rh-sur-etagere.yaml"))
    fresh = draft_to_markdown(draft)
    stale = (
        "examples/draft-rh-sur-etagere.md is stale (corpus {old} -> {new}): regenerate it with "
        "doctrine draft --input examples/draft-rh-sur-etagere.yaml -o examples/draft-rh-sur-etagere.md"
    )
    version = re.search(r"version du corpus : (\w+)", sample)
    assert version, "examples/draft-rh-sur-etagere.md has no provenance: it was not generated"
    current = draft.provenance["corpus_version"]
    assert version.group(1) == current, stale.format(old=version.group(1), new=current)
    assert sample.split("## Provenance")[0] == fresh.split("## Provenance")[0], stale.format(old="=", new="=")


# ---------------------------------------------------------------- LLM


def _llm_drafter(corpus_settings: Settings, pipeline, server: ScriptedLLMServer) -> Drafter:  # noqa: ANN001
    settings = corpus_settings.model_copy(update={
        "llm_base_url": server.base_url, "llm_model": "test-model", "llm_timeout_s": 1.0,
    })
    return Drafter(settings, pipeline.searcher, LLMGenerator(settings))


LLM_REQUEST = {
    "object": "Acquisition d'un logiciel RH", "route": "sur_etagere", "criteria": ["securite", "cout"],
    "facts": {"securite": "Plan d'assurance sécurité fourni"},
    "context": {"mutualised_examined": "aucune solution mutualisée adaptée"},
}


def test_llm_rewrites_from_the_same_evidence_and_is_checked(corpus_settings: Settings, pipeline) -> None:  # noqa: ANN001
    template = Drafter(corpus_settings, pipeline.searcher).draft(LLM_REQUEST)
    route_n = template.route_justification.citations[0].n
    security_n = template.sections[0].citations[0].n
    replies = [
        f"La doctrine impose d'examiner d'abord les solutions mutualisées [{route_n}]. Selon les éléments "
        "fournis par l'acheteur, « aucune solution mutualisée adaptée ». Une source inventée le confirme [99].",
        f"Des clauses de sécurité sont attendues [{security_n}]. Selon les éléments fournis par l'acheteur, "
        "« Plan d'assurance sécurité fourni ». L'offre est « certifiée par un organisme imaginaire » [3].",
        "Le coût est maîtrisé et conforme à la doctrine.",  # no source: this rewrite is rejected
    ]
    with ScriptedLLMServer(replies=replies) as server:
        draft = _llm_drafter(corpus_settings, pipeline, server).draft(LLM_REQUEST)
        sent = list(server.requests)
    assert draft.provenance["generator"] == "llm:test-model"
    assert len(sent) == 3
    system, user = sent[1]["messages"][0]["content"], sent[1]["messages"][1]["content"]
    assert "registre de l'écrit administratif" in system
    assert "Plan d'assurance sécurité fourni" in user and template.sections[0].evidence[0].text in user
    route, security = draft.route_justification, draft.sections[0]
    assert "[99]" not in route.paragraph and [c.n for c in route.citations] == [route_n]
    assert any("[99]" in p for p in draft.problems)
    assert "[citation non vérifiée]" in security.paragraph
    assert any("organisme imaginaire" in p for p in draft.problems)
    assert "« Plan d'assurance sécurité fourni »" in security.paragraph  # the buyer's words verify
    assert security.to_complete == template.sections[0].to_complete
    assert security.evidence_to_request == template.sections[0].evidence_to_request
    for c in [*route.citations, *security.citations]:
        assert quote_in_passage(c.quote, c.passage)
    cost = draft.sections[1]
    assert cost.paragraph == template.sections[1].paragraph and "maîtrisé" not in cost.paragraph
    assert any(p.startswith("Coût de la solution : la reformulation") for p in draft.problems)


@pytest.mark.parametrize("failure", [{"delay": 3}, {"status": 500}])
def test_llm_failure_falls_back_to_the_template_draft(
    corpus_settings: Settings, pipeline, failure: dict  # noqa: ANN001
) -> None:
    template = Drafter(corpus_settings, pipeline.searcher).draft(LLM_REQUEST)
    with ScriptedLLMServer(replies=[failure]) as server:
        draft = _llm_drafter(corpus_settings, pipeline, server).draft(LLM_REQUEST)
    assert draft.provenance["generator"] == "template (repli)"
    assert any("n'a pas répondu" in n for n in draft.notices)
    if "delay" in failure:
        assert any("délai dépassé" in n for n in draft.notices)
    assert [s.paragraph for s in draft.all_sections()] == [s.paragraph for s in template.all_sections()]


# ---------------------------------------------------------------- CLI


@pytest.fixture
def cli(corpus_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    from assistant.cli.draft import draft

    monkeypatch.setenv("DOCTRINE_DATA_DIR", str(corpus_settings.data_dir))
    monkeypatch.setenv("DOCTRINE_KNOWLEDGE_DIR", str(corpus_settings.knowledge_dir))
    app = typer.Typer()
    app.command(name="draft")(draft)
    app.command(name="version")(lambda: None)  # two commands: "draft" stays a sub-command
    return app


def test_cli_draft_formats(cli: typer.Typer, tmp_path: Path) -> None:
    runner = CliRunner()
    example = str(EXAMPLES / "draft-developpement-specifique.yaml")
    md = runner.invoke(cli, ["draft", "--input", example])
    assert md.exit_code == 0, md.output
    assert "## 1. Justification de la voie retenue : Faire avec" in md.stdout and "## Sources" in md.stdout
    as_json = runner.invoke(cli, ["draft", "--input", example, "--format", "json"])
    data = json.loads(as_json.stdout)
    assert data["route"] == "faire_avec" and data["provenance"]["generator"] == "template"
    assert "[À compléter" in next(s for s in data["sections"] if s["criterion"] == "cout")["paragraph"]
    out = tmp_path / "note.docx"
    docx_run = runner.invoke(cli, ["draft", "--input", example, "--format", "docx", "-o", str(out)])
    assert docx_run.exit_code == 0 and out.stat().st_size > 5000


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("object: Achat test\nroute: acheter\ncriteria: [cout]\n", [], "voies valides"),
        ("object: [non fermé\n", [], "YAML ou JSON valide"),
        ("object: Achat test\nroute: faire\ncriteria: [cout]\n", ["--format", "pdf"], "formats valides"),
        ("object: Achat test\nroute: faire\ncriteria: [cout]\n", ["--format", "docx"], "-o FICHIER.docx"),
    ],
)
def test_cli_errors_exit_2_in_french(cli: typer.Typer, tmp_path: Path, content: str, args: list, message: str) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(cli, ["draft", "--input", str(case), *args])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_corpus_without_the_catalogued_documents(small_settings: Settings) -> None:
    """A user corpus without the referenced documents: evidence comes from the whole corpus when it
    really matches, and an objective it does not cover is said to be uncovered, not padded."""
    from assistant.answer.retrieval import Searcher
    from assistant.index.ingest import run_index

    run_index(small_settings)
    drafter = Drafter(small_settings, Searcher(small_settings))
    draft = drafter.draft({"object": "Achat test", "route": "sur_etagere",
                           "criteria": ["adaptabilite_reversibilite", "durabilite"]})
    reversibility, durability = draft.sections
    assert [c.section for c in reversibility.citations] == ["Réversibilité"]
    assert "plan de sortie" in reversibility.doctrine_paragraph
    assert durability.citations == [] and "Aucun passage des textes indexés" in durability.paragraph
    assert all(c.doc_id == "circulaire-test" for c in draft.route_justification.citations)
    assert draft.problems == []
