"""Index generations on disk: one immutable, complete snapshot per generation, and the pointer to it.

Layout under ``<data_dir>/index``::

    snapshots/gNNNNNN/      one generation: manifest.json, passages.jsonl, sections.jsonl, docs.json, bm25/
    CURRENT                 name of the committed generation (replaced atomically)
    PENDING                 present while an indexing run is in progress (or was interrupted)
    lock                    the writer lock (one writer at a time per index folder)

``store`` writes generations and commits them; readers load the committed one (``load_snapshot``);
``shared`` copies them between machines in server mode.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from assistant.config import Settings
from assistant.fileio import atomic_write_text, fsync_dir, fsync_file
from assistant.index.chunking import CHUNKING_VERSION, Passage, SectionRecord, lexical_text
from assistant.index.documents import SourceDocument
from assistant.index.errors import IndexError_
from assistant.text import tokens

SNAPSHOT_FILES = ("manifest.json", "passages.jsonl", "sections.jsonl", "docs.json")


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


def committed_ids(index_dir: Path) -> set[str] | None:
    """Passage ids of the committed generation; None when there is none (or it cannot be read)."""
    gen = current_generation(index_dir)
    if not gen:
        return None
    try:
        with (index_dir / "snapshots" / gen / "passages.jsonl").open(encoding="utf-8") as fh:
            return {json.loads(line)["chunk_id"] for line in fh if line.strip()}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    gen = current_generation(index_dir)
    if not gen:
        return None
    try:
        return json.loads((index_dir / "snapshots" / gen / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def prune_snapshots(index_dir: Path, keep: set[str]) -> None:
    for path in (index_dir / "snapshots").iterdir():
        if path.name not in keep:
            shutil.rmtree(path, ignore_errors=True)


def install_generation(index_dir: Path, tmp_dir: Path, generation: str) -> Path:
    """Move a completely written ``tmp_dir`` to its generation folder (not yet committed)."""
    target = index_dir / "snapshots" / generation
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp_dir, target)
    fsync_dir(target.parent)
    return target


# ---------------------------------------------------------------- writing


def corpus_version(passages: Sequence[Passage]) -> str:
    h = hashlib.sha256()
    for chunk_id in sorted(p.chunk_id for p in passages):
        h.update(chunk_id.encode())
    return h.hexdigest()[:12]


def build_bm25(texts: Sequence[str]) -> bm25s.BM25:
    model = bm25s.BM25()
    model.index([tokens(t) for t in texts] or [[""]], show_progress=False)
    return model


def save_bm25(directory: Path, passages: Sequence[Passage], titles: dict[str, str]) -> None:
    """The lexical index of ``passages`` (title and heading path included, see ``lexical_text``)."""
    model = build_bm25([lexical_text(p, titles.get(p.doc_id, "")) for p in passages])
    model.save(str(directory / "bm25"), show_progress=False)


def _write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, ensure_ascii=False))


def _write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


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
    save_bm25(directory, passages, titles)
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
            fsync_file(path)


# ---------------------------------------------------------------- reading


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
