"""« Rédiger une justification » tab: the draft form, the preview with its sources, DOCX/Markdown files."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr
import yaml

from assistant.config import PROJECT_ROOT, Settings
from assistant.draft.catalogue import BUILD_ROUTE_IDS, Catalog, CatalogError, load_catalog
from assistant.draft.drafter import Draft, Drafter, DraftInputError, drafting_labels, parse_request
from assistant.draft.export import draft_to_docx, draft_to_markdown
from assistant.index.errors import IndexError_
from assistant.pipeline import get_pipeline
from assistant.ui import render
from assistant.ui.files import session_dir

log = logging.getLogger(__name__)

EXAMPLE_FILE = PROJECT_ROOT / "examples" / "draft-rh-sur-etagere.yaml"
CONTEXT_FIELDS = ("data_sensitivity", "mutualised_examined", "market_examined", "exception", "exception_facts",
                  "notes")
_TOKEN = re.compile(r"\[(\d{1,3})\]|\[À compléter : ([^\]]+)\]")

_drafters: dict[str, Drafter] = {}
_drafters_lock = threading.Lock()


def get_drafter(settings: Settings) -> Drafter:
    """The pipeline's drafter when it has one, else one Drafter per configuration per process."""
    pipeline = get_pipeline(settings)
    existing = getattr(pipeline, "drafter", None)
    if isinstance(existing, Drafter):
        return existing
    key = settings.model_dump_json()
    with _drafters_lock:
        if key not in _drafters:
            _drafters[key] = Drafter(settings, pipeline.searcher, pipeline.llm)
        return _drafters[key]


# ---------------------------------------------------------------- rendering


def linked_text(text: str, prefix: str, titles: Mapping[int, str]) -> str:
    """Escaped paragraph: [n] markers link to the source cards, « à compléter » marks stand out."""
    out: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        out.append(render.esc(text[last : match.start()]))
        if match.group(1) and int(match.group(1)) in titles:
            n = int(match.group(1))
            out.append(f'<a class="cite" href="#{render.source_anchor(prefix, n)}" '  # type: ignore[arg-type]
                       f'title="Source {n} : {render.esc(titles[n])}">[{n}]</a>')
        elif match.group(2):
            out.append(f'<span class="todo">[À compléter : {render.esc(match.group(2))}]</span>')
        else:
            out.append(render.esc(match.group(0)))
        last = match.end()
    out.append(render.esc(text[last:]))
    return "".join(out)


def draft_html(draft: Draft, labels: Mapping[str, Any]) -> str:
    data = draft.to_json()
    sources = {c.n: c for s in draft.all_sections() for c in s.citations}
    titles = {n: c.title for n, c in sources.items()}
    prefix = "draft"
    parts = [f"<h2>{render.esc(data.get('title') or labels.get('draft_title'))}</h2>", '<div class="draft-meta">']
    parts.append(f"<b>{render.esc(labels['object'])} :</b> {render.esc(data['object'])}<br>")
    if data.get("entity"):
        parts.append(f"<b>{render.esc(labels['entity'])} :</b> {render.esc(data['entity'])}<br>")
    parts.append(f"<b>{render.esc(labels['route'])} :</b> {render.esc(data['route_label'])}</div>")
    parts.append(render.notice_html(draft.disclaimer or str(labels["disclaimer"])))
    sections = [(str(labels["route_heading"]).format(label=draft.route_label), draft.route_justification,
                 labels["route_checks"])]
    sections += [(s.title, s, labels["evidence_heading"]) for s in draft.sections]
    for i, (heading, section, checks_title) in enumerate(sections, start=1):
        parts.append(f"<h3>{i}. {render.esc(heading)}</h3>")
        for paragraph in section.paragraph.split("\n\n"):
            if paragraph.strip():
                parts.append(f"<p>{linked_text(paragraph, prefix, titles)}</p>")
        if section.evidence_to_request:
            items = "".join(f"<li>{render.esc(x)}</li>" for x in section.evidence_to_request)
            parts.append(f'<div class="evidence"><b>{render.esc(checks_title)}</b><ul>{items}</ul></div>')
        if section.to_complete:
            items = "".join(f"<li>{render.esc(x)}</li>" for x in section.to_complete)
            parts.append(f'<div class="to-complete"><b>{render.esc(labels["to_complete_heading"])}</b>'
                         f"<ul>{items}</ul></div>")
    notes = [*draft.notices, *draft.problems]
    if notes:
        parts.append(f"<h3>{render.esc(labels['notices_heading'])}</h3>")
        parts.extend(f'<div class="answer-note">{render.esc(n)}</div>' for n in notes)
    parts.append(f"<h3>{render.esc(labels['sources_heading'])}</h3>")
    if sources:
        parts.append('<div class="sources-panel">')
        parts.extend(render.source_card(sources[n].to_json(), prefix) for n in sorted(sources))  # type: ignore[arg-type]
        parts.append("</div>")
    else:
        parts.append(f"<p>{render.esc(labels['sources_none'])}</p>")
    prov = draft.provenance
    parts.append(f'<p class="draft-sources">Généré le {render.esc(prov.get("generated_at"))} · générateur '
                 f'{render.esc(prov.get("generator"))} · corpus {render.esc(prov.get("corpus_version"))}</p>')
    return '<div class="draft-preview">' + "".join(parts) + "</div>"


# ---------------------------------------------------------------- handlers


class DraftingService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def catalog(self) -> Catalog:
        return load_catalog(self.settings.knowledge_dir)

    def request_from_form(
        self, object_: str | None, entity: str | None, route: str | None, criteria: Sequence[str] | None,
        context: Sequence[str | None], facts: Sequence[str | None],
    ) -> dict[str, Any]:
        """Form values -> the draft input contract (design.md); facts only for the ticked criteria."""
        ids = self.catalog.criterion_ids
        chosen = [c for c in ids if c in (criteria or [])]
        fact_map = {cid: (facts[i] or "").strip() for i, cid in enumerate(ids) if i < len(facts)}
        ctx = {name: (value or "").strip() or None for name, value in zip(CONTEXT_FIELDS, context, strict=False)}
        if route not in BUILD_ROUTE_IDS:
            ctx["exception"] = ctx["exception_facts"] = None
        return {
            "object": (object_ or "").strip(), "entity": (entity or "").strip() or None, "route": route or "",
            "criteria": chosen, "facts": {c: fact_map[c] for c in chosen if fact_map.get(c)},
            "context": {k: v for k, v in ctx.items() if v},
        }

    def draft(self, object_: str | None, entity: str | None, route: str | None, criteria: list[str] | None,
              *rest: str | None) -> tuple[str, list[str], dict[str, Any]]:
        """Write the draft; returns the preview HTML, the Markdown and DOCX files and the JSON."""
        context, facts = rest[: len(CONTEXT_FIELDS)], rest[len(CONTEXT_FIELDS):]
        missing = [label for label, ok in (("l'objet de l'achat", bool((object_ or "").strip())),
                                           ("la voie retenue", bool(route)),
                                           ("au moins un critère", bool(criteria))) if not ok]
        if missing:
            raise gr.Error("Indiquez " + ", ".join(missing) + ".", title="Formulaire incomplet")
        request = self.request_from_form(object_, entity, route, criteria, context, facts)
        try:
            parsed = parse_request(request)
            draft = get_drafter(self.settings).draft(parsed)
        except DraftInputError as exc:
            raise gr.Error(str(exc).replace("\n", " "), title="Formulaire à corriger") from exc
        except (IndexError_, CatalogError) as exc:
            raise gr.Error(str(exc), title="Rédaction impossible") from exc
        except Exception as exc:  # noqa: BLE001
            log.exception("draft failed")
            raise gr.Error(render.texts()["internal_error"], title="Erreur") from exc
        labels = drafting_labels(self.settings.prompts_dir)
        folder = session_dir("drafts")
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        md_path = folder / f"justification-{parsed.route}-{stamp}.md"
        docx_path = folder / f"justification-{parsed.route}-{stamp}.docx"
        md_path.write_text(draft_to_markdown(draft, prompts_dir=self.settings.prompts_dir), encoding="utf-8")
        draft_to_docx(draft, docx_path, prompts_dir=self.settings.prompts_dir)
        return draft_html(draft, labels), [str(md_path), str(docx_path)], draft.to_json()

    def route_help(self, route: str | None) -> tuple[str, Any, Any]:
        """What the chosen route requires, and whether the exception fields apply."""
        if not route:
            return "", gr.update(visible=False), gr.update(visible=False)
        r = self.catalog.route(route)
        items = "".join(f"<li>{render.esc(x)}</li>" for x in r.must_show)
        html = (f'<div class="notice"><b>Étape {r.step} — {render.esc(r.label)}.</b> {render.esc(r.when)}'
                + (f"<br><b>Le dossier doit faire apparaître :</b><ul>{items}</ul>" if items else "") + "</div>")
        builds = r.builds
        choices = [(e.text, e.id) for e in r.exceptions]
        return html, gr.update(visible=builds, choices=choices), gr.update(visible=builds)

    def fact_visibility(self, criteria: list[str] | None) -> list[Any]:
        return [gr.update(visible=cid in (criteria or [])) for cid in self.catalog.criterion_ids]

    def example(self) -> list[Any]:
        """Fill the form with the shipped example (examples/draft-rh-sur-etagere.yaml)."""
        data = yaml.safe_load(Path(EXAMPLE_FILE).read_text(encoding="utf-8"))
        ctx = data.get("context") or {}
        facts = data.get("facts") or {}
        values: list[Any] = [data.get("object", ""), data.get("entity", ""), data.get("route"),
                             data.get("criteria", [])]
        values += [ctx.get(name) for name in CONTEXT_FIELDS]
        values += [facts.get(cid, "") for cid in self.catalog.criterion_ids]
        return values


def build_drafting_tab(settings: Settings) -> None:
    service = DraftingService(settings)
    try:
        catalog = service.catalog
    except CatalogError as exc:
        gr.HTML(render.notice_html(str(exc), "error"))
        return
    t = render.texts()
    gr.Markdown(t["draft_intro"], elem_classes="intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=420):
            example = gr.Button("Remplir avec un exemple", size="sm", variant="secondary")
            object_ = gr.Textbox(label="Objet de l'achat *", lines=2,
                                 placeholder="Ex. : Acquisition d'un logiciel de gestion des ressources humaines")
            entity = gr.Textbox(label="Entité acheteuse",
                                placeholder="Ex. : Ministère …, direction …")
            route = gr.Radio([(f"{r.step}. {r.label}", r.id) for r in sorted(catalog.routes, key=lambda r: r.step)],
                             label="Voie retenue *", elem_id="draft-route")
            route_info = gr.HTML()
            criteria = gr.CheckboxGroup(
                [(c.label, c.id) for c in sorted(catalog.criteria, key=lambda c: c.order)],
                label="Objectifs de la doctrine à justifier *", elem_id="draft-criteria",
            )
            with gr.Accordion("Ce que l'offre apporte, critère par critère", open=True):
                gr.Markdown("Les éléments saisis sont cités entre guillemets, comme venant de vous.",
                            elem_classes="hint")
                facts = [gr.Textbox(label=c.label, lines=2, visible=False)
                         for c in sorted(catalog.criteria, key=lambda c: c.order)]
            with gr.Accordion("Contexte de l'achat", open=False):
                data_sensitivity = gr.Textbox(label="Sensibilité des données", lines=1)
                mutualised = gr.Textbox(label="Solutions mutualisées examinées (et pourquoi elles ne conviennent pas)",
                                        lines=2)
                market = gr.Textbox(label="Offres du marché examinées", lines=2)
                exception = gr.Radio([], label="Exception invoquée (développement spécifique)", visible=False)
                exception_facts = gr.Textbox(label="Éléments justifiant l'exception", lines=2,
                                             visible=False)
                notes = gr.Textbox(label="Autres précisions", lines=2)
            go = gr.Button("Rédiger le projet de justification", variant="primary", elem_id="draft-btn")
        with gr.Column(scale=6, min_width=420):
            files = gr.File(label="Télécharger le projet (Markdown, Word)", file_count="multiple",
                            interactive=False, elem_id="draft-files")
            preview = gr.HTML(render.notice_html(t["draft_empty"]), elem_id="draft-preview")
            with gr.Accordion("Détails techniques (JSON du projet)", open=False):
                as_json = gr.JSON(label="Projet")

    context = [data_sensitivity, mutualised, market, exception, exception_facts, notes]
    inputs = [object_, entity, route, criteria, *context, *facts]
    route.change(service.route_help, route, [route_info, exception, exception_facts], api_visibility="private",
                 queue=False)
    criteria.change(service.fact_visibility, criteria, facts, api_visibility="private", queue=False)
    example.click(service.example, None, inputs, api_visibility="private", queue=False)
    go.click(service.draft, inputs, [preview, files, as_json], api_name="draft", concurrency_id="draft",
             concurrency_limit=2)
