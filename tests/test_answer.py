"""qa.answer: scored sentences -> abstain or cite, on hand-made candidates and readings."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from conftest import fake_calibration

from qa.answer import (
    NOT_FOUND_TEXT,
    ScoredSentence,
    answer_confidence,
    build_answer,
    mention,
    score_sentences,
)
from qa.query import build_query
from qa.reader.features import SHORTLIST_FEATURES, Candidate
from qa.reader.model import Reading, SentenceReading
from qa.types import Article, Span

HARBOUR = Article(id="harbour", title="New Harbour Opens in Port Selin", published=dt.date(2024, 6, 15), sources=("harbour.txt",),
                  url="https://news.example/harbour",
                  body="The harbour opened in June. Mayor Tomas Varga said the harbour would create 3,000 jobs.")
FESTIVAL = Article(id="festival", title="Film Festival Draws Record Crowds", published=dt.date(2023, 9, 30), sources=("festival.txt",),
                   body="Tomas Varga opened the festival. The festival sold 85,000 tickets.")
BANK = Article(id="bank", title="Bank Report", body="The Coastal Development Bank financed the harbour.")


def _candidate(article: Article, number: int) -> Candidate:
    start = 0
    for _ in range(number):
        start = article.body.index(". ", start) + 2
    end = article.body.find(". ", start)
    end = len(article.body) if end < 0 else end + 1
    features = dict.fromkeys(SHORTLIST_FEATURES, 0.0) | {"coverage": 0.5, "article_coverage": 0.75, "names": 1.0}
    return Candidate(article, Span(start, end), article.body[start:end], number, features)


def _scored(candidate: Candidate, probability: float, answer: tuple[int, int] | None = None) -> ScoredSentence:
    span = Span(*answer) if answer else None
    return ScoredSentence(candidate, SentenceReading(span, probability, probability), {}, probability)


MAYOR_SENTENCE = _candidate(HARBOUR, 1)  # "Mayor Tomas Varga said the harbour would create 3,000 jobs."
QUERY = build_query("Who is the mayor of Port Selin?", (), top_k=3)


def test_the_candidates_are_sentences_of_their_articles():
    assert MAYOR_SENTENCE.text == "Mayor Tomas Varga said the harbour would create 3,000 jobs."
    assert _candidate(HARBOUR, 0).text == "The harbour opened in June."
    assert _candidate(FESTIVAL, 0).text == "Tomas Varga opened the festival."


def test_a_confident_answer_cites_the_best_sentence_with_its_span():
    scored = [_scored(MAYOR_SENTENCE, 0.9, (6, 17)), _scored(_candidate(FESTIVAL, 0), 0.4, (0, 11))]
    answer = build_answer(QUERY, scored, confidence=0.81234567, threshold=0.5)
    assert answer.found
    assert answer.question == "Who is the mayor of Port Selin?"
    assert answer.text == MAYOR_SENTENCE.text
    assert answer.span == "Tomas Varga"
    assert answer.confidence == 0.8123
    first = answer.citations[0]
    assert (first.article_id, first.title, first.published, first.sources, first.url) == (
        "harbour", "New Harbour Opens in Port Selin", dt.date(2024, 6, 15), ("harbour.txt",), "https://news.example/harbour")
    assert HARBOUR.body[first.start : first.end] == first.quote == answer.text
    assert (first.answer_start, first.answer_end, first.answer, first.score) == (6, 17, "Tomas Varga", 0.9)


def test_other_citations_are_highlighted_only_where_they_repeat_the_answer():
    scored = [_scored(MAYOR_SENTENCE, 0.9, (6, 17)), _scored(_candidate(FESTIVAL, 0), 0.4, (23, 31)),
              _scored(_candidate(BANK, 0), 0.3, (4, 28))]
    festival, bank = build_answer(QUERY, scored, confidence=0.8, threshold=0.5).citations[1:]
    assert festival.answer == "Tomas Varga"  # its own guess ("festival") is not shown
    assert (festival.answer_start, festival.answer_end) == (0, 11)
    assert (bank.answer_start, bank.answer_end) == (None, None)


def test_one_citation_per_article_up_to_top_k():
    scored = [_scored(MAYOR_SENTENCE, 0.9, (6, 17)), _scored(_candidate(HARBOUR, 0), 0.8), _scored(_candidate(FESTIVAL, 1), 0.5),
              _scored(_candidate(FESTIVAL, 0), 0.45), _scored(_candidate(BANK, 0), 0.3)]
    answer = build_answer(QUERY, scored, confidence=0.8, threshold=0.5)
    assert [(c.article_id, c.quote) for c in answer.citations] == [
        ("harbour", MAYOR_SENTENCE.text), ("festival", "The festival sold 85,000 tickets."), ("bank", BANK.body)]
    two = build_answer(build_query("Who is the mayor of Port Selin?", (), top_k=2), scored, confidence=0.8, threshold=0.5)
    assert [c.article_id for c in two.citations] == ["harbour", "festival"]
    one = build_answer(build_query("Who is the mayor of Port Selin?", (), top_k=1), scored, confidence=0.8, threshold=0.5)
    assert [c.article_id for c in one.citations] == ["harbour"]


def test_below_the_threshold_the_answer_is_not_found_but_lists_the_closest_sentences():
    scored = [_scored(MAYOR_SENTENCE, 0.9, (6, 17)), _scored(_candidate(FESTIVAL, 0), 0.4, (0, 11))]
    answer = build_answer(QUERY, scored, confidence=0.49, threshold=0.5)
    assert not answer.found
    assert (answer.text, answer.span, answer.confidence) == (NOT_FOUND_TEXT, None, 0.49)
    assert [c.article_id for c in answer.citations] == ["harbour", "festival"]
    assert all(c.answer_start is None and c.answer is None for c in answer.citations)  # no guess is shown as an answer
    assert build_answer(QUERY, scored, confidence=0.5, threshold=0.5).found  # the threshold itself is enough


def test_nothing_read_is_not_found_without_citations():
    answer = build_answer(QUERY, [], confidence=0.0, threshold=0.0)
    assert (answer.found, answer.text, answer.citations, answer.span) == (False, NOT_FOUND_TEXT, (), None)
    assert build_answer(QUERY, [], confidence=0.0, threshold=0.5, not_found_text="Nothing here.").text == "Nothing here."


def test_a_found_sentence_without_a_span_has_no_span():
    answer = build_answer(QUERY, [_scored(MAYOR_SENTENCE, 0.9)], confidence=0.9, threshold=0.5)
    assert answer.found and answer.text == MAYOR_SENTENCE.text
    assert answer.span is None and answer.citations[0].answer_start is None


def test_mention():
    assert mention("The harbour in Port Selin opened; PORT SELIN grew.", "Port Selin") == Span(15, 25)  # the first, any case
    assert mention("Port Selina is elsewhere.", "Port Selin") is None  # whole words only
    assert mention("The cost was $420 million (estimated).", "$420 million") == Span(13, 25)  # no regex surprises
    assert mention("Anything at all.", None) is None
    assert mention("Anything at all.", "") is None


def test_score_sentences_with_the_neutral_calibration_follows_the_reader():
    calibration = fake_calibration()
    shortlisted = [(_candidate(FESTIVAL, 0), 0.5), (MAYOR_SENTENCE, 2.0)]
    reading = Reading((SentenceReading(Span(0, 11), 0.2, 0.3), SentenceReading(Span(6, 17), 0.6, 0.65)), no_answer=0.05)
    scored = score_sentences(shortlisted, reading, calibration)
    assert [s.candidate.text for s in scored] == [MAYOR_SENTENCE.text, "Tomas Varga opened the festival."]
    best = scored[0]
    assert best.probability == pytest.approx(0.6 / 1.6)  # sigmoid(log p) = p / (1 + p)
    assert best.span == Span(6, 17)
    assert best.features == {"shortlist_logit": 2.0, "log_answer_probability": pytest.approx(math.log(0.6)),
                             "log_mass": pytest.approx(math.log(0.65)), "no_answer": 0.05, "has_span": 1.0, "coverage": 0.5,
                             "article_coverage": 0.75, "names": 1.0}
    # The neutral confidence model reads the best sentence's logit: its probability again.
    assert answer_confidence(scored, calibration) == pytest.approx(best.probability)
    assert score_sentences([], Reading((), 1.0), calibration) == []
    assert answer_confidence([], calibration) == 0.0


def test_a_zero_probability_stays_finite():
    reading = Reading((SentenceReading(None, 0.0, 0.0),), no_answer=1.0)
    (scored,) = score_sentences([(MAYOR_SENTENCE, -3.0)], reading, fake_calibration())
    assert scored.features["log_answer_probability"] == pytest.approx(math.log(1e-6))
    assert scored.features["has_span"] == 0.0
    assert 0.0 < scored.probability < 1e-5
