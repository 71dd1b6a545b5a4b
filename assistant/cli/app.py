"""The ``doctrine`` Typer application: every command, registered from its module."""

from __future__ import annotations

import sys

import typer

import assistant  # noqa: F401 - sets the offline environment first
from assistant.cli.ask import ask, search
from assistant.cli.corpus import index, ingest, sources, uploads_app
from assistant.cli.draft import draft
from assistant.cli.eval import eval_command
from assistant.cli.output import console
from assistant.cli.serve import auth_line, serve

app = typer.Typer(
    add_completion=False, no_args_is_help=True,
    help="Doctrine : assistant hors ligne pour la doctrine d'achat numérique de l'État.",
)
for name, command in (
    ("index", index), ("ingest", ingest), ("search", search), ("sources", sources), ("ask", ask),
    ("draft", draft), ("eval", eval_command), ("serve", serve), ("auth-line", auth_line),
):
    app.command(name=name)(command)
app.add_typer(uploads_app, name="uploads")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - interactive
        console.print("Interrompu.")
        sys.exit(130)
