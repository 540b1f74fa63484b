"""qa eval's metrics and its reading of question files, on hand-made answers (no model)."""

from __future__ import annotations

import json

import pytest

from qa.errors import IngestError
from qa.evaluate import (
    EvalItem,
    normalize_answer,
    read_eval_file,
    score_item,
    span_f1,
    summarize,
)
from qa.types import Answer, Citation


def _citation(title: str, quote: str = "q", start: int | None = None, end: int | None = None) -> Citation:
    return Citation(article_id=title[:4], title=title, published=None, sources=("a.txt",), url=None, quote=quote,
                    start=0, end=len(quote), answer_start=start, answer_end=end, score=1.0)


def _item(answers=("Jane Hostile",), title="Mayor News", type_="person") -> EvalItem:
    return EvalItem(id="x", question="Who is the mayor?", answers=tuple(answers), title=title, type=type_, history=())


def test_squad_normalisation_and_f1():
    assert normalize_answer("The  “Port” of Selin!") == "port of selin"
    assert span_f1("the harbour of Port Selin", "Port Selin") == pytest.approx(2 / 3)  # precision 2/4, recall 1
    assert span_f1("Port Selin", "Port Selin") == 1.0
    assert span_f1("Dornbach", "Port Selin") == 0.0
    assert span_f1("", "Port Selin") == 0.0  # qa.metrics.token_f1: an empty span scores nothing


def test_score_item_ranks_the_gold_article_and_checks_containment_and_span():
    quote = "The mayor is Jane Hostile, who was elected in May."
    answer = Answer(question="Who is the mayor?", text=quote, found=True, confidence=0.8,
                    citations=(_citation("Other Story"), _citation("Mayor News", quote, 13, 25)), span="Jane Hostile")
    row = score_item(_item(), answer, 0.25)
    assert (row["hit@1"], row["hit@5"], row["rr"], row["contained"], row["em"], row["f1"]) == (False, True, 0.5, True, 1.0, 1.0)
    missed = Answer(question="Who is the mayor?", text="These articles do not contain the answer.", found=False, confidence=0.1)
    row = score_item(_item(), missed, 0.1)
    assert (row["hit@1"], row["rr"], row["contained"], row["em"], row["f1"]) == (False, 0.0, False, 0.0, 0.0)


def test_summarize_counts_abstention_and_latency():
    def row(type_, answerable, found, hit=True, seconds=0.1):
        return {"type": type_, "answerable": answerable, "found": found, "hit@1": hit, "hit@5": hit, "rr": float(hit),
                "contained": found and answerable, "em": 1.0 if found and answerable else 0.0,
                "f1": 1.0 if found and answerable else 0.0, "seconds": seconds}

    rows = [row("person", True, True), row("person", True, False), row("none", False, False, hit=False),
            row("none", False, True, hit=False, seconds=0.3)]
    summary = summarize(rows)
    overall = summary["overall"]
    assert overall["questions"] == 4
    assert (overall["hit@1"], overall["answer_contained"], overall["wrongly_abstained"]) == (1.0, 0.5, 0.5)
    assert overall["abstention_precision"] == 0.5  # of two abstentions, one was right
    assert overall["abstention_recall"] == 0.5  # of two unanswerable questions, one abstained
    assert summary["by_type"]["none"]["abstention_recall"] == 0.5
    assert summary["latency_ms"]["p50"] == pytest.approx(100.0)
    assert summary["latency_ms"]["p95"] == pytest.approx(270.0)


def test_read_eval_file_reads_the_dev_format(tmp_path):
    path = tmp_path / "q.jsonl"
    lines = [{"id": "a", "question": "Who?", "answers": ["X"], "title": "T", "type": "person"},
             {"question": "And when?", "answers": [], "history": ["Who?"], "type": "unanswerable"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", encoding="utf-8")
    first, second = read_eval_file(path)
    assert first == EvalItem(id="a", question="Who?", answers=("X",), title="T", type="person", history=())
    assert (second.id, second.answerable, second.history) == ("2", False, ("Who?",))


def test_read_eval_file_keeps_a_record_whose_text_holds_a_line_separator(tmp_path):
    path = tmp_path / "q.jsonl"
    record = {"question": "Who opened the pier?\u2028Which year?", "answers": ["Ada\u2029Quay"]}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\r\n", encoding="utf-8")
    (item,) = read_eval_file(path)
    assert (item.question, item.answers) == (record["question"], ("Ada\u2029Quay",))


@pytest.mark.parametrize(("content", "message"), [
    ("", "holds no questions"),
    ("\n\n", "holds no questions"),
    ('{"question": "Who?", "answers": "Imangali"}\n', ":1: not an eval record ('answers' must be a list of strings"),
    ('{"answers": ["X"]}\n', ":1: not an eval record ('question' must be a string"),
    ('["Who?"]\n', ":1: not an eval record (a JSON list, not an object"),
    ('{"question": "Who?"}\n{broken\n', ":2: not an eval record"),
    ('{"question": "Who?", "history": "Earlier?"}\n', ":1: not an eval record ('history' must be a list"),
])
def test_read_eval_file_rejects_bad_files_with_the_line(tmp_path, content, message):
    path = tmp_path / "q.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IngestError, match=message.replace("(", r"\(").replace("[", r"\[")):
        read_eval_file(path)
