"""Loaders for users' own files (PDF, DOCX, HTML, Markdown, text): each returns a ``SourceDocument``.

To support a new format: write ``_<format>_sections(path, raw) -> (title, sections)``, add its suffix
to ``SUPPORTED_SUFFIXES`` and dispatch on it in ``load_user_file``. Unreadable files raise
``LoadError`` (French reason); batch loading reports and skips them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path

from assistant.index.documents import (
    USER_KIND,
    FrontMatter,
    LoadError,
    LoadReport,
    Reuse,
    Section,
    Skipped,
    Source,
    SourceDocument,
    decode_text,
    markdown_sections,
    parse_front_matter,
    read_bytes,
    split_front_matter,
)
from assistant.text import clean_control_chars, fold

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".pdf", ".docx", ".html", ".htm")


def user_doc_id(path: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", fold(path.name)).strip("-") or "fichier"
    return f"user-{slug}"


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
    raw = read_bytes(path, max_bytes)
    meta: FrontMatter | None = None
    if suffix == ".pdf":
        title, sections = _pdf_sections(path, raw)
    elif suffix == ".docx":
        title, sections = _docx_sections(path, raw)
    else:
        text = decode_text(raw, path)
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


def load_user_files(paths: Iterable[Path], *, max_bytes: int | None = None, reuse: Reuse | None = None) -> LoadReport:
    """``reuse(path)`` may give the document of a file the index already holds unchanged (not read again)."""
    docs: list[SourceDocument] = []
    skipped: list[Skipped] = []
    for path in paths:
        try:
            docs.append((reuse(Path(path)) if reuse else None) or load_user_file(Path(path), max_bytes=max_bytes))
        except LoadError as exc:
            skipped.append(Skipped(str(path), exc.reason))
    return LoadReport(docs, skipped)


def iter_upload_files(uploads_dir: Path) -> Iterator[Path]:
    if uploads_dir.is_dir():
        yield from sorted(p for p in uploads_dir.iterdir() if p.is_file() and not p.name.startswith("."))
