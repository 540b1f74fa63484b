"""Embedding through Ray Data: `map_batches` over a pool of encoder actors, one model load per actor.

Used by `qa index ... --ray [ADDRESS]` (install with `pip install 'qa-news[ray]'`). Reading and chunking stay
on the driver; `RayEncoder.stream` yields vectors batch by batch as the actors finish them, so the store
writes them while the rest is still being embedded. Nothing imports Ray unless a RayEncoder is used.
"""

from __future__ import annotations

import functools
import math
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from embeddings.encoder import Encoder, load_encoder
from qa.config import Settings
from qa.errors import ConfigError, StoreError

LOCAL = "local"  # `--ray` without an address: start a local cluster on this machine
LOCAL_START_ATTEMPTS = 3
ACTOR_THREADS = 1  # each actor reserves one CPU (num_cpus=1) and computes on one thread


class _EncoderActor:
    """A Ray Data callable class: loads its encoder once, then embeds the batches it is given."""

    def __init__(self, factory: Callable[[], Encoder], batch_size: int) -> None:
        try:
            import torch

            torch.set_num_threads(ACTOR_THREADS)  # the actor's share of the node's cores, not all of them
        except ImportError:
            pass
        self.encoder = factory()
        self.batch_size = batch_size
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.encoder.encode([str(text) for text in batch["text"]], batch_size=self.batch_size)
        return {"position": batch["position"], "vector": np.asarray(vectors, dtype=np.float32),
                "worker": np.full(len(batch["position"]), self.worker)}


def encoder_factory(settings: Settings) -> Callable[[], Encoder]:
    """What each actor calls once to load its encoder: the settings' model and backend, on one thread.

    Each actor reserves one CPU (`num_cpus=1`); an ONNX session left at its default would start a thread
    per core in every actor and oversubscribe the node.
    """
    return functools.partial(load_encoder, settings.model_name, backend=settings.encoder_backend, threads=ACTOR_THREADS)


class RayEncoder:
    """An Encoder whose embedding runs on Ray actors; names, sizes and token counts come from a local encoder.

    Args:
        local: the driver's encoder (chunking counts tokens with it; it never embeds here).
        settings: batch size, `ray_workers` (the actor pool's size), model name and backend.
        address: a Ray cluster address (`auto`, `ray://host:10001`, `host:6379`), or `local` to start one here.
        factory: makes each actor's encoder (default: `load_encoder` for the settings' model); must pickle.
    """

    def __init__(self, local: Encoder, *, settings: Settings, address: str = LOCAL,
                 factory: Callable[[], Encoder] | None = None) -> None:
        self.local = local
        self.settings = settings
        self.address = address
        self.factory = factory or encoder_factory(settings)
        self._started_here = False
        self.workers: set[str] = set()  # the actors (host:pid) that embedded something

    @property
    def name(self) -> str:
        return self.local.name

    @property
    def dimension(self) -> int:
        return self.local.dimension

    @property
    def max_tokens(self) -> int:
        return self.local.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.local.count_tokens(text)

    def __getattr__(self, name: str) -> Any:  # token_offsets and the like, when the local encoder has them
        if name == "local":
            raise AttributeError(name)
        return getattr(self.local, name)

    def stream(self, texts: Sequence[str]) -> Iterator[tuple[list[int], np.ndarray]]:
        """(positions in `texts`, vectors) batches, in the order the actors finish them."""
        if not texts:
            return
        import ray

        self._connect(ray)
        batch = self.settings.batch_size
        items = [{"position": position, "text": text} for position, text in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=max(1, math.ceil(len(items) / batch)))
        embedded = dataset.map_batches(
            _EncoderActor, fn_constructor_kwargs={"factory": self.factory, "batch_size": batch},
            batch_size=batch, compute=ray.data.ActorPoolStrategy(size=self.settings.ray_workers), num_cpus=1,
            batch_format="numpy",
        )
        try:
            for result in embedded.iter_batches(batch_size=None, batch_format="numpy"):
                self.workers.update(str(worker) for worker in result["worker"])
                yield [int(p) for p in result["position"]], np.asarray(result["vector"], dtype=np.float32)
        except ray.exceptions.RayError as error:
            raise StoreError(f"embedding through Ray failed ({' '.join(str(error).split())[:300]}): rerun the same "
                             "command, the articles already written are kept") from error

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """All vectors at once, in the order of `texts`."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for positions, vectors in self.stream(texts):
            out[positions] = vectors
        return out

    def _connect(self, ray: Any) -> None:
        if ray.is_initialized():
            return
        attempts = LOCAL_START_ATTEMPTS if self.address == LOCAL else 1
        for attempt in range(1, attempts + 1):
            try:
                if self.address == LOCAL:
                    ray.init(num_cpus=max(self.settings.ray_workers, os.cpu_count() or 1), include_dashboard=False,
                             log_to_driver=False, configure_logging=False,
                             # a busy machine can take minutes to start a worker process; Ray's default gives up after one
                             _system_config={"worker_register_timeout_seconds": 600})
                    self._started_here = True
                else:
                    ray.init(address=self.address, log_to_driver=False, configure_logging=False)
                return
            except Exception as error:  # Ray raises plain exceptions when a cluster cannot start or be reached
                ray.shutdown()  # stops what a failed start left running
                if attempt < attempts:
                    continue  # on a busy machine Ray's agents can miss the raylet's start-up window; a retry finds them faster
                raise StoreError(f"cannot start or reach the Ray cluster {self.address!r} ({' '.join(str(error).split())[:200]}): "
                                 "check the address (`ray status` on the head node) or leave it out to run locally") from error

    def close(self) -> None:
        """Stop the local cluster this encoder started (a cluster it joined keeps running)."""
        if self._started_here:
            import ray

            ray.shutdown()
            self._started_here = False


def ray_encoder(settings: Settings, address: str | None) -> RayEncoder:
    """A RayEncoder for the settings' model (the driver's copy only counts tokens), or ConfigError without Ray."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'qa-news[ray]'") from None
    local = load_encoder(settings.model_name, backend=settings.encoder_backend)
    return RayEncoder(local, settings=settings, address=address or LOCAL)
