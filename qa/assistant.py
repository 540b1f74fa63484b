"""Assistant: ask(question, history) -> Answer over one index; module-level `ask` over the default index."""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from embeddings.encoder import CACHED_CALL_MAX, Encoder, load_encoder
from qa.config import Settings
from qa.entities import EntityTagger
from qa.errors import ConfigError, QuestionError
from qa.extract import ScoredSentence, article_terms, shortlist, apply_answer_type, candidate_sentences, find_span, make_citation, score_sentences
from qa.index import NewsIndex, UpdateReport, build_index, check_dimension, load_index
from qa.question import ENTITY_LABELS, QuestionProfile, profile_question
from qa.retrieve import allowed_rows, retrieve
from qa.text import STOPWORDS, content_terms, stem, words
from qa.types import Answer, Article, Span

NOT_FOUND_TEXT = "These articles do not contain the answer."
DEMO_CORPUS = Path(__file__).parent / "examples" / "demo_corpus"
HITS_READ = 8  # chunks whose sentences are read as candidate answers
WARM_UP_BATCH = CACHED_CALL_MAX  # sentences per call in `warm_up`: calls this small go through the encoder's vector cache
PARTNER_SHARE = 0.65  # a neighbouring sentence scoring this share of the best joins the answer
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there)\b", re.IGNORECASE)


@dataclass(frozen=True)
class CollectionInfo:
    """What an Assistant answers from."""

    articles: int
    chunks: int
    earliest: dt.date | None
    latest: dt.date | None
    model_name: str
    index_dir: Path


class Assistant:
    """Answers questions from one loaded index. Safe to share between threads."""

    def __init__(self, index: NewsIndex, *, settings: Settings, encoder: Encoder | None = None, tagger: EntityTagger | None = None) -> None:
        self.index = index
        self.settings = settings
        self.encoder = encoder or load_encoder(index.model_name, backend=settings.encoder_backend)
        self.tagger = tagger or EntityTagger()
        self._checked = threading.Event()
        self._terms_cache: dict[str, tuple[frozenset[str], frozenset[str]]] = {}

    def _article_terms(self, article: Article) -> tuple[frozenset[str], frozenset[str]]:
        """`article_terms`, computed once per article of this (read-only) index."""
        cached = self._terms_cache.get(article.id)
        if cached is None:
            cached = self._terms_cache[article.id] = article_terms(article)
        return cached

    @classmethod
    def load(cls, index_dir: str | Path | None = None, *, settings: Settings | None = None, encoder: Encoder | None = None) -> Assistant:
        """An assistant over an existing index; with no directory, the default demo index (built on first use)."""
        settings = settings or Settings.from_env()
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
        """Prepare, ahead of the first questions, what answering computes per article and sentence.

        The terms of every article, and the vectors and entity analyses of every sentence, go
        into the caches that `ask` reads, so a running service answers its first questions as
        fast as later ones. Sentences are prepared only when the whole collection fits in the
        caches (a few thousand sentences); a larger one warms up as it is asked about.

        Returns:
            The number of sentences prepared (0 when the collection is too large).
        """
        for article in self.index.articles.values():
            self._article_terms(article)
        texts = list(dict.fromkeys(
            self.index.articles[article_id].body[span.start : span.end]
            for article_id, spans in self.index.sentences.items()
            for span in spans
        ))
        vector_room = getattr(getattr(self.encoder, "cache", None), "size", 0)
        if not texts or len(texts) > min(vector_room, self.tagger.cache_size):
            return 0
        for start in range(0, len(texts), WARM_UP_BATCH):
            batch = texts[start : start + WARM_UP_BATCH]
            self.encoder.encode(batch)
            self.tagger.analyze(batch)
        return len(texts)

    def clear_caches(self) -> None:
        """Forget what `warm_up` and earlier questions prepared (article terms, sentence vectors and analyses)."""
        self._terms_cache.clear()
        cache = getattr(self.encoder, "cache", None)
        if cache is not None:
            cache.clear()
        self.tagger.clear_cache()

    def info(self) -> CollectionInfo:
        earliest, latest = self.index.date_range()
        return CollectionInfo(len(self.index.articles), len(self.index.chunks), earliest, latest, self.index.model_name, self.index.path.parent)

    def ask(
        self,
        question: str,
        *,
        history: Sequence[str | dict] | None = None,
        top_k: int | None = None,
        since: dt.date | None = None,
        until: dt.date | None = None,
    ) -> Answer:
        """Answer `question` with sentences copied from the articles, each cited.

        Args:
            history: earlier turns, oldest first: user questions as strings, or chat
                messages as {"role", "content"} dicts. Pronouns in a follow-up are read
                against the previous question and its answer.
            top_k: how many citations to return (default `settings.top_k`).
            since, until: only articles published in this date range.
        """
        question = clean_question(question, self.settings.max_question_chars)
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise ConfigError(f"top_k must be a whole number of at least 1, got {top_k!r}")
        if since is not None and until is not None and since > until:
            raise ConfigError(f"since {since} is after until {until}: swap them or leave one out")
        top_k = top_k or self.settings.top_k
        if not self._checked.is_set():
            check_dimension(self.index, self.encoder)
            self._checked.set()
        follow_up = self._follow_up(question, history)
        return self._answer(question, follow_up=follow_up, top_k=top_k, since=since, until=until)

    def _follow_up(self, question: str, history: Sequence[str | dict] | None) -> FollowUp | None:
        """What the previous turn lends a question that leans on it (a pronoun, or very few words)."""
        previous = [q for q in _user_questions(history or []) if q.strip()]
        if not previous:
            return None
        own_terms = [w for w in words(question) if w not in STOPWORDS]
        if not _PRONOUN.search(question) and len(own_terms) > 3:
            return None
        try:
            last = clean_question(previous[-1], self.settings.max_question_chars)
        except QuestionError:  # an earlier turn that could not be asked (too long, no words) gives no context
            return None
        earlier = self._answer(last, follow_up=None, top_k=1, since=None, until=None)
        return FollowUp(subject=earlier.span if earlier.found else None, previous_question=last)

    def _rank(self, question: str, *, follow_up: FollowUp | None, top_k: int, since: dt.date | None, until: dt.date | None) -> Ranking:
        """Retrieve chunks and rank their sentences as answers to `question`."""
        context = follow_up.words if follow_up else ""
        resolved = _resolve_pronouns(question, follow_up.subject) if follow_up and follow_up.subject else question
        profile = profile_question(resolved)
        query = f"{resolved} {context}".strip()
        vectors = self.encoder.encode([resolved, query] if context else [resolved])
        question_vector, query_vector = vectors[0], vectors[-1]
        allowed = allowed_rows(self.index, since=since, until=until)
        hits = retrieve(self.index, query_vector, query, settings=self.settings, top_k=max(top_k, HITS_READ), allowed=allowed)
        # Names from the previous turn are context, not answers, so they count as the question's words.
        asked = words(f"{resolved} {context}")
        question_words = set(asked) | {stem(w) for w in asked}
        if not hits:
            return Ranking(profile, [], question_words)
        terms = tuple(dict.fromkeys(profile.terms + tuple(content_terms(context))))
        candidates = candidate_sentences(self.index, hits, terms, question_terms=content_terms(resolved), names=profile.names,
                                         terms_of=self._article_terms)
        candidates = shortlist(candidates)
        sentence_vectors = self.encoder.encode([s.text for s in candidates])
        ranked = score_sentences(candidates, question_vector, sentence_vectors)
        return Ranking(profile, apply_answer_type(ranked, profile, self.tagger, question_words), question_words)

    def _answer(self, question: str, *, follow_up: FollowUp | None, top_k: int, since: dt.date | None, until: dt.date | None) -> Answer:
        ranking = self._rank(question, follow_up=follow_up, top_k=top_k, since=since, until=until)
        ranked, profile, question_words = ranking.sentences, ranking.profile, ranking.question_words
        if not ranked:
            text = NOT_FOUND_TEXT
            if (since or until) and allowed_rows(self.index, since=since, until=until).size == 0:
                text = f"No article in this collection is dated {_describe_range(since, until)} (undated articles are left out once dates are given)."
            return Answer(question=question, text=text, found=False, confidence=0.0)
        best = ranked[0]
        confidence = answer_confidence(best, profile)
        found = confidence >= self.settings.min_confidence
        citations = []
        if found:
            partner = _partner_sentence(ranked, best)
            span = find_span(best.text, best.analysis, profile, question_words)
            if span is None and partner is not None and partner.analysis is not None:
                partner_span = find_span(partner.text, partner.analysis, profile, question_words)
                if partner_span is not None:
                    best, partner, span = partner, best, partner_span
            citations.append(make_citation(best, span, extend_to=partner.span if partner else None))
        used = {best.article.id} if found else set()
        answer_text = citations[0].answer if found else None
        for sentence in ranked:
            if len(citations) >= top_k:
                break
            if sentence.article.id in used:
                continue
            used.add(sentence.article.id)
            citations.append(make_citation(sentence, _mention(sentence.text, answer_text)))
        text = citations[0].quote if found else NOT_FOUND_TEXT
        answer_span = citations[0].answer if found else None
        return Answer(question=question, text=text, found=found, confidence=round(confidence, 4), citations=tuple(citations), span=answer_span)


def _describe_range(since: dt.date | None, until: dt.date | None) -> str:
    if since and until:
        return f"between {since} and {until}"
    return f"on or after {since}" if since else f"on or before {until}"


def _mention(sentence: str, answer: str | None) -> Span | None:
    """Where another source repeats the answer (case-insensitively), to highlight it there too.

    Other sources are highlighted only where they corroborate the answer: their own best
    guess would read as a competing answer.
    """
    if not answer:
        return None
    match = re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", sentence, re.IGNORECASE)
    return Span(match.start(), match.end()) if match else None


@dataclass(frozen=True)
class FollowUp:
    """What a follow-up question borrows from the turn before: its answer span and its words."""

    subject: str | None
    previous_question: str

    @property
    def words(self) -> str:
        return " ".join(filter(None, [self.subject, self.previous_question]))


@dataclass(frozen=True)
class Ranking:
    """Candidate answer sentences for one question, best first."""

    profile: QuestionProfile
    sentences: list[ScoredSentence]
    question_words: set[str]


def _partner_sentence(ranked, best):
    """A neighbouring sentence of the same article that scores nearly as well (answers often span two)."""
    body_sentences = [s for s in ranked[1:12] if s.article.id == best.article.id]
    for sentence in body_sentences:
        adjacent = abs(sentence.span.start - best.span.end) <= 3 or abs(best.span.start - sentence.span.end) <= 3
        if adjacent and sentence.score >= PARTNER_SHARE * best.score:
            return sentence
    return None


def answer_confidence(best: ScoredSentence, profile: QuestionProfile) -> float:
    """How sure the best sentence answers the question, in [0, 1].

    Similarity alone cannot tell a near miss from an answer, so the score also asks
    whether the article covers the question's terms and whether the sentence holds
    something of the expected answer type.
    """
    value = (best.coverage + best.article_coverage + max(best.dense, 0.0)) / 3
    if profile.answer_type in ENTITY_LABELS:
        value *= 0.3 + 0.7 * best.typed  # no date for "when", no name for "who": most likely not there
    elif not best.event:
        value *= 0.75  # no answer type to look for, and the sentence lacks the question's verb or asked-about noun
    value *= best.names_found
    return max(0.0, min(1.0, value))


_SUBJECT_PRONOUN = re.compile(r"\b(?:he|she|him|they|them|it)\b", re.IGNORECASE)
_POSSESSIVE_PRONOUN = re.compile(r"\b(?:his|her|its|their)\b", re.IGNORECASE)


def _resolve_pronouns(question: str, subject: str) -> str:
    """Put the previous answer in place of the first pronoun ("How old is he?" -> "How old is Keith Kellogg?")."""
    subject_match = _SUBJECT_PRONOUN.search(question)
    possessive_match = _POSSESSIVE_PRONOUN.search(question)
    matches = [m for m in (subject_match, possessive_match) if m is not None]
    if not matches:
        return question
    first = min(matches, key=lambda m: m.start())
    replacement = subject if first is subject_match else f"{subject}’s"
    return question[: first.start()] + replacement + question[first.end() :]


def _user_questions(history: Sequence[str | dict]) -> list[str]:
    questions = []
    for turn in history:
        if isinstance(turn, str):
            questions.append(turn)
        elif isinstance(turn, dict) and turn.get("role") == "user":
            content = turn.get("content")
            if isinstance(content, list):  # Gradio 6 message parts: [{"type": "text", "text": ...}]
                content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
            if isinstance(content, str):
                questions.append(content)
    return questions


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


def index_sources(sources: Sequence[str | Path], index_dir: Path, *, settings: Settings, encoder: Encoder | None = None, rebuild: bool = False, on_progress=None) -> UpdateReport:
    """Read sources (any mix of supported formats) and build or update the index at `index_dir`."""
    from dataclasses import replace

    from qa.ingest import read_sources

    result = read_sources(list(sources), progress=settings.show_progress)
    report = build_index(result.articles, index_dir, settings=settings, encoder=encoder, rebuild=rebuild, on_progress=on_progress)
    return replace(report, files_read=result.files_read, duplicates_merged=result.duplicates_merged, skipped=result.skipped,
                   shortened=result.shortened)


def ensure_default_index(settings: Settings, *, encoder: Encoder | None = None) -> Path:
    """Build the demo-corpus index in the user cache directory unless it is already there."""
    from qa.errors import IndexNotFoundError
    from qa.index import live_generation

    path = settings.resolved_index_dir
    try:
        live_generation(path)
    except IndexNotFoundError:
        index_sources([DEMO_CORPUS], path, settings=settings, encoder=encoder)
    return path


@functools.lru_cache(maxsize=1)
def default_assistant() -> Assistant:
    """The assistant over the default index, created once per process."""
    return Assistant.load()


def ask(question: str, *, history: Sequence[str | dict] | None = None, top_k: int | None = None,
        since: dt.date | None = None, until: dt.date | None = None) -> Answer:
    """Answer a question from the default index (the demo corpus unless QA_INDEX_DIR says otherwise)."""
    return default_assistant().ask(question, history=history, top_k=top_k, since=since, until=until)
