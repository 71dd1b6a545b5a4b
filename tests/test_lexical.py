"""The incremental index: unchanged files not read again, the lexical index (tantivy) updated in
place and tied to the committed generation (hits filtered to it, adds before the commit, deletes
after), reconciled after a SIGKILL, and scoring exactly like a fresh build once compacted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import assistant.index.documents as documents
import assistant.index.snapshot as snapshot
from assistant.config import PROJECT_ROOT, Settings
from assistant.index.ingest import run_index
from assistant.index.lexical import LexicalIndex, open_reader
from assistant.index.snapshot import current_generation
from assistant.index.store import IndexReader
from assistant.text import tokens
from tests.conftest import make_settings, write_corpus
from tests.synthetic import write_synthetic_corpus
from tests.waiting import Lines, stop_process, wait_until

OLD = "Le prestataire restitue les données sans frais excessifs."
NEW = "Le prestataire restitue toutes les données dans un format ouvert documenté."


def _edit(settings: Settings) -> None:
    path = settings.knowledge_dir / "circulaire-test.md"
    path.write_text(path.read_text(encoding="utf-8").replace(OLD, NEW), encoding="utf-8")


def _lexical_rowids(settings: Settings) -> set[int]:
    return LexicalIndex(settings.index_dir / "lexical").rowids()


def _generation_rowids(settings: Settings) -> set[int]:
    snap = IndexReader(settings).snapshot()
    assert snap.rowids is not None
    return {int(r) for r in snap.rowids}


def _ranking(settings: Settings, query: str) -> list[tuple[str, float]]:
    snap = IndexReader(settings).snapshot()
    return [(snap.passages[i].chunk_id, score) for i, score in snap.lexical_top(tokens(query), 50)]


def _texts(settings: Settings, query: str) -> str:
    snap = IndexReader(settings).snapshot()
    return " ".join(snap.passages[i].text for i, _ in snap.lexical_top(tokens(query), 50))


def test_unchanged_files_are_not_read_again(small_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    first = run_index(small_settings)
    reads: list[str] = []
    real = documents.load_knowledge_file
    monkeypatch.setattr(documents, "load_knowledge_file", lambda path: reads.append(path.name) or real(path))
    again = run_index(small_settings)
    assert reads == [] and again.stats.passages == first.stats.passages and again.stats.added == 0
    assert IndexReader(small_settings).snapshot().docs.keys() == {"circulaire-test", "ancien-texte"}
    _edit(small_settings)
    edited = run_index(small_settings)
    assert reads == ["circulaire-test.md"] and edited.stats.added >= 1
    assert "format ouvert documenté" in _texts(small_settings, "format ouvert documenté")
    # Same content under a new date: read again, but its object (passages, rowids) is kept.
    path = small_settings.knowledge_dir / "ancien-texte.md"
    rowids = _generation_rowids(small_settings)
    path.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    touched = run_index(small_settings)
    assert "ancien-texte.md" in reads and touched.stats.added == 0
    assert _generation_rowids(small_settings) == rowids


def test_lexical_hits_belong_to_the_committed_generation(small_settings: Settings) -> None:
    run_index(small_settings)
    expected = _ranking(small_settings, "réversibilité")
    assert expected
    # What a run killed after adding its passages leaves: a passage in the lexical index that no
    # committed generation holds, and that would outrank every other one.
    index = LexicalIndex(small_settings.index_dir / "lexical")
    index.add([(10_000, "orphelin", " ".join(["reversibil"] * 20))])
    index.commit()
    index.close()
    (small_settings.index_dir / "PENDING").write_text("x", encoding="utf-8")
    reader = IndexReader(small_settings)
    snap = reader.snapshot()
    assert snap.interrupted
    # Same passages, all of them, in the same order (the orphan weighs in tantivy's statistics, not in the hits).
    assert [c for c, _ in _ranking(small_settings, "réversibilité")] == [c for c, _ in expected]
    assert len(snap.lexical_top(tokens("réversibilité"), 1)) == 1
    assert 10_000 in _lexical_rowids(small_settings)
    run = run_index(small_settings)  # reconciles: the orphan goes
    assert run.stats.added == 0
    assert _lexical_rowids(small_settings) == _generation_rowids(small_settings)
    assert not (small_settings.index_dir / "PENDING").exists()


def test_stale_passages_leave_the_lexical_index_after_the_commit(
    small_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_index(small_settings)
    old_reader = IndexReader(small_settings)
    old_snap = old_reader.snapshot()
    old_ids = _generation_rowids(small_settings)
    seen: dict[str, set[int]] = {}
    import assistant.index.store as store

    real_commit = store.commit_generation

    def commit(index_dir: Path, name: str) -> None:
        seen["before"] = _lexical_rowids(small_settings)
        real_commit(index_dir, name)
        seen["after"] = _lexical_rowids(small_settings)

    monkeypatch.setattr(store, "commit_generation", commit)
    _edit(small_settings)
    run_index(small_settings)
    new_ids = _generation_rowids(small_settings)
    assert new_ids - old_ids and old_ids - new_ids
    # At the commit the index holds both generations; once committed, the dropped passages go.
    assert seen["before"] >= old_ids | new_ids and seen["after"] >= old_ids | new_ids
    assert _lexical_rowids(small_settings) == new_ids
    # A reader still on the old generation keeps its own view (a tantivy searcher is a snapshot).
    assert "sans frais excessifs" in " ".join(
        old_snap.passages[i].text for i, _ in old_snap.lexical_top(tokens("frais excessifs"), 10))
    assert "sans frais excessifs" not in _texts(small_settings, "frais excessifs")


def test_filters_are_applied_inside_the_lexical_search(small_settings: Settings) -> None:
    run_index(small_settings)
    snap = IndexReader(small_settings).snapshot()
    q = tokens("hébergement doctrine réversibilité")
    everything = {snap.passages[i].doc_id for i, _ in snap.lexical_top(q, 50)}
    assert everything == {"circulaire-test", "ancien-texte"}
    only = snap.lexical_top(q, 50, {"ancien-texte"})
    assert only and {snap.passages[i].doc_id for i, _ in only} == {"ancien-texte"}
    assert snap.lexical_top(q, 50, set()) == []


def test_compaction_scores_like_a_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    knowledge = write_synthetic_corpus(tmp_path / "k", 400, per_doc=20)
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    monkeypatch.setattr(snapshot, "MAX_DELETED_SHARE", 1.0)  # never compact, for now
    run_index(settings)
    query = "réversibilité des données plan de sortie"
    files = sorted(knowledge.glob("*.md"))
    for n, path in enumerate(files[:3]):
        path.write_text(path.read_text(encoding="utf-8").replace("Section 0", f"Section révisée {n}"),
                        encoding="utf-8")
        run_index(settings)
    fresh = make_settings(tmp_path / "fresh", knowledge_dir=knowledge)
    run_index(fresh)
    assert _lexical_rowids(settings) == _generation_rowids(settings)
    # Deleted passages still count in tantivy's statistics until the index is compacted.
    assert LexicalIndex(settings.index_dir / "lexical").deleted_share() > 0
    monkeypatch.setattr(snapshot, "MAX_DELETED_SHARE", 0.0)
    files[5].write_text(files[5].read_text(encoding="utf-8").replace("Section 1", "Section une"), encoding="utf-8")
    run_index(settings)
    files[5].write_text(files[5].read_text(encoding="utf-8").replace("Section une", "Section 1"), encoding="utf-8")
    run_index(settings)
    run_index(fresh)
    assert LexicalIndex(settings.index_dir / "lexical").deleted_share() == 0
    ours, theirs = _ranking(settings, query), _ranking(fresh, query)
    assert ours and ours == theirs  # same passages, same order, same float scores


# ---------------------------------------------------------------- SIGKILL around the commit

DRIVER = '''
import sys

import assistant.index.store as store
from assistant.cli import main

WHERE = sys.argv.pop(1)
real = store.commit_generation


def pause(where):
    if where == WHERE:
        print("@@ PAUSED", where, flush=True)
        sys.stdin.readline()


def commit_generation(index_dir, name):
    pause("before-commit")  # new passages are in the lexical index, the generation is not committed
    real(index_dir, name)
    pause("after-commit")  # committed; the dropped passages are still in the lexical index


store.commit_generation = commit_generation
sys.argv = ["doctrine", *sys.argv[1:]]
main()
'''


@pytest.mark.slow
@pytest.mark.parametrize("where", ["before-commit", "after-commit"])
def test_sigkill_around_the_commit_then_reconcile(tmp_path: Path, where: str) -> None:
    knowledge = write_corpus(tmp_path / "k")
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    run_index(settings)
    before = current_generation(settings.index_dir)
    old_ids = _generation_rowids(settings)
    _edit(settings)
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
    env |= {"DOCTRINE_DATA_DIR": str(settings.data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(knowledge),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, str(driver), where, "index"], env=env, cwd=tmp_path, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    lines = Lines(proc.stdout)
    try:
        wait_until(lambda: any(line.startswith("@@ PAUSED") for line in lines.snapshot()) or proc.poll() is not None,
                   300, "la pause avant ou après le commit")
        assert proc.poll() is None, f"l'indexation s'est arrêtée avant la pause ({proc.returncode})"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        stop_process(proc)
    committed = current_generation(settings.index_dir)
    assert (committed == before) == (where == "before-commit")
    # The index holds both generations' passages; readers see exactly the committed one.
    live = _generation_rowids(settings)
    assert _lexical_rowids(settings) > live
    texts = _texts(settings, "données frais excessifs format ouvert documenté")
    assert ("sans frais excessifs" in texts) == (where == "before-commit")
    assert ("format ouvert documenté" in texts) == (where == "after-commit")
    assert IndexReader(settings).snapshot().interrupted
    run_index(settings)
    assert _lexical_rowids(settings) == _generation_rowids(settings) != old_ids
    fresh = make_settings(tmp_path / "fresh", knowledge_dir=knowledge)
    run_index(fresh)
    for query in ("réversibilité", "format ouvert documenté", "hébergement des données"):
        assert _ranking(settings, query) == _ranking(fresh, query), query
    assert open_reader(settings.index_dir / "lexical").searcher().num_docs == len(_generation_rowids(settings))
