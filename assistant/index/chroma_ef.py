"""Our embedding backends as a Chroma ``EmbeddingFunction``.

Chroma's default function downloads an ONNX model on first use, which fails offline: every
collection is opened with this one instead, so Chroma never needs anything from the network.
"""

from __future__ import annotations

from typing import Any

from chromadb.api.types import Documents, EmbeddingFunction
from chromadb.api.types import Embeddings as ChromaEmbeddings
from chromadb.utils.embedding_functions import register_embedding_function

from assistant.index.embeddings import get_embeddings


@register_embedding_function
class DoctrineEmbeddingFunction(EmbeddingFunction[Documents]):
    def __init__(self, spec: str = "use") -> None:
        self.spec = spec

    def __call__(self, input: Documents) -> ChromaEmbeddings:  # noqa: A002 - Chroma's signature
        return list(get_embeddings(self.spec).encode(list(input)))

    @staticmethod
    def name() -> str:
        return "doctrine-offline"

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def get_config(self) -> dict[str, Any]:
        return {"spec": self.spec}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> DoctrineEmbeddingFunction:
        return DoctrineEmbeddingFunction(config.get("spec", "use"))
