"""The benchmark suite's smoke mode runs end to end and writes well-formed results (timings are never asserted).

It runs the real encoder and span reader (in a subprocess), hence the `model` mark.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
QA_TRAIN = REPO.parent / "shared" / "qa-train"

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench")
    results, docs = folder / "results", folder / "docs" / "benchmarks.md"
    completed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--smoke", "--out", str(results), "--docs", str(docs)],
        cwd=folder, capture_output=True, text=True, timeout=600, check=False,
    )
    return completed, results, docs


def test_smoke_run_succeeds_and_writes_every_section(smoke_run):
    completed, results, _ = smoke_run
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert sorted(p.name for p in results.glob("*.json")) == ["bbc.json", "onnx.json", "peers.json", "public_qa.json", "run.json",
                                                               "scale.json", "speed.json"]
    for path in results.glob("*.json"):
        data = json.loads(path.read_text())
        assert data["section"] == path.stem
        assert data["mode"] == "smoke"


def test_smoke_results_have_the_reported_fields(smoke_run):
    _, results, _ = smoke_run
    run = json.loads((results / "run.json").read_text())
    assert run["failed"] == [] and run["machine"]["nproc"] >= 1 and run["machine"]["versions"]["numpy"]
    bbc = json.loads((results / "bbc.json").read_text())
    assert bbc["chunks"] > 0 and bbc["reindex_unchanged"]["chunks_embedded"] == 0
    assert {"build_over_raw", "first_build_over_reindex"} <= set(bbc["ratios"])
    scale = json.loads((results / "scale.json").read_text())
    kinds = {(row["size"], row["kind"]) for row in scale["rows"]}
    assert kinds == {(size, kind) for size in scale["sizes"] for kind in ("flat", "ivf-sq8")}
    for row in scale["rows"]:
        assert 0.0 <= row["recall_at_10"] <= 1.0
        assert row["latency_top50"]["samples"] == scale["queries"]
    flat = [row for row in scale["rows"] if row["kind"] == "flat"]
    assert all(row["recall_at_10"] == 1.0 for row in flat)  # exact search is exact
    peers = json.loads((results / "peers.json").read_text())
    (first_set,) = peers["quality"].values()  # dev beside the repository, else a shipped set
    assert set(first_set) == {"qa-news"} and "qa-news retrieval only" in peers["latency"]
    onnx = json.loads((results / "onnx.json").read_text())
    assert onnx["skipped"]
    public = json.loads((results / "public_qa.json").read_text())
    if not (QA_TRAIN / "README.md").is_file():
        assert "qa-train" in public["skipped"]
        return
    collection = public["open_collection"]
    assert (collection["answerable"], collection["unanswerable"]) == (14, 12)
    assert collection["unanswerable_per_kind"] == {"Disfl-QA": 4, "missing fact": 4, "off collection": 4}
    assert set(collection["systems"]["qa-news"]["by_unanswerable_kind"]) == {"Disfl-QA", "missing fact", "off collection"}
    gold = public["gold_passage"]["systems"]["span reader, gold passage"]
    assert set(gold["by_unanswerable_kind"]) == {"Disfl-QA", "missing fact"}  # an off-collection question has no gold passage
    assert "qa-news" in collection["systems"]
    for figures in collection["systems"].values():
        assert figures["overall"]["answerable"] == 14
    assert public["multi_turn"]["conversations"] == 3
    speed = json.loads((results / "speed.json").read_text())
    demo = speed["collections"]["demo"]
    assert demo["articles"] > 0 and all(v["samples"] == demo["questions"] for v in demo["latency_ms"].values())
    assert demo["alone"]["latency_ms"]["samples"] == demo["questions"]


def test_speed_defaults_label_names_the_default_settings():
    from bench.speed import CONFIGURATIONS, DEFAULTS
    from qa.config import Settings

    defaults = Settings()
    assert {name: getattr(defaults, name) for name in CONFIGURATIONS[DEFAULTS]} == CONFIGURATIONS[DEFAULTS]


def test_smoke_report_is_rendered(smoke_run):
    _, _, docs = smoke_run
    text = docs.read_text()
    for heading in ("# Benchmarks", "## Machine", "## 2. BBC News", "## 3. Scale", "## 1. Quality and speed", "## 5. Public QA (held-out)",
                    "## 6. Confidence calibration", "## 7. Answering speed"):
        assert heading in text
    assert "nproc" in text and "Versions:" in text
    for image in [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]:
        assert (docs.parent / image).is_file()
