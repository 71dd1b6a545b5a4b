"""HTML/Markdown rendering of answers, sources and documents for the web app.

Everything that comes from a document or a user goes through ``esc`` (or ``md_text``) before it
reaches the page: HTML or script in a question or a document is shown as text, never run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from assistant.index.documents import doc_in_force
from assistant.wording import load_wording

_MARKER = re.compile(r"\[(\d{1,3})\]")
CONFIDENCE_CSS = {"officiel": "badge-official", "presse": "badge-press", "infere": "badge-inferred"}
NOTE_CSS = {"warning": "answer-warning", "info": "answer-note"}


def text(key: str, **values: object) -> str:
    """A UI text of the wording catalogue (``prompts/wording/ui.yaml``): ``text("chat.send")``."""
    return load_wording().text(f"ui.{key}", **values)


def texts(key: str) -> list[str]:
    return load_wording().texts(f"ui.{key}")


def kind_labels() -> dict[str, str]:
    """Document kind -> its French label (the corpus browser's filter)."""
    return load_wording().mapping("ui.kind_labels")


def confidence_label(confidence: str) -> str:
    return load_wording().mapping("ui.confidence_labels").get(confidence, confidence)


def status_label(status: str | None, kind: str | None = None) -> str:
    """A text's legal status in French: « en vigueur », « projet de loi », « proposition »…"""
    labels = load_wording().mapping("ui.status_labels")
    status = status or "en_vigueur"
    if kind == "loi" and f"{status}_loi" in labels:
        return labels[f"{status}_loi"]
    return labels.get(status, status)


def document_status(meta: Mapping[str, Any], on: date) -> str:
    """The status shown for an indexed document on a day: its legal status, or, for a text
    « en vigueur » outside its dates, « abrogé » (ended) or « pas encore en vigueur »."""
    status = str(meta.get("status") or "en_vigueur")
    if status != "en_vigueur" or doc_in_force(meta, on):
        return status_label(status, meta.get("kind"))
    end = meta.get("valid_to")
    if end and str(end)[:10] <= on.isoformat():
        return status_label("abroge")
    return status_label("not_yet")


def origin_label(origin: str | None) -> str:
    """« corpus officiel » or « fichier ajouté »."""
    labels = load_wording().mapping("ui.origin_labels")
    return labels.get(origin or "knowledge", labels["knowledge"])


def esc(value: object) -> str:
    """HTML-escape anything (None becomes empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(text: str) -> str:
    """Text safe to embed in Markdown: no raw HTML, no link or image syntax, emphasis kept."""
    out = html.escape(text, quote=False)
    return out.replace("[", "&#91;").replace("]", "&#93;")


def kind_label(kind: str | None) -> str:
    return kind_labels().get(kind or "", (kind or "").capitalize())


def french_date(value: str | None) -> str:
    """2026-02-05 -> 5 février 2026 (unknown or malformed dates shown as given)."""
    if not value:
        return ""
    months = texts("render.months")
    try:
        d = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{text('render.first_day') if d.day == 1 else d.day} {months[d.month - 1]} {d.year}"


def source_anchor(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


# ---------------------------------------------------------------- chat answers


def answer_notes(answer: Mapping[str, Any], kinds: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(kind, text) of the notes shown under an answer (its ``to_json()``): its notices, with their
    kinds when given (``Notice.kind``, else "info"), then its citation problems (always warnings)."""
    notices = list(answer.get("notices", []))
    kinds = list(kinds or [])
    return [(kinds[i] if i < len(kinds) else "info", note) for i, note in enumerate(notices)] + [
        ("warning", problem) for problem in answer.get("citation_problems", [])
    ]


def answer_message(answer: Mapping[str, Any], turn: int, notice_kinds: Sequence[str] | None = None) -> str:
    """An answer as a chat message: escaped Markdown with clickable [n] markers and notices."""
    titles = {c["n"]: c.get("title", "") for c in answer.get("citations", [])}
    body = answer_body(str(answer.get("answer", "")), turn, titles)
    parts: list[str] = []
    if answer.get("refused"):
        parts.append(f'<div class="answer-refused">{esc(text("refused_title"))}</div>\n\n')
    parts.append(body)
    for kind, note in answer_notes(answer, notice_kinds):
        parts.append(f'\n\n<div class="{NOTE_CSS.get(kind, "answer-note")}">{esc(note)}</div>')
    return "".join(parts)


def answer_body(body: str, turn: int, titles: Mapping[int, str] | None = None) -> str:
    """Escape the answer text, then turn its [n] markers into links to the sources panel."""
    titles = titles or {}
    pieces: list[str] = []
    last = 0
    for match in _MARKER.finditer(body):
        n = int(match.group(1))
        pieces.append(md_text(body[last : match.start()]))
        if n in titles:
            pieces.append(
                f'<a class="cite" href="#{source_anchor(turn, n)}" data-turn="{turn}" data-n="{n}" '
                f'title="{_attr(text("render.source_title", n=n, title=titles[n]))}">[{n}]</a>'
            )
        else:
            pieces.append(md_text(match.group(0)))
        last = match.end()
    pieces.append(md_text(body[last:]))
    return "".join(pieces)


def _attr(text: str) -> str:
    """Attribute text that Markdown cannot read as a link either."""
    return esc(text).replace("[", "&#91;").replace("]", "&#93;")


def question_message(question: str) -> str:
    return md_text(question)


def chat_messages(turns: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The conversation in Gradio's messages format, rebuilt from the session's turns."""
    messages: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": question_message(turn["question"])})
        messages.append({"role": "assistant", "content": answer_message(turn["answer"], i, turn.get("notice_kinds"))})
    return messages


# ---------------------------------------------------------------- sources panel


def highlight(passage: str, quote: str, window: int = 450) -> str:
    """The passage escaped, the quote wrapped in <mark>, long passages cut around it."""
    passage = re.sub(r"\n\s*\n+", "\n", passage or quote)
    words = quote.split()
    match = None
    if words:
        pattern = r"\s+".join(re.escape(w) for w in words)
        match = re.search(pattern, passage)
    if match is None:
        clipped = passage if len(passage) <= 2 * window else passage[: 2 * window].rsplit(" ", 1)[0] + " …"
        return esc(clipped)
    start, end = match.span()
    lo = max(0, start - window)
    hi = min(len(passage), end + window)
    if lo > 0:
        lo = passage.find(" ", lo) + 1 or lo
    if hi < len(passage):
        cut = passage.rfind(" ", end, hi)
        hi = cut if cut > end else hi
    before = ("… " if lo > 0 else "") + esc(passage[lo:start])
    after = esc(passage[end:hi]) + (" …" if hi < len(passage) else "")
    return f"{before}<mark>{esc(passage[start:end])}</mark>{after}"


def _badges(kind: str | None, confidence: str | None, when: str | None, status: str | None = None,
            origin: str | None = None, status_text: str | None = None) -> str:
    """Kind, legal status, origin, confidence and date of a text, as small labelled badges."""
    badges = []
    if kind:
        badges.append(f'<span class="badge badge-kind">{esc(kind_label(kind))}</span>')
    if status is not None:
        css = "badge-in-force" if status == "en_vigueur" and not status_text else "badge-not-in-force"
        badges.append(f'<span class="badge {css}">{esc(status_text or status_label(status, kind))}</span>')
    if origin is not None:
        css = "badge-user" if origin == "user" else "badge-corpus"
        badges.append(f'<span class="badge {css}">{esc(origin_label(origin))}</span>')
    if confidence in CONFIDENCE_CSS:
        badges.append(f'<span class="badge {CONFIDENCE_CSS[confidence]}">{esc(confidence_label(confidence))}</span>')
    if when:
        badges.append(f'<span class="source-date">{esc(french_date(when))}</span>')
    return "".join(badges)


def _link(url: str | None, label: str | None = None) -> str:
    if not url or not re.match(r"^https?://", url):
        return ""
    label = label or text("render.source_link")
    return (f'<a class="source-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f'{esc(label)} ↗</a>')


def source_card(c: Mapping[str, Any], turn: int | str, *, numbered: bool = True, level: int = 3) -> str:
    """One cited source: title, section path, the passage with the quoted words highlighted, then
    kind, status (in force or not), origin (official corpus or a file added), date and link.

    ``level`` is the heading level of the card's title (under the panel's or the preview's heading).
    """
    n = c.get("n", 0)
    anchor = source_anchor(turn, n) if numbered else ""  # type: ignore[arg-type]
    attrs = f' id="{anchor}" tabindex="-1" aria-labelledby="{anchor}-t"' if numbered else ""
    title_id = f' id="{anchor}-t"' if numbered else ""
    num = (f'<span class="source-num" aria-hidden="true">{n}</span>' if numbered else "")
    label = f'<span class="visually-hidden">{esc(text("render.source_number", n=n))} </span>' if numbered else ""
    section = " › ".join(s.strip() for s in str(c.get("section", "")).split(">") if s.strip())
    level = min(max(level, 2), 6)
    return (
        f'<article class="source-card"{attrs}>'
        f'<header class="source-head">{num}<div><h{level} class="source-title"{title_id}>{label}'
        f'{esc(c.get("title"))}</h{level}>'
        f'<p class="source-section">{esc(section)}</p></div></header>'
        f'<p class="source-passage">{highlight(str(c.get("passage") or ""), str(c.get("quote") or ""), 320)}</p>'
        f'<footer class="source-meta">'
        f'{_badges(c.get("kind"), c.get("confidence"), c.get("date"), c.get("status") or "en_vigueur", c.get("origin") or "knowledge")}'
        f'{_link(c.get("source_url"))}</footer>'
        f"</article>"
    )


def sources_panel(turns: Sequence[Mapping[str, Any]]) -> str:
    """Sources of every answer of the conversation, the latest first (and open)."""
    if not turns:
        return f'<div class="sources-panel"><p class="sources-empty">{esc(text("sources_empty"))}</p></div>'
    blocks = []
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        answer = turn["answer"]
        cards = [source_card(c, i) for c in answer.get("citations", [])]
        related = answer.get("related") or []
        if related:
            cards.append(f'<p class="related-title">{esc(text("related_title"))}</p>')
            cards.extend(source_card(c, i, numbered=False) for c in related)
        if not cards:
            cards.append(f'<p class="sources-empty">{esc(text("render.no_citation"))}</p>')
        latest = i == len(turns) - 1
        blocks.append(
            f'<details class="sources-turn" data-turn="{i}"{" open" if latest else ""}>'
            f'<summary><span class="turn-label">{esc(text("render.turn", n=i + 1))}</span> '
            f'{esc(_shorten(turn["question"], 110))}'
            f"</summary>{''.join(cards)}</details>"
        )
    return '<div class="sources-panel">' + "".join(blocks) + "</div>"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


# ---------------------------------------------------------------- corpus browser


def document_html(meta: Mapping[str, Any], sections: Iterable[Mapping[str, Any]]) -> str:
    """A whole document, section by section, with its metadata and official links."""
    head = [f'<h2 class="doc-title">{esc(meta.get("title"))}</h2>', '<div class="doc-meta">']
    status = str(meta.get("status") or "en_vigueur")
    shown = document_status(meta, date.today())
    head.append(_badges(meta.get("kind"), meta.get("confidence"), meta.get("date"), status,
                        str(meta.get("origin") or "knowledge"),
                        None if shown == status_label(status, meta.get("kind")) else shown))
    for key in ("authority", "reference"):
        if meta.get(key):
            head.append(f'<span class="doc-field"><b>{esc(text(f"render.{key}"))} :</b> {esc(meta.get(key))}</span>')
    if meta.get("valid_to"):
        repealed = text("render.repealed", date=french_date(meta["valid_to"]))
        head.append(f'<span class="badge badge-outdated">{esc(repealed)}</span>')
    head.append("</div>")
    head.append(_doc_sources(meta.get("sources") or []))
    body = []
    previous = 2
    for sec in sections:
        path = [p.strip() for p in str(sec.get("section", "")).split(">") if p.strip()]
        # h3 for a top section, deeper for sub-sections, never more than one level below the last one
        level = min(min(len(path), 3) + 2, previous + 1) if path else previous
        previous = level
        heading = esc(path[-1]) if path else ""
        crumbs = esc(" › ".join(path[:-1]))
        body.append(
            '<section class="doc-section">'
            + (f'<div class="doc-crumbs">{crumbs}</div>' if crumbs else "")
            + (f"<h{level}>{heading}</h{level}>" if heading else "")
            + f'<div class="doc-text">{esc(sec.get("text", ""))}</div></section>'
        )
    return '<div class="doc-reader">' + "".join(head) + "".join(body) + "</div>"


def _doc_sources(sources: Sequence[Mapping[str, Any]]) -> str:
    """The document's public sources, once each, folded away when there are many."""
    seen: dict[str, str] = {}
    for src in sources:
        url = str(src.get("url") or "")
        if re.match(r"^https?://", url) and url not in seen:
            seen[url] = str(src.get("confidence") or "")
    if not seen:
        return ""
    items = "".join(
        f"<li>{_link(url, _host(url))} <span class=\"source-date\">{esc(confidence_label(conf))}"
        f"</span></li>" for url, conf in seen.items()
    )
    return (f'<details class="doc-links"><summary>{esc(text("render.public_sources", n=len(seen)))}</summary>'
            f"<ul>{items}</ul></details>")


def _host(url: str) -> str:
    match = re.match(r"^https?://([^/]+)", url or "")
    return match.group(1) if match else "source"


def search_results_html(hits: Sequence[Any]) -> str:
    """Search hits (retrieval.Hit) as compact cards, with the same badges as the cited sources."""
    if not hits:
        return f'<p class="sources-empty">{esc(text("render.no_passage"))}</p>'
    cards = []
    for n, hit in enumerate(hits, start=1):
        cards.append(
            f'<article class="source-card hit-card"><header class="source-head">'
            f'<span class="source-num" aria-hidden="true">{n}</span>'
            f'<div><h3 class="source-title">{esc(hit.title)}</h3>'
            f'<p class="source-section">{esc(hit.section.replace(">", "›"))}</p></div></header>'
            f'<p class="source-passage">{esc(hit.text)}</p>'
            f'<footer class="source-meta">'
            f'{_badges(hit.kind, hit.confidence, hit.date, getattr(hit, "status", "en_vigueur"), getattr(hit, "origin", "knowledge"))}'
            f'<span class="hit-score">{esc(text("render.relevance", score=f"{hit.score:.2f}"))}</span>'
            f'{_link(hit.source_url)}</footer></article>'
        )
    return '<div class="sources-panel">' + "".join(cards) + "</div>"


def ingest_report_html(rows: Sequence[tuple[str, str, str]], summary: str) -> str:
    """Per-file upload report: (file name, status 'ok'|'skipped'|'error', detail)."""
    labels = load_wording().mapping("ui.sources.report_status")
    lines = []
    for name, status, detail in rows:
        label = esc(labels.get(status, status))
        lines.append(f'<tr><td class="file-name">{esc(name)}</td><td><span class="status status-{esc(status)}">'
                     f"{label}</span></td><td>{esc(detail)}</td></tr>")
    headers = "".join(f"<th>{esc(h)}</th>" for h in texts("sources.report_columns"))
    table = (f"<table class=\"report-table\"><thead><tr>{headers}</tr></thead>"
             f"<tbody>{''.join(lines)}</tbody></table>") if lines else ""
    return f'<div class="ingest-report"><p class="report-summary">{esc(summary)}</p>{table}</div>'


# ---------------------------------------------------------------- misc


def header_html() -> str:
    return (
        '<div class="app-header"><div class="brand-bar"><span class="bar-blue"></span><span class="bar-white"></span>'
        '<span class="bar-red"></span></div><div class="header-body">'
        f'<h1 class="app-title">{esc(text("title"))}</h1><p class="app-tagline">{esc(text("tagline"))}</p>'
        "</div></div>"
    )


def heading_html(key: str, *, visible: bool = False) -> str:
    """A tab's or a column's h2 (only for screen readers unless ``visible``): headings in order."""
    css = "panel-title" if visible else "visually-hidden"
    return f'<h2 class="{css}">{esc(text(key))}</h2>'


def notice_html(text: str, kind: str = "info") -> str:
    return f'<div class="notice notice-{esc(kind)}">{esc(text)}</div>'


def footer_html() -> str:
    return f'<div class="app-footer"><p>{esc(text("disclaimer"))}</p><p>{esc(text("footer"))}</p></div>'
