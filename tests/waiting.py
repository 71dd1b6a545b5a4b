"""Waiting for conditions, with a deadline, instead of sleeping a fixed time.

A test that sleeps and then counts events depends on the machine's speed; these helpers wait for
the event itself and fail with a message saying what did not happen.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
Message = str | Callable[[], str]


def _text(message: Message) -> str:
    return message() if callable(message) else message


def wait_until(predicate: Callable[[], T], timeout: float, message: Message, interval: float = 0.02) -> T:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    Fails with ``message`` (a string, or a function called at failure time so that it can describe
    the state reached) once ``timeout`` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{_text(message)} (délai de {timeout:g} s dépassé)")
        time.sleep(interval)


def run_in_threads(function: Callable[[Any], T], items: Iterable[Any], timeout: float) -> dict[Any, T]:
    """``function(item)`` for every item, each in its own thread, all at once; results by item.

    Fails, naming the items concerned, when a call has not returned after ``timeout`` seconds, and
    re-raises (chained) the first exception a call raised.
    """
    items = list(items)
    results: dict[Any, T] = {}
    errors: dict[Any, BaseException] = {}

    def run(item: Any) -> None:
        try:
            results[item] = function(item)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread below
            errors[item] = exc

    threads = [threading.Thread(target=run, args=(item,), daemon=True) for item in items]
    for thread in threads:
        thread.start()
    wait_until(lambda: not any(t.is_alive() for t in threads), timeout,
               lambda: "pas terminé : " + ", ".join(repr(i) for i, t in zip(items, threads, strict=True)
                                                    if t.is_alive()))
    if errors:
        item, exc = next(iter(errors.items()))
        raise AssertionError(f"{len(errors)} appel(s) en erreur, dont {item!r} : {exc!r}") from exc
    missing = [item for item in items if item not in results]
    assert not missing, f"aucun résultat pour {missing}"
    return results


class Lines:
    """The lines a subprocess writes on a pipe, collected by a background thread as they come."""

    def __init__(self, stream: Any) -> None:
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self.closed = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._lock:
                self._lines.append(line.rstrip("\n"))
        self.closed = True

    def snapshot(self) -> list[str]:
        with self._lock:
            return list(self._lines)


def stop_process(proc: subprocess.Popen) -> None:
    """Kill a subprocess this test started, if it is still running, and reap it."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=60)
    if proc.stdin is not None:
        proc.stdin.close()
