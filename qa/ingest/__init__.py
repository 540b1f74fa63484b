"""Ingest: read pages and files -> clean -> split -> dedupe -> `Article`."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.collect import IngestResult, Shortened, Skipped, read_sources

__all__ = ["IngestResult", "Shortened", "Skipped", "demo_corpus_dir", "read_sources"]


def demo_corpus_dir() -> Path:
    """The directory of the built-in demo corpus shipped with the package."""
    return Path(__file__).resolve().parents[1] / "examples" / "demo_corpus"
