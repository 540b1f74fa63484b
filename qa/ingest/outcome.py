"""What reading one file produced: articles, and problems reported instead of silently dropped."""

from __future__ import annotations

from dataclasses import dataclass

from qa.types import Article

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Notice:
    """Something to tell the user about one file or record, with enough detail to act on it."""

    path: str
    reason: str
    line: int | None = None

    def __post_init__(self) -> None:
        # Reasons quote file content (titles, parser messages): keep each one a single short line.
        reason = " ".join(self.reason.split())
        if len(reason) > MAX_REASON_CHARS:
            reason = reason[: MAX_REASON_CHARS - 1] + "…"
        object.__setattr__(self, "reason", reason)

    def __str__(self) -> str:
        path = printable_path(self.path)
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: {self.reason}"


def printable_path(path: str) -> str:
    """A path on one line: control characters and line separators in file names shown as escapes (`\\n`),
    so a file name cannot split or forge report lines."""
    return "".join(ch.encode("unicode_escape").decode("ascii") if not ch.isprintable() and ch != " " else ch for ch in path)


class Skipped(Notice):
    """One file or record that was not ingested."""


class Shortened(Notice):
    """An article that was ingested, but cut to the size limit."""


@dataclass(frozen=True)
class Parsed:
    """The articles read from one file, the parts of it that were skipped and the articles that were cut."""

    articles: tuple[Article, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    shortened: tuple[Shortened, ...] = ()


def skip_file(path: str, reason: str) -> Parsed:
    """A result that skips the whole file for `reason`."""
    return Parsed(skipped=(Skipped(path, reason),))
