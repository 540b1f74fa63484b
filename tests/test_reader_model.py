"""qa.reader.model and calibration: decoding hand-made logits, checking weights and calibration files.

The tests marked `model` load the real reader: the shipped weights, and weights trained here on a tiny
sample of the public QA data. They never assert a particular answer, since the shipped weights change
whenever the reader is retrained.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ARTICLES, SHARED

from qa.errors import ModelLoadError
from qa.reader.calibration import (
    CALIBRATION_FILE,
    load_calibration,
    neutral_calibration,
)
from qa.reader.features import LinearModel
from qa.reader.model import (
    FORMAT_VERSION,
    HEADER_FILE,
    HIGHLIGHT_WEIGHTS_DIR,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
    ReaderConfig,
    Reading,
    SentenceReading,
    SpanReader,
    _answer_band,
    decode,
    read_header,
    save_reader,
    whole_words,
)
from qa.text import split_sentences
from qa.types import Span

# --- decode: shared normalisation over hand-made logits ---------------------------------------------
# Two encoded pairs of 5 tokens: [CLS] question-token sentence-token x3. The sentence tokens' offsets
# are character ranges in their own sentence.
CONTEXT = np.array([[False, False, True, True, True]] * 2)
OFFSETS = np.array([[[0, 0], [0, 0], [0, 3], [4, 9], [10, 15]]] * 2)


def _logits(start_weights: list[list[float]], end_weights: list[list[float]]) -> np.ndarray:
    """Logits whose softmax over the allowed positions gives weights proportional to the ones given."""
    return np.log(np.stack([np.array(start_weights), np.array(end_weights)], axis=-1))


def test_uniform_logits_spread_the_mass_over_every_sentence_token_and_cls():
    reading = decode(np.zeros((2, 5, 2)), CONTEXT, OFFSETS, ReaderConfig())
    # 8 allowed positions (2 [CLS] + 2 x 3 sentence tokens), 1/8 each.
    assert reading.no_answer == pytest.approx(2 / 8)
    for sentence in reading.sentences:
        assert sentence.mass == pytest.approx(3 / 8)
        assert sentence.answer_probability == pytest.approx(1 / 64)
        assert sentence.answer == Span(0, 3)  # ties go to the first span


def test_the_best_span_and_the_shared_softmax():
    start = [[1, 100, 1, 1, 1],  # the question token's huge logit does not count: it is not allowed
             [1, 100, 1, 6, 1]]
    end = [[2, 100, 1, 1, 1],
           [2, 100, 1, 1, 5]]
    reading = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig())
    start_total, end_total = 1 + 3 + 1 + 8, 2 + 3 + 2 + 7  # [CLS] + sentence tokens, both rows together
    assert reading.no_answer == pytest.approx(math.sqrt((2 / start_total) * (4 / end_total)))
    first, second = reading.sentences
    assert second.answer == Span(4, 15)  # start on token 3 ("4:9"), end on token 4 ("10:15")
    assert second.answer_probability == pytest.approx((6 / start_total) * (5 / end_total))
    assert second.mass == pytest.approx(8 / start_total)
    assert first.mass == pytest.approx(3 / start_total)
    assert first.answer_probability == pytest.approx((1 / start_total) * (1 / end_total))


def test_an_end_before_the_start_is_never_chosen():
    start = [[1, 1, 1, 1, 1], [1, 1, 1, 1, 9]]
    end = [[1, 1, 1, 1, 1], [1, 1, 1, 9, 1]]
    second = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig()).sentences[1]
    # Start on token 4 and end on token 3 (9 x 9) is backwards; three forward pairs score 9: the first wins.
    assert second.answer == Span(0, 9)
    assert second.answer_probability == pytest.approx(9 / 16**2)  # both distributions total 16 over the allowed positions


def test_spans_are_at_most_max_answer_tokens_long():
    start = [[1, 1, 1, 1, 1], [1, 1, 5, 1, 1]]
    end = [[1, 1, 1, 1, 1], [1, 1, 1, 1, 5]]
    long = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig()).sentences[1]
    assert long.answer == Span(0, 15)
    short = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig(max_answer_tokens=1)).sentences[1]
    assert short.answer == Span(0, 3)  # one token: the start alone or the end alone score 5 each; the first wins


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_answer_band_scores_exactly_the_spans_the_upper_triangle_difference_did(dtype):
    rng = np.random.default_rng(3)
    for size in (1, 2, 29, 30, 31, 90):
        start, end = rng.random(size).astype(dtype), rng.random(size).astype(dtype)
        banded = np.outer(start, end)
        banded *= _answer_band(size, 30)
        expected = np.triu(np.outer(start, end)) - np.triu(np.outer(start, end), k=30)
        assert banded.dtype == expected.dtype and np.array_equal(banded, expected)


def test_a_sentence_cut_off_entirely_reads_as_nothing():
    context = CONTEXT.copy()
    context[1] = False
    reading = decode(np.zeros((2, 5, 2)), context, OFFSETS, ReaderConfig())
    assert reading.sentences[1] == SentenceReading(None, 0.0, 0.0)
    assert reading.sentences[0].mass == pytest.approx(3 / 5)  # 2 [CLS] + 3 tokens share the mass
    assert reading.no_answer == pytest.approx(2 / 5)


def test_an_empty_span_is_no_span():
    offsets = OFFSETS.copy()
    offsets[:, 2:] = 0  # e.g. special tokens inside the sentence part
    reading = decode(np.zeros((2, 5, 2)), CONTEXT, offsets, ReaderConfig())
    assert [s.answer for s in reading.sentences] == [None, None]


def test_reading_nothing_loads_nothing(tmp_path):
    reader = SpanReader(tmp_path / "no-weights-here")
    assert reader.read("Who directed the film?", []) == Reading((), 1.0)


# --- read_header: the shipped weights are checked before use ---------------------------------------


@pytest.fixture
def weights(tmp_path) -> Path:
    folder = tmp_path / "weights"
    save_reader({"head.weight": np.ones((2, 3), dtype=np.float32)}, ReaderConfig(), folder, training={"seed": 1})
    return folder


def test_saved_weights_have_a_checked_header(weights):
    header = read_header(weights)
    assert header["format_version"] == FORMAT_VERSION
    assert header["config"] == dataclasses.asdict(ReaderConfig())
    assert header["training"] == {"seed": 1}
    assert len(header["sha256"]) == 64


@pytest.mark.parametrize("missing", [HEADER_FILE, WEIGHTS_FILE])
def test_missing_weight_files_say_how_to_get_them(weights, missing):
    (weights / missing).unlink()
    with pytest.raises(ModelLoadError, match=r"^no reader weights in .*: reinstall the package, or train them with `python -m qa.reader.train`"):
        read_header(weights)
    with pytest.raises(ModelLoadError, match="no reader weights"):
        SpanReader(weights).read("Who?", ["Somebody."])


def test_an_unreadable_header_is_a_model_load_error(weights):
    (weights / HEADER_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="is unreadable .*: reinstall the package"):
        read_header(weights)


@pytest.mark.parametrize("version", [0, FORMAT_VERSION + 1, None, "1"])
def test_another_format_version_says_to_retrain(weights, version):
    header = json.loads((weights / HEADER_FILE).read_text())
    header["format_version"] = version
    (weights / HEADER_FILE).write_text(json.dumps(header))
    with pytest.raises(ModelLoadError, match=rf"have format {version!r}, this version reads {FORMAT_VERSION}: retrain with "
                                             r"`python -m qa.reader.train` or reinstall the package"):
        read_header(weights)


def test_weights_failing_their_checksum_are_refused(weights):
    data = bytearray((weights / WEIGHTS_FILE).read_bytes())
    data[len(data) // 2] ^= 0x5A
    (weights / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match=r"fail their checksum \(damaged or replaced\): reinstall the package or retrain"):
        read_header(weights)


def test_the_shipped_weights_pass_their_own_checks():
    header = read_header(WEIGHTS_DIR)
    assert header["format_version"] == FORMAT_VERSION
    calibration = load_calibration(WEIGHTS_DIR, reader_sha256=header["sha256"])
    assert 0.0 <= calibration.threshold <= 1.0


def test_the_shipped_highlight_reader_passes_its_checks_and_has_the_sentence_reader_s_shape():
    header = read_header(HIGHLIGHT_WEIGHTS_DIR)
    assert header["format_version"] == FORMAT_VERSION
    assert header["config"] == read_header(WEIGHTS_DIR)["config"]
    assert header["sha256"] != read_header(WEIGHTS_DIR)["sha256"]


# --- load_calibration --------------------------------------------------------------------------------


@pytest.fixture
def calibrated(tmp_path) -> Path:
    dataclasses.replace(neutral_calibration(0.4), reader_sha256="a" * 64, record={"questions": 3}).save(tmp_path)
    return tmp_path


def _edit(folder: Path, **changes) -> None:
    path = folder / CALIBRATION_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_a_saved_calibration_loads_back(calibrated):
    loaded = load_calibration(calibrated, reader_sha256="a" * 64)
    assert loaded == dataclasses.replace(neutral_calibration(0.4), reader_sha256="a" * 64, record={"questions": 3})
    assert load_calibration(calibrated) == loaded  # without a checksum to compare, none is compared


def test_a_missing_calibration_says_how_to_make_one(tmp_path):
    with pytest.raises(ModelLoadError, match=r"^no reader calibration at .*calibration.json: run `python -m qa.reader.calibrate`"):
        load_calibration(tmp_path)


def test_a_calibration_fit_for_other_weights_is_stale(calibrated):
    with pytest.raises(ModelLoadError, match=r"was fit for other reader weights: rerun `python -m qa.reader.calibrate`"):
        load_calibration(calibrated, reader_sha256="b" * 64)


def test_a_calibration_with_other_feature_names_is_refused(calibrated):
    renamed = LinearModel(("coverage", "rank"), (1.0, 2.0), 0.0).to_json()
    _edit(calibrated, shortlist=renamed)
    with pytest.raises(ModelLoadError, match=r"lists features \('coverage', 'rank'\), this version computes .*"
                                             r"rerun `python -m qa.reader.calibrate`"):
        load_calibration(calibrated)


def test_a_calibration_with_missing_coefficients_is_refused(calibrated):
    sentence = neutral_calibration().sentence.to_json()
    sentence["coef"] = sentence["coef"][:-1]
    _edit(calibrated, sentence=sentence)
    with pytest.raises(ModelLoadError, match="lists features"):
        load_calibration(calibrated)


@pytest.mark.parametrize(("changes", "message"), [
    ({"format_version": 2}, "has format 2, this version reads 1: rerun `python -m qa.reader.calibrate`"),
    ({"threshold": "high"}, "is malformed"),
    ({"confidence": None}, "is malformed"),
])
def test_a_malformed_calibration_is_refused(calibrated, changes, message):
    _edit(calibrated, **changes)
    with pytest.raises(ModelLoadError, match=message):
        load_calibration(calibrated)


def test_an_unreadable_calibration_is_refused(calibrated):
    (calibrated / CALIBRATION_FILE).write_text("{", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="is unreadable .*rerun `python -m qa.reader.calibrate`"):
        load_calibration(calibrated)


# --- the real reader --------------------------------------------------------------------------------


def _festival_sentences() -> list[str]:
    body = ARTICLES["festival.txt"].split("\n\n", 1)[1].strip()
    return [body[s.start : s.end] for s in split_sentences(body)]


def _assert_sound(reading: Reading, sentences: list[str]) -> None:
    assert len(reading.sentences) == len(sentences)
    assert 0.0 <= reading.no_answer <= 1.0
    for sentence, found in zip(sentences, reading.sentences, strict=True):
        assert 0.0 <= found.answer_probability <= found.mass <= 1.0
        if found.answer is not None:
            assert 0 <= found.answer.start < found.answer.end <= len(sentence)
    assert sum(found.mass for found in reading.sentences) <= 1.0 + 1e-6


@pytest.mark.model
def test_the_shipped_reader_finds_a_span_inside_a_sentence():
    sentences = _festival_sentences()
    assert len(sentences) == 3
    reading = SpanReader().read("Who directed the opening film?", sentences)
    _assert_sound(reading, sentences)
    best = max(reading.sentences, key=lambda found: found.answer_probability)
    assert best.answer is not None


@pytest.mark.model
def test_the_shipped_highlight_reader_finds_a_span_in_a_sentence_read_alone():
    sentences = _festival_sentences()
    reading = SpanReader(HIGHLIGHT_WEIGHTS_DIR).read("Who directed the opening film?", sentences[1:2])
    _assert_sound(reading, sentences[1:2])
    assert reading.sentences[0].answer is not None


@pytest.mark.model
def test_training_on_a_tiny_sample_writes_weights_that_load_and_read(tmp_path, capsys):
    data = SHARED / "qa-train"
    if not data.is_dir():
        pytest.skip(f"{data} not present")
    from qa.reader.train import main

    main(["--data", str(data), "--questions", "14", "--eval-questions", "7", "--out", str(tmp_path), "--threads", "1",
          "--leave-calibration-passages"])
    out = capsys.readouterr().out
    assert "training groups" in out and "trained in" in out
    header = read_header(tmp_path)
    assert header["format_version"] == FORMAT_VERSION
    assert len(header["sha256"]) == 64
    assert header["training"]["questions"] == 14
    assert header["training"]["leave_calibration_passages"] and header["training"]["left_out_for_calibration"] > 0
    assert isinstance(header["training"]["held_out"], dict) and header["training"]["held_out"]
    sentences = _festival_sentences()
    _assert_sound(SpanReader(tmp_path).read("Who directed the opening film?", sentences), sentences)



def _example(id_: str, group: str, question: str, context: str, answer: str = "") -> Any:
    from qa.reader.data import QAExample

    start = context.find(answer) if answer else -1
    spans = (Span(start, start + len(answer)),) if answer else ()
    return QAExample(id_, "squad", group, question, context, spans, (answer,) if answer else ())


def test_other_passage_distractors_are_near_the_question_from_other_passages_and_never_hold_the_answer():
    pytest.importorskip("sklearn")
    from qa.reader.train import other_passage_sentences

    examples = [
        _example("q1", "p1", "Which river flows through the capital?", "The river Ural flows through the capital. It freezes in winter.", "Ural"),
        _example("q2", "p2", "Who built the bridge?", "The capital's river is wide. Engineers from Ural built the bridge. Tea is popular."),
        _example("q3", "p3", "What do people drink?", "The river flows south. People drink tea. The bridge opened in 1990."),
    ]
    nearest = other_passage_sentences(examples, 2)
    assert set(nearest) == {"q1", "q2", "q3"}
    assert nearest["q1"] and all(len(v) <= 2 for v in nearest.values())
    assert "The river Ural flows through the capital." not in nearest["q1"]  # its own passage
    assert all("Ural" not in sentence for sentence in nearest["q1"])  # holds q1's answer
    assert nearest["q1"][0] in ("The capital's river is wide.", "The river flows south.")
    assert len(set(nearest["q1"])) == len(nearest["q1"])


def test_distractors_move_the_target_with_the_shuffle():
    import random

    from qa.reader.train import Group, with_distractors

    group = Group("Who?", ("Ann wrote it.", "It rained."), (0, Span(0, 3)), "squad")
    mixed = with_distractors(group, ["Bob read it.", "Cats sleep."], random.Random(3))
    assert sorted(mixed.sentences) == sorted([*group.sentences, "Bob read it.", "Cats sleep."])
    assert mixed.target is not None and mixed.sentences[mixed.target[0]] == "Ann wrote it." and mixed.target[1] == Span(0, 3)
    unanswerable = with_distractors(Group("Who?", ("It rained.",), None, "squad"), ["Bob read it."], random.Random(3))
    assert unanswerable.target is None and len(unanswerable.sentences) == 2
    assert with_distractors(group, [], random.Random(3)) is group


@pytest.mark.model
def test_continued_training_starts_from_the_saved_deltas_and_head():
    import torch
    from transformers import AutoModel

    from qa.reader.model import attach_lora, base_model_path, lora_arrays
    from qa.reader.train import start_from

    config = ReaderConfig(**read_header(WEIGHTS_DIR)["config"])
    model = AutoModel.from_pretrained(base_model_path(config.base_model))
    names = attach_lora(model, config, seed=1)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    start_from(model, names, head, WEIGHTS_DIR, config)
    with np.load(WEIGHTS_DIR / WEIGHTS_FILE) as stored:
        for name, array in lora_arrays(model, names, head).items():
            np.testing.assert_allclose(array.astype(np.float32), stored[name].astype(np.float32), rtol=1e-3, atol=1e-6)
    with pytest.raises(SystemExit, match="reader shape"):
        start_from(model, names, head, WEIGHTS_DIR, dataclasses.replace(config, lora_rank=config.lora_rank * 2))

# --- the ONNX reader: the same inputs without torch ---------------------------------------------------

def _model_dir() -> str:
    from qa.reader.model import base_model_path

    try:
        return base_model_path(ReaderConfig().base_model)
    except ModelLoadError as error:
        pytest.skip(str(error))


def test_the_pair_tokenizer_gives_the_transformers_tokenizer_s_ids_offsets_and_masks():
    from transformers import AutoTokenizer

    from qa.reader.model import PairTokenizer, encode_pairs

    config = ReaderConfig(max_question_tokens=12, max_length=40)
    model_dir = _model_dir()
    ours, theirs = PairTokenizer(model_dir, config), AutoTokenizer.from_pretrained(model_dir)
    questions = ["Who directed the opening film?", "What didn't the Minister's office say about the 2024 budget, and why not, "
                 "according to the report that came out on Tuesday?", "Ç'est où, l'hôtel «Astana»?"]
    sentences = _festival_sentences() + ["Short.", "A sentence far longer than the forty word pieces the pairs are cut to, " * 3]
    for question in questions:
        expected, got = encode_pairs(theirs, question, sentences, config), ours.encode(question, sentences)
        for name in ("input_ids", "attention_mask", "token_type_ids", "offset_mapping", "context_mask"):
            assert got[name].tolist() == expected[name].numpy().tolist(), name


HAS_ONNX = all(importlib.util.find_spec(m) is not None for m in ("onnxruntime", "onnx"))


@pytest.mark.model
@pytest.mark.skipif(not HAS_ONNX, reason="onnxruntime and onnx are not installed (pip install 'qa-news[onnx]')")
def test_the_onnx_reader_reads_like_the_torch_reader_and_starts_without_torch(tmp_path):
    import os
    import subprocess
    import sys

    from qa.reader.model import export_reader_onnx

    cache = tmp_path / "cache"
    export_reader_onnx(WEIGHTS_DIR, cache_dir=cache / "qa-news" / "onnx")
    sentences = _festival_sentences()
    question = "Who directed the opening film?"
    torch_reading = SpanReader().read(question, sentences)
    script = ("import json, sys\nfrom qa.reader.model import SpanReader\n"
              f"r = SpanReader(backend='onnx-int8').read({question!r}, {sentences!r})\n"
              "print(json.dumps({'torch': 'torch' in sys.modules, 'transformers': 'transformers' in sys.modules, "
              "'no_answer': r.no_answer, 'best': [s.answer_probability for s in r.sentences], "
              "'spans': [[s.answer.start, s.answer.end] if s.answer else None for s in r.sentences]}))")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=True)
    onnx_reading = json.loads(done.stdout.strip().splitlines()[-1])
    assert onnx_reading["torch"] is False and onnx_reading["transformers"] is False
    best_torch = max(range(len(sentences)), key=lambda i: torch_reading.sentences[i].answer_probability)
    best_onnx = max(range(len(sentences)), key=lambda i: onnx_reading["best"][i])
    assert best_onnx == best_torch
    assert abs(onnx_reading["no_answer"] - torch_reading.no_answer) < 0.1


def test_the_highlight_covers_where_the_probability_lies():
    # Sentence 2's likeliest single span is tokens 2-3 (0.35 x 0.5), but the start and end mass
    # spreads over tokens 2-4: the span with the highest expected overlap is all three.
    start = [[1e-9, 1, 1e-9, 1e-9, 1e-9], [1e-9, 1, 0.35, 0.3, 0.35]]
    end = [[1e-9, 1, 1e-9, 1e-9, 1e-9], [1e-9, 1, 0.25, 0.5, 0.25]]
    likeliest = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig()).sentences[1]
    weighed = decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig(), span_candidates=50).sentences[1]
    assert likeliest.answer == Span(0, 9)  # 0.35 x 0.5 beats 0.3 x 0.5
    assert weighed.answer == Span(0, 15)
    # Sharpened weights (probability cubed) trust the likeliest span more: it wins again.
    assert decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig(), span_candidates=50, span_sharpening=3).sentences[1].answer == Span(0, 9)
    assert weighed.answer_probability == likeliest.answer_probability  # the likeliest span's share, whatever is highlighted
    assert weighed.mass == likeliest.mass


def test_one_dominant_span_is_highlighted_whatever_the_candidate_count():
    start = [[1, 1, 1, 1, 1], [1, 1, 1, 50, 1]]
    end = [[1, 1, 1, 1, 1], [1, 1, 1, 50, 1]]
    for count in (1, 5, 1000):
        assert decode(_logits(start, end), CONTEXT, OFFSETS, ReaderConfig(), span_candidates=count).sentences[1].answer == Span(4, 9)


def test_spans_are_widened_to_whole_words():
    reading = Reading((SentenceReading(Span(3, 7), 0.5, 0.5), SentenceReading(Span(0, 3), 0.1, 0.1),
                       SentenceReading(None, 0.0, 0.0)), 0.2)
    widened = whole_words(reading, ["Anna Kowalska, minister.", "Poland's army", "Nothing."])
    assert [s.answer for s in widened.sentences] == [Span(0, 13), Span(0, 6), None]  # never past the comma or the apostrophe
    assert widened.no_answer == 0.2
    assert widened.sentences[0].answer_probability == 0.5


@pytest.mark.model
@pytest.mark.skipif(not HAS_ONNX, reason="onnxruntime and onnx are not installed (pip install 'qa-news[onnx]')")
def test_the_onnx_reader_spins_only_while_it_runs_and_reads_exactly_as_without_spinning(monkeypatch):
    import onnxruntime

    import qa.reader.model
    from qa.config import Settings
    from qa.reader.model import PairTokenizer, _onnx_session, base_model_path, export_reader_onnx, read_header

    monkeypatch.setattr(qa.reader.model, "machine_busy", lambda: False)  # a quiet machine, whatever the test run's load

    header = read_header(WEIGHTS_DIR)
    session = _onnx_session(WEIGHTS_DIR, 2, header)
    options = session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"  # no worker left spinning between runs
    sessions = SpanReader.from_settings(Settings())._onnx_session()[0]
    assert sessions.session(alone=True).get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "1"
    # While another reading runs, a reading takes the session that never spins.
    assert sessions.session(alone=False).get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert sessions.session(alone=True) is not sessions.session(alone=False)
    monkeypatch.setattr(qa.reader.model, "machine_busy", lambda: True)  # other work on every core: no spinning
    assert sessions.session(alone=True) is sessions.session(alone=False)
    off = SpanReader.from_settings(Settings(reader_spinning=False))._onnx_session()[0]  # QA_READER_SPINNING=0
    assert off.session(alone=True) is off.session(alone=False)
    assert off.session(alone=True).get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"
    plain_options = onnxruntime.SessionOptions()
    plain_options.intra_op_num_threads = 2
    plain_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    plain = onnxruntime.InferenceSession(str(export_reader_onnx(WEIGHTS_DIR, header=header)), plain_options, providers=["CPUExecutionProvider"])
    config = ReaderConfig(**header["config"])
    arrays = PairTokenizer(base_model_path(config.base_model), config).encode("Who directed the opening film?", _festival_sentences())
    feed = {name: arrays[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    assert np.array_equal(session.run(None, feed)[0], plain.run(None, feed)[0])


@pytest.mark.parametrize(("load", "busy"), [(0.4, False), (1.99, False), (2.0, True), (5.9, True)])
def test_the_machine_is_busy_once_its_load_average_reaches_the_usable_cores(monkeypatch, load, busy):
    import qa.reader.model

    monkeypatch.setattr(qa.reader.model, "_usable_cores", lambda: 2)
    monkeypatch.setattr(qa.reader.model.os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert qa.reader.model.machine_busy() is busy


def test_without_a_load_average_the_machine_counts_as_quiet(monkeypatch):
    import qa.reader.model

    def unavailable() -> tuple[float, float, float]:
        raise OSError("no load average")

    monkeypatch.setattr(qa.reader.model.os, "getloadavg", unavailable)
    assert qa.reader.model.machine_busy() is False


def test_a_reading_knows_whether_it_runs_alone():
    from qa.reader.model import _RunningReadings

    readings = _RunningReadings()
    with readings.running() as first:
        assert first is True
        with readings.running() as second:  # another thread's reading, while the first runs
            assert second is False
    with readings.running() as later:
        assert later is True
