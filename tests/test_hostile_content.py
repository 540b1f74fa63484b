"""Hostile article content (HTML, scripts, markdown, terminal escapes, invisible characters) stays inert text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from conftest import fake_assistant, use_fake_models

from qa.assistant import Assistant, index_sources
from qa.cli import format_answer, main
from qa.config import Settings
from qa.render import message_anchor, render_reply
from qa.web import LazyAssistant, answer_message

ESC = "\x1b"
HOSTILE_SENTENCE = (
    "The mayor of Hostiletown, <script>alert(1)</script> <img src=x onerror=alert(2)>, is Jane "
    f"{ESC}[31mHostile{ESC}[0m [click me](javascript:alert(3)) ![pixel](http://127.0.0.1:9/pixel.png)."
)
HOSTILE_ARTICLE = f"""Mayor <script>alert('title')</script> of Hostiletown [x](javascript:alert(1)) {ESC}[5mBlink
Date: 2025-02-01

The council of Hostiletown met on Monday to discuss the new bridge over the river.
{HOSTILE_SENTENCE}
The deputy mayor is Tom\u200b Zero\u200dwidth, and the \u202eTRAP\u202c budget is <b>bold</b> **42** million.
{ESC}]0;owned\x07Residents {ESC}[2J asked for more parking near the market square.
"""
CALM_ARTICLE = """Hostiletown Opens a Library
Date: 2025-03-05

Hostiletown opened a public library on Friday. The library holds twenty thousand books.
"""
HOSTILE_RECORD = {
    "title": "Harbour <iframe src=//127.0.0.1:9></iframe> Report",
    "body": "The harbour master of Hostiletown is Ada Quay, who took office in March.",
    "url": f"https://news.example/a\"><script>alert(4)</script>{ESC}[2J\u202e",
    "date": "2025-04-01",
}
# Control characters that must never reach a terminal from article text (ESC, BEL, CSI, bidi override).
TERMINAL_CONTROLS = (ESC, "\x07", "\x9b", "\u202e")
ALLOWED_TAGS = {"div", "p", "mark", "sup", "cite", "details", "summary", "blockquote", "strong", "ul", "li", "a", "span"}
SETTINGS = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=64)


class Markup(HTMLParser):
    """Collects the tags, attributes and text of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text += data


def parse(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    markup.close()
    return markup


def assert_inert(html: str) -> Markup:
    markup = parse(html)
    for tag, attributes in markup.tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attributes:
            assert not name.startswith("on"), (tag, name)
            if name == "href":
                # a source's web address, or a citation mark's link to its card in the same message
                assert value is not None and (value.startswith(("http://", "https://"))
                                              or re.fullmatch(r"#qa-\d+-[0-9a-f]{8}-src-\d+", value)), value
                assert "<" not in value and '"' not in value and ESC not in value
    for char in TERMINAL_CONTROLS + ("\u200b",):
        assert char not in html
    return markup


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Assistant:
    root = tmp_path_factory.mktemp("hostile")
    sources = root / "articles"
    sources.mkdir()
    (sources / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    (sources / f"<img src=x onerror=alert(5)>{ESC}[31m.txt").write_text(CALM_ARTICLE, encoding="utf-8")
    (sources / "records.jsonl").write_text(json.dumps(HOSTILE_RECORD) + "\n", encoding="utf-8")
    from conftest import FakeEncoder

    index_sources([sources], root / "index", settings=SETTINGS, encoder=FakeEncoder())
    return fake_assistant(root / "index", SETTINGS)


def test_hostile_text_is_indexed_verbatim(hostile):
    articles = {a.title: a for a in hostile.index.articles.values()}
    assert len(articles) == 3
    article = articles[f"Mayor <script>alert('title')</script> of Hostiletown [x](javascript:alert(1)) {ESC}[5mBlink"]
    assert HOSTILE_SENTENCE in article.body
    assert "Tom\u200b Zero\u200dwidth, and the \u202eTRAP\u202c budget" in article.body
    for chunk in hostile.index.chunks:
        assert hostile.index.articles[chunk.article_id].body[chunk.start : chunk.end] == chunk.text


@pytest.mark.parametrize("question", [
    "Who is the mayor of Hostiletown?",
    "Who is the deputy mayor of Hostiletown?",
    "How big is the TRAP budget?",
    "What did residents ask for?",
    "Who is the harbour master of Hostiletown?",
])
def test_quotes_keep_their_offsets(hostile, question):
    answer = hostile.ask(question, top_k=3)
    assert answer.citations
    for citation in answer.citations:
        body = hostile.index.articles[citation.article_id].body
        assert body[citation.start : citation.end] == citation.quote
        if citation.answer_start is not None:
            assert 0 <= citation.answer_start < citation.answer_end <= len(citation.quote)


def test_chat_reply_shows_hostile_text_as_literal_text(hostile):
    answer = hostile.ask("Who is the mayor of Hostiletown?", top_k=3)
    assert answer.found and HOSTILE_SENTENCE in answer.text
    html = render_reply(answer, anchor=message_anchor(answer, 0))
    assert html == answer_message(LazyAssistant(hostile), "Who is the mayor of Hostiletown?", history=[], top_k=3,
                                  since_text="", until_text="")
    markup = assert_inert(html)
    text = markup.text
    assert "<script>alert(1)</script>" in text
    assert "<img src=x onerror=alert(2)>" in text
    assert "[click me](javascript:alert(3))" in text
    assert "![pixel](http://127.0.0.1:9/pixel.png)" in text
    assert "Mayor <script>alert('title')</script> of Hostiletown [x](javascript:alert(1))" in text
    assert "[31mHostile[0m" in text  # the escape character itself is dropped, its printable rest shown


def test_every_reply_from_the_hostile_collection_is_inert(hostile):
    for question in ("Who is the deputy mayor of Hostiletown?", "How big is the TRAP budget?",
                     "What did residents ask for?", "Who is the harbour master of Hostiletown?",
                     "When did the library open?", "Who won the 2018 football World Cup?"):
        html = render_reply(hostile.ask(question, top_k=5))
        markup = assert_inert(html)
        assert "<script>" not in html and "<iframe" not in html and "<img" not in html
        assert not [tag for tag, _ in markup.tags if tag in {"script", "iframe", "img"}]


def test_hostile_url_and_file_name_are_not_markup(hostile):
    answer = hostile.ask("Who is the harbour master of Hostiletown?", top_k=5)
    html = render_reply(answer)
    markup = assert_inert(html)
    assert "Harbour <iframe src=//127.0.0.1:9></iframe> Report" in markup.text
    assert 'https://news.example/a"><script>alert(4)</script>' in markup.text  # shown, not linked
    assert not [attrs for tag, attrs in markup.tags if tag == "a"]
    calm = render_reply(hostile.ask("When did the library open?", top_k=5))
    assert "<img src=x onerror=alert(5)>[31m.txt" in assert_inert(calm).text


@pytest.fixture
def cli_index(hostile, monkeypatch) -> str:
    use_fake_models(monkeypatch)
    return str(hostile.index.path.parent)


@pytest.mark.parametrize("question", [
    "Who is the mayor of Hostiletown?",
    "Who is the deputy mayor of Hostiletown?",
    "What did residents ask for?",
    "Who is the harbour master of Hostiletown?",
    "When did the library open?",
    "Who won the 2018 football World Cup?",
])
def test_cli_text_output_emits_no_terminal_control_sequences(cli_index, capsys, question):
    assert main(["ask", question, "--index", cli_index, "--model", "fake-encoder", "--top-k", "5"]) == 0
    out, err = capsys.readouterr()
    for char in TERMINAL_CONTROLS:
        assert char not in out and char not in err
    assert all(ch.isprintable() or ch == "\n" for ch in out)


def test_cli_marks_the_answer_with_its_own_escapes_only(hostile):
    answer = hostile.ask("Who is the mayor of Hostiletown?", top_k=5)
    colored = format_answer(answer, color=True)
    assert colored.count(ESC) == 2
    assert "\x1b[1;33m" in colored and "\x1b[0m" in colored
    plain = format_answer(answer, color=False)
    assert ESC not in plain
    assert answer.span and f"**{answer.span}**" in plain  # the plain answer mark
    # Shown literally: a terminal does not run markup.
    assert "<script>alert(1)</script>" in plain.replace(f"**{answer.span}**", answer.span)


def test_cli_json_output_escapes_control_characters(cli_index, capsys, hostile):
    assert main(["ask", "Who is the mayor of Hostiletown?", "--index", cli_index, "--model", "fake-encoder", "--json"]) == 0
    out = capsys.readouterr().out
    assert ESC not in out and "\x07" not in out
    data = json.loads(out)
    quote = data["citations"][0]["quote"]
    assert HOSTILE_SENTENCE in quote  # the data itself is exact; only its encoding is escaped
    body = hostile.index.articles[data["citations"][0]["article_id"]].body
    assert body[data["citations"][0]["start"] : data["citations"][0]["end"]] == quote


def test_a_feed_cannot_pull_in_local_files_or_expand_entities(tmp_path):
    from qa.ingest.feeds import read_feed

    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-CONTENT", encoding="utf-8")
    levels = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 9))
    feed = f"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{secret}"><!ENTITY l0 "lol">{levels}]>
<rss version="2.0"><channel><title>t</title>
<item><title>Leak</title><description>The council met. &xxe;</description></item>
<item><title>Bomb</title><description>The harbour opened. &l8;</description></item>
</channel></rss>""".encode()
    bodies = [article.body for article in read_feed(feed, "hostile.xml").articles]
    assert bodies and all("SECRET" not in body and "lollol" not in body and len(body) < 200 for body in bodies)
