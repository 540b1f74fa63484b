"""Articles a chat visitor adds: a per-session collection layered over the base index, with limits and cleanup.

The base index is only read. A session's files are copied into its own temporary folder and
indexed there (incrementally, with the base assistant's encoder, reader and calibration); its
questions are answered from both collections and the better-supported answer is kept.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import EmptyCollectionError, UploadError
from qa.ingest.collect import PACKED_FORMATS
from qa.types import Answer, Citation

if TYPE_CHECKING:
    from qa.assistant import Assistant

Progress = Callable[[float, str], None]
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+")


@dataclass(frozen=True)
class UploadSummary:
    """What one upload did to a session's collection."""

    files: int
    added: int
    updated: int
    unchanged: int
    skipped: tuple[str, ...]
    shortened: tuple[str, ...]
    articles: int
    seconds: float

    def describe(self) -> str:
        """A few plain lines for the person who uploaded: counts, then every skipped or cut item with its reason."""
        counts = (f"Added {self.added}, updated {self.updated}, unchanged {self.unchanged} "
                  f"({self.files} file{'s' if self.files != 1 else ''} read, {len(self.skipped)} skipped) in {self.seconds:.1f} s. "
                  f"Your articles: {self.articles}; questions now search them too.")
        lines = [counts]
        lines += [f"Skipped {item}" for item in self.skipped]
        lines += [f"Cut to the size limit: {item}" for item in self.shortened]
        return "\n".join(lines)


class SessionCollection:
    """One visitor's uploaded articles, indexed in a temporary folder, answered together with the base assistant."""

    def __init__(self, base: Assistant, settings: Settings) -> None:
        self.base = base
        self.settings = settings
        self.root = Path(tempfile.mkdtemp(prefix="qa-upload-"))
        self.sources = self.root / "sources"
        self.sources.mkdir()
        self._layer: Assistant | None = None
        self._lock = threading.Lock()
        self._files = 0
        self._bytes = 0
        self.closed = False

    @property
    def articles(self) -> int:
        """How many articles this session added."""
        layer = self._layer
        return layer.info().articles if layer is not None else 0

    def add(self, files: Sequence[str | Path] = (), pasted: str = "", *, on_progress: Progress | None = None) -> UploadSummary:
        """Index `files` (and `pasted` text, as one article: title on the first line) into this session's collection.

        Raises:
            UploadError: nothing given, a limit (files, bytes, articles per session) exceeded, or the session closed.
        """
        say = on_progress or (lambda fraction, message: None)
        started = time.perf_counter()
        paths = [Path(f) for f in files or ()]
        pasted = (pasted or "").strip()
        with self._lock:
            if self.closed:
                raise UploadError("this session has ended: reload the page and add the articles again")
            if not paths and not pasted:
                raise UploadError("nothing to add: choose files (.txt, .md, .json, .jsonl, .csv, .html, .rss) or paste an article's text")
            say(0.05, "checking the files")
            incoming = self._check_limits(paths, pasted)
            added_paths = self._store(paths, pasted)
            try:
                summary = self._index(incoming, added_paths, say)
            except BaseException:
                for path in added_paths:
                    shutil.rmtree(path.parent, ignore_errors=True)
                raise
            self._files += len(added_paths)
            self._bytes += incoming
        say(1.0, "done")
        return replace(summary, seconds=time.perf_counter() - started)

    def _check_limits(self, files: list[Path], pasted: str) -> int:
        limits = self.settings
        count = len(files) + bool(pasted)
        if self._files + count > limits.upload_max_files:
            raise UploadError(f"at most {limits.upload_max_files} files per session: you have added {self._files} and chose {count}; "
                              "add fewer, or put several articles in one .jsonl or .csv file")
        packed = [f.name for f in files if f.suffix.casefold() in PACKED_FORMATS]
        if packed:
            raise UploadError(f"compressed files cannot be added here ({packed[0]}): the limits count the bytes uploaded, "
                              "so add the files unpacked")
        size = sum(f.stat().st_size for f in files) + len(pasted.encode("utf-8"))
        if self._bytes + size > limits.upload_max_bytes:
            raise UploadError(f"at most {_size(limits.upload_max_bytes)} per session: these files hold {_size(size)} "
                              f"and {_size(self._bytes)} are already added; add smaller files")
        return size

    def _store(self, files: list[Path], pasted: str) -> list[Path]:
        """Copy each upload into its own numbered folder under its own (sanitised) name."""
        stored = []
        number = self._files
        for path in files:
            number += 1
            name = _UNSAFE_NAME.sub("_", path.name).strip(" .") or "upload"
            stored.append(_copy(path, self.sources / f"{number:03d}" / name))
        if pasted:
            number += 1
            target = self.sources / f"{number:03d}" / "pasted.txt"
            target.parent.mkdir()
            target.write_text(pasted + "\n", encoding="utf-8")
            stored.append(target)
        return stored

    def _index(self, size: int, added_paths: list[Path], say: Progress) -> UploadSummary:
        from qa.assistant import Assistant
        from qa.index import build_index, load_index
        from qa.ingest import read_sources

        say(0.15, "reading the articles")
        try:
            result = read_sources([self.sources])
        except EmptyCollectionError as error:
            raise UploadError(f"no article could be read from what you added: {_without(str(error), self.sources)}") from None
        skipped = tuple(_without(str(item), self.sources) for item in result.skipped)
        shortened = tuple(_without(str(item), self.sources) for item in result.shortened)
        if len(result.articles) > self.settings.upload_max_articles:
            raise UploadError(f"at most {self.settings.upload_max_articles} articles per session: these files would make "
                              f"{len(result.articles)}; add fewer")
        say(0.3, f"embedding {len(result.articles)} articles")
        report = build_index(result.articles, self.root / "index", settings=self.base.settings, encoder=self.base.encoder,
                             on_progress=lambda message: say(0.5, message))
        say(0.9, "loading your articles")
        settings = self.base.settings.with_(model_name=self.base.encoder.name)
        index = load_index(self.root / "index", settings=settings)
        self._layer = Assistant(index, settings=self.base.settings, encoder=self.base.encoder, reader=self.base.reader,
                                calibration=self.base.calibration, highlighter=self.base.highlighter)
        return UploadSummary(files=len(added_paths), added=report.added, updated=report.updated, unchanged=report.unchanged,
                             skipped=skipped, shortened=shortened, articles=report.articles, seconds=0.0)

    def ask(self, question: str, **options: Any) -> Answer:
        """`Assistant.ask` over the base collection and this session's articles together."""
        base_answer = self.base.ask(question, **options)
        layer = self._layer
        if layer is None:
            return base_answer
        own = layer.ask(question, **options)
        return merge_answers(own, base_answer, top_k=options.get("top_k") or self.base.settings.top_k)

    def close(self) -> None:
        """Delete this session's files and index; later uploads are refused."""
        with self._lock:
            self.closed = True
            self._layer = None
            shutil.rmtree(self.root, ignore_errors=True)


class SessionCollections:
    """The sessions' collections, by session id, at most `settings.upload_max_sessions` at once."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._sessions: dict[str, SessionCollection] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str | None) -> SessionCollection | None:
        """The session's collection, if it has added articles."""
        return self._sessions.get(session_id) if session_id else None

    def open(self, session_id: str, base: Assistant) -> SessionCollection:
        """The session's collection, made empty on first use.

        Raises:
            UploadError: too many sessions hold uploads right now.
        """
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if len(self._sessions) >= self.settings.upload_max_sessions:
                    raise UploadError(f"{len(self._sessions)} visitors have added articles already, the most this server keeps "
                                      "at once: try again later, or run your own copy with `qa serve --allow-upload`")
                session = self._sessions[session_id] = SessionCollection(base, self.settings)
        return session

    def close(self, session_id: str | None) -> None:
        """Delete a session's collection (when its page is closed); unknown ids are ignored."""
        with self._lock:
            session = self._sessions.pop(session_id, None) if session_id else None
        if session is not None:
            session.close()

    def close_all(self) -> None:
        """Delete every session's collection (when the server stops)."""
        for session_id in list(self._sessions):
            self.close(session_id)


def merge_answers(first: Answer, second: Answer, *, top_k: int) -> Answer:
    """One answer from two collections' answers to the same question.

    The found answer with the higher confidence (a calibrated probability) wins, `first` on a tie;
    its citations come first and the other's follow by score, one per article, `top_k` in all.
    Two not-found answers keep the closest passages of both, by score.
    """
    primary, other = (first, second) if _rank(first) >= _rank(second) else (second, first)
    seen = {c.article_id for c in primary.citations}
    extra = sorted((c for c in other.citations if c.article_id not in seen), key=lambda c: -c.score)
    if primary.found:
        citations: tuple[Citation, ...] = (*primary.citations, *extra)
    else:
        citations = tuple(sorted((*primary.citations, *extra), key=lambda c: -c.score))
    return replace(primary, citations=citations[:max(top_k, 1)])


def _rank(answer: Answer) -> tuple[bool, float, bool]:
    return answer.found, answer.confidence, bool(answer.citations)


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True)
    shutil.copyfile(source, target)  # any type: reading reports an unsupported one by name, as `qa index` does
    return target


def _without(text: str, folder: Path) -> str:
    """A message about stored uploads with the session folder (and its numbered subfolder) left out."""
    return re.sub(re.escape(str(folder)) + r"/\d+/", "", text)


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size / 1_000:.1f} kB"
