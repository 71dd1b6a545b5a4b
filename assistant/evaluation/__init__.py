"""Evaluation suite: case files, offline metrics, baselines in the same run, reports and the CI gate.

Public API (used by the CLI, the app's Quality tab, the CI gate test and bench/tune.py)::

    run_evaluation(settings, cases_path=None, compare=False, out_dir=None, progress=None) -> EvalReport
    latest_report(reports_dir) -> dict | None
    load_cases(path) -> CaseSet                          # raises CaseError naming file and case
    guard_not_blind(path)                                # tuning code: refuse blind cases
    load_thresholds(path) / parse_fail_under(items) / check_set(set, metrics, limits, paired)
    paired_delta(ours_results, baseline_results, metric, baseline) -> PairedDelta
"""

from __future__ import annotations

from assistant.evaluation.cases import (
    CASE_KINDS,
    OOS_TYPES,
    BlindSetAccess,
    CaseError,
    CaseSet,
    EvalCase,
    guard_not_blind,
    load_case_file,
    load_cases,
)
from assistant.evaluation.paired import PairedDelta, paired_delta
from assistant.evaluation.records import CaseResult, SystemOutput
from assistant.evaluation.report import (
    latest_report,
    render_html,
    render_markdown,
    summary_table,
    summary_tables,
    write_report,
)
from assistant.evaluation.results import EvalReport, SystemReport
from assistant.evaluation.runner import (
    default_cases_path,
    default_reports_dir,
    default_thresholds_path,
    run_evaluation,
)
from assistant.evaluation.scoring import (
    METRICS,
    score_case,
    summarize,
    summarize_by_kind,
    summarize_by_oos_type,
)
from assistant.evaluation.thresholds import (
    SetThresholds,
    ThresholdCheck,
    ThresholdError,
    Thresholds,
    check_set,
    load_thresholds,
    parse_fail_under,
)

__all__ = [
    "CASE_KINDS", "METRICS", "OOS_TYPES", "BlindSetAccess", "CaseError", "CaseResult", "CaseSet", "EvalCase",
    "EvalReport", "PairedDelta", "SetThresholds", "SystemOutput", "SystemReport", "ThresholdCheck", "ThresholdError",
    "Thresholds", "check_set", "default_cases_path", "default_reports_dir", "default_thresholds_path",
    "guard_not_blind", "latest_report", "load_case_file", "load_cases", "load_thresholds", "paired_delta",
    "parse_fail_under", "render_html", "render_markdown", "run_evaluation", "score_case", "summarize",
    "summarize_by_kind", "summarize_by_oos_type", "summary_table", "summary_tables", "write_report",
]
