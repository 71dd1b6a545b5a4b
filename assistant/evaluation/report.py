"""Evaluation reports: report.json (everything), report.md, a self-contained report.html (figures
embedded as base64 PNG), the Rich summary table, and ``latest_report`` for the app's Quality tab."""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import Any

from assistant.evaluation.plots import KIND_LABELS, report_figures
from assistant.evaluation.runner import EvalReport
from assistant.evaluation.scoring import KIND_METRICS, METRICS, SUMMARY_METRICS

REPORT_FILES = ("report.json", "report.md", "report.html")
SETTINGS_SHOWN = ("retrieval_mode", "dense_weight", "k", "candidates", "min_dense_score", "min_term_overlap",
                  "embedding", "llm_model")
SYSTEM_TABLE_METRICS = ("hit@5", "mrr@10", "ndcg@10", "fact_coverage", "citation_validity", "refusal_precision",
                        "refusal_recall", "latency_p50_ms", "latency_p95_ms")
ANSWER_CHARS_MD = 1500


def fmt(metric: str, value: Any) -> str:
    if value is None:
        return "—"
    info = METRICS.get(metric)
    if info is not None and not info.percent:
        return f"{value:.0f}"
    return f"{value:.3f}"


def fmt_delta(metric: str, value: Any) -> str:
    if value is None:
        return "—"
    info = METRICS.get(metric)
    if info is not None and not info.percent:
        return f"{value:+.0f}"
    return f"{value:+.3f}"


def _label(metric: str) -> str:
    info = METRICS.get(metric)
    return info.label if info else metric


def _summary_metrics(report: EvalReport) -> tuple[str, ...]:
    extra = ("judge_faithfulness", "judge_correctness") if report.judge else ()
    return SUMMARY_METRICS + extra


# ---------------------------------------------------------------- markdown


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: EvalReport) -> str:
    ours = report.ours
    parts = [
        "# Rapport d'évaluation — Doctrine",
        "",
        f"- Date : {report.created_at} · durée : {report.runtime_s:.1f} s",
        f"- Cas : {report.n_cases} ({', '.join(f'{KIND_LABELS.get(k, k)} {n}' for k, n in report.kinds.items())})"
        f" — `{report.cases_path}`",
        f"- Index : {report.index_generation} · corpus {report.corpus_version}",
        "- Réglages : " + ", ".join(f"{k} = {report.settings.get(k)}" for k in SETTINGS_SHOWN
                                    if report.settings.get(k) is not None),
        f"- Seuils : {'tous atteints' if report.passed else 'NON ATTEINTS'}",
        "",
        "## Synthèse",
        "",
    ]
    metrics = _summary_metrics(report)
    parts.append(_md_table(
        ["Système", *[_label(m) for m in metrics]],
        [[f"{s.name} — {s.label}", *[fmt(m, s.metrics.get(m)) for m in metrics]] for s in report.systems],
    ))
    if report.deltas:
        parts += ["", "## Écarts (nous − référence)", ""]
        parts.append(_md_table(
            ["Référence", *[_label(m) for m in metrics]],
            [[base, *[fmt_delta(m, row.get(m)) for m in metrics]] for base, row in report.deltas.items()],
        ))
    parts += ["", "## Par type de cas (notre pipeline)", ""]
    parts.append(_md_table(
        ["Type", "Cas", *[_label(m) for m in KIND_METRICS]],
        [[KIND_LABELS.get(k, k), str(v["counts"]["cases"]), *[fmt(m, v.get(m)) for m in KIND_METRICS]]
         for k, v in ours.by_kind.items()],
    ))
    if report.checks:
        parts += ["", "## Seuils", ""]
        parts.append(_md_table(
            ["Contrôle", "Résultat", "Détail"],
            [[c["name"], "ignoré" if c["skipped"] else ("OK" if c["passed"] else "ÉCHEC"), c["message"]]
             for c in report.checks],
        ))
    if report.warnings:
        parts += ["", "## Avertissements", ""] + [f"- {w}" for w in report.warnings]
    failed = report.failed_cases()
    parts += ["", f"## Cas en échec (notre pipeline) : {len(failed)} / {len(ours.results)}", ""]
    for r in failed:
        answer = r.answer if len(r.answer) <= ANSWER_CHARS_MD else r.answer[:ANSWER_CHARS_MD] + " […]"
        parts += [
            f"### {r.case_id} ({KIND_LABELS.get(r.kind, r.kind)})",
            "",
            f"**Question :** {r.question}",
            "",
            *[f"- {reason}" for reason in r.reasons],
            "",
            f"**Réponse donnée** ({'refus' if r.refused else r.generator or 'réponse'}) :",
            "",
            "\n".join(f"> {line}" for line in (answer or "(vide)").splitlines()) or "> (vide)",
            "",
        ]
    parts += ["", "Figures : voir report.html.", ""]
    return "\n".join(parts)


# ---------------------------------------------------------------- html

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Marianne,Arial,sans-serif;margin:2rem auto;max-width:1200px;
color:#161616;padding:0 1rem}
h1{color:#000091}h2{border-bottom:2px solid #000091;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #ddd;padding:.3rem .5rem;
text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f0f0ff}
.ok{color:#18753c;font-weight:600}.ko{color:#ce0500;font-weight:600}.skip{color:#666}
.pos{color:#18753c}.neg{color:#ce0500}figure{display:inline-block;margin:.5rem}img{max-width:100%}
details{border:1px solid #ddd;border-radius:4px;margin:.4rem 0;padding:.4rem .7rem}summary{cursor:pointer}
pre{white-space:pre-wrap;background:#f6f6f6;padding:.6rem;border-radius:4px}ul.meta{list-style:none;padding:0}
"""


def _h(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_h(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _delta_cell(metric: str, value: Any) -> str:
    if value is None:
        return "—"
    better = value > 0 if METRICS.get(metric, METRICS["hit@5"]).higher_is_better else value < 0
    css = "pos" if better else ("neg" if value != 0 else "")
    return f'<span class="{css}">{_h(fmt_delta(metric, value))}</span>'


def render_html(report: EvalReport, figures: dict[str, bytes] | None = None) -> str:
    figures = figures if figures is not None else report_figures(report)
    ours = report.ours
    metrics = _summary_metrics(report)
    status = '<span class="ok">tous atteints</span>' if report.passed else '<span class="ko">NON ATTEINTS</span>'
    out = [
        "<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<title>Rapport d'évaluation — {_h(report.created_at)}</title><style>{_CSS}</style></head><body>",
        "<h1>Rapport d'évaluation — Doctrine</h1><ul class=\"meta\">",
        f"<li>Date : {_h(report.created_at)} · durée : {report.runtime_s:.1f} s</li>",
        f"<li>Cas : {report.n_cases} — "
        + _h(", ".join(f"{KIND_LABELS.get(k, k)} {n}" for k, n in report.kinds.items())) + "</li>",
        f"<li>Index : {_h(report.index_generation)} · corpus {_h(report.corpus_version)}</li>",
        "<li>Réglages : " + _h(", ".join(f"{k} = {report.settings.get(k)}" for k in SETTINGS_SHOWN
                                          if report.settings.get(k) is not None)) + "</li>",
        f"<li>Seuils : {status}</li></ul>",
        "<h2>Synthèse</h2>",
        _html_table(["Système", *[_label(m) for m in metrics]],
                    [[f"<b>{_h(s.name)}</b><br><small>{_h(s.label)}</small>",
                      *[_h(fmt(m, s.metrics.get(m))) for m in metrics]] for s in report.systems]),
    ]
    if report.deltas:
        out += ["<h2>Écarts (nous − référence)</h2>",
                _html_table(["Référence", *[_label(m) for m in metrics]],
                            [[_h(b), *[_delta_cell(m, row.get(m)) for m in metrics]]
                             for b, row in report.deltas.items()])]
    out.append("<h2>Figures</h2>")
    captions = {"metrics_by_kind": "Métriques par type de cas", "hit_curve": "Succès @k (documents)",
                "latency": "Distribution des latences"}
    for key, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        out.append(f'<figure><img alt="{_h(captions.get(key, key))}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{_h(captions.get(key, key))}</figcaption></figure>")
    out += ["<h2>Par type de cas (notre pipeline)</h2>",
            _html_table(["Type", "Cas", *[_label(m) for m in KIND_METRICS]],
                        [[_h(KIND_LABELS.get(k, k)), str(v["counts"]["cases"]),
                          *[_h(fmt(m, v.get(m))) for m in KIND_METRICS]] for k, v in ours.by_kind.items()])]
    if report.checks:
        rows = []
        for c in report.checks:
            css, word = ("skip", "ignoré") if c["skipped"] else (("ok", "OK") if c["passed"] else ("ko", "ÉCHEC"))
            rows.append([_h(c["name"]), f'<span class="{css}">{word}</span>', _h(c["message"])])
        out += ["<h2>Seuils</h2>", _html_table(["Contrôle", "Résultat", "Détail"], rows)]
    if report.warnings:
        out += ["<h2>Avertissements</h2><ul>", *[f"<li>{_h(w)}</li>" for w in report.warnings], "</ul>"]
    failed = report.failed_cases()
    out.append(f"<h2>Cas en échec (notre pipeline) : {len(failed)} / {len(ours.results)}</h2>")
    for r in failed:
        reasons = "".join(f"<li>{_h(x)}</li>" for x in r.reasons)
        kind = "refus" if r.refused else (r.generator or "réponse")
        out.append(
            f"<details><summary><b>{_h(r.case_id)}</b> ({_h(KIND_LABELS.get(r.kind, r.kind))}) — {_h(r.question)}"
            f"</summary><ul>{reasons}</ul><p>Réponse donnée ({_h(kind)}) :</p><pre>{_h(r.answer or '(vide)')}</pre>"
            f"<p><small>Documents retrouvés : {_h(', '.join(r.retrieved_docs[:5]) or '—')}</small></p></details>"
        )
    out.append("</body></html>")
    return "\n".join(out)


# ---------------------------------------------------------------- files


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(report: EvalReport, out_dir: Path) -> dict[str, Path]:
    """Write the three report files (report.json last: its presence marks a complete report)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report.out_dir = str(out_dir)
    paths = {name: out_dir / name for name in REPORT_FILES}
    _atomic_write(paths["report.md"], render_markdown(report))
    _atomic_write(paths["report.html"], render_html(report))
    _atomic_write(paths["report.json"], json.dumps(report.to_json(), ensure_ascii=False, indent=1))
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
        if not isinstance(data, dict) or "systems" not in data:
            continue
        data["report_dir"] = str(folder)
        data["files"] = {name: str(folder / name) for name in REPORT_FILES if (folder / name).is_file()}
        return data
    return None


# ---------------------------------------------------------------- terminal


def summary_table(report: EvalReport):  # noqa: ANN201 - rich.table.Table
    """Systems side by side (and deltas under each baseline), for the terminal."""
    from rich.table import Table

    table = Table(title=f"Évaluation — {report.n_cases} cas ({report.runtime_s:.0f} s)", title_style="bold")
    table.add_column("Système")
    for m in SYSTEM_TABLE_METRICS + (("judge_faithfulness", "judge_correctness") if report.judge else ()):
        table.add_column(m, justify="right")
    shown = SYSTEM_TABLE_METRICS + (("judge_faithfulness", "judge_correctness") if report.judge else ())
    for s in report.systems:
        table.add_row(s.name, *[fmt(m, s.metrics.get(m)) for m in shown], style="bold" if s.name == "ours" else None)
        delta = report.deltas.get(s.name)
        if delta:
            cells = []
            for m in shown:
                d = delta.get(m)
                if d is None:
                    cells.append("—")
                    continue
                # Delta shown as ours − baseline: green when ours is better.
                better = d > 0 if METRICS[m].higher_is_better else d < 0
                color = "green" if better else ("red" if d != 0 else "white")
                cells.append(f"[{color}]{fmt_delta(m, d)}[/]")
            table.add_row("  Δ nous − " + s.name, *cells, style="dim")
    return table
