"""Whitespace-only text cleaning that never invents characters, and ellipsis truncation."""

from __future__ import annotations

import re

_ELLIPSES = ("...", "…")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_newlines(text: str) -> str:
    """Turn `\\r\\n` and lone `\\r` line breaks into `\\n`."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def clean_text(text: str) -> str:
    """Normalize newlines, strip line-end whitespace, collapse 3+ blank lines, strip the ends.

    Apart from a lone `\\r` line break becoming `\\n`, characters are only removed, never
    added or changed: the output is a subsequence of the newline-normalized input.
    """
    lines = [line.rstrip() for line in normalize_newlines(text).split("\n")]
    return _MANY_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def split_truncation(body: str) -> tuple[str, bool]:
    """Drop a trailing `...`/`…` that marks a cut-off body.

    Returns:
        The body without the ellipsis (and the whitespace before it), and whether it had one.
    """
    stripped = body.rstrip()
    for ellipsis in _ELLIPSES:
        if stripped.endswith(ellipsis):
            return stripped[: -len(ellipsis)].rstrip(), True
    return stripped, False
