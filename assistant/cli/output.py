"""Where the CLI writes: results on stdout (``out``), messages and errors on stderr (``console``).

Two kinds of output, never mixed up:

- machine output (``--json``, ``--batch``) is written by ``emit_json`` straight to stdout, never
  through Rich: no markup, no emoji codes (« :x: » stays « :x: »), no highlighting, no wrapping;
  a string that cannot be written as UTF-8 (a lone surrogate) is escaped, never fatal;
- human output goes through Rich, with every piece of text from the corpus, the user or the
  system escaped (``esc``): a « [/] » in a passage is printed, not interpreted.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(stderr=True, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)


def esc(text: object) -> str:
    """Text shown as is by Rich (markup characters escaped)."""
    return escape(str(text))


def json_line(obj: object) -> str:
    """One JSON line; UTF-8 when it can be, ASCII escapes (still valid JSON) when it cannot."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from the input: "\ud800" stays an escape
        text = json.dumps(obj, ensure_ascii=True)
    return text


def emit_json(obj: object) -> None:
    """Write one JSON document on its own line of stdout (machine output: never through Rich)."""
    sys.stdout.write(json_line(obj) + "\n")
    sys.stdout.flush()


def fail(message: object, code: int = 1) -> typer.Exit:
    """Print ``Erreur : message`` on stderr (never read as markup) and return the exit to raise."""
    console.print(f"[bold red]Erreur :[/] {esc(message)}")
    return typer.Exit(code)


def _files_table(title: str, style: str, items: list) -> None:  # noqa: ANN001
    if not items:
        return
    table = Table(title=title, title_style=style)
    table.add_column("Fichier")
    table.add_column("Raison" if style == "bold yellow" else "Remarque")
    for item in items:
        table.add_row(esc(item.path), esc(item.reason))
    console.print(table)


def print_skipped(skipped: list) -> None:  # noqa: ANN001 - list of index.documents.Skipped
    _files_table("Fichiers ignorés", "bold yellow", skipped)


def print_warnings(warnings: list) -> None:  # noqa: ANN001 - list of index.documents.Skipped
    _files_table("Fichiers lus, à vérifier", "yellow", warnings)


def index_failure(exc: Exception, settings: object) -> typer.Exit:
    """The exit for an error of the index layer or of the file system, with its French message.

    Exit code 2 for what the user must fix (folders, rights, a refused deletion), 1 otherwise.
    """
    from assistant.index.datadir import describe_os_error
    from assistant.index.errors import CorpusError, DataDirError, TooManyDeletions

    if isinstance(exc, OSError):
        exc = describe_os_error(exc, settings.data_dir)  # type: ignore[attr-defined]
    return fail(exc, 2 if isinstance(exc, CorpusError | DataDirError | TooManyDeletions) else 1)
