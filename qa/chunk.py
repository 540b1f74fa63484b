"""Article -> Chunks: runs of whole sentences, sized in the encoder's tokens, with offsets into the body."""

from __future__ import annotations

import bisect
import hashlib
import unicodedata
from collections.abc import Callable, Sequence

from qa.text import split_sentences, word_spans
from qa.types import Article, Chunk, Span

TokenCounter = Callable[[str], int]
# Character offsets of a text's word pieces (no special tokens), or None when spans cannot be counted from them.
TokenOffsets = Callable[[str], "Sequence[tuple[int, int]] | None"]


TITLE_CHARS = 160  # the part of a title that goes into every chunk's embedding text


def embedding_title(title: str) -> str:
    """The title as embedded with each chunk: cut at a word boundary so it cannot crowd out the body."""
    if len(title) <= TITLE_CHARS:
        return title
    cut = title[:TITLE_CHARS]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut


def embedding_text(article: Article, chunk: Chunk) -> str:
    """What the encoder sees for a chunk: the title gives context to passages that never name their topic."""
    return f"{embedding_title(article.title)}\n{chunk.text}"


def chunk_article(
    article: Article,
    *,
    count_tokens: TokenCounter,
    max_tokens: int,
    overlap_sentences: int = 1,
    sentences: list[Span] | None = None,
    token_offsets: TokenOffsets | None = None,
) -> list[Chunk]:
    """Split an article into chunks of whole sentences.

    Each chunk, with the title prepended as `embedding_text` does, fits in `max_tokens`
    of the encoder, so the model never truncates it silently. Consecutive chunks share
    `overlap_sentences` sentences. A single sentence longer than the budget is cut at
    word boundaries.

    `token_offsets` (an encoder's, when it has one) makes chunking fast: the body is
    tokenized once and spans are counted from the offsets, with the same counts as
    `count_tokens` gives (spans whose ends are not word boundaries are counted by it).

    Returns:
        Chunks with `article.body[chunk.start:chunk.end] == chunk.text`.
    """
    body = article.body
    budget = max_tokens - count_tokens(embedding_title(article.title) + "\n") + 1  # special tokens are counted once
    if budget < 4:
        raise ValueError(f"max_tokens={max_tokens} leaves no room for text after the title {article.title[:40]!r}")
    count_span = _span_counter(body, count_tokens, token_offsets)
    pieces = _fit_pieces(body, sentences if sentences is not None else split_sentences(body), count_span, budget)

    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        last = first
        while last + 1 < len(pieces) and count_span(pieces[first].start, pieces[last + 1].end) <= budget:
            last += 1
        start, end = pieces[first].start, pieces[last].end
        chunks.append(_make_chunk(article, body, start, end))
        if last + 1 >= len(pieces):
            break
        next_first = max(last + 1 - overlap_sentences, first + 1)
        # Skip overlap sentences that cannot share a chunk with the next new sentence: alone they would
        # only repeat part of this chunk.
        while next_first <= last and count_span(pieces[next_first].start, pieces[last + 1].end) > budget:
            next_first += 1
        first = next_first
    return chunks


SpanCounter = Callable[[int, int], int]


def _span_counter(body: str, count_tokens: TokenCounter, token_offsets: TokenOffsets | None) -> SpanCounter:
    """`count(start, end)` == `count_tokens(body[start:end])`, from one tokenization of the body when possible."""
    def slow(start: int, end: int) -> int:
        return count_tokens(body[start:end])

    offsets = token_offsets(body) if token_offsets is not None else None
    if offsets is None:
        return slow
    starts = [s for s, _ in offsets]
    ends = [e for _, e in offsets]
    specials = count_tokens("")

    def clean(position: int) -> bool:
        """A word boundary that no word piece straddles: the pieces on each side are the same in any substring."""
        if 0 < position < len(body) and not (_separates(body[position - 1]) or _separates(body[position])):
            return False
        after = bisect.bisect_right(ends, position)  # first piece ending after `position`
        return after == len(ends) or starts[after] >= position

    def fast(start: int, end: int) -> int:
        if not (clean(start) and clean(end)):
            return slow(start, end)
        inside = bisect.bisect_right(ends, end) - bisect.bisect_left(starts, start)
        return max(inside, 0) + specials

    return fast


def _separates(character: str) -> bool:
    """Whitespace or punctuation as BERT pre-tokenization splits on (control characters excluded: they are dropped)."""
    if character in " \t\n\r":
        return True
    category = unicodedata.category(character)
    if category.startswith("Z"):
        return True
    code = ord(character)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or category.startswith("P")


def _fit_pieces(body: str, sentences: list[Span], count_span: SpanCounter, budget: int) -> list[Span]:
    """Sentences, with any sentence over the budget cut into word windows that fit."""
    pieces: list[Span] = []
    for sentence in sentences:
        if count_span(sentence.start, sentence.end) <= budget:
            pieces.append(sentence)
            continue
        words = [w for w in word_spans(body[sentence.start : sentence.end])]
        window_start = 0
        while window_start < len(words):
            window_end = window_start + 1
            while window_end < len(words):
                if count_span(sentence.start + words[window_start].start, sentence.start + words[window_end].end) > budget:
                    break
                window_end += 1
            pieces.append(Span(sentence.start + words[window_start].start, sentence.start + words[window_end - 1].end))
            window_start = window_end
    return pieces


def _make_chunk(article: Article, body: str, start: int, end: int) -> Chunk:
    text = body[start:end]
    digest = hashlib.sha1(f"{article.id}\0{start}\0{text}".encode()).hexdigest()[:16]
    return Chunk(id=digest, article_id=article.id, text=text, start=start, end=end)
