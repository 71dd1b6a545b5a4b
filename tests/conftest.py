"""Session-wide fixtures: the real embedding model and one real index of the shipped corpus.

Expensive things are built once per test session; tests that mutate an index build their own
small one in a temporary folder.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import assistant  # noqa: F401 - offline environment before anything else
from assistant.config import PROJECT_ROOT, Settings

for _var in list(os.environ):
    if _var.startswith("DOCTRINE_"):
        del os.environ[_var]


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings isolated from the user's environment and any doctrine.toml."""
    return Settings(data_dir=data_dir, knowledge_dir=overrides.pop("knowledge_dir", PROJECT_ROOT / "knowledge"),
                    **overrides)


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings whose index holds the shipped knowledge base (built once)."""
    from assistant.index.ingest import run_index

    settings = make_settings(tmp_path_factory.mktemp("corpus-index"))
    run = run_index(settings)
    assert run.stats.passages > 100, run
    return settings


@pytest.fixture(scope="session")
def pipeline(corpus_settings: Settings):  # noqa: ANN201
    from assistant.pipeline import Pipeline

    return Pipeline(corpus_settings)


SMALL_CORPUS = {
    "circulaire-test.md": """---
id: circulaire-test
title: "Circulaire de test sur les achats numériques"
kind: circulaire
authority: "Premier ministre"
reference: "n° 0000/SG"
date: 2026-02-05
valid_from: 2026-02-05
sources:
  - url: https://example.org/circulaire
    confidence: officiel
---

## Méthode en trois temps

Avant tout achat, l'acheteur examine d'abord les solutions mutualisées de l'État. Ensuite il regarde les produits sur étagère du marché. Le développement spécifique vient en dernier recours.

## Réversibilité

La réversibilité exige un plan de sortie et des formats d'export ouverts. Le prestataire restitue les données sans frais excessifs.
""",
    "ancien-texte.md": """---
id: ancien-texte
title: "Ancienne doctrine d'hébergement"
kind: doctrine
authority: "DINUM"
date: 2019-01-01
valid_from: 2019-01-01
valid_to: 2021-07-05
sources:
  - url: https://example.org/ancien
    confidence: officiel
---

## Hébergement

L'ancienne doctrine recommandait l'hébergement dans les centres de données ministériels.
""",
}


def write_corpus(folder: Path, files: dict[str, str] = SMALL_CORPUS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def small_settings(tmp_path: Path) -> Settings:
    knowledge = write_corpus(tmp_path / "knowledge")
    return make_settings(tmp_path / "data", knowledge_dir=knowledge)


class OutboundConnection(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple]]:
    """Fail on any connection that leaves the machine (loopback and Unix sockets stay allowed)."""
    attempts: list[tuple] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_create = socket.create_connection

    def _allowed(address: object) -> bool:
        if isinstance(address, (str, bytes)):
            return True  # AF_UNIX
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        return host in ("localhost", "::1", "0.0.0.0") or host.startswith("127.")

    def guard_connect(self: socket.socket, address: object) -> object:
        if not _allowed(address):
            attempts.append(("connect", address))
            raise OutboundConnection(f"connexion sortante interdite : {address}")
        return real_connect(self, address)

    def guard_connect_ex(self: socket.socket, address: object) -> object:
        if not _allowed(address):
            attempts.append(("connect_ex", address))
            raise OutboundConnection(f"connexion sortante interdite : {address}")
        return real_connect_ex(self, address)

    def guard_create(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        if not _allowed(address):
            attempts.append(("create_connection", address))
            raise OutboundConnection(f"connexion sortante interdite : {address}")
        return real_create(address, *args, **kwargs)

    def guard_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        if host not in (None, "localhost", "127.0.0.1", "::1", "0.0.0.0") and not str(host).startswith("127."):
            attempts.append(("getaddrinfo", host))
            raise OutboundConnection(f"résolution DNS interdite : {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket.socket, "connect", guard_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guard_connect_ex)
    monkeypatch.setattr(socket, "create_connection", guard_create)
    monkeypatch.setattr(socket, "getaddrinfo", guard_getaddrinfo)
    yield attempts
