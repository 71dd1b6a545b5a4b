"""The Gradio web app: chat with sources, drafting form, corpus browser and quality page.

Presentation and per-session state only: answers, drafts, ingest and evaluation come from the
pipeline, drafting and evaluation modules. Bound to 127.0.0.1 unless told otherwise; never shared.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

# Importing any assistant module has already run assistant/__init__.py, which sets the offline,
# no-telemetry environment before gradio (and huggingface_hub) are imported here.
import gradio as gr
from starlette.middleware import Middleware

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
# The conversation fills the window's height, less the question box and the tabs: the question,
# the answer and the sources beside it are in view together from 768 px high.
CHAT_HEIGHT = "clamp(300px, calc(100vh - 290px), 880px)"

AuthSpec = Callable[[str, str], bool] | tuple[str, str] | list[tuple[str, str]] | None


class ChatParts(NamedTuple):
    """The chat tab's components and events that the other tabs' wiring needs."""

    state: Any
    question: Any
    to_draft: Any
    asked: list[Any]  # one event per way of asking (button, Enter, example)
    reset: Any


# After an answer (or a refusal), the keyboard is back in the question box, and the conversation
# and the box are in view together (the page scrolls only as much as needed). On load, the box has
# the focus without scrolling the page (the heading and the tabs stay in view).
FOCUS_QUESTION = """() => {
  const box = document.querySelector('#question-box textarea');
  if (box) { box.focus({preventScroll: true}); }
  const chat = document.querySelector('#chatbot');
  const row = document.querySelector('#question-row');
  if (!chat || !row) { return; }
  const top = chat.getBoundingClientRect().top;
  const bottom = row.getBoundingClientRect().bottom;
  if (bottom - top > window.innerHeight - 16) { row.scrollIntoView({block: 'end'}); }
  else if (top < 0) { window.scrollBy(0, top - 8); }
  else if (bottom > window.innerHeight) { window.scrollBy(0, bottom - window.innerHeight + 8); }
}"""
FOCUS_ON_LOAD = """() => {
  const box = document.querySelector('#question-box textarea');
  if (box && !document.activeElement.closest('input, textarea, select, button')) { box.focus({preventScroll: true}); }
}"""
FOCUS_DRAFT_OBJECT = """() => {
  const box = document.querySelector('#draft-object textarea');
  if (box) { box.focus({preventScroll: true}); }
  const tabs = document.querySelector('#main-tabs');
  if (tabs) { tabs.scrollIntoView({block: 'start'}); }
}"""


def _chat_tab(settings: Settings) -> ChatParts:
    t = render.text
    chat = ChatService(settings)
    state = gr.State(new_state())
    with gr.Row(equal_height=False, elem_id="chat-row", elem_classes="stack-on-phone"):
        with gr.Column(scale=7, min_width=320, elem_id="chat-col"):
            gr.HTML(render.heading_html("chat.conversation"), padding=False, container=False,
                    elem_classes="heading-only")
            chatbot = gr.Chatbot(
                label=t("chat.conversation"), show_label=False, elem_id="chatbot", layout="bubble",
                height=CHAT_HEIGHT, placeholder=t("chat_placeholder"),
                examples=[{"text": q} for q in render.texts("examples")],
                buttons=["copy"], feedback_options=("Like", "Dislike"), sanitize_html=True,
                allow_tags=False, render_markdown=True, line_breaks=True, autoscroll=True,
                group_consecutive_messages=False,
            )
            with gr.Row(elem_id="question-row"):
                # One line that grows: Enter sends, Shift+Enter goes to the next line.
                question = gr.Textbox(
                    label=t("chat.question_label"), show_label=False, placeholder=t("question_placeholder"),
                    lines=1, max_lines=8, elem_id="question-box", scale=8, min_width=160,
                    submit_btn=False,
                )
                send = gr.Button(t("chat.send"), variant="primary", elem_id="send-btn", scale=1, min_width=100)
            official = gr.Checkbox(label=t("chat.official_only"), info=t("chat.official_only_info"),
                                   value=bool(getattr(settings, "official_only", False)), elem_id="official-only")
            with gr.Row(elem_classes="toolbar-row"):
                reset = gr.Button(t("chat.reset"), size="sm", variant="secondary", elem_id="reset-btn")
                export = gr.Button(t("chat.export"), size="sm", variant="secondary", elem_id="export-btn")
            to_draft = gr.Button(t("chat.to_draft"), size="sm", variant="secondary", elem_id="to-draft-btn",
                                 visible=False)
            export_files = gr.File(label=t("chat.exported"), file_count="multiple", visible=False,
                                   interactive=False, height=90, elem_id="export-files")
            with gr.Accordion(t("chat.feedback_box"), open=False, elem_id="feedback-box") as fb_box:
                gr.Markdown(t("feedback_intro"), elem_classes="hint")
                rating = gr.Radio(list(ratings()), label=t("chat.feedback_question"), value=None)
                tags = gr.CheckboxGroup(reason_tags(), label=t("chat.feedback_tags"))
                comment = gr.Textbox(label=t("chat.feedback_comment"), lines=2, max_lines=6)
                send_fb = gr.Button(t("chat.feedback_send"), size="sm", variant="primary")
                fb_status = gr.HTML(padding=False)
        with gr.Column(scale=5, min_width=320, elem_id="sources-col"):
            gr.HTML(render.heading_html("chat.sources_title", visible=True), padding=False, container=False)
            sources = gr.HTML(render.sources_panel([]), elem_id="sources-panel", padding=False)
            with gr.Accordion(t("chat.answer_json"), open=False):
                answer_json = gr.JSON(label=t("chat.answer_json_label"), elem_id="answer-json")

    outputs = [chatbot, sources, answer_json, state, question]
    inputs = [question, state, official]
    asked = [
        send.click(chat.ask, inputs, outputs, api_name="ask", concurrency_id="answer"),
        question.submit(chat.ask, inputs, outputs, api_visibility="private", concurrency_id="answer"),
        chatbot.example_select(chat.example_text, None, question, api_visibility="private", queue=False).then(
            chat.ask, inputs, outputs, api_visibility="private", concurrency_id="answer"),
    ]
    for event in asked:
        event.then(None, None, None, js=FOCUS_QUESTION, api_visibility="private", queue=False)
    cleared = reset.click(chat.reset, [state], outputs, api_name="reset", queue=False)
    cleared.then(lambda: gr.update(visible=False), None, to_draft, api_visibility="private", queue=False)
    export.click(chat.export, [state], export_files, api_name="export").then(
        lambda: gr.update(visible=True), None, export_files, api_visibility="private", queue=False)
    chatbot.like(chat.on_like, [state], [rating, fb_box, state], api_visibility="private", queue=False)
    send_fb.click(chat.feedback, [rating, tags, comment, state], [fb_status, rating, tags, comment],
                  api_name="feedback")
    return ChatParts(state, question, to_draft, asked, cleared)


def _chat_to_draft(parts: ChatParts, form: Any, tabs: gr.Tabs) -> None:
    """« Rédiger une justification à partir de cette conversation » opens the drafting tab with the
    form filled from the conversation; an answer that was a draft fills the form at once."""
    size = len(form.inputs) + 1

    def open_draft(state: dict[str, Any] | None) -> list[Any]:
        turns = (state or {}).get("turns") or []
        if not turns:
            raise gr.Error(render.text("chat.to_draft_empty"))
        values, notice = form.service.prefill(turns)
        return [*values, notice, gr.Tabs(selected="draft")]

    def after_answer(state: dict[str, Any] | None) -> list[Any]:
        turns = (state or {}).get("turns") or []
        drafted = bool(turns) and bool(turns[-1]["answer"].get("draft_request"))
        button = gr.update(visible=bool(turns), variant="primary" if drafted else "secondary")
        if not drafted:
            return [button, *[gr.skip()] * size]
        values, notice = form.service.prefill(turns)
        return [button, *values, notice]

    for event in parts.asked:
        event.success(after_answer, [parts.state], [parts.to_draft, *form.inputs, form.notice],
                      api_visibility="private", queue=False)
    parts.to_draft.click(open_draft, [parts.state], [*form.inputs, form.notice, tabs], api_visibility="private",
                         queue=False).success(None, None, None, js=FOCUS_DRAFT_OBJECT, api_visibility="private",
                                              queue=False)


Loader = tuple[Callable[[], Any], list[Any]]


def _sources_tab(settings: Settings) -> Loader:
    t = render.text
    corpus = CorpusService(settings)
    doc_ids = gr.State([])
    gr.HTML(render.heading_html("app.tab_sources") + f'<p class="intro">{render.esc(t("sources_intro"))}</p>',
            padding=False)
    with gr.Row(elem_id="corpus-filters"):
        text = gr.Textbox(label=t("sources.search"), placeholder=t("sources.search_placeholder"), scale=4,
                          min_width=200, elem_id="corpus-search")
        kinds = gr.Dropdown(label=t("sources.kinds"), multiselect=True, scale=3, min_width=200,
                            choices=[(label, kind) for kind, label in render.kind_labels().items()])
        in_force = gr.Textbox(label=t("sources.in_force"), placeholder=t("sources.in_force_placeholder"), scale=2,
                              min_width=160, elem_id="corpus-in-force")
        go = gr.Button(t("sources.go"), variant="primary", scale=1, min_width=110, elem_id="corpus-go")
    summary = gr.HTML(padding=False)
    with gr.Row(equal_height=False, elem_classes="stack-on-phone"):
        with gr.Column(scale=6, min_width=320):
            table = gr.Dataframe(headers=render.texts("sources.columns"), label=t("sources.documents"),
                                 interactive=False, wrap=True, max_height=560, elem_id="docs-table",
                                 elem_classes="sans-table",
                                 column_widths=["32%", "15%", "13%", "14%", "11%", "15%"])
            hits = gr.HTML(elem_id="search-hits", padding=False)
        with gr.Column(scale=5, min_width=320):
            doc = gr.Dropdown(label=t("sources.read"), choices=[], value=None, elem_id="doc-picker",
                              allow_custom_value=True)
            reader = gr.HTML(corpus.read(None), elem_id="doc-reader", padding=False)
    with gr.Accordion(t("sources.upload_box"), open=False, elem_id="upload-box"):
        gr.Markdown(t("upload_intro"), elem_classes="hint")
        files = gr.File(label=t("sources.upload_files"), file_count="multiple",
                        file_types=UPLOAD_TYPES, type="filepath")
        add = gr.Button(t("sources.upload_go"), variant="primary")
        report = gr.HTML(elem_id="upload-report", padding=False)

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


def _drafting_tab(settings: Settings) -> Any:
    try:
        from assistant.ui.drafting_tab import build_drafting_tab
    except ImportError as exc:
        log.warning("drafting tab unavailable: %s", exc)
        gr.HTML(render.notice_html(render.text("module_missing", module=_missing(exc)), "warning"))
        return None
    return build_drafting_tab(settings)


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
        gr.HTML(render.header_html(), elem_id="app-header", padding=False, container=False)
        with gr.Tabs(elem_id="main-tabs") as tabs:
            with gr.Tab(render.text("app.tab_chat"), id="chat", elem_id="tab-chat"):
                chat = _chat_tab(settings)
            with gr.Tab(render.text("app.tab_draft"), id="draft", elem_id="tab-draft"):
                form = _drafting_tab(settings)
            if form is not None:
                _chat_to_draft(chat, form, tabs)
            with gr.Tab(render.text("app.tab_sources"), id="sources", elem_id="tab-sources"):
                loaders.append(_sources_tab(settings))
            with gr.Tab(render.text("app.tab_quality"), id="quality", elem_id="tab-quality"):
                quality = _quality_tab(settings)
                if quality is not None:
                    loaders.append(quality)
        gr.HTML(render.footer_html(), padding=False, container=False)
        for fn, outputs in loaders:
            demo.load(fn, None, outputs, api_visibility="private")
        demo.load(None, None, None, js=FOCUS_ON_LOAD, api_visibility="private", queue=False)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX)
    return demo


# Gradio picks its own texts (login page, loading and error messages, buttons' labels) in the
# browser's language and writes <html lang="en">: the page is French whatever the browser says.
FRENCH_NAVIGATOR = (
    "<script>(function () { try {"
    " Object.defineProperty(navigator, 'language', {get: function () { return 'fr-FR'; }, configurable: true});"
    " Object.defineProperty(navigator, 'languages', {get: function () { return ['fr-FR', 'fr']; }, configurable: true});"
    " } catch (e) {} })();</script>"
)


LOGIN_HEADER = (
    '<header style="font-family: Arial, Helvetica, sans-serif; max-width: 640px; margin: 24px auto 0; '
    'padding: 8px 18px; border-left: 6px solid #000091;"><h1 style="margin: 0; font-size: 1.4rem; '
    'color: #000091;">{title}</h1></header>'
)


def french_page(page: str, title: str, heading: str = "") -> str:
    """Gradio's page template in French: lang="fr", Gradio's own texts in French, a page title.

    The login page (``auth_required``) gets the app's name as its h1 and a main landmark around
    Gradio's form: it is the first page a user sees, it is checked like the others (RGAA).
    """
    page = re.sub(r'<html(\s+)lang="[^"]*"', r'<html\1lang="fr"', page, count=1)
    head = FRENCH_NAVIGATOR + ("" if "<title>" in page else f"<title>{render.esc(title)}</title>")
    anchor = re.search(r"<meta charset=[^>]*>", page) or re.search(r"<head>", page)
    if anchor is None:
        return page
    page = page[: anchor.end()] + head + page[anchor.end():]
    if heading and re.search(r'"auth_required"\s*:\s*true', page) and page.count("<gradio-app") == 1:
        page = page.replace("<gradio-app", LOGIN_HEADER.format(title=render.esc(heading))
                            + '<main style="display: flex; flex-direction: column; flex-grow: 1;"><gradio-app', 1)
        page = page.replace("</gradio-app>", "</gradio-app></main>", 1)
    return page


class FrenchPage:
    """ASGI middleware: the HTML page served at the app's root goes through ``french_page``."""

    def __init__(self, app: Any, title: str = "", heading: str = "") -> None:
        self.app = app
        self.title = title
        self.heading = heading

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def rewrite(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", [])]
            kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
            if kind.startswith(b"text/html") and not encoded:
                body = french_page(body.decode("utf-8"), self.title, self.heading).encode("utf-8")
                headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode("ascii")))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


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
        "app_kwargs": {"middleware": [Middleware(FrenchPage, title=render.text("app.page_title"),
                                                 heading=render.text("title"))]},
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
