"""``doctrine eval``: run the evaluation cases, write the reports, gate on thresholds.

Exit codes: 0 thresholds met (or none asked), 1 thresholds missed, 2 unusable input
(case file, thresholds, missing index, judge without endpoint).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from assistant.cli.output import console, fail
from assistant.cli.progress import progress_bar, step_callback
from assistant.config import Settings

ANSWER_PREVIEW_CHARS = 400


def _print_failed(report, limit: int) -> None:  # noqa: ANN001 - EvalReport
    from assistant.evaluation.report import set_order

    out = Console(highlight=False, soft_wrap=True)
    for name in set_order(report):
        if "/" in name:
            continue  # batches are listed under their blind set
        failed = report.failed_cases("ours", name)
        out.print(f"\n[bold]Cas en échec — jeu « {escape(name)} » (notre pipeline) : "
                  f"{len(failed)} / {len(report.results_in('ours', name))}[/]")
        for r in failed[:limit]:
            out.print(f"\n[bold]{escape(r.case_id)}[/] ({r.kind}{', ' + r.oos_type if r.oos_type else ''}) — "
                      f"{escape(r.question)}")
            for reason in r.reasons:
                out.print(f"  [red]•[/] {escape(reason)}")
            answer = " ".join((r.answer or "(vide)").split())
            if len(answer) > ANSWER_PREVIEW_CHARS:
                answer = answer[:ANSWER_PREVIEW_CHARS] + " […]"
            out.print(f"  [dim]Réponse ({'refus' if r.refused else r.generator or 'réponse'}) :[/] {escape(answer)}")
        if len(failed) > limit:
            out.print(f"\n… et {len(failed) - limit} autre(s) : voir report.md.")


def eval_command(
    cases: Annotated[Path | None, typer.Option(
        "--cases", help="Fichier ou dossier de cas (défaut : evals/cases, jeux dev et blind côte à côte).")] = None,
    compare: Annotated[bool, typer.Option(
        "--compare", help="Comparer avec BM25 seul, dense seul et un pipeline LangChain naïf.")] = False,
    embedding: Annotated[list[str] | None, typer.Option(
        "--compare-embedding", help="Comparer aussi notre pipeline avec un autre modèle d'embedding "
        "(ex. sentence-transformers:/chemin/du/modele), sur un index temporaire (répétable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Imprimer le rapport JSON sur la sortie standard.")]
    = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Dossier du rapport (défaut : evals/reports/<horodatage>/).")] = None,
    fail_under: Annotated[list[str] | None, typer.Option(
        "--fail-under", help="Seuil minimal métrique=valeur (répétable), ex. hit@5=0.9 : code de sortie 1 si manqué.",
    )] = None,
    gate: Annotated[bool, typer.Option(
        "--gate", help="Échouer (code 1) si les seuils du fichier de seuils ne sont pas atteints.")] = False,
    thresholds: Annotated[Path | None, typer.Option(
        "--thresholds", help="Fichier de seuils (défaut : evals/thresholds.yaml).")] = None,
    judge: Annotated[bool, typer.Option(
        "--judge", help="Noter aussi fidélité et exactitude avec le LLM configuré (désactivé par défaut).")] = False,
    llm: Annotated[bool, typer.Option(
        "--llm", help="Répondre avec le LLM configuré plutôt qu'avec le générateur extractif.")] = False,
    show_failed: Annotated[int, typer.Option("--show-failed", min=0, help="Nombre de cas en échec affichés.")] = 20,
    baseline_sample: Annotated[int, typer.Option(
        "--baseline-sample", min=1, help="Avec --compare : les références ne répondent qu'à un cas blind sur N "
        "(choisi par une empreinte stable de son identifiant) ; tous les cas dev. 1 = tous (défaut).")] = 1,
) -> None:
    """Évaluer l'assistant sur les cas de référence (hors ligne) et écrire les rapports."""
    from assistant.evaluation import (
        CaseError,
        ThresholdError,
        default_thresholds_path,
        load_thresholds,
        parse_fail_under,
        run_evaluation,
    )
    from assistant.evaluation.judge import JudgeUnavailable
    from assistant.evaluation.report import summary_tables
    from assistant.index.errors import IndexError_
    from assistant.pipeline import get_pipeline

    settings = Settings()
    try:
        extra = parse_fail_under(fail_under or [])
        limits = load_thresholds(thresholds or default_thresholds_path(settings))
        if thresholds is not None and not thresholds.is_file():
            raise ThresholdError(f"fichier de seuils introuvable : {thresholds}")
    except ThresholdError as exc:
        raise fail(exc, 2) from exc
    if judge and not settings.llm_enabled:
        raise fail("--judge demande un LLM : DOCTRINE_LLM_BASE_URL et DOCTRINE_LLM_MODEL", 2)
    if llm and not settings.llm_enabled:
        raise fail("--llm demande DOCTRINE_LLM_BASE_URL et DOCTRINE_LLM_MODEL", 2)

    try:
        with progress_bar(transient=True) as bar:
            pipeline = get_pipeline(settings)
            report = run_evaluation(settings, cases, compare, out, step_callback(bar, "Évaluation"), judge=judge,
                                    use_llm=llm, thresholds=limits, extra_thresholds=extra,
                                    reader=pipeline.reader, llm=pipeline.llm, embeddings=tuple(embedding or ()),
                                    baseline_sample=baseline_sample)
    except (CaseError, IndexError_, JudgeUnavailable) as exc:
        raise fail(exc, 2) from exc

    if as_json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for table in summary_tables(report):
            Console().print(table)
        _print_failed(report, show_failed)
    for warning in report.warnings:
        console.print(f"[yellow]Avertissement :[/] {escape(warning)}")
    console.print(f"Rapports : {escape(str(report.out_dir))}/report.html (et report.md, report.json)")

    checks = report.checks
    gating = {f"{m} >= {v:g}" for m, v in extra.items()}
    enforced = [c for c in checks if gate or (c["name"] in gating and c["set"] == report.primary)]
    missed = [c for c in enforced if not c["passed"]]
    if gate and not [c for c in checks if not c["skipped"]]:
        raise fail("--gate : aucun seuil ne s'applique aux jeux évalués (voir le fichier de seuils)", 1)
    for c in checks:
        if c["skipped"]:
            console.print(f"[dim]Seuil ignoré : {escape(c['name'])} ({escape(c['message'])})[/]")
        elif not c["passed"]:
            style = "bold red" if c in missed else "yellow"
            console.print(f"[{style}]Seuil non atteint :[/] {escape(c['message'])}")
    if missed:
        raise typer.Exit(1)
