"""Offline by construction: nothing leaves the machine while loading models, indexing, searching,
answering and drafting (a guard fails on any non-loopback connection or DNS lookup)."""

from __future__ import annotations

import os
import socket

import pytest

from assistant.config import OFFLINE_ENV, Settings
from tests.conftest import OutboundConnection


def test_guard_really_blocks_outbound(no_network: list) -> None:  # noqa: ANN001
    with pytest.raises(OutboundConnection):
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)  # TEST-NET-1: never routed
    with pytest.raises(OutboundConnection):
        socket.getaddrinfo("example.org", 443)
    assert len(no_network) == 2


def test_offline_environment_is_forced() -> None:
    """Importing the package overrides a user environment that would re-enable hub access or telemetry."""
    import json
    import subprocess
    import sys

    hostile = os.environ | {"HF_HUB_OFFLINE": "0", "GRADIO_ANALYTICS_ENABLED": "True", "ANONYMIZED_TELEMETRY": "True"}
    keys = json.dumps(list(OFFLINE_ENV))
    code = f"import json, os, assistant; print(json.dumps({{k: os.environ.get(k) for k in {keys}}}))"
    out = subprocess.run([sys.executable, "-c", code], env=hostile, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == OFFLINE_ENV


def test_index_search_ask_draft_make_no_outbound_connection(no_network: list, small_settings: Settings) -> None:  # noqa: ANN001
    import gradio  # noqa: F401 - importing the UI library must not phone home either

    from assistant.draft.drafter import Drafter
    from assistant.index.embeddings import get_embeddings
    from assistant.index.ingest import run_index
    from assistant.pipeline import Pipeline

    get_embeddings("use")
    run_index(small_settings)
    pipeline = Pipeline(small_settings)
    assert pipeline.searcher.search("réversibilité", 3)
    answer = pipeline.chain.invoke("Que faut-il exiger pour la réversibilité ?")
    assert answer.citations
    draft = Drafter(small_settings, pipeline.searcher).draft(
        {"object": "Logiciel RH", "route": "sur_etagere", "criteria": ["adaptabilite_reversibilite"]}
    )
    assert draft.to_json()["sections"]
    from assistant.config import PROJECT_ROOT
    from assistant.evaluation import run_evaluation

    report = run_evaluation(small_settings, cases_path=PROJECT_ROOT / "tests" / "data" / "eval" / "suite" / "dev" / "cases.yaml",
                            write=False)
    assert report.ours
    assert no_network == []
