"""The web app, served for real on a free loopback port and driven with gradio_client.

Results are checked against the pipeline, drafter and indexer called directly on the same index.
"""

from __future__ import annotations

import html
import json
import re
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from docx import Document
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from typer.testing import CliRunner

from assistant.answer.types import Filters
from assistant.config import Settings
from assistant.pipeline import get_pipeline
from tests.conftest import make_settings, write_corpus
from tests.llm_server import ScriptedLLMServer
from tests.waiting import run_in_threads

IN_SCOPE = "Que demande la doctrine en matière de réversibilité ?"
FOLLOW_UP = "Et pour la sécurité ?"
OUT_OF_SCOPE = "Quelle est la recette de la blanquette de veau ?"
SMALL_CASES = """cases:
  - id: t-fact-1
    question: "Quel est le numéro de la circulaire sur la doctrine d'achat numérique de l'État ?"
    kind: factual
    expected_facts: ["6519/SG"]
    expected_sources: [circulaire-2026-achat-numerique]
  - id: t-oos-1
    question: "Quelle est la recette de la blanquette de veau ?"
    kind: out_of_scope
    expected_facts: []
"""
DRAFT_FORM = {
    "object": "Acquisition d'un logiciel <b>RH</b> en mode SaaS",
    "entity": "Ministère (cas fictif), direction des ressources humaines",
    "route": "sur_etagere",
    "criteria": ["souverainete", "adaptabilite_reversibilite"],
    "context": {"data_sensitivity": "Données personnelles des agents",
                "mutualised_examined": "Portefeuille interministériel consulté : aucune solution adaptée",
                "market_examined": "Sourcing auprès de quatre éditeurs"},
    "facts": {"adaptabilite_reversibilite": "Export complet en CSV et API documentée ; réversibilité en 3 mois"},
}
CONTEXT_FIELDS = ("data_sensitivity", "mutualised_examined", "market_examined", "exception", "exception_facts",
                  "notes")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """An app launched in this process on 127.0.0.1:<free port>."""

    def __init__(self, settings: Settings, auth: Any = None) -> None:
        from assistant.ui.app import launch

        self.settings = settings
        self.port = free_port()
        self.demo = launch(settings, port=self.port, auth=auth, prevent_thread_lock=True, quiet=True)
        self.url = f"http://127.0.0.1:{self.port}/"

    def client(self, **kwargs: Any) -> Client:
        return Client(self.url, verbose=False, analytics_enabled=False, **kwargs)

    def close(self) -> None:
        self.demo.close()


def _comparable(answer: dict[str, Any]) -> dict[str, Any]:
    return {"answer": answer["answer"], "refused": answer["refused"], "generator": answer["generator"],
            "standalone_question": answer["standalone_question"], "notices": answer["notices"],
            "citations": [(c["n"], c["chunk_id"], c["quote"]) for c in answer["citations"]]}


@pytest.fixture(scope="module")
def app_settings(corpus_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session index, with a private evals folder holding two small cases."""
    evals = tmp_path_factory.mktemp("app-evals")
    (evals / "cases" / "dev").mkdir(parents=True)
    (evals / "cases" / "dev" / "small.yaml").write_text(SMALL_CASES, encoding="utf-8")
    return corpus_settings.model_copy(update={"evals_dir": evals})


@pytest.fixture(scope="module")
def served(app_settings: Settings) -> Iterator[Served]:
    app = Served(app_settings)
    yield app
    app.close()


def _ask(client: Client, question: str) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    chat, sources, answer, box = client.predict(question, api_name="/ask")
    assert box == ""
    return chat, sources, answer


def _text(message: dict[str, Any]) -> str:
    content = message["content"]
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


# ---------------------------------------------------------------- chat


def test_ask_matches_pipeline_with_clickable_sources(served: Served) -> None:
    chat, sources, answer = _ask(served.client(), IN_SCOPE)
    expected = get_pipeline(served.settings).chain.invoke(IN_SCOPE).to_json()
    assert _comparable(answer) == _comparable(expected)
    assert not answer["refused"] and answer["citations"]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    bot = _text(chat[1])
    for c in answer["citations"]:
        assert f'href="#src-0-{c["n"]}"' in bot
        assert f'id="src-0-{c["n"]}"' in sources
    first = answer["citations"][0]
    assert "<mark>" in sources and first["source_url"] in sources
    assert "answer-refused" not in bot
    # Each card says whether its text is in force and where it comes from (official corpus or a file added).
    from assistant.ui import render

    cards = re.findall(r'<article class="source-card" id="src-0-\d+".*?</article>', sources, re.S)
    assert len(cards) == len(answer["citations"])
    for c, card in zip(answer["citations"], cards, strict=True):
        assert f">{html.escape(render.status_label(c['status'], c['kind']))}<" in card, card
        assert f">{html.escape(render.origin_label(c['origin']))}<" in card, card
        assert f'class="source-title" id="src-0-{c["n"]}-t"' in card


def test_follow_up_uses_this_session_only(served: Served) -> None:
    client = served.client()
    _, _, first = _ask(client, IN_SCOPE)
    chat, sources, follow = _ask(client, FOLLOW_UP)
    history = [{"role": "user", "content": IN_SCOPE}, {"role": "assistant", "content": first["answer"]}]
    expected = get_pipeline(served.settings).chain.invoke(FOLLOW_UP, history).to_json()
    assert _comparable(follow) == _comparable(expected)
    assert follow["standalone_question"] != FOLLOW_UP
    assert len(chat) == 4 and 'id="src-1-1"' in sources and 'id="src-0-1"' in sources
    # Another browser session does not see that history.
    _, _, alone = _ask(served.client(), FOLLOW_UP)
    assert alone["standalone_question"] == FOLLOW_UP


def test_refused_question_is_shown_as_not_covered(served: Served) -> None:
    chat, sources, answer = _ask(served.client(), OUT_OF_SCOPE)
    expected = get_pipeline(served.settings).chain.invoke(OUT_OF_SCOPE).to_json()
    assert answer["refused"] and expected["refused"]
    assert _comparable(answer) == _comparable(expected)
    bot = _text(chat[-1])
    assert 'class="answer-refused"' in bot and "Non couvert" in bot
    # A refusal still points to the closest passages, listed in the sources panel.
    assert answer["related"], answer
    assert "related-title" in sources
    for related in answer["related"]:
        assert html.escape(related["title"]) in sources, related["title"]


def test_bad_questions_are_refused_with_a_message(served: Served, app_settings: Settings) -> None:
    client = served.client()
    with pytest.raises(AppError, match="trop longue"):
        client.predict("réversibilité " * (app_settings.max_question_chars // 10), api_name="/ask")
    with pytest.raises(AppError, match="vide"):
        client.predict("   ", api_name="/ask")


def test_html_in_a_question_is_escaped(served: Served) -> None:
    question = "<img src=x onerror=alert(1)><script>alert(2)</script> réversibilité des contrats cloud ?"
    chat, sources, _ = _ask(served.client(), question)
    user = _text(chat[0])
    assert "<img" not in user and "<script" not in user
    assert "&lt;img" in user and "&lt;script&gt;" in user
    assert "<script" not in sources and "<img" not in sources


def test_concurrent_sessions_get_their_own_answers(served: Served) -> None:
    questions = [IN_SCOPE, OUT_OF_SCOPE, "Quand une offre qualifiée SecNumCloud est-elle exigée ?",
                 "Qui a signé la circulaire sur les achats numériques de l'État ?"]
    # Every session asks at the same time; fails naming the questions still unanswered after the
    # deadline, or re-raises the first session's exception.
    results = run_in_threads(lambda q: _ask(served.client(), q)[2], questions, timeout=180)
    chain = get_pipeline(served.settings).chain
    for q in questions:
        assert _comparable(results[q]) == _comparable(chain.invoke(q).to_json()), q


def test_feedback_is_appended_to_the_jsonl_file(served: Served, app_settings: Settings) -> None:
    client = served.client()
    with pytest.raises(AppError, match="Aucune réponse"):
        client.predict("👍 Utile", [], "", api_name="/feedback")
    _, _, answer = _ask(client, IN_SCOPE)
    with pytest.raises(AppError, match="Utile"):
        client.predict(None, [], "", api_name="/feedback")
    before = app_settings.feedback_file.read_text(encoding="utf-8").splitlines() if app_settings.feedback_file.exists() else []
    status, *_ = client.predict("👎 À améliorer", ["inexact", "source manquante"], "Il manque <b>l'article</b>",
                                api_name="/feedback")
    assert "Merci" in status
    lines = app_settings.feedback_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(before) + 1
    record = json.loads(lines[-1])
    assert record["rating"] == "down" and record["tags"] == ["inexact", "source manquante"]
    assert record["comment"] == "Il manque <b>l'article</b>" and record["question"] == IN_SCOPE
    assert record["answer"] == answer["answer"]
    assert [c["doc_id"] for c in record["citations"]] == [c["doc_id"] for c in answer["citations"]]


def test_conversation_export_markdown_and_docx(served: Served) -> None:
    client = served.client()
    with pytest.raises(AppError, match="vide"):
        client.predict(api_name="/export")
    _, _, answer = _ask(client, IN_SCOPE)
    files = client.predict(api_name="/export")
    paths = sorted((Path(f) if isinstance(f, str) else Path(f["path"]) for f in files), key=lambda p: p.suffix)
    assert [p.suffix for p in paths] == [".docx", ".md"]
    markdown = paths[1].read_text(encoding="utf-8")
    assert IN_SCOPE in markdown and answer["citations"][0]["title"] in markdown
    text = "\n".join(p.text for p in Document(str(paths[0])).paragraphs)
    assert IN_SCOPE in text
    reset = client.predict(api_name="/reset")
    assert reset[0] == [] and reset[2] is None


# ---------------------------------------------------------------- drafting


def _form_args(form: dict[str, Any]) -> list[Any]:
    from assistant.draft.catalogue import load_catalog

    ctx = form.get("context", {})
    args: list[Any] = [form["object"], form.get("entity"), form["route"], form["criteria"]]
    args += [ctx.get(name) for name in CONTEXT_FIELDS]
    ids = load_catalog(Settings().knowledge_dir).criterion_ids
    args += [form.get("facts", {}).get(cid, "") for cid in ids]
    return args


def test_draft_matches_drafter_and_downloads(served: Served) -> None:
    from assistant.ui.drafting_tab import get_drafter

    client = served.client()
    preview, files, data = client.predict(*_form_args(DRAFT_FORM), api_name="/draft")
    expected = get_drafter(served.settings).draft(DRAFT_FORM).to_json()
    for key in ("object", "route", "route_label", "title"):
        assert data[key] == expected[key]
    assert data["route_justification"]["paragraph"] == expected["route_justification"]["paragraph"]
    assert [s["paragraph"] for s in data["sections"]] == [s["paragraph"] for s in expected["sections"]]
    assert "&lt;b&gt;RH&lt;/b&gt;" in preview and "<b>RH</b>" not in preview
    assert 'class="cite"' in preview and 'id="src-draft-1"' in preview
    paths = sorted((Path(f) if isinstance(f, str) else Path(f["path"]) for f in files), key=lambda p: p.suffix)
    assert [p.suffix for p in paths] == [".docx", ".md"]
    assert "Souveraineté" in paths[1].read_text(encoding="utf-8")
    assert any("Souveraineté" in p.text for p in Document(str(paths[0])).paragraphs)
    with pytest.raises(AppError, match="critère"):
        client.predict(*_form_args({**DRAFT_FORM, "criteria": [], "facts": {}}), api_name="/draft")


# ---------------------------------------------------------------- sources and quality


def test_documents_show_status_origin_and_the_in_force_filter_hides_the_others(served: Served) -> None:
    from assistant.ui import render

    client = served.client()
    snap = get_pipeline(served.settings).reader.snapshot()
    columns = render.texts("sources.columns")
    status, origin = columns.index("Statut"), columns.index("Origine")
    table = client.predict("", [], "", api_name="/documents")[0]
    rows = table["data"] if isinstance(table, dict) else table
    by_title = {m["title"]: m for m in snap.docs.values()}
    assert len(rows) == len(snap.docs)
    for row in rows:
        meta = by_title[row[0]]
        assert row[status] == render.document_status(meta, date.today())
        assert row[origin] == render.origin_label(meta.get("origin"))
    not_in_force = {m["title"] for m in snap.docs.values() if m.get("status", "en_vigueur") != "en_vigueur"}
    assert not_in_force, "the corpus has bills and proposals"
    assert {r[status] for r in rows if r[0] in not_in_force} <= {
        render.status_label(s, k) for s in ("projet", "proposition", "abroge", "expire") for k in ("loi", "autre")}
    table = client.predict("", [], "2026-06-30", api_name="/documents")[0]
    rows = table["data"] if isinstance(table, dict) else table
    assert rows and {r[status] for r in rows} == {render.status_label("en_vigueur")}
    assert not {r[0] for r in rows} & not_in_force


def test_documents_filters_and_reader(served: Served) -> None:
    client = served.client()
    table = client.predict("", ["loi"], "", api_name="/documents")[0]
    rows = table["data"] if isinstance(table, dict) else table
    snap = get_pipeline(served.settings).reader.snapshot()
    lois = [m for m in snap.docs.values() if m["kind"] == "loi"]
    assert lois and len(rows) == len(lois) and all(r[1] == "Loi" for r in rows)
    html = client.predict("circulaire-2026-achat-numerique", api_name="/read")
    meta = snap.docs["circulaire-2026-achat-numerique"]
    assert "Méthode en trois temps" in html and meta["source_url"].split("//")[1][:20] in html
    hits = client.predict("réversibilité", [], "2026-02-05", api_name="/search")
    assert 'class="source-card hit-card"' in hits
    with pytest.raises(AppError, match="Date invalide"):
        client.predict("", [], "hier", api_name="/documents")


def test_quality_tab_runs_the_evaluation_and_shows_the_report(served: Served) -> None:
    client = served.client()
    status = client.predict(False, api_name="/evaluate")
    assert "Évaluation terminée : 2 cas" in status
    summary, by_kind, _systems, fig_kind, _hit, _lat, config, _failed, files = client.predict(api_name="/quality")
    assert "2 cas" in summary and "metric-card" in summary
    rows = by_kind["data"] if isinstance(by_kind, dict) else by_kind
    # (set, kind of case, number of cases); rows "hors champ · <type>" detail out-of-scope cases by type
    kinds = {(r[0], r[1], int(r[2])) for r in rows if "·" not in r[1]}
    assert kinds == {("dev", "factuel", 1), ("dev", "hors champ", 1)}, rows
    assert fig_kind and Path(fig_kind if isinstance(fig_kind, str) else fig_kind["path"]).suffix == ".png"
    assert config["réglages"]["retrieval_mode"] == served.settings.retrieval_mode
    assert files


# ---------------------------------------------------------------- uploads (own small index)


def test_upload_good_and_corrupt_files(tmp_path: Path, no_network: list) -> None:
    from assistant.index.ingest import run_index

    settings = make_settings(tmp_path / "data", knowledge_dir=write_corpus(tmp_path / "knowledge"))
    run_index(settings)
    good = tmp_path / "note-interne.md"
    good.write_text("# Note interne sur l'hébergement\n\n## Hébergement des données RH\n\n"
                    "Le ministère héberge les données des agents dans son centre de données de Montlhéry-Test. "
                    "La bascule vers le cloud qualifié est prévue pour le second semestre.\n", encoding="utf-8")
    corrupt = tmp_path / "rapport.pdf"
    corrupt.write_bytes(b"%PDF-1.7\n\x00\x01garbage that is not a pdf\n")
    app = Served(settings)
    try:
        client = app.client()
        generation = get_pipeline(settings).reader.snapshot().generation
        report = client.predict([handle_file(str(corrupt))], api_name="/upload")
        assert "Ignoré" in report and "rapport.pdf" in report and "Aucun fichier ajouté" in report
        assert get_pipeline(settings).reader.snapshot().generation == generation
        report = client.predict([handle_file(str(good)), handle_file(str(corrupt))], api_name="/upload")
        assert "Ajouté" in report and "note-interne.md" in report and "Ignoré" in report
        from assistant.index.snapshot import current_generation
        from assistant.ui.corpus import fresh_snapshot

        committed = current_generation(settings.index_dir)
        assert committed and committed != generation
        snap = fresh_snapshot(settings, committed)
        assert snap.generation == committed and "user-note-interne-md" in snap.docs
        assert "passage(s) indexé(s)" in report and "0 passage(s)" not in report
        question = "Où le ministère héberge-t-il les données des agents ?"
        _, _, answer = _ask(client, question)
        expected = get_pipeline(settings).chain.invoke(question).to_json()
        assert _comparable(answer) == _comparable(expected)
        assert "user-note-interne-md" in {c["doc_id"] for c in answer["citations"]}
        assert {c["origin"] for c in answer["citations"] if c["doc_id"] == "user-note-interne-md"} == {"user"}
        # « Corpus officiel uniquement »: the file added is left out, as the chain does with the filter.
        _, sources, official = client.predict(question, True, api_name="/ask")[:3]
        expected = get_pipeline(settings).chain.invoke(question, filters=Filters(official_only=True)).to_json()
        assert _comparable(official) == _comparable(expected)
        assert "user-note-interne-md" not in {c["doc_id"] for c in official["citations"] + official["related"]}
        latest = sources.split('data-turn="0"')[0]  # the panel lists the latest answer's sources first
        assert 'data-turn="1"' in latest and "Fichier ajouté" not in latest
    finally:
        app.close()
    assert no_network == []


# ---------------------------------------------------------------- LLM endpoint: streaming and fallback


def test_llm_tokens_stream_and_failures_fall_back(corpus_settings: Settings) -> None:
    reply = "La doctrine demande de prévoir la réversibilité dans les contrats [1]."
    with ScriptedLLMServer([reply, {"status": 500}]) as llm:
        settings = corpus_settings.model_copy(update={"llm_base_url": llm.base_url, "llm_model": "test-model"})
        app = Served(settings)
        try:
            client = app.client()
            job = client.submit(IN_SCOPE, api_name="/ask")
            final = job.result(timeout=120)
            answer = final[2]
            assert answer["generator"] == "llm:test-model"
            assert answer["answer"] == reply and answer["citations"]
            partials = [_text(out[0][-1]) for out in job.outputs()[:-1] if len(out[0]) == 2]
            tokens = [t for t in partials if t and "Recherche" not in t]
            assert tokens and all(len(t) < len(reply) and reply.startswith(t.split(" ")[0]) for t in tokens), partials
            chat, _, fallback = _ask(client, "Quand une offre qualifiée SecNumCloud est-elle exigée ?")
            assert fallback["generator"].endswith("(repli)")
            assert any("n'a pas répondu" in n for n in fallback["notices"])
            assert 'class="answer-warning"' in _text(chat[-1])
        finally:
            app.close()


# ---------------------------------------------------------------- privacy, auth, CLI


def test_no_outbound_request_and_no_external_asset(served: Served, no_network: list) -> None:
    page = httpx.get(served.url, timeout=30).text
    assert re.search(r'<html\s+lang="fr"', page) and "'fr-FR'" in page
    theme = httpx.get(served.url + "theme.css", timeout=30).text
    for text in (page, theme):
        assert "fonts.googleapis" not in text and "fonts.gstatic" not in text
    assert "Marianne" in theme + page
    _ask(served.client(), IN_SCOPE)
    assert no_network == []


def test_password_file_and_authenticated_app(tmp_path: Path, app_settings: Settings) -> None:
    from assistant.ui.auth import AuthFileError, auth_line, authenticator, load_auth_file, verify_password

    line = auth_line("acheteur", "motdepasse-solide")
    user, encoded = line.split(":", 1)
    assert user == "acheteur" and encoded.startswith("scrypt$")
    assert verify_password("motdepasse-solide", encoded) and not verify_password("autre", encoded)
    path = tmp_path / "users.txt"
    path.write_text(f"# comptes\n{line}\n", encoding="utf-8")
    assert load_auth_file(path) == {"acheteur": encoded}
    bad = tmp_path / "bad.txt"
    bad.write_text("acheteur:motdepasse-en-clair\n", encoding="utf-8")
    with pytest.raises(AuthFileError, match="ligne 1"):
        load_auth_file(bad)
    app = Served(app_settings, auth=authenticator(path))
    try:
        assert httpx.get(app.url + "config", timeout=30).status_code in (401, 403)
        # The login page is French whatever the browser's language, with a heading and a main region.
        login = httpx.get(app.url, timeout=30, headers={"Accept-Language": "en-US"}).text
        assert re.search(r'<html\s+lang="fr"', login) and "'fr-FR'" in login
        assert "<h1" in login and "<main" in login and "<title>" in login
        client = app.client(auth=("acheteur", "motdepasse-solide"))
        assert not client.predict(IN_SCOPE, api_name="/ask")[2]["refused"]
    finally:
        app.close()


def test_serve_refuses_network_exposure_without_auth(tmp_path: Path) -> None:
    import typer

    from assistant.cli.serve import auth_line, is_loopback, serve

    cli = typer.Typer()
    cli.command(name="serve")(serve)
    cli.command(name="auth-line")(auth_line)
    runner = CliRunner()
    result = runner.invoke(cli, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "--no-auth" in result.stderr
    missing = tmp_path / "absent.txt"
    result = runner.invoke(cli, ["serve", "--host", "0.0.0.0", "--auth-file", str(missing)])
    assert result.exit_code == 2 and "illisible" in result.stderr
    result = runner.invoke(cli, ["auth-line", "agent", "--password", "un-long-secret"])
    assert result.exit_code == 0 and result.stdout.startswith("agent:scrypt$")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and not is_loopback("0.0.0.0")


# ---------------------------------------------------------------- rendering (escaping)


def test_rendering_escapes_document_text() -> None:
    from assistant.ui import render

    evil = '<img src=x onerror="alert(1)"> ![pixel](https://tracker.example/p.png) [lien](javascript:alert(1))'
    citation = {"n": 1, "doc_id": "d", "title": evil, "section": "A > <b>B</b>", "quote": evil, "passage": f"avant {evil} après",
                "source_url": "javascript:alert(1)", "date": "2026-02-05", "kind": "utilisateur", "confidence": ""}
    card = render.source_card(citation, 0)
    assert "<img" not in card and "<b>" not in card and 'href="javascript' not in card
    assert "<mark>" in card and "5 février 2026" in card
    message = render.answer_message({"answer": f"{evil} [1] [7]", "citations": [citation], "refused": False}, 0)
    assert "<img" not in message and "](" not in message.replace("&#93;(", "")
    assert 'href="#src-0-1"' in message and "src-0-7" not in message
    doc = render.document_html({"title": evil, "kind": "loi", "sources": [{"url": "https://ok.example/x"}]},
                               [{"section": "S > <i>T</i>", "text": "<script>alert(1)</script>"}])
    assert "<script>" not in doc and "<i>T</i>" not in doc and "&lt;script&gt;" in doc


# ---------------------------------------------------------------- chat → drafting form


def test_a_conversation_prefills_the_drafting_form(app_settings: Settings) -> None:
    from assistant.draft.catalogue import load_catalog
    from assistant.draft.chat import read_request
    from assistant.ui.drafting_tab import CONTEXT_FIELDS as FORM_CONTEXT
    from assistant.ui.drafting_tab import DraftingService
    from assistant.ui.prefill import prefill_from_turns

    order = load_catalog(app_settings.knowledge_dir).criterion_ids
    asked = "Nous achetons un logiciel de paie en SaaS : que demande la doctrine sur la réversibilité ?"
    fact = "Notre éditeur fournit une API documentée."
    turns = [{"question": asked, "answer": {"answer": "…", "draft_request": None}},
             {"question": f"{fact} Et pour la sécurité ?", "answer": {"answer": "…", "draft_request": None}}]
    said = read_request(asked, app_settings.prompts_dir)
    found = prefill_from_turns(turns, app_settings.prompts_dir, order)
    assert not found.from_draft and found.object == said.object and found.route == said.route
    # Objectives named anywhere in the conversation, in the catalogue's order; the user's statement
    # (not the questions) is the fact of the objective it names.
    assert found.criteria == ("securite", "adaptabilite_reversibilite", "interoperabilite")
    assert found.facts == {"interoperabilite": fact}
    values, notice = DraftingService(app_settings).prefill(turns)
    assert values[:4] == [said.object, "", said.route, list(found.criteria)]
    assert values[4 + len(FORM_CONTEXT) + order.index("interoperabilite")] == fact
    assert "prérempli à partir de la conversation" in notice and said.object in notice

    # An answer that was a draft: its request is the starting point.
    drafted = {"object": "logiciel RH", "route": "faire", "criteria": ["cout"],
               "context": {"exception": "aucune_solution"}}
    turns.append({"question": "Rédige la justification.", "answer": {"answer": "…", "draft_request": drafted}})
    found = prefill_from_turns(turns, app_settings.prompts_dir, order)
    assert found.from_draft and (found.object, found.route, found.exception) == ("logiciel RH", "faire", "aucune_solution")
    assert found.criteria == ("cout", "interoperabilite")  # the request's, and those the user states facts about
    values, notice = DraftingService(app_settings).prefill(turns)
    exception = values[4 + FORM_CONTEXT.index("exception")]
    assert exception["value"] == "aucune_solution" and exception["visible"] is True
    assert "demande de rédaction" in notice

    # Nothing to read: the form stays empty and says so.
    values, notice = DraftingService(app_settings).prefill([{"question": "Bonjour", "answer": {}}])
    assert values[:4] == ["", "", None, []] and "notice-warning" in notice


# ---------------------------------------------------------------- rendering (status, origin, headings)


def test_cards_show_status_and_origin_and_reader_headings_do_not_jump() -> None:
    from assistant.ui import render

    base = {"n": 2, "doc_id": "d", "title": "Projet", "section": "A > B", "quote": "q", "passage": "avant q après",
            "kind": "loi", "date": "2026-02-05", "confidence": "officiel"}
    card = render.source_card({**base, "status": "projet", "origin": "user"}, 3)
    assert ">Projet de loi<" in card and ">Fichier ajouté<" in card and "badge-not-in-force" in card
    assert 'id="src-3-2" tabindex="-1"' in card and "<h3 " in card and "<mark>q</mark>" in card
    card = render.source_card({**base, "status": "en_vigueur", "origin": "knowledge"}, 3, level=4)
    assert ">En vigueur<" in card and ">Corpus officiel<" in card and "<h4 " in card
    old = {"title": "T", "kind": "doctrine", "status": "en_vigueur", "valid_from": "2019-01-01", "valid_to": "2021-07-05"}
    assert render.document_status(old, date(2026, 1, 1)) == "Abrogé"
    assert render.document_status(old, date(2020, 1, 1)) == "En vigueur"
    doc = render.document_html(old, [{"section": "A > B > C", "text": "x"}, {"section": "D", "text": "y"},
                                     {"section": "D > E", "text": "z"}])
    levels = [int(n) for n in re.findall(r"<h(\d)", doc)]
    assert levels[0] == 2 and all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    assert ">Abrogé<" in doc and ">Corpus officiel<" in doc
