"""Concurrency: one Assistant shared by many threads answers exactly as it does serially; the chat holds many sessions."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import random
import socket
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import ARTICLES, REPO, FakeEncoder, FakeReader, fake_assistant

from qa.assistant import Assistant, index_sources
from qa.config import Settings
from qa.errors import QuestionError

THREADS = 8
# (question, history, since) triples: plain questions, follow-ups, date filters, unanswerable and rejected ones.
QUESTIONS = (
    ("Who is the mayor of Port Selin?", None, None),
    ("How many jobs will the harbour create?", None, None),
    ("How much did the harbour project cost?", None, None),
    ("Who financed it?", ["How much did the harbour project cost?"], None),
    ("Who is the lead researcher at the Alpine Institute?", None, None),
    ("How much mass has the ice lost since 2015?", None, None),
    ("What did she say about the ice?", ["Who is the lead researcher at the Alpine Institute?"], None),
    ("How many tickets did the Riverside Film Festival sell?", None, None),
    ("Who directed the opening film?", None, dt.date(2023, 1, 1)),
    ("Where will the festival return next September?", None, None),
    ("When did the new harbour open?", None, dt.date(2024, 1, 1)),
    ("Who won the 2018 football World Cup?", None, None),
    ("Кто мэр Порт-Селина?", None, None),
    ("   ", None, None),
)


def load_bench():
    """bench/load_test.py as a module (bench/ is not a package)."""
    if "load_test" in sys.modules:
        return sys.modules["load_test"]
    spec = importlib.util.spec_from_file_location("load_test", REPO / "bench" / "load_test.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["load_test"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def answer_or_error(assistant: Assistant, question: str, history, since):
    try:
        return assistant.ask(question, history=history, since=since)
    except QuestionError as error:
        return f"QuestionError: {error}"


def ask_concurrently(assistant: Assistant, items, *, threads: int = THREADS) -> list:
    """Ask every item from `threads` threads released together; results in item order."""
    start = threading.Barrier(threads)

    def work(chunk):
        start.wait()
        return [(index, answer_or_error(assistant, *item)) for index, item in chunk]

    indexed = list(enumerate(items))
    chunks = [indexed[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        results = dict(pair for chunk in pool.map(work, chunks) for pair in chunk)
    return [results[i] for i in range(len(items))]


@pytest.fixture(scope="module")
def fake_index(tmp_path_factory) -> tuple[Path, Settings]:
    root = tmp_path_factory.mktemp("concurrency")
    (root / "articles").mkdir()
    for name, text in ARTICLES.items():
        (root / "articles" / name).write_text(text, encoding="utf-8")
    settings = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=64)
    index_sources([root / "articles"], root / "index", settings=settings, encoder=FakeEncoder())
    return root / "index", settings


def test_eight_threads_give_the_serial_answers(fake_index):
    index_dir, settings = fake_index
    serial = [answer_or_error(fake_assistant(index_dir, settings), *item) for item in QUESTIONS]
    assert sum(isinstance(a, str) for a in serial) == 1  # only the blank question is rejected
    assert sum(a.found for a in serial if not isinstance(a, str)) >= 8
    # A fresh assistant (no article terms cached, dimension not checked) hit by all threads at once,
    # every question asked several times in a shuffled order.
    shared = fake_assistant(index_dir, settings, reader=FakeReader())
    order = list(range(len(QUESTIONS))) * 2
    random.Random(8).shuffle(order)
    concurrent = ask_concurrently(shared, [QUESTIONS[i] for i in order])
    for position, answer in zip(order, concurrent, strict=True):
        assert answer == serial[position], QUESTIONS[position][0]


@contextlib.contextmanager
def chat_server(assistant: Assistant, settings: Settings) -> Iterator[str]:
    """The chat app over `assistant` on a free loopback port, in this process."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from qa.web import build_demo

    demo = build_demo(assistant, settings=settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_chat_server_holds_concurrent_sessions_without_errors(fake_index):
    """bench/load_test.py's driver against the chat over the fake-encoder index: 50 sessions at once."""
    index_dir, settings = fake_index
    bench = load_bench()
    assistant = fake_assistant(index_dir, settings)
    with chat_server(assistant, settings) as url:
        result = bench.run_load(url, sessions=50, questions_per_session=3, timeout=300)
    summary = result.summary()
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["questions"] == 150


def test_load_driver_targets_only_loopback():
    bench = load_bench()
    with pytest.raises(ValueError, match="127.0.0.1"):
        bench.run_load("http://example.org:7860/", sessions=1)


# --- the real model -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> tuple[Path, Settings]:
    from qa.assistant import DEMO_CORPUS

    settings = Settings.from_env(show_progress=False)
    target = tmp_path_factory.mktemp("demo-concurrency") / "index"
    Assistant.build([DEMO_CORPUS], target, settings=settings)
    return target, settings


DEMO_QUESTIONS = (
    ("Who is Kazakhstan's new ambassador in Belarus?", None, None),
    ("In which countries was he previously the top diplomat?", ["Who is Kazakhstan's new ambassador in Belarus?"], None),
    ("Who is the Belarusian First Deputy Defense Minister who made an official visit to Kazakhstan?", None, None),
    ("When will the CSTO start delivering weapons to the Tajik-Afghan border?", None, None),
    ("Which airline rerouted its flights to Europe to avoid Russian and Belarusian airspace?", None, None),
    ("How many Kazakh citizens have fought for Russia, according to the Ukrainian center?", None, None),
    ("Who won the 2018 football World Cup?", None, None),
    ("Кто новый посол Казахстана в Беларуси?", None, None),
)


@pytest.mark.model
def test_real_model_eight_threads_give_the_serial_answers(demo_index):
    index_dir, settings = demo_index
    serial = [answer_or_error(Assistant.load(index_dir, settings=settings), *item) for item in DEMO_QUESTIONS]
    assert serial[0].found and serial[1].found
    shared = Assistant.load(index_dir, settings=settings)  # cold: encoder and reader load under concurrency
    order = list(range(len(DEMO_QUESTIONS))) * 2
    random.Random(9).shuffle(order)
    concurrent = ask_concurrently(shared, [DEMO_QUESTIONS[i] for i in order])
    for position, answer in zip(order, concurrent, strict=True):
        assert answer == serial[position], DEMO_QUESTIONS[position][0]


@pytest.mark.model
def test_real_encoder_tokenizer_is_safe_under_concurrent_calls():
    """Counting tokens and encoding new texts from many threads at once (the fast tokenizer's shared state once broke this)."""
    import numpy as np

    from embeddings.encoder import load_encoder

    encoder = load_encoder(Settings.from_env().model_name)

    def texts(number: int, step: int) -> list[str]:  # new texts every call: no vector cache can answer them
        return [f"short {number} {step}", f"a somewhat longer text number {number} at step {step} " * (step % 5 + 1)]

    expected_counts = {(n, s): encoder.count_tokens(texts(n, s)[1]) for n in range(8) for s in range(0, 24, 8)}
    errors: list[str] = []

    def work(number: int) -> None:
        for step in range(24):
            try:
                if (number + step) % 2:
                    count = encoder.count_tokens(texts(number, step)[1])
                    assert count == expected_counts.get((number, step), count)
                else:
                    vectors = encoder.encode(texts(number, step))
                    assert vectors.shape == (2, encoder.dimension)
                    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
            except Exception as error:  # noqa: BLE001 (collected, so one failure does not hide the others)
                errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.mark.model
def test_chat_server_on_the_demo_index_holds_fifty_sessions_without_errors(demo_index):
    """The CI version of bench/load_test.py: `qa serve` in a subprocess, 50 sessions of a question and a
    follow-up at once; errors and answers only, never timings."""
    index_dir, _ = demo_index
    bench = load_bench()
    with bench.serve(index_dir) as url:
        result = bench.run_load(url, sessions=50, questions_per_session=2, timeout=900)
    summary = result.summary()
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["questions"] == 100
    assert summary["found"] == 100  # every session's question and follow-up are answerable
