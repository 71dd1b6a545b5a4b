"""Source documents: the curated knowledge base (Markdown + front matter) and users' own files.

Every loader returns the same ``SourceDocument`` (metadata + heading-structured sections), so the
rest of the pipeline never cares where a text came from. A file that cannot be read raises
``LoadError`` with a message naming it; batch loading reports and skips it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.text import clean_control_chars, fold

KNOWLEDGE_KINDS = (
    "circulaire", "loi", "decret", "code", "reglement-ue", "referentiel", "guide",
    "doctrine", "fiche", "presse", "glossaire",
)
USER_KIND = "utilisateur"
# Legal status of a text: only ``en_vigueur`` texts can be "in force"; bills, proposals, repealed
# or expired texts never are, whatever their dates.
DOC_STATUSES = ("en_vigueur", "projet", "proposition", "abroge", "expire")
SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")


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

    @property
    def source_url(self) -> str:
        return self.sources[0].url if self.sources else ""

    @property
    def confidence(self) -> str:
        """The weakest confidence among the document's sources (what a reader must be told)."""
        order = {"officiel": 0, "presse": 1, "infere": 2}
        levels = [s.confidence for s in self.sources]
        return max(levels, key=lambda c: order.get(c, 3)) if levels else "inconnu"

    def in_force(self, on: date) -> bool:
        if self.status != "en_vigueur":
            return False
        if self.valid_from and on < self.valid_from:
            return False
        return not (self.valid_to and on >= self.valid_to)

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
    text = _read_text(path)
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
        content_hash=_digest(text),
    )


def iter_knowledge_files(knowledge_dir: Path) -> Iterator[Path]:
    for path in sorted(knowledge_dir.rglob("*.md")):
        if path.name.lower() == "readme.md" or any(p.startswith(".") for p in path.parts):
            continue
        yield path


def load_knowledge(knowledge_dir: Path) -> LoadReport:
    """All knowledge documents; invalid ones are reported (file + field) and skipped."""
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    seen: dict[str, str] = {}
    for path in iter_knowledge_files(knowledge_dir):
        try:
            doc = load_knowledge_file(path)
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
            continue
        if doc.doc_id in seen:
            skipped.append(Skipped(str(path), f"identifiant « {doc.doc_id} » déjà utilisé par {seen[doc.doc_id]}"))
            continue
        seen[doc.doc_id] = str(path)
        docs.append(doc)
    return LoadReport(docs, skipped)


# ---------------------------------------------------------------- user files


def user_doc_id(path: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(path.name)).strip("-") or "fichier"
    return f"user-{slug}"


def _read_bytes(path: Path, max_bytes: int | None = None) -> bytes:
    if not path.exists():
        raise LoadError(path, "fichier introuvable")
    if not path.is_file():
        raise LoadError(path, "ce n'est pas un fichier ordinaire")
    size = path.stat().st_size
    if size == 0:
        raise LoadError(path, "fichier vide (0 octet)")
    if max_bytes is not None and size > max_bytes:
        raise LoadError(path, f"fichier trop volumineux ({size / 1e6:.1f} Mo, limite {max_bytes / 1e6:.0f} Mo)")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"lecture impossible ({exc.strerror or exc})") from exc


def _decode(raw: bytes, path: Path) -> str:
    if b"\0" in raw[:8192]:
        raise LoadError(path, "fichier binaire : ce n'est pas du texte (extension trompeuse ?)")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes almost anything; kept for safety
        raise LoadError(path, "encodage non reconnu (ni UTF-8 ni Windows-1252)")
    sample = text[:8192]
    bad = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f")
    if sample and bad / len(sample) > 0.05:
        raise LoadError(path, "contenu binaire : ce n'est pas du texte lisible")
    return clean_control_chars(text.replace("\r\n", "\n").replace("\r", "\n"))


def _read_text(path: Path, max_bytes: int | None = None) -> str:
    return _decode(_read_bytes(path, max_bytes), path)


class _HTMLToSections(HTMLParser):
    """Streaming HTML reader: no tree, so arbitrarily deep nesting cannot blow the stack."""

    _SKIP = {"script", "style", "noscript", "template", "head", "svg"}
    _BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "td", "th", "blockquote", "pre", "ul", "ol"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip_depth = 0
        self.heading: int | None = None
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip_depth += 1
        if tag == "title":
            self._in_title = True
        if re.fullmatch(r"h[1-6]", tag):
            self.heading = int(tag[1])
            self.out.append("\n\n" + "#" * self.heading + " ")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in self._BLOCK:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skip_depth:
            self.skip_depth -= 1
        if tag == "title":
            self._in_title = False
        if re.fullmatch(r"h[1-6]", tag):
            self.heading = None
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self.skip_depth:
            return
        text = re.sub(r"\s+", " ", data)
        if self.heading is not None:
            text = text.replace("\n", " ")
        self.out.append(text)


def _html_to_markdown(html: str) -> tuple[str, str]:
    parser = _HTMLToSections()
    parser.feed(html)
    parser.close()
    md = "".join(parser.out)
    md = re.sub(r"[ \t]+\n", "\n", md)
    md = re.sub(r"\n{3,}", "\n\n", md)
    return parser.title.strip(), md


def _pdf_sections(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - pypdf raises several types for unsupported crypto
                ok = 0
            if not ok:
                raise LoadError(path, "PDF chiffré (protégé par mot de passe) : impossible d'en lire le texte")
        pages = [(page.extract_text() or "") for page in reader.pages]
        title = ""
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise LoadError(path, f"PDF corrompu ou illisible ({type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf can raise almost anything on hostile input
        raise LoadError(path, f"PDF illisible ({type(exc).__name__})") from exc
    sections = [
        Section((f"Page {i}",), clean_control_chars(text).strip())
        for i, text in enumerate(pages, start=1)
        if text.strip()
    ]
    if not sections:
        raise LoadError(path, "aucun texte extractible (PDF scanné sans reconnaissance de caractères ?)")
    return title, sections


def _docx_sections(path: Path, raw: bytes) -> tuple[str, list[Section]]:
    import io
    import zipfile

    try:
        import docx

        document = docx.Document(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(path, f"DOCX corrompu ou illisible ({type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - python-docx/lxml raise various errors on bad files
        raise LoadError(path, f"DOCX illisible ({type(exc).__name__})") from exc
    lines: list[str] = []
    title = document.core_properties.title or ""
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        match = re.match(r"(?:Heading|Titre)\s*(\d)", style)
        if style in ("Title", "Titre"):
            title = title or text
            lines.append(f"# {text}")
        elif match:
            lines.append("#" * min(int(match.group(1)) + 1, 6) + f" {text}")
        elif "List" in style or "Liste" in style:
            lines.append(f"- {text}")
        else:
            lines.append(text)
        lines.append("")
    sections = markdown_sections(clean_control_chars("\n".join(lines)))
    if not sections:
        raise LoadError(path, "document DOCX sans texte")
    return title, sections


def load_user_file(path: Path, *, max_bytes: int | None = None) -> SourceDocument:
    """Read a user's PDF, DOCX, HTML, Markdown or text file into a ``SourceDocument``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            path, f"format non pris en charge « {suffix or '(sans extension)'} » "
            f"(formats acceptés : {', '.join(SUPPORTED_SUFFIXES)})",
        )
    raw = _read_bytes(path, max_bytes)
    meta: FrontMatter | None = None
    if suffix == ".pdf":
        title, sections = _pdf_sections(path, raw)
    elif suffix == ".docx":
        title, sections = _docx_sections(path, raw)
    else:
        text = _decode(raw, path)
        if suffix in (".html", ".htm"):
            title, text = _html_to_markdown(text)
        else:
            title = ""
        if suffix in (".md", ".markdown"):
            data, text = split_front_matter(text, path)
            if data is not None:
                data.setdefault("id", user_doc_id(path))
                meta = parse_front_matter(data, path)
        if suffix == ".txt":
            sections = [Section((), text.strip())] if text.strip() else []
        else:
            sections = markdown_sections(text)
        if not sections:
            raise LoadError(path, "aucun texte exploitable")
    if not title:
        first = next((s.path[0] for s in sections if s.path and not s.path[0].startswith("Page ")), "")
        title = first or path.stem
    doc_id = user_doc_id(path)
    return SourceDocument(
        doc_id=doc_id, title=meta.title if meta else title.strip()[:200], kind=USER_KIND,
        sections=sections, path=str(path), origin="user",
        authority=meta.authority if meta else None, reference=meta.reference if meta else None,
        date=meta.date if meta else None, valid_from=meta.valid_from if meta else None,
        valid_to=meta.valid_to if meta else None,
        sources=tuple(Source(s.url, s.confidence) for s in meta.sources) if meta else (),
        content_hash=hashlib.sha256(raw).hexdigest()[:16],
    )


def load_user_files(paths: Iterable[Path], *, max_bytes: int | None = None) -> LoadReport:
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            docs.append(load_user_file(Path(path), max_bytes=max_bytes))
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
    return LoadReport(docs, skipped)


def iter_upload_files(uploads_dir: Path) -> Iterator[Path]:
    if uploads_dir.is_dir():
        yield from sorted(p for p in uploads_dir.iterdir() if p.is_file() and not p.name.startswith("."))
