"""« Qualité » tab: the latest evaluation report (metrics by case kind, plots, configuration) and a
button that runs the evaluation on the shipped cases with a progress bar."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.config import Settings
from assistant.evaluation import EvalReport, default_reports_dir, latest_report, run_evaluation
from assistant.evaluation.plots import KIND_LABELS, OOS_LABELS, report_figures
from assistant.evaluation.report import fmt, fmt_delta, set_order, shown_settings
from assistant.evaluation.scoring import KIND_METRICS, METRICS
from assistant.fileio import atomic_write_bytes
from assistant.pipeline import get_pipeline
from assistant.ui import render
from assistant.ui.files import session_dir

log = logging.getLogger(__name__)

CARD_METRICS = ("hit@5", "fact_coverage", "refusal_precision", "refusal_recall", "false_refusal_rate",
                "premise_handled", "latency_p50_ms")
FIGURES = ("sets", "metrics_by_kind", "latency")
SYSTEM_METRICS = ("hit@5", "mrr@10", "fact_coverage", "citation_validity", "refusal_precision", "refusal_recall",
                  "false_refusal_rate", "premise_handled", "latency_p50_ms")
ANSWER_CHARS = 600

_eval_lock = threading.Lock()
_figures: dict[str, list[tuple[str, str]]] = {}
_figures_lock = threading.Lock()


def _label(metric: str) -> str:
    info = METRICS.get(metric)
    return info.label if info else metric


def _figures_for(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, PNG path) of the report's plots, drawn once per report."""
    key = f"{data.get('report_dir')}:{data.get('created_at')}"
    with _figures_lock:
        if key not in _figures:
            folder = session_dir("figures")
            images = []
            for name, png in report_figures(EvalReport.from_json(data)).items():
                path = folder / f"{name}.png"
                atomic_write_bytes(path, png)
                images.append((name, str(path)))
            _figures[key] = images
        return _figures[key]


# Outputs of ``show`` that are hidden while empty (an empty image or file list says nothing).
OPTIONAL = (3, 4, 5, 6, 8)


def _is_set(value: Any) -> bool:
    return value not in (None, [], {})


def shown_if_set(*values: Any) -> list[Any]:
    """Show each image, file list or JSON that has a value; hide the empty ones."""
    return [gr.update(visible=_is_set(value)) for value in values]


class QualityService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def reports_dir(self) -> Path:
        return default_reports_dir(self.settings)

    def show(self) -> tuple[Any, ...]:
        """Summary, per-kind/type table, sets × systems table, three figures, configuration, failed cases, files."""
        data = latest_report(self.reports_dir)
        if data is None:
            return (render.notice_html(render.text("quality_empty")), [], gr.update(visible=False),
                    None, None, None, None, [], None)
        report = EvalReport.from_json(data)
        checks = data.get("checks") or []
        failed_checks = [c for c in checks if not c.get("passed") and not c.get("skipped")]
        status = (render.text("quality.all_met") if not failed_checks
                  else render.text("quality.missed", count=len(failed_checks),
                                   checks=" ; ".join(str(c.get("message", c.get("name"))) for c in failed_checks)))
        rows = []
        for info in report.sets:
            metrics = report.ours.set_metrics(info.name)
            cards = "".join(
                f'<div class="metric-card"><div class="value">{render.esc(fmt(m, metrics.get(m)))}</div>'
                f'<div class="label">{render.esc(_label(m))}</div></div>' for m in CARD_METRICS
            )
            title = render.text("quality.set_title", name=info.name, cases=len(info.case_ids))
            rows.append(f'<h3 class="quality-set">{render.esc(title)}</h3>'
                        f'<div class="metric-cards">{cards}</div>')
        details = render.text("quality.last_run_details", created_at=report.created_at, cases=report.n_cases,
                              seconds=f"{report.runtime_s:.1f}", generation=report.index_generation)
        summary = (
            f'<div class="quality-summary"><p><b>{render.esc(render.text("quality.last_run"))}</b> '
            f'{render.esc(details)}</p>'
            + "".join(rows) + render.notice_html(status, "ok" if not failed_checks else "warning") + "</div>"
        )
        by_kind = []
        for info in report.sets:
            ours_set = report.ours.sets.get(info.name, {})
            for k, v in (ours_set.get("by_kind") or {}).items():
                by_kind.append([info.name, KIND_LABELS.get(k, k), (v.get("counts") or {}).get("cases", ""),
                                *[fmt(m, v.get(m)) for m in KIND_METRICS]])
            for t, v in (ours_set.get("by_oos_type") or {}).items():
                by_kind.append([info.name, render.text("quality.oos_kind", label=OOS_LABELS.get(t, t)),
                                (v.get("counts") or {}).get("cases", ""),
                                *[fmt(m, v.get(m)) for m in KIND_METRICS]])
        system_rows = [[info.name, s.label or s.name, *[fmt(m, s.set_metrics(info.name).get(m)) for m in SYSTEM_METRICS]]
                       for info in report.sets for s in report.systems]
        system_rows += [[render.text("quality.gap_row"), name, *[fmt_delta(m, row.get(m)) for m in SYSTEM_METRICS]]
                        for name, row in report.gaps().items()]
        try:
            figures = dict(_figures_for(data))
        except Exception:  # noqa: BLE001 - a plotting problem must not hide the numbers
            log.exception("report figures failed")
            figures = {}
        settings = data.get("settings") or {}
        config = {
            render.text("quality.config_settings"): shown_settings(settings),
            render.text("quality.config_thresholds"): data.get("thresholds"),
            render.text("quality.config_sets"): {info.name: info.path for info in report.sets},
            render.text("quality.config_corpus"): data.get("corpus_version"),
            render.text("quality.config_compare"): data.get("compare"),
            render.text("quality.config_all"): settings,
        }
        failed = []
        for name in set_order(report):
            if "/" in name:
                continue
            for r in report.failed_cases("ours", name):
                answer = " ".join((r.answer or render.text("quality.empty_answer")).split())
                failed.append([name, r.case_id, KIND_LABELS.get(r.kind, r.kind), r.question, " ; ".join(r.reasons),
                               answer[:ANSWER_CHARS] + (" […]" if len(answer) > ANSWER_CHARS else "")])
        files = [p for p in (data.get("files") or {}).values() if Path(p).is_file()]
        return (summary, by_kind, gr.update(value=system_rows, visible=True),
                *[figures.get(name) for name in FIGURES], config, failed, files or None)

    def show_page(self) -> list[Any]:
        """``show`` for the page: the same values, the empty components hidden."""
        values = list(self.show())
        for i in OPTIONAL:
            values[i] = gr.update(value=values[i], visible=_is_set(values[i]))
        return values

    def run(self, compare: bool, progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008
        """Evaluate the shipped cases (one run at a time); the report lands in evals/reports/."""
        if not _eval_lock.acquire(blocking=False):
            raise gr.Error(render.text("quality.busy"))
        try:
            progress(0, desc=render.text("quality.preparing"))

            def on_progress(done: int, total: int, label: str) -> None:
                progress((done, max(total, 1)), desc=render.text("quality.progress", label=label),
                         unit=render.text("quality.progress_unit"))

            pipeline = get_pipeline(self.settings)
            report = run_evaluation(self.settings, compare=bool(compare), progress=on_progress,
                                    reader=pipeline.reader, llm=pipeline.llm)
        except Exception as exc:  # noqa: BLE001
            log.exception("evaluation failed")
            raise gr.Error(render.text("quality.failed_run", error=exc), title=render.text("quality.title")) from exc
        finally:
            _eval_lock.release()
        verdict = render.text("quality.verdict_met" if report.passed else "quality.verdict_missed")
        done = render.text("quality.done", cases=report.n_cases, seconds=f"{report.runtime_s:.0f}", verdict=verdict)
        return render.notice_html(done, "ok" if report.passed else "warning")


def build_quality_tab(settings: Settings) -> tuple[Callable[[], Any], list[Any]]:
    service = QualityService(settings)
    t = render.text
    gr.HTML(render.heading_html("app.tab_quality") + f'<p class="intro">{render.esc(t("quality_intro"))}</p>',
            padding=False)
    with gr.Row():
        compare = gr.Checkbox(label=t("quality.compare"), value=False, scale=3)
        run = gr.Button(t("quality.run"), variant="primary", scale=2, elem_id="eval-btn")
    status = gr.HTML(padding=False, elem_id="quality-status")
    summary = gr.HTML(elem_id="quality-summary", padding=False)
    by_kind = gr.Dataframe(headers=[*render.texts("quality.by_kind_columns"), *[_label(m) for m in KIND_METRICS]],
                           label=t("quality.by_kind"), interactive=False, wrap=True, elem_classes="sans-table")
    systems = gr.Dataframe(headers=[*render.texts("quality.systems_columns"), *[_label(m) for m in SYSTEM_METRICS]],
                           label=t("quality.systems"), interactive=False, wrap=True,
                           visible=False, elem_classes="sans-table")
    with gr.Column(elem_id="quality-figures"):
        fig_kind = gr.Image(label=t("quality.figure_sets"), type="filepath", interactive=False,
                            show_label=True, height=340, visible=False, alt_text=t("quality.figure_sets"))
        with gr.Row(elem_classes="stack-on-phone"):
            fig_hit = gr.Image(label=t("quality.figure_metrics_by_kind"), type="filepath", interactive=False, height=320,
                               visible=False, alt_text=t("quality.figure_metrics_by_kind"))
            fig_latency = gr.Image(label=t("quality.figure_latency"), type="filepath", interactive=False, height=320,
                                   visible=False, alt_text=t("quality.figure_latency"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            failed = gr.Dataframe(headers=render.texts("quality.failed_columns"), label=t("quality.failed"),
                                  interactive=False, wrap=True, max_height=520, elem_classes="sans-table",
                                  column_widths=["7%", "9%", "9%", "25%", "20%", "30%"])
        with gr.Column(scale=2):
            config = gr.JSON(label=t("quality.config"), open=False, visible=False)
            files = gr.File(label=t("quality.files"), file_count="multiple", interactive=False, visible=False,
                            elem_id="quality-files")
    outputs = [summary, by_kind, systems, fig_kind, fig_hit, fig_latency, config, failed, files]
    optional = [outputs[i] for i in OPTIONAL]
    run.click(service.run, [compare], status, api_name="evaluate", concurrency_limit=1,
              concurrency_id="evaluation").then(service.show, None, outputs, api_name="quality").then(
        shown_if_set, optional, optional, api_visibility="private", queue=False)
    return service.show_page, outputs
