"""Evaluate an Assistant on a JSONL question set: retrieval, answer, span and abstention metrics."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.errors import IngestError
from qa.metrics import contains_answer, normalize_answer, token_f1
from qa.types import Answer


@dataclass(frozen=True)
class EvalItem:
    """One question of an eval file (the format of shared/eval/dev.jsonl)."""

    id: str
    question: str
    answers: tuple[str, ...]
    title: str | None
    type: str
    history: tuple[str, ...]

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


def read_eval_file(path: Path) -> list[EvalItem]:
    """Questions from a JSONL file; each line needs `question`, and `answers` unless unanswerable."""
    items = []
    try:
        lines = Path(path).read_text(encoding="utf-8").split("\n")  # not splitlines: U+2028 may sit inside a record
    except OSError as error:
        raise IngestError(f"cannot read eval file {path}: {error.strerror}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise TypeError(f"a JSON {type(record).__name__}, not an object")
            answers, history = record.get("answers") or [], record.get("history") or []
            if not isinstance(record.get("question"), str):
                raise TypeError("'question' must be a string")
            if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
                raise TypeError(f"'answers' must be a list of strings, got {answers!r:.60}")
            if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
                raise TypeError(f"'history' must be a list of earlier questions, got {history!r:.60}")
            items.append(EvalItem(
                id=str(record.get("id", number)), question=record["question"], answers=tuple(answers),
                title=record.get("title"), type=record.get("type", "unknown"), history=tuple(history),
            ))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise IngestError(f"{path}:{number}: not an eval record ({error}); each line needs a JSON object with "
                              "'question', and 'answers' (a list of strings) unless it has no answer") from error
    if not items:
        raise IngestError(f"{path} holds no questions: write one JSON object per line with 'question' and 'answers'")
    return items


def span_f1(prediction: str, gold: str) -> float:
    """Token F1 of a span against one gold answer (SQuAD normalisation)."""
    return token_f1(prediction, [gold])


def _same_title(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and normalize_answer(a) == normalize_answer(b)


def score_item(item: EvalItem, answer: Answer, seconds: float) -> dict:
    """Per-question measurements (booleans and floats) for `summarize`."""
    rank = next((i + 1 for i, c in enumerate(answer.citations) if _same_title(c.title, item.title)), None)
    span = answer.span or ""
    return {
        "id": item.id, "type": item.type, "answerable": item.answerable, "found": answer.found,
        "hit@1": rank == 1, "hit@5": rank is not None and rank <= 5, "rr": 1.0 / rank if rank else 0.0,
        "contained": answer.found and bool(contains_answer(answer.text, item.answers)),  # whole words: "10" is not in "2010"
        "em": max((float(normalize_answer(span) == normalize_answer(g)) for g in item.answers), default=0.0) if span else 0.0,
        "f1": max((span_f1(span, g) for g in item.answers), default=0.0) if span else 0.0,
        "seconds": seconds, "answer": answer.text, "span": answer.span, "confidence": answer.confidence,
        "top_title": answer.citations[0].title if answer.citations else None,
    }


def summarize(rows: list[dict]) -> dict:
    """Aggregate metrics overall and by question type."""
    def block(subset: list[dict]) -> dict:
        answerable = [r for r in subset if r["answerable"]]
        unanswerable = [r for r in subset if not r["answerable"]]
        abstained = [r for r in subset if not r["found"]]
        out: dict[str, float | None] = {"questions": len(subset)}
        if answerable:
            n = len(answerable)
            out.update({
                "hit@1": sum(r["hit@1"] for r in answerable) / n, "hit@5": sum(r["hit@5"] for r in answerable) / n,
                "mrr": sum(r["rr"] for r in answerable) / n, "answer_contained": sum(r["contained"] for r in answerable) / n,
                "span_em": sum(r["em"] for r in answerable) / n, "span_f1": sum(r["f1"] for r in answerable) / n,
                "wrongly_abstained": sum(not r["found"] for r in answerable) / n,
            })
        if unanswerable or abstained:
            correct = sum(not r["found"] for r in unanswerable)
            out["abstention_precision"] = correct / len(abstained) if abstained else None
            out["abstention_recall"] = correct / len(unanswerable) if unanswerable else None
        return out

    seconds = sorted(r["seconds"] for r in rows)
    summary = {"overall": block(rows), "by_type": {t: block([r for r in rows if r["type"] == t]) for t in sorted({r["type"] for r in rows})}}
    summary["latency_ms"] = {"p50": _percentile(seconds, 50) * 1000, "p95": _percentile(seconds, 95) * 1000}
    return summary


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    position = (len(values) - 1) * q / 100
    low, high = int(position), min(int(position) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def evaluate(assistant, items: list[EvalItem], *, top_k: int = 5) -> dict:
    """Ask every question (with its history) and return {"summary", "rows"}."""
    rows = []
    assistant.ask(items[0].question if items else "warm up")  # loads the models so latency is per question
    for item in items:
        started = time.perf_counter()
        answer = assistant.ask(item.question, history=list(item.history) or None, top_k=top_k)
        rows.append(score_item(item, answer, time.perf_counter() - started))
    return {"summary": summarize(rows), "rows": rows}


def format_table(summary: dict) -> str:
    """A plain-text table of the summary, one row per question type."""
    columns = ["questions", "hit@1", "hit@5", "mrr", "answer_contained", "span_em", "span_f1", "wrongly_abstained",
               "abstention_precision", "abstention_recall"]
    titles = ["n", "hit@1", "hit@5", "mrr", "contained", "span_em", "span_f1", "wrong_abst", "abst_prec", "abst_rec"]
    header = f"{'type':14}" + "".join(f"{t:>12}" for t in titles)
    lines = [header, "-" * len(header)]
    for name, block in [("overall", summary["overall"]), *summary["by_type"].items()]:
        cells = []
        for column in columns:
            value = block.get(column)
            cells.append(f"{'':>12}" if value is None else f"{value:>12}" if isinstance(value, int) else f"{value:>12.3f}")
        lines.append(f"{name:14}" + "".join(cells))
    latency = summary["latency_ms"]
    lines.append(f"latency: p50 {latency['p50']:.0f} ms, p95 {latency['p95']:.0f} ms")
    return "\n".join(lines)


__all__ = ["EvalItem", "asdict", "evaluate", "format_table", "normalize_answer", "read_eval_file", "summarize"]
