"""Prompt and message files from ``prompts/``: prose lives there as data, not in the code."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml


@lru_cache(maxsize=64)
def _read(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def load_prompt(prompts_dir: Path, name: str) -> str:
    path = prompts_dir / name
    if not path.is_file():
        raise FileNotFoundError(f"gabarit introuvable : {path}")
    return _read(str(path))


@lru_cache(maxsize=8)
def _messages(path: str) -> dict[str, str]:
    data = yaml.safe_load(_read(path)) or {}
    return {str(k): str(v) for k, v in data.items()}


def messages(prompts_dir: Path) -> dict[str, str]:
    """The fixed French phrases (``prompts/messages.yaml``)."""
    return _messages(str(prompts_dir / "messages.yaml"))
