"""Assistant.ask on a tiny collection with the fake encoder: answers, citations, follow-ups, errors."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from qa.assistant import NOT_FOUND_TEXT, Assistant, clean_question
from qa.errors import IndexNotFoundError, QuestionError


@pytest.fixture
def assistant(collection, settings, fake_encoder) -> Assistant:
    return Assistant.build([collection], settings.index_dir, settings=settings, encoder=fake_encoder)


def _assert_citations_are_verbatim(assistant: Assistant, answer) -> None:
    for citation in answer.citations:
        body = assistant.index.articles[citation.article_id].body
        assert body[citation.start : citation.end] == citation.quote
        if citation.answer_start is not None:
            assert 0 <= citation.answer_start < citation.answer_end <= len(citation.quote)


def test_person_question_is_answered_with_the_name_highlighted(assistant):
    answer = assistant.ask("Who directed the opening film of the festival?")
    assert answer.found
    assert answer.span == "Lena Moritz"
    assert answer.citations[0].title == "Film Festival Draws Record Crowds"
    assert answer.citations[0].answer == "Lena Moritz"
    assert answer.text == answer.citations[0].quote
    assert answer.citations[0].published == dt.date(2023, 9, 30)
    _assert_citations_are_verbatim(assistant, answer)


def test_date_and_reason_spans(assistant):
    when = assistant.ask("When did the new harbour open?")
    assert when.found and when.span == "June 14, 2024"
    why = assistant.ask("Why were villagers told to prepare evacuation plans?")
    assert why.found and why.span == "because of the growing risk of floods"
    _assert_citations_are_verbatim(assistant, why)


def test_unanswerable_question_is_not_found_but_lists_closest_articles(assistant):
    answer = assistant.ask("What is the population of Ulaanbaatar in Mongolia?")
    assert not answer.found
    assert answer.text == NOT_FOUND_TEXT
    assert answer.span is None
    assert all(c.answer_start is None for c in answer.citations)
    assert 0.0 <= answer.confidence < assistant.settings.min_confidence


def test_follow_up_resolves_the_pronoun_from_history(assistant):
    direct = assistant.ask("Who directed the opening film of the festival?")
    follow = assistant.ask("Which festival credited her film?", history=["Who directed the opening film of the festival?"])
    assert direct.found and follow.found
    assert follow.citations[0].title == "Film Festival Draws Record Crowds"
    as_messages = assistant.ask("Which festival credited her film?", history=[
        {"role": "user", "content": "Who directed the opening film of the festival?"},
        {"role": "assistant", "content": direct.text},
    ])
    assert as_messages == follow


def test_top_k_limits_citations_one_per_article(assistant):
    answer = assistant.ask("When did the new harbour open?", top_k=2)
    assert len(answer.citations) == 2
    assert len({c.article_id for c in answer.citations}) == 2


def test_date_filter_keeps_only_articles_in_range(assistant):
    answer = assistant.ask("Who directed the opening film?", since=dt.date(2024, 1, 1))
    assert answer.citations
    assert all(c.published and c.published >= dt.date(2024, 1, 1) for c in answer.citations)
    nothing = assistant.ask("Who directed the opening film?", since=dt.date(2030, 1, 1))
    assert not nothing.found and nothing.citations == ()
    assert nothing.text == ("No article in this collection is dated on or after 2030-01-01 "
                            "(undated articles are left out once dates are given).")
    between = assistant.ask("Who directed the opening film?", since=dt.date(2020, 1, 1), until=dt.date(2020, 2, 1))
    assert between.text.startswith("No article in this collection is dated between 2020-01-01 and 2020-02-01 ")


@pytest.mark.parametrize(("options", "message"), [
    ({"top_k": 0}, "top_k must be a whole number of at least 1, got 0"),
    ({"top_k": -3}, "top_k must be a whole number of at least 1, got -3"),
    ({"top_k": 2.5}, "top_k must be a whole number of at least 1, got 2.5"),
    ({"since": dt.date(2025, 2, 1), "until": dt.date(2025, 1, 1)}, "since 2025-02-01 is after until 2025-01-01: swap them"),
])
def test_bad_options_raise_config_error(assistant, options, message):
    from qa.errors import ConfigError

    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        assistant.ask("Who directed the opening film?", **options)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "?!?", "x" * 5000])
def test_bad_questions_raise_question_error(assistant, question):
    with pytest.raises(QuestionError):
        assistant.ask(question)


def test_clean_question_removes_control_characters():
    assert clean_question("Who\x00 directed\x1b the film?\n", 100) == "Who directed the film?"


def test_answers_are_deterministic(assistant):
    assert assistant.ask("When did the new harbour open?") == assistant.ask("When did the new harbour open?")


def test_info_describes_the_collection(assistant, settings):
    info = assistant.info()
    assert (info.articles, info.earliest, info.latest, info.model_name) == (3, dt.date(2023, 9, 30), dt.date(2024, 6, 15), "fake-encoder")
    assert info.index_dir == settings.index_dir


def test_loading_a_missing_index_says_how_to_build_one(tmp_path, settings, fake_encoder):
    with pytest.raises(IndexNotFoundError, match="qa index"):
        Assistant.load(tmp_path / "nowhere", settings=settings, encoder=fake_encoder)


class CachingFakeEncoder:
    """The fake encoder behind a real VectorCache, as the sentence-transformers encoder has."""

    def __init__(self, inner, size: int = 4096) -> None:
        from embeddings.encoder import VectorCache

        self.inner, self.cache = inner, VectorCache(size)
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.count_tokens = inner.count_tokens

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False):
        return self.cache.encode(list(texts), self.inner.encode)


def test_warm_up_prepares_every_sentence_and_answers_stay_the_same(collection, settings, fake_encoder):
    encoder = CachingFakeEncoder(fake_encoder)
    assistant = Assistant.build([collection], settings.index_dir, settings=settings, encoder=encoder)
    question = "Who is the mayor of Port Selin?"
    before = assistant.ask(question)
    assistant.clear_caches()
    sentences = sum(len(spans) for spans in assistant.index.sentences.values())
    assert assistant.warm_up() == sentences == 9
    assert len(assistant.tagger._cache) == sentences
    fake_encoder.encoded.clear()
    assert assistant.ask(question) == before
    assert fake_encoder.encoded == [question]  # only the question itself was embedded


def test_warm_up_skips_a_collection_larger_than_the_caches(collection, settings, fake_encoder):
    assistant = Assistant.build([collection], settings.index_dir, settings=settings, encoder=CachingFakeEncoder(fake_encoder, size=4))
    assert assistant.warm_up() == 0
    assert assistant.ask("Who is the mayor of Port Selin?").found


def test_other_sources_are_highlighted_only_where_they_repeat_the_answer(assistant):
    from qa.assistant import _mention
    from qa.types import Span

    assert _mention("The harbour in Port Selin opened; PORT SELIN grew.", "Port Selin") == Span(15, 25)
    assert _mention("Port Selina is elsewhere.", "Port Selin") is None
    assert _mention("Anything at all.", None) is None
    answer = assistant.ask("Who is the mayor of Port Selin?", top_k=3)
    assert answer.found and len(answer.citations) == 3
    for citation in answer.citations[1:]:
        assert citation.answer_start is None or citation.answer.lower() == answer.span.lower()
