"""Settings: one frozen object built from defaults, environment and arguments, passed explicitly."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from embeddings.encoder import BACKENDS, ONNX_INT8
from qa.errors import ConfigError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
FUSIONS = ("convex", "rrf")
HIGHLIGHTS = ("reread", "shared")
APP_NAME = "qa-news"


def default_index_dir() -> Path:
    """Where the default (demo corpus) index lives: a per-user cache directory."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME)) / "demo-index"


@dataclass(frozen=True)
class Settings:
    """Everything that can be tuned. Build with `Settings.from_env(**overrides)`.

    Environment variables are the field names upper-cased with a `QA_` prefix,
    for example `QA_MODEL_NAME=all-mpnet-base-v2` or `QA_TOP_K=8`.
    """

    model_name: str = DEFAULT_MODEL
    encoder_backend: str = ONNX_INT8  # int8 ONNX, exported once and cached; "torch": full precision (same answers on held-out QA, docs/benchmarks.md)
    index_dir: Path | None = None
    batch_size: int = 32
    chunk_tokens: int = 200
    chunk_overlap_sentences: int = 1
    top_k: int = 5
    dense_candidates: int = 50
    lexical_candidates: int = 50
    # How dense and BM25 candidates are merged: "convex" (dense_weight x z-scored dense similarity + the rest x z-scored
    # BM25; fit on calibration's training collection: right passage first 0.776 vs 0.703 for "rrf", docs/reader.md) or
    # "rrf" (reciprocal rank, constant rrf_k). calibration.json is fit with this fusion: rerun `python -m qa.reader.calibrate` after changing it.
    fusion: str = "convex"
    dense_weight: float = 0.4
    rrf_k: int = 60
    max_chunks_per_article: int = 2
    hits_read: int = 8  # retrieved chunks whose sentences are candidate answers
    context_turns: int = 6  # earlier turns a follow-up reads: 3 -> 0.750, 6 -> 0.813, 8 -> 0.817 right story first on CoQA training stories (bench/followup_context.py)
    context_answers: bool = False  # earlier answers in a follow-up's retrieval text: 0.69 right story vs 0.80 questions only (bench/followup_context.py)
    # A self-contained question after earlier turns is read as a follow-up only when the conversation's article holds at
    # least this share of its words (IDF-weighted) and no less than its own best article does (Assistant.candidates).
    # On CoQA training stories 0.2-0.3 put self-contained follow-ups in their story most often, 0.5 less
    # (bench/results/experiments/followup-conversation-article-coverage.json).
    continue_min_coverage: float = 0.3
    # Candidate sentences the span reader reads per question (5 was tried: 16% faster, fewer off-collection questions caught, docs/reader.md).
    # calibration.json is fit for this number: after changing it, rerun `python -m qa.reader.calibrate`.
    reader_sentences: int = 6
    # The highlight: of the sentence's span_candidates likeliest spans, the one with the highest expected overlap with
    # the others, weighted by probability ** span_sharpening (qa.reader.model.decode; 1 candidate: the likeliest span).
    # Fit on calibration's training questions: 2 holds the answer 0.712 vs 0.687 at F1 0.670 vs 0.667 (docs/reader.md).
    span_candidates: int = 50
    span_sharpening: float = 2.0
    # "reread": the cited sentence is read again, on its own, by the highlight reader (trained further on answer
    # sentences; held-out span F1 0.517 vs 0.467, docs/reader.md), whose span is the highlight; "shared": the span the
    # sentence reader found while choosing the sentence. highlight_weights: None for the bundled highlight reader.
    highlight: str = "reread"
    highlight_weights: Path | None = None
    reader_threads: int = 2  # threads for one question's reading: 2 beat 1 at p50 here, quiet or loaded (docs/benchmarks.md, section 7)
    # A reading that runs alone lets the int8 reader's workers spin until it returns: p50 per question 49 -> 38 ms on the
    # demo, for 3-8 ms more CPU; the load test (50 sessions, clients on the same 2 cores): 11.1 vs 12.2 questions/s
    # (docs/reader.md, "Spinning during a run"). Never while the machine's load average has reached its cores
    # (qa.reader.model.machine_busy): the load test, 50 clients on the same cores, 9.7 vs 8.9 questions/s.
    reader_spinning: bool = True
    reader_backend: str = ONNX_INT8  # the reader exported once to int8 ONNX, needs no torch once cached; "torch": full precision
    min_confidence: float | None = None  # None: the threshold calibrated with the reader (qa/reader/weights/calibration.json)
    max_question_chars: int = 1000
    reload_check_seconds: float | None = 2.0  # how often an Assistant looks for a re-indexed generation; None: never
    show_progress: bool = True
    store: str = "faiss"  # "faiss" (index_dir), a Milvus Lite file "x.db", or a Milvus server "http://host:19530" (docs/scale-out.md)
    milvus_collection: str = "qa_news"  # one collection (plus its article records) per index in a Milvus store
    milvus_dense_index: str = "FLAT"  # Milvus index type of the dense vectors: FLAT (exact, as the FAISS default) or HNSW, IVF_SQ8, ...
    milvus_write_batch: int = 256  # chunks per Milvus upsert while indexing
    ray_workers: int = 2  # encoder actors when embedding through Ray (`qa index --ray`)
    allow_upload: bool = False  # the chat's "Add articles": per-session collections over the base index (qa serve --allow-upload)
    upload_max_files: int = 20  # per session
    upload_max_bytes: int = 5_000_000  # per session, all files together
    upload_max_articles: int = 200  # per session
    upload_max_sessions: int = 50  # sessions holding uploads at once; past that, new uploads are refused until one ends

    def __post_init__(self) -> None:
        positive = ("batch_size", "chunk_tokens", "top_k", "dense_candidates", "lexical_candidates",
                    "rrf_k", "max_chunks_per_article", "hits_read", "context_turns", "reader_sentences", "span_candidates", "reader_threads", "max_question_chars",
                    "milvus_write_batch", "ray_workers", "upload_max_files", "upload_max_bytes", "upload_max_articles", "upload_max_sessions")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")
        if self.chunk_overlap_sentences < 0:
            raise ConfigError(f"chunk_overlap_sentences must be 0 or more, got {self.chunk_overlap_sentences!r}")
        if not (isinstance(self.span_sharpening, (int, float)) and self.span_sharpening > 0):
            raise ConfigError(f"span_sharpening must be a number above 0, got {self.span_sharpening!r}")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}")
        if not (isinstance(self.continue_min_coverage, (int, float)) and 0.0 <= self.continue_min_coverage <= 1.0):
            raise ConfigError(f"continue_min_coverage must be between 0 and 1, got {self.continue_min_coverage!r}")
        if not (isinstance(self.dense_weight, (int, float)) and 0.0 <= self.dense_weight <= 1.0):
            raise ConfigError(f"dense_weight must be between 0 and 1, got {self.dense_weight!r}")
        if self.min_confidence is not None and not (isinstance(self.min_confidence, (int, float)) and 0.0 <= self.min_confidence <= 1.0):
            raise ConfigError(f"min_confidence must be between 0 and 1, got {self.min_confidence!r}")
        if self.reload_check_seconds is not None and not (
                isinstance(self.reload_check_seconds, (int, float)) and self.reload_check_seconds >= 0):
            raise ConfigError(f"reload_check_seconds must be 0 or more seconds (or None for never), got {self.reload_check_seconds!r}")
        if self.highlight not in HIGHLIGHTS:
            raise ConfigError(f"highlight must be one of {', '.join(HIGHLIGHTS)}, got {self.highlight!r}")
        if self.reader_backend not in ("torch", "onnx-int8"):
            raise ConfigError(f"reader_backend must be torch or onnx-int8, got {self.reader_backend!r}")
        if self.encoder_backend not in BACKENDS:
            raise ConfigError(f"encoder_backend must be one of {', '.join(BACKENDS)}, got {self.encoder_backend!r}")
        if not self.model_name.strip():
            raise ConfigError("model_name is empty: give a sentence-transformers model name or path")
        if not self.store.strip():
            raise ConfigError("store is empty: use faiss, a Milvus Lite file such as index.db, or a Milvus URI such as http://localhost:19530")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,200}", self.milvus_collection):
            raise ConfigError(f"milvus_collection must be letters, digits and underscores, starting with a letter, got {self.milvus_collection!r}")
        for name in ("index_dir", "highlight_weights"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))

    @property
    def resolved_index_dir(self) -> Path:
        """The index directory, falling back to the per-user default."""
        return self.index_dir if self.index_dir is not None else default_index_dir()

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then `QA_*` environment variables, then keyword overrides."""
        environ = dict(os.environ) if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"QA_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, raw: str, type_name: Any) -> Any:
    kind = str(type_name)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("float"):
            return float(raw)
        if kind.startswith("bool"):
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if "Path" in kind:
            return Path(raw).expanduser()
    except ValueError:
        raise ConfigError(f"QA_{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw
