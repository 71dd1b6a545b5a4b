"""Markdown and DOCX exports of drafts and of chat conversations.

Buyers paste drafts into their own files (Word, LibreOffice), so the DOCX keeps the structure
they need: one heading per section, the ``[n]`` markers, a sources table and a provenance note.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.draft.drafter import Draft, DraftSection
from assistant.fileio import atomic_write_bytes
from assistant.text import clean_control_chars
from assistant.wording import Wording, load_wording

Turn = Mapping[str, Any]
_BOLD = re.compile(r"\*\*(.+?)\*\*")


def _safe(text: object) -> str:
    """Text python-docx and Markdown tables accept: no control characters."""
    return clean_control_chars(str(text or ""))


# Markdown that text from the buyer, the corpus or a user's file must not produce: raw HTML (« < »,
# entities « & »), links and images (« [ » « ] »), emphasis and code (« * » « _ » « ` » « ~ »),
# tables (« | ») and, at the start of a line, headings, quotes, lists and rules. The source markers
# « [n] » stay as they are, unless they would start a link (« [1](… » or « [1]: … »).
_MD_INLINE = re.compile(r"\[\d{1,3}\](?![(\[:])|[\\`*_\[\]<|&~]")
_MD_LINE_START = re.compile(r"^(\s*)(#|>|[-+=]|\d+[.)])", re.MULTILINE)
_ENTITIES = {"<": "&lt;", "&": "&amp;"}  # understood by every Markdown renderer, unlike « \\< »


def _escape_one(match: re.Match[str]) -> str:
    found = match.group(0)
    return found if len(found) > 1 else _ENTITIES.get(found, "\\" + found)


def _inline_text(text: object) -> str:
    """One line of literal Markdown inside a line we start ourselves (a heading, a list item)."""
    return _MD_INLINE.sub(_escape_one, _safe(text)).replace("\n", " ")


def markdown_text(text: object) -> str:
    """``text`` as literal Markdown: shown as written, never turned into HTML, a link or a heading."""
    escaped = _MD_INLINE.sub(_escape_one, _safe(text))
    return _MD_LINE_START.sub(lambda m: m.group(2)[:-1] + "\\" + m.group(2)[-1],
                              "\n".join(line.lstrip() for line in escaped.split("\n")))


def _answer_markdown(text: object) -> str:
    """An answer's own Markdown (lists, bold) kept, but no raw HTML and no link from a quoted text."""
    return re.sub(r"[<&]|\](?=\s*[(:])", lambda m: _ENTITIES.get(m.group(0), "]\\"), _safe(text))


def _cell(text: object) -> str:
    return markdown_text(text).replace("\n", " ").strip()


def _provenance(draft: Draft, w: Wording) -> str:
    values = {k: ("" if v is None else v) for k, v in draft.provenance.items()}
    for key in ("generated_at", "assistant_version", "generator", "corpus_version", "index_generation",
                "index_created_at", "embedding_model"):
        values.setdefault(key, "")
    return w.text("draft.provenance_text", **values)


def _numbered_sections(draft: Draft, w: Wording) -> list[tuple[str, DraftSection, str]]:
    """(heading, section, title of its checklist) in document order."""
    route = draft.route_justification
    heading = w.text("draft.route_heading", label=draft.route_label)
    items = [(f"1. {heading}", route, w.text("draft.route_checks"))]
    items += [(f"{i}. {s.title}", s, w.text("draft.evidence_heading")) for i, s in enumerate(draft.sections, start=2)]
    return items


# ---------------------------------------------------------------- draft: Markdown


def draft_to_markdown(draft: Draft, *, prompts_dir: Path | None = None) -> str:
    """The draft in Markdown. Every text that comes from the buyer, the corpus or a user's file is
    literal (``markdown_text``): it can neither inject HTML or links nor add headings to the note;
    only the note's own wording (catalogue, headings) is written as Markdown."""
    w = load_wording(prompts_dir)
    md = markdown_text
    lines = [f"# {draft.title or w.text('draft.draft_title')}", ""]
    lines.append(f"**{w.text('draft.object')} :** {md(draft.request.object)}  ")
    if draft.request.entity:
        lines.append(f"**{w.text('draft.entity')} :** {md(draft.request.entity)}  ")
    lines.append(f"**{w.text('draft.route')} :** {draft.route_label}")
    lines += ["", f"> {draft.disclaimer or w.text('draft.disclaimer')}", ""]
    for heading, section, checks_title in _numbered_sections(draft, w):
        lines += [f"## {heading}", ""]
        for paragraph in section.paragraph.split("\n\n"):
            lines += [md(paragraph), ""]
        for title, items in ((checks_title, section.evidence_to_request), (w.text("draft.to_complete_heading"), section.to_complete)):
            if items:
                lines += [f"**{title}**", ""] + [f"- {_inline_text(item)}" for item in items] + [""]
    if draft.notices or draft.problems:
        lines += [f"## {w.text('draft.notices_heading')}", ""]
        lines += [f"- {_inline_text(n)}" for n in draft.notices]
        lines += [f"- {w.text('draft.problems_heading')} : {_inline_text(p)}" for p in draft.problems]
        lines.append("")
    lines += [f"## {w.text('draft.sources_heading')}", ""]
    sources = draft.sources()
    if sources:
        columns = w.texts("draft.sources_columns")
        lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for c in sources:
            lines.append(
                f"| [{c.n}] | {_cell(c.doc_id)} | {_cell(c.title)} | {_cell(c.section)} | {_cell(c.date)} "
                f"| {_url_cell(c.source_url)} |"
            )
    else:
        lines.append(w.text("draft.sources_none"))
    lines += ["", f"## {w.text('draft.provenance_heading')}", "", _provenance(draft, w), ""]
    return "\n".join(lines)


def _url_cell(url: object) -> str:
    """A source address as it is (a web address is kept verbatim), or nothing if it is not one."""
    text = _safe(url).strip()
    return text.replace("|", "%7C") if re.fullmatch(r"https?://[^\s<>\"`]+", text) else _cell(text)


# ---------------------------------------------------------------- DOCX helpers


def _document(w: Wording, title: str, subject: str = ""):  # noqa: ANN202 - python-docx Document
    from docx import Document

    doc = Document()
    props = doc.core_properties
    props.title = _safe(title)[:250]
    props.subject = _safe(subject)[:250]
    props.author = w.text("draft.docx_author")
    props.last_modified_by = "Doctrine"
    props.language = "fr-FR"
    props.created = props.modified = datetime.now().replace(microsecond=0)
    props.revision = 1
    return doc


def _save(doc, path: Path) -> Path:  # noqa: ANN001 - python-docx Document
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    doc.save(buffer)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _runs(paragraph, text: str) -> None:  # noqa: ANN001 - python-docx Paragraph
    """Add text to a paragraph, turning **bold** spans into bold runs."""
    position = 0
    for match in _BOLD.finditer(text):
        if match.start() > position:
            paragraph.add_run(text[position : match.start()])
        paragraph.add_run(match.group(1)).bold = True
        position = match.end()
    if position < len(text):
        paragraph.add_run(text[position:])


def _labelled(doc, label: str, value: str) -> None:  # noqa: ANN001
    paragraph = doc.add_paragraph()
    paragraph.add_run(f"{label} : ").bold = True
    paragraph.add_run(_safe(value))


def _bullets(doc, title: str, items: Sequence[str]) -> None:  # noqa: ANN001
    if not items:
        return
    doc.add_paragraph().add_run(_safe(title)).bold = True
    for item in items:
        doc.add_paragraph(_safe(item), style="List Bullet")


def _table(doc, columns: Sequence[str], rows: Sequence[Sequence[object]],  # noqa: ANN001, ANN202
           widths_cm: Sequence[float] | None = None):
    """A compact grid (8 pt, fixed column widths) so long titles and URLs do not spread over pages."""
    from docx.shared import Cm, Pt

    table = doc.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    table.autofit = False
    for cell, name in zip(table.rows[0].cells, columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(_safe(name))
        run.bold = True
        run.font.size = Pt(8)
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(_safe(value)).font.size = Pt(8)
    if widths_cm:
        for column, width in zip(table.columns, widths_cm, strict=True):
            column.width = Cm(width)  # the grid LibreOffice reads
        for row in table.rows:
            for cell, width in zip(row.cells, widths_cm, strict=True):
                cell.width = Cm(width)
    return table


# ---------------------------------------------------------------- draft: DOCX


def draft_to_docx(draft: Draft, path: Path, *, prompts_dir: Path | None = None) -> Path:
    w = load_wording(prompts_dir)
    title = draft.title or w.text("draft.draft_title")
    doc = _document(w, title, draft.request.object)
    doc.add_heading(_safe(title), level=0)
    _labelled(doc, w.text("draft.object"), draft.request.object)
    if draft.request.entity:
        _labelled(doc, w.text("draft.entity"), draft.request.entity)
    _labelled(doc, w.text("draft.route"), draft.route_label)
    doc.add_paragraph().add_run(_safe(draft.disclaimer or w.text("draft.disclaimer"))).italic = True
    for heading, section, checks_title in _numbered_sections(draft, w):
        doc.add_heading(_safe(heading), level=1)
        for paragraph in section.paragraph.split("\n\n"):
            doc.add_paragraph(_safe(paragraph))
        _bullets(doc, checks_title, section.evidence_to_request)
        _bullets(doc, w.text("draft.to_complete_heading"), section.to_complete)
    if draft.notices or draft.problems:
        doc.add_heading(_safe(w.text("draft.notices_heading")), level=1)
        for notice in draft.notices:
            doc.add_paragraph(_safe(notice), style="List Bullet")
        for problem in draft.problems:
            doc.add_paragraph(_safe(f"{w.text('draft.problems_heading')} : {problem}"), style="List Bullet")
    doc.add_heading(_safe(w.text("draft.sources_heading")), level=1)
    sources = draft.sources()
    if sources:
        _table(doc, w.texts("draft.sources_columns"), [
            (f"[{c.n}]", c.doc_id, c.title, c.section, c.date or "", c.source_url) for c in sources
        ], widths_cm=(1.0, 2.8, 4.2, 3.0, 1.9, 3.6))
    else:
        doc.add_paragraph(_safe(w.text("draft.sources_none")))
    doc.add_heading(_safe(w.text("draft.provenance_heading")), level=1)
    doc.add_paragraph(_safe(_provenance(draft, w)))
    return _save(doc, path)


# ---------------------------------------------------------------- conversations


def _answer(turn: Turn) -> Mapping[str, Any]:
    answer = turn.get("answer") or {}
    return answer if isinstance(answer, Mapping) else {"answer": str(answer)}


def _citation_line(c: Mapping[str, Any]) -> str:
    parts = [f"[{c.get('n', '?')}] {c.get('title') or c.get('doc_id', '')}"]
    if c.get("section"):
        parts.append(str(c["section"]))
    if c.get("source_url"):
        parts.append(str(c["source_url"]))
    return " — ".join(parts)


def conversation_to_markdown(
    turns: Sequence[Turn], *, prompts_dir: Path | None = None, exported_at: datetime | None = None
) -> str:
    """A chat transcript, each answer with its notices and its sources."""
    w = load_wording(prompts_dir)
    stamp = (exported_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    lines = [f"# {w.text('draft.conversation_title')}", "", w.text("draft.conversation_intro", exported_at=stamp), ""]
    for n, turn in enumerate(turns, start=1):
        answer = _answer(turn)
        lines += [f"## {w.text('draft.question_heading', n=n)}", "", markdown_text(turn.get("question", "")), ""]
        label = w.text("draft.refused_label") if answer.get("refused") else w.text("draft.answer_label")
        lines += [f"**{label}**", "", _answer_markdown(answer.get("answer", "")), ""]
        for notice in [*(answer.get("notices") or []), *(answer.get("citation_problems") or [])]:
            lines += [f"> {markdown_text(notice).replace(chr(10), ' ')}", ""]
        citations = answer.get("citations") or []
        if citations:
            lines += [f"**{w.text('draft.sources_heading')}**", ""]
            for c in citations:
                lines.append(f"- {markdown_text(_citation_line(c)).replace(chr(10), ' ')}")
                if c.get("quote"):
                    lines.append(f"  > « {markdown_text(c['quote']).replace(chr(10), ' ')} »")
            lines.append("")
        if answer.get("generator"):
            lines += [f"*{markdown_text(w.text('draft.generator_label', generator=answer['generator']))}*", ""]
    return "\n".join(lines)


def conversation_to_docx(
    turns: Sequence[Turn], path: Path, *, prompts_dir: Path | None = None, exported_at: datetime | None = None
) -> Path:
    w = load_wording(prompts_dir)
    stamp = (exported_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    doc = _document(w, w.text("draft.conversation_title"))
    doc.add_heading(_safe(w.text("draft.conversation_title")), level=0)
    doc.add_paragraph(_safe(w.text("draft.conversation_intro", exported_at=stamp)))
    for n, turn in enumerate(turns, start=1):
        answer = _answer(turn)
        doc.add_heading(_safe(w.text("draft.question_heading", n=n)), level=1)
        doc.add_paragraph(_safe(turn.get("question", "")))
        label = w.text("draft.refused_label") if answer.get("refused") else w.text("draft.answer_label")
        doc.add_paragraph().add_run(_safe(label)).bold = True
        for line in _safe(answer.get("answer", "")).splitlines():
            if not line.strip():
                continue
            stripped = line.strip()
            if stripped.startswith(("- ", "* ")):
                style = "List Bullet 2" if line.startswith(("  ", "\t")) else "List Bullet"
                _runs(doc.add_paragraph(style=style), stripped[2:])
            else:
                _runs(doc.add_paragraph(), stripped)
        for notice in [*(answer.get("notices") or []), *(answer.get("citation_problems") or [])]:
            doc.add_paragraph().add_run(_safe(notice)).italic = True
        citations = answer.get("citations") or []
        if citations:
            doc.add_paragraph().add_run(_safe(w.text("draft.sources_heading"))).bold = True
            _table(doc, w.texts("draft.conversation_sources_columns"), [
                (f"[{c.get('n', '')}]", c.get("title") or c.get("doc_id", ""), c.get("section", ""),
                 c.get("quote", ""), c.get("source_url", ""))
                for c in citations
            ], widths_cm=(1.0, 3.6, 3.0, 5.3, 3.6))
        if answer.get("generator"):
            doc.add_paragraph().add_run(
                _safe(w.text("draft.generator_label", generator=answer["generator"]))
            ).italic = True
    return _save(doc, path)
