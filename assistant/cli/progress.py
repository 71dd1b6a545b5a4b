"""The one progress bar of the CLI (Rich), for indexing, ingest and evaluation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.cli.output import console

STAGE_LABELS = {"embed": "Calcul des embeddings"}


@contextmanager
def progress_bar(*, transient: bool = False) -> Iterator[Progress]:
    bar = Progress(
        TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=transient,
    )
    with bar:
        yield bar


def stage_callback(bar: Progress) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback of the index store: one task per stage."""
    tasks: dict[str, int] = {}

    def callback(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(STAGE_LABELS.get(stage, stage), total=max(total, 1))
        bar.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

    return callback


def step_callback(bar: Progress, title: str) -> Callable[[int, int, str], None]:
    """A ``progress(done, total, label)`` callback of the evaluation runner: one task, relabelled."""
    task = bar.add_task(title, total=None)

    def callback(done: int, total: int, label: str) -> None:
        bar.update(task, completed=done, total=total, description=f"{title} · {label}"[:70])

    return callback
