"""The chat in a real browser: headless Debian Chromium driving the Gradio app over real indexes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import running_demo

pytestmark = [pytest.mark.browser, pytest.mark.model]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DOCS_SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "screenshot.png"
ANSWER_TIMEOUT_MS = 180_000
BOTS = "#qa-chat [data-testid='bot']"

HOSTILE_ARTICLE = """\
Mayor <script>alert('title')</script> of Testville [x](javascript:alert(1))

Date: 2025-02-01

The town council met on Monday to discuss the new bridge over the river.
The mayor of Testville, <script>alert(1)</script> <img src=x onerror=alert(2)>, is Jane Hostile [click me](javascript:alert(3)) ![](http://127.0.0.1:9/pixel.png).
Residents asked for more parking near the market square.
"""
CALM_ARTICLE = """\
Testville Opens a Library

Date: 2025-03-05

Testville opened a public library on Friday. The library holds twenty thousand books and a reading room for children.
"""


@pytest.fixture(scope="module")
def sync_playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's browser with `apt-get install -y chromium`")
    return pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").sync_playwright


@pytest.fixture(scope="module")
def browser(sync_playwright):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def settings():
    from qa import Settings

    return Settings.from_env(show_progress=False)


@pytest.fixture(scope="module")
def demo_assistant(tmp_path_factory, settings):
    from qa import Assistant
    from qa.assistant import DEMO_CORPUS

    return Assistant.build([DEMO_CORPUS], tmp_path_factory.mktemp("demo-index"), settings=settings)


@pytest.fixture(scope="module")
def demo_url(demo_assistant, settings) -> Iterator[str]:
    with serve(demo_assistant, settings) as url:
        yield url


@pytest.fixture(scope="module")
def upload_url(demo_assistant, settings) -> Iterator[str]:
    """The demo collection served with "Add articles" on."""
    with serve(demo_assistant, settings.with_(allow_upload=True)) as url:
        yield url


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory, settings) -> Iterator[str]:
    from qa import Assistant

    sources = tmp_path_factory.mktemp("hostile-articles")
    (sources / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    (sources / "calm.txt").write_text(CALM_ARTICLE, encoding="utf-8")
    assistant = Assistant.build([sources], tmp_path_factory.mktemp("hostile-index"), settings=settings)
    with serve(assistant, settings) as url:
        yield url


@contextlib.contextmanager
def serve(assistant, settings) -> Iterator[str]:
    """The chat app on a free localhost port, in this process, for the duration of the block."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from qa.web import build_demo

    with running_demo(build_demo(assistant, settings=settings)) as url:
        yield url


def open_chat(browser, url: str):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(url)
    page.wait_for_selector(".qa-collection", timeout=ANSWER_TIMEOUT_MS)
    return page


def ask(page, question: str):
    """Type a question, press Enter, and return the bot message that answers it once final."""
    before = page.locator(BOTS).count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        """([selector, before]) => {
            const bots = document.querySelectorAll(selector);
            return bots.length > before && !bots[bots.length - 1].querySelector('.qa-status');
        }""",
        arg=[BOTS, before],
        timeout=ANSWER_TIMEOUT_MS,
    )
    return page.locator(BOTS).nth(before)


def marks(message, scope: str = ".qa-answer-text") -> list[str]:
    return [text.strip() for text in message.locator(f"{scope} mark").all_inner_texts()]


def test_conversation_answers_follow_up_not_found_and_screenshot(browser, demo_url, tmp_path):
    # The screenshot goes to the test's temporary folder; QA_UPDATE_SCREENSHOT=1 refreshes the one in docs/.
    screenshot = DOCS_SCREENSHOT if os.environ.get("QA_UPDATE_SCREENSHOT") == "1" else tmp_path / "screenshot.png"
    page = open_chat(browser, demo_url)
    try:
        collection = page.locator(".qa-collection").inner_text()
        assert "articles" in collection and "passages" in collection

        first = ask(page, "Who is the Belarusian First Deputy Defense Minister who made an official visit to Kazakhstan?")
        assert first.locator(".qa-found").count() == 1
        assert "Muraveiko" in " ".join(marks(first))
        assert first.locator(".qa-answer-text .qa-cite").first.inner_text() == "[1]"
        sources = first.locator("details.qa-sources")
        assert sources.locator("summary").inner_text().strip() == "Sources"
        assert not sources.locator(".qa-quote").first.is_visible()  # collapsed until opened
        sources.locator("summary").click()
        assert sources.locator(".qa-quote").first.is_visible()
        assert sources.locator(".qa-source-head").first.inner_text().startswith("[1] ")
        assert "Muraveiko" in " ".join(marks(first, ".qa-quote"))

        ambassador = ask(page, "Who is Kazakhstan's new ambassador in Belarus?")
        assert "Baizhanov" in " ".join(marks(ambassador))

        follow_up = ask(page, "In which countries was he previously the top diplomat?")
        assert follow_up.locator(".qa-found").count() == 1
        # The sentence naming his earlier posts is cited, with a highlight in it (where the highlight reader puts
        # it is the reader's business: tests/test_reader_model.py, docs/reader.md).
        assert "Vietnam" in follow_up.locator(".qa-answer-text").inner_text()
        assert len(marks(follow_up)) == 1 and marks(follow_up)[0]
        follow_up.locator("details.qa-sources summary").click()

        unanswerable = ask(page, "Who won the 2018 football World Cup?")
        not_found = unanswerable.locator(".qa-not-found")
        assert not_found.count() == 1
        assert not_found.locator(".qa-notice").is_visible()
        assert unanswerable.locator(".qa-answer-text mark").count() == 0
        assert "Closest articles" in not_found.inner_text()

        # Let the chat grow with its content so the full-page screenshot shows the whole conversation.
        page.add_style_tag(content="#qa-chat, #qa-chat * { height: auto !important; max-height: none !important; }")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot), full_page=True)
        assert screenshot.stat().st_size > 10_000
    finally:
        page.close()


def test_invalid_date_is_a_message_in_the_chat(browser, demo_url):
    page = open_chat(browser, demo_url)
    try:
        page.locator("#qa-options").get_by_text("Options").click()
        page.locator("#qa-since textarea, #qa-since input").first.fill("2025-13-45")
        reply = ask(page, "Who is Kazakhstan's new ambassador in Belarus?")
        assert reply.locator(".qa-error").count() == 1
        assert "use YYYY-MM-DD" in reply.inner_text()
        assert "Traceback" not in page.content()
    finally:
        page.close()


def test_hostile_article_shows_as_literal_text(browser, hostile_url):
    page = open_chat(browser, hostile_url)
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    try:
        reply = ask(page, "Who is the mayor of Testville?")
        reply.locator("details.qa-sources summary").click()
        page.wait_for_timeout(500)  # give any injected handler a chance to fire
        text = reply.inner_text()
        assert "<script>alert(1)</script>" in text
        assert "<img src=x onerror=alert(2)>" in text
        assert "[click me](javascript:alert(3))" in text
        assert "![](http://127.0.0.1:9/pixel.png)" in text
        assert "Mayor <script>alert('title')</script> of Testville" in text
        assert reply.locator("script, img, iframe, a[href^='javascript'], [onerror]").count() == 0
        assert dialogs == []
        assert not any("pixel.png" in url or url.rstrip("/").endswith("/x") for url in requests)
        assert "Jane Hostile" in " ".join(marks(reply))
    finally:
        page.close()


UPLOADED_ARTICLE = """\
Kelmar Bay Lighthouse Restored

Date: 2025-04-02

The old lighthouse of Kelmar Bay was restored by the stonemason Ivo Brandt over two summers.
It now guides fishing boats again and opens to visitors every Sunday.
"""


def _tree_digest(folder: Path) -> dict[str, str]:
    import hashlib

    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_upload_answer_from_it_follow_its_citation_link_and_copy_as_text(browser, upload_url, demo_assistant, tmp_path):
    base_before = _tree_digest(demo_assistant.index.path.parent)
    article = tmp_path / "lighthouse.txt"
    article.write_text(UPLOADED_ARTICLE, encoding="utf-8")
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=upload_url.rstrip("/"))
    page = context.new_page()
    try:
        page.goto(upload_url)
        page.wait_for_selector(".qa-collection", timeout=ANSWER_TIMEOUT_MS)
        page.locator("#qa-upload").get_by_text("Add articles").first.click()
        page.locator("#qa-upload-files input[type=file]").set_input_files(str(article))
        page.locator("#qa-upload-files").get_by_text("lighthouse.txt").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.locator("#qa-upload-button").click()
        summary = page.locator("#qa-upload-status .qa-upload-summary, #qa-upload-status .qa-error").first
        summary.wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert "Added 1" in summary.inner_text()

        reply = ask(page, "Who restored the lighthouse of Kelmar Bay?")
        assert reply.locator(".qa-found").count() == 1
        assert "Ivo Brandt" in " ".join(marks(reply))
        link = reply.locator(".qa-answer-text a.qa-cite-link").first
        assert link.inner_text() == "[1]"
        target = link.get_attribute("href")
        assert target and target.startswith("#qa-")
        card = reply.locator(f"[id='{target[1:]}']")
        assert card.count() == 1 and not card.is_visible()  # inside the collapsed Sources panel
        link.click()
        card.wait_for(state="visible", timeout=10_000)  # following the mark opens the panel at its card
        assert "Kelmar Bay Lighthouse Restored" in card.locator(".qa-source-head").inner_text()
        assert "lighthouse.txt" in card.inner_text()

        page.locator("#qa-chat button[aria-label='Copy as text']").first.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("Q: Who restored the lighthouse of Kelmar Bay?")
        assert "[1] Kelmar Bay Lighthouse Restored, 2025-04-02, lighthouse.txt" in copied
        assert "<" not in copied and "&#" not in copied
    finally:
        context.close()
    assert _tree_digest(demo_assistant.index.path.parent) == base_before  # the base index was never written


def test_json_endpoint_answers_a_question_alone(upload_url):
    from gradio_client import Client

    payload = Client(upload_url, verbose=False).predict("Who is Kazakhstan's new ambassador in Belarus?", api_name="/answer")
    assert payload["found"] is True and "Baizhanov" in payload["span"]
    cited = [c for c in payload["citations"] if c["cited"]]
    assert cited and cited[0]["number"] == 1 and cited[0]["quote"] == payload["text"]
