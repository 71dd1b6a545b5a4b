"""The folder of users' files: unique names, staged uploads, recovery of killed ones, listing, removal.

Layout under ``<data_dir>/uploads``::

    note.md, note~3fa2c1d9e0.md     files added by users (a name already taken gets a content hash)
    .staging/<batch>/               an upload in progress: journal.json, lock, and the files
    .lock                           taken while names are chosen and while staged uploads are recovered

An upload is all or nothing. Its files are checked, then written to a staging folder together with a
journal naming every file of the upload; the index is built with them and committed; only then are
they moved into the folder. A run killed at any point leaves a staging folder whose lock nobody holds:
the next indexing run keeps its files if their generation was committed, removes them otherwise, and
reports each file of the journal by name, so a file is never half-added nor silently added later.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, NamedTuple

from assistant.config import Settings
from assistant.fileio import atomic_write_bytes, atomic_write_text, fsync_dir
from assistant.index.documents import Skipped, SourceDocument
from assistant.index.loaders import display_name, iter_upload_files, user_doc_id

STAGING = ".staging"
REMOVED = ".removed"
JOURNAL = "journal.json"
INTERRUPTED = ("dépôt interrompu avant la fin de l'indexation (arrêt brutal) : fichier non ajouté, "
               "déposez-le à nouveau")


class Candidate(NamedTuple):
    """A checked file of an upload: the name the user gave, the safe name, its bytes and document."""

    display: str
    name: str
    raw: bytes
    document: SourceDocument


@contextmanager
def _flock(path: Path, *, blocking: bool = True) -> Iterator[IO[str] | None]:
    """An exclusive lock on ``path`` (created); yields None when ``blocking`` is False and it is held."""
    with path.open("a+", encoding="utf-8") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        try:
            yield fh
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _names_lock(settings: Settings):  # noqa: ANN202 - context manager
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    return _flock(settings.uploads_dir / ".lock")


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _with_hash(name: str, digest: str) -> str:
    stem, dot, suffix = name.rpartition(".")
    return f"{stem}~{digest[:10]}.{suffix}" if dot else f"{name}~{digest[:10]}"


@dataclass
class Batch:
    """One upload being staged, indexed, then moved into the uploads folder."""

    settings: Settings
    folder: Path
    files: list[tuple[str, str]] = field(default_factory=list)  # (display name, stored name)
    documents: list[SourceDocument] = field(default_factory=list)
    _lock: IO[str] | None = None

    def finalize(self) -> None:
        """Move the staged files into the uploads folder (the index holding them is committed)."""
        for _display, stored in self.files:
            _move_in(self.folder / stored, self.settings.uploads_dir / stored)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _move_in(staged: Path, target: Path) -> None:
    """Move a staged file in, never over another file (a name is never reused for other content)."""
    if not staged.exists():
        return
    try:
        os.link(staged, target)
    except FileExistsError:
        if target.read_bytes() != staged.read_bytes():  # pragma: no cover - names are reserved
            raise
    staged.unlink()
    fsync_dir(target.parent)


def _reserved(settings: Settings) -> set[str]:
    """Document identifiers taken by the folder's files and by the uploads being staged."""
    taken = {user_doc_id(p) for p in iter_upload_files(settings.uploads_dir)}
    staging = settings.uploads_dir / STAGING
    if staging.is_dir():
        for journal in staging.glob(f"*/{JOURNAL}"):
            try:
                files = json.loads(journal.read_text(encoding="utf-8"))["files"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            taken |= {user_doc_id(Path(f["stored"])) for f in files}
    return taken


def stage(settings: Settings, candidates: Sequence[Candidate], known_hashes: dict[str, str]) -> tuple[Batch, list[Skipped]]:
    """Choose each file's stored name, write the journal (every file), then copy the files.

    ``known_hashes`` maps the content hash of files already indexed to their stored name: the same
    content is not added twice. A name already taken gets a hash of the content, so an upload never
    replaces another one.
    """
    skipped: list[Skipped] = []
    staging = settings.uploads_dir / STAGING
    batch = Batch(settings, staging / uuid.uuid4().hex)
    with _names_lock(settings):
        taken = _reserved(settings)
        for cand in candidates:
            digest = content_hash(cand.raw)
            if digest[:16] in known_hashes:
                skipped.append(Skipped(cand.display, f"déjà ajouté (même contenu que « {known_hashes[digest[:16]]} »)"))
                continue
            stored = cand.name
            if user_doc_id(Path(stored)) in taken:
                stored = _with_hash(cand.name, digest)
                if user_doc_id(Path(stored)) in taken:
                    skipped.append(Skipped(cand.display, f"déjà ajouté (même nom et même contenu : « {stored} »)"))
                    continue
            taken.add(user_doc_id(Path(stored)))
            known_hashes[digest[:16]] = stored
            doc_path = settings.uploads_dir / stored
            batch.files.append((cand.display, stored))
            batch.documents.append(replace(cand.document, doc_id=user_doc_id(doc_path), path=str(doc_path)))
        if not batch.files:
            return batch, skipped
        batch.folder.mkdir(parents=True)
        lock = (batch.folder / "lock").open("a+", encoding="utf-8")
        fcntl.flock(lock, fcntl.LOCK_EX)
        batch._lock = lock
        atomic_write_text(batch.folder / JOURNAL, json.dumps(
            {"pid": os.getpid(), "files": [{"name": d, "stored": s} for d, s in batch.files]}, ensure_ascii=False))
    raws = {cand.display: cand.raw for cand in candidates}
    for display, stored in batch.files:
        write_staged(batch.folder / stored, raws[display])
    return batch, skipped


def write_staged(path: Path, raw: bytes) -> None:
    """Write one staged file (a seam for the tests that kill an upload while it copies)."""
    atomic_write_bytes(path, raw)


def recover_interrupted(settings: Settings, committed: dict[str, dict]) -> list[Skipped]:
    """Finish or undo the uploads whose process died; report every file not added, by name.

    ``committed`` is the committed generation's documents: a staged file whose document is in it
    (same content) was committed before the kill and is moved in; any other is removed.
    """
    staging = settings.uploads_dir / STAGING
    if not staging.is_dir():
        return []
    report: list[Skipped] = []
    with _names_lock(settings):
        for folder in sorted(p for p in staging.iterdir() if p.is_dir()):
            with _flock(folder / "lock", blocking=False) as held:
                if held is None:
                    continue  # a live upload
                try:
                    files = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))["files"]
                except (OSError, ValueError, KeyError, TypeError):
                    files = [{"name": p.name, "stored": p.name} for p in folder.iterdir()
                             if p.is_file() and p.name not in ("lock", JOURNAL) and not p.name.startswith(".")]
                for entry in files:
                    stored = str(entry.get("stored", ""))
                    staged = folder / stored
                    meta = committed.get(user_doc_id(settings.uploads_dir / stored))
                    if (stored and staged.is_file() and meta
                            and meta.get("content_hash") == content_hash(staged.read_bytes())[:16]):
                        _move_in(staged, settings.uploads_dir / stored)
                    else:
                        report.append(Skipped(str(entry.get("name") or stored), INTERRUPTED))
            shutil.rmtree(folder, ignore_errors=True)
    return report


def recover_removals(settings: Settings, committed: dict[str, dict]) -> None:
    """Files set aside by a removal that was killed: back in if still indexed, deleted otherwise."""
    removed = settings.uploads_dir / REMOVED
    if not removed.is_dir():
        return
    for folder in [p for p in removed.iterdir() if p.is_dir()]:
        with _flock(folder / "lock", blocking=False) as held:
            if held is None:
                continue  # a removal in progress
            for path in folder.iterdir():
                target = settings.uploads_dir / path.name
                if path.name != "lock" and user_doc_id(target) in committed and not target.exists():
                    os.replace(path, target)
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- administration


class Upload(NamedTuple):
    stored: str
    name: str
    doc_id: str
    size: int
    modified: float
    passages: int | None  # None: not in the committed index

    def to_json(self) -> dict[str, object]:
        return {"stored": self.stored, "name": self.name, "doc_id": self.doc_id, "size": self.size,
                "modified": self.modified, "indexed": self.passages is not None, "passages": self.passages}


def list_uploads(settings: Settings, passages_by_doc: dict[str, int]) -> list[Upload]:
    """The files of the uploads folder; ``passages_by_doc`` counts the committed passages per document."""
    rows: list[Upload] = []
    for path in iter_upload_files(settings.uploads_dir):
        info = path.stat()
        doc_id = user_doc_id(path)
        rows.append(Upload(path.name, display_name(path.name), doc_id, info.st_size, info.st_mtime,
                           passages_by_doc.get(doc_id)))
    return rows


class UploadNotFound(LookupError):
    """No upload, or more than one, answers to a name; the message lists what exists."""


def find_upload(settings: Settings, name: str) -> Path:
    """The stored file a name designates: its stored name, its document id, or the name the user gave."""
    files = list(iter_upload_files(settings.uploads_dir))
    exact = [p for p in files if name in (p.name, user_doc_id(p))]
    matches = exact or [p for p in files if display_name(p.name) == name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        known = ", ".join(p.name for p in files[:20]) or "aucun"
        raise UploadNotFound(f"aucun fichier ajouté ne s'appelle « {name} » (fichiers : {known})")
    raise UploadNotFound(f"plusieurs fichiers s'appellent « {name} » : "
                         f"{', '.join(p.name for p in matches)} ; indiquez le nom stocké")


@contextmanager
def set_aside(settings: Settings, path: Path) -> Iterator[None]:
    """Take a file out of the uploads folder; put it back if the block fails, delete it otherwise.

    A run killed meanwhile leaves it in ``.removed/``: the next run puts it back if the committed
    index still holds it (the removal was not committed), and deletes it otherwise.
    """
    aside = settings.uploads_dir / REMOVED / uuid.uuid4().hex
    aside.mkdir(parents=True)
    with _flock(aside / "lock"):
        os.replace(path, aside / path.name)
        try:
            yield
        except BaseException:
            os.replace(aside / path.name, path)
            shutil.rmtree(aside, ignore_errors=True)
            raise
        shutil.rmtree(aside, ignore_errors=True)
