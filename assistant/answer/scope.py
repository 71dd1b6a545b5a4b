"""Scope: does an indexed section treat the subject of the question (not its context)? Does the
corpus know the texts the question cites, and support the claims it takes for granted?

The old gate asked whether the question's words, weighted by rarity, were found in the best
passages; a buyer's own tool name is the rarest word of all, so in-scope questions were refused,
while a question on VAT or pay shared enough purchasing and IT vocabulary to be answered. Here the
subject's stems (``analysis.py``) must be found together in one section, weighted by how rare they
are in the corpus (a subject word the corpus never uses weighs the most) and discounted when they
are everyday French; the score adds the dense similarity of the subject to its best passages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from math import fsum

from assistant.answer.analysis import NUMBER_WORDS, Claim, Part, Reference
from assistant.text import fold, tokens


def same_word(a: str, b: str) -> bool:
    """Two stems of one word (« reversibl » / « reversibil »): a common prefix of at least six
    letters, the shorter stem missing at most its last letter."""
    if a == b:
        return True
    common = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        common += 1
    return common >= 6 and common >= min(len(a), len(b)) - 1


def present(term: str, vocabulary: frozenset[str] | set[str]) -> bool:
    if term in vocabulary:
        return True
    if len(term) < 6 or any(ch.isdigit() for ch in term):
        return False
    return any(same_word(term, other) for other in vocabulary)


def _value(term: str) -> bool:
    """A number (« 30 », « 60k », « 3e ») is a value the premise check looks up, not a subject; a code
    that mixes letters and digits (« R9 », « NIS2 », « M57 ») names a subject."""
    return _NUMBER.fullmatch(term) is not None


_NUMBER = re.compile(r"[0-9][0-9.,]*(?:k|m|md|e|er|re|eme|nd|nde|h|min|an|ans|mois)?")


@dataclass(frozen=True)
class Coverage:
    share: float  # weighted share of the subject found in the best section
    section_id: str | None
    missing: tuple[str, ...]  # subject stems absent from that section, heaviest first


def coverage(
    subject: Iterable[str],
    sections: Iterable[tuple[str, str]],  # (section_id, text with its document title and headings)
    idf: Callable[[str], float],
    general: frozenset[str] = frozenset(),
    general_weight: float = 1.0,
) -> Coverage:
    """IDF-weighted share of the subject found in the best section. Everyday words (``general``)
    weigh ``general_weight`` of their IDF, unless the subject is made of nothing else; numbers are
    values, not subject (the premise check looks them up)."""
    terms = sorted((t for t in set(subject) if not _value(t)), key=lambda t: (-idf(t), t))
    if not terms:
        return Coverage(1.0, None, ())
    discount = general_weight if any(t not in general for t in terms) else 1.0
    weights = {t: idf(t) * (discount if t in general else 1.0) for t in terms}
    total = sum(weights.values()) or 1.0
    best = Coverage(0.0, None, tuple(terms))
    for section_id, text in sections:
        vocab = frozenset(tokens(text))
        found = [t for t in terms if present(t, vocab)]
        share = sum(weights[t] for t in found) / total
        if share > best.share:
            best = Coverage(share, section_id, tuple(t for t in terms if t not in found))
    return best


def surface_words(text: str, stems: Iterable[str]) -> list[str]:
    """The words of ``text`` (as the user wrote them) whose stem is in ``stems``."""
    wanted = set(stems)
    return [w for w in dict.fromkeys(re.findall(r"[\w'-]+", text)) if set(tokens(w)) & wanted]


@dataclass(frozen=True)
class PartVerdict:
    part: Part
    covered: bool
    score: float
    missing: tuple[str, ...]  # the user's words the texts do not treat
    missing_stems: frozenset[str] = frozenset()  # their stems
    asks_nothing: bool = False  # no subject word of its own (« Comment s'y prendre ? »)


def judge_part(
    part: Part, sections: Sequence[tuple[str, str]], dense: float, whole_dense: float, *,
    idf: Callable[[str], float], general: frozenset[str], general_weight: float, threshold: float,
    everyday_dense: float, dense_weight: float = 1.0,
) -> PartVerdict:
    """Covered when subject coverage + ``dense_weight`` x dense similarity reaches ``threshold``. A subject made only
    of everyday words (« on met de l'argent de côté pour partir ? ») proves nothing by its words:
    it is judged on meaning (``everyday_dense``)."""
    framed = general | part.predicates
    specific = [t for t in part.subject if t not in framed and not _value(t)]
    if not specific:
        if not part.subject or whole_dense >= everyday_dense:
            # « Comment amortir ? »: a verb the texts never use is kept, for a neighbouring field to name.
            unused = frozenset(t for t in part.predicates - general if idf(t) >= idf(""))
            return PartVerdict(part, True, whole_dense, (), unused, asks_nothing=True)
        cov = coverage(part.subject, sections, idf)
        return PartVerdict(part, False, whole_dense, tuple(surface_words(part.subject_text, cov.missing)),
                           frozenset(cov.missing))
    # The verbs that frame the question (« comment apprécier… ») weigh little when the texts do not
    # use them, and count fully when they do: they can support the subject, never sink it.
    cov = max(coverage(part.subject, sections, idf, general, general_weight),
              coverage(part.subject, sections, idf, framed, general_weight), key=lambda c: c.share)
    score = cov.share + dense_weight * dense
    return PartVerdict(part, score >= threshold, score, tuple(surface_words(part.subject_text, cov.missing)),
                       frozenset(cov.missing))


# ---------------------------------------------------------------- references and claims

_KEYWORD = {"fiche": r"fiches?", "critere": r"criteres?", "paragraphe": r"(?:paragraphe|point|section|§)"}


def neighbouring_field(
    verdict: PartVerdict, fields: Sequence[tuple[str, str]], sections: Sequence[str] = (),
) -> PartVerdict:
    """A part whose subject uses a word of a field the texts do not treat (« amortir », « TVA »), a
    word absent from the section that best covers it, is not covered: the field is named. A field's
    phrase (« violation de données ») is named when no section writes it as such, though each of its
    words may appear apart (« données dont la violation… »)."""
    # The fields' words are folded, and a folded word may stem apart (« indemnite » -> « indemnit »,
    # « indemnité » -> « indemn »): the two stems of one word match.
    written = [tokens(text) for text in sections]

    def phrase_absent(term: str) -> bool:
        seq = tokens(term)
        n = len(seq)
        return (n > 1 and bool(written) and bool(set(seq) & verdict.part.subject)
                and not any(w[i:i + n] == seq for w in written for i in range(len(w) - n + 1)))

    named = [(term, field) for term, field in fields
             if any(same_word(t, m) for t in tokens(term) for m in verdict.missing_stems) or phrase_absent(term)]
    if not named:
        return verdict
    stems = {m for term, _ in named for t in tokens(term) for m in verdict.missing_stems | verdict.part.subject
             if same_word(t, m)}
    words = ", ".join(surface_words(verdict.part.text, stems) or [term for term, _ in named])  # as the user wrote them
    return replace(verdict, covered=False, missing=(f"{named[0][1]} ({words})",))


def situation_field(verdict: PartVerdict, fields: Sequence[tuple[str, str]], sections: Sequence[str]) -> PartVerdict:
    """A part covered because it asks for the doctrine's method, whose situation lies in a field the
    texts do not treat (« un candidat a saisi le juge en référé : comment rédiger notre défense ? »):
    the field is named when no section writes its word."""
    written = [tokens(text) for text in sections]

    def absent(term: str) -> bool:
        seq = tokens(term)
        n = len(seq)
        return bool(seq) and not any(w[i:i + n] == seq for w in written for i in range(len(w) - n + 1))

    named = [(term, field) for term, field in fields if absent(term)]
    if not named:
        return verdict
    stems = {t for term, _ in named for t in tokens(term)}
    words = " ".join(surface_words(verdict.part.text, stems)) or named[0][0]  # as the user wrote them
    return replace(verdict, covered=False, missing=(f"{named[0][1]} ({words})",))


def reference_found(ref: Reference, corpus: str) -> bool:
    """Whether the corpus (folded text) mentions the reference: its number, date or code, next to
    its keyword when the number alone would match anything (« fiche 12 », « critère 95 »)."""
    key = re.escape(ref.keys[0]).replace(r"\ ", r"\s+")
    if ref.kind in _KEYWORD:
        pattern = rf"{_KEYWORD[ref.kind]}\W+(?:n[°o]?\s*)?{key}(?![0-9.])"
    elif ref.kind.startswith("version") and len(ref.keys) > 1:
        name = re.escape(ref.keys[1]).replace(r"\ ", r"[\s-]+")
        pattern = (rf"{name}\W+(?:version\s+|v\s*)?{key}(?![0-9])"
                   rf"|(?:version|v)\s*{key}(?![0-9])\W+(?:\w+\W+){{0,2}}{name}")
    elif ref.kind == "sigle_defini":
        pattern = rf"\b{key}\b"
    elif ref.kind == "ccag":
        pattern = rf"\bccag[- ]{key}\b"
    elif ref.kind == "ccag_annee" and len(ref.keys) > 1:
        pattern = rf"\bccag[- ]{re.escape(ref.keys[1])}\W+(?:de\s+|du\s+)?{key}(?![0-9])"
    elif ref.kind == "regle":
        spaced = key.replace("r", r"r\s?", 1)
        pattern = rf"\b{spaced}\b"
    else:
        pattern = rf"(?<![0-9]){key}(?![0-9])"
    return any(not _DENIED.search(_sentence_at(corpus, m.start())) for m in re.finditer(pattern, corpus))


# « Aucun « Guide pratique pour une commande publique numérique » n'a été trouvé » : the corpus names
# the text only to say it does not exist, which does not make it a text of the corpus.
_DENIED = re.compile(r"\baucune?\s[^.;]{0,120}?\sn'a (?:pas )?ete (?:trouvee?|identifiee?|publiee?)|\bn'existe pas\b"
                     r"|\bnon trouvee?\b|\bintrouvable\b|\binexistante?\b")


_DENIAL = re.compile(r"\bAucune?\s+«\s*(?P<t>[^»]{5,120}?)\s*»[^.;]{0,160}?\bn'a (?:pas )?été (?:trouvée?|identifiée?|publiée?)")


def denied_titles(texts: Iterable[str]) -> tuple[str, ...]:
    """The texts the corpus says do not exist (« Aucun « Guide … » n'a été trouvé »), as it writes them."""
    return tuple(dict.fromkeys(m.group("t") for text in texts for m in _DENIAL.finditer(text)))


def names_denied(question: str, titles: Sequence[str], share: float = 0.8) -> str | None:
    """The denied title a question cites, in its own words or not (« le guide DAE-DINUM de la commande
    publique numérique »): most of the title's words are in the question."""
    asked = set(tokens(question))
    for title in titles:
        words = set(tokens(title))
        if len(words) >= 3 and len(words & asked) >= share * len(words):
            return title
    return None


def _sentence_at(text: str, position: int) -> str:
    start = max(text.rfind(mark, 0, position) for mark in (". ", "; ", "\n")) + 1
    ends = [i for i in (text.find(mark, position) for mark in (". ", "; ", "\n")) if i >= 0]
    return text[start:min(ends) if ends else len(text)]


_DAY_MONTH = re.compile(r"(1er|[0-9]{1,2}) (janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|"
                        r"decembre)(?: (20[0-9]{2}))?")


def _value_found(value: str, folded: str) -> bool:
    """Whether a section states the value: a date by its day and month together (« 5 mars » is not
    « 5 février »), and its year too when one is given; a figure by its number (and unit word)."""
    date = _DAY_MONTH.fullmatch(value)
    if date:
        day, month, year = date.groups()
        return (re.search(rf"(?<![0-9]){day.replace('er', '')}(?:er)?\s+{month}\b", folded) is not None
                and (year is None or year in folded))
    number, _, unit = value.partition(" ")
    scale = next((pattern for units, pattern in _SCALES if unit in units), None)
    if scale:  # « 5 M€ » is not « 5 % »: an amount in millions or a percentage keeps its unit
        return re.search(rf"(?<![0-9]){_value_pattern(value)}\s*(?:{scale})", folded) is not None
    if unit in _COUNTED:  # « neuf objectifs »: a count of things is that number of those things
        return re.search(rf"(?<![0-9]){_value_pattern(value)}\s+(?:[a-z-]+\s+)?{unit[:-1]}", folded) is not None
    return re.search(rf"(?<![0-9]){_value_pattern(value)}", folded) is not None


_SCALES = (
    (frozenset({"m€", "million", "millions"}), r"m€|m ?d'euros|millions?\b|me\b"),
    (frozenset({"milliards", "milliard", "billion"}), r"md€|mds?\b|milliards?\b"),
    (frozenset({"%", "pour cent", "pourcent", "per cent", "percent"}), r"%|pour ?cent\b"),
)
_COUNTED = frozenset({"objectifs", "criteres", "regles", "etapes", "exigences", "mesures"})


def _value_pattern(value: str) -> str:
    number = value.partition(" ")[0]
    digits = re.sub(r"[ ,.]", "", number)
    words = [w for w, n in NUMBER_WORDS.items() if n == number]
    if words:  # « 6 mois » or « six mois »
        return rf"(?:{re.escape(number)}|\b{words[0]}\b)" + r"(?![0-9])"
    return (r"[\s.,]?".join(re.escape(d) for d in digits) if len(digits) > 3 else re.escape(number)) + r"(?![0-9])"


_RULE_KINDS = frozenset({"ranking", "ban", "sanction"})
_NEGATION = re.compile(r"\b(?:pas|aucune?|ni|non|sans|jamais|nullement)\b|\bn'|\bne\b")


def _affirmed(pattern: str, folded: str) -> bool:
    """The rule is stated, not denied: « n'est pas obligatoire », « n'impose aucun quota » do not
    support a claim that something is obligatory or imposed."""
    for m in re.finditer(pattern, folded):
        before, after = folded[max(0, m.start() - 30):m.start()], folded[m.end():m.end() + 12]
        if not (_NEGATION.search(before) or re.match(r"\W*(?:pas|aucune?|jamais|nullement)\b", after)):
            return True
    return False


DATED_WITHIN = 120  # characters between a rule and the year said to start it


def _dated(patterns: Sequence[str], year: str, folded: str) -> bool:
    """Whether a stated rule has the year next to it (within ``DATED_WITHIN`` characters)."""
    for pattern in patterns:
        for m in re.finditer(pattern, folded):
            # The year in the same sentence as the rule: « s'applique depuis le 12 septembre 2025 ; interdiction
            # des frais au 12 janvier 2027 » does not date the ban of 2025.
            window = folded[max(0, m.start() - DATED_WITHIN):m.end() + DATED_WITHIN]
            if _affirmed(pattern, folded[max(0, m.start() - 30):m.end() + 12]) and year in window and \
                    year in _sentence_at(folded, m.start()):
                return True
    return False


TEXT_DATED_WITHIN = 100  # characters between a text's name and the year that dates it


def _text_dated(name: str, year: str, folded: str) -> bool:
    """Whether a section dates the named text of that year: the year next to its name, not inside a
    number (« décret n° 2019-1088 » does not date the doctrine of 2019)."""
    pattern = re.escape(name).replace(r"\ ", r"[\s-]+")
    for m in re.finditer(pattern, folded):
        window = folded[max(0, m.start() - TEXT_DATED_WITHIN):m.end() + TEXT_DATED_WITHIN]
        if re.search(rf"(?<![0-9/-]){year}(?![0-9]|[-/][0-9])", window):
            return True
    return False


def claim_supported(
    claim: Claim, sections: Iterable[str], families: Mapping[str, Sequence[str]],
    idf: Callable[[str], float] | None = None,
) -> bool:
    """A claim is supported when one section holds its figures or dates (all of them) and at least
    half of what it is about, and states the rank, ban or sanction it asserts if it asserts one; a
    claim without figures, when one section states the kind of rule it asserts (a ban, a sanction…)
    together with most of what it is about. A rule the section denies (« n'est pas obligatoire »)
    supports nothing."""
    if claim.kind == "dated_text":
        return any(_text_dated(claim.values[1], claim.values[0], fold(text)) for text in sections)
    if claim.kind == "actor" and re.search(r"\bsign", fold(claim.text)) and not any(
            claim.values[0] in sentence and re.search(r"\bsign", sentence)
            for text in sections for sentence in re.split(r"(?<=[.;!?])\s+|\n", fold(text))):
        return False  # « signée par X »: a sentence says X signed, not a name met elsewhere in the section
    if claim.kind == "quote":
        return any(claim.values[0] in " ".join(re.findall(r"[0-9a-z]+", fold(text))) for text in sections)
    terms = set(claim.terms)
    weight = idf or (lambda _t: 1.0)
    total = fsum(weight(t) for t in terms) or 1.0
    for text in sections:
        folded = fold(text)
        vocab = frozenset(tokens(text))
        # Rarity-weighted: the words that say whom or what the claim is about (« communauté
        # d'agglomération ») count more than those every section shares (« circulaire »).
        about = fsum(weight(t) for t in terms if present(t, vocab)) / total
        if claim.extended and not any(_affirmed(p, folded) for p in families.get("extension", ())):
            continue  # the section states the rule, not its extension
        stated = any(_affirmed(p, folded) for p in families.get(claim.kind, ()))
        # « obligatoire depuis 2024 »: a year alone dates the rule, the rule itself must be stated.
        years = all(re.fullmatch(r"20[0-9]{2}", v) for v in claim.values)
        if years and stated:
            # « interdits depuis 2024 »: the year dates the rule, so the section says it next to the rule.
            stated = all(_dated(families.get(claim.kind, ()), v, folded) for v in claim.values)
        if claim.values:
            # « en premier des neuf objectifs »: the figure is incidental, the rank or ban is the claim.
            if (about >= 0.5 and all(_value_found(v, folded) for v in claim.values)
                    and (stated or (claim.kind not in _RULE_KINDS and not years))):
                return True
            continue
        if about >= 0.6 and stated:
            return True
    return False
