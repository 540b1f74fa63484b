"""Article ids, content hashes and the text normalization they and de-duplication share."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import replace
from types import MappingProxyType

from qa.types import Article

_QUOTES = MappingProxyType(str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
}))


def normalize_text(text: str) -> str:
    """Casefold, unify quotes, apostrophes and dashes, collapse whitespace: a comparison key."""
    return " ".join(text.translate(_QUOTES).casefold().split())


def hash_text(text: str, length: int | None = None) -> str:
    """SHA-1 hex digest of `text`, optionally cut to `length` characters."""
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return digest[:length] if length else digest


def article_id(title: str, url: str | None = None) -> str:
    """A 16-hex-character id from the url if known, else from the normalized title."""
    key = url.strip() if url and url.strip() else normalize_text(title)
    return hash_text(key, 16)


def content_hash(title: str, body: str, published: dt.date | None) -> str:
    """SHA-1 hex of title, body and date: changes whenever the text changes."""
    date = published.isoformat() if published else ""
    return hash_text(f"{title}\n{body}\n{date}")


def make_article(
    title: str,
    body: str,
    *,
    sources: tuple[str, ...] | list[str] = (),
    published: dt.date | None = None,
    url: str | None = None,
    truncated: bool = False,
) -> Article:
    """Build an `Article` with its id and content hash filled in and sources sorted."""
    url = url.strip() if url and url.strip() else None
    return Article(
        id=article_id(title, url),
        title=title,
        body=body,
        published=published,
        sources=tuple(sorted(set(sources))),
        url=url,
        truncated=truncated,
        content_hash=content_hash(title, body, published),
    )


def disambiguate_ids(articles: list[Article]) -> list[Article]:
    """Give distinct articles that share an id distinct ids, deterministically.

    A clashing article's id is re-derived from its id and first source (stable across
    body edits); if that still clashes, from its id and content hash.
    """
    groups: dict[str, list[int]] = {}
    for index, article in enumerate(articles):
        groups.setdefault(article.id, []).append(index)
    result = list(articles)
    for members in groups.values():
        if len(members) < 2:
            continue
        by_source = [hash_text(f"{articles[i].id}\n{articles[i].source}", 16) for i in members]
        for index, new_id in zip(members, by_source, strict=False):
            if by_source.count(new_id) > 1:
                new_id = hash_text(f"{articles[index].id}\n{articles[index].content_hash}", 16)
            result[index] = replace(articles[index], id=new_id)
    return result
