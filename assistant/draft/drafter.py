"""Justification drafting: route and objective paragraphs, grounded in the corpus, for the buyer's file.

Every doctrine sentence of a draft is copied verbatim from a corpus section and carries its
``[n]``; every statement about the offer is the buyer's own input, quoted and attributed; what
the buyer did not give becomes an "à compléter" mark. Templates (``prompts/drafting/``) write
the default draft deterministically; an LLM endpoint, when configured, only rewrites it from
the same evidence and passes the same citation check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2

import assistant
from assistant.answer.citations import check_answer, markers, squash, verify_citations
from assistant.answer.generators import CIRCULAR_ID, LLMGenerator, format_sources, llm_error, prompt_chain
from assistant.answer.retrieval import Searcher
from assistant.answer.types import Citation, Hit
from assistant.config import Settings
from assistant.draft.catalogue import ROUTE_IDS, Catalog, Criterion, Route, load_catalog
from assistant.draft.evidence import EvidenceFinder
from assistant.draft.request import DraftContext, DraftInputError, DraftRequest, load_request, parse_request
from assistant.index.snapshot import Snapshot
from assistant.wording import Wording, load_wording

__all__ = [
    "Draft", "DraftContext", "DraftInputError", "DraftRequest", "DraftSection", "Drafter", "Evidence",
    "load_request", "parse_request",
]

MAX_CRITERION_EVIDENCE = 3
MAX_ROUTE_EVIDENCE = 2


# ---------------------------------------------------------------- output


@dataclass
class Evidence:
    """One verbatim piece of a corpus section, as shown in a paragraph, with its citation."""

    citation: Citation
    text: str  # displayed: list bullets and emphasis marks removed

    @property
    def cited(self) -> str:
        """The text with its marker before the final punctuation (French usage)."""
        text = self.text.rstrip()
        marker = f"[{self.citation.n}]"
        if text and text[-1] in ".;:!?":
            return f"{text[:-1].rstrip()} {marker}{text[-1]}"
        return f"{text} {marker}."


@dataclass
class DraftSection:
    key: str
    title: str
    paragraph: str
    citations: list[Citation]
    evidence_to_request: list[str]
    to_complete: list[str]
    doctrine_paragraph: str | None = None
    offer_paragraph: str | None = None
    limits: str = ""
    evidence: list[Evidence] = field(default_factory=list, repr=False)

    def to_json(self, key_name: str) -> dict[str, Any]:
        return {
            key_name: self.key, "title": self.title, "paragraph": self.paragraph,
            "citations": [c.to_json() for c in self.citations],
            "evidence_to_request": self.evidence_to_request, "to_complete": self.to_complete,
            "doctrine_paragraph": self.doctrine_paragraph, "offer_paragraph": self.offer_paragraph,
            "limits": self.limits,
        }


@dataclass
class Draft:
    """A complete draft; ``to_json`` is the ``doctrine draft --format json`` contract."""

    request: DraftRequest
    route_label: str
    route_justification: DraftSection
    sections: list[DraftSection]
    provenance: dict[str, Any]
    notices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    title: str = ""
    disclaimer: str = ""

    def all_sections(self) -> list[DraftSection]:
        return [self.route_justification, *self.sections]

    def sources(self) -> list[Citation]:
        """Every cited source once, by number (the sources table)."""
        by_n: dict[int, Citation] = {}
        for section in self.all_sections():
            for c in section.citations:
                by_n.setdefault(c.n, c)
        return [by_n[n] for n in sorted(by_n)]

    def to_json(self) -> dict[str, Any]:
        return {
            "object": self.request.object, "entity": self.request.entity, "route": self.request.route,
            "route_label": self.route_label, "title": self.title,
            "route_justification": self.route_justification.to_json("route"),
            "sections": [s.to_json("criterion") for s in self.sections],
            "sources": [
                {"n": c.n, "doc_id": c.doc_id, "title": c.title, "section": c.section, "date": c.date,
                 "source_url": c.source_url, "kind": c.kind, "confidence": c.confidence}
                for c in self.sources()
            ],
            "provenance": self.provenance, "notices": self.notices, "citation_problems": self.problems,
            "disclaimer": self.disclaimer, "request": self.request.model_dump(mode="json"),
        }

class _Numbering:
    """One number per (section, quote) across the whole draft, in order of first use."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.numbers: dict[tuple[str, str], int] = {}

    def evidence(self, hit: Hit, quote: str, shown: str) -> Evidence:
        key = (hit.section_id, quote)
        n = self.numbers.setdefault(key, len(self.numbers) + 1)
        return Evidence(Citation.from_hit(n, hit, quote, self.snap.sections[hit.section_id].text), shown)


# ---------------------------------------------------------------- templates


def _user_text(value: str) -> str:
    return squash(value).rstrip(" .")


def _lcfirst(value: str) -> str:
    return value[:1].lower() + value[1:] if value[1:2].islower() else value


@lru_cache(maxsize=4)
def _environment(folder: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined, autoescape=False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
    )
    env.filters["user_text"] = _user_text
    env.filters["lcfirst"] = _lcfirst
    return env


def _paragraphs(text: str) -> str:
    """Template output to clean prose: single spaces inside paragraphs, one blank line between."""
    parts = [squash(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in parts if p)


# ---------------------------------------------------------------- drafter


class Drafter:
    """Writes the route justification and one paragraph per objective for a ``DraftRequest``."""

    def __init__(self, settings: Settings, searcher: Searcher, llm: LLMGenerator | None = None) -> None:
        self.settings = settings
        self.searcher = searcher
        self.llm = llm
        self.finder = EvidenceFinder(searcher)

    @property
    def wording(self) -> Wording:
        return load_wording(self.settings.prompts_dir)

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.knowledge_dir)

    def draft(self, request: DraftRequest | Mapping[str, Any], *, use_llm: bool = True) -> Draft:
        request = parse_request(request)
        t0 = time.perf_counter()
        catalog = self.catalog
        w = self.wording
        env = _environment(str(self.settings.prompts_dir / "drafting"))
        snap = self.searcher.reader.snapshot()
        numbering = _Numbering(snap)
        route = catalog.route(request.route)
        route_section = self._route_section(request, route, snap, numbering, env, w)
        sections = [
            self._criterion_section(request, catalog.criterion(cid), route, snap, numbering, env, w)
            for cid in request.criteria
        ]
        timings = {"template": (time.perf_counter() - t0) * 1000}
        generator, notices, problems = "template", list[str](), list[str]()
        if self.llm is not None and use_llm:
            t1 = time.perf_counter()
            generator, notices, problems = self._llm_pass(request, route, [route_section, *sections], w)
            timings["llm"] = (time.perf_counter() - t1) * 1000
        for section in [route_section, *sections]:
            problems += self._check(section, request, w)
        if any(c.doc_id == CIRCULAR_ID for s in [route_section, *sections] for c in s.citations):
            notices.append(w.text("answer.circular_caveat"))
        if snap.interrupted:
            notices.append(w.text("draft.index_interrupted", generation=snap.generation))
        provenance = {
            "generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "generator": generator,
            "corpus_version": snap.corpus_version,
            "index_generation": snap.generation,
            "index_created_at": snap.manifest.get("created_at"),
            "embedding_model": snap.manifest.get("embedding_model"),
            "criteria_version": catalog.version,
            "retrieval_mode": self.settings.retrieval_mode,
            "assistant_version": assistant.__version__,
            "timings_ms": {k: round(v, 1) for k, v in timings.items()},
        }
        return Draft(
            request=request, route_label=route.label, route_justification=route_section, sections=sections,
            provenance=provenance, notices=notices, problems=problems, title=w.text("draft.draft_title"),
            disclaimer=w.text("draft.disclaimer"),
        )

    # -- sections

    def _render(
        self, env: jinja2.Environment, name: str, variables: dict[str, Any], w: Wording
    ) -> tuple[str, str, list[str]]:
        to_complete: list[str] = []

        def a_completer(label: str) -> str:
            label = squash(label)
            if label not in to_complete:
                to_complete.append(label)
            return to_complete_marker(w, label)

        try:
            template = env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise FileNotFoundError(f"gabarit de rédaction introuvable : prompts/drafting/{name}") from exc
        context = template.new_context(variables | {"a_completer": a_completer, "no_evidence": w.text("draft.no_evidence")})
        doctrine = _paragraphs("".join(template.blocks["doctrine"](context)))
        offer = _paragraphs("".join(template.blocks["offer"](context)))
        return doctrine, offer, to_complete

    def _route_section(
        self, request: DraftRequest, route: Route, snap: Snapshot, numbering: _Numbering,
        env: jinja2.Environment, w: Wording,
    ) -> DraftSection:
        method_raw = self.finder.find(snap, w.text("draft.method_query"), doc_ids=(CIRCULAR_ID,), limit=1)
        used = {(h.section_id, q) for h, q, _ in method_raw}
        exceptions_raw = []
        if route.builds:
            exceptions_raw = self.finder.find(
                snap, " ".join(e.text for e in route.exceptions), doc_ids=(CIRCULAR_ID,), limit=1, exclude=used,
            )
            used |= {(h.section_id, q) for h, q, _ in exceptions_raw}
        route_raw = self.finder.find(
            snap, route.query, doc_ids=route.doc_ids or (CIRCULAR_ID,), references=route.references,
            limit=MAX_ROUTE_EVIDENCE, exclude=used,
        )
        method = [numbering.evidence(*item) for item in method_raw]
        exceptions = [numbering.evidence(*item) for item in exceptions_raw]
        evidence = [numbering.evidence(*item) for item in route_raw]
        doctrine, offer, to_complete = self._render(env, f"route_{route.id}.j2", {
            "request": request, "context": request.context, "route": route, "method": method,
            "exceptions": exceptions, "evidence": evidence, "criterion": None, "facts": None,
        }, w)
        every = method + exceptions + evidence
        return DraftSection(
            key=route.id, title=route.label, paragraph=_join(doctrine, offer),
            citations=[e.citation for e in every], evidence_to_request=list(route.must_show),
            to_complete=to_complete, doctrine_paragraph=doctrine, offer_paragraph=offer, evidence=every,
        )

    def _criterion_section(
        self, request: DraftRequest, criterion: Criterion, route: Route, snap: Snapshot, numbering: _Numbering,
        env: jinja2.Environment, w: Wording,
    ) -> DraftSection:
        raw = self.finder.find(
            snap, criterion.query, doc_ids=criterion.doc_ids, references=criterion.references,
            limit=MAX_CRITERION_EVIDENCE,
        )
        evidence = [numbering.evidence(*item) for item in raw]
        doctrine, offer, to_complete = self._render(env, f"criterion_{criterion.id}.j2", {
            "request": request, "context": request.context, "route": route, "criterion": criterion,
            "evidence": evidence, "facts": request.facts.get(criterion.id), "method": [], "exceptions": [],
        }, w)
        return DraftSection(
            key=criterion.id, title=criterion.label, paragraph=_join(doctrine, offer),
            citations=[e.citation for e in evidence], evidence_to_request=list(criterion.evidence_to_request),
            to_complete=to_complete, doctrine_paragraph=doctrine, offer_paragraph=offer,
            limits=criterion.not_documented, evidence=evidence,
        )

    # -- LLM rewrite and the citation check

    def _llm_pass(
        self, request: DraftRequest, route: Route, sections: list[DraftSection], w: Wording
    ) -> tuple[str, list[str], list[str]]:
        """Rewrite every section, or none: any endpoint failure keeps the whole template draft.

        A rewrite that cites none of its section's evidence is not a sourced paragraph: it is
        dropped for that section. Returns (generator, notices, problems).
        """
        assert self.llm is not None
        try:
            rewritten = [self._rewrite(request, route, s, w) for s in sections]
        except Exception as exc:  # noqa: BLE001 - timeouts, HTTP errors, empty replies
            error = llm_error(exc, w.text("answer.llm_timeout"))
            return w.text("answer.fallback_generator", name="template"), [w.text("draft.llm_fallback", error=error)], []
        problems = []
        for section, text in zip(sections, rewritten, strict=True):
            if section.evidence and not set(markers(text)) & {e.citation.n for e in section.evidence}:
                problems.append(f"{section.title} : {w.text('draft.llm_unsourced')}")
                continue
            section.paragraph = text
            section.doctrine_paragraph = section.offer_paragraph = None
        return self.llm.name, [], problems

    def _rewrite(self, request: DraftRequest, route: Route, section: DraftSection, w: Wording) -> str:
        assert self.llm is not None
        chain = prompt_chain(self.llm.model, self.settings.prompts_dir,
                             ("system", "draft_llm_system.md"), ("human", "draft_llm_user.md"))
        sources = [e.citation._replace(quote=e.text) for e in section.evidence]
        buyer = "\n".join(f"- {t}" for t in _buyer_lines(request, section.key, w))
        text = chain.invoke({
            "section_title": section.title,
            "purchase": w.text("draft.llm_purchase", object=request.object, route=route.label),
            "sources": format_sources(sources) or w.text("draft.llm_no_sources"),
            "buyer": buyer or w.text("draft.llm_no_buyer_input"),
            "draft": section.paragraph,
            "to_complete": "; ".join(section.to_complete) or w.text("draft.llm_nothing_to_complete"),
        })
        text = _paragraphs(re.sub(r"\[0\]", "", text))
        if not text:
            raise ValueError("réponse vide du service de génération")
        return text

    def _check(self, section: DraftSection, request: DraftRequest, w: Wording) -> list[str]:
        """Same check as answers; the buyer's own words are a source for « » quotes only (n=0)."""
        buyer = Citation(
            n=0, doc_id="acheteur", title=w.text("draft.buyer_source"), section="", quote="",
            source_url="", score=0.0, passage="\n".join(request.buyer_texts()),
        )
        known = {e.citation.n: e.citation for e in section.evidence}
        checked = check_answer(section.paragraph, [*known.values(), buyer], w)
        section.paragraph = checked.text
        used = [c for c in checked.citations if c.n != 0]
        section.citations = [known[c.n] for c in used]
        problems = checked.problems + verify_citations(section.citations, w)
        return [f"{section.title} : {p}" for p in problems]


def _join(doctrine: str, offer: str) -> str:
    return "\n\n".join(p for p in (doctrine, offer) if p)


def to_complete_marker(w: Wording, label: str) -> str:
    """How an item « à compléter » (listed in ``DraftSection.to_complete``) appears in a paragraph."""
    return w.text("draft.to_complete_marker", label=label)


def _buyer_lines(request: DraftRequest, key: str, w: Wording) -> list[str]:
    """The buyer's input relevant to one section, labelled for the LLM prompt."""
    labels = w.mapping("draft.buyer_labels")
    ctx = request.context
    lines = [f"{labels['object']} : {request.object}"]
    if request.entity:
        lines.append(f"{labels['entity']} : {request.entity}")
    if key in ROUTE_IDS:
        for name in ("mutualised_examined", "market_examined", "exception", "exception_facts", "data_sensitivity",
                     "notes"):
            value = getattr(ctx, name)
            if value:
                lines.append(f"{labels[name]} : {value}")
    else:
        if request.facts.get(key):
            lines.append(f"{labels['facts']} : {request.facts[key]}")
        if ctx.data_sensitivity and key in ("souverainete", "securite"):
            lines.append(f"{labels['data_sensitivity']} : {ctx.data_sensitivity}")
    return lines

