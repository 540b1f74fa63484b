"""The browser chat: a thin Gradio UI over `qa.Assistant`. Answering lives in the library, markup in `qa.render`."""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import logging
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from qa.api import answer_payload
from qa.config import Settings
from qa.conversation import TURN_METADATA_KEY, turn_metadata
from qa.errors import ConfigError, QAError
from qa.render import (
    UNEXPECTED_ERROR,
    escape_text,
    message_anchor,
    plain_answer,
    plain_turn,
    read_question,
    render_collection_line,
    render_error,
    render_question,
    render_reply,
    render_status,
)
from qa.upload import SessionCollections, UploadSummary

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.types import Answer

logger = logging.getLogger(__name__)

TITLE = "Ask the news archive"
INTRO = (
    "# Ask the news archive\n"
    "Every answer is a sentence copied from the articles, with the answer highlighted and its sources cited. "
    "Nothing is generated; when the articles do not hold the answer, the reply says so."
)


def read_examples(path: str | Path) -> tuple[str, ...]:
    """Example questions from a text file, one per line (blank lines skipped)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read example questions from {path} ({error}): give a UTF-8 text file, one question per line") from error
    return tuple(line.strip() for line in text.splitlines() if line.strip())


# Questions the bundled demo corpus (Central Asian news, 2024-2025) can answer, kept beside it as data.
DEMO_QUESTIONS = read_examples(Path(__file__).parent / "examples" / "demo_questions.txt")
LOADING = "Loading the collection… the first start builds the search index, which can take a minute."
SEARCHING = "Searching the articles…"
UPLOAD_TYPES = (".txt", ".md", ".json", ".jsonl", ".csv", ".html", ".htm", ".rss", ".atom", ".xml")  # no .gz/.zip: limits count upload bytes
UPLOAD_FAILED = "Could not add the articles."
QUEUE_SIZE = 256  # questions waiting at most; past that Gradio answers "queue full" at once instead of piling up

# Styles for the classes qa.render emits. Injected through gr.HTML(head=...) so that a plain
# `demo.launch()` (as on a Hugging Face Space) gets them too; `launch(css=...)` would not.
CSS = """
#qa-chat mark { background: #fde68a; color: #1f2937; padding: 0 .15em; border-radius: 3px; }
#qa-chat .qa-cite { font-size: .75em; opacity: .75; }
#qa-chat .qa-answer-text { font-size: 1.05em; margin: 0 0 .3em 0; }
#qa-chat .qa-meta, #qa-chat .qa-source-origin { font-size: .85em; opacity: .75; margin: .2em 0; }
#qa-chat .qa-not-found { border-left: 4px solid #d97706; background: rgba(217, 119, 6, .10);
  padding: .4em .8em; border-radius: 4px; }
#qa-chat .qa-notice { margin: 0 0 .3em 0; }
#qa-chat .qa-notice::before { content: "⚠ "; }
#qa-chat .qa-closest { margin: .2em 0; padding-left: 1.2em; }
#qa-chat .qa-sources { margin-top: .6em; }
#qa-chat .qa-sources > summary { cursor: pointer; font-weight: 600; }
#qa-chat .qa-source { margin: .6em 0; }
#qa-chat .qa-source-head { margin: .2em 0; }
#qa-chat .qa-quote { border-left: 3px solid rgba(128, 128, 128, .5); margin: .3em 0; padding: .1em .8em; }
#qa-chat .qa-error { border-left: 4px solid #dc2626; background: rgba(220, 38, 38, .08);
  padding: .4em .8em; border-radius: 4px; }
#qa-chat .qa-status { opacity: .7; font-style: italic; margin: 0; }
/* Gradio 6.31's bundled SourceSansPro-SemiBold.woff2 holds only the glyphs "A" and "B", so bold text came out
   in two fonts. Its complete Bold file is served beside it: bold text uses that face instead. */
@font-face { font-family: "QA Source Sans Bold"; font-weight: 600 800; font-style: normal; font-display: swap;
  src: url("static/fonts/SourceSansPro/SourceSansPro-Bold.woff2") format("woff2"); }
.gradio-container strong, .gradio-container b, .gradio-container h1, .gradio-container h2, .gradio-container h3,
#qa-chat .qa-sources > summary {
  font-family: "QA Source Sans Bold", "Source Sans Pro", ui-sans-serif, system-ui, sans-serif; font-weight: 700; }
#qa-chat .qa-cite-link { text-decoration: none; }
#qa-chat .qa-cite-link:hover { text-decoration: underline; }
#qa-chat .qa-also-label { font-size: .85em; opacity: .75; margin: .6em 0 .2em 0; }
#qa-chat .qa-also .qa-source-head { opacity: .85; }
#qa-upload-status .qa-upload-summary { font-size: .9em; }
.qa-collection, #qa-collection .qa-status, #qa-collection .qa-error { font-size: .9em; opacity: .85; margin: 0; }
"""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")

AssistantSource = Callable[[], "Assistant"]


class LazyAssistant:
    """An assistant given as is, or made once from a factory on first use (thread-safe)."""

    def __init__(self, source: Assistant | AssistantSource) -> None:
        if hasattr(source, "ask"):
            self._assistant: Assistant | None = source  # type: ignore[assignment]
            self._factory: AssistantSource | None = None
        elif callable(source):
            self._assistant, self._factory = None, source
        else:
            raise TypeError(f"expected an Assistant or a function returning one, got {type(source).__name__}")
        self._lock = threading.Lock()

    def get(self) -> Assistant:
        """The assistant, creating it on the first call; a failed creation is retried next time."""
        if self._assistant is None:
            with self._lock:
                if self._assistant is None:
                    assert self._factory is not None
                    self._assistant = self._factory()
        return self._assistant


def parse_day(text: str | None, name: str) -> dt.date | None:
    """A `YYYY-MM-DD` date typed in the UI; blank means no limit. ValueError says what is wrong."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} date {text!r} is not a date: use YYYY-MM-DD, e.g. 2025-01-31, or leave it empty") from None


def user_questions(history: Sequence[dict[str, Any]]) -> list[str]:
    """The user's earlier questions, oldest first, read back from the chat history."""
    questions = []
    for message in history:
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            questions.append(read_question(content))
        elif isinstance(content, list):
            text = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            questions.append(read_question(text))
    return [question for question in questions if question.strip()]


def answer_message(
    assistant: LazyAssistant,
    question: str,
    *,
    history: list[str] | list[Any],
    top_k: int | None,
    since_text: str | None,
    until_text: str | None,
) -> str:
    """The assistant's chat message (HTML) for one question: the answer, or an error that says what to fix."""
    return answer_turn(assistant, question, history=history, top_k=top_k, since_text=since_text, until_text=until_text)[0]


def answer_turn(
    assistant: LazyAssistant,
    question: str,
    *,
    history: list[str] | list[Any],
    top_k: int | None,
    since_text: str | None,
    until_text: str | None,
    turn: int = 0,
    answerer: Any = None,
) -> tuple[str, Answer | None]:
    """`answer_message`, and the Answer itself when there is one (what later turns build on).

    `turn` numbers the message, so its citation links stay within it; `answerer` (a session's
    collection with uploaded articles) answers instead of the assistant when given.
    """
    try:
        since = parse_day(since_text, "since")
        until = parse_day(until_text, "until")
    except ValueError as error:
        return render_error(str(error)), None
    if since and until and since > until:
        return render_error(f"since {since} is after until {until}: swap them or clear one"), None
    try:
        answer = (answerer or assistant.get()).ask(question, history=history, top_k=top_k, since=since, until=until)
    except QAError as error:
        return render_error(error), None
    except Exception as error:  # a last resort: the chat shows a plain message, the log keeps the traceback
        logger.exception("answering %r failed", question)
        return render_error(error), None
    return render_reply(answer, anchor=message_anchor(answer, turn)), answer


def conversation_history(questions: Sequence[str], turns: Sequence[dict[str, Any]]) -> list[Any]:
    """Earlier questions of the chat, each followed by what its answer found when this session kept it.

    The chat shows rendered HTML, so what a turn found (its answer span and cited articles) is
    kept in the session's state, matched to the chat's questions by their text (the user may
    have cleared the chat since).
    """
    found = {_question_key(turn[TURN_METADATA_KEY]["question"]): turn for turn in turns
             if isinstance(turn, dict) and isinstance(turn.get(TURN_METADATA_KEY), dict)
             and isinstance(turn[TURN_METADATA_KEY].get("question"), str)}
    history: list[Any] = []
    for question in questions:
        history.append(question)
        key = _question_key(question)
        if key in found:
            history.append({"role": "assistant", "content": "", "metadata": found[key]})
    return history


def _question_key(question: str) -> str:
    """A question as its Answer keeps it (cleaned by `Assistant.ask`): the chat shows the question as typed."""
    from qa.assistant import clean_question

    try:
        return clean_question(question, max(len(question), 1))
    except QAError:
        return question


def describe_collection(assistant: LazyAssistant) -> str:
    """The line saying what collection is loaded (loads it if needed)."""
    try:
        return render_collection_line(assistant.get().info())
    except QAError as error:
        return render_error(error)
    except Exception as error:
        logger.exception("loading the collection failed")
        return render_error(error)


def prepare_assistant(assistant: LazyAssistant) -> None:
    """Load the collection and warm the assistant's caches: run in the background at server start."""
    try:
        prepared = assistant.get().warm_up()
        logger.info("warmed up: %d articles prepared", prepared)
    except QAError as error:  # the page shows it when it loads, and the first question tries again
        logger.warning("loading the collection failed: %s", error)
    except Exception:  # a failed warm-up only costs speed
        logger.exception("preparing the assistant failed")


def answer_endpoint(assistant: LazyAssistant, settings: Settings) -> Callable[..., dict[str, Any]]:
    """The function behind the `/answer` API: a question (and optional filters) in, the Answer as JSON out."""
    default_top_k = settings.top_k

    def answer(question: str, top_k: int = default_top_k, since: str = "", until: str = "",
               history: list[str] | None = None) -> dict[str, Any]:
        """Answer a question from the articles, as JSON: question, found, text, span, confidence, citations.

        Args:
            question: the question, e.g. "Who is Kazakhstan's new ambassador in Belarus?"
            top_k: how many citations to return at most.
            since: only articles published on or after this date, YYYY-MM-DD (empty: no limit).
            until: only articles published on or before this date, YYYY-MM-DD (empty: no limit).
            history: earlier questions of the conversation, oldest first, for follow-ups such as "How old is he?"
        """
        try:
            start, end = parse_day(since, "since"), parse_day(until, "until")
            found = assistant.get().ask(question, history=list(history or []), top_k=int(top_k), since=start, until=end)
        except (QAError, ValueError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception:
            logger.exception("answering %r through the API failed", question)
            raise gr.Error(UNEXPECTED_ERROR, print_exception=False) from None
        return answer_payload(found)

    return answer


def add_articles_handler(assistant: LazyAssistant, uploads: SessionCollections) -> Callable[..., tuple[str, list[str] | None, str]]:
    """The "Add articles" button: index the files and pasted text into the session's own collection."""

    def add_articles(files: list[str] | None, pasted: str | None, request: gr.Request | None = None,
                     progress: gr.Progress = gr.Progress()) -> tuple[str, list[str] | None, str]:  # noqa: B008 (how Gradio asks for a progress bar)
        session_id = getattr(request, "session_hash", None)
        if not session_id:
            return render_error("this browser session has no id: reload the page", lead=UPLOAD_FAILED), None, pasted or ""
        try:
            session = uploads.open(session_id, assistant.get())
            summary = session.add(files or [], pasted or "", on_progress=lambda fraction, message: progress(fraction, desc=message))
        except QAError as error:
            return render_error(error, lead=UPLOAD_FAILED), files, pasted or ""
        except Exception as error:
            logger.exception("adding articles failed")
            return render_error(error, lead=UPLOAD_FAILED), files, pasted or ""
        return render_upload_summary(summary), None, ""

    return add_articles


def build_demo(
    assistant_factory_or_assistant: Assistant | AssistantSource,
    *,
    settings: Settings | None = None,
    examples: Sequence[str] | None = None,
    preload: bool = False,
) -> gr.Blocks:
    """The chat app, with the `/answer` JSON API and, when `settings.allow_upload`, an "Add articles" panel.

    Args:
        assistant_factory_or_assistant: an Assistant, or a no-argument function that makes one
            (called once, at the first question or page load, since building an index takes time).
        settings: defaults for the controls (number of sources), upload switch and limits.
        examples: example questions shown under the question box (default: the demo questions
            when the settings name no index, since then the demo corpus is served).
        preload: make the assistant and warm its caches (`Assistant.warm_up`) in a background
            thread right away, so the first questions are answered as fast as later ones.
    Returns:
        Gradio Blocks; call `.launch()` on it. Its `qa_uploads` attribute holds the sessions' collections.
    """
    settings = settings or Settings.from_env()
    examples = default_examples(None, settings) if examples is None else tuple(examples)
    assistant = LazyAssistant(assistant_factory_or_assistant)
    uploads = SessionCollections(settings)

    def respond(message: str, history: list[dict[str, Any]] | None, top_k: float, since: str, until: str,
                turns: list[dict[str, Any]] | None = None, transcript: str | None = "", request: gr.Request | None = None,
                ) -> Iterator[tuple[str, list[dict[str, Any]], list[dict[str, Any]], str]]:
        history = list(history or [])
        turns = list(turns or [])
        transcript = transcript or ""
        previous = conversation_history(user_questions(history), turns)
        # Every question gets its own bubble, a blank one too, so its error reply is not merged into the previous answer.
        history.append({"role": "user", "content": render_question(message or "")})
        history.append({"role": "assistant", "content": render_status(SEARCHING)})
        yield "", history, turns, transcript
        reply, answer = answer_turn(assistant, message or "", history=previous, top_k=int(top_k), since_text=since,
                                    until_text=until, turn=len(history) - 1,
                                    answerer=uploads.get(getattr(request, "session_hash", None)))
        history[-1] = {"role": "assistant", "content": reply}
        if answer is not None:
            turns.append(turn_metadata(answer))
            transcript = "\n\n".join(part for part in (transcript, plain_turn(message or "", plain_answer(answer))) if part)
        yield "", history, turns, transcript

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        collection = gr.HTML(render_status(LOADING), head=f"<style>{CSS}</style>", elem_id="qa-collection",
                             js_on_load=None)
        copy_text = gr.Button("Copy as text", size="sm", render=False)
        chatbot = gr.Chatbot(
            label="Conversation",
            elem_id="qa-chat",
            height=560,
            # Messages are HTML built by qa.render, where article and user text is already escaped:
            # no markdown pass (it could turn literal text into links), no LaTeX, and Gradio's
            # sanitizer stays on as a second line of defence.
            render_markdown=False,
            sanitize_html=True,
            latex_delimiters=[],
            allow_tags=False,
            feedback_options=None,
            # Gradio's own copy buttons copy the messages' HTML: "Copy as text" copies the plain transcript instead.
            buttons=[copy_text],
            placeholder="Ask about the articles: the answer comes with its highlighted source sentence.",
        )
        question = gr.Textbox(
            placeholder="Ask a question about the articles…",
            show_label=False,
            submit_btn="Ask",
            max_lines=4,
            elem_id="qa-question",
        )
        if examples:
            gr.Examples(examples=[[example] for example in examples], inputs=question, label="Example questions")
        if settings.allow_upload:
            with gr.Accordion("Add articles", open=False, elem_id="qa-upload"):
                gr.Markdown(upload_help(settings))
                upload_files = gr.File(label="Article files", file_count="multiple", file_types=list(UPLOAD_TYPES),
                                       elem_id="qa-upload-files")
                upload_text = gr.Textbox(label="Or paste an article (title on the first line)", lines=4, max_lines=12,
                                         elem_id="qa-upload-text")
                upload_button = gr.Button("Add to the collection", elem_id="qa-upload-button")
                upload_status = gr.HTML("", elem_id="qa-upload-status")
        with gr.Accordion("Options", open=False, elem_id="qa-options"):
            top_k = gr.Slider(1, 10, value=min(max(settings.top_k, 1), 10), step=1, label="Number of sources",
                              elem_id="qa-top-k")
            with gr.Row():
                since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="qa-since")
                until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="qa-until")
        with gr.Accordion("Conversation as plain text", open=False, elem_id="qa-transcript-panel"):
            transcript = gr.Textbox(show_label=False, lines=6, max_lines=20, interactive=False, buttons=["copy"],
                                    elem_id="qa-transcript", placeholder="Answers with their references, as plain text.")
        turns = gr.State([])
        question.submit(respond, [question, chatbot, top_k, since, until, turns, transcript], [question, chatbot, turns, transcript],
                        api_name="ask", api_visibility="undocumented", show_progress="minimal")
        chatbot.clear(lambda: ([], ""), None, [turns, transcript], api_visibility="private")
        copy_text.click(None, [transcript], None, api_visibility="private",
                        js="(text) => { if (text) navigator.clipboard.writeText(text); }")
        gr.api(answer_endpoint(assistant, settings), api_name="answer")
        if settings.allow_upload:
            upload_button.click(add_articles_handler(assistant, uploads), [upload_files, upload_text],
                                [upload_status, upload_files, upload_text], api_visibility="private", show_progress="full")

            def close_session(request: gr.Request) -> None:  # the page was closed: its uploads go with it
                uploads.close(getattr(request, "session_hash", None))

            demo.unload(close_session)
            atexit.register(uploads.close_all)  # and every session's files when the server stops
        demo.load(functools.partial(describe_collection, assistant), None, collection, api_visibility="private",
                  show_progress="hidden")

    demo.queue(max_size=QUEUE_SIZE)
    demo.qa_uploads = uploads
    if preload:
        threading.Thread(target=prepare_assistant, args=(assistant,), name="qa-preload", daemon=True).start()
    return demo


def upload_help(settings: Settings) -> str:
    """What the "Add articles" panel says: formats, privacy and the session limits."""
    return (
        "Add your own articles (.txt or .md with the title on the first line, .json/.jsonl/.csv records, saved .html pages, RSS or Atom feeds), "
        "or paste one. They are searched together with this collection, only in this browser session, and deleted "
        f"when you close the page. Limits per session: {settings.upload_max_files} files, "
        f"{settings.upload_max_bytes / 1_000_000:.0f} MB, {settings.upload_max_articles} articles."
    )


def render_upload_summary(summary: UploadSummary) -> str:
    """The upload's outcome under the button: counts, then each skipped or cut item."""
    first, *rest = summary.describe().split("\n")
    items = "".join(f"<li>{escape_text(line)}</li>" for line in rest)
    return f'<div class="qa-upload-summary"><p>{escape_text(first)}</p>' + (f"<ul>{items}</ul>" if items else "") + "</div>"


def launch(index_dir: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 7860,
           settings: Settings | None = None, examples_file: str | Path | None = None) -> None:
    """Serve the chat over the index at `index_dir` (default: the demo index, built on first use).

    The example questions are read from `examples_file` (one per line) when given; otherwise
    the demo questions are shown for the demo index, and none for another collection.
    """
    from qa.assistant import Assistant

    settings = settings or Settings.from_env()
    examples = read_examples(examples_file) if examples_file is not None else default_examples(index_dir, settings)
    from qa.remote import register_server, unregister_server

    factory = functools.partial(Assistant.load, index_dir, settings=settings)
    demo = build_demo(factory, settings=settings, preload=True, examples=examples)
    # A one-shot `qa ask` over the same index asks this server instead of loading the models itself (until it is
    # up, or if it fails to start, `qa ask` finds nothing listening and answers in-process).
    local_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    registration = register_server(Path(index_dir) if index_dir is not None else settings.resolved_index_dir,
                                   f"http://{local_host}:{port}/")
    previous_handler = None
    if threading.current_thread() is threading.main_thread():  # `kill PID` ends it like Ctrl-C: registration and uploads removed
        previous_handler = signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    try:
        demo.launch(server_name=host, server_port=port)
    finally:
        unregister_server(registration)
        if previous_handler is not None:
            signal.signal(signal.SIGTERM, previous_handler)


def default_examples(index_dir: str | Path | None, settings: Settings) -> tuple[str, ...]:
    """The demo questions when serving the demo index (no index named), none for another collection."""
    return DEMO_QUESTIONS if index_dir is None and settings.index_dir is None else ()
