"""The answer pipeline, one path through typed stages (values of ``answer/types.py``)::

    prepare   question, history, k, filters         -> Question         (checked, cleaned)
    condense  Question                              -> Condensed        (follow-ups made standalone,
                                                                          abbreviations spelt out, accents restored)
    analyse   Condensed                             -> QuestionAnalysis (subject vs context, intent, answer
                                                                          type, references, claims)
    retrieve  Condensed, QuestionAnalysis           -> Retrieval        (hybrid search, follow-up fusion,
                                                                          one search per part on its subject)
    gate      Condensed, QuestionAnalysis, Retrieval -> GateDecision    (refuse what no text supports; parts
                                                                          not treated; unsupported premises)
    generate  GenerationRequest                     -> text chunks, then Generated (a drafting request is drafted)
    finish    everything above                      -> Answer           (premise corrected first, citations checked)

``stream`` runs the stages once and yields the generator's text chunks, then the ``Answer``;
``invoke`` is the last item of ``stream``. The chain is a plain class, not an LCEL runnable: the
stages exchange typed values rather than a dict, and wrapping them in ``RunnableLambda`` would
only add a second way to call the same methods. LangChain stays where it does real work, at the
edges: the chat model and prompt templates of ``LLMGenerator``, the ``Embeddings`` of the index.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Literal

from assistant.answer.analysis import (
    Part,
    QuestionAnalysis,
    Reference,
    analyse,
    french_words,
    general_stems,
    normalise,
    outside_objects,
    own_references,
    purchase_context,
    rules,
)
from assistant.answer.citations import check_answer, verify_citations
from assistant.answer.condense import heuristic_condense, history_text, refers_back, resolve_rank, text_names
from assistant.answer.fusion import fuse_hits
from assistant.answer.gate import (
    DENIED_REFERENCE,
    GENERIC_STEMS,
    INVENTED_REFERENCE,
    LOW_SIMILARITY,
    SUBJECT_NOT_COVERED,
    decide,
    is_english,
)
from assistant.answer.generators import (
    CIRCULAR_ID,
    EVIDENCE_BEYOND_K,
    ExtractiveGenerator,
    LLMGenerator,
    llm_error,
    numbered_sources,
)
from assistant.answer.lexicon import load_lexicon
from assistant.answer.provenance import conflicts
from assistant.answer.question import check_question
from assistant.answer.retrieval import Searcher
from assistant.answer.scope import (
    PartVerdict,
    claim_supported,
    coverage,
    denied_titles,
    judge_part,
    names_denied,
    neighbouring_field,
    reference_found,
    situation_field,
)
from assistant.answer.spelling import Speller, build_speller, respell
from assistant.answer.types import (
    Answer,
    Condensed,
    DraftReply,
    DraftResponder,
    Filters,
    GateDecision,
    Generated,
    GenerationRequest,
    Hit,
    Notice,
    PartRetrieval,
    Question,
    Retrieval,
    Turn,
)
from assistant.config import Settings
from assistant.index.snapshot import Snapshot
from assistant.text import accent_map, fold, reaccent, tokens
from assistant.wording import load_wording

DRAFT_GENERATOR = "drafter"
RETRIEVE_AT_LEAST = 6  # passages the scope check reads whatever k (the gate judges six)
RELATED = 3  # passages listed « à consulter » with a refusal
MAX_PARTS = 3  # parts of a multi-part question searched and judged one by one
CLAIM_HITS = 8
ENGLISH_MIN_TERMS = 2  # French domain words an English question must yield to be judged on words
TOPICS_SEARCHED = 1  # objectives named by one question whose catalogue query is searched too
# How to treat an objective (not a date, figure, name or yes/no, nor a claim to check): the
# catalogue's query adds what the doctrine expects for it.
TOPIC_ANSWER_TYPES = ("procedure", "list", "open")  # passages searched for each claim the question takes for granted


# A clause whose pronoun stands for what precedes it (« comment le justifier ? », « on s'y prend comment ? »).
_STARTS = re.compile(r"\bcommenc|\bordre\b|\bd'abord\b|\ben premier\b|\bdemarche|\bpar ou\b|\bpar quoi\b")
_COORDINATED_CLAUSE = re.compile(r"(?:et|ou|mais|puis)\b")
_POINTS_BACK = re.compile(r"\b(?:comment|pourquoi|je|j'|on|nous|vous)\s+(?:le|la|les|l'|y|en|s'y|m'y|nous y)\b")


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


CONTEXT_SHARE = 0.6  # a subject this small a share of the question's words: the rest is the buyer's context


class AnswerChain:
    def __init__(
        self, settings: Settings, searcher: Searcher, llm: LLMGenerator | None = None,
        drafting: DraftResponder | None = None, topics: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.settings = settings
        # The doctrine's objectives (label, search query from the drafting catalogue): a question
        # that names one also searches what the catalogue says about it.
        self.topics = tuple((frozenset(tokens(name)) - GENERIC_STEMS, query)
                            for label, query in topics for name in re.split(r"\s+et\s+", label))
        self.searcher = searcher
        self.extractive = ExtractiveGenerator(settings)
        self.llm = llm
        self.drafting = drafting
        self.wording = load_wording(settings.prompts_dir)
        self.lexicon = load_lexicon(settings.knowledge_dir)
        self.rules = rules(settings.prompts_dir)
        self.general = general_stems(settings.prompts_dir) - self.lexicon.anchors
        # (generation, accents, corpus text, speller)
        self._per_generation: tuple[str, dict[str, str], str, Speller] | None = None
        self._denied: tuple[str, tuple[str, ...]] | None = None

    # -- public API

    def invoke(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        use_llm: bool = True,
    ) -> Answer:
        *_, answer = self.stream(question, history, k=k, filters=filters, use_llm=use_llm)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        *,
        k: int | None = None,
        filters: Filters = Filters(),
        use_llm: bool = True,
    ) -> Iterator[str | Answer]:
        """Yield the generator's text chunks as they come (LLM tokens; none for the extractive
        generator, whose text arrives whole in the Answer), then the Answer."""
        t_start = time.perf_counter()
        asked = self.prepare(question, history, k, filters, use_llm)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        condensed = self.condense(asked)
        analysis = self.analyse(condensed)
        timings["condense"] = _ms(t0)
        t0 = time.perf_counter()
        retrieval = self.retrieve(condensed, analysis)
        timings["retrieve"] = _ms(t0)
        snap = self.searcher.reader.snapshot()
        decision = self.gate(condensed, analysis, retrieval, snap)
        notices = self._context_notices(asked, retrieval, snap)
        focus = condensed.focus
        if (focus is None and (analysis.answer_type == "procedure" or is_english(analysis.text))
                and self._method_question(analysis)):
            focus = self.rules["purchase_procedure_query"]  # the answer leads with the doctrine's method
        hint = " ".join(self.lexicon.expansions(condensed.standalone)) if is_english(analysis.text) else ""
        leading = replace(analysis, subject=decision.answered_by) if decision.answered_by else analysis
        request = GenerationRequest(condensed.standalone, focus, retrieval.hits, asked.k, snap.sections.get,
                                    leading, snap.idf, hint)
        t0 = time.perf_counter()
        generated: Generated | None = None
        draft: DraftReply | None = None
        if decision.refused:
            generated = Generated(self._refusal(decision, retrieval, asked), (), self.extractive.name)
        elif analysis.intent == "draft" and self.drafting is not None:
            draft = self.drafting(asked.text, next(item for item in self.extractive.stream(request)
                                                   if isinstance(item, Generated)))
            generated = Generated(draft.text, draft.citations, DRAFT_GENERATOR)
        else:
            generator = self.llm if self.llm is not None and asked.use_llm else self.extractive
            try:
                for item in generator.stream(request):
                    if isinstance(item, Generated):
                        generated = item
                    else:
                        yield item
            except Exception as exc:  # noqa: BLE001 - any endpoint failure falls back to extractive
                if generator is self.extractive:
                    raise
                error = llm_error(exc, self.wording.text("answer.llm_timeout"))
                notices.append(self._notice("warning", "llm_fallback", error=error))
                generated = self._fallback(request)
        assert generated is not None
        timings["generate"] = _ms(t0)
        yield self.finish(asked, condensed, retrieval, decision, generated, request, notices, timings, t_start, draft)

    # -- stages

    def prepare(
        self, question: str, history: Sequence[Turn] | None, k: int | None, filters: Filters, use_llm: bool,
    ) -> Question:
        cleaned = check_question(question, self.settings.max_question_chars, self.wording)
        return Question(cleaned, tuple(history or ()), k or self.settings.k, filters, use_llm)

    def condense(self, asked: Question) -> Condensed:
        own = standalone = asked.text
        if asked.history:
            own = standalone = resolve_rank(asked.text, asked.history)
            standalone = heuristic_condense(own, asked.history)
            if self.llm is not None and asked.use_llm and standalone != asked.text:
                try:
                    history = history_text(asked.history, self.wording.text("answer.history_user"),
                                           self.wording.text("answer.history_assistant"))
                    rewritten = self.llm.condense(asked.text, history)
                    if rewritten and len(rewritten) < self.settings.max_question_chars:
                        standalone = rewritten
                except Exception:  # noqa: BLE001,S110 - the heuristic result stands
                    pass
        accents, _, speller = self._generation_data()
        # French typos only: an English word is not a misspelt French one.
        words = french_words(self.settings.prompts_dir)
        standalone = reaccent(normalise(standalone, self.settings.prompts_dir), accents)
        own = reaccent(normalise(own, self.settings.prompts_dir), accents)
        if not is_english(asked.text):
            standalone, own = respell(standalone, speller, words), respell(own, speller, words)
        return Condensed(asked, standalone, own if standalone != own else None)

    def analyse(self, condensed: Condensed) -> QuestionAnalysis:
        # A follow-up's own words are what precedes « — » in the heuristic standalone form (their « ? »
        # kept); a buyer's own dash in a question asked alone is part of the question.
        own = None
        if condensed.focus is not None and " — " in condensed.standalone:
            own = condensed.standalone.split(" — ", 1)[0].rstrip(" ?") + " ?"
        return self.analyse_text(condensed.standalone, own)

    def analyse_text(self, text: str, own_words: str | None = None) -> QuestionAnalysis:
        return analyse(text, self.settings.prompts_dir, GENERIC_STEMS, self.lexicon.synonyms, own_words)

    def retrieve(self, condensed: Condensed, analysis: QuestionAnalysis) -> Retrieval:
        """Search the standalone question (jargon expanded). A follow-up also searches its own words
        with the names of the texts discussed before, so « et pour la réversibilité ? » is not drowned
        by the previous question's topic; both rankings are fused, the gate keeps the first's signals.
        A question of method with no subject but the purchase (« pour notre futur outil, on commence
        par quoi ? ») also searches the doctrine's method. Each part of the question is then searched
        on its subject alone, for the scope check."""
        asked = condensed.question
        k = max(asked.k, RETRIEVE_AT_LEAST)
        depth = max(k, asked.k + EVIDENCE_BEYOND_K)  # what the extractive generator may quote from
        primary = self.searcher.retrieve(self.lexicon.expand(condensed.standalone), depth, filters=asked.filters)
        rankings = [primary.hits]
        if condensed.focus:
            names = text_names(asked.history)
            rankings.insert(0, self.searcher.retrieve(
                self.lexicon.expand(f"{condensed.focus} {names}"), k, filters=asked.filters).hits)
        if self._method_question(analysis):
            rankings.insert(0, self.searcher.retrieve(self.rules["purchase_procedure_query"], k,
                                                      filters=asked.filters).hits)
        if any(c.kind == "application" for c in analysis.claims):  # whom the doctrine binds, taken for granted
            rankings.insert(0, self.searcher.retrieve(self.rules["application_query"], k, filters=asked.filters).hits)
        hits = tuple(fuse_hits(rankings, depth)) if len(rankings) > 1 else primary.hits
        scope_hits: tuple[Hit, ...] = ()
        named = list(dict.fromkeys(query for stems, query in self.topics if stems and stems <= analysis.subject))
        if 0 < len(named) <= TOPICS_SEARCHED and not analysis.claims and analysis.answer_type in TOPIC_ANSWER_TYPES:
            rankings += [self.searcher.retrieve(query, k, filters=asked.filters).hits for query in named]
            scope_hits, hits = hits, tuple(fuse_hits(rankings, depth))
        parts = []
        for part in analysis.parts[:MAX_PARTS]:
            found = self.searcher.retrieve(self.lexicon.expand(part.subject_text.strip() or part.text), k,
                                           filters=asked.filters)
            parts.append(PartRetrieval(part, found.hits, found.max_dense))
        # « Quelle est la version en vigueur de SecNumCloud ? C'est pour l'annexe sécurité du CCTP. »: the
        # buyer's context pulls the search towards the documents it names; the subject searched alone
        # brings back the section that answers.
        if (not condensed.focus and len(parts) == 1
                and len(tokens(parts[0].part.subject_text)) <= CONTEXT_SHARE * len(tokens(condensed.standalone))):
            hits = tuple(fuse_hits([*rankings, parts[0].hits], depth))
        indirect = []
        for part in analysis.indirect[:MAX_PARTS]:
            found = self.searcher.retrieve(self.lexicon.expand(part.subject_text.strip() or part.text), k,
                                           filters=asked.filters)
            indirect.append(PartRetrieval(part, found.hits, found.max_dense))
        return Retrieval(primary.query, primary.filters, primary.mode, hits, primary.gate_hits, primary.max_dense,
                         tuple(parts), scope_hits, tuple(indirect))

    def gate(
        self, condensed: Condensed, analysis: QuestionAnalysis, retrieval: Retrieval, snap: Snapshot,
    ) -> GateDecision:
        """First the evidence (``gate.decide``), then the scope: the texts the question cites must
        exist in the corpus, each part's subject must be treated by a section, and what the question
        takes for granted must be supported (else the answer says so first)."""
        question = condensed.standalone
        scope = snap.doc_text("circulaire") if re.search(r"circulaire|6519", question, re.I) else ""
        expanded = self.lexicon.expand(own_references(question, self.settings.prompts_dir))
        parts_dense = [p.max_dense for p in retrieval.parts]
        decision = decide(
            expanded,
            retrieval.judged[:6],
            thresholds=self.settings.gate,
            idf=snap.idf,
            anchored=self.lexicon.has_anchor(expanded),
            max_dense=max([retrieval.max_dense, *parts_dense]),
            scope_text=scope,
        )
        if decision.reason == LOW_SIMILARITY and (self._method_question(analysis) or self._drafts_a_choice(analysis)):
            decision = replace(decision, refused=False, reason="")  # the doctrine's own question
        elif decision.reason == LOW_SIMILARITY and (
                (decision.anchored and self._subject_words_treated(analysis, snap, retrieval, condensed))
                or self._subject_phrase_treated(analysis, snap, retrieval, condensed)):
            decision = replace(decision, refused=False, reason="")  # « Seuil saisine DINUM ? »: words, not prose
        if decision.refused:
            return decision
        creative = re.search(self.rules.get("creative_request") or r"(?!)", fold(question))
        if creative:  # « écris-moi un poème sur les nuages »: no text treats poems, whatever their theme
            written = {fold(w): w for w in re.findall(r"[\w'-]+", question)}
            return replace(decision, refused=True, reason=SUBJECT_NOT_COVERED,
                           not_covered=(written.get(creative.group("w"), creative.group("w")),))
        corpus = self._generation_data()[1]
        invented = [r for r in analysis.references if not self._reference_known(r, corpus)]
        if invented:
            return replace(decision, refused=True, reason=INVENTED_REFERENCE, missing_reference=invented[0].label)
        denied = names_denied(question, self._denied_titles())
        if denied:
            return replace(decision, refused=True, reason=DENIED_REFERENCE, missing_reference=denied)
        if is_english(question):
            # The subject analysis reads French: an English question is judged on meaning alone, which
            # proves less than words, so it needs a closer passage (a draft request is grounded anyway).
            unknown = snap.idf("")  # the weight of a word the corpus never uses
            # « our tax-fraud analytics tool »: the buyer's own tool, described, is context, not a field asked about.
            asked_about = re.sub(self.rules.get("english_own_object") or r"(?!)", " ", question, flags=re.IGNORECASE)
            fields = [(term, field) for term, field in self.lexicon.neighbour_fields(asked_about)
                      if all(snap.idf(t) >= unknown for t in tokens(term))]  # not « assurance levels »
            if fields and analysis.intent != "draft":
                words = ", ".join(dict.fromkeys(_as_typed(term, question) for term, _ in fields))
                field_note = (f"{fields[0][1]} ({words})",)
                if not self._english_question_besides(question, snap, decision):
                    return replace(decision, refused=True, reason=SUBJECT_NOT_COVERED, not_covered=field_note)
                # « Is HDS enough under the circular? And do we need a cyber-insurance policy? »: the
                # covered question is answered, the other one named as not covered.
                decision = replace(decision, not_covered=field_note)
            if (analysis.intent != "draft" and not self._method_question(analysis)
                    and decision.top_dense < self.settings.gate.english_min_dense
                    and not self._english_terms_covered(question, snap, retrieval, condensed)):
                return replace(decision, refused=True, reason=LOW_SIMILARITY)
            # A figure or a date it takes for granted is checked as in French (« since the circular was
            # signed on 5 March 2026 »); a rule worded in English has no French words to be looked up by.
            # English words the corpus never uses cannot be looked up: the claim is about the others.
            valued = replace(analysis, claims=tuple(
                replace(c, terms=frozenset(t for t in c.terms if snap.idf(t) < unknown))
                for c in analysis.claims if c.values))
            return replace(decision, premises=self._unsupported_claims(condensed, valued, retrieval, snap))
        if analysis.intent == "draft" and (self._drafts_a_choice(analysis)
                                           or purchase_context(analysis, self.settings.prompts_dir)):
            return decision  # a purchase to justify: the drafter grounds it on the catalogue
        t = self.settings.gate
        sections = self._section_texts(snap, self._judged(retrieval, condensed))
        everyday = t.everyday_dense if decision.anchored else t.everyday_dense_unanchored
        whole = max([retrieval.max_dense, *parts_dense])
        # The buyer's own names that no text uses (« Scellia, le futur logiciel… ») are context: the
        # part is judged on what it asks about them (a neighbouring field's name stays, to be named).
        unknown = snap.idf("")
        fields = {t for term, _ in self.lexicon.neighbour_fields(question) for t in tokens(term)}
        own_names = frozenset(t for n in analysis.names for t in tokens(n) if snap.idf(t) >= unknown) - fields
        # An acronym no text uses and the jargon does not know (« pour une TMA ») names the buyer's own
        # thing, like a tool's name, when the part asks about something else; asked about alone (« le
        # PCRA, c'est quoi ? ») it stays the subject, to be said not covered.
        acronyms = frozenset(t for w in _OWN_ACRONYM.findall(question) if self.lexicon.expand(w) == w
                             for t in tokens(w) if snap.idf(t) >= unknown) - fields
        verdicts = [
            judge_part(_without_names(p.part, own_names | _context_acronyms(p.part, acronyms, self.general)),
                       sections + self._section_texts(snap, p.hits), p.dense,
                       max(whole, p.dense),
                       idf=snap.idf, general=self.general, general_weight=t.general_weight, threshold=t.scope,
                       everyday_dense=everyday, dense_weight=t.scope_dense_weight)
            for p in retrieval.parts
        ]
        if analysis.references:
            # Every text the question cites is indexed (« Règle R9 ? »): a part that asks about nothing
            # else but in everyday words (« en clair, ça dit quoi ? ») is covered, however little they say.
            named = {t for r in analysis.references for t in tokens(" ".join((r.label, *r.keys)))}
            verdicts = [replace(v, covered=True, missing=()) if not v.covered and v.part.subject - self.general <= named
                        else v for v in verdicts]
        method = analysis.answer_type == "procedure" and self._method_question(analysis)
        if method:
            # How to go about a purchase: the doctrine's method answers it, whatever is bought, but not
            # whatever happened to the buyer (a dispute, a data breach: a field the texts do not treat).
            texts = [text for _, text in sections]
            verdicts = [situation_field(replace(v, covered=True, missing=()), self.lexicon.neighbour_fields(
                outside_objects(v.part.text, self.settings.prompts_dir)), texts) for v in verdicts]
        verdicts = [self._judged_alone(v, sections + self._section_texts(snap, p.hits), p, whole, everyday, snap)
                    for v, p in zip(verdicts, retrieval.parts, strict=True)]
        if not analysis.claims and analysis.answer_type in TOPIC_ANSWER_TYPES:
            # How to treat one of the doctrine's nine objectives: the doctrine itself treats it.
            verdicts = [replace(v, covered=True, missing=()) if not v.covered and any(
                stems and stems <= v.part.subject for stems, _ in self.topics) else v for v in verdicts]
        if purchase_context(analysis, self.settings.prompts_dir):
            # « petit outil de sondage à 35 k€ HT, commande en mars : je dois faire une pub ? »: the amount
            # of a purchase asks which procedure it requires, which the thresholds answer.
            amount = self.rules.get("purchase_amount") or r"(?!)"
            verdicts = [replace(v, covered=True, missing=()) if not v.covered and re.search(amount, fold(v.part.text))
                        else v for v in verdicts]
        verdicts = [neighbouring_field(v, self.lexicon.neighbour_fields(self._asked_text(v.part)),
                                       [text for _, text in sections + self._section_texts(snap, p.hits)])
                    for v, p in zip(verdicts, retrieval.parts, strict=True)]
        verdicts = _inherit_uncovered(verdicts, question)
        written = {fold(w): w for w in re.findall(r"[\w'-]+", condensed.question.text)}  # the user's spelling
        not_covered = tuple(dict.fromkeys(", ".join(written.get(fold(w), w) for w in v.missing) or v.part.text
                                          for v in verdicts if not v.covered))
        premises = self._unsupported_claims(condensed, analysis, retrieval, snap)
        if verdicts and all(not v.covered for v in verdicts):
            indirect = self._indirect_covered(retrieval, sections, whole, everyday, snap)
            if indirect is not None:  # the answer leads with the one question the texts treat
                return replace(decision, not_covered=not_covered, premises=premises, answered_by=indirect.subject)
            return replace(decision, refused=True, reason=SUBJECT_NOT_COVERED, not_covered=not_covered,
                           premises=premises)
        covered = [v for v in verdicts if v.covered]
        if covered and len(covered) < len(verdicts):
            # The answer leads with what the texts treat; the buyer's own account was read only for what it
            # asks about (« je suis au bureau des achats… » is not a question left unanswered).
            asked = tuple(dict.fromkeys(", ".join(written.get(fold(w), w) for w in v.missing) or v.part.text
                                        for v in verdicts if not v.covered and not v.part.narrative))
            return replace(decision, not_covered=asked, premises=premises,
                           answered_by=frozenset().union(*(v.part.subject for v in covered)))
        return replace(decision, not_covered=not_covered, premises=premises)

    def _indirect_covered(
        self, retrieval: Retrieval, sections: list[tuple[str, str]], whole: float, everyday: float, snap: Snapshot,
    ) -> Part | None:
        """The question the buyer asks without a question mark (« ma directrice veut savoir à quel
        moment passer devant la DINUM. ») that the texts treat, judged like a part, neighbouring fields
        included: the message is then answered, with a note on the parts they do not treat."""
        t = self.settings.gate
        for found in retrieval.indirect:
            texts = sections + self._section_texts(snap, found.hits)
            verdict = judge_part(found.part, texts, found.dense, max(whole, found.dense), idf=snap.idf,
                                 general=self.general, general_weight=t.general_weight, threshold=t.scope,
                                 everyday_dense=everyday, dense_weight=t.scope_dense_weight)
            verdict = neighbouring_field(verdict, self.lexicon.neighbour_fields(self._asked_text(found.part)),
                                         [text for _, text in texts])
            if verdict.covered and not verdict.asks_nothing:
                return found.part
        return None

    def _unsupported_claims(
        self, condensed: Condensed, analysis: QuestionAnalysis, retrieval: Retrieval, snap: Snapshot,
    ) -> tuple[str, ...]:
        """The claims the question takes for granted that no section supports (searched one by one)."""
        families = {**self.rules["claims"]["families"], **(self.rules["claims"].get("support") or {}),
                    "extension": [self.rules["claims"]["extension"]]}
        premises = []
        for claim in analysis.claims:
            found = self.searcher.retrieve(self.lexicon.expand(claim.text), CLAIM_HITS,
                                           filters=condensed.question.filters)
            texts = [text for _, text in self._section_texts(snap, found.hits + self._judged(retrieval, condensed))]
            if not claim_supported(claim, texts, families, snap.idf):
                premises.append(claim.text)
        return tuple(premises)

    def finish(
        self, asked: Question, condensed: Condensed, retrieval: Retrieval, decision: GateDecision,
        generated: Generated, request: GenerationRequest, notices: list[Notice], timings: dict[str, float],
        t_start: float, draft: DraftReply | None = None,
    ) -> Answer:
        checked = check_answer(generated.text, generated.citations, self.wording, echo=asked.text)
        problems = checked.problems + verify_citations(checked.citations, self.wording)
        for conflict in conflicts(checked.citations, lambda q, n, f: self.searcher.search(q, n, filters=f)):
            notices.append(self._notice(
                "warning", "user_conflict", n=conflict.citation.n, title=conflict.citation.title,
                added=", ".join(conflict.added_figures), official=", ".join(conflict.official_figures),
                official_title=conflict.official.title,
            ))
        if any(c.doc_id == CIRCULAR_ID for c in checked.citations):
            notices.append(self._notice("info", "circular_caveat"))
        # Two passages of one section would list the same « document — section » line twice.
        distinct = [h for i, h in enumerate(retrieval.hits)
                    if all(h.section_id != other.section_id for other in retrieval.hits[:i])]
        related = numbered_sources(distinct[:RELATED], request.sections) if decision.refused else []
        answer_text = checked.text
        if not decision.refused and decision.premises:
            answer_text = self.wording.text("answer.premise_unsupported",
                                            claims=" ; ".join(self._as_written(decision.premises, asked))) \
                + "\n\n" + answer_text
        if not decision.refused and decision.not_covered:
            answer_text += "\n\n" + self.wording.text("answer.partly_covered", subject=" ; ".join(decision.not_covered))
        if decision.refused and related:
            answer_text += (
                "\n\n"
                + self.wording.text("answer.to_consult")
                + "\n"
                + "\n".join(f"- {c.title} — {c.section}" for c in related)
            )
        timings["total"] = _ms(t_start)
        return Answer(
            question=asked.text,
            answer=answer_text,
            refused=decision.refused,
            citations=checked.citations,
            generator=generated.generator,
            timings_ms=timings,
            standalone_question=condensed.standalone,
            related=related,
            notices=notices,
            problems=problems,
            decision=decision,
            retrieval=retrieval,
            draft_request=draft.request if draft is not None else None,
        )

    # -- helpers

    def _context_notices(self, asked: Question, retrieval: Retrieval, snap: Snapshot) -> list[Notice]:
        notices = []
        if snap.interrupted:
            notices.append(self._notice("warning", "index_interrupted", generation=snap.generation))
        if retrieval.degraded:
            notices.append(self._notice("info", "dense_degraded"))
        if is_english(asked.text):
            notices.append(self._notice("info", "english_notice"))
        return notices

    def _notice(self, kind: Literal["info", "warning"], key: str, **values: object) -> Notice:
        return Notice(kind, key, self.wording.text(f"answer.{key}", **values))

    def _fallback(self, request: GenerationRequest) -> Generated:
        generated = self.extractive.generate(
            request.question, request.hits[: request.k + EVIDENCE_BEYOND_K], request.sections, request.focus
        )
        name = self.wording.text("answer.fallback_generator", name=self.extractive.name)
        return Generated(generated.text, generated.citations, name)

    @staticmethod
    def _as_written(claims: Sequence[str], asked: Question) -> list[str]:
        """Each claim in the user's own spelling (the analysis read an accent-restored copy)."""
        out = []
        for claim in claims:
            pattern = r"\s+".join(re.escape(w) for w in fold(claim).split())
            match = re.search(pattern, fold(asked.text))
            same_length = match is not None and len(fold(asked.text)) == len(asked.text)
            out.append(asked.text[match.start():match.end()] if same_length else claim)
        return out

    def _refusal(self, decision: GateDecision, retrieval: Retrieval, asked: Question) -> str:
        if decision.reason == INVENTED_REFERENCE:
            return self.wording.text("answer.refused_invented", reference=decision.missing_reference)
        if decision.reason == DENIED_REFERENCE:
            return self.wording.text("answer.refused_denied", reference=decision.missing_reference)
        if decision.missing_reference:
            return self.wording.text("answer.refused_reference", reference=decision.missing_reference)
        if decision.reason == SUBJECT_NOT_COVERED and decision.premises:
            return self.wording.text("answer.refused_premise", claims=" ; ".join(self._as_written(decision.premises, asked)),
                                     subject=" ; ".join(decision.not_covered))
        if decision.reason == SUBJECT_NOT_COVERED:
            return self.wording.text("answer.refused_subject", subject=" ; ".join(decision.not_covered))
        return self.wording.text("answer.refused")

    def _method_question(self, analysis: QuestionAnalysis) -> bool:
        """How to proceed with a purchase, nothing else asked: the doctrine's method answers it."""
        if is_english(analysis.text):
            folded = fold(analysis.text)
            return bool(re.search(self.rules["english_method"], folded)
                        and re.search(self.rules["english_purchase"], folded))
        if not purchase_context(analysis, self.settings.prompts_dir):
            return False
        if analysis.answer_type in ("procedure", "open", "list") and all(t in self.general for t in analysis.subject):
            return True
        # « On remplace le logiciel de paie, le marché se termine en septembre : par quoi je commence ? »:
        # the question itself is the last clause; what precedes it describes the purchase.
        text = analysis.text.strip()
        clause = re.split(r"\s*[:;]\s+|,\s+|(?<=[.!?])\s+", text)[-1]
        tail = re.search(r"(?:^|(?<=[.!?:;])\s+)([^.!?:;]+,\s*" + re.escape(clause) + r")$", text)
        if len(clause.split()) <= 2 and tail:  # « Par quoi on commence, concrètement ? »: an adverb is no clause
            clause = tail.group(1)
        if clause == text or not clause.endswith("?") or _POINTS_BACK.search(fold(clause)):
            return False  # « comment le justifier ? » asks about what precedes, not for the method
        if _COORDINATED_CLAUSE.match(fold(clause)):
            # « quelles garanties …, et que doit faire le sortant ? » adds to the question before it:
            # that one says whether the method is asked (« Étapes pour acheter …, et comment … ? »).
            before = text[: text.rfind(clause)].rstrip(" ,;:")
            asked = self.analyse_text(f"{before} ?")
            return asked.answer_type == "procedure" and all(t in self.general for t in asked.subject)
        if clause in re.split(r"(?<=[.!?])\s+", text) and not _STARTS.search(fold(clause)):
            return False  # a sentence of its own: « Comment faire ? » may ask how to do what precedes
        asked = self.analyse_text(clause)
        return asked.answer_type == "procedure" and all(t in self.general for t in asked.subject)

    def _judged_alone(
        self, verdict: PartVerdict, sections: list[tuple[str, str]], found: PartRetrieval, whole: float,
        everyday: float, snap: Snapshot,
    ) -> PartVerdict:
        """A part not covered as a whole is covered when its question, judged without its preface
        (the buyer's case: « Rectorat de Lyon : … »), is."""
        core = verdict.part.core
        if verdict.covered or core is None:
            return verdict
        if self.lexicon.neighbour_fields(self._asked_text(verdict.part)):
            return verdict  # a preface naming a field the texts do not treat (« fuite de données : … ») stays
        t = self.settings.gate
        alone = judge_part(core, sections, found.dense, max(whole, found.dense), idf=snap.idf, general=self.general,
                           general_weight=t.general_weight, threshold=t.scope, everyday_dense=everyday,
                           dense_weight=t.scope_dense_weight)
        return replace(alone, part=verdict.part) if alone.covered else verdict

    def _asked_text(self, part: Part) -> str:
        """The part without a preface that says who asks (« DPO d'un établissement de santé : … ») and
        without the buyer's own tools or files named by their use (« notre outil de suivi des contentieux »):
        a function or a tool named after a neighbouring field is not the field asked about."""
        core = part.core
        text = part.text
        if core is not None and core.text in part.text:
            preface = part.text[: part.text.rfind(core.text)]
            if re.match(self.rules.get("asker_role") or r"(?!)", fold(preface).strip()):
                text = core.text
        return re.sub(self.rules.get("own_object") or r"(?!)", " ", fold(text))

    def _drafts_a_choice(self, analysis: QuestionAnalysis) -> bool:
        """A drafting request naming a route, an objective or an exception of the doctrine: the drafter
        grounds it on the catalogue, however far its other words are from the texts."""
        if analysis.intent != "draft":
            return False
        folded = fold(analysis.text)
        named = [p for key in ("draft_routes", "draft_criteria", "draft_exceptions")
                 for pats in self.rules[key].values() for p in pats]
        return any(re.search(p, folded) for p in named)

    def _generation_data(self) -> tuple[dict[str, str], str, Speller]:
        """Per committed index generation: the corpus' accented spellings (to restore accents a
        question was typed without), its folded text (to look up the references a question cites) and
        its words (to read a misspelt word as the one it stands for)."""
        snap = self.searcher.reader.snapshot()
        cached = self._per_generation
        if cached is None or cached[0] != snap.generation:
            accents = accent_map(p.text for p in snap.passages)
            corpus = fold(" ".join(
                [f"{m.get('title', '')} {m.get('reference') or ''}" for m in snap.docs.values()]
                + [f"{s.section} {s.text}" for s in snap.sections.values()]
            ))
            speller = build_speller(f"{s.section} {s.text}" for s in snap.sections.values())
            cached = (snap.generation, accents, corpus, speller)
            self._per_generation = cached
        return cached[1], cached[2], cached[3]

    def _denied_titles(self) -> tuple[str, ...]:
        """Per committed index generation: the titles the corpus says were not found."""
        snap = self.searcher.reader.snapshot()
        if self._denied is None or self._denied[0] != snap.generation:
            self._denied = (snap.generation, denied_titles(s.text for s in snap.sections.values()))
        return self._denied[1]

    def _reference_known(self, ref: Reference, corpus: str) -> bool:
        """Whether the corpus mentions the reference, an acronym of the lexicon read as what it stands
        for (« SNC v3.2 » is SecNumCloud v3.2)."""
        if reference_found(ref, corpus):
            return True
        if ref.kind != "version_sigle" or len(ref.keys) < 2:
            return False
        expansion = self.lexicon.synonyms.get(fold(ref.keys[1]))
        return bool(expansion) and reference_found(replace(ref, keys=(ref.keys[0], fold(expansion))), corpus)

    @staticmethod
    def _judged(retrieval: Retrieval, condensed: Condensed) -> tuple[Hit, ...]:
        """The passages the scope and premise checks read: the generator may quote from deeper ones,
        but a passage the gate was not calibrated on must not make a subject look covered."""
        return (retrieval.scope_hits or retrieval.hits)[: max(condensed.question.k, RETRIEVE_AT_LEAST)]

    def _english_terms_covered(self, question: str, snap: Snapshot, retrieval: Retrieval, condensed: Condensed) -> bool:
        """An English question whose domain words, read in French through the lexicon (« accessibility »
        -> « accessibilité RGAA »), are treated together by one retrieved section: words prove it covered
        where the meaning alone is too far."""
        folded = f" {' '.join(re.findall(r'[0-9a-z]+', fold(question)))} "
        french = [exp for key, exp in self.lexicon.synonyms.items() if f" {key} " in folded]
        # The domain's own names need no translation (« the SREN law and SecNumCloud »): names written with
        # capitals inside (acronyms, CamelCase), two of them at least, as « French » or « DINUM » alone say little.
        named = self.lexicon.anchors & set(tokens(" ".join(re.findall(r"\b[A-Z]\w*[A-Z]\w*", question))))
        named = named if len(named) >= 2 else frozenset()
        terms = (frozenset(tokens(" ".join(french))) | named) - self.general
        if len(terms) < ENGLISH_MIN_TERMS:
            return False
        sections = self._section_texts(snap, self._judged(retrieval, condensed))
        return coverage(terms, sections, snap.idf).share >= self.settings.gate.scope

    def _english_question_besides(self, question: str, snap: Snapshot, decision: GateDecision) -> bool:
        """An English message asks another question that names no neighbouring field and is about the
        domain: two of its words at least are the domain's (its anchors, or words the lexicon reads in
        French), and the message is close in meaning to a passage."""
        if decision.top_dense < self.settings.gate.english_min_dense:
            return False
        for sentence in re.split(r"(?<=[?.!])\s+", question):
            if not sentence.rstrip().endswith("?") or self.lexicon.neighbour_fields(sentence):
                continue
            folded = f" {' '.join(re.findall(r'[0-9a-z]+', fold(sentence)))} "
            french = " ".join(exp for key, exp in self.lexicon.synonyms.items() if f" {key} " in folded)
            terms = (set(tokens(french)) | (self.lexicon.anchors & set(tokens(sentence)))) - self.general
            if len(terms) >= ENGLISH_MIN_TERMS:
                return True
        return False

    def _subject_words_treated(
        self, analysis: QuestionAnalysis, snap: Snapshot, retrieval: Retrieval, condensed: Condensed,
    ) -> bool:
        """A terse question (« Seuil saisine DINUM ? ») is far in meaning from any prose passage; its
        subject words, all of the domain and treated together by a retrieved section, prove it is covered."""
        terms = frozenset(t for t in analysis.subject - self.general if not t.isdigit())
        if len(terms) < ENGLISH_MIN_TERMS:
            return False
        sections = self._section_texts(snap, self._judged(retrieval, condensed))
        return coverage(terms, sections, snap.idf).share >= self.settings.gate.scope

    def _subject_phrase_treated(
        self, analysis: QuestionAnalysis, snap: Snapshot, retrieval: Retrieval, condensed: Condensed,
    ) -> bool:
        """« Opérateurs mutualisés cités ? »: a terse question whose whole subject is a phrase that a
        retrieved section writes word for word (stems in the same order) names what the texts treat,
        however far its few words are in meaning from the section's prose."""
        if len(analysis.parts) != 1:
            return False
        phrase = [t for t in tokens(analysis.subject_text) if t in analysis.subject]
        if (len(phrase) < ENGLISH_MIN_TERMS or set(phrase) != set(analysis.subject)
                or not set(phrase) - self.general or any(t.isdigit() for t in phrase)):
            return False
        n = len(phrase)
        for _, text in self._section_texts(snap, self._judged(retrieval, condensed)):
            seq = tokens(text)
            if any(seq[i:i + n] == phrase for i in range(len(seq) - n + 1)):
                return True
        return False

    @staticmethod
    def _section_texts(snap: Snapshot, hits: Sequence[Hit]) -> list[tuple[str, str]]:
        """The sections of ``hits`` (once each), with their document title and headings."""
        out = []
        for section_id in dict.fromkeys(h.section_id for h in hits):
            section = snap.sections.get(section_id)
            if section is not None:
                title = snap.docs.get(section.doc_id, {}).get("title", "")
                out.append((section_id, f"{title} {section.section} {section.text}"))
        return out


def _as_typed(term: str, text: str) -> str:
    """A folded phrase as the user typed it (« VAT », not « vat »)."""
    folded = fold(text)
    m = re.search(r"\b" + re.escape(term).replace(r"\ ", r"\W+") + r"\b", folded)
    return text[m.start():m.end()] if m and len(folded) == len(text) else term


# « Et le RGAA, il exige quel niveau ? », « et le code, on le publie où ? »: the pronoun takes up the noun
# the part itself puts first, it does not point back to the part before.
_DISLOCATED = re.compile(r"^\W*(?:(?:et|mais|ou|puis|alors)\s+)?(?:quant (?:a|à)\s+)?(?:le|la|les|l['’]|ce|cet|cette|ces)"
                         r"\s*[^,?;:]{2,50},\s*(?:il|elle|ils|elles|on)\b", re.IGNORECASE)


def _inherit_uncovered(verdicts: list[PartVerdict], question: str) -> list[PartVerdict]:
    """A part that leans on the part before it (« Nos contractuels peuvent-ils percevoir la prime… ?
    Sur quelle base elle est calculée ? ») is about that part's subject: when the texts do not treat
    it, they do not treat this part either, whatever everyday words it shares with them. So does a
    part that names nothing of its own (« Faut-il faire une AIPD ? Comment s'y prendre ? »)."""
    out = list(verdicts)
    for i in range(1, len(out)):
        before, v = out[i - 1], out[i]
        leans = refers_back(v.part.text) and not _DISLOCATED.match(v.part.text)
        if (v.covered and not before.covered and ((v.asks_nothing and before.missing) or leans)
                and 0 <= question.find(before.part.text) < question.find(v.part.text)):
            out[i] = replace(v, covered=False, missing=before.missing, missing_stems=before.missing_stems)
    return out


# The object of the buyer's purchase or the buyer's own service: « pour une TMA », « notre SIRH ».
_OWN_ACRONYM = re.compile(r"\b(?:[Pp]our (?:une |un |la |le |l'|notre |nos |mon |ma |mes )|[Nn]otre |[Nn]os |[Mm]on |[Mm]a )"
                          r"([A-Z]{2,6})s?\b")


def _context_acronyms(part: Part, acronyms: frozenset[str], general: frozenset[str]) -> frozenset[str]:
    """The unknown acronyms of ``part`` when its subject holds something else that is not everyday French."""
    found = acronyms & part.subject
    return found if found and part.subject - found - general - part.predicates else frozenset()


def _without_names(part: Part, names: frozenset[str]) -> Part:
    if not names & part.subject:
        return part
    return replace(part, subject=part.subject - names, predicates=part.predicates - names)
