"""Build, update and load an index directory: articles, chunks, vectors and a lexical index.

Layout of an index directory::

    DIR/CURRENT                 name of the live generation (replaced atomically)
    DIR/gen-<stamp>/manifest.json   format version, model, dimension, counts, corpus hash, file checksums
    DIR/gen-<stamp>/articles.jsonl  one article a line, with its sentence offsets
    DIR/gen-<stamp>/chunks.jsonl    one chunk a line (article id, start, end); row i <-> vector i
    DIR/gen-<stamp>/vectors.npy     float32 normalized vectors (+ vectors.json, vectors.faiss when approximate)
    DIR/gen-<stamp>/lexical/        bm25s index over title + chunk text

A build writes a whole new generation beside the live one and then replaces `CURRENT`
with `os.replace`, so a crash at any point leaves the previous index readable.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.encoder import Encoder, EncoderError, load_encoder
from embeddings.faiss_index import VectorIndex
from qa.chunk import chunk_article, embedding_text
from qa.config import Settings
from qa.errors import (ConfigError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexWriteError,
                       ModelLoadError)
from qa.lexical import LexicalIndex
from qa.locking import LOCK_FILE, read_live, remove_generation, writer_lock
from qa.text import split_sentences
from qa.types import Article, Chunk, Span

FORMAT_VERSION = 1
CURRENT_FILE = "CURRENT"
MANIFEST_FILE = "manifest.json"
ARTICLES_FILE = "articles.jsonl"
CHUNKS_FILE = "chunks.jsonl"
LEXICAL_DIR = "lexical"


@dataclass(frozen=True)
class UpdateReport:
    """What one `build_index` run did."""

    index_dir: Path
    articles: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    chunks_embedded: int
    files_read: int = 0
    duplicates_merged: int = 0
    skipped: tuple = ()
    shortened: tuple = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class NewsIndex:
    """A loaded index: everything retrieval and extraction need, read-only."""

    path: Path
    manifest: dict
    articles: dict[str, Article]
    chunks: tuple[Chunk, ...]
    sentences: dict[str, tuple[Span, ...]]
    vectors: VectorIndex
    lexical: LexicalIndex
    chunk_rows: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def model_name(self) -> str:
        return self.manifest["model_name"]

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        dates = [a.published for a in self.articles.values() if a.published]
        return (min(dates), max(dates)) if dates else (None, None)


def same_model(a: str, b: str) -> bool:
    """Whether two model names denote the same model ("sentence-transformers/x" == "x")."""
    return a.rstrip("/").split("/")[-1].lower() == b.rstrip("/").split("/")[-1].lower()


def build_index(
    articles: Sequence[Article],
    index_dir: Path,
    *,
    settings: Settings,
    encoder: Encoder | None = None,
    on_progress: Callable[[str], None] | None = None,
    rebuild: bool = False,
    wait: bool = True,
) -> UpdateReport:
    """Create or incrementally update the index at `index_dir` so it holds exactly `articles`.

    Articles whose id and content hash are unchanged keep their chunks and vectors; new
    or edited ones are chunked and embedded; articles no longer given are removed.

    Args:
        articles: the whole collection (already de-duplicated).
        index_dir: the index directory; created if missing.
        settings: chunk sizes, batch size, model name.
        encoder: the encoder to use; by default the one `settings.model_name` names.
        on_progress: receives one-line status messages.
        rebuild: ignore the existing index and embed everything again.
        wait: when another run is writing this index, wait for it (False: IndexBusyError at once).

    Raises:
        IndexBusyError: `wait` is False and another run holds the index directory.
        IndexWriteError: the disk is full or not writable; the previous index is unchanged.
    """
    started = time.perf_counter()
    say = on_progress or (lambda message: None)
    index_dir = Path(index_dir).resolve()  # "idx/../other" is "other", even when "idx" does not exist
    check_index_path(index_dir)
    encoder = encoder or load_encoder(settings.model_name, backend=settings.encoder_backend)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_failure(index_dir, error) from error
    with writer_lock(index_dir, wait=wait, on_wait=say):  # one writer at a time, from planning to cleanup
        check_index_path(index_dir)
        return _update(articles, index_dir, settings=settings, encoder=encoder, say=say, rebuild=rebuild, started=started)


def _update(articles: Sequence[Article], index_dir: Path, *, settings: Settings, encoder: Encoder,
            say: Callable[[str], None], rebuild: bool, started: float) -> UpdateReport:
    notes: list[str] = []
    previous = None
    if not rebuild:
        try:
            previous = load_index(index_dir, settings=settings, check_model=False)
        except IndexNotFoundError:
            previous = None
        except (IndexCorruptError, IndexMismatchError) as error:
            notes.append(f"previous index not reused ({error.args[0].splitlines()[0]})")
            previous = None
    if previous is not None and not same_model(previous.model_name, encoder.name):
        notes.append(f"model changed from {previous.model_name} to {encoder.name}: embedding everything again")
        previous = None
    chunk_config = {"chunk_tokens": settings.chunk_tokens, "chunk_overlap_sentences": settings.chunk_overlap_sentences}
    if previous is not None and previous.manifest.get("chunking") != chunk_config:
        notes.append("chunk settings changed: embedding everything again")
        previous = None

    kept_chunks: list[Chunk] = []
    kept_rows: list[int] = []
    sentences: dict[str, tuple[Span, ...]] = {}
    changed: list[Article] = []
    added = updated = unchanged = 0
    ordered = sorted(articles, key=lambda a: a.id)
    for article in ordered:
        old = previous.articles.get(article.id) if previous else None
        if previous is not None and old is not None and old.content_hash == article.content_hash:
            unchanged += 1
            rows = previous.chunk_rows.get(article.id, ())
            kept_chunks.extend(previous.chunks[r] for r in rows)
            kept_rows.extend(rows)
            sentences[article.id] = previous.sentences[article.id]
            continue
        added, updated = (added + 1, updated) if old is None else (added, updated + 1)
        changed.append(article)
    given = {a.id for a in ordered}
    removed = len([i for i in previous.articles if i not in given]) if previous else 0
    if previous is not None and not changed and not removed and all(previous.articles[a.id] == a for a in ordered):
        return UpdateReport(index_dir=index_dir, articles=len(ordered), chunks=len(kept_chunks), added=0, updated=0, removed=0,
                            unchanged=unchanged, chunks_embedded=0, notes=tuple(notes), seconds=time.perf_counter() - started)

    new_chunks: list[Chunk] = []
    if changed:
        max_tokens = min(settings.chunk_tokens, _encoder_limit(encoder))
        for article in changed:
            spans = split_sentences(article.body)
            sentences[article.id] = tuple(spans)
            new_chunks.extend(chunk_article(article, count_tokens=encoder.count_tokens, max_tokens=max_tokens,
                                            overlap_sentences=settings.chunk_overlap_sentences, sentences=spans,
                                            token_offsets=getattr(encoder, "token_offsets", None)))

    by_id = {a.id: a for a in ordered}
    texts = [embedding_text(by_id[c.article_id], c) for c in new_chunks]
    # An edited article keeps the vectors of the chunks whose embedded text did not change (an edit
    # elsewhere in the body, a new date): unchanged text is never embedded twice.
    reusable: dict[str, int] = {}
    for article in changed:
        old = previous.articles.get(article.id) if previous else None
        if previous is None or old is None:
            continue
        for row in previous.chunk_rows.get(article.id, ()):
            reusable.setdefault(embedding_text(old, previous.chunks[row]), row)
    to_embed = [i for i, text in enumerate(texts) if text not in reusable]
    say(f"embedding {len(to_embed)} new chunks ({len(kept_chunks) + len(new_chunks) - len(to_embed)} reused)")
    embedded = _encode(encoder, [texts[i] for i in to_embed], settings)
    dimension = embedded.shape[1] if len(embedded) else _dimension(encoder, previous)
    new_vectors = np.zeros((len(new_chunks), dimension), np.float32)
    new_vectors[to_embed] = embedded
    for i, text in enumerate(texts):
        if previous is not None and text in reusable:
            new_vectors[i] = previous.vectors.vectors[reusable[text]]
    old_vectors = previous.vectors.vectors[kept_rows] if previous and kept_rows else np.zeros((0, dimension), np.float32)
    chunks = kept_chunks + new_chunks
    vectors = np.concatenate([old_vectors, new_vectors]) if len(new_vectors) else old_vectors

    write_index(index_dir, ordered, chunks, vectors, sentences, model_name=encoder.name, chunking=chunk_config)
    return UpdateReport(
        index_dir=index_dir, articles=len(ordered), chunks=len(chunks), added=added, updated=updated,
        removed=removed, unchanged=unchanged, chunks_embedded=len(to_embed), notes=tuple(notes),
        seconds=time.perf_counter() - started,
    )


def _encoder_limit(encoder: Encoder) -> int:
    try:
        return encoder.max_tokens
    except EncoderError as error:
        raise ModelLoadError(str(error)) from error


def _dimension(encoder: Encoder, previous: NewsIndex | None) -> int:
    return previous.vectors.dimension if previous is not None else encoder.dimension


def _encode(encoder: Encoder, texts: list[str], settings: Settings) -> np.ndarray:
    try:
        return encoder.encode(texts, batch_size=settings.batch_size, progress=settings.show_progress and len(texts) > settings.batch_size)
    except EncoderError as error:
        raise ModelLoadError(str(error)) from error


def write_index(
    index_dir: Path,
    articles: Sequence[Article],
    chunks: Sequence[Chunk],
    vectors: np.ndarray,
    sentences: dict[str, tuple[Span, ...]],
    *,
    model_name: str,
    chunking: dict,
) -> Path:
    """Write a new generation and make it live atomically; returns its directory.

    Call it holding the writer lock (`build_index` does). Raises IndexWriteError when the disk is full
    or not writable; the previous generation then stays live.
    """
    generation = f"gen-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    staging = index_dir / f".tmp-{generation}"
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        staging.mkdir()
        final = _write_generation(index_dir, staging, generation, articles, chunks, vectors, sentences,
                                  model_name=model_name, chunking=chunking)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise _write_failure(index_dir, error) from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_stale(index_dir, keep=generation)
    return final


def _write_generation(index_dir: Path, staging: Path, generation: str, articles: Sequence[Article], chunks: Sequence[Chunk],
                      vectors: np.ndarray, sentences: dict[str, tuple[Span, ...]], *, model_name: str, chunking: dict) -> Path:
    with open(staging / ARTICLES_FILE, "w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(_article_record(article, sentences[article.id]), ensure_ascii=False) + "\n")
    with open(staging / CHUNKS_FILE, "w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps({"id": chunk.id, "article_id": chunk.article_id, "start": chunk.start, "end": chunk.end}) + "\n")
    by_id = {a.id: a for a in articles}
    vector_index = VectorIndex(vectors)
    vector_files = vector_index.save(staging)
    (staging / LEXICAL_DIR).mkdir()
    LexicalIndex.build([embedding_text(by_id[c.article_id], c) for c in chunks]).save(staging / LEXICAL_DIR)
    files = [ARTICLES_FILE, CHUNKS_FILE, *vector_files] + sorted(
        str(p.relative_to(staging)) for p in (staging / LEXICAL_DIR).rglob("*") if p.is_file()
    )
    dates = [a.published for a in articles if a.published]
    manifest = {
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "dimension": int(vectors.shape[1]),
        "counts": {"articles": len(articles), "chunks": len(chunks)},
        "corpus_hash": corpus_hash(articles),
        "chunking": chunking,
        "index_kind": vector_index.kind,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "date_range": [min(dates).isoformat(), max(dates).isoformat()] if dates else None,
        "files": {name: _checksum(staging / name) for name in files},
    }
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    _fsync_tree(staging)
    final = index_dir / generation
    os.replace(staging, final)
    pointer = index_dir / f".tmp-{CURRENT_FILE}-{uuid.uuid4().hex[:8]}"
    pointer.write_text(generation + "\n")
    _fsync_file(pointer)
    os.replace(pointer, index_dir / CURRENT_FILE)
    return final


def _write_failure(index_dir: Path, error: OSError) -> IndexWriteError:
    """The error to report for a failed write: where, why (a full disk named as such), and what to do."""
    try:
        free = shutil.disk_usage(index_dir if index_dir.exists() else index_dir.parent).free
    except OSError:
        free = None
    cause = error.strerror or str(error)
    if error.filename:
        cause += f" ({error.filename})"
    if error.errno == errno.ENOSPC or (error.errno is None and free is not None and free < 1 << 20):
        # numpy and FAISS report a short write as "N requested and M written", with no error number
        if error.errno != errno.ENOSPC:
            cause = f"the disk is full ({cause})"
        advice = f"free some disk space ({free:,} bytes free) or give --index a folder on another disk, then run `qa index` again"
    elif error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        advice = "make the folder writable or give --index another folder, then run `qa index` again"
    else:
        advice = "fix the cause and run `qa index` again"
    return IndexWriteError(f"cannot write the index at {index_dir}: {cause}: {advice}; the previous index, if any, is unchanged")


def _remove_stale(index_dir: Path, *, keep: str) -> None:
    """Remove generations and leftovers nothing refers to: never the live one, never one a reader holds.

    Runs under the writer lock, so `.tmp-*` entries are the leftovers of killed runs and `CURRENT` cannot move.
    """
    live = {keep}
    with contextlib.suppress(OSError, ValueError):
        live.add((index_dir / CURRENT_FILE).read_text(encoding="utf-8").strip())
    for entry in index_dir.iterdir():
        if entry.name in live:
            continue
        if entry.name.startswith("gen-") and entry.is_dir() and not entry.is_symlink():
            remove_generation(entry)  # leaves it in place while a reader holds a lease on it
        elif entry.name.startswith(".tmp-"):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            _fsync_file(path)


def _checksum(path: Path) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def corpus_hash(articles: Sequence[Article]) -> str:
    """A hash of the whole collection's content: equal hashes, equal collections."""
    digest = hashlib.sha256()
    for article in sorted(articles, key=lambda a: a.id):
        digest.update(f"{article.id}\0{article.content_hash}\n".encode())
    return digest.hexdigest()


def _article_record(article: Article, sentences: tuple[Span, ...]) -> dict:
    return {
        "id": article.id, "title": article.title, "body": article.body,
        "published": article.published.isoformat() if article.published else None,
        "sources": list(article.sources), "url": article.url, "truncated": article.truncated,
        "content_hash": article.content_hash, "sentences": [[s.start, s.end] for s in sentences],
    }


def check_index_path(index_dir: Path) -> None:
    """Refuse an index path that is (or lies under) a file, or a non-empty folder that holds no index.

    Building writes only `CURRENT`, `.lock`, `gen-*` and `.tmp-*` entries inside the index directory
    and removes old ones, so a folder holding anything else is not ours to write in.
    """
    existing = next((path for path in (index_dir, *index_dir.parents) if path.exists()), None)
    if existing is not None and not existing.is_dir():
        raise ConfigError(f"cannot put an index at {index_dir}: {existing} is a file, not a directory; "
                          "give --index a new directory or an existing index directory")
    if index_dir.is_dir() and not (index_dir / CURRENT_FILE).exists():
        foreign = sorted(p.name for p in index_dir.iterdir() if p.name != LOCK_FILE and not p.name.startswith(("gen-", ".tmp-")))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ConfigError(f"{index_dir} is not empty and holds no index (it has {shown}): give --index a new "
                              "or empty directory, or an existing index directory")


_GENERATION_NAME = re.compile(r"gen-[\w-]+", re.ASCII)
RESOLVE_ATTEMPTS = 5  # re-reads of CURRENT when the generation it named was replaced and removed meanwhile


def live_generation(index_dir: Path) -> Path:
    """The directory of the live generation, or IndexNotFoundError / IndexCorruptError."""
    index_dir = Path(index_dir).resolve()
    rebuild_hint = f"rebuild it with `qa index SOURCE... --index {index_dir} --rebuild`"
    pointer = index_dir / CURRENT_FILE
    try:
        if index_dir.exists() and not index_dir.is_dir():
            raise IndexNotFoundError(f"no index at {index_dir}: it is a file; give --index an index directory built with `qa index`")
        if not pointer.is_file():
            orphans = _complete_generations(index_dir)
            if orphans:  # CURRENT deleted, or a first build killed before it was written: not "no index"
                raise IndexCorruptError(f"index at {index_dir} is damaged: it has no {CURRENT_FILE} file but holds {orphans[0]}"
                                        f"{' and others' if len(orphans) > 1 else ''}: {rebuild_hint}")
            raise IndexNotFoundError(f"no index at {index_dir}: build one with `qa index SOURCE... --index {index_dir}`")
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
        for _ in range(RESOLVE_ATTEMPTS):
            generation = index_dir / name
            if not _GENERATION_NAME.fullmatch(name) or generation.is_symlink():  # never follow a pointer out of the directory
                raise IndexCorruptError(f"index at {index_dir} is damaged ({CURRENT_FILE} names {name[:40]!r}, not a "
                                        f"generation directory of the index): {rebuild_hint}")
            if (generation / MANIFEST_FILE).is_file():
                break
            # Gone: damage, unless a re-index switched CURRENT and removed it since CURRENT was read.
            name, previous = pointer.read_text(encoding="utf-8", errors="replace").strip(), name
            if name == previous:
                raise IndexCorruptError(f"index at {index_dir} is incomplete ({generation.name} has no manifest): {rebuild_hint}")
        else:
            raise IndexCorruptError(f"the index at {index_dir} switched generations {RESOLVE_ATTEMPTS} times while "
                                    "it was being opened: try again once indexing has finished")
    except OSError as error:  # unreadable folder or pointer
        raise IndexCorruptError(f"cannot read the index at {index_dir} ({error.strerror or error}): check its permissions, "
                                f"or {rebuild_hint}") from error
    return generation


def _complete_generations(index_dir: Path) -> list[str]:
    if not index_dir.is_dir():
        return []
    return sorted(p.name for p in index_dir.iterdir() if _GENERATION_NAME.fullmatch(p.name) and (p / MANIFEST_FILE).is_file())


def load_index(index_dir: Path, *, settings: Settings, check_model: bool = True, verify: bool = True) -> NewsIndex:
    """Load the live generation of an index directory, consistently even while it is being replaced.

    `CURRENT` is read once and that generation is loaded under a lease, so no cleanup removes it
    mid-load; if it was replaced and removed before the lease was taken, the new one is loaded.

    Raises:
        IndexNotFoundError: nothing was built there.
        IndexCorruptError: files are missing, truncated, altered or unreadable.
        IndexMismatchError: built with another format or model than `settings.model_name`.
    """
    return read_live(lambda: live_generation(index_dir),
                     lambda generation: _load_generation(generation, index_dir, settings=settings, check_model=check_model,
                                                         verify=verify))


def _load_generation(generation: Path, index_dir: Path, *, settings: Settings, check_model: bool, verify: bool) -> NewsIndex:
    rebuild_hint = f"rebuild it with `qa index SOURCE... --index {index_dir} --rebuild`"
    try:
        manifest = json.loads((generation / MANIFEST_FILE).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict) or "model_name" not in manifest:
            raise ValueError("not an index manifest")
    except (OSError, ValueError) as error:  # ValueError: invalid JSON or UTF-8
        raise IndexCorruptError(f"index manifest at {generation} is unreadable ({error}): {rebuild_hint}") from error
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(f"index at {index_dir} has format version {manifest.get('format_version')}, this program reads {FORMAT_VERSION}: {rebuild_hint}")
    if check_model and not same_model(manifest["model_name"], settings.model_name):
        raise IndexMismatchError(
            f"index at {index_dir} was built with model {manifest['model_name']!r} but {settings.model_name!r} is configured: "
            f"set QA_MODEL_NAME={manifest['model_name']} (or --model) or {rebuild_hint}"
        )
    if verify:
        _verify_files(generation, manifest["files"], rebuild_hint)
    try:
        articles, sentences = {}, {}
        for line in _jsonl_lines(generation / ARTICLES_FILE):
            record = json.loads(line)
            spans = tuple(Span(s, e) for s, e in record.pop("sentences"))
            published = record.pop("published")
            record["published"] = dt.date.fromisoformat(published) if published else None
            record["sources"] = tuple(record["sources"])
            articles[record["id"]] = Article(**record)
            sentences[record["id"]] = spans
        chunks: list[Chunk] = []
        rows: dict[str, list[int]] = {}
        for row, line in enumerate(_jsonl_lines(generation / CHUNKS_FILE)):
            record = json.loads(line)
            body = articles[record["article_id"]].body
            chunks.append(Chunk(id=record["id"], article_id=record["article_id"], text=body[record["start"]:record["end"]],
                                start=record["start"], end=record["end"]))
            rows.setdefault(record["article_id"], []).append(row)
        vectors = VectorIndex.load(generation)
        lexical = LexicalIndex.load(generation / LEXICAL_DIR, count=len(chunks))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as error:  # RuntimeError: FAISS cannot read its file
        raise IndexCorruptError(f"index at {generation} could not be read ({error}): {rebuild_hint}") from error
    if vectors.count != len(chunks) or vectors.dimension != manifest["dimension"]:
        raise IndexCorruptError(f"index at {generation} has {vectors.count} vectors for {len(chunks)} chunks: {rebuild_hint}")
    return NewsIndex(
        path=generation, manifest=manifest, articles=articles, chunks=tuple(chunks), sentences=sentences,
        vectors=vectors, lexical=lexical, chunk_rows={k: tuple(v) for k, v in rows.items()},
    )


def _verify_files(generation: Path, files: dict, rebuild_hint: str) -> None:
    """Every file of the generation is listed in the manifest with its checksum, and matches it.

    A manifest that leaves files out (an emptied `files` map) or lists files that are not there, and
    any symbolic link inside the generation, are damage: nothing is read that was not checked.
    """
    try:
        present = {str(path.relative_to(generation)): path for path in generation.rglob("*")
                   if path.is_symlink() or path.is_file()}
        present.pop(MANIFEST_FILE, None)
        unlisted = sorted(set(present) - set(files)) or sorted({ARTICLES_FILE, CHUNKS_FILE} - set(files))
        if unlisted:
            raise IndexCorruptError(f"index file {generation / unlisted[0]} has no checksum in the manifest: {rebuild_hint}")
        for name, expected in files.items():
            path = present.get(name)
            if path is None or path.is_symlink() or _checksum(path) != expected:
                raise IndexCorruptError(f"index file {generation / name} is missing or damaged: {rebuild_hint}")
    except OSError as error:
        raise IndexCorruptError(f"index file {error.filename or generation} could not be read ({error.strerror or error}): "
                                f"{rebuild_hint}") from error


def check_dimension(index: NewsIndex, encoder: Encoder) -> None:
    """Fail clearly when the encoder's vectors cannot be compared with the index's."""
    if encoder.dimension != index.vectors.dimension:
        raise IndexMismatchError(
            f"index at {index.path.parent} holds {index.vectors.dimension}-d vectors but model {encoder.name!r} makes "
            f"{encoder.dimension}-d ones: use the model it was built with ({index.model_name}) or rebuild the index"
        )


def _jsonl_lines(path: Path) -> list[str]:
    """The records of a JSONL file written here. Split on "\n" only: `str.splitlines` would also split inside a
    record at characters JSON leaves unescaped, such as U+2028 LINE SEPARATOR or U+0085 in an article's body."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
