"""Train the span reader on public QA data: `python -m qa.reader.train --data ../shared/qa-train`.

Each training question becomes a *group*: its answer sentence and a few other sentences of the same
passage (unanswerable questions: sentences only). The reader sees the group at once and learns,
with one softmax over all of the group's tokens and [CLS] positions, where the answer starts and
ends, or that no sentence holds it. Deterministic for a seed; prints its time and held-out scores.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.metrics import auroc, exact_match, token_f1
from qa.reader.data import HELD_OUT_PERCENT, QAExample, load_examples, split
from qa.reader.model import (
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    ReaderConfig,
    SpanReader,
    attach_lora,
    base_model_path,
    encode_question_sentence_pairs,
    lora_arrays,
    read_header,
    save_reader,
)
from qa.text import split_sentences
from qa.types import Span

DATASET_WEIGHTS = {"squad": 0.3, "new_wiki": 0.25, "disfl_qa": 0.15, "quoref": 0.1, "reddit": 0.07, "amazon": 0.07, "drop": 0.06}


@dataclass(frozen=True)
class Group:
    """One question with candidate sentences; `target` is (sentence index, span in it), None when unanswerable."""

    question: str
    sentences: tuple[str, ...]
    target: tuple[int, Span] | None
    dataset: str


def make_group(example: QAExample, negatives: int, rng: random.Random, *, hard_negatives: bool = False,
               withhold_answer: bool = False) -> Group | None:
    """The answer sentence plus `negatives` other sentences of the passage, shuffled; None if unusable.

    The other sentences are random; with `hard_negatives`, half of them are those sharing most words
    with the question (what the shortlist puts beside the answer). With `withhold_answer` the answer
    sentence is left out and the group becomes unanswerable: an on-topic passage that lacks the asked
    fact, the case abstention finds hardest and Disfl-QA alone covers thinly.
    """
    spans = split_sentences(example.context)
    texts = [example.context[s.start : s.end] for s in spans]
    positive, answer = None, None
    if example.answers:
        gold = example.answers[0]
        for i, s in enumerate(spans):
            if s.start <= gold.start and gold.end <= s.end:
                positive, answer = i, Span(gold.start - s.start, gold.end - s.start)
                break
        if positive is None:
            return None
    others = [i for i in range(len(texts)) if i != positive and not example.mentions_answer(texts[i])]
    rng.shuffle(others)
    wanted = negatives + (positive is None or withhold_answer)
    hard: list[int] = []
    if hard_negatives:
        question_words = set(_WORD.findall(example.question.lower()))
        by_overlap = sorted(others, key=lambda i: -len(question_words & set(_WORD.findall(texts[i].lower()))))
        hard = by_overlap[: (wanted + 1) // 2]
    chosen = hard + [i for i in others if i not in hard][: wanted - len(hard)]
    if withhold_answer:
        positive = None
    if positive is not None:
        chosen.append(positive)
    if not chosen:
        return None
    rng.shuffle(chosen)
    target = (chosen.index(positive), answer) if positive is not None and answer is not None else None
    return Group(example.question, tuple(texts[i] for i in chosen), target, example.dataset)


_WORD = re.compile(r"\w{3,}")


def other_passage_sentences(examples: list[QAExample], count: int, *, batch: int = 512) -> dict[str, list[str]]:
    """For each example, the `count` sentences of *other* passages nearest its question by TF-IDF cosine.

    They stand in for what retrieval puts beside the answer at answer time: sentences of other
    articles about the same subject. Sentences holding one of the example's answers are skipped.
    Needs scikit-learn (`pip install 'qa-news[train]'`).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    if count <= 0 or not examples:
        return {}
    passages: dict[tuple[str, str], str] = {}
    for example in examples:
        passages.setdefault((example.dataset, example.group), example.context)
    texts: list[str] = []
    owners: list[tuple[str, str]] = []
    for key, context in passages.items():
        for span in split_sentences(context):
            texts.append(context[span.start : span.end])
            owners.append(key)
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=2)
    pool = vectorizer.fit_transform(texts)
    nearest: dict[str, list[str]] = {}
    for first in range(0, len(examples), batch):
        part = examples[first : first + batch]
        scores = (vectorizer.transform([e.question for e in part]) @ pool.T).toarray()
        for example, row in zip(part, scores, strict=True):
            picked: list[str] = []
            for index in np.argsort(-row, kind="stable")[: 8 * count + 8]:
                if row[index] <= 0 or len(picked) == count:
                    break
                if (owners[index] != (example.dataset, example.group) and texts[index] not in picked
                        and not example.mentions_answer(texts[index])):
                    picked.append(texts[index])
            nearest[example.id] = picked
    return nearest


def with_distractors(group: Group, distractors: list[str], rng: random.Random) -> Group:
    """The group with sentences of other passages mixed in, its target moved with the shuffle."""
    if not distractors:
        return group
    sentences = [*group.sentences, *distractors]
    order = list(range(len(sentences)))
    rng.shuffle(order)
    target = None
    if group.target is not None:
        target = (order.index(group.target[0]), group.target[1])
    return Group(group.question, tuple(sentences[i] for i in order), target, group.dataset)


def token_targets(batch: Any, row: int, answer: Span) -> tuple[int, int] | None:
    """Token positions of the answer's first and last token in one encoded pair."""
    offsets = batch["offset_mapping"][row].tolist()
    context = batch["context_mask"][row].tolist()
    start = end = None
    for position, ((a, b), inside) in enumerate(zip(offsets, context, strict=True)):
        if not inside:
            continue
        if start is None and b > answer.start:
            start = position
        if a < answer.end:
            end = position
    if start is None or end is None or end < start:
        return None
    return start, end


def group_loss(logits: Any, batch: Any, rows: list[int], target: tuple[int, Span] | None) -> Any:
    """Negative log-likelihood of the answer's start and end under the group's shared softmax."""
    import torch

    allowed = batch["context_mask"][rows].clone()
    allowed[:, 0] = True
    losses = []
    for channel in (0, 1):
        scores = logits[rows, :, channel].masked_fill(~allowed, float("-inf")).reshape(-1)
        log_probabilities = torch.log_softmax(scores, dim=0).reshape(len(rows), -1)
        if target is None:
            losses.append(-torch.logsumexp(log_probabilities[:, 0], dim=0))
        else:
            sentence, answer = target
            positions = token_targets(batch, rows[sentence], answer)
            if positions is None:
                return None
            losses.append(-log_probabilities[sentence, positions[channel]])
    return (losses[0] + losses[1]) / 2


def train(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    began = time.time()
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    config = ReaderConfig(trained_layers=args.layers, lora_rank=args.rank, lora_alpha=2.0 * args.rank)
    examples = load_examples(Path(args.data))
    training, held_out = split(examples)
    kept_for_calibration: set[tuple[str, str]] = set()
    if args.leave_calibration_passages or args.unanswerable_share > 0:
        from qa.reader.calibrate import calibration_passages

        kept_for_calibration = calibration_passages(training)
    left_out = 0
    if args.leave_calibration_passages:
        # Calibration fits confidence on readings of its passages' questions: they must be new to the reader.
        kept = [e for e in training if (e.dataset, e.group) not in kept_for_calibration]
        left_out, training = len(training) - len(kept), kept
    rng.shuffle(training)
    by_dataset: dict[str, list[QAExample]] = defaultdict(list)
    for example in training:
        by_dataset[example.dataset].append(example)
    # Wikipedia-style text (SQuAD, new Wikipedia) is nearest to news and gets the largest share;
    # Disfl-QA brings the unanswerable questions; the rest add other domains and question styles.
    total_weight = sum(DATASET_WEIGHTS.get(name, 0.0) for name in by_dataset) or 1.0
    chosen = [e for name, items in sorted(by_dataset.items())
              for e in items[: int(args.questions * DATASET_WEIGHTS.get(name, 0.0) / total_weight)]]
    if args.unanswerable_share > 0:
        # Real unanswerable questions (Disfl-QA's) beyond their share above: as many as make up the asked share.
        taken = {e.id for e in chosen}
        extra = [e for e in training if not e.answerable and e.id not in taken and (e.dataset, e.group) not in kept_for_calibration]
        wanted = int(args.unanswerable_share * len(chosen)) - sum(not e.answerable for e in chosen)
        chosen += extra[: max(0, wanted)]
    rng.shuffle(chosen)
    made = [(e, g) for e in chosen
            if (g := make_group(e, args.negatives, rng, hard_negatives=args.hard_negatives,
                                withhold_answer=args.withheld_share > 0 and e.answerable and rng.random() < args.withheld_share))
            is not None]
    if args.other_passages > 0:
        # Sentences of other passages near the question: answer time reads sentences of several articles together.
        nearest = other_passage_sentences([e for e, _ in made], args.other_passages)
        made = [(e, with_distractors(g, nearest[e.id], rng)) for e, g in made]
    groups = [g for _, g in made]
    unanswerable_groups = sum(g.target is None for g in groups)
    print(f"{len(examples)} examples, {len(training)} for training, {len(held_out)} held out; {len(groups)} training groups ({unanswerable_groups} unanswerable)", flush=True)

    path = base_model_path(config.base_model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    groups = [_short_question(tokenizer, g, config) for g in groups]
    model = AutoModel.from_pretrained(path)
    names = attach_lora(model, config, args.seed)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    if args.init_from:
        start_from(model, names, head, Path(args.init_from), config)
    parameters = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=0.01)
    steps = (len(groups) + args.groups_per_step - 1) // args.groups_per_step * args.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 50) * max(0.0, 1 - step / steps))
    model.train()
    step = 0
    for epoch in range(args.epochs):
        order = list(range(len(groups)))
        rng.shuffle(order)
        running, counted = 0.0, 0
        for first in range(0, len(order), args.groups_per_step):
            members = [groups[i] for i in order[first : first + args.groups_per_step]]
            questions = [g.question for g in members for _ in g.sentences]
            sentences = [s for g in members for s in g.sentences]
            try:
                batch = encode_question_sentence_pairs(tokenizer, questions, sentences, config)
            except Exception as error:  # noqa: BLE001 - one untokenisable batch must not end an hour of training
                print(f"skipped a batch at step {step}: {error}", flush=True)
                continue
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           token_type_ids=batch["token_type_ids"]).last_hidden_state
            logits = head(hidden)
            losses, row = [], 0
            for group in members:
                rows = list(range(row, row + len(group.sentences)))
                row += len(group.sentences)
                loss = group_loss(logits, batch, rows, group.target)
                if loss is not None:
                    losses.append(loss)
            if not losses:
                continue
            total = torch.stack(losses).mean()
            optimizer.zero_grad()
            total.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            running, counted = running + float(total.detach()), counted + 1
            if step % args.checkpoint_steps == 0:
                save_reader(lora_arrays(model, names, head), config, Path(args.out), training={"checkpoint_step": step, "seed": args.seed})
            if step % 50 == 0:
                rate = (first + len(members)) / (time.time() - began)
                print(f"epoch {epoch + 1} step {step}/{steps} loss {running / counted:.3f} ({rate:.1f} groups/s)", flush=True)
                running, counted = 0.0, 0
    trained_seconds = time.time() - began
    model.eval()
    arrays = lora_arrays(model, names, head)
    training_record = {"seed": args.seed, "questions": args.questions, "unanswerable_share": args.unanswerable_share,
                       "init_from": read_header(Path(args.init_from))["sha256"] if args.init_from else None, "negatives": args.negatives, "withheld_share": args.withheld_share, "hard_negatives": args.hard_negatives,
                       "other_passages": args.other_passages,
                       "leave_calibration_passages": args.leave_calibration_passages, "left_out_for_calibration": left_out,
                       "unanswerable_groups": unanswerable_groups, "epochs": args.epochs,
                       "lr": args.lr, "groups": len(groups), "seconds": round(trained_seconds, 1),
                       "datasets": sorted(by_dataset), "held_out_percent": HELD_OUT_PERCENT}
    out = Path(args.out)
    save_reader(arrays, config, out, training=training_record)
    scores = evaluate_reader(SpanReader(out, threads=args.threads), held_out, limit=args.eval_questions, seed=args.seed)
    training_record["held_out"] = scores
    save_reader(arrays, config, out, training=training_record)
    print(f"trained in {trained_seconds:.0f} s; weights {sum(a.nbytes for a in arrays.values()) / 1e6:.2f} MB (uncompressed) in {out}")
    for name, value in scores.items():
        print(f"  {name}: {value}")
    print(f"total {time.time() - began:.0f} s; config {asdict(config)}")
    return scores


def start_from(model: Any, names: list[str], head: Any, folder: Path, config: ReaderConfig) -> None:
    """Continue training from saved weights (their deltas and head), which must have this reader's shape."""
    import torch

    header = read_header(folder)
    if ReaderConfig(**header["config"]) != config:
        raise SystemExit(f"--init-from {folder}: its reader shape {header['config']} differs from this run's {asdict(config)}")
    with np.load(folder / WEIGHTS_FILE) as stored:
        arrays = {name: stored[name].astype(np.float32) for name in stored.files}
    from qa.reader.model import _get

    with torch.no_grad():
        for name in names:
            module = _get(model, name)
            module.lora_a.copy_(torch.from_numpy(arrays[f"{name}.lora_a"]))
            module.lora_b.copy_(torch.from_numpy(arrays[f"{name}.lora_b"] / module.scale))
        head.weight.copy_(torch.from_numpy(arrays["head.weight"]))
        head.bias.copy_(torch.from_numpy(arrays["head.bias"]))


def _short_question(tokenizer: Any, group: Group, config: ReaderConfig) -> Group:
    """The group with its question cut to `max_question_tokens` word pieces (what the reader sees at answer time)."""
    ids = tokenizer(group.question, add_special_tokens=False)["input_ids"]
    if len(ids) <= config.max_question_tokens:
        return group
    return Group(tokenizer.decode(ids[: config.max_question_tokens]), group.sentences, group.target, group.dataset)


def evaluate_reader(reader: SpanReader, held_out: list[QAExample], *, limit: int, seed: int, max_sentences: int = 12,
                    withheld: int = 100) -> dict[str, Any]:
    """Gold-passage scores on held-out questions: the reader reads every sentence of the passage.

    Reports, per dataset: sentence@1 (the best-scored sentence holds the gold span), span EM and
    F1 of the best span, for Disfl-QA the AUROC of `1 - no_answer` between answerable and
    unanswerable questions, and for every dataset the same AUROC against up to `withheld` of its
    answerable questions read with their answer sentences left out (on-topic, no answer).
    """
    rng = random.Random(seed)
    by_dataset: dict[str, list[QAExample]] = defaultdict(list)
    for example in held_out:
        by_dataset[example.dataset].append(example)
    results: dict[str, Any] = {}
    for dataset, items in sorted(by_dataset.items()):
        rng.shuffle(items)
        picked = items[: max(1, limit // len(by_dataset))]
        exact, f1, at_one, answerable_scores, unanswerable_scores = [], [], [], [], []
        withheld_scores: list[float] = []
        for example in picked:
            spans = split_sentences(example.context)[:max_sentences]
            texts = [example.context[s.start : s.end] for s in spans]
            reading = reader.read(example.question, texts)
            if not reading.sentences:
                continue
            best = max(range(len(texts)), key=lambda i: reading.sentences[i].answer_probability)
            confidence = 1 - reading.no_answer
            if not example.answerable:
                unanswerable_scores.append(confidence)
                continue
            answerable_scores.append(confidence)
            found = reading.sentences[best].answer
            predicted = texts[best][found.start : found.end] if found else None
            exact.append(exact_match(predicted, example.answer_texts))
            f1.append(token_f1(predicted, example.answer_texts))
            gold = example.answers[0]
            at_one.append(float(spans[best].start <= gold.start < spans[best].end))
            rest = [t for t in texts if not example.mentions_answer(t)]
            if len(withheld_scores) < withheld and 0 < len(rest) < len(texts):
                withheld_scores.append(1 - reader.read(example.question, rest).no_answer)
        entry: dict[str, Any] = {"questions": len(exact), "sentence_at_1": _mean(at_one), "span_em": _mean(exact), "span_f1": _mean(f1)}
        if unanswerable_scores:
            entry["unanswerable"] = len(unanswerable_scores)
            entry["abstention_auroc"] = round(auroc(answerable_scores, unanswerable_scores), 3)
        if withheld_scores:
            entry["withheld_auroc"] = round(auroc(answerable_scores, withheld_scores), 3)
        results[dataset] = entry
    return results


def _mean(values: list[float]) -> float:
    return round(float(np.mean(values)), 3) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa.reader.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/qa-train", help="folder of the public QA files (shared/qa-train)")
    parser.add_argument("--out", default=str(WEIGHTS_DIR), help="where the weights go (default: the package's own)")
    parser.add_argument("--questions", type=int, default=10000, help="training questions, shared out by DATASET_WEIGHTS")
    parser.add_argument("--negatives", type=int, default=2, help="other sentences of the passage per question")
    parser.add_argument("--withheld-share", type=float, default=0.0,
                        help="share of answerable questions trained as unanswerable with their answer sentence left out "
                             "(tried at 0.2 with --hard-negatives: worse abstention on held-out data, docs/reader.md)")
    parser.add_argument("--other-passages", type=int, default=0,
                        help="sentences of other passages nearest the question (TF-IDF) added to each group, as retrieval adds them")
    parser.add_argument("--hard-negatives", action="store_true", help="half the other sentences share most words with the question")
    parser.add_argument("--unanswerable-share", type=float, default=0.0,
                        help="add real unanswerable questions (Disfl-QA's) until they are this share of the groups")
    parser.add_argument("--leave-calibration-passages", action="store_true",
                        help="train on no question of the passages `calibrate` indexes (with its defaults), so calibration "
                             "reads questions new to the reader")
    parser.add_argument("--init-from", help="continue from these weights (a folder with reader.npz and reader.json) instead of zero deltas")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--groups-per-step", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1.5e-3)
    parser.add_argument("--layers", type=int, default=4, help="top transformer layers that get LoRA deltas")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--checkpoint-steps", type=int, default=200, help="save the weights every this many steps")
    parser.add_argument("--eval-questions", type=int, default=1400, help="held-out questions scored at the end")
    train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
