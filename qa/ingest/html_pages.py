"""Read a saved HTML article page: main-content extraction and metadata with trafilatura.

(Named `html_pages` so that it never shadows the standard library's `html` module.)
"""

from __future__ import annotations

import html
import re
from types import MappingProxyType

from qa.ingest.clean import clean_text, split_truncation
from qa.ingest.dates import parse_date_field
from qa.ingest.decode import decode_bytes
from qa.ingest.identity import make_article, normalize_text
from qa.ingest.outcome import Parsed, skip_file

_TITLE_TAG = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)
# No "extensive" date search: it guesses dates from any number-like text in the page.
_DATE_PARAMS = MappingProxyType({"original_date": True, "extensive_search": False})


def read_html(data: bytes, source: str) -> Parsed:
    """Extract the main text, title, date and url of one HTML page.

    Args:
        data: the raw file bytes (trafilatura honours the page's declared encoding).
        source: the path string recorded in `Article.sources`.
    """
    try:
        import trafilatura
    except ImportError as exc:
        return skip_file(source, f"HTML needs trafilatura, which failed to import ({exc}); "
                                 "run `pip install trafilatura lxml_html_clean`")
    try:
        document = trafilatura.bare_extraction(
            data, with_metadata=True, include_comments=False, date_extraction_params=dict(_DATE_PARAMS)
        )
    except Exception as exc:  # trafilatura and lxml raise many parser error types
        return skip_file(source, f"HTML could not be parsed: {type(exc).__name__}: {exc}")
    text = getattr(document, "text", None) if document is not None else None
    body, truncated = split_truncation(clean_text(text or ""))
    if not body:
        return skip_file(source, "no main text found in the HTML page")
    title = " ".join((getattr(document, "title", None) or read_title_tag(data)).split())
    if not title:
        return skip_file(source, "no title found in the HTML page (no metadata title, <h1> or <title>)")
    body = drop_leading_title(body, title)
    if not body:
        return skip_file(source, f"no main text besides the title {title!r} in the HTML page")
    article = make_article(
        title,
        body,
        sources=(source,),
        published=parse_date_field(getattr(document, "date", None)),
        url=getattr(document, "url", None),
        truncated=truncated,
    )
    return Parsed(articles=(article,))


def drop_leading_title(body: str, title: str) -> str:
    """The body without a first line that only repeats the title (the page's `<h1>`)."""
    first, _, rest = body.partition("\n")
    return rest.strip() if normalize_text(first) == normalize_text(title) else body


def read_title_tag(data: bytes) -> str:
    """The text of the page's `<title>` element, or ''."""
    match = _TITLE_TAG.search(decode_bytes(data))
    return html.unescape(re.sub(r"<[^>]+>", "", match.group(1))) if match else ""
