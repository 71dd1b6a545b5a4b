"""``doctrine draft``: write the justification draft for a purchase described in a YAML/JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.output import console, fail

FORMATS = ("md", "docx", "json")


def draft(
    input: Annotated[Path, typer.Option("--input", "-i", help="Fichier YAML ou JSON décrivant l'achat.")],  # noqa: A002
    format: Annotated[str, typer.Option("--format", "-f", help="md, docx ou json.")] = "md",  # noqa: A002
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier à écrire (obligatoire pour docx).")] = None,
    no_llm: Annotated[bool, typer.Option("--no-llm", help="Gabarits seuls, même si un LLM est configuré.")] = False,
) -> None:
    """Rédiger la justification du choix (voie retenue, objectifs de la doctrine), sourcée."""
    from assistant.config import Settings
    from assistant.draft.catalogue import CatalogError
    from assistant.draft.drafter import DraftInputError, load_request
    from assistant.draft.export import draft_to_docx, draft_to_markdown
    from assistant.fileio import atomic_write_text
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    fmt = format.lower().lstrip(".")
    if fmt not in FORMATS:
        raise fail(f"format inconnu « {format} » ; formats valides : {', '.join(FORMATS)}", 2)
    if fmt == "docx" and output is None:
        raise fail("le format docx exige un fichier de sortie : -o FICHIER.docx", 2)
    try:
        request = load_request(input)
    except DraftInputError as exc:
        raise fail(exc, 2) from exc
    settings = Settings()
    try:
        result = get_pipeline(settings).drafter.draft(request, use_llm=not no_llm)
    except (IndexError_, CatalogError, FileNotFoundError) as exc:
        raise fail(exc, 2) from exc
    for notice in result.notices:
        console.print(notice, style="italic yellow", markup=False, highlight=False)
    try:
        if fmt == "docx":
            assert output is not None
            draft_to_docx(result, output, prompts_dir=settings.prompts_dir)
            console.print(f"Projet écrit dans {output}", style="green", markup=False, highlight=False)
            return
        text = (
            json.dumps(result.to_json(), ensure_ascii=False, indent=2) if fmt == "json"
            else draft_to_markdown(result, prompts_dir=settings.prompts_dir)
        )
        if output is None:
            print(text)
        else:
            output.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(output, text + ("\n" if not text.endswith("\n") else ""))
            console.print(f"Projet écrit dans {output}", style="green", markup=False, highlight=False)
    except OSError as exc:
        raise fail(f"écriture impossible de {output} : {exc}", 2) from exc
