"""qa.conversation: every history shape -> Turns; which questions lean on earlier turns."""

from __future__ import annotations

import json

import pytest

from qa.conversation import (
    TURN_METADATA_KEY,
    Turn,
    leans_on_context,
    parse_history,
    turn_metadata,
)
from qa.errors import QAError, QuestionError
from qa.types import Answer, Citation

QUOTE = "Mayor Tomas Varga said the harbour would create 3,000 jobs."


def _citation(article_id: str, quote: str = QUOTE, answer: tuple[int, int] | None = (6, 17)) -> Citation:
    start, end = answer if answer else (None, None)
    return Citation(article_id=article_id, title="New Harbour Opens in Port Selin", published=None, sources=("harbour.txt",),
                    url=None, quote=quote, start=100, end=100 + len(quote), answer_start=start, answer_end=end, score=0.9)


FOUND = Answer(question="Who is the mayor of Port Selin?", text=QUOTE, found=True, confidence=0.9,
               citations=(_citation("harbour"), _citation("festival", "The festival will return.", None)), span="Tomas Varga")
NOT_FOUND = Answer(question="Who won the World Cup?", text="These articles do not contain the answer.", found=False,
                   confidence=0.1, citations=(_citation("festival", "The festival will return.", None),))
MAYOR = Turn("Who is the mayor of Port Selin?", "Tomas Varga", ("harbour", "festival"), True)


def test_no_history_is_no_turns():
    assert parse_history(None) == ()
    assert parse_history([]) == ()


def test_strings_are_earlier_questions_stripped_and_blank_ones_dropped():
    assert parse_history(["  Who is the mayor?  ", "", "   ", "How old is he?"]) == (
        Turn("Who is the mayor?"), Turn("How old is he?"))


def test_a_tuple_is_a_history_too():
    assert parse_history(("Who is the mayor?",)) == (Turn("Who is the mayor?"),)


def test_answers_carry_their_span_articles_and_found_flag():
    assert parse_history([FOUND]) == (MAYOR,)
    assert parse_history([NOT_FOUND]) == (Turn("Who won the World Cup?", None, ("festival",), False),)


def test_an_answer_completes_the_question_string_before_it():
    assert parse_history(["Who is the mayor of Port Selin?", FOUND]) == (MAYOR,)
    # A different question before it stays a turn of its own.
    assert parse_history(["Who opened the harbour?", FOUND]) == (Turn("Who opened the harbour?"), MAYOR)


def test_turn_metadata_is_json_safe_and_round_trips_through_chat_messages():
    metadata = turn_metadata(FOUND)
    assert metadata == {TURN_METADATA_KEY: {"question": "Who is the mayor of Port Selin?", "answer": "Tomas Varga", "found": True,
                                            "article_ids": ["harbour", "festival"]}}
    assert json.loads(json.dumps(metadata)) == metadata
    messages = [
        {"role": "user", "content": "Who is the mayor of Port Selin?"},
        {"role": "assistant", "content": "<div>rendered answer</div>", "metadata": metadata},
    ]
    assert parse_history(messages) == (MAYOR,)


def test_message_parts_are_joined_and_non_text_parts_ignored():
    messages = [{"role": "user", "content": [{"type": "text", "text": "Who is"}, {"type": "image", "url": "x.png"}, "junk",
                                             {"type": "text", "text": "the mayor?"}]}]
    assert parse_history(messages) == (Turn("Who is the mayor?"),)


def test_assistant_messages_without_metadata_add_nothing():
    messages = [
        {"role": "user", "content": "Who is the mayor?"},
        {"role": "assistant", "content": "Tomas Varga"},
        {"role": "assistant", "content": "x", "metadata": None},
        {"role": "assistant", "content": "x", "metadata": {"title": "a Gradio thought"}},
        {"role": "assistant", "content": "x", "metadata": "not a dict"},
    ]
    assert parse_history(messages) == (Turn("Who is the mayor?"),)


def test_odd_messages_are_skipped():
    messages = [{"role": "user"}, {"role": "user", "content": None}, {"role": "user", "content": "   "}, {"role": "system", "content": "Be nice"},
                {}, {"content": "no role"}, {"role": "user", "content": 42}]
    assert parse_history(messages) == ()


def test_metadata_before_any_question_is_ignored():
    assert parse_history([{"role": "assistant", "content": "", "metadata": turn_metadata(FOUND)}]) == ()


def test_malformed_metadata_values_are_cleaned():
    metadata = {TURN_METADATA_KEY: {"answer": "   ", "found": 1, "article_ids": ["a", 7, None, "b"]}}
    messages = [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "", "metadata": metadata}]
    assert parse_history(messages) == (Turn("Who?", None, ("a", "b"), True),)


@pytest.mark.parametrize(("history", "message"), [
    ("Who is the mayor?", "history must be a list of earlier questions or chat messages, got str"),
    (b"Who is the mayor?", "history must be a list of earlier questions or chat messages, got bytes"),
    (5, "history must be a list of earlier questions or chat messages, got int"),
    ({"role": "user", "content": "Who?"}, "history must be a list of earlier questions or chat messages, got dict"),
    (["Who?", None], "a history entry must be a question, a chat message or an Answer, got NoneType"),
    (["Who?", 42], "a history entry must be a question, a chat message or an Answer, got int"),
    ([["Who?"]], "a history entry must be a question, a chat message or an Answer, got list"),
])
def test_bad_history_types_raise_question_error(history, message):
    with pytest.raises(QuestionError) as raised:
        parse_history(history)
    assert str(raised.value) == message
    assert isinstance(raised.value, QAError)


@pytest.mark.parametrize(("question", "leans"), [
    ("How old is he?", True),
    ("What did she say about the ice?", True),
    ("Which festival credited her film?", True),
    ("When did it open?", True),
    ("And in 2019?", True),
    ("Why?", True),
    ("Who directed the opening film of the festival?", False),
    ("How many tickets did the Riverside Film Festival sell?", False),
    ("When did the new deep-water harbour open in Port Selin?", False),
    ("Where is the Hitchcock museum?", False),  # few words of its own, but it names what it asks about
    ("Who is the mayor of Port Selin?", False),
    ("What about Kyrgyzstan?", True),  # a connective continues the previous question
    ("Where exactly?", True),  # few words, no name: leans on the previous turn
])
def test_leans_on_context(question, leans):
    assert leans_on_context(question) is leans


def test_pronouns_are_whole_words_only():
    # "the", "hero", "items", "ithaca" contain pronoun letters but are not pronouns.
    assert not leans_on_context("Where was the hero of Ithaca born according to the items in the festival archive?")
