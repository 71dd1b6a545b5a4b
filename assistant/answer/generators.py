"""Generators: extractive (offline default, deterministic) and LLM (any OpenAI-compatible endpoint).

Both follow ``Generator``: from the same ``GenerationRequest`` (standalone question, ranked hits,
``k``) they stream text chunks, then end with a ``Generated`` (text with ``[n]`` markers and the
citations the numbers refer to); the chain checks citations afterwards whichever wrote the text.
The LLM side is LangChain at the edge: ``ChatOpenAI`` and ``ChatPromptTemplate`` over the prompt
files of ``prompts/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from math import fsum
from typing import Any, Protocol

from assistant.answer.analysis import QuestionAnalysis
from assistant.answer.citations import squash
from assistant.answer.gate import GENERIC_STEMS, informative_terms
from assistant.answer.types import Citation, Generated, GenerationRequest, Hit, SectionLookup
from assistant.config import Settings
from assistant.index.chunking import Unit, list_run, section_units
from assistant.text import fold, split_sentences, tokens
from assistant.wording import load_prompt, load_wording

CIRCULAR_ID = "circulaire-2026-achat-numerique"
EVIDENCE_BEYOND_K = 3  # passages past k the extractive generator may quote from (evals/README.md)
CUT = 0.5  # units scoring under this share of the best one are not worth showing
CUE_BONUS = 0.05  # a sentence holding the kind of answer asked (a name, a date, a figure of the unit asked)
TOPIC_WEIGHT = 0.3  # the lead of a follow-up: its own words first, the topic it inherits after


class Generator(Protocol):
    """Writes an answer from the evidence: text chunks as they come (none when the text comes in one
    piece), then the ``Generated``. Exceptions propagate (the chain falls back to extractive)."""

    name: str

    def stream(self, request: GenerationRequest) -> Iterator[str | Generated]: ...


_ANSWER_CUES = {
    "figure": re.compile(r"\d[\d  .,]*\s*(%|€|k€|M€|millions?|milliards?|jours?|mois|ans|heures?|points?)", re.I),
    "date": re.compile(r"\b(1er|\d{1,2})\s+(janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
                       r"novembre|décembre)\b|\b(19|20)\d{2}\b", re.I),
    "actor": re.compile(r"\b(ministre|DINUM|DAE|ANSSI|UGAP|CNIL|Premier ministre|[A-Z][a-zé]+ [A-Z][a-zé]+)\b"),
    "definition": re.compile(r"\b(désigne|signifie|consiste|est un|est une|sont les|on entend)\b", re.I),
    "reference": re.compile(r"\bn°\s*\d|\d+\s*[/-]\s*SG\b|\bNOR\b|\b\d{4}-\d{2,5}\b"),
}
# A figure of the kind asked: « quel plafond » wants an amount, « quelle part » a percentage.
_FIGURE_UNITS = (
    (re.compile(r"\b(plafond|seuil|montant|budget|prix|co[uû]ts?|co[uû]te|tarif|euros?|ceiling|amount|cost)\b", re.I),
     re.compile(r"\d[\d  .,]*\s*(€|k€|M€|Md€|euros?|millions? d'euros|milliards? d'euros)", re.I)),
    (re.compile(r"\b(pourcentage|taux|part|proportion|pond[ée]ration|percentage|share|rate)\b", re.I),
     re.compile(r"\d[\d  .,]*\s*(%|pour ?cent|points?)", re.I)),
    (re.compile(r"\b(dur[ée]e|d[ée]lai|combien de (temps|mois|jours|ans|ann[ée]es)|how long|period)\b", re.I),
     re.compile(r"\b(\d+|un|une|deux|trois|quatre|six|douze|trente)\s+(jours?|mois|ans|années|semaines|heures?)\b", re.I)),
)
# A document that is only a draft: its status is said on a sentence about the draft itself.
_DRAFT_STATUSES = frozenset({"projet", "proposition"})
_ABOUT_A_DRAFT = re.compile(
    r"\b(propos\w*|projets?|r[ée]vision|r[ée]form\w*|envisag\w*|pourrai\w*|devrai\w*|viserai\w*|pr[ée]voirai\w*|"
    r"imposerai\w*|discussion|examen|examin\w*|adopt\w*|vot[ée]\w*|d[ée]pos[ée]\w*|consultation|Commission)\b",
    re.IGNORECASE,
)
_CAVEAT = re.compile(r"n'a(?:ient|vaient)? pas (?:été|pu être) (?:lu|lus|lue|lues|consulté|consultée|consultés|vérifié)|"
                     r"n'(?:est|sont) pas (?:connue?s?|établie?s?)|à vérifier sur", re.IGNORECASE)
# A section that lists what the sources leave open answers a question on how reliable a claim is, not
# the question itself: its sentences come after the answer unless the buyer asks whether to trust it.
_CAVEAT_SECTION = re.compile(r"pas établi|à vérifier|incertitude|limites des sources", re.IGNORECASE)
_ASKS_RELIABILITY = re.compile(
    r"(?:\b(?:fiables?|vrai|exacte?|confirm\w*|solide|sûre?|certaine?|sourcée?|reliable|true|accurate|confirmed|"
    r"heard)\b|j'ai lu|lu que|entendu|para[iî]t|I read)", re.IGNORECASE)
_ASKS_REFERENCE = re.compile(r"\b(r[ée]f[ée]rence|num[ée]ro|NOR)\b", re.IGNORECASE)
# « La doctrine nous concerne-t-elle ? »: whom a text applies to is answered by the sentence saying so.
_ASKS_APPLICABILITY = re.compile(
    r"\b(?:concern\w*-t-(?:il|elle)s?|concern\w*-(?:il|elle)s?|nous concern\w*|s'appliqu\w*|opposable|soumis\w* (?:a|à|au|aux)|"
    r"tenue?s? (?:par|de)|vis[ée]e?s? par|does (?:it|this|the \w+) apply|applies to|bound by|covered by)", re.IGNORECASE)
_APPLICABILITY_CUE = re.compile(
    r"\b(?:s'adresse|s'appliquer?a?i?t? (?:à|aux|au|aussi|également)|ne vise|vise (?:les|l'|le|la|aussi|uniquement|"
    r"seulement|notamment)|(?:pas |ne soient pas |sont )visée?s?\b|concerne (?:les|l'|le|la|aussi|uniquement)|périmètre|"
    r"champ d'application|destinataires?)\b", re.IGNORECASE)


# « Le CCAG-TIC s'applique-t-il tout seul ? » — « Le CCAG-TIC ne s'applique pas automatiquement… »: the
# lead denies the very verb or adjective the question asks about, so the short answer is « non ».
_DENIAL = re.compile(
    r"\b(?:ne|n')\s*(?:(?:se|s'|l'|le|la|les|y|en|lui|leur)\s*)?([a-z]+)(?:\s+(?:donc|pourtant|toutefois|en effet))?"
    r"\s+(?:pas|plus|jamais|nullement|aucune?)\b((?:\s+[a-z]+){0,2})")
_AUXILIARIES = frozenset(tokens("est sont etait etaient sera seront a ont avait fait font peut peuvent doit doivent "
                                "faut juridiquement forcement necessairement encore toujours du de la le les un une"))
_ASKS_NEGATIVELY = re.compile(r"\b(?:ne|n'|pas|plus|jamais|aucune?|sans|non|not|no)\b|n't\b")


def denies(block: str, analysis: QuestionAnalysis) -> bool:
    """Whether the lead sentence says « no » to a French yes/no question that takes nothing for granted:
    it negates a word the question asks about (a question asked in the negative is left alone)."""
    question = fold(analysis.text)
    if analysis.answer_type != "yesno" or analysis.claims or _ASKS_NEGATIVELY.search(question):
        return False
    asked = set(tokens(analysis.text)) - _AUXILIARIES
    head = fold(block.split("\n", 1)[0])
    return any(asked & (set(tokens(" ".join(m.groups()))) - _AUXILIARIES) for m in _DENIAL.finditer(head))


# « Dans quels cas… ? », « c'est permis quand ? »: the conditions of a rule, not a date.
_ASKS_CONDITIONS = re.compile(
    r"\b(?:dans quels? cas|dans quelles? (?:situations?|conditions?|circonstances?)|[àa] quelles? conditions?|sous quelles? "
    r"conditions?|(?:permise?|autorisée?|admise?|possible|justifiée?|le droit)\s*(?:,\s*)?quand|quand (?:est-ce qu'on peut|"
    r"peut-on|a-t-on le droit|est-il (?:permis|possible|autorisé))|in which cases|under what conditions|when (?:is|are) "
    r"(?:it|they) (?:allowed|permitted|justified))", re.IGNORECASE)
_CONDITION_CUE = re.compile(
    r"\b(?:lorsqu(?:e|')|sauf|à condition|seulement si|uniquement si|exceptions?|admet|se justifie|justifient|"
    r"dans (?:deux|trois|les|ces) (?:cas|situations)|faute de|en dernier (?:ressort|recours))", re.IGNORECASE)


def _is_press(hit: Hit) -> bool:
    return hit.kind == "presse"


def _near_duplicate(terms: set[str], chosen: list[set[str]], threshold: float = 0.6) -> bool:
    """The same fact reported by several documents (Jaccard similarity of stemmed terms)."""
    return any(len(terms & other) / max(1, len(terms | other)) >= threshold for other in chosen if terms)


_FIGURE = re.compile(r"\d+(?:[.,]\d+)*")
RESTATED_SHARE = 0.75  # of a sentence's terms found in an earlier one
RESTATED_MIN_SIMILARITY = 0.4


def _restates(text: str, terms: set[str], earlier: str, earlier_terms: set[str]) -> bool:
    """A sentence that says again, in other words, what an earlier one from another document said
    (« l'article 31 de la loi SREN ne joue que lorsque… » after « … précise que l'article 31 de la loi
    SREN ne s'applique que… »): most of its terms are there, and every figure it gives too. One that
    brings a figure of its own is another fact."""
    if not terms or not earlier_terms:
        return False
    shared = len(terms & earlier_terms)
    return (shared / len(terms) >= RESTATED_SHARE
            and shared / len(terms | earlier_terms) >= RESTATED_MIN_SIMILARITY
            and set(_FIGURE.findall(text)) <= set(_FIGURE.findall(earlier)))


class ExtractiveGenerator:
    """Compose a French answer from the most relevant sentences of the retrieved passages: the best
    one first, as the direct answer, then one bullet per further fact; a fact reported by several
    documents is one bullet with their citations; the documents used are named at the end. One
    document may give every sentence: its section often holds all the facts asked for.
    (9 sentences / 1,800 characters: chosen on the dev cases, evals/README.md.)"""

    name = "extractive"

    def __init__(
        self, settings: Settings, max_units: int = 9, max_chars: int = 1800, hit_weight: float = 0.6,
        section_context: bool = True, outside_penalty: float = 0.05, idf_weighting: bool = True,
        redundancy: float = 0.3,
    ) -> None:
        self.settings = settings
        self.section_context = section_context
        self.outside_penalty = outside_penalty
        self.idf_weighting = idf_weighting
        self.max_units = max_units
        self.redundancy = redundancy
        self.max_chars = max_chars
        self.hit_weight = hit_weight
        self.wording = load_wording(settings.prompts_dir)

    def stream(self, request: GenerationRequest) -> Iterator[str | Generated]:
        """The whole answer at once (the app reveals it progressively), quoting from k + EVIDENCE_BEYOND_K
        passages: with the rest of their sections, the deeper ones hold facts a top-k cut loses."""
        yield self.generate(request.question, request.hits[: request.k + EVIDENCE_BEYOND_K], request.sections, request.focus,
                            request.analysis, request.idf, request.hint)

    def generate(
        self, question: str, hits: Sequence[Hit], sections: SectionLookup, focus: str | None = None,
        analysis: QuestionAnalysis | None = None, idf: Callable[[str], float] | None = None, hint: str = "",
    ) -> Generated:
        """``focus`` is the user's own words of a condensed follow-up: its terms count double. With
        ``idf``, a question term weighs its corpus rarity, so « disponibilité » outweighs « objectif ».
        ``hint`` adds the French words of an English question (its own words match no French sentence)."""
        terms = (informative_terms(question) or set(tokens(question))) | informative_terms(hint)
        focus_terms = informative_terms(focus) if focus else set()
        candidates: list[tuple[int, int, Unit, set[str], bool]] = []  # rank, unit order, unit, terms, outside
        seen_sections: set[str] = set()
        for rank, hit in enumerate(hits):
            units, outside = self._candidate_units(hit, hits, sections, seen_sections)
            for u_i, unit in enumerate(units):
                unit_terms = set(tokens(unit.text))
                # A sentence's topic includes its headings: under « … > Disponibilité », a sentence
                # on the delay before users get the tool answers a question on availability.
                unit_terms |= set(tokens(hit.section))
                candidates.append((rank, u_i, unit, unit_terms, u_i in outside))
        # Terms no candidate holds (the buyer's own context words) weigh nothing: they cannot tell
        # two sentences apart, they would only shrink every overlap.
        present = set().union(*(c[3] for c in candidates)) if candidates else set()
        use_idf = idf is not None and self.idf_weighting

        def weight(term: str) -> float:
            return (max(0.1, idf(term)) if use_idf else 1.0) if term in present else 0.0  # type: ignore[misc]

        total = fsum(weight(t) for t in terms) + fsum(weight(t) for t in focus_terms)
        # A question wanting a name, a date or a figure: a sentence that holds one answers it more likely.
        kind = analysis.answer_type if analysis is not None else ""
        wanted = _ANSWER_CUES.get(kind) if kind in ("actor", "date", "figure") else None
        if analysis is not None and ((wanted is None and kind in ("yesno", "open") and _ASKS_APPLICABILITY.search(analysis.text))
                                     or any(c.kind == "application" for c in analysis.claims)):
            wanted = _APPLICABILITY_CUE
        if wanted is not None and kind == "figure":
            wanted = next((cue for asks, cue in _FIGURE_UNITS if asks.search(analysis.text)), wanted)  # type: ignore[union-attr]
        if analysis is not None and _ASKS_CONDITIONS.search(analysis.text):
            wanted = _CONDITION_CUE
        scored: list[tuple[float, int, int, Unit]] = []
        for rank, u_i, unit, unit_terms, outside_passage in candidates:
            overlap = (fsum(weight(t) for t in terms & unit_terms)
                       + fsum(weight(t) for t in focus_terms & unit_terms)) / max(1e-9, total)
            score = self.hit_weight * hits[rank].score + (1 - self.hit_weight) * overlap - 0.01 * u_i
            if outside_passage:
                score -= self.outside_penalty
            if len(unit.text) < 25 and not unit.is_list:
                score -= 0.2
            if wanted is not None and wanted.search(unit.text):
                score += CUE_BONUS
            scored.append((score, rank, u_i, unit))
        scored.sort(key=lambda s: (-s[0], s[1], s[2]))
        if not scored:
            return Generated("", (), self.name)
        best = scored[0][0]
        seen_text: set[str] = set()
        chosen: list[tuple[int, int, str]] = []  # rank, unit order, text
        used_chars = 0
        chosen_terms: list[set[str]] = []
        chosen_units: list[str] = []  # the sentence each bullet was chosen for
        twins: dict[int, list[tuple[int, str]]] = {}
        for _score, rank, u_i, unit in self._novel_first(scored, best, hits):
            if len(chosen) >= self.max_units:
                break
            hit = hits[rank]
            key = squash(fold(unit.text))
            unit_terms = set(tokens(unit.text))
            if key in seen_text:
                continue
            twin = next((j for j, other in enumerate(chosen_terms) if _near_duplicate(unit_terms, [other])), None)
            if twin is None:
                twin = next((j for j, (other, said) in enumerate(zip(chosen_terms, chosen_units, strict=True))
                             if hits[chosen[j][0]].doc_id != hit.doc_id and _restates(unit.text, unit_terms, said, other)),
                            None)
            if twin is not None:
                if hits[chosen[twin][0]].doc_id != hit.doc_id:
                    twins.setdefault(twin, []).append((rank, unit.text))  # the same fact, another document
                continue
            section = sections(hit.section_id)
            block = unit.text
            all_units = section_units(section.text, 10_000, keep_leaning=True) if section is not None else []
            idx = next((i for i, u in enumerate(all_units) if squash(u.text) == squash(unit.text)), None)
            if idx is not None and not unit.is_list and not unit.text.endswith(":"):
                # A sentence that announces a list (« … neuf objectifs. Ce sont : ») brings the list.
                nxt = idx + 1
                announces = nxt + 1 < len(all_units) and all_units[nxt].text.endswith(":")
                idx = nxt if announces and all_units[nxt + 1].is_list else None
            if idx is not None:
                first = next(i for i, u in enumerate(all_units) if squash(u.text) == squash(unit.text))
                lo, hi = list_run(all_units, idx) or (idx, idx)
                lo = min(lo, first)
                if lo > 0 and len(all_units[lo].text) < 60 and not all_units[lo - 1].is_list:
                    lo -= 1  # a terse lead-in (« ce sont : ») needs the sentence it continues
                hi = min(hi, lo + 13)
                run = all_units[lo : hi + 1]
                if any(squash(fold(u.text)) in seen_text for u in run if u.is_list):
                    continue
                block = "\n".join(u.text for u in run)
                for u in run:
                    seen_text.add(squash(fold(u.text)))
            if used_chars + len(block) > self.max_chars and chosen:
                continue
            seen_text.add(key)
            chosen_terms.append(unit_terms)
            chosen_units.append(unit.text)
            used_chars += len(block)
            chosen.append((rank, u_i, block))
        lead = self._lead(chosen, hits, analysis, terms, weight, focus_terms)
        if lead:
            chosen.insert(0, chosen.pop(lead))
            twins = {(0 if i == lead else i + 1 if i < lead else i): v for i, v in twins.items()}
        no = chosen and analysis is not None and denies(chosen[0][2], analysis)
        return self._compose(hits, chosen, twins, sections, self.wording.text("answer.short_no") if no else "")

    def _candidate_units(
        self, hit: Hit, hits: Sequence[Hit], sections: SectionLookup, seen: set[str],
    ) -> tuple[list[Unit], set[int]]:
        """The sentences a hit offers: those of its passage and, when ``section_context`` is on, the
        rest of its section (the passage boundary often cuts a fact from the sentence that asks for
        it), each section once; sentences outside every retrieved passage of the section score
        ``outside_penalty`` less."""
        own = section_units(hit.text, 10_000, keep_leaning=True)
        section = sections(hit.section_id) if self.section_context else None
        if section is None:
            return own, set()
        if hit.section_id in seen:
            return [], set()
        seen.add(hit.section_id)
        units = section_units(section.text, 10_000, keep_leaning=True)
        retrieved = squash(" ".join(h.text for h in hits if h.section_id == hit.section_id))
        # A sentence kept with the one it leans on counts as retrieved when its head was.
        outside = {i for i, u in enumerate(units)
                   if squash(u.text) not in retrieved and squash(split_sentences(u.text)[0]) not in retrieved}
        return units, outside

    def _novel_first(
        self, scored: list[tuple[float, int, int, Unit]], best: float, hits: Sequence[Hit],
    ) -> Iterator[tuple[float, int, int, Unit]]:
        """The units worth showing, each next one the best after a discount for what the ones before
        from the same document already say: one document telling a fact three ways would take the
        places of three other facts (another document saying it is another source, kept)."""
        remaining = [(s, r, i, u, set(tokens(u.text)) - GENERIC_STEMS) for s, r, i, u in scored if s >= CUT * best]
        said: list[tuple[str, set[str]]] = []

        def novel(item: tuple[float, int, int, Unit, set[str]]) -> float:
            doc, terms = hits[item[1]].doc_id, item[4]
            overlap = max((len(terms & other) / max(1, len(terms | other)) for d, other in said if d == doc),
                          default=0.0)
            return item[0] - self.redundancy * overlap * best

        while remaining:
            pick = max(remaining, key=lambda item: (novel(item), -item[1], -item[2]))
            remaining.remove(pick)
            said.append((hits[pick[1]].doc_id, pick[4]))
            yield pick[:4]

    @staticmethod
    def _lead(
        chosen: list[tuple[int, int, str]], hits: Sequence[Hit], analysis: QuestionAnalysis | None, terms: set[str],
        weight: Callable[[str], float], focus_terms: set[str] | None = None,
    ) -> int:
        """Which chosen sentence answers first: the one that holds the most of the subject (weighed as
        the sentences were) and, for a
        question wanting a figure, a date or a name, one of those; the best retrieved passage breaks
        ties. (Only the order changes: the sentences shown are the same.)"""
        if not chosen:
            return 0
        subject = set(analysis.subject) if analysis is not None and analysis.subject else terms
        topic: set[str] = set()
        if focus_terms:  # the user's own words of a follow-up, the doctrine's method for a method question
            subject, topic = set(focus_terms), subject - set(focus_terms)
        wanted = _ANSWER_CUES.get(analysis.answer_type) if analysis is not None else None
        if analysis is not None and _ASKS_REFERENCE.search(analysis.text):
            wanted = _ANSWER_CUES["reference"]
        elif analysis is not None and _ASKS_CONDITIONS.search(analysis.text):
            wanted = _CONDITION_CUE
        elif analysis is not None and ((wanted is None and analysis.answer_type in ("yesno", "open")
                                        and _ASKS_APPLICABILITY.search(analysis.text))
                                       or any(c.kind == "application" for c in analysis.claims)):
            wanted = _APPLICABILITY_CUE  # whom a text binds, asked or taken for granted
        # A text said to bind someone: the sentence saying whom it addresses answers first.
        bound = analysis is not None and any(c.kind == "application" for c in analysis.claims)
        # What the sources leave open is a note, not an answer, unless trust is what the buyer asks about.
        open_section = analysis is None or not _ASKS_RELIABILITY.search(analysis.text)
        unit = None
        if wanted is not None and analysis is not None and analysis.answer_type == "figure":
            unit = next((cue for asks, cue in _FIGURE_UNITS if asks.search(analysis.text)), None)

        def score(item: tuple[int, tuple[int, int, str]]) -> tuple[bool, float, int]:
            i, (rank, _, block) = item
            found = set(tokens(f"{hits[rank].section} {block}"))
            share = fsum(weight(t) for t in subject & found) / max(1e-9, fsum(weight(t) for t in subject))
            # The topic the follow-up inherits breaks ties between sentences holding its own words.
            share += TOPIC_WEIGHT * fsum(weight(t) for t in topic & found) / max(1e-9, fsum(weight(t) for t in topic))
            cue = 1.0 if wanted is not None and wanted.search(block) else 0.0
            caveat = 1.0 if _CAVEAT.search(block) or (open_section and _CAVEAT_SECTION.search(hits[rank].section)) else 0.0
            # Asked for an amount (« quel plafond »), a sentence without one cannot answer first.
            kind = ((unit is not None and unit.search(block) is not None) or (bound and cue > 0)) and not caveat
            return (kind, share + 0.5 * cue + 0.3 * (1 - rank / max(1, len(hits))) - caveat, -i)

        return max(enumerate(chosen), key=score)[0]

    def _compose(
        self, hits: Sequence[Hit], chosen: list[tuple[int, int, str]], twins: dict[int, list[tuple[int, str]]],
        sections: SectionLookup, short: str = "",
    ) -> Generated:
        numbers: dict[str, int] = {}
        quotes: dict[str, list[str]] = {}
        lines: list[str] = []

        def cite(rank: int, quote: str) -> str:
            hit = hits[rank]
            n = numbers.setdefault(hit.chunk_id, len(numbers) + 1)
            quotes.setdefault(hit.chunk_id, []).append(quote)
            return f"[{n}]"

        noted: set[str] = set()
        for i, (rank, _, block) in enumerate(chosen):
            marks = " ".join(dict.fromkeys([cite(rank, block)] + [cite(r, text) for r, text in twins.get(i, [])]))
            attributed = re.search(r"\b(selon|d'après|rapporte)", block, re.IGNORECASE)
            note = f" {self.wording.text('answer.press_note')}" if _is_press(hits[rank]) and not attributed else ""
            status = hits[rank].status
            if status != "en_vigueur" and hits[rank].doc_id not in noted and (
                    status not in _DRAFT_STATUSES or _ABOUT_A_DRAFT.search(block)):
                # A bill or a repealed text is never quoted as the law (said once per document, on the
                # first sentence about the draft; a sentence of such a document on the law in force
                # gets no such tag, the sources line says what the document is).
                note += f" {self.wording.text('answer.status_note.' + status)}"
                noted.add(hits[rank].doc_id)
            if hits[rank].origin != "knowledge":  # never let an added file pass for the official corpus
                note = f" {self.wording.text('answer.user_note', title=hits[rank].title)}"
            if "\n" in block:
                head, *rest = block.split("\n")
                if head.lstrip().startswith(("-", "*")) or head[:2].strip(".").isdigit():
                    rest, head = [head, *rest], ""
                body = "\n".join(f"  {r}" if not r.startswith("  ") else r for r in rest)
                lines.append(((f"**{short}{head}**" if i == 0 else f"- {head}") + f"{note} {marks}\n{body}") if head
                             else f"{body}\n  {marks}")
            else:
                text = block[2:] if block.startswith("- ") else block
                lines.append((f"**{short}{text}**" if i == 0 else f"- {text}") + f"{note} {marks}")
            if i == 0:
                lines.append("")
        citations: list[Citation] = []
        titles: dict[str, list[int]] = {}
        for chunk_id, n in numbers.items():
            hit = next(h for h in hits if h.chunk_id == chunk_id)
            section = sections(hit.section_id)
            passage = section.text if section is not None else hit.text
            citations.append(Citation.from_hit(n, hit, max(quotes[chunk_id], key=len), passage))
            titles.setdefault(hit.title, []).append(n)
        if titles:
            status_of = {h.title: (h.status, h.doc_id) for h in hits}

            def named(title: str) -> str:
                status, doc_id = status_of.get(title, ("en_vigueur", ""))
                if status == "en_vigueur" or doc_id in noted:
                    return f"*{title}*"
                return f"*{title}* {self.wording.text('answer.status_note.' + status)}"

            listing = " ; ".join(f"{named(t)} ({', '.join(f'[{n}]' for n in ns)})" for t, ns in titles.items())
            lines += ["", self.wording.text("answer.sources_line", sources=listing)]
        return Generated("\n".join(lines).strip(), tuple(citations), self.name)


# ---------------------------------------------------------------- LLM


def numbered_sources(hits: Sequence[Hit], sections: SectionLookup) -> list[Citation]:
    """The evidence as numbered citations (quote = the retrieved passage)."""
    out = []
    for n, hit in enumerate(hits, start=1):
        section = sections(hit.section_id)
        out.append(Citation.from_hit(n, hit, hit.text, section.text if section is not None else hit.text))
    return out


def format_sources(sources: Sequence[Citation]) -> str:
    """Sources fenced as data: attributes escaped, text stripped of anything looking like our tags."""
    blocks = []
    for c in sources:
        text = c.quote.replace("<source", "‹source").replace("</source", "‹/source").replace("</sources", "‹/sources")
        title = c.title.replace('"', "'")
        section = c.section.replace('"', "'")
        press = ' origine="presse"' if c.kind == "presse" else ""
        blocks.append(f'<source n="{c.n}" document="{title}" section="{section}"{press}>\n{text}\n</source>')
    return "\n".join(blocks)


def prompt_chain(model: Any, prompts_dir: Any, *messages_: tuple[str, str]) -> Any:
    """``ChatPromptTemplate`` of (role, prompt file) pairs | ``model`` | text: how every LLM call is made."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    prompt = ChatPromptTemplate.from_messages([(role, load_prompt(prompts_dir, name)) for role, name in messages_])
    return prompt | model | StrOutputParser()


def llm_error(exc: Exception, timeout_label: str) -> str:
    """How an endpoint failure is named in the fallback notice: its type, or ``timeout_label``."""
    error = type(exc).__name__
    if "timeout" in error.lower() or "timeout" in str(exc).lower():
        error = timeout_label
    return error


class LLMGenerator:
    """Chat model behind an OpenAI-compatible endpoint (Albert API, vLLM, Ollama, llama.cpp)."""

    def __init__(self, settings: Settings) -> None:
        from langchain_openai import ChatOpenAI

        self.settings = settings
        self.name = f"llm:{settings.llm_model}"
        self.model = ChatOpenAI(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else "sans-cle",
            timeout=settings.llm_timeout_s,
            max_retries=0,
            temperature=settings.llm_temperature,
            streaming=True,
        )
        self.chain = prompt_chain(self.model, settings.prompts_dir,
                                  ("system", "answer_system.md"), ("human", "answer_user.md"))
        self.condense_chain = prompt_chain(self.model, settings.prompts_dir, ("human", "condense.md"))

    def stream(self, request: GenerationRequest) -> Iterator[str | Generated]:
        """Tokens as the endpoint sends them, from the k best passages numbered as sources."""
        sources = numbered_sources(request.hits[: request.k], request.sections)
        parts: list[str] = []
        for token in self.chain.stream({"sources": format_sources(sources), "question": request.question}):
            parts.append(token)
            yield token
        yield Generated("".join(parts), tuple(sources), self.name)

    def condense(self, question: str, history_text: str) -> str:
        return self.condense_chain.invoke({"history": history_text, "question": question}).strip()
