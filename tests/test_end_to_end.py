"""End to end on the real bundled models and the demo corpus: index, ask, follow up, abstain, evaluate, CLI.

The span reader's weights are retrained from time to time, so answers are checked by the sentence they
cite and by their highlight overlapping the expected answer, not by the exact span boundaries.
"""

from __future__ import annotations

import json

import pytest
from conftest import SHARED

from qa import Settings
from qa.assistant import Assistant, default_assistant, ensure_default_index
from qa.chunk import embedding_text
from qa.cli import main
from qa.metrics import contains_answer, token_f1

pytestmark = pytest.mark.model


def assert_answered(answer, expected: str) -> None:
    """Found, citing a sentence that holds `expected`, with a highlight that overlaps it."""
    assert answer.found, answer
    assert contains_answer(answer.text, [expected]), answer.text
    assert answer.span is not None and token_f1(answer.span, [expected]) > 0, (answer.span, expected)
    first = answer.citations[0]
    assert first.quote == answer.text and first.answer == answer.span


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory):
    """The default index, built from the demo corpus into a temporary cache directory."""
    cache = tmp_path_factory.mktemp("cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(cache))
    patch.delenv("QA_INDEX_DIR", raising=False)
    settings = Settings.from_env(show_progress=False)
    path = ensure_default_index(settings)
    yield path
    patch.undo()


@pytest.fixture(scope="session")
def assistant(demo_index) -> Assistant:
    return Assistant.load(demo_index, settings=Settings.from_env(show_progress=False))


def test_demo_index_holds_the_22_articles_and_no_chunk_exceeds_the_model_limit(assistant):
    assert len(assistant.index.articles) == 22
    encoder = assistant.encoder
    assert encoder.max_tokens == 256
    for chunk in assistant.index.chunks:
        article = assistant.index.articles[chunk.article_id]
        assert article.body[chunk.start : chunk.end] == chunk.text
        assert encoder.count_tokens(embedding_text(article, chunk)) <= encoder.max_tokens


def test_module_level_ask_uses_the_default_index(demo_index):
    default_assistant.cache_clear()
    from qa import ask

    answer = ask("Who is the Belarusian First Deputy Defense Minister who made an official visit to Kazakhstan?")
    assert_answered(answer, "Pavel Muraveiko")
    assert answer.citations[0].title == "Belarus and Kazakhstan Strengthen Military Cooperation"
    default_assistant.cache_clear()


def test_follow_up_is_answered_from_the_conversation(assistant):
    answer = assistant.ask("In which countries was he previously the top diplomat?",
                           history=["Who is Kazakhstan's new ambassador in Belarus?"])
    assert_answered(answer, "Vietnam, Cambodia and Laos")


def test_follow_up_from_the_issue_resolves_he(assistant):
    answer = assistant.ask("When did he record a video message?", history=["Who is the CSTO Secretary General?"])
    assert_answered(answer, "late March")
    assert "Tasmagambetov recorded a rare video message" in answer.text


OUTSIDE_THE_COLLECTION = ("Who won the 2018 football World Cup?", "What is the boiling point of mercury?",
                          "How many goals did Messi score in 2012?", "Who is the CEO of Apple?")


def test_questions_outside_the_collection_score_below_answered_ones_and_mostly_are_not_found(assistant):
    """Confidence ranks questions the collection does not cover below ones it answers; most are "not found".

    Not all: at the calibrated threshold (5% of answerable questions unanswered) some off-collection
    questions still pass (docs/reader.md gives the rates).
    """
    outside = [assistant.ask(question) for question in OUTSIDE_THE_COLLECTION]
    inside = assistant.ask("Who is Kazakhstan's new ambassador in Belarus?")
    assert inside.found
    assert all(answer.confidence < inside.confidence / 2 for answer in outside)
    assert sum(not answer.found for answer in outside) >= 3
    assert all(answer.citations for answer in outside)  # the closest articles are still listed


def test_dev_set_meets_the_quality_bar(assistant):
    """A regression bar at the level of the calibrated reader (docs/benchmarks.md reports every figure).

    The calibrated threshold lets at most 5% of answerable questions go unanswered, and at that
    rate it catches none of the three on-topic unanswerable dev questions: a documented miss, so
    abstention is checked here only for questions outside the collection (test above).
    """
    from qa.evaluate import evaluate, read_eval_file

    dev = SHARED / "eval" / "dev.jsonl"
    if not dev.is_file():
        pytest.skip(f"{dev} not present")
    summary = evaluate(assistant, read_eval_file(dev))["summary"]["overall"]
    assert summary["hit@1"] >= 0.92
    assert summary["answer_contained"] >= 0.85
    assert summary["span_f1"] >= 0.75
    assert summary["wrongly_abstained"] <= 0.05


def test_cli_ask_json_and_exit_codes(demo_index, capsys, tmp_path):
    assert main(["ask", "On what date did Uzbekistan Airways' change of flight routes to Europe take effect?",
                 "--index", str(demo_index), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["found"] is True and token_f1(answer["span"], ["January 20, 2025"]) > 0
    assert "January 20, 2025" in answer["text"]
    assert answer["citations"][0]["quote"] == answer["text"]
    assert main(["ask", "   ", "--index", str(demo_index)]) == 2
    assert "question is empty" in capsys.readouterr().err
    assert main(["stats", "--index", str(tmp_path / "missing")]) == 2
    assert "qa index" in capsys.readouterr().err


def test_cli_index_is_incremental(demo_index, capsys, tmp_path):
    from conftest import DEMO_CORPUS

    target = tmp_path / "copy"
    assert main(["index", str(DEMO_CORPUS), "--index", str(target), "--quiet"]) == 0
    first = capsys.readouterr().out
    assert "added 22" in first and "4 duplicate copies merged" in first
    assert main(["index", str(DEMO_CORPUS), "--index", str(target), "--quiet"]) == 0
    assert "embedded 0 of" in capsys.readouterr().out


def test_every_demo_example_question_is_answered_with_a_highlighted_span(assistant):
    from qa.web import DEMO_QUESTIONS

    assert len(DEMO_QUESTIONS) == 5
    for question in DEMO_QUESTIONS:
        answer = assistant.ask(question)
        assert answer.found, question
        first = answer.citations[0]
        assert first.answer_start is not None and first.answer == answer.span, question


def test_warm_up_prepares_the_demo_collection_and_changes_no_answer(assistant):
    question = "Which airline rerouted its flights to Europe to avoid Russian and Belarusian airspace?"
    before = assistant.ask(question)
    assistant.clear_caches()
    assert assistant.warm_up() == len(assistant.index.articles) == 22
    assert assistant.ask(question) == before


@pytest.mark.parametrize(("direct", "follow_up", "previous"), [
    ("In which countries was Yerlan Baizhanov previously the top diplomat?", "In which countries was he previously the top diplomat?",
     "Who is Kazakhstan's new ambassador in Belarus?"),
    ("When did Imangali Tasmagambetov record a video message?", "When did he record a video message?",
     "Who is the CSTO Secretary General?"),
    ("Who did Pavel Muraveiko hold negotiations with?", "Who did he hold negotiations with?",
     "Who is the Belarusian First Deputy Defense Minister who made an official visit to Kazakhstan?"),
    ("How old is Keith Kellogg?", "How old is he?", "Whom did Trump nominate as Special Envoy for Ukraine and Russia?"),
])
@pytest.mark.parametrize("as_answer", [False, True], ids=["history of questions", "history of answers"])
def test_follow_ups_are_answered_as_well_as_the_direct_question(assistant, direct, follow_up, previous, as_answer):
    # What the conversation resolves is compared: the cited sentence and the sentence reader's span. The highlight
    # reader (the default) reads the question as worded, so its span may differ between "he" and the name.
    assistant = Assistant(assistant.index, settings=assistant.settings.with_(highlight="shared"), encoder=assistant.encoder,
                          reader=assistant.reader, calibration=assistant.calibration)
    expected = assistant.ask(direct)
    history = [assistant.ask(previous)] if as_answer else [previous]
    answer = assistant.ask(follow_up, history=history)
    assert expected.found and answer.found
    # The same sentence of the same article; the reader may draw the span's edges a little differently
    # when it reads "he" instead of the name ("80" or "80-year" old).
    assert (answer.text, answer.citations[0].title) == (expected.text, expected.citations[0].title)
    assert answer.span is not None and expected.span is not None
    assert answer.span in expected.span or expected.span in answer.span, (answer.span, expected.span)
