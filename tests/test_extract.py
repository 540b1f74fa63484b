"""Answer spans inside a chosen sentence, by expected type (rule-based tagger and spaCy)."""

from __future__ import annotations

import pytest

from qa.entities import EntityTagger
from qa.extract import find_span
from qa.question import profile_question
from qa.text import stem, words


def _span(question: str, sentence: str, tagger: EntityTagger) -> str | None:
    profile = profile_question(question)
    question_words = set(words(question)) | {stem(w) for w in words(question)}
    analysis = tagger.analyze([sentence])[0]
    span = find_span(sentence, analysis, profile, question_words)
    return None if span is None else sentence[span.start : span.end]


@pytest.fixture(scope="module", params=["spacy", "rules"])
def tagger(request) -> EntityTagger:
    tagger = EntityTagger() if request.param == "spacy" else EntityTagger(model_names=())
    if request.param == "spacy" and not tagger.uses_model:
        pytest.skip("no spaCy English model installed")
    return tagger


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("When did the harbour open?", "The new harbour in Port Selin opened on June 14, 2024, after four years of work.", "June 14, 2024"),
        ("How much did the harbour cost?", "The harbour cost $420 million and was financed by a bank.", "$420 million"),
        ("Why were villagers told to prepare evacuation plans?",
         "Villagers were told to prepare evacuation plans because of the growing risk of floods.", "because of the growing risk of floods"),
        ("How old is the envoy?", "The 80-year-old envoy arrived on Monday.", "80-year-old"),
    ],
)
def test_spans_found_by_both_taggers(tagger, question, sentence, expected):
    assert _span(question, sentence, tagger) == expected


def test_person_span_skips_names_the_question_already_gives():
    tagger = EntityTagger()
    if not tagger.uses_model:
        pytest.skip("no spaCy English model installed")
    sentence = "Kazakhstan's new ambassador in Belarus is Yerlan Baizhanov, formerly the top diplomat in Vietnam."
    assert _span("Who is Kazakhstan's new ambassador in Belarus?", sentence, tagger) == "Yerlan Baizhanov"


def test_list_span_covers_every_item():
    tagger = EntityTagger()
    if not tagger.uses_model:
        pytest.skip("no spaCy English model installed")
    sentence = "He was formerly the country's top diplomat in Vietnam, Cambodia and Laos."
    assert _span("In which countries was he the top diplomat?", sentence, tagger) == "Vietnam, Cambodia and Laos"


def test_reason_span_after_blames_on():
    sentence = "The opposition blames the new fighting on the government's failure to negotiate."
    assert _span("Why has fighting resumed?", sentence, EntityTagger(model_names=())) == "the government's failure to negotiate"


def test_no_span_when_nothing_of_the_type_is_there():
    assert _span("When did the harbour open?", "The harbour is large and busy.", EntityTagger(model_names=())) is None
    assert _span("Why did it close?", "It closed.", EntityTagger(model_names=())) is None


def test_tagger_cache_returns_the_same_analyses_and_stays_bounded():
    tagger = EntityTagger(model_names=(), cache_size=2)
    sentences = ["Mayor Tomas Varga spoke on June 14, 2024.", "The harbour cost $420 million.", "Anna Keller left."]
    first = tagger.analyze(sentences)
    assert tagger.analyze(sentences[::-1]) == first[::-1]
    assert list(tagger._cache) == sentences[::-1][1:]  # the two used last
    uncached = EntityTagger(model_names=(), cache_size=0)
    assert uncached.analyze(sentences) == first and not uncached._cache
    tagger.clear_cache()
    assert not tagger._cache


def test_a_sentence_opening_with_a_pronoun_borrows_the_terms_of_the_sentence_before(tmp_path, fake_encoder, settings):
    from qa.extract import TITLE_SHARE, candidate_sentences
    from qa.index import build_index, load_index
    from qa.retrieve import retrieve
    from qa.types import Article

    body = ("A volunteer firefighter carried patients out of the burning clinic. "
            "He suffered smoke inhalation during the rescue. Smoke inhalation is common.")
    article = Article(id="a1", title="Hero deported", body=body)
    build_index([article], tmp_path / "idx", settings=settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=settings)
    hits = retrieve(index, fake_encoder.encode(["x"])[0], "suffer clinic", settings=settings, top_k=1)
    by_text = {s.text: s for s in candidate_sentences(index, hits, ("suffer", "clinic"))}
    idf = {t: index.lexical.idf(t) for t in ("suffer", "clinic")}
    total = sum(idf.values())
    # "He ..." finds "clinic" in the sentence before it, at the title's share; the third sentence does not.
    assert by_text["He suffered smoke inhalation during the rescue."].coverage == pytest.approx((idf["suffer"] + TITLE_SHARE * idf["clinic"]) / total)
    assert by_text["Smoke inhalation is common."].coverage == 0.0


def _spacy_tagger() -> EntityTagger:
    tagger = EntityTagger()
    if not tagger.uses_model:
        pytest.skip("no spaCy English model installed")
    return tagger


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # where: the place the question's event happened at ("crashed near X"), not places passed on the way
        ("Where did the plane crash?", "The plane, flying from Lyon to the city of Marseille, crashed near Nice.", "Nice"),
        # where: a name after "at" beats a person, however near the person stands to the question's words
        ("Where did the mayor meet Tom Keller?", "In May, the mayor held a meeting with the banker Tom Keller at Brightwater Lodge.",
         "Brightwater Lodge"),
        # where: a place the sentence puts nothing in does not say where
        ("Where will the ministers meet?", "The ministers will meet soon to discuss Portugal.", None),
        # which newspaper: the name beside the asked-about noun, not the nationality adjective before it
        ("Which newspaper interviewed the minister?", "The minister gave an interview to the French newspaper Le Monde on Tuesday.",
         "Le Monde"),
        # which city ... capture: the object of the question's own verb, not a better-tagged place elsewhere
        ("Which city did the rebels capture?",
         "The talks, held in Geneva last week, collapsed when the rebels captured Mosul, the country's second city.", "Mosul"),
    ],
)
def test_spans_tied_to_the_question_in_the_parse(question, sentence, expected):
    assert _span(question, sentence, _spacy_tagger()) == expected


def test_how_long_takes_a_duration_with_since(tagger):
    sentence = "The mayor, who has led the city since 2009, won again with 61% of the vote."
    assert _span("How long has the mayor led the city?", sentence, tagger) == "since 2009"
    assert _span("How long has the mayor led the city?", "The mayor won 61% of the vote on May 3.", tagger) is None


def test_a_lone_capitalised_function_word_is_not_an_answer():
    assert _span("Where will the ministers meet?", "The ministers will meet soon.", EntityTagger(model_names=())) is None


def test_event_words_of_a_question_and_whether_a_sentence_mentions_them():
    from qa.extract import event_lemmas, mentions_event

    tagger = _spacy_tagger()
    population, leave, who = tagger.analyze(["What is the population of Freedonia?", "When will the team leave the league?", "Who is he?"])
    assert event_lemmas(population) == ("population",)
    assert event_lemmas(leave) == ("leave",)
    assert event_lemmas(who) == ()
    army, leaving, meeting = tagger.analyze(["Freedonia has a large army.", "The team is leaving the league.", "They held a meeting."])
    assert not mentions_event(army, ("population",))
    assert mentions_event(leaving, ("leave",))
    assert mentions_event(meeting, ("meet",))  # a noun made from the verb counts
    assert mentions_event(army, ())  # nothing to check
    assert mentions_event(EntityTagger(model_names=()).analyze(["Freedonia has a large army."])[0], ("population",))  # no parse


def test_confidence_drops_when_an_untyped_answer_misses_the_question_event():
    from qa.assistant import answer_confidence
    from qa.extract import ScoredSentence
    from qa.types import Article, Span

    article = Article(id="a1", title="t", body="Freedonia has a large army.")
    sentence = ScoredSentence(article, Span(0, 27), article.body, retrieval=1.0, coverage=0.6, article_coverage=0.6, dense=0.6)
    profile = profile_question("What is the population of Freedonia?")
    assert answer_confidence(sentence, profile) == pytest.approx(0.6)
    assert answer_confidence(ScoredSentence(**{**sentence.__dict__, "event": 0.0}), profile) == pytest.approx(0.45)
