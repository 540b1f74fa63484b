"""Embedding through Ray Data on a local two-worker cluster, with the fake encoder in each actor."""

from __future__ import annotations

import functools
import sys

import numpy as np
import pytest
from conftest import DEMO_CORPUS, FakeEncoder

from qa.cli import main
from qa.config import Settings
from qa.errors import StoreError

ray = pytest.importorskip("ray")
pytest.importorskip("pymilvus")
pytestmark = [pytest.mark.ray, pytest.mark.milvus]


@pytest.fixture
def fake_actors(monkeypatch):
    """Actors load the conftest FakeEncoder (shipped to them by value, since workers cannot import conftest)."""
    import conftest
    import ray.cloudpickle

    import qa.ray_embed

    ray.cloudpickle.register_pickle_by_value(conftest)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # LosesWorker, below
    monkeypatch.setattr(qa.ray_embed, "encoder_factory", lambda settings: functools.partial(FakeEncoder, name=settings.model_name))
    yield
    ray.cloudpickle.unregister_pickle_by_value(conftest)
    ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    if ray.is_initialized():
        ray.shutdown()


def rows(store_path, settings: Settings) -> list[tuple]:
    from qa.store.milvus import MilvusStore

    store = MilvusStore.open(settings.with_(store=str(store_path)), check_model=False)
    found = store._client.query(settings.milvus_collection, filter="", output_fields=["article_id", "start", "end", "dense"], limit=16384)
    return sorted((r["pk"], r["article_id"], r["start"], r["end"], tuple(np.round(r["dense"], 5))) for r in found)


def test_qa_index_with_ray_embeds_on_two_workers_and_writes_what_the_plain_encoder_writes(tmp_path, fake_models, fake_actors,
                                                                                           monkeypatch, capsys):
    from qa.ray_embed import RayEncoder

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_RAY_WORKERS", "2")
    monkeypatch.setenv("QA_BATCH_SIZE", "16")
    assert main(["index", str(DEMO_CORPUS), "--store", "plain.db", "--model", "fake-encoder", "--quiet"]) == 0
    capsys.readouterr()

    workers: list[set[str]] = []
    close = RayEncoder.close
    monkeypatch.setattr(RayEncoder, "close", lambda self: (workers.append(set(self.workers)), close(self)))
    assert main(["index", str(DEMO_CORPUS), "--store", "ray.db", "--model", "fake-encoder", "--quiet", "--ray"]) == 0
    out = capsys.readouterr().out
    assert "added 22" in out and "embedded 302 of 302 chunks" in out
    assert not ray.is_initialized()  # the local cluster it started is stopped
    assert len(workers) == 1 and 1 <= len(workers[0]) <= 2  # the pool's two actors (one may take every batch on a busy machine)
    settings = Settings(model_name="fake-encoder")
    assert rows(tmp_path / "ray.db", settings) == rows(tmp_path / "plain.db", settings)

    assert main(["ask", "Who is Kazakhstan's new ambassador in Belarus?", "--store", "ray.db", "--model", "fake-encoder"]) == 0
    assert "Baizhanov" in capsys.readouterr().out


class LosesWorker(FakeEncoder):
    """An actor's encoder that fails on the batch holding `fragment`, as a lost worker would."""

    def __init__(self, fragment: str, name: str = "fake-encoder") -> None:
        super().__init__(name=name)
        self.fragment = fragment

    def encode(self, texts, **kwargs):
        if any(self.fragment in text for text in texts):
            raise RuntimeError("worker lost")
        return super().encode(texts, **kwargs)


def test_a_ray_run_that_loses_a_worker_keeps_what_it_wrote_and_a_rerun_finishes(tmp_path, fake_actors):
    from qa.assistant import index_sources
    from qa.ingest import read_sources
    from qa.ray_embed import RayEncoder
    from qa.store.milvus import MilvusStore

    settings = Settings(model_name="fake-encoder", show_progress=False, store=str(tmp_path / "ray.db"), batch_size=8,
                        milvus_write_batch=8, ray_workers=2)
    last = max(read_sources([DEMO_CORPUS]).articles, key=lambda a: a.id)
    failing = RayEncoder(FakeEncoder(), settings=settings, factory=functools.partial(LosesWorker, last.title))
    with pytest.raises(StoreError, match="rerun"):
        index_sources([DEMO_CORPUS], tmp_path, settings=settings, encoder=failing)
    written = {a.id for a in MilvusStore.open(settings).articles()}
    assert 0 < len(written) < 22 and last.id not in written

    encoder = RayEncoder(FakeEncoder(), settings=settings, factory=functools.partial(FakeEncoder, name="fake-encoder"))
    report = index_sources([DEMO_CORPUS], tmp_path, settings=settings, encoder=encoder)
    encoder.close()
    assert (report.added, report.unchanged) == (22 - len(written), len(written))
    plain = settings.with_(store=str(tmp_path / "plain.db"))
    index_sources([DEMO_CORPUS], tmp_path, settings=plain, encoder=FakeEncoder())
    assert rows(tmp_path / "ray.db", settings) == rows(tmp_path / "plain.db", settings)


def test_each_actor_loads_an_onnx_encoder_on_its_one_cpu():
    """An ONNX session defaults to a thread per core; two actors would then oversubscribe a 2-core node."""
    from embeddings.encoder import OnnxEncoder
    from qa.ray_embed import ACTOR_THREADS, encoder_factory

    encoder = encoder_factory(Settings(encoder_backend="onnx-int8"))()  # lazy: nothing is loaded or exported here
    assert isinstance(encoder, OnnxEncoder) and encoder.threads == ACTOR_THREADS == 1
