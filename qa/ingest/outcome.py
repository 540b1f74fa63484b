"""What reading one file produced: articles, and problems reported instead of silently dropped."""

from __future__ import annotations

from dataclasses import dataclass

from qa.types import Article

MAX_REASON_CHARS = 500


@dataclass(frozen=True)
class Skipped:
    """One file or record that was not ingested, with enough detail to fix it."""

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
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True)
class Parsed:
    """The articles read from one file and the parts of it that were skipped."""

    articles: tuple[Article, ...] = ()
    skipped: tuple[Skipped, ...] = ()


def skip_file(path: str, reason: str) -> Parsed:
    """A result that skips the whole file for `reason`."""
    return Parsed(skipped=(Skipped(path, reason),))
