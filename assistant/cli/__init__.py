"""The ``doctrine`` command line (entry point ``assistant.cli:main``): one module per group of commands."""

from __future__ import annotations

from assistant.cli.app import app, main

__all__ = ["app", "main"]
