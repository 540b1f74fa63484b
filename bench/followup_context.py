"""How many earlier turns a follow-up's retrieval should read, chosen on CoQA's *training* part.

`python -m bench.followup_context` indexes CoQA stories that are not held out (the held-out ones are
the multi-turn benchmark of `bench.public_qa`), asks each conversation's turns in order with the
earlier questions as history, and counts how often the first retrieved chunk comes from the
conversation's story on follow-up turns, for several `Settings.context_turns`; end to end, it asks
each conversation with the earlier Answers as history, and each self-contained follow-up also alone
and after another conversation's first three turns (which must not change its answer). Writes
`bench/results/followup_context.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.common import say
from bench.public_qa import QA_TRAIN, URL_PREFIX, story_record, write_articles
from qa.types import Hit

RESULTS = Path(__file__).parent / "results" / "followup_context.json"


def prefer_articles(hits: list[Hit], article_ids: tuple[str, ...]) -> list[Hit]:
    """Hits of the articles earlier answers cited first, ranks renumbered.

    Tried in the product and dropped: a wrong earlier citation then pins every later turn to the
    wrong story (0.67 right story first against 0.78 without it, results file).
    """
    if not article_ids:
        return hits
    order = {article_id: position for position, article_id in enumerate(article_ids)}
    ranked = sorted(hits, key=lambda hit: (order.get(hit.article.id, len(order)), hit.rank))
    return [replace(hit, rank=rank) for rank, hit in enumerate(ranked, start=1)]


def converse(asker, questions: list[str]) -> list:
    """Each question asked with the earlier Answers as history, as the chat does."""
    earlier: list = []
    for question in questions:
        earlier.append(asker.ask(question, history=earlier or None))
    return earlier


def cites(answer, url: str) -> bool:
    """Whether a found answer's first citation is the article at `url`."""
    return bool(answer.found and answer.citations and answer.citations[0].url == url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.followup_context", description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(QA_TRAIN))
    parser.add_argument("--stories", type=int, default=250)
    parser.add_argument("--conversations", type=int, default=120)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--choices", default="1,2,3,4,6,8")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)

    from qa.assistant import Assistant
    from qa.config import Settings
    from qa.conversation import Turn, leans_on_context, parse_history
    from qa.index import NewsIndex
    from qa.query import build_query
    from qa.reader.data import is_held_out, load_conversations
    from qa.retrieve import retrieve

    began = time.time()
    rng = random.Random(args.seed)
    stories = sorted((s for s in load_conversations(Path(args.data)) if not is_held_out("coqa", s["id"])), key=lambda s: s["id"])
    rng.shuffle(stories)
    collection = stories[: args.stories]
    talks = [s for s in collection if len(s["questions"]) >= 2][: args.conversations]
    settings = Settings.from_env(show_progress=False)
    with tempfile.TemporaryDirectory() as work:
        source = write_articles([story_record(s) for s in collection], Path(work) / "coqa-train.jsonl")
        assistant = Assistant.build([source], Path(work) / "index", settings=settings)
        assert isinstance(assistant.index, NewsIndex)  # built over an index folder
        story_of = {a.id: a.url for a in assistant.index.articles.values()}
        answering = {carry: Assistant(assistant.index, settings=settings.with_(context_answers=carry), encoder=assistant.encoder,
                                      reader=assistant.reader, calibration=assistant.calibration) for carry in (True, False)}
        end_to_end: dict[bool, list[bool]] = {True: [], False: []}
        choices = [int(c) for c in args.choices.split(",")]
        right: dict[int, list[bool]] = {c: [] for c in choices}
        # With earlier turns carried as Answers, their cited articles can be read first (`prefer_articles`):
        # each turn cites the story its own first hit came from, right or wrong, as the product would.
        carried: dict[str, list[bool]] = {"cited articles read first": [], "cited articles not preferred": []}
        # Self-contained follow-ups ("Was James surprised?"), end to end: with their conversation, alone, and after the
        # first three Answers of another conversation (issue 10: unrelated turns must not change their answer).
        self_contained: dict[str, list[bool]] = {"with its conversation": [], "alone": [],
                                                 "after another conversation, same answer as alone": []}
        conversations = [converse(answering[False], [q["input_text"] for q in sorted(story["questions"], key=lambda q: q["turn_id"])][:3])
                         for story in talks]
        leaning = 0
        for number, story in enumerate(talks, start=1):
            url = f"{URL_PREFIX}/coqa/{story['id']}"
            questions = [q["input_text"] for q in sorted(story["questions"], key=lambda q: q["turn_id"])][: args.turns]
            for turn, question in enumerate(questions[1:], start=1):
                turns = parse_history(questions[:turn])
                leaning += leans_on_context(question)
                for choice in choices:
                    query = build_query(question, turns, top_k=settings.top_k, context_turns=choice)
                    vector = assistant.encoder.encode([query.retrieval_text])[0]
                    hits = retrieve(assistant.index, vector, query.retrieval_text, settings=settings, top_k=1)
                    right[choice].append(bool(hits) and story_of.get(hits[0].article.id) == url)
            cited: list[Turn] = []
            for turn, question in enumerate(questions):
                query = build_query(question, tuple(cited), top_k=settings.top_k, context_turns=settings.context_turns)
                vector = assistant.encoder.encode([query.retrieval_text])[0]
                hits = retrieve(assistant.index, vector, query.retrieval_text, settings=settings, top_k=settings.hits_read)
                preferred = prefer_articles(hits, query.context_articles)
                if turn:
                    carried["cited articles read first"].append(bool(preferred) and story_of.get(preferred[0].article.id) == url)
                    carried["cited articles not preferred"].append(bool(hits) and story_of.get(hits[0].article.id) == url)
                cited.append(Turn(question, None, (preferred[0].article.id,) if preferred else (), bool(preferred)))
            for carry_answers in (True, False):  # end to end: each turn asked with the earlier Answers as history
                asker = answering[carry_answers]
                earlier: list = []
                for turn, question in enumerate(questions):
                    answer = asker.ask(question, history=earlier or None)
                    if turn:
                        end_to_end[carry_answers].append(cites(answer, url))
                        if not carry_answers and not leans_on_context(question):
                            self_contained["with its conversation"].append(cites(answer, url))
                            alone = asker.ask(question)
                            self_contained["alone"].append(cites(alone, url))
                            other = conversations[rng.choice([i for i in range(len(conversations)) if i != number - 1])]
                            after_other = asker.ask(question, history=other[:3])
                            self_contained["after another conversation, same answer as alone"].append(after_other == alone)
                    earlier.append(answer)
            if number % 20 == 0:
                say(f"followup_context: {number}/{len(talks)} conversations")
    follow_ups = len(right[choices[0]])
    result = {"section": "followup_context", "seed": args.seed, "stories": len(collection), "conversations": len(talks),
              "follow_up_turns": follow_ups, "leaning_on_context": round(leaning / max(1, follow_ups), 3),
              "right_story_first": {str(c): round(sum(v) / max(1, len(v)), 4) for c, v in right.items()},
              "carried_answers_at_default_turns": {name: round(sum(bool(x) for x in v) / max(1, len(v)), 4)
                                                   for name, v in carried.items()},
              "self_contained_follow_ups": {"turns": len(self_contained["alone"]),
                                            **{name: round(sum(v) / max(1, len(v)), 4) for name, v in self_contained.items()}},
              "answers_as_history_first_citation_right_story": {
                  "questions and answers in the retrieval text": round(sum(end_to_end[True]) / max(1, len(end_to_end[True])), 4),
                  "questions only": round(sum(end_to_end[False]) / max(1, len(end_to_end[False])), 4)},
              "seconds": round(time.time() - began, 1)}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
