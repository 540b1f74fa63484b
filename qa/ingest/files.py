"""Read one `.txt`/`.md` file holding one article.

Layout: the first non-empty line is the title (for markdown, leading `#` marks are
stripped and a setext `===` underline is dropped). Right after the title, optional header
lines are read as metadata, one per line, blank lines allowed between them:

    Date: 17 April 2025          (also `Published:`; any form `parse_date_field` accepts)
    URL: https://example.org/a   (also `Link:`, or `Source:` when its value is a web address)

A header line whose value does not parse (a `Source: Reuters` credit, say) ends the header
and starts the body. Markdown files may instead open with `---` front matter holding
`title:`, `date:`/`published:` and `url:`/`source:` keys. The rest is the body; a body
ending with `...`/`…` is marked truncated.
"""

from __future__ import annotations

import datetime as dt
import re

from qa.ingest.clean import clean_text, normalize_newlines, split_truncation
from qa.ingest.dates import parse_date_field
from qa.ingest.identity import make_article
from qa.ingest.outcome import Parsed, skip_file

_HEADER_LINE = re.compile(r"(date|published|url|link|source)\s*:\s*(.+)", re.I)
_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.I)
_SETEXT_UNDERLINE = re.compile(r"(=+|-+)")


def read_text_article(text: str, source: str, *, markdown: bool = False) -> Parsed:
    """Read `text` as one article.

    Args:
        text: the decoded file contents.
        source: the path string recorded in `Article.sources`.
        markdown: strip heading marks and accept front matter.
    """
    lines = normalize_newlines(text).split("\n")
    metadata: dict[str, object] = {}
    start = 0
    if markdown:
        metadata, start = read_front_matter(lines)
    title = str(metadata.get("title") or "").strip()
    if not title:
        title, start = _read_title(lines, start, markdown=markdown)
    if not title:
        return skip_file(source, "no text to read a title from")
    header, start = read_header(lines, start)
    metadata = {**metadata, **header}
    body, truncated = split_truncation(clean_text("\n".join(lines[start:])))
    if not body:
        return skip_file(source, f"no body after the title {title!r}")
    published = metadata.get("published")
    article = make_article(
        title,
        body,
        sources=(source,),
        published=published if isinstance(published, dt.date) else None,
        url=str(metadata["url"]) if metadata.get("url") else None,
        truncated=truncated,
    )
    return Parsed(articles=(article,))


def has_metadata_header(text: str) -> bool:
    """Whether the line after the first non-empty one is a `Date:`/`URL:`-style header line."""
    lines = normalize_newlines(text).split("\n")
    _, start = _read_title(lines, 0, markdown=False)
    header, _ = read_header(lines, start)
    return bool(header)


def read_header(lines: list[str], start: int) -> tuple[dict[str, object], int]:
    """Parse header lines from `start`; return the metadata found and the first body line index."""
    metadata: dict[str, object] = {}
    index = start
    while index < len(lines):
        line = lines[index].strip()
        if not line:
            index += 1
            continue
        parsed = _parse_header_line(line)
        if parsed is None:
            break
        key, value = parsed
        metadata.setdefault(key, value)
        index += 1
    return (metadata, index) if metadata else ({}, start)


def read_front_matter(lines: list[str]) -> tuple[dict[str, object], int]:
    """Parse `---`-fenced `key: value` front matter; return the metadata and the next line index."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in {"---", "..."}:
            break
    else:
        return {}, 0
    metadata: dict[str, object] = {}
    for line in lines[1:end]:
        key, _, value = line.partition(":")
        key, value = key.strip().casefold(), value.strip().strip("\"'")
        if key == "title" and value:
            metadata.setdefault("title", value)
        elif key in {"date", "published"} and (date := parse_date_field(value)):
            metadata.setdefault("published", date)
        elif key in {"url", "source", "link"} and _WEB_ADDRESS.fullmatch(value):
            metadata.setdefault("url", value)
    return metadata, end + 1


def _read_title(lines: list[str], start: int, *, markdown: bool) -> tuple[str, int]:
    for index in range(start, len(lines)):
        line = lines[index].strip()
        if not line:
            continue
        following = index + 1
        if markdown:
            line = re.sub(r"\s+#+$", "", line.lstrip("#")).strip()
            if following < len(lines) and _SETEXT_UNDERLINE.fullmatch(lines[following].strip()):
                following += 1
        return " ".join(line.split()), following
    return "", len(lines)


def _parse_header_line(line: str) -> tuple[str, object] | None:
    match = _HEADER_LINE.fullmatch(line)
    if not match:
        return None
    key, value = match.group(1).casefold(), match.group(2).strip()
    if key in {"date", "published"}:
        date = parse_date_field(value)
        return ("published", date) if date else None
    if _WEB_ADDRESS.fullmatch(value):
        return "url", value
    return None
