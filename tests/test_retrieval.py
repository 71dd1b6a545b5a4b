"""Hybrid retrieval over the real shipped corpus, and filters on a small corpus."""

from __future__ import annotations

from datetime import date

import pytest

from assistant.answer import fusion
from assistant.answer.retrieval import Searcher
from assistant.answer.types import DEGRADED, Filters, Retrieval
from assistant.config import Settings
from assistant.index.ingest import run_index

# The acceptance queries of the knowledge-base issue: the right document in the top 3.
ACCEPTANCE = [
    ("objectifs prioritaires achat numérique", "circulaire-2026-achat-numerique"),
    ("méthode en trois temps mutualisation", "circulaire-2026-achat-numerique"),
    ("immunité lois extraterritoriales", "circulaire-2026-achat-numerique"),
    ("article 31 loi SREN données sensibles", "loi-sren-article-31"),
    ("critère environnemental août 2026", "loi-climat-resilience-commande-publique"),
    ("réversibilité CCAG-TIC", "ccag-tic"),
    ("RGESN écoconception", "rgesn-achats-responsables"),
    ("frais de transfert cloud Data Act", "data-act-changement-fournisseur"),
]


@pytest.mark.parametrize(("query", "doc_id"), ACCEPTANCE)
def test_acceptance_queries_find_document_in_top3(pipeline, query: str, doc_id: str) -> None:  # noqa: ANN001
    hits = pipeline.searcher.search(query, 3)
    assert doc_id in [h.doc_id for h in hits], [(h.doc_id, h.section) for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25", "rrf"])
def test_every_mode_returns_scored_passages(pipeline, mode: str) -> None:  # noqa: ANN001
    hits = pipeline.searcher.search("qualification SecNumCloud pour les données sensibles", 5, mode=mode)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.doc_id and h.section and h.text and h.title for h in hits)
    assert len({h.chunk_id for h in hits}) == 5


def test_retrieve_returns_hits_and_the_gate_signals(pipeline) -> None:  # noqa: ANN001
    found = pipeline.searcher.retrieve("réversibilité des données en fin de contrat", 3)
    assert isinstance(found, Retrieval)
    assert found.query == "réversibilité des données en fin de contrat" and found.mode == "hybrid"
    assert len(found.hits) == 3 and len(found.gate_hits) == 6 and found.judged == found.gate_hits
    assert found.max_dense > 0 and all(found.max_dense >= h.dense - 1e-6 for h in found.gate_hits + found.hits)
    assert list(found.hits) == pipeline.searcher.search("réversibilité des données en fin de contrat", 3)


def test_bm25_mode_ranks_by_bm25_but_gives_the_gate_a_similarity(pipeline) -> None:  # noqa: ANN001
    """DOCTRINE_RETRIEVAL_MODE=bm25 used to refuse every question: its hits had no dense score."""
    query = "qualification SecNumCloud pour les données sensibles"
    found = pipeline.searcher.retrieve(query, 5, mode="bm25")
    assert found.gate_hits == () and found.judged == found.hits
    assert all(0 < h.dense <= 1 for h in found.hits)
    assert [h.score for h in found.hits] == sorted((h.score for h in found.hits), reverse=True)
    assert not found.degraded
    settings = pipeline.settings.model_copy(update={"retrieval_mode": "bm25"})
    from assistant.answer.chain import AnswerChain

    answer = AnswerChain(settings, Searcher(settings, pipeline.reader)).invoke(query)
    assert not answer.refused, answer.gate
    assert answer.retrieval is not None and answer.retrieval.mode == "bm25"


def test_one_rrf_keeps_each_callers_weights() -> None:
    scores = fusion.rrf([["a", "b"], ["b", "c"]], k=60)
    assert scores == {"a": 1 / 60, "b": 1 / 61 + 1 / 60, "c": 1 / 61}
    assert list(scores) == ["a", "b", "c"]  # first appearance order: earlier rankings win ties
    weighted = fusion.rrf([["a", "b"], ["b"]], k=10, weights=(2.0, 1.0))
    assert weighted == {"a": 2 / 10, "b": 2 / 11 + 1 / 10}
    assert set(fusion.FUSIONS) == {"hybrid", "dense", "bm25", "rrf"}


def test_kind_and_in_force_filters(small_settings: Settings) -> None:
    run_index(small_settings)
    searcher = Searcher(small_settings)
    query = "hébergement dans les centres de données"
    assert searcher.search(query, 5)[0].doc_id == "ancien-texte"
    in_force = searcher.search(query, 5, filters=Filters(in_force_on=date(2026, 3, 1)))
    assert in_force and all(h.doc_id == "circulaire-test" for h in in_force)
    old = searcher.search(query, 5, filters=Filters(in_force_on=date(2020, 1, 1)))
    assert old and all(h.doc_id == "ancien-texte" for h in old)
    kinds = searcher.search(query, 5, filters=Filters(kinds=("circulaire",)))
    assert kinds and all(h.kind == "circulaire" for h in kinds)
    assert searcher.search(query, 5, filters=Filters(kinds=("presse",))) == []


def test_blank_query_returns_nothing(pipeline) -> None:  # noqa: ANN001
    assert pipeline.searcher.search("   ", 5) == []


def test_gate_calibration_is_one_nested_setting(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    from assistant.config import GateThresholds

    assert Settings().gate == GateThresholds()
    monkeypatch.setenv("DOCTRINE_GATE_MIN_DENSE", "0.5")
    monkeypatch.setenv("DOCTRINE_GATE_FUSION_WEIGHT", "0.7")
    assert Settings().gate.min_dense == 0.5 and Settings().gate.fusion_weight == 0.7
    assert Settings(gate_scope=0.9).gate.scope == 0.9  # flat names still accepted as arguments
    monkeypatch.delenv("DOCTRINE_GATE_MIN_DENSE")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doctrine.toml").write_text("gate_min_dense = 0.3\n[gate]\ngeneral_weight = 0.2\n", encoding="utf-8")
    gate = Settings().gate
    assert (gate.min_dense, gate.general_weight, gate.fusion_weight) == (0.3, 0.2, 0.7)


def test_degraded_hits_are_marked() -> None:
    from assistant.answer.types import Hit

    hit = Hit.from_meta({"title": "T"}, chunk_id="c", doc_id="d", section="s", section_id="d#s0", text="x",
                        dense=DEGRADED)
    assert Retrieval("q", Filters(), "hybrid", (hit,)).degraded
    assert not Retrieval("q", Filters(), "hybrid", (hit._replace(dense=0.3),)).degraded


def test_in_force_filter_leaves_out_bills_and_proposals(pipeline) -> None:  # noqa: ANN001
    from assistant.answer.types import Filters

    query = "sécurisation des marchés publics numériques des collectivités cloud de confiance"
    everything = pipeline.searcher.search(query, 10)
    assert "ppl-securisation-marches-numeriques" in {h.doc_id for h in everything}
    in_force = pipeline.searcher.search(query, 10, filters=Filters(in_force_on=date(2026, 11, 30)))
    assert in_force and all(h.status == "en_vigueur" for h in in_force)
    assert "ppl-securisation-marches-numeriques" not in {h.doc_id for h in in_force}
    statuses = {h.doc_id: h.status for h in everything}
    assert statuses["ppl-securisation-marches-numeriques"] == "proposition"
