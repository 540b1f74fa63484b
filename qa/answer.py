"""Scored sentences -> abstain or cite -> Answer."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from qa.query import Query
from qa.reader.calibration import CONFIDENCE_FEATURES, SENTENCE_FEATURES, Calibration
from qa.reader.features import Candidate
from qa.reader.model import Reading, SentenceReading
from qa.types import Answer, Citation, Span

NOT_FOUND_TEXT = "These articles do not contain the answer."
_FLOOR = 1e-6  # keeps logarithms of vanishing probabilities finite


@dataclass(frozen=True)
class ScoredSentence:
    """A shortlisted sentence after reading: its reading, features and probability of holding the answer."""

    candidate: Candidate
    reading: SentenceReading
    features: dict[str, float]
    probability: float

    @property
    def span(self) -> Span | None:
        return self.reading.answer


def score_sentences(shortlisted: list[tuple[Candidate, float]], reading: Reading, calibration: Calibration) -> list[ScoredSentence]:
    """Combine each sentence's shortlist score with what the reader found in it; best first."""
    if not shortlisted:
        return []
    rows = []
    for (candidate, logit), sentence_reading in zip(shortlisted, reading.sentences, strict=True):
        features = {
            "shortlist_logit": logit,
            "log_answer_probability": math.log(max(sentence_reading.answer_probability, _FLOOR)),
            "log_mass": math.log(max(sentence_reading.mass, _FLOOR)),
            "no_answer": reading.no_answer,
            "has_span": float(sentence_reading.answer is not None),
            "coverage": candidate.features["coverage"],
            "article_coverage": candidate.features["article_coverage"],
            "names": candidate.features["names"],
        }
        rows.append((candidate, sentence_reading, features))
    matrix = np.array([[f[name] for name in SENTENCE_FEATURES] for _, _, f in rows])
    probabilities = calibration.sentence.probability(matrix)
    scored = [ScoredSentence(c, r, f, float(p)) for (c, r, f), p in zip(rows, probabilities, strict=True)]
    return sorted(scored, key=lambda s: (-s.probability, s.candidate.article.id, s.candidate.span.start))


def with_highlight(sentence: ScoredSentence, reading: Reading) -> ScoredSentence:
    """The sentence highlighted where another reading of it (alone) puts the answer; scores unchanged.

    Kept as it was when that reading finds no span.
    """
    span = reading.sentences[0].answer if reading.sentences else None
    return sentence if span is None else replace(sentence, reading=replace(sentence.reading, answer=span))


def confidence_features(scored: list[ScoredSentence]) -> dict[str, float]:
    """The inputs of the confidence model for the best sentence."""
    best = scored[0]
    second = scored[1].probability if len(scored) > 1 else 0.0
    return {
        "best_logit": math.log(max(best.probability, _FLOOR) / max(1 - best.probability, _FLOOR)),
        "margin": best.probability - second,
        "no_answer": best.features["no_answer"],
        "log_answer_probability": best.features["log_answer_probability"],
        "coverage": best.features["coverage"],
        "article_coverage": best.features["article_coverage"],
        "names": best.features["names"],
        "dense": best.candidate.features["dense"],
        "pairs": best.candidate.features["pairs"],
    }


def answer_confidence(scored: list[ScoredSentence], calibration: Calibration) -> float:
    """Estimated probability that the best sentence holds the right answer (0 with nothing read)."""
    if not scored:
        return 0.0
    features = confidence_features(scored)
    return float(calibration.confidence.probability(np.array([[features[name] for name in CONFIDENCE_FEATURES]]))[0])


def build_answer(query: Query, scored: list[ScoredSentence], *, confidence: float, threshold: float,
                 not_found_text: str = NOT_FOUND_TEXT) -> Answer:
    """The cited answer: the best sentence with its span when confident enough, else not found.

    Further citations are the best sentences of other articles, highlighted only where they
    repeat the answer (their own best guess would read as a competing answer).
    """
    found = bool(scored) and confidence >= threshold
    citations: list[Citation] = []
    used: set[str] = set()
    answer_text: str | None = None
    if found:
        best = scored[0]
        citations.append(make_citation(best.candidate, best.span, score=best.probability))
        used.add(best.candidate.article.id)
        answer_text = citations[0].answer
    for sentence in scored:
        if len(citations) >= query.top_k:
            break
        if sentence.candidate.article.id in used:
            continue
        used.add(sentence.candidate.article.id)
        citations.append(make_citation(sentence.candidate, mention(sentence.candidate.text, answer_text), score=sentence.probability))
    return Answer(question=query.question, text=citations[0].quote if found else not_found_text, found=found,
                  confidence=round(confidence, 4), citations=tuple(citations), span=citations[0].answer if found else None)


def make_citation(candidate: Candidate, span: Span | None, *, score: float) -> Citation:
    """A citation quoting the candidate sentence, `span` relative to it."""
    article = candidate.article
    return Citation(article_id=article.id, title=article.title, published=article.published, sources=article.sources, url=article.url,
                    quote=candidate.text, start=candidate.span.start, end=candidate.span.end,
                    answer_start=span.start if span else None, answer_end=span.end if span else None, score=round(float(score), 4))


def mention(sentence: str, answer: str | None) -> Span | None:
    """Where a sentence repeats the answer (case-insensitively), to highlight it there too."""
    if not answer:
        return None
    match = re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", sentence, re.IGNORECASE)
    return Span(match.start(), match.end()) if match else None
