"""A drafting request typed in the chat (« Rédige la justification de… ») becomes a draft.

The route, the objectives and the exception are read from the message with the rules of
``prompts/analysis.yaml``; what the message does not say stays « À compléter » in the draft, as in
the drafting form. The text is the drafter's own (templates, verified evidence), shown in the chat
with its citations, together with the request read, so the app can open the drafting tab prefilled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.answer.analysis import rules
from assistant.answer.chain import AnswerChain
from assistant.answer.generators import LLMGenerator
from assistant.answer.retrieval import Searcher
from assistant.answer.types import Citation, DraftReply, Generated
from assistant.config import Settings
from assistant.draft.catalogue import CatalogError, load_catalog
from assistant.draft.drafter import Draft, Drafter
from assistant.text import fold
from assistant.wording import load_wording

# When the message names no route: the first step of the method (the draft then asks the buyer to
# complete what was examined), and the first objective.
DEFAULT_ROUTE = "mutualisee"
DEFAULT_CRITERION = "performance_metier"
# A build route implies the earlier steps were examined: the furthest step named wins.
_ROUTE_ORDER = ("faire_avec", "faire_faire", "faire", "sur_etagere", "mutualisee")
_OBJECT = re.compile(
    r"(?:\b(?:un|une|le|la|les|des|notre|nos|d'un|d'une|du)\s+|\bl['’]\s*)((?:nouvel|nouveau|nouvelle|futur|futurs|future)?\s*"
    r"(?:outil|logiciel|application|appli|solution|plateforme|service|saas|site|portail|syst[eè]me|progiciel|"
    r"marché|licence|hébergement|messagerie|suite)\b[^,;:.?!]*?)(?=\s+(?:après|car|parce|puisque|en insistant|"
    r"afin|et en|alors|plutôt|au lieu)\b|[,;:.?!]|$)", re.IGNORECASE)

MIN_OBJECT_CHARS = 3  # DraftRequest.object's minimum
_CHOSEN = re.compile(
    r"\b(?:choisir|choisit|choisissons|choix d[eu']?|retenir|retient|retenons|retiens|retenez|retenue?s?|acheter|acquérir|"
    r"déployer|opter pour|opte pour|optons pour|recourir à|recours à)(?!\w)\s*"
    r"([^,;:.?!]+?)(?=\s+(?:plutôt|au lieu|de préférence)\b|[,;:.?!]|$)", re.IGNORECASE)


@dataclass(frozen=True)
class ChatDraftRequest:
    """What the message says: the object bought, the route retained, the objectives, the exception."""

    object: str
    route: str | None
    criteria: tuple[str, ...]
    exception: str | None

    def as_request(self) -> dict[str, Any]:
        context = {"exception": self.exception} if self.exception else {}
        return {"object": self.object, "route": self.route or DEFAULT_ROUTE,
                "criteria": list(self.criteria) or [DEFAULT_CRITERION], "context": context}


def _named(folded: str, table: dict[str, list[str]]) -> list[str]:
    return [key for key, patterns in table.items() if any(re.search(p, folded) for p in patterns)]


def _route(folded: str, r: dict[str, Any]) -> str | None:
    """The route the message retains: mentions preceded by a word that discards them (« après avoir
    écarté les solutions mutualisées ») are ignored; one preceded by a word that retains it wins;
    otherwise the furthest step of the method named."""
    rejected, retained = re.compile(r["draft_route_rejected"]), re.compile(r["draft_route_retained"])
    kept: dict[str, bool] = {}
    for route, patterns in r["draft_routes"].items():
        for pattern in patterns:
            for m in re.finditer(pattern, folded):
                before = folded[max(0, m.start() - 60):m.start()]
                if rejected.search(before):
                    continue
                kept[route] = kept.get(route, False) or bool(retained.search(before))
    if not kept:
        return None
    chosen = [route for route, flag in kept.items() if flag] or list(kept)
    return min(chosen, key=_ROUTE_ORDER.index)


def _object(message: str, rejected: re.Pattern[str]) -> str | None:
    """What is bought: not the alternative the message sets aside (« Moodle plutôt qu'une plateforme
    propriétaire »), which is named after a word that discards it."""
    for found in _OBJECT.finditer(message):
        before = fold(message[max(0, found.start() - 60):found.start()])
        # « on ne prend pas de SecNumCloud pour l'appli » sets SecNumCloud aside, not the appli.
        if not rejected.search(before) or re.search(r"\b(?:pour|for)\s*$", before):
            return found.group(1).strip()
    chosen = _CHOSEN.search(message)
    return chosen.group(1).strip() if chosen else None


# A request that names nothing but the piece to write (« Pouvez-vous me rédiger le paragraphe de justification : »);
# « la justification de notre grille : … » names its object, and keeps it.
_REQUEST_LEAD = re.compile(
    r"^[^:]{0,80}\b(?:paragraphe|justification|justif|note|texte)(?:\s+(?:de|d'une?)\s+justification)?"
    r"(?:\s*,?\s*(?:svp|stp|merci|s'il (?:vous|te) pla[iî]t))?\s*:\s*(?P<rest>.{3,})$", re.IGNORECASE | re.DOTALL)


def _past_request(message: str) -> str:
    """The message without the request that opens it (« Pouvez-vous me rédiger le paragraphe de justification : »)."""
    lead = _REQUEST_LEAD.match(message.strip())
    return lead.group("rest").strip() if lead else message.strip()


def read_request(message: str, prompts_dir: Path) -> ChatDraftRequest:
    r = rules(prompts_dir)
    folded = fold(message)
    criteria = tuple(_named(folded, r["draft_criteria"]))
    exceptions = _named(folded, r["draft_exceptions"])
    route = _route(folded, r)
    if route is None and exceptions:
        route = "faire"
    subject = _object(message, re.compile(r["draft_route_rejected"])) or ""
    if len(subject) < MIN_OBJECT_CHARS:  # nothing readable as the object: the message says it, past its request
        subject = _past_request(message)
    exception = exceptions[0] if exceptions and route in ("faire", "faire_faire", "faire_avec") else None
    return ChatDraftRequest(subject[:300].rstrip(" ?.!") or message[:300], route, criteria, exception)


class ChatDrafter:
    """The ``DraftResponder`` of the answer chain: read the message, draft, render for the chat."""

    def __init__(self, drafter: Drafter, prompts_dir: Path) -> None:
        self.drafter = drafter
        self.prompts_dir = prompts_dir
        self.wording = load_wording(prompts_dir)
        # The extractive answer ends on the list of its documents: the draft lists its own sources.
        self._sources_line = self.wording.text("answer.sources_line", sources="\0").split("\0", 1)[0].strip()

    def __call__(self, message: str, support: Generated | None = None) -> DraftReply:
        chat = read_request(message, self.prompts_dir)
        request = chat.as_request()
        draft = self.drafter.draft(request, use_llm=False)
        text, citations = self.render(draft, chat, support)
        return DraftReply(text, tuple(citations), request)

    def render(
        self, draft: Draft, chat: ChatDraftRequest, support: Generated | None = None,
    ) -> tuple[str, list[Citation]]:
        """The route paragraph when the message named a route (or nothing at all), one paragraph per
        objective it named, the evidence to obtain, what the texts say on the message's own subject
        (``support``: the templates know the route and the objectives, not « le passage par l'UGAP »
        or « un achat innovant de 70 k€ »), and what is left to complete."""
        w = self.wording
        sections = []
        if chat.route or not chat.criteria:
            sections.append((w.text("draft.route_heading", label=draft.route_label), draft.route_justification))
        if chat.criteria:
            sections += [(s.title, s) for s in draft.sections]
        lines = [f"**{w.text('draft.chat_title')}** — {draft.request.object}", ""]
        to_complete: list[str] = []
        cited: dict[int, Citation] = {}
        for heading, section in sections:
            lines += [f"### {heading}", "", section.paragraph, ""]
            if section.evidence_to_request:
                lines += [f"*{w.text('draft.evidence_heading')}* :", *[f"- {e}" for e in section.evidence_to_request], ""]
            to_complete += [t for t in section.to_complete if t not in to_complete]
            for c in section.citations:
                cited.setdefault(c.n, c)
        if support is not None and support.text:
            offset = max(cited, default=0)
            body = [re.sub(r"\[(\d+)\]", lambda m: f"[{int(m.group(1)) + offset}]", line)
                    for line in support.text.splitlines() if not line.startswith(self._sources_line)]
            lines += [f"### {w.text('draft.support_heading')}", "", "\n".join(body).strip(), ""]
            for c in support.citations:
                cited[c.n + offset] = c._replace(n=c.n + offset)
        if to_complete:
            lines += [f"**{w.text('draft.to_complete_heading')}** :", *[f"- {t}" for t in to_complete], ""]
        lines.append(w.text("draft.chat_next"))
        return "\n".join(lines).strip(), [cited[n] for n in sorted(cited)]


def chat_chain(settings: Settings, searcher: Searcher, llm: LLMGenerator | None, drafter: Drafter) -> AnswerChain:
    """The chat's answer chain, built in one place for the app and the evaluation: it drafts what a
    message asks to draft, and a question naming one of the doctrine's objectives also searches what
    the drafting catalogue says about it."""
    try:
        topics = tuple((c.label, c.query) for c in load_catalog(settings.knowledge_dir).criteria)
    except CatalogError:
        topics = ()
    return AnswerChain(settings, searcher, llm, drafting=ChatDrafter(drafter, settings.prompts_dir), topics=topics)
