"""Misspelt words read as the corpus word they stand for; words of their own are left alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer.analysis import french_words
from assistant.answer.spelling import build_speller, correction, phonetic_key, respell
from assistant.pipeline import Pipeline

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
_CORPUS = [
    "La doctrine d'achat numérique fixe des objectifs ; les solutions numériques sont comparées.",
    "La migration des données et la réversibilité du contrat. Les familles de données sensibles.",
    "La commission d'appel d'offres ; la défense nationale ; la CNIL.",
]


@pytest.fixture(scope="module")
def speller():  # noqa: ANN201
    return build_speller(_CORPUS)


def test_a_typo_is_read_as_the_corpus_word_it_stands_for(speller) -> None:  # noqa: ANN001
    assert phonetic_key("numerik") == phonetic_key("numerique") == phonetic_key("numeriques")
    assert correction("numerik", speller) == "numérique"  # sounds the same
    assert correction("migrtion", speller) == "migration"  # a letter missing
    assert correction("commmission", speller) == "commission"  # a letter too many
    assert correction("reversiblité", speller) == "réversibilité"  # two letters swapped
    assert respell("les objectifs de l'achat numerik ?", speller) == "les objectifs de l'achat numérique ?"


def test_words_of_their_own_are_left_as_typed(speller) -> None:  # noqa: ANN001
    known = french_words(PROMPTS)
    assert correction("failles", speller, known) is None  # a French word, not « familles »
    assert correction("dépense", speller) is None  # a letter replaced: « dépense » is not « défense »
    assert correction("Numerik", speller) is None  # a name the buyer gives
    assert correction("numériques", speller) is None  # a form of a corpus word
    assert correction("CNIL", speller) is None and correction("nation", speller) is None


@pytest.mark.parametrize("question", [
    "interoperabilitée des logiciels achetés ?",
    "objectif durabilitée circulaire",
])
def test_a_misspelt_subject_is_answered_not_refused(pipeline: Pipeline, question: str) -> None:
    assert not pipeline.chain.invoke(question).refused
