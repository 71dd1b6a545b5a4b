"""Justification drafting: route and objective paragraphs, grounded in the corpus, for the buyer's file.

Every doctrine sentence of a draft is copied verbatim from a corpus section and carries its
``[n]``; every statement about the offer is the buyer's own input, quoted and attributed; what
the buyer did not give becomes an "à compléter" mark. Templates (``prompts/drafting/``) write
the default draft deterministically; an LLM endpoint, when configured, only rewrites it from
the same evidence and passes the same citation check.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import assistant
from assistant.chunking import Unit, section_units
from assistant.citations import Citation, check_answer, quote_in_passage, squash, verify_citations
from assistant.config import Settings
from assistant.criteria import (
    BUILD_ROUTE_IDS,
    CRITERION_IDS,
    EXCEPTION_IDS,
    ROUTE_IDS,
    Catalog,
    Criterion,
    Reference,
    Route,
    load_catalog,
)
from assistant.generation import CIRCULAR_ID, LLMGenerator, format_sources
from assistant.prompts import load_prompt, messages
from assistant.retrieval import Filters, Hit, Searcher
from assistant.store import Snapshot
from assistant.text import clean_control_chars, tokens

MAX_TEXT = 4000
MAX_CRITERION_EVIDENCE = 3
MAX_ROUTE_EVIDENCE = 2
MAX_EVIDENCE_CHARS = 900
_MARKER_LIKE = re.compile(r"\[(\d{1,3})\]")
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
# A sentence that leans on the previous one ("Cet axe…") reads badly on its own.
_ANAPHORIC = re.compile(
    r"^(?:Cet|Cette|Ces|Ce|Il|Elle|Ils|Elles|Celui-ci|Celle-ci|Toujours|Le même|La même|Les mêmes|"
    r"D'après ces mêmes|Pour les|En revanche|Par ailleurs)\b"
)
# The shared sentence splitter cuts "article R. 2152-9" after "R."; such pieces are glued back.
_CUT_REFERENCE = re.compile(r"(?:\b[A-Z]|\bart|\bn°)\.$")


# ---------------------------------------------------------------- input


class DraftInputError(ValueError):
    """Invalid draft input; the message lists every problem, in French."""


def _clean(value: object) -> object:
    """Strip control characters; neutralise ``[n]`` so user text can never pose as a citation."""
    if not isinstance(value, str):
        return value
    text = clean_control_chars(value).strip()
    return _MARKER_LIKE.sub(r"(\1)", text) or None


class DraftContext(BaseModel):
    """The situation around the purchase (design.md, draft input ``context``)."""

    model_config = ConfigDict(extra="forbid")

    data_sensitivity: str | None = Field(None, max_length=MAX_TEXT)
    mutualised_examined: str | None = Field(None, max_length=MAX_TEXT)
    market_examined: str | None = Field(None, max_length=MAX_TEXT)
    exception: str | None = None
    exception_facts: str | None = Field(None, max_length=MAX_TEXT)
    notes: str | None = Field(None, max_length=MAX_TEXT)

    @field_validator("*", mode="before")
    @classmethod
    def _clean_all(cls, value: object) -> object:
        return _clean(value)

    @field_validator("exception")
    @classmethod
    def _known_exception(cls, value: str | None) -> str | None:
        if value is not None and value not in EXCEPTION_IDS:
            raise ValueError(f"exception inconnue « {value} » ; exceptions valides : {', '.join(EXCEPTION_IDS)}")
        return value


class DraftRequest(BaseModel):
    """What the buyer asks a draft for (design.md, "Contract: draft input")."""

    model_config = ConfigDict(extra="forbid")

    object: str = Field(min_length=3, max_length=500)
    entity: str | None = Field(None, max_length=500)
    route: str
    criteria: list[str] = Field(min_length=1)
    facts: dict[str, str] = Field(default_factory=dict)
    context: DraftContext = Field(default_factory=DraftContext)

    @field_validator("object", "entity", mode="before")
    @classmethod
    def _clean_text(cls, value: object) -> object:
        return _clean(value)

    @field_validator("route", mode="before")
    @classmethod
    def _known_route(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() not in ROUTE_IDS:
            raise ValueError(f"voie inconnue « {value} » ; voies valides : {', '.join(ROUTE_IDS)}")
        return value.strip() if isinstance(value, str) else value

    @field_validator("criteria", mode="before")
    @classmethod
    def _known_criteria(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            unknown = [str(c) for c in value if str(c).strip() not in CRITERION_IDS]
            if unknown:
                raise ValueError(
                    f"critère(s) inconnu(s) : {', '.join(f'« {c} »' for c in unknown)} ; "
                    f"critères valides : {', '.join(CRITERION_IDS)}"
                )
            value = list(dict.fromkeys(str(c).strip() for c in value))
        return value

    @field_validator("facts", mode="before")
    @classmethod
    def _clean_facts(cls, value: object) -> object:
        if value is None:
            return {}
        if isinstance(value, dict):
            unknown = [str(k) for k in value if str(k) not in CRITERION_IDS]
            if unknown:
                raise ValueError(
                    f"critère(s) inconnu(s) dans « facts » : {', '.join(f'« {c} »' for c in unknown)} ; "
                    f"critères valides : {', '.join(CRITERION_IDS)}"
                )
            cleaned = {}
            for key, text in value.items():
                if text is None:
                    continue
                if not isinstance(text, str):
                    raise ValueError(f"« facts.{key} » doit être un texte")
                if len(text) > MAX_TEXT:
                    raise ValueError(f"« facts.{key} » dépasse {MAX_TEXT} caractères")
                if (text := _clean(text)) is not None:
                    cleaned[str(key)] = text
            return cleaned
        return value

    @field_validator("context", mode="before")
    @classmethod
    def _none_context(cls, value: object) -> object:
        return {} if value is None else value

    @model_validator(mode="after")
    def _consistent(self) -> DraftRequest:
        stray = [k for k in self.facts if k not in self.criteria]
        if stray:
            raise ValueError(
                f"« facts » renseigne des critères absents de « criteria » : {', '.join(stray)} "
                "(ajoutez-les à « criteria » ou retirez ces éléments)"
            )
        if self.context.exception and self.route not in BUILD_ROUTE_IDS:
            raise ValueError(
                f"« context.exception » ne s'applique qu'aux voies de développement spécifique "
                f"({', '.join(BUILD_ROUTE_IDS)})"
            )
        return self

    def buyer_texts(self) -> list[str]:
        """Everything the buyer wrote: the only admissible source of facts about the offer."""
        texts = [self.object, self.entity or "", *self.facts.values()]
        texts += [v for v in self.context.model_dump().values() if isinstance(v, str)]
        return [t for t in texts if t]


_FIELD_NAMES = {
    "": ("object", "entity", "route", "criteria", "facts", "context"),
    "context": tuple(DraftContext.model_fields),
}


def _french_error(err: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()))
    kind = err.get("type", "")
    where = f"« {loc} » : " if loc else ""
    if kind == "missing":
        return f"{where}champ obligatoire manquant"
    if kind == "extra_forbidden":
        parent = ".".join(str(p) for p in err.get("loc", ())[:-1])
        allowed = _FIELD_NAMES.get(parent, ())
        return f"{where}champ inconnu ; champs admis : {', '.join(allowed)}"
    if kind == "value_error":
        return f"{where}{str(err.get('msg', '')).removeprefix('Value error, ')}"
    if kind == "string_too_short":
        return f"{where}texte trop court (au moins {err.get('ctx', {}).get('min_length')} caractères)"
    if kind == "string_too_long":
        return f"{where}texte trop long (au plus {err.get('ctx', {}).get('max_length')} caractères)"
    if kind == "too_short":
        return f"{where}au moins un élément attendu"
    if kind.startswith("string"):
        return f"{where}texte attendu"
    if kind.startswith("list"):
        return f"{where}liste attendue"
    if kind.startswith(("dict", "model")):
        return f"{where}objet (clé : valeur) attendu"
    return f"{where}{err.get('msg', 'valeur invalide')}"


def parse_request(data: object) -> DraftRequest:
    """Validate a draft input (parsed YAML/JSON, or a form) into a request, with French errors."""
    if isinstance(data, DraftRequest):
        return data
    if not isinstance(data, Mapping):
        raise DraftInputError("l'entrée doit être un objet (clé : valeur) : object, route, criteria…")
    try:
        return DraftRequest.model_validate(dict(data))
    except ValidationError as exc:
        lines = [_french_error(err) for err in exc.errors()]
        raise DraftInputError("entrée invalide :\n- " + "\n- ".join(lines)) from exc


def load_request(path: Path) -> DraftRequest:
    """Read a YAML or JSON draft input file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DraftInputError(f"lecture impossible de {path} : {exc}") from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise DraftInputError(f"{path} n'est pas un fichier YAML ou JSON valide : {exc}") from exc
    return parse_request(data)


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


# ---------------------------------------------------------------- evidence


class _Candidate(NamedTuple):
    score: float
    order: tuple[int, int, int]  # reference rank, section position, unit position
    section_id: str
    lo: int
    hi: int


def _display(unit_text: str) -> str:
    return _BULLET.sub("", unit_text).replace("**", "").replace("__", "").strip()


def _group(units: list[Unit], index: int, max_items: int = 6) -> tuple[int, int] | None:
    """A list item or a lead-in ending with ':' grows to lead-in + items; None when too long to quote."""
    unit = units[index]
    if not unit.is_list and not unit.text.endswith(":"):
        return index, index
    lo = hi = index
    if not unit.is_list:
        if index + 1 >= len(units) or not units[index + 1].is_list:
            return None
        hi = index + 1
    while lo > 0 and units[lo].is_list and units[lo - 1].is_list:
        lo -= 1
    if units[lo].is_list and lo > 0 and units[lo - 1].text.endswith(":"):
        lo -= 1
    while hi + 1 < len(units) and units[hi + 1].is_list:
        hi += 1
    if hi - lo > max_items:
        return None
    return lo, hi


class EvidenceFinder:
    """Pick the few corpus sentences that state what the doctrine expects for one item.

    Retrieval is restricted to the documents the catalogue points to, with a fallback to the
    whole corpus; the sections the catalogue names are preferred.
    """

    def __init__(self, searcher: Searcher, k: int = 8) -> None:
        self.searcher = searcher
        self.k = k
        self._units: dict[str, list[Unit]] = {}

    def units(self, snap: Snapshot, section_id: str) -> list[Unit]:
        if section_id not in self._units:
            record = snap.sections.get(section_id)
            units: list[Unit] = []
            for unit in section_units(record.text, 10_000) if record else []:
                if units and _CUT_REFERENCE.search(units[-1].text) and unit.text[:1].isdigit():
                    units[-1] = Unit(f"{units[-1].text} {unit.text}", units[-1].is_list)
                else:
                    units.append(unit)
            self._units[section_id] = units
        return self._units[section_id]

    def find(
        self, snap: Snapshot, query: str, *, doc_ids: Sequence[str] = (), references: Sequence[Reference] = (),
        limit: int = 3, exclude: set[tuple[str, str]] | None = None,
    ) -> list[tuple[Hit, str, str]]:
        """Up to ``limit`` (hit, quote, displayed text), in reading order; quotes are verbatim."""
        hits: list[Hit] = []
        if doc_ids:
            hits = self.searcher.search(query, self.k, filters=Filters(doc_ids=tuple(doc_ids)))
        picked = self._pick(snap, query, hits, references, limit, exclude or set())
        if not picked:
            hits = self.searcher.search(query, self.k)
            picked = self._pick(snap, query, hits, (), limit, exclude or set())
        return picked

    def _pick(
        self, snap: Snapshot, query: str, hits: list[Hit], references: Sequence[Reference], limit: int,
        exclude: set[tuple[str, str]],
    ) -> list[tuple[Hit, str, str]]:
        terms = set(tokens(query))
        if not terms:
            return []
        ref_sections = [
            (rank, sid) for rank, ref in enumerate(references) if ref.section
            for sid, s in snap.sections.items() if ref.matches(s.doc_id, s.section)
        ]
        base: dict[str, tuple[float, Hit | None, int]] = {}  # section -> (hit score, a hit, ref rank)
        covered: dict[str, set[int]] = {}
        for hit in hits:
            units = self.units(snap, hit.section_id)
            inside = {i for i, u in enumerate(units) if squash(u.text) in squash(hit.text)}
            covered.setdefault(hit.section_id, set()).update(inside)
            if hit.section_id not in base or base[hit.section_id][0] < hit.score:
                base[hit.section_id] = (hit.score, hit, len(references))
        for rank, sid in ref_sections:
            score, hit, old_rank = base.get(sid, (0.4, None, len(references)))
            base[sid] = (score, hit, min(rank, old_rank))
            covered.setdefault(sid, set()).update(range(len(self.units(snap, sid))))
        candidates: list[_Candidate] = []
        for sid, indexes in covered.items():
            hit_score, _, ref_rank = base[sid]
            units = self.units(snap, sid)
            for i in sorted(indexes):
                span = _group(units, i)
                if span is None:
                    continue
                lo, hi = span
                text = " ".join(u.text for u in units[lo : hi + 1])
                if len(text) < 40 or len(text) > MAX_EVIDENCE_CHARS:
                    continue
                overlap = len(terms & set(tokens(text))) / len(terms)
                if overlap == 0:
                    continue
                bonus = 0.3 - 0.02 * ref_rank if ref_rank < len(references) else 0.0
                position = int(sid.rsplit("#s", 1)[1]) if "#s" in sid else 0
                score = 0.45 * hit_score + 0.55 * overlap + bonus - 0.01 * lo
                if _ANAPHORIC.match(text):
                    score -= 0.15
                candidates.append(_Candidate(score, (ref_rank, position, lo), sid, lo, hi))
        candidates.sort(key=lambda c: (-c.score, c.order, c.section_id))
        chosen: list[_Candidate] = []
        seen_terms: list[set[str]] = []
        per_section: dict[str, int] = {}
        for cand in candidates:
            if len(chosen) >= limit:
                break
            units = self.units(snap, cand.section_id)
            text = " ".join(u.text for u in units[cand.lo : cand.hi + 1])
            if (cand.section_id, squash(text)) in exclude or per_section.get(cand.section_id, 0) >= 2:
                continue
            if any(max(c.lo, cand.lo) <= min(c.hi, cand.hi) for c in chosen if c.section_id == cand.section_id):
                continue
            words = set(tokens(text))
            if any(len(words & w) / max(1, len(words | w)) > 0.5 for w in seen_terms):
                continue
            if not quote_in_passage(text, snap.sections[cand.section_id].text):
                continue
            chosen.append(cand)
            seen_terms.append(words)
            per_section[cand.section_id] = per_section.get(cand.section_id, 0) + 1
        chosen.sort(key=lambda c: c.order)
        out = []
        for cand in chosen:
            units = self.units(snap, cand.section_id)
            quote = " ".join(u.text for u in units[cand.lo : cand.hi + 1])
            shown = " ".join(_display(u.text) for u in units[cand.lo : cand.hi + 1])
            hit = base[cand.section_id][1] or _section_hit(snap, cand.section_id)
            out.append((hit, squash(quote), squash(shown)))
        return out


def _section_hit(snap: Snapshot, section_id: str) -> Hit:
    record = snap.sections[section_id]
    meta = snap.docs.get(record.doc_id, {})
    first = next((p for p in snap.passages if p.section_id == section_id), None)
    return Hit(
        chunk_id=first.chunk_id if first else section_id, doc_id=record.doc_id,
        title=str(meta.get("title", record.doc_id)), section=record.section, section_id=section_id,
        text=record.text, score=0.0, dense=0.0, bm25=0.0, source_url=str(meta.get("source_url") or ""),
        kind=str(meta.get("kind", "")), date=meta.get("date"), confidence=str(meta.get("confidence", "")),
    )


class _Numbering:
    """One number per (section, quote) across the whole draft, in order of first use."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.numbers: dict[tuple[str, str], int] = {}

    def evidence(self, hit: Hit, quote: str, shown: str) -> Evidence:
        key = (hit.section_id, quote)
        n = self.numbers.setdefault(key, len(self.numbers) + 1)
        passage = self.snap.sections[hit.section_id].text
        citation = Citation(
            n=n, doc_id=hit.doc_id, title=hit.title, section=hit.section, quote=quote,
            source_url=hit.source_url, score=hit.score, chunk_id=hit.chunk_id, passage=passage, date=hit.date,
            kind=hit.kind, confidence=hit.confidence,
        )
        return Evidence(citation, shown)


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


def drafting_labels(prompts_dir: Path) -> dict[str, Any]:
    return yaml.safe_load(load_prompt(prompts_dir, "drafting/labels.yaml")) or {}


# ---------------------------------------------------------------- drafter


class Drafter:
    """Writes the route justification and one paragraph per objective for a ``DraftRequest``."""

    def __init__(self, settings: Settings, searcher: Searcher, llm: LLMGenerator | None = None) -> None:
        self.settings = settings
        self.searcher = searcher
        self.llm = llm
        self.finder = EvidenceFinder(searcher)

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.knowledge_dir)

    def draft(self, request: DraftRequest | Mapping[str, Any], *, use_llm: bool = True) -> Draft:
        request = parse_request(request)
        t0 = time.perf_counter()
        catalog = self.catalog
        labels = drafting_labels(self.settings.prompts_dir)
        env = _environment(str(self.settings.prompts_dir / "drafting"))
        snap = self.searcher.reader.snapshot()
        numbering = _Numbering(snap)
        route = catalog.route(request.route)
        route_section = self._route_section(request, route, snap, numbering, env, labels)
        sections = [
            self._criterion_section(request, catalog.criterion(cid), route, snap, numbering, env, labels)
            for cid in request.criteria
        ]
        timings = {"template": (time.perf_counter() - t0) * 1000}
        notices: list[str] = []
        generator = "template"
        if self.llm is not None and use_llm:
            t1 = time.perf_counter()
            try:
                rewritten = [self._rewrite(request, route, s, labels) for s in [route_section, *sections]]
            except Exception as exc:  # noqa: BLE001 - any endpoint failure keeps the template draft
                error = type(exc).__name__
                if "timeout" in error.lower() or "timeout" in str(exc).lower():
                    error = "délai dépassé"
                notices.append(str(labels["llm_fallback"]).format(error=error))
                generator = "template (repli)"
            else:
                for section, text in zip([route_section, *sections], rewritten, strict=True):
                    section.paragraph = text
                    section.doctrine_paragraph = section.offer_paragraph = None
                generator = self.llm.name
            timings["llm"] = (time.perf_counter() - t1) * 1000
        problems: list[str] = []
        for section in [route_section, *sections]:
            problems += self._check(section, request)
        if any(c.doc_id == CIRCULAR_ID for s in [route_section, *sections] for c in s.citations):
            notices.append(messages(self.settings.prompts_dir)["circular_caveat"])
        if snap.interrupted:
            notices.append(
                "Une indexation a été interrompue : le projet s'appuie sur la dernière version complète de "
                f"l'index ({snap.generation}). Relancez « doctrine index »."
            )
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
            provenance=provenance, notices=notices, problems=problems, title=str(labels["draft_title"]),
            disclaimer=str(labels["disclaimer"]),
        )

    # -- sections

    def _render(
        self, env: jinja2.Environment, name: str, variables: dict[str, Any], labels: dict[str, Any]
    ) -> tuple[str, str, list[str]]:
        to_complete: list[str] = []

        def a_completer(label: str) -> str:
            label = squash(label)
            if label not in to_complete:
                to_complete.append(label)
            return str(labels["to_complete_marker"]).format(label=label)

        try:
            template = env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            raise FileNotFoundError(f"gabarit de rédaction introuvable : prompts/drafting/{name}") from exc
        context = template.new_context(variables | {"a_completer": a_completer, "no_evidence": labels["no_evidence"]})
        doctrine = _paragraphs("".join(template.blocks["doctrine"](context)))
        offer = _paragraphs("".join(template.blocks["offer"](context)))
        return doctrine, offer, to_complete

    def _route_section(
        self, request: DraftRequest, route: Route, snap: Snapshot, numbering: _Numbering,
        env: jinja2.Environment, labels: dict[str, Any],
    ) -> DraftSection:
        method_raw = self.finder.find(snap, str(labels["method_query"]), doc_ids=(CIRCULAR_ID,), limit=1)
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
        }, labels)
        every = method + exceptions + evidence
        return DraftSection(
            key=route.id, title=route.label, paragraph=_join(doctrine, offer),
            citations=[e.citation for e in every], evidence_to_request=list(route.must_show),
            to_complete=to_complete, doctrine_paragraph=doctrine, offer_paragraph=offer, evidence=every,
        )

    def _criterion_section(
        self, request: DraftRequest, criterion: Criterion, route: Route, snap: Snapshot, numbering: _Numbering,
        env: jinja2.Environment, labels: dict[str, Any],
    ) -> DraftSection:
        raw = self.finder.find(
            snap, criterion.query, doc_ids=criterion.doc_ids, references=criterion.references,
            limit=MAX_CRITERION_EVIDENCE,
        )
        evidence = [numbering.evidence(*item) for item in raw]
        doctrine, offer, to_complete = self._render(env, f"criterion_{criterion.id}.j2", {
            "request": request, "context": request.context, "route": route, "criterion": criterion,
            "evidence": evidence, "facts": request.facts.get(criterion.id), "method": [], "exceptions": [],
        }, labels)
        return DraftSection(
            key=criterion.id, title=criterion.label, paragraph=_join(doctrine, offer),
            citations=[e.citation for e in evidence], evidence_to_request=list(criterion.evidence_to_request),
            to_complete=to_complete, doctrine_paragraph=doctrine, offer_paragraph=offer,
            limits=criterion.not_documented, evidence=evidence,
        )

    # -- LLM rewrite and the citation check

    def _rewrite(self, request: DraftRequest, route: Route, section: DraftSection, labels: dict[str, Any]) -> str:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        assert self.llm is not None
        prompt = ChatPromptTemplate.from_messages([
            ("system", load_prompt(self.settings.prompts_dir, "draft_llm_system.md")),
            ("human", load_prompt(self.settings.prompts_dir, "draft_llm_user.md")),
        ])
        sources = [e.citation._replace(quote=e.text) for e in section.evidence]
        buyer = "\n".join(f"- {t}" for t in _buyer_lines(request, section.key))
        chain = prompt | self.llm.model | StrOutputParser()
        text = chain.invoke({
            "section_title": section.title,
            "purchase": f"{request.object} — voie retenue : {route.label}",
            "sources": format_sources(sources) or "(aucune source)",
            "buyer": buyer or "(aucun élément fourni)",
            "draft": section.paragraph,
            "to_complete": "; ".join(section.to_complete) or "aucun",
        })
        text = _paragraphs(re.sub(r"\[0\]", "", text))
        if not text:
            raise ValueError("réponse vide du service de génération")
        return text

    def _check(self, section: DraftSection, request: DraftRequest) -> list[str]:
        """Same check as answers; the buyer's own words are a source for « » quotes only (n=0)."""
        buyer = Citation(
            n=0, doc_id="acheteur", title="Éléments fournis par l'acheteur", section="", quote="",
            source_url="", score=0.0, passage="\n".join(request.buyer_texts()),
        )
        known = {e.citation.n: e.citation for e in section.evidence}
        checked = check_answer(section.paragraph, [*known.values(), buyer])
        section.paragraph = checked.text
        used = [c for c in checked.citations if c.n != 0]
        section.citations = [known[c.n] for c in used]
        problems = checked.problems + verify_citations(section.citations)
        return [f"{section.title} : {p}" for p in problems]


def _join(doctrine: str, offer: str) -> str:
    return "\n\n".join(p for p in (doctrine, offer) if p)


def _buyer_lines(request: DraftRequest, key: str) -> list[str]:
    """The buyer's input relevant to one section, labelled for the LLM prompt."""
    ctx = request.context
    lines = [f"Objet : {request.object}"]
    if request.entity:
        lines.append(f"Entité : {request.entity}")
    if key in ROUTE_IDS:
        for label, value in (
            ("Solutions mutualisées examinées", ctx.mutualised_examined),
            ("Solutions du marché examinées", ctx.market_examined),
            ("Exception invoquée", ctx.exception),
            ("Circonstances de l'exception", ctx.exception_facts),
            ("Sensibilité des données", ctx.data_sensitivity),
            ("Précisions", ctx.notes),
        ):
            if value:
                lines.append(f"{label} : {value}")
    else:
        if request.facts.get(key):
            lines.append(f"Éléments de l'offre pour cet objectif : {request.facts[key]}")
        if ctx.data_sensitivity and key in ("souverainete", "securite"):
            lines.append(f"Sensibilité des données : {ctx.data_sensitivity}")
    return lines

