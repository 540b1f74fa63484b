"""qa.reader.features: candidate sentences of hand-built hits, their features, the shortlist and LinearModel."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qa.reader.features import (
    SHORTLIST_FEATURES,
    Candidate,
    LinearModel,
    article_terms,
    candidates_from_hits,
    shortlist,
)
from qa.text import split_sentences
from qa.types import Article, Chunk, Hit, Span

HARBOUR = Article(id="harbour", title="Harbour News",
                  body="Mayor Tomas Varga opened the harbour. He said it would create jobs for 3,000 people. The weather was fine.")
FESTIVAL = Article(id="festival", title="Film Festival", body="The festival sold 85,000 tickets. Lena Moritz directed the opening film.")
SENTENCES = {article.id: tuple(split_sentences(article.body)) for article in (HARBOUR, FESTIVAL)}
# Inverse document frequencies of the question terms: "harbour" is the rarest.
IDF = {"harbour": 3.0, "create": 2.0, "jobs": 2.0, "many": 1.0}
QUESTION_TERMS = ["many", "jobs", "harbour", "create"]  # "How many jobs will the harbour create?", in its word order


def _chunk(article: Article, start: int, end: int) -> Chunk:
    return Chunk(id=f"{article.id}:{start}", article_id=article.id, text=article.body[start:end], start=start, end=end)


def _hits() -> list[Hit]:
    first, second, third = SENTENCES["harbour"]
    return [
        Hit(_chunk(HARBOUR, first.start, second.end), HARBOUR, 0.9, 1, dense_score=0.8, lexical_score=4.0),
        Hit(_chunk(FESTIVAL, 0, len(FESTIVAL.body)), FESTIVAL, 0.5, 2, dense_score=None, lexical_score=2.0),
        Hit(_chunk(HARBOUR, second.start, third.end), HARBOUR, 0.4, 3, dense_score=0.3, lexical_score=None),
    ]


def _candidates(**options) -> list[Candidate]:
    return candidates_from_hits(_hits(), SENTENCES.__getitem__, QUESTION_TERMS, IDF.__getitem__, **options)


def test_the_sentence_spans_are_as_expected():
    assert [HARBOUR.body[s.start : s.end] for s in SENTENCES["harbour"]] == [
        "Mayor Tomas Varga opened the harbour.", "He said it would create jobs for 3,000 people.", "The weather was fine."]


def test_every_sentence_of_the_retrieved_chunks_once_in_hit_order():
    candidates = _candidates()
    assert [(c.article.id, c.position, c.text) for c in candidates] == [
        ("harbour", 0, "Mayor Tomas Varga opened the harbour."),
        ("harbour", 1, "He said it would create jobs for 3,000 people."),
        ("festival", 0, "The festival sold 85,000 tickets."),
        ("festival", 1, "Lena Moritz directed the opening film."),
        ("harbour", 2, "The weather was fine."),  # sentence 1 came with the first chunk already
    ]
    for candidate in candidates:
        assert candidate.article.body[candidate.span.start : candidate.span.end] == candidate.text
        assert set(candidate.features) == set(SHORTLIST_FEATURES)


def test_sentences_outside_the_chunk_are_left_out():
    first = SENTENCES["harbour"][0]
    hit = Hit(_chunk(HARBOUR, first.start, first.end), HARBOUR, 0.9, 1, dense_score=0.8, lexical_score=4.0)
    candidates = candidates_from_hits([hit], SENTENCES.__getitem__, QUESTION_TERMS, IDF.__getitem__)
    assert [c.text for c in candidates] == ["Mayor Tomas Varga opened the harbour."]


def test_features_of_a_sentence_are_idf_weighted_measurements():
    lead, follower, tickets, _, weather = _candidates(names=("varga",))
    total = sum(IDF.values())  # 8
    assert lead.features == {
        "coverage": 3.0 / total,  # "harbour"
        "context_coverage": 0.0,
        "article_coverage": 7.0 / total,  # all but "many"
        "pairs": 0.0,
        "names": 1.0,  # "varga" is in the article
        "reciprocal_rank": 1.0,
        "dense": pytest.approx(0.8),
        "lexical": 1.0,  # the best lexical score of the hits
        "lead": 1.0,
        "log_position": 0.0,
        "log_length": math.log1p(6),
    }
    assert follower.features["coverage"] == 4.0 / total  # "create", "jobs"
    assert follower.features["context_coverage"] == 3.0 / total  # "harbour", in the title
    assert follower.features["pairs"] == 0.0  # (jobs, harbour), (harbour, create), (many, jobs): none in order here
    assert (follower.features["lead"], follower.features["log_position"]) == (0.0, math.log1p(1))
    assert tickets.features["names"] == 0.0  # no "varga" in the festival article
    assert tickets.features["dense"] == 0.0  # no dense score: 0
    assert tickets.features["lexical"] == 0.5
    assert tickets.features["reciprocal_rank"] == 0.5
    assert (weather.features["reciprocal_rank"], weather.features["lexical"]) == (pytest.approx(1 / 3), 0.0)
    assert weather.features["context_coverage"] == 3.0 / total


def test_a_sentence_opening_with_a_pronoun_reads_the_sentence_before_as_context():
    terms = ["mayor", "create"]  # "mayor" is only in the sentence before "He said ..."
    lead, follower, weather = candidates_from_hits([_hits()[0], _hits()[2]], SENTENCES.__getitem__, terms, lambda term: 1.0)
    assert (lead.features["coverage"], lead.features["context_coverage"]) == (0.5, 0.0)
    assert (follower.features["coverage"], follower.features["context_coverage"]) == (0.5, 0.5)
    assert (weather.features["coverage"], weather.features["context_coverage"]) == (0.0, 0.0)  # "The weather" refers to nothing


def test_word_pairs_count_question_term_pairs_in_order():
    terms = ["create", "jobs", "harbour"]
    follower = candidates_from_hits(_hits()[:1], SENTENCES.__getitem__, terms, IDF.__getitem__)[1]
    assert follower.features["pairs"] == 0.5  # (create, jobs) of (create, jobs), (jobs, harbour)


def test_without_names_every_article_matches_them():
    assert {c.features["names"] for c in _candidates()} == {1.0}


def test_the_terms_of_an_article_can_come_from_a_cache():
    seen = []

    def terms_of(article):
        seen.append(article.id)
        return article_terms(article)

    assert _candidates(terms_of=terms_of) == _candidates()
    assert seen == ["harbour", "festival", "harbour"]  # once per hit
    assert article_terms(FESTIVAL)[0] == frozenset({"film", "festival"})


def test_no_hits_no_candidates():
    assert candidates_from_hits([], SENTENCES.__getitem__, QUESTION_TERMS, IDF.__getitem__) == []
    assert shortlist([], LinearModel(("coverage",), (1.0,), 0.0), 3) == []


def test_shortlist_orders_by_the_model_and_keeps_the_best():
    candidates = _candidates()
    by_coverage = LinearModel(("coverage",), (8.0,), -1.0)
    picked = shortlist(candidates, by_coverage, 3)
    assert [(c.text, logit) for c, logit in picked] == [
        ("He said it would create jobs for 3,000 people.", 3.0),
        ("Mayor Tomas Varga opened the harbour.", 2.0),
        # Three sentences at logit -1: ties go to the article id, then the position in the article.
        ("The festival sold 85,000 tickets.", -1.0),
    ]
    by_rank = LinearModel(("reciprocal_rank", "lead"), (3.0, 1.0), 0.0)
    assert [round(logit, 6) for _, logit in shortlist(candidates, by_rank, 10)] == [4.0, 3.0, 2.5, 1.5, 1.0]
    assert len(shortlist(candidates, by_rank, 10)) == len(candidates)


def test_linear_model_logit_probability_and_json_round_trip():
    model = LinearModel(("coverage", "lead"), (2.0, -1.0), 0.5)
    rows = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    assert model.logit(rows).tolist() == [2.5, -0.5, 0.5]
    assert model.probability(rows) == pytest.approx([1 / (1 + math.exp(-2.5)), 1 / (1 + math.exp(0.5)), 1 / (1 + math.exp(-0.5))])
    data = json.loads(json.dumps(model.to_json()))
    assert data == {"features": ["coverage", "lead"], "coef": [2.0, -1.0], "intercept": 0.5}
    assert LinearModel.from_json(data) == model
    precise = LinearModel(("coverage",), (0.12345678,), 1 / 3)
    assert LinearModel.from_json(precise.to_json()) == LinearModel(("coverage",), (0.123457,), 0.333333)


def test_candidate_vector_follows_the_names_given():
    candidate = Candidate(HARBOUR, Span(0, 5), "Mayor", 0, {"coverage": 0.25, "lead": 1.0})
    assert candidate.vector(("lead", "coverage")).tolist() == [1.0, 0.25]
    with pytest.raises(KeyError):
        candidate.vector(("dense",))
