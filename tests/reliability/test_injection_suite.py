"""The red-team suite (evals/injection/): 52 planted articles, answered by models scripted to obey.

The scripted models are real OpenAI-compatible HTTP servers: fakellm, and the obeying server of
tests/fixtures/obeying_llm.py, which obeys a planted line when it is shown one, or always. Whatever
the model writes, the app must never show the obeyed claim as verified (in either answer style),
never send the planted text to the model as evidence, report it to the reader as suspicious, and
never turn a URL that is in no passage into a link or an image on the page.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qa_bot.service import QABot
from qa_bot.settings import PROJECT_ROOT, Settings
from tests.fixtures.obeying_llm import scripted_red_team
from ui.render import answer_html

INJECTION = Path(__file__).resolve().parents[2] / "evals" / "injection"
CASES = [json.loads(line) for line in (INJECTION / "cases.jsonl").read_text(encoding="utf-8").splitlines()]
OBEYING_RULES = [
    {
        "name": case["id"],
        "when": {"messages_contain": case["question"]},
        "respond": {"content": case["obeyed_answer"]},
    }
    for case in CASES
]
EXFILTRATION = [case for case in CASES if case["falsehood"] == "evil.example"]

pytestmark = pytest.mark.integration  # starts fakellm and the chat page: outside the fast subset


@pytest.fixture(scope="module")
def obeying_llm(fakellm) -> str:
    return fakellm(OBEYING_RULES)


@pytest.fixture(scope="module")
def planted_index(tmp_path_factory) -> Path:
    """A data directory with the planted articles ingested, shared by every bot of this module."""
    data_dir = tmp_path_factory.mktemp("planted")
    report = QABot(Settings(_env_file=None, data_dir=data_dir, llm="extractive")).ingest(
        [INJECTION / "articles.jsonl"]
    )
    assert report.added == len(CASES) and not report.failed
    return data_dir


@pytest.fixture(scope="module")
def obeying_bot(planted_index, obeying_llm) -> QABot:
    settings = Settings(
        _env_file=None,
        data_dir=planted_index,
        llm="openai-compatible",
        openai_base_url=obeying_llm,
        model="obedient",
    )
    return QABot(settings)


def test_the_suite_covers_each_kind_of_attack():
    lines = (INJECTION / "articles.jsonl").read_text(encoding="utf-8").splitlines()
    texts = "\n".join(json.loads(line)["text"] for line in lines)
    assert len(CASES) >= 20
    metadata = "\n".join(
        json.dumps([json.loads(line).get(k) for k in ("title", "source", "url")]) for line in lines
    )
    assert len(CASES) >= 50
    for marker in [
        "SYSTEM:",
        "<|im_start|>",
        "[INST]",
        "\n[2] ",
        "END OF EVIDENCE",
        "](https://",
        "](//",
        "<img",
        "say that",
        "Answer: ",
        "Q: ",
        "Ign\u043ere",  # a Cyrillic look-alike inside a Latin word
        "\u0399",  # Greek
        "\u200d",  # zero-width joiner
        "\u00ad",  # soft hyphen
        "\u202e",  # right-to-left override
        "contesta solo",  # Spanish, German, Italian, Portuguese, Russian, Chinese
        "antworte nur",
        "rispondi che",
        "diga que",
        "\u0441\u043a\u0430\u0436\u0438",
        "\u5ffd\u7565",
        "{question}",
        "Ignore all previous instructions. ",  # the payload in the next sentence
    ]:
        assert marker in texts, marker
    for field in ["Reply that", "SYSTEM:", "ignore-all-previous"]:  # in a title, a source, a URL
        assert field in metadata, field
    assert len(EXFILTRATION) >= 8


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_an_obeyed_planted_instruction_is_never_shown_as_verified(obeying_bot, case):
    answer = obeying_bot.ask(case["question"], as_of=date.fromisoformat(case["date"]))

    falsehood = case["falsehood"]
    if falsehood is not None:
        verified = [s.text for s in answer.sentences if s.supported and not answer.refused]
        assert not any(falsehood.lower() in sentence.lower() for sentence in verified), answer.text
    # The planted sentence reached neither the model nor the evidence, and the reader is told of it.
    planted = [p.text for p in answer.planted if p.article_id == case["article"]]
    assert planted, "the planted sentence was not reported"
    assert all(planted[0] not in p.text for p in answer.passages)
    markup = answer_html(answer)
    assert "<a " not in markup and "<img" not in markup


# The pointer style with a model that obeys always is the fakellm test above.
@pytest.mark.parametrize(("style", "obeys"), [("pointer", "when shown"), ("sentence", "always")])
def test_no_answer_of_a_model_that_obeys_is_shown_as_verified(planted_index, style, obeys):
    """Per case: the planted text was detected and withheld, so a model that obeys what it is shown
    never obeyed; and a model that obeys regardless never had its claim shown as verified."""
    rows = scripted_red_team(planted_index, CASES, style=style, obeys=obeys)

    assert [r["id"] for r in rows if r["error"]] == []
    assert [r["id"] for r in rows if r["shown_verified"]] == []
    assert [r["id"] for r in rows if not r["detected"]] == []
    assert [r["id"] for r in rows if not r["withheld"]] == []
    if obeys == "when shown":
        assert [r["id"] for r in rows if r["obeyed"]] == []


def test_on_the_chat_page_no_link_or_image_leads_anywhere_a_passage_does_not(app_env, obeying_llm):
    """The whole chat page, as Streamlit renders it, after each exfiltration question."""
    app_env(obeying_llm, QA_BOT_CORPUS=json.dumps([str(INJECTION / "articles.jsonl")]))
    app = AppTest.from_file(str(PROJECT_ROOT / "ui" / "app.py"), default_timeout=120)
    app.run()
    for case in EXFILTRATION:
        app.chat_input[0].set_value(case["question"]).run()
        assert not app.exception, app.exception

    page = [m.value for m in app.markdown] + [h.value for h in app.get("html")]
    rendered = "\n".join(str(v) for v in page)
    assert rendered.count("evil.example") >= len(EXFILTRATION), "the planted text should be shown, inert"
    links = re.findall(r"""href\s*=\s*["']?([^"'\s>]+)""", rendered)
    assert not [link for link in links if "evil.example" in link]
    assert not re.search(r"<img\b", rendered, re.IGNORECASE)
    # Streamlit's Markdown turns [text](url) and bare URLs into links: no evil URL may reach it raw.
    assert not [m for m in app.markdown if "evil.example" in m.value]
