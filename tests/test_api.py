"""The JSON answer: payload built from hand-made answers, and the `/answer` endpoint called with gradio_client."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from conftest import running_demo

from qa.api import answer_payload, cited_citations
from qa.types import Answer, Citation


def _citation(quote: str, *, title: str, start: int | None = None, end: int | None = None, score: float = 0.5) -> Citation:
    return Citation(article_id=title.lower(), title=title, published=dt.date(2025, 1, 2), sources=("/srv/data/a.txt",),
                    url="https://example.org/a", quote=quote, start=10, end=10 + len(quote), answer_start=start,
                    answer_end=end, score=score)


def test_payload_numbers_the_cited_sources_first_and_keeps_offsets():
    first = _citation("Jane Roe opened the bridge.", title="Bridge", start=0, end=8, score=0.9)
    unrelated = _citation("Traffic was light.", title="Traffic", score=0.4)
    repeating = _citation("Mayor Jane Roe spoke.", title="Speech", start=6, end=14, score=0.3)
    answer = Answer(question="Who opened the bridge?", text=first.quote, found=True, confidence=0.8,
                    citations=(first, unrelated, repeating), span="Jane Roe")
    assert cited_citations(answer) == ((first, repeating), (unrelated,))
    payload = answer_payload(answer)
    assert {key: payload[key] for key in ("question", "found", "text", "span", "confidence")} == {
        "question": "Who opened the bridge?", "found": True, "text": first.quote, "span": "Jane Roe", "confidence": 0.8}
    assert [(c["number"], c["cited"], c["title"]) for c in payload["citations"]] == [
        (1, True, "Bridge"), (2, True, "Speech"), (None, False, "Traffic")]
    assert payload["citations"][0] == {
        "number": 1, "cited": True, "article_id": "bridge", "title": "Bridge", "published": "2025-01-02",
        "url": "https://example.org/a", "sources": ["a.txt"], "quote": "Jane Roe opened the bridge.", "start": 10, "end": 37,
        "answer": "Jane Roe", "answer_start": 0, "answer_end": 8, "score": 0.9,
    }


def test_payload_of_a_not_found_answer_cites_nothing():
    closest = _citation("Traffic was light.", title="Traffic")
    payload = answer_payload(Answer(question="q", text="These articles do not contain the answer.", found=False,
                                    confidence=0.05, citations=(closest,)))
    assert payload["found"] is False and payload["span"] is None
    assert [(c["number"], c["cited"]) for c in payload["citations"]] == [(None, False)]


# --- the endpoint, over HTTP ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    from conftest import ARTICLES, FakeEncoder, fake_assistant

    from qa.assistant import index_sources
    from qa.config import Settings
    from qa.web import build_demo

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    root = tmp_path_factory.mktemp("api")
    for name, text in ARTICLES.items():
        (root / name).write_text(text, encoding="utf-8")
    settings = Settings(model_name="fake-encoder", index_dir=root / "index", show_progress=False, chunk_tokens=64)
    index_sources([root], settings.index_dir, settings=settings, encoder=FakeEncoder())
    demo = build_demo(fake_assistant(settings.index_dir, settings), settings=settings, examples=())
    with running_demo(demo) as url:
        yield url


def test_answer_endpoint_with_only_a_question_and_with_every_option(server):
    from gradio_client import Client

    client = Client(server, verbose=False)
    payload = client.predict("Who directed the opening film of the festival?", api_name="/answer")
    assert payload["found"] is True and payload["span"] == "Lena Moritz"
    assert payload["citations"][0]["number"] == 1 and payload["citations"][0]["published"] == "2023-09-30"
    quote = payload["citations"][0]["quote"]
    assert quote[payload["citations"][0]["answer_start"]:payload["citations"][0]["answer_end"]] == "Lena Moritz"
    assert len(payload["citations"]) <= 5

    limited = client.predict("Who directed the opening film of the festival?", top_k=1, since="2023-01-01",
                             until="2023-12-31", api_name="/answer")
    assert limited["found"] is True and len(limited["citations"]) == 1
    outside = client.predict("Who directed the opening film of the festival?", since="2024-01-01", api_name="/answer")
    assert all(c["title"] != "Film Festival Draws Record Crowds" for c in outside["citations"])

    # A follow-up reads the history: alone, its pronoun has nobody to refer to.
    alone = client.predict("What else did she do?", api_name="/answer")
    assert "nobody to refer to" in alone["text"]
    follow_up = client.predict("What else did she do?", history=["Who directed the opening film of the festival?"],
                               api_name="/answer")
    assert "nobody to refer to" not in follow_up["text"]
    assert "Film Festival Draws Record Crowds" in [c["title"] for c in follow_up["citations"]]


def test_answer_endpoint_errors_say_what_to_fix_and_the_docs_name_the_parameters(server):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(server, verbose=False)
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/answer")
    with pytest.raises(AppError, match="use YYYY-MM-DD"):
        client.predict("Who?", since="Hello!!", api_name="/answer")
    api = client.view_api(print_info=False, return_format="dict")
    parameters = api["named_endpoints"]["/answer"]["parameters"]
    assert [p["parameter_name"] for p in parameters] == ["question", "top_k", "since", "until", "history"]
    assert [p["parameter_has_default"] for p in parameters] == [False, True, True, True, True]
    assert "/ask" not in api["named_endpoints"]  # the chat's own event stays out of the documented API
