"""The web app as a person sees it: Debian's headless Chromium driven by Playwright.

At three window sizes (1366×768, 1920×1080 and a 390×844 phone) a question is sent with Enter and
the question box, the answer, the send button and the first source card must lie inside the window
(on the phone, the sources are below the answer: the test scrolls to them); a [n] marker scrolls to
its card and highlights it. Then, with the keyboard alone: the chat becomes a prefilled drafting
form, a draft, the corpus table, an evaluation report; axe-core checks each tab with its content
shown (zero violations of any impact), and the login page must be French in an English browser.
Screenshots go to test-output/ (git-ignored). Every request the page makes must stay on 127.0.0.1,
and HTML typed in a question must be displayed, not run.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from assistant.answer.types import Answer
from assistant.config import PROJECT_ROOT, Settings
from assistant.draft.chat import read_request
from assistant.pipeline import get_pipeline
from assistant.ui import render

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
OUTPUT = PROJECT_ROOT / "test-output"
QUESTION = "Que demande la doctrine en matière de réversibilité ?"
# A conversation that names what is bought and how: the drafting form is prefilled from it.
PURCHASE = "Nous achetons un logiciel de paie en SaaS : que demande la doctrine sur la réversibilité ?"
DRAFT_REQUEST = ("Rédige la justification du choix d'un logiciel RH sur étagère en insistant sur la réversibilité. "
                 "Notre éditeur fournit un export complet en CSV et une API documentée.")
INJECTION = '<img src=x onerror="window.__pwned=1"> réversibilité <script>window.__pwned=2</script>'
SIZES = [(1366, 768), (1920, 1080), (390, 844)]
DESKTOP = (1366, 768)
SMALL_CASES = """cases:
  - id: b-fact-1
    question: "Quel est le numéro de la circulaire sur la doctrine d'achat numérique de l'État ?"
    kind: factual
    expected_facts: ["6519/SG"]
    expected_sources: [circulaire-2026-achat-numerique]
  - id: b-oos-1
    question: "Quelle est la recette de la blanquette de veau ?"
    kind: out_of_scope
    expected_facts: []
"""
USER, PASSWORD = "acheteur", "motdepasse-solide"
# Gradio's own texts when the browser is English and the page is not forced to French.
ENGLISH = re.compile(r"\b(Login|username|password|Copy message|Empty value|Loading|Submit|Clear)\b")

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_settings(corpus_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The session index, with a private evals folder of two cases (the quality tab runs them)."""
    evals = tmp_path_factory.mktemp("browser-evals")
    (evals / "cases" / "dev").mkdir(parents=True)
    (evals / "cases" / "dev" / "small.yaml").write_text(SMALL_CASES, encoding="utf-8")
    return corpus_settings.model_copy(update={"evals_dir": evals})


def _launch(settings: Settings, auth: Any = None) -> tuple[Any, str]:
    from assistant.ui.app import launch

    port = _free_port()
    demo = launch(settings, port=port, auth=auth, prevent_thread_lock=True, quiet=True)
    return demo, f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def app_url(app_settings: Settings) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium absent (/usr/bin/chromium) : installez le paquet Debian « chromium »")
    demo, url = _launch(app_settings)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser(app_url: str) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


class Page:
    """A fresh browser session on the app, recording every request and dialog."""

    def __init__(self, browser: Any, url: str, size: tuple[int, int], locale: str = "fr-FR") -> None:
        self.context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=locale)
        self.pg = self.context.new_page()
        self.size = size
        self.url = url
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.pg.on("request", lambda r: self.requests.append(r.url))
        self.pg.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.pg.goto(url, wait_until="load")

    def outside_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.url.rstrip("/")) and not u.startswith("data:")]

    def screenshot(self, name: str) -> Path:
        OUTPUT.mkdir(exist_ok=True)
        path = OUTPUT / name
        self.pg.screenshot(path=str(path))
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser: Any, app_url: str) -> Iterator[Any]:
    pages: list[Page] = []

    def opener(size: tuple[int, int] = DESKTOP, locale: str = "fr-FR", url: str | None = None) -> Page:
        page = Page(browser, url or app_url, size, locale)
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()


# True once ``selector``'s box (and the page's scroll offset) has not moved for ``frames`` animation
# frames in a row, with the element in the viewport: a smooth scroll or a layout change has finished.
_SETTLED = """([selector, frames]) => {
  const el = document.querySelector(selector);
  if (!el) { return false; }
  const r = el.getBoundingClientRect();
  const key = [r.top, r.left, r.width, r.height, window.scrollX, window.scrollY].join(",");
  const seen = (window.__settled = window.__settled || {});
  if (!seen[selector] || seen[selector].key !== key) { seen[selector] = {key: key, frames: 0}; return false; }
  seen[selector].frames += 1;
  return seen[selector].frames >= frames && r.bottom > 0 && r.top < window.innerHeight;
}"""

# The boxes of named elements (the first match of each selector), in viewport coordinates, and the
# window's size.
_BOXES = """(selectors) => {
  const out = {viewport: {width: window.innerWidth, height: window.innerHeight},
               scrollWidth: document.documentElement.scrollWidth};
  for (const [name, selector] of Object.entries(selectors)) {
    const el = document.querySelector(selector);
    if (!el) { out[name] = null; continue; }
    const r = el.getBoundingClientRect();
    out[name] = {x: r.left, y: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height};
  }
  return out;
}"""
CHAT_BOXES = {"question": "#question-box textarea", "send": "#send-btn", "chat": "#chatbot",
              "answer": "#chatbot .message.bot", "card": "#sources-panel article.source-card"}
# What the keyboard has reached, and whether its focus can be seen.
_FOCUS = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const holder = el.closest('[id]');
  return {tag: el.tagName, id: el.id, holder: holder ? holder.id : '', role: el.getAttribute('role') || '',
          text: (el.innerText || el.value || el.getAttribute('aria-label') || '').trim().slice(0, 80),
          outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2};
}"""


def _wait_settled(pg: Any, selector: str, frames: int = 10, timeout: int = 15_000) -> None:
    """Wait, frame by frame, until ``selector`` is visible and stops moving (instead of a fixed pause)."""
    pg.evaluate("window.__settled = {}")
    pg.wait_for_function(_SETTLED, arg=[selector, frames], polling="raf", timeout=timeout)


SUBPIXEL = 1.0  # layout positions are fractional: a box flush with the edge may end a fraction past it


def _inside(box: dict[str, float] | None, viewport: dict[str, float]) -> bool:
    return bool(box) and box["width"] > 0 and box["height"] > 0 and box["x"] >= -SUBPIXEL and box["y"] >= -SUBPIXEL \
        and box["right"] <= viewport["width"] + SUBPIXEL and box["bottom"] <= viewport["height"] + SUBPIXEL


def _ask_with_enter(pg: Any, question: str, turn: int) -> None:
    """Type in the question box and press Enter; wait for the answer's sources and the focus back."""
    pg.wait_for_function("document.activeElement && document.activeElement.closest('#question-box') !== null",
                         timeout=30_000)
    pg.keyboard.type(question)
    pg.keyboard.press("Enter")
    pg.wait_for_function(
        "([turn]) => document.querySelector(`#sources-panel details.sources-turn[data-turn='${turn}']`) !== null",
        arg=[turn], timeout=90_000)
    # The focus comes back to the box once the answer is complete.
    pg.wait_for_function("document.activeElement && document.activeElement.closest('#question-box') !== null",
                         timeout=30_000)
    _wait_settled(pg, "#question-row")


def _ask_with_button(pg: Any, question: str, turn: int) -> None:
    """Type a question and click « Envoyer »: once answered, the keyboard is back in the question box."""
    pg.fill("#question-box textarea", question)
    pg.click("#send-btn")
    pg.wait_for_function(
        "([turn]) => document.querySelector(`#sources-panel details.sources-turn[data-turn='${turn}']`) !== null",
        arg=[turn], timeout=90_000)
    pg.wait_for_function("document.activeElement && document.activeElement.closest('#question-box') !== null",
                         timeout=30_000)


def _tab_until(pg: Any, predicate: str, *, back: bool = False, limit: int = 80) -> list[dict[str, Any]]:
    """Press Tab (Shift+Tab when ``back``) until the focused element satisfies ``predicate`` (a JS
    expression on ``f``, the _FOCUS record); returns every stop, each of which must show its focus."""
    stops = []
    for _ in range(limit):
        pg.keyboard.press("Shift+Tab" if back else "Tab")
        stop = pg.evaluate(_FOCUS)
        stops.append(stop)
        assert stop["outline"], f"focus invisible sur {stop}"
        if pg.evaluate(f"(f) => Boolean({predicate})", stop):
            return stops
    raise AssertionError(f"{predicate} jamais atteint au clavier ; arrêts : {stops[-8:]}")


def _axe(pg: Any, tab: str) -> list[dict[str, Any]]:
    """axe-core's violations on the page as shown (every rule, every impact), once nothing moves:
    colours are measured after Gradio's fades and our highlights have ended."""
    from axe_playwright_python.sync_playwright import Axe

    pg.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')", polling="raf",
                         timeout=15_000)
    violations = Axe().run(pg).response["violations"]
    summary = [(v["id"], v["impact"], [(n["target"], n["html"][:120], n.get("failureSummary", "")[-200:])
                                       for n in v["nodes"][:4]]) for v in violations]
    print(f"axe {tab}: {len(violations)} violation(s) {summary}")
    return summary


def _english(pg: Any) -> list[str]:
    """Gradio's English texts left on the page: visible text, labels, titles, placeholders."""
    texts = pg.evaluate("""() => [document.body.innerText, ...[...document.querySelectorAll(
        '[aria-label], [title], [placeholder]')].map(e => [e.getAttribute('aria-label'), e.getAttribute('title'),
        e.getAttribute('placeholder')].filter(Boolean).join(' '))]""")
    return sorted({m.group(0) for t in texts for m in ENGLISH.finditer(t)})


# ---------------------------------------------------------------- what a person sees, at three sizes


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_question_answer_and_sources_in_view(open_page: Any, app_settings: Settings, size: tuple[int, int]) -> None:
    expected: Answer = get_pipeline(app_settings).chain.invoke(QUESTION)
    assert not expected.refused and expected.citations
    page = open_page(size)
    pg = page.pg
    width, height = size

    # Shift+Enter adds a line, Enter sends.
    pg.wait_for_function("document.activeElement && document.activeElement.closest('#question-box') !== null",
                         timeout=30_000)
    pg.keyboard.type("ligne")
    pg.keyboard.press("Shift+Enter")
    pg.keyboard.type("suite")
    assert pg.input_value("#question-box textarea") == "ligne\nsuite"
    assert pg.locator("#chatbot .message.user").count() == 0
    pg.fill("#question-box textarea", "")
    _ask_with_enter(pg, QUESTION, 0)
    assert pg.locator("#chatbot .message.user").count() == 1
    assert pg.input_value("#question-box textarea") == ""

    boxes = pg.evaluate(_BOXES, CHAT_BOXES)
    viewport = boxes["viewport"]
    shot = page.screenshot(f"chat-{width}x{height}.png")
    assert boxes["scrollWidth"] <= width, f"la page déborde en largeur : {boxes['scrollWidth']} px"
    for name in ("question", "send", "chat"):
        assert _inside(boxes[name], viewport), f"{name} hors de la fenêtre {size} : {boxes[name]} ({shot})"
    # The answer: its visible part, inside the conversation and the window, is a readable height.
    answer, chat = boxes["answer"], boxes["chat"]
    shown = min(answer["bottom"], chat["bottom"], viewport["height"]) - max(answer["y"], chat["y"], 0)
    assert shown >= min(100, answer["height"]), f"réponse peu visible ({shown:.0f} px) : {boxes}"
    card = boxes["card"]
    if width >= 900:
        # Beside the conversation, in the window, without scrolling.
        assert _inside(card, viewport), f"première source hors de la fenêtre {size} : {card} ({shot})"
        assert card["x"] >= chat["right"], f"la source n'est pas à côté de la réponse : {boxes}"
    else:
        # On a phone, the sources come below the answer: scroll there, as the user would.
        assert card["y"] >= chat["bottom"], f"la source n'est pas sous la réponse : {boxes}"
        pg.locator("#sources-panel article.source-card").first.scroll_into_view_if_needed()
        _wait_settled(pg, "#sources-panel article.source-card")
        card = pg.evaluate(_BOXES, CHAT_BOXES)["card"]
        shot = page.screenshot(f"chat-{width}x{height}-sources.png")
        assert _inside(card, viewport), f"première source hors de la fenêtre {size} : {card} ({shot})"

    # Each card: document, section, passage with the quote highlighted, date, status, origin.
    cards = pg.locator("#sources-panel article.source-card[id^='src-0-']")
    assert cards.count() == len(expected.citations)
    first = expected.citations[0]
    text = pg.inner_text("#src-0-1")
    assert first.title in text and first.section.split(">")[-1].strip() in text
    assert render.status_label(first.status, first.kind).upper() in text.upper()
    assert render.origin_label(first.origin).upper() in text.upper()
    if first.date:
        assert render.french_date(first.date).upper() in text.upper()
    assert " ".join(pg.inner_text("#src-0-1 mark").split()) == " ".join(first.quote.split())
    if first.source_url:
        assert pg.locator("#src-0-1 a.source-link").get_attribute("href") == first.source_url

    # A [n] marker scrolls to its card, highlights it and moves the focus there.
    pg.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
    last = expected.citations[-1].n
    pg.locator(f"#chatbot a.cite[href='#src-0-{last}']").first.click()
    pg.wait_for_function("([id]) => document.activeElement && document.activeElement.id === id",
                         arg=[f"src-0-{last}"], timeout=10_000)
    _wait_settled(pg, f"#src-0-{last}")
    box = pg.evaluate(_BOXES, {"card": f"#src-0-{last}"})["card"]
    assert pg.locator(f"#src-0-{last}.flash").count() == 1
    assert box["y"] >= 0 and box["y"] < viewport["height"] and box["x"] >= 0 and box["right"] <= width + 0.5, box
    if box["height"] <= viewport["height"]:
        assert _inside(box, viewport), box
    page.screenshot(f"chat-{width}x{height}-source-{last}.png")
    assert page.outside_requests() == [], page.outside_requests()


# ---------------------------------------------------------------- keyboard, chat → draft, axe on every tab


def test_keyboard_chat_to_draft_and_accessibility(open_page: Any, app_settings: Settings) -> None:
    page = open_page(DESKTOP)
    pg = page.pg
    axe: dict[str, list] = {}

    # The chat with an answer and its sources.
    _ask_with_enter(pg, PURCHASE, 0)
    assert pg.evaluate("document.documentElement.lang") == "fr"
    assert pg.locator("h1").count() == 1
    axe["chat"] = _axe(pg, "chat")

    # Keyboard only: Enter on a [n] marker opens its card.
    pg.locator("#chatbot a.cite").first.focus()
    assert pg.evaluate(_FOCUS)["outline"]
    target = pg.locator("#chatbot a.cite").first.get_attribute("href")[1:]
    pg.keyboard.press("Enter")
    pg.wait_for_function("([id]) => document.activeElement && document.activeElement.id === id",
                         arg=[target], timeout=10_000)

    # « Rédiger une justification à partir de cette conversation », reached with Tab.
    pg.locator("#question-box textarea").focus()
    _tab_until(pg, "f.id === 'to-draft-btn'")
    pg.keyboard.press("Enter")
    pg.wait_for_function("document.activeElement && document.activeElement.closest('#draft-object') !== null",
                         timeout=15_000)
    said = read_request(PURCHASE, app_settings.prompts_dir)
    assert said.object and said.route and said.criteria
    assert pg.input_value("#draft-object textarea") == said.object
    assert pg.evaluate("[...document.querySelectorAll('#draft-route input:checked')].map(i => i.value)") == [said.route]
    checked = pg.evaluate("[...document.querySelectorAll('#draft-criteria label')].filter("
                          "l => l.querySelector('input:checked')).map(l => l.innerText.trim())")
    from assistant.draft.catalogue import load_catalog

    labels = {c.id: c.label for c in load_catalog(app_settings.knowledge_dir).criteria}
    assert checked == [labels[c] for c in said.criteria]
    assert "prérempli" in pg.inner_text("#draft-prefill")

    # Draft with the keyboard: Tab to the button, Enter.
    _tab_until(pg, "f.id === 'draft-btn'")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#draft-preview .draft-preview h3", timeout=90_000)
    pg.wait_for_selector("#draft-files a, #draft-files .file-preview", timeout=30_000)
    assert pg.locator("#draft-preview .source-card").count() > 0
    assert said.object in pg.inner_text("#draft-preview")
    axe["draft"] = _axe(pg, "draft")
    pg.evaluate("window.scrollTo(0, 0)")
    _wait_settled(pg, "#draft-preview")
    page.screenshot("draft.png")

    # Sources tab, reached with the keyboard (back to the tab list, then Enter).
    _tab_until(pg, "f.role === 'tab' && f.text === 'Sources'", back=True)
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#docs-table [data-testid='cell-0-0']", timeout=30_000)
    # Each document's status (« En vigueur », « Projet de loi »…) in its own column.
    snap = get_pipeline(app_settings).reader.snapshot()
    statuses = {render.document_status(m, date.today()) for m in snap.docs.values()}
    column = render.texts("sources.columns").index("Statut")
    assert "Statut" in pg.inner_text("#docs-table")
    shown = pg.evaluate("([i]) => [...document.querySelectorAll('#docs-table [data-testid^=\"cell-\"]')].filter("
                        "c => new RegExp(`^cell-\\\\d+-${i}$`).test(c.dataset.testid)).map(c => c.innerText.trim())", [column])
    assert shown and set(shown) <= statuses, (shown, statuses)
    # Search with the keyboard: the search box, a word, Enter; then read a document.
    _tab_until(pg, "f.holder === 'corpus-search'")
    pg.keyboard.type("cloud")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#search-hits .hit-card", timeout=30_000)
    pg.click("#docs-table [data-testid='cell-0-0']")
    pg.wait_for_selector("#doc-reader .doc-section", timeout=10_000)
    axe["sources"] = _axe(pg, "sources")
    pg.evaluate("window.scrollTo(0, 0)")
    page.screenshot("sources.png")

    # Quality tab: run the evaluation on the two cases, with the keyboard.
    _tab_until(pg, "f.role === 'tab' && f.text === 'Qualité'", back=True)
    pg.keyboard.press("Enter")
    _tab_until(pg, "f.id === 'eval-btn'")
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#quality-summary .metric-card", timeout=180_000)
    pg.wait_for_selector("#quality-figures img", timeout=30_000)
    axe["quality"] = _axe(pg, "quality")
    pg.evaluate("window.scrollTo(0, 0)")
    page.screenshot("quality.png")

    # A drafting request typed in the chat fills the form by itself.
    _tab_until(pg, "f.role === 'tab' && f.text === 'Poser une question'", back=True)
    pg.keyboard.press("Enter")
    pg.locator("#question-box textarea").focus()
    _ask_with_enter(pg, DRAFT_REQUEST, 1)
    drafted = get_pipeline(app_settings).chain.invoke(DRAFT_REQUEST).draft_request
    assert drafted and pg.locator("#to-draft-btn.primary").count() == 1
    pg.get_by_role("tab", name="Rédiger une justification").click()
    pg.wait_for_function("([v]) => document.querySelector('#draft-object textarea')?.value === v",
                         arg=[drafted["object"]], timeout=15_000)
    assert "demande de rédaction" in pg.inner_text("#draft-prefill")

    # HTML typed in a question is shown as text and never runs (sent with the button, this time).
    pg.get_by_role("tab", name="Poser une question").click()
    _ask_with_button(pg, INJECTION, 2)
    user_text = pg.locator("#chatbot .message.user").last.inner_text()
    assert "<img" in user_text and "<script>" in user_text
    assert pg.evaluate("window.__pwned === undefined")
    assert page.dialogs == []
    assert _english(pg) == []
    assert page.outside_requests() == [], page.outside_requests()
    assert axe == {"chat": [], "draft": [], "sources": [], "quality": []}, axe
    for name in ("draft.png", "sources.png", "quality.png"):
        assert (OUTPUT / name).stat().st_size > 20_000


# ---------------------------------------------------------------- login page


def test_login_page_is_french_in_an_english_browser(open_page: Any, app_settings: Settings) -> None:
    demo, url = _launch(app_settings, auth=(USER, PASSWORD))
    try:
        page = open_page(DESKTOP, locale="en-US", url=url)
        pg = page.pg
        pg.wait_for_selector("input[type='password']", timeout=30_000)
        pg.wait_for_function("document.body.innerText.includes('Connexion')", timeout=15_000)
        assert pg.evaluate("document.documentElement.lang") == "fr"
        assert pg.title() == render.text("app.page_title")
        assert _english(pg) == []
        assert render.text("app.auth_message") in pg.inner_text("body")
        login_axe = _axe(pg, "login")
        page.screenshot("login.png")
        assert login_axe == []
        # Keyboard only: the user name, Tab, the password, Enter.
        pg.locator("input[type='text']").first.focus()
        pg.keyboard.type(USER)
        pg.keyboard.press("Tab")
        pg.keyboard.type(PASSWORD)
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#question-box textarea", timeout=30_000)
        assert pg.evaluate("document.documentElement.lang") == "fr"
        assert _english(pg) == []
        assert page.outside_requests() == []
    finally:
        demo.close()
