"""Chroma access: the client (embedded, or an HTTP server) and the collection of one embedding model.

chromadb is imported on first use only: commands that never touch vectors start fast. Collections
are opened with ``chroma_ef.DoctrineEmbeddingFunction`` (offline), never with Chroma's default.
"""

from __future__ import annotations

import threading
from urllib.parse import urlparse

from assistant.config import Settings
from assistant.index.chunking import CHUNKING_VERSION
from assistant.index.embeddings import get_embeddings
from assistant.index.errors import IndexError_

_open_lock = threading.RLock()


def collection_name(settings: Settings, model_id: str) -> str:
    """One collection per embedding model, so a model change never mixes vectors."""
    slug = "".join(ch if ch.isalnum() else "-" for ch in model_id.lower()).strip("-")
    return f"{settings.collection}-{slug}"[:60].rstrip("-")


def chroma_client(settings: Settings):  # noqa: ANN201 - chromadb's ClientAPI
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise IndexError_(f"DOCTRINE_CHROMA_URL invalide : {settings.chroma_url}")
        return chromadb.HttpClient(
            host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https", settings=chroma_settings,
        )
    path = settings.index_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    with _open_lock:  # chromadb's shared system cache is not safe for concurrent first opens
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def open_collection(settings: Settings, *, create: bool):  # noqa: ANN201
    emb = get_embeddings(settings.embedding)
    client = chroma_client(settings)
    name = collection_name(settings, emb.model_id)
    from assistant.index.chroma_ef import DoctrineEmbeddingFunction

    ef = DoctrineEmbeddingFunction(settings.embedding)
    if create:
        return client.get_or_create_collection(
            name=name, embedding_function=ef,
            metadata={"hnsw:space": "cosine", "hnsw:search_ef": 200, "embedding_model": emb.model_id,
                      "dimension": emb.dimension, "chunking_version": CHUNKING_VERSION},
        )
    return client.get_collection(name=name, embedding_function=ef)
