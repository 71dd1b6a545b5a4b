"""Question analysis: what is asked, about what, in which context, asserting what.

A buyer's question mixes the subject (« quel seuil de publicité », « la réversibilité ») with the
context of their purchase (« pour notre outil Kairos », « au ministère des Sports ») and sometimes
with claims they take for granted (« le quota de 30 % imposé par la circulaire », « le décret
n° 2026-518 »). The scope decision must weigh the subject only, the premise check must look up the
claims, and the composer must know the kind of answer wanted. All of it is computed here, from
the text alone, with rules whose word lists are data (``prompts/analysis.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from assistant.text import ENGLISH_STOP, fold, tokens

AnswerType = str  # figure | date | actor | list | yesno | procedure | definition | draft | open


@dataclass(frozen=True)
class Reference:
    """A text the question cites: « décret n° 2026-518 », « annexe 7 », « règle R22 »…"""

    kind: str  # decret, arrete, circulaire, loi, article, annexe, fiche, regle, critere, nor, version, paragraphe…
    label: str  # as written by the user
    keys: tuple[str, ...]  # folded strings that must appear (together) in a text that has it


@dataclass(frozen=True)
class Claim:
    """Something the question takes for granted (« puisque la circulaire impose un quota de 30 % »)."""

    text: str  # the clause as written
    kind: str  # quantity | deadline | obligation | ban | sanction | ranking | scope
    values: tuple[str, ...]  # folded figures/dates that a supporting text must contain
    terms: frozenset[str]  # stems of what the claim is about
    extended: bool = False  # « même pour le site vitrine »: the supporting text must extend the rule too


@dataclass(frozen=True)
class Part:
    """One question of a multi-part message."""

    text: str
    subject: frozenset[str]
    subject_text: str
    predicates: frozenset[str] = frozenset()  # verbs of the question frame (« comment régulariser »)
    # « Rectorat de Lyon : peut-on acheter via l'UGAP… ? »: the question after a preface, which may be
    # judged alone when the whole is not covered (the preface is the buyer's own case).
    core: Part | None = None
    # A sentence of the buyer's account, judged because the question names no topic of its own: what the
    # texts do not treat in it is the buyer's situation, not a question left unanswered.
    narrative: bool = False


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    intent: str  # question | draft
    answer_type: AnswerType
    subject: frozenset[str]  # stems the question is about
    context: frozenset[str]  # stems of the buyer's context (their tool, service, ministry)
    subject_text: str
    parts: tuple[Part, ...] = ()
    references: tuple[Reference, ...] = ()
    claims: tuple[Claim, ...] = ()
    names: tuple[str, ...] = field(default=())  # proper names of the buyer's own things (tools, services)
    indirect: tuple[Part, ...] = ()  # questions asked without a question mark (« il veut savoir si… »)

    @property
    def multi_part(self) -> bool:
        return len(self.parts) > 1


@lru_cache(maxsize=4)
def _rules(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def rules(prompts_dir: Path) -> dict:
    return _rules(str(prompts_dir / "analysis.yaml"))


_SENTENCE = re.compile(r"(?<=[.?!])\s+(?=\S)")
_QUOTED_NAME = re.compile(r"[«\"“]\s*([^»\"”]{2,40}?)\s*[»\"”]")
_CAPITALISED = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-zà-ÿ]+(?:[A-Z][a-zà-ÿ]+)*)\b")


def _sentences(text: str) -> list[str]:
    """The sentences of ``text``; a question mark inside parentheses (« quel format (CSV ? JSON ?) et quels
    délais ? ») asks nothing of its own: the sentence goes on after the parenthesis."""
    out: list[str] = []
    for piece in (s.strip() for s in _SENTENCE.split(text.strip()) if s.strip()):
        if out and out[-1].count("(") > out[-1].count(")"):
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
    return out


# A second question coordinated inside one sentence after a comma: « comment pondérer le prix, et quel
# taux de TVA appliquer ? ». Each is a part, judged on its own subject. Without the comma the two
# often share one verb (« quel système et quelles normes imposer ? »): one question.
_COORDINATED = re.compile(
    r",\s*(?:et|ainsi que|puis)\s+(?:au passage\s+|aussi\s+|enfin\s+)?(?=(?:(?:sur|pour|dans|en|avec|par|de|à|a|jusqu'à)\s+)?"
    r"(?:quel|quelle|quels|quelles|comment|"
    r"combien|qui|o[uù]|quand|pourquoi|est-ce|qu['’]est-ce|faut-il|dois-je|doit-on|peut-on|puis-je|"
    r"c['’]est\s+(?:quoi|combien|qui|quand|o[uù]))\b)",
    re.IGNORECASE,
)


def _questions(sentence: str, own_subject: Callable[[str], bool]) -> list[str]:
    """The questions coordinated in ``sentence``, when each names its own subject (« et peut-on la
    récupérer ? » leans on the first one: it stays with it)."""
    pieces = [p.strip(" ,") for p in _COORDINATED.split(sentence) if p.strip(" ,")]
    if len(pieces) < 2 or not all(own_subject(p) for p in pieces):
        return [sentence]
    return [p if p.endswith("?") else f"{p} ?" for p in pieces]


# What the buyer read or heard (« J'ai lu que… », « I read that… »), and a question that points back at it.
_REPORTED = re.compile(r"\b(?:j'ai (?:lu|vu|entendu)|on m'a (?:dit|explique)|on me dit|il para[iî]t|i (?:read|heard|saw)|"
                       r"i was told|i've (?:read|heard))\b")
_ABOUT_IT = re.compile(r"\b(?:c'est|ca|cela|ceci|ce (?:chiffre|montant|point|pourcentage|delai|seuil)|cette "
                       r"(?:info\w*|affirmation|phrase|date|donnee|source|regle)|cet (?:element|article)|l'info\w*|"
                       r"it|this|that)\b")
# Words pasted from a mail, a note or a draft (« Mail du commercial : « … » »), and a question that doubts
# them (« Quels sont les vrais plafonds ? », « Comment l'intégrer correctement ? »).
_PASTED = re.compile(r":\s*[«\"“]\s*(?P<q>(?:[^»\"”\s]+\s+){4,}[^»\"”]*?)\s*(?:[»\"”]|$)")
_DOUBT = re.compile(r"\b(?:vrai|vraie|vrais|vraies|exacte?s?|reel(?:le)?s?|correcte?s?|correctement|fiable|solide|"
                    r"right|correct|accurate|true|actual)\b")
_PREFACE = re.compile(r"^(?P<pre>[^:?]+?)\s+:\s+(?P<q>[^:]+\?)$")
_POINTS_BACK = re.compile(
    r"\b(?:comment|pour|de|a|je|on|nous|vous|il|elle|peut|peux|doit|dois|faut)\s+(?:l'|le|la|les|lui|leur|y|en)\s*"
    r"[a-z]+(?:er|ir|re)\b|\b(?:cela|ca|celui-ci|celle-ci)\b"
)
PREFACE_MIN_WORDS = 3


def _after_preface(sentence: str, own_subject: Callable[[str], bool]) -> str:
    """The question after a preface of at least three words and a colon, when it names its own subject
    and does not point back to the preface (« Souveraineté : comment l'évaluer ? » keeps it)."""
    m = _PREFACE.match(sentence)
    if not m or len(m.group("pre").split()) < PREFACE_MIN_WORDS:
        return ""
    question = m.group("q")
    return question if own_subject(question) and not _POINTS_BACK.search(fold(question)) else ""


# The verb of the clause ends the buyer's context (« de notre DSI | peuvent-ils percevoir… »).
_CLAUSE_VERB = (r"(?:peu[tv]\w*|doi[tv]\w*|pourr\w*|devr\w*|est|sont|ont|faut|va|vont|[\w]+-(?:ils?|elles?|on|t-\w+))"
                r"(?![\w'-])")


def _context_spans(sentence: str, markers: list[str], form: str = "") -> list[tuple[int, int]]:
    """Spans of the buyer's context: a preposition followed by a possessive or demonstrative
    determiner (« pour notre outil de visioconférence »), up to the next comma or clause break; and
    the shape the answer should take (``form``: « en trois phrases », « sous forme de tableau »)."""
    pattern = re.compile(
        r"\b(?:" + "|".join(markers) + r")\s+(?:notre|nos|mon|ma|mes|votre|vos|leur|leurs|ce|cet|cette|ces)\b"
        r"(?:(?!\s(?:" + _CLAUSE_VERB + r"))[^,;:?!()])*",
        re.IGNORECASE,
    )
    spans = [m.span() for m in pattern.finditer(sentence)]
    if form and len(fold(sentence)) == len(sentence):
        spans += [m.span() for m in re.finditer(form, fold(sentence))]
    # « Bonjour, pour une présentation en comité de direction, … ? »: the deliverable the buyer
    # prepares, opening the message up to its comma, says why they ask, not what.
    purpose = _PURPOSE.match(sentence)
    if purpose:
        spans.append(purpose.span(1))
    return spans


_PURPOSE = re.compile(
    r"^(?:(?:bonjour|bonsoir|salut|hello)\b[\s,!]*)?((?:pour|en vue d'|en vue de|dans le cadre d')\s*"
    r"(?:un|une|le|la|les|l'|mon|ma|mes|notre|nos)\s*(?:prochaine?\s+|petite?\s+)?"
    r"(?:presentation|présentation|note|réunion|reunion|rapport|comité|comite|briefing|exposé|expose|point|"
    r"diaporama|courriel|mail|compte rendu|fiche|synthèse|synthese|audition|formation|séminaire|seminaire|"
    r"intro|introduction|éditorial|editorial|édito|edito|discours|communiqué|communique|argumentaire|"
    r"tribune|lettre|newsletter|réponse|reponse|question écrite|question ecrite|qe)\b"
    r"[^,;:?!()]*)\s*[,:]\s+(?=\S)",
    re.IGNORECASE,
)


def _object_spans(sentence: str, r: dict) -> list[tuple[int, int]]:
    """What the buyer is buying: the complement of a purchase object (« outil de gestion des
    congés » -> « gestion des congés ») and the object of a purchase verb (« choisir la solution de
    billetterie du musée »)."""
    folded = fold(sentence)
    objects = "|".join(re.escape(o) for o in r["purchase_objects"])
    verbs = "|".join(re.escape(v) for v in r["purchase_verbs"])
    stop = r"(?=\s+(?:sans|avec|selon|hors|sauf|si|quand|lorsque|afin|pour|sur|en|au regard|conformement)\b|[,;:?!()]|$)"
    spans = [m.span(1) for m in re.finditer(
        rf"\b(?:{objects})\s+((?:de|d'|du|des)\s*.*?){stop}", folded)]
    # « un SaaS pour la gestion des subventions »: the activity the object serves is its need too.
    activities = "|".join(re.escape(a) for a in r.get("purchase_activities", []))
    if activities:
        spans += [m.span(1) for m in re.finditer(
            rf"\b(?:{objects})\s+(?:pour|dedie a|dediee a)\s+((?:le|la|les|l')\s*(?:{activities})\b.*?){stop}", folded)]
    spans += [m.span(1) for m in re.finditer(
        rf"\b(?:{verbs})\s+((?:le|la|les|l'|un|une|des|notre|nos|son|sa|ses|leur|leurs|ce|cet|cette|ces)\b.*?){stop}",
        folded)]
    return spans


def outside_objects(text: str, prompts_dir: Path) -> str:
    """The folded text without what the buyer buys (« notre marché de visio »): what is left tells the
    buyer's situation (« a saisi le juge en référé précontractuel »)."""
    folded = fold(text)
    for start, end in _object_spans(text, rules(prompts_dir)):
        # « marché de messagerie a engagé un référé »: the object ends at the verb (« à » is no verb).
        verb = next((m for m in _AFTER_OBJECT.finditer(folded, start, end)
                     if len(text) != len(folded) or text[m.start():m.end()].lower() != "à"), None)
        end = verb.start() if verb else end
        folded = folded[:start] + " " * (end - start) + folded[end:]
    return folded


# A finite verb or a relative pronoun after what is bought starts what happened to it.
_AFTER_OBJECT = re.compile(r"\b(?:a|ont|est|sont|etait|avait|avaient|va|vont|doit|doivent|qui|que|dont)\b")


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _strip_spans(text: str, spans: list[tuple[int, int]]) -> tuple[str, str]:
    kept, removed, last = [], [], 0
    for start, end in sorted(spans):
        kept.append(text[last:start])
        removed.append(text[start:end])
        last = end
    kept.append(text[last:])
    return " ".join(kept), " ".join(removed)


# A date (« en mai 2026 », « le 5 février ») says when, not what about: the premise check reads it.
_DATE_WORDS = re.compile(r"\b(?:(?:1er|\d{1,2})\s+)?(?:janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[ûu]t|septembre|"
                   r"octobre|novembre|d[ée]cembre)(?=\s+(?:19|20)\d{2}\b)|\b(?:1er|\d{1,2})\s+(?:janvier|f[ée]vrier|mars|"
                   r"avril|mai|juin|juillet|ao[ûu]t|septembre|octobre|novembre|d[ée]cembre)\b", re.IGNORECASE)


def _stems(text: str, synonyms: dict[str, str]) -> frozenset[str]:
    """Stems of ``text``, jargon read as its expansion (« appli » -> « application »), dates left out."""
    text = _DATE_WORDS.sub(" ", text)
    folded = f" {' '.join(re.findall(r'[0-9a-z]+', fold(text)))} "
    found = [key for key in synonyms if f" {key} " in folded]
    out = set(tokens(text))
    written = re.findall(r"[\w-]+", text)
    for key in found:
        # A folded word may stem apart from its accented form (« devoilee », « dévoilée »): both go.
        out -= set(tokens(key)) | {t for w in written if fold(w) in key.split() for t in tokens(w)}
    for key in found:
        out |= set(tokens(synonyms[key]))
    return frozenset(out)


_INVERTED = r"(?:(?:-t)?-(?:on|il|elle|ils|elles|je|nous|vous|tu|ce))"  # « doit-on », « sommes-nous », « est-ce »
_CLITICS = r"(?:(?:ne|pas|plus|bien|quand|meme|encore|aussi|directement|vraiment|toujours|la|le|les|lui|leur|nous|vous|y|en|se)\s+|[lsmdn]')"
_VERB_AFTER = re.compile(
    r"\b(?P<t>peut|peux|peuvent|pouvons|pouvez|doit|dois|doivent|devons|devez|faut|veut|veux|veulent|voulons|"
    r"voulez|comment|pour|sans|se|me|faire|quoi|a|de)\s+" + _CLITICS + r"{0,3}"
    r"(?P<v>[a-z]{2,}(?:er|ir|ndre|ttre|uire|crire|ivre|aitre|oir))\b"
)


_INFINITIVE = r"[a-z]{2,}(?:er|ir|ndre|ttre|uire|crire|ivre|aitre|oir)"
# An infinitive coordinated with the one before (« comparer, prolonger l'existant et migrer »): right
# after it, or after its object of one word (then not a noun in « -ier »: « le marché et dossier »). Never
# a noun after a determiner (« et le cluster »): only a reflexive or adverbial pronoun may stand before the verb.
_VERB_CLITIC = r"(?:(?:se|y|en)\s+|[sl]')?"
_COORDINATED_VERB = re.compile(
    r"(?:\s*,\s*|\s+(?:et|ou|puis)\s+|\s+)" + _VERB_CLITIC + r"(?P<v>" + _INFINITIVE + r")\b"
    r"|\s+(?:[ldnms]'|(?:le|la|les|un|une|des|du|notre|nos|votre|vos|son|sa|ses|leur|leurs|ce|cet|cette|ces)\s+)?"
    r"[a-z-]+\s*(?:,|\s+(?:et|ou|puis))\s+" + _VERB_CLITIC + r"(?P<w>(?!\w+ier\b)" + _INFINITIVE + r")\b"
)


_ADVERBS = r"(?:(?:pas|plus|vraiment|bien|forcement|automatiquement|obligatoirement|donc|alors|aussi|toujours|encore|deja)\s+)*"
# The judgement a yes/no question asks for (« sommes-nous tenus de… », « est-ce recevable », « c'est
# éliminatoire ? », « ça bloque ? »): what the buyer wants to know about the subject, not the subject.
_JUDGEMENT = re.compile(
    r"\b(?:est|sont|sommes|suis|etes|serait|seraient|sera|seront|serons|reste|restent)" + _INVERTED + r"\s+"
    + _ADVERBS + r"(?P<j>[a-z]{4,})\b"
    r"|\b(?:c'est|ce serait|ca|cela)\s+" + _ADVERBS + r"(?P<k>[a-z]{4,})\b(?=\s*\?)"
)


def _predicates(text: str) -> frozenset[str]:
    """Stems of the infinitives that frame the question (« pour régulariser », « comment choisir »,
    « peuvent prétendre », « comment comparer, prolonger l'existant et migrer »): they say what the
    buyer wants to do, not what the texts must treat."""
    folded = fold(text)
    verbs = []
    for m in _VERB_AFTER.finditer(folded):
        if m.group("t") in ("a", "de") and m.group("v").endswith("ier"):
            continue  # « de dossier »
        verbs.append(m.group("v"))
        end = m.end()
        while (more := _COORDINATED_VERB.match(folded, end)) is not None:
            verbs.append(more.group("v") or more.group("w"))
            end = more.end()
    verbs += [m.group("j") or m.group("k") for m in _JUDGEMENT.finditer(folded)]
    return frozenset(t for v in verbs for t in tokens(v))


def _answer_type(question: str, r: dict) -> AnswerType:
    q = fold(question)
    for kind in ("draft", "definition", "procedure", "date", "figure", "actor", "list", "yesno"):
        if any(re.search(p, q) for p in r["answer_types"][kind]):
            return kind
    return "open"


_HEADING_BEFORE = re.compile(r"^[\s>*•·\-–—]*[«\"“]?\s*$")
_HEADING_AFTER = re.compile(r"\s*[-–—:.)]\s*\w")


def own_references(text: str, prompts_dir: Path) -> str:
    """The message with the articles of the buyer's own document blanked (same length).

    « l'article 8 de notre RC », « notre CCTP, article 14 » or a heading pasted from the document
    the message announces (« Article 14 — Réversibilité. … » on its own line or in quotes) belongs
    to the buyer's file, not to the texts: it is not an invented provision.
    """
    r = rules(prompts_dir)
    own_document, reference = r.get("own_document"), r.get("own_reference")
    if not own_document or not reference:
        return text
    pieces = [fold(ch) for ch in text]
    folded = "".join(pieces)
    start_of = [i for i, piece in enumerate(pieces) for _ in piece]  # folded index -> text index
    if not re.search(own_document, folded):
        return text
    blanks: list[tuple[int, int]] = []
    for m in re.finditer(reference, folded):
        line_start = folded.rfind("\n", 0, m.start()) + 1
        before = folded[line_start:m.start()]
        pasted = (_HEADING_BEFORE.match(before) is not None and (line_start > 0 or any(q in before for q in "«\"“"))
                  and _HEADING_AFTER.match(folded, m.end()) is not None)
        attached = re.match(rf"\s*,?\s*(?:de|du|d'|of|in|dans)\s*(?:l'|la\s|le\s)?\s*{own_document}", folded[m.end():])
        preceded = re.search(rf"{own_document}\s*[,:(-]?\s*(?:en son\s|a son\s|son\s|sa\s|in its\s|its\s|l'|le\s|la\s)?$",
                             folded[max(0, m.start() - 80):m.start()])
        if pasted or attached or preceded:
            blanks.append((start_of[m.start()], start_of[m.end() - 1] + 1))
    for a, b in blanks:
        text = text[:a] + " " * (b - a) + text[b:]
    return text


# Reference kinds whose name (group « b ») is any acronym: it must be written in capitals.
_UPPERCASE_NAMES = frozenset({"version_sigle"})


def _references(text: str, r: dict) -> tuple[Reference, ...]:
    out: list[Reference] = []
    folded = fold(text)
    owned_kinds = set(r.get("own_named_kinds") or ())
    before, after = r.get("own_named_before") or r"(?!)", r.get("own_named_after") or r"(?!)"
    for kind, pattern in r["references"].items():
        for m in re.finditer(pattern, folded):
            if kind in _UPPERCASE_NAMES and (len(text) != len(folded) or not text[m.start("b"):m.end("b")].isupper()):
                continue  # « conforme, version 2 » is no acronym: only a name written in capitals is one
            if kind in owned_kinds and (re.search(before, folded[max(0, m.start() - 12):m.start()])
                                        or re.match(after, folded[m.end():m.end() + 40])):
                continue  # the buyer's own sheet or guide, not a text said to exist
            keys = tuple(_french_date(k) for k in (m.groupdict().get("a"), m.groupdict().get("b")) if k)
            label = text[m.start():m.end()] if len(text) == len(folded) else m.group(0)
            out.append(Reference(kind, label.strip(), tuple(re.sub(r"\s+", " ", k).strip() for k in keys)))
    return tuple(out)


# Small numbers written in words (« six mois »): read as figures, a supporting text may use either.
NUMBER_WORDS = {"deux": "2", "trois": "3", "quatre": "4", "cinq": "5", "six": "6", "sept": "7", "huit": "8",
                "neuf": "9", "dix": "10", "douze": "12", "quinze": "15", "vingt": "20", "trente": "30"}
# The same in English questions; their units are read as the French word the corpus uses.
_ENGLISH_NUMBERS = {"two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
                    "nine": "9", "ten": "10", "twelve": "12", "fifteen": "15", "twenty": "20", "thirty": "30"}
_ENGLISH_UNITS = {"percent": "%", "per cent": "%", "days": "jours", "day": "jours", "months": "mois", "month": "mois",
                  "years": "ans", "year": "ans", "hours": "heures", "million": "millions", "billion": "milliards",
                  "objectives": "objectifs", "criteria": "criteres", "rules": "regles", "steps": "etapes",
                  "requirements": "exigences", "measures": "mesures"}
_NUMBER_UNIT = re.compile(
    r"\b(\d+(?:[ ,.]\d+)*|" + "|".join([*NUMBER_WORDS, *_ENGLISH_NUMBERS]) + r")\s*"
    r"(%|pour ?cent|per ?cent\b|points?|k€|m€|€|euros?|millions?|milliards?|billion\b|jours?|days?\b|mois|months?\b|ans|années"
    r"|years?\b|heures?|hours\b|h\b|crit[eè]res\b|criteria\b|r[eè]gles\b|rules\b|exigences\b|requirements\b|objectifs\b"
    r"|objectives\b|[eé]tapes\b|steps\b|mesures\b|measures\b)",
    re.IGNORECASE,
)
_MONTHS = "janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre"
_ENGLISH_MONTHS = dict(zip(
    "january february march april may june july august september october november december".split(),
    _MONTHS.split("|"), strict=True))
_DATE = re.compile(rf"\b(1er|[0-9]{{1,2}})\s+({_MONTHS})(?:\s+(20[0-9]{{2}}))?\b")
# « 5 March 2026 », « March 5, 2026 »: an English date, read as the French date the corpus would write.
_ENGLISH_DATE = re.compile(
    rf"\b(?:([0-9]{{1,2}})(?:st|nd|rd|th)?\s+({'|'.join(_ENGLISH_MONTHS)})|({'|'.join(_ENGLISH_MONTHS)})\s+([0-9]{{1,2}})"
    rf"(?:st|nd|rd|th)?,?)(?:\s+(20[0-9]{{2}}))?\b")


def _french_date(value: str) -> str:
    """« 3 september 2026 » as the corpus would write it (« 3 septembre 2026 »); anything else unchanged."""
    m = _ENGLISH_DATE.fullmatch(value.strip())
    if not m:
        return value
    day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    return " ".join(x for x in (day, _ENGLISH_MONTHS[month], m.group(5)) if x)


def _dates(clause: str) -> list[str]:
    """The dates a folded clause states, French or English, written « 5 fevrier 2026 »."""
    found = [" ".join(x for x in m.groups() if x) for m in _DATE.finditer(clause)]
    for m in _ENGLISH_DATE.finditer(clause):
        day, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        found.append(" ".join(x for x in (day, _ENGLISH_MONTHS[month], m.group(5)) if x))
    return found


def _figure(number: str, unit: str) -> str:
    unit = fold(unit)
    return f"{NUMBER_WORDS.get(number, _ENGLISH_NUMBERS.get(number, number))} {_ENGLISH_UNITS.get(unit, unit)}"

# « obligatoire depuis 2024 »: the year a rule is said to start from is part of what is claimed.
_SINCE_YEAR = re.compile(
    r"\b(?:depuis|des|a partir de|a compter de|d'ici|jusqu'en|since|from|by|until)\s+(?:(?:le |la |l')?(?:debut|fin|mi)\s+)?"
    r"(?:(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre)\s+)?(20[0-9]{2})\b"
)

# What frames a claim rather than states it: the question's own verb (« comment intégrer le volet
# désormais obligatoire ») and the adverb that marks it as taken for granted.
_CLAIM_FRAME = re.compile(r"\b(?:comment|pourquoi|quand)\s+" + _CLITICS + r"{0,3}(?P<v>" + _INFINITIVE + r")\b"
                          r"|\b(?:desormais|dorenavant)\b")

_BY_TEXT = re.compile(r"(?:imposee?s?|exigee?s?|prevue?s?|fixee?s?|requise?s?|rendue?s? obligatoires?) par\b")


_ENGLISH_WORDS = frozenset([*_ENGLISH_MONTHS, *_ENGLISH_NUMBERS, "since", "each", "every", "now", "given", "because"])
_ENGLISH_CLAUSE = re.compile(r"\b(?:the|was|were|is|are|has|have|since|which|what|does|did|our|we|and|for|with)\b")


def _claims(text: str, r: dict, synonyms: dict[str, str] | None = None) -> tuple[Claim, ...]:
    """Clauses asserted as true: introduced by a presupposition marker, or a declarative clause
    stating an obligation, ban, sanction, figure or deadline about the doctrine."""
    out: list[Claim] = []
    markers = r["claims"]["presupposition"]
    families = r["claims"]["families"]
    # « On a jusqu'au 30 juin pour migrer, c'est bien ça ? »: a confirmation tag asserts the whole message.
    confirming = re.search(r["claims"]["confirmation_tag"], fold(text).strip()) is not None
    carried = False  # « Depuis la loi SREN, on n'a plus le droit… »: the marker governs the next clause
    # « depuis la doctrine toutes nos applis, même sans données sensibles, doivent… »: so does its extension.
    carried_extension = False
    # « Mail du commercial : « SecNumCloud tolère 49 %… » Quels sont les vrais plafonds ? »: what was pasted
    # and is doubted is asserted, by its author; the buyer's own sentences in it (« nous sommes à 30 % ») are not.
    folded_text = fold(text)
    pasted = [m.group("q") for m in _PASTED.finditer(folded_text)]
    last = folded_text[max((folded_text.rfind(c) for c in "»\"”"), default=-1) + 1:]
    doubted = [q for q in pasted if _DOUBT.search(last) or _ABOUT_IT.search(last)]
    pieces: list[str] = []
    for piece in re.split(r"(?<=[,;:?!.])\s+|\s+(?=mais\b)", text):
        if pieces and re.match(r["claims"]["extension"], fold(piece)) and not pieces[-1].rstrip().endswith("?"):
            pieces[-1] = f"{pieces[-1]} {piece}"  # « …doit être SecNumCloud, même pour le site vitrine »
        elif pieces and _BY_TEXT.match(fold(piece)) and not pieces[-1].rstrip().endswith("?"):
            pieces[-1] = f"{pieces[-1]} {piece}"  # « le reporting trimestriel, imposé par la circulaire »: what is imposed
        else:
            pieces.append(piece)
    for written in pieces:
        clause = fold(written)
        # « SecNumCloud est obligatoire pour toutes nos données, même pour la newsletter ? »: a rule
        # asked by intonation but stretched to every case asserts that rule all the same.
        declared = ((not written.rstrip().endswith("?") or re.search(r["claims"]["extension"], clause) is not None)
                    and re.search(r["claims"]["declarative"], clause) is not None
                    and re.search(r["claims"]["not_declarative"], clause) is None)
        quoted = (any(clause.strip(" «»\"“”.,;:") in q for q in doubted)
                  and re.search(r["claims"]["not_declarative"], clause.strip(" «»\"“”")) is None)
        asserted = confirming or carried or declared or quoted or any(re.search(p, clause) for p in markers)
        kinds = [kind for kind, pats in families.items() if any(re.search(p, clause) for p in pats)]
        values = [_figure(m.group(1), m.group(2)) for m in _NUMBER_UNIT.finditer(clause)]
        values += _dates(clause)
        values += [m.group(1) for m in _SINCE_YEAR.finditer(clause) if not any(m.group(1) in v for v in values)]
        stated = bool(values) and (re.search(r["claims"]["text_subject"], clause) is not None
                                   or re.search(r["claims"].get("rule_value") or r"(?!)", clause) is not None)
        extended = re.search(r["claims"]["extension"], clause) is not None or (carried and carried_extension)
        carried = asserted and not kinds and not values and written.rstrip().endswith(",")
        carried_extension = carried and extended
        if not (asserted or (kinds and values) or stated):
            continue
        if not kinds and not values:
            continue
        kind = kinds[0] if kinds else ("deadline" if _dates(clause) else "quantity")
        # An English claim is about what the corpus says in French: its words read through the lexicon.
        english = _ENGLISH_CLAUSE.search(clause) is not None
        plain_words = " ".join(w for w in re.findall(r"[\w'-]+", written)
                               if not (english and (fold(w) in ENGLISH_STOP or fold(w) in _ENGLISH_WORDS)))
        words = _stems(plain_words, synonyms or {}) if english else frozenset(tokens(written))
        # The figure is a value, not what the claim is about (« douze objectifs »: « objectifs »).
        numbers = frozenset(t for n in (*NUMBER_WORDS, *_ENGLISH_NUMBERS) for t in tokens(n))
        # The marker (« désormais ») and the question's own frame (« comment intégrer ») are not what
        # the claim is about: a section that states the rule need not repeat them.
        framing = frozenset(t for m in _CLAIM_FRAME.finditer(clause) for t in tokens(m.group("v") or m.group(0)))
        terms = (frozenset(t for t in words if not t.isdigit()) - frozenset(tokens(" ".join(markers))) - numbers
                 - framing - _QUALIFIERS)
        out.append(Claim(written.strip(" ,;:?."), kind, tuple(values), terms, extended))
    # « la circulaire d'Élisabeth Borne de février 2026 »: who signed a text is taken for granted.
    for m in re.finditer(r["claims"]["actor"], text):
        name = fold(m.group("name")).split()[-1]
        after = re.split(r"[.?!;]", text[m.end():m.end() + 40], maxsplit=1)[0]  # the same sentence only
        years = re.findall(r"\b20[0-9]{2}\b", m.group(0) + after)
        terms = frozenset(t for t in tokens(m.group(0)) if not t.isdigit())
        number = m.groupdict().get("num")  # « la 6519/SG signée par… »: the name goes with that number
        out.append(Claim(m.group(0).strip(), "actor", (name, *years[:1], *([number] if number else [])), terms))
    # « la loi SREN de 2022 »: the year of a named text is taken for granted.
    for m in re.finditer(r["claims"]["text_year"], fold(text)):
        out.append(Claim(m.group(0).strip(" »\"”"), "dated_text", (m.group("y"), m.group("t")),
                         frozenset(tokens(m.group("t")))))
    # « La circulaire dit « … » »: words put in a text's mouth must be its own, word for word.
    folded = fold(text)
    if len(folded) == len(text):
        for m in re.finditer(r["claims"]["quote"], folded):
            out.append(Claim(text[m.start():m.end()].strip(), "quote", (plain(m.group("q")),),
                             frozenset(t for t in tokens(m.group("q")) if not t.isdigit())))
    return tuple(out)


# How much and when (« au moins 20 % », « toujours à 40 000 € en juin ») qualify the figure: a section
# that states it need not share these words, and one that shares only them does not support it.
_QUALIFIERS = frozenset(tokens("moins plus maximum minimum max min environ jusqu toujours encore seulement "
                               "uniquement janvier février mars avril mai juin juillet août septembre octobre "
                               "novembre décembre"))


def plain(text: str) -> str:
    """Folded words only, one space apart: a quote and its source compared whatever the punctuation."""
    return " ".join(re.findall(r"[0-9a-z]+", fold(text)))


@lru_cache(maxsize=4)
def general_stems(prompts_dir: Path) -> frozenset[str]:
    """Stems of everyday French words (``prompts/mots-courants.txt``): weak evidence of a subject."""
    path = prompts_dir / "mots-courants.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return frozenset(t for line in lines if line and not line.startswith("#") for t in tokens(line))


@lru_cache(maxsize=4)
def french_words(prompts_dir: Path) -> frozenset[str]:
    """French words of six letters or more, folded (``prompts/mots-francais.txt``): never a typo."""
    path = prompts_dir / "mots-francais.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return frozenset(fold(line.strip()) for line in lines if line.strip() and not line.startswith("#"))


@lru_cache(maxsize=4)
def _frame(path: str) -> frozenset[str]:
    return frozenset(tokens(_rules(path)["question_frame"]))


_LABEL_BEFORE = re.compile(r"\b(?:annexes?|annex|lots?|options?|parties?|part|chapitres?|chapter|titres?|phases?|"
                           r"niveaux?|level|tranches?|sc[ée]narios?|appendix|section)\s*$", re.IGNORECASE)


def normalise(text: str, prompts_dir: Path) -> str:
    """Messaging abbreviations spelt out (« qd » -> « quand », « presta » -> « prestataire »)."""
    table = rules(prompts_dir).get("abbreviations") or {}

    def spell(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) == 1 and word.isupper() and _LABEL_BEFORE.search(text[:match.start()]):
            return word  # « annexe C », « lot B »: a label, not « c'est »
        return str(table.get(word.lower(), word))

    return re.sub(r"(?<![\w'-])[A-Za-z]+(?![\w'-])", spell, text)


def purchase_context(analysis: QuestionAnalysis, prompts_dir: Path) -> bool:
    """The buyer describes something they buy: an object of purchase, a purchase verb, or a purchase noun
    with its amount (« achat de licences à 30 k€ HT »; « la circulaire achats numériques » is a subject)."""
    r = rules(prompts_dir)
    words = set(tokens(" ".join(r["purchase_objects"] + r["purchase_verbs"])))
    if re.search(r.get("purchase_amount") or r"(?!)", fold(analysis.text)):
        words |= set(tokens(" ".join(r.get("purchase_nouns", []))))
    return bool(words & (set(analysis.context) | set(tokens(analysis.text))))


def analyse(
    question: str, prompts_dir: Path, generic: frozenset[str] = frozenset(),
    synonyms: dict[str, str] | None = None, own_words: str | None = None,
) -> QuestionAnalysis:
    """Split a question into subject and context, and read its intent, answer type, references and claims.

    ``own_words``: a condensed follow-up's own words; its claims are read there, not in the turn it
    inherits (which the buyer asked, not asserted).

    ``generic``: stems that say nothing about the subject (the domain's everyday words);
    ``synonyms``: the jargon lexicon (folded key -> expansion); a subject written in jargon
    (« snc », « appli ») is read as its expansion.
    """
    r = rules(prompts_dir)
    generic = generic | _frame(str(prompts_dir / "analysis.yaml"))
    sentences = _sentences(question)
    asked = [s for s in sentences if s.endswith("?")] or sentences[-1:] or [question]
    everyday = general_stems(prompts_dir)

    def own_subject(text: str) -> bool:
        return len([t for t in _stems(text, synonyms or {}) - generic
                    if t not in everyday and not t.isdigit()]) >= 2

    asked = [q for s in asked for q in _questions(s, own_subject)]
    narrative = [s for s in sentences if s not in asked]
    parts: list[Part] = []
    context_text = " ".join(narrative)
    # Quoted words in lower case (« le critère « disponibilité » », « écrire « prestations
    # informatiques » ») are the terms asked about, however common; a name is capitalised.
    quoted = [m.group(1) for m in _QUOTED_NAME.finditer(question)]
    names: list[str] = [q for q in quoted if not q[:1].islower()]
    asked_terms = frozenset(t for q in quoted if q[:1].islower() for t in tokens(q)) - _frame(str(prompts_dir / "analysis.yaml"))
    # A subject word stemmed like a frame word (« maintenance », « maintenant ») stays the subject.
    homographs = set(r.get("frame_homographs") or ())
    asked_terms |= frozenset(t for w in re.findall(r"[a-z]+", fold(question)) if w in homographs for t in tokens(w))
    for sentence in asked:
        spans = _context_spans(sentence, r["context_prepositions"], r.get("answer_form") or "") + _object_spans(sentence, r)
        subject_text, removed = _strip_spans(sentence, _merge(spans))
        context_text += " " + removed
        stems = _stems(subject_text, synonyms or {}) - generic | (asked_terms & _stems(subject_text, {}))
        core = None
        question_text = _after_preface(sentence, own_subject)
        if question_text:
            core_spans = _context_spans(question_text, r["context_prepositions"], r.get("answer_form") or "") + _object_spans(question_text, r)
            core_text, _ = _strip_spans(question_text, _merge(core_spans))
            core_stems = _stems(core_text, synonyms or {}) - generic
            core = Part(question_text, core_stems, core_text, _predicates(core_text) & core_stems)
        parts.append(Part(sentence, stems, subject_text, _predicates(subject_text) & stems, core))
    reported = [s for s in narrative if (_REPORTED.search(fold(s)) or _PASTED.search(fold(s)))
                and _stems(s, synonyms or {}) - generic]
    if reported and parts and all(_ABOUT_IT.search(fold(p.text)) or _DOUBT.search(fold(p.text)) for p in parts):
        # « J'ai lu que l'État dépense 4,5 Md€ par an. Je peux reprendre ce chiffre tel quel ? »: the
        # question asks whether to trust what was read; what was read is its subject.
        parts = []
        for written in reported:
            # What was pasted is the subject, not who sent it (« Mail reçu de la MOA : « … » »).
            quote = _PASTED.search(fold(written))
            sentence = written[quote.start("q"):quote.end("q")] if quote and len(fold(written)) == len(written) else written
            spans = _context_spans(sentence, r["context_prepositions"], r.get("answer_form") or "") + _object_spans(sentence, r)
            subject_text, _ = _strip_spans(sentence, _merge(spans))
            parts.append(Part(sentence, _stems(subject_text, synonyms or {}) - generic, subject_text,
                              _predicates(subject_text) & _stems(subject_text, synonyms or {})))
    if narrative and not any(own_subject(p.text) for p in parts):
        # « Notre projet tourne sur un cloud non qualifié et traite des données sensibles. Quelle
        # démarche pour régulariser ? »: the question names no topic of its own; each sentence of
        # the narrative that does is a part too (a part treated by the texts is enough to answer).
        for sentence in narrative:
            spans = _context_spans(sentence, r["context_prepositions"], r.get("answer_form") or "") + _object_spans(sentence, r)
            subject_text, _ = _strip_spans(sentence, _merge(spans))
            stems = _stems(subject_text, synonyms or {}) - generic
            if own_subject(subject_text):
                parts.append(Part(sentence, stems, subject_text, _predicates(subject_text) & stems, narrative=True))
    # « Ma directrice veut savoir à quel moment passer devant la DINUM. »: a question asked without a question
    # mark, kept apart (it may only save a message whose other questions the texts do not treat).
    indirect: list[Part] = []
    for written in narrative:
        found = re.search(r.get("indirect_question") or r"(?!)", fold(written))
        if found and len(fold(written)) == len(written):
            # What is asked follows the verb that asks it (« veut savoir | à quel moment… »).
            sentence = written[found.start(1) if found.lastindex else found.start():].strip()
            spans = _context_spans(sentence, r["context_prepositions"], r.get("answer_form") or "") + _object_spans(sentence, r)
            subject_text, _ = _strip_spans(sentence, _merge(spans))
            stems = _stems(subject_text, synonyms or {}) - generic
            if stems and not any(p.text == written for p in parts):
                indirect.append(Part(sentence, stems, subject_text, _predicates(subject_text) & stems))
    # A short question after a narrative (« On veut un outil de paie. Par quoi commencer ? »): the
    # narrative says what the buyer wants to do; its purchase vocabulary is context, not subject.
    names += [m.group(1) for m in _CAPITALISED.finditer(question) if fold(m.group(1)) not in r["not_names"]]
    name_stems = frozenset(t for n in names for t in tokens(n))
    subject = frozenset().union(*(p.subject for p in parts)) - name_stems if parts else frozenset()
    context = (frozenset(tokens(context_text)) | name_stems) - subject
    answer_type = _answer_type(question, r)
    # « Je dois rédiger la note : sur quels textes m'appuyer ? » asks a question, not for a draft.
    asks_information = bool(re.search(r"\b(quel|quelle|quels|quelles|comment|pourquoi|combien|ou|qui)\b[^?]*\?\s*$",
                                      fold(asked[-1]))) if asked else False
    asks_draft_itself = any(re.search(p, fold(asked[-1])) for p in r["answer_types"]["draft"]) if asked else False
    if answer_type == "draft" and asks_information and not asks_draft_itself and not re.search(
            r"\b(redige|redigez|ecris|ecrivez)\b", fold(asked[-1])):
        answer_type = _answer_type(re.sub(r"(?i)r[ée]dig\w*|[ée]cri\w*", "", question), r)
    intent = "draft" if answer_type == "draft" else "question"
    return QuestionAnalysis(
        text=question, intent=intent, answer_type=answer_type, subject=subject, context=context,
        subject_text=" ".join(p.subject_text for p in parts), parts=tuple(parts),
        references=_references(own_references(question, prompts_dir), r), claims=_claims(own_words or question, r, synonyms or {}), names=tuple(dict.fromkeys(names)),
        indirect=tuple(indirect),
    )
