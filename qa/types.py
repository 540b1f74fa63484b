"""Frozen dataclasses that flow through the pipeline: Article -> Chunk -> Hit -> Citation -> Answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article after cleaning and de-duplication.

    `id` is stable across edits of the body (derived from url or title), `content_hash`
    changes whenever title or body change; together they drive incremental indexing.
    """

    id: str
    title: str
    body: str
    published: dt.date | None = None
    sources: tuple[str, ...] = ()
    url: str | None = None
    truncated: bool = False
    content_hash: str = ""

    @property
    def source(self) -> str:
        """The first file the article was read from."""
        return self.sources[0] if self.sources else ""


@dataclass(frozen=True)
class Span:
    """A half-open character range `[start, end)` in an article body."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article; `article.body[start:end] == text`."""

    id: str
    article_id: str
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A chunk returned by retrieval, with the scores that ranked it."""

    chunk: Chunk
    article: Article
    score: float
    rank: int
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class Citation:
    """A verbatim quote from one article: `article body[start:end] == quote`.

    `answer_start`/`answer_end` locate the highlighted answer span inside `quote`
    (offsets relative to the quote), or are None when no span was singled out.
    """

    article_id: str
    title: str
    published: dt.date | None
    sources: tuple[str, ...]
    url: str | None
    quote: str
    start: int
    end: int
    answer_start: int | None
    answer_end: int | None
    score: float

    @property
    def answer(self) -> str | None:
        """The highlighted span's text, if any."""
        if self.answer_start is None or self.answer_end is None:
            return None
        return self.quote[self.answer_start : self.answer_end]


@dataclass(frozen=True)
class Answer:
    """The reply to one question.

    `text` is the answer sentence(s) copied verbatim from the first citation(s); when
    `found` is False the collection does not hold the answer, `text` says so, and
    `citations` list the closest passages instead.
    """

    question: str
    text: str
    found: bool
    confidence: float
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    span: str | None = None

    def __str__(self) -> str:
        """A short summary for people: the answer, its confidence and first source (the repr keeps every field)."""
        lines = [f"{self.span} — {self.text}" if self.found and self.span else self.text, f"confidence {self.confidence:.2f}"]
        if self.citations:
            first = self.citations[0]
            date = first.published.isoformat() if first.published else "undated"
            lines.append(f"[1] {first.title} ({date}{'; ' + first.url if first.url else ''})")
        return "\n".join(lines)
