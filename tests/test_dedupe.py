"""Tests for qa.ingest.dedupe: which copies are merged, what the merged article keeps."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from qa.ingest.dedupe import (
    MIN_CONTAINMENT,
    MIN_CONTAINMENT_RETITLED,
    MIN_FUZZY_WORDS,
    containment,
    make_shingles,
    merge_duplicates,
)
from qa.ingest.identity import make_article, normalize_text
from qa.types import Article

TITLE = "Kazakhstan Raises Grain Export Quota"
BODY = (
    "ASTANA (Reuters) - Kazakhstan's agriculture ministry raised the grain export quota for the "
    "season on Tuesday, citing a record harvest in the northern regions and full storage at "
    "the main elevators. Traders said the decision would ease pressure on railway capacity "
    "and lower domestic prices before the winter. The ministry added that wheat shipments "
    "to Central Asian neighbours and to China would be given priority at the border crossings, "
    "while flour exports would remain free of any limit until the end of the year."
)
OTHER_BODY = (
    "ASTANA (Reuters) - Kazakhstan's agriculture ministry said on Tuesday that locust swarms had "
    "damaged crops on about forty thousand hectares in the southern Turkestan region. Spraying "
    "teams and aircraft were sent to the area and farmers were promised compensation for the "
    "losses, officials told reporters. Neighbouring Uzbekistan reported similar outbreaks along "
    "the shared border and the two governments agreed to coordinate their response next week."
)


def words(text: str) -> list[str]:
    return text.split()


def summary(articles: list[Article]) -> list[tuple[object, ...]]:
    return sorted((a.title, a.body, a.sources, a.published, a.url, a.truncated) for a in articles)


def test_truncated_copy_with_a_few_edited_words_and_the_same_title_is_merged() -> None:
    cut = words(BODY)[:33]
    cut[8] = "lifted"  # raised
    cut[20] = "at"  # in
    cut[-1] = cut[-1][:3]  # cut off mid-word: "storage" -> "sto"
    snippet = make_article(TITLE, " ".join(cut), sources=("page2.txt",), published=dt.date(2025, 1, 23),
                           truncated=True)
    full = make_article(TITLE, BODY, sources=("page1.txt",))
    merged, count = merge_duplicates([snippet, full])
    assert count == 1
    (article,) = merged
    assert article.body == BODY
    assert article.truncated is False
    assert article.sources == ("page1.txt", "page2.txt")
    assert article.published == dt.date(2025, 1, 23)


def test_retitled_copy_with_a_one_word_edit_early_in_the_body_is_merged() -> None:
    edited = BODY.replace("citing a record harvest", "citing an exceptional harvest")
    assert edited.index("exceptional") < 300
    original = make_article(TITLE, BODY, sources=("a.txt",))
    copy = make_article("Grain Quota Lifted After Record Harvest", edited, sources=("b.txt",))
    merged, count = merge_duplicates([original, copy])
    assert count == 1
    assert [(a.title, a.body, a.sources) for a in merged] == [
        ("Grain Quota Lifted After Record Harvest", edited, ("a.txt", "b.txt"))
    ]


def test_exact_copies_are_merged_and_keep_the_fullest_copys_date() -> None:
    copies = [
        make_article(TITLE, BODY, sources=("c.txt",)),
        make_article(TITLE, BODY, sources=("a.txt",), published=dt.date(2025, 4, 17)),
        make_article(TITLE.upper(), BODY, sources=("b.txt",), url="https://example.org/grain"),
    ]
    merged, count = merge_duplicates(copies)
    assert count == 2
    (article,) = merged
    assert (article.title, article.body) == (TITLE, BODY)  # equal copies: the first source's
    assert article.sources == ("a.txt", "b.txt", "c.txt")
    assert article.published == dt.date(2025, 4, 17)
    assert article.url == "https://example.org/grain"


def test_prefix_copies_are_merged_under_any_title_and_short_ones_under_the_same_title() -> None:
    opening = BODY[:80]  # 12 words: too short for shingles, long enough as a prefix
    short = "The same body text, long enough to be a body."
    merged, count = merge_duplicates([
        make_article("Grain Quota", opening, sources=("a.txt",), truncated=True),
        make_article(TITLE, BODY, sources=("b.txt",)),
        make_article("Same Title", short[:20], sources=("c.txt",), truncated=True),
        make_article("Same Title", short, sources=("d.txt",)),
    ])
    assert count == 2
    assert summary(merged) == [
        (TITLE, BODY, ("a.txt", "b.txt"), None, None, False),
        ("Same Title", short, ("c.txt", "d.txt"), None, None, False),
    ]


def test_short_prefix_under_another_title_is_not_merged() -> None:
    merged, count = merge_duplicates([
        make_article("Markets", "Read more", sources=("a.txt",)),
        make_article("Weather", "Read more about the storm in the north.", sources=("b.txt",)),
    ])
    assert count == 0
    assert len(merged) == 2


def test_sources_are_the_union_of_all_copies() -> None:
    edited = BODY.replace("Traders said", "Grain traders said")
    merged, count = merge_duplicates([
        make_article(TITLE, BODY, sources=("p1.txt", "p2.txt")),
        make_article("Other Title", edited, sources=("p2.txt", "p3.txt")),
        make_article(TITLE, BODY[:200], sources=("p4.txt",), truncated=True),
    ])
    assert count == 2
    (article,) = merged
    assert article.body == edited
    assert article.sources == ("p1.txt", "p2.txt", "p3.txt", "p4.txt")


def test_result_does_not_depend_on_input_order() -> None:
    articles = [
        make_article(TITLE, BODY, sources=("a.txt",)),
        make_article(TITLE, BODY.replace("Tuesday", "Monday"), sources=("b.txt",), published=dt.date(2025, 1, 2)),
        make_article(TITLE, BODY.replace("Tuesday", "Friday"), sources=("c.txt",), published=dt.date(2025, 1, 1)),
        make_article(TITLE, " ".join(words(BODY)[:40]), sources=("d.txt",), truncated=True),
        make_article("Locusts Damage Crops", OTHER_BODY, sources=("e.txt",)),
        make_article("Locusts Damage Crops", OTHER_BODY[:150], sources=("f.txt",), truncated=True),
    ]
    results = {tuple(summary(merge_duplicates(list(order))[0])) for order in itertools.permutations(articles)}
    assert len(results) == 1
    (result,) = results
    assert [(title, sources, published) for title, _, sources, published, _, _ in result] == [
        (TITLE, ("a.txt", "b.txt", "c.txt", "d.txt"), dt.date(2025, 1, 2)),
        ("Locusts Damage Crops", ("e.txt", "f.txt"), None),
    ]


def test_different_stories_with_the_same_wire_opening_are_kept_apart() -> None:
    grain = make_article(TITLE, BODY, sources=("a.txt",))
    locusts = make_article(TITLE, OTHER_BODY, sources=("b.txt",))  # same title and dateline too
    snippet = make_article("Locusts Damage Crops", OTHER_BODY[:200], sources=("c.txt",), truncated=True)
    merged, count = merge_duplicates([grain, locusts, snippet])
    assert count == 1
    assert summary(merged) == [
        (TITLE, BODY, ("a.txt",), None, None, False),
        (TITLE, OTHER_BODY, ("b.txt", "c.txt"), None, None, False),
    ]


def test_short_items_with_similar_titles_and_one_different_word_are_kept_apart() -> None:
    robbery = "Police in {} arrested a 34-year-old man on Tuesday after a robbery at a currency exchange office."
    first = make_article("Police Arrest Man in Almaty", robbery.format("Almaty"))
    second = make_article("Police Arrest Man in Astana", robbery.format("Astana"))
    third = make_article("Police Arrest Man in Almaty",
                         "Police in Almaty arrested a 19-year-old man on Friday after a fight outside a football stadium.")
    merged, count = merge_duplicates([first, second, third])
    assert count == 0
    assert len(merged) == 3


def test_a_quarter_of_shared_sentences_is_not_enough() -> None:
    shared = "The central bank kept its base rate at fifteen percent, in line with analysts' forecasts."
    first = make_article("Rate Held", shared + " Inflation slowed for a third month as food prices fell and the tenge "
                         "firmed against the dollar.")
    second = make_article("Rate Held", shared + " Officials said they would review the decision in March if oil prices "
                          "dropped below their budget assumption.")
    first_shingles, second_shingles = (make_shingles(normalize_text(a.body).split()) for a in (first, second))
    assert containment(first_shingles, second_shingles) < MIN_CONTAINMENT
    merged, count = merge_duplicates([first, second])
    assert count == 0
    assert len(merged) == 2


def test_candidate_search_finds_every_pair_a_brute_force_comparison_finds() -> None:
    rng = random.Random(7)
    vocabulary = [f"w{i}" for i in range(60)]
    originals = [rng.choices(vocabulary, k=rng.randint(MIN_FUZZY_WORDS, 80)) for _ in range(40)]
    texts, titles = [], []
    for number, text in enumerate(originals):
        for _ in range(rng.randint(1, 3)):
            titles.append(f"T{number}" if rng.random() < 0.5 else f"T{number}-{len(texts)}")  # some copies retitled
            copy = text[: rng.randint(MIN_FUZZY_WORDS, len(text))]
            for _ in range(rng.randint(0, 6)):
                copy[rng.randrange(len(copy))] = rng.choice(vocabulary)
            texts.append(copy)
    articles = [make_article(titles[n], " ".join(text), sources=(f"{n}.txt",)) for n, text in enumerate(texts)]
    shingles = [make_shingles(text) for text in texts]
    parents = list(range(len(texts)))

    def find(index: int) -> int:
        while parents[index] != index:
            index = parents[index]
        return index

    bodies = [" ".join(text) for text in texts]
    for a, b in itertools.combinations(range(len(texts)), 2):
        is_prefix = bodies[a].startswith(bodies[b]) or bodies[b].startswith(bodies[a])
        needed = MIN_CONTAINMENT if titles[a] == titles[b] else MIN_CONTAINMENT_RETITLED
        if is_prefix or containment(shingles[a], shingles[b]) >= needed:
            parents[find(b)] = find(a)
    groups: dict[int, list[str]] = {}
    for index, article in enumerate(articles):
        groups.setdefault(find(index), []).extend(article.sources)
    expected = sorted(sorted(sources) for sources in groups.values())
    merged, _ = merge_duplicates(articles)
    assert sorted(sorted(a.sources) for a in merged) == expected
    assert len(merged) < len(texts)


def test_templated_stories_under_different_titles_are_kept_apart() -> None:
    template = ("The river authority opened the new {} on Tuesday after three years of work. "
                "Engineer Mira Holt said the {} protects twelve thousand homes in the lower town.")
    stories = [make_article(title, template.format(subject, subject), sources=(f"{n}.txt",))
               for n, (title, subject) in enumerate([("Flood Barrier Opens", "flood barrier"), ("Bridge Opens", "bridge"),
                                                      ("Tram Line Opens", "tram line")])]
    merged, count = merge_duplicates(stories)
    assert count == 0 and [a.title for a in merged] == ["Flood Barrier Opens", "Bridge Opens", "Tram Line Opens"]
    # the same edit under the same title is a lightly edited copy
    merged, count = merge_duplicates([stories[0], make_article("Flood Barrier Opens", template.format("barrier", "barrier"),
                                                                 sources=("x.txt",))])
    assert count == 1
