"""Doctrine: offline assistant for the French State's digital purchasing doctrine.

Importing the package sets the offline, no-telemetry environment before any library that
could reach the network (huggingface, gradio, chroma) is loaded.
"""

from __future__ import annotations

from assistant.config import apply_offline_env

apply_offline_env()

__version__ = "0.1.0"
