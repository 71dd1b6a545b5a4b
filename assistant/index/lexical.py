"""The lexical index: tantivy over our own French tokens, updated in place (segments, deletes, commits).

Every passage is one tantivy document: ``rowid`` (an integer the writer gives each passage and that
never changes meaning, indexed and fast), ``doc_id`` (raw, for the kind and in-force filters) and
``body``, the passage's tokens (``assistant.text.tokens`` of ``chunking.lexical_text``: French
stemming, then accent folding, stopwords removed) joined by spaces and split again by tantivy's
whitespace tokenizer, so that tantivy indexes exactly our tokens. Nothing is stored: the passages
live in the generation's objects (``snapshot``).

One index serves every generation: it holds at least the passages of the committed generation, and
readers keep only the hits that belong to theirs (``LexicalView``). The writer adds new passages
before it commits a generation and deletes stale ones after (``snapshot.LexicalSync``).

Scoring is tantivy's BM25 (k1 = 1.2, b = 0.75, Lucene idf; document lengths on one byte), in float32.
Its statistics (number of passages, average length, document frequencies) count deleted passages
until their segment is merged, so the writer rewrites the index when they pass ``MAX_DELETED_SHARE``
(``compact``): a freshly built index, and one just compacted, score exactly alike.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Sequence
from importlib.metadata import version
from pathlib import Path

import tantivy

from assistant.index.errors import IndexError_

# Bump when the schema changes: an index of another version is rebuilt from the generation's objects.
SCHEMA_VERSION = 1
VERSION_FILE = "doctrine-lexical.json"
ENGINE = f"tantivy {version('tantivy')}"
WRITER_HEAP = 64_000_000
# Share of deleted-but-unmerged passages above which the writer rewrites the index (exact statistics).
MAX_DELETED_SHARE = 0.05
DELETE_BATCH = 10_000


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("rowid", stored=False, indexed=True, fast=True)
    builder.add_text_field("doc_id", stored=False, tokenizer_name="raw", index_option="basic")
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


def _version_ok(path: Path) -> bool:
    try:
        info = json.loads((path / VERSION_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("schema") == SCHEMA_VERSION and (path / "meta.json").is_file()


class LexicalIndex:
    """The writer's handle on the index folder (callers hold ``snapshot.writer_lock``)."""

    def __init__(self, path: Path, *, reset: bool = False) -> None:
        self.path = path
        self.created = False
        if reset or not _version_ok(path):
            shutil.rmtree(path, ignore_errors=True)
        if not path.is_dir():
            path.mkdir(parents=True)
            self.created = True
        try:
            self.index = tantivy.Index(_schema(), path=str(path), reuse=True)
        except (OSError, ValueError) as exc:  # unreadable leftovers: start over, the objects hold everything
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
            self.created = True
            try:
                self.index = tantivy.Index(_schema(), path=str(path), reuse=True)
            except (OSError, ValueError) as again:
                raise IndexError_(f"index lexical impossible à créer dans {path} : {again}") from exc
        if self.created:
            from assistant.fileio import atomic_write_text

            atomic_write_text(path / VERSION_FILE, json.dumps({"schema": SCHEMA_VERSION, "engine": ENGINE}))
        self._writer: tantivy.IndexWriter | None = None
        self._schema = self.index.schema
        self.dirty = False

    # ------------------------------------------------------------ reading (the last commit)

    def _searcher(self) -> tantivy.Searcher:
        self.index.reload()
        return self.index.searcher()

    def num_docs(self) -> int:
        return self._searcher().num_docs

    def rowids(self) -> set[int]:
        """Every rowid in the last commit (~20 ms at 100,000 passages)."""
        searcher = self._searcher()
        if not searcher.num_docs:
            return set()
        hits = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False,
                               order_by_field="rowid").hits
        return {int(key) for key, _ in hits}

    def deleted_share(self) -> float:
        """Deleted passages still counted by the BM25 statistics, as a share of all counted ones."""
        try:
            meta = json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0.0
        total = sum(int(s.get("max_doc", 0)) for s in meta.get("segments", []))
        deleted = sum(int((s.get("deletes") or {}).get("num_deleted_docs", 0)) for s in meta.get("segments", []))
        return deleted / total if total else 0.0

    # ------------------------------------------------------------ writing

    @property
    def writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            self._writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=1)
        return self._writer

    def add(self, rows: Iterable[tuple[int, str, str]]) -> int:
        """Add (rowid, doc_id, tokens joined by spaces); visible to readers after ``commit``."""
        count = 0
        for rowid, doc_id, body in rows:
            self.writer.add_document(tantivy.Document(rowid=int(rowid), doc_id=doc_id, body=body))
            count += 1
        self.dirty = self.dirty or bool(count)
        return count

    def delete(self, rowids: Iterable[int]) -> int:
        # NB: a term query on an integer field; delete_documents_by_term is a silent no-op on u64 fields.
        ids = sorted({int(r) for r in rowids})
        for i in range(0, len(ids), DELETE_BATCH):
            self.writer.delete_documents_by_query(
                tantivy.Query.term_set_query(self._schema, "rowid", ids[i : i + DELETE_BATCH]))
        self.dirty = self.dirty or bool(ids)
        return len(ids)

    def delete_all(self) -> None:
        self.writer.delete_all_documents()
        self.dirty = True

    def commit(self) -> None:
        """Make the changes durable and visible, atomically (tantivy replaces its meta.json)."""
        if self.dirty:
            self.writer.commit()
            self.dirty = False

    def close(self) -> None:
        """Wait for background merges and release tantivy's writer lock."""
        if self._writer is not None:
            if self.dirty:
                self._writer.rollback()
            self._writer.wait_merging_threads()
            self._writer = None


# ---------------------------------------------------------------- reading


def open_reader(path: Path) -> tantivy.Index:
    """The index as readers open it: they move to a new commit only when told (``Index.reload``)."""
    if not _version_ok(path):
        raise IndexError_("index lexical absent ou d'une autre version : lancez « doctrine index »")
    try:
        index = tantivy.Index.open(str(path))
        index.config_reader(reload_policy="manual")
    except (OSError, ValueError) as exc:
        if _lock_refused(path):
            raise IndexError_(
                f"index en lecture seule : l'index lexical doit pouvoir poser son verrou dans « {path} », même "
                "pour répondre ; donnez les droits d'écriture sur le dossier de données à l'utilisateur qui lance "
                "Doctrine"
            ) from exc
        raise IndexError_(f"index lexical illisible ({exc}) : relancez « doctrine index --rebuild »") from exc
    return index


def _lock_refused(path: Path) -> bool:
    """Whether tantivy cannot take its reader lock here (a read-only folder or lock file), tried, not guessed."""
    from assistant.index.datadir import writable

    if not writable(path):
        return True
    try:
        with (path / ".tantivy-meta.lock").open("a"):
            return False
    except OSError:
        return True


def _terms(schema: tantivy.Schema, query_tokens: Sequence[str]) -> tantivy.Query:
    return tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", t)) for t in query_tokens])


def _filtered(schema: tantivy.Schema, query: tantivy.Query, field: str, values: list) -> tantivy.Query:
    """``query`` restricted to documents whose ``field`` is one of ``values``, scores unchanged (+ 0)."""
    only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(schema, field, values), 0.0)
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, only)])


class LexicalView:
    """BM25 search in one committed generation: a tantivy searcher taken after that generation was
    committed (a snapshot: later commits do not change it), hits mapped to the generation's
    passages; passages of other generations still in the index are left out."""

    def __init__(self, searcher: tantivy.Searcher, schema: tantivy.Schema, position: dict[int, int]) -> None:
        self.searcher = searcher
        self.schema = schema
        self.position = position  # rowid -> passage index in the generation
        self.extra = max(0, searcher.num_docs - len(position))  # indexed passages outside the generation

    def _hits(self, query: tantivy.Query, limit: int) -> list[tuple[float, int]]:
        hits = self.searcher.search(query, limit, count=False).hits
        if not hits:
            return []
        rowids = self.searcher.fast_field_values("rowid", [address for _, address in hits])
        return [(float(score), int(rowid)) for (score, _), rowid in zip(hits, rowids, strict=True)]

    def top(self, query_tokens: Sequence[str], n: int, doc_ids: Sequence[str] | None = None) -> list[tuple[int, float]]:
        """The ``n`` best (passage index, score > 0), best first, equal scores in passage order.

        Asks tantivy for more than ``n`` until every passage that ties with the last one kept has
        been seen, so the result does not depend on how tantivy orders ties (segments, history).
        """
        if not query_tokens or n <= 0 or (doc_ids is not None and not doc_ids):
            return []
        query = _terms(self.schema, query_tokens)
        if doc_ids is not None:
            query = _filtered(self.schema, query, "doc_id", sorted(doc_ids))
        limit = n + self.extra + 8
        while True:
            hits = self._hits(query, limit)
            kept = sorted(((self.position[r], s) for s, r in hits if s > 0 and r in self.position),
                          key=lambda t: (-t[1], t[0]))
            if len(hits) < limit or (len(kept) >= n and kept[n - 1][1] > hits[-1][0]):
                return kept[:n]
            limit *= 4

    def scores(self, query_tokens: Sequence[str], rowids: Sequence[int]) -> dict[int, float]:
        """BM25 scores of the given passages (rowid -> score; passages that match nothing are absent)."""
        if not query_tokens or not rowids:
            return {}
        wanted = sorted(set(rowids))
        query = _filtered(self.schema, _terms(self.schema, query_tokens), "rowid", wanted)
        return {r: s for s, r in self._hits(query, len(wanted) + self.extra) if r in self.position}
