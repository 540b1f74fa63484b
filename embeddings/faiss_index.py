"""A vector index over FAISS: exact inner product for small collections, HNSW for large ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FLAT = "flat"
HNSW = "hnsw"
# Above this many vectors an exact scan stops being fast enough for interactive questions.
APPROXIMATE_FROM = 200_000
VECTORS_FILE = "vectors.npy"
FAISS_FILE = "vectors.faiss"
CONFIG_FILE = "vectors.json"


class VectorIndex:
    """Normalized vectors searched by inner product (= cosine); row number = vector id.

    The raw vectors are kept beside the FAISS structure so exact and filtered search,
    incremental rebuilds and recall checks never depend on the approximate index.
    """

    def __init__(self, vectors: np.ndarray, *, kind: str = "auto", hnsw_m: int = 32, ef_search: int = 128) -> None:
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-d array, got shape {vectors.shape}")
        if kind == "auto":
            kind = HNSW if len(vectors) >= APPROXIMATE_FROM else FLAT
        if kind not in (FLAT, HNSW):
            raise ValueError(f"unknown index kind {kind!r}: use 'flat', 'hnsw' or 'auto'")
        self.vectors = vectors
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        dimension = vectors.shape[1]
        if kind == FLAT:
            self._index = faiss.IndexFlatIP(dimension)
        else:
            self._index = faiss.IndexHNSWFlat(dimension, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = 80
            self._index.hnsw.efSearch = ef_search
        if len(vectors):
            self._index.add(vectors)

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def search(self, query: np.ndarray, top_k: int, *, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best `top_k` (scores, ids) for one query vector, best first.

        `allowed` restricts the search to those ids (an exact scan over them), so a
        filter that keeps few vectors still returns its best matches.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return np.zeros(0, np.float32), np.zeros(0, np.int64)
            scores = self.vectors[allowed] @ query[0]
            order = _top(scores, top_k)
            return scores[order], allowed[order]
        if self.count == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        scores, ids = self._index.search(query, min(top_k, self.count))
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep].astype(np.int64)

    def search_exact(self, query: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search whatever the index kind, the reference for recall checks."""
        return self.search(query, top_k, allowed=np.arange(self.count))

    def save(self, directory: Path) -> list[str]:
        """Write the vectors (and the FAISS graph when approximate); returns the file names written."""
        import faiss

        directory = Path(directory)
        np.save(directory / VECTORS_FILE, self.vectors, allow_pickle=False)
        written = [VECTORS_FILE, CONFIG_FILE]
        if self.kind == HNSW:
            faiss.write_index(self._index, str(directory / FAISS_FILE))
            written.append(FAISS_FILE)
        config = {"kind": self.kind, "count": self.count, "dimension": self.dimension,
                  "hnsw_m": self.hnsw_m, "ef_search": self.ef_search}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return written

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        """Read an index written by `save`. A flat index is rebuilt from the vectors (fast)."""
        import faiss

        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        vectors = np.load(directory / VECTORS_FILE, allow_pickle=False)
        if vectors.shape != (config["count"], config["dimension"]):
            raise ValueError(f"{VECTORS_FILE} has shape {vectors.shape}, expected ({config['count']}, {config['dimension']})")
        if config["kind"] == FLAT:
            return cls(vectors, kind=FLAT)
        index = cls.__new__(cls)
        index.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        index.kind, index.hnsw_m, index.ef_search = HNSW, config["hnsw_m"], config["ef_search"]
        index._index = faiss.read_index(str(directory / FAISS_FILE))
        index._index.hnsw.efSearch = config["ef_search"]
        if index._index.ntotal != len(vectors):
            raise ValueError(f"{FAISS_FILE} holds {index._index.ntotal} vectors, expected {len(vectors)}")
        return index


def _top(scores: np.ndarray, top_k: int) -> np.ndarray:
    if top_k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, top_k)[:top_k]
    return part[np.argsort(-scores[part], kind="stable")]
