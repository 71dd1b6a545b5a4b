"""Retrieval benchmark: index build throughput, re-indexing one edited file, warm search latency,
memory and disk; in server mode also a replica's sync after the edit.

Each measurement runs in a fresh subprocess (honest peak memory). Corpora: the shipped
knowledge base and synthetic corpora of N passages; embedded Chroma, and optionally a Chroma
server on loopback (--server). Prints a Markdown table, with the machine's load average (1 min)
at the start and the end of each case: timings on a shared machine depend on it.

    python bench/retrieval.py                       # knowledge + 1,000 + 10,000 passages
    python bench/retrieval.py --sizes 1000,20000,100000 --server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUERIES = [
    "réversibilité des données en fin de contrat", "qualification SecNumCloud données sensibles",
    "méthode en trois temps mutualisation", "frais de transfert cloud", "critère environnemental",
    "coût complet sur le cycle de vie", "interopérabilité des formats", "plan de sortie à l'échéance",
    "accessibilité des interfaces", "maintenance corrective du logiciel",
]


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def worker(args: argparse.Namespace) -> None:
    import assistant  # noqa: F401
    from assistant.answer.retrieval import Searcher
    from assistant.config import Settings
    from assistant.index.ingest import run_index

    data = Path(args.data)
    knowledge = Path(args.knowledge)
    settings = Settings(data_dir=data, knowledge_dir=knowledge, chroma_url=args.chroma_url or None)
    t0 = time.perf_counter()
    run = run_index(settings)
    build_s = time.perf_counter() - t0
    searcher = Searcher(settings)
    for q in QUERIES[:3]:
        searcher.search(q, 5)
    lat = []
    for i in range(args.queries):
        q = QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}")
        t = time.perf_counter()
        searcher.search(q, 5)
        lat.append((time.perf_counter() - t) * 1000)
    replica = None
    if args.chroma_url:  # a replica on another data folder: its first sync, then its sync after the edit
        from assistant.index.shared import sync_generation

        replica = Settings(data_dir=data.with_name("replica"), knowledge_dir=knowledge, chroma_url=args.chroma_url)
        first_sync = sync_generation(replica)
    # incremental re-index of one edited file (the median of three edits, each undone by the next)
    files = sorted(knowledge.rglob("*.md"))
    target = next(p for p in files if p.name != "README.md")
    original = target.read_text(encoding="utf-8")
    runs = []
    for n in range(3):
        target.write_text(original + f"\n\n## Ajout {n}\n\nUne phrase ajoutée pour mesurer la réindexation "
                          f"incrémentale, numéro {n}.\n", encoding="utf-8")
        t = time.perf_counter()
        inc = run_index(settings)
        runs.append((time.perf_counter() - t, inc.stats.added))
    inc_s, added = sorted(runs)[1]
    sync = sync_generation(replica) if replica is not None else None
    searcher.search(QUERIES[0], 5)  # the searcher moves to the new generation (not timed above)
    after = []
    for i in range(min(args.queries, 50)):
        t = time.perf_counter()
        searcher.search(QUERIES[i % len(QUERIES)] + f" {i}", 5)
        after.append((time.perf_counter() - t) * 1000)
    target.write_text(original, encoding="utf-8")
    lat.sort()
    print(json.dumps({
        "passages": run.stats.passages, "documents": run.stats.documents, "build_s": round(build_s, 2),
        "passages_per_s": round(run.stats.passages / build_s, 1),
        "search_p50_ms": round(statistics.median(lat), 2), "search_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2),
        "search_after_p50_ms": round(statistics.median(after), 2),
        "incremental_s": round(inc_s, 2), "incremental_all_s": [round(r[0], 2) for r in runs],
        "incremental_added": added,
        "replica_first_sync_s": round(first_sync.seconds, 2) if replica is not None else None,
        "replica_sync_s": round(sync.seconds, 2) if sync is not None else None,
        "replica_sync_objects": sync.objects_fetched if sync is not None else None,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "disk_mb": round(_disk(data) / 1e6, 1),
    }))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_case(label: str, knowledge: Path, queries: int, server: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="doctrine-bench-"))
    proc = None
    url = ""
    try:
        if server:
            port = _free_port()
            chroma = Path(sys.executable).with_name("chroma")
            proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp / "server"), "--host", "127.0.0.1",
                                     "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=os.environ | {"ANONYMIZED_TELEMETRY": "False"})
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.3)
            url = f"http://127.0.0.1:{port}"
        work = tmp / "knowledge"
        shutil.copytree(knowledge, work)
        load_start = os.getloadavg()[0]
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
        out = subprocess.run(
            [sys.executable, __file__, "--worker", "--data", str(tmp / "data"), "--knowledge", str(work),
             "--queries", str(queries), "--chroma-url", url],
            capture_output=True, text=True, env=env, check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["load"] = f"{load_start:.1f}→{os.getloadavg()[0]:.1f}"
        if server:  # the server's folder and the indexer's (not the replica's)
            result["disk_mb"] = round((_disk(tmp / "server") + _disk(tmp / "data")) / 1e6, 1)
        return {"corpus": label, "mode": "serveur" if server else "embarqué"} | result
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data")
    parser.add_argument("--knowledge")
    parser.add_argument("--chroma-url", default="")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sizes", default="1000,10000", help="synthetic corpus sizes (passages)")
    parser.add_argument("--server", action="store_true", help="also measure with a Chroma server on loopback")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    from tests.synthetic import write_synthetic_corpus

    rows = [run_case("knowledge/", ROOT / "knowledge", args.queries, False)]
    if args.server:
        rows.append(run_case("knowledge/", ROOT / "knowledge", args.queries, True))
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        corpus = write_synthetic_corpus(Path(tempfile.mkdtemp(prefix="doctrine-synth-")) / "k", size)
        rows.append(run_case(f"synthétique {size:,}".replace(",", " "), corpus, args.queries, False))
        if args.server:
            rows.append(run_case(f"synthétique {size:,}".replace(",", " "), corpus, args.queries, True))
        shutil.rmtree(corpus.parent, ignore_errors=True)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    head = ("| corpus | mode | passages | construction (s) | passages/s | recherche p50 (ms) | p95 (ms) "
            "| réindexation 1 fichier (s) | synchro réplique (s) | RSS max (Mo) | disque (Mo) | charge |")
    print(head)
    print("|" + "---|" * 12)
    for r in rows:
        sync = "–" if r.get("replica_sync_s") is None else f"{r['replica_sync_s']} ({r['replica_first_sync_s']})"
        print(f"| {r['corpus']} | {r['mode']} | {r['passages']} | {r['build_s']} | {r['passages_per_s']} | "
              f"{r['search_p50_ms']} | {r['search_p95_ms']} | {r['incremental_s']} | {sync} | {r['peak_rss_mb']} | "
              f"{r['disk_mb']} | {r['load']} |")
    print("\nSynchro réplique : après la réindexation (entre parenthèses : la première, complète). "
          "Charge : moyenne de charge sur 1 min au début et à la fin du cas.")


if __name__ == "__main__":
    main()
