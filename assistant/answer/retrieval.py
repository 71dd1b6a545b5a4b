"""Retrieval: dense (Chroma + USE) and lexical (BM25, tantivy) candidates, fused (``fusion.FUSIONS``).

``Searcher.retrieve`` returns a ``Retrieval`` value: the ranked hits and the signals the evidence
gate reads (the best passages of the gate's reference fusion, the best cosine). Results are the
same on every machine: cosines are recomputed here in float64, sorts are stable and ties break by
corpus order (tests/test_determinism.py).

In ``bm25`` mode the ranking uses BM25 alone, but the returned hits still carry the exact cosine
of their passage: the gate needs a similarity to judge, whatever ranks the passages.
"""

from __future__ import annotations

import logging

import numpy as np

from assistant.answer import fusion
from assistant.answer.types import DEGRADED, Filters, Hit, Retrieval
from assistant.config import RetrievalMode, Settings
from assistant.index.documents import doc_in_force
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import DenseUnavailable
from assistant.index.snapshot import Snapshot
from assistant.index.store import IndexReader
from assistant.text import tokens

log = logging.getLogger(__name__)

GATE_HITS = 6  # passages of the reference fusion the gate judges


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


def _allowed(meta: dict, filters: Filters) -> bool:
    if filters.kinds and meta.get("kind") not in filters.kinds:
        return False
    if filters.doc_ids and meta.get("doc_id") not in filters.doc_ids:
        return False
    if filters.official_only and meta.get("origin", "knowledge") != "knowledge":
        return False
    return not (filters.in_force_on and not doc_in_force(meta, filters.in_force_on))


def passage_hit(snap: Snapshot, i: int, score: float, dense: float, bm25: float) -> Hit:
    p = snap.passages[i]
    return Hit.from_meta(
        snap.docs.get(p.doc_id, {}), chunk_id=p.chunk_id, doc_id=p.doc_id, section=p.section,
        section_id=p.section_id, text=p.text, score=score, dense=dense, bm25=bm25,
    )


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
    ) -> list[Hit]:
        """The top-k passages only (CLI search, the corpus browser, drafting evidence)."""
        return list(self.retrieve(query, k, mode=mode, filters=filters, dense_weight=dense_weight).hits)

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        *,
        mode: RetrievalMode | None = None,
        filters: Filters = Filters(),
        dense_weight: float | None = None,
        query_vector: np.ndarray | None = None,
    ) -> Retrieval:
        """Top-k passages for ``query`` and the gate's signals; ``query_vector`` skips the embedding."""
        k = k or self.settings.k
        mode = mode or self.settings.retrieval_mode
        weight = self.settings.dense_weight if dense_weight is None else dense_weight
        nothing = Retrieval(query, filters, mode)
        snap = self.reader.snapshot()
        if not snap.passages or not query.strip():
            return nothing
        n = max(self.settings.candidates, k * 4)
        widen = 4 if filters.active else 1
        ok_docs = self._allowed_docs(snap, filters)

        # The lexical top-n comes with ties broken by passage order (``LexicalView.top``), whatever
        # order tantivy finds them in: rankings are the same on every machine.
        query_tokens = tokens(query) if mode != "dense" else []
        bm25_ranked = [i for i, _ in snap.lexical_top(query_tokens, n, ok_docs)] if query_tokens else []

        dense: dict[int, float] = {}
        fused_by = mode
        if mode != "bm25":
            query_vector = query_vector if query_vector is not None else self.embeddings.encode([query])[0]
            try:
                dense = self._dense_candidates(snap, query_vector, n, n * widen + 8, ok_docs, bm25_ranked)
            except DenseUnavailable:
                log.warning("dense search unavailable, answering from BM25 only", exc_info=True)
                fused_by, dense = "bm25", {i: DEGRADED for i in bm25_ranked}
        max_dense = max(dense.values(), default=0.0) if fused_by != "bm25" else 0.0

        candidates = sorted(set(dense) | set(bm25_ranked))  # passage order: ties break the same everywhere
        if not candidates:
            return Retrieval(query, filters, mode, max_dense=max_dense)
        idx = np.array(candidates)
        # One scoring query for every candidate: all fused BM25 scores come from the same computation.
        bm25 = snap.lexical_scores(query_tokens, candidates) if query_tokens else {}
        found = fusion.Candidates(
            index=idx,
            dense=np.array([dense.get(i, np.nan) for i in candidates], dtype=np.float64),
            bm25=np.array([bm25.get(i, 0.0) for i in candidates], dtype=np.float32),
        )
        dense_v, bm25_v = found.dense32, found.bm25

        def hits(scores: np.ndarray, top: int) -> tuple[Hit, ...]:
            return tuple(passage_hit(snap, int(idx[o]), float(scores[o]), float(dense_v[o]), float(bm25_v[o]))
                         for o in np.argsort(-scores, kind="stable")[:top])

        gate_hits: tuple[Hit, ...] = ()
        if fused_by != "bm25":
            # The evidence gate is calibrated on one reference fusion, whatever ranking answers use.
            gate_hits = hits(fusion.weighted(found, self.settings.gate.fusion_weight), GATE_HITS)
        ranked = hits(fusion.FUSIONS[fused_by](found, weight=weight, rrf_k=self.settings.rrf_k), k)
        if mode == "bm25":
            ranked = self._with_cosines(ranked, query, query_vector)
        return Retrieval(query, filters, mode, ranked, gate_hits, max_dense)

    def _dense_candidates(
        self, snap: Snapshot, vector: np.ndarray, n: int, depth: int, ok_docs: set[str] | None,
        bm25_ranked: list[int],
    ) -> dict[int, float]:
        """Exact cosines of the top-n dense passages, and of the BM25 candidates too."""
        found = [snap.index_of[cid] for cid, _ in self.reader.dense_query(vector, depth)]
        found = [i for i in found if ok_docs is None or snap.passages[i].doc_id in ok_docs]
        pool = list(dict.fromkeys(found + bm25_ranked))
        exact = exact_cosines(self.reader.embeddings_for([snap.passages[i].chunk_id for i in pool]), vector)
        score = {i: exact[snap.passages[i].chunk_id] for i in pool if snap.passages[i].chunk_id in exact}
        top = sorted((i for i in found if i in score), key=lambda i: (-score[i], i))[:n]
        return {i: score[i] for i in top} | {i: score[i] for i in bm25_ranked if i in score}

    def _with_cosines(self, hits: tuple[Hit, ...], query: str, vector: np.ndarray | None) -> tuple[Hit, ...]:
        """BM25-ranked hits with the exact cosine of their passage (ranking untouched)."""
        if not hits:
            return hits
        try:
            vector = vector if vector is not None else self.embeddings.encode([query])[0]
            cosines = exact_cosines(self.reader.embeddings_for([h.chunk_id for h in hits]), vector)
        except DenseUnavailable:
            log.warning("dense search unavailable: BM25 hits without similarity", exc_info=True)
            return tuple(h._replace(dense=DEGRADED) for h in hits)
        return tuple(h._replace(dense=cosines[h.chunk_id]) if h.chunk_id in cosines else h for h in hits)

    def _allowed_docs(self, snap: Snapshot, filters: Filters) -> set[str] | None:
        """The documents the filters let through (None: no filter)."""
        if not filters.active:
            return None
        return {doc_id for doc_id, meta in snap.docs.items() if _allowed(meta, filters)}
