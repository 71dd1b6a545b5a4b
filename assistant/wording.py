"""The French wording of the assistant, as data: one catalogue, loaded here and nowhere else.

``prompts/wording/*.yaml`` holds every fixed sentence users read: ``answer.yaml`` (answers,
refusals, notices, citation checks, question errors), ``draft.yaml`` (drafts and their Markdown/DOCX
exports, conversation exports) and ``ui.yaml`` (the web app). A key is the file name then the path
inside it: ``text("answer.refused")``, ``text("ui.chat.send")``, ``mapping("ui.kind_labels")``.
Placeholders in braces are filled by ``text(key, name=value)``.

The LLM prompts (``prompts/*.md``) are read here too (``load_prompt``); the drafting paragraph
templates (``prompts/drafting/*.j2``) are Jinja files rendered by the drafter.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from assistant.config import PROJECT_ROOT

WORDING_FOLDER = "wording"
DEFAULT_PROMPTS_DIR = PROJECT_ROOT / "prompts"


class WordingError(KeyError):
    """A key missing from the catalogue, or of another type than asked (a bug, not a user error)."""


@lru_cache(maxsize=64)
def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_prompt(prompts_dir: Path, name: str) -> str:
    path = prompts_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"gabarit introuvable : {path}")
    return _read(str(path))


class Wording:
    """The catalogue, one mapping per file of ``prompts/wording/``."""

    def __init__(self, files: Mapping[str, Mapping[str, Any]], folder: Path) -> None:
        self.files = files
        self.folder = folder

    def _get(self, key: str) -> Any:
        node: Any = self.files
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise WordingError(f"{key} : absent de {self.folder}")
            node = node[part]
        return node

    def text(self, key: str, **values: object) -> str:
        """One sentence; ``values`` fill its ``{placeholders}`` (a literal brace is written twice)."""
        value = self._get(key)
        if not isinstance(value, str):
            raise WordingError(f"{key} : texte attendu dans {self.folder}")
        try:
            return value.format(**values)
        except (KeyError, IndexError) as exc:
            raise WordingError(f"{key} : valeur manquante pour {exc} dans {self.folder}") from exc

    def texts(self, key: str) -> list[str]:
        """A list of sentences (examples, column headers...)."""
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise WordingError(f"{key} : liste de textes attendue dans {self.folder}")
        return list(value)

    def mapping(self, key: str) -> dict[str, Any]:
        """A group of entries (labels by identifier, a section of the catalogue...)."""
        value = self._get(key)
        if not isinstance(value, Mapping):
            raise WordingError(f"{key} : groupe d'entrées attendu dans {self.folder}")
        return dict(value)


@lru_cache(maxsize=8)
def _load(folder: str, stamp: tuple[tuple[str, int], ...]) -> Wording:  # noqa: ARG001 - stamp is the cache key
    files = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise WordingError(f"{path} : un dictionnaire est attendu")
        files[path.stem] = data
    return Wording(files, Path(folder))


def load_wording(prompts_dir: Path | None = None) -> Wording:
    """The catalogue of ``prompts_dir`` (default: the project's ``prompts/``); reloaded when a file changes."""
    folder = (prompts_dir or DEFAULT_PROMPTS_DIR) / WORDING_FOLDER
    if not folder.is_dir():
        raise FileNotFoundError(f"catalogue des textes introuvable : {folder}")
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.yaml")))
    return _load(str(folder), stamp)
