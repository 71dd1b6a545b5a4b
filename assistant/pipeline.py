"""The one place that builds the pipeline: settings -> index reader -> searcher -> chain -> drafter."""

from __future__ import annotations

import threading
from functools import cached_property
from typing import TYPE_CHECKING

from assistant.answer.chain import AnswerChain
from assistant.answer.generators import LLMGenerator
from assistant.answer.retrieval import Searcher
from assistant.config import Settings
from assistant.index.store import IndexReader

if TYPE_CHECKING:
    from assistant.draft.drafter import Drafter


class Pipeline:
    """Shared, thread-safe components; heavy objects are built on first use and kept."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = IndexReader(settings)

    @cached_property
    def searcher(self) -> Searcher:
        return Searcher(self.settings, self.reader)

    @cached_property
    def llm(self) -> LLMGenerator | None:
        return LLMGenerator(self.settings) if self.settings.llm_enabled else None

    @cached_property
    def chain(self) -> AnswerChain:
        from assistant.draft.chat import chat_chain

        return chat_chain(self.settings, self.searcher, self.llm, self.drafter)

    @cached_property
    def drafter(self) -> Drafter:
        from assistant.draft.drafter import Drafter

        return Drafter(self.settings, self.searcher, self.llm)


_pipelines: dict[str, Pipeline] = {}
_lock = threading.Lock()


def get_pipeline(settings: Settings | None = None) -> Pipeline:
    """One pipeline per distinct configuration per process (models and index loaded once)."""
    settings = settings or Settings()
    key = settings.model_dump_json()
    with _lock:
        if key not in _pipelines:
            _pipelines[key] = Pipeline(settings)
        return _pipelines[key]
