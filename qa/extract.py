"""Hits -> Citations: pick the sentences that answer the question and the span that is the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.entities import Analysis, Entity, EntityTagger
from qa.index import NewsIndex
from qa.question import AGE, DATE, ENTITY_LABELS, NUMBER, OTHER, REASON, QuestionProfile
from qa.text import STOPWORDS, content_terms, normalize, stem, terms_match, words
from qa.types import Article, Citation, Hit, Span

# How much each signal counts in a sentence's score (tuned on a development set, kept few and general).
DENSE_WEIGHT = 0.5
COVERAGE_WEIGHT = 0.5
TYPE_WEIGHT = 0.4
RETRIEVAL_WEIGHT = 0.1
PHRASE_WEIGHT = 0.15  # share of the question's word pairs that the sentence has side by side
TITLE_SHARE = 0.5  # a question term found only in the article's title counts this much
SENTENCES_EMBEDDED = 12
SENTENCES_TAGGED = 8

_REASON_CUES = re.compile(
    r"\b(?:because of|because|due to|owing to|as a result of|following|given|in order to|in response to|amid|after|since|so that)\b|\bblames?\b.*?\bon\b",
    re.IGNORECASE,
)


_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|dozens?|hundreds?|thousands?|millions?|billions?|trillions?)\b", re.IGNORECASE)
_SPECIFIC_DATE = re.compile(
    r"\d|\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(?:spring|summer|autumn|fall|winter)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate answer sentence with the signals that ranked it."""

    article: Article
    span: Span
    text: str
    retrieval: float
    coverage: float
    article_coverage: float = 0.0
    names_found: float = 1.0
    phrases: float = 0.0
    dense: float = 0.0
    typed: float = 0.0
    score: float = 0.0
    analysis: Analysis | None = None


def candidate_sentences(
    index: NewsIndex, hits: list[Hit], terms: tuple[str, ...], *, question_terms: list[str] | None = None, names: tuple[str, ...] = ()
) -> list[ScoredSentence]:
    """Every sentence of the retrieved chunks, once, with its lexical coverage of the question.

    Coverage is the IDF-weighted share of the question's terms found in the sentence (terms
    only in the title count `TITLE_SHARE`); article coverage is the same share over the
    whole article, a check that the article is about what the question asks; `names_found`
    is the share of the question's proper names that the article mentions; `phrases` the
    share of the question's adjacent term pairs ("take effect") found adjacent in the sentence.
    """
    question_terms = question_terms if question_terms is not None else list(terms)
    seen: set[tuple[str, int]] = set()
    weights = {term: index.lexical.idf(term) for term in terms}
    total = sum(weights.values()) or 1.0
    pairs = set(zip(question_terms, question_terms[1:]))
    candidates = []
    for hit in hits:
        title_terms = set(content_terms(hit.article.title))
        article_terms = title_terms | set(content_terms(hit.article.body))
        article_coverage = sum(w for t, w in weights.items() if terms_match(t, article_terms)) / total
        names_found = sum(terms_match(n, article_terms) for n in names) / len(names) if names else 1.0
        for span in index.sentences[hit.article.id]:
            if span.end <= hit.chunk.start or span.start >= hit.chunk.end or (hit.article.id, span.start) in seen:
                continue
            seen.add((hit.article.id, span.start))
            text = hit.article.body[span.start : span.end]
            sentence_sequence = content_terms(text)
            sentence_terms = set(sentence_sequence)
            phrases = len(pairs & set(zip(sentence_sequence, sentence_sequence[1:]))) / len(pairs) if pairs else 0.0
            covered = sum(
                w if terms_match(t, sentence_terms) else TITLE_SHARE * w if terms_match(t, title_terms) else 0.0
                for t, w in weights.items()
            )
            candidates.append(ScoredSentence(hit.article, span, text, retrieval=1.0 / hit.rank, coverage=covered / total,
                                             article_coverage=article_coverage, names_found=names_found, phrases=phrases))
    return candidates


def shortlist(candidates: list[ScoredSentence], size: int = SENTENCES_EMBEDDED) -> list[ScoredSentence]:
    """The candidates worth embedding, by the cheap lexical signals (embedding every sentence is the slow part)."""
    ranked = sorted(candidates, key=lambda s: (-(s.coverage + 0.2 * s.retrieval + PHRASE_WEIGHT * s.phrases), s.article.id, s.span.start))
    return ranked[:size]


def score_sentences(
    candidates: list[ScoredSentence],
    question_vector: np.ndarray,
    sentence_vectors: np.ndarray,
) -> list[ScoredSentence]:
    """Combine dense similarity, term coverage and retrieval rank; best first."""
    scored = []
    for candidate, vector in zip(candidates, sentence_vectors):
        dense = float(vector @ question_vector)
        score = (DENSE_WEIGHT * dense + COVERAGE_WEIGHT * candidate.coverage + RETRIEVAL_WEIGHT * candidate.retrieval
                 + PHRASE_WEIGHT * candidate.phrases)
        scored.append(_replace(candidate, dense=dense, score=score))
    return sorted(scored, key=lambda s: (-s.score, s.article.id, s.span.start))


def apply_answer_type(
    ranked: list[ScoredSentence], profile: QuestionProfile, tagger: EntityTagger, question_words: set[str]
) -> list[ScoredSentence]:
    """Tag the leading sentences and reward those holding an entity of the expected type."""
    head = ranked[:SENTENCES_TAGGED]
    analyses = tagger.analyze([s.text for s in head])
    updated = []
    for sentence, analysis in zip(head, analyses):
        if profile.answer_type in ENTITY_LABELS:
            typed = max((_strength(e, profile) for e in answer_candidates(sentence.text, analysis, profile, question_words)), default=0.0)
        else:
            typed = float(profile.answer_type == REASON and _REASON_CUES.search(sentence.text) is not None)
        updated.append(_replace(sentence, analysis=analysis, typed=typed, score=sentence.score + TYPE_WEIGHT * typed))
    rest = ranked[SENTENCES_TAGGED:]
    return sorted(updated, key=lambda s: (-s.score, s.article.id, s.span.start)) + rest


_NAME_LABELS = {"PERSON", "ORG", "GPE", "LOC", "FAC", "NORP", "PROPER"}
_PROPER_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of|the|de|al|bin|van|von)?\s*[A-Z][\w’'-]*)*")


def _strength(entity: Entity, profile: QuestionProfile) -> float:
    """1 for an entity of the expected label; 0.5 for another kind of name (small NER models mix them up)."""
    return 1.0 if entity.label in ENTITY_LABELS[profile.answer_type] else 0.5


def answer_candidates(sentence: str, analysis: Analysis, profile: QuestionProfile, question_words: set[str]) -> list[Entity]:
    """Entities of the expected type that the question does not already name.

    For people, places and organisations, other names in the sentence are candidates too,
    with a lower strength (see `_strength`).
    """
    labels = ENTITY_LABELS.get(profile.answer_type, set())
    names_too = labels & {"PERSON", "ORG", "GPE"}
    entities = list(analysis.entities)
    if names_too:
        for match in _PROPER_RUN.finditer(sentence):
            start = match.start()
            if start == 0:  # a capital at the start of a sentence says nothing unless more capitals follow
                if " " not in match.group():
                    continue
                start = match.start() + len(match.group().split()[0]) + 1 if match.group().split()[0] in {"The", "A", "An"} else start
            entities.append(Entity(start, match.end(), "PROPER"))
    found = []
    for entity in entities:
        if entity.label not in labels and not (names_too and entity.label in _NAME_LABELS):
            continue
        text = sentence[entity.start : entity.end]
        if profile.answer_type in (AGE, NUMBER) and not _NUMBER.search(text):
            continue
        if profile.answer_type == DATE and not _SPECIFIC_DATE.search(text):
            continue  # "today", "last week": not an answer to "on what date"
        entity_words = [stem(w) for w in words(text) if w not in STOPWORDS]
        if entity_words and all(terms_match(w, question_words) for w in entity_words):
            continue
        found.append(entity)
    if profile.answer_type == AGE:
        for match in re.finditer(r"\b\d{1,3}-year-old\b|\baged \d{1,3}\b|\b\d{1,3} years old\b", sentence):
            found.append(Entity(match.start(), match.end(), "AGE"))
    return found


def find_span(sentence: str, analysis: Analysis | None, profile: QuestionProfile, question_words: set[str]) -> Span | None:
    """The words of `sentence` that answer the question, or None when nothing fits."""
    if profile.answer_type == REASON:
        cue = _REASON_CUES.search(sentence)
        if cue is None:
            return None
        start = cue.end() if cue.group().lower().startswith("blame") else cue.start()
        return _trim_span(sentence, start, len(sentence))
    if analysis is None:
        return None
    matches = _question_word_positions(sentence, question_words)
    if profile.answer_type in ENTITY_LABELS:
        entities = answer_candidates(sentence, analysis, profile, question_words)
        if profile.answer_type == AGE:
            ages = [e for e in entities if e.label == "AGE" or "year" in sentence[e.start : e.end]]
            entities = ages or entities
        if not entities:
            return None
        strongest = max(_strength(e, profile) if e.label != "AGE" else 1.0 for e in entities)
        pool = [e for e in entities if (1.0 if e.label == "AGE" else _strength(e, profile)) == strongest]
        best = min(pool, key=lambda e: (_distance(e, matches), e.start, -e.end))
        if profile.wants_list:
            best = _extend_list(sentence, best, entities)
        return Span(best.start, best.end)
    if profile.answer_type == OTHER:
        phrases = [p for p in analysis.noun_phrases if not _mostly_question(sentence[p.start : p.end], question_words)]
        if not phrases:
            return None
        after = [p for p in phrases if matches and p.start >= max(matches)]
        pool = after or phrases
        best = min(pool, key=lambda p: (_distance(p, matches), p.start))
        return Span(best.start, best.end)
    return None


def _question_word_positions(sentence: str, question_words: set[str]) -> list[int]:
    positions = []
    for match in re.finditer(r"[^\W_]+", sentence):
        word = normalize(match.group())
        if word not in STOPWORDS and (word in question_words or stem(word) in question_words):
            positions.append(match.end())
    return positions


def _distance(entity: Entity, positions: list[int]) -> int:
    if not positions:
        return 0
    return min(min(abs(entity.start - p), abs(entity.end - p)) for p in positions)


def _mostly_question(text: str, question_words: set[str]) -> bool:
    tokens = [w for w in words(text) if w not in STOPWORDS]
    return not tokens or sum(w in question_words or stem(w) in question_words for w in tokens) * 2 >= len(tokens)


def _extend_list(sentence: str, best: Entity, entities: list[Entity]) -> Entity:
    """Grow an entity over neighbours joined by commas, "and" or "or" ("Vietnam, Cambodia and Laos")."""
    ordered = sorted(entities, key=lambda e: e.start)
    start, end = best.start, best.end
    joiner = re.compile(r"^\s*(?:,|,?\s+(?:and|or))\s*$")
    for entity in ordered:
        if entity.start >= end and joiner.match(sentence[end : entity.start]):
            end = entity.end
    for entity in reversed(ordered):
        if entity.end <= start and joiner.match(sentence[entity.end : start]):
            start = entity.start
    return Entity(start, end, best.label)


def _trim_span(text: str, start: int, end: int) -> Span | None:
    while start < end and (text[start].isspace() or text[start] in ",;:"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ".,;:!?"):
        end -= 1
    return Span(start, end) if end > start else None


def make_citation(sentence: ScoredSentence, span: Span | None, *, extend_to: Span | None = None) -> Citation:
    """A citation quoting `sentence` (or from it through `extend_to`), with `span` relative to the sentence."""
    start, end = sentence.span.start, sentence.span.end
    if extend_to is not None:
        start, end = min(start, extend_to.start), max(end, extend_to.end)
    shift = sentence.span.start - start
    article = sentence.article
    return Citation(
        article_id=article.id, title=article.title, published=article.published, sources=article.sources, url=article.url,
        quote=article.body[start:end], start=start, end=end,
        answer_start=span.start + shift if span else None, answer_end=span.end + shift if span else None,
        score=round(float(sentence.score), 4),
    )


def _replace(sentence: ScoredSentence, **changes) -> ScoredSentence:
    from dataclasses import replace

    return replace(sentence, **changes)
