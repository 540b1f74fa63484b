"""Scale-out figures: Milvus Lite against the FAISS store, and embedding through Ray against the plain encoder.

Stores: N synthetic chunks (one article each), vectors perturbed from a few hundred random centres (so
neighbours are meaningful) and text drawn from a Zipf vocabulary (so BM25 has work). Both stores get the
same rows, written directly (no embedding); each answers the same 200 questions through `Store.search`
(dense + BM25 fused by RRF, records fetched), timed per question. recall@10 compares each store's dense
top 10 with exact search over the same vectors.

Ray: the demo corpus's chunk texts (copied to --ray-chunks, each copy made distinct), embedded with the real
model by the plain encoder, then through `RayEncoder` with one and two actors on a local cluster; chunks per
second, actor start-up and model loads included (seconds to the first batch recorded beside), and the rate after
the first batch (the pool up, every model loaded).

Usage: python -m bench.scale_out --out bench/results [--sizes 10000,100000] [--ray-chunks 2000] [--skip-ray]
       [--questions 200] [--index-types FLAT,HNSW]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.types import Article, Chunk, Span

DIMENSION = 384
QUESTIONS = 200
TOP_K = 10
VOCABULARY = 20_000
WORDS_PER_CHUNK = 120


def synthetic(size: int, rng: np.random.Generator) -> tuple[list[Article], list[Chunk], np.ndarray, list[str]]:
    """Articles of one chunk each, their vectors, and the vocabulary."""
    vocabulary = [f"w{i}x" for i in range(VOCABULARY)]
    ranks = np.arange(1, VOCABULARY + 1)
    zipf = (1.0 / ranks) / (1.0 / ranks).sum()
    centres = rng.standard_normal((max(16, size // 200), DIMENSION)).astype(np.float32)
    vectors = centres[rng.integers(0, len(centres), size)] + 0.6 * rng.standard_normal((size, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start_day = dt.date(2020, 1, 1).toordinal()
    articles, chunks = [], []
    for row in range(size):
        words = rng.choice(VOCABULARY, WORDS_PER_CHUNK, p=zipf)
        body = " ".join(vocabulary[w] for w in words) + "."
        article_id = f"{row:016x}"
        article = Article(id=article_id, title=f"Story {row}", body=body, published=dt.date.fromordinal(start_day + row % 1500),
                          sources=(f"synthetic/{row}.txt",), content_hash=f"{row:040x}")
        articles.append(article)
        chunks.append(Chunk(id=f"{row:016x}", article_id=article_id, text=body, start=0, end=len(body)))
    return articles, chunks, vectors, vocabulary


def questions(chunks: list[Chunk], vectors: np.ndarray, rng: np.random.Generator, count: int = QUESTIONS) -> list[tuple[np.ndarray, str]]:
    """Perturbed copies of random chunks' vectors, with five of their words."""
    out = []
    for row in rng.integers(0, len(chunks), count):
        vector = vectors[row] + 0.3 * rng.standard_normal(DIMENSION).astype(np.float32) / np.sqrt(DIMENSION) * 4
        words = chunks[row].text.rstrip(".").split()
        out.append((vector / np.linalg.norm(vector), " ".join(rng.choice(words, 5))))
    return out


def write_faiss(directory: Path, articles, chunks, vectors) -> None:
    from qa.index import write_index

    sentences: dict[str, tuple[Span, ...]] = {a.id: (Span(0, len(a.body)),) for a in articles}
    write_index(directory, articles, chunks, vectors, sentences, model_name="synthetic", chunking={})


def write_milvus(settings: Settings, articles, chunks, vectors) -> float:
    """Rows written as `update_milvus` writes them (chunks, then records); returns seconds."""
    from qa.store import milvus

    started = time.perf_counter()
    client, _ = milvus._client(settings, create=True)
    names = milvus._Names(settings.milvus_collection)
    for name in (names.chunks, names.records):
        client.drop_collection(name)
    milvus._create(client, names, DIMENSION, settings)
    meta = {"format_version": milvus.FORMAT_VERSION, "model_name": "synthetic", "dimension": DIMENSION, "chunking": {},
            "interrupted": False}
    client.upsert(names.records, [milvus._meta_row(meta)])
    step = 2000
    for begin in range(0, len(chunks), step):
        rows = [milvus._chunk_row(articles[i], chunks[i], vectors[i]) for i in range(begin, min(begin + step, len(chunks)))]
        client.insert(names.chunks, rows)
        records = [row for i in range(begin, min(begin + step, len(chunks)))
                   for row in milvus._record_rows(articles[i], (Span(0, len(articles[i].body)),))]
        client.insert(names.records, records)
    client.flush(names.chunks)
    client.flush(names.records)
    client.close()
    return time.perf_counter() - started


def summary(seconds: list[float]) -> dict:
    values = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2)}


def recall(found: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(f[:TOP_K]) & set(e[:TOP_K])) / TOP_K for f, e in zip(found, exact, strict=True)]))


def bench_stores(size: int, work: Path, rng: np.random.Generator, *, question_count: int = QUESTIONS,
                 index_types: tuple[str, ...] = ("FLAT", "HNSW")) -> dict:
    from qa.index import load_index
    from qa.store.local import LocalStore
    from qa.store.milvus import MilvusStore

    articles, chunks, vectors, _ = synthetic(size, rng)
    asked = questions(chunks, vectors, rng, question_count)
    exact = [list(np.argsort(-(vectors @ v))[:TOP_K]) for v, _ in asked]
    result: dict = {"chunks": size, "questions": len(asked)}

    settings = Settings(model_name="synthetic", show_progress=False, index_dir=work / f"faiss-{size}")
    started = time.perf_counter()
    write_faiss(work / f"faiss-{size}", articles, chunks, vectors)
    result["faiss_write_s"] = round(time.perf_counter() - started, 1)
    local = LocalStore(load_index(work / f"faiss-{size}", settings=settings))
    result["faiss_index_kind"] = local.index.vectors.kind
    timings = []
    for vector, text in asked:
        begin = time.perf_counter()
        local.search(vector, text, settings=settings, top_k=8)
        timings.append(time.perf_counter() - begin)
    result["faiss"] = summary(timings)
    result["faiss"]["recall_at_10"] = recall([list(local.index.vectors.search(v, TOP_K)[1]) for v, _ in asked], exact)

    for index_type in index_types:
        milvus_settings = settings.with_(store=str(work / f"milvus-{size}-{index_type}.db"), milvus_dense_index=index_type)
        written = write_milvus(milvus_settings, articles, chunks, vectors)
        store = MilvusStore.open(milvus_settings)
        timings = []
        for vector, text in asked:
            begin = time.perf_counter()
            store.search(vector, text, settings=milvus_settings, top_k=8)
            timings.append(time.perf_counter() - begin)
        dense = [store._client.search(milvus_settings.milvus_collection, data=[v.tolist()], anns_field="dense", limit=TOP_K,
                                      search_params={"metric_type": "IP"}, output_fields=["article_id"])[0] for v, _ in asked]
        found = [[int(hit["entity"]["article_id"], 16) for hit in hits] for hits in dense]
        result[f"milvus_lite_{index_type.lower()}"] = dict(summary(timings), recall_at_10=recall(found, exact),
                                                           write_s=round(written, 1))
        store._client.close()
    result["load_average_at_end"] = list(os.getloadavg())
    return result


def bench_ray(chunk_count: int) -> dict:
    from embeddings.encoder import load_encoder
    from qa.chunk import embedding_text
    from qa.index import load_index
    from qa.ray_embed import RayEncoder

    settings = Settings.from_env(show_progress=False)
    with tempfile.TemporaryDirectory() as scratch:
        from qa.assistant import DEMO_CORPUS, index_sources

        encoder = load_encoder(settings.model_name, backend=settings.encoder_backend)  # the backend the actors load
        index_sources([DEMO_CORPUS], Path(scratch) / "demo", settings=settings, encoder=encoder)
        index = load_index(Path(scratch) / "demo", settings=settings)
        texts = [embedding_text(index.articles[c.article_id], c) for c in index.chunks]
    # Copies are made distinct: an encoder caches the vectors of short calls (an actor's batches are short),
    # so repeated texts would be embedded once per actor and flatter Ray.
    copies = chunk_count // len(texts) + 1
    texts = [text if copy == 0 else f"{copy} {text}" for copy in range(copies) for text in texts][:chunk_count]
    encoder.encode(texts[:64])  # load the model before timing
    started = time.perf_counter()
    encoder.encode(texts, batch_size=settings.batch_size)
    result = {"chunks": len(texts), "encoder_backend": settings.encoder_backend, "plain_encoder_chunks_per_s": round(len(texts) / (time.perf_counter() - started), 1)}
    for workers in (1, 2):
        ray_settings = settings.with_(ray_workers=workers)
        ray_encoder = RayEncoder(encoder, settings=ray_settings)
        ray_encoder.encode(texts[: 64 * workers])  # start the local cluster before timing
        ray_encoder.workers.clear()
        # Each call starts its own actor pool, so the timed call includes starting the actors and loading one
        # model per actor, as `qa index --ray` does once per run; the first batch's arrival shows that cost.
        started = time.perf_counter()
        first_batch, first_count = None, 0
        for positions, _ in ray_encoder.stream(texts):
            if first_batch is None:
                first_batch, first_count = time.perf_counter() - started, len(positions)
        elapsed = time.perf_counter() - started
        result[f"ray_{workers}_workers_chunks_per_s"] = round(len(texts) / elapsed, 1)
        result[f"ray_{workers}_workers_first_batch_s"] = round(first_batch or 0.0, 1)
        # after the first batch: the pool is up and every model loaded, so this is the steady rate
        result[f"ray_{workers}_workers_after_first_batch_chunks_per_s"] = round(
            (len(texts) - first_count) / max(elapsed - (first_batch or 0.0), 1e-9), 1)
        result[f"ray_{workers}_workers_used"] = len(ray_encoder.workers)
        ray_encoder.close()
    result["load_average_at_end"] = list(os.getloadavg())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--ray-chunks", type=int, default=2000)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--skip-stores", action="store_true")
    parser.add_argument("--questions", type=int, default=QUESTIONS, help="timed questions per store and size")
    parser.add_argument("--index-types", default="FLAT,HNSW", help="Milvus dense index types to measure")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / "scale_out.json"
    results = json.loads(target.read_text()) if target.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "load_average_at_start": list(os.getloadavg())}
    work = Path(tempfile.mkdtemp(prefix="qa-scale-out-"))
    try:
        if not args.skip_stores:
            rng = np.random.default_rng(0)
            for size in map(int, args.sizes.split(",")):
                started = time.perf_counter()
                measured = dict(bench_stores(size, work, rng, question_count=args.questions,
                                             index_types=tuple(args.index_types.split(","))),
                                wall_s=round(time.perf_counter() - started, 1))
                # sizes not measured in this run keep their earlier figures; each size is saved as it finishes
                kept = [entry for entry in results.get("stores", []) if entry["chunks"] != size]
                results["stores"] = sorted([*kept, measured], key=lambda entry: entry["chunks"])
                target.write_text(json.dumps(results, indent=2))
                print(json.dumps(measured, indent=2), flush=True)
        if not args.skip_ray:
            results["ray"] = bench_ray(args.ray_chunks)
            print(json.dumps(results["ray"], indent=2))
        results["machine"]["load_average_at_end"] = list(os.getloadavg())
        target.write_text(json.dumps(results, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
