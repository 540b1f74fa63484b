"""Read files and folders of news into de-duplicated articles: the ingest entry point."""

from __future__ import annotations

import gzip
import io
import os
import sys
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import MappingProxyType

from qa.errors import EmptyCollectionError, IngestError
from qa.ingest.decode import UndecodableError, decode_bytes
from qa.ingest.dedupe import merge_duplicates
from qa.ingest.feeds import read_feed
from qa.ingest.files import read_text_article
from qa.ingest.html_pages import read_html
from qa.ingest.identity import disambiguate_ids, make_article
from qa.ingest.outcome import Parsed, Shortened, Skipped, skip_file
from qa.ingest.pages import is_search_page, read_search_page
from qa.ingest.records import read_csv, read_json, read_jsonl
from qa.types import Article

__all__ = ["ACCEPTED_FORMATS", "MAX_BODY_CHARS", "PACKED_FORMATS", "IngestResult", "Shortened", "Skipped", "cap_lengths", "list_files", "read_file", "read_sources"]

# Size policy: a body longer than this (about 150,000 words, ten times the longest news features) is
# not one article but a dump; it is cut at a paragraph, sentence or word boundary, flagged
# `truncated`, and the cut is reported. Titles are cut the same way at `MAX_TITLE_CHARS`.
MAX_BODY_CHARS = 1_000_000
MAX_TITLE_CHARS = 1_000
# A gzip file or zip archive is unpacked in memory; past this it is more likely a mistake (or a zip bomb) than an archive
# to read at once.
MAX_UNPACKED_BYTES = 2_000_000_000

ACCEPTED_FORMATS = MappingProxyType({
    ".txt": "one article, or a saved search-result page",
    ".md": "one markdown article",
    ".markdown": "one markdown article",
    ".jsonl": "one JSON record per line",
    ".ndjson": "one JSON record per line",
    ".json": "a list of JSON records",
    ".csv": "records with a header row",
    ".html": "a saved article page",
    ".htm": "a saved article page",
    ".rss": "an RSS or Atom feed, one article per entry",
    ".atom": "an RSS or Atom feed, one article per entry",
    ".xml": "an RSS or Atom feed, one article per entry",
    ".gz": "any of these compressed with gzip (news.jsonl.gz)",
    ".zip": "a zip archive of any of these",
})
# Formats that hold other files; the chat's upload refuses them, since its limits count the bytes uploaded.
PACKED_FORMATS = frozenset({".gz", ".zip"})
_HINT = (
    "accepted: .txt (one article, or a saved search-result page), .md (one article, title on "
    "the first line), .json/.jsonl/.csv (records with 'title' and 'body'/'text'/'content'), "
    ".html/.htm (saved article pages), .rss/.atom/.xml (feeds), and any of these gzipped (.gz) or in a .zip archive"
)


@dataclass(frozen=True)
class IngestResult:
    """The articles read from some sources, and everything that was not read.

    `files_read` counts every file looked at, including skipped ones; `shortened` lists the
    articles that were read but cut to the size limit.
    """

    articles: tuple[Article, ...]
    files_read: int
    skipped: tuple[Skipped, ...]
    duplicates_merged: int
    shortened: tuple[Shortened, ...] = ()


def read_sources(paths: Sequence[str | Path] | str | Path, *, progress: bool = False) -> IngestResult:
    """Read files and folders (walked recursively, sorted, hidden entries skipped) as articles.

    Args:
        paths: files or directories; a single path is accepted too.
        progress: show a progress bar over files on stderr.

    Returns:
        De-duplicated articles sorted by id, with every skipped file or record listed.

    Raises:
        IngestError: a path does not exist.
        EmptyCollectionError: no article could be read at all.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = list_files(paths)
    results = [cap_lengths(read_file(shown, path), shown) for shown, path in _track(files, progress)]
    skipped = tuple(entry for result in results for entry in result.skipped)
    merged, duplicates = merge_duplicates([a for result in results for a in result.articles])
    articles = tuple(sorted(disambiguate_ids(merged), key=lambda a: (a.id, a.content_hash)))
    if not articles:
        where = ", ".join(str(p) for p in paths) or "(no paths given)"
        detail = f"; first problem: {skipped[0]}" if skipped else ""
        raise EmptyCollectionError(
            f"no articles found in {where} ({len(files)} files, {len(skipped)} skipped{detail}); {_HINT}"
        )
    shortened = tuple(entry for result in results for entry in result.shortened)
    return IngestResult(articles, len(files), skipped, duplicates, shortened)


def list_files(paths: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """Expand paths to `(path as shown, path)` pairs; each file once, in a stable order.

    Raises:
        IngestError: a path does not exist, or is an index directory.
    """
    for given in paths:
        if not Path(given).exists():
            raise IngestError(f"no such file or directory: {str(given)!r}; check the path ({_HINT})")
        if Path(given).is_dir() and is_index_dir(Path(given)):
            raise IngestError(f"{str(given)!r} is an index built by `qa index`, not a folder of articles: "
                              "give the article files or folders to index instead")
    files: list[tuple[str, Path]] = []
    seen: set[Path] = set()
    for given in paths:
        root = Path(given)
        found = [root] if not root.is_dir() else _walk(root)
        for path in found:
            try:
                key = path.resolve()
            except (OSError, RuntimeError):  # a symbolic link loop: read_file reports it
                key = Path(os.path.abspath(path))
            if key not in seen:
                seen.add(key)
                files.append((str(path), path))
    return files


def read_file(shown: str, path: Path) -> Parsed:
    """Read one file by its extension (and, for `.txt`, its content); never raises for bad files."""
    if path.is_symlink() and not path.exists():
        return skip_file(shown, "a symbolic link that leads nowhere (its target is missing, or it loops back on itself)")
    if path.is_dir():  # listed by `_walk` because it cannot be walked
        if path.is_symlink():
            return skip_file(shown, f"a symbolic link to a folder ({os.path.realpath(path)}): not followed; "
                                    "give that folder as a source to index it")
        try:
            os.listdir(path)
        except OSError as exc:
            return skip_file(shown, f"cannot read the folder: {exc.strerror or exc}")
        return skip_file(shown, "a folder that could not be walked")
    extension = path.suffix.casefold()
    if extension not in ACCEPTED_FORMATS:
        return skip_file(shown, f"{_unsupported(extension)}; {_HINT}")
    if not path.is_file():
        return skip_file(shown, "not a regular file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return skip_file(shown, f"cannot read the file: {exc.strerror or exc}")
    if extension == ".gz":
        extension = Path(path.stem).suffix.casefold()
        if extension not in ACCEPTED_FORMATS or extension == ".gz":
            return skip_file(shown, f"a gzip file must name what it holds ({path.stem}.gz: .jsonl.gz, .csv.gz, ...); {_HINT}")
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as unpacked:
                data = unpacked.read(MAX_UNPACKED_BYTES + 1)
        except (OSError, EOFError, zlib.error) as exc:
            return skip_file(shown, f"not a readable gzip file: {exc}")
        if len(data) > MAX_UNPACKED_BYTES:
            return skip_file(shown, f"unpacks to more than {MAX_UNPACKED_BYTES:,} bytes: split it into smaller files")
    if extension == ".zip":
        return read_zip(shown, data)
    return read_contents(shown, extension, data)


def read_zip(shown: str, data: bytes) -> Parsed:
    """Every accepted file inside a zip archive, each named `archive.zip/inner/path`; hidden entries are left out as
    when walking a folder, and archives inside it are not opened."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        return skip_file(shown, f"not a readable zip file: {exc}")
    results: list[Parsed] = []
    unpacked = 0
    with archive:
        members = sorted((m for m in archive.infolist() if not m.is_dir()), key=lambda m: PurePosixPath(m.filename).parts)
        for member in members:
            inner = PurePosixPath(member.filename)
            if any(part.startswith(".") or part == "__MACOSX" for part in inner.parts):
                continue
            name = f"{shown}/{member.filename}"
            extension = inner.suffix.casefold()
            if extension not in ACCEPTED_FORMATS or extension in PACKED_FORMATS:
                results.append(skip_file(name, f"{_unsupported(extension)} inside a zip archive; {_HINT}"))
                continue
            try:
                with archive.open(member) as handle:
                    content = handle.read(MAX_UNPACKED_BYTES - unpacked + 1)
            except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError, zlib.error) as exc:
                results.append(skip_file(name, f"cannot unpack it: {exc}"))  # encrypted, damaged, unknown compression
                continue
            unpacked += len(content)
            if unpacked > MAX_UNPACKED_BYTES:
                results.append(skip_file(shown, f"unpacks to more than {MAX_UNPACKED_BYTES:,} bytes: the files from "
                                                f"{member.filename} on were not read; split the archive"))
                break
            results.append(read_contents(name, extension, content))
    if not results:
        return skip_file(shown, "a zip archive with no files in it (hidden entries are left out)")
    return Parsed(tuple(a for r in results for a in r.articles), tuple(s for r in results for s in r.skipped),
                  tuple(n for r in results for n in r.shortened))


def _unsupported(extension: str) -> str:
    return f"unsupported extension {extension}" if extension else "no file extension"


def read_contents(shown: str, extension: str, data: bytes) -> Parsed:
    """Articles from the bytes of a file of the given (accepted, lower-case) extension."""
    if extension in {".rss", ".atom", ".xml"}:
        if not data.strip():
            return skip_file(shown, "empty file (only whitespace)" if data else "empty file")
        return read_feed(data, shown)
    try:
        text = decode_bytes(data)
    except UndecodableError as exc:
        return skip_file(shown, str(exc))
    if not text.strip():
        return skip_file(shown, "empty file (only whitespace)")
    if extension in {".html", ".htm"}:
        return read_html(data, shown)
    if extension in {".jsonl", ".ndjson"}:
        return read_jsonl(text, shown)
    if extension == ".json":
        return read_json(text, shown)
    if extension == ".csv":
        return read_csv(text, shown)
    if extension == ".txt" and is_search_page(text):
        return read_search_page(text, shown)
    return read_text_article(text, shown, markdown=extension in {".md", ".markdown"})


def cap_lengths(parsed: Parsed, source: str) -> Parsed:
    """Articles with bodies and titles cut to `MAX_BODY_CHARS`/`MAX_TITLE_CHARS`, each cut reported."""
    def fits(article: Article) -> bool:
        return len(article.body) <= MAX_BODY_CHARS and len(article.title) <= MAX_TITLE_CHARS

    if all(map(fits, parsed.articles)):
        return parsed
    articles: list[Article] = []
    notes: list[Shortened] = []
    for article in parsed.articles:
        if fits(article):
            articles.append(article)
            continue
        title = cut_text(article.title, MAX_TITLE_CHARS)
        body = cut_text(article.body, MAX_BODY_CHARS)
        articles.append(make_article(title, body, sources=article.sources, published=article.published,
                                     url=article.url, truncated=article.truncated or body != article.body))
        for part, kept, full, limit in (("title", title, article.title, MAX_TITLE_CHARS), ("body", body, article.body, MAX_BODY_CHARS)):
            if kept != full:
                notes.append(Shortened(source, f"the {part} of article {title[:60]!r} is {len(full):,} characters long: "
                                             f"only its first {len(kept):,} were kept (limit {limit:,})"))
    return Parsed(tuple(articles), parsed.skipped, parsed.shortened + tuple(notes))


def cut_text(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its longest prefix ending at a paragraph, sentence or word end."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    for separator, keep in (("\n", 0), (". ", 1), (" ", 0)):
        at = head.rfind(separator)
        if at >= limit // 2:
            return head[: at + keep].rstrip()
    return head.rstrip()


def _walk(root: Path) -> list[Path]:
    """The files under `root`, and the folders that cannot be walked (unreadable ones, symbolic links to
    folders, which are not followed) so that `read_file` reports them instead of dropping them silently."""
    found: list[Path] = []
    unreadable: list[OSError] = []
    for directory, subdirectories, names in os.walk(root, onerror=unreadable.append):
        visible = [d for d in subdirectories if not d.startswith(".") and not is_index_dir(Path(directory) / d)]
        found.extend(Path(directory) / d for d in visible if (Path(directory) / d).is_symlink())
        subdirectories[:] = sorted(d for d in visible if not (Path(directory) / d).is_symlink())
        found.extend(Path(directory) / name for name in sorted(names) if not name.startswith("."))
    found.extend(Path(error.filename) for error in unreadable if error.filename)
    return sorted(set(found), key=lambda p: p.relative_to(root).parts)


def is_index_dir(path: Path) -> bool:
    """Whether a folder is an index built by `qa index` (an index kept inside a source folder is not read as articles)."""
    try:
        return (path / "CURRENT").is_file() and any(child.name.startswith("gen-") for child in path.iterdir())
    except OSError:  # unreadable: not an index we could use; `_walk` reports it
        return False


def _track(files: list[tuple[str, Path]], progress: bool) -> Iterable[tuple[str, Path]]:
    if not progress:
        return files
    from tqdm import tqdm

    return tqdm(files, desc="reading", unit="file", file=sys.stderr)
