"""Evidence for drafting: the few corpus sentences that state what the doctrine expects.

Quotes are always verbatim pieces of one section of the committed snapshot (a sentence, or a
list with its lead-in), so that every ``[n]`` of a draft can be checked against its passage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from assistant.answer.citations import quote_in_passage, squash
from assistant.answer.gate import GENERIC_STEMS
from assistant.answer.retrieval import Searcher
from assistant.answer.types import Filters, Hit
from assistant.draft.catalogue import Reference
from assistant.index.chunking import Unit, list_run, section_units
from assistant.index.snapshot import Snapshot
from assistant.text import tokens

MAX_EVIDENCE_CHARS = 900
MAX_LIST_ITEMS = 6  # a longer list is not quoted whole
_BULLET = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)])\s+")
# A sentence that leans on the previous one ("Cet axe…") is quoted with that previous sentence.
_ANAPHORIC = re.compile(
    r"^(?:Cet|Cette|Ces|Ce|Il|Elle|Ils|Elles|Celui-ci|Celle-ci|Toujours|Le même|La même|Les mêmes|"
    r"D'après ces mêmes|Pour les|En revanche|Par ailleurs|Ensuite|Enfin|Puis|En outre|Ainsi)\b"
)
# The shared sentence splitter cuts "article R. 2152-9" after "R."; such pieces are glued back.
_CUT_REFERENCE = re.compile(r"(?:\b[A-Z]|\bart|\bn°)\.$")


class _Candidate(NamedTuple):
    score: float
    order: tuple[int, int, int]  # reference rank, section position, unit position
    section_id: str
    lo: int
    hi: int


def _display(unit_text: str) -> str:
    return _BULLET.sub("", unit_text).replace("**", "").replace("__", "").strip()




def _restates(words: set[str], other: set[str]) -> bool:
    """Two quotes say the same thing: most words shared, or one quote's words nearly all in the other
    (« demande de veiller au MCO et au MCS » inside a two-sentence quote that already says it)."""
    shared = len(words & other)
    return shared / max(1, len(words | other)) > 0.5 or shared / max(1, min(len(words), len(other))) > 0.75


class EvidenceFinder:
    """Pick the few corpus sentences that state what the doctrine expects for one item.

    Retrieval is restricted to the documents the catalogue points to, with a fallback to the
    whole corpus; the sections the catalogue names are preferred.
    """

    def __init__(self, searcher: Searcher, k: int = 8) -> None:
        self.searcher = searcher
        self.k = k
        self._units: dict[str, list[Unit]] = {}
        self._generation = ""

    def units(self, snap: Snapshot, section_id: str) -> list[Unit]:
        """Sentences and list items of a section (cached for the current index generation)."""
        if snap.generation != self._generation:
            self._units, self._generation = {}, snap.generation
        if section_id not in self._units:
            record = snap.sections.get(section_id)
            units: list[Unit] = []
            for unit in section_units(record.text, 10_000, keep_leaning=True) if record else []:
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
        picked = self._pick(snap, query, hits, references, limit, exclude or set(), strict=False)
        if not picked:
            hits = self.searcher.search(query, self.k)
            picked = self._pick(snap, query, hits, (), limit, exclude or set(), strict=True)
        return picked

    def _pick(
        self, snap: Snapshot, query: str, hits: list[Hit], references: Sequence[Reference], limit: int,
        exclude: set[tuple[str, str]], *, strict: bool,
    ) -> list[tuple[Hit, str, str]]:
        """Score sentences of the hits and of the named sections; ``strict`` (documents the catalogue
        did not point to) asks for more shared terms, so an unrelated corpus yields nothing."""
        terms = set(tokens(query)) - GENERIC_STEMS
        if not terms:
            return []
        min_terms = min(2, len(terms)) if strict else 1
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
                span = list_run(units, i, MAX_LIST_ITEMS)  # a list item grows to lead-in + items
                if span is None:
                    continue
                lo, hi = span
                if _ANAPHORIC.match(units[lo].text) and lo > 0 and not units[lo - 1].is_list:
                    lo -= 1  # quote the sentence it leans on too
                text = " ".join(u.text for u in units[lo : hi + 1])
                if len(text) < 40 or len(text) > MAX_EVIDENCE_CHARS:
                    continue
                matched = len(terms & set(tokens(text)))
                overlap = matched / len(terms)
                if matched < min_terms or (strict and overlap < 0.2):
                    continue
                bonus = 0.3 - 0.02 * ref_rank if ref_rank < len(references) else 0.0
                position = int(sid.rsplit("#s", 1)[1]) if "#s" in sid else 0
                score = 0.45 * hit_score + 0.55 * overlap + bonus - 0.01 * lo
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
            words = set(tokens(text)) - GENERIC_STEMS
            if any(_restates(words, w) for w in seen_terms):
                limit -= 1  # a restatement uses its slot: weaker quotes do not fill it
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
            hit = base[cand.section_id][1] or section_hit(snap, cand.section_id)
            out.append((hit, squash(quote), squash(shown)))
        return out


def section_hit(snap: Snapshot, section_id: str) -> Hit:
    """A whole section as a hit (a section the catalogue names, found without retrieval)."""
    record = snap.sections[section_id]
    first = next((p for p in snap.passages if p.section_id == section_id), None)
    return Hit.from_meta(
        snap.docs.get(record.doc_id, {}), chunk_id=first.chunk_id if first else section_id, doc_id=record.doc_id,
        section=record.section, section_id=section_id, text=record.text,
    )
