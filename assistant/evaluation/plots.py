"""Report figures as PNG bytes (matplotlib Agg, no pyplot global state: safe inside the web app)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib
import numpy as np

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    from assistant.evaluation.results import EvalReport

KIND_LABELS = {
    "factual": "factuel", "procedure": "procédure", "criteria": "critères",
    "justification_request": "justification", "out_of_scope": "hors champ", "follow_up": "suivi",
}
OOS_LABELS = {
    "neighbouring": "domaine voisin", "false_premise": "fausse prémisse",
    "invented_reference": "référence inventée", "off_topic": "sans rapport", "untyped": "non typé",
}
PALETTE = ("#000091", "#e1000f", "#18753c", "#b34000", "#6a6af4", "#666666")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def metrics_by_kind_png(report: EvalReport) -> bytes:
    """Hit@5, fact coverage and answer/refuse accuracy per case kind, one bar per system."""
    panels = (("hit@5", "Succès @5"), ("fact_coverage", "Couverture des faits"),
              ("decision_accuracy", "Décision répondre/refuser juste"))
    kinds = list(report.kinds)
    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, len(panels), sharey=True)
    width = 0.8 / max(1, len(report.systems))
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for s_i, system in enumerate(report.systems):
            values = [(system.by_kind.get(k, {}).get(metric) or 0.0) for k in kinds]
            xs = [i + (s_i - (len(report.systems) - 1) / 2) * width for i in range(len(kinds))]
            ax.bar(xs, values, width=width, color=PALETTE[s_i % len(PALETTE)], label=system.name)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(kinds)), [KIND_LABELS.get(k, k) for k in kinds], rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, 1.08))
    return _png(fig)


def hit_curve_png(report: EvalReport) -> bytes:
    """Share of cases with an expected document within the first k documents, k = 1..10."""
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    for s_i, system in enumerate(report.systems):
        curve = [v if v is not None else float("nan") for v in system.metrics.get("hit_curve", [])]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", color=PALETTE[s_i % len(PALETTE)], label=system.name)
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("succès @k")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(range(1, 11))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def latency_png(report: EvalReport) -> bytes:
    """Answer latency distribution per system (log scale: medians and tails differ by orders of magnitude)."""
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    all_values = [max(r.latency_ms, 0.1) for s in report.systems for r in s.results if r.latency_ms is not None]
    if all_values:
        lo, hi = min(all_values), max(all_values)
        hi = max(hi, lo * 1.5)
        bins = list(np.geomspace(lo * 0.95, hi * 1.05, 31))
        for s_i, system in enumerate(report.systems):
            values = [max(r.latency_ms, 0.1) for r in system.results if r.latency_ms is not None]
            if values:
                ax.hist(values, bins=bins, histtype="step", linewidth=1.6, color=PALETTE[s_i % len(PALETTE)],
                        label=system.name)
        ax.set_xscale("log")
        ax.legend(fontsize=8)
    ax.set_xlabel("latence de réponse (ms, échelle log)")
    ax.set_ylabel("nombre de cas")
    ax.grid(alpha=0.3)
    return _png(fig)


def sets_png(report: EvalReport) -> bytes:
    """Key metrics of every system on each case set side by side (dev vs blind: how much dev flatters)."""
    panels = (("fact_coverage", "Couverture des faits"), ("refusal_recall", "Rappel des refus"),
              ("mrr@10", "MRR @10"))
    names = report.set_names
    fig = Figure(figsize=(11, 3.6))
    axes = fig.subplots(1, len(panels), sharey=True)
    width = 0.8 / max(1, len(report.systems))
    for ax, (metric, title) in zip(axes, panels, strict=True):
        for s_i, system in enumerate(report.systems):
            values = [(system.set_metrics(n).get(metric) or 0.0) for n in names]
            xs = [i + (s_i - (len(report.systems) - 1) / 2) * width for i in range(len(names))]
            ax.bar(xs, values, width=width, color=PALETTE[s_i % len(PALETTE)], label=system.name)
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, bbox_to_anchor=(0.5, 1.08))
    return _png(fig)


def report_figures(report: EvalReport) -> dict[str, bytes]:
    return {
        "sets": sets_png(report),
        "metrics_by_kind": metrics_by_kind_png(report),
        "hit_curve": hit_curve_png(report),
        "latency": latency_png(report),
    }
