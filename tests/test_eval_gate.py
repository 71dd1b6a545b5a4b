"""CI quality gate: the shipped evaluation cases, with baselines, must meet evals/thresholds.yaml.

Runs the whole suite once (our pipeline, BM25 only, dense only, naive LangChain) against the
session index of the shipped knowledge base. A failure lists the missed thresholds and the failed
cases so the regression can be found from the CI log alone; the full report is in the temp folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.evaluation import load_thresholds, run_evaluation
from assistant.evaluation.report import fmt


@pytest.mark.slow
def test_shipped_cases_meet_the_thresholds(corpus_settings: Settings, tmp_path: Path) -> None:
    thresholds_file = PROJECT_ROOT / "evals" / "thresholds.yaml"
    thresholds = load_thresholds(thresholds_file)
    assert not thresholds.empty, f"{thresholds_file} absent ou vide : la porte qualité ne vérifierait rien"

    report = run_evaluation(corpus_settings, PROJECT_ROOT / "evals" / "cases", compare=True,
                            out_dir=tmp_path / "report", thresholds=thresholds)

    assert report.n_cases >= 50, "trop peu de cas livrés pour une porte qualité"
    assert not [c for c in report.checks if c["skipped"]]
    errors = [f"{r.case_id}: {r.error}" for s in report.systems for r in s.results if r.error]
    assert not errors, errors
    missed = report.failed_checks()
    if missed:
        lines = [f"- {c['message']}" for c in missed]
        lines.append("Synthèse : " + " ; ".join(
            f"{s.name} hit@5={fmt('hit@5', s.metrics['hit@5'])} couverture={fmt('x', s.metrics['fact_coverage'])}"
            for s in report.systems))
        lines += [f"  {r.case_id} : {' / '.join(r.reasons)}" for r in report.failed_cases()[:25]]
        pytest.fail(f"seuils non atteints (rapport : {report.out_dir}) :\n" + "\n".join(lines))
