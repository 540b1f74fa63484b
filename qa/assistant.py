"""Assistant: ask(question, history) -> Answer over one index; module-level `ask` over the default index.

The stages, each testable alone: `build_query` (question + conversation -> Query), `retrieve`
(Query -> Hits), `candidates_from_hits` and `shortlist` (Hits -> the sentences worth reading),
the span reader (sentences -> spans and scores), and `qa.answer` (scores -> abstain or cite).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from embeddings.encoder import Encoder, load_encoder
from qa.answer import NOT_FOUND_TEXT, answer_confidence, build_answer, score_sentences, with_highlight
from qa.config import Settings
from qa.conversation import parse_history
from qa.errors import ConfigError, QAError, QuestionError
from qa.index import NewsIndex, UpdateReport, build_index, live_generation, load_index
from qa.lexicon_en import THING_PRONOUNS
from qa.locking import GenerationLease, lease_generation
from qa.query import Query, build_query
from qa.reader.calibration import Calibration, load_calibration
from qa.reader.features import Candidate, article_terms, candidates_from_hits, shortlist, weighted_coverage
from qa.reader.model import HIGHLIGHT_WEIGHTS_DIR, Reading, SpanReader, read_header
from qa.store import (
    FAISS,
    DateRestriction,
    Store,
    as_store,
    check_dimension,
    check_store,
    open_store,
)
from qa.text import content_terms
from qa.types import Answer, Article, Hit

__all__ = ["NOT_FOUND_TEXT", "Assistant", "CollectionInfo", "ask", "clean_question", "default_assistant", "ensure_default_index",
           "index_sources"]

DEMO_CORPUS = Path(__file__).parent / "examples" / "demo_corpus"
logger = logging.getLogger(__name__)


class Reader(Protocol):
    """What the assistant needs of a span reader (`qa.reader.model.SpanReader`; tests pass a fake)."""

    def read(self, question: str, sentences: Sequence[str]) -> Reading: ...


@dataclass(frozen=True)
class CollectionInfo:
    """What an Assistant answers from."""

    articles: int
    chunks: int
    earliest: dt.date | None
    latest: dt.date | None
    model_name: str
    index_dir: Path


@dataclass(frozen=True)
class Served:
    """The generation an Assistant answers from, its lease (kept while any question uses it) and its caches."""

    index: NewsIndex | Store
    store: Store
    lease: GenerationLease | None = None
    terms: dict[str, tuple[frozenset[str], frozenset[str]]] = field(default_factory=dict)

    @classmethod
    def of(cls, index: NewsIndex | Store) -> Served:
        """An index as served: a FAISS generation with its lease, a store as it is."""
        return cls(index, as_store(index), lease_generation(index.path) if isinstance(index, NewsIndex) else None)


class Assistant:
    """Answers questions from one index (a FAISS `NewsIndex` or any `qa.store.Store`). Safe to share between threads.

    It follows re-indexing of a FAISS index folder: at most every `settings.reload_check_seconds` a
    question reads the index's `CURRENT`, and when a new generation is live the assistant loads it and
    switches to it between questions (see `refresh`). A Milvus store is live already: nothing to switch.
    """

    def __init__(self, index: NewsIndex | Store, *, settings: Settings, encoder: Encoder | None = None, reader: Reader | None = None,
                 calibration: Calibration | None = None, highlighter: Reader | None = None) -> None:
        """`reader`, `calibration`: the bundled ones when not given. `highlighter` reads the cited sentence again for
        its highlight (`settings.highlight == "reread"`); when not given it is the bundled highlight reader, unless a
        `reader` was given: then the highlight is that reader's own span (tests pass fakes)."""
        self._served = Served.of(index)
        self._reload_lock = threading.Lock()
        self._next_check = time.monotonic() + (settings.reload_check_seconds or 0.0)
        self._not_loadable: str | None = None  # a generation that failed to load: not tried again
        self.settings = settings
        self.encoder = encoder or load_encoder(self.store.model_name, backend=settings.encoder_backend)
        if reader is None:
            span_reader = SpanReader.from_settings(settings)
            calibration = calibration or load_calibration(span_reader.folder, reader_sha256=read_header(span_reader.folder)["sha256"])
            reader = span_reader
            if highlighter is None:
                highlighter = highlight_reader(settings)
        self.reader: Reader = reader
        self.highlighter: Reader | None = highlighter if settings.highlight == "reread" else None
        self.calibration = calibration or load_calibration()
        self._checked = threading.Event()

    @property
    def index(self) -> NewsIndex | Store:
        """The index being answered from."""
        return self._served.index

    @property
    def store(self) -> Store:
        """The index being answered from, as a Store (the FAISS index wrapped, a Milvus store as it is)."""
        return self._served.store

    @property
    def _terms_cache(self) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
        return self._served.terms

    def _article_terms(self, article: Article, served: Served | None = None) -> tuple[frozenset[str], frozenset[str]]:
        """`article_terms`, computed once per article of the (read-only) generation served."""
        cache = (served or self._served).terms
        cached = cache.get(article.id)
        if cached is None:
            cached = cache[article.id] = article_terms(article)
        return cached

    def refresh(self) -> bool:
        """Switch to the index's live generation if a re-index replaced the one being answered from.

        The new generation is loaded by the calling thread while other questions go on with the old
        one; questions already running finish on the old one, whose lease is released once the last
        of them ends (so a later `qa index` may remove it). A generation that cannot be loaded (another
        model, damage) is logged and skipped: answering goes on from the old one.

        Returns:
            True if it switched.
        """
        served = self._served
        if not isinstance(served.index, NewsIndex):
            return False
        index_dir = served.index.path.parent
        try:
            live = live_generation(index_dir).name
        except QAError:
            return False
        if live in (served.index.path.name, self._not_loadable) or not self._reload_lock.acquire(blocking=False):
            return False  # unchanged, known bad, or another thread is loading it
        try:
            index = load_index(index_dir, settings=self.settings.with_(model_name=self.encoder.name))
            check_dimension(as_store(index), self.encoder.name, self.encoder.dimension)
        except QAError as error:
            self._not_loadable = live
            logger.warning("still answering from %s: the new index generation %s cannot be used (%s)",
                           served.index.path.name, live, error)
            return False
        finally:
            self._reload_lock.release()
        self._served = Served.of(index)
        logger.info("now answering from %s (%d articles)", index.path.name, len(index.articles))
        return True

    def _current(self) -> Served:
        """The generation to answer the next question from, switching first if a check is due."""
        interval = self.settings.reload_check_seconds
        if interval is not None and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + interval
            self.refresh()
        return self._served

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None, encoder: Encoder | None = None) -> Assistant:
        """An assistant over an existing index; with no directory, the default demo index (built on first use)."""
        settings = settings or Settings.from_env()
        if settings.store != FAISS:  # a Milvus store: the index is named by settings.store, not a folder
            return cls(open_store(settings if encoder is None else settings.with_(model_name=encoder.name)), settings=settings, encoder=encoder)
        if index_dir is None and settings.index_dir is None:
            ensure_default_index(settings, encoder=encoder)
        path = Path(index_dir) if index_dir is not None else settings.resolved_index_dir
        index = load_index(path, settings=settings if encoder is None else settings.with_(model_name=encoder.name))
        return cls(index, settings=settings, encoder=encoder)

    @classmethod
    def build(cls, sources: Sequence[str | Path], index_dir: str | Path, *, settings: Settings | None = None, encoder: Encoder | None = None) -> Assistant:
        """Index `sources` into `index_dir` (incrementally) and return an assistant over it."""
        settings = settings or Settings.from_env()
        encoder = encoder or load_encoder(settings.model_name, backend=settings.encoder_backend)
        index_sources(sources, Path(index_dir), settings=settings, encoder=encoder)
        return cls.load(index_dir, settings=settings, encoder=encoder)

    def warm_up(self) -> int:
        """Load the models and prepare the per-article terms ahead of the first questions.

        Returns:
            The number of articles prepared.
        """
        served = self._served
        prepared = 0
        for article in served.store.articles():
            self._article_terms(article, served)
            prepared += 1
        self.encoder.encode(["warm up"])
        self.reader.read("warm up", ["Warm up."])
        if self.highlighter is not None:
            self.highlighter.read("warm up", ["Warm up."])
        return prepared

    def clear_caches(self) -> None:
        """Forget what `warm_up` and earlier questions prepared (article terms, question vectors)."""
        self._terms_cache.clear()
        cache = getattr(self.encoder, "cache", None)
        if cache is not None:
            cache.clear()

    def info(self) -> CollectionInfo:
        store = self.store
        (articles, chunks), (earliest, latest) = store.counts(), store.date_range()
        return CollectionInfo(articles, chunks, earliest, latest, store.model_name, Path(store.location))

    def ask(
        self,
        question: str,
        *,
        history: Sequence[Any] | None = None,
        top_k: int | None = None,
        since: dt.date | str | None = None,
        until: dt.date | str | None = None,
    ) -> Answer:
        """Answer `question` with a sentence copied from the articles, cited, its answer span highlighted.

        Args:
            history: earlier turns, oldest first: questions as strings, chat messages as
                {"role", "content"} dicts (an assistant message's `metadata` may carry what its
                turn found, see `qa.conversation.turn_metadata`), or Answers from earlier calls.
                A follow-up (a pronoun, or very few words) reads the last turns' questions; a
                self-contained question is read alone unless its own words cannot tell the
                conversation's article from its own best one (`_continues`).
            top_k: how many citations to return (default `settings.top_k`).
            since, until: only articles published in this date range (dates or ISO strings).
        """
        question = clean_question(question, self.settings.max_question_chars)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ConfigError(f"top_k must be a whole number of at least 1, got {top_k!r}")
        since, until = as_date(since, "since"), as_date(until, "until")
        if since is not None and until is not None and since > until:
            raise ConfigError(f"since {since} is after until {until}: swap them or leave one out")
        served = self._current()  # one generation for the whole question, even if a re-index switches it meanwhile
        if not self._checked.is_set():
            check_dimension(served.store, self.encoder.name, self.encoder.dimension)
            self._checked.set()
        query = build_query(question, parse_history(history), top_k=top_k or self.settings.top_k, since=since, until=until,
                            context_turns=self.settings.context_turns, context_answers=self.settings.context_answers)
        if query.unresolved:
            return Answer(question=question, found=False, confidence=0.0, text=unresolved_text(query.unresolved))
        return self.answer(query, served=served)

    def answer(self, query: Query, *, served: Served | None = None) -> Answer:
        """Retrieve, shortlist, read and cite for a built Query (from `served`, by default the current generation)."""
        settings = self.settings
        served = served or self._served
        restriction = served.store.restrict(query.since, query.until)
        if restriction is not None and restriction.empty:
            return Answer(question=query.question, found=False, confidence=0.0,
                          text=f"No article in this collection is dated {_describe_range(query.since, query.until)} "
                               "(undated articles are left out once dates are given).")
        shortlisted = shortlist(self.candidates(query, restriction=restriction, served=served), self.calibration.shortlist,
                                settings.reader_sentences)
        reading = self.reader.read(query.text, [candidate.text for candidate, _ in shortlisted])
        scored = score_sentences(shortlisted, reading, self.calibration)
        confidence = answer_confidence(scored, self.calibration)
        threshold = settings.min_confidence if settings.min_confidence is not None else self.calibration.threshold
        if self.highlighter is not None and scored and confidence >= threshold:
            scored[0] = with_highlight(scored[0], self.highlighter.read(query.text, [scored[0].candidate.text]))
        return build_answer(query, scored, confidence=confidence, threshold=threshold)

    def candidates(self, query: Query, *, restriction: DateRestriction | None = None, served: Served | None = None) -> list[Candidate]:
        """Every sentence of the chunks retrieved for `query` (within the `restriction`), with its shortlist features.

        A self-contained question with a conversation held aside is retrieved alone first, and again
        as a follow-up only if it `continues` the conversation.
        """
        served = served or self._served
        count = max(query.top_k, self.settings.hits_read)
        hits = self._search(query.retrieval_text, count, restriction, served)
        if query.held_context and hits and self._continues(query, hits[0].article, restriction, served):
            query = query.continued()
            hits = self._search(query.retrieval_text, count, restriction, served)
        store = served.store
        return candidates_from_hits(hits, store.sentences, query.terms, store.idf,
                                    names=query.names, terms_of=functools.partial(self._article_terms, served=served))

    def _search(self, text: str, top_k: int, restriction: DateRestriction | None, served: Served) -> list[Hit]:
        vector = self.encoder.encode([text])[0]
        return served.store.search(vector, text, settings=self.settings, top_k=top_k, restriction=restriction)

    def _continues(self, query: Query, best: Article, restriction: DateRestriction | None, served: Served) -> bool:
        """Whether a self-contained question's own words cannot tell the conversation's article from its own best one.

        The conversation's article is the one its latest found answer cited (or, for a history of
        bare questions, the first one its words retrieve). It decides when it holds the question's
        content words, IDF-weighted, at least as fully as `best` does and at least
        `settings.continue_min_coverage` of them ("Was James surprised?" in a conversation about
        James's story, when several stories have a James). An unrelated conversation's article
        rarely holds the question's words that well, so its answer stays what it is alone: on CoQA
        training stories none of 153 self-contained questions changed after another conversation's
        turns (bench/followup_context.py; 2 of 278 first articles in the retrieval experiment,
        bench/results/experiments/followup-conversation-article-coverage.json).
        """
        store = served.store
        if query.context_articles:
            conversation = store.article(query.context_articles[0])
        else:
            first = self._search(query.held_context, 1, restriction, served)
            conversation = first[0].article if first else None
        if conversation is None or conversation.id == best.id:
            return False
        weights = {term: store.idf(term) for term in content_terms(query.text)}
        if sum(weights.values()) <= 0:
            return False

        def coverage(article: Article) -> float:
            return weighted_coverage(weights, self._article_terms(article, served)[1])

        share = coverage(conversation)
        return share >= self.settings.continue_min_coverage and share >= coverage(best)


def unresolved_text(pronoun: str) -> str:
    """The reply to a first question whose pronoun has nothing earlier to point to."""
    if THING_PRONOUNS.fullmatch(pronoun):
        return f"“{pronoun}” has nothing to refer to in this conversation: ask again naming what you mean."
    return f"“{pronoun}” has nobody to refer to in this conversation: ask again naming who you mean."


def highlight_reader(settings: Settings) -> SpanReader | None:
    """The highlight reader `settings` ask for (its weights checked now, not at the first found answer); None for "shared"."""
    if settings.highlight != "reread":
        return None
    folder = settings.highlight_weights or HIGHLIGHT_WEIGHTS_DIR
    read_header(folder)
    return SpanReader.from_settings(settings, folder)


def as_date(value: Any, name: str) -> dt.date | None:
    """A date filter from a date, a datetime or an ISO string; ConfigError otherwise."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a date such as 2025-01-31, got {value!r}")


def _describe_range(since: dt.date | None, until: dt.date | None) -> str:
    if since and until:
        return f"between {since} and {until}"
    return f"on or after {since}" if since else f"on or before {until}"


# C0 and C1 control characters, and lone surrogates (undecodable bytes in a command line): become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# Zero-width and bidirectional formatting characters: removed, since they would split or hide words.
_INVISIBLE = re.compile("[\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def clean_question(question: str, max_chars: int) -> str:
    """The question with control characters removed; QuestionError if empty or too long."""
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, got {type(question).__name__}")
    if len(question) > 10 * max_chars:  # not worth cleaning
        raise QuestionError(f"the question is {len(question)} characters long; the limit is {max_chars}: ask something shorter")
    text = unicodedata.normalize("NFC", _INVISIBLE.sub("", _CONTROL.sub(" ", question))).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise QuestionError("the question is empty: type a question about the articles")
    if len(text) > max_chars:
        raise QuestionError(f"the question is {len(text)} characters long; the limit is {max_chars}: ask something shorter")
    if not any(ch.isalnum() for ch in text):
        raise QuestionError(f"the question {text!r} has no words: type a question about the articles")
    return text


def index_sources(sources: Sequence[str | Path], index_dir: Path, *, settings: Settings, encoder: Encoder | None = None, rebuild: bool = False, on_progress=None,
                  wait: bool = True) -> UpdateReport:
    """Read sources (any mix of supported formats) and build or update the index at `index_dir` (or the Milvus `settings.store`).

    With `wait` False, IndexBusyError at once if another run is writing that index folder (else it waits its turn).
    """
    from qa.ingest import read_sources

    check_store(settings)
    result = read_sources(list(sources), progress=settings.show_progress)
    if settings.store != FAISS:
        from qa.store.milvus import update_milvus

        report = update_milvus(result.articles, settings=settings, encoder=encoder, rebuild=rebuild, on_progress=on_progress)
    else:
        report = build_index(result.articles, index_dir, settings=settings, encoder=encoder, rebuild=rebuild, on_progress=on_progress,
                             wait=wait)
    return replace(report, files_read=result.files_read, duplicates_merged=result.duplicates_merged, skipped=result.skipped,
                   shortened=result.shortened)


def ensure_default_index(settings: Settings, *, encoder: Encoder | None = None) -> Path:
    """Build the demo-corpus index in the user cache directory unless it is already there (or rebuild it if damaged)."""
    from qa.errors import IndexCorruptError, IndexNotFoundError

    path = settings.resolved_index_dir
    try:
        live_generation(path)
    except (IndexNotFoundError, IndexCorruptError):  # damaged: a first build killed before it switched, say
        index_sources([DEMO_CORPUS], path, settings=settings, encoder=encoder)
    return path


@functools.lru_cache(maxsize=1)
def default_assistant() -> Assistant:
    """The assistant over the default index, created once per process."""
    return Assistant.load()


def ask(question: str, *, history: Sequence[Any] | None = None, top_k: int | None = None,
        since: dt.date | str | None = None, until: dt.date | str | None = None) -> Answer:
    """Answer a question from the default index (the demo corpus unless QA_INDEX_DIR says otherwise)."""
    return default_assistant().ask(question, history=history, top_k=top_k, since=since, until=until)
