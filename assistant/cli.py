"""The ``doctrine`` command line: index, ingest, search, sources, ask, draft, eval, serve."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import assistant  # noqa: F401 - sets the offline environment first
from assistant.config import Settings

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Doctrine : assistant hors ligne pour la doctrine d'achat numérique de l'État.",
)
console = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)


def _settings() -> Settings:
    return Settings()


def _fail(message: str, code: int = 1) -> typer.Exit:
    console.print(f"[bold red]Erreur :[/] {message}")
    return typer.Exit(code)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold blue]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False,
    )


def _progress_callback(bar: Progress):  # noqa: ANN202
    tasks: dict[str, int] = {}
    labels = {"embed": "Calcul des embeddings"}

    def callback(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(labels.get(stage, stage), total=max(total, 1))
        bar.update(tasks[stage], completed=done if total else 1, total=max(total, 1))

    return callback


def _print_skipped(skipped: list) -> None:  # noqa: ANN001
    if not skipped:
        return
    table = Table(title="Fichiers ignorés", title_style="bold yellow")
    table.add_column("Fichier")
    table.add_column("Raison")
    for item in skipped:
        table.add_row(str(item.path), item.reason)
    console.print(table)


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Tout reconstruire depuis zéro.")] = False,
) -> None:
    """Indexer (ou mettre à jour) le corpus : knowledge/ et fichiers ajoutés."""
    from assistant.indexing import run_index
    from assistant.store import IndexError_

    settings = _settings()
    try:
        with _progress_bar() as bar:
            run = run_index(settings, rebuild=rebuild, progress=_progress_callback(bar))
    except IndexError_ as exc:
        raise _fail(str(exc)) from exc
    stats = run.stats
    if stats.message:
        console.print(f"[yellow]{stats.message}[/]")
    _print_skipped(run.skipped)
    console.print(
        f"[green]Index prêt[/] ({stats.generation}) : {stats.documents} documents, {stats.passages} passages "
        f"({stats.added} nouveaux, {stats.reused} réutilisés, {stats.removed} supprimés), "
        f"{len(run.skipped)} fichier(s) ignoré(s), {stats.seconds:.1f} s."
    )


@app.command()
def ingest(files: Annotated[list[Path], typer.Argument(help="Fichiers PDF, DOCX, HTML, Markdown ou texte.")]) -> None:
    """Ajouter des fichiers de l'utilisateur au corpus et mettre l'index à jour."""
    from assistant.indexing import ingest_files

    settings = _settings()
    with _progress_bar() as bar:
        result = ingest_files(settings, files, progress=_progress_callback(bar))
    _print_skipped(result.skipped)
    if result.added:
        console.print(f"[green]{len(result.added)} fichier(s) ajouté(s)[/] : {', '.join(result.added)}")
    if result.stats:
        console.print(f"Index {result.stats.generation} : {result.stats.passages} passages.")
    if not result.added:
        raise typer.Exit(1)


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise _fail(f"date invalide « {value} » (format attendu AAAA-MM-JJ)", 2) from exc


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Question ou mots-clés.")],
    k: Annotated[int, typer.Option("-k", "--k", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False,
    kind: Annotated[list[str] | None, typer.Option("--kind", help="Filtrer par type de document.")] = None,
    in_force: Annotated[str | None, typer.Option("--in-force", help="Textes en vigueur à cette date.")] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="hybrid, dense, bm25 ou rrf.")] = None,
) -> None:
    """Rechercher les passages les plus pertinents du corpus."""
    from assistant.pipeline import get_pipeline
    from assistant.retrieval import Filters
    from assistant.store import IndexError_
    from assistant.validation import QuestionError, check_question

    settings = _settings()
    try:
        check_question(query, settings.max_question_chars)
        if mode and mode not in ("hybrid", "dense", "bm25", "rrf"):
            raise _fail(f"mode inconnu « {mode} » (hybrid, dense, bm25, rrf)", 2)
        filters = Filters(kinds=tuple(kind or ()), in_force_on=_parse_date(in_force))
        hits = get_pipeline(settings).searcher.search(query, k, filters=filters, mode=mode)  # type: ignore[arg-type]
    except (QuestionError, IndexError_) as exc:
        raise _fail(str(exc), 2) from exc
    if as_json:
        out.print_json(json.dumps({"query": query, "results": [h.to_json() for h in hits]}, ensure_ascii=False))
        return
    if not hits:
        out.print("Aucun passage trouvé.")
    for n, hit in enumerate(hits, start=1):
        out.print(f"[bold]{n}. {hit.title}[/] — {hit.section}  [dim](score {hit.score:.3f}, {hit.doc_id})[/]")
        out.print(f"   {hit.text}\n")


@app.command()
def sources(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lister les documents indexés."""
    from assistant.pipeline import get_pipeline
    from assistant.store import IndexError_

    try:
        snap = get_pipeline(_settings()).reader.snapshot()
    except IndexError_ as exc:
        raise _fail(str(exc)) from exc
    counts: dict[str, int] = {}
    for p in snap.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    docs = [meta | {"passages": counts.get(doc_id, 0)} for doc_id, meta in snap.docs.items()]
    if as_json:
        out.print_json(json.dumps({"generation": snap.generation, "documents": docs}, ensure_ascii=False))
        return
    table = Table(title=f"Documents indexés ({len(docs)}, index {snap.generation})")
    for col in ("Identifiant", "Type", "Date", "Passages", "Titre"):
        table.add_column(col)
    for d in docs:
        table.add_row(d["doc_id"], d["kind"], d.get("date") or "", str(d["passages"]), d["title"])
    out.print(table)


def _print_answer(answer) -> None:  # noqa: ANN001
    style = "yellow" if answer.refused else "green"
    out.print(f"[bold {style}]{'Non couvert par les textes indexés' if answer.refused else 'Réponse'}[/]")
    out.print(answer.answer)
    for notice in answer.notices + answer.problems:
        out.print(f"[italic yellow]{notice}[/]")
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            out.print(f"[{c.n}] {c.title} — {c.section}" + (f" — {c.source_url}" if c.source_url else ""))
            out.print(f"    « {c.quote[:300]} »")


def _ask_one(chain, item: dict, k: int | None) -> dict:  # noqa: ANN001
    from assistant.store import IndexError_
    from assistant.validation import QuestionError

    qid = item.get("id")
    try:
        history = item.get("history") or []
        if not isinstance(history, list) or not all(isinstance(t, dict) for t in history):
            raise QuestionError("« history » doit être une liste d'objets {role, content}.")
        answer = chain.invoke(item.get("question"), history, k=k)
        answer.id = qid
        return answer.to_json()
    except (QuestionError, IndexError_) as exc:
        return {"id": qid, "question": item.get("question"), "error": str(exc)}


@app.command()
def ask(
    question: Annotated[str | None, typer.Argument(help="Question en français.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON (contrat doctrine ask --json).")] = False,
    k: Annotated[int | None, typer.Option("-k", "--k", min=1, max=50, help="Nombre de passages.")] = None,
    batch: Annotated[Path | None, typer.Option("--batch", help="Fichier JSONL de questions.")] = None,
) -> None:
    """Poser une question : réponse sourcée, ou refus motivé si les textes ne la couvrent pas."""
    from assistant.pipeline import get_pipeline
    from assistant.store import IndexError_
    from assistant.validation import QuestionError

    settings = _settings()
    chain = get_pipeline(settings).chain
    if batch is not None:
        try:
            lines = batch.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"lecture impossible de {batch} : {exc}", 2) from exc
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
        raise _fail("indiquez une question, ou --batch FICHIER.jsonl", 2)
    try:
        answer = chain.invoke(question, k=k)
    except (QuestionError, IndexError_) as exc:
        if as_json:
            out.print(json.dumps({"question": question, "error": str(exc)}, ensure_ascii=False), markup=False)
            raise typer.Exit(2) from exc
        raise _fail(str(exc), 2) from exc
    if as_json:
        out.print(json.dumps(answer.to_json(), ensure_ascii=False), markup=False, highlight=False)
    else:
        _print_answer(answer)


def _register_commands() -> None:
    from assistant.commands.draft import draft as draft_command
    from assistant.commands.eval import eval_command
    from assistant.commands.serve import auth_line
    from assistant.commands.serve import serve as serve_command

    app.command(name="draft")(draft_command)
    app.command(name="eval")(eval_command)
    app.command(name="serve")(serve_command)
    app.command(name="auth-line")(auth_line)


_register_commands()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        console.print("Interrompu.")
        sys.exit(130)
