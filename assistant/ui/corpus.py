"""« Sources » tab: browse, search and read the indexed corpus; add user files (ingest + re-index)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.answer.question import QuestionError, check_question
from assistant.answer.types import Filters
from assistant.config import Settings
from assistant.index.documents import doc_in_force
from assistant.index.errors import IndexError_
from assistant.index.loaders import SUPPORTED_SUFFIXES, user_doc_id
from assistant.pipeline import get_pipeline
from assistant.text import fold
from assistant.ui import render

log = logging.getLogger(__name__)

SEARCH_RESULTS = 8

# One ingest at a time per process (the index writer lock also serialises across processes).
_ingest_lock = threading.Lock()


def parse_day(value: str | None) -> date | None:
    """A date typed by the user (AAAA-MM-JJ or JJ/MM/AAAA); empty means no filter."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if "/" in value:
            day, month, year = (int(x) for x in value.split("/"))
            return date(year, month, day)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise gr.Error(render.text("sources.bad_date", value=value)) from exc


class CorpusService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _snapshot(self):  # noqa: ANN202
        try:
            return get_pipeline(self.settings).reader.snapshot()
        except IndexError_ as exc:
            raise gr.Error(f"{render.text('index_missing')} : {exc}", title=render.text("app.index_unavailable")) from exc

    # -- listing

    def list_docs(
        self, text: str | None, kinds: Sequence[str] | None, in_force_on: str | None,
    ) -> tuple[list[list[Any]], Any, list[str], str]:
        """Documents matching the filters: table rows, reader choices, row -> doc id, summary line."""
        snap = self._snapshot()
        day = parse_day(in_force_on)
        today = date.today()
        counts: dict[str, int] = {}
        for p in snap.passages:
            counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
        words = fold(text or "").split()
        docs = []
        for doc_id, meta in snap.docs.items():
            if kinds and meta.get("kind") not in kinds:
                continue
            if day and not doc_in_force(meta, day):
                continue
            haystack = fold(f"{meta.get('title', '')} {doc_id} {meta.get('reference') or ''}")
            if words and not all(w in haystack for w in words):
                continue
            docs.append(meta)
        docs.sort(key=lambda m: (m.get("kind") != "circulaire", -(int(str(m.get("date") or "0")[:4] or 0)),
                                 fold(str(m.get("title", "")))))
        # Status on the day asked (else today): « en vigueur », « projet de loi », « abrogé »…
        rows = [[
            m.get("title", ""), render.kind_label(m.get("kind")), render.french_date(m.get("date")),
            render.document_status(m, day or today), counts.get(m["doc_id"], 0),
            render.origin_label(m.get("origin")),
        ] for m in docs]
        ids = [m["doc_id"] for m in docs]
        choices = [(m.get("title", m["doc_id"]), m["doc_id"]) for m in docs]
        summary = render.text("sources.summary", shown=len(docs), total=len(snap.docs), passages=len(snap.passages),
                              generation=snap.generation)
        return rows, gr.update(choices=choices, value=None), ids, render.notice_html(summary)

    def select_row(self, ids: list[str], event: gr.SelectData) -> tuple[Any, str]:
        row = event.index[0] if isinstance(event.index, (list, tuple)) else event.index
        if not isinstance(row, int) or not 0 <= row < len(ids):
            return gr.update(), self.read(None)
        return gr.update(value=ids[row]), self.read(ids[row])

    def read(self, doc_id: str | None) -> str:
        if not doc_id:
            return f'<div class="sources-empty">{render.esc(render.text("reader_empty"))}</div>'
        snap = self._snapshot()
        meta = snap.docs.get(doc_id)
        if meta is None:
            return render.notice_html(render.text("sources.unknown_document", doc_id=doc_id), "warning")
        sections = sorted(
            (s._asdict() for s in snap.sections.values() if s.doc_id == doc_id),
            key=lambda s: _section_position(s["section_id"]),
        )
        return render.document_html(meta, sections)

    def search(self, text: str | None, kinds: Sequence[str] | None, in_force_on: str | None) -> str:
        """Passage search with the same filters as the list (hybrid retrieval)."""
        if not (text or "").strip():
            return ""
        try:
            query = check_question(text, self.settings.max_question_chars)
        except QuestionError as exc:
            raise gr.Error(str(exc)) from exc
        filters = Filters(kinds=tuple(kinds or ()), in_force_on=parse_day(in_force_on))
        try:
            hits = get_pipeline(self.settings).searcher.search(query, SEARCH_RESULTS, filters=filters)
        except IndexError_ as exc:
            raise gr.Error(f"{render.text('index_missing')} : {exc}") from exc
        return render.search_results_html(hits)

    # -- upload

    def upload(self, files: Sequence[str] | None, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """Validate, copy and index the files; report each one. A failure leaves the index as it was."""
        from assistant.index.ingest import ingest_files

        paths = [Path(str(f)) for f in files or []]
        if not paths:
            raise gr.Error(render.text("sources.no_file"))
        names = [p.name for p in paths]
        progress(0, desc=render.text("sources.checking_files"))

        def on_progress(stage: str, done: int, total: int) -> None:
            label = render.text("sources.embedding") if stage == "embed" else stage
            progress((done, max(total, 1)), desc=label, unit="passages")

        with _ingest_lock:
            try:
                result = ingest_files(
                    self.settings, paths, allowed_dirs=[Path(gr.utils.get_upload_folder())],
                    progress=on_progress, names=names,
                )
            except Exception as exc:  # noqa: BLE001 - copies are removed by ingest_files; index unchanged
                log.exception("ingest failed")
                rows = [(n, "error", render.text("sources.ingest_interrupted")) for n in names]
                return render.ingest_report_html(rows, render.text("sources.ingest_failed", error=type(exc).__name__))
        rows: list[tuple[str, str, str]] = []
        counts: dict[str, int] = {}
        if result.added and result.stats:
            snap = fresh_snapshot(self.settings, result.stats.generation)
            for p in snap.passages:
                counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
        for name in result.added:
            doc_id = user_doc_id(self.settings.uploads_dir / name)
            rows.append((name, "ok", render.text("sources.file_indexed", passages=counts.get(doc_id, 0), doc_id=doc_id)))
        for skipped in result.skipped:
            rows.append((Path(str(skipped.path)).name, "skipped", skipped.reason))
        if result.stats:
            summary = render.text(
                "sources.ingest_summary", added=len(result.added), skipped=len(result.skipped),
                generation=result.stats.generation, passages=result.stats.passages, new=result.stats.added,
            )
        else:
            summary = render.text("sources.ingest_nothing")
        return render.ingest_report_html(rows, summary)


def fresh_snapshot(settings: Settings, generation: str, timeout_s: float = 3.0):  # noqa: ANN201
    """The reader's snapshot once it serves ``generation`` (it re-checks the index every 0.5 s)."""
    reader = get_pipeline(settings).reader
    deadline = time.monotonic() + timeout_s
    snap = reader.snapshot()
    while snap.generation != generation and time.monotonic() < deadline:
        time.sleep(0.1)
        snap = reader.snapshot()
    return snap


def _section_position(section_id: str) -> int:
    try:
        return int(section_id.rsplit("#s", 1)[1])
    except (IndexError, ValueError):
        return 0


UPLOAD_TYPES = list(SUPPORTED_SUFFIXES)
