"""Run the cases through our pipeline (and, with ``compare``, the baselines) and build the report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.evaluation.cases import CaseSet, EvalCase, load_cases
from assistant.evaluation.records import CaseResult
from assistant.evaluation.scoring import METRICS, score_case, summarize, summarize_by_kind
from assistant.evaluation.systems import EvalSystem
from assistant.evaluation.thresholds import ThresholdCheck, Thresholds, check_thresholds, load_thresholds

ProgressFn = Callable[[int, int, str], None]
OURS = "ours"
REPORT_SCHEMA = 1


@dataclass
class SystemReport:
    name: str
    label: str
    setup_s: float
    metrics: dict[str, Any]
    by_kind: dict[str, dict[str, Any]]
    results: list[CaseResult]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "setup_s": round(self.setup_s, 2), "metrics": self.metrics,
                "by_kind": self.by_kind, "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SystemReport:
        return cls(data["name"], data.get("label", data["name"]), float(data.get("setup_s", 0.0)),
                   dict(data.get("metrics", {})), dict(data.get("by_kind", {})),
                   [CaseResult.from_json(r) for r in data.get("results", [])])


@dataclass
class EvalReport:
    """Everything report.json holds; ``systems[0]`` is our pipeline."""

    created_at: str
    runtime_s: float
    cases_path: str
    case_files: list[str]
    kinds: dict[str, int]
    systems: list[SystemReport]
    deltas: dict[str, dict[str, float | None]] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    compare: bool = False
    judge: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    corpus_version: str = ""
    index_generation: str = ""
    warnings: list[str] = field(default_factory=list)
    out_dir: str | None = None

    @property
    def n_cases(self) -> int:
        return sum(self.kinds.values())

    @property
    def ours(self) -> SystemReport:
        return self.system(OURS) or self.systems[0]

    def system(self, name: str) -> SystemReport | None:
        return next((s for s in self.systems if s.name == name), None)

    @property
    def baselines(self) -> list[SystemReport]:
        return [s for s in self.systems if s.name != OURS]

    @property
    def passed(self) -> bool:
        """All thresholds met (checks skipped for lack of --compare do not fail)."""
        return all(c["passed"] for c in self.checks)

    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"]]

    def failed_cases(self, system: str = OURS) -> list[CaseResult]:
        report = self.system(system)
        return [r for r in report.results if not r.passed] if report else []

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA, "created_at": self.created_at, "runtime_s": round(self.runtime_s, 2),
            "cases_path": self.cases_path, "case_files": self.case_files, "n_cases": self.n_cases,
            "kinds": self.kinds, "compare": self.compare, "judge": self.judge, "passed": self.passed,
            "checks": self.checks, "thresholds": self.thresholds, "deltas": self.deltas,
            "corpus_version": self.corpus_version, "index_generation": self.index_generation,
            "settings": self.settings, "warnings": self.warnings, "out_dir": self.out_dir,
            "systems": [s.to_json() for s in self.systems],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalReport:
        return cls(
            created_at=data["created_at"], runtime_s=float(data.get("runtime_s", 0.0)),
            cases_path=data.get("cases_path", ""), case_files=list(data.get("case_files", [])),
            kinds=dict(data.get("kinds", {})), systems=[SystemReport.from_json(s) for s in data.get("systems", [])],
            deltas=dict(data.get("deltas", {})), thresholds=dict(data.get("thresholds", {})),
            checks=list(data.get("checks", [])), compare=bool(data.get("compare")), judge=bool(data.get("judge")),
            settings=dict(data.get("settings", {})), corpus_version=data.get("corpus_version", ""),
            index_generation=data.get("index_generation", ""), warnings=list(data.get("warnings", [])),
            out_dir=data.get("out_dir"),
        )


def default_cases_path(settings: Settings) -> Path:
    return settings.evals_dir / "cases"


def default_reports_dir(settings: Settings) -> Path:
    return settings.evals_dir / "reports"


def default_thresholds_path(settings: Settings) -> Path:
    return settings.evals_dir / "thresholds.yaml"


def new_report_dir(reports_dir: Path) -> Path:
    """A fresh timestamped folder (``YYYYMMDD-HHMMSS``, suffixed if two runs share a second)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate, n = reports_dir / stamp, 1
    while candidate.exists():
        n += 1
        candidate = reports_dir / f"{stamp}-{n}"
    return candidate


def run_system(
    system: EvalSystem, cases: list[EvalCase], index_doc_ids: frozenset[str],
    tick: Callable[[str], None] = lambda _label: None,
) -> list[CaseResult]:
    """Every case through one system; a case that raises is recorded as an error, not fatal."""
    from assistant.store import IndexError_

    system.warm_up()
    results: list[CaseResult] = []
    for case in cases:
        try:
            output = system.run(case)
            results.append(score_case(case, system.name, output, index_doc_ids))
        except IndexError_:
            raise
        except Exception as exc:  # noqa: BLE001 - one broken case must not hide the others
            message = str(exc).strip() or type(exc).__name__
            results.append(score_case(case, system.name, None, index_doc_ids, error=message[:500]))
        tick(f"{system.name} · {case.id}")
    return results


def build_systems(settings: Settings, compare: bool, use_llm: bool, tick: Callable[[str], None]) -> list[EvalSystem]:
    from assistant.evaluation.systems import ours, single_mode
    from assistant.pipeline import get_pipeline

    pipeline = get_pipeline(settings)
    systems: list[EvalSystem] = [ours(pipeline, use_llm=use_llm)]
    if compare:
        from assistant.evaluation.baselines import NaiveLangChainSystem

        systems += [single_mode(pipeline, "bm25"), single_mode(pipeline, "dense")]
        tick("préparation de la référence LangChain (découpage et embeddings)")
        systems.append(NaiveLangChainSystem(settings))
    return systems


def compute_deltas(ours_metrics: Mapping[str, Any], baselines: list[SystemReport]) -> dict[str, dict[str, float | None]]:
    deltas: dict[str, dict[str, float | None]] = {}
    for base in baselines:
        row: dict[str, float | None] = {}
        for name in METRICS:
            a, b = ours_metrics.get(name), base.metrics.get(name)
            if a is not None or b is not None:
                row[name] = None if a is None or b is None else a - b
        deltas[base.name] = row
    return deltas


def run_evaluation(
    settings: Settings,
    cases_path: Path | str | None = None,
    compare: bool = False,
    out_dir: Path | str | None = None,
    progress: ProgressFn | None = None,
    *,
    judge: bool = False,
    use_llm: bool = False,
    thresholds: Thresholds | None = None,
    extra_thresholds: Mapping[str, float] | None = None,
    write: bool = True,
) -> EvalReport:
    """Evaluate the case file(s) and write report.json/.md/.html (under evals/reports/<timestamp>/ or ``out_dir``).

    ``progress(done, total, label)`` is called after each step. ``judge`` needs an LLM endpoint;
    ``use_llm`` answers with the configured LLM instead of the extractive generator (ours only).
    """
    t_start = time.perf_counter()
    path = Path(cases_path) if cases_path is not None else default_cases_path(settings)
    case_set: CaseSet = load_cases(path)
    cases = case_set.cases
    limits = thresholds if thresholds is not None else load_thresholds(default_thresholds_path(settings))
    if extra_thresholds:
        limits = limits.merged(extra_thresholds)
    grader = None
    if judge:
        from assistant.evaluation.judge import LLMJudge

        grader = LLMJudge(settings)

    from assistant.pipeline import get_pipeline

    snapshot = get_pipeline(settings).reader.snapshot()
    index_doc_ids = frozenset(snapshot.docs)

    n_systems = 4 if compare else 1
    total = len(cases) * n_systems + (1 if compare else 0)
    done = 0

    def tick(label: str) -> None:
        nonlocal done, total
        done += 1
        if progress is not None:
            progress(min(done, total), total, label)

    systems = build_systems(settings, compare, use_llm, tick)
    reports: list[SystemReport] = []
    try:
        for system in systems:
            results = run_system(system, cases, index_doc_ids, tick)
            if grader is not None and system.name == OURS:
                judged = [r for r in results if not r.refused and not r.error]
                total += len(judged)
                for r in judged:
                    r.judge = grader.grade(r.question, r.answer, r.citations, r.expected_facts)
                    tick(f"juge · {r.case_id}")
            reports.append(SystemReport(system.name, system.label, system.setup_s, summarize(results),
                                        summarize_by_kind(results), results))
    finally:
        for system in systems:
            system.close()

    ours_metrics = reports[0].metrics
    baselines = reports[1:]
    checks: list[ThresholdCheck] = check_thresholds(
        ours_metrics, limits, {b.name: b.metrics for b in baselines} if baselines else None
    )
    warnings = list(case_set.warnings)
    for case in cases:
        unknown = [d for d in case.expected_sources if d not in index_doc_ids]
        if unknown:
            warnings.append(f"cas « {case.id} » : source(s) attendue(s) absente(s) de l'index : {', '.join(unknown)}")
    if judge and not any(r.judge and not r.judge.get("error") for r in reports[0].results):
        warnings.append("juge LLM : aucune réponse notée (voir les erreurs par cas)")
    report = EvalReport(
        created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        runtime_s=time.perf_counter() - t_start,
        cases_path=str(path), case_files=case_set.files,
        kinds=dict(Counter(c.kind for c in cases)),
        systems=reports, deltas=compute_deltas(ours_metrics, baselines),
        thresholds=limits.to_json(), checks=[c.to_json() for c in checks],
        compare=compare, judge=judge, settings=settings.public_dict(),
        corpus_version=snapshot.corpus_version, index_generation=snapshot.generation, warnings=warnings,
    )
    if write:
        from assistant.evaluation.report import write_report

        target = Path(out_dir) if out_dir is not None else new_report_dir(default_reports_dir(settings))
        write_report(report, target)
    return report
