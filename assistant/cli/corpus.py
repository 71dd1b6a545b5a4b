"""``doctrine index``, ``doctrine ingest`` and ``doctrine sources``: build the index, add files, list documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.output import console, fail, out, print_skipped
from assistant.cli.progress import progress_bar, stage_callback
from assistant.config import Settings


def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Tout reconstruire depuis zéro.")] = False,
) -> None:
    """Indexer (ou mettre à jour) le corpus : knowledge/ et fichiers ajoutés."""
    from assistant.index.errors import IndexError_
    from assistant.index.ingest import run_index  # looked up at call time (tests/test_reliability.py)

    settings = Settings()
    try:
        with progress_bar() as bar:
            run = run_index(settings, rebuild=rebuild, progress=stage_callback(bar))
    except IndexError_ as exc:
        raise fail(exc) from exc
    stats = run.stats
    if stats.message:
        console.print(f"[yellow]{stats.message}[/]")
    print_skipped(run.skipped)
    console.print(
        f"[green]Index prêt[/] ({stats.generation}) : {stats.documents} documents, {stats.passages} passages "
        f"({stats.added} nouveaux, {stats.reused} réutilisés, {stats.removed} supprimés), "
        f"{len(run.skipped)} fichier(s) ignoré(s), {stats.seconds:.1f} s."
    )


def ingest(files: Annotated[list[Path], typer.Argument(help="Fichiers PDF, DOCX, HTML, Markdown ou texte.")]) -> None:
    """Ajouter des fichiers de l'utilisateur au corpus et mettre l'index à jour."""
    from assistant.index.ingest import ingest_files

    settings = Settings()
    with progress_bar() as bar:
        result = ingest_files(settings, files, progress=stage_callback(bar))
    print_skipped(result.skipped)
    if result.added:
        console.print(f"[green]{len(result.added)} fichier(s) ajouté(s)[/] : {', '.join(result.added)}")
    if result.stats:
        console.print(f"Index {result.stats.generation} : {result.stats.passages} passages.")
    if not result.added:
        raise typer.Exit(1)


def sources(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lister les documents indexés."""
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    try:
        snap = get_pipeline(Settings()).reader.snapshot()
    except IndexError_ as exc:
        raise fail(exc) from exc
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
