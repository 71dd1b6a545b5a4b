"""HTML/Markdown rendering of answers, sources and documents for the web app.

Everything that comes from a document or a user goes through ``esc`` (or ``md_text``) before it
reaches the page: HTML or script in a question or a document is shown as text, never run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

_MARKER = re.compile(r"\[(\d{1,3})\]")
_TEXTS_PATH = Path(__file__).with_name("texts.yaml")

KIND_LABELS = {
    "circulaire": "Circulaire", "loi": "Loi", "decret": "Décret", "code": "Code",
    "reglement-ue": "Règlement UE", "referentiel": "Référentiel", "guide": "Guide", "doctrine": "Doctrine",
    "fiche": "Fiche", "presse": "Presse", "glossaire": "Glossaire", "utilisateur": "Document ajouté",
}
CONFIDENCE_LABELS = {
    "officiel": ("Source officielle", "badge-official"),
    "presse": ("Rapporté par la presse", "badge-press"),
    "infere": ("Déduit, à vérifier", "badge-inferred"),
}


@lru_cache(maxsize=1)
def texts() -> dict[str, Any]:
    """Fixed French UI texts (assistant/ui/texts.yaml)."""
    return yaml.safe_load(_TEXTS_PATH.read_text(encoding="utf-8"))


def esc(value: object) -> str:
    """HTML-escape anything (None becomes empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def md_text(text: str) -> str:
    """Text safe to embed in Markdown: no raw HTML, no link or image syntax, emphasis kept."""
    out = html.escape(text, quote=False)
    return out.replace("[", "&#91;").replace("]", "&#93;")


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", (kind or "").capitalize())


def french_date(value: str | None) -> str:
    """2026-02-05 -> 5 février 2026 (unknown or malformed dates shown as given)."""
    if not value:
        return ""
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
              "octobre", "novembre", "décembre")
    try:
        d = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{'1er' if d.day == 1 else d.day} {months[d.month - 1]} {d.year}"


def source_anchor(turn: int, n: int) -> str:
    return f"src-{turn}-{n}"


# ---------------------------------------------------------------- chat answers


def answer_message(answer: Mapping[str, Any], turn: int) -> str:
    """An answer as a chat message: escaped Markdown with clickable [n] markers and notices."""
    titles = {c["n"]: c.get("title", "") for c in answer.get("citations", [])}
    body = answer_body(str(answer.get("answer", "")), turn, titles)
    parts: list[str] = []
    if answer.get("refused"):
        parts.append(f'<div class="answer-refused">{esc(texts()["refused_title"])}</div>\n\n')
    parts.append(body)
    notes = [*answer.get("notices", []), *answer.get("citation_problems", [])]
    for note in notes:
        css = "answer-warning" if _is_warning(note) else "answer-note"
        parts.append(f'\n\n<div class="{css}">{esc(note)}</div>')
    return "".join(parts)


def _is_warning(note: str) -> bool:
    return any(word in note for word in ("n'a pas répondu", "interrompue", "non retrouvée", "supprimé", "absente"))


def answer_body(text: str, turn: int, titles: Mapping[int, str] | None = None) -> str:
    """Escape the answer text, then turn its [n] markers into links to the sources panel."""
    titles = titles or {}
    pieces: list[str] = []
    last = 0
    for match in _MARKER.finditer(text):
        n = int(match.group(1))
        pieces.append(md_text(text[last : match.start()]))
        if n in titles:
            pieces.append(
                f'<a class="cite" href="#{source_anchor(turn, n)}" data-turn="{turn}" data-n="{n}" '
                f'title="Source {n} : {_attr(titles[n])}">[{n}]</a>'
            )
        else:
            pieces.append(md_text(match.group(0)))
        last = match.end()
    pieces.append(md_text(text[last:]))
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
        messages.append({"role": "assistant", "content": answer_message(turn["answer"], i)})
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


def _badges(kind: str | None, confidence: str | None, when: str | None) -> str:
    badges = []
    if kind:
        badges.append(f'<span class="badge badge-kind">{esc(kind_label(kind))}</span>')
    if confidence in CONFIDENCE_LABELS:
        label, css = CONFIDENCE_LABELS[confidence]
        badges.append(f'<span class="badge {css}">{esc(label)}</span>')
    if when:
        badges.append(f'<span class="source-date">{esc(french_date(when))}</span>')
    return "".join(badges)


def _link(url: str | None, label: str = "Consulter la source") -> str:
    if not url or not re.match(r"^https?://", url):
        return ""
    return (f'<a class="source-link" href="{esc(url)}" target="_blank" rel="noopener noreferrer">'
            f'{esc(label)} ↗</a>')


def source_card(c: Mapping[str, Any], turn: int, *, numbered: bool = True, open_: bool = False) -> str:
    """One cited source: title, section path, quote highlighted in its passage, date, link."""
    n = c.get("n", 0)
    anchor = f' id="{source_anchor(turn, n)}"' if numbered else ""
    num = f'<span class="source-num">{n}</span>' if numbered else ""
    section = " › ".join(s.strip() for s in str(c.get("section", "")).split(">") if s.strip())
    return (
        f'<article class="source-card"{anchor}>'
        f'<header class="source-head">{num}<div><div class="source-title">{esc(c.get("title"))}</div>'
        f'<div class="source-section">{esc(section)}</div></div></header>'
        f'<blockquote class="source-quote">{esc(c.get("quote"))}</blockquote>'
        f'<details class="source-context"{" open" if open_ else ""}><summary>Lire le passage dans son contexte</summary>'
        f'<div class="source-passage">{highlight(str(c.get("passage") or ""), str(c.get("quote") or ""))}</div>'
        f"</details>"
        f'<footer class="source-meta">{_badges(c.get("kind"), c.get("confidence"), c.get("date"))}'
        f'{_link(c.get("source_url"))}</footer>'
        f"</article>"
    )


def sources_panel(turns: Sequence[Mapping[str, Any]]) -> str:
    """Sources of every answer of the conversation, the latest first."""
    if not turns:
        return f'<div class="sources-empty">{esc(texts()["sources_empty"])}</div>'
    blocks = []
    for i in range(len(turns) - 1, -1, -1):
        turn = turns[i]
        answer = turn["answer"]
        cards = [source_card(c, i) for c in answer.get("citations", [])]
        related = answer.get("related") or []
        if related:
            cards.append(f'<div class="related-title">{esc(texts()["related_title"])}</div>')
            cards.extend(source_card(c, i, numbered=False) for c in related)
        if not cards:
            cards.append('<div class="sources-empty">Aucune source citée pour cette réponse.</div>')
        latest = i == len(turns) - 1
        blocks.append(
            f'<details class="sources-turn"{" open" if latest else ""}>'
            f'<summary><span class="turn-label">Question {i + 1}</span> {esc(_shorten(turn["question"], 110))}'
            f"</summary>{''.join(cards)}</details>"
        )
    return '<div class="sources-panel">' + "".join(blocks) + "</div>"


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


# ---------------------------------------------------------------- corpus browser


def doc_in_force(meta: Mapping[str, Any], on: date) -> bool:
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


def document_html(meta: Mapping[str, Any], sections: Iterable[Mapping[str, Any]]) -> str:
    """A whole document, section by section, with its metadata and official links."""
    head = [f'<h2 class="doc-title">{esc(meta.get("title"))}</h2>', '<div class="doc-meta">']
    head.append(_badges(meta.get("kind"), meta.get("confidence"), meta.get("date")))
    for label, key in (("Autorité", "authority"), ("Référence", "reference")):
        if meta.get(key):
            head.append(f'<span class="doc-field"><b>{label} :</b> {esc(meta.get(key))}</span>')
    if meta.get("valid_to"):
        head.append(f'<span class="badge badge-outdated">Abrogé ou remplacé le {esc(french_date(meta["valid_to"]))}</span>')
    head.append("</div>")
    head.append(_doc_sources(meta.get("sources") or []))
    body = []
    for sec in sections:
        path = [p.strip() for p in str(sec.get("section", "")).split(">") if p.strip()]
        level = min(len(path), 3) + 2
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
        f"<li>{_link(url, _host(url))} <span class=\"source-date\">{esc(CONFIDENCE_LABELS.get(conf, (conf, ''))[0])}"
        f"</span></li>" for url, conf in seen.items()
    )
    return (f'<details class="doc-links"><summary>Sources publiques du document ({len(seen)})</summary>'
            f"<ul>{items}</ul></details>")


def _host(url: str) -> str:
    match = re.match(r"^https?://([^/]+)", url or "")
    return match.group(1) if match else "source"


def search_results_html(hits: Sequence[Any]) -> str:
    """Search hits (retrieval.Hit) as compact cards."""
    if not hits:
        return '<div class="sources-empty">Aucun passage trouvé.</div>'
    cards = []
    for n, hit in enumerate(hits, start=1):
        cards.append(
            f'<article class="source-card hit-card"><header class="source-head"><span class="source-num">{n}</span>'
            f'<div><div class="source-title">{esc(hit.title)}</div>'
            f'<div class="source-section">{esc(hit.section.replace(">", "›"))}</div></div></header>'
            f'<div class="source-passage">{esc(hit.text)}</div>'
            f'<footer class="source-meta">{_badges(hit.kind, hit.confidence, hit.date)}'
            f'<span class="hit-score">pertinence {hit.score:.2f}</span>{_link(hit.source_url)}</footer></article>'
        )
    return '<div class="sources-panel">' + "".join(cards) + "</div>"


def ingest_report_html(rows: Sequence[tuple[str, str, str]], summary: str) -> str:
    """Per-file upload report: (file name, status 'ok'|'skipped'|'error', detail)."""
    icons = {"ok": ("Ajouté", "status-ok"), "skipped": ("Ignoré", "status-skipped"), "error": ("Échec", "status-error")}
    lines = []
    for name, status, detail in rows:
        label, css = icons.get(status, (status, ""))
        lines.append(f'<tr><td class="file-name">{esc(name)}</td><td><span class="status {css}">{label}</span></td>'
                     f"<td>{esc(detail)}</td></tr>")
    table = ("<table class=\"report-table\"><thead><tr><th>Fichier</th><th>Résultat</th><th>Détail</th></tr></thead>"
             f"<tbody>{''.join(lines)}</tbody></table>") if lines else ""
    return f'<div class="ingest-report"><p class="report-summary">{esc(summary)}</p>{table}</div>'


# ---------------------------------------------------------------- misc


def header_html() -> str:
    t = texts()
    return (
        '<div class="app-header"><div class="brand-bar"><span class="bar-blue"></span><span class="bar-white"></span>'
        '<span class="bar-red"></span></div><div class="header-body">'
        f'<div class="app-title">{esc(t["title"])}</div><div class="app-tagline">{esc(t["tagline"])}</div>'
        "</div></div>"
    )


def notice_html(text: str, kind: str = "info") -> str:
    return f'<div class="notice notice-{esc(kind)}">{esc(text)}</div>'


def footer_html() -> str:
    t = texts()
    return f'<div class="app-footer">{esc(t["disclaimer"])}<br>{esc(t["footer"])}</div>'
