"""The ``doctrine`` CLI: JSON contracts of search, sources, ask and ask --batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from assistant.cli import app
from assistant.config import Settings

ASK_KEYS = {"question", "answer", "refused", "citations", "generator", "timings_ms"}
CITATION_KEYS = {"n", "doc_id", "title", "section", "quote", "source_url", "score"}


@pytest.fixture(scope="module")
def cli_env(corpus_settings: Settings) -> dict[str, str]:
    return {"DOCTRINE_DATA_DIR": str(corpus_settings.data_dir),
            "DOCTRINE_KNOWLEDGE_DIR": str(corpus_settings.knowledge_dir)}


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def _check_answer_schema(obj: dict) -> None:
    assert ASK_KEYS <= set(obj), obj.keys()
    assert isinstance(obj["answer"], str) and obj["answer"]
    assert isinstance(obj["refused"], bool)
    assert {"retrieve", "generate", "total"} <= set(obj["timings_ms"])
    for c in obj["citations"]:
        assert CITATION_KEYS <= set(c)
        assert isinstance(c["n"], int) and f"[{c['n']}]" in obj["answer"]
        assert c["quote"]


def test_search_json_schema(cli_env: dict[str, str]) -> None:
    code, out, _ = _run(cli_env, "search", "réversibilité des données cloud", "-k", "4", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["query"] == "réversibilité des données cloud"
    assert len(data["results"]) == 4
    for row in data["results"]:
        assert set(row) == {"doc_id", "chunk_id", "title", "section", "text", "score", "source_url", "status", "origin"}
        assert row["origin"] == "knowledge" and row["status"] in ("en_vigueur", "projet", "proposition")


def test_search_filters_and_bad_input(cli_env: dict[str, str]) -> None:
    code, out, _ = _run(cli_env, "search", "souveraineté", "--kind", "presse", "--json")
    assert code == 0 and all(r["doc_id"] in {"analyses-presse-circulaire", "reactions-organisations-professionnelles",
                                             "chiffres-dependance-cigref-asteres", "affaires-illustratives"}
                             for r in json.loads(out)["results"])
    code, _, err = _run(cli_env, "search", "x", "--in-force", "hier")
    assert code == 2 and "date invalide" in err
    code, _, err = _run(cli_env, "search", "   ")
    assert code == 2 and "vide" in err


def test_sources_json_lists_every_document(cli_env: dict[str, str], corpus_settings: Settings) -> None:
    code, out, _ = _run(cli_env, "sources", "--json")
    assert code == 0
    docs = json.loads(out)["documents"]
    ids = {d["doc_id"] for d in docs}
    on_disk = {p.stem for p in corpus_settings.knowledge_dir.rglob("*.md") if p.name != "README.md"}
    assert ids == on_disk
    assert all(d["passages"] > 0 for d in docs)


def test_ask_json_contract(cli_env: dict[str, str]) -> None:
    code, out, _ = _run(cli_env, "ask", "Quelles sont les trois étapes de la méthode avant d'acheter ?", "--json")
    assert code == 0
    obj = json.loads(out)
    _check_answer_schema(obj)
    assert not obj["refused"] and obj["citations"]
    code, out, _ = _run(cli_env, "ask", "", "--json")
    assert code == 2 and "vide" in json.loads(out)["error"]


def test_ask_batch_50_lines_in_order(cli_env: dict[str, str], tmp_path: Path) -> None:
    questions = [
        "Quels sont les neuf objectifs de la doctrine ?", "Qu'est-ce que SecNumCloud ?",
        "Que prévoit l'article 31 de la loi SREN ?", "Quelle est la recette du pot-au-feu ?",
        "Qu'est-ce que le RGI ?",
    ]
    path = tmp_path / "batch.jsonl"
    lines = [json.dumps({"id": f"q{i}", "question": questions[i % 5]}, ensure_ascii=False) for i in range(48)]
    lines.append(json.dumps({"id": "fu", "question": "et pour la réversibilité ?",
                             "history": [{"role": "user", "content": "Que dit la circulaire sur la souveraineté ?"},
                                         {"role": "assistant", "content": "Trois axes."}]}, ensure_ascii=False))
    lines.append("{ceci n'est pas du json")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, _ = _run(cli_env, "ask", "--batch", str(path), "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert len(rows) == 50
    assert [r.get("id") for r in rows[:49]] == [f"q{i}" for i in range(48)] + ["fu"]
    assert "error" in rows[49] and rows[49]["line"] == 50
    for row in rows[:49]:
        _check_answer_schema(row)
    assert rows[3]["refused"] is True and rows[0]["refused"] is False
