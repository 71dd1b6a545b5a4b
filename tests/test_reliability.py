"""Crash safety (SIGKILL during indexing), concurrent ingest and search, hostile input."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from assistant.config import Settings
from assistant.indexing import ingest_files, run_index
from assistant.pipeline import Pipeline
from assistant.store import IndexReader, current_generation, open_collection
from assistant.validation import QuestionError
from tests.conftest import make_settings, write_corpus
from tests.synthetic import write_synthetic_corpus


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
    env |= {"DOCTRINE_DATA_DIR": str(settings.data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    return env


def _state(settings: Settings) -> tuple[list[str], list[str]]:
    snap_ids = sorted(p.chunk_id for p in IndexReader(settings).snapshot().passages)
    chroma_ids = sorted(open_collection(settings, create=False).get(include=[])["ids"])
    return snap_ids, chroma_ids


def _consistent(settings: Settings) -> list[str]:
    """The committed generation is fully present in Chroma (orphans may exist until the next run)."""
    snap_ids, chroma_ids = _state(settings)
    missing = set(snap_ids) - set(chroma_ids)
    assert not missing, f"{len(missing)} passages committés absents de Chroma"
    return snap_ids


@pytest.mark.slow
def test_sigkill_during_index_and_ingest_recovers_to_clean_state(tmp_path: Path) -> None:
    knowledge = write_synthetic_corpus(tmp_path / "k", 2400, per_doc=40)
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    clean = make_settings(tmp_path / "clean", knowledge_dir=knowledge)
    rng = random.Random(42)
    cmd = [sys.executable, "-m", "assistant", "index"]
    upload = tmp_path / "note.txt"
    upload.write_text("Note interne : la réversibilité est exigée. " * 200, encoding="utf-8")
    kills = 0
    for iteration in range(4):
        if iteration == 2:
            # change the target between runs: an edited and a deleted file, then an ingest
            first = sorted(knowledge.glob("*.md"))[0]
            first.write_text(first.read_text(encoding="utf-8").replace("Section 0", "Section zéro"), encoding="utf-8")
            sorted(knowledge.glob("*.md"))[1].unlink()
        args = cmd if iteration != 3 else [sys.executable, "-m", "assistant", "ingest", str(upload)]
        proc = subprocess.Popen(args, env=_env(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(2.0, 6.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        if current_generation(settings.index_dir):
            _consistent(settings)  # readers see a complete generation even right after the kill
    assert kills >= 2, "the index finished before being killed: make the corpus larger"
    run_index(settings)
    snap_ids, chroma_ids = _state(settings)
    assert snap_ids == chroma_ids and len(set(snap_ids)) == len(snap_ids)
    assert not (settings.index_dir / "PENDING").exists()
    shutil.copytree(settings.uploads_dir, clean.uploads_dir) if settings.uploads_dir.exists() else None
    run_index(clean)
    assert _state(clean)[0] == snap_ids
    reader = Pipeline(settings).searcher
    assert reader.search("plan de sortie à l'échéance du marché", 5)


@pytest.mark.slow
def test_queries_keep_answering_during_a_concurrent_index(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "k")
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    run_index(settings)
    write_synthetic_corpus(knowledge, 1600, per_doc=40)
    pipeline = Pipeline(settings)
    errors: list[BaseException] = []
    answers: list[str] = []
    generations: set[str] = set()
    proc = subprocess.Popen([sys.executable, "-m", "assistant", "index"], env=_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ask_loop() -> None:
        while proc.poll() is None:
            try:
                snap = pipeline.reader.snapshot()
                generations.add(snap.generation)
                answer = pipeline.chain.invoke("Que faut-il exiger pour la réversibilité ?")
                answers.append(answer.answer)
                assert all(c.chunk_id in pipeline.reader.snapshot().index_of or c.chunk_id in snap.index_of
                           for c in answer.citations)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
                return

    thread = threading.Thread(target=ask_loop)
    thread.start()
    proc.wait(timeout=300)
    thread.join(timeout=60)
    assert proc.returncode == 0
    assert not errors, errors
    assert len(answers) >= 3
    assert len(pipeline.reader.snapshot().passages) > 700
    assert len(generations | {pipeline.reader.snapshot().generation}) >= 2


def test_failed_ingest_leaves_index_untouched(small_settings: Settings, tmp_path: Path) -> None:
    run_index(small_settings)
    before = _state(small_settings)
    gen = current_generation(small_settings.index_dir)
    bad = tmp_path / "casse.pdf"
    bad.write_bytes(b"%PDF-1.7 garbage")
    empty = tmp_path / "vide.txt"
    empty.write_bytes(b"")
    result = ingest_files(small_settings, [bad, empty, tmp_path / "absent.docx"])
    assert result.added == [] and len(result.skipped) == 3
    assert current_generation(small_settings.index_dir) == gen and _state(small_settings) == before
    assert not any(small_settings.uploads_dir.iterdir())


def test_ingest_names_are_confined_to_the_uploads_folder(small_settings: Settings, tmp_path: Path) -> None:
    run_index(small_settings)
    good = tmp_path / "note de service é.txt"
    good.write_text("La réversibilité des marchés de logiciels est exigée par la note de service.", encoding="utf-8")
    result = ingest_files(small_settings, [good, good], names=["../../etc/passwd.txt", "note de service é.txt"])
    assert sorted(result.added) == ["note de service é.txt", "passwd.txt"]
    assert all(p.parent == small_settings.uploads_dir for p in small_settings.uploads_dir.iterdir())
    outside = ingest_files(small_settings, [Path("/etc/hostname")], allowed_dirs=[tmp_path])
    assert outside.added == [] and "hors des dossiers autorisés" in outside.skipped[0].reason
    snap = IndexReader(small_settings).snapshot()
    assert "user-note-de-service-e-txt" in snap.docs


def test_hostile_questions(pipeline: Pipeline) -> None:
    with pytest.raises(QuestionError, match="trop longue"):
        pipeline.chain.invoke("réversibilité " * 10_000)
    answer = pipeline.chain.invoke("<script>alert('x')</script> Qu'est-ce que SecNumCloud ?\x00\x07")
    assert "<script>" not in answer.answer
    assert "\x00" not in answer.question


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_random_text_never_raises_anything_but_question_errors(pipeline: Pipeline, text: str) -> None:
    try:
        answer = pipeline.chain.invoke(text)
    except QuestionError:
        return
    assert isinstance(answer.answer, str) and answer.answer
    pipeline.searcher.search(text, 3)
