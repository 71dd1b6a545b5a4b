"""Score one answered case, and aggregate case results into the report's metrics (per set, kind, type).

Every ratio metric is defined once, as per-case terms (``case_terms``: a numerator and a denominator
per case, the metric being Σnum / Σden). ``summarize`` and the paired bootstrap comparison
(``paired.py``) both use it, so a figure and its confidence interval always measure the same thing.

* ``fact_coverage``: in-scope cases with expected facts; a refused or failed case scores 0 (a
  system gains nothing by refusing hard questions). ``fact_coverage_answered``: answered ones only.
* ``lead_fact``: among answered questions (drafts aside) whose answer holds an expected fact, the
  share that hold one in their first paragraph, where a buyer reads the direct answer;
* a false premise (``correction_ok``) is handled when refused, when the answer states the correcting
  facts, or when the answer says the premise is not supported by any indexed text;
* a case that raised an error counts as answered with nothing (not refused, no fact, no citation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from assistant.evaluation.cases import EvalCase
from assistant.evaluation.metrics import (
    RETRIEVAL_DEPTH,
    check_citation,
    doc_ranking,
    facts_found,
    lead,
    mean,
    percentile,
    refusal_scores,
    retrieval_scores,
)
from assistant.evaluation.records import CaseResult, SystemOutput


class MetricInfo(NamedTuple):
    label: str
    higher_is_better: bool = True
    percent: bool = True


# Stable metric names: used in thresholds.yaml, --fail-under and report.json.
METRICS: dict[str, MetricInfo] = {
    "hit@1": MetricInfo("Succès @1"),
    "hit@3": MetricInfo("Succès @3"),
    "hit@5": MetricInfo("Succès @5"),
    "hit@10": MetricInfo("Succès @10"),
    "recall@5": MetricInfo("Rappel @5"),
    "recall@10": MetricInfo("Rappel @10"),
    "mrr@10": MetricInfo("MRR @10"),
    "ndcg@10": MetricInfo("nDCG @10"),
    "fact_coverage": MetricInfo("Couverture des faits (refus = 0)"),
    "fact_coverage_answered": MetricInfo("Couverture des faits (réponses données)"),
    "lead_fact": MetricInfo("Fait attendu dès le premier paragraphe"),
    "citation_validity": MetricInfo("Validité des citations"),
    "refusal_precision": MetricInfo("Précision des refus"),
    "refusal_recall": MetricInfo("Rappel des refus"),
    "false_refusal_rate": MetricInfo("Refus à tort (dans le champ)", higher_is_better=False),
    "premise_handled": MetricInfo("Fausses prémisses refusées ou corrigées"),
    "premise_corrected": MetricInfo("Fausses prémisses corrigées"),
    "decision_accuracy": MetricInfo("Décision répondre/refuser juste"),
    "refusal_rate": MetricInfo("Taux de refus", higher_is_better=False),
    "pass_rate": MetricInfo("Cas entièrement réussis"),
    "latency_p50_ms": MetricInfo("Latence p50 (ms)", higher_is_better=False, percent=False),
    "latency_p95_ms": MetricInfo("Latence p95 (ms)", higher_is_better=False, percent=False),
    "judge_faithfulness": MetricInfo("Fidélité aux sources (juge LLM)"),
    "judge_correctness": MetricInfo("Exactitude (juge LLM)"),
}
RETRIEVAL_METRICS = ("hit@1", "hit@3", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10", "ndcg@10")
RATIO_METRICS = (
    *RETRIEVAL_METRICS, "fact_coverage", "fact_coverage_answered", "lead_fact", "citation_validity",
    "refusal_precision", "refusal_recall", "false_refusal_rate", "premise_handled", "premise_corrected", "decision_accuracy",
    "refusal_rate", "pass_rate",
)
SUMMARY_METRICS = (
    "hit@5", "mrr@10", "ndcg@10", "fact_coverage", "fact_coverage_answered", "lead_fact", "citation_validity",
    "refusal_precision", "refusal_recall", "false_refusal_rate", "premise_handled", "pass_rate",
    "latency_p50_ms", "latency_p95_ms",
)
KIND_METRICS = ("hit@5", "mrr@10", "fact_coverage", "citation_validity", "decision_accuracy", "refusal_rate")
OOS_METRICS = ("decision_accuracy", "refusal_rate", "premise_corrected")
HIT_DEPTH_FOR_REASONS = 5


def score_case(
    case: EvalCase, system: str, output: SystemOutput | None, index_doc_ids: set[str] | frozenset[str],
    error: str | None = None,
) -> CaseResult:
    """Every per-case score and, for failed cases, the reasons (French) shown in reports."""
    result = CaseResult(
        system=system, case_id=case.id, kind=case.kind, question=case.question,
        expected_refused=case.expected_refused, correction_ok=case.correction_ok, in_scope=case.in_scope,
        expected_facts=list(case.expected_facts), expected_sources=list(case.expected_sources), error=error,
        oos_type=case.oos_type,
    )
    if output is None:
        output = SystemOutput("", False, [], [], 0.0)
        result.latency_ms = None
    else:
        result.latency_ms = output.latency_ms
    result.answer, result.refused = output.answer, output.refused
    result.query, result.generator = output.query, output.generator
    result.premise_rejected = output.premise_rejected and not output.refused

    ranking = doc_ranking(output.retrieved_doc_ids[:RETRIEVAL_DEPTH])
    result.retrieved_docs = ranking
    if case.expected_sources:
        result.retrieval = retrieval_scores(ranking, case.expected_sources)

    covered_all = False
    if case.expected_facts and not output.refused and error is None:
        result.facts_found = facts_found(case.expected_facts, output.answer)
        result.fact_coverage = sum(result.facts_found) / len(result.facts_found)
        if case.kind != "justification_request":  # a draft has no answer to lead with
            result.lead_facts_found = facts_found(case.expected_facts, lead(output.answer))
        covered_all = all(result.facts_found)
        result.counts_for_coverage = case.in_scope or case.correction_ok

    if case.correction_ok:
        # Refusing, stating the correcting facts, or saying the premise is unsupported all handle it.
        result.effective_expected_refused = output.refused or not (covered_all or result.premise_rejected)
    else:
        result.effective_expected_refused = case.expected_refused
    result.decision_correct = output.refused == result.effective_expected_refused

    if not output.refused:
        for c in output.citations:
            check = check_citation(c.doc_id, c.quote, c.passage or c.quote, index_doc_ids)
            result.citations.append({
                "n": c.n, "doc_id": c.doc_id, "section": c.section, "chunk_id": c.chunk_id, "quote": c.quote,
                "valid": check.valid, "problem": check.problem,
            })
    result.reasons = _reasons(case, result)
    return result


def _reasons(case: EvalCase, r: CaseResult) -> list[str]:
    reasons: list[str] = []
    if r.error:
        reasons.append(f"erreur : {r.error}")
    if not r.decision_correct:
        if r.refused:
            reasons.append("refus alors qu'une réponse était attendue")
        elif case.correction_ok:
            reasons.append("prémisse ni refusée, ni corrigée, ni signalée comme non fondée")
        else:
            reasons.append("réponse donnée alors qu'un refus était attendu")
    if r.counts_for_coverage and r.facts_found and not all(r.facts_found) and r.in_scope:
        missing = [f for f, ok in zip(r.expected_facts, r.facts_found, strict=True) if not ok]
        reasons.append("faits manquants : " + " ; ".join(f"« {m} »" for m in missing))
    if r.retrieval and r.retrieval.get(f"hit@{HIT_DEPTH_FOR_REASONS}") == 0.0:
        reasons.append(
            f"aucune source attendue parmi les {HIT_DEPTH_FOR_REASONS} premiers documents "
            f"({', '.join(case.expected_sources)})"
        )
    for c in r.citations:
        if not c["valid"]:
            reasons.append(f"citation [{c['n']}] invalide : {c['problem']}")
    if not r.refused and not r.error and r.answer.strip() and not r.citations:
        reasons.append("réponse sans aucune source citée")
    return reasons


# ---------------------------------------------------------------- aggregation


def case_terms(r: CaseResult, metric: str) -> tuple[float, float]:
    """(numerator, denominator) of ``metric`` for one case; the metric is Σnum / Σden over cases."""
    if metric in RETRIEVAL_METRICS:
        value = (r.retrieval or {}).get(metric)
        return (0.0, 0.0) if value is None else (float(value), 1.0)
    if metric == "fact_coverage":
        if not (r.in_scope and r.expected_facts):
            return 0.0, 0.0
        return (0.0 if r.refused or r.error else float(r.fact_coverage or 0.0)), 1.0
    if metric == "fact_coverage_answered":
        return (float(r.fact_coverage or 0.0), 1.0) if r.counts_for_coverage else (0.0, 0.0)
    if metric == "lead_fact":
        if not (r.in_scope and r.lead_facts_found and any(r.facts_found)):
            return 0.0, 0.0
        return float(any(a and b for a, b in zip(r.facts_found, r.lead_facts_found, strict=True))), 1.0
    if metric == "citation_validity":
        return float(sum(1 for c in r.citations if c["valid"])), float(len(r.citations))
    if metric == "refusal_precision":
        return float(r.refused and r.effective_expected_refused), float(r.refused)
    if metric == "refusal_recall":
        return float(r.refused and r.effective_expected_refused), float(r.effective_expected_refused)
    if metric == "false_refusal_rate":
        return (float(r.refused), 1.0) if r.in_scope else (0.0, 0.0)
    if metric == "premise_handled":
        return (float(r.decision_correct), 1.0) if r.correction_ok else (0.0, 0.0)
    if metric == "premise_corrected":
        return (float(r.decision_correct and not r.refused), 1.0) if r.correction_ok else (0.0, 0.0)
    if metric == "decision_accuracy":
        return float(r.decision_correct), 1.0
    if metric == "refusal_rate":
        return float(r.refused), 1.0
    if metric == "pass_rate":
        return float(r.passed), 1.0
    raise KeyError(f"métrique sans définition par cas : {metric}")


def ratio(results: Sequence[CaseResult], metric: str) -> float | None:
    num = den = 0.0
    for r in results:
        a, b = case_terms(r, metric)
        num, den = num + a, den + b
    return num / den if den else None


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """Aggregate metrics of a list of case results (one system, any subset of cases)."""
    metrics: dict[str, Any] = {name: ratio(results, name) for name in RATIO_METRICS}
    scored = [r for r in results if r.retrieval]
    metrics["hit_curve"] = [mean(r.retrieval.get(f"hit@{k}") for r in scored) for k in range(1, RETRIEVAL_DEPTH + 1)]

    latencies = [r.latency_ms for r in results if r.latency_ms is not None and not r.error]
    metrics["latency_p50_ms"] = percentile(latencies, 50)
    metrics["latency_p95_ms"] = percentile(latencies, 95)

    judged = [r.judge for r in results if r.judge and not r.judge.get("error")]
    if judged:
        metrics["judge_faithfulness"] = mean(j.get("faithfulness") for j in judged)
        metrics["judge_correctness"] = mean(j.get("correctness") for j in judged)

    refusals = refusal_scores((r.effective_expected_refused, r.refused) for r in results)
    metrics["counts"] = {
        "cases": len(results),
        "errors": sum(1 for r in results if r.error),
        "refused": sum(1 for r in results if r.refused),
        "expected_refused": sum(1 for r in results if r.effective_expected_refused),
        "retrieval_scored": len(scored),
        "coverage_scored": sum(1 for r in results if r.in_scope and r.expected_facts),
        "citations": sum(len(r.citations) for r in results),
        "passed": sum(1 for r in results if r.passed),
        "premises": sum(1 for r in results if r.correction_ok),
        "refusal_confusion": {"tp": refusals.tp, "fp": refusals.fp, "fn": refusals.fn, "tn": refusals.tn},
        "judged": len(judged),
    }
    return metrics


def summarize_by_kind(results: Sequence[CaseResult]) -> dict[str, dict[str, Any]]:
    kinds = list(dict.fromkeys(r.kind for r in results))
    return {kind: summarize([r for r in results if r.kind == kind]) for kind in kinds}


def summarize_by_oos_type(results: Sequence[CaseResult]) -> dict[str, dict[str, Any]]:
    """Out-of-scope cases split by how they tempt an answer (types without cases are left out)."""
    from assistant.evaluation.cases import OOS_TYPES

    out_of_scope = [r for r in results if r.kind == "out_of_scope"]
    groups = {t: [r for r in out_of_scope if r.oos_type == t] for t in OOS_TYPES}
    untyped = [r for r in out_of_scope if r.oos_type not in OOS_TYPES]
    if untyped:
        groups["untyped"] = untyped
    return {t: summarize(rs) for t, rs in groups.items() if rs}
