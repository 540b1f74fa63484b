"""Milvus store: chunks with a dense vector and a BM25 sparse field in one collection, article records beside it.

The same code runs on Milvus Lite (a local `.db` file) and a Milvus server or cluster (`http://host:19530`,
token from `QA_MILVUS_TOKEN` or `QA_MILVUS_USER`/`QA_MILVUS_PASSWORD`). Install with `pip install 'qa-news[milvus]'`.

Collections of an index named N (`Settings.milvus_collection`):

    N            one row a chunk: article id, article content hash, offsets, date (days), the chunk's lexical
                 tokens (BM25 sparse vector made by Milvus's own BM25 function) and its dense vector
    N_articles   article records (the JSON `qa.index` writes to articles.jsonl, sentence offsets included),
                 split into rows of at most RECORD_PIECE characters; the row `~meta` holds model, dimension,
                 chunking and whether a write was interrupted

Writes follow one rule, so an interrupted run never leaves an article half-visible: an article's chunks
are written first, then its record, which makes the new version live (search keeps only chunks whose
content hash equals their record's); old chunks are deleted after. A rerun finds the records written,
skips those articles by content hash and sweeps what an interrupted run left behind.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.encoder import Encoder, EncoderError, load_encoder
from qa.chunk import chunk_article, embedding_text
from qa.config import Settings
from qa.errors import (
    ConfigError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
    ModelLoadError,
    StoreError,
)
from qa.index import UpdateReport, _article_record, corpus_hash, same_model
from qa.retrieve import fuse
from qa.store import MILVUS_SCHEMES, DateRestriction
from qa.text import content_terms, split_sentences
from qa.types import Article, Chunk, Hit, Span

FORMAT_VERSION = 1
META_ID = "~meta"  # article ids are hex digests, so this never names an article
RECORD_PIECE = 60_000  # characters of a record's ASCII JSON per row; a VARCHAR holds at most 65,535 bytes
ESCAPE = "q0x"  # lexical tokens that Milvus's standard tokenizer would split are written as ESCAPE + hex
EMPTY_TOKEN = ESCAPE  # the token of a chunk with no content word (as bm25s indexes such a chunk as one empty token)
CHUNK_FIELDS = ["article_id", "content_hash", "start", "end", "dense"]
RECORD_FIELDS = ["article_id", "part", "parts", "content_hash", "record_hash", "record"]
CACHED_ARTICLES = 4096  # article records kept in memory between questions
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def lexical_token(term: str) -> str:
    """A stemmed term as one token of Milvus's standard analyzer: plain when it is lower-case letters and
    digits, else hex-escaped (an apostrophe or a non-Latin letter would be split or folded otherwise)."""
    if term and set(term) <= _PLAIN and not term.startswith(ESCAPE):
        return term
    return ESCAPE + term.encode("utf-8").hex()


def lexical_text(text: str) -> str:
    """The BM25 tokens of a text, as Milvus indexes them: the same content terms bm25s gets in the FAISS store."""
    return " ".join(lexical_token(term) for term in content_terms(text))


def record_hash(article: Article) -> str:
    """A hash of everything an article record holds (its sentences derive from the body)."""
    fields = [article.id, article.title, article.body, article.published.isoformat() if article.published else "",
              "\x1f".join(article.sources), article.url or "", str(article.truncated), article.content_hash]
    return hashlib.sha1("\0".join(fields).encode("utf-8")).hexdigest()


def _quoted(values: Iterable[str]) -> str:
    return json.dumps(list(values))  # a Milvus list literal of double-quoted strings


@contextmanager
def _milvus_errors(what: str, store: str):
    """Milvus and connection failures as StoreError, with what was being done and where."""
    try:
        yield
    except (StoreError, IndexNotFoundError, IndexCorruptError, IndexMismatchError, ConfigError):
        raise
    except Exception as error:  # MilvusException, grpc errors, connection refused
        if type(error).__module__.split(".")[0] not in ("pymilvus", "grpc", "milvus_lite") and not isinstance(error, OSError):
            raise
        message = " ".join(str(error).split())[:300]
        raise StoreError(f"Milvus store {store} failed to {what} ({message}): check that the server runs and "
                         "QA_MILVUS_TOKEN (or QA_MILVUS_USER and QA_MILVUS_PASSWORD) is right, or that no other "
                         "process holds the Milvus Lite file") from error


def _client(settings: Settings, *, create: bool) -> tuple[Any, str]:
    """A MilvusClient for `settings.store` and the location to show (the resolved file for Milvus Lite)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ConfigError(f"--store {settings.store} needs Milvus: pip install 'qa-news[milvus]'") from None
    uri = settings.store
    kwargs: dict[str, str] = {}
    if uri.lower().startswith(MILVUS_SCHEMES):
        if os.environ.get("QA_MILVUS_TOKEN"):
            kwargs["token"] = os.environ["QA_MILVUS_TOKEN"]
        elif os.environ.get("QA_MILVUS_USER"):
            kwargs.update(user=os.environ["QA_MILVUS_USER"], password=os.environ.get("QA_MILVUS_PASSWORD", ""))
    else:
        path = Path(uri).expanduser().resolve()
        if not path.exists() and not create:
            raise IndexNotFoundError(f"no Milvus Lite store at {path}: build one with `qa index SOURCE... --store {uri}`")
        path.parent.mkdir(parents=True, exist_ok=True)
        uri = str(path)
    # Milvus Lite starts a local server per file; on a busy machine its first connection can be refused
    # ("too many pings", "fail connecting"), so a local file gets two more tries before the error is reported.
    tries = 1 if uri.lower().startswith(MILVUS_SCHEMES) else 3
    for attempt in range(1, tries + 1):
        try:
            with _milvus_errors("connect", uri):
                return MilvusClient(uri=uri, **kwargs), uri
        except StoreError:
            if attempt == tries:
                raise
            time.sleep(attempt)
    raise AssertionError("unreachable")


class _Names:
    def __init__(self, base: str) -> None:
        self.chunks = base
        self.records = f"{base}_articles"


def _read_meta(client: Any, names: _Names) -> dict | None:
    """The index's meta row; None when there is no index, {} when the collections exist but are not one of ours."""
    present = [name for name in (names.chunks, names.records) if client.has_collection(name)]
    if len(present) < 2:
        return {} if present and not _ours(client, present[0]) else None
    # A Milvus Lite file opened by a new process has its collections released: reads fail until they are loaded.
    for name in present:
        client.load_collection(name)
    rows = client.get(names.records, ids=[_head_key(META_ID)], output_fields=["record"])
    return json.loads(rows[0]["record"]) if rows else {}


def _ours(client: Any, collection: str) -> bool:
    fields = {field["name"] for field in client.describe_collection(collection)["fields"]}
    return {"article_id", "content_hash"} <= fields


def _meta_row(meta: dict) -> dict:
    return {"pk": _head_key(META_ID), "article_id": META_ID, "part": 0, "parts": 1, "content_hash": "", "record_hash": "",
            "published": None, "record": json.dumps(meta), "placeholder": [1.0, 0.0]}


def _article_from_record(record: dict) -> tuple[Article, tuple[Span, ...]]:
    spans = tuple(Span(s, e) for s, e in record.pop("sentences"))
    published = record.pop("published")
    record["published"] = dt.date.fromisoformat(published) if published else None
    record["sources"] = tuple(record["sources"])
    return Article(**record), spans


def _assemble(rows: Sequence[dict]) -> dict[str, tuple[Article, tuple[Span, ...]]]:
    """Article records from their rows; an article whose pieces are not all there (a write cut short) is left out."""
    by_article: dict[str, list[dict]] = {}
    for row in rows:
        by_article.setdefault(row["article_id"], []).append(row)
    out = {}
    for article_id, parts in by_article.items():
        head = next((row for row in parts if row["part"] == 0), None)
        if head is None or article_id == META_ID:
            continue
        pieces = {row["part"]: row["record"] for row in parts if row["part"] == 0 or row["record_hash"] == head["record_hash"]}
        if sorted(pieces) != list(range(head["parts"])):
            continue
        try:
            out[article_id] = _article_from_record(json.loads("".join(pieces[i] for i in range(head["parts"]))))
        except (ValueError, KeyError, TypeError) as error:
            raise IndexCorruptError(f"article record {article_id} in the Milvus store is unreadable ({error}): "
                                    "rebuild it with `qa index SOURCE... --store URI --rebuild`") from error
    return out


class MilvusStore:
    """An index in Milvus, read for answering. Safe to share between threads."""

    def __init__(self, client: Any, *, settings: Settings, location: str, meta: dict, chunk_count: int) -> None:
        self._client = client
        self._settings = settings
        self._names = _Names(settings.milvus_collection)
        self._location = location
        self.meta = meta
        self._chunk_count = chunk_count
        self._lock = threading.Lock()
        self._records: OrderedDict[str, tuple[Article, tuple[Span, ...]]] = OrderedDict()
        self._document_frequency: dict[str, int] = {}

    @classmethod
    def open(cls, settings: Settings, *, check_model: bool = True) -> MilvusStore:
        """The index in the Milvus store `settings.store`, collection `settings.milvus_collection`.

        Raises:
            IndexNotFoundError: nothing was built there.
            IndexMismatchError: built with another format or model than `settings.model_name`.
            StoreError: the server cannot be reached or refuses.
        """
        client, location = _client(settings, create=False)
        names = _Names(settings.milvus_collection)
        hint = f"`qa index SOURCE... --store {settings.store}`"
        with _milvus_errors("open the index", location):
            meta = _read_meta(client, names)
            if not meta:
                raise IndexNotFoundError(f"no index named {names.chunks} in the Milvus store {location}: build one with {hint}")
            if meta.get("format_version") != FORMAT_VERSION:
                raise IndexMismatchError(f"the Milvus index {names.chunks} has format version {meta.get('format_version')}, "
                                         f"this program reads {FORMAT_VERSION}: rebuild it with {hint} --rebuild")
            if check_model and not same_model(meta["model_name"], settings.model_name):
                raise IndexMismatchError(
                    f"the Milvus index {names.chunks} was built with model {meta['model_name']!r} but {settings.model_name!r} "
                    f"is configured: set QA_MODEL_NAME={meta['model_name']} (or --model) or rebuild it with {hint} --rebuild")
            chunk_count = _count(client, names.chunks, "")
        return cls(client, settings=settings, location=location, meta=meta, chunk_count=chunk_count)

    @property
    def model_name(self) -> str:
        return self.meta["model_name"]

    @property
    def dimension(self) -> int:
        return int(self.meta["dimension"])

    @property
    def location(self) -> str:
        return self._location

    def counts(self) -> tuple[int, int]:
        with _milvus_errors("count", self._location):
            return _count(self._client, self._names.records, f'part == 0 and article_id != "{META_ID}"'), self._chunk_count

    def date_range(self) -> tuple[dt.date | None, dt.date | None]:
        dates = self.meta.get("date_range")
        return (dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[1])) if dates else (None, None)

    def articles(self) -> Iterator[Article]:
        with _milvus_errors("read article records", self._location):
            ids = [row["article_id"] for row in _iterate(self._client, self._names.records, ["article_id"],
                                                         f'part == 0 and article_id != "{META_ID}"')]
        for start in range(0, len(ids), 100):
            for article, _ in self._fetch(ids[start:start + 100]).values():
                yield article

    def restrict(self, since: dt.date | None, until: dt.date | None) -> DateRestriction | None:
        if since is None and until is None:
            return None
        parts = ([f"published >= {since.toordinal()}"] if since else []) + ([f"published <= {until.toordinal()}"] if until else [])
        expression = " and ".join(parts)  # undated rows hold null, which no comparison matches
        with _milvus_errors("filter by date", self._location):
            matching = _count(self._client, self._names.records, f"part == 0 and {expression}")
        return DateRestriction(since, until, empty=matching == 0, prepared=expression)

    def search(self, vector: np.ndarray, text: str, *, settings: Settings, top_k: int,
               restriction: DateRestriction | None = None) -> list[Hit]:
        """Hybrid search inside Milvus (dense and BM25 fused by RRFRanker), then the article records of the best chunks."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expression = restriction.prepared if restriction is not None else ""
        query_vector = np.asarray(vector, dtype=np.float32)
        tokens = lexical_text(text)
        requests = [AnnSearchRequest(data=[query_vector.tolist()], anns_field="dense", param={"metric_type": "IP"},
                                     limit=settings.dense_candidates, expr=expression)]
        if tokens:
            requests.append(AnnSearchRequest(data=[tokens], anns_field="sparse", param={"metric_type": "BM25"},
                                             limit=settings.lexical_candidates, expr=expression))
        with _milvus_errors("search", self._location):
            known_lexical: dict[str, float] = {}  # BM25 scores the search itself returned, by chunk key
            if settings.fusion == "rrf":
                found = self._client.hybrid_search(self._names.chunks, requests, RRFRanker(settings.rrf_k),
                                                   limit=settings.dense_candidates + settings.lexical_candidates,
                                                   output_fields=CHUNK_FIELDS)[0]
                candidates = [dict(hit["entity"], pk=hit["pk"], fused=float(hit["distance"])) for hit in found]
            else:  # the same convex fusion as the FAISS store, over the two candidate lists Milvus returns
                dense_found, *lexical_found = [
                    self._client.search(self._names.chunks, data=request.data, anns_field=request.anns_field, search_params=request.param,
                                        limit=request.limit, filter=expression, output_fields=CHUNK_FIELDS)[0]
                    for request in requests]
                entities = {hit["pk"]: hit["entity"] for found in (dense_found, *lexical_found) for hit in found}
                # abs: Milvus Lite reports BM25 as a negative distance, a server as a positive score (as `_lexical_scores`).
                known_lexical = {hit["pk"]: abs(float(hit["distance"])) for found in lexical_found for hit in found}
                fused = fuse({hit["pk"]: float(hit["distance"]) for hit in dense_found}, known_lexical, settings)
                candidates = [dict(entities[pk], pk=pk, fused=score) for pk, score in fused.items()]
            # Ties are broken as the FAISS store breaks them: by article, then position in it.
            rows = sorted(candidates, key=lambda row: (-round(row["fused"], 9), row["article_id"], row["start"]))
            live = self._live_hashes({row["article_id"] for row in rows})
            chosen: list[dict] = []
            per_article: dict[str, int] = {}
            for row in rows:
                if live.get(row["article_id"]) != row["content_hash"]:  # a chunk of a version not (or no longer) live
                    continue
                if per_article.get(row["article_id"], 0) >= settings.max_chunks_per_article:
                    continue
                per_article[row["article_id"]] = per_article.get(row["article_id"], 0) + 1
                chosen.append(row)
                if len(chosen) >= top_k:
                    break
            unscored = [row["pk"] for row in chosen if row["pk"] not in known_lexical]
            lexical = known_lexical | (self._lexical_scores(tokens, unscored) if tokens and unscored else {})
            records = self._fetch([row["article_id"] for row in chosen])
        hits: list[Hit] = []
        for row in chosen:
            if row["article_id"] not in records:
                continue
            article = records[row["article_id"]][0]
            chunk = Chunk(id=row["pk"].split("-")[0], article_id=article.id, text=article.body[row["start"]:row["end"]],
                          start=row["start"], end=row["end"])
            dense = float(np.dot(query_vector, np.asarray(row["dense"], dtype=np.float32)))
            hits.append(Hit(chunk=chunk, article=article, score=row["fused"], rank=len(hits) + 1, dense_score=dense,
                            lexical_score=lexical.get(row["pk"], 0.0)))
        return hits

    def sentences(self, article_id: str) -> tuple[Span, ...]:
        return self._fetch([article_id])[article_id][1]

    def article(self, article_id: str) -> Article | None:
        found = self._fetch([article_id]).get(article_id)
        return found[0] if found else None

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency, from Milvus's text-match index over the chunks' tokens."""
        frequency = self._document_frequency.get(term)
        if frequency is None:
            token = lexical_token(term)
            with _milvus_errors("count a term", self._location):
                frequency = _count(self._client, self._names.chunks, f"TEXT_MATCH(terms, '{token}')")
            self._document_frequency[term] = frequency
        return math.log(1 + (self._chunk_count - frequency + 0.5) / (frequency + 0.5))

    def _live_hashes(self, article_ids: set[str]) -> dict[str, str]:
        if not article_ids:
            return {}
        rows = self._client.get(self._names.records, ids=[_head_key(i) for i in sorted(article_ids)],
                                output_fields=["article_id", "content_hash"])
        return {row["article_id"]: row["content_hash"] for row in rows}

    def _lexical_scores(self, tokens: str, pks: list[str]) -> dict[str, float]:
        found = self._client.search(self._names.chunks, data=[tokens], anns_field="sparse", limit=len(pks),
                                    filter=f"pk in {_quoted(pks)}", search_params={"metric_type": "BM25"}, output_fields=[])
        # Milvus Lite reports BM25 as a negative distance, a server as a positive score: the size is the score.
        return {hit["pk"]: abs(float(hit["distance"])) for hit in found[0]}

    def _fetch(self, article_ids: Sequence[str]) -> dict[str, tuple[Article, tuple[Span, ...]]]:
        """Article records by id, from the cache or the store."""
        with self._lock:
            out = {i: self._records[i] for i in article_ids if i in self._records}
        missing = sorted({i for i in article_ids if i not in out})
        if missing:
            with _milvus_errors("read article records", self._location):
                fetched = _assemble(_record_rows_by_key(self._client, self._names, missing))
            out.update(fetched)
            with self._lock:
                self._records.update(fetched)
                while len(self._records) > CACHED_ARTICLES:
                    self._records.popitem(last=False)
        return out


def _head_key(article_id: str) -> str:
    """Primary key of an article record's first row (part 0), which says how many parts follow."""
    return f"{article_id}:0"


def _part_key(article_id: str, digest: str, part: int) -> str:
    return _head_key(article_id) if part == 0 else f"{article_id}:{digest[:16]}:{part}"


def _record_rows_by_key(client: Any, names: _Names, article_ids: Sequence[str]) -> list[dict]:
    """The live record rows of these articles, read by primary key.

    Two `get` calls (heads, then the further parts a long record has) instead of a filter on `article_id`:
    at 10^5 records Milvus Lite took about 950 ms for such a filter and 1.5 ms for a get.
    """
    heads = client.get(names.records, ids=[_head_key(i) for i in article_ids], output_fields=RECORD_FIELDS) if article_ids else []
    further = [_part_key(row["article_id"], row["record_hash"], part) for row in heads for part in range(1, row["parts"])]
    return list(heads) + (list(client.get(names.records, ids=further, output_fields=RECORD_FIELDS)) if further else [])


def _count(client: Any, collection: str, expression: str) -> int:
    rows = client.query(collection, filter=expression, output_fields=["count(*)"])
    return int(rows[0]["count(*)"])


def _iterate(client: Any, collection: str, fields: list[str], expression: str) -> Iterator[dict]:
    with _quiet_iterator():
        iterator = client.query_iterator(collection, batch_size=1000, filter=expression, output_fields=fields)
        try:
            while batch := iterator.next():
                yield from batch
        finally:
            iterator.close()


@contextmanager
def _quiet_iterator():
    """Milvus Lite lacks the timestamp call a query iterator starts with; pymilvus falls back to the client's
    clock (right for one writer) but logs the miss as an error: keep that out of the user's terminal."""
    loggers = [logging.getLogger(name) for name in ("pymilvus", "grpc._server")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# ----- writing ---------------------------------------------------------------------------------------------


def _create(client: Any, names: _Names, dimension: int, settings: Settings) -> None:
    import bm25s
    from pymilvus import DataType, Function, FunctionType

    defaults = bm25s.BM25()  # the FAISS store's BM25 parameters, so both rank alike
    chunks = client.create_schema(auto_id=False, enable_dynamic_field=False)
    chunks.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=64)
    chunks.add_field("article_id", DataType.VARCHAR, max_length=64)
    chunks.add_field("content_hash", DataType.VARCHAR, max_length=64)
    chunks.add_field("start", DataType.INT64)
    chunks.add_field("end", DataType.INT64)
    chunks.add_field("published", DataType.INT64, nullable=True)  # days since 0001-01-01 (date.toordinal)
    chunks.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True, enable_match=True,
                     analyzer_params={"tokenizer": "standard"})
    chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    chunks.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))
    chunk_index = client.prepare_index_params()
    chunk_index.add_index("dense", index_type=settings.milvus_dense_index, metric_type="IP")
    chunk_index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                          params={"bm25_k1": float(defaults.k1), "bm25_b": float(defaults.b)})
    chunk_index.add_index("article_id", index_type="INVERTED")
    client.create_collection(names.chunks, schema=chunks, index_params=chunk_index, consistency_level="Strong")

    records = client.create_schema(auto_id=False, enable_dynamic_field=False)
    records.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=128)
    records.add_field("article_id", DataType.VARCHAR, max_length=64)
    records.add_field("part", DataType.INT64)
    records.add_field("parts", DataType.INT64)
    records.add_field("content_hash", DataType.VARCHAR, max_length=64)
    records.add_field("record_hash", DataType.VARCHAR, max_length=64)
    records.add_field("published", DataType.INT64, nullable=True)
    records.add_field("record", DataType.VARCHAR, max_length=65535)
    records.add_field("placeholder", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field in every collection
    record_index = client.prepare_index_params()
    record_index.add_index("placeholder", index_type="FLAT", metric_type="L2")
    record_index.add_index("article_id", index_type="INVERTED")
    client.create_collection(names.records, schema=records, index_params=record_index, consistency_level="Strong")


def _record_rows(article: Article, spans: Sequence[Span]) -> list[dict]:
    """An article record as rows: the pieces after the first, then the head (part 0), which makes it live."""
    text = json.dumps(_article_record(article, tuple(spans)), ensure_ascii=True)
    pieces = [text[i:i + RECORD_PIECE] for i in range(0, len(text), RECORD_PIECE)] or [""]
    digest = record_hash(article)
    published = article.published.toordinal() if article.published else None
    rows = [{"pk": _part_key(article.id, digest, part), "article_id": article.id,
             "part": part, "parts": len(pieces), "content_hash": article.content_hash, "record_hash": digest,
             "published": published, "record": piece, "placeholder": [1.0, 0.0]} for part, piece in enumerate(pieces)]
    return rows[1:] + rows[:1]


def _chunk_row(article: Article, chunk: Chunk, vector: np.ndarray) -> dict:
    return {"pk": f"{chunk.id}-{article.content_hash[:16]}", "article_id": article.id, "content_hash": article.content_hash,
            "start": chunk.start, "end": chunk.end, "published": article.published.toordinal() if article.published else None,
            "terms": lexical_text(embedding_text(article, chunk)) or EMPTY_TOKEN, "dense": vector.tolist()}


class _Writer:
    """Writes chunk rows in batches and commits each article's record once all its chunks are in."""

    def __init__(self, client: Any, names: _Names, *, batch: int, replaced: set[str]) -> None:
        self.client, self.names, self.batch = client, names, batch
        self.replaced = replaced  # articles whose old chunks and record pieces go once the new version is live
        self.pending: dict[str, int] = {}
        self.articles: dict[str, tuple[Article, Sequence[Span]]] = {}
        self.rows: list[dict] = []
        self.done: list[str] = []
        self.written = 0

    def expect(self, article: Article, spans: Sequence[Span], chunks: int) -> None:
        self.articles[article.id] = (article, spans)
        self.pending[article.id] = chunks
        if chunks == 0:
            self.done.append(article.id)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.rows:
            self.client.upsert(self.names.chunks, self.rows)
            for row in self.rows:
                self.pending[row["article_id"]] -= 1
                if self.pending[row["article_id"]] == 0:
                    self.done.append(row["article_id"])
            self.rows = []
        if self.done:
            self._commit(self.done)
            self.done = []

    def _commit(self, article_ids: list[str]) -> None:
        rows = [row for i in article_ids for row in _record_rows(*self.articles[i])]
        tails, heads = [row for row in rows if row["part"] > 0], [row for row in rows if row["part"] == 0]
        if tails:
            self.client.upsert(self.names.records, tails)
        self.client.upsert(self.names.records, heads)  # the new versions are live from here
        stale = [self.articles[i][0] for i in article_ids if i in self.replaced]
        for start in range(0, len(stale), 100):
            group = stale[start:start + 100]
            self.client.delete(self.names.chunks, filter=" or ".join(
                f'(article_id == "{a.id}" and content_hash != "{a.content_hash}")' for a in group))
            self.client.delete(self.names.records, filter=" or ".join(
                f'(article_id == "{a.id}" and record_hash != "{record_hash(a)}")' for a in group))
        self.written += len(article_ids)
        for i in article_ids:
            del self.articles[i]


def _sweep(client: Any, names: _Names, heads: dict[str, tuple[str, str]]) -> int:
    """Delete what an interrupted write left behind: chunks and record pieces of versions that are not live."""
    stale = [row["pk"] for row in _iterate(client, names.chunks, ["article_id", "content_hash"], "")
             if heads.get(row["article_id"], ("",))[0] != row["content_hash"]]
    stale_records = [row["pk"] for row in _iterate(client, names.records, ["article_id", "record_hash"], 'part > 0')
                     if heads.get(row["article_id"], ("", ""))[1] != row["record_hash"]]
    for collection, pks in ((names.chunks, stale), (names.records, stale_records)):
        for start in range(0, len(pks), 1000):
            client.delete(collection, ids=pks[start:start + 1000])
    return len(stale) + len(stale_records)


def _embedded(encoder: Encoder, texts: list[str], settings: Settings) -> Iterator[tuple[Sequence[int], np.ndarray]]:
    """(positions, vectors) batches as they are embedded: through Ray when the encoder streams, else locally."""
    stream = getattr(encoder, "stream", None)
    try:
        if stream is not None:
            yield from stream(texts)
            return
        step = settings.milvus_write_batch
        for start in range(0, len(texts), step):
            yield range(start, min(start + step, len(texts))), encoder.encode(texts[start:start + step], batch_size=settings.batch_size)
    except EncoderError as error:
        raise ModelLoadError(str(error)) from error


def update_milvus(
    articles: Sequence[Article],
    *,
    settings: Settings,
    encoder: Encoder | None = None,
    rebuild: bool = False,
    on_progress: Callable[[str], None] | None = None,
) -> UpdateReport:
    """Create or incrementally update the Milvus index `settings.milvus_collection` so it holds exactly `articles`.

    The contract of `qa.index.build_index`: unchanged content hashes embed nothing (the model is not even
    loaded when nothing changed), edited articles keep the vectors of unchanged chunk texts, removed
    articles are deleted. Articles become live one by one as their chunks are written; an interrupted
    run leaves every article either as it was or complete, and a rerun finishes the job.
    """
    started = time.perf_counter()
    say = on_progress or (lambda message: None)
    encoder = encoder or load_encoder(settings.model_name, backend=settings.encoder_backend)
    client, location = _client(settings, create=True)
    names = _Names(settings.milvus_collection)
    chunking = {"chunk_tokens": settings.chunk_tokens, "chunk_overlap_sentences": settings.chunk_overlap_sentences}
    notes: list[str] = []
    with _milvus_errors("update the index", location):
        meta = _read_meta(client, names)
        reason = None
        if meta is not None and rebuild:
            reason = "rebuild asked"
        elif meta is not None and meta.get("format_version") != FORMAT_VERSION:
            reason = f"format version {meta.get('format_version')} is not {FORMAT_VERSION}: embedding everything again"
        elif meta and not same_model(meta["model_name"], encoder.name):
            reason = f"model changed from {meta['model_name']} to {encoder.name}: embedding everything again"
        elif meta and meta.get("chunking") != chunking:
            reason = "chunk settings changed: embedding everything again"
        if meta == {}:
            raise ConfigError(f"the Milvus store {location} has a collection {names.chunks} or {names.records} that is not a "
                              "qa-news index: choose another name with QA_MILVUS_COLLECTION")
        if reason is not None:
            if reason != "rebuild asked":
                notes.append(reason)
            meta = None
        if meta is None:
            for collection in (names.chunks, names.records):
                client.drop_collection(collection)  # a rebuild, or what a create cut short left
            meta = {"format_version": FORMAT_VERSION, "model_name": encoder.name, "dimension": encoder.dimension,
                    "chunking": chunking, "interrupted": False}
            _create(client, names, meta["dimension"], settings)
            client.upsert(names.records, [_meta_row(meta)])
        heads = {row["article_id"]: (row["content_hash"], row["record_hash"]) for row in
                 _iterate(client, names.records, ["article_id", "content_hash", "record_hash"], f'part == 0 and article_id != "{META_ID}"')}

        ordered = sorted(articles, key=lambda a: a.id)
        changed, relabelled = [], []
        added = updated = unchanged = 0
        for article in ordered:
            old = heads.get(article.id)
            if old is None or old[0] != article.content_hash:
                added, updated = (added + 1, updated) if old is None else (added, updated + 1)
                changed.append(article)
            else:
                unchanged += 1
                if old[1] != record_hash(article):  # same text, other sources or url: the record only
                    relabelled.append(article)
        given = {a.id for a in ordered}
        removed = sorted(i for i in heads if i not in given)
        dates = [a.published for a in ordered if a.published]
        total_chunks = _count(client, names.chunks, "")
        if not changed and not relabelled and not removed and not meta.get("interrupted"):
            return UpdateReport(index_dir=Path(location), articles=len(ordered), chunks=total_chunks, added=0, updated=0,
                                removed=0, unchanged=unchanged, chunks_embedded=0, notes=tuple(notes),
                                seconds=time.perf_counter() - started)

        client.upsert(names.records, [_meta_row(dict(meta, interrupted=True))])
        if meta.get("interrupted"):
            swept = _sweep(client, names, heads)
            notes.append(f"an earlier run was interrupted: {swept} leftover rows removed")
        for start in range(0, len(removed), 100):
            group = _quoted(removed[start:start + 100])
            client.delete(names.records, filter=f"article_id in {group}")  # gone from answers from here
            client.delete(names.chunks, filter=f"article_id in {group}")

        writer = _Writer(client, names, batch=settings.milvus_write_batch, replaced={a.id for a in changed + relabelled if a.id in heads})
        if relabelled:
            old_records = _assemble(_record_rows_by_key(client, names, [a.id for a in relabelled]))
            for article in relabelled:
                spans = old_records[article.id][1] if article.id in old_records else tuple(split_sentences(article.body))
                writer.expect(article, spans, 0)
            writer.flush()

        reused, tasks = _plan_chunks(client, names, changed, heads, encoder, settings, writer)
        for article, chunk, vector in reused:
            writer.add(_chunk_row(article, chunk, vector))
        texts = [embedding_text(article, chunk) for article, chunk in tasks]
        say(f"embedding {len(texts)} new chunks ({len(reused)} reused)")
        embedded, last_report = 0, time.perf_counter()
        for positions, vectors in _embedded(encoder, texts, settings):
            for position, vector in zip(positions, vectors, strict=True):
                article, chunk = tasks[position]
                writer.add(_chunk_row(article, chunk, np.asarray(vector, dtype=np.float32)))
            embedded += len(positions)
            if time.perf_counter() - last_report > 10:
                say(f"embedded {embedded} of {len(texts)} chunks; {writer.written} articles written")
                last_report = time.perf_counter()
        writer.flush()

        final = dict(meta, interrupted=False, corpus_hash=corpus_hash(ordered),
                     built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                     date_range=[min(dates).isoformat(), max(dates).isoformat()] if dates else None)
        client.upsert(names.records, [_meta_row(final)])
        client.flush(names.chunks)
        client.flush(names.records)
        total_chunks = _count(client, names.chunks, "")
    return UpdateReport(index_dir=Path(location), articles=len(ordered), chunks=total_chunks, added=added, updated=updated,
                        removed=len(removed), unchanged=unchanged, chunks_embedded=len(texts), notes=tuple(notes),
                        seconds=time.perf_counter() - started)


def _plan_chunks(client: Any, names: _Names, changed: list[Article], heads: dict[str, tuple[str, str]], encoder: Encoder,
                 settings: Settings, writer: _Writer) -> tuple[list[tuple[Article, Chunk, np.ndarray]], list[tuple[Article, Chunk]]]:
    """Chunk the new and edited articles; the chunks whose embedded text an edited article already had keep their vectors."""
    try:
        max_tokens = min(settings.chunk_tokens, encoder.max_tokens) if changed else settings.chunk_tokens
    except EncoderError as error:
        raise ModelLoadError(str(error)) from error
    reusable: dict[str, np.ndarray] = {}
    edited = [a for a in changed if a.id in heads]
    for start in range(0, len(edited), 100):
        group = edited[start:start + 100]
        old = _assemble(_record_rows_by_key(client, names, [a.id for a in group]))
        live = " or ".join(f'(article_id == "{a.id}" and content_hash == "{heads[a.id][0]}")' for a in group)
        for row in _iterate(client, names.chunks, ["article_id", "start", "end", "dense"], live):
            if row["article_id"] in old:
                old_article = old[row["article_id"]][0]
                chunk = Chunk(id="", article_id=old_article.id, text=old_article.body[row["start"]:row["end"]],
                              start=row["start"], end=row["end"])
                reusable.setdefault(embedding_text(old_article, chunk), np.asarray(row["dense"], dtype=np.float32))
    reused, tasks = [], []
    for article in changed:
        spans = split_sentences(article.body)
        chunks = chunk_article(article, count_tokens=encoder.count_tokens, max_tokens=max_tokens,
                               overlap_sentences=settings.chunk_overlap_sentences, sentences=spans,
                               token_offsets=getattr(encoder, "token_offsets", None))
        writer.expect(article, tuple(spans), len(chunks))
        for chunk in chunks:
            vector = reusable.get(embedding_text(article, chunk))
            if vector is not None:
                reused.append((article, chunk, vector))
            else:
                tasks.append((article, chunk))
    return reused, tasks
