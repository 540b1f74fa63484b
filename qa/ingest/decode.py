"""Turn a file's bytes into text: UTF-8 (BOM-aware), UTF-16 with a BOM; bytes that are not UTF-8 read as cp1252/latin-1."""

from __future__ import annotations

import codecs

BINARY_SHARE = 0.05  # a sample with more control bytes than this share is binary, not text
SAMPLE_BYTES = 1 << 16
_LEGACY_ERRORS = "qa-legacy-bytes"
# Bytes that are neither C0 control characters nor found in text: tab, line breaks, form feed, and
# ESC (terminal colour codes in pasted text are hostile but not binary).
_NOT_CONTROL = bytes(byte for byte in range(256) if byte >= 0x20 or byte in b"\t\n\v\f\r\x1b")


class UndecodableError(ValueError):
    """The bytes are not text (empty or binary)."""


def decode_bytes(data: bytes) -> str:
    """Decode file contents.

    UTF-8 is read as UTF-8; any byte sequence that is not valid UTF-8 is read as cp1252
    (latin-1 for the five bytes cp1252 leaves undefined), so a file of mixed encodings
    keeps both its UTF-8 and its legacy characters.

    Raises:
        UndecodableError: the file is empty or binary (holds NUL bytes without a UTF-16 BOM,
            or more than `BINARY_SHARE` control bytes).
    """
    if not data:
        raise UndecodableError("empty file")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UndecodableError("invalid UTF-16 text after a UTF-16 byte-order mark") from None
    if b"\x00" in data:
        raise UndecodableError("binary file (contains NUL bytes); save it as UTF-8 text")
    sample = data[:SAMPLE_BYTES]
    controls = len(sample.translate(None, _NOT_CONTROL))
    if controls > BINARY_SHARE * len(sample):
        raise UndecodableError(f"binary file ({controls / len(sample):.0%} control bytes); save it as UTF-8 text")
    return data.decode("utf-8-sig", errors=_LEGACY_ERRORS)


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
