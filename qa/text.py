"""Text helpers shared by chunking, lexical search and extraction: sentences with offsets, word tokens."""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Set as AbstractSet

from qa.lexicon_en import IRREGULAR_VERBS as _IRREGULAR
from qa.lexicon_en import STOPWORDS
from qa.types import Span

__all__ = ["STOPWORDS", "content_terms", "normalize", "split_sentences", "stem", "terms_match", "word_spans", "words"]

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

def split_sentences(text: str, *, language: str = "en") -> list[Span]:
    """Sentence spans of `text`, whitespace trimmed, so `text[s.start:s.end]` is one sentence.

    Uses sentencex (a rule-based splitter for ~300 languages); line breaks always end a sentence.
    """
    from sentencex import get_sentence_boundaries

    spans: list[Span] = []
    for line in _line_spans(text):
        segment_text = text[line.start : line.end]
        cursor = 0
        for boundary in get_sentence_boundaries(language, segment_text):
            start, end = boundary["start_index"], boundary["end_index"]
            if segment_text[start:end] != boundary["text"]:  # offsets off: locate the text instead
                found = segment_text.find(boundary["text"], cursor)
                if found < 0:
                    continue
                start, end = found, found + len(boundary["text"])
            cursor = end
            span = _trim(segment_text, start, end)
            if span is not None:
                spans.append(Span(line.start + span.start, line.start + span.end))
    return spans


def _line_spans(text: str) -> list[Span]:
    spans, start = [], 0
    for match in re.finditer(r"\n+", text):
        if match.start() > start:
            spans.append(Span(start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append(Span(start, len(text)))
    return spans


def _trim(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if end > start else None


def normalize(text: str) -> str:
    """Case-folded, accent-stripped, quote-unified text for matching (never for display)."""
    if text.isascii():  # the common case, and the same result: nothing to decompose or unify
        return text.lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.replace("’", "'").replace("‘", "'").casefold()


def words(text: str) -> list[str]:
    """Normalized word tokens, possessive endings removed ("Kazakhstan’s" -> "kazakhstan")."""
    tokens = []
    for match in _WORD.finditer(normalize(text)):
        token = match.group()
        if token.endswith("'s"):
            token = token[:-2]
        tokens.append(token)
    return tokens


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A light suffix stripper so "sanctions"/"sanctioned", "visit"/"visited" and "came"/"come" meet."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    for suffix in ("ingly", "edly", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed words that are not stopwords: the tokens of the lexical index and of term matching."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def word_spans(text: str) -> list[Span]:
    """Spans of the words in `text` (same tokenization as `words`, on the original characters)."""
    return [Span(m.start(), m.end()) for m in _WORD.finditer(text)]


_PREFIX = 6  # shortest shared prefix that counts as the same word


def terms_match(term: str, terms: AbstractSet[str]) -> bool:
    """Whether `term` or a word sharing a long prefix with it ("belarus"/"belarusian") is in `terms`."""
    if term in terms:
        return True
    if len(term) < _PREFIX:
        return False
    if any(term[:end] in terms for end in range(_PREFIX, len(term))):  # a shorter word of `terms` begins `term`
        return True
    if isinstance(terms, frozenset):  # an article's terms, met again and again: search them sorted
        longer = _sorted_long_terms(terms)
        at = bisect.bisect_left(longer, term)
        return at < len(longer) and longer[at].startswith(term)
    return any(other.startswith(term) for other in terms)


@functools.lru_cache(maxsize=4096)
def _sorted_long_terms(terms: frozenset[str]) -> tuple[str, ...]:
    return tuple(sorted(t for t in terms if len(t) >= _PREFIX))
