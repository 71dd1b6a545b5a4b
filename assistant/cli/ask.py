"""``doctrine search`` and ``doctrine ask``: passages, and sourced answers (the ``doctrine ask --json`` contract)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.output import fail, out
from assistant.config import Settings


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"date invalide « {value} » (format attendu AAAA-MM-JJ)", 2) from exc


def search(
    query: Annotated[str, typer.Argument(help="Question ou mots-clés.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Filtrer par type de document.")] = None,
    in_force: Annotated[str | None, typer.Option("--in-force", help="Textes en vigueur à cette date.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hybrid, dense, bm25 ou rrf.")] = None,
) -> None:
    """Rechercher les passages les plus pertinents du corpus."""
    from assistant.answer.question import QuestionError, check_question
    from assistant.answer.types import Filters
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    settings = Settings()
    try:
        check_question(query, settings.max_question_chars)
        if mode and mode not in ("hybrid", "dense", "bm25", "rrf"):
            raise fail(f"mode inconnu « {mode} » (hybrid, dense, bm25, rrf)", 2)
        filters = Filters(kinds=tuple(kind or ()), in_force_on=_parse_date(in_force))
        hits = get_pipeline(settings).searcher.search(query, k, filters=filters, mode=mode)  # type: ignore[arg-type]
    except (QuestionError, IndexError_) as exc:
        raise fail(exc, 2) from exc
    if as_json:
        out.print_json(json.dumps({"query": query, "results": [h.to_json() for h in hits]}, ensure_ascii=False))
        return
    if not hits:
        out.print("Aucun passage trouvé.")
    for n, hit in enumerate(hits, start=1):
        out.print(f"[bold]{n}. {hit.title}[/] — {hit.section}  [dim](score {hit.score:.3f}, {hit.doc_id})[/]")
        out.print(f"   {hit.text}\n")


def _print_answer(answer, wording) -> None:  # noqa: ANN001 - Answer, Wording
    style = "yellow" if answer.refused else "green"
    title = wording.text("answer.refused_title" if answer.refused else "answer.answer_title")
    out.print(f"[bold {style}]{title}[/]")
    out.print(answer.answer)
    for notice in [n.text for n in answer.notices] + answer.problems:
        out.print(f"[italic yellow]{notice}[/]")
    if answer.citations:
        out.print(f"\n[bold]{wording.text('answer.sources_title')}[/]")
        for c in answer.citations:
            out.print(f"[{c.n}] {c.title} — {c.section}" + (f" — {c.source_url}" if c.source_url else ""))
            out.print(f"    « {c.quote[:300]} »")


def _ask_one(chain, item: dict, k: int | None) -> dict:  # noqa: ANN001
    from assistant.answer.question import QuestionError
    from assistant.index.errors import IndexError_

    qid = item.get("id")
    try:
        history = item.get("history") or []
        if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
            raise QuestionError(chain.wording.text("answer.history_invalid"))
        answer = chain.invoke(item.get("question"), history, k=k)
        return replace(answer, id=qid).to_json()
    except (QuestionError, IndexError_) as exc:
        return {"id": qid, "question": item.get("question"), "error": str(exc)}


def ask(
    question: Annotated[str | None, typer.Argument(help="Question en français.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON (contrat doctrine ask --json).")] = False,
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=50, help="Nombre de passages.")] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help="Fichier JSONL de questions.")] = None,
) -> None:
    """Poser une question : réponse sourcée, ou refus motivé si les textes ne la couvrent pas."""
    from assistant.answer.question import QuestionError
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    settings = Settings()
    chain = get_pipeline(settings).chain
    if batch is not None:
        try:
            lines = batch.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"lecture impossible de {batch} : {exc}", 2) from exc
        for n, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("objet JSON attendu")
            except ValueError as exc:
                result = {"id": None, "line": n, "error": f"ligne {n} : JSON invalide ({exc})"}
            else:
                result = _ask_one(chain, item, k)
            out.print(json.dumps(result, ensure_ascii=False), markup=False, highlight=False)
        return
    if question is None:
        raise fail("indiquez une question, ou --batch FICHIER.jsonl", 2)
    try:
        answer = chain.invoke(question, k=k)
    except (QuestionError, IndexError_) as exc:
        if as_json:
            out.print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), markup=False)
            raise typer.Exit(2) from exc
        raise fail(exc, 2) from exc
    if as_json:
        out.print(json.dumps(answer.to_json(), ensure_ascii=False), markup=False, highlight=False)
    else:
        _print_answer(answer, chain.wording)
