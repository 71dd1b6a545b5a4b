"""Evaluation reports: report.json (everything), report.md and a self-contained report.html (both from
Jinja templates in ``templates/``, figures embedded as base64 PNG), the Rich summary for the terminal,
and ``latest_report`` for the app's Quality tab.

One view (``report_view``) feeds the three renderings, so they always show the same tables: each set
side by side for every system, the dev − blind gap, the paired comparisons with their intervals,
per-kind and per-out-of-scope-type tables, the threshold checks, and the failed cases with answers.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from assistant.evaluation.cases import BLIND_SET
from assistant.evaluation.paired import CONFIDENCE
from assistant.evaluation.plots import KIND_LABELS, OOS_LABELS, report_figures
from assistant.evaluation.results import OURS, EvalReport, SetInfo
from assistant.evaluation.scoring import KIND_METRICS, METRICS, OOS_METRICS, SUMMARY_METRICS
from assistant.fileio import atomic_write_text

REPORT_FILES = ("report.json", "report.md", "report.html")
SETTINGS_SHOWN = ("retrieval_mode", "dense_weight", "k", "candidates", "embedding", "gate", "llm_model")
SYSTEM_TABLE_METRICS = ("hit@5", "mrr@10", "fact_coverage", "lead_fact", "citation_validity", "refusal_precision",
                        "refusal_recall", "false_refusal_rate", "premise_handled", "latency_p50_ms")
GAP_METRICS = ("hit@5", "mrr@10", "fact_coverage", "refusal_precision", "refusal_recall", "false_refusal_rate")
ANSWER_CHARS_MD = 1500
_TEMPLATES = Path(__file__).resolve().parent / "templates"
FIGURE_CAPTIONS = {
    "sets": "Jeux de cas côte à côte (dev / blind)", "metrics_by_kind": "Métriques par type de cas (jeu principal)",
    "hit_curve": "Succès @k (documents, jeu principal)", "latency": "Distribution des latences",
}


def fmt(metric: str, value: Any, *, signed: bool = False) -> str:
    """A metric as shown: 3 decimals for ratios, none for milliseconds; ``signed`` for differences."""
    if value is None:
        return "—"
    info = METRICS.get(metric)
    sign = "+" if signed else ""
    if info is not None and not info.percent:
        return f"{value:{sign}.0f}"
    return f"{value:{sign}.3f}"


def fmt_delta(metric: str, value: Any) -> str:
    return fmt(metric, value, signed=True)


def label(metric: str) -> str:
    info = METRICS.get(metric)
    return info.label if info else metric


def shown_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings a report shows, nested values flattened (``gate.min_dense``)."""
    shown: dict[str, Any] = {}
    for key in SETTINGS_SHOWN:
        value = settings.get(key)
        if isinstance(value, dict):
            shown |= {f"{key}.{k}": v for k, v in value.items()}
        elif value is not None:
            shown[key] = value
    return shown


def _tone(metric: str, value: float | None) -> str:
    """``pos`` when the difference favours us, ``neg`` when it does not (for colouring)."""
    if value is None or value == 0:
        return ""
    better = value > 0 if METRICS.get(metric, METRICS["hit@5"]).higher_is_better else value < 0
    return "pos" if better else "neg"


def system_label(report: EvalReport, system: str, info: SetInfo) -> str:
    """The system's name, with the number of cases it answered when it answered only part of the set
    (baselines on a sample of the blind set, ``baseline_sample``)."""
    answered = len(report.results_in(system, info.name))
    return system if answered == len(info.case_ids) else f"{system} ({answered} cas)"


def set_order(report: EvalReport) -> list[str]:
    """Blind sets first where failures are listed: they are the ones that tell the truth."""
    return sorted(report.set_names, key=lambda n: (not n.startswith(BLIND_SET), report.set_names.index(n)))


def report_view(report: EvalReport, figures: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Everything the templates show, already formatted (strings), in display order."""
    metrics = SUMMARY_METRICS + (("judge_faithfulness", "judge_correctness") if report.judge else ())
    sets = []
    for info in report.sets:
        sets.append({
            "name": info.name, "path": info.path, "n": len(info.case_ids),
            "kinds": ", ".join(f"{KIND_LABELS.get(k, k)} {n}" for k, n in info.kinds.items()),
            "oos_types": ", ".join(f"{OOS_LABELS.get(k, k)} {n}" for k, n in info.oos_types.items()),
            "systems": [
                {"name": system_label(report, s.name, info), "label": s.label, "ours": s.name == OURS,
                 "cells": [fmt(m, s.set_metrics(info.name).get(m)) for m in metrics]}
                for s in report.systems
            ],
            "paired": [
                {"baseline": base, "metric": m, "label": label(m), "ours": fmt(m, d.ours), "other": fmt(m, d.other),
                 "delta": fmt_delta(m, d.delta), "tone": _tone(m, d.delta), "cases": d.cases,
                 "interval": "—" if d.low is None else f"[{d.low:+.3f} ; {d.high:+.3f}]",
                 "beyond_noise": d.low is not None and (d.low > 0 or (d.high or 0) < 0)}
                for base, row in report.paired.get(info.name, {}).items() for m, d in row.items()
            ],
            "by_kind": [
                {"kind": KIND_LABELS.get(k, k), "n": v["counts"]["cases"], "cells": [fmt(m, v.get(m)) for m in KIND_METRICS]}
                for k, v in report.ours.sets.get(info.name, {}).get("by_kind", {}).items()
            ],
            "by_oos": [
                {"type": OOS_LABELS.get(t, t), "n": v["counts"]["cases"],
                 "cells": [fmt(m, (s.sets.get(info.name, {}).get("by_oos_type", {}).get(t) or {}).get(m))
                           for s in report.systems for m in OOS_METRICS]}
                for t, v in report.ours.sets.get(info.name, {}).get("by_oos_type", {}).items()
            ],
        })
    gaps = report.gaps()
    failed = []
    for name in set_order(report):
        if name.startswith(f"{BLIND_SET}/"):
            continue  # its cases are listed under "blind"
        results = report.failed_cases(OURS, name)
        failed.append({
            "set": name, "count": len(results), "total": len(report.results_in(OURS, name)),
            "cases": [
                {"id": r.case_id, "kind": KIND_LABELS.get(r.kind, r.kind),
                 "oos_type": OOS_LABELS.get(r.oos_type or "", r.oos_type or ""), "question": r.question,
                 "reasons": r.reasons, "answer": r.answer or "(vide)",
                 "answer_short": (r.answer or "(vide)")[:ANSWER_CHARS_MD]
                 + (" […]" if len(r.answer or "") > ANSWER_CHARS_MD else ""),
                 "mode": "refus" if r.refused else (r.generator or "réponse"),
                 "docs": ", ".join(r.retrieved_docs[:5]) or "—"}
                for r in results
            ],
        })
    figures = figures if figures is not None else report_figures(report)
    return {
        "created_at": report.created_at, "runtime": f"{report.runtime_s:.1f}", "n_cases": report.n_cases,
        "index": f"{report.index_generation} · corpus {report.corpus_version}",
        "settings": ", ".join(f"{k} = {v}" for k, v in shown_settings(report.settings).items()),
        "passed": report.passed, "compare": report.compare, "confidence": f"{CONFIDENCE:.0%}",
        "metric_labels": [label(m) for m in metrics],
        "kind_labels": [label(m) for m in KIND_METRICS],
        "oos_headers": [f"{s.name} · {label(m)}" for s in report.systems for m in OOS_METRICS],
        "sets": sets,
        "gap_labels": [label(m) for m in GAP_METRICS],
        "gaps": [{"system": name, "cells": [fmt_delta(m, row.get(m)) for m in GAP_METRICS]}
                 for name, row in gaps.items()],
        "checks": [
            {"set": c.get("set", ""), "name": c["name"], "message": c["message"],
             "status": "ignoré" if c["skipped"] else ("OK" if c["passed"] else "ÉCHEC"),
             "css": "skip" if c["skipped"] else ("ok" if c["passed"] else "ko")}
            for c in report.checks
        ],
        "warnings": report.warnings,
        "failed": failed,
        "figures": [{"caption": FIGURE_CAPTIONS.get(k, k), "data": base64.b64encode(png).decode("ascii")}
                    for k, png in figures.items()],
    }


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(["html"]) if autoescape else False,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def render_html(report: EvalReport, figures: dict[str, bytes] | None = None) -> str:
    return _environment(True).get_template("report.html.j2").render(v=report_view(report, figures))


def render_markdown(report: EvalReport) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    env = _environment(False)
    env.filters["cell"] = cell
    return env.get_template("report.md.j2").render(v=report_view(report, figures={}))


def write_report(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    """Write the three report files (report.json last: its presence marks a complete report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report.out_dir = str(out_dir)
    paths = {name: out_dir / name for name in REPORT_FILES}
    atomic_write_text(paths["report.md"], render_markdown(report))
    atomic_write_text(paths["report.html"], render_html(report))
    atomic_write_text(paths["report.json"], json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    return paths


def latest_report(reports_dir: Path | str) -> dict[str, Any] | None:
    """The newest complete report under ``reports_dir`` (as report.json's dict, plus its file paths), or None."""
    root = Path(reports_dir)
    if not root.is_dir():
        return None
    candidates = [p for p in root.iterdir() if p.is_dir() and (p / "report.json").is_file()]
    candidates.sort(key=lambda p: ((p / "report.json").stat().st_mtime, p.name), reverse=True)
    for folder in candidates:
        try:
            data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "systems" not in data or data.get("schema") != 2:
            continue
        data["report_dir"] = str(folder)
        data["files"] = {name: str(folder / name) for name in REPORT_FILES if (folder / name).is_file()}
        return data
    return None


# ---------------------------------------------------------------- terminal


SHORT = {"hit@5": "hit@5", "mrr@10": "MRR", "fact_coverage": "couv.", "lead_fact": "en tête", "citation_validity": "cit.",
         "refusal_precision": "P refus", "refusal_recall": "R refus", "false_refusal_rate": "refus à tort",
         "premise_handled": "prémisses", "latency_p50_ms": "p50 ms", "judge_faithfulness": "fidélité",
         "judge_correctness": "exactitude", "decision_accuracy": "décision"}


def summary_tables(report: EvalReport) -> list[Any]:
    """Rich tables for the terminal: per set, the systems side by side and the paired comparisons
    (difference and its interval); then the dev − blind gap."""
    from rich.table import Table

    shown = SYSTEM_TABLE_METRICS + (("judge_faithfulness", "judge_correctness") if report.judge else ())
    tables = []
    for info in report.sets:
        table = Table(title=f"Jeu « {info.name} » — {len(info.case_ids)} cas", title_style="bold")
        table.add_column("Système")
        for m in shown:
            table.add_column(SHORT.get(m, m), justify="right")
        for s in report.systems:
            table.add_row(system_label(report, s.name, info), *[fmt(m, s.set_metrics(info.name).get(m)) for m in shown],
                          style="bold" if s.name == OURS else None)
        tables.append(table)
        rows = report.paired.get(info.name, {})
        if rows:
            paired = Table(title=f"« {info.name} » : nous − référence, IC {CONFIDENCE:.0%} apparié", title_style="dim")
            paired.add_column("Référence")
            metrics = list(dict.fromkeys(m for row in rows.values() for m in row))
            for m in metrics:
                paired.add_column(SHORT.get(m, m), justify="right")
            for base, row in rows.items():
                cells = []
                for m in metrics:
                    d = row.get(m)
                    if d is None or d.delta is None or d.low is None:
                        cells.append("—")
                        continue
                    color = {"pos": "green", "neg": "red"}.get(_tone(m, d.delta), "white")
                    cells.append(f"[{color}]{fmt_delta(m, d.delta)}[/] [{d.low:+.2f};{d.high:+.2f}]")
                paired.add_row(base, *cells)
            tables.append(paired)
    gaps = report.gaps()
    if gaps:
        table = Table(title="Écart dev − blind (ce que le jeu de développement flatte)", title_style="bold")
        table.add_column("Système")
        for m in GAP_METRICS:
            table.add_column(SHORT.get(m, m), justify="right")
        for name, row in gaps.items():
            table.add_row(name, *[fmt_delta(m, row.get(m)) for m in GAP_METRICS])
        tables.append(table)
    return tables


def summary_table(report: EvalReport):  # noqa: ANN201 - rich Group of tables
    from rich.console import Group

    return Group(*summary_tables(report))
