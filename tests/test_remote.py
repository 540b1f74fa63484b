"""`qa ask` reuses a running `qa serve` of the same index: found through its registration, asked over HTTP."""

from __future__ import annotations

import json
import os
import socket

import pytest

from qa.cli import main
from qa.remote import find_server, register_server, registry_file, unregister_server


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_registration_is_per_index_and_ignores_dead_processes(tmp_path, cache_home):
    index = tmp_path / "index"
    assert find_server(index) is None
    path = register_server(index, "http://127.0.0.1:9/")
    assert path.is_relative_to(cache_home) and find_server(index) == "http://127.0.0.1:9/"
    assert find_server(tmp_path / "index" / ".." / "index") == "http://127.0.0.1:9/"  # the same folder, spelled otherwise
    assert find_server(tmp_path / "other") is None
    path.write_text(json.dumps({"url": "http://127.0.0.1:9/", "pid": 2**22 + 12345}), encoding="utf-8")
    assert find_server(index) is None  # that process is gone
    path.write_text("not json", encoding="utf-8")
    assert find_server(index) is None
    register_server(index, "http://127.0.0.1:9/")
    unregister_server(path)
    assert not registry_file(index).exists()


@pytest.fixture
def running_server(collection, settings, fake_encoder, cache_home):
    from conftest import fake_assistant

    from qa.assistant import index_sources
    from qa.web import build_demo

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    index_sources([collection], settings.index_dir, settings=settings, encoder=fake_encoder)
    demo = build_demo(fake_assistant(settings.index_dir, settings), settings=settings, examples=())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    registration = register_server(settings.index_dir, demo.local_url)
    try:
        yield settings.index_dir
    finally:
        unregister_server(registration)
        demo.close()


def test_qa_ask_answers_through_a_running_server_without_loading_a_model(running_server, capsys, monkeypatch):
    import qa.cli

    def no_local_models(*args, **kwargs):
        raise AssertionError("the running server should have answered")

    monkeypatch.setattr(qa.cli, "_load_assistant", no_local_models)
    index = str(running_server)
    assert main(["ask", "Who directed the opening film of the festival?", "--index", index]) == 0
    out = capsys.readouterr().out
    assert "**Lena Moritz**" in out and "[1] Film Festival Draws Record Crowds (2023-09-30; festival.txt)" in out
    assert main(["ask", "Who directed the opening film of the festival?", "--index", index, "--json", "--top-k", "1"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["span"] == "Lena Moritz" and len(payload["citations"]) == 1
    # The server's refusal is the CLI's error: one line, exit 2.
    assert main(["ask", "   ", "--index", index]) == 2
    assert "question is empty" in capsys.readouterr().err


def test_qa_ask_answers_locally_when_told_or_when_the_server_is_gone(running_server, capsys, fake_models, monkeypatch):
    monkeypatch.setenv("QA_MODEL_NAME", "fake-encoder")
    index = str(running_server)
    assert main(["ask", "Who directed the opening film of the festival?", "--index", index, "--local"]) == 0
    assert "**Lena Moritz**" in capsys.readouterr().out
    registry_file(running_server).write_text(json.dumps({"url": "http://127.0.0.1:9/", "pid": os.getpid()}), encoding="utf-8")
    assert main(["ask", "Who directed the opening film of the festival?", "--index", index]) == 0  # nothing listens there
    assert "**Lena Moritz**" in capsys.readouterr().out


def test_qa_serve_registers_while_it_runs(collection, settings, fake_encoder, fake_models, cache_home, monkeypatch):
    import gradio as gr

    import qa.web
    from qa.assistant import index_sources

    index_sources([collection], settings.index_dir, settings=settings, encoder=fake_encoder)
    seen: list[str | None] = []
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **options: seen.append(find_server(settings.index_dir)))
    qa.web.launch(settings.index_dir, host="0.0.0.0", port=7999, settings=settings)
    assert seen == ["http://127.0.0.1:7999/"]  # registered while serving
    assert find_server(settings.index_dir) is None  # and not after
