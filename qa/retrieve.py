"""Question -> ranked Hits: dense (FAISS) and lexical (BM25) results fused by reciprocal rank."""

from __future__ import annotations

import datetime as dt

import numpy as np

from qa.config import Settings
from qa.index import NewsIndex
from qa.types import Hit


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

    fused: dict[int, float] = {}
    for rank, row in enumerate(dense_ids):
        fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (settings.rrf_k + rank + 1)
    for rank, row in enumerate(lexical_ids):
        fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (settings.rrf_k + rank + 1)
    dense_by_row = {int(r): float(s) for r, s in zip(dense_ids, dense_scores, strict=True)}

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
