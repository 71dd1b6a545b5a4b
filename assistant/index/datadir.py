"""The data folder (index, uploads): checked before use, so that a bad path gives advice, not a traceback.

Two faults are common and were reported as tracebacks or wrong advice: a ``DOCTRINE_DATA_DIR``
under a regular file (a typo, a file named like the folder), and a folder the process may not
write to (read-only mount, another user's folder). Embedded Chroma writes even to answer, so
readers need write access to the index folder too.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from assistant.index.errors import DataDirError

ENV = "DOCTRINE_DATA_DIR"


def _regular_file_on_path(path: Path) -> Path | None:
    """The first component of ``path`` that exists and is not a folder (None when there is none)."""
    current = Path(os.path.abspath(path))
    for candidate in [*reversed(current.parents), current]:
        if candidate.exists() and not candidate.is_dir():
            return candidate
    return None


def _deepest_existing(path: Path) -> Path:
    current = Path(os.path.abspath(path))
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def writable(folder: Path) -> bool:
    """Whether this process can create a file in ``folder`` (tried, not guessed from the mode bits)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".doctrine-write-check-")
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


def check_data_dir(data_dir: Path, *, write: bool) -> None:
    """Raise ``DataDirError`` (French, naming the path) when ``data_dir`` cannot be used.

    ``write``: the folder (or the first existing folder above it, where it will be created) must
    accept new files.
    """
    blocker = _regular_file_on_path(data_dir)
    if blocker is not None:
        raise DataDirError(
            f"dossier de données inutilisable : « {blocker} » est un fichier, pas un dossier "
            f"({ENV}={data_dir}) ; indiquez un dossier"
        )
    if write:
        for folder in (data_dir / "index", data_dir / "uploads", data_dir):
            if folder.is_dir() and not writable(folder):
                raise read_only(folder, data_dir)
        existing = _deepest_existing(data_dir)
        if not writable(existing):
            raise read_only(existing, data_dir)


def read_only(folder: Path, data_dir: Path) -> DataDirError:
    return DataDirError(
        f"dossier de données en lecture seule : impossible d'écrire dans « {folder} » ({ENV}={data_dir}) ; "
        "donnez les droits d'écriture à l'utilisateur qui lance Doctrine, ou choisissez un autre dossier"
    )


def describe_os_error(exc: OSError, data_dir: Path) -> DataDirError:
    """A French message for a file-system error met while using the data folder."""
    where = exc.filename or data_dir
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return DataDirError(
            f"droits insuffisants sur « {where} » ({exc.strerror}) : le dossier de données ({ENV}={data_dir}) "
            "doit être accessible en écriture à l'utilisateur qui lance Doctrine"
        )
    if exc.errno == errno.ENOTDIR:
        blocker = _regular_file_on_path(data_dir)
        return DataDirError(
            f"dossier de données inutilisable : « {blocker or where} » est un fichier, pas un dossier ({ENV}={data_dir})"
        )
    if exc.errno == errno.ENOSPC:
        return DataDirError(f"disque plein : impossible d'écrire dans « {where} » ({ENV}={data_dir})")
    return DataDirError(f"erreur d'accès à « {where} » : {exc.strerror or exc} ({ENV}={data_dir})")
