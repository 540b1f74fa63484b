"""Text helpers shared by chunking, lexical search and extraction: sentences with offsets, word tokens."""

from __future__ import annotations

import re
import unicodedata

from qa.types import Span

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)

# Function words that carry no topic; kept short on purpose (question words are handled separately).
STOPWORDS = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have having
    he her hers him his how i if in into is it its itself me my of on or our ours she so than that the their
    theirs them then there these they this those to too us was we were what when where which while who whom
    whose why will with would you your yours also about after before over under up down out off again
    further once here all any both each few more most other some such no nor not only own same just
    very s t d ll m o re ve y according said say says""".split()
)


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


# Irregular past forms of verbs common in news, so "came" meets "come" and "took" meets "take".
_IRREGULAR = dict(
    pair.split(":")
    for pair in """came:come took:take taken:take held:hold met:meet made:make gave:give given:give went:go gone:go
    began:begin begun:begin sent:send won:win lost:lose left:leave led:lead told:tell thought:think brought:bring
    bought:buy built:build caught:catch chose:choose chosen:choose drew:draw drawn:draw drove:drive fell:fall fought:fight
    found:find flew:fly forgot:forget got:get grew:grow heard:hear kept:keep knew:know known:know laid:lay meant:mean
    paid:pay ran:run rose:rise saw:see seen:see sold:sell set:set shot:shoot spoke:speak spoken:speak spent:spend
    stood:stand struck:strike swore:swear understood:understand wore:wear wrote:write written:write became:become
    broke:break broken:break""".split()
)


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


def terms_match(term: str, terms: set[str]) -> bool:
    """Whether `term` or a word sharing a long prefix with it ("belarus"/"belarusian") is in `terms`."""
    if term in terms:
        return True
    if len(term) < 6:
        return False
    return any(len(other) >= 6 and (other.startswith(term) or term.startswith(other)) for other in terms)
