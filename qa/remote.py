"""A running `qa serve` reused by a one-shot `qa ask`: the server registers itself per index, the CLI asks its `/answer` API.

Loading the models takes seconds; a server has them loaded. `qa serve` writes a small file naming
its URL and process id under the user cache directory, keyed by the index it serves; `qa ask` over
the same index finds it and asks over HTTP (standard library only, so nothing heavy is imported),
falling back to answering in-process when no server is up or it does not answer.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from qa.errors import QAError

CONNECT_TIMEOUT = 2.0  # seconds to reach a registered server before answering in-process instead
ANSWER_TIMEOUT = 120.0  # seconds to wait for its answer (it may be queued behind other questions)


class ServerAnswerError(QAError):
    """The running server refused the question (its message says why)."""


def registry_file(index_dir: Path) -> Path:
    """Where the server of `index_dir` is registered (one file per index, in the user cache directory)."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256(str(Path(index_dir).resolve()).encode()).hexdigest()[:16]
    return Path(user_cache_dir("qa-news")) / "servers" / f"{key}.json"


def register_server(index_dir: Path, url: str) -> Path:
    """Record that this process serves `index_dir` at `url`; returns the file to remove when it stops."""
    path = registry_file(index_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    staging.write_text(json.dumps({"url": url, "pid": os.getpid(), "index_dir": str(Path(index_dir).resolve())}), encoding="utf-8")
    os.replace(staging, path)
    return path


def unregister_server(path: Path) -> None:
    """Remove this process's registration (left alone if another server registered since)."""
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def find_server(index_dir: Path) -> str | None:
    """The URL of a live server of `index_dir`, or None (no registration, or its process is gone)."""
    try:
        record = json.loads(registry_file(index_dir).read_text(encoding="utf-8"))
        pid, url = int(record["pid"]), str(record["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        pass
    return url


def ask_server(url: str, question: str, *, top_k: int, since: str = "", until: str = "",
               history: list[str] | None = None) -> dict[str, Any] | None:
    """The server's `/answer` payload, or None when it cannot be reached or answers with something unexpected.

    Raises:
        ServerAnswerError: the server refused the question (empty, too long, bad date...).
    """
    base = url.rstrip("/") + "/gradio_api/call/answer"
    body = json.dumps({"data": [question, top_k, since, until, history or []]}).encode()
    request = urllib.request.Request(base, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=CONNECT_TIMEOUT) as response:
            event_id = json.loads(response.read())["event_id"]
        with urllib.request.urlopen(f"{base}/{event_id}", timeout=ANSWER_TIMEOUT) as response:
            event = None
            for raw in response:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[len("event: "):]
                elif line.startswith("data: ") and event in ("complete", "error"):
                    data = json.loads(line[len("data: "):])
                    if event == "error":
                        message = (data.get("error") or data.get("message")) if isinstance(data, dict) else data
                        if message:
                            raise ServerAnswerError(str(message))
                        return None
                    return data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else None
    except (OSError, ValueError, KeyError, TypeError, urllib.error.URLError):
        return None
    return None
