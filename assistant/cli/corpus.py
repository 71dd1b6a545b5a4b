"""``doctrine index``, ``doctrine ingest``, ``doctrine sources`` and ``doctrine uploads``: build the index,
add files, list documents, list and remove the files users added."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.output import (
    console,
    emit_json,
    esc,
    fail,
    index_failure,
    out,
    print_skipped,
    print_warnings,
)
from assistant.cli.progress import progress_bar, stage_callback
from assistant.config import Settings


def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Tout reconstruire depuis zéro.")] = False,
    force: Annotated[bool, typer.Option(
        "--force", help="Autoriser le retrait d'une grande part du corpus indexé (DOCTRINE_MAX_DELETE_SHARE).")] = False,
) -> None:
    """Indexer (ou mettre à jour) le corpus : knowledge/ et fichiers ajoutés."""
    from assistant.index.errors import IndexError_
    from assistant.index.ingest import run_index  # looked up at call time (tests/test_reliability.py)

    settings = Settings()
    try:
        with progress_bar() as bar:
            run = run_index(settings, rebuild=rebuild, force=force, progress=stage_callback(bar))
    except (IndexError_, OSError) as exc:
        raise index_failure(exc, settings) from exc
    stats = run.stats
    if stats.message:
        console.print(f"[yellow]{esc(stats.message)}[/]")
    print_skipped(run.skipped)
    print_warnings(run.warnings)
    console.print(
        f"[green]Index prêt[/] ({stats.generation}) : {stats.documents} documents, {stats.passages} passages "
        f"({stats.added} nouveaux, {stats.reused} réutilisés, {stats.removed} supprimés), "
        f"{len(run.skipped)} fichier(s) ignoré(s), {stats.seconds:.1f} s."
    )


def ingest(files: Annotated[list[Path], typer.Argument(help="Fichiers PDF, DOCX, HTML, Markdown ou texte.")]) -> None:
    """Ajouter des fichiers de l'utilisateur au corpus et mettre l'index à jour."""
    from assistant.index.errors import IndexError_
    from assistant.index.ingest import ingest_files

    settings = Settings()
    try:
        with progress_bar() as bar:
            result = ingest_files(settings, files, progress=stage_callback(bar))
    except (IndexError_, OSError) as exc:
        raise index_failure(exc, settings) from exc
    print_skipped(result.skipped)
    print_warnings(result.warnings)
    if result.added:
        console.print(f"[green]{len(result.added)} fichier(s) ajouté(s)[/] : {esc(', '.join(result.added))}")
    if result.stats:
        console.print(f"Index {result.stats.generation} : {result.stats.passages} passages.")
    if not result.added:
        raise typer.Exit(1)


def sources(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Lister les documents indexés."""
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    settings = Settings()
    try:
        snap = get_pipeline(settings).reader.snapshot()
    except (IndexError_, OSError) as exc:
        raise index_failure(exc, settings) from exc
    counts: dict[str, int] = {}
    for p in snap.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    docs = [meta | {"passages": counts.get(doc_id, 0)} for doc_id, meta in snap.docs.items()]
    if as_json:
        emit_json({"generation": snap.generation, "documents": docs})
        return
    table = Table(title=f"Documents indexés ({len(docs)}, index {snap.generation})")
    for col in ("Identifiant", "Type", "Date", "Passages", "Titre"):
        table.add_column(col)
    for d in docs:
        table.add_row(esc(d["doc_id"]), esc(d["kind"]), esc(d.get("date") or ""), str(d["passages"]), esc(d["title"]))
    out.print(table)


# ---------------------------------------------------------------- doctrine uploads (administration)

uploads_app = typer.Typer(
    no_args_is_help=True,
    help="Administrer les fichiers ajoutés par les utilisateurs (lister, retirer).",
)


@uploads_app.command("list")
def uploads_list(as_json: Annotated[bool, typer.Option("--json", help="Sortie JSON.")] = False) -> None:
    """Lister les fichiers ajoutés : nom stocké, nom d'origine, identifiant, taille, passages indexés."""
    from assistant.index.ingest import committed_passages
    from assistant.index.uploads import list_uploads

    settings = Settings()
    try:
        rows = list_uploads(settings, committed_passages(settings))
    except OSError as exc:
        raise index_failure(exc, settings) from exc
    if as_json:
        emit_json({"uploads": [r.to_json() for r in rows]})
        return
    if not rows:
        out.print(f"Aucun fichier ajouté ({esc(settings.uploads_dir)}).")
        return
    table = Table(title=f"Fichiers ajoutés ({len(rows)}, {esc(settings.uploads_dir)})")
    for col in ("Nom stocké", "Nom d'origine", "Identifiant", "Taille", "Ajouté le", "Passages"):
        table.add_column(col, no_wrap=col == "Nom stocké")
    for r in rows:
        when = datetime.fromtimestamp(r.modified).strftime("%Y-%m-%d %H:%M")
        table.add_row(esc(r.stored), esc(r.name), esc(r.doc_id), f"{r.size / 1000:.1f} ko", when,
                      "non indexé" if r.passages is None else str(r.passages))
    out.print(table)


@uploads_app.command("remove")
def uploads_remove(
    name: Annotated[str, typer.Argument(help="Nom stocké, identifiant (user-…) ou nom d'origine s'il est unique.")],
) -> None:
    """Retirer un fichier ajouté et mettre l'index à jour (le fichier est supprimé)."""
    from assistant.index.errors import IndexError_
    from assistant.index.ingest import remove_upload
    from assistant.index.uploads import UploadNotFound

    settings = Settings()
    try:
        removal = remove_upload(settings, name)
    except UploadNotFound as exc:
        raise fail(exc, 2) from exc
    except (IndexError_, OSError) as exc:
        raise index_failure(exc, settings) from exc
    console.print(f"[green]Fichier retiré[/] : {esc(removal.removed)} ; index {removal.stats.generation} : "
                  f"{removal.stats.passages} passages ({removal.stats.removed} retirés).")
