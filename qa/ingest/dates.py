"""Parse dates written as a whole line or a metadata value, without depending on the locale."""

from __future__ import annotations

import datetime as dt
import re
from types import MappingProxyType

_MONTHS = MappingProxyType({
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ),
        start=1,
    )
    for name in names
})
_WEEKDAY = r"(?:(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)[a-z]*,?\s+)?"
_DAY_MONTH_YEAR = re.compile(_WEEKDAY + r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})", re.I)
_MONTH_DAY_YEAR = re.compile(_WEEKDAY + r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})", re.I)
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_PREFIX = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?")


def parse_date(text: str) -> dt.date | None:
    """The date if `text` is entirely a date, else None.

    Accepts `17 April 2025`, `Thursday, 17 Apr 2025`, `April 17, 2025`, `2025-04-17`,
    `2025/04/17` and `17.04.2025` (day first). Ambiguous `04/05/2025` is not accepted.
    """
    value = text.strip()
    if len(value) > 40:
        return None
    if match := _ISO.fullmatch(value):
        year, month, day = match.groups()
        return _make_date(year, month, day)
    if match := _DOTTED.fullmatch(value):
        day, month, year = match.groups()
        return _make_date(year, month, day)
    if match := _DAY_MONTH_YEAR.fullmatch(value):
        day, month_name, year = match.groups()
        return _make_date(year, _MONTHS.get(month_name.casefold()), day)
    if match := _MONTH_DAY_YEAR.fullmatch(value):
        month_name, day, year = match.groups()
        return _make_date(year, _MONTHS.get(month_name.casefold()), day)
    return None


def parse_date_field(value: object) -> dt.date | None:
    """A date from a metadata value: a date, an ISO timestamp, or any form `parse_date` accepts."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not value.strip():
        return None
    if match := _ISO_PREFIX.fullmatch(value.strip()):
        return _make_date(*match.groups())
    return parse_date(value) or _rfc_2822_date(value.strip())


def _rfc_2822_date(value: str) -> dt.date | None:
    """The date of an RSS/e-mail timestamp ("Fri, 18 Apr 2025 08:00:00 GMT"), in the writer's own time zone."""
    from email.utils import parsedate_to_datetime

    try:
        return parsedate_to_datetime(value).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _make_date(year: str, month: str | int | None, day: str) -> dt.date | None:
    if month is None:
        return None
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
