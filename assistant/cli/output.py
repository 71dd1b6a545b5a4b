"""Where the CLI writes: results on stdout (``out``), messages and errors on stderr (``console``)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(stderr=True, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def fail(message: object, code: int = 1) -> typer.Exit:
    """Print ``Erreur : message`` on stderr (never read as markup) and return the exit to raise."""
    console.print(f"[bold red]Erreur :[/] {escape(str(message))}")
    return typer.Exit(code)


def print_skipped(skipped: list) -> None:  # noqa: ANN001 - list of index.documents.Skipped
    if not skipped:
        return
    table = Table(title="Fichiers ignorés", title_style="bold yellow")
    table.add_column("Fichier")
    table.add_column("Raison")
    for item in skipped:
        table.add_row(str(item.path), item.reason)
    console.print(table)
