"""Caches proposed for qa/extract.py and qa/entities.py, switched on by the benchmark only, to measure what they save.

Profiling `Assistant.ask` with the sentence vectors cached leaves three costs beside encoding
the question: the terms of every retrieved article's body (`content_terms` over ~15 kB per
hit, in `candidate_sentences`), spaCy tagging of the 8 leading sentences, and retrieval. The
first two depend only on the collection, so a service can compute them once per article and
per sentence. `ProposedCaches` does exactly that, by wrapping the two functions; `enabled`
switches it per call so the product's own behaviour is measured in the same process.
"""

from __future__ import annotations

import functools
from collections import OrderedDict


class ProposedCaches:
    """Per-text caches of `qa.extract.content_terms` and `EntityTagger.analyze` (results are identical)."""

    def __init__(self, size: int = 8192) -> None:
        self.enabled = False
        self.size = size
        self._analyses: OrderedDict[str, object] = OrderedDict()
        self._installed = False

    def install(self) -> ProposedCaches:
        if self._installed:
            return self
        import qa.extract as extract
        from qa.entities import EntityTagger

        original_terms = extract.content_terms
        cached_terms = functools.lru_cache(maxsize=self.size)(lambda text: tuple(original_terms(text)))
        caches = self

        def content_terms(text: str) -> list[str]:
            return list(cached_terms(text)) if caches.enabled else original_terms(text)

        original_analyze = EntityTagger.analyze

        def analyze(tagger, sentences):
            if not caches.enabled:
                return original_analyze(tagger, sentences)
            missing = [s for s in dict.fromkeys(sentences) if s not in caches._analyses]
            if missing:
                for sentence, analysis in zip(missing, original_analyze(tagger, missing)):
                    caches._analyses[sentence] = analysis
                while len(caches._analyses) > caches.size:
                    caches._analyses.popitem(last=False)
            return [caches._analyses[s] for s in sentences]

        extract.content_terms = content_terms
        EntityTagger.analyze = analyze
        self._installed = True
        return self

    def prefill(self, index, tagger) -> None:
        """Compute the terms of every article and the analysis of every sentence of `index` once."""
        from qa.extract import content_terms

        was, self.enabled = self.enabled, True
        try:
            sentences = []
            for article_id, spans in index.sentences.items():
                article = index.articles[article_id]
                content_terms(article.title)
                content_terms(article.body)
                sentences += [article.body[s.start : s.end] for s in spans]
            for start in range(0, len(sentences), 64):
                tagger.analyze(sentences[start : start + 64])
                for sentence in sentences[start : start + 64]:
                    content_terms(sentence)
        finally:
            self.enabled = was
