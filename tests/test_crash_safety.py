"""Crash safety: `qa index` killed at any point leaves the previous index loadable; damaged indexes are detected.

The build runs in a subprocess (`qa.cli.main` with the FakeEncoder from conftest, so no model is
loaded) and is SIGKILLed at instrumented stages of the write and at random moments.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, FakeEncoder, FakeReader, fake_calibration, use_fake_models

import qa.assistant
from qa.assistant import Assistant
from qa.cli import main
from qa.config import Settings
from qa.errors import IndexCorruptError, IndexNotFoundError
from qa.index import MANIFEST_FILE, corpus_hash, load_index
from qa.ingest import read_sources

TOPICS = ("harbour", "glacier", "festival", "railway", "library", "vineyard", "airport", "museum")
SETTINGS = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=64)

# Runs `qa index` with the FakeEncoder. With CRASH_PAUSE set, it prints "@stage NAME" at each step of
# writing the index and sleeps there, so the test can SIGKILL it at that exact step.
DRIVER = """
import os, shutil, sys, time
sys.path.insert(0, {tests!r})
import qa.assistant, qa.index
from conftest import FakeEncoder
qa.index.load_encoder = qa.assistant.load_encoder = lambda name, **_: FakeEncoder(name=name)
pause = float(os.environ.get("CRASH_PAUSE", "0"))
gate = os.environ.get("CRASH_GATE")  # with it, each stage also waits until this file exists

def announce(name):
    if pause:
        print("@stage " + name, flush=True)
        time.sleep(pause)
        while gate and not os.path.exists(gate):
            time.sleep(0.05)

def wrap(module, attribute, describe):
    original = getattr(module, attribute)
    def wrapped(*args, **kwargs):
        stage = describe(*args)
        announce("before " + stage)
        result = original(*args, **kwargs)
        announce("after " + stage)
        return result
    setattr(module, attribute, wrapped)

def kind(path):
    name = os.path.basename(str(path))
    return "current" if name == "CURRENT" else "generation" if name.startswith(("gen-", ".tmp-gen-")) else "other"

wrap(os, "replace", lambda src, dst: "replace " + kind(dst))
wrap(shutil, "rmtree", lambda path, *rest: "rmtree " + kind(path))
original_encode = FakeEncoder.encode
def encode(self, texts, **kwargs):
    announce("embedding")
    return original_encode(self, texts, **kwargs)
FakeEncoder.encode = encode
from qa.cli import main
sys.exit(main(sys.argv[1:]))
"""


def write_collection(folder: Path, count: int, *, edition: int, edited: int | None = None) -> None:
    """`count` articles of ten sentences; the first `edited` (default: all) say `edition`, the rest edition 1."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for number in range(count):
        topic = TOPICS[number % len(TOPICS)]
        edition_here = edition if edited is None or number < edited else 1
        sentences = [
            f"In edition {edition_here}, the {topic} board number {number} met on day {day} and approved plan {number * 10 + day}."
            for day in range(10)
        ]
        title = f"{topic.title()} Board {number} Meets"
        (folder / f"article-{number:04d}.txt").write_text(f"{title}\nDate: 2024-03-{number % 28 + 1:02d}\n\n" + " ".join(sentences),
                                                          encoding="utf-8")


def start_index(sources: Path, index_dir: Path, *, pause: float = 0.0, rebuild: bool = True, gate: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "CRASH_PAUSE": str(pause), **({"CRASH_GATE": str(gate)} if gate else {})}
    env.pop("QA_INDEX_DIR", None)
    command = [sys.executable, "-c", DRIVER.format(tests=str(REPO / "tests")), "index", str(sources),
               "--index", str(index_dir), "--quiet", "--model", "fake-encoder"] + (["--rebuild"] if rebuild else [])
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=index_dir.parent)


def run_index(sources: Path, index_dir: Path) -> float:
    started = time.perf_counter()
    process = start_index(sources, index_dir)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    assert "index: " in out
    return time.perf_counter() - started


def kill_at_stage(process: subprocess.Popen, stage: str) -> bool:
    """Read the driver's stage lines until `stage` appears, then SIGKILL it; False if it never appeared."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == f"@stage {stage}":
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return True
    process.wait(timeout=30)
    return False


def check_index_answers(index_dir: Path, allowed_hashes: set[str]) -> str:
    """The live index loads, verifies, answers, and holds one of the allowed collections; returns its hash."""
    index = load_index(index_dir, settings=SETTINGS)
    assert index.manifest["corpus_hash"] in allowed_hashes
    # The fake reader: the checks here are about loading, not answer quality.
    assistant = Assistant(index, settings=SETTINGS, encoder=FakeEncoder(), reader=FakeReader(), calibration=fake_calibration())
    answer = assistant.ask("Which plan did the harbour board approve on day 3?")
    assert answer.citations
    for citation in answer.citations:
        assert index.articles[citation.article_id].body[citation.start : citation.end] == citation.quote
    return index.manifest["corpus_hash"]


STAGES = [
    "embedding",
    "before replace generation",  # the new generation is complete in its staging directory
    "after replace generation",  # the new generation is in place but CURRENT still names the old one
    "after replace current",  # CURRENT switched, the old generation not yet removed
    "before rmtree generation",
]


def test_sigkill_during_index_never_loses_the_previous_index(tmp_path):
    old_sources, new_sources, index_dir = tmp_path / "old", tmp_path / "new", tmp_path / "index"
    write_collection(old_sources, 120, edition=1)  # a full build takes a few seconds
    write_collection(new_sources, 130, edition=2, edited=10)  # 10 edited and 10 new articles
    old_hash, new_hash = (corpus_hash(read_sources([folder]).articles) for folder in (old_sources, new_sources))
    full_run = run_index(old_sources, index_dir)
    assert check_index_answers(index_dir, {old_hash}) == old_hash

    # Kill an incremental update (towards whichever collection is not live) at each step of writing the index.
    switched = {}
    for stage in STAGES:
        before = load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"]
        target = new_sources if before == old_hash else old_sources
        process = start_index(target, index_dir, pause=0.1, rebuild=False)
        assert kill_at_stage(process, stage), f"the build never reached stage {stage!r}"
        assert process.returncode == -signal.SIGKILL
        switched[stage] = check_index_answers(index_dir, {old_hash, new_hash}) != before
    # Until CURRENT is replaced the previous collection stays live; from then on the new one is.
    assert switched == {stage: stage in ("after replace current", "before rmtree generation") for stage in STAGES}

    # Kill full rebuilds at random moments (imports, reading, embedding, writing).
    moments = random.Random(20240601)
    for _ in range(3):
        process = start_index(new_sources if moments.random() < 0.5 else old_sources, index_dir)
        time.sleep(moments.uniform(0.05, 1.0) * full_run)
        process.kill()
        process.communicate(timeout=30)
        check_index_answers(index_dir, {old_hash, new_hash})

    # A rerun completes and cleans up whatever the killed runs left behind.
    run_index(new_sources, index_dir)
    assert check_index_answers(index_dir, {new_hash}) == new_hash
    entries = sorted(p.name for p in index_dir.iterdir())
    assert entries[:2] == [".lock", "CURRENT"] and len(entries) == 3 and entries[2].startswith("gen-"), entries


def test_sigkill_during_the_first_build_leaves_no_index_and_a_rerun_works(tmp_path):
    sources, index_dir = tmp_path / "sources", tmp_path / "index"
    write_collection(sources, 30, edition=1)
    # Killed before its generation is in place: no index. Killed after, but before CURRENT names it: a
    # generation without CURRENT, which is reported as damage (it is what a deleted CURRENT looks like too).
    for stage, error in (("embedding", IndexNotFoundError), ("after replace generation", IndexCorruptError)):
        process = start_index(sources, index_dir, pause=0.1)
        assert kill_at_stage(process, stage)
        with pytest.raises(error, match="qa index"):
            load_index(index_dir, settings=SETTINGS)
    run_index(sources, index_dir)
    check_index_answers(index_dir, {load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"]})
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


# --- damaged indexes are detected on load ------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine_index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    write_collection(root / "sources", 12, edition=1)
    qa.assistant.index_sources([root / "sources"], root / "index", settings=SETTINGS, encoder=FakeEncoder())
    return root


def damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated to half":
        path.write_bytes(data[: len(data) // 2])
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "byte flipped":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x5A]) + data[middle + 1 :])
    elif how == "invalid UTF-8":
        path.write_bytes(b"\xff\xfe" + data[2:])
    elif how == "garbage appended":
        path.write_bytes(data + b"\x00garbage")
    elif how == "deleted":
        path.unlink()
    else:
        raise ValueError(how)


def index_files(root: Path) -> list[str]:
    index_dir = root / "index"
    generation = index_dir / (index_dir / "CURRENT").read_text().strip()
    manifest = json.loads((generation / MANIFEST_FILE).read_text())
    return ["CURRENT", MANIFEST_FILE, *manifest["files"]]


DAMAGES = ("truncated to half", "emptied", "byte flipped", "invalid UTF-8", "garbage appended", "deleted")


def test_every_damaged_index_file_is_detected_and_a_rebuild_repairs_it(pristine_index, tmp_path, monkeypatch, capsys):
    use_fake_models(monkeypatch)
    names = index_files(pristine_index)
    assert len(names) >= 7  # CURRENT, manifest, articles, chunks, vectors (.npy + .json), lexical files
    checked = 0
    for name in names:
        for how in DAMAGES:
            if name == MANIFEST_FILE and how == "byte flipped":
                continue  # a flipped byte inside the manifest may read as another model name: a mismatch, tested elsewhere
            if name == "CURRENT" and how == "deleted":
                continue  # no CURRENT is no index (IndexNotFoundError), tested in test_index
            case = tmp_path / f"case-{checked}"
            shutil.copytree(pristine_index / "index", case)
            target = case / name if name == "CURRENT" else case / (case / "CURRENT").read_text().strip() / name
            damage(target, how)
            with pytest.raises(IndexCorruptError) as raised:
                load_index(case, settings=SETTINGS)
            assert "--rebuild" in str(raised.value), (name, how, str(raised.value))
            for command in (["stats"], ["ask", "Which plan did the harbour board approve?"]):
                assert main([*command, "--index", str(case), "--model", "fake-encoder"]) == 2, (name, how, command)
                err = capsys.readouterr().err
                assert err.startswith("error: ") and err.count("\n") == 1 and "--rebuild" in err, (name, how, err)
            checked += 1
    assert checked == len(names) * len(DAMAGES) - 2

    # `qa index` over a damaged index starts afresh and says so.
    case = tmp_path / "repair"
    shutil.copytree(pristine_index / "index", case)
    damage(case / (case / "CURRENT").read_text().strip() / "vectors.npy", "truncated to half")
    assert main(["index", str(pristine_index / "sources"), "--index", str(case), "--quiet", "--model", "fake-encoder"]) == 0
    assert "note: previous index not reused (index file" in capsys.readouterr().err
    check_index_answers(case, {load_index(pristine_index / "index", settings=SETTINGS).manifest["corpus_hash"]})


def test_a_current_pointer_leading_outside_the_index_is_refused(pristine_index, tmp_path):
    case = tmp_path / "index"
    shutil.copytree(pristine_index / "index", case)
    outside = tmp_path / "elsewhere"
    shutil.copytree(case / (case / "CURRENT").read_text().strip(), outside)  # a complete generation, outside
    for pointer in ("../elsewhere", str(outside), "gen-x/../../elsewhere"):
        (case / "CURRENT").write_text(pointer + "\n")
        with pytest.raises(IndexCorruptError, match="--rebuild"):
            load_index(case, settings=SETTINGS)
