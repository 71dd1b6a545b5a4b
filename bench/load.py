"""Load check of the web app: N concurrent gradio_client sessions, each asking Q questions.

    .venv/bin/python bench/load.py                       # starts the app (own process) on a free loopback port
    .venv/bin/python bench/load.py --url http://127.0.0.1:7860/ --clients 20 --questions 5

Each client is its own browser-like session (follow-up questions use its own history). Prints
p50/p95/max latency per question, throughput and the error count; exit status 1 on any error.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import assistant  # noqa: E402, F401 - offline environment first

QUESTIONS = [
    "Dans quel ordre dois-je examiner les options avant d'acheter une solution numérique ?",
    "Quels sont les neuf objectifs prioritaires de la doctrine d'achat numérique ?",
    "Quand une offre qualifiée SecNumCloud est-elle exigée ?",
    "Que demande la doctrine en matière de réversibilité ?",
    "Et pour l'interopérabilité ?",
    "Qui a signé la circulaire sur les achats numériques de l'État ?",
    "Quelle est la recette de la blanquette de veau ?",
    "Que prévoit l'article 31 de la loi SREN pour les données sensibles ?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int) -> None:
    """Server side, in its own process so that client threads do not share its interpreter."""
    from assistant.config import Settings
    from assistant.pipeline import get_pipeline
    from assistant.ui.app import launch

    settings = Settings()
    get_pipeline(settings).chain.invoke(QUESTIONS[0])  # load models and index before timing
    launch(settings, port=port, quiet=True)


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=os.environ.copy())
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"le serveur s'est arrêté (code {proc.returncode}) : index absent ? lancez « doctrine index »")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("le serveur n'a pas démarré en 5 minutes")


def run_client(url: str, n: int, questions: int, latencies: list[float], errors: list[str], lock: threading.Lock) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": 120})
    except Exception as exc:  # noqa: BLE001 - counted, not raised
        with lock:
            errors.extend([f"client {n}: connexion impossible ({exc})"] * questions)
        return
    for i in range(questions):
        question = QUESTIONS[(n + i) % len(QUESTIONS)]
        t0 = time.perf_counter()
        try:
            _chat, _sources, answer, _box = client.predict(question, api_name="/ask")
            if not isinstance(answer, dict) or "answer" not in answer:
                raise ValueError(f"réponse inattendue : {type(answer).__name__}")
        except Exception as exc:  # noqa: BLE001
            with lock:
                errors.append(f"client {n}, question {i + 1}: {type(exc).__name__}: {exc}")
            continue
        with lock:
            latencies.append((time.perf_counter() - t0) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="application déjà lancée (sinon démarrée ici sur 127.0.0.1)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    server = None
    url = args.url
    if url is None:
        server, url = start_server()

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=run_client, args=(url, n, args.questions, latencies, errors, lock))
               for n in range(args.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if server is not None:
        server.terminate()
        server.wait(timeout=30)

    total = args.clients * args.questions
    print(f"Charge : {args.clients} clients x {args.questions} questions = {total} requêtes sur {url}")
    if latencies:
        print(f"latence p50 = {percentile(latencies, 50):.0f} ms · p95 = {percentile(latencies, 95):.0f} ms · "
              f"max = {max(latencies):.0f} ms · moyenne = {statistics.fmean(latencies):.0f} ms")
    print(f"durée totale = {wall:.1f} s · débit = {len(latencies) / wall:.1f} réponses/s")
    print(f"erreurs = {len(errors)}")
    for line in errors[:10]:
        print("  " + line)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
