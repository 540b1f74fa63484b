"""Parity on the real models: the dev set and the demo questions through Milvus Lite and through the FAISS store."""

from __future__ import annotations

import pytest
from conftest import DEMO_CORPUS, REPO, SHARED

from embeddings.encoder import load_encoder
from qa.assistant import Assistant, index_sources
from qa.config import Settings
from qa.evaluate import read_eval_file
from qa.index import load_index
from qa.store.milvus import MilvusStore

pytest.importorskip("pymilvus")
pytestmark = [pytest.mark.model, pytest.mark.milvus]

DEV = SHARED / "eval" / "dev.jsonl"
DEMO_QUESTIONS = [q for q in (REPO / "qa" / "examples" / "demo_questions.txt").read_text().splitlines() if q.strip()]
FIRST_CITATION_AGREEMENT = 0.95  # the bar for the dev set


class RememberingEncoder:
    """The real encoder, each text embedded once: both stores get the same vectors without embedding twice."""

    def __init__(self, encoder) -> None:
        self.encoder = encoder
        self.vectors: dict[str, object] = {}

    def __getattr__(self, name):
        return getattr(self.encoder, name)

    def encode(self, texts, **kwargs):
        import numpy as np

        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if missing:
            self.vectors.update(zip(missing, self.encoder.encode(missing, **kwargs), strict=True))
        return np.stack([self.vectors[t] for t in texts]) if texts else self.encoder.encode([], **kwargs)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    work = tmp_path_factory.mktemp("parity")
    settings = Settings.from_env(show_progress=False, index_dir=work / "faiss")
    encoder = RememberingEncoder(load_encoder(settings.model_name, backend=settings.encoder_backend))
    index_sources([DEMO_CORPUS], work / "faiss", settings=settings, encoder=encoder)
    milvus_settings = settings.with_(store=str(work / "demo.db"))
    index_sources([DEMO_CORPUS], work / "faiss", settings=milvus_settings, encoder=encoder)
    faiss = Assistant(load_index(work / "faiss", settings=settings), settings=settings, encoder=encoder.encoder)
    milvus = Assistant(MilvusStore.open(milvus_settings), settings=milvus_settings, encoder=encoder.encoder)
    return faiss, milvus


def test_demo_questions_get_the_same_answers_through_milvus_lite(both):
    faiss, milvus = both
    for question in DEMO_QUESTIONS:
        expected, got = faiss.ask(question), milvus.ask(question)
        assert (got.found, got.text, got.span) == (expected.found, expected.text, expected.span), question
        assert got.citations[:1] == expected.citations[:1] or got.citations[0].article_id == expected.citations[0].article_id


@pytest.mark.skipif(not DEV.exists(), reason=f"the dev questions are not at {DEV}")
def test_dev_set_first_citation_agrees_with_the_faiss_store(both):
    faiss, milvus = both
    items = read_eval_file(DEV)
    same = 0
    for item in items:
        history = list(item.history) or None
        expected, got = faiss.ask(item.question, history=history), milvus.ask(item.question, history=history)
        first = [a.citations[0].article_id if a.citations else None for a in (expected, got)]
        same += first[0] == first[1]
    assert same / len(items) >= FIRST_CITATION_AGREEMENT, f"{same} of {len(items)} questions cite the same article first"
