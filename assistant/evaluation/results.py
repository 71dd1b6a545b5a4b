"""What an evaluation run produced: per system, per set, per case (everything report.json holds).

``runner`` builds an ``EvalReport``; ``report`` renders it; the app's Quality tab reads it back
(``EvalReport.from_json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from assistant.evaluation.cases import BLIND_SET, DEV_SET
from assistant.evaluation.paired import PairedDelta
from assistant.evaluation.records import CaseResult
from assistant.evaluation.scoring import METRICS

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
    baseline_sample: int = 1  # baselines answered one blind case in N (see runner.in_baseline_sample)

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
            "baseline_sample": self.baseline_sample,
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
            out_dir=data.get("out_dir"), baseline_sample=int(data.get("baseline_sample") or 1),
        )
