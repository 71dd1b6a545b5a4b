"""Fusion of dense and lexical evidence: pure functions, chosen by name.

A retrieval mode (``FUSIONS[name]``) takes the candidates of one search (exact cosines and BM25
scores, in corpus order) and returns one score per candidate; the searcher ranks by it, ties
breaking by corpus order. To add a mode: write ``def mode(c: Candidates, *, weight, rrf_k)``,
register it in ``FUSIONS`` and in ``config.RetrievalMode``.

``rrf`` is the package's one reciprocal-rank fusion, Σ weight / (k + rank). Two callers keep
their own weights, measured as they are: retrieval's ``rrf`` mode counts the dense rank twice
(2/(k + dense rank) + 1/(k + BM25 rank), BM25 rank only for passages with a BM25 score), and the
chain fuses a follow-up's two hit lists with equal weights and k = 60 (``fuse_hits``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from assistant.answer.types import Hit

K = TypeVar("K", bound=Hashable)
RRF_K = 60


@dataclass(frozen=True)
class Candidates:
    """The passages one search considers, in corpus order, with both scores.

    ``dense`` holds exact float64 cosines (NaN: not scored); ``bm25`` the raw float32 BM25 scores.
    """

    index: np.ndarray
    dense: np.ndarray
    bm25: np.ndarray

    @property
    def dense32(self) -> np.ndarray:
        """Cosines as the fused scores use them (float32; 0 when not scored)."""
        return np.where(np.isnan(self.dense), 0.0, self.dense).astype(np.float32)


def minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        return np.ones_like(values) if hi > 0 else np.zeros_like(values)
    return (values - lo) / (hi - lo)


def bm25_normalised(bm25: np.ndarray) -> np.ndarray:
    return bm25 / bm25.max() if bm25.max() > 0 else bm25


def weighted(c: Candidates, weight: float) -> np.ndarray:
    """``weight`` x min-max(cosine) + (1 - ``weight``) x BM25/max: answers' default, and the gate's
    reference ranking (with the gate's own weight)."""
    return weight * minmax(c.dense32) + (1.0 - weight) * bm25_normalised(c.bm25)


def rrf(rankings: Sequence[Sequence[K]], *, k: int = RRF_K, weights: Sequence[float] | None = None) -> dict[K, float]:
    """Reciprocal-rank fusion: Σ over rankings of weight / (k + rank), rank from 0.

    Keys come out in order of first appearance (first ranking first), so a stable sort on the
    score lets the earlier ranking win ties.
    """
    scores: dict[K, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, key in enumerate(ranking):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


def fuse_hits(rankings: Sequence[Sequence[Hit]], k: int) -> list[Hit]:
    """Several hit lists as one (RRF, equal weights); a passage keeps its hit from the first list."""
    first: dict[str, Hit] = {}
    for ranking in rankings:
        for hit in ranking:
            first.setdefault(hit.chunk_id, hit)
    scores = rrf([[h.chunk_id for h in ranking] for ranking in rankings])
    return [first[cid] for cid in sorted(scores, key=lambda cid: -scores[cid])[:k]]


# ---------------------------------------------------------------- retrieval modes


def hybrid(c: Candidates, *, weight: float, rrf_k: int) -> np.ndarray:  # noqa: ARG001
    return weighted(c, weight)


def dense(c: Candidates, *, weight: float, rrf_k: int) -> np.ndarray:  # noqa: ARG001
    return c.dense32


def bm25(c: Candidates, *, weight: float, rrf_k: int) -> np.ndarray:  # noqa: ARG001
    return bm25_normalised(c.bm25)


def reciprocal_rank(c: Candidates, *, weight: float, rrf_k: int) -> np.ndarray:  # noqa: ARG001
    """Dense rank counted twice, BM25 rank once (passages with a BM25 score only), normalised to max 1."""
    positions = range(len(c.index))
    cosine = np.where(np.isnan(c.dense), -1.0, c.dense)
    by_dense = sorted(positions, key=lambda o: (-cosine[o], o))
    by_bm25 = [o for o in sorted(positions, key=lambda o: (-c.bm25[o], o)) if c.bm25[o] > 0]
    fused = rrf([by_dense, by_bm25], k=rrf_k, weights=(2.0, 1.0))
    scores = np.array([fused[o] for o in positions])
    return scores / scores.max()


FusionMode = Callable[..., np.ndarray]
FUSIONS: dict[str, FusionMode] = {"hybrid": hybrid, "dense": dense, "bm25": bm25, "rrf": reciprocal_rank}
