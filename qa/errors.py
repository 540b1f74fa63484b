"""Typed errors. Every message names the bad value and says how to fix it."""

from __future__ import annotations


class QAError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(QAError):
    """A setting has a value that cannot work."""


class IngestError(QAError):
    """A source could not be read as articles."""


class EmptyCollectionError(IngestError):
    """The sources held no article at all."""


class IndexNotFoundError(QAError):
    """No index exists at the given directory."""


class IndexCorruptError(QAError):
    """An index directory exists but its files are damaged or incomplete."""


class IndexMismatchError(QAError):
    """An index was built with another model, dimension or format than the one asked for."""


class ModelLoadError(QAError):
    """The embedding model could not be loaded."""


class QuestionError(QAError):
    """A question is empty, too long or otherwise not askable."""


class IndexBusyError(QAError):
    """Another indexing run holds the index directory."""


class IndexWriteError(QAError):
    """The index could not be written (full disk, no permission); the previous index is unchanged."""


class StoreError(QAError):
    """A search store (a Milvus server or file) could not be reached or refused an operation."""


class UploadError(QAError):
    """Articles added in the chat could not be taken (nothing given, a session limit reached, the session ended)."""
