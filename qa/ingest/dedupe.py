"""Fold copies of one article together: exact, truncated, retitled or lightly edited.

Copies are bodies where one is a prefix of the other, or where at least `MIN_CONTAINMENT`
of the shorter body's word shingles occur in the longer one (`MIN_CONTAINMENT_RETITLED`
under different titles). Pairs come from a sorted
scan and from an inverted index probed with each body's rarest shingles (prefix
filtering): no all-pairs comparison, and no qualifying pair is missed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator, Sequence

from qa.ingest.identity import make_article, normalize_text
from qa.types import Article

MIN_KEY_CHARS = 50  # a shorter body ("Read more") is a copy only under the same title
SHINGLE_WORDS = 3
# A truncated snippet with a few words changed keeps well over 60% of its shingles (each
# edit costs at most 3); different stories on the shared corpus stay under 10%, and a
# shared dateline opening ("CITY (Agency) -") yields only a couple of shingles.
MIN_CONTAINMENT = 0.6
# Under different titles the bodies must agree more: two short stories written from one template
# ("... opened the new bridge / tram line on Tuesday ...") are different news, and merging them
# would lose one. A retitled copy with an edit or two keeps well over 90% of its shingles.
MIN_CONTAINMENT_RETITLED = 0.9
# Below this, a one-word difference ("Monday" / "Tuesday", "resigned" / "re-elected") may be the whole news: short
# bodies must match exactly or as a prefix.
MIN_FUZZY_WORDS = 25

_WORD = re.compile(r"\w+")
Shingles = frozenset[str]


def merge_duplicates(articles: Sequence[Article]) -> tuple[list[Article], int]:
    """Merge copies of one article; which copies merge and what they keep ignores input order.

    The merged article keeps the fullest text (non-truncated first, then the longest
    body, then the first source files), the union of all sources, and the kept copy's date
    and url, else those of the next copy in that order that has them.

    Returns:
        The merged articles in order of first appearance, and how many copies were folded.
    """
    items = list(articles)
    bodies = [normalize_text(article.body) for article in items]
    parents = list(range(len(items)))

    def find(index: int) -> int:
        while parents[index] != index:
            parents[index] = parents[parents[index]]
            index = parents[index]
        return index

    def union(first: int, second: int) -> None:
        root_a, root_b = find(first), find(second)
        parents[max(root_a, root_b)] = min(root_a, root_b)

    by_title: dict[str, list[int]] = {}
    for index, article in enumerate(items):
        by_title.setdefault(normalize_text(article.title), []).append(index)
    blocks = [[i for i in range(len(items)) if len(bodies[i]) >= MIN_KEY_CHARS], *by_title.values()]
    for members in blocks:
        for first, second in _prefix_pairs(members, bodies):
            union(first, second)

    holders = _group_by_shingles(items, bodies)
    shingle_sets = list(holders)
    owners = [members[0] for members in holders.values()]
    for members in holders.values():
        for index in members[1:]:
            union(members[0], index)
    titles = [normalize_text(article.title) for article in items]
    for first, second in _candidate_pairs(shingle_sets):
        a, b = owners[first], owners[second]
        needed = MIN_CONTAINMENT if titles[a] == titles[b] else MIN_CONTAINMENT_RETITLED
        if find(a) != find(b) and containment(shingle_sets[first], shingle_sets[second]) >= needed:
            union(a, b)

    groups: dict[int, list[int]] = {}
    for index in range(len(items)):
        groups.setdefault(find(index), []).append(index)
    merged = [_merge([items[i] for i in members]) for members in groups.values()]
    return merged, len(items) - len(merged)


def make_shingles(words: Sequence[str]) -> Shingles:
    """The set of `SHINGLE_WORDS`-word runs of a word list."""
    return frozenset(map(" ".join, zip(*(words[start:] for start in range(SHINGLE_WORDS)), strict=False)))


def containment(a: Shingles, b: Shingles) -> float:
    """The share of the smaller set found in the larger one (0.0 if either is empty)."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return len(small & large) / len(small) if small else 0.0


def _prefix_pairs(members: list[int], bodies: list[str]) -> Iterator[tuple[int, int]]:
    """Pairs linking every body to the longest member body that is a prefix of it.

    In sorted order, the bodies that are prefixes of a body form a chain ending just before
    it, so one stack pass connects all prefix-related bodies.
    """
    chain: list[int] = []
    for index in sorted(members, key=lambda i: bodies[i]):
        while chain and not bodies[index].startswith(bodies[chain[-1]]):
            chain.pop()
        if chain:
            yield chain[-1], index
        chain.append(index)


def _group_by_shingles(items: list[Article], bodies: list[str]) -> dict[Shingles, list[int]]:
    """The articles of at least `MIN_FUZZY_WORDS` words grouped by their set of shingles.

    A truncated body's last word may be cut off, so it is left out.
    """
    groups: dict[Shingles, list[int]] = {}
    for index, (article, body) in enumerate(zip(items, bodies, strict=True)):
        words = _WORD.findall(body)
        if article.truncated:
            words = words[:-1]
        if len(words) >= MIN_FUZZY_WORDS:
            groups.setdefault(make_shingles(words), []).append(index)
    return groups


def _candidate_pairs(sets: list[Shingles]) -> list[tuple[int, int]]:
    """Pairs of sets that may reach `MIN_CONTAINMENT`, found through an inverted index.

    If `MIN_CONTAINMENT` of a set lies in another, any `len - floor(MIN_CONTAINMENT * len) + 1`
    of its elements include one of the other's, so probing each set's rarest elements (in
    one global order) finds every such pair while skipping boilerplate shingles. A set whose
    probe holds only its own shingles is contained in no other and probes nothing.
    """
    seen: set[str] = set()
    repeated: set[str] = set()
    for shingles in sets:
        repeated |= seen & shingles
        seen |= shingles
    shared = [shingles & repeated for shingles in sets]
    frequency = Counter(shingle for common in shared for shingle in common)
    probes: dict[int, list[str]] = {}
    for number, shingles in enumerate(sets):
        unique = len(shingles) - len(shared[number])
        probe_size = len(shingles) - math.floor(MIN_CONTAINMENT * len(shingles)) + 1
        if unique < probe_size:
            rarest = sorted(shared[number], key=lambda shingle: (frequency[shingle], shingle))
            probes[number] = rarest[: probe_size - unique]
    probed = set().union(*probes.values())
    postings: dict[str, list[int]] = {}
    for number, shingles in enumerate(sets):
        for shingle in shingles & probed:
            postings.setdefault(shingle, []).append(number)
    pairs = {
        (min(number, other), max(number, other))
        for number, probe in probes.items()
        for shingle in probe
        for other in postings[shingle]
        if other != number
    }
    return sorted(pairs)


def _rank(article: Article) -> tuple[object, ...]:
    """Fullest first: not truncated, longest body, then by source files and content."""
    date = article.published.isoformat() if article.published else ""
    return (article.truncated, -len(article.body), article.sources, article.body, article.title,
            article.url or "", date)


def _merge(copies: list[Article]) -> Article:
    if len(copies) == 1:
        return copies[0]
    ordered = sorted(copies, key=_rank)
    kept = ordered[0]
    return make_article(
        kept.title,
        kept.body,
        sources=[source for copy in copies for source in copy.sources],
        published=next((copy.published for copy in ordered if copy.published), None),
        url=next((copy.url for copy in ordered if copy.url), None),
        truncated=kept.truncated,
    )
