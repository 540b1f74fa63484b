"""Chat history -> the context a follow-up question needs: earlier questions, what their answers found and cited.

One parser for every history shape the product meets: plain strings (earlier questions, as the CLI's
`--history` gives them), Gradio 6 message dicts (`{"role", "content"}`, content as a string or as
message parts, an optional `metadata` dict), and `Answer` objects returned by earlier `ask` calls,
which carry what their turn found, so it is never answered again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qa.errors import QuestionError
from qa.lexicon_en import CONTINUATIONS, REFERRING_PRONOUNS, STOPWORDS
from qa.text import words
from qa.types import Answer

# Key under which the chat stores a turn's findings in an assistant message's `metadata`.
TURN_METADATA_KEY = "qa_turn"
FOLLOW_UP_MAX_TERMS = 3  # a question this short ("And in 2019?") leans on the one before


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question, and if known, the answer span and the articles its answer cited."""

    question: str
    answer: str | None = None
    article_ids: tuple[str, ...] = ()
    found: bool = False


def turn_metadata(answer: Answer) -> dict[str, Any]:
    """What a chat message keeps of an answer so later turns can build on it (JSON-safe)."""
    return {TURN_METADATA_KEY: {"question": answer.question, "answer": answer.span, "found": answer.found,
                                "article_ids": [c.article_id for c in answer.citations]}}


def parse_history(history: Sequence[Any] | None) -> tuple[Turn, ...]:
    """Earlier turns, oldest first, from any supported history shape.

    Raises:
        QuestionError: the history is not a list, or holds something that is neither a
            string, a message dict nor an Answer.
    """
    if history is None:
        return ()
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise QuestionError(f"history must be a list of earlier questions or chat messages, got {type(history).__name__}")
    turns: list[Turn] = []
    for item in history:
        if isinstance(item, str):
            if item.strip():
                turns.append(Turn(item.strip()))
        elif isinstance(item, Answer):
            _attach(turns, Turn(item.question, item.span, tuple(c.article_id for c in item.citations), item.found))
        elif isinstance(item, dict):
            role, content = item.get("role"), _text(item.get("content"))
            if role == "user" and content.strip():
                turns.append(Turn(content.strip()))
            elif role == "assistant":
                found = (item.get("metadata") or {}).get(TURN_METADATA_KEY) if isinstance(item.get("metadata"), dict) else None
                if isinstance(found, dict) and turns:
                    _attach(turns, Turn(turns[-1].question, _string(found.get("answer")),
                                        tuple(str(a) for a in found.get("article_ids") or () if isinstance(a, str)),
                                        bool(found.get("found"))))
        else:
            raise QuestionError(f"a history entry must be a question, a chat message or an Answer, got {type(item).__name__}")
    return tuple(turns)


def _attach(turns: list[Turn], turn: Turn) -> None:
    """Record what a turn found: on its question if that was the last user message, else as a turn of its own."""
    if turns and turns[-1].question == turn.question and not turns[-1].article_ids:
        turns[-1] = turn
    else:
        turns.append(turn)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # Gradio 6 message parts: [{"type": "text", "text": ...}]
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return ""


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def leans_on_context(question: str) -> bool:
    """Whether a question needs earlier turns.

    It does when it has a pronoun pointing outside it ("How old is he?"), opens with a connective
    ("And in 2019?", "What about Kyrgyzstan?"), or has very few words of its own and names nothing
    ("Where?", "Why not?"); "Who is the mayor of Port Selin?" stands on its own.
    """
    if REFERRING_PRONOUNS.search(question) is not None or CONTINUATIONS.match(question.strip()):
        return True
    names_something = any(word[:1].isupper() for word in question.split()[1:])
    return says_little(question) and not names_something


def says_little(question: str) -> bool:
    """Whether a question has at most FOLLOW_UP_MAX_TERMS words beyond stopwords ("How old is he?" has one)."""
    return len([w for w in words(question) if w not in STOPWORDS]) <= FOLLOW_UP_MAX_TERMS
