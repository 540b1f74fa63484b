"""Hits -> Citations: pick the sentences that answer the question and the span that is the answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qa.entities import Analysis, Entity, EntityTagger, Token
from qa.index import NewsIndex
from qa.question import AGE, DATE, DURATION, ENTITY_LABELS, NUMBER, ORGANIZATION, OTHER, PERSON, PLACE, REASON, QuestionProfile
from qa.text import STOPWORDS, content_terms, normalize, stem, terms_match, words
from qa.types import Article, Citation, Hit, Span

# How much each signal counts in a sentence's score (tuned on a development set, kept few and general).
DENSE_WEIGHT = 0.5
COVERAGE_WEIGHT = 0.5
TYPE_WEIGHT = 0.4
RETRIEVAL_WEIGHT = 0.1
PHRASE_WEIGHT = 0.15  # share of the question's word pairs that the sentence has side by side
TITLE_SHARE = 0.5  # a question term found only in the article's title (or the sentence a pronoun points back to) counts this much
# A sentence opening with a pronoun ("He suffered ...") refers back to the sentence before it.
_ANAPHORIC_OPENING = re.compile(r"(?:he|she|they|it|his|her|their|its|this|these|those|that)\b", re.IGNORECASE)
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
    event: float = 1.0  # whether the sentence mentions the question's event word (its main verb, or the noun asked about)
    score: float = 0.0
    analysis: Analysis | None = None


def article_terms(article: Article) -> tuple[frozenset[str], frozenset[str]]:
    """The terms of an article's title, and of title and body together."""
    title = frozenset(content_terms(article.title))
    return title, title | frozenset(content_terms(article.body))


def candidate_sentences(
    index: NewsIndex,
    hits: list[Hit],
    terms: tuple[str, ...],
    *,
    question_terms: list[str] | None = None,
    names: tuple[str, ...] = (),
    terms_of: Callable[[Article], tuple[frozenset[str], frozenset[str]]] = article_terms,
) -> list[ScoredSentence]:
    """Every sentence of the retrieved chunks, once, with its lexical coverage of the question.

    Coverage is the IDF-weighted share of the question's terms found in the sentence (terms
    only in the title, or for a sentence opening with a pronoun only in the sentence before
    it, count `TITLE_SHARE`); article coverage is the same share over the
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
        title_terms, all_terms = terms_of(hit.article)
        article_coverage = sum(w for t, w in weights.items() if terms_match(t, all_terms)) / total
        names_found = sum(terms_match(n, all_terms) for n in names) / len(names) if names else 1.0
        spans = index.sentences[hit.article.id]
        for position, span in enumerate(spans):
            if span.end <= hit.chunk.start or span.start >= hit.chunk.end or (hit.article.id, span.start) in seen:
                continue
            seen.add((hit.article.id, span.start))
            text = hit.article.body[span.start : span.end]
            sentence_sequence = content_terms(text)
            sentence_terms = set(sentence_sequence)
            context_terms = title_terms
            if position > 0 and _ANAPHORIC_OPENING.match(text):  # "He suffered ...": who "he" is, the sentence before says
                previous = spans[position - 1]
                context_terms = title_terms | frozenset(content_terms(hit.article.body[previous.start : previous.end]))
            phrases = len(pairs & set(zip(sentence_sequence, sentence_sequence[1:]))) / len(pairs) if pairs else 0.0
            covered = sum(
                w if terms_match(t, sentence_terms) else TITLE_SHARE * w if terms_match(t, context_terms) else 0.0
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
    *analyses, question_analysis = tagger.analyze([s.text for s in head] + [profile.text])
    events = event_lemmas(question_analysis)
    updated = []
    for sentence, analysis in zip(head, analyses):
        if profile.answer_type in ENTITY_LABELS:
            typed = max((_strength(e, profile) for e in answer_candidates(sentence.text, analysis, profile, question_words)), default=0.0)
        else:
            typed = float(profile.answer_type == REASON and _REASON_CUES.search(sentence.text) is not None)
        event = float(mentions_event(analysis, events))
        updated.append(_replace(sentence, analysis=analysis, typed=typed, event=event, score=sentence.score + TYPE_WEIGHT * typed))
    rest = ranked[SENTENCES_TAGGED:]
    return sorted(updated, key=lambda s: (-s.score, s.article.id, s.span.start)) + rest


# Verbs too general to name what a question is about ("What did he do?", "Where is it?").
_LIGHT_VERBS = frozenset("be have do get make take give go become say tell accord happen include use seem".split())
_WH_WORDS = frozenset("what which who whom whose when where why how".split())


def event_lemmas(question: Analysis) -> tuple[str, ...]:
    """The question's event words: lemmas of its content verbs, else of the noun it asks about ("What is the population ...").

    Empty without a parse, or when the question has neither (then nothing is checked).
    """
    verbs = [t.lemma for t in question.tokens if t.pos == "VERB" and t.lemma not in _LIGHT_VERBS and len(t.lemma) > 2]
    if verbs:
        return tuple(dict.fromkeys(verbs))
    nouns = [t.lemma for t in question.tokens
             if t.pos == "NOUN" and t.dep in {"nsubj", "attr", "dobj"} and t.lemma not in _WH_WORDS and len(t.lemma) > 2]
    return tuple(dict.fromkeys(nouns))


def mentions_event(analysis: Analysis | None, events: tuple[str, ...]) -> bool:
    """Whether a sentence has one of the event words, as a lemma or a derived form ("meet" in "meeting")."""
    if not events or analysis is None or not analysis.tokens:
        return True
    lemmas = {t.lemma for t in analysis.tokens}
    return any(event in lemmas or any(len(event) >= 4 and lemma.startswith(event) for lemma in lemmas) for event in events)


_CAPITALISED_FUNCTION_WORDS = frozenset("on in at for from since during meanwhile however today yesterday last next".split())
_CALENDAR_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Labels a small tagger often gives instead of the right one (a person tagged ORG, a city NORP), and
# capitalised runs it left untagged ("PROPER"): weaker candidates for each answer type.
_FALLBACK_LABELS = {
    PERSON: {"ORG", "PROPER"},
    ORGANIZATION: {"PERSON", "GPE", "FAC", "NORP", "PROPER"},
    PLACE: {"ORG", "NORP", "PERSON", "PROPER"},
}
# Fallbacks that are almost never right: a person for "where", a nationality adjective ("Russian") for "which newspaper".
_UNLIKELY_LABELS = {PLACE: {"PERSON"}, ORGANIZATION: {"NORP"}}
_PROPER_RUN = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:of|the|de|al|bin|van|von)?\s*[A-Z][\w’'-]*)*")


def _named_in_question(word: str, question_words: set[str]) -> bool:
    """Whether the question already names this word, also as a demonym ("Syria" in "Syrian rebels")."""
    return terms_match(word, question_words) or (
        len(word) >= 4 and any(len(q) >= 4 and (q.startswith(word) or word.startswith(q)) for q in question_words)
    )


def _strength(entity: Entity, profile: QuestionProfile) -> float:
    """1 for an entity of the expected label; 0.5 for a fallback label (small NER models mix them up), 0.25 for an unlikely one."""
    if entity.label in ENTITY_LABELS[profile.answer_type]:
        return 1.0
    return 0.25 if entity.label in _UNLIKELY_LABELS.get(profile.answer_type, ()) else 0.5


def answer_candidates(sentence: str, analysis: Analysis, profile: QuestionProfile, question_words: set[str]) -> list[Entity]:
    """Entities of the expected type that the question does not already name.

    For people, places and organisations, other names in the sentence are candidates too,
    with a lower strength (see `_strength`).
    """
    labels = ENTITY_LABELS.get(profile.answer_type, set())
    fallback = _FALLBACK_LABELS.get(profile.answer_type, set())
    entities = list(analysis.entities)
    tagged = [False] * len(sentence)
    for entity in entities:
        tagged[entity.start : entity.end] = [True] * (entity.end - entity.start)
    if "PROPER" in fallback:
        for match in _PROPER_RUN.finditer(sentence):
            start, run = match.start(), match.group().split()
            if start == 0 and run[0].lower() in STOPWORDS | _CAPITALISED_FUNCTION_WORDS:
                start, run = start + len(run[0]) + 1, run[1:]  # "The", "On", "In" open the sentence, not a name
            if not run or all(word.lower().strip("’'s") in _CALENDAR_WORDS for word in run) or any(tagged[start : match.end()]):
                continue  # where the tagger labelled the words, its label stands
            entities.append(Entity(start, match.end(), "PROPER"))
    found = []
    for entity in entities:
        if entity.label not in labels and entity.label not in fallback:
            continue
        text = sentence[entity.start : entity.end]
        if profile.answer_type in (AGE, NUMBER) and not _NUMBER.search(text):
            continue
        if profile.answer_type == DATE and not _SPECIFIC_DATE.search(text):
            continue  # "today", "last week": not an answer to "on what date"
        if profile.answer_type == DURATION:
            entity = _as_duration(sentence, entity)
            if entity is None:
                continue
            text = sentence[entity.start : entity.end]
        entity_words = [stem(w) for w in words(text) if w not in STOPWORDS]
        if not entity_words or all(_named_in_question(w, question_words) for w in entity_words):
            continue  # only function words ("The"), or only what the question already names
        found.append(entity)
    if profile.answer_type == AGE:
        for match in re.finditer(r"\b\d{1,3}-year-old\b|\baged \d{1,3}\b|\b\d{1,3} years old\b", sentence):
            found.append(Entity(match.start(), match.end(), "AGE"))
    return found


_DURATION_UNIT = re.compile(r"\b(?:years?|months?|weeks?|days?|decades?|hours?|minutes?|centur(?:y|ies))\b", re.IGNORECASE)
_DURATION_OPENER = re.compile(r"\b(?:since|for|over)\s+$", re.IGNORECASE)


def _as_duration(sentence: str, entity: Entity) -> Entity | None:
    """A date entity as an answer to "how long": "since 1994" (taking in "since"), "30 years"; None for a plain date."""
    opener = _DURATION_OPENER.search(sentence, 0, entity.start)
    text = sentence[entity.start : entity.end]
    if opener is not None and not text.lower().startswith(("since", "for", "over")):
        return Entity(opener.start(), entity.end, entity.label)
    if _DURATION_UNIT.search(text) or text.lower().startswith(("since", "for", "over")):
        return entity
    return None


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
    weighted = _question_word_positions(sentence, question_words, profile.names)
    matches = [end for _, end, _ in weighted]
    if profile.answer_type in ENTITY_LABELS:
        entities = answer_candidates(sentence, analysis, profile, question_words)
        if profile.answer_type == AGE:
            ages = [e for e in entities if e.label == "AGE" or "year" in sentence[e.start : e.end]]
            entities = ages or entities
        if not entities:
            return None
        tokens = analysis.tokens
        anchors = _anchor_tokens(sentence, tokens, question_words, profile.names)
        focus = [i for i, t in enumerate(tokens) if t.lemma and terms_match(stem(t.lemma), set(profile.focus))]
        asks_where = profile.answer_type == PLACE and re.search(r"\bwhere\b", profile.text, re.IGNORECASE) is not None

        def rank(entity: Entity) -> tuple[float, float, int, int]:
            strength = 1.0 if entity.label == "AGE" else _strength(entity, profile)
            root = _entity_root(tokens, entity)
            if root is not None:
                if asks_where and _locative(tokens, root):
                    strength += 0.25  # "at the X residence", "near X": the place where something happened
                if any(_tree_distance(tokens, root, f) <= 2 and abs(root - f) <= 3 for f in focus):
                    strength += 0.25  # "the newspaper X", "the city of X": named by the noun the question asks about
                if _governed_by_question_verb(tokens, root, question_words):
                    strength += 0.5  # an argument of the question's own verb ("seized most of X" for "which city did they seize")
            return (strength, _closeness(entity, weighted) + _tree_closeness(tokens, root, anchors), -entity.start, entity.end)

        if asks_where and tokens:
            located = [e for e in entities if (root := _entity_root(tokens, e)) is not None and _locative(tokens, root)]
            if not located:
                return None  # a place the sentence does not put anything in ("to discuss Syria") does not say where
            entities_ranked = located
        else:
            entities_ranked = entities
        best = max(entities_ranked, key=rank)
        if profile.wants_list:
            best = _extend_list(sentence, best, entities)
        return Span(best.start, best.end)
    if profile.answer_type == OTHER:
        named = _named_remainder(sentence, analysis, question_words, profile.focus)
        if named is not None:
            return named
        phrases = [p for p in analysis.noun_phrases if not _mostly_question(sentence[p.start : p.end], question_words)]
        if not phrases:
            return None
        after = [p for p in phrases if matches and p.start >= max(matches)]
        pool = after or phrases
        best = min(pool, key=lambda p: (_distance(p, matches), p.start))
        return Span(best.start, best.end)
    return None


_LOCATIVE_PREPOSITIONS = frozenset("in at near to into from inside outside across within around toward towards throughout on".split())


def _anchor_tokens(sentence: str, tokens: tuple[Token, ...], question_words: set[str], names: tuple[str, ...]) -> list[tuple[int, float]]:
    """(index, weight) of the tokens the question also uses, by word or lemma ("seized" for "seize"); names weigh more."""
    anchors = []
    for i, token in enumerate(tokens):
        word = normalize(sentence[token.start : token.end])
        if not word or word in STOPWORDS or not word[0].isalnum():
            continue
        forms = {word, stem(word), token.lemma, stem(token.lemma)}
        if forms & question_words:
            anchors.append((i, 1.5 if forms & set(names) else 1.0))
    return anchors


def _governed_by_question_verb(tokens: tuple[Token, ...], root: int, question_words: set[str]) -> bool:
    """Whether the nearest verb above a token is one the question uses (not a light verb such as "be" or "say")."""
    for i in _ancestors(tokens, root)[1:]:
        if tokens[i].pos in {"VERB", "AUX"}:
            lemma = tokens[i].lemma
            return lemma not in _LIGHT_VERBS and (lemma in question_words or stem(lemma) in question_words)
    return False


def _token_at(tokens: tuple[Token, ...], offset: int) -> int | None:
    for i, token in enumerate(tokens):
        if token.start <= offset < token.end:
            return i
    return None


def _entity_root(tokens: tuple[Token, ...], entity: Entity) -> int | None:
    """The token of an entity whose head lies outside it (the entity's syntactic head)."""
    inside = [i for i, t in enumerate(tokens) if t.start >= entity.start and t.end <= entity.end]
    for i in inside:
        if not entity.start <= tokens[tokens[i].head].start < entity.end or tokens[i].head == i:
            return i
    return inside[-1] if inside else None


def _ancestors(tokens: tuple[Token, ...], i: int) -> list[int]:
    chain = [i]
    while tokens[chain[-1]].head != chain[-1] and len(chain) <= len(tokens):
        chain.append(tokens[chain[-1]].head)
    return chain


def _tree_distance(tokens: tuple[Token, ...], a: int, b: int) -> int:
    """Arcs between two tokens of a dependency tree."""
    up_a, up_b = _ancestors(tokens, a), _ancestors(tokens, b)
    depth_b = {node: depth for depth, node in enumerate(up_b)}
    for depth, node in enumerate(up_a):
        if node in depth_b:
            return depth + depth_b[node]
    return len(tokens)


def _tree_closeness(tokens: tuple[Token, ...], root: int | None, anchors: list[tuple[int, float]]) -> float:
    """How near an entity stands to the question's words in the parse: an argument of the question's verb is near it."""
    if root is None:
        return 0.0
    return sum(weight * 2.0 ** (1 - _tree_distance(tokens, root, anchor)) for anchor, weight in anchors)


def _locative(tokens: tuple[Token, ...], root: int) -> bool:
    """Whether a name is the object of a place preposition ("in X", "at the X residence", "to the city of X", "near X, Y")."""
    i = root
    for _ in range(len(tokens)):
        token = tokens[i]
        if token.dep in {"compound", "appos", "conj", "nmod"} and token.head != i:
            i = token.head
        elif token.dep == "pobj" and token.head != i:
            preposition = tokens[token.head]
            if preposition.lemma in _LOCATIVE_PREPOSITIONS:
                return tokens[preposition.head].lemma not in {"accord", "due", "owe", "thank"}  # "according to X" names a source
            if preposition.lemma == "of" and preposition.head != token.head and tokens[preposition.head].pos in {"NOUN", "PROPN"}:
                i = preposition.head  # "the city of X": ask where the city is
            else:
                return False
        else:
            return False
    return False


_TOKEN = re.compile(r"[$€£]?[^\W_][\w’'.,-]*[^\W_]|[$€£]?[^\W_]")


def _named_remainder(sentence: str, analysis: Analysis, question_words: set[str], focus: tuple[str, ...]) -> Span | None:
    """In a noun phrase that repeats the question's words, the name or number beside them.

    "Which hypersonic missile ..." in "its Oreshnik hypersonic missile" -> "Oreshnik";
    "What is the annual trade turnover?" in "Annual $1 billion trade turnover" -> "$1 billion".
    """
    def asked(token: str) -> bool:
        word = normalize(token.strip("$€£"))
        return word in STOPWORDS or terms_match(stem(word), question_words) or word in {"its", "his", "her", "their"}

    for phrase in analysis.noun_phrases:
        tokens = list(_TOKEN.finditer(sentence, phrase.start, phrase.end))
        flags = [asked(t.group()) for t in tokens]
        phrase_terms = {stem(normalize(t.group())) for t in tokens}
        if all(flags) or not focus or not any(terms_match(term, phrase_terms) for term in focus):
            continue
        runs, current = [], []
        for token, is_asked in zip(tokens, flags):
            if is_asked:
                if current:
                    runs.append(current)
                current = []
            else:
                current.append(token)
        if current:
            runs.append(current)
        for run in runs:
            text = sentence[run[0].start() : run[-1].end()]
            if any(ch.isdigit() for ch in text) or any(t.group()[0].isupper() for t in run):
                return Span(run[0].start(), run[-1].end())
    return None


def _closeness(entity: Entity, positions: list[tuple[int, int, float]]) -> float:
    """How near an entity stands to the question's words: every nearby match counts, the nearest most."""
    total = 0.0
    for start, end, weight in positions:
        gap = entity.start - end if end <= entity.start else start - entity.end if start >= entity.end else 0
        total += weight * 2.0 ** (-gap / 20)
    return total


def _question_word_positions(sentence: str, question_words: set[str], names: tuple[str, ...] = ()) -> list[tuple[int, int, float]]:
    """(start, end, weight) of the sentence words the question also uses; the question's names weigh more."""
    positions = []
    for match in re.finditer(r"[^\W_]+", sentence):
        word = normalize(match.group())
        if word not in STOPWORDS and (word in question_words or stem(word) in question_words):
            positions.append((match.start(), match.end(), 1.5 if stem(word) in names else 1.0))
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
