"""The web app in a real browser: Debian's headless Chromium driven by Playwright.

Loads the page, asks a question, waits for the answer, opens a cited source, drafts a justification,
and saves screenshots to test-output/ (git-ignored). Every request the page makes must stay on
127.0.0.1, and HTML typed in a question must be displayed, not run.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.config import PROJECT_ROOT, Settings
from assistant.pipeline import get_pipeline

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
OUTPUT = PROJECT_ROOT / "test-output"
QUESTION = "Que demande la doctrine en matière de réversibilité ?"
INJECTION = '<img src=x onerror="window.__pwned=1"> réversibilité <script>window.__pwned=2</script>'

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app_url(corpus_settings: Settings) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Chromium absent (/usr/bin/chromium) : installez le paquet Debian « chromium »")
    from assistant.ui.app import launch

    port = _free_port()
    demo = launch(corpus_settings, port=port, prevent_thread_lock=True, quiet=True)
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def page(app_url: str, tmp_path: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    sync_api = pytest.importorskip("playwright.sync_api")
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=ARGS, headless=True,
            viewport={"width": 1400, "height": 1000}, locale="fr-FR",
        )
        try:
            pg = context.new_page()
            pg.on("request", lambda r: requests.append(r.url))
            pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            pg.goto(app_url, wait_until="load")
            yield pg, requests, dialogs
        finally:
            context.close()


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


def _wait_settled(pg: Any, selector: str, frames: int = 10, timeout: int = 15_000) -> None:
    """Wait, frame by frame, until ``selector`` is visible and stops moving (instead of a fixed pause)."""
    pg.wait_for_function(_SETTLED, arg=[selector, frames], polling="raf", timeout=timeout)


def _ask(pg: Any, question: str) -> None:
    pg.fill("#question-box textarea", question)
    pg.click("#send-btn")


def test_chat_source_and_draft_in_a_real_browser(
    page: tuple[Any, list[str], list[str]], app_url: str, corpus_settings: Settings
) -> None:
    pg, requests, dialogs = page
    OUTPUT.mkdir(exist_ok=True)
    expected = get_pipeline(corpus_settings).chain.invoke(QUESTION)
    assert not expected.refused and expected.citations

    # Ask, and wait for the final answer (its source cards are rendered with it).
    pg.wait_for_selector("#question-box textarea", timeout=30_000)
    _ask(pg, QUESTION)
    pg.wait_for_selector("#sources-panel article.source-card", timeout=60_000)
    pg.wait_for_function("document.querySelectorAll('#chatbot .bot a.cite').length > 0", timeout=30_000)
    cards = pg.locator("#sources-panel article.source-card[id^='src-0-']")
    assert cards.count() == len(expected.citations)
    first = expected.citations[0]
    assert first.title in pg.inner_text("#src-0-1 .source-title")
    assert pg.locator("#src-0-1 a.source-link").get_attribute("href") == first.source_url

    # Open a source from its [n] marker: its passage unfolds with the quote highlighted.
    pg.locator("#chatbot .bot a.cite").first.click()
    pg.wait_for_selector("#src-0-1 details.source-context[open] mark", timeout=10_000)
    mark = pg.inner_text("#src-0-1 mark")
    assert " ".join(mark.split()) == " ".join(first.quote.split())
    _wait_settled(pg, "#src-0-1")  # the card is smoothly scrolled into view: wait until it has arrived
    pg.screenshot(path=str(OUTPUT / "chat.png"))

    # Drafting tab: fill with the example, draft, preview with sources and downloads.
    pg.get_by_role("tab", name="Rédiger une justification").click()
    pg.get_by_role("button", name="Remplir avec un exemple").click()
    pg.wait_for_function(
        "document.querySelector('#draft-route input:checked') !== null", timeout=10_000)
    pg.click("#draft-btn")
    pg.wait_for_selector("#draft-preview .draft-preview h3", timeout=90_000)
    pg.wait_for_selector("#draft-files a, #draft-files .file-preview", timeout=30_000)
    assert pg.locator("#draft-preview .source-card").count() > 0
    pg.evaluate("window.scrollTo(0, 0)")
    pg.wait_for_function("window.scrollY === 0", timeout=10_000)
    _wait_settled(pg, "#draft-preview")
    pg.screenshot(path=str(OUTPUT / "draft.png"))

    # Sources tab: the document list and a document read section by section.
    pg.get_by_role("tab", name="Sources").click()
    pg.wait_for_selector("#docs-table [data-testid='cell-0-0']", timeout=30_000)
    pg.click("#docs-table [data-testid='cell-0-0']")
    pg.wait_for_selector("#doc-reader .doc-section", timeout=10_000)
    pg.screenshot(path=str(OUTPUT / "sources.png"))

    # HTML typed in a question is shown as text and never runs.
    pg.get_by_role("tab", name="Poser une question").click()
    _ask(pg, INJECTION)
    pg.wait_for_function(
        "document.querySelectorAll('#chatbot .user').length >= 2 && "
        "document.querySelector('#sources-panel article.source-card[id^=\"src-1-\"], #sources-panel .sources-turn:nth-child(1) .related-title, #sources-panel .sources-turn:nth-child(2)') !== null",
        timeout=60_000,
    )
    user_text = pg.locator("#chatbot .user").last.inner_text()
    assert "<img" in user_text and "<script>" in user_text
    assert pg.evaluate("window.__pwned === undefined")
    assert dialogs == []

    outside = [u for u in requests if not u.startswith(app_url.rstrip("/")) and not u.startswith("data:")]
    assert outside == [], outside
    for name in ("chat.png", "draft.png", "sources.png"):
        assert (OUTPUT / name).stat().st_size > 20_000
