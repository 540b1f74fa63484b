"""Read JSON, JSONL and CSV files of article records.

Each record needs a title (`title` or `headline`) and a body (`body`, `text`, `content`,
`article`, `story`, or failing those a `description` or `summary`; the first non-empty one
wins); a date (`date`, `published`, `published_at`, `publishedAt`, `pubDate`, `publish_date`,
`datetime`) and a web address (`url`, `link`, or `source` when it is one) are optional: the
names of common news exports (NewsAPI, RSS, HuffPost). Keys and column names are
matched case-insensitively. A .json file holds a list of records, or an object whose one list
of records is under any key (`articles`, `data`, `items`, ...), or a single record.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping

from qa.ingest.clean import clean_text, normalize_newlines, split_truncation
from qa.ingest.dates import parse_date_field
from qa.ingest.identity import make_article
from qa.ingest.outcome import Parsed, Skipped, skip_file
from qa.types import Article

TITLE_KEYS = ("title", "headline")
# Full text first; a description or summary is the body only when a record has nothing longer.
BODY_KEYS = ("body", "text", "content", "article", "story", "description", "short_description", "summary")
DATE_KEYS = ("date", "published", "published_at", "publishedat", "pubdate", "publish_date", "datetime")
URL_KEYS = ("url", "link", "source")
_WEB_ADDRESS = re.compile(r"(?:https?://|www\.)\S+", re.I)


def read_jsonl(text: str, source: str) -> Parsed:
    """One JSON object per line; a bad line is skipped with its line number."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for number, line in enumerate(normalize_newlines(text).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            skipped.append(Skipped(source, f"invalid JSON: {exc.msg} at column {exc.colno}", number))
            continue
        except RecursionError:
            skipped.append(Skipped(source, "JSON nested too deeply to be an article record", number))
            continue
        if not isinstance(record, dict):
            skipped.append(Skipped(source, f"expected a JSON object, got {type(record).__name__}", number))
            continue
        _add(record_to_article(record, source, number), articles, skipped)
    return Parsed(tuple(articles), tuple(skipped))


def read_json(text: str, source: str) -> Parsed:
    """A JSON document of records: a list, an object holding one list of records, or one record."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (one record per line is JSON Lines: name the file .jsonl)" if exc.msg == "Extra data" else ""
        return skip_file(source, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}")
    except RecursionError:
        return skip_file(source, "JSON nested too deeply to hold article records")
    records = _records_in(document)
    if records is None:
        shape = f"an object with keys {', '.join(repr(k) for k in list(document)[:8])}" if isinstance(document, dict) \
            else f"a JSON {type(document).__name__}"
        return skip_file(source, f"no article records found: expected a list of objects with a title and a body, got {shape}")
    articles: list[Article] = []
    skipped: list[Skipped] = []
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            skipped.append(Skipped(source, f"record {number}: expected a JSON object, got {type(record).__name__}"))
            continue
        result = record_to_article(record, source)
        if isinstance(result, Skipped):
            result = Skipped(source, f"record {number}: {result.reason}")
        _add(result, articles, skipped)
    return Parsed(tuple(articles), tuple(skipped))


def _records_in(document: object) -> list | None:
    """The list of records a JSON document holds, or None when it holds none."""
    if isinstance(document, list):
        return document
    if not isinstance(document, dict):
        return None
    fields = {str(key).strip().casefold() for key in document}
    if fields & set(TITLE_KEYS) and fields & set(BODY_KEYS):
        return [document]
    lists = [value for value in document.values() if isinstance(value, list) and any(isinstance(v, dict) for v in value)]
    return lists[0] if len(lists) == 1 else None


def read_csv(text: str, source: str) -> Parsed:
    """A header row then one record per row; a missing required column skips the whole file."""
    # The csv module caps a cell at 131,072 characters by default, a process-wide setting: raise it to
    # this file's size, so a long body is read (and cut to the size limit later) instead of ending the file.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return skip_file(source, f"unreadable CSV header: {exc}")
    if not header:
        return skip_file(source, "no header row")
    columns = [name.strip().casefold() for name in header]
    missing = missing_columns(columns)
    if missing:
        found = ", ".join(repr(name) for name in columns)
        return skip_file(source, f"missing column {' and '.join(missing)}; columns found: {found}")
    articles: list[Article] = []
    skipped: list[Skipped] = []
    last_line = reader.line_num
    while True:
        try:
            row = next(reader, None)
        except csv.Error as exc:
            skipped.append(Skipped(source, f"CSV error, rest of file not read: {exc}", last_line + 1))
            break
        if row is None:
            break
        number, last_line = last_line + 1, reader.line_num
        if any(cell.strip() for cell in row):
            _add(record_to_article(dict(zip(columns, row, strict=False)), source, number), articles, skipped)  # a short row: later columns left out
    return Parsed(tuple(articles), tuple(skipped))


def missing_columns(columns: list[str]) -> list[str]:
    """The required columns (quoted, alternatives joined by '/') absent from `columns`."""
    missing = []
    for keys in (TITLE_KEYS, BODY_KEYS):
        if not any(key in columns for key in keys):
            missing.append("/".join(repr(key) for key in keys[:3]))  # the usual names; the docstring lists the rest
    return missing


def record_to_article(record: Mapping[str, object], source: str, line: int | None = None) -> Article | Skipped:
    """An article from one record, or the reason it cannot be one."""
    fields = {str(key).strip().casefold(): value for key, value in record.items()}
    title = " ".join(_first_text(fields, TITLE_KEYS).split())
    if not title:
        found = ", ".join(repr(key) for key in fields) or "none"
        return Skipped(source, f"record has no title; keys found: {found}", line)
    body, truncated = split_truncation(clean_text(_first_text(fields, BODY_KEYS)))
    if not body:
        return Skipped(source, f"record {title!r} has an empty body (give 'body', 'text' or 'content')", line)
    published = next((d for key in DATE_KEYS if (d := parse_date_field(fields.get(key)))), None)
    addresses = (_as_text(fields.get(key)).strip() for key in URL_KEYS)
    url = next((address for address in addresses if _WEB_ADDRESS.fullmatch(address)), None)
    return make_article(title, body, sources=(source,), published=published, url=url, truncated=truncated)


def _first_text(fields: Mapping[str, object], keys: tuple[str, ...]) -> str:
    return next((text for key in keys if (text := _as_text(fields.get(key))).strip()), "")


def _as_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _add(result: Article | Skipped, articles: list[Article], skipped: list[Skipped]) -> None:
    (articles if isinstance(result, Article) else skipped).append(result)  # type: ignore[arg-type]
