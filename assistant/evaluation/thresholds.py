"""Quality gate: minimum (or maximum) metric values, and "ours ahead of every baseline".

File format (evals/thresholds.yaml)::

    minimum: {hit@5: 0.9, fact_coverage: 0.8}     # ours, all cases
    maximum: {latency_p95_ms: 2000}               # optional
    ahead_of_baselines: {metrics: [hit@5, fact_coverage], min_margin: 0.0}

A metric that cannot be measured on the cases given (e.g. refusal recall without any
out-of-scope case) fails its threshold: a gate must not pass on what it did not see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from assistant.evaluation.scoring import METRICS


class ThresholdError(ValueError):
    """A thresholds file or --fail-under value that cannot be used (French message)."""


class Thresholds(NamedTuple):
    minimum: dict[str, float]
    maximum: dict[str, float]
    ahead_metrics: tuple[str, ...]
    ahead_margin: float
    source: str

    @property
    def empty(self) -> bool:
        return not (self.minimum or self.maximum or self.ahead_metrics)

    def merged(self, minimum: Mapping[str, float]) -> Thresholds:
        return self._replace(minimum={**self.minimum, **minimum})

    def to_json(self) -> dict[str, Any]:
        return {"minimum": self.minimum, "maximum": self.maximum,
                "ahead_of_baselines": {"metrics": list(self.ahead_metrics), "min_margin": self.ahead_margin},
                "source": self.source}


class ThresholdCheck(NamedTuple):
    name: str
    value: float | None
    limit: float
    passed: bool
    skipped: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


NO_THRESHOLDS = Thresholds({}, {}, (), 0.0, "")


def _metric(name: Any, where: str) -> str:
    if not isinstance(name, str) or name not in METRICS:
        known = ", ".join(METRICS)
        raise ThresholdError(f"{where} : métrique inconnue « {name} » (métriques : {known})")
    return name


def _values(raw: Any, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ThresholdError(f"{where} : un dictionnaire métrique: valeur est attendu")
    out: dict[str, float] = {}
    for key, value in raw.items():
        name = _metric(key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ThresholdError(f"{where} : valeur numérique attendue pour « {name} »")
        out[name] = float(value)
    return out


def load_thresholds(path: Path) -> Thresholds:
    """Thresholds from a YAML file; a missing file means no threshold."""
    if not path.is_file():
        return NO_THRESHOLDS._replace(source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdError(f"{path} : fichier de seuils illisible ({exc})") from exc
    if not isinstance(data, dict):
        raise ThresholdError(f"{path} : un dictionnaire est attendu (minimum, maximum, ahead_of_baselines)")
    ahead = data.get("ahead_of_baselines") or {}
    if not isinstance(ahead, dict):
        raise ThresholdError(f"{path} : ahead_of_baselines doit contenir metrics et min_margin")
    metrics = tuple(_metric(m, f"{path}, ahead_of_baselines") for m in ahead.get("metrics") or [])
    margin = ahead.get("min_margin", 0.0)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)):
        raise ThresholdError(f"{path} : ahead_of_baselines.min_margin doit être un nombre")
    return Thresholds(
        _values(data.get("minimum"), f"{path}, minimum"), _values(data.get("maximum"), f"{path}, maximum"),
        metrics, float(margin), str(path),
    )


def parse_fail_under(items: Sequence[str]) -> dict[str, float]:
    """``["hit@5=0.9", "fact_coverage=0.8"]`` -> ``{"hit@5": 0.9, ...}``."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ThresholdError(f"--fail-under « {item} » : format attendu métrique=valeur (ex. hit@5=0.9)")
        metric = _metric(name.strip(), "--fail-under")
        try:
            out[metric] = float(value.strip().replace(",", "."))
        except ValueError as exc:
            raise ThresholdError(f"--fail-under « {item} » : « {value} » n'est pas un nombre") from exc
    return out


def _fmt(value: float | None) -> str:
    return "non mesurable" if value is None else f"{value:.3f}"


def check_thresholds(
    metrics: Mapping[str, Any], thresholds: Thresholds, baselines: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ThresholdCheck]:
    """Check ours (``metrics``) against the thresholds; ``baselines`` = name -> metrics, when compared."""
    checks: list[ThresholdCheck] = []
    for name, limit in thresholds.minimum.items():
        value = metrics.get(name)
        passed = value is not None and value >= limit - 1e-9
        checks.append(ThresholdCheck(f"{name} >= {limit:g}", value, limit, passed, False,
                                     f"{name} = {_fmt(value)} (minimum {limit:g})"))
    for name, limit in thresholds.maximum.items():
        value = metrics.get(name)
        passed = value is not None and value <= limit + 1e-9
        checks.append(ThresholdCheck(f"{name} <= {limit:g}", value, limit, passed, False,
                                     f"{name} = {_fmt(value)} (maximum {limit:g})"))
    for name in thresholds.ahead_metrics:
        label = f"{name} devant chaque référence"
        if not baselines:
            checks.append(ThresholdCheck(label, metrics.get(name), thresholds.ahead_margin, True, True,
                                         "non vérifié : relancer avec --compare"))
            continue
        ours = metrics.get(name)
        for base, base_metrics in baselines.items():
            other = base_metrics.get(name)
            if ours is None:
                passed = False
            elif other is None:
                passed = True
            else:
                margin = thresholds.ahead_margin
                # margin 0 means strictly ahead; any other margin is a minimum difference (negative allows a lag).
                passed = ours > other + 1e-9 if margin == 0 else ours - other >= margin - 1e-9
            delta = None if ours is None or other is None else ours - other
            checks.append(ThresholdCheck(
                f"{name} > {base}", delta, thresholds.ahead_margin, passed, False,
                f"{name} : nous {_fmt(ours)}, {base} {_fmt(other)}",
            ))
    return checks
