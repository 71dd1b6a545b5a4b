"""Run the case sets through our pipeline (and, with ``compare``, the baselines) and build the report.

The caller may hand over the index reader and the LLM it already holds (the CLI and the app pass
their pipeline's), so an evaluation in the app process loads nothing twice.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.answer.generators import LLMGenerator
from assistant.config import Settings
from assistant.evaluation.cases import BLIND_SET, DEV_SET, CaseError, EvalCase, load_sets, suite_sets
from assistant.evaluation.paired import REPORTED, paired_delta
from assistant.evaluation.records import CaseResult
from assistant.evaluation.report import write_report
from assistant.evaluation.results import OURS, EvalReport, SetInfo, SystemReport
from assistant.evaluation.scoring import (
    METRICS,
    score_case,
    summarize,
    summarize_by_kind,
    summarize_by_oos_type,
)
from assistant.evaluation.systems import EvalSystem, ours, single_mode
from assistant.evaluation.thresholds import ThresholdCheck, Thresholds, check_set, load_thresholds
from assistant.index.errors import IndexError_
from assistant.index.store import IndexReader

ProgressFn = Callable[[int, int, str], None]


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


def build_systems(
    settings: Settings, reader: IndexReader, llm: LLMGenerator | None, compare: bool, tick: Callable[[str], None],
    embeddings: Sequence[str] = (),
) -> list[EvalSystem]:
    """Our pipeline (answering with ``llm`` when given), with ``compare`` the three baselines, and our
    pipeline again on an index built with each other embedding backend of ``embeddings`` (e.g. a
    local sentence-transformers model a ministry provides), so backends are compared side by side."""
    systems: list[EvalSystem] = [ours(settings, reader, llm)]
    if compare:
        from assistant.evaluation.baselines import NaiveLangChainSystem

        systems += [single_mode(settings, reader, "bm25"), single_mode(settings, reader, "dense")]
        tick("préparation de la référence LangChain (découpage et embeddings)")
        systems.append(NaiveLangChainSystem(settings))
    for spec in embeddings:
        systems.append(other_embedding(settings, spec, tick))
    return systems


def other_embedding(settings: Settings, spec: str, tick: Callable[[str], None]) -> EvalSystem:
    """Our pipeline on a temporary index of the same corpus embedded with ``spec``."""
    import tempfile

    from assistant.evaluation.systems import chain_system
    from assistant.index.embeddings import get_embeddings
    from assistant.index.ingest import run_index
    from assistant.index.store import IndexReader

    folder = Path(tempfile.mkdtemp(prefix="doctrine-eval-embedding-"))
    other = settings.model_copy(update={"embedding": spec, "data_dir": folder, "chroma_url": None})
    tick(f"index avec le modèle {spec}")
    run_index(other)
    name = f"ours-{get_embeddings(spec).model_id}"[:40]
    return chain_system(name, f"Doctrine, embeddings {get_embeddings(spec).model_id}", other, IndexReader(other))


def in_baseline_sample(case_id: str, every: int) -> bool:
    """One case in ``every``, chosen by a stable hash of its id: the same cases on every machine and
    run, unrelated to the case's kind or lot, and a new case joins or not without moving the others."""
    return every <= 1 or int(hashlib.sha256(case_id.encode()).hexdigest()[:8], 16) % every == 0


def baseline_cases(cases: list[EvalCase], infos: Sequence[SetInfo], every: int) -> list[EvalCase]:
    """The cases the baselines answer: every case outside the blind set, one blind case in ``every``."""
    if every <= 1:
        return cases
    blind = {cid for i in infos if i.name == BLIND_SET or i.name.startswith(f"{BLIND_SET}/") for cid in i.case_ids}
    return [c for c in cases if c.id not in blind or in_baseline_sample(c.id, every)]


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
    reader: IndexReader | None = None,
    llm: LLMGenerator | None = None,
    embeddings: Sequence[str] = (),
    baseline_sample: int = 1,
) -> EvalReport:
    """Evaluate the case sets and write report.json/.md/.html (under evals/reports/<timestamp>/ or ``out_dir``).

    Without ``cases_path``, the shipped suite: ``dev`` then ``blind`` (and each blind batch when there are
    several). ``progress(done, total, label)`` is called after each step. ``judge`` needs an LLM endpoint;
    ``use_llm`` answers with the configured LLM instead of the extractive generator (ours only).
    ``reader`` and ``llm``: the caller's own (built here when not given). ``baseline_sample`` N > 1:
    the baselines answer every dev case but only one blind case in N (``in_baseline_sample``), so a
    gate on a large blind set stays affordable; the paired comparisons use the cases both answered.
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

    reader = reader or IndexReader(settings)
    if use_llm and llm is None and settings.llm_enabled:
        llm = LLMGenerator(settings)
    snapshot = reader.snapshot()
    index_doc_ids = frozenset(snapshot.docs)

    infos = [
        SetInfo(s.name, s.path, s.files, [c.id for c in s.cases], dict(Counter(c.kind for c in s.cases)),
                dict(Counter(c.oos_type for c in s.cases if c.oos_type)))
        for s in named
    ]
    sampled = baseline_cases(cases, infos, baseline_sample) if compare else cases
    total = len(cases) * (1 + len(embeddings)) + (3 * len(sampled) + 1 if compare else 0) + len(embeddings)
    done = 0

    def tick(label: str) -> None:
        nonlocal done, total
        done += 1
        if progress is not None:
            progress(min(done, total), total, label)

    systems = build_systems(settings, reader, llm if use_llm else None, compare, tick, embeddings)
    baselines = {"bm25", "dense", "langchain"} if compare else set()
    reports: list[SystemReport] = []
    try:
        for system in systems:
            results = run_system(system, sampled if system.name in baselines else cases, index_doc_ids, tick)
            if grader is not None and system.name == OURS:
                judged = [r for r in results if not r.refused and not r.error]
                total += len(judged)
                for r in judged:
                    r.judge = grader.grade(r.question, r.answer, r.citations, r.expected_facts)
                    tick(f"juge · {r.case_id}")
            by_id = {r.case_id: r for r in results}
            per_set = {info.name: _set_summary([by_id[c] for c in info.case_ids if c in by_id]) for info in infos}
            reports.append(SystemReport(system.name, system.label, system.setup_s, results, per_set, infos[0].name))
    finally:
        for system in systems:
            system.close()

    report = EvalReport(
        created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        runtime_s=0.0, sets=infos, systems=reports, thresholds=limits.to_json(), compare=compare, judge=judge,
        settings=settings.public_dict(), corpus_version=snapshot.corpus_version,
        index_generation=snapshot.generation, warnings=warnings,
        baseline_sample=baseline_sample if compare else 1,
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
        target = Path(out_dir) if out_dir is not None else new_report_dir(default_reports_dir(settings))
        write_report(report, target)
    return report
