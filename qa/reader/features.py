"""Candidate sentences of retrieved chunks and the cheap features that shortlist them for the reader.

Nothing here is tuned by hand: the features are plain measurements (term overlap, retrieval rank,
position) and `LinearModel` weights come from `python -m qa.reader.calibrate`, fit on public QA data.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.lexicon_en import ANAPHORIC_OPENINGS
from qa.text import content_terms, terms_match
from qa.types import Article, Hit, Span

# The shortlist model's inputs, in this order (the calibration file lists them too, and loading checks they match).
SHORTLIST_FEATURES = ("coverage", "context_coverage", "article_coverage", "pairs", "names", "reciprocal_rank",
                      "dense", "lexical", "lead", "log_position", "log_length")


@dataclass(frozen=True)
class Candidate:
    """One sentence of a retrieved chunk, with offsets into its article and the shortlist features."""

    article: Article
    span: Span
    text: str
    position: int
    features: dict[str, float] = field(default_factory=dict)

    def vector(self, names: Sequence[str]) -> np.ndarray:
        return np.array([self.features[name] for name in names], dtype=np.float64)


@dataclass(frozen=True)
class LinearModel:
    """Logistic regression weights over named features, as fit by the calibration command."""

    features: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def logit(self, rows: np.ndarray) -> np.ndarray:
        return rows @ np.asarray(self.coef) + self.intercept

    def probability(self, rows: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logit(rows)))

    def to_json(self) -> dict:
        return {"features": list(self.features), "coef": [round(c, 6) for c in self.coef], "intercept": round(self.intercept, 6)}

    @classmethod
    def from_json(cls, data: dict) -> LinearModel:
        return cls(tuple(data["features"]), tuple(float(c) for c in data["coef"]), float(data["intercept"]))


def article_terms(article: Article) -> tuple[frozenset[str], frozenset[str]]:
    """The terms of an article's title, and of title and body together."""
    title = frozenset(content_terms(article.title))
    return title, title | frozenset(content_terms(article.body))


@functools.lru_cache(maxsize=1 << 15)
def sentence_terms(text: str) -> tuple[str, ...]:
    """`content_terms` of a sentence, kept: the sentences of an archive's articles come back question after question."""
    return tuple(content_terms(text))


def weighted_coverage(weights: dict[str, float], terms: frozenset[str]) -> float:
    """The IDF-weighted share of `weights`' terms that `terms` holds (`terms_match`: shared long prefixes count)."""
    total = sum(weights.values())
    return sum(w for term, w in weights.items() if terms_match(term, terms)) / total if total > 0 else 0.0


def candidates_from_hits(
    hits: Sequence[Hit],
    sentences_of: Callable[[str], Sequence[Span]],
    question_terms: Sequence[str],
    idf: Callable[[str], float],
    *,
    names: Sequence[str] = (),
    terms_of: Callable[[Article], tuple[frozenset[str], frozenset[str]]] = article_terms,
) -> list[Candidate]:
    """Every sentence of the retrieved chunks, once, with its shortlist features.

    Args:
        sentences_of: an article id -> its sentence spans.
        question_terms: the question's content terms (with context carried from earlier turns).
        idf: a term's inverse document frequency in the collection.
        names: stemmed terms of the question's capitalised words.
    """
    terms = list(dict.fromkeys(question_terms))
    weights = {term: idf(term) for term in terms}
    total = sum(weights.values()) or 1.0
    pairs = set(itertools.pairwise(question_terms))
    best_lexical = max((hit.lexical_score or 0.0 for hit in hits), default=0.0) or 1.0
    seen: set[tuple[str, int]] = set()
    out: list[Candidate] = []
    for hit in hits:
        title_terms, all_terms = terms_of(hit.article)
        article_coverage = weighted_coverage(weights, all_terms)
        in_title = {t for t in terms if terms_match(t, title_terms)}
        names_found = sum(terms_match(n, all_terms) for n in names) / len(names) if names else 1.0
        spans = sentences_of(hit.article.id)
        for position, span in enumerate(spans):
            if span.end <= hit.chunk.start or span.start >= hit.chunk.end or (hit.article.id, span.start) in seen:
                continue
            seen.add((hit.article.id, span.start))
            text = hit.article.body[span.start : span.end]
            sequence = sentence_terms(text)
            in_sentence = set(sequence)
            matched = {t for t in terms if terms_match(t, in_sentence)}
            in_context_terms = in_title - matched
            if position > 0 and ANAPHORIC_OPENINGS.match(text):
                before = spans[position - 1]
                context = title_terms | set(sentence_terms(hit.article.body[before.start : before.end]))
                in_context_terms = {t for t in terms if t not in matched and terms_match(t, context)}
            covered = sum(w for t, w in weights.items() if t in matched)  # in the weights' order: a set's order varies by run
            in_context = sum(w for t, w in weights.items() if t in in_context_terms)
            features = {
                "coverage": covered / total,
                "context_coverage": in_context / total,
                "article_coverage": article_coverage,
                "pairs": len(pairs & set(itertools.pairwise(sequence))) / len(pairs) if pairs else 0.0,
                "names": names_found,
                "reciprocal_rank": 1.0 / hit.rank,
                "dense": float(hit.dense_score) if hit.dense_score is not None else 0.0,
                "lexical": (hit.lexical_score or 0.0) / best_lexical,
                "lead": float(position == 0),
                "log_position": math.log1p(position),
                "log_length": math.log1p(len(text.split())),
            }
            out.append(Candidate(hit.article, span, text, position, features))
    return out


def shortlist(candidates: list[Candidate], model: LinearModel, size: int) -> list[tuple[Candidate, float]]:
    """The `size` candidates the model ranks highest, with their shortlist logits, best first."""
    if not candidates:
        return []
    logits = model.logit(np.stack([c.vector(model.features) for c in candidates]))
    order = sorted(range(len(candidates)), key=lambda i: (-logits[i], candidates[i].article.id, candidates[i].span.start))
    return [(candidates[i], float(logits[i])) for i in order[:size]]
