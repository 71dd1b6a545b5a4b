"""Where the app writes files for download (exports, drafts): a fresh folder per request."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

ROOT_NAME = "doctrine-app"


def session_dir(kind: str) -> Path:
    """A new private folder under the system temp dir (which Gradio is allowed to serve from)."""
    folder = Path(tempfile.gettempdir()) / ROOT_NAME / kind / uuid.uuid4().hex
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder
