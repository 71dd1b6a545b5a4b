"""``doctrine serve`` (the web app) and ``doctrine auth-line`` (a line of the password file)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from assistant.cli.output import console, fail
from assistant.config import Settings

AUTH_ENV = "DOCTRINE_AUTH_FILE"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: Annotated[str, typer.Option("--host", help="Adresse d'écoute (127.0.0.1 : ce poste seulement).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port HTTP.")] = 7860,
    no_auth: Annotated[bool, typer.Option(
        "--no-auth", help="Écouter au-delà de ce poste sans mot de passe (déconseillé).")] = False,
    auth_file: Annotated[Path | None, typer.Option(
        "--auth-file", envvar=AUTH_ENV,
        help="Fichier des utilisateurs (lignes « utilisateur:scrypt$… », voir « doctrine auth-line »).")] = None,
) -> None:
    """Lancer l'application web (chat sourcé, rédaction, sources, qualité)."""
    from assistant.ui.auth import AuthFileError, authenticator

    settings = Settings()
    auth = None
    if auth_file is not None:
        try:
            auth = authenticator(auth_file)
        except AuthFileError as exc:
            raise fail(exc, 2) from exc
    elif not is_loopback(host) and not no_auth:
        console.print(
            f"[bold red]Erreur :[/] écouter sur {escape(host)} rend l'application accessible depuis le réseau : "
            f"indiquez un fichier d'utilisateurs ({AUTH_ENV} ou --auth-file, lignes créées par "
            "« doctrine auth-line UTILISATEUR »), ou --no-auth pour l'autoriser sans mot de passe."
        )
        raise typer.Exit(2)
    elif not is_loopback(host):
        console.print(f"[yellow]Attention :[/] application accessible sans mot de passe depuis le réseau ({escape(host)}).")
    from assistant.ui.app import launch

    warm_up(settings)
    console.print(f"Doctrine : http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")
    launch(settings, host=host, port=port, auth=auth)


WARM_UP_QUESTION = "Dans quel ordre examiner les options avant d'acheter une solution numérique ?"


def warm_up(settings: Settings) -> bool:
    """Open the index snapshot, Chroma and the embedding model, and answer one question, before the
    port opens: the first questions then find everything ready instead of racing to open the store.

    An index that cannot be opened is reported and the app still starts (its pages say what to do).
    """
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    console.print("Chargement de l'index et du modèle…")
    pipeline = get_pipeline(settings)
    try:
        pipeline.reader.snapshot()
        pipeline.reader.collection()
        pipeline.chain.invoke(WARM_UP_QUESTION)
    except (IndexError_, OSError) as exc:
        console.print(f"[yellow]Attention :[/] index indisponible : {escape(str(exc))}", highlight=False)
        return False
    return True


def auth_line(
    user: Annotated[str, typer.Argument(help="Identifiant de l'utilisateur.")],
    password: Annotated[str | None, typer.Option(
        "--password", help="Mot de passe (sinon demandé sans écho ; ou variable DOCTRINE_PASSWORD).",
        envvar="DOCTRINE_PASSWORD")] = None,
) -> None:
    """Afficher une ligne « utilisateur:empreinte » à ajouter au fichier DOCTRINE_AUTH_FILE."""
    from assistant.ui.auth import AuthFileError
    from assistant.ui.auth import auth_line as make_line

    if password is None:
        password = typer.prompt("Mot de passe", hide_input=True, confirmation_prompt=True)
    try:
        print(make_line(user, password))
    except AuthFileError as exc:
        raise fail(exc, 2) from exc


__all__ = ["auth_line", "is_loopback", "serve"]
