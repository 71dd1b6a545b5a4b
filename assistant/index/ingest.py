"""Corpus -> index orchestration shared by the CLI and the app: full (re)index and user-file ingest."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from assistant.config import Settings
from assistant.fileio import atomic_copy
from assistant.index.documents import (
    LoadError,
    LoadReport,
    Reuse,
    Skipped,
    iter_knowledge_files,
    load_knowledge,
)
from assistant.index.loaders import iter_upload_files, load_user_file, load_user_files
from assistant.index.store import IndexStats, Progress, UnchangedFiles, build_index
from assistant.text import fold


class IndexRun(NamedTuple):
    stats: IndexStats
    skipped: list[Skipped]


class IngestResult(NamedTuple):
    added: list[str]
    skipped: list[Skipped]
    stats: IndexStats | None


def load_all(settings: Settings, reuse: Reuse | None = None) -> LoadReport:
    """Knowledge base plus users' uploaded files; every unreadable file is reported, none is fatal.

    ``reuse`` gives the indexed document of a file that did not change (``store.UnchangedFiles``).
    """
    knowledge = load_knowledge(settings.knowledge_dir, reuse)
    uploads = load_user_files(iter_upload_files(settings.uploads_dir), max_bytes=settings.max_upload_mb * 1_000_000,
                              reuse=reuse)
    taken = {d.doc_id for d in knowledge.documents}
    docs = list(knowledge.documents)
    skipped = list(knowledge.skipped) + list(uploads.skipped)
    for doc in uploads.documents:
        if doc.doc_id in taken:
            skipped.append(Skipped(doc.path, f"identifiant « {doc.doc_id} » déjà utilisé"))
            continue
        taken.add(doc.doc_id)
        docs.append(doc)
    return LoadReport(docs, skipped)


def run_index(settings: Settings, *, rebuild: bool = False, progress: Progress | None = None) -> IndexRun:
    """Index the corpus; files unchanged since the committed generation are not read again."""
    files = [*iter_knowledge_files(settings.knowledge_dir), *iter_upload_files(settings.uploads_dir)]
    unchanged = UnchangedFiles(settings, files, enabled=not rebuild)
    report = load_all(settings, unchanged)
    stats = build_index(settings, report.documents, rebuild=rebuild, progress=progress, file_keys=unchanged.keys)
    return IndexRun(stats, report.skipped)


def safe_upload_name(name: str) -> str:
    """A file name that cannot escape the uploads folder (no directory part, no dot-dot, no control)."""
    base = Path(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip().lstrip(".")
    if not base or base in {".", ".."}:
        raise LoadError(name, "nom de fichier invalide")
    stem, dot, suffix = base.rpartition(".")
    stem = re.sub(r"[^\w\- .()]+", "_", stem if dot else base)[:120]
    return f"{stem}.{suffix.lower()}" if dot else stem


def _check_allowed(path: Path, allowed_dirs: Sequence[Path] | None) -> None:
    if allowed_dirs is None:
        return
    resolved = path.resolve()
    if not any(resolved.is_relative_to(Path(d).resolve()) for d in allowed_dirs):
        raise LoadError(path, "chemin hors des dossiers autorisés")


def ingest_files(
    settings: Settings,
    paths: Iterable[Path | str],
    *,
    allowed_dirs: Sequence[Path] | None = None,
    progress: Progress | None = None,
    names: Sequence[str] | None = None,
) -> IngestResult:
    """Validate user files, copy the readable ones to the uploads folder, re-index incrementally.

    Files are parsed before being copied, so a corrupt file never enters the corpus; if indexing
    fails the copies are removed again and the committed index is untouched.
    """
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    added: list[Path] = []
    skipped: list[Skipped] = []
    max_bytes = settings.max_upload_mb * 1_000_000
    for n, raw in enumerate(paths):
        path = Path(raw)
        display = names[n] if names and n < len(names) else path.name
        try:
            _check_allowed(path, allowed_dirs)
            target_name = safe_upload_name(display)
            if Path(target_name).suffix.lower() != path.suffix.lower() and path.suffix:
                target_name = f"{Path(target_name).stem}{path.suffix.lower()}"
            load_user_file(path, max_bytes=max_bytes)
            target = settings.uploads_dir / target_name
            if fold(target_name) in {fold(p.name) for p in added}:
                raise LoadError(display, "fichier en double dans ce dépôt")
            atomic_copy(path, target)
            added.append(target)
        except LoadError as exc:
            skipped.append(Skipped(display, exc.reason))
        except OSError as exc:
            skipped.append(Skipped(display, f"copie impossible ({exc.strerror or exc})"))
    if not added:
        return IngestResult([], skipped, None)
    try:
        run = run_index(settings, progress=progress)
    except BaseException:
        for target in added:
            target.unlink(missing_ok=True)
        raise
    late = [s for s in run.skipped if Path(s.path).parent == settings.uploads_dir]
    return IngestResult([p.name for p in added], skipped + late, run.stats)
