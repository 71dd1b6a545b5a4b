"""Synthetic French procurement corpora of any size, for crash tests and benchmarks."""

from __future__ import annotations

import random
from pathlib import Path

SUBJECTS = ["L'acheteur", "Le pouvoir adjudicateur", "Le titulaire", "La direction des achats", "Le prestataire",
            "Le ministère", "L'opérateur", "Le service utilisateur", "La DSI", "Le comité de pilotage"]
VERBS = ["vérifie", "documente", "exige", "examine", "formalise", "contrôle", "précise", "justifie", "évalue", "prévoit"]
OBJECTS = ["la réversibilité des données", "le plan de sortie", "la qualification de l'hébergement",
           "le coût complet sur le cycle de vie", "l'interopérabilité des formats", "la maintenance corrective",
           "la disponibilité du service", "la sécurité des accès", "la localisation des données",
           "l'accessibilité des interfaces", "la sobriété énergétique", "les clauses de propriété intellectuelle",
           "les niveaux de service", "la traçabilité des sous-traitants", "le transfert de compétences"]
CONTEXTS = ["avant la notification du marché", "pendant l'exécution du contrat", "lors de la phase de sourcing",
            "dans le cahier des charges", "au moment de l'analyse des offres", "à l'échéance du marché",
            "dans le rapport de présentation", "lors de la reconduction", "pour chaque lot", "en cas de litige"]


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(CONTEXTS)} (réf. {rng.randint(1, 99999)})."


def write_synthetic_corpus(folder: Path, n_passages: int, seed: int = 7, per_doc: int = 50) -> Path:
    """About ``n_passages`` passages: documents of ``per_doc`` two-sentence paragraphs.

    The chunker packs up to three sentences with one of overlap, so a two-sentence paragraph
    gives about one passage per sentence: ``n_passages / (2 * per_doc)`` documents.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    n_docs = max(1, n_passages // (2 * per_doc))
    for d in range(n_docs):
        lines = [
            "---", f"id: synth-{d:05d}", f'title: "Document synthétique {d}"', "kind: guide",
            'authority: "Banc d\'essai"', "date: 2025-01-01", "sources:", "  - url: https://example.org/synth",
            "    confidence: infere", "---", "",
        ]
        for s in range(per_doc):
            if s % 10 == 0:
                lines += [f"## Section {s // 10}", ""]
            lines += [f"{sentence(rng)} {sentence(rng)}", ""]
        (folder / f"synth-{d:05d}.md").write_text("\n".join(lines), encoding="utf-8")
    return folder
