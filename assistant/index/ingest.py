"""Corpus -> index orchestration shared by the CLI and the app: full (re)index, user-file ingest, removal.

Guards, each with a French message naming what failed: a knowledge folder that is missing or holds no
document is an error (it would empty the index); a run may not remove more than
``settings.max_delete_share`` of the indexed passages unless forced; a user's file may not expand
past ``max_file_chars`` characters or ``max_file_passages`` passages, an upload past
``max_upload_files`` files or ``max_upload_passages`` passages, and an upload stops (nothing
committed, nothing kept) past ``ingest_time_budget_s``. Uploads are staged and all-or-nothing, even
when the process is killed (``uploads``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from assistant.config import Settings
from assistant.index.chunking import chunk_document
from assistant.index.datadir import check_data_dir
from assistant.index.documents import (
    LoadError,
    LoadReport,
    Reuse,
    Skipped,
    SourceDocument,
    iter_knowledge_files,
    load_knowledge,
    read_bytes,
)
from assistant.index.errors import CorpusError
from assistant.index.loaders import iter_upload_files, load_user_file, user_doc_id
from assistant.index.snapshot import committed, writer_lock
from assistant.index.store import IndexStats, Progress, UnchangedFiles, build_index
from assistant.index.uploads import (
    Candidate,
    find_upload,
    recover_interrupted,
    recover_removals,
    set_aside,
    stage,
)
from assistant.text import fold


class IndexRun(NamedTuple):
    stats: IndexStats
    skipped: list[Skipped]
    warnings: list[Skipped] = []  # files indexed, with something the reader should know  # noqa: RUF012


class IngestResult(NamedTuple):
    added: list[str]  # stored names, in the uploads folder
    skipped: list[Skipped]
    stats: IndexStats | None
    warnings: list[Skipped] = []  # noqa: RUF012


class Removal(NamedTuple):
    removed: str
    stats: IndexStats


def _committed_docs(settings: Settings) -> dict[str, dict]:
    """The committed generation's documents (doc_id -> metadata); empty when there is none."""
    generation = committed(settings.index_dir)
    return {e.doc_id: e.meta for e in generation.entries} if generation is not None else {}


def committed_passages(settings: Settings) -> dict[str, int]:
    """Passages per document in the committed generation (empty when there is none)."""
    generation = committed(settings.index_dir)
    return {e.doc_id: e.passages for e in generation.entries} if generation is not None else {}


def load_official(settings: Settings, reuse: Reuse | None = None) -> LoadReport:
    """The knowledge base; a folder that does not exist or holds no valid document is an error.

    ``reuse`` gives the indexed document of a file that did not change (``store.UnchangedFiles``).
    """
    folder = settings.knowledge_dir
    if not folder.exists():
        raise CorpusError(
            f"dossier du corpus introuvable : « {folder} » (DOCTRINE_KNOWLEDGE_DIR) ; vérifiez le chemin. "
            "L'index n'a pas été modifié."
        )
    if not folder.is_dir():
        raise CorpusError(f"« {folder} » n'est pas un dossier (DOCTRINE_KNOWLEDGE_DIR). L'index n'a pas été modifié.")
    report = load_knowledge(folder, reuse)
    if not report.documents:
        raise CorpusError(
            f"aucun document valide dans le dossier du corpus « {folder} » ({len(report.skipped)} fichier(s) "
            "ignoré(s)) : vérifiez DOCTRINE_KNOWLEDGE_DIR. L'index n'a pas été modifié."
        )
    return report


def file_passages(doc: SourceDocument, settings: Settings) -> int:
    """Passages a user's document makes; over ``max_file_passages`` the file is refused (``LoadError``)."""
    count = len(chunk_document(doc, settings.passage_max_chars, settings.passage_max_sentences)[0])
    if count > settings.max_file_passages:
        raise LoadError(doc.path, f"document trop long : {count} passages (limite {settings.max_file_passages} par "
                        "fichier, DOCTRINE_MAX_FILE_PASSAGES) : fichier refusé")
    return count


def _load_uploads(settings: Settings, reuse: Reuse | None = None) -> tuple[list[SourceDocument], list[Skipped]]:
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    for path in iter_upload_files(settings.uploads_dir):
        known = reuse(path) if reuse else None
        if known is not None:  # unchanged since the committed generation indexed it within the limits
            docs.append(known)
            continue
        try:
            doc = load_user_file(path, max_bytes=settings.max_upload_mb * 1_000_000,
                                 max_chars=settings.max_file_chars, follow_links=False)
            file_passages(doc, settings)
            docs.append(doc)
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
    return docs, skipped


def load_all(settings: Settings, staged: Sequence[SourceDocument] = (), reuse: Reuse | None = None) -> LoadReport:
    """Knowledge base, users' files, and the documents of an upload being staged.

    Uploads killed before the end are recovered first (``uploads``), each of their files reported.
    Every unreadable user file is reported, none is fatal; a missing knowledge folder is.
    """
    knowledge = load_official(settings, reuse)
    committed_docs = _committed_docs(settings)
    recover_removals(settings, committed_docs)
    interrupted = recover_interrupted(settings, committed_docs)
    uploads, skipped_uploads = _load_uploads(settings, reuse)
    taken = {d.doc_id for d in knowledge.documents}
    docs = list(knowledge.documents)
    skipped = list(knowledge.skipped) + interrupted + skipped_uploads
    for doc in [*uploads, *staged]:
        if doc.doc_id in taken:
            skipped.append(Skipped(doc.path, f"identifiant « {doc.doc_id} » déjà utilisé"))
            continue
        taken.add(doc.doc_id)
        docs.append(doc)
    return LoadReport(docs, skipped)


def run_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    force: bool = False,
    staged: Sequence[SourceDocument] = (),
    removing: Sequence[str] = (),
    deadline: float | None = None,
) -> IndexRun:
    """Index the knowledge folder and the users' files (plus ``staged``), under the writer lock."""
    check_data_dir(settings.data_dir, write=True)
    with writer_lock(settings.index_dir):
        # Files whose size and dates did not change since the committed generation read them are
        # not read again (their indexed document is reused).
        files = [*iter_knowledge_files(settings.knowledge_dir), *iter_upload_files(settings.uploads_dir)] \
            if settings.knowledge_dir.is_dir() else []
        unchanged = UnchangedFiles(settings, files, enabled=not rebuild)
        report = load_all(settings, staged, unchanged)
        stats = build_index(settings, report.documents, rebuild=rebuild, progress=progress, force=force,
                            removing=removing, deadline=deadline, file_keys=unchanged.keys)
    warnings = [Skipped(d.path, note) for d in report.documents for note in d.warnings]
    return IndexRun(stats, report.skipped, warnings)


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


def _checked_files(
    settings: Settings, paths: Sequence[Path], names: Sequence[str] | None, allowed_dirs: Sequence[Path] | None,
    deadline: float,
) -> tuple[list[Candidate], list[Skipped]]:
    """Read and parse every file once, within the limits; the bytes checked are the bytes stored."""
    accepted: list[Candidate] = []
    skipped: list[Skipped] = []
    total_passages = 0
    max_bytes = settings.max_upload_mb * 1_000_000
    for n, path in enumerate(paths):
        display = names[n] if names and n < len(names) else path.name
        try:
            if n >= settings.max_upload_files:
                raise LoadError(display, f"dépôt limité à {settings.max_upload_files} fichiers "
                                "(DOCTRINE_MAX_UPLOAD_FILES) : fichier non traité, déposez-le à part")
            if time.monotonic() > deadline:
                raise LoadError(display, f"temps imparti au dépôt dépassé ({settings.ingest_time_budget_s:g} s, "
                                "DOCTRINE_INGEST_TIME_BUDGET_S) avant la lecture de ce fichier : déposez-le à part")
            _check_allowed(path, allowed_dirs)
            target_name = safe_upload_name(display)
            if Path(target_name).suffix.lower() != path.suffix.lower() and path.suffix:
                target_name = f"{Path(target_name).stem}{path.suffix.lower()}"
            if fold(target_name) in {fold(c.name) for c in accepted}:
                raise LoadError(display, "fichier en double dans ce dépôt")
            raw = read_bytes(path, max_bytes, follow_links=False)
            doc = load_user_file(path, raw=raw, max_bytes=max_bytes, max_chars=settings.max_file_chars,
                                 name=target_name)
            count = file_passages(doc, settings)
            if total_passages + count > settings.max_upload_passages:
                raise LoadError(display, f"dépôt trop volumineux : ce fichier porterait le dépôt à "
                                f"{total_passages + count} passages (limite {settings.max_upload_passages}, "
                                "DOCTRINE_MAX_UPLOAD_PASSAGES) : déposez-le à part")
            total_passages += count
            accepted.append(Candidate(display, target_name, raw, doc))
        except LoadError as exc:
            skipped.append(Skipped(display, exc.reason))
    return accepted, skipped


def ingest_files(
    settings: Settings,
    paths: Iterable[Path | str],
    *,
    allowed_dirs: Sequence[Path] | None = None,
    progress: Progress | None = None,
    names: Sequence[str] | None = None,
) -> IngestResult:
    """Check user files, stage the good ones, index them with the corpus, then move them in.

    All or nothing: if indexing fails, runs out of time or the process is killed, none of the files
    is kept and the committed index is untouched (a killed run is finished or undone, and reported,
    by the next one). Symbolic links are refused; so are files outside ``allowed_dirs`` (the app).
    """
    deadline = time.monotonic() + settings.ingest_time_budget_s
    check_data_dir(settings.data_dir, write=True)
    load_official(settings)  # a mistyped knowledge folder stops here, before anything is copied
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    accepted, skipped = _checked_files(settings, [Path(p) for p in paths], names, allowed_dirs, deadline)
    if not accepted:
        return IngestResult([], skipped, None, [])
    with writer_lock(settings.index_dir):
        known = {str(d.get("content_hash")): Path(str(d.get("path", ""))).name
                 for d in _committed_docs(settings).values() if d.get("origin") == "user"}
        batch, duplicates = stage(settings, accepted, known)
        skipped += duplicates
        if not batch.files:
            batch.discard()
            return IngestResult([], skipped, None, [])
        try:
            run = run_index(settings, progress=progress, staged=batch.documents, deadline=deadline)
        except BaseException:
            batch.discard()
            raise
        batch.finalize()
    added = [stored for _display, stored in batch.files]
    mine = {str(settings.uploads_dir / name) for name in added}
    late = [s for s in run.skipped if s.path in mine]
    warnings = [Skipped(Path(w.path).name, w.reason) for w in run.warnings if w.path in mine]
    return IngestResult([a for a in added if str(settings.uploads_dir / a) not in {s.path for s in late}],
                        skipped + late, run.stats, warnings)


def remove_upload(settings: Settings, name: str) -> Removal:
    """Remove one user's file (stored name, document id or given name) and re-index without it.

    Raises ``uploads.UploadNotFound`` when no single file answers to ``name``. If re-indexing fails
    the file is put back.
    """
    check_data_dir(settings.data_dir, write=True)
    with writer_lock(settings.index_dir):
        path = find_upload(settings, name)
        with set_aside(settings, path):
            run = run_index(settings, removing=[user_doc_id(path)])
    return Removal(path.name, run.stats)
