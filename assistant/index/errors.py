"""Errors of the index layer, raised by the store, the snapshots and the Chroma client alike."""

from __future__ import annotations


class IndexError_(RuntimeError):
    """The index is missing, built with other settings, or unreadable: the message says what to do."""


class DenseUnavailable(RuntimeError):
    """Chroma could not answer (e.g. a concurrent writer in another process): BM25 still can."""
