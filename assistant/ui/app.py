"""The Gradio web app: chat with sources, drafting form, corpus browser and quality page.

Presentation and per-session state only: answers, drafts, ingest and evaluation come from the
pipeline, drafting and evaluation modules. Bound to 127.0.0.1 unless told otherwise; never shared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Importing any assistant module has already run assistant/__init__.py, which sets the offline,
# no-telemetry environment before gradio (and huggingface_hub) are imported here.
import gradio as gr

from assistant.config import Settings
from assistant.ui import render
from assistant.ui.chat import ChatService, new_state, ratings, reason_tags
from assistant.ui.corpus import UPLOAD_TYPES, CorpusService
from assistant.ui.theme import build_theme, load_css, load_head

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
# An extractive answer is ~20 ms of CPU plus a short progressive display (sleeps): 8 at once keeps
# the queue short without oversubscribing a small server; heavier work has its own lower limits.
CONCURRENCY = 8
QUEUE_MAX = 256

AuthSpec = Callable[[str, str], bool] | tuple[str, str] | list[tuple[str, str]] | None


def _chat_tab(settings: Settings) -> None:
    t = render.text
    chat = ChatService(settings)
    state = gr.State(new_state())
    with gr.Row(equal_height=False):
        with gr.Column(scale=7, min_width=480):
            chatbot = gr.Chatbot(
                label=t("chat.conversation"), show_label=False, elem_id="chatbot", height=560, layout="bubble",
                placeholder=t("chat_placeholder"), examples=[{"text": q} for q in render.texts("examples")],
                buttons=["copy"], feedback_options=("Like", "Dislike"), sanitize_html=True,
                allow_tags=False, render_markdown=True, line_breaks=True, autoscroll=True,
                group_consecutive_messages=False,
            )
            with gr.Row(elem_id="question-row"):
                question = gr.Textbox(
                    show_label=False, placeholder=t("question_placeholder"), lines=2, max_lines=8,
                    elem_id="question-box", scale=8, autofocus=True, submit_btn=False,
                )
                send = gr.Button(t("chat.send"), variant="primary", elem_id="send-btn", scale=1, min_width=120)
            with gr.Row(elem_classes="toolbar-row"):
                reset = gr.Button(t("chat.reset"), size="sm", variant="secondary")
                export = gr.Button(t("chat.export"), size="sm", variant="secondary")
            export_files = gr.File(label=t("chat.exported"), file_count="multiple", visible=False,
                                   interactive=False, height=90, elem_id="export-files")
            with gr.Accordion(t("chat.feedback_box"), open=False, elem_id="feedback-box") as fb_box:
                gr.Markdown(t("feedback_intro"), elem_classes="hint")
                rating = gr.Radio(list(ratings()), label=t("chat.feedback_question"), value=None)
                tags = gr.CheckboxGroup(reason_tags(), label=t("chat.feedback_tags"))
                comment = gr.Textbox(label=t("chat.feedback_comment"), lines=2, max_lines=6)
                send_fb = gr.Button(t("chat.feedback_send"), size="sm", variant="primary")
                fb_status = gr.HTML()
        with gr.Column(scale=5, min_width=360, elem_id="sources-col"):
            gr.HTML(f'<div class="panel-title">{render.esc(t("chat.sources_title"))}</div>')
            sources = gr.HTML(render.sources_panel([]), elem_id="sources-panel")
            with gr.Accordion(t("chat.answer_json"), open=False):
                answer_json = gr.JSON(label=t("chat.answer_json_label"), elem_id="answer-json")

    outputs = [chatbot, sources, answer_json, state, question]
    send.click(chat.ask, [question, state], outputs, api_name="ask", concurrency_id="answer")
    question.submit(chat.ask, [question, state], outputs, api_visibility="private", concurrency_id="answer")
    chatbot.example_select(chat.example_text, None, question, api_visibility="private", queue=False).then(chat.ask, [question, state], outputs, api_visibility="private", concurrency_id="answer")
    reset.click(chat.reset, [state], outputs, api_name="reset", queue=False)
    export.click(chat.export, [state], export_files, api_name="export").then(
        lambda: gr.update(visible=True), None, export_files, api_visibility="private", queue=False)
    chatbot.like(chat.on_like, [state], [rating, fb_box, state], api_visibility="private", queue=False)
    send_fb.click(chat.feedback, [rating, tags, comment, state], [fb_status, rating, tags, comment],
                  api_name="feedback")


Loader = tuple[Callable[[], Any], list[Any]]


def _sources_tab(settings: Settings) -> Loader:
    t = render.text
    corpus = CorpusService(settings)
    doc_ids = gr.State([])
    gr.Markdown(t("sources_intro"), elem_classes="intro")
    with gr.Row():
        text = gr.Textbox(label=t("sources.search"), placeholder=t("sources.search_placeholder"), scale=4)
        kinds = gr.Dropdown(label=t("sources.kinds"), multiselect=True, scale=3,
                            choices=[(label, kind) for kind, label in render.kind_labels().items()])
        in_force = gr.Textbox(label=t("sources.in_force"), placeholder=t("sources.in_force_placeholder"), scale=2)
        go = gr.Button(t("sources.go"), variant="primary", scale=1, min_width=110)
    summary = gr.HTML()
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=480):
            table = gr.Dataframe(headers=render.texts("sources.columns"), label=t("sources.documents"),
                                 interactive=False, wrap=True, max_height=560, elem_id="docs-table",
                                 elem_classes="sans-table",
                                 column_widths=["38%", "13%", "15%", "11%", "12%", "11%"])
            hits = gr.HTML(elem_id="search-hits")
        with gr.Column(scale=5, min_width=420):
            doc = gr.Dropdown(label=t("sources.read"), choices=[], value=None, elem_id="doc-picker",
                              allow_custom_value=True)
            reader = gr.HTML(corpus.read(None), elem_id="doc-reader")
    with gr.Accordion(t("sources.upload_box"), open=False, elem_id="upload-box"):
        gr.Markdown(t("upload_intro"), elem_classes="hint")
        files = gr.File(label=t("sources.upload_files"), file_count="multiple",
                        file_types=UPLOAD_TYPES, type="filepath")
        add = gr.Button(t("sources.upload_go"), variant="primary")
        report = gr.HTML(elem_id="upload-report")

    listing = [table, doc, doc_ids, summary]
    filters = [text, kinds, in_force]
    go.click(corpus.list_docs, filters, listing, api_name="documents").then(
        corpus.search, filters, hits, api_name="search")
    text.submit(corpus.list_docs, filters, listing, api_visibility="private").then(
        corpus.search, filters, hits, api_visibility="private")
    kinds.change(corpus.list_docs, filters, listing, api_visibility="private")
    table.select(corpus.select_row, [doc_ids], [doc, reader], api_visibility="private")
    doc.input(corpus.read, [doc], reader, api_name="read")
    add.click(corpus.upload, [files], report, api_name="upload", concurrency_limit=1,
              concurrency_id="index_writer").then(
        corpus.list_docs, filters, listing, api_visibility="private")

    def refresh() -> tuple[Any, ...]:
        return corpus.list_docs("", [], "")

    return refresh, listing


def _drafting_tab(settings: Settings) -> None:
    try:
        from assistant.ui.drafting_tab import build_drafting_tab
    except ImportError as exc:
        log.warning("drafting tab unavailable: %s", exc)
        gr.HTML(render.notice_html(render.text("module_missing", module=_missing(exc)), "warning"))
        return
    build_drafting_tab(settings)


def _quality_tab(settings: Settings) -> Loader | None:
    try:
        from assistant.ui.quality_tab import build_quality_tab
    except ImportError as exc:
        log.warning("quality tab unavailable: %s", exc)
        gr.HTML(render.notice_html(render.text("module_missing", module=_missing(exc)), "warning"))
        return None
    return build_quality_tab(settings)


def _missing(exc: ImportError) -> str:
    return getattr(exc, "name", None) or str(exc)


def build_app(settings: Settings | None = None) -> gr.Blocks:
    """The whole UI; handlers share one pipeline per process and keep user data in gr.State."""
    settings = settings or Settings()
    loaders: list[Loader] = []
    with gr.Blocks(title=render.text("app.page_title"), analytics_enabled=False,
                   fill_width=False) as demo:
        gr.HTML(render.header_html(), elem_id="app-header")
        with gr.Tabs(elem_id="main-tabs"):
            with gr.Tab(render.text("app.tab_chat"), id="chat", elem_id="tab-chat"):
                _chat_tab(settings)
            with gr.Tab(render.text("app.tab_draft"), id="draft", elem_id="tab-draft"):
                _drafting_tab(settings)
            with gr.Tab(render.text("app.tab_sources"), id="sources", elem_id="tab-sources"):
                loaders.append(_sources_tab(settings))
            with gr.Tab(render.text("app.tab_quality"), id="quality", elem_id="tab-quality"):
                quality = _quality_tab(settings)
                if quality is not None:
                    loaders.append(quality)
        gr.HTML(render.footer_html())
        for fn, outputs in loaders:
            demo.load(fn, None, outputs, api_visibility="private")
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX)
    return demo


def launch_options(settings: Settings) -> dict[str, Any]:
    """Everything launch() needs besides host/port/auth: look, privacy and safety settings."""
    return {
        "share": False,
        "theme": build_theme(),
        "css": load_css(),
        "head": load_head(),
        "footer_links": [],
        "run_history": False,
        "enable_monitoring": False,
        "mcp_server": False,
        "ssr_mode": False,
        "pwa": False,
        "show_error": True,
        "max_file_size": f"{settings.max_upload_mb}mb",
        "blocked_paths": [str(settings.data_dir.resolve())],
        "favicon_path": str(Path(__file__).with_name("favicon.png")),
    }


def launch(
    settings: Settings | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    auth: AuthSpec = None,
    *,
    prevent_thread_lock: bool = False,
    quiet: bool = False,
) -> gr.Blocks:
    """Build and serve the app; returns the Blocks (call .close() when prevent_thread_lock)."""
    settings = settings or Settings()
    demo = build_app(settings)
    options = launch_options(settings)
    if not Path(options["favicon_path"]).is_file():
        options.pop("favicon_path")
    demo.launch(
        server_name=host, server_port=port, auth=auth,
        auth_message=render.text("app.auth_message") if auth else None,
        prevent_thread_lock=prevent_thread_lock, quiet=quiet, **options,
    )
    return demo
