"""Evaluation suite: case files, offline metrics, baselines in the same run, reports and the CI gate.

Public API (used by the CLI, the app's Quality tab, the CI gate test and bench/tune.py)::

    run_evaluation(settings, cases_path=None, compare=False, out_dir=None, progress=None) -> EvalReport
    latest_report(reports_dir) -> dict | None
    load_cases(path) -> CaseSet                          # raises CaseError naming file and case
    load_thresholds(path) / parse_fail_under(items) / check_thresholds(metrics, thresholds, baselines)
"""

from __future__ import annotations

from assistant.evaluation.cases import CASE_KINDS, CaseError, CaseSet, EvalCase, load_case_file, load_cases
from assistant.evaluation.records import CaseResult, SystemOutput
from assistant.evaluation.report import (
    latest_report,
    render_html,
    render_markdown,
    summary_table,
    write_report,
)
from assistant.evaluation.runner import (
    EvalReport,
    SystemReport,
    default_cases_path,
    default_reports_dir,
    default_thresholds_path,
    run_evaluation,
)
from assistant.evaluation.scoring import METRICS, score_case, summarize, summarize_by_kind
from assistant.evaluation.thresholds import (
    ThresholdCheck,
    ThresholdError,
    Thresholds,
    check_thresholds,
    load_thresholds,
    parse_fail_under,
)

__all__ = [
    "CASE_KINDS", "METRICS", "CaseError", "CaseResult", "CaseSet", "EvalCase", "EvalReport", "SystemOutput",
    "SystemReport", "ThresholdCheck", "ThresholdError", "Thresholds", "check_thresholds", "default_cases_path",
    "default_reports_dir", "default_thresholds_path", "latest_report", "load_case_file", "load_cases",
    "load_thresholds", "parse_fail_under", "render_html", "render_markdown", "run_evaluation", "score_case",
    "summarize", "summarize_by_kind", "summary_table", "write_report",
]
