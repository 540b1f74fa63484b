"""Tests for qa.text: sentence spans, word tokens, stemming and term matching."""

from __future__ import annotations

import itertools

import pytest

from qa.text import (
    content_terms,
    normalize,
    split_sentences,
    stem,
    terms_match,
    word_spans,
    words,
)


def sentences(text: str) -> list[str]:
    return [text[s.start : s.end] for s in split_sentences(text)]


def test_spans_slice_back_to_trimmed_sentences():
    text = "  The council met on Monday.   It approved the budget!  Was it enough?  "
    spans = split_sentences(text)
    assert [text[s.start : s.end] for s in spans] == [
        "The council met on Monday.",
        "It approved the budget!",
        "Was it enough?",
    ]
    assert [(s.start, s.end) for s in spans] == [(2, 28), (31, 54), (56, 70)]


def test_line_breaks_end_sentences():
    text = "Headline without a full stop\nFirst sentence here. Second one.\n\nLast line"
    assert sentences(text) == [
        "Headline without a full stop",
        "First sentence here.",
        "Second one.",
        "Last line",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith went to Washington. He met the U.S. president on Monday. Then he left.",
            ["Mr. Smith went to Washington.", "He met the U.S. president on Monday.", "Then he left."],
        ),
        ("Dr. Keller said so. The U.S. Army agreed.", ["Dr. Keller said so.", "The U.S. Army agreed."]),
    ],
)
def test_abbreviations_do_not_split(text, expected):
    assert sentences(text) == expected


def test_empty_and_blank_text_have_no_sentences():
    assert split_sentences("") == []
    assert split_sentences("  \n\n \n ") == []


def test_spans_are_ordered_trimmed_and_single_line():
    text = "One. Two three.\n  Four five six!  \nSeven"
    spans = split_sentences(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))
    for span in spans:
        piece = text[span.start : span.end]
        assert piece and piece == piece.strip() and "\n" not in piece


def test_normalize_folds_case_accents_and_quotes():
    assert normalize("Zürich’s ÉLAN") == "zurich's elan"


def test_words_drop_possessives_and_punctuation():
    assert words("Kazakhstan’s capital, Astana; don't stop.") == ["kazakhstan", "capital", "astana", "don't", "stop"]


def test_word_spans_use_original_characters():
    text = "Zürich’s mayor"
    assert [text[s.start : s.end] for s in word_spans(text)] == ["Zürich’s", "mayor"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("came", "come"),
        ("took", "take"),
        ("sanctions", "sanction"),
        ("sanctioned", "sanction"),
        ("visited", "visit"),
        ("visiting", "visit"),
        ("uses", "uses"),  # too short a stem to strip
        ("news", "news"),
        ("belarus", "belaru"),  # a light stripper, not a dictionary: still meets "belarusian" by prefix
    ],
)
def test_stem(word, expected):
    assert stem(word) == expected


def test_content_terms_drop_stopwords_and_stem():
    assert content_terms("The minister came to Belarus and visited the factories.") == [
        "minister",
        "come",
        "belaru",
        "visit",
        "factori",
    ]


def test_content_terms_meet_across_verb_forms():
    assert set(content_terms("She came and sanctioned them")) == set(content_terms("they come to sanction"))


def test_terms_match_long_prefixes():
    assert terms_match("belarus", {"belarusian"})
    assert terms_match("belarusian", {"belarus"})
    assert terms_match("president", {"presidential", "talk"})
    assert terms_match("talk", {"talk"})


def test_terms_match_on_stemmed_content_terms():
    (country,) = content_terms("Belarus")
    assert terms_match(country, set(content_terms("Belarusian officials met")))


def test_terms_match_short_words_do_not_prefix_match():
    assert not terms_match("cat", {"category"})
    assert not terms_match("category", {"cat"})
    assert not terms_match("market", {"mark"})  # the other word is too short
    assert not terms_match("belarus", {"minsk"})
    assert not terms_match("belarus", set())
