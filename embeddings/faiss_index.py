"""A vector index over FAISS: exact inner product for small collections, compressed IVF for large ones."""

from __future__ import annotations

import contextlib
import json
import math
import mmap
import os
from pathlib import Path
from typing import Any

import numpy as np

FLAT = "flat"
HNSW = "hnsw"
IVF_SQ8 = "ivf-sq8"
KINDS = (FLAT, HNSW, IVF_SQ8)
# Above this many vectors an exact scan stops being fast enough for interactive questions
# (about 25 ms at 200,000 x 384 on two cores, see docs/benchmarks.md).
APPROXIMATE_FROM = 200_000
# A filter that keeps at most this many rows is answered by an exact scan over them.
EXACT_FILTER_MAX = 50_000
VECTORS_FILE = "vectors.npy"
FAISS_FILE = "vectors.faiss"
CONFIG_FILE = "vectors.json"
_TRAIN_PER_LIST = 32  # k-means training sample per IVF list (FAISS suggests 39; 32 trains faster, same recall here)
_ADD_BLOCK = 100_000


def ivf_lists(count: int) -> int:
    """IVF lists for `count` vectors: about 2 * sqrt(count), between 16 and 4096."""
    return int(min(4096, max(16, round(2 * math.sqrt(max(count, 1))))))


def ivf_probes(lists: int) -> int:
    """Lists visited per query: an eighth of them (at least 24), recall@10 >= 0.95 on real embeddings (docs/benchmarks.md)."""
    return int(min(lists, max(24, lists // 8)))


class VectorIndex:
    """Normalized vectors searched by inner product (= cosine); row number = vector id.

    The float32 vectors are the reference: exact and filtered search, incremental rebuilds
    and recall checks use them, never the approximate structure. A loaded index keeps them
    memory-mapped (`vectors.npy`), so they cost no heap memory and only the rows a search
    touches are read. Kinds:

    - `flat`: exact scan of the vectors (no second copy);
    - `ivf-sq8`: inverted lists of 8-bit quantized vectors (a quarter of the float size);
      each search re-scores its candidates with the float vectors, so the scores are exact;
    - `hnsw`: a FAISS HNSW graph over float vectors (kept for indexes that ask for it).

    `kind="auto"` picks `flat` below `APPROXIMATE_FROM` vectors and `ivf-sq8` from there on.
    """

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        kind: str = "auto",
        hnsw_m: int = 32,
        ef_search: int = 128,
        nlist: int | None = None,
        nprobe: int | None = None,
        rerank: int = 4,
    ) -> None:
        vectors = np.asanyarray(vectors)  # a memory map stays one
        if vectors.ndim != 2:
            raise ValueError(f"vectors must be a 2-d array, got shape {vectors.shape}")
        if vectors.dtype != np.float32 or not vectors.flags.c_contiguous:
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if kind == "auto":
            kind = IVF_SQ8 if len(vectors) >= APPROXIMATE_FROM else FLAT
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}: use 'flat', 'ivf-sq8', 'hnsw' or 'auto'")
        self.vectors = vectors
        self.kind = kind
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        # k-means wants at least 39 training points per list
        self.nlist = max(1, min(nlist or ivf_lists(len(vectors)), len(vectors) // 39))
        self.nprobe = min(self.nlist, nprobe or ivf_probes(self.nlist))
        self.rerank = rerank
        self._index: Any = None
        if kind == HNSW:
            self._index = _build_hnsw(vectors, hnsw_m, ef_search)
        elif kind == IVF_SQ8:
            self._index = _build_ivf(vectors, self.nlist)

    @property
    def count(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def memory_bytes(self) -> int:
        """Heap bytes of the search structure (memory-mapped vectors not counted)."""
        own = 0 if isinstance(self.vectors, np.memmap) else self.vectors.nbytes
        if self._index is None:
            return own
        faiss = _faiss()

        if self.kind == IVF_SQ8:
            invlists = self._index.invlists
            codes = sum(invlists.list_size(i) for i in range(invlists.nlist)) * (invlists.code_size + 8)
            return own + codes + self.nlist * self.dimension * 4
        return own + int(faiss.serialize_index(self._index).nbytes)

    def search(self, query: np.ndarray, top_k: int, *, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best `top_k` (scores, ids) for one query vector, best first.

        `allowed` restricts the search to those ids. A filter keeping few vectors is an
        exact scan over them, so it still returns its best matches; on an approximate index
        a broad filter is applied inside the approximate search.
        """
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        empty = np.zeros(0, np.float32), np.zeros(0, np.int64)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0 or top_k < 1:
                return empty
            if self._index is None or len(allowed) <= EXACT_FILTER_MAX:
                return self._scan(query, top_k, allowed)
            found = self._approximate(query, top_k, allowed=allowed)
            if len(found[1]) >= min(top_k, len(allowed)):
                return found
            return self._scan(query, top_k, allowed)
        if self.count == 0 or top_k < 1:
            return empty
        if self._index is None:
            return self._scan(query, top_k, None)
        return self._approximate(query, top_k)

    def search_exact(self, query: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact search whatever the index kind, the reference for recall checks."""
        if self.count == 0 or top_k < 1:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        return self._scan(np.ascontiguousarray(query, dtype=np.float32).reshape(-1), top_k, None)

    def _scan(self, query: np.ndarray, top_k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k: a single-threaded SIMD scan (FAISS) straight over the (memory-mapped) vectors.

        The scan is memory-bound, so one thread is as fast as two here, and unlike a BLAS
        product it never waits for a thread pool, which costs 10 ms or more on a busy machine.
        """
        faiss = _faiss()

        rows = self.vectors if allowed is None else self.vectors[allowed]
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        scores = np.empty(len(rows), dtype=np.float32)
        faiss.fvec_inner_products_ny(faiss.swig_ptr(scores), faiss.swig_ptr(query), faiss.swig_ptr(rows), rows.shape[1], len(rows))
        positions = _top(scores, top_k).astype(np.int64)
        return scores[positions], positions if allowed is None else allowed[positions]

    def _approximate(self, query: np.ndarray, top_k: int, *, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        faiss = _faiss()

        selector = bitmap = None
        if allowed is not None:
            mask = np.zeros(self.count, dtype=bool)
            mask[allowed] = True
            bitmap = np.packbits(mask, bitorder="little")
            selector = faiss.IDSelectorBitmap(self.count, faiss.swig_ptr(bitmap))
        if self.kind == IVF_SQ8:
            share = 1.0 if allowed is None else len(allowed) / self.count
            params = faiss.SearchParametersIVF(nprobe=min(self.nlist, math.ceil(self.nprobe / share)))
            wanted = min(self.count, max(top_k * self.rerank, top_k + 32))
        else:
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, top_k))
            wanted = min(self.count, top_k)
        if selector is not None:
            params.sel = selector
        _, ids = self._index.search(query.reshape(1, -1), wanted, params=params)
        ids = ids[0][ids[0] >= 0].astype(np.int64)
        del bitmap  # kept alive until the search is done
        if len(ids) == 0:
            return np.zeros(0, np.float32), ids
        # Re-score with the float vectors: exact scores, and an order that does not depend on quantization.
        ids = np.sort(ids)
        scores = np.asarray(self.vectors[ids] @ query, dtype=np.float32)
        order = _top(scores, top_k)
        return scores[order], ids[order]

    def save(self, directory: Path) -> list[str]:
        """Write the vectors (and the FAISS structure when approximate); returns the file names written."""
        faiss = _faiss()

        directory = Path(directory)
        target = directory / VECTORS_FILE
        mapped = getattr(self.vectors, "filename", None)
        if not (mapped and target.exists() and os.path.samefile(mapped, target)):  # never truncate the mapped file
            np.save(target, np.asarray(self.vectors), allow_pickle=False)
        written = [VECTORS_FILE, CONFIG_FILE]
        if self._index is not None:
            faiss.write_index(self._index, str(directory / FAISS_FILE))
            written.append(FAISS_FILE)
        config = {"kind": self.kind, "count": self.count, "dimension": self.dimension}
        if self.kind == HNSW:
            config.update({"hnsw_m": self.hnsw_m, "ef_search": self.ef_search})
        elif self.kind == IVF_SQ8:
            config.update({"nlist": self.nlist, "nprobe": self.nprobe, "rerank": self.rerank})
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        return written

    @classmethod
    def load(cls, directory: Path) -> VectorIndex:
        """Read an index written by `save`; the vectors are memory-mapped, not read into memory."""
        faiss = _faiss()

        directory = Path(directory)
        config = json.loads((directory / CONFIG_FILE).read_text())
        expected = (config["count"], config["dimension"])
        vectors = np.load(directory / VECTORS_FILE, mmap_mode="r" if config["count"] else None, allow_pickle=False)
        if vectors.shape != expected:
            raise ValueError(f"{VECTORS_FILE} has shape {vectors.shape}, expected {expected}")
        if vectors.dtype != np.float32:
            raise ValueError(f"{VECTORS_FILE} holds {vectors.dtype} values, expected float32")
        kind = config["kind"]
        if kind not in KINDS:
            raise ValueError(f"{CONFIG_FILE} names an unknown index kind {kind!r}")
        if kind == FLAT:
            return cls(vectors, kind=FLAT)
        index = cls.__new__(cls)
        index.vectors, index.kind = vectors, kind
        index.hnsw_m, index.ef_search = config.get("hnsw_m", 32), config.get("ef_search", 128)
        index.nlist = config.get("nlist", ivf_lists(len(vectors)))
        index.nprobe, index.rerank = config.get("nprobe", ivf_probes(index.nlist)), config.get("rerank", 4)
        _advise_random(vectors)  # re-scoring reads scattered rows: no read-ahead when they come from disk
        index._index = faiss.read_index(str(directory / FAISS_FILE))
        if kind == HNSW:
            index._index.hnsw.efSearch = index.ef_search
        if index._index.ntotal != len(vectors):
            raise ValueError(f"{FAISS_FILE} holds {index._index.ntotal} vectors, expected {len(vectors)}")
        return index


def _advise_random(vectors: np.ndarray) -> None:
    mapping = getattr(vectors, "_mmap", None)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_RANDOM"):
        with contextlib.suppress(OSError, ValueError):
            mapping.madvise(mmap.MADV_RANDOM)


def _build_hnsw(vectors: np.ndarray, m: int, ef_search: int):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 80
    index.hnsw.efSearch = ef_search
    if len(vectors):
        index.add(vectors)
    return index


def _build_ivf(vectors: np.ndarray, lists: int):
    """Inverted lists over k-means cells, 8-bit scalar-quantized codes (trained on a fixed sample)."""
    import faiss

    count, dimension = vectors.shape
    index = faiss.index_factory(dimension, f"IVF{lists},SQ8", faiss.METRIC_INNER_PRODUCT)
    if count == 0:
        return index
    sample_size = min(count, _TRAIN_PER_LIST * lists)
    sample = np.sort(np.random.default_rng(0).choice(count, sample_size, replace=False))
    clustering = faiss.extract_index_ivf(index).cp
    clustering.niter = 12
    clustering.min_points_per_centroid = 16  # the sample has _TRAIN_PER_LIST points per list: no warning
    index.train(np.ascontiguousarray(vectors[sample]))
    for start in range(0, count, _ADD_BLOCK):
        index.add(np.ascontiguousarray(vectors[start : start + _ADD_BLOCK]))
    return index


def _top(scores: np.ndarray, top_k: int) -> np.ndarray:
    if top_k >= len(scores):
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, top_k)[:top_k]
    return part[np.argsort(-scores[part], kind="stable")]


def _faiss() -> Any:
    """FAISS, imported on first use (its SWIG bindings have no usable type information)."""
    import faiss

    return faiss
