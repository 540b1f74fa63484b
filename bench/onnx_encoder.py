"""The optional int8 ONNX encoder against the default (torch, full precision): speed, agreement, dev-set figures.

Usage: python -m bench.onnx_encoder --mode full|smoke --out DIR --work DIR
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (DEV_SET, SMOKE, Stopwatch, installed, latency_summary, load_eval_items, process_memory, say,
                          section_arguments, write_result)

TEXTS = 400  # chunk texts for the throughput comparison
ROUNDS = 3


def sample_texts(work: Path, count: int) -> tuple[list[str], str]:
    texts_file = work / "bbc" / "texts.json"
    if texts_file.is_file():
        texts = json.loads(texts_file.read_text())
        picked = np.random.default_rng(0).choice(len(texts), min(count, len(texts)), replace=False)
        return [texts[i] for i in sorted(picked)], "BBC chunk texts (title + chunk)"
    from qa.ingest import demo_corpus_dir, read_sources

    articles = read_sources([demo_corpus_dir()], progress=False).articles
    return [f"{a.title}\n{a.body[:1200]}" for a in articles], "demo corpus article openings"


def throughput(encoders: dict, texts: list[str], batch_size: int) -> tuple[dict[str, dict[str, float]], dict[str, np.ndarray]]:
    """Chunks per second per encoder, in alternating halves (A B B A) so drifting machine load hits both."""
    halves = [texts[: len(texts) // 2], texts[len(texts) // 2 :]]
    names = list(encoders)
    seconds = dict.fromkeys(names, 0.0)
    vectors: dict[str, list[Any]] = {name: [None, None] for name in names}
    for half, order in ((0, names), (1, names[::-1])):
        for name in order:
            started = time.perf_counter()
            vectors[name][half] = encoders[name].encode(halves[half], batch_size=batch_size)
            seconds[name] += time.perf_counter() - started
    return {name: {"seconds": round(seconds[name], 3), "chunks_per_second": round(len(texts) / seconds[name], 2)}
            for name in names}, {name: np.concatenate(vectors[name]) for name in names}


def query_latency(encoders: dict, questions: list[str], rounds: int) -> dict:
    samples: dict[str, list[float]] = {name: [] for name in encoders}
    names = list(encoders)
    for name in names:
        encoders[name].encode(questions[:2])
    for round_number in range(rounds):
        for position, question in enumerate(questions):
            order = names if (position + round_number) % 2 == 0 else names[::-1]
            for name in order:
                started = time.perf_counter()
                encoders[name].encode([question])
                samples[name].append(time.perf_counter() - started)
    return {name: latency_summary(values) for name, values in samples.items()}


def dev_figures(encoder, work: Path, name: str) -> dict:
    """Build the demo index with `encoder` and run the dev set through `qa eval`'s evaluation."""
    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.evaluate import evaluate
    from qa.index import build_index, load_index
    from qa.ingest import demo_corpus_dir, read_sources

    settings = Settings.from_env(show_progress=False)
    directory = work / f"demo-{name}"
    shutil.rmtree(directory, ignore_errors=True)
    articles = read_sources([demo_corpus_dir()], progress=False).articles
    with Stopwatch() as building:
        build_index(articles, directory, settings=settings, encoder=encoder, rebuild=True)
    assistant = Assistant(load_index(directory, settings=settings, check_model=False), settings=settings, encoder=encoder)
    summary = evaluate(assistant, load_eval_items(DEV_SET))["summary"]
    overall = summary["overall"]
    keep = ("hit@1", "hit@5", "mrr", "answer_contained", "span_em", "span_f1", "wrongly_abstained",
            "abstention_precision", "abstention_recall")
    return {"build_seconds": round(building.seconds, 2), **{k: overall.get(k) for k in keep},
            "latency_ms": {k: round(v, 1) for k, v in summary["latency_ms"].items()}}


def main(argv: list[str] | None = None) -> int:
    args = section_arguments(__doc__.splitlines()[0], argv)
    if args.mode == SMOKE:
        write_result(args.out, "onnx", {"mode": args.mode, "skipped": "smoke mode (the one-time export takes about a minute)"})
        return 0
    if not (installed("onnxruntime") and installed("onnx")):
        write_result(args.out, "onnx", {"mode": args.mode, "skipped": "onnxruntime/onnx not installed: pip install 'qa-news[onnx]'"})
        return 0
    from embeddings.encoder import ONNX_INT8, OnnxEncoder, SentenceTransformerEncoder, export_onnx, onnx_cache_dir, resolve_model
    from qa.config import Settings

    settings = Settings.from_env(show_progress=False)
    work = args.work / "onnx"
    work.mkdir(parents=True, exist_ok=True)
    model_dir = Path(resolve_model(settings.model_name)[0])
    cache_dir = onnx_cache_dir()
    with Stopwatch() as exporting:
        onnx_file = export_onnx(model_dir, quantize=True, cache_dir=cache_dir)
    say(f"onnx: model at {onnx_file} ({exporting.seconds:.1f} s)")
    uncached = {"torch": SentenceTransformerEncoder(settings.model_name, cache_size=0),
                ONNX_INT8: OnnxEncoder(settings.model_name, quantize=True, cache_size=0)}
    for encoder in uncached.values():
        _ = encoder.dimension  # load the model outside the timings
    texts, text_source = sample_texts(args.work, TEXTS)
    say(f"onnx: throughput on {len(texts)} texts")
    speed, vectors = throughput(uncached, texts, settings.batch_size)
    cosines = np.sum(vectors["torch"] * vectors[ONNX_INT8], axis=1)
    questions = [item.question for item in load_eval_items(DEV_SET)]
    say("onnx: single-question latency")
    latency = query_latency(uncached, questions, ROUNDS)
    say("onnx: dev set with each encoder")
    figures = {"torch": dev_figures(SentenceTransformerEncoder(settings.model_name), work, "torch"),
               ONNX_INT8: dev_figures(OnnxEncoder(settings.model_name, quantize=True), work, ONNX_INT8)}
    speedup = speed["torch"]["seconds"] / speed[ONNX_INT8]["seconds"]
    quality_holds = all((figures[ONNX_INT8][k] or 0) >= (figures["torch"][k] or 0) - 1e-9
                        for k in ("hit@1", "answer_contained", "span_f1"))
    write_result(args.out, "onnx", {
        "mode": args.mode, "model": settings.model_name, "onnx_file": str(onnx_file),
        "onnx_file_mb": round(onnx_file.stat().st_size / 2**20, 1),
        "export_seconds": round(exporting.seconds, 2), "export_was_cached": exporting.seconds < 5,
        "texts": len(texts), "text_source": text_source, "batch_size": settings.batch_size,
        "throughput": speed, "speedup": round(speedup, 3),
        "query_latency": latency,
        "cosine_to_full_precision": {"mean": round(float(cosines.mean()), 4), "min": round(float(cosines.min()), 4),
                                     "p5": round(float(np.percentile(cosines, 5)), 4)},
        "dev_set": figures, "quality_holds": quality_holds,
        "recommendation": ("dev-set figures hold, so `QA_ENCODER_BACKEND=onnx-int8` is safe to use; full precision stays "
                           "the default only because the int8 path needs the optional onnx packages and a local model "
                           "directory to export from" if quality_holds
                           else "keep full precision the default: the int8 encoder lowers dev-set figures"),
        "memory": process_memory(),
        "notes": ["Quantization: onnxruntime quantize_dynamic, QInt8 weights, per_channel=True, reduce_range=True.",
                  "Pooling (mean) and normalization in numpy; tokenization with the model's fast tokenizer.",
                  "dev_set latency is `qa eval`'s (each question once, the encoder's vector cache as in a running service)."],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
