"""Expected answer types, list detection and proper names of questions."""

from __future__ import annotations

import pytest

from qa.question import AGE, DATE, DURATION, NUMBER, ORGANIZATION, OTHER, PERSON, PLACE, REASON, profile_question


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who opened the new harbour?", PERSON),
        ("Whom did the council appoint as mayor?", PERSON),
        ("Which Kazakh foreign ministry spokesman commented on the war?", PERSON),
        ("What is the name of the ambassador to Poland?", PERSON),
        ("When did the harbour open?", DATE),
        ("On what date was the agreement signed?", DATE),
        ("In which year did the festival start?", DATE),
        ("How many tickets were sold?", NUMBER),
        ("How much did the project cost?", NUMBER),
        ("How old is the mayor?", AGE),
        ("Where was the treaty signed?", PLACE),
        ("In which Armenian region are the villages?", PLACE),
        ("Which countries joined as observers?", PLACE),
        ("Which French companies could build the plant?", ORGANIZATION),
        ("Which Ukrainian center published the list?", ORGANIZATION),
        ("Why were the villagers told to leave?", REASON),
        ("How did the scheme come to light?", REASON),
        ("What health problem did the rescuer suffer?", OTHER),
    ],
)
def test_answer_type(question, expected):
    assert profile_question(question).answer_type == expected


def test_list_questions_are_recognised_by_a_plural_head_noun():
    assert profile_question("Which countries joined as observers?").wants_list
    assert profile_question("Which French companies could build the plant?").wants_list
    assert not profile_question("In which city did the talks take place?").wants_list
    assert not profile_question("In which city did members of both teams meet?").wants_list


def test_terms_and_names():
    profile = profile_question("Who founded the Riverside Film Festival in Dornbach?")
    assert profile.terms == ("found", "riverside", "film", "festival", "dornbach")
    assert profile.names == ("riverside", "film", "festival", "dornbach")


def test_how_long_with_a_verb_asks_for_a_duration_and_with_a_copula_for_a_length():
    assert profile_question("How long has the mayor led the city?").answer_type == DURATION
    assert profile_question("For how long did the strike last?").answer_type == DURATION
    assert profile_question("How long is the new bridge?").answer_type == NUMBER


def test_a_nationality_noun_after_which_asks_for_a_person():
    assert profile_question("Which Canadian was freed after two years in prison?").answer_type == PERSON
    assert profile_question("Which Briton has won the race?").answer_type == PERSON
    assert profile_question("Which Canadian city hosted the summit?").answer_type == PLACE
