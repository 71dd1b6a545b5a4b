"""Paired comparison of two systems on the same cases, with a bootstrap confidence interval.

"Ours ahead of BM25" used to mean one mean strictly above the other: a gap of one case, which two
machines, or two harmless changes, could flip. Here every metric is written as a ratio of per-case
sums (a mean is Σvalue/Σ1, refusal precision is Σ(refused ∧ expected)/Σrefused, …), the cases are
resampled together for both systems (paired), and the interval of the difference says whether a
gap is beyond the noise of which cases happened to be written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np

from assistant.evaluation.records import CaseResult
from assistant.evaluation.scoring import METRICS, RATIO_METRICS, case_terms

Rule = Literal["ahead", "not_behind"]
RESAMPLES = 2000
CONFIDENCE = 0.95
SEED = 6519  # fixed: the same reports give the same intervals on every machine
PAIRED_METRICS = RATIO_METRICS
# Shown in reports for every baseline and set (thresholds may gate on any of PAIRED_METRICS).
REPORTED = ("hit@5", "mrr@10", "fact_coverage", "refusal_precision", "refusal_recall", "decision_accuracy")


class Terms(NamedTuple):
    """Per-case numerator and denominator: the metric is ``num.sum() / den.sum()``."""

    num: np.ndarray
    den: np.ndarray

    def value(self) -> float | None:
        den = float(self.den.sum())
        return float(self.num.sum()) / den if den else None


def terms(results: Sequence[CaseResult], metric: str) -> Terms:
    pairs = np.array([case_terms(r, metric) for r in results], dtype=np.float64).reshape(-1, 2)
    return Terms(pairs[:, 0], pairs[:, 1])


class PairedDelta(NamedTuple):
    """ours − baseline on the cases both answered, with its bootstrap interval."""

    metric: str
    baseline: str
    ours: float | None
    other: float | None
    delta: float | None
    low: float | None
    high: float | None
    cases: int

    def to_json(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self._asdict().items()}

    def describe(self) -> str:
        if self.delta is None or self.low is None or self.high is None:
            return f"{self.metric} − {self.baseline} : non mesurable"
        return (f"{self.metric} : nous {self.ours:.3f}, {self.baseline} {self.other:.3f}, "
                f"écart {self.delta:+.3f} [IC {CONFIDENCE:.0%} {self.low:+.3f} ; {self.high:+.3f}], {self.cases} cas")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def paired_delta(
    ours: Sequence[CaseResult], other: Sequence[CaseResult], metric: str, baseline: str,
    resamples: int = RESAMPLES, seed: int = SEED,
) -> PairedDelta:
    """Bootstrap (percentile) interval of ``metric(ours) − metric(other)`` over cases resampled in pairs."""
    by_id = {r.case_id: r for r in other}
    common = [r for r in ours if r.case_id in by_id]
    a = terms(common, metric)
    b = terms([by_id[r.case_id] for r in common], metric)
    va, vb = a.value(), b.value()
    if va is None or vb is None:
        return PairedDelta(metric, baseline, va, vb, None, None, None, len(common))
    n = len(common)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    diffs = _ratio(a.num[idx].sum(1), a.den[idx].sum(1)) - _ratio(b.num[idx].sum(1), b.den[idx].sum(1))
    diffs = diffs[~np.isnan(diffs)]
    tail = (1.0 - CONFIDENCE) / 2 * 100
    low, high = (float(x) for x in np.percentile(diffs, [tail, 100 - tail]))
    return PairedDelta(metric, baseline, va, vb, va - vb, low, high, n)


def rule_passes(delta: PairedDelta, rule: Rule, margin: float = 0.0) -> bool:
    """``ahead``: the whole interval lies beyond ``margin`` in our favour (ahead beyond noise).
    ``not_behind``: the interval reaches ``-margin`` or better (no loss beyond noise).
    For a metric where lower is better (refusal rate), "in our favour" means below."""
    if delta.low is None or delta.high is None:
        return False
    better_high = METRICS[delta.metric].higher_is_better
    low, high = (delta.low, delta.high) if better_high else (-delta.high, -delta.low)
    if rule == "ahead":
        return low > margin + 1e-12
    return high >= -margin - 1e-12
