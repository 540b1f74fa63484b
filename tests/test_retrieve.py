"""Tests for qa.retrieve: fused ranking, per-article limits and date filters."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qa.index import build_index, load_index
from qa.ingest import read_sources
from qa.retrieve import allowed_rows, fuse, retrieve
from qa.types import Article


def ask(index, encoder, settings, question, *, top_k=None, allowed=None):
    vector = encoder.encode([question])[0]
    return retrieve(index, vector, question, settings=settings, top_k=top_k or settings.top_k, allowed=allowed)


@pytest.fixture
def news(tmp_path, collection, settings, fake_encoder):
    """The three-article collection, in 32-token chunks (three chunks per article)."""
    settings = settings.with_(chunk_tokens=32)
    build_index(read_sources([collection]).articles, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    return load_index(tmp_path / "idx", settings=settings), settings


def test_hits_are_ranked_and_limited_per_article(news, fake_encoder):
    index, settings = news
    assert len(index.chunks) == 9
    hits = ask(index, fake_encoder, settings, "Who directed the opening film at the Riverside Film Festival?", top_k=5)
    assert [h.rank for h in hits] == [1, 2, 3, 4, 5]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    per_article = {}
    for hit in hits:
        per_article[hit.article.id] = per_article.get(hit.article.id, 0) + 1
        assert hit.chunk.article_id == hit.article.id
        assert hit.article.body[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    assert max(per_article.values()) <= settings.max_chunks_per_article == 2
    assert len({h.chunk.id for h in hits}) == len(hits)


def test_one_chunk_per_article_when_asked(news, fake_encoder):
    index, settings = news
    hits = ask(index, fake_encoder, settings.with_(max_chunks_per_article=1), "harbour film glacier", top_k=5)
    assert len(hits) == 3  # only three articles exist
    assert len({h.article.id for h in hits}) == 3
    assert [h.rank for h in hits] == [1, 2, 3]


@pytest.mark.parametrize(
    ("question", "title", "quote"),
    [
        ("Who directed the opening film at the Riverside Film Festival?", "Film Festival Draws Record Crowds", "Lena Moritz"),
        ("How much did the project financed by the Coastal Development Bank cost?", "New Harbour Opens in Port Selin", "$420 million"),
        ("What did Dr. Anna Keller say about the ice mass?", "Glacier Melt Threatens Mountain Villages", "12 percent"),
    ],
)
def test_rare_words_find_their_article_first(news, fake_encoder, question, title, quote):
    index, settings = news
    hits = ask(index, fake_encoder, settings, question)
    assert hits[0].article.title == title
    assert quote in hits[0].chunk.text
    assert hits[0].lexical_score > 0 and hits[0].dense_score is not None


def test_fused_score_is_reciprocal_rank_sum(news, fake_encoder):
    index, settings = news
    settings = settings.with_(fusion="rrf")
    (best, *_rest) = ask(index, fake_encoder, settings, "Riverside Film Festival opening film directed by Lena Moritz")
    # first in both the dense and the lexical list
    assert best.score == pytest.approx(2 / (settings.rrf_k + 1))


def test_convex_fusion_weighs_standardised_scores(settings):
    dense = {1: 0.51, 3: 0.50, 2: 0.49}  # near-equal similarities
    lexical = {2: 9.0, 3: 1.0, 1: 0.9}  # one BM25 match far ahead
    convex = fuse(dense, lexical, settings.with_(fusion="convex", dense_weight=0.4))
    assert max(convex, key=convex.__getitem__) == 2
    d, b = np.array([0.51, 0.50, 0.49]), np.array([0.9, 1.0, 9.0])
    expected_row_1 = 0.4 * (d[0] - d.mean()) / d.std() + 0.6 * (b[0] - b.mean()) / b.std()
    assert convex[1] == pytest.approx(expected_row_1)
    ranks_only = fuse(dense, lexical, settings.with_(fusion="rrf"))
    assert ranks_only[2] == pytest.approx(ranks_only[1])  # 1st + 3rd either way: reciprocal rank cannot tell them apart


def test_convex_fusion_gives_a_candidate_missing_from_a_list_that_list_s_lowest_score(settings):
    fused = fuse({1: 0.9, 2: 0.5}, {3: 4.0, 1: 2.0}, settings.with_(fusion="convex", dense_weight=0.5))
    assert set(fused) == {1, 2, 3}
    assert fused[2] == pytest.approx(0.5 * -1.0 + 0.5 * -1.0)  # dense z -1, absent from BM25: its floor -1
    assert fused[3] == pytest.approx(0.5 * -1.0 + 0.5 * 1.0)
    assert fused[1] == pytest.approx(0.5 * 1.0 + 0.5 * -1.0)


@pytest.mark.parametrize("weight", [0.0, 0.4, 1.0])
def test_convex_fusion_with_one_list_keeps_its_order(settings, weight):
    dense = {4: 0.8, 2: 0.6, 7: 0.1}
    fused = fuse(dense, {}, settings.with_(fusion="convex", dense_weight=weight))
    order = sorted(fused, key=lambda row: (-fused[row], row))
    assert order == ([4, 2, 7] if weight > 0 else [2, 4, 7])  # weight 0: all tie, row order
    assert fuse({5: 0.3}, {}, settings) == {5: 0.0}


def test_lexical_matches_outside_the_dense_candidates_are_kept(news, fake_encoder):
    index, settings = news
    hits = ask(index, fake_encoder, settings.with_(dense_candidates=1), "Dornbach Varga", top_k=9)
    assert sorted(h.chunk.text.split()[-1] for h in hits) == ["Dornbach.", "jobs."]
    assert sorted(h.dense_score is None for h in hits) == [False, True]  # one came from BM25 alone
    assert all(h.lexical_score > 0 for h in hits)


def dated_articles() -> list[Article]:
    glacier = "Glaciers above the valley are melting fast and villages fear floods from the melting ice."
    articles = [
        Article(id=f"g{i:02d}", title=f"Glacier melting report {i}", body=f"{glacier} Report {i} adds detail.",
                content_hash=f"g{i}", published=dt.date(2024, 1, i + 1))
        for i in range(8)
    ]
    articles.append(Article(id="old", title="Harbour cranes delivered",
                            body="Two new cranes arrived at the harbour. Dock workers unloaded them in the rain.",
                            content_hash="old", published=dt.date(2020, 5, 4)))
    articles.append(Article(id="undated", title="Glacier melting without a date",
                            body=glacier, content_hash="undated", published=None))
    return articles


@pytest.fixture
def dated(tmp_path, settings, fake_encoder):
    build_index(dated_articles(), tmp_path / "dated", settings=settings, encoder=fake_encoder)
    return load_index(tmp_path / "dated", settings=settings)


def article_ids(index, rows) -> set[str]:
    return {index.chunks[int(row)].article_id for row in rows}


def test_allowed_rows_is_none_without_a_filter(dated):
    assert allowed_rows(dated) is None


def test_allowed_rows_keeps_dated_articles_in_range(dated):
    rows = allowed_rows(dated, since=dt.date(2024, 1, 3), until=dt.date(2024, 1, 5))
    assert rows.dtype == np.int64
    assert article_ids(dated, rows) == {"g02", "g03", "g04"}
    assert len(rows) == sum(len(dated.chunk_rows[key]) for key in ("g02", "g03", "g04"))
    assert article_ids(dated, allowed_rows(dated, until=dt.date(2021, 1, 1))) == {"old"}
    assert article_ids(dated, allowed_rows(dated, since=dt.date(2024, 1, 8))) == {"g07"}
    assert len(allowed_rows(dated, since=dt.date(2025, 1, 1))) == 0


def test_undated_articles_are_left_out_once_a_filter_is_set(dated):
    everything = allowed_rows(dated, since=dt.date(1900, 1, 1))
    assert "undated" not in article_ids(dated, everything)
    assert article_ids(dated, everything) == {a.id for a in dated_articles() if a.published}


def test_narrow_date_range_returns_the_low_ranking_article(dated, settings, fake_encoder):
    question = "Which villages fear floods from melting glaciers?"
    unfiltered = ask(dated, fake_encoder, settings, question, top_k=5)
    assert "old" not in {h.article.id for h in unfiltered}

    allowed = allowed_rows(dated, since=dt.date(2020, 1, 1), until=dt.date(2020, 12, 31))
    hits = ask(dated, fake_encoder, settings, question, top_k=5, allowed=allowed)
    assert [h.article.id for h in hits] == ["old"] * len(dated.chunk_rows["old"])
    assert hits[0].rank == 1
    assert hits[0].lexical_score == 0.0  # found by the exact dense scan over the allowed rows alone


def test_filtered_hits_all_lie_in_range(dated, settings, fake_encoder):
    allowed = allowed_rows(dated, since=dt.date(2024, 1, 2), until=dt.date(2024, 1, 4))
    hits = ask(dated, fake_encoder, settings, "glaciers melting villages floods", top_k=10, allowed=allowed)
    assert {h.article.id for h in hits} == {"g01", "g02", "g03"}
    assert all(dt.date(2024, 1, 2) <= h.article.published <= dt.date(2024, 1, 4) for h in hits)


def test_empty_filter_returns_no_hits(dated, settings, fake_encoder):
    allowed = allowed_rows(dated, since=dt.date(2030, 1, 1))
    assert ask(dated, fake_encoder, settings, "glaciers", allowed=allowed) == []
