"""Tests for qa.config.Settings: defaults, environment parsing, validation and copies."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from qa.config import DEFAULT_MODEL, Settings
from qa.errors import ConfigError, QAError


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.model_name == DEFAULT_MODEL
    assert settings.index_dir is None


def test_from_env_reads_ints_floats_bools_paths_and_strings():
    settings = Settings.from_env({
        "QA_TOP_K": "8",
        "QA_MIN_CONFIDENCE": "0.25",
        "QA_SHOW_PROGRESS": "no",
        "QA_INDEX_DIR": "/tmp/news-index",
        "QA_MODEL_NAME": "all-mpnet-base-v2",
        "UNRELATED": "x",
    })
    assert settings.top_k == 8
    assert settings.min_confidence == 0.25
    assert settings.show_progress is False
    assert settings.index_dir == Path("/tmp/news-index")
    assert settings.model_name == "all-mpnet-base-v2"
    assert settings.batch_size == Settings().batch_size


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("TRUE", True), ("on", True), ("0", False), ("Off", False)])
def test_bool_spellings(raw, expected):
    assert Settings.from_env({"QA_SHOW_PROGRESS": raw}).show_progress is expected


def test_index_dir_expands_user(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert Settings.from_env({"QA_INDEX_DIR": "~/idx"}).index_dir == tmp_path / "idx"


def test_overrides_win_over_environment_and_none_is_ignored():
    settings = Settings.from_env({"QA_TOP_K": "8", "QA_RRF_K": "30"}, top_k=3, rrf_k=None)
    assert (settings.top_k, settings.rrf_k) == (3, 30)


def test_from_env_reads_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("QA_DENSE_CANDIDATES", "17")
    assert Settings.from_env().dense_candidates == 17


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("QA_TOP_K", "eight"), ("QA_TOP_K", "2.5"), ("QA_MIN_CONFIDENCE", "high"), ("QA_SHOW_PROGRESS", "maybe")],
)
def test_unparseable_values_name_the_variable(variable, raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: raw})
    assert variable in str(caught.value)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize(("variable", "raw"), [("QA_TOP_K", "0"), ("QA_BATCH_SIZE", "-4"), ("QA_MIN_CONFIDENCE", "1.5")])
def test_out_of_range_environment_values_name_the_setting(variable, raw):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: raw})
    assert variable.removeprefix("QA_").lower() in str(caught.value).lower()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"top_k": 0}, "top_k must be a whole number of at least 1, got 0"),
        ({"chunk_tokens": 2.5}, "chunk_tokens must be a whole number of at least 1, got 2.5"),
        ({"max_chunks_per_article": -1}, "max_chunks_per_article must be a whole number of at least 1, got -1"),
        ({"chunk_overlap_sentences": -1}, "chunk_overlap_sentences must be 0 or more, got -1"),
        ({"min_confidence": 1.5}, "min_confidence must be between 0 and 1, got 1.5"),
        ({"model_name": "  "}, "model_name is empty"),
        ({"encoder_backend": "tensorrt"}, "encoder_backend must be one of torch, onnx, onnx-int8, got 'tensorrt'"),
        ({"fusion": "sum"}, "fusion must be one of convex, rrf, got 'sum'"),
        ({"dense_weight": 1.5}, "dense_weight must be between 0 and 1, got 1.5"),
        ({"highlight": "longest"}, "highlight must be one of reread, shared, got 'longest'"),
    ],
)
def test_invalid_settings_raise_config_error(changes, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        Settings(**changes)


def test_config_error_is_a_qa_error():
    assert issubclass(ConfigError, QAError)


def test_index_dir_string_becomes_path():
    assert Settings(index_dir="some/dir").index_dir == Path("some/dir")


def test_resolved_index_dir_prefers_the_given_one(tmp_path):
    assert Settings(index_dir=tmp_path).resolved_index_dir == tmp_path
    assert Settings().resolved_index_dir.name == "demo-index"


def test_with_changes_fields_and_ignores_none():
    settings = Settings(top_k=5, rrf_k=60)
    changed = settings.with_(top_k=9, rrf_k=None, model_name=None)
    assert (changed.top_k, changed.rrf_k, changed.model_name) == (9, 60, DEFAULT_MODEL)
    assert settings.top_k == 5  # the original is untouched
    assert settings.with_() == settings


def test_with_validates_the_copy():
    with pytest.raises(ConfigError, match="top_k"):
        Settings().with_(top_k=0)


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().top_k = 3  # type: ignore[misc]


def test_encoder_backend_from_environment():
    assert Settings.from_env({"QA_ENCODER_BACKEND": "onnx-int8"}).encoder_backend == "onnx-int8"
    assert Settings.from_env({"QA_ENCODER_BACKEND": "torch"}).encoder_backend == "torch"
    assert Settings.from_env({}).encoder_backend == "onnx-int8" and Settings.from_env({}).reader_backend == "onnx-int8"
