"""Run the case sets through our pipeline (and, with ``compare``, the baselines) and build the report."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from assistant.config import Settings
from assistant.evaluation.cases import BLIND_SET, DEV_SET, CaseError, EvalCase, load_sets, suite_sets
from assistant.evaluation.paired import REPORTED, PairedDelta, paired_delta
from assistant.evaluation.records import CaseResult
from assistant.evaluation.scoring import (
    METRICS,
    score_case,
    summarize,
    summarize_by_kind,
    summarize_by_oos_type,
)
from assistant.evaluation.systems import EvalSystem
from assistant.evaluation.thresholds import ThresholdCheck, Thresholds, check_set, load_thresholds

ProgressFn = Callable[[int, int, str], None]
OURS = "ours"
REPORT_SCHEMA = 2


class SetInfo(NamedTuple):
    """A case set as evaluated: its name in reports, where it came from, what it holds."""

    name: str
    path: str
    files: list[str]
    case_ids: list[str]
    kinds: dict[str, int]
    oos_types: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return self._asdict() | {"n_cases": len(self.case_ids)}


@dataclass
class SystemReport:
    """One system's answers to every case, and its metrics per set (by kind, by out-of-scope type)."""

    name: str
    label: str
    setup_s: float
    results: list[CaseResult]
    sets: dict[str, dict[str, Any]]
    primary: str = ""

    @property
    def metrics(self) -> dict[str, Any]:
        return self.sets.get(self.primary, {}).get("metrics", {})

    @property
    def by_kind(self) -> dict[str, dict[str, Any]]:
        return self.sets.get(self.primary, {}).get("by_kind", {})

    def set_metrics(self, set_name: str) -> dict[str, Any]:
        return self.sets.get(set_name, {}).get("metrics", {})

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "setup_s": round(self.setup_s, 2), "primary": self.primary,
                "sets": self.sets, "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SystemReport:
        return cls(data["name"], data.get("label", data["name"]), float(data.get("setup_s", 0.0)),
                   [CaseResult.from_json(r) for r in data.get("results", [])], dict(data.get("sets", {})),
                   data.get("primary", ""))


@dataclass
class EvalReport:
    """Everything report.json holds; ``systems[0]`` is our pipeline, ``sets[0]`` the primary set."""

    created_at: str
    runtime_s: float
    sets: list[SetInfo]
    systems: list[SystemReport]
    paired: dict[str, dict[str, dict[str, PairedDelta]]] = field(default_factory=dict)
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
    def primary(self) -> str:
        return self.sets[0].name if self.sets else ""

    @property
    def set_names(self) -> list[str]:
        return [s.name for s in self.sets]

    def set_info(self, name: str) -> SetInfo | None:
        return next((s for s in self.sets if s.name == name), None)

    @property
    def n_cases(self) -> int:
        return len({cid for s in self.sets for cid in s.case_ids})

    @property
    def kinds(self) -> dict[str, int]:
        return self.sets[0].kinds if self.sets else {}

    @property
    def ours(self) -> SystemReport:
        return self.system(OURS) or self.systems[0]

    def system(self, name: str) -> SystemReport | None:
        return next((s for s in self.systems if s.name == name), None)

    @property
    def baselines(self) -> list[SystemReport]:
        return [s for s in self.systems if s.name != OURS]

    def deltas(self, set_name: str | None = None) -> dict[str, dict[str, float | None]]:
        """ours − baseline, plain differences of the set's metrics (intervals are in ``paired``)."""
        set_name = set_name or self.primary
        ours = self.ours.set_metrics(set_name)
        out: dict[str, dict[str, float | None]] = {}
        for base in self.baselines:
            other = base.set_metrics(set_name)
            out[base.name] = {
                m: (None if ours.get(m) is None or other.get(m) is None else ours[m] - other[m])
                for m in METRICS if m in ours or m in other
            }
        return out

    def gaps(self, first: str = DEV_SET, second: str = BLIND_SET) -> dict[str, dict[str, float | None]]:
        """Per system, ``first − second`` for every metric (how much the dev figures flatter us)."""
        if not (self.set_info(first) and self.set_info(second)):
            return {}
        out: dict[str, dict[str, float | None]] = {}
        for s in self.systems:
            a, b = s.set_metrics(first), s.set_metrics(second)
            out[s.name] = {m: (None if a.get(m) is None or b.get(m) is None else a[m] - b[m])
                           for m in METRICS if m in a}
        return out

    @property
    def passed(self) -> bool:
        """All thresholds met (checks skipped for lack of --compare do not fail)."""
        return all(c["passed"] for c in self.checks)

    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if not c["passed"]]

    def results_in(self, system: str, set_name: str) -> list[CaseResult]:
        report, info = self.system(system), self.set_info(set_name)
        if report is None or info is None:
            return []
        wanted = set(info.case_ids)
        return [r for r in report.results if r.case_id in wanted]

    def failed_cases(self, system: str = OURS, set_name: str | None = None) -> list[CaseResult]:
        return [r for r in self.results_in(system, set_name or self.primary) if not r.passed]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA, "created_at": self.created_at, "runtime_s": round(self.runtime_s, 2),
            "primary": self.primary, "sets": [s.to_json() for s in self.sets], "n_cases": self.n_cases,
            "compare": self.compare, "judge": self.judge, "passed": self.passed, "checks": self.checks,
            "thresholds": self.thresholds,
            "paired": {st: {b: {m: d.to_json() for m, d in row.items()} for b, row in by_b.items()}
                       for st, by_b in self.paired.items()},
            "deltas": {name: self.deltas(name) for name in self.set_names},
            "gaps": self.gaps(),
            "corpus_version": self.corpus_version, "index_generation": self.index_generation,
            "settings": self.settings, "warnings": self.warnings, "out_dir": self.out_dir,
            "systems": [s.to_json() for s in self.systems],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalReport:
        sets = [SetInfo(s["name"], s.get("path", ""), list(s.get("files", [])), list(s.get("case_ids", [])),
                        dict(s.get("kinds", {})), dict(s.get("oos_types", {}))) for s in data.get("sets", [])]
        paired = {st: {b: {m: PairedDelta(**d) for m, d in row.items()} for b, row in by_b.items()}
                  for st, by_b in (data.get("paired") or {}).items()}
        return cls(
            created_at=data["created_at"], runtime_s=float(data.get("runtime_s", 0.0)), sets=sets,
            systems=[SystemReport.from_json(s) for s in data.get("systems", [])], paired=paired,
            thresholds=dict(data.get("thresholds", {})), checks=list(data.get("checks", [])),
            compare=bool(data.get("compare")), judge=bool(data.get("judge")),
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


def set_name_for(path: Path, cases_root: Path) -> str:
    """``dev``, ``blind``, ``blind/batch-1`` for the shipped folders; the file or folder name otherwise."""
    try:
        rel = path.resolve().relative_to(cases_root.resolve())
    except ValueError:
        return path.stem if path.is_file() else path.name
    return rel.as_posix() if str(rel) != "." else "cases"


def resolve_sets(settings: Settings, cases_path: Path | str | None) -> list[tuple[str, Path]]:
    root = default_cases_path(settings)
    if cases_path is None:
        sets = suite_sets(root)
        if not sets:
            raise CaseError(root, "aucun jeu de cas (attendu : dev/ et blind/)")
        return sets
    path = Path(cases_path)
    if path.is_dir() and ((path / DEV_SET).is_dir() or (path / BLIND_SET).is_dir()):
        return suite_sets(path)  # a suite laid out like evals/cases
    return [(set_name_for(path, root), path)]


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


def _set_summary(results: list[CaseResult]) -> dict[str, Any]:
    return {"metrics": summarize(results), "by_kind": summarize_by_kind(results),
            "by_oos_type": summarize_by_oos_type(results)}


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
    """Evaluate the case sets and write report.json/.md/.html (under evals/reports/<timestamp>/ or ``out_dir``).

    Without ``cases_path``, the shipped suite: ``dev`` then ``blind`` (and each blind batch when there are
    several). ``progress(done, total, label)`` is called after each step. ``judge`` needs an LLM endpoint;
    ``use_llm`` answers with the configured LLM instead of the extractive generator (ours only).
    """
    t_start = time.perf_counter()
    named, warnings = load_sets(resolve_sets(settings, cases_path))
    cases = list({c.id: c for s in named for c in s.cases}.values())
    limits = thresholds if thresholds is not None else load_thresholds(default_thresholds_path(settings))
    if extra_thresholds:
        limits = limits.merged(named[0].name, extra_thresholds)
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
    infos = [
        SetInfo(s.name, s.path, s.files, [c.id for c in s.cases], dict(Counter(c.kind for c in s.cases)),
                dict(Counter(c.oos_type for c in s.cases if c.oos_type)))
        for s in named
    ]
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
            by_id = {r.case_id: r for r in results}
            per_set = {info.name: _set_summary([by_id[c] for c in info.case_ids]) for info in infos}
            reports.append(SystemReport(system.name, system.label, system.setup_s, results, per_set, infos[0].name))
    finally:
        for system in systems:
            system.close()

    report = EvalReport(
        created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        runtime_s=0.0, sets=infos, systems=reports, thresholds=limits.to_json(), compare=compare, judge=judge,
        settings=settings.public_dict(), corpus_version=snapshot.corpus_version,
        index_generation=snapshot.generation, warnings=warnings,
    )
    for info in infos:
        ours_results = report.results_in(OURS, info.name)
        wanted = set(REPORTED) | {m for rules in limits.for_set(info.name).paired.values() for m in rules}
        report.paired[info.name] = {
            base.name: {m: paired_delta(ours_results, report.results_in(base.name, info.name), m, base.name)
                        for m in METRICS if m in wanted}
            for base in report.baselines
        }
    checks: list[ThresholdCheck] = []
    for info in infos:
        checks += check_set(info.name, report.ours.set_metrics(info.name), limits.for_set(info.name),
                            report.paired[info.name] if compare else None)
    report.checks = [c.to_json() for c in checks]
    for case in cases:
        unknown = [d for d in case.expected_sources if d not in index_doc_ids]
        if unknown:
            report.warnings.append(
                f"cas « {case.id} » : source(s) attendue(s) absente(s) de l'index : {', '.join(unknown)}")
    if judge and not any(r.judge and not r.judge.get("error") for r in reports[0].results):
        report.warnings.append("juge LLM : aucune réponse notée (voir les erreurs par cas)")
    report.runtime_s = time.perf_counter() - t_start
    if write:
        from assistant.evaluation.report import write_report

        target = Path(out_dir) if out_dir is not None else new_report_dir(default_reports_dir(settings))
        write_report(report, target)
    return report
