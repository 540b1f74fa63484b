"""The structured answer: an `Answer` as plain JSON-ready data, for the chat's `/answer` endpoint and `qa ask --json`."""

from __future__ import annotations

import datetime as dt
from pathlib import PurePath
from typing import Any

from qa.types import Answer, Citation


def cited_citations(answer: Answer) -> tuple[tuple[Citation, ...], tuple[Citation, ...]]:
    """The citations the answer text cites, in the order of their `[n]` marks, and the others ("also relevant").

    A found answer cites the sources its text quotes (the first citation when the text quotes none)
    and every other source that repeats the answer span; a not-found answer cites nothing: its
    citations are the closest passages.
    """
    if not answer.found or not answer.citations:
        return (), answer.citations
    quoted = [c for c in answer.citations if c.quote and c.quote in answer.text] or [answer.citations[0]]
    repeating = [c for c in answer.citations
                 if c not in quoted and c.answer_start is not None and c.answer_end is not None]
    cited = (*quoted, *repeating)
    return cited, tuple(c for c in answer.citations if c not in cited)


def citation_payload(citation: Citation, number: int | None) -> dict[str, Any]:
    """One citation as JSON-ready data; `number` is its `[n]` mark in the answer text, None when not cited."""
    return {
        "number": number,
        "cited": number is not None,
        "article_id": citation.article_id,
        "title": citation.title,
        "published": citation.published.isoformat() if citation.published else None,
        "url": citation.url,
        "sources": [PurePath(source).name or source for source in citation.sources],  # file names, not server paths
        "quote": citation.quote,
        "start": citation.start,
        "end": citation.end,
        "answer": citation.answer,
        "answer_start": citation.answer_start,
        "answer_end": citation.answer_end,
        "score": citation.score,
    }


def answer_payload(answer: Answer) -> dict[str, Any]:
    """The Answer as JSON-ready data: cited sources first (numbered as in the text), then the others.

    `start`/`end` are character offsets of the quote in the article body, `answer_start`/`answer_end`
    of the highlighted span inside the quote; `sources` are the names of the files the article was read from.
    """
    cited, others = cited_citations(answer)
    citations = [citation_payload(c, number) for number, c in enumerate(cited, start=1)]
    citations += [citation_payload(c, None) for c in others]
    return {
        "question": answer.question,
        "found": answer.found,
        "text": answer.text,
        "span": answer.span,
        "confidence": answer.confidence,
        "citations": citations,
    }


def answer_from_payload(payload: dict[str, Any]) -> Answer:
    """The Answer back from `answer_payload` data (as a server's `/answer` returns it); `sources` hold file names."""
    citations = tuple(
        Citation(article_id=c["article_id"], title=c["title"], published=dt.date.fromisoformat(c["published"]) if c["published"] else None,
                 sources=tuple(c["sources"]), url=c["url"], quote=c["quote"], start=c["start"], end=c["end"],
                 answer_start=c["answer_start"], answer_end=c["answer_end"], score=c["score"])
        for c in payload["citations"]
    )
    return Answer(question=payload["question"], text=payload["text"], found=payload["found"], confidence=payload["confidence"],
                  citations=citations, span=payload["span"])
