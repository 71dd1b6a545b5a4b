"""Sweep retrieval and refusal settings on the DEV evaluation cases, offline, and print tables.

Tuning reads ``evals/cases/dev`` only: the blind cases (``evals/cases/blind``) are scored by
``doctrine eval`` and never tuned on, and this script refuses them (``guard_not_blind``).

    .venv/bin/python bench/tune.py                                  # dev cases, index under data/
    .venv/bin/python bench/tune.py --param dense_weight=0.6,0.7,0.8 --param k=4,5,6
    .venv/bin/python bench/tune.py --grid --param gate_min_dense=0.18,0.22 --param gate_weak_overlap=0.1,0.15
    .venv/bin/python bench/tune.py --data-dir /tmp/data --json sweep.json

Default sweep, one setting at a time around the current values: ``dense_weight``, ``k`` and every
evidence-gate setting (``settings.gate``, named here as in the environment: ``gate_min_dense``...). ``--grid`` evaluates the
full product of the ``--param`` values instead. Every combination runs the real answer chain
(``assistant.evaluation.runner.run_system``, exactly what ``doctrine eval`` runs); searches are
cached across combinations (``Retrieval`` values are immutable), so settings that only change the gate
or the generator cost little.
The lead picks values from these tables and records them in evals/README.md and Settings.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import assistant  # noqa: E402,F401 - offline environment first
from assistant.answer.retrieval import Searcher  # noqa: E402
from assistant.answer.types import Filters, Retrieval  # noqa: E402
from assistant.config import GATE_PREFIX, Settings, nest_gate_keys  # noqa: E402
from assistant.evaluation.cases import DEV_SET, EvalCase, guard_not_blind, load_cases  # noqa: E402
from assistant.evaluation.runner import run_system  # noqa: E402
from assistant.evaluation.scoring import summarize  # noqa: E402
from assistant.evaluation.systems import chain_system  # noqa: E402
from assistant.pipeline import get_pipeline  # noqa: E402

DEFAULT_VALUES: dict[str, tuple[float, ...]] = {
    "dense_weight": (0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    "k": (3, 4, 5, 6, 8),
}
GATE_FACTORS = (0.5, 0.75, 1.0, 1.25, 1.5)
RETRIEVAL_FIELDS = ("dense_weight", "retrieval_mode", "candidates", "rrf_k")
OBJECTIVE = ("hit@5", "mrr@10", "fact_coverage", "refusal_precision", "refusal_recall")
SHOWN = ("hit@5", "mrr@10", "fact_coverage", "fact_coverage_answered", "citation_validity", "refusal_precision",
         "refusal_recall", "pass_rate", "objective")


class CachingSearcher(Searcher):
    """Shares query vectors and retrievals across settings combinations (same index)."""

    def __init__(self, settings: Settings, reader: Any, vectors: dict[str, np.ndarray],
                 results: dict[tuple, Retrieval]) -> None:
        super().__init__(settings, reader)
        self._vectors = vectors
        self._results = results

    def retrieve(self, query: str, k: int | None = None, **kwargs: Any) -> Retrieval:  # type: ignore[override]
        filters: Filters = kwargs.get("filters") or Filters()
        key = (query, k or self.settings.k, kwargs.get("mode"), filters, kwargs.get("dense_weight"),
               self.settings.gate.fusion_weight, *(getattr(self.settings, f) for f in RETRIEVAL_FIELDS))
        if key not in self._results:
            if kwargs.get("query_vector") is None and query.strip():
                if query not in self._vectors:
                    self._vectors[query] = self.embeddings.encode([query])[0]
                kwargs["query_vector"] = self._vectors[query]
            self._results[key] = super().retrieve(query, k, **kwargs)
        return self._results[key]


def gate_fields(settings: Settings) -> list[str]:
    """The evidence-gate settings of this version of Settings (names change as the gate evolves)."""
    return [f"{GATE_PREFIX}{name}" for name, value in settings.gate.model_dump().items() if isinstance(value, float)]


def setting(settings: Settings, name: str) -> Any:
    """A setting by its tuning name (``gate_min_dense`` is ``settings.gate.min_dense``)."""
    if name.startswith(GATE_PREFIX):
        return getattr(settings.gate, name[len(GATE_PREFIX):])
    return getattr(settings, name)


def with_values(settings: Settings, override: dict[str, Any]) -> Settings:
    nested = nest_gate_keys(override)
    if "gate" in nested:
        nested["gate"] = settings.gate.model_copy(update=nested["gate"])
    return settings.model_copy(update=nested)


def default_params(settings: Settings) -> dict[str, tuple[Any, ...]]:
    params: dict[str, tuple[Any, ...]] = dict(DEFAULT_VALUES)
    for name in gate_fields(settings):
        current = float(setting(settings, name))
        params[name] = tuple(sorted({round(current * f, 3) for f in GATE_FACTORS}))
    return params


def objective(metrics: dict[str, Any]) -> float:
    """Mean of the OBJECTIVE metrics (undefined counts as 0): one number to rank combinations."""
    return sum(metrics.get(k) or 0.0 for k in OBJECTIVE) / len(OBJECTIVE)


class Sweeper:
    """Runs the real chain for a settings override, sharing the index, models and search cache."""

    def __init__(self, settings: Settings, cases: list[EvalCase]) -> None:
        self.settings = settings
        self.cases = cases
        self.pipeline = get_pipeline(settings)
        snapshot = self.pipeline.reader.snapshot()
        self.doc_ids = frozenset(snapshot.docs)
        self.vectors: dict[str, np.ndarray] = {}
        self.results: dict[tuple, Retrieval] = {}
        self.memo: dict[tuple, dict[str, Any]] = {}

    def evaluate(self, override: dict[str, Any]) -> dict[str, Any]:
        key = tuple(sorted(override.items()))
        if key not in self.memo:
            settings = with_values(self.settings, override)
            searcher = CachingSearcher(settings, self.pipeline.reader, self.vectors, self.results)
            system = chain_system("tune", "tune", settings, self.pipeline.reader, searcher=searcher)
            metrics = summarize(run_system(system, self.cases, self.doc_ids))
            metrics.pop("hit_curve", None)
            metrics.pop("counts", None)
            metrics["objective"] = objective(metrics)
            self.memo[key] = metrics
        return self.memo[key]


def sweep(
    settings: Settings, cases: list[EvalCase], params: dict[str, Sequence[Any]], grid: bool = False,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """One-at-a-time (default) or full-grid evaluation; returns every row."""
    t0 = time.perf_counter()
    sweeper = Sweeper(settings, cases)
    current = {name: setting(settings, name) for name in params}
    rows: list[dict[str, Any]] = []
    if grid:
        names = list(params)
        combos = list(itertools.product(*(params[n] for n in names)))
        for i, values in enumerate(combos, start=1):
            override = dict(zip(names, values, strict=True))
            rows.append({"param": "grid", **override, **sweeper.evaluate(override)})
            log(f"{i}/{len(combos)} {override} ({time.perf_counter() - t0:.0f} s)")
    else:
        rows.append({"param": "(actuel)", **current, **sweeper.evaluate({})})
        for name, values in params.items():
            for value in values:
                rows.append({"param": name, **current, name: value, **sweeper.evaluate({name: value})})
            log(f"{name} : {len(values)} valeurs ({time.perf_counter() - t0:.0f} s)")
    return {"cases": len(cases), "current": current, "params": {k: list(v) for k, v in params.items()},
            "grid": grid, "rows": rows, "seconds": time.perf_counter() - t0}


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def print_tables(result: dict[str, Any], top: int = 15) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=180)
    names = list(result["params"])
    current = result["current"]
    rows = result["rows"]

    def table(title: str, keys: Sequence[str], body: list[dict[str, Any]]) -> None:
        t = Table(title=title, title_style="bold")
        for key in [*keys, *SHOWN]:
            t.add_column(key, justify="right")
        for row in body:
            style = "bold" if all(row.get(k) == current.get(k) for k in keys) else None
            t.add_row(*[_fmt(row.get(k)) for k in [*keys, *SHOWN]], style=style)
        console.print(t)

    if result["grid"]:
        table(f"Grille complète : {top} meilleures combinaisons (objectif = moyenne de {', '.join(OBJECTIVE)})",
              names, sorted(rows, key=lambda r: -r["objective"])[:top])
    else:
        for name in names:
            table(f"{name} (autres réglages inchangés)", [name], [r for r in rows if r["param"] == name])
    console.print(f"Réglages actuels en gras : {current} ; {len(rows)} lignes, {result['cases']} cas, "
                  f"{result['seconds']:.0f} s. Objectif = moyenne de {', '.join(OBJECTIVE)}.")


def _value(text: str) -> Any:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def parse_param(item: str) -> tuple[str, tuple[Any, ...]]:
    name, sep, values = item.partition("=")
    if not sep or not values.strip():
        raise argparse.ArgumentTypeError(f"« {item} » : format attendu nom=v1,v2,...")
    return name.strip(), tuple(_value(v) for v in values.split(",") if v.strip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=None,
                        help="fichier ou dossier de cas de développement (défaut : evals/cases/dev ; blind refusé)")
    parser.add_argument("--data-dir", type=Path, default=None, help="dossier data/ contenant l'index")
    parser.add_argument("--param", type=parse_param, action="append", default=[],
                        help="réglage et valeurs à essayer, ex. dense_weight=0.6,0.8 (répétable)")
    parser.add_argument("--grid", action="store_true", help="produit complet des --param au lieu d'un à la fois")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None, help="écrire aussi toutes les lignes en JSON")
    args = parser.parse_args(argv)

    settings = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    known = set(type(settings).model_fields) | set(gate_fields(settings))
    params = dict(args.param) or default_params(settings)
    unknown = sorted(set(params) - known)
    if unknown:
        parser.error(f"réglage(s) inconnu(s) : {', '.join(unknown)}")
    if args.grid and not args.param:
        parser.error("--grid demande des --param explicites (la grille par défaut serait trop grande)")
    try:
        cases_path = guard_not_blind(args.cases or settings.evals_dir / "cases" / DEV_SET)
    except PermissionError as exc:
        parser.error(str(exc))
    cases = load_cases(cases_path).cases
    result = sweep(settings, cases, params, grid=args.grid, log=lambda m: print(m, file=sys.stderr))
    print_tables(result, args.top)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
