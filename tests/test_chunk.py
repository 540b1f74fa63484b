"""Tests for qa.chunk: offsets, token budgets, overlap, and long inputs."""

from __future__ import annotations

import itertools

from conftest import FakeEncoder
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qa.chunk import chunk_article, embedding_text, embedding_title
from qa.text import split_sentences, word_spans
from qa.types import Article, Span

ENCODER = FakeEncoder()


def make_article(body: str, title: str = "Council Votes on Budget") -> Article:
    return Article(id="a1", title=title, body=body, content_hash="h1")


def chunk(article: Article, *, max_tokens: int = 64, overlap: int = 1):
    return chunk_article(article, count_tokens=ENCODER.count_tokens, max_tokens=max_tokens, overlap_sentences=overlap)


def numbered_body(count: int) -> str:
    # Each sentence is 10 words plus a full stop: 11 fake tokens (13 with the special tokens).
    return " ".join(f"Sentence number {i} has exactly ten words in it today." for i in range(count))


def sentence_texts(body: str) -> list[str]:
    return [body[s.start : s.end] for s in split_sentences(body)]


def test_short_article_is_one_chunk_with_the_whole_body():
    article = make_article("The council met. It approved the budget.")
    (only,) = chunk(article)
    assert (only.start, only.end, only.text) == (0, len(article.body), article.body)
    assert only.article_id == "a1"
    assert embedding_text(article, only) == "Council Votes on Budget\nThe council met. It approved the budget."


def test_offsets_slice_back_and_chunks_fit_the_budget():
    article = make_article(numbered_body(12))
    chunks = chunk(article, max_tokens=48)
    assert len(chunks) > 3
    for c in chunks:
        assert article.body[c.start : c.end] == c.text
        assert ENCODER.count_tokens(embedding_text(article, c)) <= 48


def test_chunks_are_whole_sentences():
    article = make_article(numbered_body(8))
    sentences = sentence_texts(article.body)
    for c in chunk(article, max_tokens=48):
        assert " ".join(sentence_texts(c.text)) == c.text
        assert all(s in sentences for s in sentence_texts(c.text))


def test_consecutive_chunks_overlap_by_one_sentence():
    article = make_article(numbered_body(8))
    chunks = chunk(article, max_tokens=48, overlap=1)
    # The title leaves a budget of 48 - 6 + 1 = 43 tokens: three sentences (33 + 2) fit, four (44 + 2) do not.
    assert [sentence_texts(c.text)[0][:17] for c in chunks] == [
        "Sentence number 0",
        "Sentence number 2",
        "Sentence number 4",
        "Sentence number 6",
    ]
    for previous, following in itertools.pairwise(chunks):
        assert sentence_texts(previous.text)[-1] == sentence_texts(following.text)[0]
        assert following.start < previous.end


def test_no_overlap_when_asked():
    article = make_article(numbered_body(6))
    chunks = chunk(article, max_tokens=48, overlap=0)
    assert len(chunks) == 2
    assert chunks[0].end < chunks[1].start
    assert sentence_texts(chunks[0].text) + sentence_texts(chunks[1].text) == sentence_texts(article.body)


def test_chunk_ids_are_stable_and_distinct():
    article = make_article(numbered_body(8))
    first, second = chunk(article, max_tokens=48), chunk(article, max_tokens=48)
    assert [c.id for c in first] == [c.id for c in second]
    assert len({c.id for c in first}) == len(first)


def test_sentence_longer_than_budget_is_cut_at_word_boundaries():
    words = [f"w{i}" for i in range(150)]
    article = make_article(" ".join(words) + ".", title="T")
    chunks = chunk(article, max_tokens=40)
    assert len(chunks) >= 4
    boundaries = {(s.start, s.end) for s in word_spans(article.body)}
    starts = {s for s, _ in boundaries}
    ends = {e for _, e in boundaries}
    for c in chunks:
        assert article.body[c.start : c.end] == c.text
        assert ENCODER.count_tokens(embedding_text(article, c)) <= 40
        assert c.start in starts and c.end in ends
    # every word ends up in some chunk, in order
    assert " ".join(c.text for c in chunks).split() == words


def test_long_sentence_between_short_ones():
    long_sentence = " ".join(["filibuster"] * 90) + "."
    article = make_article(f"The session opened. {long_sentence} The session closed.")
    chunks = chunk(article, max_tokens=40)
    for c in chunks:
        assert article.body[c.start : c.end] == c.text
        assert ENCODER.count_tokens(embedding_text(article, c)) <= 40
    assert chunks[0].text.startswith("The session opened.")
    assert chunks[-1].text.endswith("The session closed.")


def test_long_title_still_fits_when_room_is_left():
    title = " ".join(["Headline"] * 40)  # 42 of the 64 tokens, cut to 160 characters for embedding
    article = make_article(numbered_body(6), title=title)
    chunks = chunk(article, max_tokens=64)
    assert embedding_title(title) == " ".join(["Headline"] * 17)
    assert 1 < len(chunks) < 6
    for c in chunks:
        assert ENCODER.count_tokens(embedding_text(article, c)) <= 64


def test_very_long_title_never_overruns_the_model():
    title = " ".join(["Headline"] * 52)  # 54 of 64 tokens: 10 are left, enough for short word windows
    article = make_article(numbered_body(3), title=title)
    chunks = chunk(article, max_tokens=64)
    assert chunks
    for c in chunks:
        assert ENCODER.count_tokens(embedding_text(article, c)) <= 64


def test_no_chunk_is_contained_in_another():
    short = "Tiny one."
    middle = " ".join(["bee"] * 30) + "."
    last = " ".join(["sea"] * 40) + "."
    article = make_article(f"{short} {middle} {last}", title="T")
    chunks = chunk(article, max_tokens=64, overlap=1)
    for a in chunks:
        for b in chunks:
            if a is not b:
                assert not (b.start <= a.start and a.end <= b.end), (a, b)


def test_empty_body_has_no_chunks():
    assert chunk(make_article("")) == []
    assert chunk(make_article("  \n ")) == []


def test_given_sentences_are_used_instead_of_splitting():
    article = make_article("one two three four five six")
    chunks = chunk_article(article, count_tokens=ENCODER.count_tokens, max_tokens=64, sentences=[Span(14, 27)])
    assert [(c.start, c.end, c.text) for c in chunks] == [(14, 27, "four five six")]


TEXT = st.text(alphabet=st.characters(categories=("L", "Zs", "P"), include_characters="\n"), max_size=400)


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT, max_tokens=st.integers(min_value=20, max_value=64), overlap=st.integers(min_value=0, max_value=2))
def test_property_offsets_and_sentence_coverage(text, max_tokens, overlap):
    article = Article(id="p", title="Title here", body=text, content_hash="x")
    sentences = split_sentences(text)
    chunks = chunk_article(article, count_tokens=ENCODER.count_tokens, max_tokens=max_tokens,
                           overlap_sentences=overlap, sentences=sentences)
    budget = max_tokens - ENCODER.count_tokens(article.title + "\n") + 1
    for c in chunks:
        assert text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert ENCODER.count_tokens(embedding_text(article, c)) <= max_tokens
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    for sentence in sentences:
        if ENCODER.count_tokens(text[sentence.start : sentence.end]) <= budget:
            # a sentence that fits lies whole inside some chunk
            assert any(c.start <= sentence.start and sentence.end <= c.end for c in chunks)
        else:
            # a sentence that was cut has every one of its words inside some chunk
            for word in word_spans(text[sentence.start : sentence.end]):
                start, end = sentence.start + word.start, sentence.start + word.end
                assert any(c.start <= start and end <= c.end for c in chunks)
