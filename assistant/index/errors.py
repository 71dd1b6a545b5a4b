"""Errors of the index layer, raised by the store, the snapshots and the Chroma client alike."""

from __future__ import annotations


class IndexError_(RuntimeError):
    """The index is missing, built with other settings, or unreadable: the message says what to do."""


class CorpusError(IndexError_):
    """The knowledge folder is missing or holds no valid document: indexing it would empty the index."""


class TooManyDeletions(IndexError_):
    """A run would remove more than ``max_delete_share`` of the indexed passages (``--force`` allows it)."""


class DataDirError(IndexError_):
    """The data folder cannot be used (a regular file on its path, no permission to write)."""


class IngestLimit(IndexError_):
    """An upload ran past its time budget: nothing was committed and its files were not kept."""


class DenseUnavailable(RuntimeError):
    """Chroma could not answer (e.g. a concurrent writer in another process): BM25 still can."""
