"""Tests for the encoder options in embeddings.encoder: the int8 ONNX backend, the vector cache, fast token counting."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from embeddings import encoder as encoder_module
from embeddings.encoder import (
    EncoderError,
    OnnxEncoder,
    SentenceTransformerEncoder,
    VectorCache,
    export_onnx,
    load_encoder,
)
from qa.chunk import _span_counter, chunk_article
from qa.text import split_sentences, word_spans
from qa.types import Article

MODEL = "all-MiniLM-L6-v2"
HAS_ONNX = importlib.util.find_spec("onnxruntime") is not None and importlib.util.find_spec("onnx") is not None
TRICKY = (
    "Prices rose to €100 (about £86) on 3.5% growth—analysts said. Zürich’s café re-opened; naïve “quotes” too.\n"
    "Snake_case_names and e-mail@example.com, URLs like https://example.com/a?b=c#d, and #hashtags.\n"
    "Zero\u200bwidth joins, non\u00a0breaking spaces, tabs\tand CJK 東京都 text, emoji 🙂 and ﬁ ligatures.\n"
    "A sentence that is quite long and keeps going with many plain words so that it has to be cut into windows "
    "because the budget is small, and then it goes on even further with yet more words than any budget allows."
)


class CountingFunction:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_vector_cache_embeds_each_text_once_and_keeps_order():
    cache, encode = VectorCache(size=3), CountingFunction()
    first = cache.encode(["aa", "b", "aa"], encode)
    assert encode.calls == [["aa", "b"]]
    assert first[:, 0].tolist() == [2.0, 1.0, 2.0]
    second = cache.encode(["b", "ccc"], encode)
    assert encode.calls[-1] == ["ccc"]
    assert second[:, 0].tolist() == [1.0, 3.0]
    assert (cache.hits, cache.misses) == (1, 3)


def test_vector_cache_evicts_least_recently_used():
    cache, encode = VectorCache(size=2), CountingFunction()
    cache.encode(["a", "b"], encode)
    cache.encode(["a"], encode)  # "b" is now the oldest
    cache.encode(["c"], encode)
    cache.encode(["a", "b"], encode)
    assert encode.calls[-1] == ["b"]


def test_vector_cache_snapshot_and_restore():
    cache, encode = VectorCache(size=10), CountingFunction()
    cache.encode(["a"], encode)
    saved = cache.snapshot()
    cache.encode(["b"], encode)
    cache.restore(saved)
    cache.encode(["a", "b"], encode)
    assert encode.calls[-1] == ["b"]


def test_unknown_backend_is_an_error_naming_the_choices():
    with pytest.raises(EncoderError, match="unknown encoder backend 'tensorrt': use one of torch, onnx, onnx-int8"):
        load_encoder(MODEL, backend="tensorrt")


def test_onnx_backend_without_onnxruntime_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a))
    with pytest.raises(EncoderError, match=r"needs onnxruntime.*pip install 'qa-news\[onnx\]'"):
        load_encoder(MODEL, backend="onnx-int8")


def test_default_backend_is_full_precision_torch():
    encoder = load_encoder(MODEL)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert encoder.backend == "torch"


@pytest.fixture(scope="module")
def torch_encoder():
    return SentenceTransformerEncoder(MODEL)


@pytest.mark.model
def test_span_counts_from_offsets_equal_counting_each_span(torch_encoder):
    from qa.ingest import demo_corpus_dir, read_sources

    bodies = [TRICKY] + [a.body for a in read_sources([demo_corpus_dir()], progress=False).articles[:6]]
    checked = 0
    for body in bodies:
        count = _span_counter(body, torch_encoder.count_tokens, torch_encoder.token_offsets)
        sentences = split_sentences(body)
        bounds = sorted({s.start for s in sentences} | {s.end for s in sentences})
        words = word_spans(body)
        bounds += [w.start for w in words[::7]] + [w.end for w in words[3::11]]
        bounds = sorted(set(bounds))
        for i, start in enumerate(bounds):
            for end in bounds[i + 1 : i + 6]:
                assert count(start, end) == torch_encoder.count_tokens(body[start:end]), (body[start:end],)
                checked += 1
    assert checked > 500


@pytest.mark.model
def test_chunks_are_the_same_with_and_without_offsets(torch_encoder):
    from qa.ingest import demo_corpus_dir, read_sources

    articles = list(read_sources([demo_corpus_dir()], progress=False).articles[:8])
    articles.append(Article(id="tricky", title="Tricky text", body=TRICKY, content_hash="t"))
    for max_tokens in (24, 64, 200):
        for article in articles:
            plain = chunk_article(article, count_tokens=torch_encoder.count_tokens, max_tokens=max_tokens)
            fast = chunk_article(article, count_tokens=torch_encoder.count_tokens, max_tokens=max_tokens,
                                 token_offsets=torch_encoder.token_offsets)
            assert fast == plain


@pytest.mark.model
def test_cached_vectors_equal_fresh_ones(torch_encoder):
    texts = ["Who is the ambassador?", "The ambassador is Yerlan Baizhanov."]
    cached = torch_encoder.encode(texts)
    again = torch_encoder.encode(texts[::-1])
    np.testing.assert_array_equal(cached, again[::-1])
    fresh = SentenceTransformerEncoder(MODEL, cache_size=0).encode(texts)
    np.testing.assert_allclose(cached, fresh, atol=1e-5)


@pytest.fixture(scope="module")
def int8_encoder(tmp_path_factory):
    if not HAS_ONNX:
        pytest.skip("onnxruntime and onnx are not installed (pip install 'qa-news[onnx]')")
    return load_encoder(MODEL, backend="onnx-int8", cache_dir=tmp_path_factory.mktemp("onnx-cache"))


@pytest.mark.model
def test_int8_encoder_follows_the_encoder_protocol(int8_encoder, torch_encoder):
    assert isinstance(int8_encoder, OnnxEncoder)
    assert int8_encoder.name == MODEL and int8_encoder.backend == "onnx-int8"
    assert (int8_encoder.dimension, int8_encoder.max_tokens) == (torch_encoder.dimension, torch_encoder.max_tokens)
    for text in ("Hello world!", TRICKY, ""):
        assert int8_encoder.count_tokens(text) == torch_encoder.count_tokens(text)
    assert int8_encoder.token_offsets("Hello world!") == torch_encoder.token_offsets("Hello world!")
    assert int8_encoder.encode([]).shape == (0, 384)


@pytest.mark.model
def test_int8_vectors_stay_close_to_full_precision(int8_encoder):
    texts = ["Kazakhstan's new ambassador in Belarus is Yerlan Baizhanov.", "Who is the ambassador?", TRICKY,
             "short", " ".join(["A very long text with many words."] * 80)]
    full = SentenceTransformerEncoder(MODEL, cache_size=0).encode(texts)
    batched = int8_encoder.encode(texts)
    assert batched.dtype == np.float32 and batched.shape == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(batched * full, axis=1)) > 0.97
    alone = OnnxEncoder(MODEL, cache_dir=int8_encoder.cache_dir, cache_size=0)
    one_by_one = np.stack([alone.encode([t])[0] for t in texts])
    # Activations are quantized per batch (dynamic quantization), so a text's vector moves a little with its batch.
    assert np.min(np.sum(one_by_one * batched, axis=1)) > 0.97
    assert np.min(np.sum(one_by_one * full, axis=1)) > 0.97


@pytest.mark.model
def test_a_single_text_runs_on_a_one_thread_session_with_the_same_vector(int8_encoder):
    two_threads = OnnxEncoder(MODEL, cache_dir=int8_encoder.cache_dir, cache_size=0, threads=2)
    question = "Who is Kazakhstan's ambassador in Belarus?"
    one_thread = OnnxEncoder(MODEL, cache_dir=int8_encoder.cache_dir, cache_size=0, threads=1)
    np.testing.assert_allclose(two_threads.encode([question]), one_thread.encode([question]), atol=1e-6)
    sessions = two_threads._loaded()["sessions"]
    assert list(sessions) == [1]  # a question alone makes only the one-thread session
    two_threads.encode([question, "Another text."])
    assert sessions[1][0].get_session_options().intra_op_num_threads == 1
    assert sessions[2][0].get_session_options().intra_op_num_threads == 2
    one_thread.encode([question, "Another text."])
    assert list(one_thread._loaded()["sessions"]) == [1]  # no second session when there is one thread


@pytest.mark.model
def test_export_is_made_once_and_reused(int8_encoder, monkeypatch):
    path = int8_encoder.model_path
    stamp = path.stat().st_mtime_ns
    monkeypatch.setattr(encoder_module, "_export_full", lambda *a, **k: pytest.fail("exported again"))
    model_dir = encoder_module.resolve_model(MODEL)[0]
    assert export_onnx(model_dir, quantize=True, cache_dir=int8_encoder.cache_dir) == path
    assert path.stat().st_mtime_ns == stamp
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.model
def test_the_encoder_backend_setting_builds_and_answers_with_int8(int8_encoder, monkeypatch, tmp_path):
    from qa.assistant import DEMO_CORPUS, Assistant
    from qa.config import Settings

    monkeypatch.setattr(encoder_module, "onnx_cache_dir", lambda: int8_encoder.cache_dir)  # reuse the module's export
    settings = Settings(encoder_backend="onnx-int8", show_progress=False)
    assistant = Assistant.build([DEMO_CORPUS], tmp_path / "index", settings=settings)
    assert isinstance(assistant.encoder, OnnxEncoder) and assistant.encoder.backend == "onnx-int8"
    answer = assistant.ask("Who is Kazakhstan's new ambassador in Belarus?")
    # The sentence naming him, highlighted there (the reader's span edges may vary as its weights are retrained).
    assert answer.found and "Yerlan Baizhanov" in answer.text
    assert answer.span and set(answer.span.split()) & {"Yerlan", "Baizhanov"}
