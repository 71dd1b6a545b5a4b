"""Password file for the web app when it listens beyond loopback (``DOCTRINE_AUTH_FILE``).

Format: one user per line, ``user:scrypt$N$r$p$salt$hash`` (salt and hash in URL-safe base64,
no padding; hash = hashlib.scrypt(password, salt, N, r, p, dklen=32)). Blank lines and lines
starting with ``#`` are ignored. ``doctrine auth-line USER`` prints a line for a new user.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1
DKLEN = 32


class AuthFileError(ValueError):
    """The password file is missing or malformed; the message (French) says where."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=DKLEN)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def auth_line(user: str, password: str) -> str:
    """One line of the password file."""
    user = user.strip()
    if not user or ":" in user or any(ch.isspace() for ch in user):
        raise AuthFileError("identifiant invalide : ni espace ni « : »")
    if len(password) < 8:
        raise AuthFileError("mot de passe trop court (8 caractères au moins)")
    return f"{user}:{hash_password(password)}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        if scheme != SCHEME:
            return False
        expected = _unb64(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def load_auth_file(path: Path) -> dict[str, str]:
    """user -> encoded hash; raises AuthFileError when the file is unusable."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise AuthFileError(f"fichier d'authentification illisible : {path} ({exc.strerror or exc})") from exc
    users: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, encoded = line.partition(":")
        if not sep or not user or not encoded.startswith(f"{SCHEME}$") or encoded.count("$") != 5:
            raise AuthFileError(f"{path}, ligne {number} : format attendu « utilisateur:{SCHEME}$N$r$p$sel$empreinte »")
        users[user] = encoded
    if not users:
        raise AuthFileError(f"{path} ne contient aucun utilisateur")
    return users


def authenticator(path: Path) -> Callable[[str, str], bool]:
    """Gradio ``auth`` callable backed by the password file (re-read on each login)."""
    load_auth_file(path)  # fail at startup, not at first login

    def check(user: str, password: str) -> bool:
        try:
            users = load_auth_file(path)
        except AuthFileError:
            return False
        encoded = users.get(user)
        if encoded is None:
            verify_password(password, hash_password("x"))  # same cost for unknown users
            return False
        return verify_password(password, encoded)

    return check
