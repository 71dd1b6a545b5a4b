"""End-to-end ``ask`` latency on the shipped corpus (extractive generator), warm, p50/p95.

    python bench/answers.py [--n 200]
"""

from __future__ import annotations

import argparse
import glob
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    import assistant  # noqa: F401
    from assistant.config import Settings
    from assistant.index.ingest import run_index
    from assistant.pipeline import Pipeline

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="doctrine-bench-")), knowledge_dir=ROOT / "knowledge")
    run_index(settings)
    chain = Pipeline(settings).chain
    questions = []
    for path in sorted(glob.glob(str(ROOT / "evals" / "cases" / "**" / "*.yaml"), recursive=True)):
        questions += [(c["question"], c.get("history") or []) for c in yaml.safe_load(open(path))["cases"]]  # noqa: PTH123,SIM115
    for q, h in questions[-5:]:  # warm-up on questions the timed loop does not ask
        chain.invoke(q, h)
    totals, retrieve, generate = [], [], []
    for i in range(args.n):
        q, h = questions[i % len(questions)]
        t = time.perf_counter()
        answer = chain.invoke(q, h)
        totals.append((time.perf_counter() - t) * 1000)
        retrieve.append(answer.timings_ms["retrieve"])
        generate.append(answer.timings_ms["generate"])

    def pct(values: list[float], p: float) -> float:
        values = sorted(values)
        return round(values[int(p * (len(values) - 1))], 1)

    print(f"ask (extractif), corpus livré, {args.n} questions des cas d'évaluation, à chaud :")
    print("| étape | p50 (ms) | p95 (ms) |\n|---|---|---|")
    for name, values in (("total", totals), ("recherche", retrieve), ("génération", generate)):
        print(f"| {name} | {round(statistics.median(values), 1)} | {pct(values, 0.95)} |")


if __name__ == "__main__":
    main()
