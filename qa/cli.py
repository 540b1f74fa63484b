"""Command line: `qa index`, `qa stats`, `qa ask`, `qa chat`, `qa eval`, `qa serve`. Typed errors exit with code 2."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from embeddings.encoder import EncoderError
from qa.config import Settings
from qa.errors import ConfigError, QAError, QuestionError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(model_name=getattr(args, "model", None), index_dir=getattr(args, "index", None),
                                     show_progress=False if getattr(args, "quiet", False) else None, store=getattr(args, "store", None),
                                     allow_upload=getattr(args, "allow_upload", None))
        _check_store(settings)
        return args.run(args, settings)
    except (QAError, EncoderError) as error:
        print(_error_line(error), file=sys.stderr)
        return 2
    except BrokenPipeError:  # `qa ask ... | head -1`: the reader left; end quietly, as other command-line tools do
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # disk full, permission denied, ...: one line, not a traceback
        where = f": {error.filename}" if error.filename else ""
        print(f"error: {_inert(error.strerror or str(error))}{_inert(str(where))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of a collection of news articles.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def add(name: str, run, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(run=run)
        sub.add_argument("--index", type=Path, help="index directory (default: the demo index in your cache directory)")
        sub.add_argument("--model", help="sentence-transformers model name or path (default: all-MiniLM-L6-v2)")
        sub.add_argument("--store", metavar="URI", help="where the index lives: faiss (default, the --index folder), a Milvus Lite "
                         "file ending in .db, or a Milvus server http://host:19530 (docs/scale-out.md)")
        return sub

    index = add("index", _run_index, "Index article files and folders (scraped pages, .txt/.md, .json/.jsonl/.csv, .html, RSS/Atom feeds, .gz, .zip).")
    index.add_argument("sources", nargs="+", type=Path, help="files or folders to index")
    index.add_argument("--rebuild", action="store_true", help="embed everything again instead of updating")
    index.add_argument("--quiet", action="store_true", help="no progress bars")
    index.add_argument("--no-wait", action="store_true",
                       help="fail at once (exit 2) if another `qa index` is writing the same index, instead of waiting for it")
    index.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="embed on a Ray cluster (an actor pool of encoders; QA_RAY_WORKERS of them): its address, "
                            "or nothing to start one on this machine")

    stats = add("stats", _run_stats, "Describe an index: articles, chunks, model, dates.")
    stats.add_argument("--json", action="store_true", help="print JSON")

    ask = add("ask", _run_ask, "Answer a question with cited sentences from the articles.")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")
    ask.add_argument("--top-k", type=int, help="number of citations")
    ask.add_argument("--since", type=_date, help="only articles published on or after YYYY-MM-DD")
    ask.add_argument("--until", type=_date, help="only articles published on or before YYYY-MM-DD")
    ask.add_argument("--history", action="append", default=[], metavar="QUESTION", help="an earlier question (repeat, oldest first)")
    ask.add_argument("--local", action="store_true",
                     help="answer in this process even when a `qa serve` of the same index is running (by default it is asked: faster)")

    chat = add("chat", _run_chat, "Ask questions one after another (typed, or one per line on standard input); "
                                  "follow-ups draw on the conversation.")
    chat.add_argument("--top-k", type=int, help="number of citations")
    chat.add_argument("--since", type=_date, help="only articles published on or after YYYY-MM-DD")
    chat.add_argument("--until", type=_date, help="only articles published on or before YYYY-MM-DD")

    evaluate = add("eval", _run_eval, "Score answers against a JSONL file of questions with gold answers.")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--json", action="store_true", help="print the summary and per-question rows as JSON")
    evaluate.add_argument("--top-k", type=int, default=5)

    serve = add("serve", _run_serve, "Run the browser chat.")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--examples", type=Path, metavar="FILE",
                       help="example questions to show, one per line (default: the demo questions, for the demo index only)")
    serve.add_argument("--allow-upload", action="store_true", default=None,
                       help="let visitors add articles to a collection of their own session (also QA_ALLOW_UPLOAD=1)")
    return parser


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and top_k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {top_k}")


def _error_line(error: Exception) -> str:
    """A typed error as one inert line for the terminal."""
    return f"error: {_inert(' '.join(str(error).split()))}"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD") from None


def _index_dir(settings: Settings) -> Path:
    return settings.resolved_index_dir


def _check_store(settings: Settings) -> None:
    from qa.store import check_store

    check_store(settings)


def _run_index(args, settings: Settings) -> int:
    from qa.assistant import index_sources

    encoder = None
    if args.ray is not None:
        from qa.ray_embed import ray_encoder

        encoder = ray_encoder(settings, args.ray)
    try:
        report = index_sources(args.sources, _index_dir(settings), settings=settings, rebuild=args.rebuild, encoder=encoder,
                               on_progress=lambda message: print(_inert(message), file=sys.stderr), wait=not args.no_wait)
    finally:
        if encoder is not None:
            encoder.close()
    for problem in report.skipped:
        print(_inert(f"skipped {problem}"), file=sys.stderr)
    for cut in report.shortened:
        print(_inert(f"cut {cut}"), file=sys.stderr)
    for note in report.notes:
        print(_inert(f"note: {note}"), file=sys.stderr)
    cut_count = f", {len(report.shortened)} cut to the size limit" if report.shortened else ""
    print(f"read {report.files_read} files: {report.articles} articles ({report.duplicates_merged} duplicate copies merged, "
          f"{len(report.skipped)} skipped{cut_count})")
    print(f"added {report.added}, updated {report.updated}, removed {report.removed}, unchanged {report.unchanged}; "
          f"embedded {report.chunks_embedded} of {report.chunks} chunks in {report.seconds:.1f} s")
    print(f"index: {report.index_dir}" if settings.store == "faiss" else f"index: {settings.milvus_collection} in {settings.store}")
    return 0


def _run_stats(args, settings: Settings) -> int:
    from qa.assistant import ensure_default_index
    from qa.index import load_index

    if settings.store != "faiss":
        return _print_stats(_milvus_stats(settings), as_json=args.json)
    if args.index is None and settings.index_dir is None:
        ensure_default_index(settings)  # as `ask` and `eval` do: the demo index is built on first use
    index = load_index(_index_dir(settings), settings=settings, check_model=False)
    earliest, latest = index.date_range()
    stats = {
        "index_dir": str(_index_dir(settings)), "generation": index.path.name, "model_name": index.model_name,
        "dimension": index.vectors.dimension, "index_kind": index.vectors.kind, "articles": len(index.articles),
        "chunks": len(index.chunks), "truncated_articles": sum(a.truncated for a in index.articles.values()),
        "earliest": earliest.isoformat() if earliest else None, "latest": latest.isoformat() if latest else None,
        "corpus_hash": index.manifest["corpus_hash"], "built_at": index.manifest["built_at"],
    }
    return _print_stats(stats, as_json=args.json)


def _milvus_stats(settings: Settings) -> dict:
    from qa.store.milvus import MilvusStore

    store = MilvusStore.open(settings, check_model=False)
    (articles, chunks), (earliest, latest) = store.counts(), store.date_range()
    return {"store": store.location, "collection": settings.milvus_collection, "model_name": store.model_name,
            "dimension": store.dimension, "index_kind": f"milvus {settings.milvus_dense_index} + BM25", "articles": articles,
            "chunks": chunks, "earliest": earliest.isoformat() if earliest else None,
            "latest": latest.isoformat() if latest else None, "corpus_hash": store.meta.get("corpus_hash"),
            "built_at": store.meta.get("built_at")}


def _print_stats(stats: dict, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(stats, indent=2))
    else:
        for key, value in stats.items():
            print(f"{key:>18}: {value}")
    return 0


def _load_assistant(args, settings: Settings):
    from qa.assistant import Assistant

    return Assistant.load(args.index, settings=settings)


def _run_ask(args, settings: Settings) -> int:
    _check_top_k(args.top_k)
    answer = None if args.local or args.model else _ask_running_server(args, settings)
    if answer is None:
        assistant = _load_assistant(args, settings)
        answer = assistant.ask(args.question, history=args.history or None, top_k=args.top_k, since=args.since, until=args.until)
    if args.json:
        print(json.dumps(answer_to_dict(answer), indent=2, ensure_ascii=False))
    else:
        print(format_answer(answer, color=sys.stdout.isatty()))
    return 0


def _run_chat(args, settings: Settings) -> int:
    """A conversation in the terminal: each answer is kept as history for the next question.

    `/new` starts a new conversation, `/quit` (or end of input) ends. A question the assistant
    refuses (empty, too long) prints its error and the chat goes on; other errors end it (exit 2).
    """
    _check_top_k(args.top_k)
    assistant = _load_assistant(args, settings)
    typed = sys.stdin.isatty()
    if typed:
        print("Ask about the articles. /new starts a new conversation; /quit or Ctrl-D ends.", file=sys.stderr)
    history: list = []
    while True:
        try:
            line = input("? " if typed else "")
        except EOFError:
            return 0
        question = line.strip()
        if question in ("/quit", "/exit"):
            return 0
        if question == "/new":
            history = []
            print("(new conversation)", file=sys.stderr)
            continue
        if not question:
            continue
        try:
            answer = assistant.ask(question, history=history or None, top_k=args.top_k, since=args.since, until=args.until)
        except QuestionError as error:
            print(_error_line(error), file=sys.stderr)
            continue
        history.append(answer)
        if not typed:
            print(f"? {_inert(question)}")
        print(format_answer(answer, color=sys.stdout.isatty()) + "\n", flush=True)


def _ask_running_server(args, settings: Settings):
    """The Answer from a `qa serve` of the same index when one is running (no model to load), else None."""
    from qa.api import answer_from_payload
    from qa.remote import ask_server, find_server

    url = find_server(args.index or settings.resolved_index_dir)
    if url is None:
        return None
    payload = ask_server(url, args.question, top_k=args.top_k or settings.top_k, history=args.history,
                         since=args.since.isoformat() if args.since else "", until=args.until.isoformat() if args.until else "")
    return answer_from_payload(payload) if payload is not None else None


def answer_to_dict(answer) -> dict:
    """The Answer as plain JSON-ready data: the same shape as the chat's `/answer` API (`qa.api.answer_payload`)."""
    from qa.api import answer_payload

    return answer_payload(answer)


def format_answer(answer, *, color: bool = False) -> str:
    """Human-readable answer: the text with the span marked, then numbered citations."""
    mark_on, mark_off = ("\033[1;33m", "\033[0m") if color else ("**", "**")
    lines = []
    if answer.found:
        first = answer.citations[0]
        quote, start, end = first.quote, first.answer_start, first.answer_end
        if start is not None and end is not None:  # made inert piece by piece, so the marks themselves survive
            lines.append(f"{_inert(quote[:start])}{mark_on}{_inert(quote[start:end])}{mark_off}{_inert(quote[end:])} [1]")
        else:
            lines.append(f"{_inert(quote)} [1]")
        if answer.span:
            lines.append(f"answer: {_inert(answer.span)}")
    else:
        lines.append(answer.text)
        if answer.citations:
            lines.append("closest articles:")
    lines.append(f"confidence: {answer.confidence:.2f}")
    for number, citation in enumerate(answer.citations, 1):
        date = citation.published.isoformat() if citation.published else "undated"
        source = citation.url or ", ".join(citation.sources)
        lines.append(f"[{number}] {_inert(citation.title)} ({date}; {_inert(source)}) score {citation.score:.3f}")
        if number > 1 or not answer.found:
            lines.append(f"    \"{_inert(citation.quote)}\"")
    return "\n".join(lines)


def _inert(text: str) -> str:
    """Article text for a terminal: no escape sequences or other control characters."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)


def _run_eval(args, settings: Settings) -> int:
    from qa.evaluate import evaluate, format_table, read_eval_file

    items = read_eval_file(args.file)
    assistant = _load_assistant(args, settings)
    result = evaluate(assistant, items, top_k=args.top_k)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        print(format_table(result["summary"]))
    return 0


def _run_serve(args, settings: Settings) -> int:
    from qa.web import launch

    launch(index_dir=args.index, host=args.host, port=args.port, settings=settings, examples_file=args.examples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
