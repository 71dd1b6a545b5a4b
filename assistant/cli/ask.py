"""``doctrine search`` and ``doctrine ask``: passages, and sourced answers (the ``doctrine ask --json`` contract)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from assistant.cli.output import emit_json, esc, fail, out
from assistant.config import Settings

OFFICIAL_HELP = ("Corpus officiel seulement : les fichiers ajoutés par les utilisateurs sont écartés "
                 "(par défaut : DOCTRINE_OFFICIAL_ONLY).")


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"date invalide « {value} » (format attendu AAAA-MM-JJ)", 2) from exc


def _has_lone_surrogate(value: object) -> bool:
    """Whether a string from JSON holds half a UTF-16 pair ("\\ud800"), which no UTF-8 text can."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _data_error(exc: OSError, settings: Settings) -> typer.Exit:
    from assistant.index.datadir import describe_os_error

    return fail(describe_os_error(exc, settings.data_dir), 2)


def search(
    query: Annotated[str, typer.Argument(help="Question ou mots-clés.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Filtrer par type de document.")] = None,
    in_force: Annotated[str | None, typer.Option("--in-force", help="Textes en vigueur à cette date.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hybrid, dense, bm25 ou rrf.")] = None,
    official: Annotated[bool, typer.Option("--officiel", help=OFFICIAL_HELP)] = False,
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
        filters = Filters(kinds=tuple(kind or ()), in_force_on=_parse_date(in_force),
                          official_only=official or settings.official_only)
        hits = get_pipeline(settings).searcher.search(query, k, filters=filters, mode=mode)  # type: ignore[arg-type]
    except (QuestionError, IndexError_) as exc:
        raise fail(exc, 2) from exc
    except OSError as exc:
        raise _data_error(exc, settings) from exc
    if as_json:
        emit_json({"query": query, "results": [h.to_json() for h in hits]})
        return
    if not hits:
        out.print("Aucun passage trouvé.")
    from assistant.wording import load_wording

    label = load_wording(settings.prompts_dir).text("answer.user_source_label")
    for n, hit in enumerate(hits, start=1):
        title = f"{hit.title} {label}" if hit.origin == "user" else hit.title
        out.print(f"[bold]{n}. {esc(title)}[/] — {esc(hit.section)}  "
                  f"[dim](score {hit.score:.3f}, {esc(hit.doc_id)})[/]")
        out.print(f"   {esc(hit.text)}\n")


def _print_answer(answer, wording) -> None:  # noqa: ANN001 - Answer, Wording
    style = "yellow" if answer.refused else "green"
    title = wording.text("answer.refused_title" if answer.refused else "answer.answer_title")
    out.print(f"[bold {style}]{esc(title)}[/]")
    out.print(esc(answer.answer))
    for notice in [n.text for n in answer.notices] + answer.problems:
        out.print(f"[italic yellow]{esc(notice)}[/]")
    if answer.citations:
        out.print(f"\n[bold]{esc(wording.text('answer.sources_title'))}[/]")
        for c in answer.citations:
            title = f"{c.title} {wording.text('answer.user_source_label')}" if c.origin == "user" else c.title
            out.print(esc(f"[{c.n}] {title} — {c.section}" + (f" — {c.source_url}" if c.source_url else "")))
            out.print(esc(f"    « {c.quote[:300]} »"))


def _ask_one(chain, item: dict, k: int | None, line: int, filters) -> dict[str, Any]:  # noqa: ANN001
    """One line of a batch: its answer, or an error row naming the line; never raises."""
    from assistant.answer.question import QuestionError
    from assistant.index.errors import IndexError_

    qid = item.get("id")
    question = item.get("question")
    try:
        if _has_lone_surrogate(item):
            raise QuestionError(f"ligne {line} : caractère invalide (moitié de paire UTF-16, « \\ud800 » par "
                                "exemple) : corrigez l'encodage de cette ligne")
        history = item.get("history") or []
        if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
            raise QuestionError(chain.wording.text("answer.history_invalid"))
        answer = chain.invoke(question, history, k=k, filters=filters)
        return replace(answer, id=qid).to_json()
    except (QuestionError, IndexError_) as exc:
        return {"id": qid, "line": line, "question": question, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - one bad line must not stop the batch
        return {"id": qid, "line": line, "question": question,
                "error": f"ligne {line} : erreur inattendue ({type(exc).__name__}), question non traitée"}


def _batch(chain, batch: Path, k: int | None, filters) -> None:  # noqa: ANN001
    try:
        lines = batch.read_bytes().decode("utf-8").splitlines()
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
            result: dict[str, Any] = {"id": None, "line": n, "error": f"ligne {n} : JSON invalide ({exc})"}
        else:
            result = _ask_one(chain, item, k, n, filters)
        emit_json(result)


def ask(
    question: Annotated[str | None, typer.Argument(help="Question en français.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON (contrat doctrine ask --json).")] = False,
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=50, help="Nombre de passages.")] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help="Fichier JSONL de questions.")] = None,
    official: Annotated[bool, typer.Option("--officiel", help=OFFICIAL_HELP)] = False,
) -> None:
    """Poser une question : réponse sourcée, ou refus motivé si les textes ne la couvrent pas."""
    from assistant.answer.question import QuestionError
    from assistant.answer.types import Filters
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    settings = Settings()
    chain = get_pipeline(settings).chain
    filters = Filters(official_only=official or settings.official_only)
    if batch is not None:
        _batch(chain, batch, k, filters)
        return
    if question is None:
        raise fail("indiquez une question, ou --batch FICHIER.jsonl", 2)
    try:
        answer = chain.invoke(question, k=k, filters=filters)
    except (QuestionError, IndexError_) as exc:
        if as_json:
            emit_json({"question": question, "error": str(exc)})
            raise typer.Exit(2) from exc
        raise fail(exc, 2) from exc
    except OSError as exc:
        raise _data_error(exc, settings) from exc
    if as_json:
        emit_json(answer.to_json())
    else:
        _print_answer(answer, chain.wording)
