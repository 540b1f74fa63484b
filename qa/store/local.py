"""The embedded default store: a loaded FAISS + bm25s generation folder (`qa.index.NewsIndex`) behind `Store`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from qa.config import Settings
from qa.index import NewsIndex
from qa.retrieve import allowed_rows, retrieve
from qa.store import DateRestriction
from qa.types import Article, Hit, Span


@dataclass(frozen=True)
class LocalStore:
    """A thin view of a NewsIndex: retrieval and lookups exactly as `qa.retrieve` does them."""

    index: NewsIndex

    @property
    def model_name(self) -> str:
        return self.index.model_name

    @property
    def dimension(self) -> int:
        return self.index.vectors.dimension

    @property
    def location(self) -> str:
        return str(self.index.path.parent)

    def counts(self) -> tuple[int, int]:
        return len(self.index.articles), len(self.index.chunks)

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        return self.index.date_range()

    def articles(self) -> Iterator[Article]:
        return iter(self.index.articles.values())

    def restrict(self, since: dt.date | None, until: dt.date | None) -> DateRestriction | None:
        rows = allowed_rows(self.index, since=since, until=until)
        return None if rows is None else DateRestriction(since, until, empty=rows.size == 0, prepared=rows)

    def search(self, vector: np.ndarray, text: str, *, settings: Settings, top_k: int,
               restriction: DateRestriction | None = None) -> list[Hit]:
        return retrieve(self.index, vector, text, settings=settings, top_k=top_k,
                        allowed=restriction.prepared if restriction is not None else None)

    def sentences(self, article_id: str) -> tuple[Span, ...]:
        return self.index.sentences[article_id]

    def article(self, article_id: str) -> Article | None:
        return self.index.articles.get(article_id)

    def idf(self, term: str) -> float:
        return self.index.lexical.idf(term)
