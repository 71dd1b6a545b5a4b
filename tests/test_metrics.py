"""Offline evaluation metrics on hand-made cases: each metric, its edge cases, and the per-case scoring."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.answer.types import Citation
from assistant.evaluation.cases import EvalCase
from assistant.evaluation.judge import parse_verdict
from assistant.evaluation.metrics import (
    answer_terms,
    check_citation,
    citation_validity,
    doc_ranking,
    fact_coverage,
    fact_found,
    facts_found,
    hit_at_k,
    lead,
    mean,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    refusal_scores,
)
from assistant.evaluation.records import SystemOutput
from assistant.evaluation.scoring import score_case, summarize, summarize_by_kind, summarize_by_oos_type

# ---------------------------------------------------------------- retrieval


def test_doc_ranking_keeps_first_appearance_order() -> None:
    assert doc_ranking(["a", "a", "b", "a", "c", "b", ""]) == ["a", "b", "c"]


def test_retrieval_metrics_on_a_hand_ranking() -> None:
    ranking = ["a", "b", "c", "d"]
    assert hit_at_k(ranking, ["c"], 1) == 0.0
    assert hit_at_k(ranking, ["c"], 3) == 1.0
    assert mrr_at_k(ranking, ["c"]) == pytest.approx(1 / 3)
    assert ndcg_at_k(ranking, ["c"]) == pytest.approx((1 / math.log2(4)) / 1.0)
    assert recall_at_k(ranking, ["a", "d"], 3) == 0.5
    assert recall_at_k(ranking, ["a", "d"], 4) == 1.0
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at_k(ranking, ["a", "d"]) == pytest.approx((1 + 1 / math.log2(5)) / ideal)
    assert ndcg_at_k(["a", "d"], ["a", "d"]) == pytest.approx(1.0)


def test_retrieval_metrics_edge_cases() -> None:
    # No expected source: not scored at all (None), rather than a free 1 or an unfair 0.
    for metric in (lambda r, e: hit_at_k(r, e, 5), lambda r, e: recall_at_k(r, e, 5), mrr_at_k, ndcg_at_k):
        assert metric(["a"], []) is None
        assert metric([], ["a"]) == 0.0
    # Expected document beyond depth 10 does not count.
    deep = [f"d{i}" for i in range(12)]
    assert mrr_at_k(deep, ["d11"]) == 0.0
    assert mrr_at_k(deep, ["d9"]) == pytest.approx(0.1)


# ---------------------------------------------------------------- facts


def test_fact_matching_folds_case_accents_and_stems() -> None:
    terms = answer_terms("La RÉVERSIBILITÉ impose des critères hiérarchisés et un plan de sortie.")
    assert fact_found("réversibilité", terms)
    assert fact_found("hiérarchise", terms)  # same Snowball stem
    assert fact_found("sortie plan", terms)  # order does not matter
    assert fact_found("le plan de la sortie", terms)  # stopwords ignored


def test_fact_needs_all_tokens_of_one_alternative() -> None:
    answer = "Le développement spécifique vient ensuite."
    assert not fact_found("développement spécifique en dernier ressort", answer_terms(answer))
    assert fact_found("développement spécifique en dernier ressort | développement spécifique", answer_terms(answer))
    # Derivations of one word count (a long common prefix); unrelated words sharing a short one do not.
    assert fact_found("réversibilité", answer_terms("un contrat réversible"))
    assert fact_found("souveraineté", answer_terms("une offre souveraine"))
    assert not fact_found("publicité", answer_terms("un acheteur public"))
    assert not fact_found("réversibilité", answer_terms("un contrat révisé"))


def test_long_facts_accept_a_reasonable_rewording() -> None:
    fact = "coût complet du cycle de vie des équipements"  # 5 content words: 4 are enough
    assert fact_found(fact, answer_terms("Le coût du cycle de vie des équipements est pris en compte."))
    assert not fact_found(fact, answer_terms("Le coût des équipements est pris en compte."))
    # Numbers are never optional.
    assert not fact_found("seuil de 143 000 euros HT", answer_terms("le seuil de 221 000 euros HT"))


def test_fact_matching_is_neither_always_true_nor_always_false() -> None:
    facts = ["solutions mutualisées", "sur étagère", "dernier recours | dernier ressort"]
    good = "D'abord les solutions mutualisées, puis le sur étagère, enfin le spécifique en dernier recours."
    assert facts_found(facts, good) == [True, True, True]
    assert facts_found(facts, "Il faut rédiger un cahier des charges précis.") == [False, False, False]
    assert fact_coverage(facts, "Les solutions mutualisées d'abord.") == pytest.approx(1 / 3)


def test_numbers_must_match_exactly() -> None:
    assert fact_found("24 %", answer_terms("au plus 24 % du capital"))
    assert not fact_found("24 %", answer_terms("au plus 39 % du capital"))
    assert fact_found("4,5 milliards", answer_terms("environ 4,5 milliards d'euros par an"))
    assert not fact_found("4,5 milliards", answer_terms("environ 45 milliards"))


def test_stopword_only_and_empty_alternatives() -> None:
    # Only stopwords: matched on folded words instead of vanishing (which would match everything).
    assert fact_found("pas du tout", answer_terms("Ce n'est pas du tout le cas."))
    assert not fact_found("pas du tout", answer_terms("Le texte est muet."))
    # No word at all: never found.
    assert not fact_found("%", answer_terms("100 % des cas"))
    assert not fact_found(" | ", answer_terms("n'importe quoi"))


def test_fact_coverage_edge_cases() -> None:
    assert fact_coverage([], "réponse quelconque") is None
    assert fact_coverage(["plan de sortie"], "") == 0.0
    assert fact_coverage(["plan de sortie"], "   ") == 0.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=4), st.text(max_size=200))
def test_fact_coverage_properties(facts: list[str], answer: str) -> None:
    coverage = fact_coverage(facts, answer)
    assert coverage is not None and 0.0 <= coverage <= 1.0
    # An answer that restates a fact always covers it (when the fact has any word at all).
    for fact in facts:
        if any(ch.isalnum() for ch in fact) and answer_terms(fact).words:
            assert fact_found(fact, answer_terms(f"{answer} {fact}"))


# ---------------------------------------------------------------- citations, refusals, latency


def test_citation_checks() -> None:
    docs = frozenset({"circulaire"})
    passage = "La réversibilité exige un plan de sortie\net des formats ouverts."
    assert check_citation("circulaire", "plan de sortie et des formats", passage, docs).valid  # whitespace-normalised
    unknown = check_citation("inventee", "plan de sortie", passage, docs)
    assert not unknown.valid and "inventee" in unknown.problem
    paraphrase = check_citation("circulaire", "un plan de réversibilité", passage, docs)
    assert not paraphrase.valid and "mot pour mot" in paraphrase.problem
    assert not check_citation("circulaire", "", passage, docs).valid
    assert citation_validity([True, False, True, True]) == 0.75
    assert citation_validity([]) is None


def test_refusal_scores() -> None:
    # (expected refused, actually refused)
    pairs = [(True, True), (True, True), (True, False), (False, True), (False, False), (False, False)]
    scores = refusal_scores(pairs)
    assert (scores.tp, scores.fp, scores.fn, scores.tn) == (2, 1, 1, 2)
    assert scores.precision == pytest.approx(2 / 3)
    assert scores.recall == pytest.approx(2 / 3)
    never = refusal_scores([(True, False), (False, False)])
    assert never.precision is None and never.recall == 0.0
    nothing_expected = refusal_scores([(False, True), (False, False)])
    assert nothing_expected.precision == 0.0 and nothing_expected.recall is None


def test_percentiles_and_mean() -> None:
    assert percentile([10, 20, 30, 40], 50) == pytest.approx(25.0)
    assert percentile([10, 20, 30, 40], 95) == pytest.approx(38.5)
    assert percentile([], 50) is None
    assert mean([1.0, None, 0.0]) == 0.5
    assert mean([None]) is None


# ---------------------------------------------------------------- per-case scoring and aggregation

DOCS = frozenset({"circulaire", "glossaire"})
PASSAGE = "Avant tout achat, l'acheteur examine les solutions mutualisées, puis le sur étagère."


def _citation(quote: str = "l'acheteur examine les solutions mutualisées", doc: str = "circulaire") -> Citation:
    return Citation(1, doc, "Circulaire", "Méthode", quote, "https://example.org", 0.9, "c1", PASSAGE)


def _case(kind: str = "procedure", **kw: object) -> EvalCase:
    defaults: dict[str, object] = {"id": "c", "question": "Dans quel ordre ?", "kind": kind,
                                   "expected_refused": kind == "out_of_scope"}
    return EvalCase(**(defaults | kw))  # type: ignore[arg-type]


def _out(answer: str = "", refused: bool = False, citations: list[Citation] | None = None,
         docs: list[str] | None = None) -> SystemOutput:
    return SystemOutput(answer, refused, citations or [], docs or [], 12.0)


def test_answered_in_scope_case_passes() -> None:
    case = _case(expected_facts=("solutions mutualisées", "sur étagère"), expected_sources=("circulaire",))
    r = score_case(case, "ours", _out(PASSAGE + " [1]", citations=[_citation()], docs=["glossaire", "circulaire"]),
                   DOCS)
    assert r.passed, r.reasons
    assert r.fact_coverage == 1.0 and r.counts_for_coverage
    assert r.retrieval["hit@1"] == 0.0 and r.retrieval["hit@5"] == 1.0 and r.retrieval["mrr@10"] == 0.5
    assert r.citations[0]["valid"]


def test_refused_in_scope_case_is_a_false_refusal_that_covers_nothing() -> None:
    case = _case(expected_facts=("sur étagère",))
    r = score_case(case, "ours", _out("Les textes ne couvrent pas cette question.", refused=True), DOCS)
    assert not r.decision_correct and not r.passed
    assert r.fact_coverage is None and not r.counts_for_coverage
    assert "refus alors qu'une réponse était attendue" in r.reasons
    m = summarize([r])
    assert m["fact_coverage"] == 0.0 and m["fact_coverage_answered"] is None  # a refusal scores 0
    assert m["false_refusal_rate"] == 1.0


def test_empty_answer_and_missing_facts_are_reported() -> None:
    case = _case(expected_facts=("sur étagère",), expected_sources=("circulaire",))
    r = score_case(case, "ours", _out("", docs=["glossaire"]), DOCS)
    assert r.fact_coverage == 0.0 and r.counts_for_coverage
    assert any(x.startswith("faits manquants") for x in r.reasons)
    assert any("aucune source attendue" in x for x in r.reasons)


def test_invalid_citations_fail_the_case() -> None:
    case = _case()
    bad = [_citation("une phrase inventée"), _citation(doc="document-inexistant")._replace(n=2)]
    r = score_case(case, "ours", _out("Réponse [1] [2]", citations=bad), DOCS)
    assert [c["valid"] for c in r.citations] == [False, False]
    assert sum("invalide" in x for x in r.reasons) == 2


def test_out_of_scope_and_correction_ok_semantics() -> None:
    oos = _case("out_of_scope")
    assert score_case(oos, "s", _out("refus", refused=True), DOCS).passed
    answered = score_case(oos, "s", _out("Le préavis est de deux mois."), DOCS)
    assert not answered.decision_correct and answered.effective_expected_refused

    # Negations (aucun, pas, ne) are stopwords: correction facts are phrased with content words.
    false_premise = _case("out_of_scope", correction_ok=True, expected_facts=("absence de pondération",))
    refused = score_case(false_premise, "s", _out("refus", refused=True), DOCS)
    corrected = score_case(false_premise, "s", _out("La presse relève l'absence de pondération [1].",
                                                    citations=[_citation()]), DOCS)
    accepted = score_case(false_premise, "s", _out("L'annexe 7 pondère la souveraineté à 30 %."), DOCS)
    assert refused.decision_correct and refused.effective_expected_refused
    assert corrected.decision_correct and not corrected.effective_expected_refused and corrected.passed
    assert corrected.counts_for_coverage and corrected.fact_coverage == 1.0
    assert not accepted.decision_correct and accepted.effective_expected_refused

    overridden = _case("factual", expected_refused=True)
    assert score_case(overridden, "s", _out("refus", refused=True), DOCS).decision_correct

    # A premise with no correcting fact on file: saying it is unsupported handles it, silence does not.
    unsupported = _case("out_of_scope", correction_ok=True, oos_type="false_premise")
    flagged = score_case(unsupported, "s", _out("Aucun texte indexé ne fixe un tel quota.")._replace(
        premise_rejected=True), DOCS)
    silent = score_case(unsupported, "s", _out("La circulaire prévoit plusieurs objectifs."), DOCS)
    assert flagged.decision_correct and flagged.premise_rejected
    assert not silent.decision_correct
    m = summarize([flagged, silent, refused])
    assert m["premise_handled"] == pytest.approx(2 / 3) and m["premise_corrected"] == pytest.approx(1 / 3)


def test_lead_is_the_first_paragraph() -> None:
    answer = "**Les solutions mutualisées d'abord.** [1]\n  1. un point\n\n- Puis un produit sur étagère. [2]"
    assert lead(answer) == "**Les solutions mutualisées d'abord.** [1]\n  1. un point"
    assert lead("\n  Une seule phrase. ") == "Une seule phrase."


def test_lead_fact_counts_answers_whose_first_paragraph_holds_a_found_fact() -> None:
    facts = ("solutions mutualisées", "sur étagère")
    first = "**Les solutions mutualisées d'abord.** [1]\n\n- Puis un produit sur étagère. [1]"
    later = "**La doctrine fixe un ordre.** [1]\n\n- Les solutions mutualisées d'abord. [1]"
    results = [
        score_case(_case(id="a", expected_facts=facts), "s", _out(first), DOCS),
        score_case(_case(id="b", expected_facts=facts), "s", _out(later), DOCS),
        score_case(_case(id="c", expected_facts=facts), "s", _out("Rien d'utile ici."), DOCS),  # no fact: not counted
        score_case(_case(id="d", expected_facts=facts), "s", _out("refus", refused=True), DOCS),
        score_case(_case("justification_request", id="e", expected_facts=facts), "s", _out(later), DOCS),
    ]
    assert results[0].lead_facts_found == [True, False] and results[1].lead_facts_found == [False, False]
    assert results[4].lead_facts_found == []  # a draft has no direct answer to lead with
    assert summarize(results)["lead_fact"] == pytest.approx(1 / 2)


def test_summary_aggregates_by_definition() -> None:
    facts = ("solutions mutualisées", "sur étagère")
    results = [
        score_case(_case(id="a", expected_facts=facts, expected_sources=("circulaire",)), "s",
                   _out(PASSAGE + " [1]", citations=[_citation()], docs=["circulaire"]), DOCS),
        score_case(_case(id="b", expected_facts=facts, expected_sources=("circulaire",)), "s",
                   _out("Les solutions mutualisées d'abord [1].", citations=[_citation("inventée")],
                        docs=["glossaire"]), DOCS),
        score_case(_case(id="c", expected_facts=facts), "s", _out("refus", refused=True), DOCS),
        score_case(_case("out_of_scope", id="d"), "s", _out("refus", refused=True), DOCS),
        score_case(_case("out_of_scope", id="e"), "s", _out("Une réponse inventée."), DOCS),
        score_case(_case(id="f", expected_facts=facts), "s", None, DOCS, error="boom"),
    ]
    m = summarize(results)
    assert m["hit@5"] == 0.5 and m["mrr@10"] == 0.5
    assert m["fact_coverage_answered"] == pytest.approx((1.0 + 0.5) / 2)  # answered in-scope only (a, b)
    assert m["fact_coverage"] == pytest.approx((1.0 + 0.5 + 0.0 + 0.0) / 4)  # refused/error = 0
    assert m["false_refusal_rate"] == pytest.approx(1 / 4)  # c refused, among a, b, c, f
    assert m["citation_validity"] == 0.5
    assert m["refusal_precision"] == 0.5 and m["refusal_recall"] == 0.5  # tp d, fp c, fn e
    assert m["counts"]["errors"] == 1 and m["counts"]["passed"] == 2
    assert m["hit_curve"][0] == 0.5 and len(m["hit_curve"]) == 10
    assert m["latency_p50_ms"] == 12.0
    by_kind = summarize_by_kind(results)
    assert set(by_kind) == {"procedure", "out_of_scope"}
    assert by_kind["out_of_scope"]["refusal_recall"] == 0.5
    typed = [score_case(_case("out_of_scope", id="g", oos_type="off_topic"), "s", _out("refus", refused=True), DOCS),
             *results]
    by_type = summarize_by_oos_type(typed)
    assert set(by_type) == {"off_topic", "untyped"} and by_type["off_topic"]["decision_accuracy"] == 1.0


def test_judge_verdict_parsing() -> None:
    ok = parse_verdict('Voici : ```json\n{"faithfulness": 0.8, "correctness": "1", "missing_facts": []}\n```')
    assert ok["faithfulness"] == 0.8 and ok["correctness"] == 1.0
    assert parse_verdict('{"faithfulness": 80, "correctness": 0.5}')["faithfulness"] == 0.8
    assert "error" in parse_verdict("Je ne sais pas.")
    assert "error" in parse_verdict('{"faithfulness": "élevée", "correctness": 1}')
    assert "error" in parse_verdict("{pas du json}")
