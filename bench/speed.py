"""Answering latency for new questions: BBC News (2,225 articles) and the demo corpus, per reader configuration.

Every question is new to the process (no vector or answer cache can help), as a user's would be.
BBC questions are made from article titles ("What happened with <title>?"), since only timing is
measured here. Configurations are interleaved question by question in a new random order each
time, so load from other processes hits all of them alike.

Usage: python -m bench.speed --mode full|smoke --out DIR --work DIR
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import (
    SMOKE,
    HashEncoder,
    latency_summary,
    say,
    section_arguments,
    write_result,
)

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

QUESTIONS = 120
# Each names its encoder backend too: the question's vector is part of the time; highlight: the default unless named.
CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "torch reader, 6 sentences, 1 thread": {"encoder_backend": "torch", "reader_backend": "torch", "reader_sentences": 6, "reader_threads": 1},
    "torch reader, 6 sentences, 2 threads": {"encoder_backend": "torch", "reader_backend": "torch", "reader_sentences": 6, "reader_threads": 2},
    "torch reader, 4 sentences, 1 thread": {"encoder_backend": "torch", "reader_backend": "torch", "reader_sentences": 4, "reader_threads": 1},
    "onnx-int8 reader, 6 sentences, 1 thread": {"encoder_backend": "torch", "reader_backend": "onnx-int8", "reader_sentences": 6,
                                                "reader_threads": 1},
    "onnx-int8 reader, 4 sentences, 1 thread": {"encoder_backend": "torch", "reader_backend": "onnx-int8", "reader_sentences": 4,
                                                "reader_threads": 1},
    "onnx-int8 reader, 6 sentences, 2 threads": {"encoder_backend": "torch", "reader_backend": "onnx-int8", "reader_sentences": 6,
                                                 "reader_threads": 2},
    "onnx-int8 encoder and reader, 6 sentences, 1 thread": {"encoder_backend": "onnx-int8", "reader_backend": "onnx-int8",
                                                            "reader_sentences": 6, "reader_threads": 1},
    "onnx-int8 encoder and reader, 6 sentences, 2 threads": {"encoder_backend": "onnx-int8", "reader_backend": "onnx-int8",
                                                             "reader_sentences": 6, "reader_threads": 2},
    "onnx-int8 encoder and reader, 6 sentences, 2 threads, shared highlight": {  # without the highlight reader's re-read
        "encoder_backend": "onnx-int8", "reader_backend": "onnx-int8", "reader_sentences": 6, "reader_threads": 2, "highlight": "shared"},
    "onnx-int8 encoder and reader, 5 sentences, 2 threads": {"encoder_backend": "onnx-int8", "reader_backend": "onnx-int8",
                                                             "reader_sentences": 5, "reader_threads": 2},
    "onnx-int8 encoder and reader, 4 sentences, 2 threads": {"encoder_backend": "onnx-int8", "reader_backend": "onnx-int8",
                                                             "reader_sentences": 4, "reader_threads": 2},
}

DEFAULTS = "onnx-int8 encoder and reader, 6 sentences, 2 threads"  # what Settings() runs


def main(argv: list[str] | None = None) -> int:
    args = section_arguments(__doc__.splitlines()[0], argv)
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.index import build_index, load_index
    from qa.ingest import demo_corpus_dir, read_sources

    smoke = args.mode == SMOKE
    work = args.work / "speed"
    work.mkdir(parents=True, exist_ok=True)
    collections: dict[str, Path] = {"demo": demo_corpus_dir()}
    if not smoke:
        from bench.bbc import bbc_dir

        if (bbc := bbc_dir()) is not None:
            collections["bbc"] = bbc
    configurations = dict(list(CONFIGURATIONS.items())[:1]) if smoke else CONFIGURATIONS
    backends: dict[str, None] = dict.fromkeys(changes["encoder_backend"] for changes in configurations.values())
    encoders: dict[str, Encoder]
    if smoke:
        fake = HashEncoder()
        base = Settings(model_name=fake.name, show_progress=False, chunk_tokens=120)
        encoders = dict.fromkeys(backends, fake)
    else:
        from embeddings.encoder import load_encoder

        base = Settings.from_env(show_progress=False)
        encoders = {backend: load_encoder(base.model_name, backend=backend) for backend in backends}
    encoder = encoders.get(base.encoder_backend) or next(iter(encoders.values()))  # builds the index
    results: dict = {"mode": args.mode, "collections": {}}
    for name, source in collections.items():
        articles = read_sources([source], progress=False).articles
        index_dir = work / f"{name}-index"
        if not (index_dir / "CURRENT").is_file():
            say(f"speed: indexing {name} ({len(articles)} articles)")
            shutil.rmtree(index_dir, ignore_errors=True)
            build_index(articles, index_dir, settings=base, encoder=encoder, rebuild=True)
        index = load_index(index_dir, settings=base.with_(model_name=encoder.name), check_model=False)
        rng = random.Random(0)
        titles = [a.title for a in index.articles.values() if a.title.strip()]
        rng.shuffle(titles)
        questions = [as_question(t) for t in titles[: 6 if smoke else QUESTIONS]]
        assistants = {label: Assistant(index, settings=base.with_(**changes), encoder=encoders[changes["encoder_backend"]])
                      for label, changes in configurations.items()}
        for assistant in assistants.values():
            assistant.warm_up()
        timings: dict[str, list[float]] = {label: [] for label in assistants}
        for question in questions:
            labels = list(assistants)
            rng.shuffle(labels)
            for label in labels:
                timings[label].append(_time_new_question(assistants[label], question, encoders.values()))
        # A service loads one configuration; eleven loaded side by side evict each other's weights from the CPU caches.
        # So the defaults (the one configuration of a smoke run) are also timed alone, on questions about other
        # articles where the collection has enough (the demo's are all cached by warm_up anyway).
        alone_label = DEFAULTS if DEFAULTS in assistants else next(iter(assistants))
        others = [as_question(t) for t in titles[len(questions) : 2 * len(questions)]]
        other_questions = len(others) == len(questions)
        alone_questions = others if other_questions else questions
        alone_timings = [_time_new_question(assistants[alone_label], q, encoders.values()) for q in alone_questions]
        results["collections"][name] = {"articles": len(index.articles), "chunks": len(index.chunks), "questions": len(questions),
                                        "latency_ms": {label: latency_summary(values) for label, values in timings.items()},
                                        "alone": {"configuration": alone_label, "other_questions": other_questions,
                                                  "latency_ms": latency_summary(alone_timings)}}
        say(f"speed: {name}: " + "; ".join(f"{label} p50 {latency_summary(values)['p50_ms']:.1f} ms" for label, values in timings.items())
            + f"; {alone_label} alone p50 {latency_summary(alone_timings)['p50_ms']:.1f} ms")
    write_result(args.out, "speed", results)
    return 0


def as_question(title: str) -> str:
    return f"What happened with {title.strip().rstrip('?.!')}?"


def _time_new_question(assistant, question: str, encoders) -> float:
    """Seconds to answer `question` with every encoder's vector cache emptied first."""
    for encoder in encoders:
        cache = getattr(encoder, "cache", None)
        if cache is not None:
            cache.clear()
    started = time.perf_counter()
    assistant.ask(question)
    return time.perf_counter() - started


if __name__ == "__main__":
    raise SystemExit(main())
