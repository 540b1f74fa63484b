"""Shared fixtures: a deterministic fake encoder and tiny hand-written collections."""

from __future__ import annotations

import hashlib
import re
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
