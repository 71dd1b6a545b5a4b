"""« Rédiger une justification » tab: the draft form, the preview with its sources, DOCX/Markdown files."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import gradio as gr
import yaml

from assistant.config import PROJECT_ROOT, Settings
from assistant.draft.catalogue import BUILD_ROUTE_IDS, Catalog, CatalogError, load_catalog
from assistant.draft.drafter import Draft, Drafter, DraftInputError, parse_request, to_complete_marker
from assistant.draft.export import draft_to_docx, draft_to_markdown
from assistant.fileio import atomic_write_text
from assistant.index.errors import IndexError_
from assistant.pipeline import get_pipeline
from assistant.ui import render
from assistant.ui.files import session_dir
from assistant.ui.prefill import prefill_from_turns
from assistant.wording import Wording, load_wording

log = logging.getLogger(__name__)

EXAMPLE_FILE = PROJECT_ROOT / "examples" / "draft-rh-sur-etagere.yaml"
CONTEXT_FIELDS = ("data_sensitivity", "mutualised_examined", "market_examined", "exception", "exception_facts",
                  "notes")
_MARKER = re.compile(r"\[(\d{1,3})\]")


def get_drafter(settings: Settings) -> Drafter:
    """The process's drafter for this configuration (the pipeline's)."""
    return get_pipeline(settings).drafter


# ---------------------------------------------------------------- rendering


def linked_text(text: str, prefix: str, titles: Mapping[int, str], to_complete: Sequence[str] = ()) -> str:
    """Escaped paragraph: [n] markers link to the source cards; the section's « à compléter » items
    (``DraftSection.to_complete``, shown with the catalogue's marker) stand out."""
    markers = {to_complete_marker(load_wording(), label) for label in to_complete}
    tokens = [_MARKER.pattern] + [re.escape(m) for m in sorted(markers, key=len, reverse=True)]
    out: list[str] = []
    last = 0
    for match in re.finditer("|".join(tokens), text):
        out.append(render.esc(text[last : match.start()]))
        if match.group(0) in markers:
            out.append(f'<span class="todo">{render.esc(match.group(0))}</span>')
        elif match.group(1) and int(match.group(1)) in titles:
            n = int(match.group(1))
            source = render.text("render.source_title", n=n, title=titles[n])
            out.append(f'<a class="cite" href="#{render.source_anchor(prefix, n)}" '  # type: ignore[arg-type]
                       f'title="{render.esc(source)}">[{n}]</a>')
        else:
            out.append(render.esc(match.group(0)))
        last = match.end()
    out.append(render.esc(text[last:]))
    return "".join(out)


def draft_html(draft: Draft, w: Wording) -> str:
    data = draft.to_json()
    sources = {c.n: c for s in draft.all_sections() for c in s.citations}
    titles = {n: c.title for n, c in sources.items()}
    prefix = "draft"
    parts = [f"<h2>{render.esc(data.get('title') or w.text('draft.draft_title'))}</h2>", '<div class="draft-meta">']
    parts.append(f"<b>{render.esc(w.text('draft.object'))} :</b> {render.esc(data['object'])}<br>")
    if data.get("entity"):
        parts.append(f"<b>{render.esc(w.text('draft.entity'))} :</b> {render.esc(data['entity'])}<br>")
    parts.append(f"<b>{render.esc(w.text('draft.route'))} :</b> {render.esc(data['route_label'])}</div>")
    parts.append(render.notice_html(draft.disclaimer or w.text("draft.disclaimer")))
    sections = [(w.text("draft.route_heading", label=draft.route_label), draft.route_justification,
                 w.text("draft.route_checks"))]
    sections += [(s.title, s, w.text("draft.evidence_heading")) for s in draft.sections]
    for i, (heading, section, checks_title) in enumerate(sections, start=1):
        parts.append(f"<h3>{i}. {render.esc(heading)}</h3>")
        for paragraph in section.paragraph.split("\n\n"):
            if paragraph.strip():
                parts.append(f"<p>{linked_text(paragraph, prefix, titles, section.to_complete)}</p>")
        if section.evidence_to_request:
            items = "".join(f"<li>{render.esc(x)}</li>" for x in section.evidence_to_request)
            parts.append(f'<div class="evidence"><b>{render.esc(checks_title)}</b><ul>{items}</ul></div>')
        if section.to_complete:
            items = "".join(f"<li>{render.esc(x)}</li>" for x in section.to_complete)
            parts.append(f'<div class="to-complete"><b>{render.esc(w.text("draft.to_complete_heading"))}</b>'
                         f"<ul>{items}</ul></div>")
    notes = [*draft.notices, *draft.problems]
    if notes:
        parts.append(f"<h3>{render.esc(w.text('draft.notices_heading'))}</h3>")
        parts.extend(f'<div class="answer-note">{render.esc(n)}</div>' for n in notes)
    parts.append(f"<h3>{render.esc(w.text('draft.sources_heading'))}</h3>")
    if sources:
        parts.append('<div class="sources-panel">')
        parts.extend(render.source_card(sources[n].to_json(), prefix, level=4) for n in sorted(sources))
        parts.append("</div>")
    else:
        parts.append(f"<p>{render.esc(w.text('draft.sources_none'))}</p>")
    prov = draft.provenance
    generated = render.text("draft.generated", generated_at=prov.get("generated_at"), generator=prov.get("generator"),
                            corpus_version=prov.get("corpus_version"))
    parts.append(f'<p class="draft-sources">{render.esc(generated)}</p>')
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
        missing = [render.text(f"draft.missing_{name}") for name, ok in (
            ("object", bool((object_ or "").strip())), ("route", bool(route)), ("criteria", bool(criteria))) if not ok]
        if missing:
            raise gr.Error(render.text("draft.missing", fields=", ".join(missing)), title=render.text("draft.incomplete"))
        request = self.request_from_form(object_, entity, route, criteria, context, facts)
        try:
            parsed = parse_request(request)
            draft = get_drafter(self.settings).draft(parsed)
        except DraftInputError as exc:
            raise gr.Error(str(exc).replace("\n", " "), title=render.text("draft.invalid")) from exc
        except (IndexError_, CatalogError) as exc:
            raise gr.Error(str(exc), title=render.text("draft.impossible")) from exc
        except Exception as exc:  # noqa: BLE001
            log.exception("draft failed")
            raise gr.Error(render.text("internal_error"), title=render.text("app.error_title")) from exc
        folder = session_dir("drafts")
        stamp = datetime.now().strftime("%Y%m%d-%H%M")
        md_path = folder / f"justification-{parsed.route}-{stamp}.md"
        docx_path = folder / f"justification-{parsed.route}-{stamp}.docx"
        atomic_write_text(md_path, draft_to_markdown(draft, prompts_dir=self.settings.prompts_dir))
        draft_to_docx(draft, docx_path, prompts_dir=self.settings.prompts_dir)
        return draft_html(draft, load_wording(self.settings.prompts_dir)), [str(md_path), str(docx_path)], draft.to_json()

    def route_help(self, route: str | None) -> tuple[str, Any, Any]:
        """What the chosen route requires, and whether the exception fields apply."""
        if not route:
            return "", gr.update(visible=False), gr.update(visible=False)
        r = self.catalog.route(route)
        items = "".join(f"<li>{render.esc(x)}</li>" for x in r.must_show)
        step = render.text("draft.route_step", step=r.step, label=r.label)
        must_show = f"<br><b>{render.esc(render.text('draft.route_must_show'))}</b><ul>{items}</ul>" if items else ""
        html = f'<div class="notice"><b>{render.esc(step)}</b> {render.esc(r.when)}{must_show}</div>'
        builds = r.builds
        choices = [(e.text, e.id) for e in r.exceptions]
        return html, gr.update(visible=builds, choices=choices), gr.update(visible=builds)

    def fact_visibility(self, criteria: list[str] | None) -> list[Any]:
        return [gr.update(visible=cid in (criteria or [])) for cid in self.catalog.criterion_ids]

    def example(self) -> list[Any]:
        """Fill the form with the shipped example (examples/draft-rh-sur-etagere.yaml)."""
        data = yaml.safe_load(Path(EXAMPLE_FILE).read_text(encoding="utf-8"))
        return self.form_values(data)

    def form_values(self, data: Mapping[str, Any]) -> list[Any]:
        """A draft input (``object``, ``entity``, ``route``, ``criteria``, ``context``, ``facts``) as
        the form's values, in the order of the form's inputs; the exception's choices come with it."""
        ctx = data.get("context") or {}
        facts = data.get("facts") or {}
        route = data.get("route") or None
        exception: Any = None
        if route:
            r = self.catalog.route(route)
            choices = [(e.text, e.id) for e in r.exceptions]
            value = ctx.get("exception") if ctx.get("exception") in {e.id for e in r.exceptions} else None
            exception = gr.update(choices=choices, value=value, visible=r.builds)
        values: list[Any] = [data.get("object", ""), data.get("entity", "") or "", route,
                             list(data.get("criteria") or [])]
        values += [exception if name == "exception" else ctx.get(name) for name in CONTEXT_FIELDS]
        values += [facts.get(cid, "") for cid in self.catalog.criterion_ids]
        return values

    def prefill(self, turns: Sequence[Mapping[str, Any]]) -> tuple[list[Any], str]:
        """The form's values read from a chat conversation, and a notice saying what was found."""
        found = prefill_from_turns(turns, self.settings.prompts_dir, self.catalog.criterion_ids)
        data = {"object": found.object, "route": found.route, "criteria": list(found.criteria),
                "context": {"exception": found.exception} if found.exception else {},
                "facts": dict(found.facts)}
        if found.empty:
            return self.form_values(data), render.notice_html(render.text("draft.prefill_nothing"), "warning")
        labels = {c.id: c.label for c in self.catalog.criteria}
        said = [render.text("draft.prefill_object", value=found.object) if found.object else
                render.text("draft.prefill_no_object")]
        if found.route:
            said.append(render.text("draft.prefill_route", value=self.catalog.route(found.route).label))
        if found.criteria:
            said.append(render.text("draft.prefill_criteria", value=", ".join(labels[c] for c in found.criteria)))
        if found.facts:
            said.append(render.text("draft.prefill_facts", count=len(found.facts)))
        intro = render.text("draft.prefill_from_draft" if found.from_draft else "draft.prefill_from_chat")
        return self.form_values(data), render.notice_html(f"{intro} {' ; '.join(said)}. {render.text('draft.prefill_check')}")


class DraftForm(NamedTuple):
    """The drafting tab's components another tab fills (the chat's « rédiger à partir de… »)."""

    service: DraftingService
    inputs: list[Any]
    notice: Any


def build_drafting_tab(settings: Settings) -> DraftForm | None:
    service = DraftingService(settings)
    try:
        catalog = service.catalog
    except CatalogError as exc:
        gr.HTML(render.notice_html(str(exc), "error"))
        return None
    t = render.text
    gr.HTML(render.heading_html("app.tab_draft") + f'<p class="intro">{render.esc(t("draft_intro"))}</p>',
            padding=False)
    with gr.Row(equal_height=False, elem_classes="stack-on-phone"):
        with gr.Column(scale=5, min_width=320, elem_id="draft-form"):
            notice = gr.HTML("", elem_id="draft-prefill", padding=False)
            example = gr.Button(t("draft.example"), size="sm", variant="secondary", elem_id="draft-example")
            object_ = gr.Textbox(label=t("draft.object"), lines=2, placeholder=t("draft.object_placeholder"),
                                 elem_id="draft-object")
            entity = gr.Textbox(label=t("draft.entity"), placeholder=t("draft.entity_placeholder"))
            route = gr.Radio([(f"{r.step}. {r.label}", r.id) for r in sorted(catalog.routes, key=lambda r: r.step)],
                             label=t("draft.route"), elem_id="draft-route")
            route_info = gr.HTML(padding=False)
            criteria = gr.CheckboxGroup(
                [(c.label, c.id) for c in sorted(catalog.criteria, key=lambda c: c.order)],
                label=t("draft.criteria"), elem_id="draft-criteria",
            )
            with gr.Accordion(t("draft.facts_box"), open=True):
                gr.Markdown(t("draft.facts_hint"), elem_classes="hint")
                facts = [gr.Textbox(label=c.label, lines=2, visible=False, elem_classes="draft-fact")
                         for c in sorted(catalog.criteria, key=lambda c: c.order)]
            with gr.Accordion(t("draft.context_box"), open=False):
                data_sensitivity = gr.Textbox(label=t("draft.data_sensitivity"), lines=1)
                mutualised = gr.Textbox(label=t("draft.mutualised_examined"), lines=2)
                market = gr.Textbox(label=t("draft.market_examined"), lines=2)
                exception = gr.Radio([], label=t("draft.exception"), visible=False, elem_id="draft-exception")
                exception_facts = gr.Textbox(label=t("draft.exception_facts"), lines=2, visible=False)
                notes = gr.Textbox(label=t("draft.notes"), lines=2)
            go = gr.Button(t("draft.go"), variant="primary", elem_id="draft-btn")
        with gr.Column(scale=6, min_width=320, elem_id="draft-result"):
            # Hidden until there is a draft: an empty file list is not something to read.
            files = gr.File(label=t("draft.files"), file_count="multiple", interactive=False, elem_id="draft-files",
                            visible=False)
            preview = gr.HTML(render.notice_html(t("draft_empty")), elem_id="draft-preview")
            with gr.Accordion(t("draft.json"), open=False):
                as_json = gr.JSON(label=t("draft.json_label"))

    context = [data_sensitivity, mutualised, market, exception, exception_facts, notes]
    inputs = [object_, entity, route, criteria, *context, *facts]
    route.change(service.route_help, route, [route_info, exception, exception_facts], api_visibility="private",
                 queue=False)
    criteria.change(service.fact_visibility, criteria, facts, api_visibility="private", queue=False)
    example.click(service.example, None, inputs, api_visibility="private", queue=False)
    go.click(service.draft, inputs, [preview, files, as_json], api_name="draft", concurrency_id="draft",
             concurrency_limit=2).success(lambda: gr.update(visible=True), None, files, api_visibility="private",
                                          queue=False)
    return DraftForm(service, inputs, notice)
