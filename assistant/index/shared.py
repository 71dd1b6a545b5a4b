"""Server mode: share committed generations between machines through the Chroma server itself.

With ``DOCTRINE_CHROMA_URL`` the vectors live in one Chroma server and several app replicas read
them. Everything else a generation needs travels in a small companion collection (``<name>-meta``):

    obj:<object>:<part>   a document's object (passages with their rowids, sections, tokens), gzip +
                          base64, in parts; named by its content, so it is uploaded once and every
                          generation that holds the document shares it
    gen:<generation>:<part>  the generation's record (manifest, documents in corpus order, objects)
    current               the pointer: which generation is committed (its write is the commit)

The indexer uploads the objects the server lacks, then the record, then moves the pointer, and
keeps the objects of the current and previous generations. A replica compares the pointer with its
local generation and fetches only the objects it lacks: after one edited file, one object; after a
long absence, every object that changed meanwhile (never more than the whole corpus). It then
applies the new generation to its own lexical index exactly as the indexer does (add before its
commit, delete after: ``snapshot.LexicalSync``), so BM25 and dense results come from the same
generation on every replica, with the same rowids, and the replica never rebuilds its index whole.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any, NamedTuple

from assistant.config import Settings
from assistant.fileio import atomic_write_text
from assistant.index.chroma import chroma_client, collection_name
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import IndexError_
from assistant.index.snapshot import (
    LAYOUT,
    Generation,
    LexicalSync,
    ObjectStore,
    commit_generation,
    committed,
    current_generation,
    install_generation,
    object_digest_ok,
    parse_object,
    prune,
    writer_lock,
)

PART_BYTES = 2_000_000
POINTER = "current"
BATCH = 200  # records per Chroma call


class SyncStats(NamedTuple):
    generation: str | None
    objects_fetched: int
    bytes_fetched: int
    seconds: float
    full: bool


def _meta_collection(client: Any, name: str) -> Any:
    return client.get_or_create_collection(f"{name}-meta", embedding_function=None,
                                           metadata={"role": "doctrine-snapshots"})


def _pack(data: bytes) -> list[str]:
    blob = base64.b64encode(gzip.compress(data, compresslevel=6)).decode()
    return [blob[i : i + PART_BYTES] for i in range(0, len(blob), PART_BYTES)] or [""]


def _unpack(parts: list[str]) -> bytes:
    return gzip.decompress(base64.b64decode("".join(parts)))


def _upsert(meta: Any, ids: list[str], documents: list[str], metadatas: list[dict[str, Any]]) -> None:
    for i in range(0, len(ids), BATCH):
        meta.upsert(ids=ids[i : i + BATCH], embeddings=[[1.0]] * len(ids[i : i + BATCH]),
                    documents=documents[i : i + BATCH], metadatas=metadatas[i : i + BATCH])


def _get(meta: Any, ids: list[str], include: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"ids": [], "documents": [], "metadatas": []}
    for i in range(0, len(ids), BATCH):
        got = meta.get(ids=ids[i : i + BATCH], include=include)
        out["ids"] += got["ids"]
        for key in ("documents", "metadatas"):
            if key in include:
                out[key] += got[key]
    return out


def publish_generation(client: Any, name: str, index_dir: Any, new: Generation, previous: Generation | None,
                       store: ObjectStore) -> None:
    """Upload what the server lacks of a committed generation, then move the pointer to it."""
    meta = _meta_collection(client, name)
    pointer = meta.get(ids=[POINTER], include=["metadatas"])
    before = str(pointer["metadatas"][0].get("generation", "")) if pointer["ids"] else ""
    # The server holds every object of the generation it points to: only the others are checked.
    known = previous.objects if previous is not None and before == previous.name else set()
    objects = sorted(new.objects - known)
    present = set(_get(meta, [f"obj:{o}:0" for o in objects], include=[])["ids"]) if objects else set()
    for obj in objects:
        if f"obj:{obj}:0" in present:
            continue
        parts = _pack(store.path(obj).read_bytes())
        # Part 0 last: a present part 0 means the whole object is there.
        order = list(range(1, len(parts))) + [0]
        _upsert(meta, [f"obj:{obj}:{i}" for i in order], [parts[i] for i in order],
                [{"object": obj, "part": i, "parts": len(parts)} for i in order])
    record = _pack(json.dumps(new.to_json(), ensure_ascii=False).encode("utf-8"))
    _upsert(meta, [f"gen:{new.name}:{i}" for i in range(len(record))], record,
            [{"generation": new.name, "part": i} for i in range(len(record))])
    meta.upsert(ids=[POINTER], embeddings=[[1.0]], documents=[new.name],
                metadatas=[{"generation": new.name, "parts": len(record), "layout": LAYOUT}])
    # Keep what a replica syncing to the previous pointer may still fetch.
    keep_gens = {new.name, before}
    keep_objects = new.objects | (previous.objects if previous else set())
    if before and previous is not None and before != previous.name:
        keep_objects |= _server_generation_objects(meta, before)
    stale = []
    for record_id in meta.get(include=[])["ids"]:
        kind, _, rest = record_id.partition(":")
        if kind == "obj" and rest.rpartition(":")[0] not in keep_objects:
            stale.append(record_id)
        elif kind == "gen" and rest.rpartition(":")[0] not in keep_gens:
            stale.append(record_id)
        elif kind not in ("obj", "gen") and record_id != POINTER:
            stale.append(record_id)  # records of the older format (whole generations)
    for i in range(0, len(stale), 1000):
        meta.delete(ids=stale[i : i + 1000])


def _server_generation_objects(meta: Any, generation: str) -> set[str]:
    try:
        return _fetch_generation(meta, generation, None).objects
    except IndexError_:
        return set()


def _fetch_generation(meta: Any, generation: str, parts: int | None) -> Generation:
    if parts is None:
        got = meta.get(where={"generation": generation}, include=["metadatas"])
        parts = len([m for m in got["metadatas"] if "part" in m])
    ids = [f"gen:{generation}:{i}" for i in range(parts)]
    got = _get(meta, ids, include=["documents"])
    by_id = dict(zip(got["ids"], got["documents"], strict=False))
    if not parts or any(i not in by_id for i in ids):
        raise IndexError_("génération partagée incomplète sur le serveur Chroma : relancez « doctrine index »")
    files = json.loads(_unpack([by_id[i] for i in ids]).decode("utf-8"))
    return Generation.from_json(generation, files)


def _fetch_objects(meta: Any, names: list[str], store: ObjectStore) -> int:
    """Download objects into the local store (digest checked); returns the bytes fetched."""
    fetched = 0
    firsts = _get(meta, [f"obj:{n}:0" for n in names], include=["documents", "metadatas"])
    first = {m["object"]: (doc, int(m["parts"])) for doc, m in zip(firsts["documents"], firsts["metadatas"],
                                                                    strict=True)}
    missing = [n for n in names if n not in first]
    if missing:
        raise IndexError_(f"objet absent du serveur Chroma ({missing[0]}) : relancez « doctrine index »")
    rest = [f"obj:{n}:{i}" for n in names for i in range(1, first[n][1])]
    more = _get(meta, rest, include=["documents"]) if rest else {"ids": [], "documents": []}
    by_id = dict(zip(more["ids"], more["documents"], strict=True))
    for name in names:
        doc, parts = first[name]
        chunks = [doc] + [by_id.get(f"obj:{name}:{i}", "") for i in range(1, parts)]
        data = _unpack(chunks)
        if not object_digest_ok(name, data):
            raise IndexError_(f"objet corrompu sur le serveur Chroma ({name}) : relancez « doctrine index »")
        fetched += sum(len(c) for c in chunks)
        store.put(parse_object(name, data, with_tokens=True), data)
    store.flush()
    return fetched


def sync_snapshot(settings: Settings) -> str | None:
    """Make the local index folder hold the server's current generation; return its name."""
    return sync_generation(settings).generation


def sync_generation(settings: Settings) -> SyncStats:
    """Bring the local index to the server's current generation, fetching only what it lacks."""
    start = time.perf_counter()
    try:
        client = chroma_client(settings)
        name = collection_name(settings, get_embeddings(settings.embedding).model_id)
        meta = _meta_collection(client, name)
        pointer = meta.get(ids=[POINTER], include=["metadatas"])
    except IndexError_:
        raise
    except Exception as exc:  # noqa: BLE001 - connection errors vary by chromadb version
        raise IndexError_(f"serveur Chroma injoignable ({settings.chroma_url}) : {type(exc).__name__}") from exc
    index_dir = settings.index_dir
    if not pointer["ids"]:
        return SyncStats(current_generation(index_dir), 0, 0, 0.0, False)
    info = pointer["metadatas"][0]
    generation = str(info["generation"])
    if current_generation(index_dir) == generation:
        return SyncStats(generation, 0, 0, 0.0, False)
    if info.get("layout") != LAYOUT:
        raise IndexError_("génération partagée d'un format antérieur : relancez « doctrine index » sur l'indexeur")
    with writer_lock(index_dir):
        if current_generation(index_dir) == generation:
            return SyncStats(generation, 0, 0, 0.0, False)
        interrupted = (index_dir / "PENDING").exists()
        new = _fetch_generation(meta, generation, int(info["parts"]))
        previous = committed(index_dir)
        if previous is not None and previous.lineage != new.lineage:
            previous = None  # rowids of another lineage: start the lexical index over
        atomic_write_text(index_dir / "PENDING", "sync")
        store = ObjectStore(index_dir)
        lacking = sorted(o for o in new.objects if not store.exists(o))
        fetched = _fetch_objects(meta, lacking, store) if lacking else 0
        lexical = LexicalSync(index_dir, store, previous, full=interrupted, reset=previous is None)
        try:
            lexical.before_commit(new)
            install_generation(index_dir, new)
            commit_generation(index_dir, generation)
            lexical.after_commit()
        except BaseException:
            lexical.abort()
            raise
        prune(index_dir, keep=[new, previous])
        (index_dir / "PENDING").unlink(missing_ok=True)
    return SyncStats(generation, len(lacking), fetched, time.perf_counter() - start, lexical.full)
