"""Render functions: exact HTML for hand-built answers, and hostile article text kept inert."""

from __future__ import annotations

import datetime as dt
import html
import re
from types import SimpleNamespace

from qa.errors import QuestionError
from qa.render import (
    NOT_FOUND_NOTICE,
    SCORE_HELP,
    UNEXPECTED_ERROR,
    escape_text,
    highlight,
    message_anchor,
    plain_answer,
    read_question,
    render_answer,
    render_collection_line,
    render_error,
    render_question,
    render_reply,
    render_sources,
)
from qa.types import Answer, Citation

QUOTE = "Kazakhstan's new ambassador in Belarus is Yerlan Baizhanov, formerly the top diplomat in Vietnam."
SPAN_START = QUOTE.index("Yerlan")
SPAN_END = SPAN_START + len("Yerlan Baizhanov")


def make_citation(quote: str = QUOTE, *, start: int | None = SPAN_START, end: int | None = SPAN_END,
                  title: str = "Lukashenko Praises Kazakhstan", published: dt.date | None = dt.date(2024, 11, 27),
                  sources: tuple[str, ...] = ("/data/news/003_db8e.txt",), url: str | None = None,
                  score: float = 0.8125) -> Citation:
    return Citation(
        article_id="a1", title=title, published=published, sources=sources, url=url, quote=quote,
        start=100, end=100 + len(quote), answer_start=start, answer_end=end, score=score,
    )


def make_answer(*citations: Citation, text: str | None = None, found: bool = True,
                confidence: float = 0.87, span: str | None = "Yerlan Baizhanov") -> Answer:
    if text is None:
        text = citations[0].quote
    return Answer(question="Who is the ambassador?", text=text, found=found, confidence=confidence,
                  citations=tuple(citations), span=span)


# --- escaping ---------------------------------------------------------------------------------

def test_escape_text_neutralises_tags_and_markdown():
    assert escape_text("<b>x</b> & y") == "&lt;b&gt;x&lt;/b&gt; &amp; y"
    assert escape_text("[x](javascript:alert(1))") == "&#91;x&#93;&#40;javascript&#58;alert&#40;1&#41;&#41;"
    assert escape_text("![](http://e.vil/p.png)") == "&#33;&#91;&#93;&#40;http&#58;//e.vil/p.png&#41;"
    assert escape_text("visit www.example.com") == "visit www&#46;example.com"
    assert escape_text("$$x$$ `c` *e* _u_ # h") == "&#36;&#36;x&#36;&#36; &#96;c&#96; &#42;e&#42; &#95;u&#95; &#35; h"
    assert escape_text("it's \"q\"") == "it&#39;s &quot;q&quot;"


def test_escape_text_round_trips_through_the_browser_text():
    hostile = "<script>alert(1)</script> [x](javascript:y) ![](http://a/b) &amp; 'q' www.x.org $$a$$"
    assert html.unescape(escape_text(hostile)) == hostile


def test_escape_text_drops_zero_width_and_bidi_controls_but_keeps_joiners():
    assert escape_text("<scr\u200bipt>\u202eevil\ufeff\u2060") == "&lt;script&gt;evil"
    assert escape_text("a\u200cb\u200dc") == "a\u200cb\u200dc"
    assert escape_text("a\x00b\nc\td") == "ab\nc\td"


def test_question_round_trip():
    question = "Who said <b>\"hi\"</b> & [why](x)?"
    assert read_question(render_question(question)) == question


# --- highlighting -----------------------------------------------------------------------------

def test_highlight_escapes_before_span_and_after_separately():
    quote = "<i>A</i> said <b>Bob & Co</b>!"
    start = quote.index("<b>")
    end = quote.index("!")
    assert highlight(quote, start, end) == (
        "&lt;i&gt;A&lt;/i&gt; said <mark>&lt;b&gt;Bob &amp; Co&lt;/b&gt;</mark>&#33;"
    )


def test_highlight_offsets_survive_zero_width_characters():
    quote = "The\u200b minister is Pavel Muraveiko."
    start = quote.index("Pavel")
    assert highlight(quote, start, start + len("Pavel Muraveiko")) == "The minister is <mark>Pavel Muraveiko</mark>."


def test_highlight_without_or_with_bad_offsets_is_plain():
    assert highlight("a < b", None, None) == "a &lt; b"
    assert highlight("a < b", 3, 99) == "a &lt; b"
    assert highlight("a < b", 2, 2) == "a &lt; b"


def _answer_paragraph(rendered: str) -> str:
    return re.search(r'<p class="qa-answer-text">.*?</p>', rendered).group(0)


# --- answers ----------------------------------------------------------------------------------

def test_render_found_answer():
    answer = make_answer(make_citation())
    assert render_answer(answer) == (
        '<div class="qa-answer qa-found">'
        '<p class="qa-answer-text">Kazakhstan&#39;s new ambassador in Belarus is <mark>Yerlan Baizhanov</mark>,'
        ' formerly the top diplomat in Vietnam. <sup class="qa-cite">[1]</sup></p>'
        '<p class="qa-meta">From <cite>Lukashenko Praises Kazakhstan</cite>, 2024-11-27 · confidence 87%</p>'
        "</div>"
    )


def test_render_answer_of_two_sentences_from_two_citations_marks_each():
    first = make_citation()
    second = make_citation("He served in Cambodia and Laos.", start=13, end=21, title="Second",
                           published=None)
    answer = make_answer(first, second, text=first.quote + " " + second.quote)
    body = _answer_paragraph(render_answer(answer))
    assert body == (
        '<p class="qa-answer-text">Kazakhstan&#39;s new ambassador in Belarus is <mark>Yerlan Baizhanov</mark>,'
        ' formerly the top diplomat in Vietnam. <sup class="qa-cite">[1]</sup>'
        ' He served in <mark>Cambodia</mark> and Laos. <sup class="qa-cite">[2]</sup></p>'
    )


def test_render_answer_text_not_a_quote_highlights_span_and_cites_first():
    answer = make_answer(make_citation(), text="It is Yerlan Baizhanov.")
    assert _answer_paragraph(render_answer(answer)) == (
        '<p class="qa-answer-text">It is <mark>Yerlan Baizhanov</mark>. <sup class="qa-cite">[1]</sup></p>'
    )


def test_render_not_found_lists_closest_articles():
    closest = make_citation(start=None, end=None, title="CSTO <news>", published=dt.date(2025, 4, 17))
    other = make_citation(title="Undated", published=None)
    answer = make_answer(closest, other, text=NOT_FOUND_NOTICE, found=False, confidence=0.1, span=None)
    assert render_answer(answer) == (
        '<div class="qa-answer qa-not-found">'
        f'<p class="qa-notice"><strong>{NOT_FOUND_NOTICE}</strong></p>'
        '<p class="qa-closest-label">Closest articles:</p>'
        '<ul class="qa-closest">'
        '<li><cite>CSTO &lt;news&gt;</cite> (2025-04-17)</li>'  # nothing is cited: no numbers
        '<li><cite>Undated</cite> (date unknown)</li>'
        "</ul>"
        "</div>"
    )
    assert "<mark>" not in render_answer(answer)


def test_render_not_found_shows_its_own_explanation_and_handles_no_citations():
    answer = Answer("q", "These articles do not contain <the> answer.", False, 0.0)
    assert render_answer(answer) == (
        '<div class="qa-answer qa-not-found">'
        '<p class="qa-notice"><strong>These articles do not contain &lt;the&gt; answer.</strong></p>'
        '<p class="qa-closest-label">No article came close.</p>'
        "</div>"
    )
    assert f"<strong>{NOT_FOUND_NOTICE}</strong>" in render_answer(Answer("q", " ", False, 0.0))


# --- sources ----------------------------------------------------------------------------------

def test_render_sources_panel():
    citation = make_citation(url="https://timesca.com/a?b=1&c=2",
                             sources=("/data/news/003_db8e.txt", "mirror/003.html"))
    assert render_sources(make_answer(citation)) == (
        '<details class="qa-sources"><summary>Sources</summary>'
        '<div class="qa-source qa-cited">'
        '<p class="qa-source-head"><sup class="qa-cite">[1]</sup> <strong>Lukashenko Praises Kazakhstan</strong>'
        f' · 2024-11-27 · <span class="qa-score" title="{SCORE_HELP}">score 0.81</span></p>'
        '<p class="qa-source-origin"><a href="https://timesca.com/a?b=1&amp;c=2" target="_blank"'
        ' rel="noopener noreferrer nofollow">https&#58;//timesca.com/a?b=1&amp;c=2</a>'
        " · 003&#95;db8e.txt · 003.html</p>"
        '<blockquote class="qa-quote">Kazakhstan&#39;s new ambassador in Belarus is <mark>Yerlan Baizhanov</mark>,'
        " formerly the top diplomat in Vietnam.</blockquote>"
        "</div>"
        "</details>"
    )


def test_render_sources_empty_without_citations():
    assert render_sources(Answer("q", NOT_FOUND_NOTICE, False, 0.0)) == ""
    assert render_reply(Answer("q", NOT_FOUND_NOTICE, False, 0.0)) == render_answer(
        Answer("q", NOT_FOUND_NOTICE, False, 0.0))


def test_render_sources_non_web_url_is_text_not_a_link():
    for url in ("javascript:alert(1)", "data:text/html,<b>x</b>", "https://a b", "http://[::1"):
        origin = re.search(r'<p class="qa-source-origin">.*?</p>', render_sources(make_answer(make_citation(url=url, sources=())))).group(0)
        assert "<a " not in origin
        assert origin == f'<p class="qa-source-origin">{escape_text(url)}</p>'


# --- hostile articles -------------------------------------------------------------------------

HOSTILE_QUOTE = (
    "Officials said <script>alert(1)</script> and <img src=x onerror=alert(1)> then "
    "[click](javascript:alert(1)) ![](http://tracker.example/p.png) <a href='http://x'>x</a>"
    " while Pavel\u200b Muraveiko\u202e visited."
)
HOSTILE_TITLE = '<img src=x onerror=alert(1)> [t](javascript:x) "quoted"'


def _hostile_answer(found: bool = True) -> Answer:
    start = HOSTILE_QUOTE.index("Pavel")
    end = HOSTILE_QUOTE.index(" visited")
    citation = make_citation(HOSTILE_QUOTE, start=start, end=end, title=HOSTILE_TITLE,
                             sources=("<b>evil</b>.txt",), url="javascript:alert(document.cookie)")
    return make_answer(citation, found=found, span=HOSTILE_QUOTE[start:end])


def _markup_tags(rendered: str) -> set[str]:
    return {tag.lower() for tag in re.findall(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)", rendered)}


def test_hostile_article_text_is_never_markup():
    for found in (True, False):
        rendered = render_reply(_hostile_answer(found))
        assert _markup_tags(rendered) <= {"div", "p", "mark", "sup", "cite", "strong", "details", "summary",
                                          "blockquote", "ul", "li", "span"}
        for forbidden in ("<script", "<img", "<a ", "](", "![", "javascript:", "http://"):
            assert forbidden not in rendered
        assert "\u200b" not in rendered and "\u202e" not in rendered


def test_hostile_article_reads_back_as_literal_text():
    rendered = render_reply(_hostile_answer())
    quote_html = re.search(r'<blockquote class="qa-quote">(.*)</blockquote>', rendered).group(1)
    assert quote_html.count("<mark>") == 1
    visible = html.unescape(quote_html.replace("<mark>", "").replace("</mark>", ""))
    assert visible == HOSTILE_QUOTE.replace("\u200b", "").replace("\u202e", "")
    marked = html.unescape(re.search(r"<mark>(.*?)</mark>", quote_html).group(1))
    assert marked == "Pavel Muraveiko"
    head = re.search(r"<strong>(.*?)</strong>", rendered.split('<div class="qa-source qa-cited">')[1]).group(1)
    assert html.unescape(head) == HOSTILE_TITLE


# --- errors and collection line ---------------------------------------------------------------

def test_render_error_messages():
    assert render_error(QuestionError("the question is empty: type a question")) == (
        '<div class="qa-error"><strong>Sorry, I could not answer that.</strong>'
        " The question is empty&#58; type a question</div>"
    )
    assert render_error("since must be YYYY-MM-DD, got '<b>'") == (
        '<div class="qa-error"><strong>Sorry, I could not answer that.</strong>'
        " Since must be YYYY-MM-DD, got &#39;&lt;b&gt;&#39;</div>"
    )
    unexpected = render_error(RuntimeError("secret path /root/x"))
    assert "secret" not in unexpected
    assert unexpected == (
        '<div class="qa-error"><strong>Sorry, I could not answer that.</strong> '
        + escape_text(UNEXPECTED_ERROR) + "</div>"
    )


def test_render_collection_line():
    info = SimpleNamespace(articles=1234, chunks=1, earliest=dt.date(2024, 11, 27), latest=dt.date(2025, 5, 20),
                           model_name="all-MiniLM-L6-v2")
    assert render_collection_line(info) == (
        '<p class="qa-collection">Searching <strong>1,234 articles</strong> (1 passage),'
        " from 2024-11-27 to 2025-05-20 · model all-MiniLM-L6-v2</p>"
    )
    same_day = SimpleNamespace(articles=1, chunks=3, earliest=dt.date(2025, 1, 2), latest=dt.date(2025, 1, 2),
                               model_name="m")
    assert "1 article</strong> (3 passages), dated 2025-01-02" in render_collection_line(same_day)
    undated = SimpleNamespace(articles=0, chunks=0, earliest=None, latest=None, model_name="m")
    assert "0 articles</strong> (0 passages), dates unknown" in render_collection_line(undated)


# --- citations users can follow, and plain text ------------------------------------------------

def _sources_answer() -> Answer:
    first = make_citation()
    repeating = make_citation("Yerlan Baizhanov arrived in Minsk on Monday.", start=0, end=16, title="Arrival",
                              url="https://example.org/arrival")
    other = make_citation("Belarus and Kazakhstan signed a trade deal.", start=None, end=None, title="Trade <deal>",
                          published=None, sources=("/data/trade.txt",))
    return make_answer(first, other, repeating)


def test_marks_link_to_numbered_source_cards_and_only_cited_sources_are_numbered():
    answer = _sources_answer()
    rendered = render_reply(answer, anchor="qa-3-abc")
    assert _answer_paragraph(rendered) == (
        '<p class="qa-answer-text">Kazakhstan&#39;s new ambassador in Belarus is <mark>Yerlan Baizhanov</mark>,'
        ' formerly the top diplomat in Vietnam.'
        ' <sup class="qa-cite"><a class="qa-cite-link" href="#qa-3-abc-src-1">[1]</a></sup>'
        ' <sup class="qa-cite"><a class="qa-cite-link" href="#qa-3-abc-src-2">[2]</a></sup></p>'
    )
    cards = re.findall(r'<div class="(qa-source [^"]+)"( id="[^"]+")?><p class="qa-source-head">(.*?)<strong>(.*?)</strong>', rendered)
    assert cards == [
        ("qa-source qa-cited", ' id="qa-3-abc-src-1"', '<sup class="qa-cite">[1]</sup> ', "Lukashenko Praises Kazakhstan"),
        ("qa-source qa-cited", ' id="qa-3-abc-src-2"', '<sup class="qa-cite">[2]</sup> ', "Arrival"),
        ("qa-source qa-also", "", "", "Trade &lt;deal&gt;"),
    ]
    assert '<p class="qa-also-label">Also relevant:</p>' in rendered
    assert '<a href="https://example.org/arrival" target="_blank"' in rendered  # a source's URL is a link
    # Without an anchor (e.g. outside the chat) the marks are plain.
    assert "qa-cite-link" not in render_reply(answer) and " id=" not in render_reply(answer)


def test_not_found_sources_are_closest_passages_without_numbers():
    closest = make_citation(start=None, end=None)
    rendered = render_reply(make_answer(closest, text=NOT_FOUND_NOTICE, found=False, span=None), anchor="qa-1-x")
    assert "[1]" not in rendered and "qa-cite-link" not in rendered and " id=" not in rendered
    assert '<p class="qa-also-label">Closest passages:</p>' in rendered


def test_message_anchors_differ_by_turn_and_answer():
    answer = _sources_answer()
    assert message_anchor(answer, 1) != message_anchor(answer, 2)
    assert message_anchor(answer, 1) != message_anchor(make_answer(make_citation(), text="Other."), 1)
    assert re.fullmatch(r"qa-1-[0-9a-f]{8}", message_anchor(answer, 1))


def test_plain_answer_is_text_with_a_reference_list():
    assert plain_answer(_sources_answer()) == (
        "Kazakhstan's new ambassador in Belarus is Yerlan Baizhanov, formerly the top diplomat in Vietnam. [1] [2]\n"
        "Answer: Yerlan Baizhanov (confidence 87%)\n"
        "\n"
        "References:\n"
        "[1] Lukashenko Praises Kazakhstan, 2024-11-27, 003_db8e.txt\n"
        "[2] Arrival, 2024-11-27, https://example.org/arrival\n"
        "\n"
        "Also relevant:\n"
        "- Trade <deal>, date unknown, trade.txt"
    )
    closest = make_citation(start=None, end=None, url="https://example.org/a")
    assert plain_answer(make_answer(closest, text=NOT_FOUND_NOTICE, found=False, span=None)) == (
        f"{NOT_FOUND_NOTICE}\n\nClosest articles:\n- Lukashenko Praises Kazakhstan, 2024-11-27, https://example.org/a"
    )
    assert plain_answer(Answer("q", "Nothing here.", False, 0.0)) == "Nothing here."


def test_hostile_article_links_only_to_its_own_source_cards():
    rendered = render_reply(_hostile_answer(), anchor="qa-1-abc")
    links = re.findall(r"<a [^>]*>", rendered)
    assert links == ['<a class="qa-cite-link" href="#qa-1-abc-src-1">']
    assert "javascript:" not in rendered and "<script" not in rendered
