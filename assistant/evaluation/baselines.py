"""The naive LangChain pipeline every report compares against.

What a team would build in an afternoon: the knowledge documents split by
``RecursiveCharacterTextSplitter`` (1000 characters, overlap 200), a temporary Chroma store with
our embeddings, ``similarity_search`` k=4, the same extractive generator, and no evidence gate.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from assistant.answer.citations import check_answer
from assistant.answer.generators import ExtractiveGenerator
from assistant.answer.types import Hit
from assistant.config import Settings
from assistant.evaluation.cases import EvalCase
from assistant.evaluation.metrics import RETRIEVAL_DEPTH
from assistant.evaluation.records import SystemOutput
from assistant.index.documents import load_knowledge, split_front_matter

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4


class NaiveLangChainSystem:
    name = "langchain"
    label = "LangChain naïf (découpage 1000/200, Chroma k=4, sans garde-fou)"

    def __init__(self, settings: Settings) -> None:
        import chromadb
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from assistant.index.embeddings import get_embeddings

        t0 = time.perf_counter()
        self.settings = settings
        self.generator = ExtractiveGenerator(settings)
        documents = []
        for doc in load_knowledge(settings.knowledge_dir).documents:
            _, body = split_front_matter(Path(doc.path).read_text(encoding="utf-8"), doc.path)
            documents.append(Document(page_content=body, metadata={
                "doc_id": doc.doc_id, "title": doc.title, "kind": doc.kind, "source_url": doc.source_url,
                "date": doc.date.isoformat() if doc.date else "", "confidence": doc.confidence,
            }))
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
        chunks = splitter.split_documents(documents)
        self.chunks = len(chunks)
        self._dir = tempfile.mkdtemp(prefix="doctrine-eval-chroma-")
        self.store = Chroma(
            collection_name=f"naive-{uuid.uuid4().hex[:8]}",
            embedding_function=get_embeddings(settings.embedding),
            persist_directory=self._dir,
            client_settings=chromadb.config.Settings(anonymized_telemetry=False, is_persistent=True,
                                                     persist_directory=self._dir),
        )
        if chunks:
            self.store.add_documents(chunks, ids=[f"lc{i:05d}" for i in range(len(chunks))])
        self.setup_s = time.perf_counter() - t0

    def _hits(self, query: str, k: int) -> list[Hit]:
        docs = self.store.similarity_search(query, k=k)
        hits = []
        for rank, doc in enumerate(docs):
            meta = doc.metadata
            hits.append(Hit.from_meta(
                meta, chunk_id=str(doc.id or f"lc{rank}"), doc_id=str(meta.get("doc_id", "")), section="",
                section_id="", text=doc.page_content,
                score=1.0 - 0.1 * rank,  # similarity_search gives no score: the generator gets a rank-based one
            ))
        return hits

    def warm_up(self) -> None:
        self._hits("doctrine d'achat numérique", 1)

    def run(self, case: EvalCase) -> SystemOutput:
        t0 = time.perf_counter()
        hits = self._hits(case.question, TOP_K)
        generated = self.generator.generate(case.question, hits, lambda _section_id: None)
        checked = check_answer(generated.text, generated.citations)
        latency = (time.perf_counter() - t0) * 1000
        ranking = [h.doc_id for h in self._hits(case.question, RETRIEVAL_DEPTH)]
        return SystemOutput(
            answer=checked.text, refused=False, citations=checked.citations, retrieved_doc_ids=ranking,
            latency_ms=latency, query=case.question, generator=self.generator.name,
        )

    def close(self) -> None:
        try:
            self.store.delete_collection()
        except Exception:  # noqa: BLE001, S110 - the folder goes anyway
            pass
        shutil.rmtree(self._dir, ignore_errors=True)
