"""How retrieval should fuse dense and BM25 candidates, chosen on calibration's training collection.

    python -m bench.fusion --data ../shared/qa-train

Indexes the 1,500 *training* passages `python -m qa.reader.calibrate` indexes (same seed, same
draw), asks each passage's calibration question that has an answer, and counts how often the first
retrieved chunk comes from the question's passage, and how often the passage is among the
`hits_read` chunks, for reciprocal-rank fusion and for the convex combination of standardised
scores at several dense weights (`Settings.fusion`, `dense_weight`, `rrf_k`). Fusion is
`qa.retrieve.retrieve` itself, so the figures are the product's. Writes `bench/results/fusion.json`;
deterministic for a seed, prints its time.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.common import say
from bench.public_qa import QA_TRAIN

RESULTS = Path(__file__).parent / "results" / "fusion.json"
VARIANTS: dict[str, dict[str, object]] = {
    "rrf k=60": {"fusion": "rrf", "rrf_k": 60},
    "rrf k=20": {"fusion": "rrf", "rrf_k": 20},
    "rrf k=5": {"fusion": "rrf", "rrf_k": 5},
    **{f"convex dense={w}": {"fusion": "convex", "dense_weight": w} for w in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fusion", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(QA_TRAIN))
    parser.add_argument("--passages", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from embeddings.encoder import load_encoder
    from qa.config import Settings
    from qa.index import build_index, load_index
    from qa.query import build_query
    from qa.reader.calibrate import DATASETS, collection_passages, fits, passage_article, passage_questions, passages_of
    from qa.reader.data import load_examples, split
    from qa.retrieve import retrieve

    began = time.time()
    rng = random.Random(args.seed)  # the draw `qa.reader.calibrate` makes: one question per passage
    by_group = passages_of(split(load_examples(Path(args.data), DATASETS))[0])
    _, chosen = collection_passages(by_group, args.passages, rng)
    questions = [e for e in passage_questions(by_group, chosen, 1, rng) if e.answerable]
    articles = {article.id: article for article in (passage_article(by_group[group][0]) for group in chosen)}
    settings = Settings.from_env(show_progress=False)
    encoder = load_encoder(settings.model_name, backend=settings.encoder_backend)
    with tempfile.TemporaryDirectory(prefix="qa-fusion-") as work:
        build_index(list(articles.values()), Path(work) / "index", settings=settings, encoder=encoder, rebuild=True)
        index = load_index(Path(work) / "index", settings=settings.with_(model_name=encoder.name))
        say(f"fusion: {len(articles)} passages indexed, {len(questions)} questions, {time.time() - began:.0f} s")
        first: dict[str, dict[str, list[bool]]] = {name: defaultdict(list) for name in VARIANTS}
        read: dict[str, dict[str, list[bool]]] = {name: defaultdict(list) for name in VARIANTS}
        for example in questions:
            query = build_query(example.question, (), top_k=settings.top_k)
            vector = encoder.encode([query.retrieval_text])[0]
            passage = passage_article(example).id
            part = "fit" if fits(example) else "held back"
            for name, changes in VARIANTS.items():
                hits = retrieve(index, vector, query.retrieval_text, settings=settings.with_(**changes), top_k=settings.hits_read)
                ids = [hit.article.id for hit in hits]
                for key in ("all", part, example.dataset):
                    first[name][key].append(bool(ids) and ids[0] == passage)
                    read[name][key].append(passage in ids)

    def share(values: list[bool]) -> float:
        return round(sum(values) / max(1, len(values)), 4)

    result = {"section": "fusion", "seed": args.seed, "passages": len(articles), "questions": len(questions),
              "hits_read": settings.hits_read, "model": settings.model_name, "encoder_backend": settings.encoder_backend,
              "right_passage_first": {name: {k: share(v) for k, v in sorted(parts.items())} for name, parts in first.items()},
              "passage_among_hits_read": {name: {k: share(v) for k, v in sorted(parts.items())} for name, parts in read.items()},
              "seconds": round(time.time() - began, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name in VARIANTS:
        print(f"{name:20s} right passage first {result['right_passage_first'][name]['all']:.3f} "
              f"(fit {result['right_passage_first'][name]['fit']:.3f}, held back {result['right_passage_first'][name]['held back']:.3f})  "
              f"among {settings.hits_read} read {result['passage_among_hits_read'][name]['all']:.3f}")
    print(f"{result['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
