"""Turn a file's bytes into text: UTF-8 (BOM-aware), UTF-16 with a BOM, else cp1252/latin-1."""

from __future__ import annotations

import codecs


class UndecodableError(ValueError):
    """The bytes are not text (empty or binary)."""


def decode_bytes(data: bytes) -> str:
    """Decode file contents.

    Raises:
        UndecodableError: the file is empty or binary (holds NUL bytes without a UTF-16 BOM).
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
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")
