"""Tests for qa.ingest: every input format, page splitting, cleaning, de-duplication, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.errors import EmptyCollectionError, IngestError
from qa.ingest import IngestResult, Skipped, demo_corpus_dir, read_sources
from qa.ingest.clean import clean_text, normalize_newlines, split_truncation
from qa.ingest.dates import parse_date, parse_date_field
from qa.ingest.dedupe import merge_duplicates
from qa.ingest.identity import make_article
from qa.ingest.pages import is_search_page, read_search_page

SHARED_PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "toca-search-pages"
DEMO_PAGES = demo_corpus_dir()

SEED_TITLES = {
    "Belarus and Kazakhstan Strengthen Military Cooperation",
    "Turkmen Nationals in Belarus Investigated Over Alleged Migration Scheme",
    "Uzbekistan Airways Reroutes Flights to Europe, Avoiding Russia and Belarus",
    "Nazarbayev Agrees to Meet Belarusian President Lukashenko",
    "Lukashenko Turns Up Charm After Kazakhstan Kerfuffle",
    "The Illusion of Influence: The CSTO’s Journey From Symbolic Maneuvers To Real Challenges",
    "Controversies and Rejections: What Future Awaits the CSTO?",
    "Experts Warn Kazakhstan Over Possible Consequences of Further Armenia-Azerbaijan Conflict",
    "CSTO to Begin Arms Supplies to the Tajik-Afghan Border in 2026",
    "One Military Alliance (CSTO) Monitors Woes of Another (NATO)",
    "Turkey’s Turkic Gambit: Balancing Influence in Post-Soviet States",
    "CSTO to Strengthen Tajik-Afghan Border in 2025",
    "Russia’s Strategic Posturing and Putin’s November Visit to Kazakhstan",
    "New Fighting in Syria Throws Astana Talks Off Track",
    "Trump’s Bid for Ukraine-Russia Peace: Could Kazakhstan Be the Key Mediator?",
    "From Hero to Exile: Kyrgyz Rescuer Sultan Abdumalikov Deported from Russia",
    "Russian MP Blames Central Asians for Ruble Depreciation",
    "Kazakh Deputy PM Zhumangarin: Our Industries Come Before Sanctions",
    "What Does Turkey’s “Return” to Europe Mean for Central Asia?",
    "Trump-Putin Deal Talks: Central Asia at the Nexus of Global Power Shifts",
    "Kazakhstan on Alert as War in Ukraine Escalates",
    "War in Ukraine: Kazakhstan, Kyrgyzstan Tell Citizens to Step Up Safety",
}

LONG_BODY = (
    "The regional council approved a new budget for road repairs on Monday, after a debate that "
    "lasted most of the afternoon. Members agreed to spend the money on bridges first. The works "
    "will start in spring and should be finished before the end of the following year, officials said."
)

HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Dam Opens on the River | Example News</title>
<meta property="og:title" content="Dam Opens on the River">
<meta property="article:published_time" content="2024-03-05T08:00:00Z">
<link rel="canonical" href="https://news.example.org/2024/dam-opens">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li></ul></nav>
<header><div class="banner">Subscribe to our newsletter today</div></header>
<main><article>
<h1>Dam Opens on the River</h1>
<p>The new hydroelectric dam on the river opened on Tuesday after six years of construction,
officials said at a ceremony attended by several hundred residents of the valley.</p>
<p>The plant will produce enough electricity for about two hundred thousand homes, according to
the energy ministry, which financed most of the project with a loan from a development bank.</p>
<p>Engineers said the reservoir would take two seasons to fill completely.</p>
</article></main>
<footer><p>Copyright 2024 Example News. All rights reserved. Contact the newsroom.</p></footer>
</body></html>
"""


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def by_title(result: IngestResult) -> dict[str, object]:
    return {article.title: article for article in result.articles}


# --- the seed search-result pages -------------------------------------------------------------

SEED_DIRS = [
    pytest.param(DEMO_PAGES, id="demo_corpus"),
    pytest.param(SHARED_PAGES, id="shared", marks=pytest.mark.skipif(not SHARED_PAGES.is_dir(), reason="no shared corpus")),
]


@pytest.mark.parametrize("directory", SEED_DIRS)
def test_seed_pages_give_22_clean_articles(directory: Path) -> None:
    result = read_sources([directory])
    articles = by_title(result)
    assert len(result.articles) == 22
    assert set(articles) == SEED_TITLES
    assert result.files_read == 5
    assert result.skipped == ()
    assert result.duplicates_merged == 4
    for article in result.articles:
        assert "USD =" not in article.body
        assert "Viewing results" not in article.body
        assert not article.body.endswith(("...", "…"))
        assert article.body == article.body.strip()
        # the body is copied verbatim from a page
        assert any(article.body in Path(source).read_text(encoding="utf-8") for source in article.sources)


@pytest.mark.parametrize("directory", SEED_DIRS)
def test_seed_pages_metadata(directory: Path) -> None:
    articles = by_title(read_sources([directory]))
    csto = articles["Controversies and Rejections: What Future Awaits the CSTO?"]
    assert len(csto.sources) == 3
    assert [Path(s).name for s in csto.sources] == [
        "001_aae28568f5a434c0.txt", "002_f50ba5b96e195c14.txt", "004_c609a5edfcb60925.txt"
    ]
    assert csto.published == dt.date(2025, 4, 17)
    assert csto.truncated is True
    assert csto.body.endswith("Armenia recently announced that it would no longer finance the")
    belarus = articles["Belarus and Kazakhstan Strengthen Military Cooperation"]
    assert belarus.truncated is False
    assert belarus.published is None
    assert belarus.body.startswith("The Defense Ministries of Belarus and Kazakhstan")
    assert belarus.body.endswith("and underscoring regional discord.")
    illusion = articles["The Illusion of Influence: The CSTO’s Journey From Symbolic Maneuvers To Real Challenges"]
    assert illusion.truncated is True
    assert illusion.body.endswith("seemed to lose interest in Central Asia.")  # "...." keeps its full stop
    assert articles["New Fighting in Syria Throws Astana Talks Off Track"].published == dt.date(2025, 1, 23)


@pytest.mark.skipif(not SHARED_PAGES.is_dir(), reason="no shared corpus")
def test_demo_corpus_is_a_verbatim_copy_of_the_seed_pages() -> None:
    shared = sorted(p.name for p in SHARED_PAGES.iterdir())
    assert sorted(p.name for p in DEMO_PAGES.glob("*.txt")) == shared
    for name in shared:
        assert (DEMO_PAGES / name).read_bytes() == (SHARED_PAGES / name).read_bytes()


def test_seed_pages_are_detected_as_pages() -> None:
    for path in sorted(DEMO_PAGES.glob("*.txt")):
        assert is_search_page(path.read_text(encoding="utf-8"))


# --- generic search-page rules -----------------------------------------------------------------

def test_search_page_rules_on_a_hand_built_page() -> None:
    ticker = "Weather: Sunny 21°C\nMarkets: Index 1234 +0.4%\n"
    page = (
        ticker * 3
        + "\nApril 17, 2025\n\nPage 2 of 10\n\n"
        + "Bridge Repairs Approved\n\n" + LONG_BODY + "…\n\n"
        + "Library Reopens   \n\nThe city library reopened after renovation.\r\nIt now has a café.\n\n"
        + "Second paragraph of the library story.\n\n"
        + ticker
    )
    assert is_search_page(page)
    parsed = read_search_page(page, "page.txt")
    assert parsed.skipped == ()
    first, second = parsed.articles
    assert first.title == "Bridge Repairs Approved"
    assert first.body == LONG_BODY
    assert first.truncated is True
    assert first.published == dt.date(2025, 4, 17)
    assert second.title == "Library Reopens"
    assert second.body == (
        "The city library reopened after renovation.\nIt now has a café.\n\nSecond paragraph of the library story."
    )
    assert second.truncated is False
    assert second.sources == ("page.txt",)


def test_a_single_article_txt_is_not_a_page() -> None:
    text = "Bridge Repairs Approved\n\n" + LONG_BODY + "\n\nA second paragraph follows here.\n"
    assert not is_search_page(text)
    assert not is_search_page("Title\nDate: 2025-04-17\n\nBody one.\n\nSub\n\nBody two.\n\nSub\n\nBody three.\n")


def test_repeated_separators_do_not_make_a_page(tmp_path: Path) -> None:
    text = "Bridge Repairs Approved\n\n" + "\n\n* * *\n\n".join([LONG_BODY, "Second part.", "Third part.", "End."])  # noqa: FLY002
    assert not is_search_page(text)
    (article,) = read_sources([write(tmp_path, "a.txt", text)]).articles
    assert article.body.endswith("* * *\n\nEnd.")


def test_a_page_with_a_pager_only_and_a_per_article_date(tmp_path: Path) -> None:
    page = (
        "Showing 1 - 2 of 2 results\n\n"
        "First Story\n17.04.2025\nA first story body that is long enough.\n\n"
        "Second Story\n\nA second story body, also long enough...\n"
    )
    result = read_sources([write(tmp_path, "p.txt", page)])
    articles = by_title(result)
    assert set(articles) == {"First Story", "Second Story"}
    assert articles["First Story"].published == dt.date(2025, 4, 17)
    assert articles["First Story"].body == "A first story body that is long enough."
    assert articles["Second Story"].published is None
    assert articles["Second Story"].body == "A second story body, also long enough"
    assert articles["Second Story"].truncated is True


# --- one article per file ----------------------------------------------------------------------

def test_txt_article_with_header_lines(tmp_path: Path) -> None:
    text = "  Bridge Repairs Approved  \nDate: 17 April 2025\nURL: https://news.example.org/bridge\n\n" + LONG_BODY + "\n"
    result = read_sources([write(tmp_path, "a.txt", text)])
    (article,) = result.articles
    assert article.title == "Bridge Repairs Approved"
    assert article.body == LONG_BODY
    assert article.published == dt.date(2025, 4, 17)
    assert article.url == "https://news.example.org/bridge"
    assert article.sources == (str(tmp_path / "a.txt"),)
    assert article.truncated is False


def test_a_source_credit_line_stays_in_the_body(tmp_path: Path) -> None:
    text = "Title Here\nSource: Reuters reported the figures first.\n" + LONG_BODY
    (article,) = read_sources([write(tmp_path, "a.txt", text)]).articles
    assert article.url is None
    assert article.body == "Source: Reuters reported the figures first.\n" + LONG_BODY


def test_markdown_article_and_front_matter(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# Bridge Repairs Approved #\n\n" + LONG_BODY + "\n\n\n\n\nLast line.  \n")
    front_matter = '---\ntitle: "Library Reopens"\ndate: 2024-11-02\nurl: https://x.example/lib\n---\n'
    write(tmp_path, "b.md", front_matter + "\nThe library reopened.\n")
    articles = by_title(read_sources([tmp_path]))
    assert articles["Bridge Repairs Approved"].body == LONG_BODY + "\n\nLast line."
    library = articles["Library Reopens"]
    assert library.body == "The library reopened."
    assert library.published == dt.date(2024, 11, 2)
    assert library.url == "https://x.example/lib"


def test_title_without_body_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)
    path = write(tmp_path, "only-title.txt", "Just A Title\n\n")
    result = read_sources([tmp_path])
    assert result.skipped == (Skipped(str(path), "no body after the title 'Just A Title'"),)


# --- records -----------------------------------------------------------------------------------

def test_jsonl_records_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "Bridge Repairs Approved", "body": LONG_BODY, "date": "2025-04-17T09:30:00Z",
                    "url": "https://news.example.org/bridge"}),
        '{"title": "Broken", "body": ',
        json.dumps({"Title": "Library Reopens", "text": "The library reopened.", "published": "April 17, 2025",
                    "source": "https://x.example/lib"}),
        "",
        json.dumps({"title": "No Body", "content": "   "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"body": "A body without a title."}),
    ]
    path = write(tmp_path, "news.jsonl", "\n".join(lines) + "\n")
    result = read_sources([path])
    articles = by_title(result)
    assert set(articles) == {"Bridge Repairs Approved", "Library Reopens"}
    assert articles["Bridge Repairs Approved"].published == dt.date(2025, 4, 17)
    assert articles["Bridge Repairs Approved"].url == "https://news.example.org/bridge"
    assert articles["Library Reopens"].url == "https://x.example/lib"
    assert articles["Library Reopens"].published == dt.date(2025, 4, 17)
    assert [(s.path, s.line) for s in result.skipped] == [(str(path), 2), (str(path), 5), (str(path), 6), (str(path), 7)]
    assert result.skipped[0].reason.startswith("invalid JSON: ")
    assert result.skipped[1].reason == "record 'No Body' has an empty body (give 'body', 'text' or 'content')"
    assert result.skipped[2].reason == "expected a JSON object, got list"
    assert result.skipped[3].reason == "record has no title; keys found: 'body'"


def test_json_files_of_records_in_the_shapes_news_exports_use(tmp_path: Path) -> None:
    newsapi = {"status": "ok", "totalResults": 2, "articles": [
        {"source": {"name": "Example"}, "title": "Bridge Repairs Approved", "description": "Short.", "content": LONG_BODY,
         "publishedAt": "2025-04-17T09:30:00Z", "url": "https://news.example.org/bridge"},
        {"title": "No Text At All", "url": "https://news.example.org/none"},
    ]}
    huffpost = [{"headline": "Library Reopens", "short_description": "The library reopened on Monday.",
                 "link": "https://x.example/lib", "date": "2025-04-18"}, "not a record"]
    single = {"Title": "Tram Line Extended", "article": "The tram line was extended to the harbour.", "pubDate": "Fri, 18 Apr 2025 08:00:00 GMT"}
    files = [write(tmp_path, "newsapi.json", json.dumps(newsapi)), write(tmp_path, "huffpost.json", json.dumps(huffpost)),
             write(tmp_path, "one.json", json.dumps(single)),
             write(tmp_path, "lines.ndjson", json.dumps({"title": "Ferry Resumes", "body": "The ferry resumed."}) + "\n")]
    result = read_sources(files)
    articles = by_title(result)
    assert set(articles) == {"Bridge Repairs Approved", "Library Reopens", "Tram Line Extended", "Ferry Resumes"}
    assert articles["Bridge Repairs Approved"].body == LONG_BODY  # the full text, not the description
    assert (articles["Bridge Repairs Approved"].published, articles["Bridge Repairs Approved"].url) == (
        dt.date(2025, 4, 17), "https://news.example.org/bridge")
    assert (articles["Library Reopens"].body, articles["Library Reopens"].url) == ("The library reopened on Monday.", "https://x.example/lib")
    assert articles["Library Reopens"].published == dt.date(2025, 4, 18)
    assert articles["Tram Line Extended"].published == dt.date(2025, 4, 18)
    assert sorted(s.reason for s in result.skipped) == [
        "record 2: expected a JSON object, got str",
        "record 2: record 'No Text At All' has an empty body (give 'body', 'text' or 'content')",
    ]


RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>City News</title><link>https://news.example.org</link><description>Local news</description>
<item><title>Bridge Repairs Approved</title><link>https://news.example.org/bridge</link>
  <description>The council approved the repairs...</description>
  <content:encoded><![CDATA[<p>The council approved repairs to the old bridge on Thursday.</p><p>Work starts in May &amp; ends in July.</p><script>track()</script>]]></content:encoded>
  <pubDate>Thu, 17 Apr 2025 09:30:00 GMT</pubDate></item>
<item><title>Library Reopens</title><link>https://news.example.org/library</link>
  <description>The library reopened on Monday after the &lt;b&gt;renovation&lt;/b&gt; of its reading rooms...</description>
  <pubDate>Mon, 21 Apr 2025 08:00:00 GMT</pubDate></item>
<item><title>Nothing Inside</title><link>https://news.example.org/empty</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Harbour Post</title><id>urn:x</id><updated>2025-04-18T10:00:00Z</updated>
<entry><title>Ferry Resumes</title><link href="https://harbour.example/ferry"/><id>urn:1</id>
  <updated>2025-04-19T10:00:00Z</updated><published>2025-04-18T10:00:00Z</published>
  <content type="html">&lt;p&gt;The ferry to the island resumed its daily service.&lt;/p&gt;</content></entry>
</feed>"""


def test_rss_and_atom_feeds_give_one_article_per_entry(tmp_path: Path) -> None:
    result = read_sources([write(tmp_path, "city.rss", RSS), write(tmp_path, "harbour.atom", ATOM)])
    articles = by_title(result)
    assert set(articles) == {"Bridge Repairs Approved", "Library Reopens", "Ferry Resumes"}
    bridge = articles["Bridge Repairs Approved"]
    assert bridge.body == "The council approved repairs to the old bridge on Thursday.\nWork starts in May & ends in July."
    assert (bridge.published, bridge.url, bridge.truncated) == (dt.date(2025, 4, 17), "https://news.example.org/bridge", False)
    library = articles["Library Reopens"]  # only a description, cut short by the feed
    assert library.body == "The library reopened on Monday after the renovation of its reading rooms" and library.truncated
    assert articles["Ferry Resumes"].body == "The ferry to the island resumed its daily service."
    assert articles["Ferry Resumes"].published == dt.date(2025, 4, 18)  # published, not updated
    assert [str(s) for s in result.skipped] == [
        f"{tmp_path / 'city.rss'}: entry 3: record 'Nothing Inside' has an empty body (give 'body', 'text' or 'content')"]


def test_an_xml_file_that_is_not_a_feed_is_skipped_saying_why(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.xml", "<?xml version='1.0'?><notes><note>Buy milk</note></notes>")
    (skipped,) = read_sources([path, write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)]).skipped
    assert skipped.path == str(path) and skipped.reason.startswith("not an RSS or Atom feed")


def test_a_feed_file_holding_a_path_or_address_is_read_as_text_not_followed(tmp_path: Path) -> None:
    elsewhere = write(tmp_path / "private", "city.rss", RSS)  # not among the sources
    write(tmp_path / "in", "path.xml", str(elsewhere))
    write(tmp_path / "in", "url.rss", "http://127.0.0.1:9/feed.xml")
    result = read_sources([tmp_path / "in", write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)])
    assert [a.title for a in result.articles] == ["Title"]
    assert sorted(Path(s.path).name for s in result.skipped) == ["path.xml", "url.rss"]


def test_gzipped_files_are_read_as_what_they_hold(tmp_path: Path) -> None:
    import gzip

    records = json.dumps({"title": "Ferry Resumes", "body": "The ferry resumed."}) + "\n"
    files = [write(tmp_path, "news.jsonl.gz", gzip.compress(records.encode())), write(tmp_path, "feed.xml.gz", gzip.compress(ATOM.encode())),
             write(tmp_path, "broken.csv.gz", b"not gzip at all"), write(tmp_path, "mystery.gz", gzip.compress(b"x"))]
    result = read_sources(files)
    assert sorted(a.body for a in result.articles) == ["The ferry resumed.", "The ferry to the island resumed its daily service."]
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["broken.csv.gz"].startswith("not a readable gzip file")
    assert reasons["mystery.gz"].startswith("a gzip file must name what it holds")


def test_zip_archives_are_read_like_folders(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "archive.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("business/001.txt", "Bridge Repairs Approved\n\n" + LONG_BODY)
        archive.writestr("feeds/harbour.atom", ATOM)
        archive.writestr("report.pdf", b"%PDF-1.4")
        archive.writestr("inner.zip", b"PK")
        archive.writestr("__MACOSX/business/._001.txt", b"\x00\x05")
        archive.writestr(".hidden.txt", "Hidden\n\n" + LONG_BODY)
        archive.writestr("empty/", b"")
    result = read_sources([path, write(tmp_path, "damaged.zip", b"PK\x03\x04 not really"),
                           write(tmp_path, "nothing.zip", b"PK\x05\x06" + b"\x00" * 18)])
    assert sorted(a.title for a in result.articles) == ["Bridge Repairs Approved", "Ferry Resumes"]
    assert by_title(result)["Bridge Repairs Approved"].sources == (f"{path}/business/001.txt",)
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons[f"{path}/report.pdf"].startswith("unsupported extension .pdf inside a zip archive")
    assert reasons[f"{path}/inner.zip"].startswith("unsupported extension .zip inside a zip archive")
    assert reasons[str(tmp_path / "damaged.zip")].startswith("not a readable zip file")
    assert reasons[str(tmp_path / "nothing.zip")].startswith("a zip archive with no files in it")
    assert len(reasons) == 4


@pytest.mark.parametrize(("content", "reason"), [
    ('{"title": "A", "body": "B"}\n{"title": "C", "body": "D"}\n', "(one record per line is JSON Lines: name the file .jsonl)"),
    ('{"count": 3, "ok": true}', "no article records found: expected a list of objects with a title and a body, got an object with keys 'count', 'ok'"),
    ('"just a string"', "got a JSON str"),
    ('{"a": [{"title": "x"}], "b": [{"title": "y"}]}', "no article records found"),
])
def test_a_json_file_without_records_is_skipped_saying_why(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path, "export.json", content)
    (skipped,) = read_sources([path, write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)]).skipped
    assert skipped.path == str(path) and reason in skipped.reason


def test_csv_records_with_line_numbers(tmp_path: Path) -> None:
    text = (
        "Title,Content,Date,URL\r\n"
        "Bridge Repairs Approved,\"" + LONG_BODY + "\",17 April 2025,https://news.example.org/bridge\r\n"
        "Library Reopens,\"The library reopened.\r\nIt has a café.\",,\r\n"
        "\r\n"
        "Empty Story,,2025-01-01,\r\n"
    )
    path = write(tmp_path, "news.csv", text)
    result = read_sources([path])
    articles = by_title(result)
    assert articles["Bridge Repairs Approved"].published == dt.date(2025, 4, 17)
    assert articles["Library Reopens"].body == "The library reopened.\nIt has a café."
    assert result.skipped == (
        Skipped(str(path), "record 'Empty Story' has an empty body (give 'body', 'text' or 'content')", 6),
    )


def test_csv_missing_column_skips_the_file(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)
    path = write(tmp_path, "bad.csv", "title,notes\nA,B\n")
    result = read_sources([tmp_path])
    assert result.skipped == (
        Skipped(str(path), "missing column 'body'/'text'/'content'; columns found: 'title', 'notes'"),
    )


# --- html --------------------------------------------------------------------------------------

def test_html_article_page(tmp_path: Path) -> None:
    result = read_sources([write(tmp_path, "dam.html", HTML_PAGE)])
    (article,) = result.articles
    assert article.title == "Dam Opens on the River"
    assert article.published == dt.date(2024, 3, 5)
    assert article.url == "https://news.example.org/2024/dam-opens"
    assert article.body.startswith("The new hydroelectric dam on the river opened on Tuesday")
    assert article.body.endswith("Engineers said the reservoir would take two seasons to fill completely.")
    for boilerplate in ("World news menu", "Subscribe", "Copyright", "Home"):
        assert boilerplate not in article.body


def test_html_title_falls_back_to_the_title_tag(tmp_path: Path) -> None:
    page = HTML_PAGE.replace('<meta property="og:title" content="Dam Opens on the River">', "").replace(
        "<h1>Dam Opens on the River</h1>", ""
    )
    (article,) = read_sources([write(tmp_path, "dam.htm", page)]).articles
    assert article.title.startswith("Dam Opens on the River")


# --- files that are not read -------------------------------------------------------------------

def test_unsupported_empty_binary_and_hidden_files(tmp_path: Path) -> None:
    write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY)
    write(tmp_path, "report.pdf", b"%PDF-1.4")
    write(tmp_path, "empty.txt", b"")
    write(tmp_path, "blank.md", "  \n\n ")
    write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(tmp_path, ".hidden.txt", "Hidden\n\n" + LONG_BODY)
    write(tmp_path, ".git/notes.txt", "Hidden Too\n\n" + LONG_BODY)
    result = read_sources([tmp_path])
    assert [a.title for a in result.articles] == ["Title"]
    assert result.files_read == 5
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons["report.pdf"].startswith("unsupported extension .pdf; accepted: .txt")
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.md"] == "empty file (only whitespace)"
    assert reasons["image.txt"].startswith("binary file")
    assert set(reasons) == {"report.pdf", "empty.txt", "blank.md", "image.txt"}


def test_non_utf8_text_is_decoded_as_cp1252(tmp_path: Path) -> None:
    write(tmp_path, "old.txt", "Caf\u00e9 Opens\n\nThe caf\u00e9 \u201cLe Coin\u201d opened.".encode("cp1252"))
    write(tmp_path, "bom.txt", "\ufeffBOM Title\n\nBody with a byte-order mark.".encode("utf-8"))
    articles = by_title(read_sources([tmp_path]))
    assert articles["Café Opens"].body == "The café “Le Coin” opened."
    assert articles["BOM Title"].body == "Body with a byte-order mark."


def test_nonexistent_path_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(IngestError, match="nope"):
        read_sources([write(tmp_path, "ok.txt", "Title\n\n" + LONG_BODY), missing])


def test_empty_collection_is_an_error_with_a_hint(tmp_path: Path) -> None:
    write(tmp_path, "report.pdf", b"%PDF-1.4")
    with pytest.raises(EmptyCollectionError, match=r"accepted: .*\.jsonl"):
        read_sources([tmp_path])
    with pytest.raises(EmptyCollectionError):
        read_sources([])


def test_walk_is_recursive_sorted_and_reads_each_file_once(tmp_path: Path) -> None:
    write(tmp_path, "b/z.txt", "Zeta Story\n\nZeta body text.")
    write(tmp_path, "a.txt", "Alpha Story\n\nAlpha body text.")
    result = read_sources([tmp_path, tmp_path / "a.txt", str(tmp_path / "b")])
    assert result.files_read == 2
    assert sorted(a.source for a in result.articles) == [str(tmp_path / "a.txt"), str(tmp_path / "b" / "z.txt")]


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.txt", "Alpha Story\n\nAlpha body text.")
    read_sources([tmp_path], progress=True)
    captured = capsys.readouterr()
    assert "1/1" in captured.err
    assert captured.out == ""


# --- de-duplication and ids --------------------------------------------------------------------

def test_exact_copies_are_merged(tmp_path: Path) -> None:
    write(tmp_path, "one.txt", "Bridge Repairs Approved\n\n" + LONG_BODY)
    write(tmp_path, "two.txt", "Bridge Repairs Approved\nDate: 2025-04-17\n\n" + LONG_BODY)
    result = read_sources([tmp_path])
    (article,) = result.articles
    assert result.duplicates_merged == 1
    assert article.sources == (str(tmp_path / "one.txt"), str(tmp_path / "two.txt"))
    assert article.published == dt.date(2025, 4, 17)


def test_truncated_copy_is_merged_into_the_full_one() -> None:
    full = make_article("Bridge Repairs Approved", LONG_BODY, sources=("b.txt",))
    cut = make_article("Bridge repairs approved", LONG_BODY[:120], sources=("a.txt",),
                       published=dt.date(2025, 4, 17), truncated=True)
    merged, count = merge_duplicates([cut, full])
    assert count == 1
    (article,) = merged
    assert article.body == LONG_BODY
    assert article.title == "Bridge Repairs Approved"
    assert article.truncated is False
    assert article.sources == ("a.txt", "b.txt")
    assert article.published == dt.date(2025, 4, 17)


def test_retitled_copy_is_merged_by_its_body() -> None:
    longer = LONG_BODY + " The contract goes to tender next month."
    first = make_article("Bridge Repairs Approved", longer, sources=("a.txt",))
    second = make_article("Council Votes Road Budget", longer + " More details later.", sources=("b.txt",))
    third = make_article("Roads First", "A short retitled body, copied exactly as it was, word for word.", sources=("c.txt",))
    fourth = make_article("Roads Come First", "A short retitled body, copied exactly as it was, word for word.", sources=("d.txt",))
    merged, count = merge_duplicates([first, second, third, fourth])
    assert count == 2
    assert [(a.title, a.sources) for a in merged] == [
        ("Council Votes Road Budget", ("a.txt", "b.txt")),
        ("Roads First", ("c.txt", "d.txt")),
    ]


def test_same_title_different_article_is_kept_apart(tmp_path: Path) -> None:
    other = "Floods closed the northern highway for two days and several villages were evacuated by boat."
    write(tmp_path, "a.txt", "Weekly News Roundup\n\n" + LONG_BODY)
    write(tmp_path, "b.txt", "Weekly News Roundup\n\n" + other)
    result = read_sources([tmp_path])
    assert result.duplicates_merged == 0
    assert sorted(a.body for a in result.articles) == sorted([LONG_BODY, other])
    assert len({a.id for a in result.articles}) == 2
    assert all(len(a.id) == 16 for a in result.articles)


def test_same_title_in_one_file_gets_distinct_ids(tmp_path: Path) -> None:
    records = [{"title": "Weekly Roundup", "body": LONG_BODY}, {"title": "Weekly Roundup", "body": "Unrelated floods."}]
    path = write(tmp_path, "r.jsonl", "\n".join(json.dumps(r) for r in records))
    result = read_sources([path])
    assert len({a.id for a in result.articles}) == 2
    assert result == read_sources([path])


def test_ids_are_stable_across_body_edits_and_hashes_are_not() -> None:
    before = make_article("Bridge Repairs Approved", LONG_BODY)
    after = make_article("Bridge  repairs approved", LONG_BODY + " Update.")
    with_url = make_article("Other Title", LONG_BODY, url="https://news.example.org/bridge")
    assert before.id == after.id
    assert before.content_hash != after.content_hash
    assert with_url.id == make_article("Retitled", "x", url="https://news.example.org/bridge").id
    assert make_article("Quote’s Title", "x").id == make_article("quote's title", "y").id


def test_reading_twice_gives_equal_results(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "Bridge Repairs Approved\n\n" + LONG_BODY)
    write(tmp_path, "b.jsonl", json.dumps({"title": "Bridge Repairs Approved", "body": LONG_BODY[:100] + "..."}) + "\n{")
    write(tmp_path, "c.html", HTML_PAGE)
    first, second = read_sources([tmp_path]), read_sources([tmp_path])
    assert first == second
    assert [a.id for a in first.articles] == sorted(a.id for a in first.articles)
    assert read_sources(DEMO_PAGES) == read_sources([DEMO_PAGES])


# --- cleaning and dates ------------------------------------------------------------------------

def is_subsequence(small: str, big: str) -> bool:
    remaining = iter(big)
    return all(char in remaining for char in small)


@given(st.text(alphabet=st.sampled_from(list("ab .…\n\r\t \u00a0\u200bé")) | st.characters(), max_size=200))
def test_cleaning_never_invents_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert is_subsequence(cleaned, normalize_newlines(text))
    body, _ = split_truncation(cleaned)
    assert cleaned.startswith(body)
    assert clean_text(cleaned) == cleaned


def test_clean_text_and_truncation_examples() -> None:
    assert clean_text("  a  \r\nb\t\n\n\n\n\nc\r\r") == "a\nb\n\nc"
    assert split_truncation("It was the...") == ("It was the", True)
    assert split_truncation("Central Asia....") == ("Central Asia.", True)
    assert split_truncation("Word …  ") == ("Word", True)
    assert split_truncation("Done.") == ("Done.", False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17 April 2025", dt.date(2025, 4, 17)),
        ("April 17, 2025", dt.date(2025, 4, 17)),
        ("Thursday, 17 Apr 2025", dt.date(2025, 4, 17)),
        ("2025-04-17", dt.date(2025, 4, 17)),
        ("17.04.2025", dt.date(2025, 4, 17)),
        ("04/17/2025", None),
        ("31 February 2025", None),
        ("17 April 2025 was a Thursday", None),
        ("Viewing results 1 - 6 of 39", None),
    ],
)
def test_parse_date(text: str, expected: dt.date | None) -> None:
    assert parse_date(text) == expected


def test_parse_date_field_accepts_timestamps() -> None:
    assert parse_date_field("2025-04-17T09:30:00+02:00") == dt.date(2025, 4, 17)
    assert parse_date_field(dt.datetime(2025, 4, 17, 9, 30)) == dt.date(2025, 4, 17)
    assert parse_date_field("soon") is None
    assert parse_date_field(None) is None
