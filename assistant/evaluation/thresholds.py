"""Quality gate, per case set: minimum (or maximum) metric values, and paired comparisons with baselines.

File format (evals/thresholds.yaml), one block per set (``dev``, ``blind``, ``blind/batch-1``…)::

    dev:
      minimum: {hit@5: 0.9, fact_coverage: 0.8}
      maximum: {false_refusal_rate: 0.1}
      paired:                        # baseline -> metric -> rule
        bm25: {fact_coverage: not_behind}
        langchain: {fact_coverage: ahead 0.10}

A paired rule reads the bootstrap interval of ours − baseline (``paired.py``): ``ahead [m]`` needs
the whole interval above m (ahead beyond noise), ``not_behind [m]`` needs its upper end at −m or
above (no loss beyond noise). A metric that cannot be measured on the cases given fails its
threshold: a gate must not pass on what it did not see.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.evaluation.paired import PAIRED_METRICS, PairedDelta, Rule, rule_passes
from assistant.evaluation.scoring import METRICS


class ThresholdError(ValueError):
    """A thresholds file or --fail-under value that cannot be used (French message)."""


_RULE = re.compile(r"^\s*(ahead|not_behind)\s*([0-9]*\.?[0-9]+)?\s*$")


class PairedRule(NamedTuple):
    rule: Rule
    margin: float

    def __str__(self) -> str:
        return f"{self.rule} {self.margin:g}" if self.margin else self.rule


def _known(name: str, allowed: Sequence[str] | Mapping[str, Any]) -> str:
    if name not in allowed:
        raise ValueError(f"métrique inconnue « {name} » (métriques : {', '.join(allowed)})")
    return name


class SetThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")
    minimum: dict[str, float] = Field(default_factory=dict)
    maximum: dict[str, float] = Field(default_factory=dict)
    paired: dict[str, dict[str, PairedRule]] = Field(default_factory=dict)

    @field_validator("minimum", "maximum", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("un dictionnaire métrique: valeur est attendu")
        for name, limit in value.items():
            _known(name, METRICS)
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                raise ValueError(f"valeur numérique attendue pour « {name} »")
        return value

    @field_validator("paired", mode="before")
    @classmethod
    def _rules(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("attendu : référence: {métrique: règle}")
        out: dict[str, dict[str, PairedRule]] = {}
        for baseline, rules in value.items():
            if not isinstance(rules, dict):
                raise ValueError(f"« {baseline} » : attendu {{métrique: ahead | not_behind [marge]}}")
            out[str(baseline)] = {}
            for metric, text in rules.items():
                _known(metric, PAIRED_METRICS)
                match = _RULE.match(str(text))
                if not match:
                    raise ValueError(f"{baseline}.{metric} : règle « {text} » (attendu : ahead | not_behind [marge])")
                out[str(baseline)][metric] = PairedRule(match.group(1), float(match.group(2) or 0.0))  # type: ignore[arg-type]
        return out


class Thresholds(NamedTuple):
    sets: dict[str, SetThresholds]
    source: str

    @property
    def empty(self) -> bool:
        return not any(t.minimum or t.maximum or t.paired for t in self.sets.values())

    def for_set(self, name: str) -> SetThresholds:
        return self.sets.get(name, SetThresholds())

    def merged(self, set_name: str, minimum: Mapping[str, float]) -> Thresholds:
        """Add --fail-under values to one set."""
        if not minimum:
            return self
        current = self.for_set(set_name)
        updated = current.model_copy(update={"minimum": {**current.minimum, **minimum}})
        return self._replace(sets={**self.sets, set_name: updated})

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "sets": {
                name: {"minimum": t.minimum, "maximum": t.maximum,
                       "paired": {b: {m: str(r) for m, r in rules.items()} for b, rules in t.paired.items()}}
                for name, t in self.sets.items()
            },
        }


class ThresholdCheck(NamedTuple):
    set: str
    name: str
    value: float | None
    limit: float
    passed: bool
    skipped: bool
    message: str
    interval: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return self._asdict()


NO_THRESHOLDS = Thresholds({}, "")


def load_thresholds(path: Path) -> Thresholds:
    """Thresholds from a YAML file; a missing file means no threshold."""
    if not path.is_file():
        return NO_THRESHOLDS._replace(source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdError(f"{path} : fichier de seuils illisible ({exc})") from exc
    if not isinstance(data, dict):
        raise ThresholdError(f"{path} : un dictionnaire est attendu (un bloc par jeu de cas : dev, blind…)")
    sets: dict[str, SetThresholds] = {}
    for name, block in data.items():
        try:
            sets[str(name)] = SetThresholds.model_validate(block or {})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ThresholdError(
                f"{path}, jeu « {name} »{', ' + where if where else ''} : {str(err['msg']).removeprefix('Value error, ')}"
            ) from exc
    return Thresholds(sets, str(path))


def parse_fail_under(items: Sequence[str]) -> dict[str, float]:
    """``["hit@5=0.9", "fact_coverage=0.8"]`` -> ``{"hit@5": 0.9, ...}``."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ThresholdError(f"--fail-under « {item} » : format attendu métrique=valeur (ex. hit@5=0.9)")
        metric = name.strip()
        if metric not in METRICS:
            raise ThresholdError(f"--fail-under : métrique inconnue « {metric} » (métriques : {', '.join(METRICS)})")
        try:
            out[metric] = float(value.strip().replace(",", "."))
        except ValueError as exc:
            raise ThresholdError(f"--fail-under « {item} » : « {value} » n'est pas un nombre") from exc
    return out


def _fmt(value: float | None) -> str:
    return "non mesurable" if value is None else f"{value:.3f}"


def check_set(
    set_name: str, metrics: Mapping[str, Any], limits: SetThresholds,
    paired: Mapping[str, Mapping[str, PairedDelta]] | None,
) -> list[ThresholdCheck]:
    """Checks of one set: ``metrics`` are ours; ``paired`` = baseline -> metric -> delta (None without --compare)."""
    checks: list[ThresholdCheck] = []
    for name, limit in limits.minimum.items():
        value = metrics.get(name)
        passed = value is not None and value >= limit - 1e-9
        checks.append(ThresholdCheck(set_name, f"{name} >= {limit:g}", value, limit, passed, False,
                                     f"[{set_name}] {name} = {_fmt(value)} (minimum {limit:g})"))
    for name, limit in limits.maximum.items():
        value = metrics.get(name)
        passed = value is not None and value <= limit + 1e-9
        checks.append(ThresholdCheck(set_name, f"{name} <= {limit:g}", value, limit, passed, False,
                                     f"[{set_name}] {name} = {_fmt(value)} (maximum {limit:g})"))
    for baseline, rules in limits.paired.items():
        for metric, rule in rules.items():
            label = f"{metric} {rule} vs {baseline}"
            delta = (paired or {}).get(baseline, {}).get(metric)
            if delta is None:
                checks.append(ThresholdCheck(set_name, label, None, rule.margin, True, True,
                                             f"[{set_name}] {label} : non vérifié (relancer avec --compare)"))
                continue
            interval = None if delta.low is None or delta.high is None else (delta.low, delta.high)
            passed = rule_passes(delta, rule.rule, rule.margin)
            checks.append(ThresholdCheck(set_name, label, delta.delta, rule.margin, passed, False,
                                         f"[{set_name}] {delta.describe()} → règle {rule}", interval))
    return checks
