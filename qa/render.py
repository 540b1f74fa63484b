"""Render answers as HTML for the chat; all article text is escaped before any markup is added."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
from pathlib import PurePath
from typing import Protocol
from urllib.parse import urlsplit

from qa.api import cited_citations
from qa.errors import QAError
from qa.types import Answer, Citation

# Elements are joined without newlines: the chat shows raw HTML with `white-space: pre-wrap`,
# where a newline between elements would become a blank line.

NOT_FOUND_NOTICE = "Not found in these articles."
UNEXPECTED_ERROR = "Something went wrong while answering. Please try again; if it keeps happening, check the server log."

# Invisible characters that can hide or reorder text (zero-width space, word joiner, byte-order
# mark, bidirectional overrides and isolates) and C0 controls. Zero-width (non-)joiners stay:
# some scripts need them.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# Applied after `html.escape(..., quote=False)`, whose output holds no `#`, so the table may
# include it. Turning markdown syntax into numeric entities keeps it literal even where the
# HTML passes through a markdown renderer: no links, images, code, emphasis, headings, LaTeX
# (`$`) or bare-URL autolinks (`:`, `@`).
_LITERAL = str.maketrans({
    '"': "&quot;", "'": "&#39;",
    **{char: f"&#{ord(char)};" for char in "\\`*_~[](){}!#|$:@^"},
})
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)


class CollectionInfoLike(Protocol):
    """What `render_collection_line` reads from `Assistant.info()`."""

    @property
    def articles(self) -> int: ...
    @property
    def chunks(self) -> int: ...
    @property
    def earliest(self) -> dt.date | None: ...
    @property
    def latest(self) -> dt.date | None: ...
    @property
    def model_name(self) -> str: ...


def escape_text(text: str) -> str:
    """Untrusted text as inert HTML: tags, entities and markdown all show as literal characters."""
    visible = _INVISIBLE.sub("", text)
    escaped = html.escape(visible, quote=False).translate(_LITERAL)
    return _WWW.sub(r"\1&#46;", escaped)


def read_question(rendered: str) -> str:
    """The question text back from a user message rendered with `render_question`."""
    return "" if rendered == EMPTY_QUESTION else html.unescape(rendered)


SCORE_HELP = ("How well this passage matches the question: similarity, shared words and the expected kind of answer "
              "added up. Higher is better; only the order matters.")
EMPTY_QUESTION = '<em class="qa-empty">(empty question)</em>'


def render_question(question: str) -> str:
    """A user's question as it appears in the chat (escaped like article text); a blank one as a placeholder."""
    return escape_text(question) if question.strip() else EMPTY_QUESTION


def highlight(quote: str, start: int | None, end: int | None) -> str:
    """`quote` escaped, with `quote[start:end]` wrapped in `<mark>`.

    Before, span and after are escaped separately so the offsets stay right. Offsets
    that are missing or out of range give the quote without a highlight.
    """
    if start is None or end is None or not 0 <= start < end <= len(quote):
        return escape_text(quote)
    return (
        escape_text(quote[:start])
        + "<mark>" + escape_text(quote[start:end]) + "</mark>"
        + escape_text(quote[end:])
    )


def cite_mark(number: int, anchor: str | None = None) -> str:
    """The numbered mark that points from answer text to a source; a link to its card when `anchor` names the message."""
    if anchor is None:
        return f'<sup class="qa-cite">[{number}]</sup>'
    return f'<sup class="qa-cite"><a class="qa-cite-link" href="#{source_id(anchor, number)}">[{number}]</a></sup>'


def source_id(anchor: str, number: int) -> str:
    """The HTML id of source card `number` in the message `anchor`."""
    return f"{anchor}-src-{number}"


def message_anchor(answer: Answer, turn: int = 0) -> str:
    """An id prefix for one chat message, unique within a conversation (turn number) and across answers (a digest)."""
    digest = hashlib.sha1(f"{answer.question}\n{answer.text}".encode()).hexdigest()[:8]
    return f"qa-{turn}-{digest}"


def format_date(published: dt.date | None) -> str:
    """A date as `YYYY-MM-DD`, or a phrase saying it is unknown."""
    return published.isoformat() if published is not None else "date unknown"


def render_answer(answer: Answer, *, anchor: str | None = None) -> str:
    """The reply: the answer sentence(s) with the span highlighted and citation marks (links when `anchor` is given).

    A not-found reply gets the `qa-not-found` class, its text (or `NOT_FOUND_NOTICE`) as a
    notice, and the closest articles (not numbered: nothing is cited).
    """
    if not answer.found:
        return _render_not_found(answer)
    lines = [
        '<div class="qa-answer qa-found">',
        f'<p class="qa-answer-text">{_answer_body(answer, anchor)}</p>',
    ]
    if answer.citations:
        first = answer.citations[0]
        lines.append(
            f'<p class="qa-meta">From <cite>{escape_text(first.title)}</cite>, '
            f"{format_date(first.published)} · confidence {answer.confidence:.0%}</p>"
        )
    lines.append("</div>")
    return "".join(lines)


def render_sources(answer: Answer, *, anchor: str | None = None) -> str:
    """A collapsible panel: the cited sources, numbered as in the text, then the others as "also relevant".

    With `anchor`, each numbered card carries the id its `[n]` mark links to. Empty without citations.
    """
    if not answer.citations:
        return ""
    cited, others = cited_citations(answer)
    items = [_render_source(citation, number, anchor) for number, citation in enumerate(cited, start=1)]
    if others:
        label = "Also relevant" if cited else "Closest passages"
        items.append(f'<p class="qa-also-label">{label}:</p>')
        items += [_render_source(citation, None, None) for citation in others]
    return '<details class="qa-sources"><summary>Sources</summary>' + "".join(items) + "</details>"


def render_reply(answer: Answer, *, anchor: str | None = None) -> str:
    """The whole chat message for an answer: the answer, then its sources; `anchor` makes the marks links."""
    return render_answer(answer, anchor=anchor) + render_sources(answer, anchor=anchor)


def plain_answer(answer: Answer) -> str:
    """The answer as plain text: the text with `[n]` marks, then the cited sources as a reference list.

    Each reference gives the title, date and URL (or source file); sources not cited follow as "also
    relevant" (or "closest articles" for a not-found answer). No markup, no entities.
    """
    cited, others = cited_citations(answer)
    if answer.found:
        marks = "".join(f" [{number}]" for number in range(1, len(cited) + 1))
        lines = [answer.text.strip() + marks]
        if answer.span:
            lines.append(f"Answer: {answer.span} (confidence {answer.confidence:.0%})")
    else:
        lines = [answer.text.strip() or NOT_FOUND_NOTICE]
    if cited:
        lines += ["", "References:"] + [f"[{number}] {_reference(c)}" for number, c in enumerate(cited, start=1)]
    if others:
        lines += ["", "Also relevant:" if cited else "Closest articles:"] + [f"- {_reference(c)}" for c in others]
    return "\n".join(lines)


def plain_turn(question: str, reply: str) -> str:
    """One question and its plain-text reply, as the copied conversation shows them."""
    return f"Q: {question.strip()}\n\n{reply}"


def _reference(citation: Citation) -> str:
    where = citation.url or ", ".join(PurePath(source).name or source for source in citation.sources)
    return f"{citation.title}, {format_date(citation.published)}" + (f", {where}" if where else "")


def render_error(error: BaseException | str, *, lead: str = "Sorry, I could not answer that.") -> str:
    """A failure as a chat message: our own errors say what to fix, others stay vague (no traceback)."""
    if isinstance(error, str):
        message = error
    elif isinstance(error, QAError):
        message = str(error) or type(error).__name__
    else:
        message = UNEXPECTED_ERROR
    message = message[:1].upper() + message[1:]  # a sentence of its own after "Sorry, ..."
    return f'<div class="qa-error"><strong>{escape_text(lead)}</strong> {escape_text(message)}</div>'


def render_status(message: str) -> str:
    """A short status line (loading, searching)."""
    return f'<p class="qa-status">{escape_text(message)}</p>'


def render_collection_line(info: CollectionInfoLike) -> str:
    """One line saying what is loaded: article and passage counts, date range, model."""
    articles = _plural(info.articles, "article")
    passages = _plural(info.chunks, "passage")
    if info.earliest is None or info.latest is None:
        dates = "dates unknown"
    elif info.earliest == info.latest:
        dates = f"dated {info.earliest.isoformat()}"
    else:
        dates = f"from {info.earliest.isoformat()} to {info.latest.isoformat()}"
    return (
        f'<p class="qa-collection">Searching <strong>{articles}</strong> ({passages}), {dates}'
        f" · model {escape_text(info.model_name)}</p>"
    )


def _answer_body(answer: Answer, anchor: str | None) -> str:
    """Answer text with each quoted citation highlighted and followed by its mark, then the marks of sources repeating it."""
    cited, _ = cited_citations(answer)
    numbers = {id(citation): number for number, citation in enumerate(cited, start=1)}
    text = answer.text
    parts: list[str] = []
    position = 0
    marked: set[int] = set()
    for citation in cited:
        at = text.find(citation.quote, position) if citation.quote else -1
        if at < 0:
            continue
        parts.append(escape_text(text[position:at]))
        parts.append(highlight(citation.quote, citation.answer_start, citation.answer_end))
        parts.append(" " + cite_mark(numbers[id(citation)], anchor))
        marked.add(id(citation))
        position = at + len(citation.quote)
    if parts:
        parts.append(escape_text(text[position:]))
        body = "".join(parts)
    else:
        # The text is not a verbatim quote: highlight the span where it occurs.
        span_at = text.find(answer.span) if answer.span else -1
        body = highlight(text, span_at, span_at + len(answer.span)) if span_at >= 0 and answer.span else escape_text(text)
    rest = [cite_mark(numbers[id(c)], anchor) for c in cited if id(c) not in marked]
    return body + "".join(" " + mark for mark in rest)


def _render_not_found(answer: Answer) -> str:
    lines = [
        '<div class="qa-answer qa-not-found">',
        f'<p class="qa-notice"><strong>{escape_text(answer.text.strip() or NOT_FOUND_NOTICE)}</strong></p>',
    ]
    if answer.citations:
        lines.append('<p class="qa-closest-label">Closest articles:</p>')
        lines.append('<ul class="qa-closest">')
        for citation in answer.citations:
            lines.append(f"<li><cite>{escape_text(citation.title)}</cite> ({format_date(citation.published)})</li>")
        lines.append("</ul>")
    else:
        lines.append('<p class="qa-closest-label">No article came close.</p>')
    lines.append("</div>")
    return "".join(lines)


def _render_source(citation: Citation, number: int | None, anchor: str | None) -> str:
    origin = [_render_url(citation.url)] if citation.url else []
    origin += [escape_text(PurePath(source).name or source) for source in citation.sources]
    origin_line = f'<p class="qa-source-origin">{" · ".join(origin)}</p>' if origin else ""
    element_id = f' id="{source_id(anchor, number)}"' if anchor is not None and number is not None else ""
    mark = f'<sup class="qa-cite">[{number}]</sup> ' if number is not None else ""
    kind = "qa-source qa-cited" if number is not None else "qa-source qa-also"
    return (
        f'<div class="{kind}"{element_id}>'
        f'<p class="qa-source-head">{mark}<strong>{escape_text(citation.title)}</strong>'
        f' · {format_date(citation.published)} · <span class="qa-score" title="{SCORE_HELP}">score {citation.score:.2f}</span></p>'
        f"{origin_line}"
        f'<blockquote class="qa-quote">{highlight(citation.quote, citation.answer_start, citation.answer_end)}</blockquote>'
        "</div>"
    )


def _render_url(url: str) -> str:
    """A link for plain http(s) addresses; anything else (javascript:, data:...) as literal text."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return escape_text(url)
    plain = not _INVISIBLE.search(url) and not any(char.isspace() for char in url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc or not plain:
        return escape_text(url)
    return (
        f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer nofollow">'
        f"{escape_text(url)}</a>"
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
