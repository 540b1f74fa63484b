"""bench.peers' interleaved latency loop: a previous version is timed by what its subprocess reports, warm each time."""

from __future__ import annotations

from dataclasses import dataclass

from bench.peers import PREVIOUS_WARM, latency


@dataclass(frozen=True)
class Item:
    question: str
    history: tuple[str, ...] = ()


class FakeOurs:
    def __init__(self) -> None:
        self.caches: list[str] = []

    def set_cache(self, mode: str) -> None:
        self.caches.append(mode)

    def ask(self, item: Item) -> None:
        return None

    def retrieve(self, item: Item) -> list[dict]:
        return []


class FakePrevious:
    """Reports 250 ms per question whatever the wall clock says, as the subprocess's own timer would."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[str], bool]] = []

    def ask(self, name: str, question: str, history: list[str] | None = None, *, warm: bool = False) -> dict:
        self.calls.append((name, question, list(history or []), warm))
        return {"seconds": 0.25}


def test_the_previous_version_is_timed_by_its_own_report_and_asked_warm():
    items = [Item("Who won?"), Item("And then?", ("Who won?",)), Item("Where?")]
    previous = FakePrevious()
    timings = latency(FakeOurs(), [], items, rounds=2, previous=previous)
    assert timings[PREVIOUS_WARM] == {"p50_ms": 250.0, "p95_ms": 250.0, "mean_ms": 250.0, "samples": 6}
    assert timings["qa-news ask (warmed service)"]["samples"] == 6
    assert {call[0] for call in previous.calls} == {"demo"} and all(call[3] for call in previous.calls)
    assert ("demo", "And then?", ["Who won?"], True) in previous.calls


def test_without_a_previous_version_there_is_no_row_for_it():
    assert PREVIOUS_WARM not in latency(FakeOurs(), [], [Item("Who won?")], rounds=1)
