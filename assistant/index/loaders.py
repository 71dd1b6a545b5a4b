"""Loaders for users' own files (PDF, DOCX, HTML, Markdown, text): each returns a ``SourceDocument``.

To support a new format: write ``_<format>_sections(path, raw) -> (title, sections)``, add its suffix
to ``SUPPORTED_SUFFIXES`` and dispatch on it in ``load_user_file``. Unreadable files raise
``LoadError`` (French reason); batch loading reports and skips them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.index.documents import (
    DOC_STATUSES,
    USER_KIND,
    FrontMatterError,
    LoadError,
    LoadReport,
    Reuse,
    Section,
    Skipped,
    SourceDocument,
    decode_text_noted,
    markdown_sections,
    read_bytes,
    split_front_matter,
)
from assistant.text import clean_control_chars, fold

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")
# A DOCX is a zip of XML: refuse, before parsing, one whose XML would expand past this many bytes
# per character allowed (Word's XML is ~5-15 bytes per character of text).
DOCX_XML_BYTES_PER_CHAR = 20
# Front-matter keys that would make a user's file pass for an official text: ignored, with a warning.
CLAIM_KEYS = ("id", "kind", "authority", "reference", "sources", "confidence", "origin", "source_url")


class UserFrontMatter(BaseModel):
    """What a user's Markdown front matter may set: descriptive fields only, never its provenance."""

    model_config = ConfigDict(extra="ignore")
    title: str | None = Field(None, min_length=1, max_length=300)
    date: dt.date | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    status: Literal[DOC_STATUSES] = "en_vigueur"  # type: ignore[valid-type]


def _user_front_matter(data: dict[str, object], path: Path) -> tuple[UserFrontMatter, tuple[str, ...]]:
    try:
        meta = UserFrontMatter.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"]) or "(racine)"
        raise FrontMatterError(path, name, err["msg"]) from exc
    claimed = [key for key in CLAIM_KEYS if key in data]
    notes = (
        (f"front matter : {', '.join(claimed)} ignoré(s) ; un fichier ajouté reste un document d'utilisateur, "
         "hors corpus officiel",) if claimed else ()
    )
    return meta, notes


def _too_long(path: Path, max_chars: int) -> LoadError:
    return LoadError(path, f"texte extrait trop long : plus de {max_chars:,} caractères (limite par fichier, "
                     "DOCTRINE_MAX_FILE_CHARS)".replace(",", " "))


def _check_chars(path: Path, count: int, max_chars: int | None) -> None:
    if max_chars is not None and count > max_chars:
        raise _too_long(path, max_chars)


def user_doc_id(path: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(path.name)).strip("-") or "fichier"
    return f"user-{slug}"


# A stored upload whose name was taken by another file carries a hash of its content:
# « note.md » then « note~3fa2c1d9e0.md » (see ``uploads``); the name a user gave is without it.
STORED_SUFFIX = re.compile(r"~[0-9a-f]{10}(?=\.[^.]+$|$)")


def display_name(stored_name: str) -> str:
    """The name the user gave to a stored upload (without the content-hash suffix)."""
    return STORED_SUFFIX.sub("", stored_name, count=1)


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


def _pdf_sections(path: Path, raw: bytes, max_chars: int | None = None) -> tuple[str, list[Section]]:
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
        pages: list[str] = []
        extracted = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            extracted += len(pages[-1])
            _check_chars(path, extracted, max_chars)
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


def _docx_sections(path: Path, raw: bytes, max_chars: int | None = None) -> tuple[str, list[Section]]:
    import io
    import zipfile

    try:
        import docx

        if max_chars is not None:
            with zipfile.ZipFile(io.BytesIO(raw)) as package:
                expanded = sum(info.file_size for info in package.infolist() if info.filename.endswith(".xml"))
            limit = max_chars * DOCX_XML_BYTES_PER_CHAR
            if expanded > limit:
                raise LoadError(path, f"DOCX trop volumineux une fois décompressé ({expanded / 1e6:.0f} Mo de XML, "
                                f"limite {limit / 1e6:.0f} Mo) : document refusé")
        document = docx.Document(io.BytesIO(raw))
    except LoadError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(path, f"DOCX corrompu ou illisible ({type(exc).__name__})") from exc
    except Exception as exc:  # noqa: BLE001 - python-docx/lxml raise various errors on bad files
        raise LoadError(path, f"DOCX illisible ({type(exc).__name__})") from exc
    lines: list[str] = []
    title = document.core_properties.title or ""
    extracted = 0
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        extracted += len(text)
        _check_chars(path, extracted, max_chars)
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


def load_user_file(
    path: Path,
    *,
    max_bytes: int | None = None,
    max_chars: int | None = None,
    raw: bytes | None = None,
    name: str | None = None,
    follow_links: bool = True,
) -> SourceDocument:
    """Read a user's PDF, DOCX, HTML, Markdown or text file into a ``SourceDocument``.

    ``raw`` gives the bytes already read (what was checked is what is parsed); ``name`` is the name
    the document is recorded under (its identifier), ``path``'s by default. Whatever its front
    matter says, the result is a user's document (``origin`` « user », no source, no authority).
    """
    path = Path(path)
    recorded = path.with_name(name) if name else path
    suffix = recorded.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(
            recorded, f"format non pris en charge « {suffix or '(sans extension)'} » "
            f"(formats acceptés : {', '.join(SUPPORTED_SUFFIXES)})",
        )
    if raw is None:
        raw = read_bytes(path, max_bytes, follow_links=follow_links)
    elif max_bytes is not None and len(raw) > max_bytes:
        raise LoadError(recorded, f"fichier trop volumineux ({len(raw) / 1e6:.1f} Mo, limite {max_bytes / 1e6:.0f} Mo)")
    meta: UserFrontMatter | None = None
    notes: tuple[str, ...] = ()
    if suffix == ".pdf":
        title, sections = _pdf_sections(recorded, raw, max_chars)
    elif suffix == ".docx":
        title, sections = _docx_sections(recorded, raw, max_chars)
    else:
        text, notes = decode_text_noted(raw, recorded)
        _check_chars(recorded, len(text), max_chars)
        if suffix in (".html", ".htm"):
            title, text = _html_to_markdown(text)
        else:
            title = ""
        if suffix in (".md", ".markdown"):
            data, text = split_front_matter(text, recorded)
            if data is not None:
                meta, claimed = _user_front_matter(data, recorded)
                notes += claimed
        if suffix == ".txt":
            sections = [Section((), text.strip())] if text.strip() else []
        else:
            sections = markdown_sections(text)
        if not sections:
            raise LoadError(recorded, "aucun texte exploitable")
    if not title:
        first = next((s.path[0] for s in sections if s.path and not s.path[0].startswith("Page ")), "")
        title = first or display_name(recorded.name).rsplit(".", 1)[0]
    return SourceDocument(
        doc_id=user_doc_id(recorded), title=((meta.title if meta and meta.title else title).strip())[:200],
        kind=USER_KIND, sections=sections, path=str(recorded), origin="user",
        date=meta.date if meta else None, valid_from=meta.valid_from if meta else None,
        valid_to=meta.valid_to if meta else None, status=meta.status if meta else "en_vigueur",
        content_hash=hashlib.sha256(raw).hexdigest()[:16], warnings=notes,
    )


def load_user_files(
    paths: Iterable[Path], *, max_bytes: int | None = None, max_chars: int | None = None, reuse: Reuse | None = None
) -> LoadReport:
    """``reuse(path)`` may give the document of a file the index already holds unchanged (not read again)."""
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            docs.append((reuse(Path(path)) if reuse else None)
                        or load_user_file(Path(path), max_bytes=max_bytes, max_chars=max_chars))
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
    return LoadReport(docs, skipped)


def iter_upload_files(uploads_dir: Path) -> Iterator[Path]:
    if uploads_dir.is_dir():
        yield from sorted(p for p in uploads_dir.iterdir() if p.is_file() and not p.name.startswith("."))
