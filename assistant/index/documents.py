"""Source documents: the ``SourceDocument`` every loader returns, and the curated knowledge base
(Markdown + front matter, the contract of design.md).

Every loader (here for ``knowledge/``, in ``loaders`` for users' files) returns the same
``SourceDocument`` (metadata + heading-structured sections), so the rest of the pipeline never cares
where a text came from. A file that cannot be read raises ``LoadError`` with a message naming it;
batch loading reports and skips it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.text import clean_control_chars

KNOWLEDGE_KINDS = (
    "circulaire", "loi", "decret", "code", "reglement-ue", "referentiel", "guide",
    "doctrine", "fiche", "presse", "glossaire",
)
USER_KIND = "utilisateur"
USER_CONFIDENCE = "utilisateur"
# Legal status of a text: only ``en_vigueur`` texts can be "in force"; bills, proposals, repealed
# or expired texts never are, whatever their dates.
DOC_STATUSES = ("en_vigueur", "projet", "proposition", "abroge", "expire")


class LoadError(Exception):
    """A file that cannot become a document; the message names the file and the reason (French)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(path).name} : {reason}")


class FrontMatterError(LoadError):
    """Invalid knowledge front matter; names the file and the field."""

    def __init__(self, path: Path | str, field_name: str, reason: str) -> None:
        self.field = field_name
        super().__init__(path, f"front matter invalide, champ « {field_name} » : {reason}")


class Source(NamedTuple):
    url: str
    confidence: str


@dataclass(frozen=True)
class Section:
    """A heading path and the text directly under it (not its subsections)."""

    path: tuple[str, ...]
    text: str

    @property
    def label(self) -> str:
        return " > ".join(self.path)


@dataclass
class SourceDocument:
    doc_id: str
    title: str
    kind: str
    sections: list[Section]
    path: str
    origin: Literal["knowledge", "user"] = "knowledge"
    authority: str | None = None
    reference: str | None = None
    date: date | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    sources: tuple[Source, ...] = ()
    content_hash: str = field(default="")
    status: str = "en_vigueur"
    # What a reader of the file should know about how it was read (e.g. its encoding was guessed).
    warnings: tuple[str, ...] = ()

    @property
    def source_url(self) -> str:
        return self.sources[0].url if self.sources else ""

    @property
    def confidence(self) -> str:
        """The weakest confidence among the document's sources (what a reader must be told).

        A file added by a user is always « utilisateur », whatever it claims about itself.
        """
        if self.origin != "knowledge":
            return USER_CONFIDENCE
        order = {"officiel": 0, "presse": 1, "infere": 2}
        levels = [s.confidence for s in self.sources]
        return max(levels, key=lambda c: order.get(c, 3)) if levels else "inconnu"

    def meta(self) -> dict[str, object]:
        """JSON-friendly metadata (no sections)."""
        return {
            "doc_id": self.doc_id, "title": self.title, "kind": self.kind, "origin": self.origin,
            "authority": self.authority, "reference": self.reference, "path": self.path,
            "date": self.date.isoformat() if self.date else None,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "sources": [s._asdict() for s in self.sources], "source_url": self.source_url,
            "confidence": self.confidence, "content_hash": self.content_hash, "status": self.status,
        }


def doc_in_force(meta: Mapping[str, Any], on: date) -> bool:
    """Whether a document (its ``meta()``, as stored in the index) is in force on ``on``.

    Only texts ``en_vigueur`` can be; from ``valid_from`` (else ``date``) until ``valid_to`` excluded.
    Malformed dates (never written by ``meta()``) do not exclude a document.
    """
    if meta.get("status", "en_vigueur") != "en_vigueur":
        return False
    start = meta.get("valid_from") or meta.get("date")
    end = meta.get("valid_to")
    try:
        if start and date.fromisoformat(str(start)) > on:
            return False
        return not (end and date.fromisoformat(str(end)) <= on)
    except ValueError:
        return True


Reuse = Callable[[Path], "SourceDocument | None"]


class Provenance(NamedTuple):
    """Where a document of the index comes from: the official corpus, or a file a user added."""

    user_added: bool
    title: str


def provenance(meta: Mapping[str, Any]) -> Provenance:
    """Whether a document (its ``meta()``, as stored in the index) was added by a user, and its title.

    Set by the loaders from where the file came from (``knowledge/`` or an upload), never from what
    the file says about itself: a user's front matter cannot make it official.
    """
    user = meta.get("origin", "knowledge") != "knowledge" or meta.get("kind") == USER_KIND
    return Provenance(bool(user), str(meta.get("title") or meta.get("doc_id") or ""))


class Skipped(NamedTuple):
    path: str
    reason: str


class LoadReport(NamedTuple):
    documents: list[SourceDocument]
    skipped: list[Skipped]


# ---------------------------------------------------------------- front matter


class _SourceModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(pattern=r"^https?://\S+$")
    confidence: Literal["officiel", "presse", "infere"]


class FrontMatter(BaseModel):
    """The knowledge front-matter contract (shared/design.md)."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
    title: str = Field(min_length=3)
    kind: Literal[KNOWLEDGE_KINDS]  # type: ignore[valid-type]
    authority: str | None = None
    reference: str | None = None
    date: date
    valid_from: date | None = None
    valid_to: date | None = None
    status: Literal[DOC_STATUSES] = "en_vigueur"  # type: ignore[valid-type]
    sources: list[_SourceModel] = Field(min_length=1)

    @field_validator("valid_to")
    @classmethod
    def _after_start(cls, value: date | None, info: object) -> date | None:
        start = getattr(info, "data", {}).get("valid_from")
        if value and start and value <= start:
            raise ValueError("valid_to doit être postérieur à valid_from")
        return value


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)


def split_front_matter(text: str, path: Path | str) -> tuple[dict[str, object] | None, str]:
    """Return (front matter mapping or None, body). Broken YAML raises ``FrontMatterError``."""
    match = _FRONT.match(text)
    if not match:
        if text.lstrip().startswith("---"):
            raise FrontMatterError(path, "(bloc)", "bloc front matter non fermé par « --- »")
        return None, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise FrontMatterError(path, "(yaml)", f"YAML illisible ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise FrontMatterError(path, "(yaml)", "le front matter doit être un dictionnaire")
    return data, text[match.end():]


def parse_front_matter(data: dict[str, object], path: Path | str) -> FrontMatter:
    try:
        return FrontMatter.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "(racine)"
        raise FrontMatterError(path, name, err["msg"]) from exc


# ---------------------------------------------------------------- markdown

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


def markdown_sections(body: str, root: tuple[str, ...] = ()) -> list[Section]:
    """Split Markdown into sections by heading; fenced code and front matter are plain text."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(root + tuple(t for _, t in stack), text))
        lines.clear()

    for line in body.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2).strip()))
        else:
            lines.append(line)
    flush()
    return sections


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


def load_knowledge_file(path: Path) -> SourceDocument:
    """A curated knowledge document; its front matter must satisfy the contract."""
    text, notes = decode_text_noted(read_bytes(path), path)
    data, body = split_front_matter(text, path)
    if data is None:
        raise FrontMatterError(path, "(bloc)", "front matter absent")
    meta = parse_front_matter(data, path)
    if meta.id != path.stem:
        raise FrontMatterError(path, "id", f"« {meta.id} » diffère du nom de fichier « {path.stem} »")
    sections = markdown_sections(body)
    if not sections:
        raise LoadError(path, "aucun contenu sous le front matter")
    return SourceDocument(
        doc_id=meta.id, title=meta.title, kind=meta.kind, sections=sections, path=str(path),
        origin="knowledge", authority=meta.authority, reference=meta.reference, date=meta.date,
        valid_from=meta.valid_from, valid_to=meta.valid_to, status=meta.status,
        sources=tuple(Source(s.url, s.confidence) for s in meta.sources),
        content_hash=_digest(text), warnings=notes,
    )


def iter_knowledge_files(knowledge_dir: Path) -> Iterator[Path]:
    for path in sorted(knowledge_dir.rglob("*.md")):
        if path.name.lower() == "readme.md" or any(p.startswith(".") for p in path.parts):
            continue
        yield path


def load_knowledge(knowledge_dir: Path, reuse: Reuse | None = None) -> LoadReport:
    """All knowledge documents; invalid ones are reported (file + field) and skipped.

    ``reuse(path)`` may give the document of a file the index already holds unchanged (not read again).
    """
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for path in iter_knowledge_files(knowledge_dir):
        try:
            doc = (reuse(path) if reuse else None) or load_knowledge_file(path)
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
            continue
        if doc.doc_id in seen:
            skipped.append(Skipped(str(path), f"identifiant « {doc.doc_id} » déjà utilisé par {seen[doc.doc_id]}"))
            continue
        seen[doc.doc_id] = str(path)
        docs.append(doc)
    return LoadReport(docs, skipped)


# ---------------------------------------------------------------- reading files


def read_bytes(path: Path, max_bytes: int | None = None, *, follow_links: bool = True) -> bytes:
    """The bytes of a regular file; with ``follow_links=False`` a symbolic link is refused.

    The file is opened once and checked on the open descriptor, so what is checked is what is read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)  # a FIFO never blocks
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise LoadError(path, "fichier introuvable") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise LoadError(path, "lien symbolique refusé : indiquez le fichier lui-même") from None
        if exc.errno == errno.EISDIR:
            raise LoadError(path, "ce n'est pas un fichier ordinaire") from None
        raise LoadError(path, f"lecture impossible ({exc.strerror or exc})") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LoadError(path, "ce n'est pas un fichier ordinaire")
        if info.st_size == 0:
            raise LoadError(path, "fichier vide (0 octet)")
        if max_bytes is not None and info.st_size > max_bytes:
            raise LoadError(
                path, f"fichier trop volumineux ({info.st_size / 1e6:.1f} Mo, limite {max_bytes / 1e6:.0f} Mo)"
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:  # the file grew while being read
                raise LoadError(path, f"fichier trop volumineux (limite {max_bytes / 1e6:.0f} Mo)")
        return b"".join(chunks)
    except OSError as exc:
        raise LoadError(path, f"lecture impossible ({exc.strerror or exc})") from exc
    finally:
        os.close(fd)


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def decode_text_noted(raw: bytes, path: Path) -> tuple[str, tuple[str, ...]]:
    """Text of a file, and what the reader should be told about its decoding.

    UTF-8 is expected. A file that is UTF-8 but for a few invalid bytes keeps its UTF-8 reading,
    the invalid bytes replaced by « \ufffd »; a file with no UTF-8 sequence at all is read as
    Windows-1252. Either guess is reported, never silent.
    """
    if b"\0" in raw[:8192]:
        raise LoadError(path, "fichier binaire : ce n'est pas du texte (extension trompeuse ?)")
    notes: list[str] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        utf8 = raw.decode("utf-8", errors="replace")
        invalid = utf8.count("\ufffd") - raw.count("\ufffd".encode())
        if len(_UTF8_MULTIBYTE.findall(raw)) >= invalid:
            text = utf8.removeprefix("\ufeff")
            notes.append(
                f"texte UTF-8 avec {invalid} octet(s) invalide(s) (premier à l'octet {exc.start}), "
                "remplacé(s) par « \ufffd » : vérifiez le fichier d'origine"
            )
        else:
            text = raw.decode("cp1252", errors="replace")
            notes.append("fichier non UTF-8, lu comme Windows-1252 (Latin-1) : vérifiez les accents")
    sample = text[:8192]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    if sample and bad / len(sample) > 0.05:
        raise LoadError(path, "contenu binaire : ce n'est pas du texte lisible")
    return clean_control_chars(text.replace("\r\n", "\n").replace("\r", "\n")), tuple(notes)


def decode_text(raw: bytes, path: Path) -> str:
    return decode_text_noted(raw, path)[0]


def read_text(path: Path, max_bytes: int | None = None) -> str:
    return decode_text(read_bytes(path, max_bytes), path)
