"""Server mode: a real Chroma server on loopback shared by one indexer and two app processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.ingest import run_index
from tests.conftest import make_settings, write_corpus


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        pytest.skip("la commande « chroma » (paquet chromadb) est absente")
    port = _free_port()
    env = os.environ | {"ANONYMIZED_TELEMETRY": "False", "CHROMA_TELEMETRY": "False"}
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("le serveur Chroma n'a pas démarré")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=30)


def _ask(data_dir: Path, knowledge: Path, url: str, question: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
    env |= {"DOCTRINE_DATA_DIR": str(data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(knowledge), "DOCTRINE_CHROMA_URL": url}
    proc = subprocess.run([sys.executable, "-m", "assistant", "ask", question, "--json"], env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_one_chroma_server_two_app_processes(chroma_server: str, tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "k")
    writer: Settings = make_settings(tmp_path / "indexer", knowledge_dir=knowledge, chroma_url=chroma_server)
    run = run_index(writer)
    assert run.stats.passages > 0
    assert not (writer.index_dir / "chroma").exists()  # vectors live on the server only

    question = "Que faut-il exiger pour la réversibilité ?"
    first = _ask(tmp_path / "replica-1", knowledge, chroma_server, question)
    second = _ask(tmp_path / "replica-2", knowledge, chroma_server, question)
    assert not first["refused"] and first["citations"]
    assert first["answer"] == second["answer"]
    assert {c["chunk_id"] for c in first["citations"]} == {c["chunk_id"] for c in second["citations"]}

    path = knowledge / "circulaire-test.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "La réversibilité exige un plan de sortie et des formats d'export ouverts.",
        "La réversibilité exige un plan de réversibilité testé chaque année et des formats d'export ouverts."),
        encoding="utf-8")
    run_index(writer)
    updated = _ask(tmp_path / "replica-1", knowledge, chroma_server, question)
    assert "testé chaque année" in json.dumps(updated, ensure_ascii=False)
