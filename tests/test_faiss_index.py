"""Tests for embeddings.faiss_index.VectorIndex: exact and approximate search, filters, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embeddings.faiss_index import CONFIG_FILE, FAISS_FILE, VECTORS_FILE, VectorIndex


def normalized(count: int, dimension: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def exact_top(vectors: np.ndarray, query: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = vectors @ query
    order = np.argsort(-scores, kind="stable")[:top_k]
    return scores[order], order


def test_flat_search_equals_numpy_inner_products():
    vectors = normalized(40, 16, seed=1)
    query = normalized(1, 16, seed=2)[0]
    index = VectorIndex(vectors)
    assert index.kind == "flat"
    assert (index.count, index.dimension) == (40, 16)
    scores, ids = index.search(query, 7)
    expected_scores, expected_ids = exact_top(vectors, query, 7)
    assert ids.tolist() == expected_ids.tolist()
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert ids.dtype == np.int64
    assert np.all(np.diff(scores) <= 0)


def test_search_returns_at_most_count():
    vectors = normalized(3, 8, seed=3)
    scores, ids = VectorIndex(vectors).search(vectors[1], 10)
    assert sorted(ids.tolist()) == [0, 1, 2]
    assert ids[0] == 1
    assert scores[0] == pytest.approx(1.0, abs=1e-5)


def test_small_hand_built_vectors():
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], dtype=np.float32)
    scores, ids = VectorIndex(vectors).search(np.array([1, 0, 0], dtype=np.float32), 3)
    assert ids.tolist() == [0, 2, 1]
    np.testing.assert_allclose(scores, [1.0, 0.6, 0.0], atol=1e-6)


def test_allowed_restricts_results():
    vectors = normalized(50, 16, seed=4)
    query = vectors[10]
    index = VectorIndex(vectors)
    allowed = np.array([3, 17, 29, 41, 48])
    scores, ids = index.search(query, 3, allowed=allowed)
    expected_scores, expected_positions = exact_top(vectors[allowed], query, 3)
    assert ids.tolist() == allowed[expected_positions].tolist()
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
    assert 10 not in ids.tolist()
    # more asked than allowed: every allowed row, best first
    _, all_ids = index.search(query, 20, allowed=allowed)
    assert sorted(all_ids.tolist()) == allowed.tolist()


def test_empty_allowed_and_empty_index_return_nothing():
    vectors = normalized(5, 4, seed=5)
    scores, ids = VectorIndex(vectors).search(vectors[0], 3, allowed=np.array([], dtype=np.int64))
    assert scores.shape == (0,) and ids.shape == (0,)
    scores, ids = VectorIndex(np.zeros((0, 4), np.float32)).search(vectors[0], 3)
    assert scores.shape == (0,) and ids.shape == (0,)


def test_search_exact_matches_numpy():
    vectors = normalized(30, 8, seed=6)
    query = normalized(1, 8, seed=7)[0]
    _, ids = VectorIndex(vectors, kind="hnsw").search_exact(query, 5)
    assert ids.tolist() == exact_top(vectors, query, 5)[1].tolist()


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="2-d"):
        VectorIndex(np.zeros(4, np.float32))
    with pytest.raises(ValueError, match="unknown index kind 'ivf'"):
        VectorIndex(np.zeros((2, 4), np.float32), kind="ivf")


def test_flat_save_load_round_trip(tmp_path):
    vectors = normalized(25, 12, seed=8)
    index = VectorIndex(vectors)
    written = index.save(tmp_path)
    assert written == [VECTORS_FILE, CONFIG_FILE]
    assert not (tmp_path / FAISS_FILE).exists()
    loaded = VectorIndex.load(tmp_path)
    assert loaded.kind == "flat"
    np.testing.assert_array_equal(loaded.vectors, vectors)
    query = normalized(1, 12, seed=9)[0]
    for left, right in zip(index.search(query, 5), loaded.search(query, 5), strict=True):
        np.testing.assert_array_equal(left, right)


def recall_at_10(index: VectorIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    found = 0
    for query in queries:
        _, ids = index.search(query, 10)
        found += len(set(ids.tolist()) & set(exact_top(vectors, query, 10)[1].tolist()))
    return found / (10 * len(queries))


def test_hnsw_recall_and_round_trip(tmp_path):
    vectors = normalized(500, 32, seed=10)
    queries = normalized(50, 32, seed=11)
    index = VectorIndex(vectors, kind="hnsw")
    assert index.kind == "hnsw"
    assert recall_at_10(index, vectors, queries) >= 0.95
    written = index.save(tmp_path)
    assert set(written) == {VECTORS_FILE, CONFIG_FILE, FAISS_FILE}
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == {
        "kind": "hnsw", "count": 500, "dimension": 32, "hnsw_m": 32, "ef_search": 128,
    }
    loaded = VectorIndex.load(tmp_path)
    assert (loaded.kind, loaded.count, loaded.dimension) == ("hnsw", 500, 32)
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert recall_at_10(loaded, vectors, queries) >= 0.95
    for query in queries[:5]:
        assert index.search(query, 10)[1].tolist() == loaded.search(query, 10)[1].tolist()


def test_load_rejects_vectors_of_another_shape(tmp_path):
    VectorIndex(normalized(10, 8, seed=12)).save(tmp_path)
    np.save(tmp_path / VECTORS_FILE, normalized(9, 8, seed=12), allow_pickle=False)
    with pytest.raises(ValueError, match=r"shape \(9, 8\), expected \(10, 8\)"):
        VectorIndex.load(tmp_path)


def test_load_rejects_faiss_graph_of_another_size(tmp_path):
    VectorIndex(normalized(20, 8, seed=13), kind="hnsw").save(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    VectorIndex(normalized(12, 8, seed=14), kind="hnsw").save(other)
    (other / FAISS_FILE).replace(tmp_path / FAISS_FILE)
    with pytest.raises(ValueError, match="holds 12 vectors, expected 20"):
        VectorIndex.load(tmp_path)


def clustered(count: int, dimension: int, seed: int, centres: int = 40) -> np.ndarray:
    rng = np.random.default_rng(seed)
    middle = normalized(centres, dimension, seed + 100)
    vectors = middle[rng.integers(0, centres, count)] + 0.35 * rng.standard_normal((count, dimension)).astype(np.float32) / np.sqrt(dimension)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_ivf_sq8_recall_exact_scores_and_round_trip(tmp_path):
    vectors = clustered(3000, 32, seed=20)
    queries = clustered(40, 32, seed=21)
    index = VectorIndex(vectors, kind="ivf-sq8")
    assert (index.kind, index.count, index.dimension) == ("ivf-sq8", 3000, 32)
    assert recall_at_10(index, vectors, queries) >= 0.95
    scores, ids = index.search(queries[0], 10)
    np.testing.assert_allclose(scores, vectors[ids] @ queries[0], rtol=1e-5, atol=1e-6)  # re-scored with the floats
    assert set(index.save(tmp_path)) == {VECTORS_FILE, CONFIG_FILE, FAISS_FILE}
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config == {"kind": "ivf-sq8", "count": 3000, "dimension": 32, "nlist": index.nlist, "nprobe": index.nprobe, "rerank": 4}
    loaded = VectorIndex.load(tmp_path)
    assert (loaded.kind, loaded.nlist, loaded.nprobe) == ("ivf-sq8", index.nlist, index.nprobe)
    for query in queries[:5]:
        assert index.search(query, 10)[1].tolist() == loaded.search(query, 10)[1].tolist()


def test_loaded_vectors_are_memory_mapped_not_copied(tmp_path):
    vectors = normalized(50, 8, seed=22)
    VectorIndex(vectors).save(tmp_path)
    loaded = VectorIndex.load(tmp_path)
    assert isinstance(loaded.vectors, np.memmap) and not loaded.vectors.flags.writeable
    assert loaded.memory_bytes() == 0  # exact search keeps no second copy
    loaded.save(tmp_path)  # saving onto its own mapped file leaves the file intact
    np.testing.assert_array_equal(VectorIndex.load(tmp_path).vectors, vectors)


def test_auto_switches_to_ivf_sq8_at_the_threshold(monkeypatch):
    from embeddings import faiss_index

    monkeypatch.setattr(faiss_index, "APPROXIMATE_FROM", 1000)
    assert VectorIndex(clustered(999, 16, seed=23)).kind == "flat"
    assert VectorIndex(clustered(1000, 16, seed=23)).kind == "ivf-sq8"


def test_ivf_sq8_broad_filter_is_applied_inside_the_approximate_search(monkeypatch):
    from embeddings import faiss_index

    monkeypatch.setattr(faiss_index, "EXACT_FILTER_MAX", 100)
    vectors = clustered(4000, 16, seed=24)
    index = VectorIndex(vectors, kind="ivf-sq8")
    allowed = np.arange(0, 4000, 3)
    query = vectors[7]
    _, ids = index.search(query, 10, allowed=allowed)
    assert len(ids) == 10 and set(ids.tolist()) <= set(allowed.tolist())
    _, positions = exact_top(vectors[allowed], query, 10)
    assert len(set(ids.tolist()) & set(allowed[positions].tolist())) >= 9
    _, few = index.search(query, 10, allowed=np.array([5, 6, 3999]))  # few rows: exact scan over them
    assert sorted(few.tolist()) == [5, 6, 3999]
