"""Read RSS and Atom feeds (`.rss`, `.atom`, `.xml`): each entry is one article, parsed with feedparser.

An entry's body is its longest full content (`content:encoded`, Atom `content`), else its
description or summary (often the first lines only, then marked truncated when it ends in "...");
its date is `published`, else `updated`; its address is `link`. Entries without a title or a body
are skipped with their number, like records of a JSON file.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from qa.ingest.outcome import Parsed, Skipped, skip_file
from qa.ingest.records import record_to_article
from qa.types import Article

# Elements that start a new line in the text of an entry's HTML.
_BLOCKS = ("p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "table",
           "section", "article", "figure", "figcaption", "hr")
_TAG = re.compile(r"<[^>]+>")


def read_feed(data: bytes, source: str) -> Parsed:
    """The articles of one RSS or Atom feed file; a file that is not a feed is skipped, saying what it is."""
    try:
        import feedparser
    except ImportError as exc:
        return skip_file(source, f"feeds need feedparser, which failed to import ({exc}); run `pip install feedparser`")
    # A stream, never the bytes themselves: feedparser would open bytes naming a path or fetch a URL they spell.
    feed = feedparser.parse(io.BytesIO(data))
    if not feed.get("version") and not feed.entries:
        problem = feed.get("bozo_exception")
        detail = f" ({type(problem).__name__}: {problem})" if problem is not None else ""
        return skip_file(source, f"not an RSS or Atom feed{detail}: an .xml file is read as a feed; "
                                 "save other documents as .txt, .json or .html")
    if not feed.entries:
        return skip_file(source, "a feed with no entries")
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for number, entry in enumerate(feed.entries, start=1):
        result = record_to_article(entry_record(entry), source)
        if isinstance(result, Skipped):
            skipped.append(Skipped(source, f"entry {number}: {result.reason}"))
        else:
            articles.append(result)
    return Parsed(tuple(articles), tuple(skipped))


def entry_record(entry: Any) -> dict[str, str]:
    """A feed entry as the record fields `record_to_article` reads."""
    contents = [part for part in entry.get("content") or [] if str(part.get("value") or "").strip()]
    longest = max(contents, key=lambda part: len(part.get("value") or ""), default=None)
    if longest is not None:
        body = entry_text(str(longest.get("value")), str(longest.get("type") or "text/html"))
    else:
        detail = entry.get("summary_detail") or {}
        body = entry_text(str(entry.get("summary") or ""), str(detail.get("type") or "text/html"))
    title_type = str((entry.get("title_detail") or {}).get("type") or "text/plain")
    return {"title": entry_text(str(entry.get("title") or ""), title_type), "body": body,
            "date": str(entry.get("published") or entry.get("updated") or ""), "url": str(entry.get("link") or "")}


def entry_text(value: str, kind: str) -> str:
    """Plain text of an entry field: HTML reduced to its text, one line per block element."""
    if "html" not in kind or "<" not in value:
        return html.unescape(value) if "html" in kind else value
    from lxml import etree
    from lxml import html as lxml_html

    try:
        root = lxml_html.fragment_fromstring(value, create_parent="div")
    except (etree.ParserError, ValueError):
        return html.unescape(_TAG.sub(" ", value))
    for unwanted in root.xpath("//script|//style"):
        unwanted.drop_tree()
    for block in root.iter(*_BLOCKS):
        block.tail = "\n" + (block.tail or "")
    return str(root.text_content())
