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


# --- what earlier turns found: kept in the session's state, read back as history -----------------------


def _found(question: str, span: str, article_id: str) -> dict:
    from qa.conversation import turn_metadata
    from qa.types import Citation

    citation = Citation(article_id=article_id, title="T", published=None, sources=(), url=None, quote=f"{span} did it.", start=0,
                        end=len(span) + 8, answer_start=0, answer_end=len(span), score=0.5)
    return turn_metadata(Answer(question=question, text=citation.quote, found=True, confidence=0.5, citations=(citation,), span=span))


def test_conversation_history_follows_each_question_with_what_its_turn_found():
    from qa.conversation import Turn, parse_history
    from qa.web import conversation_history

    mayor = _found("Who is the mayor of Port Selin?", "Tomas Varga", "harbour")
    history = conversation_history(["Who is the mayor of Port Selin?", "How old is he?"], [mayor])
    assert history == ["Who is the mayor of Port Selin?", {"role": "assistant", "content": "", "metadata": mayor}, "How old is he?"]
    assert parse_history(history) == (Turn("Who is the mayor of Port Selin?", "Tomas Varga", ("harbour",), True),
                                      Turn("How old is he?"))


def test_conversation_history_matches_questions_as_typed_with_their_cleaned_answers():
    from qa.web import conversation_history

    # Answer.question is the cleaned question; the chat shows (and reads back) what was typed.
    mayor = _found("Who is the mayor of Port Selin?", "Tomas Varga", "harbour")
    typed = "  Who is the\u200b mayor  of Port\tSelin?\x00"
    assert conversation_history([typed], [mayor]) == [typed, {"role": "assistant", "content": "", "metadata": mayor}]


def test_conversation_history_ignores_turns_of_cleared_chats_and_odd_state():
    from qa.web import conversation_history

    mayor = _found("Who is the mayor of Port Selin?", "Tomas Varga", "harbour")
    assert conversation_history(["How old is he?"], [mayor]) == ["How old is he?"]  # the chat was cleared since
    odd = [None, "text", {}, {"qa_turn": "x"}, {"qa_turn": {"question": 3}}]
    assert conversation_history(["Who?"], odd) == ["Who?"]
    assert conversation_history([], []) == []


def test_the_chat_keeps_what_each_answer_found_and_the_next_question_builds_on_it(collection, settings, fake_encoder):
    from conftest import FakeReader, fake_assistant

    from qa.assistant import index_sources
    from qa.conversation import turn_metadata
    from qa.web import build_demo

    index_sources([collection], settings.index_dir, settings=settings, encoder=fake_encoder)
    reader = FakeReader()
    assistant = fake_assistant(settings.index_dir, settings, reader=reader)
    demo = build_demo(assistant, settings=settings, examples=())
    (respond,) = [f.fn for f in demo.fns.values() if f.api_name == "ask"]

    steps = list(respond("Who directed the opening film of the festival?", [], 3, "", "", []))
    assert len(steps) == 2  # a "searching" bubble, then the answer
    _, chat, turns, transcript = steps[-1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert "Lena Moritz" in chat[-1]["content"]
    expected = assistant.ask("Who directed the opening film of the festival?", top_k=3)
    assert turns == [turn_metadata(expected)]
    assert turns[0]["qa_turn"]["answer"] == "Lena Moritz" and turns[0]["qa_turn"]["found"] is True

    assert transcript.startswith("Q: Who directed the opening film of the festival?\n\nOrganisers credited")
    _, chat, turns, transcript = list(respond("What else did she do?", chat, 3, "", "", turns, transcript))[-1]
    assert reader.read_questions[-1] == "What else did Lena Moritz do?"  # the pronoun read as the previous answer
    assert len(chat) == 4 and len(turns) == 2

    # A question that fails adds its bubbles but no turn.
    assert transcript.count("Q: ") == 2
    _, chat, failed, unchanged = list(respond("   ", chat, 3, "", "", turns, transcript))[-1]
    assert len(chat) == 6 and 'class="qa-error"' in chat[-1]["content"]
    assert failed == turns and unchanged == transcript
