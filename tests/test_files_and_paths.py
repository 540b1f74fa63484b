"""Files: the chat serves no file it does not need; index paths are never written outside the named directory."""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import gradio as gr
import pytest
from conftest import ARTICLES, REPO, FakeEncoder, use_fake_models

import qa.assistant
import qa.index
import qa.web
from qa.assistant import index_sources
from qa.cli import _parser, main
from qa.config import Settings
from qa.errors import ConfigError, IndexNotFoundError
from qa.index import load_index

SETTINGS = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=64)


@pytest.fixture
def fake_model(monkeypatch) -> None:
    use_fake_models(monkeypatch)


def write_articles(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def tree(root: Path) -> set[str]:
    """Every file and directory under `root`, as paths relative to it."""
    return {str(path.relative_to(root)) for path in root.rglob("*")}


# --- the chat server ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`qa.web.launch` (what `qa serve` runs) over a fake-encoder index, on a free loopback port."""
    root = tmp_path_factory.mktemp("served")
    sources = write_articles(root / "articles")
    index_sources([sources], root / "index", settings=SETTINGS, encoder=FakeEncoder())
    patch = pytest.MonkeyPatch()
    patch.delenv("GRADIO_ALLOWED_PATHS", raising=False)
    patch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    use_fake_models(patch)
    launched: dict = {}
    original = gr.Blocks.launch

    def launch(self, *args, **kwargs):
        launched.update(kwargs, blocks=self)
        return original(self, *args, **{**kwargs, "prevent_thread_lock": True, "quiet": True})

    patch.setattr(gr.Blocks, "launch", launch)
    patch.setattr(gr.Blocks, "block_thread", lambda self: None)  # `qa.web.launch` serves until interrupted
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    qa.web.launch(root / "index", port=port, settings=SETTINGS)
    try:
        yield {"root": root, "url": f"http://127.0.0.1:{port}", "launched": launched}
    finally:
        launched["blocks"].close()
        patch.undo()


def test_serve_binds_loopback_and_does_not_widen_allowed_paths(served):
    launched = served["launched"]
    assert launched["server_name"] == "127.0.0.1"
    assert not launched.get("allowed_paths")
    assert not launched.get("share")
    blocks = launched["blocks"]
    assert blocks.allowed_paths == []
    assert _parser().parse_args(["serve"]).host == "127.0.0.1"


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_served_app_answers(served):
    status, body = fetch(served["url"] + "/")
    assert status == 200 and b"Ask the news archive" in body


@pytest.mark.parametrize("prefix", ["/gradio_api/file=", "/file=", "/gradio_api/file=/", "/gradio_api/file=../../../../..",
                                    "/gradio_api/file=%2F..%2F..%2F..", "/static/../../../..", "/assets/..%2F..%2F..%2F..%2F..",
                                    "/gradio_api/proxy=", "/gradio_api/file=file://"])
def test_no_file_outside_the_app_is_served(served, prefix):
    root = served["root"]
    generation = root / "index" / (root / "index" / "CURRENT").read_text().strip()
    secrets = {
        Path("/etc/passwd"): b"root:",
        generation / "articles.jsonl": b"Glacier Melt",
        generation / "manifest.json": b"corpus_hash",
        root / "index" / "CURRENT": b"gen-",
        root / "articles" / "harbour.txt": b"Port Selin",
        REPO / "pyproject.toml": b"qa-news",
    }
    for path, marker in secrets.items():
        target = urllib.parse.quote(str(path)) if "%2F" not in prefix else urllib.parse.quote(str(path), safe="")
        status, body = fetch(served["url"] + prefix + target)
        assert not (status == 200 and marker in body), (prefix, str(path), status)


def test_files_relative_to_the_working_directory_are_not_served(served):
    for name, marker in (("pyproject.toml", b"qa-news"), ("README.md", b"qa-news"), ("qa/cli.py", b"argparse")):
        for prefix in ("/gradio_api/file=", "/file="):
            status, body = fetch(served["url"] + prefix + name)
            assert not (status == 200 and marker in body), (prefix, name, status)


def test_the_server_is_not_a_proxy_to_loopback(served):
    status, body = fetch(served["url"] + "/gradio_api/file=" + served["url"] + "/config")
    assert not (status == 200 and b"components" in body)


# --- index paths on the command line ---------------------------------------------------------------


def test_index_writes_only_inside_the_named_directory(tmp_path, fake_model, monkeypatch, capsys):
    sources = write_articles(tmp_path / "articles")
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    before = tree(tmp_path)
    assert main(["index", str(sources), "--index", str(tmp_path / "deep" / "idx"), "--quiet", "--model", "fake-encoder"]) == 0
    assert main(["ask", "Who is the mayor of Port Selin?", "--index", str(tmp_path / "deep" / "idx"), "--model", "fake-encoder"]) == 0
    assert main(["stats", "--index", str(tmp_path / "deep" / "idx")]) == 0
    created = tree(tmp_path) - before
    assert created, "nothing was written"
    assert all(path == "deep" or path.startswith(f"deep{os.sep}idx") for path in created), sorted(created)
    assert tree(workdir) == set()
    capsys.readouterr()


def test_relative_index_path_is_relative_to_the_working_directory(tmp_path, fake_model, monkeypatch, capsys):
    sources = write_articles(tmp_path / "articles")
    monkeypatch.chdir(tmp_path)
    assert main(["index", "articles", "--index", "my-index", "--quiet", "--model", "fake-encoder"]) == 0
    assert (tmp_path / "my-index" / "CURRENT").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "my-index"]
    assert sources.is_dir()
    capsys.readouterr()


def test_dot_dot_in_an_index_path_resolves_without_creating_the_missing_part(tmp_path, fake_model, capsys):
    sources = write_articles(tmp_path / "articles")
    odd = tmp_path / "idx" / ".." / "other"
    assert main(["index", str(sources), "--index", str(odd), "--quiet", "--model", "fake-encoder"]) == 0
    assert (tmp_path / "other" / "CURRENT").is_file()
    assert not (tmp_path / "idx").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "other"]
    assert len(load_index(odd, settings=SETTINGS).articles) == 3
    assert main(["stats", "--index", str(odd)]) == 0
    assert main(["ask", "Who is the mayor of Port Selin?", "--index", str(odd), "--model", "fake-encoder"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("command", [["index", "SOURCES"], ["ask", "Who is the mayor?"], ["stats"]])
def test_an_index_path_that_is_a_file_is_a_clear_error(tmp_path, fake_model, capsys, command):
    sources = write_articles(tmp_path / "articles")
    regular = tmp_path / "notes.txt"
    regular.write_text("my notes\n")
    for index_path in (regular, regular / "sub"):
        argv = [str(sources) if part == "SOURCES" else part for part in command]
        assert main([*argv, "--index", str(index_path), "--model", "fake-encoder", *(["--quiet"] if command[0] == "index" else [])]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
        assert "is a file" in err or "no index at" in err, err
        assert "Traceback" not in err
    assert regular.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["articles", "notes.txt"]


def test_building_into_a_file_or_a_foreign_folder_raises_config_error(tmp_path, fake_encoder):
    sources = write_articles(tmp_path / "articles")
    regular = tmp_path / "notes.txt"
    regular.write_text("my notes\n")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        index_sources([sources], regular, settings=SETTINGS, encoder=fake_encoder)
    with pytest.raises(IndexNotFoundError, match="is a file"):
        load_index(regular, settings=SETTINGS)
    # A folder with other things in it is not taken over (the build removes entries it thinks are stale).
    with pytest.raises(ConfigError, match="not empty and holds no index"):
        index_sources([sources], sources, settings=SETTINGS, encoder=fake_encoder)
    assert sorted(p.name for p in sources.iterdir()) == sorted(ARTICLES)
    # An empty folder is fine.
    (tmp_path / "empty").mkdir()
    index_sources([sources], tmp_path / "empty", settings=SETTINGS, encoder=fake_encoder)
    assert (tmp_path / "empty" / "CURRENT").is_file()


def test_index_into_the_source_folder_itself_is_refused_on_the_command_line(tmp_path, fake_model, capsys):
    sources = write_articles(tmp_path / "articles")
    assert main(["index", str(sources), "--index", str(sources), "--quiet", "--model", "fake-encoder"]) == 2
    err = capsys.readouterr().err
    assert "not empty and holds no index" in err and err.count("\n") == 1
    assert sorted(p.name for p in sources.iterdir()) == sorted(ARTICLES)


def test_a_full_disk_while_writing_is_one_line_and_keeps_the_previous_index(tmp_path, fake_model, monkeypatch, capsys):
    import errno

    sources = write_articles(tmp_path / "articles")
    index_dir = tmp_path / "idx"
    assert main(["index", str(sources), "--index", str(index_dir), "--quiet", "--model", "fake-encoder"]) == 0
    before = load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"]
    (sources / "extra.txt").write_text("Extra Story\n\nA new story about the harbour pilots of Port Selin.\n")

    def full_disk(self, directory):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory))

    monkeypatch.setattr(qa.index.VectorIndex, "save", full_disk)
    capsys.readouterr()
    assert main(["index", str(sources), "--index", str(index_dir), "--quiet", "--model", "fake-encoder"]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"error: cannot write the index at {index_dir}: No space left on device (")
    assert "free some disk space" in last and last.endswith("the previous index, if any, is unchanged")
    assert load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"] == before
    assert sorted(p.name for p in index_dir.iterdir() if not p.name.startswith("gen-")) == [".lock", "CURRENT"]
