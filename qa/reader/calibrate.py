"""Fit the shortlist, sentence and confidence models and the `found` threshold on an open collection.

    python -m qa.reader.calibrate --data ../shared/qa-train

Passages of the *training* part of the public QA data become a collection of articles, indexed
with the real encoder; its questions go through retrieval and the trained reader as in
`Assistant.ask`. Abstention learns from three kinds of questions the collection cannot answer:
Disfl-QA's unanswerable ones, questions about passages left out, and questions whose passage is
indexed without the sentences that hold their answer (on-topic, from every dataset). Questions are split by passage: three quarters fit the three logistic
regressions, the rest chooses the threshold (the confidence below which at most
`--false-not-found` of the answerable questions of `--threshold-datasets` fall: typed questions, all
but Disfl-QA's spoken-style ones) and measures calibration. Deterministic for a
seed; prints its time and scores. Needs scikit-learn (`pip install 'qa-news[train]'`).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer import confidence_features, score_sentences
from qa.config import Settings
from qa.metrics import auroc, contains_answer
from qa.reader.calibration import (
    CONFIDENCE_FEATURES,
    SENTENCE_FEATURES,
    Calibration,
    neutral_calibration,
)
from qa.reader.data import QAExample, load_examples, split
from qa.reader.features import (
    SHORTLIST_FEATURES,
    Candidate,
    LinearModel,
    shortlist,
)
from qa.reader.model import WEIGHTS_DIR, read_header

DATASETS = ("squad", "new_wiki", "reddit", "amazon", "quoref", "disfl_qa")
# The answerable questions that set the threshold: typed ones, as a chat user writes them. Disfl-QA's are spoken-style
# repairs ("What is the, no sorry, how many ..."), which score low and would pull the threshold down for everyone
# (a fifth of them fall below it); its unanswerable questions still teach abstention (docs/reader.md).
TYPED_DATASETS = ("squad", "new_wiki", "reddit", "amazon", "quoref")


@dataclass(frozen=True)
class Asked:
    """One calibration question after retrieval: its candidates and which hold the gold answer."""

    example: QAExample
    candidates: list[Candidate]
    labels: list[int]
    fit: bool


def passage_article(example: QAExample) -> Any:
    """A passage as a news-like article: the Wikipedia title where the set has one, else its first words."""
    from qa.ingest.identity import make_article

    title = example.title if example.title and example.dataset in ("squad", "new_wiki") else " ".join(example.context.split()[:8])
    return make_article(title, example.context, url=f"public://{example.dataset}/{example.group}")


def without_answer(example: QAExample) -> str:
    """The passage without the sentences that hold any of the example's answers."""
    from qa.text import split_sentences

    kept = [example.context[s.start : s.end] for s in split_sentences(example.context)]
    return " ".join(t for t in kept if not example.mentions_answer(t))


def answerable_here(example: QAExample, beyond_collection: set[str]) -> bool:
    """Whether the collection holds the example's answer (`beyond_collection`: ids of questions it cannot answer)."""
    return example.answerable and example.id not in beyond_collection


def holds_answer(candidate: Candidate, example: QAExample) -> int:
    return int(candidate.article.url == f"public://{example.dataset}/{example.group}" and bool(contains_answer(candidate.text, example.answer_texts)))


def collection_passages(by_group: dict[tuple[str, str], list[QAExample]], passages: int,
                        rng: random.Random) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """All passages in a seeded order, and the ones calibration indexes (an equal share per dataset)."""
    groups = sorted(by_group)
    rng.shuffle(groups)
    per_dataset = max(1, passages // len(DATASETS))
    chosen: list[tuple[str, str]] = []
    for dataset in DATASETS:
        chosen.extend([g for g in groups if g[0] == dataset][:per_dataset])
    return groups, chosen


def passages_of(examples: Iterable[QAExample]) -> dict[tuple[str, str], list[QAExample]]:
    """Questions by (dataset, passage), for the datasets calibration draws from."""
    by_group: dict[tuple[str, str], list[QAExample]] = defaultdict(list)
    for example in examples:
        if example.dataset in DATASETS:
            by_group[(example.dataset, example.group)].append(example)
    return by_group


def passage_questions(by_group: dict[tuple[str, str], list[QAExample]], chosen_groups: list[tuple[str, str]],
                      questions_per_passage: int, rng: random.Random) -> list[QAExample]:
    """The questions asked about the indexed passages: a seeded few per passage, and every unanswerable one.

    On-topic unanswerable questions are rare, and abstention needs them.
    """
    questions: list[QAExample] = []
    for group in chosen_groups:
        items = by_group[group]
        rng.shuffle(items)
        questions.extend(items[:questions_per_passage] + [e for e in items[questions_per_passage:] if not e.answerable])
    return questions


def fits(example: QAExample) -> bool:
    """Whether a question is among the three quarters of passages that fit the models (the rest check them)."""
    return int(hashlib.sha1(example.group.encode()).hexdigest(), 16) % 4 != 0


def calibration_passages(examples: list[QAExample], *, passages: int = 1500, seed: int = 13) -> set[tuple[str, str]]:
    """The (dataset, passage) pairs `calibrate` indexes with these defaults: training can leave their questions to it."""
    return set(collection_passages(passages_of(examples), passages, random.Random(seed))[1])


def fit_logistic(rows: np.ndarray, labels: np.ndarray, names: tuple[str, ...], seed: int) -> LinearModel:
    from sklearn.linear_model import LogisticRegression

    if len(set(labels.tolist())) < 2:
        return LinearModel(names, tuple(0.0 for _ in names), 0.0)
    model = LogisticRegression(C=1.0, max_iter=2000, random_state=seed).fit(rows, labels)
    return LinearModel(names, tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def calibrate(args: argparse.Namespace, *, encoder: Any = None, reader: Any = None) -> Calibration:
    """Build the collection, collect features, fit and save; returns the Calibration."""
    from qa.assistant import Assistant
    from qa.index import build_index, load_index
    from qa.query import build_query

    began = time.time()
    rng = random.Random(args.seed)
    by_group = passages_of(split(load_examples(Path(args.data), DATASETS))[0])
    groups, chosen_groups = collection_passages(by_group, args.passages, rng)
    questions = passage_questions(by_group, chosen_groups, args.questions_per_passage, rng)
    # Questions about passages left out of the collection: what a user asks that the archive does not cover.
    in_collection = set(chosen_groups)
    outside = [g for g in groups if g not in in_collection and g[0] in DATASETS][: args.off_collection]
    beyond_collection = {by_group[g][0].id for g in outside}
    withheld: set[str] = set()
    questions.extend(by_group[g][0] for g in outside)
    articles = {}
    for group in chosen_groups:
        article = passage_article(by_group[group][0])
        articles[article.id] = article
    # On-topic questions the collection cannot answer, from every dataset: a passage goes in without the
    # sentences that hold its question's answer (the article is about the topic, the fact is missing).
    taken = in_collection | set(outside)
    withheld_passages = [g for g in groups if g not in taken and any(e.answerable for e in by_group[g])]
    for group in withheld_passages[: args.withheld]:
        example = next(e for e in by_group[group] if e.answerable)
        article = passage_article(replace(example, context=without_answer(example)))
        if article.body.strip():
            articles[article.id] = article
            beyond_collection.add(example.id)
            withheld.add(example.id)
            questions.append(example)
    settings = Settings.from_env(show_progress=False)
    work = Path(tempfile.mkdtemp(prefix="qa-calibrate-"))
    try:
        from embeddings.encoder import load_encoder

        encoder = encoder or load_encoder(settings.model_name, backend=settings.encoder_backend)
        build_index(list(articles.values()), work / "index", settings=settings, encoder=encoder, rebuild=True)
        index = load_index(work / "index", settings=settings.with_(model_name=encoder.name))
        assistant = Assistant(index, settings=settings, encoder=encoder, reader=reader or _span_reader(args, settings), calibration=neutral_calibration())
        print(f"collection: {len(articles)} passages, {len(questions)} questions ({sum(not q.answerable for q in questions)} "
              f"unanswerable, {len(beyond_collection) - len(withheld)} about passages outside it, {len(withheld)} with the answer left out), indexed in {time.time() - began:.0f} s", flush=True)

        asked: list[Asked] = []
        for example in questions:
            candidates = assistant.candidates(build_query(example.question, (), top_k=settings.top_k))
            asked.append(Asked(example, candidates, [holds_answer(c, example) for c in candidates], fits(example)))
    finally:  # the temporary collection is only needed to ask the questions
        shutil.rmtree(work, ignore_errors=True)

    fitting = [a for a in asked if a.fit and a.candidates]
    rows = np.array([c.vector(SHORTLIST_FEATURES) for a in fitting for c in a.candidates])
    labels = np.array([label for a in fitting for label in a.labels])
    shortlist_model = fit_logistic(rows, labels, SHORTLIST_FEATURES, args.seed)

    read: list[tuple[Asked, list, Any]] = []
    recall = []
    for item in asked:
        chosen = shortlist(item.candidates, shortlist_model, settings.reader_sentences)
        reading = assistant.reader.read(item.example.question,
                                        [c.text for c, _ in chosen])
        read.append((item, chosen, reading))
        if answerable_here(item.example, beyond_collection) and any(item.labels):
            recall.append(float(any(holds_answer(c, item.example) for c, _ in chosen)))
    neutral = neutral_calibration()
    sentence_rows, sentence_labels = [], []
    for item, chosen, reading in read:
        if not item.fit:
            continue
        for sentence in score_sentences(chosen, reading, neutral):
            sentence_rows.append([sentence.features[name] for name in SENTENCE_FEATURES])
            sentence_labels.append(holds_answer(sentence.candidate, item.example))
    sentence_model = fit_logistic(np.array(sentence_rows), np.array(sentence_labels), SENTENCE_FEATURES, args.seed)
    staged = Calibration(shortlist_model, sentence_model, neutral.confidence, 0.5, "", {})

    confidence_rows: dict[bool, list[list[float]]] = {True: [], False: []}
    confidence_labels: dict[bool, list[int]] = {True: [], False: []}
    answerable_flags: list[bool] = []
    kinds: list[str] = []
    datasets: list[str] = []
    for item, chosen, reading in read:
        scored = score_sentences(chosen, reading, staged)
        if not scored:
            continue
        features = confidence_features(scored)
        confidence_rows[item.fit].append([features[name] for name in CONFIDENCE_FEATURES])
        confidence_labels[item.fit].append(holds_answer(scored[0].candidate, item.example)
                                           if answerable_here(item.example, beyond_collection) else 0)
        if not item.fit:
            datasets.append(item.example.dataset)
            answerable_flags.append(answerable_here(item.example, beyond_collection))
            kinds.append("withheld_answer" if item.example.id in withheld else
                         "off_collection" if item.example.id in beyond_collection else
                         "answerable" if item.example.answerable else "on_topic_unanswerable")
    confidence_model = fit_logistic(np.array(confidence_rows[True]), np.array(confidence_labels[True]), CONFIDENCE_FEATURES, args.seed)
    check = confidence_model.probability(np.array(confidence_rows[False])) if confidence_rows[False] else np.zeros(0)
    check_labels = np.array(confidence_labels[False])
    answerable = np.array(answerable_flags, dtype=bool)
    # The threshold keeps `false_not_found` of the answerable questions of `threshold_datasets` below it (all when empty).
    dataset_of = np.array(datasets)
    chosen_sets = set(args.threshold_datasets.split(",")) if args.threshold_datasets else set(datasets)
    defining = answerable & np.isin(dataset_of, sorted(chosen_sets))
    threshold = float(np.quantile(check[defining], args.false_not_found)) if defining.any() else 0.5
    record = {
        "seed": args.seed, "reader_sentences": settings.reader_sentences, "fusion": settings.fusion, "dense_weight": settings.dense_weight,
        "passages": len(articles), "questions": len(questions), "seconds": round(time.time() - began, 1),
        "fit_questions": sum(a.fit for a in asked), "threshold_questions": sum(not a.fit for a in asked),
        "false_not_found_target": args.false_not_found,
        "shortlist_recall": round(float(np.mean(recall)), 3) if recall else None,
        "off_collection_questions": len(beyond_collection) - len(withheld), "withheld_answer_questions": len(withheld),
        "check": _check_scores(check, check_labels, answerable, threshold),
        "caught_by_kind": {kind: round(float((check[np.array(kinds) == kind] < threshold).mean()), 3)
                           for kind in sorted(set(kinds))} if kinds else {},
        "threshold_datasets": sorted(chosen_sets),
        "answerable_not_found_by_dataset": {
            name: round(float((check[answerable & (dataset_of == name)] < threshold).mean()), 3)
            for name in sorted(set(datasets)) if (answerable & (dataset_of == name)).any()},
    }
    header = read_header(Path(args.weights)) if (Path(args.weights) / "reader.json").is_file() else {"sha256": ""}
    calibration = Calibration(shortlist_model, sentence_model, confidence_model, threshold, header["sha256"], record)
    if not args.dry_run:
        calibration.save(Path(args.weights))
    print(f"calibrated in {time.time() - began:.0f} s: threshold {threshold:.3f}")
    for name, value in record.items():
        print(f"  {name}: {value}")
    return calibration


def _check_scores(confidence: np.ndarray, right: np.ndarray, answerable: np.ndarray, threshold: float) -> dict[str, Any]:
    """Held-back scores: abstention at the threshold, AUROC, and a reliability table (10 bins)."""
    if confidence.size == 0:
        return {}
    bins = []
    for low in np.linspace(0, 0.9, 10):
        inside = (confidence >= low) & (confidence < low + 0.1 + (1e-9 if low >= 0.9 else 0))
        if inside.any():
            bins.append({"bin": f"{low:.1f}-{low + 0.1:.1f}", "count": int(inside.sum()), "mean_confidence": round(float(confidence[inside].mean()), 3),
                         "right": round(float(right[inside].mean()), 3)})
    curve = []
    for t in np.linspace(0, 1, 21):
        curve.append({"threshold": round(float(t), 2),
                      "answerable_not_found": round(float((confidence[answerable] < t).mean()), 3) if answerable.any() else None,
                      "unanswerable_caught": round(float((confidence[~answerable] < t).mean()), 3) if (~answerable).any() else None})
    return {
        "questions": int(confidence.size), "unanswerable": int((~answerable).sum()),
        "right_at_top": round(float(right[answerable].mean()), 3) if answerable.any() else None,
        "answerable_not_found": round(float((confidence[answerable] < threshold).mean()), 3) if answerable.any() else None,
        "unanswerable_caught": round(float((confidence[~answerable] < threshold).mean()), 3) if (~answerable).any() else None,
        "auroc_answerable_vs_unanswerable": round(auroc(confidence[answerable].tolist(), confidence[~answerable].tolist()), 3),
        "auroc_right_vs_rest": round(auroc(confidence[right == 1].tolist(), confidence[right == 0].tolist()), 3),
        "brier": round(float(np.mean((confidence - right) ** 2)), 4),
        "reliability": bins,
        "curve": curve,
    }


def _span_reader(args: argparse.Namespace, settings: Settings) -> Any:
    """The reader as answering runs it (`settings.reader_backend`), so calibration fits what users get."""
    from qa.reader.model import SpanReader

    return SpanReader.from_settings(settings, Path(args.weights), threads=args.threads)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.reader.calibrate", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/qa-train", help="folder of the public QA files (shared/qa-train)")
    parser.add_argument("--weights", default=str(WEIGHTS_DIR), help="reader weights folder; calibration.json is written there")
    parser.add_argument("--passages", type=int, default=1500, help="passages in the collection, split equally over the datasets")
    parser.add_argument("--questions-per-passage", type=int, default=1)
    parser.add_argument("--off-collection", type=int, default=300, help="questions about passages left out of the collection")
    parser.add_argument("--withheld", type=int, default=0,
                        help="questions whose passage is indexed without the sentences holding the answer "
                             "(tried at 300: fewer unanswerable questions caught on held-out data, docs/reader.md)")
    parser.add_argument("--false-not-found", type=float, default=0.05, help="share of answerable questions allowed below the threshold")
    parser.add_argument("--threshold-datasets", default=",".join(TYPED_DATASETS),
                        help="comma-separated datasets whose answerable questions set the threshold, empty for all "
                             "(default: the typed ones, all but Disfl-QA)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--dry-run", action="store_true", help="fit and print, write nothing")
    calibrate(parser.parse_args(argv))


if __name__ == "__main__":
    main()
