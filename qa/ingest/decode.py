"""Turn a file's bytes into text: UTF-8 (BOM-aware), UTF-16 (with or without a BOM), legacy code pages detected.

Legacy encodings (cp1251, KOI8-R, cp1252, ...) are detected with charset-normalizer; a file whose
encoding stays uncertain is reported (`UndecodableError`) rather than read as a guess.
"""

from __future__ import annotations

import codecs

from charset_normalizer import from_bytes

BINARY_SHARE = 0.05  # a sample with more control bytes than this share is binary, not text
SAMPLE_BYTES = 1 << 16
# Code pages tried for text that is not UTF-8: Western and Central European, Cyrillic (Russian, Kazakh),
# Greek and Turkish single-byte pages, the main East Asian multi-byte ones, and UTF-16 without a BOM.
LEGACY_ENCODINGS = ("cp1252", "cp1250", "cp1251", "koi8_r", "kz1048", "cp866", "iso8859_5", "mac_cyrillic", "cp1253",
                    "cp1254", "cp1257", "iso8859_15", "gb18030", "big5", "shift_jis", "euc_kr", "utf_16_le", "utf_16_be")
UTF16 = ("utf_16_le", "utf_16_be")
PREFERRED = "cp1252"  # where Latin code pages fit equally well (they differ in a few letters), the most common one
CHAOS_TIE = 0.01  # readings this close in charset-normalizer's "mess" score are equally plausible
COHERENCE_MARGIN = 0.02  # ... unless one reads as a known language this much better than the others
# UTF-16 without a BOM is recognised in texts of at least this many bytes, with NUL bytes (the high half
# of ASCII characters) in at least this share of all bytes, and white space in this share of characters.
MIN_UTF16_BYTES = 32
MIN_UTF16_NUL_SHARE = 0.05
MIN_UTF16_SPACE_SHARE = 0.05
_LEGACY_ERRORS = "qa-legacy-bytes"
# Bytes that are neither C0 control characters nor found in text: tab, line breaks, form feed, and
# ESC (terminal colour codes in pasted text are hostile but not binary).
_NOT_CONTROL = bytes(byte for byte in range(256) if byte >= 0x20 or byte in b"\t\n\v\f\r\x1b")
_ADVICE = "save it as UTF-8 text"


class UndecodableError(ValueError):
    """The bytes are not text (empty or binary), or their encoding cannot be told."""


def decode_bytes(data: bytes) -> str:
    """Decode file contents.

    UTF-8 is read as UTF-8, and so is a file that is mostly UTF-8 with some bytes that are not
    (those are read as cp1252, latin-1 for the five bytes cp1252 leaves undefined), so a file of
    mixed encodings keeps both its UTF-8 and its legacy characters. Other text, UTF-16 without a
    BOM included, is decoded in the encoding charset-normalizer finds among `LEGACY_ENCODINGS`.

    Raises:
        UndecodableError: the file is empty or binary (holds NUL bytes and is not UTF-16, or more
            than `BINARY_SHARE` control bytes), or no single encoding reads it convincingly.
    """
    if not data:
        raise UndecodableError("empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UndecodableError("invalid UTF-16 text after a UTF-16 byte-order mark") from None
    if b"\x00" in data:
        text = _utf16_text(data)
        if text is None:
            raise UndecodableError(f"binary file (contains NUL bytes); {_ADVICE}")
        return text
    sample = data[:SAMPLE_BYTES]
    controls = len(sample.translate(None, _NOT_CONTROL))
    if controls > BINARY_SHARE * len(sample):
        raise UndecodableError(f"binary file ({controls / len(sample):.0%} control bytes); {_ADVICE}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    loose = data.decode("utf-8", errors="surrogateescape")
    invalid = sum(1 for ch in loose if "\udc80" <= ch <= "\udcff")
    if sum(1 for ch in loose if ch > "\x7f") - invalid >= invalid:  # mostly UTF-8: the odd legacy bytes are cp1252
        return data.decode("utf-8-sig", errors=_LEGACY_ERRORS)
    text = _detect(data, LEGACY_ENCODINGS)
    if text is None:
        raise UndecodableError(f"not UTF-8, and no known encoding reads it as text; {_ADVICE}")
    return text


def _detect(data: bytes, encodings: tuple[str, ...]) -> str | None:
    """The text in the one encoding that reads `data` best; None if none does.

    Raises:
        UndecodableError: several encodings read it equally well and give different text.
    """
    matches = list(from_bytes(data, cp_isolation=list(encodings)))
    if not matches:
        return None
    best = min(matches, key=lambda match: match.chaos)
    readings: dict[str, list] = {}
    for match in matches:
        if match.chaos <= best.chaos + CHAOS_TIE:
            readings.setdefault(str(match), []).append(match)
    if len(readings) == 1:
        return next(iter(readings))
    by_coherence = sorted(readings.items(), key=lambda item: -max(m.coherence for m in item[1]))
    first, second = (max(m.coherence for m in matches) for _, matches in by_coherence[:2])
    if first >= second + COHERENCE_MARGIN:
        return by_coherence[0][0]
    for text, tied in readings.items():
        if any(PREFERRED in (match.encoding, *match.could_be_from_charset) for match in tied):
            return text
    names = ", ".join(sorted({match.encoding for tied in readings.values() for match in tied}))
    raise UndecodableError(f"cannot tell its encoding: it reads equally well as {names}; {_ADVICE}")


def _utf16_text(data: bytes) -> str | None:
    """`data` read as UTF-16 without a BOM, if it looks like it: None otherwise.

    UTF-16 text has NUL bytes in the high half of every ASCII character (spaces, digits, line breaks),
    so all on the even or all on the odd positions, and reads as words separated by white space.
    """
    if len(data) % 2 or len(data) < MIN_UTF16_BYTES:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if min(even, odd) or max(even, odd) < len(data) * MIN_UTF16_NUL_SHARE:
        return None
    text = _detect(data, UTF16)
    if text is None or "\x00" in text:
        return None
    controls = sum(1 for ch in text if ch < " " and ch not in "\t\n\v\f\r\x1b")
    spaces = sum(1 for ch in text if ch.isspace())
    return text if controls <= BINARY_SHARE * len(text) and spaces >= MIN_UTF16_SPACE_SHARE * len(text) else None


def _read_legacy_bytes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8, read one by one as cp1252, else latin-1."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(_legacy_char(byte) for byte in error.object[error.start : error.end]), error.end


def _legacy_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


codecs.register_error(_LEGACY_ERRORS, _read_legacy_bytes)
