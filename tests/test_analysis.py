"""Question analysis and scope rules, on hand-made questions (no index): subject vs context, intent,
answer type, references, claims, and the coverage arithmetic of the scope check."""

from __future__ import annotations

import re

import pytest

from assistant.answer.analysis import Claim, analyse, general_stems, normalise
from assistant.answer.gate import GENERIC_STEMS
from assistant.answer.scope import claim_supported, coverage, judge_part, reference_found, same_word
from assistant.config import PROJECT_ROOT
from assistant.draft.chat import read_request
from assistant.text import accent_map, fold, reaccent, tokens

PROMPTS = PROJECT_ROOT / "prompts"


def _a(question: str):  # noqa: ANN202
    return analyse(question, PROMPTS, GENERIC_STEMS)


def test_the_deliverable_a_buyer_prepares_is_context() -> None:
    a = _a("Bonjour, pour une note au secrétaire général, pourriez-vous me rappeler le seuil de dispense ?")
    assert {"seuil", "dispens"} <= a.subject and not {"secretair", "not", "rappel"} & a.subject
    # What opens the message may also be the subject itself.
    assert "derog" in _a("Pour une dérogation au cloud de confiance, on s'adresse à qui ?").subject


def test_the_shape_asked_for_the_answer_is_not_its_subject() -> None:
    a = _a("Pour l'intro de mon discours : quel est le seuil de dispense ? En deux phrases, sous forme de tableau.")
    assert {"seuil", "dispens"} <= a.subject and not {"intro", "discour", "phras", "tableau"} & a.subject
    assert not {"simplifi", "connait"} & _a("Tu peux simplifier pour quelqu'un qui n'y connaît rien ?").subject
    # A dashboard is a subject, not a shape.
    assert "tableau" in _a("Faut-il un tableau de bord des achats numériques ?").subject


def test_the_buyers_context_is_not_the_subject() -> None:
    a = _a("Pour notre futur portail Zephyr de gestion des subventions, quel seuil de dispense de publicité s'applique ?")
    assert {"seuil", "dispens", "publiqu"} & a.subject
    assert not {"zephyr", "subvent", "portail"} & a.subject
    assert {"subvent", "zephyr"} <= a.context
    # The object of a purchase verb is context too, up to the words that start the real question.
    b = _a("Jusqu'à quel montant peut-on acheter une solution innovante sans publicité ni mise en concurrence ?")
    assert "concurrent" in b.subject and "innov" not in b.subject


@pytest.mark.parametrize(
    ("question", "answer_type", "intent"),
    [
        ("Rédige un paragraphe justifiant le choix d'un logiciel du marché.", "draft", "draft"),
        ("Pouvez-vous rédiger la note de justification de notre choix ?", "draft", "draft"),
        ("Je dois rédiger la note : sur quels textes m'appuyer ?", "list", "question"),
        ("Peux-tu me rédiger un paragraphe expliquant pourquoi on n'exige pas ce label ?", "draft", "draft"),
        ("redige la justif du choix d'un outil du marche", "draft", "draft"),
        ("Tu peux me rédiger un paragraphe qui justifie le choix d'un progiciel ?", "draft", "draft"),
        ("Draft a short justification paragraph for our hosting choice.", "draft", "draft"),
        ("Quels ministres ont préparé le texte de février ?", "actor", "question"),
        ("Quand la circulaire a-t-elle été publiée ?", "date", "question"),
        ("Combien pèse la commande publique numérique ?", "figure", "question"),
        ("Par quoi je commence pour acheter un outil de paie ?", "procedure", "question"),
        ("SecNumCloud, c'est quoi ?", "definition", "question"),
        # English questions want names, dates and figures too; « when » joining clauses asks no date.
        ("Which ministers prepared the February text?", "actor", "question"),
        ("When was the cloud doctrine last updated?", "date", "question"),
        ("How many rules does the cloud doctrine have?", "figure", "question"),
        ("What notice period applies when we switch provider?", "open", "question"),
    ],
)
def test_intent_and_answer_type(question: str, answer_type: str, intent: str) -> None:
    a = _a(question)
    assert (a.answer_type, a.intent) == (answer_type, intent)


def test_references_are_read_in_every_form() -> None:
    a = _a("Que disent le décret n° 2026-1043, l'arrêté du 14 septembre 2026, la fiche n° 12, la règle R22, "
           "le NOR PRMX2604567C, la version 5 du RGAA et la circulaire n° 6601/SG ?")
    kinds = {r.kind: r.keys for r in a.references}
    assert kinds["decret"] == ("2026-1043",) and kinds["arrete"] == ("14 septembre 2026",)
    assert kinds["fiche"] == ("12",) and kinds["regle"] == ("r22",) and kinds["nor"] == ("prmx2604567c",)
    assert kinds["version_avant"] == ("5", "rgaa") and kinds["circulaire"] == ("6601",)
    assert [r.keys for r in _a("Que dit l'instruction DINUM n° 2026-07 ?").references] == [("2026-07",)]


def test_the_articles_of_the_buyers_own_document_are_no_reference_to_the_texts() -> None:
    from assistant.answer.analysis import own_references

    pasted = ("Extrait de notre projet de RC :\nArticle 8 – Jugement des offres\n- Prix : 60 %\nEst-ce conforme ?",
              "Voici l'article de notre CCTP :\n« Article 14 — Réversibilité. Le titulaire restitue les données. »",
              "L'article 12 de notre CCAP prévoit une pénalité de retard, est-ce conforme ?",
              "Notre CCTP, article 4.2, exige un hébergement qualifié : est-ce suffisant ?",
              "Section 3.1 of our tender asks for a qualified cloud, is that required?")
    for question in pasted:
        blanked = own_references(question, PROMPTS)
        assert len(blanked) == len(question) and not re.search(r"(?i)(article|section) \d", blanked), blanked
        assert not _a(question).references
    # The texts' own provisions stay references, whatever else the message pastes.
    for question in ("Article 58 du CCAG-TIC : que faut-il en reprendre dans notre CCAP ?",
                     "Que dit l'article 9 de la circulaire ? Je dois l'intégrer à notre CCTP.",
                     "Article 9 – Objectifs : que dit la circulaire dans cet article ?",
                     "Quelle est la section 4.3 de la circulaire ? Notre marché en dépend."):
        assert own_references(question, PROMPTS) == question


def test_reference_lookup_needs_the_identifier_with_its_keyword() -> None:
    corpus = fold("La règle R9 de la doctrine. Le décret n° 2026-272 du 4 avril. Fiche 3 du guide. RGAA version 4.1.")
    found = {r.label: reference_found(r, corpus) for r in _a(
        "décret n° 2026-272, décret n° 2026-518, règle R9, règle R22, fiche 3, fiche 12, version 4.1 du RGAA, "
        "version 5 du RGAA ?").references}
    assert found == {"décret n° 2026-272": True, "décret n° 2026-518": False, "règle R9": True, "règle R22": False,
                     "fiche 3": True, "fiche 12": False, "version 4.1 du RGAA": True, "version 5 du RGAA": False}


def test_claims_taken_for_granted() -> None:
    a = _a("Comment je calcule le quota de 30 % de solutions françaises imposé par la circulaire ?")
    assert [c.values for c in a.claims] == [("30 %",)]
    b = _a("Quelle amende la DINUM inflige-t-elle aux ministères qui n'appliquent pas la doctrine ?")
    assert [c.kind for c in b.claims] == ["sanction"]
    c = _a("Le référencement au catalogue étant obligatoire, que dois-je faire ?")
    assert [cl.kind for cl in c.claims] == ["obligation"]
    assert _a("Quels sont les neuf objectifs de la doctrine ?").claims == ()
    # A text as the subject of a clause that states a figure: the figure is taken for granted.
    d = _a("La circulaire accorde 4 mois aux opérateurs pour changer d'outil : quand faut-il avoir fini ?")
    assert [cl.values for cl in d.claims] == [("4 mois",)]
    assert _a("Quel délai de 4 mois la DINUM a-t-elle pour rendre son avis ?").claims == ()  # a question, no claim
    # A count of rules or criteria is a figure too.
    e = _a("Le référentiel impose 120 critères à respecter : lesquels sont prioritaires ?")
    assert [cl.values for cl in e.claims] == [("120 criteres",)]  # values are compared folded
    # « ne plus avoir le droit » states a ban, like « interdit ».
    f = _a("Depuis la loi SREN, on n'a plus le droit d'héberger nos courriels hors d'Europe, c'est ça ?")
    assert "ban" in [cl.kind for cl in f.claims]
    # A confirmation tag asserts what precedes it; without it, the same words ask.
    g = _a("Les ministères ont jusqu'au 15 mars 2027 pour basculer leur messagerie, c'est bien ça ?")
    assert [cl.values for cl in g.claims] == [("15 mars 2027",)]
    assert _a("Les ministères ont-ils jusqu'au 15 mars 2027 pour basculer leur messagerie ?").claims == ()
    # A declarative sentence that states a strong rule, before the question, takes it for granted;
    # the buyer's own narrative and a question do not.
    h = _a("Le RGESN est obligatoire dans tous les marchés publics depuis 2024, comment vérifier les offres ?")
    assert [cl.kind for cl in h.claims] == ["obligation"]
    assert _a("Notre hébergeur impose un préavis de résiliation, comment faire ?").claims == ()
    assert _a("Le RGESN est-il obligatoire dans les marchés publics ?").claims == ()
    assert [cl.kind for cl in _a("Comme la souveraineté est le critère n° 1, je la mets en premier ?").claims] == ["ranking"]
    # « maintenant que » presupposes; a hypothesis (« si ») or the buyer's own requirement does not assert.
    assert [cl.kind for cl in _a("Maintenant que la DAE impose tous les achats par l'UGAP, on fait comment ?").claims] \
        == ["obligation"]
    assert _a("Si la circulaire impose un hébergement qualifié, que faire de notre messagerie ?").claims == ()
    assert _a("Un paragraphe qui explique qu'on exige la réversibilité, possible ?").claims == ()
    # A rank or an automatic application stated as fact is taken for granted; in a condensed
    # follow-up, only the follow-up's own words (a question) are read.
    assert [cl.kind for cl in _a("La doctrine met la sécurité en premier, avant le coût : comment le traduire ?").claims] \
        == ["ranking"]
    assert [cl.kind for cl in _a("Le RGAA s'applique d'office à tous nos sites, comment on vérifie ?").claims] == ["equivalence"]
    assert _a("Il s'applique d'office à mon marché — Le CCAG-TIC est-il obligatoire ?").claims == ()
    assert [cl.kind for cl in _a("Puisque le coût est le tout premier des neuf objectifs, on le note d'abord ?").claims] \
        == ["ranking"]
    # Who signed a text is taken for granted; « forcément », « vaut » state an equivalence.
    borne = _a("La circulaire de Jean Dupont de mars 2026 s'applique-t-elle aux opérateurs ?").claims
    assert [(cl.kind, cl.values) for cl in borne] == [("actor", ("dupont", "2026"))]
    assert [cl.kind for cl in _a("Notre hébergeur est ISO 27001, donc il est forcément conforme RGS, d'accord ?").claims] \
        == ["equivalence"]
    # « même pour… » after a comma belongs to the claim before it.
    ext = _a("Tout hébergement doit être qualifié, même pour un site vitrine, c'est bien ça ?").claims
    assert ext and ext[0].extended and "vitrine" in ext[0].text
    # Small numbers in words are figures.
    i = _a("Le Data Act impose un préavis d'au moins six mois, comment l'anticiper ?")
    assert [cl.values for cl in i.claims] == [("6 mois",)]


def test_questions_coordinated_after_a_comma_are_parts() -> None:
    two = _a("Quel est le seuil de dispense de publicité en 2026, et quelle garantie décennale exiger du "
             "constructeur de la salle blanche ?")
    assert [p.text for p in two.parts] == ["Quel est le seuil de dispense de publicité en 2026 ?",
                                           "quelle garantie décennale exiger du constructeur de la salle blanche ?"]
    # One verb for both (no comma), or a second question that leans on the first: one part.
    assert len(_a("Quel système d'alarme et quelles normes de sécurité imposer au titulaire ?").parts) == 1
    assert len(_a("Quel taux de TVA pour une licence logicielle, et peut-on la récupérer ?").parts) == 1


def test_a_question_asked_without_a_question_mark_is_kept_apart() -> None:
    a = _a("Nous remplaçons notre outil de paie. Le secrétaire général veut savoir à quel moment le projet doit "
           "passer devant la DINUM. Et comment amortir la licence ?")
    assert [p.text for p in a.indirect] == ["à quel moment le projet doit passer devant la DINUM."]
    assert [p.text for p in a.parts] == ["Et comment amortir la licence ?"]  # the asked question is unchanged
    assert _a("Le chef veut un outil de paie. Quel seuil de publicité ?").indirect == ()


def test_a_question_mark_inside_parentheses_does_not_end_the_question() -> None:
    a = _a("Quel format exiger (CSV ? JSON ?) et dans quel délai le titulaire restitue-t-il les données ?")
    assert [p.text for p in a.parts] == [a.text]


def test_a_second_question_put_as_c_est_quoi_is_a_part() -> None:
    a = _a("Quelle pondération donner à la réversibilité, et c'est quoi un TJM correct pour un développeur senior ?")
    assert [p.text for p in a.parts] == ["Quelle pondération donner à la réversibilité ?",
                                         "c'est quoi un TJM correct pour un développeur senior ?"]


def test_a_question_without_a_subject_of_its_own_is_judged_on_its_narrative_too() -> None:
    a = _a("Notre messagerie tourne chez un hébergeur non qualifié et traite des données sensibles. "
           "Comment on fait pour régulariser ?")
    assert len(a.parts) == 2 and "données sensibles" in a.parts[1].text
    # A question with its own subject keeps its narrative as context.
    b = _a("Nous préparons un marché de messagerie. Quelle pondération pour le critère de réversibilité ?")
    assert len(b.parts) == 1


def test_a_date_says_when_not_what_about() -> None:
    a = _a("Achat d'un outil de gestion des salles prévu en mai 2026 : quelles formalités ?")
    assert "mai" not in a.subject and "formal" in a.subject
    assert "mar" not in _a("Qu'a décidé le 5 mars le ministre sur la souveraineté ?").subject
    assert "mai" in _a("Le muguet du mois de mai, c'est couvert ?").subject  # no date: a word like another


def test_how_much_and_when_a_figure_holds_is_not_what_the_claim_is_about() -> None:
    from assistant.answer.analysis import analyse as analyse_claims

    claims = analyse_claims("La circulaire impose au moins 20 % de pondération pour la souveraineté, je l'intègre où ?",
                            PROMPTS, GENERIC_STEMS).claims
    assert claims and "moin" not in claims[0].terms and "souverainet" in claims[0].terms
    families = {"quantity": []}
    # A section that shares only « moins » and the figure does not support the claim.
    lots = "Les lots de moins de 80 000 € HT relèvent de la règle des 20 %."
    assert not claim_supported(claims[0], [lots], families)


def test_a_referentiel_version_needs_no_keyword() -> None:
    a = _a("Quelles nouveautés dans SecNumCloud 9.0 pour l'IA ?")
    assert [(r.kind, r.keys) for r in a.references] == [("version", ("9.0", "secnumcloud"))]
    assert not reference_found(a.references[0], fold("La version 3.2 du référentiel SecNumCloud date de 2022."))
    assert reference_found(_a("Que change SecNumCloud 3.2 ?").references[0], fold("SecNumCloud 3.2 renforce l'immunité."))


def test_a_dated_edition_or_a_version_after_its_number_must_be_one_the_texts_know() -> None:
    corpus = fold("Le CCAG-TIC 2021 remplace le CCAG-TIC de 2009. SecNumCloud 3.2 date de 2022.")
    edition = _a("Pour notre infogérance, on vise le CCAG-TIC 2025 : quelles différences ?").references
    assert ("ccag_annee", ("2025", "tic")) in [(r.kind, r.keys) for r in edition]
    assert not all(reference_found(r, corpus) for r in edition)
    assert all(reference_found(r, corpus) for r in _a("Le CCAG-TIC 2021 s'applique-t-il d'office ?").references)
    assert all(reference_found(r, corpus) for r in _a("Qu'a changé le CCAG TIC de 2009 ?").references)
    version = _a("Quelles exigences ajoute la version 4.5 de SecNumCloud ?").references
    assert [(r.kind, r.keys) for r in version] == [("version_avant", ("4.5", "secnumcloud"))]
    assert not reference_found(version[0], corpus)
    assert reference_found(_a("Que change la version 3.2 de SecNumCloud ?").references[0], corpus)


def test_a_text_the_corpus_names_only_to_say_it_was_not_found_is_not_known() -> None:
    a = _a("Où télécharger le « Guide pratique pour une commande publique numérique » ?")
    denied = fold("Aucun « Guide pratique pour une commande publique numérique » publié par la DAE n'a été trouvé ; "
                  "le guide identifié est le « Guide pratique pour des achats numériques responsables ».")
    assert a.references and not reference_found(a.references[0], denied)
    known = _a("Où trouver le « Guide pratique pour des achats numériques responsables » ?")
    assert reference_found(known.references[0], denied)


def test_the_titles_the_corpus_denies_are_read_and_recognised_in_other_words() -> None:
    from assistant.answer.scope import denied_titles, names_denied

    titles = denied_titles(["Aucun « Guide pratique pour une commande publique numérique » publié par la DAE n'a été "
                            "trouvé ; le guide identifié est le « Guide pratique pour des achats numériques responsables ».",
                            "Aucune réaction de l'April n'a été trouvée."])
    assert titles == ("Guide pratique pour une commande publique numérique",)
    assert names_denied("le guide DAE/DINUM 2026 dédié à la commande publique numérique ?", titles) == titles[0]
    assert names_denied("Où est le guide pratique pour des achats numériques responsables ?", titles) is None


def test_english_questions_are_recognised() -> None:
    from assistant.answer.gate import is_english
    assert is_english("Where and at which event was the new doctrine presented?")
    assert is_english("We'd like to buy cloud hosting through UGAP. Does it exempt us from our own tender?")
    assert is_english("Draft me a justification paragraph for choosing a free software listed in the SILL")
    assert is_english("Who finally approved the updated French SecNumCloud qualification framework version on cloud services")  # « on » is English too
    assert not is_english("Quel est le seuil de dispense pour un marché de services en 2026 ?")
    assert not is_english("Bonjour, pourriez-vous me rappeler le seuil de dispense pour un marché de services ?")


def test_a_label_or_guide_named_between_quotes_is_a_reference() -> None:
    a = _a("Où trouver le guide « Achats verts numériques 2027 » de la DAE ?")
    assert [(r.kind, r.keys) for r in a.references] == [("nom_cite", ("achats verts numeriques 2027",))]
    assert not reference_found(a.references[0], fold("Le guide de l'achat numérique responsable (2021)."))
    assert reference_found(a.references[0], fold("Le guide « Achats verts numériques 2027 » est paru."))
    assert _a("Notre outil « Zephyr » doit-il être hébergé en SecNumCloud ?").references == ()  # a tool, not a text
    # A level of a referential named between quotes must be one the texts know.
    level = _a("RGESN niveau « Gold » : combien de points pour l'exiger ?").references
    assert [(r.kind, r.keys) for r in level] == [("nom_cite", ("gold",))]
    assert reference_found(_a("RGAA niveau « AA » : c'est le niveau à viser ?").references[0], fold("le niveau AA"))
    assert _a("L'offre « Nubo » de notre hébergeur est-elle qualifiée ?").references == ()  # a product, not a text
    # The buyer's own sheet or guide is not a text said to exist.
    assert _a("Je complète la fiche « règles d'achat » de notre intranet : quel est le seuil de publicité ?"
              ).references == ()
    assert _a("Notre guide « Achats malins » cite-t-il le RGAA ?").references == ()
    # The sheet a message opens by preparing is the buyer's too; one asked about further on is not.
    assert _a("Pour la fiche « points clés » : quel est le seuil de dispense ?").references == ()
    assert _a("Que dit la fiche « Acheter malin » de la DAE sur le seuil de dispense ?").references != ()


def test_a_nor_shaped_code_is_a_reference_with_or_without_the_word() -> None:
    a = _a("Tu confirmes que le texte porte le code TREX2612345B ?")
    assert [(r.kind, r.keys) for r in a.references] == [("nor", ("trex2612345b",))]
    assert not reference_found(a.references[0], fold("NOR : PRMJ2603774A"))
    assert reference_found(_a("Son code est PRMJ2603774A ?").references[0], fold("NOR : PRMJ2603774A"))


def test_claim_support_needs_the_figure_and_the_topic_together() -> None:
    claim = _a("Puisque la circulaire impose un quota de 30 % de solutions françaises, comment faire ?").claims[0]
    families = {"quantity": [r"\bquota"]}
    assert not claim_supported(claim, ["La circulaire fixe neuf objectifs sans pondération."], families)
    assert not claim_supported(claim, ["Le budget a baissé de 30 % en 2025."], families)  # figure, other topic
    assert claim_supported(claim, ["La circulaire impose un quota de 30 % de solutions françaises."], families)
    # A figure in words or in digits; a rule the text denies supports nothing; a rank needs the rank.
    notice = _a("Le Data Act impose un préavis d'au moins six mois, comment l'anticiper ?").claims[0]
    assert claim_supported(notice, ["Le Data Act fixe un préavis d'au moins 6 mois."], {})
    assert claim_supported(notice, ["Le Data Act fixe un préavis d'au moins six mois."], {})
    assert not claim_supported(notice, ["Le Data Act fixe un préavis de deux mois au plus."], {})
    rule = _a("Le RGESN est obligatoire dans tous les marchés publics, comment vérifier les offres ?").claims[0]
    obligation = {"obligation": [r"\bobligatoires?\b"]}
    assert not claim_supported(rule, ["Le RGESN n'est pas juridiquement obligatoire dans les marchés publics."], obligation)
    assert claim_supported(rule, ["Le RGESN est obligatoire dans tous les marchés publics."], obligation)
    # What the claim is about weighs by rarity: the common words of a section do not carry it.
    whom = Claim("elle s'impose aux services de l'État appliquant… d'agglomération", "obligation", (),
                 frozenset({"servic", "etat", "appliqu", "agglomer"}))
    rare = {"agglomer": 6.0}
    section = ["La circulaire s'impose aux services de l'État et doit être appliquée."]
    assert claim_supported(whom, section, {"obligation": [r"\bimpos\w*"]})  # counted, not weighed
    assert not claim_supported(whom, section, {"obligation": [r"\bimpos\w*"]}, lambda t: rare.get(t, 1.0))
    extended = _a("Tout hébergement doit être qualifié, même pour un site vitrine, c'est bien ça ?").claims[0]
    families = {"obligation": [r"\bdoit\b"], "extension": [r"\bmeme (?:pour|si)\b"]}
    assert not claim_supported(extended, ["Tout hébergement de données sensibles doit être qualifié."], families)
    assert claim_supported(extended, ["Tout hébergement doit être qualifié, même pour un site vitrine."], families)
    # A rule said to hold for everything (« pour tout hébergement ») needs a section saying so, not one
    # that denies it (« n'est pas systématiquement obligatoire »).
    universal = _a("Comme la qualification est obligatoire pour tout hébergement, notre site doit-il l'avoir ?").claims[0]
    assert universal.extended
    families = {"obligation": [r"\bobligatoire\b"], "extension": [r"\bpour tout\b|\bsystematiquement\b"]}
    assert not claim_supported(universal, ["La qualification n'est pas systématiquement obligatoire pour un hébergement, "
                                           "seulement pour les données sensibles."], families)
    assert claim_supported(universal, ["La qualification est obligatoire pour tout hébergement."], families)
    rank = _a("Puisque la circulaire met la souveraineté en premier des neuf objectifs, comment faire ?").claims[0]
    ranking = {"ranking": [r"\bpremier objectif\b"]}
    assert not claim_supported(rank, ["La circulaire fixe neuf objectifs, dont la souveraineté."], ranking)
    assert claim_supported(rank, ["Pour la circulaire, la souveraineté est le premier objectif des neuf objectifs."], ranking)


def test_abbreviations_and_missing_accents() -> None:
    assert normalise("slt, ds le ccag c kel article pr les failles ?", PROMPTS).startswith(
        "salut, dans le ccag c'est quel article pour")
    assert normalise("perf et interop : combien de points max, et c'est ds le RC ou la pub ?", PROMPTS) == (
        "performance et interopérabilité : combien de points maximum, et c'est dans le RC ou la publicité ?")
    assert normalise("quelles boites ont signé la charte achat num ? 10 pts max ?", PROMPTS) == (
        "quelles entreprises ont signé la charte achat numérique ? 10 points maximum ?")
    # « vs » opposes two terms in a buyer's question; it is not « vous ».
    assert normalise("Arbitrage souveraineté vs coût, le 21 vs le 22 ? vu qqpart", PROMPTS) == (
        "Arbitrage souveraineté ou coût, le 21 ou le 22 ? vu quelque part")
    amap = accent_map(["La circulaire a été publiée le 13 février.", "Réversibilité du contrat."])
    fixed = reaccent("circulaire publiee quand ? reversibilite", amap)
    assert fixed == "circulaire publiée quand ? réversibilité"
    assert tokens(fixed) != tokens("circulaire publiee quand ? reversibilite")  # the stemmer needs accents


def test_coverage_weighs_rare_subject_words_and_discounts_everyday_ones() -> None:
    idf = {"tva": 6.9, "taux": 6.9, "abonn": 6.9, "logiciel": 2.0, "veut": 6.9, "reversibil": 3.0}.get
    sections = [("s1", "Le logiciel est acheté par abonnement."), ("s2", "La réversibilité du logiciel.")]
    general = general_stems(PROMPTS)
    assert "veut" in general and "tva" not in general
    vat = coverage({"tva", "taux", "abonn", "logiciel"}, sections, lambda t: idf(t) or 1.0, general, 0.25)
    assert vat.share < 0.5 and "tva" in vat.missing  # the rare word the corpus never uses weighs the most
    rev = coverage({"reversibil", "veut"}, sections, lambda t: idf(t) or 1.0, general, 0.25)
    plain = coverage({"reversibil", "veut"}, sections, lambda t: idf(t) or 1.0)
    assert rev.share > 0.6 > 0.35 > plain.share  # « veut » is everyday French: discounted, it barely counts
    assert coverage(set(), sections, lambda t: 1.0).share == 1.0
    assert same_word("reversibl", "reversibil") and not same_word("compt", "comptabilis")


def test_a_part_of_everyday_words_is_judged_on_meaning() -> None:
    part = _a("Faut-il mettre de l'argent de côté dès le début pour pouvoir partir plus tard ?").parts[0]
    general = general_stems(PROMPTS)
    assert all(t in general for t in part.subject)
    kwargs = {"idf": lambda t: 1.0, "general": general, "general_weight": 0.25, "threshold": 0.7}
    assert judge_part(part, [], 0.1, 0.5, everyday_dense=0.3, **kwargs).covered
    assert not judge_part(part, [], 0.1, 0.2, everyday_dense=0.3, **kwargs).covered


@pytest.mark.parametrize(
    ("message", "route", "criteria", "exception"),
    [
        ("Rédige un paragraphe justifiant que nous retenons un logiciel du marché pour la gestion des congés "
         "après avoir écarté les solutions mutualisées, en insistant sur la réversibilité.",
         "sur_etagere", ("adaptabilite_reversibilite",), None),
        ("Rédigez la note justifiant un développement interne de notre outil de gestion de crise, faute de "
         "solution existante.", "faire", (), "aucune_solution"),
        ("Peux-tu écrire la justification du critère réversibilité pour notre marché d'hébergement ?",
         None, ("adaptabilite_reversibilite",), None),
        # « plutôt qu'un … » discards the route it names, elided or not.
        ("Rédige une note qui justifie l'achat d'un progiciel du marché pour la paie, plutôt qu'un développement "
         "interne.", "sur_etagere", (), None),
    ],
)
def test_drafting_requests_are_read(message: str, route: str | None, criteria: tuple, exception: str | None) -> None:
    read = read_request(message, PROMPTS)
    assert (read.route, read.criteria, read.exception) == (route, criteria, exception)
    assert read.object and len(read.object) < len(message)


def test_the_object_of_a_drafting_request_after_an_elided_article() -> None:
    read = read_request("Rédige la justification de l'hébergement de nos archives chez un prestataire qualifié.",
                        PROMPTS)
    assert read.object == "hébergement de nos archives chez un prestataire qualifié"
    # The alternative set aside is not what is bought, named by a product or by a kind of product.
    assert read_request("Une justif pour choisir Nextcloud dans notre rectorat plutôt qu'une plateforme américaine",
                        PROMPTS).object == "Nextcloud dans notre rectorat"
    assert read_request("Rédige la justification d'un logiciel libre du SILL plutôt qu'une solution propriétaire.",
                        PROMPTS).object == "logiciel libre du SILL"


def test_a_word_that_only_starts_like_a_choice_verb_gives_no_object() -> None:
    # « retenue » is not « retenu » + « e »: the object must stay readable (a one-letter object used to
    # make the drafter reject the request, and the chat answer an input error).
    read = read_request("Il me faut la partie « sécurité » du rapport pour l'offre de stockage retenue, "
                        "avec les pièces à demander.", PROMPTS)
    assert len(read.object) >= 3 and "stockage" in read.object
    assert read.as_request()["criteria"] == ["securite"]
    from assistant.draft.request import parse_request

    parse_request(read.as_request())  # a valid request for the drafter


def test_words_the_corpus_writes_without_accents_are_left_alone() -> None:
    amap = accent_map(["Elle a été publiée à Paris, dès le début, avec des annexes.", "Il calcule le coût calculé."])
    assert reaccent("Elle a ete publiee des le debut ? Il calcule", amap) == "Elle a été publiée des le début ? Il calcule"


@pytest.mark.parametrize(
    ("question", "predicates"),
    [
        ("Quelle démarche pour régulariser ?", {"regularis"}),
        ("Comment la rendre visible pour les autres administrations ?", {"rendr"}),
        ("Ils peuvent quand même prétendre à SecNumCloud ?", {"pretendr"}),
        ("Sur combien d'années amortir les licences ?", set()),  # the topic itself, no frame before it
        ("Quel est le cadre de l'offre du dossier ?", set()),  # nouns in -re and -ier are not verbs
        # Infinitives coordinated with the first one frame the question too, not a noun after a determiner.
        ("Critère coût : comment comparer prolonger l'existant et migrer ?", {"compar", "prolong", "migr"}),
        ("Comment choisir le cluster et le dossier ?", {"chois"}),
        # The judgement a yes/no question asks for frames it (« sommes-nous tenus », « c'est éliminatoire ? »),
        # not a verb followed by what it acts on (« ça bloque la signature du marché ? »).
        ("Sommes-nous tenus de le signaler au SILL ?", {"tenus", "signal"}),
        ("Le format OOXML au regard du RGI, c'est éliminatoire ?", {"eliminatoir"}),
        ("Un logiciel libre hors SILL, est-ce que ça bloque ?", {"bloqu"}),
        ("Le référé, est-ce que ça bloque la signature du marché ?", set()),
        ("Le RGI, c'est quoi ?", set()),
    ],
)
def test_the_verbs_that_frame_a_question_are_not_its_subject(question: str, predicates: set[str]) -> None:
    a = _a(question)
    assert set().union(*(p.predicates for p in a.parts)) == predicates
    assert predicates <= a.subject  # still words of the subject, weighed as everyday words by the scope


def test_an_accented_word_is_not_reaccented_piece_by_piece() -> None:
    amap = accent_map(["Le fournisseur a démarché le service ; la marché est publié."])
    assert "marche" in amap  # the corpus writes « démarché » and « marché »
    assert reaccent("Quelle démarche suivre ? Quel marche ?", amap) == "Quelle démarche suivre ? Quel marché ?"


def test_a_coordinated_question_may_start_with_a_preposition() -> None:
    a = _a("Quels critères d'attribution retenir pour notre marché d'archivage, et sur combien d'années amortir "
           "les licences ?")
    assert [p.text for p in a.parts] == ["Quels critères d'attribution retenir pour notre marché d'archivage ?",
                                         "sur combien d'années amortir les licences ?"]


def test_the_question_after_a_preface_is_kept_apart() -> None:
    a = _a("Rectorat de Grenoble, pôle achats : faut-il pondérer les critères d'attribution en appel d'offres ?")
    core = a.parts[0].core
    assert core is not None and {"ponder", "criter"} <= core.subject and "grenobl" not in core.subject
    assert _a("TVA : quel taux pour un abonnement ?").parts[0].core is None  # a one-word preface is the topic
    assert _a("La souveraineté des offres : comment l'évaluer concrètement ?").parts[0].core is None  # points back


def test_buyers_idioms_and_frame_words_are_not_the_subject() -> None:
    from assistant.answer.lexicon import load_lexicon

    synonyms = load_lexicon(PROMPTS.parent / "knowledge").synonyms
    a = analyse("Par quoi commencer pour être dans les clous de la doctrine ?", PROMPTS, GENERIC_STEMS, synonyms)
    assert "clous" not in a.subject and "conform" in a.subject
    assert "cens" not in _a("Que sommes-nous censés faire de notre application ?").subject


def test_a_quoted_word_in_lower_case_is_the_subject_not_a_name() -> None:
    asked = _a("L'objectif « disponibilité », ça couvre quoi selon le texte ?")
    assert set(tokens("disponibilité")) <= asked.subject and not asked.names
    named = _a("Peut-on reprendre « Gestor » pour nos congés ?")
    assert "Gestor" in named.names and not named.subject & set(tokens("Gestor"))


def test_a_subject_word_stemmed_like_a_frame_word_stays_the_subject() -> None:
    # « maintenance » and « maintenant » share a stem; only the second frames a question.
    assert set(tokens("maintenance")) <= _a("Que demande la circulaire sur la maintenance ?").subject
    assert not set(tokens("maintenant")) & _a("Et maintenant, que demande la circulaire sur le coût ?").subject


def test_the_buyers_context_ends_at_the_verb_of_the_clause() -> None:
    # « de notre DSI » is context; what follows it (« peuvent-elles toucher une prime… ») is asked.
    a = _a("Les équipes de notre DSI peuvent-elles toucher la NBI comme les autres agents ?")
    assert "nbi" in a.subject and "dsi" not in a.subject


def test_a_paragraph_asked_to_justify_is_a_drafting_request_however_it_is_worded() -> None:
    assert _a("stp un paragraphe pour justifier qu'on achète sans publicité un outil de sondage à 30 000 € HT").intent == "draft"
    assert _a("Quelle note faut-il pour justifier une procédure sans publicité ?").intent == "question"


def test_a_named_ccag_is_a_reference_the_corpus_must_know() -> None:
    from assistant.answer.analysis import rules

    refs = _a("Quelles clauses du CCAG-ROBOTIQUE viser pour notre marché ?").references
    assert [r.kind for r in refs] == ["ccag"]
    assert not reference_found(refs[0], "le ccag-tic et le ccag-mi de 2021")
    assert reference_found(_a("Le CCAG-TIC s'applique-t-il ?").references[0], "le ccag-tic de 2021")
    assert rules(PROMPTS)["references"]["ccag"]


def test_a_tax_that_qualifies_an_amount_names_no_neighbouring_field() -> None:
    from assistant.answer.lexicon import load_lexicon

    lexicon = load_lexicon(PROJECT_ROOT / "knowledge")
    assert not lexicon.neighbour_fields("A survey tool of about 35,000 euros excl. VAT: which procedure?")
    assert not lexicon.neighbour_fields("Un outil à 35 000 € hors TVA : quelle procédure ?")
    assert not lexicon.neighbour_fields("Our programme budget is 12 M EUR incl. VAT. Do we need to go to DINUM?")
    assert not lexicon.neighbour_fields("A 3 million euros (VAT-inclusive) hosting framework: which stage?")
    assert lexicon.neighbour_fields("Which VAT rate applies to a 12 M€ contract?")
    assert lexicon.neighbour_fields("Quel taux de TVA sur un abonnement SaaS ?")


def test_discourse_markers_and_duration_words_frame_the_question() -> None:
    analysis = _a("Du coup les offres du type Bleu sont exclues ? Et ça dure combien de temps ?")
    assert not {"coup", "typ", "temp", "dur"} & analysis.subject, analysis.subject


def test_a_version_number_after_a_referential_is_a_reference() -> None:
    assert [r.keys for r in _a("Que change le RGAA 6 pour nos formulaires ?").references] == [("6", "rgaa")]
    assert not _a("Le RGESN 2024 compte combien de critères ?").references


def test_words_put_in_a_texts_mouth_and_the_year_a_rule_starts_are_claims() -> None:
    quoted = _a("Le CCAG-TIC précise « le titulaire reste propriétaire des logiciels développés », on fait comment ?")
    assert [(c.kind, c.values) for c in quoted.claims] == [
        ("quote", ("le titulaire reste proprietaire des logiciels developpes",))]
    dated = _a("Le RGAA est obligatoire pour les intranets depuis 2019, donc on doit l'exiger ?")
    assert any("2019" in c.values for c in dated.claims), dated.claims
    # What a text is said to impose is part of the claim, not only « imposé par la circulaire ».
    imposed = _a("Quel modèle pour le bilan annuel de nos licences, imposé par la circulaire ?")
    assert [c.kind for c in imposed.claims] == ["obligation"] and "bilan annuel" in imposed.claims[0].text
    # A year in a question is not a claim by itself.
    assert not _a("Quels projets la DINUM a-t-elle examinés en 2025 ?").claims


def test_a_rule_asked_by_intonation_but_stretched_to_every_case_is_a_claim() -> None:
    claims = _a("SecNumCloud est obligatoire pour toutes nos données, même pour la newsletter ?").claims
    assert [c.kind for c in claims] == ["obligation"] and claims[0].extended
    assert not _a("SecNumCloud est obligatoire pour nos données de santé ?").claims
    assert [c.kind for c in _a("La circulaire s'applique aussi aux communes, donc ma mairie doit s'y conformer ?").claims] \
        == ["application"]


def test_an_acronym_the_question_defines_as_an_index_or_label_is_a_reference() -> None:
    refs = _a("Comment on calcule l'IRNX (indice régional du numérique) ?").references
    assert [(r.kind, r.label) for r in refs] == [("sigle_defini", "IRNX")]


@pytest.mark.parametrize("question", [
    "Formule un paragraphe motivant le choix d'une solution mutualisée.",
    "Mets en forme une justif pour notre choix de co-développer le moteur de calcul.",
    "Comment tourner, dans la note au DGS, le choix du « faire avec » pour le portail des bourses ?",
    "Une note de justif pour retenir un logiciel libre du SILL pour la GED, merci",
    "Paragraphe pour le rapport de présentation : comment l'offre répond aux objectifs coût et durabilité.",
    "Argumentaire pour le comité d'investissement : pourquoi reprendre Grist plutôt qu'acheter ?",
])
def test_drafting_requests_in_other_words(question: str) -> None:
    assert _a(question).intent == "draft"


def test_english_dates_and_figures_are_claims_checked_in_french() -> None:
    signed = _a("Since the circular was signed on 5 March 2026, which deadlines apply to our tenders?").claims
    assert [c.values for c in signed] == [("5 mars 2026",)]
    assert "march" not in signed[0].terms and "was" not in signed[0].terms  # function words and months are no topic
    count = _a("The circular sets 12 objectives for each purchase, which one comes first?").claims
    assert [c.values for c in count] == [("12 objectifs",)]
    assert [c.values for c in _a("Comme la circulaire fixe douze objectifs, lequel est le plus important ?").claims] \
        == [("12 objectifs",)]
    threshold = _a("Le seuil de saisine de la DINUM est de 5 M€, quand la saisir ?").claims
    assert [c.values for c in threshold] == [("5 m€",)]  # a rule's figure stated as its subject


def test_a_claimed_value_needs_its_own_unit_and_a_date_its_month() -> None:
    date = Claim("signée le 5 mars 2026", "deadline", ("5 mars 2026",), frozenset({"sign"}))
    assert not claim_supported(date, ["La circulaire a été signée le 5 février 2026, en mars au plus tard."], {})
    assert claim_supported(date, ["La circulaire a été signée le 5 mars 2026."], {})
    count = Claim("douze objectifs", "quantity", ("12 objectifs",), frozenset({"object"}))
    assert not claim_supported(count, ["Neuf objectifs ; l'article R. 2152-12 s'applique aux objectifs."], {})
    assert claim_supported(count, ["La circulaire énumère 12 grands objectifs."], {})
    money = Claim("seuil de 5 M€", "quantity", ("5 m€",), frozenset({"seuil"}))
    assert not claim_supported(money, [fold("Seuil : 9 M€ TTC ; 5 % des projets.")], {})
    assert claim_supported(money, [fold("Seuil : 5 millions d'euros.")], {})


def test_a_question_on_whether_to_trust_what_was_read_is_about_what_was_read() -> None:
    a = _a("J'ai lu que la doctrine vaut aussi pour les reconductions de contrats. C'est solide comme info ?")
    assert [p.text for p in a.parts] == ["J'ai lu que la doctrine vaut aussi pour les reconductions de contrats."]
    assert "solid" not in a.subject and "reconduct" in a.subject
    # A question with a subject of its own that does not point back keeps it.
    b = _a("J'ai lu un article sur la réversibilité. Quels délais fixe le Data Act pour changer de cloud ?")
    assert [p.text for p in b.parts] == ["Quels délais fixe le Data Act pour changer de cloud ?"]


def test_a_word_read_through_the_lexicon_leaves_none_of_its_stems_behind() -> None:
    a = analyse("La doctrine a été dévoilée lors de quel événement ?", PROMPTS, GENERIC_STEMS,
                {"devoilee": "présentée annoncée"})
    assert "present" in a.subject and not any(t.startswith("devoil") for t in a.subject), a.subject


def test_the_year_a_rule_is_said_to_start_from_must_sit_next_to_the_rule() -> None:
    claim = _a("Les frais de sortie cloud sont interdits depuis 2024 avec la loi SREN, je refuse la facture ?").claims[0]
    families = {"ban": [r"\binterdi\w*"]}
    far = ("La loi SREN du 21 mai 2024 encadre les frais de sortie du cloud et les crédits cloud, les transferts de "
           "données et l'interopérabilité, sous le contrôle de l'Arcep et avec des plafonds à fixer par arrêté. "
           "À compter du 12 janvier 2027, les frais de changement de fournisseur cloud sont interdits.")
    assert not claim_supported(claim, [fold(far)], families)
    assert claim_supported(claim, [fold("Depuis 2024, la loi SREN : les frais de sortie cloud sont interdits.")], families)


def test_a_confirmation_tag_on_a_date_and_the_frame_of_a_claim() -> None:
    # « …du 15 janvier 2026 » — c'est bien cette date ? asserts the date; the buyer's dash is no follow-up.
    claims = _a("Notre note cite « la circulaire Lecornu du 15 janvier 2026 » — c'est bien cette date ?").claims
    assert [c.values for c in claims] == [("15 janvier 2026",)], claims
    assert _a("Notre note cite « la circulaire du 15 janvier 2026 » — qui l'a signée ?").claims == ()
    # « comment intégrer le volet désormais obligatoire »: the claim is about the volet, not the question's verb.
    claim = _a("Relance du marché : comment intégrer le volet environnemental désormais obligatoire ?").claims[0]
    assert {"integr", "desorm"}.isdisjoint(claim.terms) and "environnemental" in claim.terms, claim
    families = {"obligation": [r"\bobligatoires?\b"]}
    section = fold("Loi Climat : au moins un critère environnemental est obligatoire, et le volet environnemental "
                   "des marchés est renforcé.")
    assert claim_supported(claim, [section], families)


def test_words_pasted_from_a_mail_and_doubted_are_claims_and_the_subject() -> None:
    a = _a("Mail du commercial de l'hébergeur « Nimbo » : « Rassurez-vous, SecNumCloud tolère jusqu'à 49 % de capital "
           "détenu hors UE, nous sommes à 30 %. » Quels sont les vrais plafonds ?")
    assert [c.values for c in a.claims] == [("49 %",)], a.claims  # not the vendor's own « nous sommes à 30 % »
    assert {"secnumcloud", "capital"} <= a.subject and not {"mail", "commercial"} & a.subject, a.subject
    # Pasted but not doubted: the buyer only asks what to do next, nothing is checked.
    assert _a("Mail du commercial : « SecNumCloud tolère jusqu'à 49 % de capital hors UE. » On le transmet à qui ?").claims == ()


def test_the_year_given_to_a_named_text_must_date_it_not_sit_in_a_number() -> None:
    claim = _a("La doctrine « cloud au centre » adoptée en 2019 est-elle toujours applicable ?").claims[0]
    assert claim.kind == "dated_text" and claim.values == ("2019", "cloud au centre"), claim
    in_a_number = fold("Les organismes visés par la doctrine « cloud au centre » sont définis par le décret n° 2019-1088.")
    dated = fold("Doctrine « cloud au centre » de l'État (circulaire n° 6282-SG de 2021, actualisée en 2023)")
    assert not claim_supported(claim, [in_a_number, dated], {})
    right = _a("La doctrine cloud au centre de 2021 est-elle toujours applicable ?").claims[0]
    assert claim_supported(right, [dated], {})


@pytest.mark.parametrize("question", [
    "Il nous faudrait quelques lignes pour la note au préfet sur le choix d'un hébergeur qualifié.",
    "On doit motiver le recours à un progiciel pour la paie, tu nous fais un premier jet ?",
    "Aidez-nous à motiver le recours à un logiciel libre pour la messagerie du rectorat.",
    "Rédiger une note de choix pour l'outil de gestion des stages.",
    "Note svp : pourquoi on retient la solution de l'État pour les réunions à distance.",
    "besoin d'un petit paragraphe pour justifier l'achat d'un progiciel de paie",
    "Notre choix d'un hébergement qualifié pour le fichier des usagers, vous pouvez me l'écrire pour le comité",
])
def test_drafting_requests_in_everyday_words(question: str) -> None:
    assert _a(question).intent == "draft"


@pytest.mark.parametrize("question", [
    "Est-ce qu'on a besoin d'une note de justification pour un marché sans publicité ?",
    "Vous pouvez la faire en procédure adaptée ?",
    "Tu peux me faire un point sur les seuils ?",
    "Peux-tu m'écrire un petit poème pour le départ de ma collègue ?",
    "Paragraphe pour la réversibilité : quel article du CCAG-TIC ?",
])
def test_questions_that_only_mention_writing_are_not_drafting_requests(question: str) -> None:
    assert _a(question).intent == "question"


def test_the_words_of_a_drafting_request_are_not_a_route_nor_what_is_set_aside() -> None:
    # « me la faire », « tu me fais le texte »: the request, not the « faire » (build) route.
    read = read_request("La justification de l'achat d'un progiciel du marché pour la paie, vous pouvez me la faire ?",
                        PROMPTS)
    assert read.route == "sur_etagere"
    assert read_request("Tu me fais le texte pour l'outil de suivi des subventions ?", PROMPTS).route is None
    # What follows « pour » is the purpose, not the alternative set aside by « pas de ».
    read = read_request("Écris pourquoi on ne prend pas de cloud qualifié pour l'application des menus, merci", PROMPTS)
    assert read.object == "application des menus"


def test_an_acronym_written_with_its_version_must_be_known_in_that_version() -> None:
    refs = _a("Le RGSN, référentiel général de souveraineté numérique v1.0, s'impose-t-il aux opérateurs ?").references
    assert [(r.kind, r.keys) for r in refs] == [("version_sigle", ("1.0", "rgsn"))]
    assert not _a("Notre offre est conforme, version 2 comprise ?").references  # a word, not an acronym
    corpus = fold("Le RGAA (version 4.1) s'applique ; le RGS version 2.0 de 2014.")
    rgaa = [r for r in _a("Le RGAA v4.1 s'applique-t-il ?").references if r.kind == "version_sigle"]
    assert rgaa and reference_found(rgaa[0], corpus)
    assert not reference_found(refs[0], corpus)


def test_a_numbered_circular_of_any_author_and_an_english_dated_order_are_references() -> None:
    dinum = _a("La circulaire DINUM n° 2026-07 sur le magasin d'applications impose quoi aux DSI ?").references
    assert [r.keys for r in dinum] == [("2026-07",)]
    order = _a("What scoring grid does the arrêté of 3 September 2026 set for cloud tenders?").references
    assert [r.keys for r in order] == [("3 septembre 2026",)]  # read as the corpus would date it
    assert reference_found(order[0], fold("Arrêté du 3 septembre 2026 relatif à…"))
    assert not reference_found(order[0], fold("Arrêté du 14 avril 2026 relatif à…"))


def test_a_circular_named_by_its_number_and_said_signed_by_someone_is_checked_with_that_number() -> None:
    claims = _a("J'ai lu que la 6519/SG avait été signée par Élisabeth Borne. C'est la même que celle de 2023 ?").claims
    assert [(c.kind, c.values) for c in claims] == [("actor", ("borne", "6519"))]
    assert not claim_supported(claims[0], [fold("La circulaire n° 6404/SG a été signée par Élisabeth Borne.")], {})
    assert claim_supported(claims[0], [fold("La circulaire n° 6519/SG a été signée par Élisabeth Borne.")], {})


def test_anyway_is_not_when_and_a_purchase_named_by_its_noun_is_a_purchase() -> None:
    from assistant.answer.analysis import purchase_context

    a = _a("Petit achat de 25 k€ HT de licences, sans appel d'offres : quelles règles je dois quand même respecter ?")
    assert a.answer_type != "date" and purchase_context(a, PROMPTS)
    assert _a("Quand la circulaire a-t-elle été publiée ?").answer_type == "date"
    # Without an amount, the noun may be what is asked about: the circular on digital purchases.
    assert not purchase_context(_a("Numéro, date et signataire de la circulaire achats numériques ?"), PROMPTS)


def test_the_activity_a_purchased_object_serves_is_context() -> None:
    a = _a("Quelles options examiner pour un SaaS pour la gestion des subventions de la région ?")
    assert {"subvent", "gestion"} <= set(a.context), (a.subject, a.context)
    assert "subvent" not in a.subject
    assert "reversibil" in _a("Quelle solution pour la réversibilité ?").subject


def test_a_second_question_opened_by_qu_est_ce_is_a_part_of_its_own() -> None:
    a = _a("Quel délai fixe le Data Act pour le changement de fournisseur, et qu'est-ce que la loi SREN "
           "interdit sur les frais de transfert ?")
    assert len(a.parts) == 2, [p.text for p in a.parts]


def test_outside_objects_keeps_the_situation_and_drops_what_is_bought() -> None:
    from assistant.answer.analysis import outside_objects

    rest = outside_objects("Un candidat de notre marché de visio a saisi le juge en référé : comment faire ?", PROMPTS)
    assert "refere" in rest and "visio" not in rest
    rest = outside_objects("Notre marché de messagerie a fait l'objet d'un référé : que faire ?", PROMPTS)
    assert "refere" in rest and "messagerie" not in rest  # the object ends at its verb
    assert "associations" not in outside_objects("Quel outil de gestion à destination des associations ?", PROMPTS)


def test_a_sheet_named_by_its_issuer_or_type_before_its_number_is_a_reference() -> None:
    for question, label in (("Que dit la fiche DINUM n° 12 sur les licences ?", "fiche DINUM n° 12"),
                            ("Où trouver la fiche technique DAE n° 17 ?", "fiche technique DAE n° 17"),
                            ("Que dit la fiche n° 7 du guide ?", "fiche n° 7")):
        refs = [r for r in _a(question).references if r.kind == "fiche"]
        assert [r.label for r in refs] == [label], _a(question).references
    assert not reference_found([r for r in _a("la fiche DINUM n° 12 ?").references if r.kind == "fiche"][0],
                               fold("La fiche n° 3 du vade-mecum présente…"))
    # A sheet without a number is no reference; a number that is not one of the sheet is not read as it.
    assert not [r for r in _a("Quelle fiche de poste pour 3 agents ?").references if r.kind == "fiche"]


def test_a_signatory_said_far_from_the_text_and_a_rule_made_mandatory_are_claims() -> None:
    claims = _a("Pour ma note : la circulaire de février 2026 sur les achats numériques a bien été signée par "
                "Élisabeth Borne ?").claims
    assert [(c.kind, c.values) for c in claims] == [("actor", ("borne", "2026"))]
    # « de » + a name stays close to the text: a name far away is not its author.
    assert not _a("La circulaire de février 2026 sur les achats numériques parle-t-elle de Jean Castex ?").claims
    assert [c.kind for c in _a("La circulaire rend obligatoire le logiciel libre pour tous les achats, on retire "
                               "notre produit ?").claims] == ["obligation"]
    assert [c.kind for c in _a("The 2026 circular makes open-source software mandatory for every purchase, "
                               "right?").claims] == ["obligation"]


def test_a_framework_of_the_corpus_stating_a_figure_and_a_carried_extension_are_claims() -> None:
    # A framework of the corpus as the subject of a sentence with a figure asserts that figure.
    claims = _a("SecNumCloud accepte jusqu'à 49 % de capital extra-européen chez le prestataire, donc un cloud "
                "détenu à 45 % par un fonds américain reste qualifiable ?").claims
    assert [(c.kind, c.values) for c in claims] == [("quantity", ("49 %",))]
    assert not _a("Quel pourcentage de capital extra-européen SecNumCloud accepte-t-il ?").claims
    # « depuis la doctrine » governs the next clause, and so does the extension it carries.
    claims = _a("Mon DSI dit que depuis la doctrine toutes nos applis, même sans données sensibles, doivent être "
                "hébergées en SecNumCloud. On a combien de temps pour migrer ?").claims
    assert [(c.kind, c.extended) for c in claims] == [("obligation", True)]
    assert claims[0].text == "doivent être hébergées en SecNumCloud"


def test_a_figure_lent_to_a_rule_anywhere_in_the_sentence_is_a_claim() -> None:
    # « au-dessus du seuil de 5 M€ » lends the threshold a value, though the sentence is about the buyer's project.
    claims = _a("Notre portail coûte 6 M€ TTC, donc au-dessus du seuil de 5 M€ de saisine de la DINUM : "
                "comment la saisir ?").claims
    assert [(c.kind, c.values) for c in claims] == [("quantity", ("5 m€",))]
    claims = _a("Le seuil de dispense pour les services est passé à 90 000 € HT, on commande en direct ?").claims
    assert [c.values for c in claims] == [("90 000 €",)]
    # The buyer's own amounts lend nothing to a rule.
    assert not _a("Notre marché de supervision fait 80 000 € HT : quelle procédure ?").claims


def test_a_year_dates_a_rule_only_in_the_rules_own_sentence() -> None:
    claim = _a("Les frais de sortie cloud sont interdits depuis septembre 2025 avec le Data Act, on refuse la facture ?").claims[0]
    assert (claim.kind, claim.values) == ("ban", ("2025",))
    ban = {"ban": [r"\binterdi\w*"]}
    timeline = ("Le Data Act : frais de sortie cloud.\n- 12 septembre 2025 : le Data Act s'applique.\n"
                "- 12 janvier 2027 : les frais de changement sont interdits.")
    assert not claim_supported(claim, [timeline], ban)
    assert claim_supported(claim, ["Depuis septembre 2025, le Data Act interdit les frais de sortie cloud."], ban)


def test_who_signed_a_text_is_said_in_one_sentence_with_the_signature() -> None:
    claim = _a("La circulaire 6519/SG a été signée par Anne Le Hénanff, je la cite ainsi ?").claims[0]
    assert claim.kind == "actor"
    section = ("La circulaire n° 6519/SG est signée par le Premier ministre. Anne Le Hénanff a présenté la "
               "circulaire 6519/SG à la presse.")
    assert not claim_supported(claim, [section], {})
    assert claim_supported(claim, ["La circulaire n° 6519/SG est signée par Anne Le Hénanff."], {})


def test_the_object_of_a_drafting_request_is_not_the_request_itself() -> None:
    # « on retient X »: a conjugated choice verb names the object; without one, the request that opens the
    # message (« Pouvez-vous me rédiger le paragraphe de justification : ») is no part of the object.
    read = read_request("Pouvez-vous me rédiger le paragraphe de justification : pour la visio de notre direction on "
                        "retient Visio de la DINUM (solution mutualisée) plutôt qu'une offre du marché.", PROMPTS)
    assert read.object == "Visio de la DINUM (solution mutualisée)"
    read = read_request("Rédigez-moi la note : nous avons comparé trois offres de messagerie.", PROMPTS)
    assert read.object == "nous avons comparé trois offres de messagerie"
