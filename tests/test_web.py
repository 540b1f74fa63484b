"""The chat's glue in qa.web: date parsing, history reading, replies and errors (no browser)."""

from __future__ import annotations

import datetime as dt

import pytest

from qa.config import Settings
from qa.errors import ConfigError, IndexNotFoundError
from qa.render import render_question
from qa.types import Answer
from qa.web import LazyAssistant, answer_message, parse_day, user_questions


class StubAssistant:
    def __init__(self, answer: Answer | None = None, error: Exception | None = None) -> None:
        self.answer, self.error, self.calls = answer, error, []

    def ask(self, question, **options):
        self.calls.append((question, options))
        if self.error:
            raise self.error
        return self.answer


def test_parse_day():
    assert parse_day("2025-01-31", "since") == dt.date(2025, 1, 31)
    assert parse_day("  ", "since") is None
    assert parse_day(None, "until") is None
    with pytest.raises(ValueError, match="since date '2025-13-45' is not a date: use YYYY-MM-DD"):
        parse_day("2025-13-45", "since")
    with pytest.raises(ValueError, match="use YYYY-MM-DD"):
        parse_day("31/01/2025", "until")


def test_user_questions_reads_back_escaped_questions_and_message_parts():
    history = [
        {"role": "user", "content": render_question("Who is <b>he</b>?")},
        {"role": "assistant", "content": "<p>an answer</p>"},
        {"role": "user", "content": [{"type": "text", "text": render_question("How old is he?")}]},
    ]
    assert user_questions(history) == ["Who is <b>he</b>?", "How old is he?"]


def test_answer_message_passes_history_and_filters():
    stub = StubAssistant(Answer(question="q", text="These articles do not contain the answer.", found=False, confidence=0.1))
    reply = answer_message(LazyAssistant(stub), "When?", history=["Who?"], top_k=3, since_text="2025-01-01", until_text="")
    assert stub.calls == [("When?", {"history": ["Who?"], "top_k": 3, "since": dt.date(2025, 1, 1), "until": None})]
    assert "do not contain the answer" in reply


def test_answer_message_shows_errors_as_messages_not_tracebacks():
    bad_date = answer_message(LazyAssistant(StubAssistant()), "q", history=[], top_k=5, since_text="soon", until_text=None)
    assert "is not a date" in bad_date and "Traceback" not in bad_date
    swapped = answer_message(LazyAssistant(StubAssistant()), "q", history=[], top_k=5, since_text="2025-02-01", until_text="2025-01-01")
    assert "is after until" in swapped
    missing = answer_message(LazyAssistant(StubAssistant(error=IndexNotFoundError("no index at /x: run `qa index`"))),
                             "q", history=[], top_k=5, since_text="", until_text="")
    assert "No index at /x" in missing
    crash = answer_message(LazyAssistant(StubAssistant(error=RuntimeError("secret internals"))),
                           "q", history=[], top_k=5, since_text="", until_text="")
    assert "secret internals" not in crash and "Traceback" not in crash


def test_lazy_assistant_calls_the_factory_once():
    made = []

    def factory():
        made.append(1)
        return StubAssistant()

    lazy = LazyAssistant(factory)
    assert lazy.get() is lazy.get()
    assert made == [1]


def test_example_questions_are_the_demo_ones_only_for_the_demo_index(tmp_path):
    from qa.web import DEMO_QUESTIONS, default_examples, read_examples

    assert default_examples(None, Settings()) == DEMO_QUESTIONS
    assert default_examples(tmp_path, Settings()) == ()
    assert default_examples(None, Settings(index_dir=tmp_path)) == ()
    questions = tmp_path / "questions.txt"
    questions.write_text("Who won?\n\n  When did it open?  \n", encoding="utf-8")
    assert read_examples(questions) == ("Who won?", "When did it open?")
    with pytest.raises(ConfigError, match="cannot read example questions from .*missing.txt"):
        read_examples(tmp_path / "missing.txt")


def test_a_blank_question_gets_its_own_bubble_and_is_not_history():
    from qa.render import EMPTY_QUESTION, read_question, render_question

    assert render_question("   ") == EMPTY_QUESTION
    assert read_question(render_question("  ")) == ""
    assert user_questions([{"role": "user", "content": EMPTY_QUESTION}, {"role": "user", "content": "Who &amp; why?"}]) == ["Who & why?"]
