"""CI quality gate: the shipped suite (dev and blind), with baselines, must meet evals/thresholds.yaml.

Runs every case once through our pipeline, against the session index of the shipped knowledge base;
the baselines (BM25 only, dense only, naive LangChain) answer every dev case and one blind case in
``BASELINE_SAMPLE`` (a stable hash of the id picks them), and each paired comparison is made on the
cases both systems answered. The blind set grows by a lot with each evaluation cycle: the baselines on
all of it took most of a 40-minute CI run; our own thresholds still cover every case. ``make eval``
(``doctrine eval --compare``) runs the baselines on every case. The output shows each paired comparison with its
difference and confidence interval, and a failure lists the missed checks and the failed cases, so
a regression can be found from the CI log alone; the full report is in the temp folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.evaluation import load_thresholds, run_evaluation

BASELINE_SAMPLE = 4  # same as `doctrine eval --compare --gate --baseline-sample 4`


@pytest.mark.slow
@pytest.mark.timeout(3600)  # a safety net, not a speed target (about 8 min here for 5 400+ cases)
def test_shipped_suite_meets_the_thresholds(
    corpus_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thresholds_file = PROJECT_ROOT / "evals" / "thresholds.yaml"
    thresholds = load_thresholds(thresholds_file)
    assert {"dev", "blind"} <= set(thresholds.sets), f"{thresholds_file} : blocs dev et blind attendus"

    settings = corpus_settings.model_copy(update={"evals_dir": PROJECT_ROOT / "evals"})
    report = run_evaluation(settings, compare=True, out_dir=tmp_path / "report", thresholds=thresholds,
                            baseline_sample=BASELINE_SAMPLE)

    assert {"dev", "blind"} <= set(report.set_names), report.set_names
    assert len(report.set_info("dev").case_ids) >= 150 and len(report.set_info("blind").case_ids) >= 150
    assert not [c for c in report.checks if c["skipped"]]
    blind = set(report.set_info("blind").case_ids)
    answered = {r.case_id for r in report.system("bm25").results}
    assert set(report.set_info("dev").case_ids) <= answered  # every dev case, a quarter of blind
    assert len(blind) / 5 < len(blind & answered) < len(blind) / 3
    assert len(report.ours.results) == report.n_cases  # our thresholds cover every case
    errors = [f"{r.case_id}: {r.error}" for s in report.systems for r in s.results if r.error]
    assert not errors, errors
    with capsys.disabled():  # shown in `make test` output even when the gate passes
        print("\nPorte qualité (evals/thresholds.yaml) :")
        for c in report.checks:
            print(f"  {'OK   ' if c['passed'] else 'ÉCHEC'} {c['message']}")
    missed = report.failed_checks()
    if missed:
        lines = [f"- {c['message']}" for c in missed]
        for name in ("blind", "dev"):
            lines += [f"  [{name}] {r.case_id} : {' / '.join(r.reasons)}" for r in report.failed_cases("ours", name)[:15]]
        pytest.fail(f"seuils non atteints (rapport : {report.out_dir}) :\n" + "\n".join(lines))
