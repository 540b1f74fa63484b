"""Shared fixtures: a deterministic fake encoder and tiny hand-written collections."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.text import content_terms

REPO = Path(__file__).resolve().parents[1]
DEMO_CORPUS = REPO / "qa" / "examples" / "demo_corpus"
SHARED = REPO.parent / "shared"


class FakeEncoder:
    """Bag-of-words vectors from word hashes: similar wording, similar vectors; no model, no randomness."""

    def __init__(self, name: str = "fake-encoder", dimension: int = 64, max_tokens: int = 64) -> None:
        self.name = name
        self._dimension = dimension
        self._max_tokens = max_tokens
        self.encoded: list[str] = []  # every text ever encoded, to count embedding work

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(re.findall(r"\w+|[^\w\s]", text)) + 2

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        self.encoded.extend(texts)
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                seed = int.from_bytes(hashlib.md5(term.encode()).digest()[:4], "little")
                out[row] += np.random.default_rng(seed).standard_normal(self._dimension).astype(np.float32)
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


ARTICLES = {
    "mountain.txt": """Glacier Melt Threatens Mountain Villages
Date: 2024-03-02

Scientists from the Alpine Institute warned on Monday that glaciers above the valley are melting faster than expected. The lead researcher, Dr. Anna Keller, said the ice had lost 12 percent of its mass since 2015. Villagers were told to prepare evacuation plans because of the growing risk of floods.
""",
    "harbour.txt": """New Harbour Opens in Port Selin
Date: 2024-06-15

The new deep-water harbour in Port Selin opened on June 14, 2024, after four years of construction. The project cost $420 million and was financed by the Coastal Development Bank. Mayor Tomas Varga said the harbour would create 3,000 jobs.
""",
    "festival.txt": """Film Festival Draws Record Crowds
Date: 2023-09-30

The Riverside Film Festival sold 85,000 tickets this year, a record for the event. Organisers credited the opening film, directed by Lena Moritz, for the surge in interest. The festival will return next September in the city of Dornbach.
""",
}


@pytest.fixture
def fake_encoder() -> FakeEncoder:
    return FakeEncoder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_name="fake-encoder", index_dir=tmp_path / "index", show_progress=False, chunk_tokens=64)


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    """A folder of three one-article .txt files."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


class FakeReader:
    """A deterministic stand-in for the span reader: no model, instant.

    A sentence's share grows with the question words it repeats; its span is the first run of
    capitalised words or the first number that the question does not already name. With no
    question word in any sentence, most of the mass goes to "no answer".
    """

    folder = None  # where a SpanReader keeps its weights; the fake has none

    def __init__(self, *args, **kwargs) -> None:  # accepts SpanReader's arguments, so it can stand in for the class
        self.read_questions: list[str] = []

    @classmethod
    def from_settings(cls, settings, folder=None, *, threads=None) -> FakeReader:  # SpanReader's other constructor
        return cls()

    def read(self, question, sentences):
        import math

        from qa.reader.model import Reading, SentenceReading

        self.read_questions.append(question)
        asked = set(content_terms(question))
        overlaps = [len(asked & set(content_terms(s))) for s in sentences]
        if not sentences:
            return Reading((), 1.0)
        no_answer = 0.9 if max(overlaps) == 0 else 0.05
        weights = [math.exp(o) for o in overlaps]
        total = sum(weights)
        readings = []
        for sentence, weight in zip(sentences, weights, strict=True):
            share = (1 - no_answer) * weight / total
            readings.append(SentenceReading(_fake_span(sentence, asked), share, share))
        return Reading(tuple(readings), no_answer)


def _fake_span(sentence: str, asked: set[str]):
    from qa.types import Span

    for match in re.finditer(r"(?:[A-Z][\w.'-]*)(?:\s+[A-Z][\w.'-]*)*|\$?\d[\d,.]*(?:\s(?:percent|million|jobs|tickets))?", sentence):
        if match.start() == 0 and " " not in match.group():
            continue
        if set(content_terms(match.group())) - asked:
            return Span(match.start(), match.end())
    return None


@pytest.fixture
def fake_reader() -> FakeReader:
    return FakeReader()


FAKE_THRESHOLD = 0.2


def fake_calibration(threshold: float = FAKE_THRESHOLD):
    """Unfitted models (see `neutral_calibration`), so tests do not depend on fitted numbers.

    With them the confidence is p / (1 + p) for the best sentence's answer probability p, so always
    below 0.5: FakeReader answers land between about 0.25 and 0.5, its no-answer readings below 0.1,
    hence the default threshold of 0.2.
    """
    from qa.reader.calibration import neutral_calibration

    return neutral_calibration(threshold=threshold)


def use_fake_models(patch: pytest.MonkeyPatch) -> None:
    """Assistants made by `Assistant.load`/`build` (and so by the CLI and the chat) get the fake encoder,
    a FakeReader and `fake_calibration()`: no model is loaded, answers do not depend on trained weights."""
    import qa.assistant
    import qa.index
    import qa.ray_embed
    import qa.store.milvus

    patch.setattr(qa.index, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    patch.setattr(qa.store.milvus, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    patch.setattr(qa.ray_embed, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    patch.setattr(qa.assistant, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    patch.setattr(qa.assistant, "SpanReader", FakeReader)
    patch.setattr(qa.assistant, "read_header", lambda folder: {"sha256": ""})
    patch.setattr(qa.assistant, "load_calibration", lambda *args, **kwargs: fake_calibration())


@pytest.fixture
def fake_models(monkeypatch) -> None:
    use_fake_models(monkeypatch)


def fake_assistant(index_dir: Path, settings: Settings, *, encoder: FakeEncoder | None = None, reader: FakeReader | None = None):
    """An Assistant over an existing index with the fake encoder, a FakeReader and `fake_calibration()`."""
    from qa.assistant import Assistant
    from qa.index import load_index

    encoder = encoder or FakeEncoder()
    index = load_index(index_dir, settings=settings.with_(model_name=encoder.name))
    return Assistant(index, settings=settings, encoder=encoder, reader=reader or FakeReader(), calibration=fake_calibration())


def free_port() -> int:
    """A localhost port nothing listens on (for a test server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_demo(demo) -> Iterator[str]:
    """A built Gradio app served on a free localhost port in this process, for the duration of the block."""
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
