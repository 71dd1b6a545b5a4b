"""Server mode: share committed generations between machines through the Chroma server itself.

With ``DOCTRINE_CHROMA_URL`` the vectors live in one Chroma server and several app replicas read
them. The lexical side (passages, sections, document metadata; BM25 is rebuilt locally) of each
committed generation is published in a small companion collection, in parts, then a pointer
record names the current generation. Replicas compare the pointer with their local copy and
download a new generation when it changes, so BM25 and dense results always come from the same
generation on every replica.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.fileio import atomic_write_text
from assistant.index.chroma import chroma_client, collection_name
from assistant.index.chunking import Passage
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import IndexError_
from assistant.index.snapshot import (
    SNAPSHOT_FILES,
    commit_generation,
    current_generation,
    install_generation,
    save_bm25,
    writer_lock,
)

PART_BYTES = 2_000_000
POINTER = "current"


def _meta_collection(client: Any, name: str) -> Any:
    return client.get_or_create_collection(f"{name}-meta", embedding_function=None,
                                           metadata={"role": "doctrine-snapshots"})


def publish_snapshot(client: Any, name: str, snap_dir: Path) -> None:
    """Upload a committed generation, then move the pointer to it (the pointer write is the commit)."""
    payload = {f: (snap_dir / f).read_text(encoding="utf-8") for f in SNAPSHOT_FILES}
    blob = base64.b64encode(gzip.compress(json.dumps(payload, ensure_ascii=False).encode("utf-8"))).decode()
    parts = [blob[i : i + PART_BYTES] for i in range(0, len(blob), PART_BYTES)] or [""]
    generation = snap_dir.name
    meta = _meta_collection(client, name)
    ids = [f"{generation}:{i}" for i in range(len(parts))]
    meta.upsert(ids=ids, embeddings=[[1.0]] * len(parts), documents=parts,
                metadatas=[{"generation": generation, "part": i} for i in range(len(parts))])
    meta.upsert(ids=[POINTER], embeddings=[[1.0]], documents=[generation],
                metadatas=[{"generation": generation, "parts": len(parts)}])
    stale = [i for i in meta.get(include=[])["ids"] if i != POINTER and not i.startswith(f"{generation}:")]
    if stale:
        meta.delete(ids=stale)


def sync_snapshot(settings: Settings) -> str | None:
    """Make the local index folder hold the server's current generation; return its name."""
    try:
        client = chroma_client(settings)
        name = collection_name(settings, get_embeddings(settings.embedding).model_id)
        meta = _meta_collection(client, name)
        pointer = meta.get(ids=[POINTER], include=["metadatas"])
    except IndexError_:
        raise
    except Exception as exc:  # noqa: BLE001 - connection errors vary by chromadb version
        raise IndexError_(f"serveur Chroma injoignable ({settings.chroma_url}) : {type(exc).__name__}") from exc
    if not pointer["ids"]:
        return current_generation(settings.index_dir)
    info = pointer["metadatas"][0]
    generation = str(info["generation"])
    if current_generation(settings.index_dir) == generation:
        return generation
    with writer_lock(settings.index_dir):
        if current_generation(settings.index_dir) == generation:
            return generation
        ids = [f"{generation}:{i}" for i in range(int(info["parts"]))]
        got = meta.get(ids=ids, include=["documents"])
        by_id = dict(zip(got["ids"], got["documents"], strict=False))
        if any(i not in by_id for i in ids):
            raise IndexError_("génération partagée incomplète sur le serveur Chroma : relancez « doctrine index »")
        payload = json.loads(gzip.decompress(base64.b64decode("".join(by_id[i] for i in ids))).decode("utf-8"))
        snaps = settings.index_dir / "snapshots"
        tmp = snaps / f".{generation}.sync.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for file, text in payload.items():
            atomic_write_text(tmp / file, text)
        titles = {d["doc_id"]: str(d.get("title", "")) for d in json.loads(payload["docs.json"])}
        passages = [Passage(**json.loads(line)) for line in payload["passages.jsonl"].splitlines() if line.strip()]
        save_bm25(tmp, passages, titles)
        install_generation(settings.index_dir, tmp, generation)
        commit_generation(settings.index_dir, generation)
    return generation
