"""Assistant.ask on a tiny collection with the fake encoder, FakeReader and unfitted calibration.

These tests are about the pipeline (citations, spans, not-found answers, top_k, dates, history),
not about which span a trained reader picks: that is tests/test_reader_model.py and the end-to-end tests.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from conftest import FAKE_THRESHOLD, FakeEncoder, FakeReader, fake_assistant, fake_calibration

from qa.assistant import NOT_FOUND_TEXT, Assistant, clean_question, index_sources
from qa.conversation import turn_metadata
from qa.errors import ConfigError, IndexNotFoundError, QAError, QuestionError
from qa.types import Answer

FESTIVAL = "Film Festival Draws Record Crowds"
DIRECTOR = "Who directed the opening film of the festival?"
DIRECTOR_SENTENCE = "Organisers credited the opening film, directed by Lena Moritz, for the surge in interest."


@pytest.fixture
def index_dir(collection, settings, fake_encoder):
    index_sources([collection], settings.index_dir, settings=settings, encoder=fake_encoder)
    return settings.index_dir


@pytest.fixture
def assistant(index_dir, settings, fake_encoder) -> Assistant:
    return fake_assistant(index_dir, settings, encoder=fake_encoder)


def shared_index(index_dir, settings):
    from qa.index import load_index

    return load_index(index_dir, settings=settings.with_(model_name=FakeEncoder().name))


def _assert_citations_are_verbatim(assistant: Assistant, answer: Answer) -> None:
    for citation in answer.citations:
        article = assistant.index.articles[citation.article_id]
        assert article.body[citation.start : citation.end] == citation.quote
        assert (citation.title, citation.published, citation.sources) == (article.title, article.published, article.sources)
        if citation.answer_start is not None:
            assert 0 <= citation.answer_start < citation.answer_end <= len(citation.quote)
            assert citation.answer == citation.quote[citation.answer_start : citation.answer_end]


def test_a_found_answer_quotes_its_sentence_and_highlights_the_span(assistant):
    answer = assistant.ask(DIRECTOR)
    assert answer.found
    assert answer.question == DIRECTOR
    first = answer.citations[0]
    assert (first.title, first.published) == (FESTIVAL, dt.date(2023, 9, 30))
    assert answer.text == first.quote == DIRECTOR_SENTENCE
    assert answer.span == first.answer == "Lena Moritz"  # FakeReader's span: the first new capitalised words
    assert FAKE_THRESHOLD <= answer.confidence <= 1.0
    _assert_citations_are_verbatim(assistant, answer)


def test_the_reader_reads_the_question_over_the_shortlisted_sentences(index_dir, settings):
    class Recording(FakeReader):
        def read(self, question, sentences):
            self.sentences = list(sentences)
            return super().read(question, sentences)

    reader = Recording()
    assistant = fake_assistant(index_dir, settings, reader=reader)
    assistant.ask(DIRECTOR)
    assert reader.read_questions == [DIRECTOR]
    assert 0 < len(reader.sentences) <= settings.reader_sentences
    assert DIRECTOR_SENTENCE in reader.sentences
    bodies = [article.body for article in assistant.index.articles.values()]
    assert all(any(sentence in body for body in bodies) for sentence in reader.sentences)


class Highlighter(FakeReader):
    """Reads like FakeReader but highlights a sentence's last word, so its span is told apart."""

    def __init__(self, *, finds: bool = True) -> None:
        super().__init__()
        self.finds = finds
        self.sentences: list[list[str]] = []

    def read(self, question, sentences):
        from qa.reader.model import Reading, SentenceReading
        from qa.types import Span

        self.read_questions.append(question)
        self.sentences.append(list(sentences))
        last = [re.search(r"\w+(?=\W*$)", sentence) for sentence in sentences]
        return Reading(tuple(SentenceReading(Span(m.start(), m.end()) if m and self.finds else None, 0.5, 0.5) for m in last), 0.1)


def test_the_highlighter_reads_the_cited_sentence_alone_and_sets_only_its_highlight(index_dir, settings, fake_encoder):
    shared = fake_assistant(index_dir, settings.with_(highlight="shared"), encoder=fake_encoder).ask(DIRECTOR)
    highlighter = Highlighter()
    assistant = Assistant(shared_index(index_dir, settings), settings=settings, encoder=fake_encoder, reader=FakeReader(),
                          calibration=fake_calibration(), highlighter=highlighter)
    answer = assistant.ask(DIRECTOR)
    assert highlighter.sentences == [[DIRECTOR_SENTENCE]] and highlighter.read_questions == [DIRECTOR]
    assert answer.span == answer.citations[0].answer == "interest"
    assert (answer.found, answer.confidence, answer.text) == (shared.found, shared.confidence, shared.text)
    assert [c.quote for c in answer.citations] == [c.quote for c in shared.citations]
    _assert_citations_are_verbatim(assistant, answer)


def test_a_highlighter_finding_no_span_leaves_the_reader_s_span(index_dir, settings, fake_encoder):
    assistant = Assistant(shared_index(index_dir, settings), settings=settings, encoder=fake_encoder, reader=FakeReader(),
                          calibration=fake_calibration(), highlighter=Highlighter(finds=False))
    assert assistant.ask(DIRECTOR).span == "Lena Moritz"


def test_the_highlighter_is_not_asked_when_nothing_is_found_or_highlight_is_shared(index_dir, settings, fake_encoder):
    highlighter = Highlighter()
    assistant = Assistant(shared_index(index_dir, settings), settings=settings, encoder=fake_encoder, reader=FakeReader(),
                          calibration=fake_calibration(), highlighter=highlighter)
    assert not assistant.ask("Who won the 2018 football World Cup?").found
    assert highlighter.sentences == []
    unused = Highlighter()
    shared = Assistant(shared_index(index_dir, settings), settings=settings.with_(highlight="shared"), encoder=fake_encoder,
                       reader=FakeReader(), calibration=fake_calibration(), highlighter=unused)
    assert shared.highlighter is None and shared.ask(DIRECTOR).span == "Lena Moritz" and unused.sentences == []


def test_a_given_reader_without_a_highlighter_highlights_with_its_own_span(index_dir, settings, fake_encoder):
    assert fake_assistant(index_dir, settings, encoder=fake_encoder).highlighter is None


def test_the_bundled_highlight_reader_is_built_beside_the_bundled_reader(index_dir, settings, fake_models, monkeypatch):
    import qa.assistant
    from qa.reader.model import HIGHLIGHT_WEIGHTS_DIR

    class Built(FakeReader):
        @classmethod
        def from_settings(cls, settings, folder=None, *, threads=None):
            made = cls()
            made.folder = folder
            return made

    monkeypatch.setattr(qa.assistant, "SpanReader", Built)
    built = Assistant.load(index_dir, settings=settings)
    assert (built.reader.folder, built.highlighter.folder) == (None, HIGHLIGHT_WEIGHTS_DIR)
    custom = Assistant.load(index_dir, settings=settings.with_(highlight_weights=index_dir / "elsewhere"))
    assert custom.highlighter.folder == index_dir / "elsewhere"
    assert Assistant.load(index_dir, settings=settings.with_(highlight="shared")).highlighter is None


def test_missing_highlight_weights_fail_when_the_assistant_is_built(index_dir, settings, fake_encoder, tmp_path):
    from qa.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"^no reader weights in .*nowhere"):
        Assistant(shared_index(index_dir, settings), settings=settings.with_(highlight_weights=tmp_path / "nowhere"),
                  encoder=fake_encoder)


@pytest.mark.parametrize("question", [
    "What is the population of Ulaanbaatar in Mongolia?",
    "Who won the 2018 football World Cup?",
])
def test_unanswerable_question_is_not_found_but_lists_closest_articles(assistant, question):
    answer = assistant.ask(question)
    assert not answer.found
    assert answer.text == NOT_FOUND_TEXT
    assert answer.span is None
    assert answer.citations
    assert all(c.answer_start is None for c in answer.citations)
    assert 0.0 <= answer.confidence < FAKE_THRESHOLD
    _assert_citations_are_verbatim(assistant, answer)


def test_min_confidence_overrides_the_calibrated_threshold(index_dir, settings):
    confident = fake_assistant(index_dir, settings.with_(min_confidence=0.0)).ask("Who won the 2018 football World Cup?")
    assert confident.found  # every reading passes a threshold of 0
    strict = fake_assistant(index_dir, settings.with_(min_confidence=0.99)).ask(DIRECTOR)
    assert not strict.found and strict.text == NOT_FOUND_TEXT


def test_a_pronoun_with_nobody_to_refer_to_is_not_found_without_reading(index_dir, settings):
    reader, encoder = FakeReader(), FakeEncoder()
    assistant = fake_assistant(index_dir, settings, encoder=encoder, reader=reader)
    encoder.encoded.clear()
    answer = assistant.ask("How old is he?")
    assert not answer.found and answer.citations == () and answer.span is None
    assert answer.text == "“he” has nobody to refer to in this conversation: ask again naming who you mean."
    assert reader.read_questions == [] and encoder.encoded == []
    assert assistant.ask("How old is he?", history=[DIRECTOR]).citations  # with an earlier turn, it is asked
    read_before = len(reader.read_questions)
    thing = assistant.ask("When did it open?")
    assert not thing.found and thing.text == "“it” has nothing to refer to in this conversation: ask again naming what you mean."
    assert len(reader.read_questions) == read_before


def test_a_follow_up_reads_the_previous_answer_in_place_of_the_pronoun(index_dir, settings):
    reader = FakeReader()
    assistant = fake_assistant(index_dir, settings, reader=reader)
    first = assistant.ask(DIRECTOR)
    follow = assistant.ask("What else did she do?", history=[first])
    assert reader.read_questions[-1] == "What else did Lena Moritz do?"
    assert follow.question == "What else did she do?"
    assert follow.citations[0].title == FESTIVAL  # the article the previous answer cited comes first


def test_history_as_answers_chat_messages_or_metadata_gives_the_same_follow_up(assistant):
    first = assistant.ask(DIRECTOR)
    question = "What else did she do?"
    from_answers = assistant.ask(question, history=[first])
    from_question_and_answer = assistant.ask(question, history=[DIRECTOR, first])
    from_messages = assistant.ask(question, history=[
        {"role": "user", "content": DIRECTOR},
        {"role": "assistant", "content": "<div>rendered</div>", "metadata": turn_metadata(first)},
    ])
    from_parts = assistant.ask(question, history=[
        {"role": "user", "content": [{"type": "text", "text": DIRECTOR}]},
        {"role": "assistant", "content": first.text, "metadata": turn_metadata(first)},
    ])
    assert from_answers == from_question_and_answer == from_messages == from_parts


def test_history_of_questions_only_still_helps_a_follow_up(assistant):
    answer = assistant.ask("Which festival credited her film?", history=[DIRECTOR])
    assert answer.found
    assert answer.citations[0].title == FESTIVAL
    as_messages = assistant.ask("Which festival credited her film?", history=[
        {"role": "user", "content": DIRECTOR},
        {"role": "assistant", "content": "<p>some rendered answer without metadata</p>"},
    ])
    assert as_messages == answer


@pytest.mark.parametrize("question", [
    "How many tickets did the Riverside Film Festival sell?",
    "Why were villagers told to prepare evacuation plans?",
    "Where will the festival return next September?",
])
def test_a_self_contained_question_gets_the_same_answer_whatever_came_before(assistant, question):
    alone = assistant.ask(question)
    director = assistant.ask(DIRECTOR)
    jobs = assistant.ask("How many jobs will the harbour create?")
    histories = [
        ["Who is the lead researcher at the Alpine Institute?"],
        [director],
        [director, jobs],
        [{"role": "user", "content": DIRECTOR}, {"role": "assistant", "content": "", "metadata": turn_metadata(director)}],
        ["How old is he?", "And in 2019?"],
    ]
    for history in histories:
        assert assistant.ask(question, history=history) == alone, history


def test_a_short_self_contained_question_ignores_unrelated_history(assistant):
    question = "Who is the mayor of Port Selin?"
    assert assistant.ask(question, history=[assistant.ask(DIRECTOR)]) == assistant.ask(question)


TWO_JAMESES = {
    "storm.txt": """Storm Hits the Harbour
Date: 2024-02-01

A storm hit the harbour of Lindholm on Sunday night. James Orrin, who runs the ferry, was surprised that the old pier survived.
The town council will meet on Friday to count the damage.
""",
    "bakery.txt": """Bakery Opens on Market Street
Date: 2024-02-03

A bakery opened on Market Street in Dornbach this week. Its owner, James Pell, was surprised by the queue on the first morning.
The bakery sells rye bread and honey cakes.
""",
    "budget.txt": """Council Approves the Budget
Date: 2024-02-05

The council of Lindholm approved a budget of 12 million euros for roads and schools.
""",
}


@pytest.fixture
def two_jameses(tmp_path, settings, fake_encoder) -> Assistant:
    folder = tmp_path / "jameses"
    folder.mkdir()
    for name, text in TWO_JAMESES.items():
        (folder / name).write_text(text, encoding="utf-8")
    index_sources([folder], settings.index_dir, settings=settings, encoder=fake_encoder)
    return fake_assistant(settings.index_dir, settings, encoder=fake_encoder)


def first_read_article(assistant: Assistant, question: str, history=None) -> str:
    """The title of the article retrieval puts first for `question` after `history` (before the reader chooses)."""
    from qa.conversation import parse_history
    from qa.query import build_query

    return assistant.candidates(build_query(question, parse_history(history), top_k=5))[0].article.title


def test_a_question_its_own_words_cannot_place_follows_the_conversation(two_jameses):
    question = "Was James surprised?"  # both articles hold "James" and "surprised": the conversation decides
    storm = two_jameses.ask("Who runs the ferry in Lindholm?")
    bakery = two_jameses.ask("Who owns the bakery on Market Street?")
    assert storm.citations[0].title == "Storm Hits the Harbour" and bakery.citations[0].title == "Bakery Opens on Market Street"
    for earlier in (storm, bakery):
        title = earlier.citations[0].title
        for history in ([earlier], [earlier.question], [{"role": "user", "content": earlier.question},
                                                         {"role": "assistant", "content": "", "metadata": turn_metadata(earlier)}]):
            assert first_read_article(two_jameses, question, history) == title, history
    assert two_jameses.ask(question, history=[storm]).citations[0].title == "Storm Hits the Harbour"


def test_a_question_its_own_words_place_ignores_the_conversation(two_jameses):
    storm = two_jameses.ask("Who runs the ferry in Lindholm?")
    for question in ("What bread does the bakery sell?", "Was James Pell surprised by the queue?"):
        alone = two_jameses.ask(question)
        assert alone.citations[0].title == "Bakery Opens on Market Street"
        assert two_jameses.ask(question, history=[storm]) == alone
        assert two_jameses.ask(question, history=[storm.question]) == alone


def test_a_conversation_whose_article_lacks_the_question_words_changes_nothing(two_jameses):
    question = "Was James surprised?"
    alone = two_jameses.ask(question)
    budget = two_jameses.ask("How large is the budget for roads and schools?")
    assert budget.citations[0].title == "Council Approves the Budget"
    for history in ([budget], [budget.question], ["Who won the World Cup?"]):
        assert two_jameses.ask(question, history=history) == alone, history


@pytest.mark.parametrize("history", [5, "Who directed the film?", {"role": "user", "content": "Who?"}, ["Who?", None], [3.5]])
def test_a_history_that_is_not_a_list_of_turns_raises_question_error(assistant, history):
    with pytest.raises(QuestionError) as raised:
        assistant.ask(DIRECTOR, history=history)
    assert isinstance(raised.value, QAError)
    assert "history" in str(raised.value)


def test_top_k_limits_citations_one_per_article(assistant):
    answer = assistant.ask("When did the new harbour open?", top_k=2)
    assert len(answer.citations) == 2
    assert len({c.article_id for c in answer.citations}) == 2
    assert len(assistant.ask("When did the new harbour open?", top_k=1).citations) == 1
    everything = assistant.ask("When did the new harbour open?", top_k=10)
    assert len(everything.citations) == len({c.article_id for c in everything.citations}) <= 3


def test_date_filter_keeps_only_articles_in_range(assistant):
    answer = assistant.ask("Who directed the opening film?", since=dt.date(2024, 1, 1))
    assert answer.citations
    assert all(c.published and c.published >= dt.date(2024, 1, 1) for c in answer.citations)
    until = assistant.ask("Who directed the opening film?", until=dt.date(2023, 12, 31))
    assert {c.title for c in until.citations} == {FESTIVAL}
    nothing = assistant.ask("Who directed the opening film?", since=dt.date(2030, 1, 1))
    assert not nothing.found and nothing.citations == ()
    assert nothing.text == ("No article in this collection is dated on or after 2030-01-01 "
                            "(undated articles are left out once dates are given).")
    between = assistant.ask("Who directed the opening film?", since=dt.date(2020, 1, 1), until=dt.date(2020, 2, 1))
    assert between.text.startswith("No article in this collection is dated between 2020-01-01 and 2020-02-01 ")
    before = assistant.ask("Who directed the opening film?", until=dt.date(2000, 1, 1))
    assert before.text.startswith("No article in this collection is dated on or before 2000-01-01 ")


def test_dates_may_be_given_as_iso_strings_or_datetimes(assistant):
    expected = assistant.ask("Who directed the opening film?", since=dt.date(2024, 1, 1), until=dt.date(2024, 12, 31))
    assert assistant.ask("Who directed the opening film?", since="2024-01-01", until=" 2024-12-31 ") == expected
    assert assistant.ask("Who directed the opening film?", since=dt.datetime(2024, 1, 1, 15, 30),
                         until=dt.datetime(2024, 12, 31, 23, 59)) == expected


@pytest.mark.parametrize(("options", "message"), [
    ({"top_k": 0}, "top_k must be a whole number of at least 1, got 0"),
    ({"top_k": -3}, "top_k must be a whole number of at least 1, got -3"),
    ({"top_k": 2.5}, "top_k must be a whole number of at least 1, got 2.5"),
    ({"top_k": True}, "top_k must be a whole number of at least 1, got True"),
    ({"since": dt.date(2025, 2, 1), "until": dt.date(2025, 1, 1)}, "since 2025-02-01 is after until 2025-01-01: swap them"),
    ({"since": "2025-02-01", "until": "2025-01-01"}, "since 2025-02-01 is after until 2025-01-01: swap them"),
    ({"since": "not a date"}, "since must be a date such as 2025-01-31, got 'not a date'"),
    ({"until": "31/01/2025"}, "until must be a date such as 2025-01-31, got '31/01/2025'"),
    ({"since": 20250101}, "since must be a date such as 2025-01-31, got 20250101"),
])
def test_bad_options_raise_config_error(assistant, options, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)) as raised:
        assistant.ask("Who directed the opening film?", **options)
    assert isinstance(raised.value, QAError)


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "?!?", "x" * 5000, None, 42])
def test_bad_questions_raise_question_error(assistant, question):
    with pytest.raises(QuestionError):
        assistant.ask(question)


def test_clean_question_removes_control_characters():
    assert clean_question("Who\x00 directed\x1b the film?\n", 100) == "Who directed the film?"
    assert clean_question("Who di\u200brected  the\u202e film?", 100) == "Who directed the film?"


def test_answers_are_deterministic(assistant, index_dir, settings):
    first = assistant.ask("When did the new harbour open?")
    assert assistant.ask("When did the new harbour open?") == first
    assert fake_assistant(index_dir, settings).ask("When did the new harbour open?") == first


def test_info_describes_the_collection(assistant, settings):
    info = assistant.info()
    assert (info.articles, info.chunks, info.earliest, info.latest, info.model_name) == (
        3, len(assistant.index.chunks), dt.date(2023, 9, 30), dt.date(2024, 6, 15), "fake-encoder")
    assert info.index_dir == settings.index_dir


def test_loading_a_missing_index_says_how_to_build_one(tmp_path, settings, fake_encoder):
    with pytest.raises(IndexNotFoundError, match="qa index"):
        Assistant.load(tmp_path / "nowhere", settings=settings, encoder=fake_encoder)


def test_load_and_build_take_the_reader_and_calibration_of_the_package(collection, settings, fake_models):
    from conftest import fake_calibration

    built = Assistant.build([collection], settings.index_dir, settings=settings)
    assert isinstance(built.reader, FakeReader) and isinstance(built.encoder, FakeEncoder)
    assert built.calibration == fake_calibration()
    loaded = Assistant.load(settings.index_dir, settings=settings)
    assert loaded.ask(DIRECTOR) == built.ask(DIRECTOR)


class CachingFakeEncoder:
    """The fake encoder behind a real VectorCache, as the sentence-transformers encoder has."""

    def __init__(self, inner, size: int = 4096) -> None:
        from embeddings.encoder import VectorCache

        self.inner, self.cache = inner, VectorCache(size)
        self.name, self.dimension, self.max_tokens = inner.name, inner.dimension, inner.max_tokens
        self.count_tokens = inner.count_tokens

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False):
        return self.cache.encode(list(texts), self.inner.encode)


def test_warm_up_prepares_every_article_and_answers_stay_the_same(index_dir, settings, fake_encoder):
    reader = FakeReader()
    assistant = fake_assistant(index_dir, settings, encoder=CachingFakeEncoder(fake_encoder), reader=reader)
    question = "Who is the mayor of Port Selin?"
    before = assistant.ask(question)
    assistant.clear_caches()
    assert assistant._terms_cache == {}
    assert assistant.warm_up() == 3
    assert set(assistant._terms_cache) == set(assistant.index.articles)
    assert reader.read_questions[-1] == "warm up"  # the reader was loaded too
    fake_encoder.encoded.clear()
    assert assistant.ask(question) == before
    assert fake_encoder.encoded == [question]  # only the question itself was embedded
    fake_encoder.encoded.clear()
    assert assistant.ask(question) == before
    assert fake_encoder.encoded == []  # and only once


def test_other_sources_are_highlighted_only_where_they_repeat_the_answer(collection, settings, tmp_path):
    (collection / "council.txt").write_text(
        "Council Thanks the Mayor\nDate: 2024-07-01\n\n"
        "Councillor Ines Roth thanked Mayor Tomas Varga for the harbour.\n", encoding="utf-8")
    index_sources([collection], tmp_path / "four", settings=settings, encoder=FakeEncoder())
    assistant = fake_assistant(tmp_path / "four", settings)
    answer = assistant.ask("How many jobs will the harbour create?", top_k=3)
    assert answer.found and answer.span == "Mayor Tomas Varga"
    by_title = {c.title: c for c in answer.citations[1:]}
    # FakeReader's own guess there is "Councillor Ines Roth"; the answer is highlighted instead.
    assert by_title["Council Thanks the Mayor"].answer == "Mayor Tomas Varga"
    for citation in answer.citations[1:]:
        assert citation.answer_start is None or citation.answer == answer.span
    _assert_citations_are_verbatim(assistant, answer)
