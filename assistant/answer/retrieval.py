"""Hybrid retrieval: dense (Chroma + USE) and lexical (bm25s) candidates, fused.

Default fusion is 0.8 x min-max(dense cosine) + 0.2 x BM25/max, measured best on French
paraphrases here; ``dense``, ``bm25`` and reciprocal-rank fusion (``rrf``) stay available.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from typing import Any, NamedTuple

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.config import RetrievalMode, Settings
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import DenseUnavailable
from assistant.index.snapshot import Snapshot
from assistant.index.store import IndexReader
from assistant.text import tokens

log = logging.getLogger(__name__)

# Dense score of hits found while Chroma was unavailable: "unknown", not "dissimilar".
DEGRADED = -1.0
GATE_FUSION_WEIGHT = 0.8


class Filters(NamedTuple):
    kinds: tuple[str, ...] = ()
    in_force_on: date | None = None
    doc_ids: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.kinds or self.in_force_on or self.doc_ids)


class Hit(NamedTuple):
    chunk_id: str
    doc_id: str
    title: str
    section: str
    section_id: str
    text: str
    score: float
    dense: float
    bm25: float
    source_url: str
    kind: str
    date: str | None
    confidence: str

    def to_json(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id, "chunk_id": self.chunk_id, "title": self.title, "section": self.section,
            "text": self.text, "score": round(self.score, 4), "source_url": self.source_url,
        }


def _doc_in_force(meta: dict[str, Any], on: date) -> bool:
    if meta.get("status", "en_vigueur") != "en_vigueur":
        return False
    start = meta.get("valid_from") or meta.get("date")
    end = meta.get("valid_to")
    if start and date.fromisoformat(start) > on:
        return False
    return not (end and date.fromisoformat(end) <= on)


def _allowed(meta: dict[str, Any], filters: Filters) -> bool:
    if filters.kinds and meta.get("kind") not in filters.kinds:
        return False
    if filters.doc_ids and meta.get("doc_id") not in filters.doc_ids:
        return False
    return not (filters.in_force_on and not _doc_in_force(meta, filters.in_force_on))


def exact_cosines(vectors: dict[str, np.ndarray], query: np.ndarray) -> dict[str, float]:
    """Cosines computed here in float64 (inputs are unit float32 vectors, so products are exact),
    rounded to 1e-9: Chroma's own distances come from CPU-specific SIMD code and differ in the
    7th decimal between machines."""
    if not vectors:
        return {}
    ids = list(vectors)
    matrix = np.vstack([vectors[c] for c in ids]).astype(np.float64)
    scores = np.round(matrix @ np.asarray(query, dtype=np.float64), 9)
    return {c: float(x) for c, x in zip(ids, scores, strict=True)}


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


class Searcher:
    """Stateless search over the committed index; safe to share between threads."""

    def __init__(self, settings: Settings, reader: IndexReader | None = None) -> None:
        self.settings = settings
        self.reader = reader or IndexReader(settings)
        self.embeddings = get_embeddings(settings.embedding)

    def search(
        self,
        query: str,
        k: int | None = None,
        *,
        mode: RetrievalMode | None = None,
        filters: Filters = Filters(),
        dense_weight: float | None = None,
        query_vector: np.ndarray | None = None,
        signals: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """Top-k passages. ``signals`` (optional) receives ``max_dense``, the best cosine over all
        dense candidates, which the evidence gate uses whatever the fusion weight."""
        k = k or self.settings.k
        mode = mode or self.settings.retrieval_mode
        weight = self.settings.dense_weight if dense_weight is None else dense_weight
        snap = self.reader.snapshot()
        if not snap.passages or not query.strip():
            return []
        n = max(self.settings.candidates, k * 4)
        allowed = self._allowed_mask(snap, filters)

        bm25_all = snap.bm25_scores(tokens(query)) if mode != "dense" else np.zeros(len(snap.passages))
        # Stable sorts everywhere: numpy's default quicksort orders ties differently on AVX-512 and
        # AVX2 machines, which made BM25 rankings (and the evaluation) differ between machines.
        bm25_order = np.argsort(-bm25_all, kind="stable")[: n * (4 if filters.active else 1)]
        bm25_ranked = [int(i) for i in bm25_order if bm25_all[i] > 0 and allowed[i]][:n]

        dense: dict[int, float] = {}
        if mode != "bm25":
            qv = query_vector if query_vector is not None else self.embeddings.encode([query])[0]
            try:
                found = [
                    snap.index_of[cid]
                    for cid, _ in self.reader.dense_query(qv, n * (4 if filters.active else 1) + 8)
                ]
                found = [i for i in found if allowed[i]]
                pool = list(dict.fromkeys(found + bm25_ranked))
                exact = exact_cosines(self.reader.embeddings_for([snap.passages[i].chunk_id for i in pool]), qv)
                score = {i: exact[snap.passages[i].chunk_id] for i in pool if snap.passages[i].chunk_id in exact}
                top = sorted((i for i in found if i in score), key=lambda i: (-score[i], i))[:n]
                dense = {i: score[i] for i in top} | {i: score[i] for i in bm25_ranked if i in score}
            except DenseUnavailable:
                log.warning("dense search unavailable, answering from BM25 only", exc_info=True)
                mode, dense = "bm25", {i: DEGRADED for i in bm25_ranked}

        if signals is not None and mode != "bm25":
            signals["max_dense"] = max(dense.values(), default=0.0)
        candidates = sorted(set(dense) | set(bm25_ranked))  # passage order: ties break the same everywhere
        if not candidates:
            return []
        idx = np.array(candidates)
        dense_v = np.array([dense.get(i, 0.0) for i in candidates], dtype=np.float32)
        bm25_v = bm25_all[idx].astype(np.float32)
        if mode == "dense":
            scores = dense_v
        elif mode == "bm25":
            scores = bm25_v / bm25_v.max() if bm25_v.max() > 0 else bm25_v
        elif mode == "rrf":
            rank_d = {i: r for r, i in enumerate(sorted(candidates, key=lambda j: (-dense.get(j, -1.0), j)))}
            rank_b = {i: r for r, i in enumerate(sorted(candidates, key=lambda j: (-bm25_all[j], j)))}
            k0 = self.settings.rrf_k
            scores = np.array(
                [2.0 / (k0 + rank_d[i]) + (1.0 / (k0 + rank_b[i]) if bm25_all[i] > 0 else 0.0) for i in candidates]
            )
            scores = scores / scores.max()
        else:
            bm25_norm = bm25_v / bm25_v.max() if bm25_v.max() > 0 else bm25_v
            scores = weight * _minmax(dense_v) + (1.0 - weight) * bm25_norm
        if signals is not None and mode != "bm25":
            # The evidence gate is calibrated on one reference fusion, whatever ranking answers use.
            bm25_norm = bm25_v / bm25_v.max() if bm25_v.max() > 0 else bm25_v
            ref = GATE_FUSION_WEIGHT * _minmax(dense_v) + (1.0 - GATE_FUSION_WEIGHT) * bm25_norm
            signals["gate_hits"] = [  # type: ignore[assignment]
                self._hit(snap, int(idx[o]), float(ref[o]), float(dense_v[o]), float(bm25_v[o]))
                for o in np.argsort(-ref, kind="stable")[:6]
            ]
        order = np.argsort(-scores, kind="stable")[:k]
        return [self._hit(snap, int(idx[o]), float(scores[o]), float(dense_v[o]), float(bm25_v[o])) for o in order]

    def _allowed_mask(self, snap: Snapshot, filters: Filters) -> np.ndarray:
        if not filters.active:
            return np.ones(len(snap.passages), dtype=bool)
        ok_docs = {doc_id for doc_id, meta in snap.docs.items() if _allowed(meta, filters)}
        return np.array([p.doc_id in ok_docs for p in snap.passages], dtype=bool)

    @staticmethod
    def _hit(snap: Snapshot, i: int, score: float, dense: float, bm25: float) -> Hit:
        p = snap.passages[i]
        meta = snap.docs.get(p.doc_id, {})
        return Hit(
            chunk_id=p.chunk_id, doc_id=p.doc_id, title=str(meta.get("title", p.doc_id)), section=p.section,
            section_id=p.section_id, text=p.text, score=score, dense=dense, bm25=bm25,
            source_url=str(meta.get("source_url") or ""), kind=str(meta.get("kind", "")),
            date=meta.get("date"), confidence=str(meta.get("confidence", "")),
        )


def hits_to_documents(hits: Iterable[Hit]) -> list[Document]:
    return [Document(page_content=h.text, metadata=h._asdict() | {"text": None}) for h in hits]


class HybridRetriever(BaseRetriever):
    """LangChain view of ``Searcher`` so the pipeline composes with LCEL."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    searcher: Searcher
    k: int = 5
    mode: RetrievalMode | None = None
    filters: Filters = Filters()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return hits_to_documents(self.searcher.search(query, self.k, mode=self.mode, filters=self.filters))
