"""Crash safety (SIGKILL during indexing), concurrent ingest and search, hostile input."""

from __future__ import annotations

import functools
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from assistant.answer.question import QuestionError
from assistant.config import PROJECT_ROOT, Settings
from assistant.index.chroma import open_collection
from assistant.index.ingest import ingest_files, run_index
from assistant.index.snapshot import current_generation
from assistant.index.store import BATCH, IndexReader
from assistant.pipeline import Pipeline
from tests.conftest import make_settings, write_corpus
from tests.synthetic import write_synthetic_corpus
from tests.waiting import Lines, stop_process, wait_until

# Generous deadlines: they only matter when something is broken, never on a slow machine.
STAGE_TIMEOUT = 300

# The real CLI command (`index` or `ingest FILE`), with two test hooks on public seams: every progress
# report of run_index is echoed on stdout ("@@ PROGRESS embed <done> <total>"), and the run stops
# ("@@ PAUSED <where>") until a line arrives on stdin, at the point named by TEST_PAUSE:
#   embed:<n>  in the progress report once <n> passages (or all of them) are embedded and upserted
#              ("embed:end": once all of them are);
#   commit     just before PENDING is removed (snapshot written, CURRENT replaced, stale ids deleted).
# A test that kills the process before that point therefore kills it inside the stage, always.
DRIVER = '''
import os
import sys
from pathlib import Path
from typing import Any

import assistant.index.ingest as indexing
from assistant.cli import main

PAUSE = os.environ["TEST_PAUSE"]
paused = set()


def say(*words):
    print("@@", *words, flush=True)


def pause(where):
    if where in paused:
        return
    paused.add(where)
    say("PAUSED", where)
    if not sys.stdin.readline():
        sys.exit(3)  # the test is gone: stop without finishing the run
    say("RESUMED", where)


real_run_index = indexing.run_index


def run_index(settings, *, progress=None, **kwargs):
    def report(stage, done, total):
        if progress:
            progress(stage, done, total)
        say("PROGRESS", stage, done, total)
        kind, _, at = PAUSE.partition(":")
        if kind == stage and done >= (total if at == "end" else min(total, int(at))):
            pause(stage)

    return real_run_index(settings, progress=report, **kwargs)


indexing.run_index = run_index  # the CLI and ingest_files look it up at call time
real_unlink = Path.unlink


def unlink(self, *args, **kwargs):
    if self.name == "PENDING" and PAUSE == "commit":
        pause("commit")
    return real_unlink(self, *args, **kwargs)


Path.unlink = unlink
sys.argv = ["doctrine", *sys.argv[1:]]
main()
'''


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCTRINE_")}
    env |= {"DOCTRINE_DATA_DIR": str(settings.data_dir), "DOCTRINE_KNOWLEDGE_DIR": str(settings.knowledge_dir)}
    # the subprocess runs in its own folder (no doctrine.toml) but imports the same code as this one
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


class Indexer:
    """``doctrine <args>`` in a subprocess that reports its progress and pauses at ``pause``."""

    def __init__(self, settings: Settings, args: list[str], pause: str, workdir: Path) -> None:
        driver = workdir / "index_driver.py"
        driver.write_text(DRIVER, encoding="utf-8")
        self.log = workdir / f"indexer-{time.monotonic_ns()}.log"
        with self.log.open("w", encoding="utf-8") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(driver), *args], env=_env(settings) | {"TEST_PAUSE": pause}, cwd=workdir,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8",
            )
        self.lines = Lines(self.proc.stdout)
        self.args = args

    def events(self) -> list[list[str]]:
        return [line.split()[1:] for line in self.lines.snapshot() if line.startswith("@@ ")]

    def embedded(self) -> tuple[int, int] | None:
        """(done, total) of the last progress report, None before the first."""
        reports = [e for e in self.events() if e[:2] == ["PROGRESS", "embed"]]
        return (int(reports[-1][2]), int(reports[-1][3])) if reports else None

    def paused(self) -> bool:
        return any(e[0] == "PAUSED" for e in self.events())

    def describe(self) -> str:
        tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
        return (f"doctrine {' '.join(self.args)} : code {self.proc.poll()}, derniers événements "
                f"{self.events()[-3:]}, stderr : {tail}")

    def wait_for(self, predicate, what: str) -> None:  # noqa: ANN001
        wait_until(lambda: predicate() or self.proc.poll() is not None, STAGE_TIMEOUT, f"{what} : {self.args}")
        assert self.proc.poll() is None, f"l'indexation s'est arrêtée avant {what} : {self.describe()}"

    def release(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        assert self.proc.poll() is None, f"déjà terminé avant d'être tué : {self.describe()}"
        self.proc.send_signal(signal.SIGKILL)
        assert self.proc.wait(timeout=60) == -signal.SIGKILL, self.describe()


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


def _embedded(indexer: Indexer, at_least: int | None) -> bool:
    """The run has reported ``at_least`` passages embedded, or all of them."""
    reported = indexer.embedded()
    return reported is not None and (reported[0] == reported[1] or (at_least is not None and reported[0] >= at_least))


def _kill_inside(indexer: Indexer, started, rng: random.Random, span: float | None) -> None:  # noqa: ANN001
    """Once the stage has started, SIGKILL the run at a random moment before its pause point.

    The run cannot get past the pause point, so the kill always lands inside the stage, whatever
    the machine's speed: on a fast machine it lands at the pause, on a slow one earlier. With no
    ``span``, the kill comes at the pause point itself.
    """
    indexer.wait_for(started, "le début de l'étape visée")
    kill_at = float("inf") if span is None else time.monotonic() + rng.uniform(0.0, span)
    wait_until(lambda: time.monotonic() >= kill_at or indexer.paused() or indexer.proc.poll() is not None,
               STAGE_TIMEOUT, lambda: f"ni délai écoulé ni pause : {indexer.describe()}")
    indexer.kill()


@pytest.mark.slow
def test_sigkill_during_index_and_ingest_recovers_to_clean_state(tmp_path: Path) -> None:
    knowledge = write_synthetic_corpus(tmp_path / "k", 1200, per_doc=40)
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    clean = make_settings(tmp_path / "clean", knowledge_dir=knowledge)
    rng = random.Random(42)
    upload = tmp_path / "note.txt"
    upload.write_text("Note interne : la réversibilité est exigée. " * 200, encoding="utf-8")
    first_batch = rng.randint(1, 3)
    # (command, pause point, passages embedded when the stage to kill in starts (None: all of them),
    #  longest random delay before the kill in seconds (None: kill at the pause point), generation
    #  committed after the kill: True, False or None when that depends on where the kill landed)
    steps = [
        # fresh index, killed while embedding: some batches upserted in Chroma, nothing committed
        (["index"], f"embed:{(first_batch + 1) * BATCH}", first_batch * BATCH, 2.0, False),
        # resumed run, killed between the end of embedding and the removal of PENDING: while the
        # snapshot is written, CURRENT replaced or stale ids deleted
        (["index"], "commit", None, 0.5, None),
        # after an edited and a deleted file: killed while embedding the edited file's new passages
        (["index"], "embed:end", 0, 1.0, None),
        # an upload: killed once committed, before the run has cleaned up and removed PENDING
        (["ingest", str(upload)], "commit", None, None, True),
    ]
    for iteration, (args, pause, first, span, committed) in enumerate(steps):
        if iteration == 2:
            edited, deleted = sorted(knowledge.glob("*.md"))[:2]
            edited.write_text(edited.read_text(encoding="utf-8").replace("Section 0", "Section zéro"),
                              encoding="utf-8")
            deleted.unlink()
        indexer = Indexer(settings, args, pause, tmp_path)
        try:
            _kill_inside(indexer, functools.partial(_embedded, indexer, first), rng, span)
        finally:
            stop_process(indexer.proc)
        assert (settings.index_dir / "PENDING").exists(), f"étape {iteration} : la run tuée n'a pas laissé PENDING"
        generation = current_generation(settings.index_dir)
        assert committed is None or bool(generation) == committed, (iteration, generation)
        if generation:  # readers see a complete generation even right after the kill, flagged as interrupted
            _consistent(settings)
            assert IndexReader(settings).snapshot().interrupted, f"étape {iteration} : index non signalé comme interrompu"
    assert "user-note-txt" in IndexReader(settings).snapshot().docs  # the last kill came after its commit
    run_index(settings)
    snap_ids, chroma_ids = _state(settings)
    assert snap_ids == chroma_ids and len(set(snap_ids)) == len(snap_ids)
    assert not (settings.index_dir / "PENDING").exists()
    shutil.copytree(settings.uploads_dir, clean.uploads_dir)
    run_index(clean)
    assert _state(clean)[0] == snap_ids
    reader = Pipeline(settings).searcher
    assert reader.search("plan de sortie à l'échéance du marché", 5)


@pytest.mark.slow
def test_queries_keep_answering_during_a_concurrent_index(tmp_path: Path) -> None:
    knowledge = write_corpus(tmp_path / "k")
    settings = make_settings(tmp_path / "data", knowledge_dir=knowledge)
    run_index(settings)
    old = current_generation(settings.index_dir)
    write_synthetic_corpus(knowledge, 800, per_doc=40)
    synthetic = {p.stem for p in knowledge.glob("synth-*.md")}
    pipeline = Pipeline(settings)
    question = "Que faut-il exiger pour la réversibilité ?"
    records: list[tuple[float, Any, Any, Any]] = []  # (start, snapshot before, snapshot after, answer)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask_loop() -> None:
        while not stop.is_set():
            try:
                start = time.monotonic()
                before = pipeline.reader.snapshot()
                answer = pipeline.chain.invoke(question)
                records.append((start, before, pipeline.reader.snapshot(), answer))
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)
                return

    # The index run stops after its first batch: new vectors are in Chroma but nothing is committed.
    indexer = Indexer(settings, ["index"], f"embed:{BATCH}", tmp_path)
    thread = threading.Thread(target=ask_loop, daemon=True)
    thread.start()
    try:
        indexer.wait_for(indexer.paused, "la pause après le premier lot")
        paused_at = time.monotonic()
        wait_until(lambda: errors or any(r[0] >= paused_at for r in records), STAGE_TIMEOUT,
                   "aucune réponse pendant l'indexation en cours")
        assert current_generation(settings.index_dir) == old
        indexer.release()
        new = wait_until(lambda: (g := current_generation(settings.index_dir)) != old and g, STAGE_TIMEOUT,
                         lambda: f"aucune nouvelle génération committée : {indexer.describe()}")
        wait_until(lambda: errors or any(r[1].generation == new for r in records), STAGE_TIMEOUT,
                   f"aucune réponse depuis la génération {new}")
        assert indexer.proc.wait(timeout=STAGE_TIMEOUT) == 0, indexer.describe()
    finally:
        stop.set()
        stop_process(indexer.proc)
    wait_until(lambda: not thread.is_alive(), STAGE_TIMEOUT, "le fil des questions ne s'arrête pas")
    if errors:
        raise AssertionError(f"une question a échoué pendant l'indexation : {errors[0]!r}") from errors[0]

    during = [r for r in records if r[0] >= paused_at and r[2].generation == old]
    after = [r for r in records if r[1].generation == new]
    assert during, "aucune réponse de l'ancienne génération pendant que l'indexation était en cours"
    assert after, "aucune réponse de la nouvelle génération"
    for _start, before, later, answer in records:
        assert not answer.refused and answer.citations, answer.answer
        visible = before.index_of.keys() | later.index_of.keys()
        assert all(c.chunk_id in visible for c in answer.citations), answer.citations
        if later.generation == old:  # vectors upserted by the unfinished run stay invisible
            assert not {c.doc_id for c in answer.citations} & synthetic, answer.citations
        assert not any("interrompue" in n.text for n in answer.notices), answer.notices  # the writer is alive
    snap = IndexReader(settings).snapshot()
    assert snap.generation == new and synthetic <= set(snap.docs)


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
    other = tmp_path / "autre.txt"
    other.write_text("Le plan de sortie est annexé au marché de logiciels.", encoding="utf-8")
    result = ingest_files(small_settings, [other, good, good],
                          names=["../../etc/passwd.txt", "note de service é.txt", "copie.txt"])
    assert sorted(result.added) == ["note de service é.txt", "passwd.txt"]
    assert [s.path for s in result.skipped] == ["copie.txt"] and "déjà ajouté" in result.skipped[0].reason
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
