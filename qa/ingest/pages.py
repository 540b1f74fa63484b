"""Split a scraped search-result page into articles.

A page is: boilerplate (lines repeated on the page, pager and navigation lines), an
optional lone date line (the page's date), then title/body pairs. Nothing here knows a
particular site: boilerplate is found by repetition and generic pager wording.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

from qa.ingest.clean import clean_text, normalize_newlines, split_truncation
from qa.ingest.dates import parse_date
from qa.ingest.files import has_metadata_header
from qa.ingest.identity import make_article
from qa.ingest.outcome import Parsed, Skipped, skip_file
from qa.types import Article

MIN_REPEATS = 3  # a line seen this often on one page is boilerplate
MIN_PAIRS = 3  # this many strictly alternating title/body paragraphs make a page
MAX_TITLE_CHARS = 200

_COUNTED = r"(?:results?|items?|articles?|entries|records|stories|posts|matches|hits)"
_PAGER = re.compile(
    rf"(?:(?:viewing|showing|displaying)\s+)?(?:{_COUNTED}\s+)?"
    rf"\d[\d,]*\s*(?:-|–|—|to)\s*\d[\d,]*\s+(?:of|out\s+of|from)\s+(?:about\s+)?\d[\d,]*(?:\s+{_COUNTED})?"
    r"|page\s+\d+\s*(?:of|/)\s*\d+(?:\s+pages?)?"
    rf"|(?:about\s+)?\d[\d,]*\s+{_COUNTED}(?:\s+found)?",
    re.IGNORECASE,
)
_NAVIGATION = re.compile(
    r"(?:[\s\d«‹<>›»|·…]|\.\.\.|prev(?:ious)?|next|first|last|page|older|newer|more)+", re.IGNORECASE
)
_SENTENCE_END = (".", ",", ";", ":", "…")


@dataclass(frozen=True)
class _Line:
    text: str
    new_paragraph: bool
    date: dt.date | None = None


def is_search_page(text: str) -> bool:
    """Whether a `.txt` file is a search-result page rather than one article.

    A page has a pager line, or a repeated line with letters or digits in it, or at
    least `MIN_PAIRS` strictly alternating title/body paragraphs and no `Date:`-style
    header under its first line.
    """
    lines = [line.strip() for line in normalize_newlines(text).split("\n")]
    if any(line and _PAGER.fullmatch(line) for line in lines):
        return True
    if any(any(char.isalnum() for char in line) for line in find_boilerplate(lines)):
        return True
    if has_metadata_header(text):
        return False
    return _count_alternating_pairs(lines) >= MIN_PAIRS


def find_boilerplate(lines: list[str]) -> set[str]:
    """The stripped non-empty lines occurring at least `MIN_REPEATS` times."""
    counts = Counter(line.strip() for line in lines if line.strip())
    return {line for line, count in counts.items() if count >= MIN_REPEATS}


def read_search_page(text: str, source: str) -> Parsed:
    """Read the title/body pairs of a search-result page as articles.

    Args:
        text: the decoded page.
        source: the path string recorded in `Article.sources`.
    """
    lines = _strip_boilerplate(normalize_newlines(text).split("\n"))
    starts, orphans = _find_title_indexes(lines)
    if not starts:
        return skip_file(source, "looks like a search-result page but holds no title/body pairs")
    page_date = next((line.date for line in lines[: starts[0]] if line.date), None)
    boundaries = sorted(starts + orphans)  # an article's body ends at the next title, orphan or not
    following = dict(zip(boundaries, boundaries[1:], strict=False))
    ends = [following.get(start, len(lines)) for start in starts]
    articles = tuple(
        _make_page_article(lines[start], lines[start + 1 : end], source, page_date)
        for start, end in zip(starts, ends, strict=True)
    )
    skipped = tuple(Skipped(source, f"title {lines[i].text!r} has no body (the next line is another title)") for i in orphans)
    return Parsed(articles=tuple(article for article in articles if article is not None), skipped=skipped)


def _strip_boilerplate(raw_lines: list[str]) -> list[_Line]:
    boilerplate = find_boilerplate(raw_lines)
    kept: list[_Line] = []
    new_paragraph = True
    for raw in raw_lines:
        line = raw.strip()
        if not line or line in boilerplate or _PAGER.fullmatch(line) or _NAVIGATION.fullmatch(line):
            new_paragraph = True
            continue
        kept.append(_Line(line, new_paragraph, parse_date(line)))
        new_paragraph = False
    return kept


def _is_title_like(text: str) -> bool:
    return (
        len(text) <= MAX_TITLE_CHARS
        and not text.endswith(_SENTENCE_END)
        and any(char.isalpha() for char in text)
    )


def _find_title_indexes(lines: list[_Line]) -> tuple[list[int], list[int]]:
    """Titles: short, paragraph-opening, not sentence-ending, followed by a longer text line.

    Returns:
        The title lines, and the orphan titles: title lines directly followed by another title.
    """
    titles: list[int] = []
    orphans: list[int] = []
    index = 0
    while index < len(lines):
        following = _body_start(lines, index)
        if following is None:
            index += 1
        elif lines[following].new_paragraph and _body_start(lines, following) is not None:
            orphans.append(index)  # "Title A / Title B / body of B": A has no body
            index = following
        else:
            titles.append(index)
            index = following + 1
    return titles, orphans


def _body_start(lines: list[_Line], index: int) -> int | None:
    """If `lines[index]` opens an article, the index of its first body line, else None."""
    line = lines[index]
    following = next((i for i in range(index + 1, len(lines)) if not lines[i].date), None)
    if (
        line.date is None
        and line.new_paragraph
        and _is_title_like(line.text)
        and following is not None
        and len(lines[following].text) > len(line.text)
    ):
        return following
    return None


def _make_page_article(
    title: _Line, body_lines: list[_Line], source: str, page_date: dt.date | None
) -> Article | None:
    own_date = next((line.date for line in body_lines if line.date), None)
    paragraphs: list[list[str]] = []
    for line in body_lines:
        if line.date:
            continue
        if line.new_paragraph or not paragraphs:
            paragraphs.append([])
        paragraphs[-1].append(line.text)
    body, truncated = split_truncation(clean_text("\n\n".join("\n".join(p) for p in paragraphs)))
    if not body:
        return None
    return make_article(
        title.text,
        body,
        sources=(source,),
        published=own_date or page_date,
        truncated=truncated,
    )


def _count_alternating_pairs(lines: list[str]) -> int:
    """Pairs if the paragraphs strictly alternate one-line title / longer body, else 0."""
    paragraphs: list[list[str]] = []
    previous_blank = True
    for line in lines:
        if not line:
            previous_blank = True
            continue
        if previous_blank:
            paragraphs.append([])
        paragraphs[-1].append(line)
        previous_blank = False
    if len(paragraphs) < 2 or len(paragraphs) % 2:
        return 0
    for title, body in zip(paragraphs[::2], paragraphs[1::2], strict=False):
        if len(title) != 1 or not _is_title_like(title[0]) or len(" ".join(body)) <= len(title[0]):
            return 0
    return len(paragraphs) // 2
