"""Persistent indexes: Chroma (dense) and bm25s (lexical), updated incrementally and crash-safely.

Layout under ``<data_dir>/index``::

    chroma/                 Chroma PersistentClient (absent in server mode)
    snapshots/gNNNNNN/      one immutable, complete generation: manifest, passages, sections, docs, bm25/
    CURRENT                 name of the committed generation (replaced atomically)
    PENDING                 present while an indexing run is in progress (or was interrupted)

Readers only ever see a committed generation: dense hits are filtered to that generation's passage
ids, so passages added by an unfinished run are invisible, and passages of the previous generation
are deleted from Chroma only after the new generation is committed. A crash at any point leaves
the previous generation answering; the next ``doctrine index`` reconciles Chroma with the target.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

import bm25s
import numpy as np

from assistant.chunking import (
    CHUNKING_VERSION,
    Passage,
    SectionRecord,
    chunk_document,
    dense_text,
    lexical_text,
)
from assistant.config import Settings
from assistant.corpus import SourceDocument
from assistant.embeddings import get_embeddings
from assistant.text import tokens

Progress = Callable[[str, int, int], None]
BATCH = 256


class IndexError_(RuntimeError):
    """The index is missing, built with other settings, or unreadable: the message says what to do."""



class DenseUnavailable(RuntimeError):
    """Chroma could not answer (e.g. a concurrent writer in another process): BM25 still can."""


class IndexStats(NamedTuple):
    generation: str
    documents: int
    passages: int
    added: int
    removed: int
    reused: int
    seconds: float
    rebuilt: bool
    message: str


# ---------------------------------------------------------------- chroma


def _collection_name(settings: Settings, model_id: str) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in model_id.lower()).strip("-")
    return f"{settings.collection}-{slug}"[:60].rstrip("-")


def chroma_client(settings: Settings):  # noqa: ANN201 - chromadb's ClientAPI
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise IndexError_(f"DOCTRINE_CHROMA_URL invalide : {settings.chroma_url}")
        return chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", settings=chroma_settings,
        )
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _embedding_function(spec: str):  # noqa: ANN202
    from assistant.chroma_ef import DoctrineEmbeddingFunction

    return DoctrineEmbeddingFunction(spec)


def open_collection(settings: Settings, *, create: bool):  # noqa: ANN201
    emb = get_embeddings(settings.embedding)
    client = chroma_client(settings)
    name = _collection_name(settings, emb.model_id)
    ef = _embedding_function(settings.embedding)
    if create:
        return client.get_or_create_collection(
            name=name, embedding_function=ef,
            metadata={"hnsw:space": "cosine", "hnsw:search_ef": 200, "embedding_model": emb.model_id,
                      "dimension": emb.dimension, "chunking_version": CHUNKING_VERSION},
        )
    return client.get_collection(name=name, embedding_function=ef)


# ---------------------------------------------------------------- snapshot files


def _write_json(path: Path, data: Any) -> None:
    with path.open("w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def build_bm25(texts: Sequence[str]) -> bm25s.BM25:
    model = bm25s.BM25()
    model.index([tokens(t) for t in texts] or [[""]], show_progress=False)
    return model


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index directory (other writers wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / "lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def _next_generation(index_dir: Path) -> str:
    snaps = index_dir / "snapshots"
    numbers = [int(p.name[1:]) for p in snaps.glob("g*") if p.name[1:].isdigit()] if snaps.is_dir() else []
    return f"g{max(numbers, default=0) + 1:06d}"


def corpus_version(passages: Sequence[Passage]) -> str:
    import hashlib

    h = hashlib.sha256()
    for chunk_id in sorted(p.chunk_id for p in passages):
        h.update(chunk_id.encode())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------- writer


def build_index(
    settings: Settings,
    documents: Sequence[SourceDocument],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
) -> IndexStats:
    """Bring the index to exactly ``documents``: embed only new passages, commit, then clean up."""
    start = time.perf_counter()
    index_dir = settings.index_dir
    emb = get_embeddings(settings.embedding)
    messages: list[str] = []
    with writer_lock(index_dir):
        (index_dir / "PENDING").write_text(datetime.now(UTC).isoformat(), encoding="utf-8")
        previous = _read_manifest(index_dir)
        if previous and not rebuild:
            reasons = []
            if previous.get("embedding_model") != emb.model_id:
                reasons.append(
                    f"modèle d'embedding « {previous.get('embedding_model')} » → « {emb.model_id} »"
                )
            if previous.get("chunking_version") != CHUNKING_VERSION:
                reasons.append(
                    f"version du découpage {previous.get('chunking_version')} → {CHUNKING_VERSION}"
                )
            if reasons:
                rebuild = True
                messages.append("Index construit avec d'autres réglages (" + " ; ".join(reasons)
                                + ") : reconstruction complète.")
        client = chroma_client(settings)
        name = _collection_name(settings, emb.model_id)
        if rebuild:
            for col in client.list_collections():
                col_name = col if isinstance(col, str) else col.name
                if col_name.startswith(f"{settings.collection}-"):
                    client.delete_collection(col_name)
        collection = open_collection(settings, create=True)

        passages: list[Passage] = []
        sections: list[SectionRecord] = []
        titles: dict[str, str] = {}
        for doc in documents:
            doc_passages, doc_sections = chunk_document(
                doc, settings.passage_max_chars, settings.passage_max_sentences
            )
            passages.extend(doc_passages)
            sections.extend(doc_sections)
            titles[doc.doc_id] = doc.title
        docs_by_id = {d.doc_id: d for d in documents}

        existing = set(collection.get(include=[])["ids"])
        target = {p.chunk_id for p in passages}
        to_add = [p for p in passages if p.chunk_id not in existing]
        total = len(to_add)
        if progress:
            progress("embed", 0, total)
        for i in range(0, total, BATCH):
            batch = to_add[i : i + BATCH]
            vectors = emb.encode([dense_text(p) for p in batch])
            collection.upsert(
                ids=[p.chunk_id for p in batch],
                embeddings=vectors,
                documents=[p.text for p in batch],
                metadatas=[_chroma_meta(p, docs_by_id[p.doc_id]) for p in batch],
            )
            if progress:
                progress("embed", min(i + BATCH, total), total)

        generation = _next_generation(index_dir)
        snap_dir = index_dir / "snapshots" / generation
        tmp_dir = index_dir / "snapshots" / f".{generation}.tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
        write_snapshot(
            tmp_dir, settings, emb.model_id, emb.dimension, documents, passages, sections, titles, generation
        )
        os.replace(tmp_dir, snap_dir)
        _fsync_dir(snap_dir.parent)
        _atomic_write_text(index_dir / "CURRENT", generation)
        if settings.chroma_url:
            from assistant.shared_snapshot import publish_snapshot

            publish_snapshot(client, name, snap_dir)

        stale = sorted(existing - target)
        for i in range(0, len(stale), 1000):
            collection.delete(ids=stale[i : i + 1000])
        _prune_snapshots(index_dir, keep={generation, (previous or {}).get("generation", "")})
        (index_dir / "PENDING").unlink(missing_ok=True)

    seconds = time.perf_counter() - start
    reused = len(target & existing)
    return IndexStats(
        generation, len(documents), len(passages), len(to_add), len(stale), reused, seconds, rebuild,
        " ".join(messages),
    )


def _chroma_meta(p: Passage, doc: SourceDocument) -> dict[str, Any]:
    return {"doc_id": p.doc_id, "section": p.section, "section_id": p.section_id,
            "position": p.position, "kind": doc.kind}


def write_snapshot(
    directory: Path,
    settings: Settings,
    model_id: str,
    dimension: int,
    documents: Sequence[SourceDocument],
    passages: Sequence[Passage],
    sections: Sequence[SectionRecord],
    titles: dict[str, str],
    generation: str,
) -> None:
    model = build_bm25([lexical_text(p, titles[p.doc_id]) for p in passages])
    model.save(str(directory / "bm25"), show_progress=False)
    _write_jsonl(directory / "passages.jsonl", [p._asdict() for p in passages])
    _write_jsonl(directory / "sections.jsonl", [s._asdict() for s in sections])
    _write_json(directory / "docs.json", [d.meta() for d in documents])
    _write_json(directory / "manifest.json", {
        "generation": generation,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": model_id,
        "dimension": dimension,
        "chunking_version": CHUNKING_VERSION,
        "passage_max_chars": settings.passage_max_chars,
        "documents": len(documents),
        "passages": len(passages),
        "corpus_version": corpus_version(passages),
    })
    for path in directory.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def _read_manifest(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if not gen:
        return None
    try:
        return json.loads((index_dir / "snapshots" / gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _prune_snapshots(index_dir: Path, keep: set[str]) -> None:
    for path in (index_dir / "snapshots").iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- reader


@dataclass
class Snapshot:
    """One committed generation loaded in memory (passages, sections, docs, BM25)."""

    generation: str
    manifest: dict[str, Any]
    passages: list[Passage]
    sections: dict[str, SectionRecord]
    docs: dict[str, dict[str, Any]]
    bm25: bm25s.BM25
    index_of: dict[str, int]
    interrupted: bool
    _df: dict[str, int] | None = None

    @property
    def corpus_version(self) -> str:
        return str(self.manifest.get("corpus_version", ""))

    def idf(self, term: str) -> float:
        """Inverse passage frequency; terms absent from the corpus weigh the most."""
        if self._df is None:
            from assistant.text import tokens as _tokens

            df: dict[str, int] = {}
            for p in self.passages:
                for t in set(_tokens(f"{p.section} {p.text}")):
                    df[t] = df.get(t, 0) + 1
            self._df = df
        n = len(self.passages)
        return float(np.log((n + 1) / (self._df.get(term, 0) + 0.5)))

    def doc_text(self, kind: str) -> str:
        """All passages of the documents of one kind (for reference checks)."""
        ids = {d for d, meta in self.docs.items() if meta.get("kind") == kind}
        return " ".join(p.text for p in self.passages if p.doc_id in ids)

    def bm25_scores(self, query_tokens: list[str]) -> np.ndarray:
        vocab = self.bm25.vocab_dict
        known = [t for t in query_tokens if t in vocab]
        if not known:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)[: len(self.passages)]


def load_snapshot(index_dir: Path, generation: str) -> Snapshot:
    snap = index_dir / "snapshots" / generation
    try:
        manifest = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
        with (snap / "passages.jsonl").open(encoding="utf-8") as fh:
            passages = [Passage(**json.loads(line)) for line in fh if line.strip()]
        with (snap / "sections.jsonl").open(encoding="utf-8") as fh:
            sections = [SectionRecord(**json.loads(line)) for line in fh if line.strip()]
        docs = json.loads((snap / "docs.json").read_text(encoding="utf-8"))
        model = bm25s.BM25.load(str(snap / "bm25"), show_progress=False)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexError_(
            f"index illisible ({snap.name} : {type(exc).__name__}) : relancez « doctrine index --rebuild »"
        ) from exc
    return Snapshot(
        generation=generation, manifest=manifest, passages=passages,
        sections={s.section_id: s for s in sections}, docs={d["doc_id"]: d for d in docs}, bm25=model,
        index_of={p.chunk_id: i for i, p in enumerate(passages)},
        interrupted=(index_dir / "PENDING").exists(),
    )


class IndexReader:
    """Process-wide access to the committed generation; follows new commits by other processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._collection = None
        self._checked = 0.0

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked < 0.5:
            return self._snapshot
        with self._lock:
            self._checked = now
            if self.settings.chroma_url:
                from assistant.shared_snapshot import sync_snapshot

                sync_snapshot(self.settings)
            gen = current_generation(self.settings.index_dir)
            if gen is None:
                raise IndexError_("aucun index : lancez « doctrine index » pour indexer le corpus")
            if self._snapshot is None or self._snapshot.generation != gen:
                snap = load_snapshot(self.settings.index_dir, gen)
                emb = get_embeddings(self.settings.embedding)
                if snap.manifest.get("chunking_version") != CHUNKING_VERSION:
                    raise IndexError_(
                        f"index construit avec le découpage v{snap.manifest.get('chunking_version')} (version "
                        f"actuelle v{CHUNKING_VERSION}) : lancez « doctrine index » pour le mettre à jour"
                    )
                if snap.manifest.get("embedding_model") != emb.model_id:
                    raise IndexError_(
                        f"index construit avec le modèle « {snap.manifest.get('embedding_model')} » mais le "
                        f"modèle configuré est « {emb.model_id} » : lancez « doctrine index » pour le reconstruire"
                    )
                self._snapshot = snap
                self._collection = None
            snap = self._snapshot
            snap.interrupted = (self.settings.index_dir / "PENDING").exists() and not _writer_active(
                self.settings.index_dir
            )
            return snap

    def collection(self):  # noqa: ANN201
        if self._collection is None:
            try:
                collection = open_collection(self.settings, create=False)
                stored = collection.count()
            except Exception as exc:  # noqa: BLE001 - chroma raises NotFoundError/ValueError by version
                raise IndexError_(
                    f"collection Chroma introuvable ({type(exc).__name__}) : lancez « doctrine index »"
                ) from exc
            expected = len(self.snapshot().passages)
            if stored < expected:
                raise IndexError_(
                    f"index incohérent : {stored} vecteurs dans Chroma pour {expected} passages attendus ; "
                    "lancez « doctrine index --rebuild »"
                )
            self._collection = collection
        return self._collection

    def _with_retry(self, call):  # noqa: ANN001, ANN202
        """Run a Chroma call; on failure reopen the store once (another process may have written to it)."""
        try:
            return call(self.collection())
        except IndexError_:
            raise
        except Exception:  # noqa: BLE001 - embedded Chroma read while another process writes
            with self._lock:
                self._collection = None
                if not self.settings.chroma_url:
                    from chromadb.api.shared_system_client import SharedSystemClient

                    SharedSystemClient.clear_system_cache()
            time.sleep(0.2)
            try:
                return call(self.collection())
            except IndexError_:
                raise
            except Exception as exc:  # noqa: BLE001
                raise DenseUnavailable(f"recherche sémantique indisponible ({type(exc).__name__})") from exc

    def dense_query(self, vector: np.ndarray, n: int) -> list[tuple[str, float]]:
        """Top-n (chunk_id, cosine) of the committed generation."""
        snap = self.snapshot()
        count = len(snap.passages)
        if count == 0:
            return []
        result = self._with_retry(lambda col: col.query(
            query_embeddings=[vector.astype(np.float32)], n_results=min(n, max(count, 1)), include=["distances"]
        ))
        ids = result["ids"][0]
        dists = result["distances"][0] if result.get("distances") else [1.0] * len(ids)
        return [(cid, 1.0 - float(d)) for cid, d in zip(ids, dists, strict=False) if cid in snap.index_of]

    def embeddings_for(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        got = self._with_retry(lambda col: col.get(ids=chunk_ids, include=["embeddings"]))
        return {cid: np.asarray(vec, dtype=np.float32) for cid, vec in zip(got["ids"], got["embeddings"], strict=False)}


def _writer_active(index_dir: Path) -> bool:
    """True while another process holds the writer lock (an indexing run is really in progress)."""
    try:
        with (index_dir / "lock").open("a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
    except OSError:
        return False
