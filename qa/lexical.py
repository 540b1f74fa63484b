"""Lexical side of retrieval: a BM25 index (bm25s) over stemmed content words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.text import content_terms


class LexicalIndex:
    """BM25 over documents given as text; document number = row in the chunk store."""

    def __init__(self, retriever, count: int) -> None:
        self._retriever = retriever
        self.count = count
        vocab = retriever.vocab_dict or {}
        indptr = np.asarray(retriever.scores["indptr"])
        frequencies = np.diff(indptr)
        self._document_frequency = {term: int(frequencies[column]) for term, column in vocab.items() if column < len(frequencies)}

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25()
        # An empty token list would make bm25s drop the document and shift every row after it.
        tokens = [content_terms(text) or [""] for text in texts]
        retriever.index(tokens, show_progress=False)
        return cls(retriever, len(texts))

    def scores(self, question: str) -> np.ndarray:
        """BM25 score of every document for the content words of `question`."""
        terms = [t for t in content_terms(question) if t in self._document_frequency]
        if not terms or self.count == 0:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores(terms), dtype=np.float32)

    def idf(self, term: str) -> float:
        """Inverse document frequency of a stemmed term (high for rare words, also for unseen ones)."""
        frequency = self._document_frequency.get(term, 0)
        return math.log(1 + (self.count - frequency + 0.5) / (frequency + 0.5))

    def save(self, directory: Path) -> None:
        self._retriever.save(str(directory), show_progress=False)

    @classmethod
    def load(cls, directory: Path, count: int) -> LexicalIndex:
        import bm25s

        retriever = bm25s.BM25.load(str(directory), allow_pickle=False, show_progress=False)
        return cls(retriever, count)
