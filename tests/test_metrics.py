"""qa.metrics: SQuAD normalisation, exact match, token F1, containment and AUROC on hand-made values."""

from __future__ import annotations

import math

import pytest

from qa.metrics import auroc, contains_answer, exact_match, normalize_answer, token_f1


@pytest.mark.parametrize(("text", "normalized"), [
    ("The  “Port” of Selin!", "port of selin"),
    ("An apple, a pear and THE plum.", "apple pear and plum"),
    ("Lena Moritz’s film", "lena moritzs film"),
    ("$420 million", "420 million"),
    ("theatre anthem", "theatre anthem"),  # articles are whole words only
    ("  ", ""),
])
def test_normalize_answer(text, normalized):
    assert normalize_answer(text) == normalized


def test_exact_match_is_best_over_the_golds():
    assert exact_match("the Coastal Development Bank", ["Coastal Development Bank."]) == 1.0
    assert exact_match("Tomas Varga", ["Mayor Tomas Varga", "tomas varga"]) == 1.0
    assert exact_match("Tomas", ["Tomas Varga"]) == 0.0
    assert exact_match(None, ["Tomas Varga"]) == 0.0
    assert exact_match("Tomas Varga", []) == 0.0


def test_token_f1_is_best_over_the_golds():
    assert token_f1("the harbour of Port Selin", ["Port Selin"]) == pytest.approx(2 / 3)  # precision 2/3, recall 1
    assert token_f1("Port Selin", ["Dornbach", "Port Selin harbour"]) == pytest.approx(0.8)  # precision 1, recall 2/3
    assert token_f1("Port Selin", ["Dornbach", "Port Selin"]) == 1.0
    assert token_f1("Dornbach", ["Port Selin"]) == 0.0
    assert token_f1("jobs jobs jobs", ["3,000 jobs"]) == pytest.approx(0.4)  # counts are clipped: 1 common of 3 and 2
    assert token_f1(None, ["Port Selin"]) == 0.0
    assert token_f1("Port Selin", []) == 0.0
    assert token_f1("the", ["a"]) == 0.0  # nothing left after normalisation


def test_contains_answer_matches_whole_normalised_words():
    sentence = "Mayor Tomas Varga said the harbour would create 3,000 jobs."
    assert contains_answer(sentence, ["tomas varga"]) == 1.0
    assert contains_answer(sentence, ["Dornbach", "3000 jobs"]) == 1.0  # the comma goes with the punctuation
    assert contains_answer(sentence, ["Tom"]) == 0.0  # not a word of the sentence
    assert contains_answer(sentence, ["the"]) == 0.0  # an answer that normalises to nothing is never contained
    assert contains_answer(None, ["Tomas Varga"]) == 0.0
    assert contains_answer(sentence, []) == 0.0


def test_auroc():
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5], [0.5]) == 0.5  # ties count half
    assert auroc([0.9, 0.4], [0.5, 0.1]) == 0.75  # 3 of 4 pairs ordered right
    assert math.isnan(auroc([], [0.5]))
    assert math.isnan(auroc([0.5], []))
