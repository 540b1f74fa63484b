"""Stores: where an index's chunks, vectors and article records live, behind one small protocol.

`faiss` (the default) is the embedded FAISS + bm25s generation folders of `qa.index`; a path ending in
`.db` is a Milvus Lite file and an `http(s)://` URI a Milvus server (`qa.store.milvus`, extra `[milvus]`).
Answering (`qa.assistant.Assistant`) reads a store only through `Store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.config import Settings
from qa.errors import ConfigError, IndexMismatchError
from qa.types import Article, Hit, Span

FAISS = "faiss"
MILVUS_SCHEMES = ("http://", "https://", "tcp://", "grpc://", "unix:")


@dataclass(frozen=True)
class DateRestriction:
    """The articles a question may cite: published in [since, until] (undated ones never); `empty` when none is.

    `prepared` is the store's own form of the filter (chunk rows for FAISS, an expression for Milvus).
    """

    since: dt.date | None
    until: dt.date | None
    empty: bool
    prepared: Any = None


@runtime_checkable
class Store(Protocol):
    """What answering needs of an index, wherever it lives."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def location(self) -> str: ...

    def counts(self) -> tuple[int, int]:
        """Articles and chunks held."""
        ...

    def date_range(self) -> tuple[dt.date | None, dt.date | None]: ...

    def articles(self) -> Iterator[Article]: ...

    def restrict(self, since: dt.date | None, until: dt.date | None) -> DateRestriction | None:
        """The date filter for a question; None when no date is given."""
        ...

    def search(self, vector: np.ndarray, text: str, *, settings: Settings, top_k: int,
               restriction: DateRestriction | None = None) -> list[Hit]:
        """Best chunks for a question: dense and BM25 fused by reciprocal rank, at most
        `settings.max_chunks_per_article` per article."""
        ...

    def sentences(self, article_id: str) -> tuple[Span, ...]: ...

    def article(self, article_id: str) -> Article | None:
        """One article by id; None if the store does not hold it (an id carried from another collection)."""
        ...

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term among the chunks."""
        ...


def is_milvus(store: str) -> bool:
    """Whether a `--store` value names Milvus (a Lite `.db` file or a server URI) rather than the FAISS folders."""
    return store.lower().endswith(".db") or store.lower().startswith(MILVUS_SCHEMES)


def check_store(settings: Settings) -> None:
    """ConfigError for a `--store` value that is none of faiss, a `.db` file or a Milvus URI."""
    if settings.store != FAISS and not is_milvus(settings.store):
        raise ConfigError(f"--store {settings.store!r} is not understood: use faiss (the index folder), a Milvus Lite file "
                          "ending in .db, or a Milvus server URI such as http://localhost:19530")


def as_store(index: Any) -> Store:
    """A loaded FAISS index (`qa.index.NewsIndex`) as a Store; a Store unchanged."""
    from qa.index import NewsIndex
    from qa.store.local import LocalStore

    return LocalStore(index) if isinstance(index, NewsIndex) else index


def open_store(settings: Settings, index_dir: Path | None = None) -> Any:
    """The index named by `settings.store`: a `NewsIndex` for faiss (at `index_dir`), else a MilvusStore."""
    check_store(settings)
    if settings.store == FAISS:
        from qa.index import load_index

        return load_index(index_dir if index_dir is not None else settings.resolved_index_dir, settings=settings)
    from qa.store.milvus import MilvusStore

    return MilvusStore.open(settings)


def check_dimension(store: Store, encoder_name: str, encoder_dimension: int) -> None:
    """Fail clearly when the encoder's vectors cannot be compared with the store's."""
    if encoder_dimension != store.dimension:
        raise IndexMismatchError(
            f"index at {store.location} holds {store.dimension}-d vectors but model {encoder_name!r} makes "
            f"{encoder_dimension}-d ones: use the model it was built with ({store.model_name}) or rebuild the index"
        )
