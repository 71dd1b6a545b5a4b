"""The index store: build a new generation from documents (incremental, crash-safe) and read the
committed one (Chroma for dense search, the lexical index for BM25, the generation's objects for
everything else).

The cost of a run follows the change: files whose size and dates did not change are not read again
(``unchanged_files``), documents whose content did not change keep their object (their passages,
rowids and tokens), only new passages are embedded and added to the lexical index, and the
generation written is a short record of its documents (``snapshot``).

Readers only ever see a committed generation: dense and lexical hits are filtered to that
generation's passages, so passages added by an unfinished run are invisible, and passages of the
previous generation are deleted from Chroma and from the lexical index only after the new
generation is committed. A crash at any point leaves the previous generation answering; the next
``doctrine index`` reconciles Chroma and the lexical index with the target (PENDING tells it to).
On-disk layout: ``snapshot``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from assistant.config import Settings
from assistant.fileio import atomic_write_text
from assistant.index.chroma import chroma_client, collection_name, open_collection
from assistant.index.chunking import CHUNKING_VERSION, Passage, chunk_document, dense_text
from assistant.index.datadir import check_data_dir, writable
from assistant.index.documents import Source, SourceDocument
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import DenseUnavailable, IndexError_, IngestLimit, TooManyDeletions
from assistant.index.lexical import open_reader
from assistant.index.snapshot import (
    LAYOUT,
    DocEntry,
    Generation,
    LexicalSync,
    ObjectStore,
    Snapshot,
    attach_lexical,
    commit_generation,
    committed,
    corpus_version,
    current_generation,
    install_generation,
    load_snapshot,
    make_object,
    new_lineage,
    next_generation,
    prune,
    read_manifest,
    writer_active,
    writer_lock,
)

Progress = Callable[[str, int, int], None]
BATCH = 256
FileKey = list[int]


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


# ---------------------------------------------------------------- unchanged files


def file_key(path: Path | str) -> FileKey | None:
    """What tells that a file is unchanged since it was read: size, modification and change times, inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


@dataclasses.dataclass
class IndexedDocument(SourceDocument):
    """A document whose file did not change since the committed generation read it: its metadata
    only (no sections); the index reuses its object as it is."""

    indexed_as: str = ""


def _document_from_meta(meta: dict[str, Any], object_name: str) -> IndexedDocument:
    values: dict[str, Any] = {"sections": [], "indexed_as": object_name}
    for f in dataclasses.fields(SourceDocument):
        if f.name not in meta or f.name == "sections":
            continue
        value = meta[f.name]
        if f.name == "sources":
            value = tuple(Source(**s) for s in value or ())
        elif value is not None and str(f.type).startswith("date"):
            value = date.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return IndexedDocument(**values)


def _reusable(manifest: dict[str, Any] | None, settings: Settings) -> bool:
    """Whether a generation's objects (passages as chunked, tokens) hold for these settings."""
    return bool(manifest) and manifest.get("layout") == LAYOUT and all(
        manifest.get(key) == value for key, value in (
            ("chunking_version", CHUNKING_VERSION), ("passage_max_chars", settings.passage_max_chars),
            ("passage_max_sentences", settings.passage_max_sentences),
            ("embedding_model", get_embeddings(settings.embedding).model_id),
        )
    )


class UnchangedFiles:
    """For the loaders: the committed document of a file that did not change (None: read the file).

    The files' keys are taken when this is made, before anything is read: a file that changes
    while the run reads it is read again by the next run.
    """

    def __init__(self, settings: Settings, paths: Iterable[Path], *, enabled: bool = True) -> None:
        self.keys: dict[str, FileKey | None] = {str(p): file_key(p) for p in paths}
        self._store = ObjectStore(settings.index_dir)
        self._by_path: dict[str, DocEntry] = {}
        previous = committed(settings.index_dir) if enabled else None
        if previous is not None and _reusable(previous.manifest, settings):
            self._by_path = {str(e.meta.get("path")): e for e in previous.entries if e.file}
        self.reused = 0

    def __call__(self, path: Path) -> SourceDocument | None:
        entry = self._by_path.get(str(path))
        key = self.keys.get(str(path))
        if entry is None or key is None or entry.file != key or not self._store.exists(entry.object):
            return None
        self.reused += 1
        return _document_from_meta(entry.meta, entry.object)


# ---------------------------------------------------------------- writer


def build_index(
    settings: Settings,
    documents: Sequence[SourceDocument],
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    file_keys: dict[str, FileKey | None] | None = None,
    force: bool = False,
    removing: Collection[str] = (),
    deadline: float | None = None,
) -> IndexStats:
    """Bring the index to exactly ``documents``: embed only new passages, commit, then clean up.

    ``file_keys`` (path -> ``file_key`` taken before the files were read) lets the next run skip
    the files that did not change. Refuses (``TooManyDeletions``, nothing committed) to remove more
    than ``settings.max_delete_share`` of the committed passages, unless ``force`` or ``rebuild``;
    the passages of the documents in ``removing`` (removed on purpose) do not count. Past
    ``deadline`` (``time.monotonic()``) the run stops before committing (``IngestLimit``): the
    committed generation stays as it was.
    """
    start = time.perf_counter()
    index_dir = settings.index_dir
    emb = get_embeddings(settings.embedding)
    messages: list[str] = []
    file_keys = file_keys or {}
    with writer_lock(index_dir):
        interrupted = (index_dir / "PENDING").exists()
        manifest = read_manifest(index_dir)
        if manifest and not rebuild:
            reasons = []
            if manifest.get("embedding_model") != emb.model_id:
                reasons.append(
                    f"modèle d'embedding « {manifest.get('embedding_model')} » → « {emb.model_id} »"
                )
            if manifest.get("chunking_version") != CHUNKING_VERSION:
                reasons.append(
                    f"version du découpage {manifest.get('chunking_version')} → {CHUNKING_VERSION}"
                )
            if reasons:
                rebuild = True
                messages.append("Index construit avec d'autres réglages (" + " ; ".join(reasons)
                                + ") : reconstruction complète.")
        previous = committed(index_dir)  # what readers see now (None: none, or an older layout)
        base = previous if previous is not None and not rebuild and _reusable(previous.manifest, settings) else None
        if base is None and any(isinstance(d, IndexedDocument) for d in documents):
            raise IndexError_("génération précédente inutilisable pour une mise à jour : relancez « doctrine index »")
        guard = None if rebuild or force else _DeletionGuard(settings, previous, set(removing))
        atomic_write_text(index_dir / "PENDING", datetime.now(UTC).isoformat())
        client = chroma_client(settings)
        name = collection_name(settings, emb.model_id)
        if rebuild:
            for col in client.list_collections():
                col_name = col if isinstance(col, str) else col.name
                if col_name.startswith(f"{settings.collection}-"):
                    client.delete_collection(col_name)
        collection = open_collection(settings, create=True)
        # The cheap path trusts that Chroma holds exactly the committed generation (a clean run
        # left it so); otherwise every id is compared (``full``).
        full = rebuild or interrupted or base is None or collection.count() != base.passage_count
        store = ObjectStore(index_dir)
        lexical = LexicalSync(index_dir, store, previous, full=full, reset=rebuild)
        try:
            new, to_add, stale = _write_generation(settings, documents, base, previous, store, lexical, collection,
                                                   emb, full=full, file_keys=file_keys, progress=progress,
                                                   guard=guard, deadline=deadline)
            install_generation(index_dir, new)
            commit_generation(index_dir, new.name)
            if settings.chroma_url:
                from assistant.index.shared import publish_generation

                publish_generation(client, name, index_dir, new, previous, store)
            lexical.after_commit()
        except (TooManyDeletions, IngestLimit):
            lexical.abort()
            if not interrupted:  # nothing was committed: nothing is pending
                (index_dir / "PENDING").unlink(missing_ok=True)
            raise
        except BaseException:
            lexical.abort()
            raise
        for i in range(0, len(stale), 1000):
            collection.delete(ids=stale[i : i + 1000])
        prune(index_dir, keep=[new, previous])
        (index_dir / "PENDING").unlink(missing_ok=True)

    seconds = time.perf_counter() - start
    passages = new.passage_count
    return IndexStats(
        new.name, len(documents), passages, len(to_add), len(stale), passages - len(to_add), seconds, rebuild,
        " ".join(messages),
    )


def _write_generation(
    settings: Settings,
    documents: Sequence[SourceDocument],
    base: Generation | None,
    previous: Generation | None,
    store: ObjectStore,
    lexical: LexicalSync,
    collection: Any,
    emb: Any,
    *,
    full: bool,
    file_keys: dict[str, FileKey | None],
    progress: Progress | None,
    guard: _DeletionGuard | None = None,
    deadline: float | None = None,
) -> tuple[Generation, list[Passage], list[str]]:
    """Objects of new and changed documents, vectors of new passages, new passages in the lexical
    index: everything the new generation needs, before it is committed. Returns it uncommitted, with
    the passages embedded and the Chroma ids to delete once it is committed."""
    index_dir = settings.index_dir
    prev_entries = {e.doc_id: e for e in base.entries} if base else {}
    next_rowid = max(previous.next_rowid if previous else 1, lexical.next_rowid_floor())
    entries: list[DocEntry] = []
    new_passages: list[tuple[Passage, SourceDocument]] = []  # passages the previous generation lacks
    lost: set[str] = set()  # chunk ids of the previous generation the new one drops
    docs_by_id = {d.doc_id: d for d in documents}
    for doc in documents:
        prev = prev_entries.get(doc.doc_id)
        key = file_keys.get(doc.path)
        old = prev.object if prev is not None and store.exists(prev.object) else None
        if old is not None and (
            (isinstance(doc, IndexedDocument) and doc.indexed_as == old)
            or (doc.content_hash and prev.meta.get("content_hash") == doc.content_hash
                and prev.meta.get("title") == doc.title)
        ):
            entries.append(DocEntry(doc.meta(), old, prev.passages, key, prev.chunks))
            continue
        old_obj = store.get(old, with_tokens=False) if old is not None else None
        if isinstance(doc, IndexedDocument):
            # Its file is unchanged since the generation that made ``indexed_as``, but another run
            # committed meanwhile: that object still holds this file's passages (and their rowids).
            if not store.exists(doc.indexed_as):
                raise IndexError_(f"document {doc.doc_id} modifié par une indexation concurrente : "
                                  "relancez « doctrine index »")
            obj = store.get(doc.indexed_as, with_tokens=False)
            passages = list(obj.passages)
        else:
            passages, sections = chunk_document(doc, settings.passage_max_chars, settings.passage_max_sentences)
            kept = (dict(zip((p.chunk_id for p in old_obj.passages), old_obj.rowids, strict=True))
                    if old_obj is not None and old_obj.title == doc.title else {})
            rowids = []
            for p in passages:
                rowid = kept.get(p.chunk_id)
                if rowid is None:
                    rowid, next_rowid = next_rowid, next_rowid + 1
                rowids.append(rowid)
            obj, data = make_object(doc.doc_id, doc.title, passages, rowids, sections)
            store.put(obj, data)
        chunk_ids = {p.chunk_id for p in passages}
        entries.append(DocEntry(doc.meta(), obj.name, len(passages), key, corpus_version(chunk_ids)))
        old_ids = {p.chunk_id for p in old_obj.passages} if old_obj is not None else set()
        new_passages.extend((p, doc) for p in passages if p.chunk_id not in old_ids)
        lost |= old_ids - chunk_ids
    for doc_id, prev in prev_entries.items():
        if doc_id not in docs_by_id and store.exists(prev.object):
            lost.update(p.chunk_id for p in store.get(prev.object, with_tokens=False).passages)
    if guard is not None:
        guard.check(lost)
    store.flush()

    if full:
        existing = set(collection.get(include=[])["ids"])
        target: set[str] = set()
        to_add: list[Passage] = []
        doc_of: dict[str, SourceDocument] = {}
        for entry in entries:
            for p in store.get(entry.object, with_tokens=False).passages:
                target.add(p.chunk_id)
                if p.chunk_id not in existing:
                    to_add.append(p)
                    doc_of[p.chunk_id] = docs_by_id[p.doc_id]
        stale = sorted(existing - target)
    else:
        to_add = [p for p, _ in new_passages]
        doc_of = {p.chunk_id: d for p, d in new_passages}
        stale = sorted(lost)
    total = len(to_add)
    if progress:
        progress("embed", 0, total)
    for i in range(0, total, BATCH):
        _check_deadline(settings, deadline, i, total)
        batch = to_add[i : i + BATCH]
        vectors = emb.encode([dense_text(p) for p in batch])
        collection.upsert(
            ids=[p.chunk_id for p in batch],
            embeddings=vectors,
            documents=[p.text for p in batch],
            metadatas=[_chroma_meta(p, doc_of[p.chunk_id]) for p in batch],
        )
        if progress:
            progress("embed", min(i + BATCH, total), total)

    _check_deadline(settings, deadline, total, total)
    name = next_generation(index_dir)
    new = Generation(name, {
        "layout": LAYOUT,
        "generation": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "embedding_model": emb.model_id,
        "dimension": emb.dimension,
        "chunking_version": CHUNKING_VERSION,
        "passage_max_chars": settings.passage_max_chars,
        "passage_max_sentences": settings.passage_max_sentences,
        "documents": len(entries),
        "passages": sum(e.passages for e in entries),
        "corpus_version": corpus_version(f"{e.doc_id}:{e.chunks}" for e in entries),
        "next_rowid": next_rowid,
        "lineage": previous.lineage if previous is not None and previous.lineage else new_lineage(),
        "lexical": lexical.engine,
    }, entries)
    lexical.before_commit(new)
    return new, to_add, stale


class _DeletionGuard:
    """Refuses a run that would remove more than ``max_delete_share`` of the committed passages
    (a mistyped knowledge folder, a deleted mount), not counting the documents removed on purpose."""

    def __init__(self, settings: Settings, previous: Generation | None, removing: set[str]) -> None:
        self.settings = settings
        self.committed = previous.passage_count if previous is not None else 0
        self.removing = removing

    def check(self, lost: set[str]) -> None:
        if not self.committed:
            return
        dropped = [cid for cid in lost if _doc_of(cid) not in self.removing]
        share = len(dropped) / self.committed
        if not dropped or share <= self.settings.max_delete_share:
            return
        docs = sorted({_doc_of(cid) for cid in dropped})
        examples = ", ".join(docs[:5]) + (f" et {len(docs) - 5} autre(s)" if len(docs) > 5 else "")
        raise TooManyDeletions(
            f"indexation refusée : elle retirerait {len(dropped)} des {self.committed} passages indexés "
            f"({share:.0%}, au-delà de la limite de {self.settings.max_delete_share:.0%}, "
            f"DOCTRINE_MAX_DELETE_SHARE), de {len(docs)} document(s) : {examples}. Vérifiez le dossier du "
            f"corpus (DOCTRINE_KNOWLEDGE_DIR={self.settings.knowledge_dir}) ; si ce retrait est voulu, "
            "relancez « doctrine index --force ». L'index n'a pas été modifié."
        )


def _doc_of(chunk_id: str) -> str:
    return chunk_id.rpartition(":")[0]


def _check_deadline(settings: Settings, deadline: float | None, done: int, total: int) -> None:
    """Stop an upload past its time budget, before anything is committed."""
    if deadline is None or time.monotonic() <= deadline:
        return
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
        self._objects = ObjectStore(settings.index_dir)  # the objects of the loaded generation
        self._lexical: Any = None  # the lexical index, opened once
        self._vectors: dict[str, np.ndarray] = {}  # chunk id -> stored vector (see embeddings_for)

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
                self._snapshot = self._load(gen)
                self._collection = None
            snap = self._snapshot
            snap.interrupted = (self.settings.index_dir / "PENDING").exists() and not writer_active(
                self.settings.index_dir
            )
            return snap

    def _load(self, gen: str) -> Snapshot:
        """Generation ``gen`` with a lexical view taken after it was committed; if a newer generation
        was committed meanwhile (its objects or deletes may have gone), load that one instead."""
        index_dir = self.settings.index_dir
        for _attempt in range(10):
            try:
                snap = load_snapshot(index_dir, gen, self._objects)
            except FileNotFoundError as exc:
                newer = current_generation(index_dir)
                if newer and newer != gen:
                    gen = newer
                    continue
                raise IndexError_(
                    f"index incomplet ({gen} : {exc.filename}) : relancez « doctrine index --rebuild »") from exc
            self._check(snap)
            if self._lexical is None:
                self._lexical = open_reader(index_dir / "lexical")
            attach_lexical(snap, self._lexical)
            newer = current_generation(index_dir)
            if newer == gen or newer is None:
                return snap
            gen = newer
        return snap

    def _check(self, snap: Snapshot) -> None:
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
        """Stored vectors of these passages. A chunk id names its content, so a vector read once
        stays right for every generation that keeps the passage: kept in memory after the first read."""
        if not chunk_ids:
            return {}
        vectors = self._vectors
        missing = [cid for cid in chunk_ids if cid not in vectors]
        if missing:
            got = self._with_retry(lambda col: col.get(ids=missing, include=["embeddings"]))
            if len(vectors) > 4 * max(len(self.snapshot().passages), 1024):
                vectors = self._vectors = {}  # many re-indexings in one process: start afresh
            for cid, vec in zip(got["ids"], got["embeddings"], strict=False):
                vectors[cid] = np.asarray(vec, dtype=np.float32)
        return {cid: vectors[cid] for cid in chunk_ids if cid in vectors}
