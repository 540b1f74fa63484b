"""Query: a question resolved against the conversation once, with its answer type, filters and top_k."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from qa.conversation import Turn, leans_on_context, says_little
from qa.lexicon_en import (
    PERSONAL_PRONOUNS,
    POSSESSIVE_PRONOUNS,
    SUBJECT_PRONOUNS,
    THING_PRONOUNS,
    answer_type,
)
from qa.text import content_terms

SUBJECT_MAX_WORDS = 6  # a previous answer this short, and capitalised, stands in for "he"/"its"


@dataclass(frozen=True)
class Query:
    """What every later stage reads.

    `text` is the question as the reader reads it (a pronoun replaced by the previous answer
    when that answer is a short name); `context` holds the words carried from earlier turns,
    for retrieval only; `context_articles` are the articles earlier answers cited, most
    recent first. A self-contained question keeps the conversation's words aside in
    `held_context`: it is read alone unless its own words cannot tell the conversation's article
    from its own best one (`Assistant.candidates`, `continued`). `unresolved` names a pronoun that
    nothing in the conversation can refer to.
    """

    question: str
    text: str
    answer_type: str
    top_k: int
    since: dt.date | None = None
    until: dt.date | None = None
    context: str = ""
    context_articles: tuple[str, ...] = ()
    unresolved: str | None = None
    held_context: str = ""

    @property
    def follow_up(self) -> bool:
        return bool(self.context)

    def continued(self) -> Query:
        """This self-contained question read as a follow-up: its held conversation becomes its context."""
        return replace(self, context=self.held_context, held_context="")

    @property
    def retrieval_text(self) -> str:
        return f"{self.text} {self.context}".strip()

    @property
    def names(self) -> tuple[str, ...]:
        """Stemmed terms of the capitalised words of the question, leaving out its first word ("Who", "In")."""
        found = []
        for word in re.findall(r"[^\W\d_][\w'’-]*", self.text)[1:]:
            if word[:1].isupper():
                found.extend(content_terms(word))
        return tuple(dict.fromkeys(found))

    @property
    def terms(self) -> list[str]:
        """Content terms of the question, then of the carried context."""
        return list(dict.fromkeys(content_terms(self.text) + content_terms(self.context)))


def build_query(question: str, turns: Sequence[Turn], *, top_k: int, since: dt.date | None = None,
                until: dt.date | None = None, context_turns: int = 6, context_answers: bool = False) -> Query:
    """Resolve a (clean) question against earlier turns.

    A question that does not lean on context (no pronoun pointing outside it, more than a few
    words) is read on its own, its conversation only held aside (`Query.held_context`), so
    unrelated earlier turns never change its answer. A follow-up's retrieval reads the questions
    (and with `context_answers` the answers) of the last `context_turns` turns.
    """
    kind = answer_type(question)
    recent = list(turns)[-context_turns:]
    if not leans_on_context(question):
        if not turns:
            return Query(question, question, kind, top_k, since, until)
        context, articles = _conversation(recent, context_answers)
        return Query(question, question, kind, top_k, since, until, context_articles=articles, held_context=context)
    if not turns:
        # With nobody earlier to point to, a short question's pronoun leaves nothing to search for ("How old is he?"); a
        # longer one is read as written about one article, its pronoun pointing inside it ("What did he find that could
        # constitute a hazard?"). On public QA training data (docs/reader.md) the longer ones are answered right more
        # often than questions asked alone from other conversations land in their story; the short ones far less.
        # "it"/"its" and "his"/"her"/"their" were measured the same way, with the same break-even (docs/reader.md).
        pronoun = PERSONAL_PRONOUNS.search(question) or POSSESSIVE_PRONOUNS.search(question) or THING_PRONOUNS.search(question)
        if pronoun is not None and not _names_someone(question) and says_little(question):
            return Query(question, question, kind, top_k, since, until, unresolved=pronoun.group())
        return Query(question, question, kind, top_k, since, until)
    context, articles = _conversation(recent, context_answers)
    subject = next((turn.answer for turn in reversed(recent) if turn.found and turn.answer), None)
    text = _resolve_pronoun(question, subject) if subject and _is_name(subject) else question
    return Query(question, text, kind, top_k, since, until, context=context, context_articles=articles)


def _conversation(recent: Sequence[Turn], context_answers: bool) -> tuple[str, tuple[str, ...]]:
    """The recent turns' words (newest first) and the articles their answers cited first."""
    context = " ".join(part for turn in reversed(recent)
                       for part in (turn.answer if turn.found and context_answers else None, turn.question) if part)
    return context, tuple(dict.fromkeys(a for turn in reversed(recent) if turn.found for a in turn.article_ids[:1]))


def _names_someone(question: str) -> bool:
    """Whether a question has a capitalised word after its first one (a name a pronoun can point to)."""
    return any(word[:1].isupper() for word in re.findall(r"[^\W\d_][\w'’-]*", question)[1:])


def _is_name(text: str) -> bool:
    """A short capitalised answer without digits ("Lena Moritz", not "June 14, 2024")."""
    words = text.split()
    return 0 < len(words) <= SUBJECT_MAX_WORDS and words[0][:1].isupper() and not any(ch.isdigit() for ch in text)


def _resolve_pronoun(question: str, subject: str) -> str:
    """Put the previous answer in place of the first pronoun ("How old is he?" -> "How old is Keith Kellogg?")."""
    found = [m for m in (SUBJECT_PRONOUNS.search(question), POSSESSIVE_PRONOUNS.search(question)) if m is not None]
    if not found:
        return question
    first = min(found, key=lambda m: m.start())
    # "her" is possessive only before a word ("her film"), an object otherwise ("hire her?").
    followed_by_word = re.match(r"\s+[^\W\d_]", question[first.end() :]) is not None
    possessive = first.group().lower() in {"his", "its", "their"} or (first.group().lower() == "her" and followed_by_word)
    replacement = f"{subject}’s" if possessive else subject
    return question[: first.start()] + replacement + question[first.end() :]
