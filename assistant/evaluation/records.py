"""What a system returns for one case, and the scored result kept in reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from assistant.answer.types import Citation


class SystemOutput(NamedTuple):
    """One system's answer to one case, plus its passage ranking for retrieval metrics."""

    answer: str
    refused: bool
    citations: list[Citation]
    retrieved_doc_ids: list[str]  # doc id of each retrieved passage, best first (RETRIEVAL_DEPTH of them)
    latency_ms: float
    query: str = ""  # the question actually searched (condensed follow-up)
    generator: str = ""
    premise_rejected: bool = False  # the answer says a premise of the question is unsupported


@dataclass
class CaseResult:
    """A case as answered by one system, with its scores and the reasons it failed (if any)."""

    system: str
    case_id: str
    kind: str
    question: str
    answer: str = ""
    refused: bool = False
    expected_refused: bool = False
    effective_expected_refused: bool = False
    correction_ok: bool = False
    in_scope: bool = True
    query: str = ""
    generator: str = ""
    latency_ms: float | None = None
    error: str | None = None
    expected_facts: list[str] = field(default_factory=list)
    facts_found: list[bool] = field(default_factory=list)
    lead_facts_found: list[bool] = field(default_factory=list)  # the same facts, sought in the first paragraph
    fact_coverage: float | None = None
    counts_for_coverage: bool = False
    expected_sources: list[str] = field(default_factory=list)
    retrieved_docs: list[str] = field(default_factory=list)
    retrieval: dict[str, float | None] = field(default_factory=dict)
    citations: list[dict[str, Any]] = field(default_factory=list)
    decision_correct: bool = False
    reasons: list[str] = field(default_factory=list)
    judge: dict[str, Any] | None = None
    oos_type: str | None = None
    premise_rejected: bool = False

    @property
    def passed(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
