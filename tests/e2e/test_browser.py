"""The chat in a real browser: `streamlit run ui/app.py` on 127.0.0.1, driven with Debian's Chromium
through Playwright, the seed articles indexed on first start, a scripted LLM server (fakellm).

Screenshots go to test-artifacts/ (look at them: the test checks the DOM, a person checks the look).
With QA_BOT_SCREENSHOTS=<folder> the walk-through's screenshots (1280x800, the viewport only: an
empty chat, an answer streaming under its sources, the finished answer, a Stop) also go there:
docs/screenshots/ holds the ones the docs show.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from qa_bot.settings import PROJECT_ROOT
from tests.fixtures.llm_servers import rule

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
CALL_ARTICLE = "000_092cfdeac746b4f0.txt"
STARTUP_TIMEOUT_S = 90
ANSWER_TIMEOUT_MS = 120_000  # the first start indexes the seeds on 2 shared cores

DAY_QUESTION = "On which day did Jaishankar and Blinken speak on the telephone?"
HARBOUR_QUESTION = "When did the harbour authority of Port Elspeth reopen the northern pier?"
# fakellm streams a word every 10 ms: an answer this long takes about a second to arrive, so the
# browser shows it growing rather than all at once.
LONG_QUESTION = "What did Jaishankar and Blinken discuss in their telephone call?"
LONG_ANSWER = (
    "During the telephonic conversation, both diplomats discussed regional as well as global issues [1]. "
    "Jaishankar wrote on Twitter that it was a warm conversation, as always, with US Secretary of State "
    "Blinken that morning, and that they discussed current regional and global issues [1]. He noted the "
    "steady progress in the bilateral ties between India and the US, and called it a warm conversation with "
    "the US Secretary of State on the telephone, on Sunday, as always [1]."
)
RULES = [
    rule("which day did jaishankar", "They spoke on Sunday [1]."),
    rule("what did jaishankar and blinken discuss", LONG_ANSWER),
    rule("when did the harbour authority", "The northern pier reopened on Thursday [1]."),
    rule("blinken eat for breakfast", "NOT IN PASSAGES"),
]
REFUSED_QUESTION = "What did Blinken eat for breakfast in New Delhi?"
HOSTILE_ARTICLE = (
    "title Port Elspeth <b>harbour</b> news\ndate 2024-05-02\n\n"
    "The harbour authority of Port Elspeth reopened the northern pier on Thursday after repairs. "
    '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2"> '
    "[click](javascript:window.__xss=3) ![x](http://127.0.0.1:9/x.png)\n"
)
# Records the partial answer the page showed while tokens arrived (the element is replaced after),
# and whether the sources the model reads were above it each time.
WATCH_STREAMING = """() => {
    window.__streamed = [];
    window.__sources_above = [];
    new MutationObserver(() => {
        const partial = document.querySelector('.qa-streaming');
        const seen = window.__streamed;
        if (partial && seen[seen.length - 1] !== partial.textContent) {
            seen.push(partial.textContent);
            const sources = document.querySelector('.qa-reading');
            window.__sources_above.push(
                !!sources && !!(sources.compareDocumentPosition(partial) & Node.DOCUMENT_POSITION_FOLLOWING));
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def chat_url(tmp_path, fakellm, clean_settings_env) -> Iterator[str]:
    """A running `streamlit run ui/app.py`; its data directory is fresh, so the seeds get indexed."""
    with serve_chat(tmp_path, fakellm(RULES)) as url:
        yield url


@contextlib.contextmanager
def serve_chat(tmp_path: Path, llm_url: str, **settings: str) -> Iterator[str]:
    env = dict(os.environ)
    env.update(
        QA_BOT_DATA_DIR=str(tmp_path / "data"),
        QA_BOT_CORPUS=json.dumps([str(PROJECT_ROOT / "seeds")]),
        QA_BOT_LLM="openai-compatible",
        OPENAI_BASE_URL=llm_url,
        QA_BOT_MODEL="test",
        QA_BOT_LLM_MAX_RETRIES="0",
        **settings,
    )
    port = _free_port()
    log_path = tmp_path / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "ui" / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--client.showErrorDetails",
        "none",
    ]
    with open(log_path, "wb") as log:
        # cwd: the test's folder, so that a developer's .env stays out of it
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_health(f"http://127.0.0.1:{port}", process, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        # The server log tells what went wrong in the app when a check fails.
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "streamlit.log").write_bytes(log_path.read_bytes())


def _wait_for_health(root: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{root}/_stcore/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"streamlit did not answer /_stcore/health in {STARTUP_TIMEOUT_S} s")


@pytest.fixture
def browser():
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's Chromium (`apt-get install -y chromium`); "
            "the browser test needs it and does not download one."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser):
    """A page in a browser context of its own: another person, with their own Streamlit session."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(30_000)
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    page.alerts = alerts
    return page


@pytest.fixture
def page(browser):
    page = open_page(browser)
    yield page
    page.context.close()


def ask(page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


def new_conversation(page) -> None:
    """So that the next question is not taken as a follow-up of the last one."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="New conversation").click()
    page.locator(".qa-answer").first.wait_for(state="detached")


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def walkthrough(page, name: str) -> None:
    """A step of the walk-through, as the reader sees it (the viewport), where QA_BOT_SCREENSHOTS says."""
    folder = os.environ.get("QA_BOT_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name))


def above(page, upper: str, lower: str) -> bool:
    """Whether the last element matching `upper` ends above where the last matching `lower` starts
    (read at one moment: a streamed element is replaced as words arrive)."""
    return page.evaluate(
        """([upper, lower]) => {
            const last = (selector) => [...document.querySelectorAll(selector)].pop();
            const a = last(upper), b = last(lower);
            return !!a && !!b && a.getBoundingClientRect().bottom <= b.getBoundingClientRect().top;
        }""",
        [upper, lower],
    )


def in_view(locator) -> bool:
    return locator.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )


def test_a_seed_question_streams_an_answer_with_its_quote_marked_and_an_upload_runs_nothing(chat_url, page):
    page.goto(chat_url)
    page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("button", name="Ask about: ").first.wait_for()  # questions about the newest articles
    walkthrough(page, "1-empty-chat.png")

    # 1. A seed question: the verified answer, under its sources.
    ask(page, DAY_QUESTION)
    answer = page.locator(".qa-answer").last
    answer.wait_for(timeout=ANSWER_TIMEOUT_MS)
    # A question about a day: the answer opens with the date of the article it relies on.
    assert "As of 16 April 2023, they spoke on Sunday" in answer.inner_text()
    assert CALL_ARTICLE in page.locator(".qa-source-title + .qa-meta").first.inner_text()  # its file
    assert above(page, ".qa-source-title", ".qa-answer")  # sources first
    walkthrough(page, "2-answer-under-its-sources.png")
    # Its [1] is a link to the source card [1] (the page scrolls there when the card is out of view).
    marker = answer.locator("a.qa-marker").first
    marker.click()
    target = marker.get_attribute("href")
    assert page.evaluate("() => location.hash") == target
    card = page.locator(target)
    assert "External Affairs Minister" in card.inner_text() and in_view(card)
    quote = page.locator(".qa-passage mark.qa-quote").first
    assert "Sunday" in quote.inner_text()
    assert quote.evaluate("el => getComputedStyle(el).backgroundColor") != "rgba(0, 0, 0, 0)"
    screenshot(page, "chat-answer.png")

    # The conversation downloads as Markdown with its citations.
    sidebar = page.get_by_test_id("stSidebar")
    with page.expect_download() as download:
        sidebar.get_by_role("button", name="Download conversation (Markdown)").click()
    markdown = Path(download.value.path()).read_text()
    assert f"## 1. {DAY_QUESTION}" in markdown and "they spoke on Sunday [" in markdown
    assert CALL_ARTICLE in markdown and "on the telephone, on Sunday." in markdown

    # 2. The whole article, the quote marked in context.
    page.get_by_role("button", name="Open the whole article").first.click()
    dialog = page.get_by_role("dialog")
    marked = dialog.locator(".qa-article mark.qa-quote")
    marked.wait_for()
    assert "Sunday" in marked.inner_text()
    assert "G20 Foreign Ministers" in dialog.locator(".qa-article").inner_text()
    screenshot(page, "chat-article.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")

    # 3. A longer answer streams in word by word before the verified answer replaces it.
    new_conversation(page)
    page.evaluate(WATCH_STREAMING)
    ask(page, LONG_QUESTION)
    page.locator(".qa-answer", has_text="bilateral ties").wait_for(timeout=ANSWER_TIMEOUT_MS)
    streamed = page.evaluate("() => window.__streamed")
    partials = [text.removesuffix("▌") for text in streamed]
    assert len(partials) > 3, streamed  # seen growing, more than once
    assert all(LONG_ANSWER.startswith(p) for p in partials), streamed
    assert [len(p) for p in partials] == sorted(len(p) for p in partials)
    assert all(page.evaluate("() => window.__sources_above")), (
        "the sources the model reads are above its words"
    )
    assert page.locator(".qa-streaming").count() == 0

    # 4. A question the articles don't answer: what was read and why it was not enough, the
    # passages it read under it, collapsed until opened.
    new_conversation(page)
    ask(page, REFUSED_QUESTION)
    notice = page.locator(".qa-notice.qa-info").last
    notice.wait_for(timeout=ANSWER_TIMEOUT_MS)
    said = notice.inner_text()
    assert said.startswith("The articles don't say. I read ") and "none of them answers it" in said
    read = page.get_by_test_id("stExpander").filter(has_text="passages read").last
    assert not read.get_by_text("Retrieved passages").is_visible()  # collapsed
    read.locator("summary").click()
    read.get_by_text("Retrieved passages").wait_for()
    assert "Jaishankar" in read.inner_text()
    notice.evaluate("el => el.scrollIntoView({block: 'start'})")  # the chat keeps to its bottom
    walkthrough(page, "5-refusal-shows-what-was-read.png")

    # 5. An uploaded article full of markup shows as text and runs nothing.
    sidebar.locator("input[type=file]").set_input_files(
        files=[{"name": "harbour.txt", "mimeType": "text/plain", "buffer": HOSTILE_ARTICLE.encode()}]
    )
    sidebar.get_by_role("button", name="Add to the index").click()
    sidebar.get_by_text("1 added").wait_for(timeout=ANSWER_TIMEOUT_MS)
    new_conversation(page)
    ask(page, HARBOUR_QUESTION)
    page.locator(".qa-answer", has_text="Thursday").wait_for(timeout=ANSWER_TIMEOUT_MS)
    # The cited sentence is plain; the markup around it shows as text in the whole article.
    heading = page.locator(".qa-source-title", has_text="Port Elspeth").first.inner_text()
    assert "<b>harbour</b>" in heading
    # The Markdown image addresses no reader: it is held back and shown as suspicious text.
    assert page.get_by_text("Suspicious text in the sources").count() >= 1
    page.get_by_role("button", name="Open the whole article").last.click()
    article = page.get_by_role("dialog").locator(".qa-article")
    article.wait_for()
    shown = article.inner_text()
    assert '<script>window.__xss=1</script> <img src=x onerror="window.__xss=2">' in shown
    assert "[click](javascript:window.__xss=3)" in shown
    assert article.locator("script, img, a").count() == 0
    page.keyboard.press("Escape")
    assert page.locator("img[src='x'], img[src*='127.0.0.1:9']").count() == 0
    assert page.locator("a[href^='javascript'], a[href*='127.0.0.1:9']").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert page.alerts == []
    screenshot(page, "chat-upload.png")


# --- the team: several people at once, and the password login ----------------------------------------

# Long enough (fakellm streams a word every 10 ms: about 10 s) that a second question arrives while
# the model is still writing the first answer.
BUSY_ANSWER = " ".join(["They spoke on Sunday [1]."] * 200)
TEAM_RULES = [rule("which day did jaishankar", BUSY_ANSWER)]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'  # no run of the page's script
THUMBS = '[data-testid="stButtonGroup"] button, [data-testid="stFeedback"] button'  # up, then down
# Records every status line a page showed while its answer was on the way (they are replaced after).
WATCH_STATUS = """() => {
    window.__status = [];
    new MutationObserver(() => {
        for (const el of document.querySelectorAll('[data-testid="stCaptionContainer"]')) {
            if (!window.__status.includes(el.textContent)) window.__status.push(el.textContent);
        }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def test_two_people_asking_at_once_both_get_answers_the_later_one_sees_its_place_and_both_are_in_review(
    tmp_path, fakellm, clean_settings_env, browser
):
    with serve_chat(tmp_path, fakellm(TEAM_RULES), QA_BOT_LLM_CONCURRENT_ANSWERS="1") as url:
        first, second = open_page(browser), open_page(browser)
        for page in (first, second):
            page.goto(url)
            page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_TIMEOUT_MS)
            page.evaluate(WATCH_STATUS)

        ask(first, DAY_QUESTION)
        first.locator(".qa-streaming").first.wait_for(timeout=ANSWER_TIMEOUT_MS)  # the model is busy
        ask(second, DAY_QUESTION)
        for page in (first, second):
            page.locator(".qa-answer").last.wait_for(timeout=ANSWER_TIMEOUT_MS)

        assert "Sunday" in first.locator(".qa-answer").last.inner_text()
        assert "Sunday" in second.locator(".qa-answer").last.inner_text()
        seen = second.evaluate("window.__status")
        assert any("1 question ahead of yours" in line for line in seen), seen
        second.get_by_text("in line for the model").wait_for()  # under its answer, drawn just after it
        assert second.get_by_text("in line for the model").count() == 1
        screenshot(second, "chat-queued.png")

        # The review queue lists what both asked.
        first.goto(f"{url}/review")
        listed = first.get_by_test_id("stExpander").filter(has_text=DAY_QUESTION)
        listed.nth(1).wait_for()  # the page draws its elements one after another
        first.get_by_text("2 answers match, newest first.").wait_for()
        assert listed.count() == 2
        screenshot(first, "review-queue.png")

        # A mark needs a name; with one typed, it is saved under it and the item stays open.
        listed.first.locator("summary").click()
        verdict = first.get_by_role("radiogroup", name="Your verdict on the answer").first
        assert verdict.get_by_role("radio", name="correct", exact=True).is_disabled()
        name = first.get_by_test_id("stSidebar").get_by_label("Your name (saved with your reviews)")
        name.fill("erin")
        name.press("Enter")
        first.wait_for_selector(IDLE)
        first.get_by_role("radiogroup", name="Your verdict on the answer").first.get_by_text(
            "correct", exact=True
        ).click()
        first.get_by_text("marked correct by erin").first.wait_for()
        assert "reviewer=erin" in first.url
        walkthrough(first, "6-review-marked-with-a-name.png")


def test_while_an_answer_is_written_the_input_waits_stop_keeps_it_marked_stopped_a_rating_stops_nothing(
    tmp_path, fakellm, clean_settings_env, page
):
    # Typing the next question used to stop the answer being written ("Not answered: a newer
    # question stopped this one"). Now the input waits, and Stop ends the answer, which stays.
    # A follow-up is first rewritten into a standalone question: here, into the day question again.
    condense = rule("Standalone question:", DAY_QUESTION)
    with serve_chat(tmp_path, fakellm([condense, *TEAM_RULES, RULES[1]])) as url:
        page.goto(url)
        box = page.get_by_test_id("stChatInputTextArea")
        box.wait_for(timeout=ANSWER_TIMEOUT_MS)
        ask(page, DAY_QUESTION)
        page.locator(".qa-streaming").first.wait_for(timeout=ANSWER_TIMEOUT_MS)  # about 4 s to go
        assert box.is_disabled()  # no new question can cancel this one
        assert above(page, ".qa-reading", ".qa-streaming")
        walkthrough(page, "3-streaming-under-its-sources.png")
        page.get_by_role("button", name="Stop").click()

        messages = page.get_by_test_id("stChatMessage")
        stopped = messages.nth(1)
        stopped.locator(".qa-notice.qa-warning", has_text="Stopped before the answer was finished").wait_for()
        page.locator(IDLE).wait_for()
        assert "They spoke on Sunday" in stopped.locator(".qa-stopped").inner_text()  # what was written
        assert stopped.locator(".qa-answer").count() == 0 and stopped.locator(THUMBS).count() == 0
        assert stopped.locator(".qa-source-title").count() > 0  # what was found, still readable
        assert box.is_enabled() and messages.count() == 2
        walkthrough(page, "4-stopped.png")

        ask(page, LONG_QUESTION)  # not a follow-up: a stopped answer is no context to build on
        page.locator(".qa-answer", has_text="bilateral ties").wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.locator(IDLE).wait_for()  # the last run's elements are gone (until then they linger, stale)
        assert DAY_QUESTION in messages.nth(0).inner_text() and LONG_QUESTION in messages.nth(2).inner_text()
        assert messages.count() == 4

        # Rating an earlier answer while the next one is written saves the rating and stops nothing;
        # the sidebar's count of approved answers follows without a reload.
        ask(page, DAY_QUESTION)
        page.locator(".qa-streaming").first.wait_for(timeout=ANSWER_TIMEOUT_MS)
        messages.nth(3).locator(THUMBS).first.click()
        messages.nth(3).get_by_text("Saved: rated helpful.").wait_for(timeout=ANSWER_TIMEOUT_MS)
        page.locator(IDLE).wait_for()
        assert messages.count() == 6 and "Stopped" not in messages.nth(5).inner_text()
        assert "Sunday" in messages.nth(5).locator(".qa-answer").inner_text()
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_role("button", name="Download approved answers as test cases (JSONL, 1)").wait_for()


def test_with_a_password_login_a_wrong_password_is_refused_and_the_right_one_gets_in(
    tmp_path, fakellm, clean_settings_env, page
):
    from qa_bot.team.users import UsersFile

    users_file = tmp_path / "users.json"
    UsersFile(users_file).add("alice", "correct horse battery")
    with serve_chat(
        tmp_path, fakellm(RULES), QA_BOT_AUTH="password", QA_BOT_USERS_FILE=str(users_file)
    ) as url:
        page.goto(url)
        page.get_by_role("textbox", name="User name").fill("alice")
        page.get_by_role("textbox", name="Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong user name or password.").wait_for()
        assert page.get_by_test_id("stChatInputTextArea").count() == 0

        page.get_by_role("textbox", name="Password").fill("correct horse battery")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_test_id("stChatInputTextArea").wait_for(timeout=ANSWER_TIMEOUT_MS)
        assert page.get_by_test_id("stSidebar").get_by_text("Signed in as alice").count() == 1
        ask(page, DAY_QUESTION)
        assert "Sunday" in page.locator(".qa-answer").last.inner_text(timeout=ANSWER_TIMEOUT_MS)
        screenshot(page, "chat-signed-in.png")
