"""The index store: build a new generation from documents (incremental, crash-safe) and read the
committed one (Chroma for dense search, the snapshot for everything else).

Readers only ever see a committed generation: dense hits are filtered to that generation's passage
ids, so passages added by an unfinished run are invisible, and passages of the previous generation
are deleted from Chroma only after the new generation is committed. A crash at any point leaves
the previous generation answering; the next ``doctrine index`` reconciles Chroma with the target.
On-disk layout: ``snapshot``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assistant.config import Settings
from assistant.fileio import atomic_write_text
from assistant.index.chroma import chroma_client, collection_name, open_collection
from assistant.index.chunking import CHUNKING_VERSION, Passage, SectionRecord, chunk_document, dense_text
from assistant.index.datadir import check_data_dir, writable
from assistant.index.documents import SourceDocument
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import DenseUnavailable, IndexError_, IngestLimit, TooManyDeletions
from assistant.index.snapshot import (
    Snapshot,
    commit_generation,
    committed_ids,
    current_generation,
    install_generation,
    load_snapshot,
    next_generation,
    prune_snapshots,
    read_manifest,
    write_snapshot,
    writer_active,
    writer_lock,
)

Progress = Callable[[str, int, int], None]
BATCH = 256


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


# ---------------------------------------------------------------- writer


def build_index(
    settings: Settings,
    documents: Sequence[SourceDocument],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    force: bool = False,
    removing: Collection[str] = (),
    deadline: float | None = None,
) -> IndexStats:
    """Bring the index to exactly ``documents``: embed only new passages, commit, then clean up.

    Refuses (``TooManyDeletions``, nothing written) to remove more than ``settings.max_delete_share``
    of the committed passages, unless ``force`` or ``rebuild``; the passages of the documents in
    ``removing`` (removed on purpose) do not count. Past ``deadline`` (``time.monotonic()``) the run
    stops before committing (``IngestLimit``): the committed generation stays as it was.
    """
    start = time.perf_counter()
    index_dir = settings.index_dir
    emb = get_embeddings(settings.embedding)
    messages: list[str] = []
    with writer_lock(index_dir):
        previous = read_manifest(index_dir)
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
        target = {p.chunk_id for p in passages}
        if not (rebuild or force):
            _check_deletions(settings, committed_ids(index_dir), target, set(removing))

        atomic_write_text(index_dir / "PENDING", datetime.now(UTC).isoformat())
        client = chroma_client(settings)
        name = collection_name(settings, emb.model_id)
        if rebuild:
            for col in client.list_collections():
                col_name = col if isinstance(col, str) else col.name
                if col_name.startswith(f"{settings.collection}-"):
                    client.delete_collection(col_name)
        collection = open_collection(settings, create=True)

        existing = set(collection.get(include=[])["ids"])
        to_add = [p for p in passages if p.chunk_id not in existing]
        total = len(to_add)
        if progress:
            progress("embed", 0, total)
        for i in range(0, total, BATCH):
            _check_deadline(settings, index_dir, deadline, i, total)
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

        _check_deadline(settings, index_dir, deadline, total, total)
        generation = next_generation(index_dir)
        tmp_dir = index_dir / "snapshots" / f".{generation}.tmp"
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
        write_snapshot(
            tmp_dir, settings, emb.model_id, emb.dimension, documents, passages, sections, titles, generation
        )
        snap_dir = install_generation(index_dir, tmp_dir, generation)
        commit_generation(index_dir, generation)
        if settings.chroma_url:
            from assistant.index.shared import publish_snapshot

            publish_snapshot(client, name, snap_dir)

        stale = sorted(existing - target)
        for i in range(0, len(stale), 1000):
            collection.delete(ids=stale[i : i + 1000])
        prune_snapshots(index_dir, keep={generation, (previous or {}).get("generation", "")})
        (index_dir / "PENDING").unlink(missing_ok=True)

    seconds = time.perf_counter() - start
    reused = len(target & existing)
    return IndexStats(
        generation, len(documents), len(passages), len(to_add), len(stale), reused, seconds, rebuild,
        " ".join(messages),
    )


def _doc_of(chunk_id: str) -> str:
    return chunk_id.rpartition(":")[0]


def _check_deletions(settings: Settings, committed: set[str] | None, target: set[str], removing: set[str]) -> None:
    """Refuse a run that would remove more than ``max_delete_share`` of the committed passages."""
    if not committed:
        return
    lost = [cid for cid in committed - target if _doc_of(cid) not in removing]
    share = len(lost) / len(committed)
    if not lost or share <= settings.max_delete_share:
        return
    docs = sorted({_doc_of(cid) for cid in lost})
    examples = ", ".join(docs[:5]) + (f" et {len(docs) - 5} autre(s)" if len(docs) > 5 else "")
    raise TooManyDeletions(
        f"indexation refusée : elle retirerait {len(lost)} des {len(committed)} passages indexés ({share:.0%}, "
        f"au-delà de la limite de {settings.max_delete_share:.0%}, DOCTRINE_MAX_DELETE_SHARE), "
        f"de {len(docs)} document(s) : {examples}. Vérifiez le dossier du corpus "
        f"(DOCTRINE_KNOWLEDGE_DIR={settings.knowledge_dir}) ; si ce retrait est voulu, relancez "
        "« doctrine index --force ». L'index n'a pas été modifié."
    )


def _check_deadline(settings: Settings, index_dir: Path, deadline: float | None, done: int, total: int) -> None:
    """Stop an upload past its time budget, before anything is committed (PENDING removed: nothing is pending)."""
    if deadline is None or time.monotonic() <= deadline:
        return
    (index_dir / "PENDING").unlink(missing_ok=True)
    raise IngestLimit(
        f"dépôt interrompu : le temps imparti ({settings.ingest_time_budget_s:g} s, DOCTRINE_INGEST_TIME_BUDGET_S) "
        f"est dépassé ({done} passages sur {total} calculés) ; rien n'a été ajouté à l'index, les fichiers "
        "n'ont pas été conservés. Déposez des fichiers plus petits, ou moins à la fois."
    )


def _chroma_meta(p: Passage, doc: SourceDocument) -> dict[str, Any]:
    return {"doc_id": p.doc_id, "section": p.section, "section_id": p.section_id,
            "position": p.position, "kind": doc.kind}


class IndexReader:
    """Process-wide access to the committed generation; follows new commits by other processes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._collection = None
        self._checked = 0.0
        self._open_lock = threading.Lock()  # one thread opens Chroma; the others wait for it

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked < 0.5:
            return self._snapshot
        with self._lock:
            self._checked = now
            if self.settings.chroma_url:
                from assistant.index.shared import sync_snapshot

                sync_snapshot(self.settings)
            try:
                gen = current_generation(self.settings.index_dir)
            except OSError as exc:
                check_data_dir(self.settings.data_dir, write=False)
                raise IndexError_(f"index illisible ({exc.strerror or exc}) : {self.settings.index_dir}") from exc
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
            snap.interrupted = (self.settings.index_dir / "PENDING").exists() and not writer_active(
                self.settings.index_dir
            )
            return snap

    def collection(self):  # noqa: ANN201
        if self._collection is not None:
            return self._collection
        with self._open_lock:  # concurrent first opens of embedded Chroma race ("Could not connect to tenant")
            if self._collection is None:
                try:
                    collection = open_collection(self.settings, create=False)
                    stored = collection.count()
                except Exception as exc:  # noqa: BLE001 - chroma raises NotFoundError/ValueError by version
                    raise self._open_error(exc) from exc
                expected = len(self.snapshot().passages)
                if stored < expected:
                    raise IndexError_(
                        f"index incohérent : {stored} vecteurs dans Chroma pour {expected} passages attendus ; "
                        "lancez « doctrine index --rebuild »"
                    )
                self._collection = collection
            return self._collection

    def _open_error(self, exc: Exception) -> IndexError_:
        """Why Chroma could not be opened, with the right advice (rights, server, or indexing)."""
        if self.settings.chroma_url:
            return IndexError_(f"serveur Chroma injoignable ou collection absente ({self.settings.chroma_url}, "
                               f"{type(exc).__name__}) : vérifiez le serveur, puis lancez « doctrine index »")
        chroma_dir = self.settings.index_dir / "chroma"
        check_data_dir(self.settings.data_dir, write=False)
        for folder in (chroma_dir, self.settings.index_dir):
            if folder.is_dir() and not writable(folder):
                return IndexError_(
                    f"index en lecture seule : Chroma embarqué doit pouvoir écrire dans « {folder} », même pour "
                    "répondre ; donnez les droits d'écriture à l'utilisateur qui lance Doctrine "
                    f"(DOCTRINE_DATA_DIR={self.settings.data_dir})"
                )
        return IndexError_(f"collection Chroma introuvable ({type(exc).__name__}) : lancez « doctrine index »")

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
