"""Server mode: a real Chroma server on loopback shared by one indexer and app replicas, which fetch
only the documents that changed since their generation."""

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
from assistant.index.chroma import chroma_client, collection_name
from assistant.index.embeddings import get_embeddings
from assistant.index.ingest import run_index
from assistant.index.lexical import LexicalIndex
from assistant.index.shared import sync_generation
from assistant.index.snapshot import read_generation
from assistant.index.store import IndexReader
from assistant.text import tokens
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



def _lexical(settings: Settings, query: str) -> list[tuple[str, float]]:
    snap = IndexReader(settings).snapshot()
    return [(snap.passages[i].chunk_id, score) for i, score in snap.lexical_top(tokens(query), 50)]


def _in_sync(settings: Settings) -> bool:
    """The replica's lexical index holds exactly its committed generation."""
    snap = IndexReader(settings).snapshot()
    return LexicalIndex(settings.index_dir / "lexical").rowids() == {int(r) for r in snap.rowids}


@pytest.mark.slow
def test_replicas_fetch_only_what_changed(chroma_server: str, tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "k")
    writer = make_settings(tmp_path / "indexer", knowledge_dir=knowledge, chroma_url=chroma_server)
    replica = make_settings(tmp_path / "replica", knowledge_dir=knowledge, chroma_url=chroma_server)
    run_index(writer)
    first = sync_generation(replica)
    assert first.objects_fetched == 2 and first.full  # a new replica fetches every document once
    queries = ["réversibilité des données", "hébergement ministériel", "format ouvert documenté"]
    assert all(_lexical(replica, q) == _lexical(writer, q) for q in queries)

    path = knowledge / "circulaire-test.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Le prestataire restitue les données sans frais excessifs.",
        "Le prestataire restitue toutes les données dans un format ouvert documenté."), encoding="utf-8")
    run_index(writer)
    second = sync_generation(replica)
    assert second.objects_fetched == 1 and not second.full  # the edited document only
    assert sync_generation(replica).objects_fetched == 0  # nothing new
    assert _in_sync(replica)
    assert all(_lexical(replica, q) == _lexical(writer, q) for q in queries)
    snap = IndexReader(replica).snapshot()
    assert "format ouvert documenté" in snap.passages[snap.lexical_top(tokens("format ouvert documenté"), 1)[0][0]].text

    # Two generations behind: only what the latest one has and the replica lacks.
    path.write_text(path.read_text(encoding="utf-8").replace("format ouvert documenté", "format ouvert publié"),
                    encoding="utf-8")
    run_index(writer)
    (knowledge / "ancien-texte.md").unlink()
    run_index(writer)
    third = sync_generation(replica)
    assert third.objects_fetched == 1 and not third.full
    assert "ancien-texte" not in IndexReader(replica).snapshot().docs and _in_sync(replica)
    assert all(_lexical(replica, q) == _lexical(writer, q) for q in queries)

    # The server keeps the objects of the current and previous generations, no others.
    kept = set().union(*(read_generation(writer.index_dir, p.name).objects
                         for p in (writer.index_dir / "snapshots").iterdir()))
    name = collection_name(writer, get_embeddings(writer.embedding).model_id)
    ids = chroma_client(writer).get_collection(f"{name}-meta").get(include=[])["ids"]
    assert {i.split(":")[1] for i in ids if i.startswith("obj:")} <= kept
