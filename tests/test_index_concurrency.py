"""One writer at a time, readers that never see a half-switched index, and assistants that follow a re-index.

Writers are real `qa index` processes (the driver of `test_crash_safety`, with the FakeEncoder);
readers load in this process while another process re-indexes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO, FakeEncoder, FakeReader, fake_calibration
from test_crash_safety import SETTINGS, check_index_answers, start_index, write_collection

from qa.assistant import Assistant, index_sources
from qa.cli import main
from qa.errors import IndexBusyError
from qa.index import corpus_hash, load_index
from qa.ingest import read_sources
from qa.locking import lease_generation, remove_generation, writer_lock


def wait_for_line(process: subprocess.Popen, wanted: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == wanted:
            return
    raise AssertionError(f"the run ended without printing {wanted!r}: {process.stderr.read()[-2000:] if process.stderr else ''}")


def entries(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir())


# --- the writer lock ----------------------------------------------------------------------------------


def test_two_concurrent_index_runs_take_turns_and_leave_one_complete_collection(tmp_path):
    first_sources, second_sources, index_dir = tmp_path / "first", tmp_path / "second", tmp_path / "index"
    write_collection(first_sources, 20, edition=1)
    write_collection(second_sources, 24, edition=2)
    hashes = {name: corpus_hash(read_sources([folder]).articles) for name, folder in (("first", first_sources), ("second", second_sources))}
    # The first run stops at each step of its write (the attack: a pause between switching CURRENT and
    # cleaning up) until the gate opens; the second starts while the first is embedding.
    gate = tmp_path / "gate"
    first = start_index(first_sources, index_dir, pause=0.01, gate=gate)
    wait_for_line(first, "@stage embedding")
    second = start_index(second_sources, index_dir)
    assert second.stderr is not None
    waiting = second.stderr.readline()
    assert waiting.strip() == f"waiting for another indexing run of {index_dir}, pid {first.pid}", waiting
    gate.touch()
    _, first_err = first.communicate(timeout=300)
    second_out, second_err = second.communicate(timeout=300)
    assert first.returncode == 0, first_err[-2000:]
    assert second.returncode == 0, second_err[-2000:]
    # The second ran after the first: its collection is the index, complete, and its report describes it.
    assert check_index_answers(index_dir, {hashes["second"]}) == hashes["second"]
    assert "read 24 files: 24 articles" in second_out and f"index: {index_dir}" in second_out
    listed = entries(index_dir)
    assert listed[:2] == [".lock", "CURRENT"] and len(listed) == 3 and listed[2].startswith("gen-"), listed


def test_racing_index_runs_always_end_with_a_complete_index(tmp_path):
    collections = []
    for number in range(3):
        folder = tmp_path / f"collection-{number}"
        write_collection(folder, 10 + number, edition=number + 1)
        collections.append((folder, corpus_hash(read_sources([folder]).articles)))
    index_dir = tmp_path / "index"
    runs = [start_index(folder, index_dir, rebuild=False) for folder, _ in collections]  # three first builds at once
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
    check_index_answers(index_dir, {h for _, h in collections})
    assert len([name for name in entries(index_dir) if name.startswith("gen-")]) == 1, entries(index_dir)
    assert not [name for name in entries(index_dir) if name.startswith(".tmp-")]


def test_no_wait_fails_at_once_with_exit_2_while_another_run_writes(tmp_path, capsys, monkeypatch):
    import qa.assistant
    import qa.index

    monkeypatch.setattr(qa.index, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    monkeypatch.setattr(qa.assistant, "load_encoder", lambda name, **_: FakeEncoder(name=name))
    sources, index_dir = tmp_path / "sources", tmp_path / "index"
    write_collection(sources, 6, edition=1)
    gate = tmp_path / "gate"
    first = start_index(sources, index_dir, pause=0.01, gate=gate)
    wait_for_line(first, "@stage embedding")
    try:
        started = time.perf_counter()
        code = main(["index", str(sources), "--index", str(index_dir), "--quiet", "--model", "fake-encoder", "--no-wait"])
        waited = time.perf_counter() - started
        err = capsys.readouterr().err
        assert code == 2, err
        assert err.startswith(f"error: another indexing run of {index_dir} (pid {first.pid}) is in progress") and err.count("\n") == 1
        assert first.poll() is None, f"the --no-wait run waited for the other run ({waited:.1f} s)"
    finally:
        gate.touch()
        _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    check_index_answers(index_dir, {corpus_hash(read_sources([sources]).articles)})


def test_the_writer_lock_is_exclusive_within_one_process_too(tmp_path):
    messages, acquired = [], threading.Event()

    def take_turn() -> None:
        with writer_lock(tmp_path, on_wait=messages.append):
            acquired.set()

    with writer_lock(tmp_path):
        with pytest.raises(IndexBusyError, match=f"pid {os.getpid()}"), writer_lock(tmp_path, wait=False):
            pass
        waiter = threading.Thread(target=take_turn)
        waiter.start()
        assert not acquired.wait(0.5)
        assert messages == [f"waiting for another indexing run of {tmp_path}, pid {os.getpid()}"]
    assert acquired.wait(10)
    waiter.join(10)


def test_cleanup_leaves_a_generation_a_reader_holds(tmp_path):
    generation = tmp_path / "gen-1"
    (generation / "lexical").mkdir(parents=True)
    (generation / "manifest.json").write_text("{}")
    lease = lease_generation(generation)
    assert lease is not None
    assert remove_generation(generation) is False and generation.is_dir()
    lease.release()
    assert remove_generation(generation) is True and not generation.exists()
    assert lease_generation(generation) is None


# --- consistent loads while another process re-indexes ------------------------------------------------------------

# Re-indexes the same folder over and over, alternating two collections, until the stop file appears.
REINDEXER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import FakeEncoder
from qa.assistant import index_sources
from qa.config import Settings
settings = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=64)
sources, index_dir, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
encoder, runs = FakeEncoder(), 0
while not stop.exists():
    index_sources([sources / ("a" if runs % 2 else "b")], index_dir, settings=settings, encoder=encoder)
    runs += 1
    print(runs, flush=True)
"""

def test_loads_during_repeated_reindexing_never_fail(tmp_path):
    load_while_reindexing(tmp_path, 200)


@pytest.mark.skipif(os.environ.get("QA_STRESS") != "1", reason="a stress run (seconds on a quiet machine, minutes on a busy one): set QA_STRESS=1")
def test_a_thousand_loads_during_repeated_reindexing_never_fail(tmp_path):
    load_while_reindexing(tmp_path, 1000)


def load_while_reindexing(tmp_path: Path, loads: int) -> None:
    """`loads` fresh loads in this process while another process re-indexes the folder again and again: no error at all."""
    sources, index_dir, stop = tmp_path / "sources", tmp_path / "index", tmp_path / "stop"
    write_collection(sources / "a", 8, edition=1)
    write_collection(sources / "b", 9, edition=2)
    allowed = {corpus_hash(read_sources([sources / name]).articles) for name in ("a", "b")}
    index_sources([sources / "a"], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-c", REINDEXER.format(tests=str(REPO / "tests")), str(sources), str(index_dir), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert writer.stdout is not None
        writer.stdout.readline()  # the writer is running
        errors: list[str] = []
        generations = set()
        for _ in range(loads):
            try:
                index = load_index(index_dir, settings=SETTINGS)
                assert index.manifest["corpus_hash"] in allowed
                generations.add(index.path.name)
            except Exception as error:  # noqa: BLE001 - every kind counts, typed or not
                errors.append(f"{type(error).__name__}: {error}")
    finally:
        stop.touch()
        out, err = writer.communicate(timeout=120)
    assert writer.returncode == 0, err[-2000:]
    reindexes = 1 + len(out.split())
    print(f"{loads} loads, {len(errors)} errors, {reindexes} re-indexes, {len(generations)} generations loaded")
    assert errors == [], f"{len(errors)} of {loads} loads failed: {errors[:3]}"
    assert reindexes >= 5 and len(generations) >= 3, (reindexes, len(generations))  # the loads really overlapped re-indexing


# --- assistants follow a re-index ------------------------------------------------------------------------------------


def make_assistant(index_dir: Path, *, reader=None, reload_seconds: float | None = 0.0) -> Assistant:
    settings = SETTINGS.with_(reload_check_seconds=reload_seconds) if reload_seconds is not None else SETTINGS
    index = load_index(index_dir, settings=SETTINGS)
    return Assistant(index, settings=settings, encoder=FakeEncoder(), reader=reader or FakeReader(), calibration=fake_calibration())


def two_collections(tmp_path: Path) -> tuple[Path, Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    write_collection(old, 4, edition=1)
    write_collection(new, 4, edition=7)
    return old, new, tmp_path / "index"


def cited_editions(answer) -> set[str]:
    return {word.rstrip(",") for citation in answer.citations for word in citation.quote.split()[:3] if word.rstrip(",").isdigit()}


def test_a_running_assistant_answers_from_the_new_collection_after_qa_index(tmp_path):
    old, new, index_dir = two_collections(tmp_path)
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assistant = make_assistant(index_dir, reload_seconds=0.5)
    question = "Which plan did the harbour board approve on day 3?"
    assert cited_editions(assistant.ask(question)) == {"1"}
    run = start_index(new, index_dir, rebuild=False)
    _, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-2000:]
    finished = time.monotonic()
    while cited_editions(assistant.ask(question)) != {"7"}:
        assert time.monotonic() - finished < 5, "still answering from the old collection 5 s after `qa index` ended"
        time.sleep(0.1)
    assert assistant.info().articles == 4 and assistant.index.path.name == (index_dir / "CURRENT").read_text().strip()


def test_answers_in_flight_finish_on_the_old_generation_which_stays_until_they_end(tmp_path):
    old, new, index_dir = two_collections(tmp_path)
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    reading, proceed = threading.Event(), threading.Event()

    class SlowReader(FakeReader):
        def read(self, question, sentences):
            if question.startswith("Slowly"):
                reading.set()
                proceed.wait(30)
            return super().read(question, sentences)

    assistant = make_assistant(index_dir, reader=SlowReader())
    old_generation = assistant.index.path
    results = {}
    in_flight = threading.Thread(target=lambda: results.setdefault("answer", assistant.ask("Slowly: which plan did the harbour board approve on day 3?")))
    in_flight.start()
    assert reading.wait(30)
    index_sources([new], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assert cited_editions(assistant.ask("Which plan did the harbour board approve on day 3?")) == {"7"}  # switched
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())  # its cleanup must spare the generation in use
    assert old_generation.is_dir()
    proceed.set()
    in_flight.join(30)
    assert cited_editions(results["answer"]) == {"1"}  # answered from the generation it started on
    index_sources([new], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assert not old_generation.exists()  # nobody holds it any more: removed


def test_a_new_generation_that_cannot_be_used_is_skipped_and_answering_goes_on(tmp_path, caplog):
    old, new, index_dir = two_collections(tmp_path)
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assistant = make_assistant(index_dir)
    question = "Which plan did the harbour board approve on day 3?"
    index_sources([new], index_dir, settings=SETTINGS.with_(model_name="other-model"), encoder=FakeEncoder(name="other-model"))
    assert cited_editions(assistant.ask(question)) == {"1"}
    assert "cannot be used" in caplog.text and "other-model" in caplog.text


def test_reload_can_be_turned_off(tmp_path):
    old, new, index_dir = two_collections(tmp_path)
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assistant = make_assistant(index_dir, reload_seconds=None)
    index_sources([new], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assert cited_editions(assistant.ask("Which plan did the harbour board approve on day 3?")) == {"1"}
    assert assistant.refresh() is True
    assert cited_editions(assistant.ask("Which plan did the harbour board approve on day 3?")) == {"7"}


def test_the_chat_answers_from_the_new_collection_after_a_reindex(tmp_path):
    from qa.web import build_demo

    old, new, index_dir = two_collections(tmp_path)
    index_sources([old], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    assistant = make_assistant(index_dir)
    demo = build_demo(assistant, settings=SETTINGS, examples=())
    (respond,) = [f.fn for f in demo.fns.values() if f.api_name == "ask"]
    question = "Which plan did the harbour board approve on day 3?"
    _, chat, _, _ = list(respond(question, [], 3, "", "", []))[-1]
    assert "In edition <mark>1,</mark>" in chat[-1]["content"]
    index_sources([new], index_dir, settings=SETTINGS, encoder=FakeEncoder())
    _, chat, _, _ = list(respond(question, [], 3, "", "", []))[-1]
    assert "In edition <mark>7,</mark>" in chat[-1]["content"] and "edition <mark>1," not in chat[-1]["content"]
