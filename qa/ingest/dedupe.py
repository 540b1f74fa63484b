"""Fold copies of the same article together: exact, truncated, retitled or lightly edited.

Candidates are blocked by normalized title and by the normalized first `PREFIX_CHARS`
characters of the body (O(n) blocking, no all-pairs comparison) and joined with
union-find, so a retitled copy is found when it keeps that body prefix. Within a block,
two articles are the same only if one body is a prefix of the other after normalization
or their word-shingle Jaccard similarity is at least `MIN_JACCARD`, so two different
stories that share a headline stay apart.
"""

from __future__ import annotations

from collections.abc import Sequence

from qa.ingest.identity import make_article, normalize_text
from qa.types import Article

PREFIX_CHARS = 300
MIN_KEY_CHARS = 50  # shorter bodies ("Read more") are too generic to block on
MIN_JACCARD = 0.5
SHINGLE_WORDS = 3


def merge_duplicates(articles: Sequence[Article]) -> tuple[list[Article], int]:
    """Merge copies of one article.

    The merged article keeps the fullest text (non-truncated first, then the longest
    body), the union of all sources, and the kept copy's date and url, else the first
    known ones in input order.

    Returns:
        The merged articles in order of first appearance, and how many copies were folded.
    """
    items = list(articles)
    bodies = [normalize_text(article.body) for article in items]
    shingles: dict[int, frozenset[tuple[str, ...]]] = {}
    parents = list(range(len(items)))

    def find(index: int) -> int:
        while parents[index] != index:
            parents[index] = parents[parents[index]]
            index = parents[index]
        return index

    def same_text(first: int, second: int) -> bool:
        a, b = bodies[first], bodies[second]
        if a.startswith(b) or b.startswith(a):
            return True
        for index in (first, second):
            if index not in shingles:
                shingles[index] = make_shingles(bodies[index])
        return jaccard(shingles[first], shingles[second]) >= MIN_JACCARD

    for members in _block(items, bodies):
        representatives: list[int] = []
        for index in members:
            match = next((rep for rep in representatives if same_text(index, rep)), None)
            if match is None:
                representatives.append(index)
                continue
            root_a, root_b = find(index), find(match)
            parents[max(root_a, root_b)] = min(root_a, root_b)

    groups: dict[int, list[int]] = {}
    for index in range(len(items)):
        groups.setdefault(find(index), []).append(index)
    merged = [_merge([items[i] for i in members]) for members in groups.values()]
    return merged, len(items) - len(merged)


def make_shingles(text: str) -> frozenset[tuple[str, ...]]:
    """The set of `SHINGLE_WORDS`-word runs of a normalized text."""
    words = text.split()
    if len(words) <= SHINGLE_WORDS:
        return frozenset({tuple(words)})
    return frozenset(tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1))


def jaccard(a: frozenset[tuple[str, ...]], b: frozenset[tuple[str, ...]]) -> float:
    """Size of the intersection over size of the union (0.0 for two empty sets)."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _block(items: list[Article], bodies: list[str]) -> list[list[int]]:
    blocks: dict[tuple[str, str], list[int]] = {}
    for index, article in enumerate(items):
        blocks.setdefault(("title", normalize_text(article.title)), []).append(index)
        if len(bodies[index]) >= MIN_KEY_CHARS:
            blocks.setdefault(("body", bodies[index][:PREFIX_CHARS]), []).append(index)
    return [members for members in blocks.values() if len(members) > 1]


def _merge(copies: list[Article]) -> Article:
    if len(copies) == 1:
        return copies[0]
    best = min(range(len(copies)), key=lambda i: (copies[i].truncated, -len(copies[i].body), i))
    kept = copies[best]
    ordered = [kept, *copies]
    return make_article(
        kept.title,
        kept.body,
        sources=[source for copy in copies for source in copy.sources],
        published=next((copy.published for copy in ordered if copy.published), None),
        url=next((copy.url for copy in ordered if copy.url), None),
        truncated=kept.truncated,
    )
