"""Question -> ranked Hits: dense (FAISS) and lexical (BM25) candidates fused (`Settings.fusion`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np

from qa.config import Settings
from qa.index import NewsIndex
from qa.types import Hit

Key = TypeVar("Key", bound=Hashable)


def allowed_rows(index: NewsIndex, *, since: dt.date | None = None, until: dt.date | None = None) -> np.ndarray | None:
    """Rows of chunks whose article date lies in [since, until]; None when no filter is set.

    Articles without a known date are left out once a filter is set.
    """
    if since is None and until is None:
        return None
    keep = [
        row
        for row, chunk in enumerate(index.chunks)
        if (published := index.articles[chunk.article_id].published) is not None
        and (since is None or published >= since)
        and (until is None or published <= until)
    ]
    return np.asarray(keep, dtype=np.int64)


def retrieve(
    index: NewsIndex,
    question_vector: np.ndarray,
    query_text: str,
    *,
    settings: Settings,
    top_k: int,
    allowed: np.ndarray | None = None,
) -> list[Hit]:
    """Best chunks for a question, at most `settings.max_chunks_per_article` per article.

    Args:
        question_vector: the encoded question (normalized).
        query_text: the words for BM25 (the question, plus context carried from earlier turns).
        top_k: how many hits to return.
        allowed: restrict to these chunk rows (see `allowed_rows`).
    """
    dense_scores, dense_ids = index.vectors.search(question_vector, settings.dense_candidates, allowed=allowed)
    lexical_all = index.lexical.scores(query_text)
    if allowed is not None:
        mask = np.zeros(len(lexical_all), dtype=bool)
        mask[allowed] = True
        lexical_all = np.where(mask, lexical_all, 0.0)
    positive = np.flatnonzero(lexical_all > 0)
    lexical_ids = positive[np.argsort(-lexical_all[positive], kind="stable")][: settings.lexical_candidates]

    dense_by_row = {int(r): float(s) for r, s in zip(dense_ids, dense_scores, strict=True)}
    lexical_by_row = {int(row): float(lexical_all[row]) for row in lexical_ids}
    fused = fuse(dense_by_row, lexical_by_row, settings)

    hits: list[Hit] = []
    per_article: dict[str, int] = {}
    for row, score in sorted(fused.items(), key=lambda item: (-item[1], item[0])):
        chunk = index.chunks[row]
        if per_article.get(chunk.article_id, 0) >= settings.max_chunks_per_article:
            continue
        per_article[chunk.article_id] = per_article.get(chunk.article_id, 0) + 1
        hits.append(Hit(chunk=chunk, article=index.articles[chunk.article_id], score=score, rank=len(hits) + 1,
                        dense_score=dense_by_row.get(row), lexical_score=float(lexical_all[row])))
        if len(hits) >= top_k:
            break
    return hits


def fuse(dense: Mapping[Key, float], lexical: Mapping[Key, float], settings: Settings) -> dict[Key, float]:
    """One score per candidate (a chunk row, or a store's chunk key) from its dense similarity and BM25 score (each best first).

    "convex": each list's scores are standardised over its candidates (a candidate missing from
    a list gets that list's lowest standardised score), then weighted `dense_weight` to
    `1 - dense_weight`. Unlike reciprocal rank it keeps how far apart the scores are: a BM25
    match far ahead of the rest outweighs a dense list of near-equal similarities (Bruch et al.,
    "An analysis of fusion functions for hybrid retrieval", 2023). "rrf": 1 / (rrf_k + rank) summed.
    """
    if settings.fusion == "rrf":
        fused: dict[Key, float] = {}
        for ranking in (dense, lexical):
            for rank, row in enumerate(ranking):
                fused[row] = fused.get(row, 0.0) + 1.0 / (settings.rrf_k + rank + 1)
        return fused
    dense_z, lexical_z = _standardised(dense), _standardised(lexical)
    dense_floor = min(dense_z.values(), default=0.0)
    lexical_floor = min(lexical_z.values(), default=0.0)
    weight = settings.dense_weight
    return {row: weight * dense_z.get(row, dense_floor) + (1.0 - weight) * lexical_z.get(row, lexical_floor)
            for row in dense.keys() | lexical.keys()}


def _standardised(scores: Mapping[Key, float]) -> dict[Key, float]:
    """Scores as standard deviations from their mean; all 0 when fewer than two differ."""
    values = np.fromiter(scores.values(), dtype=np.float64, count=len(scores))
    spread = float(values.std()) if values.size > 1 else 0.0
    if spread <= 1e-12:
        return dict.fromkeys(scores, 0.0)
    mean = float(values.mean())
    return {row: (value - mean) / spread for row, value in scores.items()}
