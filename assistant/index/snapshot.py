"""Index generations on disk: a generation is a short record of its documents; each document's
passages live in an immutable object that every generation holding that document shares, so the
cost of a generation follows what changed, not the size of the corpus.

Layout under ``<data_dir>/index``::

    objects/<doc_id>.<digest>.json  one document's passages (with their lexical rowids), sections
                                    and tokens; written once (named by its content), never changed
    snapshots/gNNNNNN/              one generation: manifest.json (settings, counts, next rowid) and
                                    docs.json (its documents in corpus order: metadata, object, file)
    lexical/                        the lexical index (``lexical``), shared by the generations
    CURRENT                         name of the committed generation (replaced atomically: the commit)
    PENDING                         present while an indexing run is in progress (or was interrupted)
    lock                            the writer lock (one writer at a time per index folder)

A run writes the objects of new and changed documents, adds their passages to the lexical index,
writes the generation, then replaces CURRENT; only after that are stale passages deleted from the
lexical index (``LexicalSync``) and objects that no kept generation names removed (``prune``).
Readers load the committed generation (``load_snapshot``), reusing the objects they already hold,
and keep only the lexical hits of that generation. ``shared`` copies generations between machines
in server mode: the same objects, fetched only when missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from assistant.fileio import atomic_write_text, fsync_dir
from assistant.index.chunking import Passage, SectionRecord
from assistant.index.errors import IndexError_
from assistant.index.lexical import ENGINE, MAX_DELETED_SHARE, LexicalIndex, LexicalView
from assistant.text import tokens

LAYOUT = 2  # generations made of per-document objects and a shared lexical index
GENERATION_FILES = ("manifest.json", "docs.json")


# ---------------------------------------------------------------- generations


_held = threading.local()


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index directory (other writers, threads or processes, wait).

    Re-entrant within a thread: an upload holds it from reading the folder of uploads to moving
    its files in, and the index build it runs inside takes it again.
    """
    key = os.path.abspath(index_dir)
    depth: dict[str, int] = _held.__dict__.setdefault("depth", {})
    if depth.get(key):
        depth[key] += 1
        try:
            yield
        finally:
            depth[key] -= 1
        return
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / "lock").open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        depth[key] = 1
        try:
            yield
        finally:
            depth[key] = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def writer_active(index_dir: Path) -> bool:
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


def current_generation(index_dir: Path) -> str | None:
    try:
        name = (index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return name or None


def commit_generation(index_dir: Path, generation: str) -> None:
    """Make ``generation`` the one readers load (the atomic replacement of CURRENT is the commit)."""
    atomic_write_text(index_dir / "CURRENT", generation)


def next_generation(index_dir: Path) -> str:
    snaps = index_dir / "snapshots"
    numbers = [int(p.name[1:]) for p in snaps.glob("g*") if p.name[1:].isdigit()] if snaps.is_dir() else []
    return f"g{max(numbers, default=0) + 1:06d}"


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if not gen:
        return None
    try:
        return json.loads((index_dir / "snapshots" / gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def new_lineage() -> str:
    """Rowids mean the same passage only within one lineage (a replica resets on another)."""
    return uuid.uuid4().hex[:12]


def corpus_version(chunk_ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    for chunk_id in sorted(chunk_ids):
        h.update(chunk_id.encode())
    return h.hexdigest()[:12]


# ---------------------------------------------------------------- document objects


@dataclass(frozen=True)
class DocObject:
    """One document as indexed: its passages, their lexical rowids and tokens, its sections."""

    name: str
    doc_id: str
    title: str
    passages: tuple[Passage, ...]
    rowids: tuple[int, ...]
    sections: tuple[SectionRecord, ...]
    tokens: tuple[str, ...] | None = None  # None when read without them (readers)

    def lexical_rows(self) -> Iterator[tuple[int, str, str]]:
        assert self.tokens is not None
        return zip(self.rowids, (self.doc_id,) * len(self.rowids), self.tokens, strict=True)


def passage_tokens(passage: Passage, title: str) -> str:
    """What the lexical index holds for a passage: our tokens of its title, heading path and text."""
    from assistant.index.chunking import lexical_text

    return " ".join(tokens(lexical_text(passage, title)))


def make_object(
    doc_id: str, title: str, passages: Sequence[Passage], rowids: Sequence[int], sections: Sequence[SectionRecord],
    token_strings: Sequence[str] | None = None,
) -> tuple[DocObject, bytes]:
    """A new object and its bytes; its name carries a digest of them, so a name never changes meaning."""
    toks = list(token_strings) if token_strings is not None else [passage_tokens(p, title) for p in passages]
    body = {
        "doc_id": doc_id, "title": title,
        "passages": [[r, p.chunk_id, p.section_id, p.section, p.text, p.position, p.is_list]
                     for r, p in zip(rowids, passages, strict=True)],
        "sections": [[s.section_id, s.section, s.text] for s in sections],
        "tokens": toks,
    }
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    name = f"{doc_id}.{hashlib.sha256(data).hexdigest()[:16]}"
    obj = DocObject(name, doc_id, title, tuple(passages), tuple(int(r) for r in rowids), tuple(sections), tuple(toks))
    return obj, data


def parse_object(name: str, data: bytes, *, with_tokens: bool) -> DocObject:
    body = json.loads(data)
    doc_id = body["doc_id"]
    passages = tuple(Passage(cid, doc_id, sid, section, text, int(pos), bool(is_list))
                     for _r, cid, sid, section, text, pos, is_list in body["passages"])
    return DocObject(
        name, doc_id, str(body.get("title", "")), passages, tuple(int(p[0]) for p in body["passages"]),
        tuple(SectionRecord(sid, doc_id, section, text) for sid, section, text in body["sections"]),
        tuple(body["tokens"]) if with_tokens else None,
    )


def object_digest_ok(name: str, data: bytes) -> bool:
    return name.rpartition(".")[2] == hashlib.sha256(data).hexdigest()[:16]


class ObjectStore:
    """The ``objects/`` folder of one index, with the objects this process read or wrote."""

    def __init__(self, index_dir: Path) -> None:
        self.dir = index_dir / "objects"
        self._cache: dict[str, DocObject] = {}
        self._unsynced = False

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def exists(self, name: str) -> bool:
        return name in self._cache or self.path(name).is_file()

    def put(self, obj: DocObject, data: bytes) -> None:
        """Write an object (fsynced; the folder is synced by ``flush``, before anything names it)."""
        self._cache[obj.name] = obj
        target = self.path(obj.name)
        if target.is_file():
            return  # same name, same bytes (objects are renamed into place only once complete)
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        self._unsynced = True

    def flush(self) -> None:
        if self._unsynced:
            fsync_dir(self.dir)
            self._unsynced = False

    def get(self, name: str, *, with_tokens: bool = True) -> DocObject:
        cached = self._cache.get(name)
        if cached is not None and (cached.tokens is not None or not with_tokens):
            return cached
        try:
            data = self.path(name).read_bytes()
            obj = parse_object(name, data, with_tokens=with_tokens)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise IndexError_(
                f"index illisible (objet {name} : {type(exc).__name__}) : relancez « doctrine index --rebuild »"
            ) from exc
        self._cache[name] = obj
        return obj

    def keep_only(self, names: set[str]) -> None:
        """Forget cached objects outside ``names`` (a reader keeps those of its generation)."""
        for name in list(self._cache):
            if name not in names:
                del self._cache[name]


# ---------------------------------------------------------------- generation records


@dataclass
class DocEntry:
    """One document of a generation: its metadata, its object and what identified its file."""

    meta: dict[str, Any]
    object: str
    passages: int
    file: list[int] | None = None  # [size, mtime_ns, ctime_ns, inode] of the file when it was read
    chunks: str = ""  # digest of its passages' chunk ids (the corpus version is made of them)

    @property
    def doc_id(self) -> str:
        return str(self.meta["doc_id"])

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "object": self.object, "passages": self.passages, "file": self.file,
                "chunks": self.chunks}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocEntry:
        return cls(dict(data["meta"]), str(data["object"]), int(data["passages"]), data.get("file"),
                   str(data.get("chunks", "")))


@dataclass
class Generation:
    name: str
    manifest: dict[str, Any]
    entries: list[DocEntry]
    _objects: set[str] | None = field(default=None, repr=False)

    @property
    def objects(self) -> set[str]:
        if self._objects is None:
            self._objects = {e.object for e in self.entries}
        return self._objects

    @property
    def passage_count(self) -> int:
        return sum(e.passages for e in self.entries)

    @property
    def next_rowid(self) -> int:
        return int(self.manifest.get("next_rowid", 1))

    @property
    def lineage(self) -> str:
        return str(self.manifest.get("lineage", ""))

    def to_json(self) -> dict[str, str]:
        return {
            "manifest.json": json.dumps(self.manifest, ensure_ascii=False),
            "docs.json": json.dumps([e.to_json() for e in self.entries], ensure_ascii=False),
        }

    @classmethod
    def from_json(cls, name: str, files: dict[str, str]) -> Generation:
        manifest = json.loads(files["manifest.json"])
        if manifest.get("layout") != LAYOUT:
            raise IndexError_("index d'un format antérieur : lancez « doctrine index » pour le mettre à jour")
        entries = [DocEntry.from_json(d) for d in json.loads(files["docs.json"])]
        return cls(name, manifest, entries)


def read_generation(index_dir: Path, name: str) -> Generation:
    """A generation's record; ``FileNotFoundError`` when it is gone, ``IndexError_`` when unreadable."""
    folder = index_dir / "snapshots" / name
    try:
        files = {f: (folder / f).read_text(encoding="utf-8") for f in GENERATION_FILES}
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise IndexError_(f"index illisible ({name} : {type(exc).__name__}) : relancez « doctrine index --rebuild »") from exc
    try:
        return Generation.from_json(name, files)
    except (ValueError, TypeError, KeyError) as exc:
        raise IndexError_(
            f"index illisible ({name} : {type(exc).__name__}) : relancez « doctrine index --rebuild »"
        ) from exc


def committed(index_dir: Path) -> Generation | None:
    """The committed generation's record; None when there is none or it cannot be used as a base."""
    name = current_generation(index_dir)
    if not name:
        return None
    try:
        return read_generation(index_dir, name)
    except (OSError, IndexError_):
        return None


def install_generation(index_dir: Path, generation: Generation) -> Path:
    """Write a generation's record to its folder (complete and synced; not yet committed)."""
    snaps = index_dir / "snapshots"
    tmp = snaps / f".{generation.name}.{os.getpid()}.tmp"
    target = snaps / generation.name
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for file, text in generation.to_json().items():
        with (tmp / file).open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    fsync_dir(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    fsync_dir(snaps)
    return target


def prune(index_dir: Path, keep: Sequence[Generation | None]) -> None:
    """Remove generations and objects that none of ``keep`` needs (and leftovers of killed runs)."""
    names = {g.name for g in keep if g is not None}
    needed = set().union(*(g.objects for g in keep if g is not None))
    snaps = index_dir / "snapshots"
    if snaps.is_dir():
        for path in snaps.iterdir():
            if path.name not in names:
                shutil.rmtree(path, ignore_errors=True)
    objects = index_dir / "objects"
    if objects.is_dir():
        for path in objects.iterdir():
            if path.name.removesuffix(".json") not in needed:
                path.unlink(missing_ok=True)


# ---------------------------------------------------------------- the lexical index around a commit


class LexicalSync:
    """Brings the lexical index from the committed generation ``previous`` to a new one.

    ``before_commit`` adds the passages the new generation has and the index lacks (and, when
    reconciling, deletes what belongs to neither generation: leftovers of a killed run);
    ``after_commit``, once the new generation is committed, deletes the passages of ``previous`` it
    dropped. In between, readers of either generation find all their passages and leave out the
    others.

    The cheap path compares the two generations' objects (objects both name hold the same rowids);
    ``full`` compares every rowid of the index with both generations (after a killed run, or when
    the index does not hold exactly ``previous``); ``reset`` rewrites it whole (``--rebuild``).
    """

    def __init__(self, index_dir: Path, store: ObjectStore, previous: Generation | None,
                 *, full: bool = False, reset: bool = False) -> None:
        self.store = store
        self.previous = previous
        self.reset = reset
        self.lex = LexicalIndex(index_dir / "lexical")
        self.full = (full or reset or self.lex.created or previous is None
                     or self.lex.num_docs() != previous.passage_count)
        self._present: set[int] | None = None
        self._stale: set[int] = set()
        self.new: Generation | None = None
        self.added = 0
        self.deleted = 0
        self.compacted = False

    @property
    def engine(self) -> str:
        return ENGINE

    def _rowids_present(self) -> set[int]:
        if self._present is None:
            self._present = set() if self.reset or self.lex.created else self.lex.rowids()
        return self._present

    def next_rowid_floor(self) -> int:
        """New rowids start above every rowid in the index (a killed run may have added some)."""
        if not self.full or self.lex.created:
            return 1
        return max(self._rowids_present() if not self.reset else self.lex.rowids(), default=0) + 1

    def _rowids(self, names: Iterable[str]) -> set[int]:
        found: set[int] = set()
        for name in names:
            try:
                found.update(self.store.get(name, with_tokens=False).rowids)
            except FileNotFoundError:
                continue  # an object of the previous generation is gone: nothing of it to keep
        return found

    def _rows(self, names: Iterable[str], wanted: set[int]) -> Iterator[tuple[int, str, str]]:
        for name in sorted(names):
            if wanted.intersection(self.store.get(name, with_tokens=False).rowids):
                yield from (row for row in self.store.get(name).lexical_rows() if row[0] in wanted)

    def before_commit(self, new: Generation) -> None:
        self.new = new
        prev_objects = self.previous.objects if self.previous else set()
        if self.full:
            sources = new.objects
            live_new = self._rowids(sources)
            live_prev = self._rowids(prev_objects) if self.previous and not self.reset else set()
            present = self._rowids_present()
            if self.reset:
                self.lex.delete_all()
            else:
                self.lex.delete(present - live_prev - live_new)
            add = live_new - present
            self._stale = live_prev - live_new
        else:
            sources = new.objects - prev_objects
            new_ids = self._rowids(sources)
            old_ids = self._rowids(prev_objects - new.objects)
            add = new_ids - old_ids
            self._stale = old_ids - new_ids
        self.added = self.lex.add(self._rows(sources, add)) if add else 0
        self.lex.commit()

    def after_commit(self) -> None:
        try:
            self.deleted = self.lex.delete(self._stale)
            self.lex.commit()
            if self.lex.deleted_share() > MAX_DELETED_SHARE:
                self.compact()
        finally:
            self.lex.close()

    def compact(self) -> None:
        """Rewrite every passage of the new generation in one commit: deleted passages stop counting."""
        assert self.new is not None
        self.lex.delete_all()
        for name in sorted(self.new.objects):
            self.lex.add(self.store.get(name).lexical_rows())
        self.lex.commit()
        self.compacted = True

    def abort(self) -> None:
        self.lex.close()


# ---------------------------------------------------------------- reading


@dataclass
class Snapshot:
    """One committed generation loaded in memory (passages, sections, docs) and its lexical view."""

    generation: str
    manifest: dict[str, Any]
    passages: list[Passage]
    sections: dict[str, SectionRecord]
    docs: dict[str, dict[str, Any]]
    index_of: dict[str, int]
    interrupted: bool
    rowids: np.ndarray | None = None  # lexical rowid of each passage
    lexical: LexicalView | None = None
    _df: dict[str, int] | None = None

    @property
    def corpus_version(self) -> str:
        return str(self.manifest.get("corpus_version", ""))

    def idf(self, term: str) -> float:
        """Inverse passage frequency; terms absent from the corpus weigh the most."""
        if self._df is None:
            df: dict[str, int] = {}
            for p in self.passages:
                for t in set(tokens(f"{p.section} {p.text}")):
                    df[t] = df.get(t, 0) + 1
            self._df = df
        n = len(self.passages)
        return float(np.log((n + 1) / (self._df.get(term, 0) + 0.5)))

    def doc_text(self, kind: str) -> str:
        """All passages of the documents of one kind (for reference checks)."""
        ids = {d for d, meta in self.docs.items() if meta.get("kind") == kind}
        return " ".join(p.text for p in self.passages if p.doc_id in ids)

    def lexical_top(self, query_tokens: list[str], n: int,
                    doc_ids: Iterable[str] | None = None) -> list[tuple[int, float]]:
        """The ``n`` best BM25 passages (index, score > 0), ties in passage order; ``doc_ids`` filters."""
        if self.lexical is None:
            raise IndexError_("index lexical non chargé : lancez « doctrine index »")
        return self.lexical.top(query_tokens, n, None if doc_ids is None else list(doc_ids))

    def lexical_scores(self, query_tokens: list[str], indexes: Sequence[int]) -> dict[int, float]:
        """BM25 scores of the passages at ``indexes`` (0 when a passage matches no query term)."""
        if self.lexical is None:
            raise IndexError_("index lexical non chargé : lancez « doctrine index »")
        assert self.rowids is not None
        found = self.lexical.scores(query_tokens, [int(self.rowids[i]) for i in indexes])
        return {i: found.get(int(self.rowids[i]), 0.0) for i in indexes}


def load_snapshot(index_dir: Path, generation: str, store: ObjectStore | None = None) -> Snapshot:
    """A committed generation, its objects read through ``store`` (a reader's store keeps the ones it
    already read). ``FileNotFoundError`` when the generation was pruned meanwhile (read CURRENT again)."""
    store = store or ObjectStore(index_dir)
    gen = read_generation(index_dir, generation)
    passages: list[Passage] = []
    rowids: list[int] = []
    sections: dict[str, SectionRecord] = {}
    for entry in gen.entries:
        obj = store.get(entry.object, with_tokens=False)
        passages.extend(obj.passages)
        rowids.extend(obj.rowids)
        sections.update((s.section_id, s) for s in obj.sections)
    store.keep_only(gen.objects)
    return Snapshot(
        generation=generation, manifest=gen.manifest, passages=passages, sections=sections,
        docs={e.doc_id: e.meta for e in gen.entries},
        index_of={p.chunk_id: i for i, p in enumerate(passages)},
        interrupted=(index_dir / "PENDING").exists(), rowids=np.asarray(rowids, dtype=np.int64),
    )


def attach_lexical(snap: Snapshot, index: Any) -> None:
    """Give ``snap`` a view of the lexical index as committed now (call after reading CURRENT)."""
    index.reload()
    assert snap.rowids is not None
    snap.lexical = LexicalView(index.searcher(), index.schema, {int(r): i for i, r in enumerate(snap.rowids)})
