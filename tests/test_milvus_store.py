"""The Milvus store (on Milvus Lite): the same answers as the FAISS store, incremental and interrupted writes, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import (
    ARTICLES,
    DEMO_CORPUS,
    REPO,
    FakeEncoder,
    FakeReader,
    fake_calibration,
)

from embeddings.encoder import EncoderError
from qa.assistant import Assistant, index_sources
from qa.cli import main
from qa.config import Settings
from qa.errors import ModelLoadError
from qa.index import load_index
from qa.ingest import read_sources
from qa.store import as_store, is_milvus
from qa.store.milvus import MilvusStore, lexical_token, update_milvus
from qa.text import content_terms

pytest.importorskip("pymilvus")
pytestmark = pytest.mark.milvus

DEMO_QUESTIONS = [q for q in (REPO / "qa" / "examples" / "demo_questions.txt").read_text().splitlines() if q.strip()]


def milvus_settings(path, **changes) -> Settings:
    return Settings(**{"model_name": "fake-encoder", "show_progress": False, "chunk_tokens": 64, "store": str(path), **changes})


def assistant_over(index, settings: Settings, encoder: FakeEncoder) -> Assistant:
    return Assistant(index, settings=settings, encoder=encoder, reader=FakeReader(), calibration=fake_calibration())


@pytest.fixture(scope="module")
def demo_pair(tmp_path_factory):
    """The demo corpus indexed with the fake encoder into both stores: (FAISS assistant, Milvus assistant)."""
    work = tmp_path_factory.mktemp("demo")
    faiss_settings = Settings(model_name="fake-encoder", show_progress=False, index_dir=work / "faiss")
    index_sources([DEMO_CORPUS], work / "faiss", settings=faiss_settings, encoder=FakeEncoder())
    settings = faiss_settings.with_(store=str(work / "demo.db"))
    index_sources([DEMO_CORPUS], work / "unused", settings=settings, encoder=FakeEncoder())
    faiss = assistant_over(load_index(work / "faiss", settings=faiss_settings), faiss_settings, FakeEncoder())
    milvus = assistant_over(MilvusStore.open(settings), settings, FakeEncoder())
    return faiss, milvus


def test_store_values_are_recognised():
    assert not is_milvus("faiss")
    assert is_milvus("demo.db") and is_milvus("http://localhost:19530") and is_milvus("HTTPS://milvus.example:443")


def test_lexical_tokens_survive_milvus_standard_tokenizer_unsplit_and_distinct():
    assert lexical_token("ambassador") == "ambassador"
    assert lexical_token("o'brien") != lexical_token("obrien")
    assert lexical_token("o'brien").isalnum() and lexical_token("москва").isalnum()
    assert lexical_token("q0xab") != "q0xab"  # a plain term that looks escaped is escaped too


def test_demo_index_in_milvus_holds_what_faiss_holds(demo_pair):
    faiss, milvus = demo_pair
    assert milvus.info().articles == faiss.info().articles == 22
    assert milvus.info().chunks == faiss.info().chunks
    assert (milvus.info().earliest, milvus.info().latest) == (faiss.info().earliest, faiss.info().latest)
    assert {a.id: a for a in milvus.store.articles()} == faiss.index.articles
    for article_id, spans in faiss.index.sentences.items():
        assert milvus.store.sentences(article_id) == spans
        assert milvus.store.article(article_id) == faiss.store.article(article_id) == faiss.index.articles[article_id]
    assert milvus.store.article("no-such-article") is None and faiss.store.article("no-such-article") is None


@pytest.mark.parametrize("fusion", ["convex", "rrf"])
def test_hybrid_search_in_milvus_ranks_as_the_faiss_store(demo_pair, fusion):
    faiss, milvus = demo_pair
    encoder = FakeEncoder()
    for question in DEMO_QUESTIONS:
        vector = encoder.encode([question])[0]
        expected = faiss.store.search(vector, question, settings=faiss.settings.with_(fusion=fusion), top_k=8)
        got = milvus.store.search(vector, question, settings=milvus.settings.with_(fusion=fusion), top_k=8)
        assert [(h.article.id, h.chunk.start, h.chunk.end) for h in got] == [(h.article.id, h.chunk.start, h.chunk.end) for h in expected]
        assert [h.chunk.text for h in got] == [h.chunk.text for h in expected]
        # Fused scores are standardised (order 1, either sign): Milvus's float32 scores agree to an absolute 1e-5.
        assert np.allclose([h.score for h in got], [h.score for h in expected], rtol=1e-5, atol=1e-5)
        # Milvus's BM25 is bm25s's (same tokens, k1, b, idf) times (k1 + 1): the features use it relative to the best hit.
        expected_lexical = np.array([h.lexical_score for h in expected])
        got_lexical = np.array([h.lexical_score for h in got])
        assert np.allclose(got_lexical, expected_lexical * 2.5, rtol=1e-3, atol=1e-5), question
        for hit, mine in zip(expected, got, strict=True):
            if hit.dense_score is not None:  # FAISS leaves it out for chunks only BM25 found; Milvus gives every hit its cosine
                assert mine.dense_score == pytest.approx(hit.dense_score, abs=1e-5)
        for term in content_terms(question):
            assert milvus.store.idf(term) == pytest.approx(faiss.store.idf(term), rel=1e-6)


def test_demo_questions_get_the_same_answers_from_milvus(demo_pair):
    faiss, milvus = demo_pair
    for question in DEMO_QUESTIONS:
        expected, got = faiss.ask(question), milvus.ask(question)
        assert (got.found, got.text, got.span) == (expected.found, expected.text, expected.span), question
        assert [c.article_id for c in got.citations] == [c.article_id for c in expected.citations]
        assert got.confidence == pytest.approx(expected.confidence, abs=1e-6)


def test_date_filters_become_milvus_expressions(demo_pair):
    faiss, milvus = demo_pair
    earliest, latest = faiss.info().earliest, faiss.info().latest
    question = "Who is Kazakhstan's new ambassador in Belarus?"
    for since, until in ((earliest, earliest), (latest, None), (None, earliest)):
        expected = faiss.ask(question, since=since, until=until)
        got = milvus.ask(question, since=since, until=until)
        assert [c.article_id for c in got.citations] == [c.article_id for c in expected.citations]
        assert all(c.published is not None for c in got.citations)
        assert all((since is None or c.published >= since) and (until is None or c.published <= until) for c in got.citations)
    empty = milvus.ask(question, since="1990-01-01", until="1990-12-31")
    assert not empty.found and "No article in this collection is dated" in empty.text


def write_collection(folder, articles: dict[str, str]) -> None:
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for name, text in articles.items():
        (folder / name).write_text(text, encoding="utf-8")


def chunk_rows(settings: Settings) -> dict[str, tuple]:
    """Every chunk row of the store: primary key -> (article id, content hash, start, end, rounded vector)."""
    store = MilvusStore.open(settings, check_model=False)
    rows = store._client.query(settings.milvus_collection, filter="", output_fields=["article_id", "content_hash", "start", "end", "dense"], limit=16384)
    return {r["pk"]: (r["article_id"], r["content_hash"], r["start"], r["end"], tuple(np.round(r["dense"], 5))) for r in rows}


def test_incremental_indexing_keeps_its_contract_in_milvus(tmp_path):
    settings = milvus_settings(tmp_path / "store.db")
    folder = tmp_path / "articles"
    write_collection(folder, ARTICLES)
    encoder = FakeEncoder()
    first = index_sources([folder], tmp_path / "unused", settings=settings, encoder=encoder)
    assert (first.added, first.updated, first.removed, first.unchanged) == (3, 0, 0, 0)
    assert first.chunks_embedded == first.chunks == len(encoder.encoded)

    encoder.encoded.clear()
    again = index_sources([folder], tmp_path / "unused", settings=settings, encoder=encoder)
    assert (again.added, again.updated, again.removed, again.unchanged, again.chunks_embedded) == (0, 0, 0, 3, 0)
    assert encoder.encoded == []

    edited = dict(ARTICLES)
    edited["harbour.txt"] = ARTICLES["harbour.txt"].rstrip() + " Ferries to the islands will start in August.\n"
    del edited["festival.txt"]
    write_collection(folder, edited)
    update = index_sources([folder], tmp_path / "unused", settings=settings, encoder=encoder)
    assert (update.added, update.updated, update.removed, update.unchanged) == (0, 1, 1, 1)
    assert 0 < update.chunks_embedded == len(encoder.encoded)
    assert all("Port Selin" in text for text in encoder.encoded)  # only the edited article's changed chunks

    # The store now holds what a fresh build of the same collection holds, and nothing of the removed article.
    fresh = milvus_settings(tmp_path / "fresh.db")
    index_sources([folder], tmp_path / "unused", settings=fresh, encoder=FakeEncoder())
    assert sorted(chunk_rows(settings).values()) == sorted(chunk_rows(fresh).values())
    store = MilvusStore.open(settings)
    assert store.counts() == MilvusStore.open(fresh).counts()
    assert {a.title for a in store.articles()} == {"Glacier Melt Threatens Mountain Villages", "New Harbour Opens in Port Selin"}
    answer = assistant_over(store, settings, FakeEncoder()).ask("When does the ferry to the islands start?")
    assert answer.citations[0].title == "New Harbour Opens in Port Selin"
    assert "Film Festival Draws Record Crowds" not in {c.title for c in answer.citations}


def test_a_record_longer_than_one_row_is_read_back_whole_before_and_after_an_edit(tmp_path):
    """Records are read by primary key: the head row, then the parts it names (not the stale parts of an older version)."""
    from qa.store.milvus import RECORD_PIECE

    sentence = "The harbour authority published the ferry timetable for the islands this week. "
    long_text = "Harbour Timetable Published\n\n" + sentence * (2 * RECORD_PIECE // len(sentence) + 5)
    settings = milvus_settings(tmp_path / "store.db", chunk_tokens=256)
    folder = tmp_path / "articles"
    write_collection(folder, {"long.txt": long_text, **ARTICLES})
    index_sources([folder], tmp_path / "unused", settings=settings, encoder=FakeEncoder())
    faiss_settings = Settings(model_name="fake-encoder", show_progress=False, chunk_tokens=256)
    index_sources([folder], tmp_path / "faiss", settings=faiss_settings, encoder=FakeEncoder())
    expected = load_index(tmp_path / "faiss", settings=faiss_settings)
    (long_id,) = [i for i, a in expected.articles.items() if a.title == "Harbour Timetable Published"]
    parts = MilvusStore.open(settings)._client.get(settings.milvus_collection + "_articles", ids=[f"{long_id}:0"],
                                                   output_fields=["parts"])
    assert parts[0]["parts"] >= 3  # the record really spans several rows

    store = MilvusStore.open(settings)
    assert {a.id: a for a in store.articles()}[long_id] == expected.articles[long_id]
    assert store.sentences(long_id) == expected.sentences[long_id]

    write_collection(folder, {"long.txt": long_text + "Tickets go on sale on Monday.\n", **ARTICLES})
    index_sources([folder], tmp_path / "unused", settings=settings, encoder=FakeEncoder())
    index_sources([folder], tmp_path / "faiss", settings=faiss_settings, encoder=FakeEncoder())
    expected = load_index(tmp_path / "faiss", settings=faiss_settings)
    store = MilvusStore.open(settings)
    assert store.sentences(long_id) == expected.sentences[long_id]
    assert store._fetch([long_id])[long_id][0].body.endswith("Tickets go on sale on Monday.")


class FailingEncoder(FakeEncoder):
    """Fails, as a lost worker would, on the first batch holding a text that contains `fragment`."""

    def __init__(self, fragment: str) -> None:
        super().__init__()
        self.fragment = fragment

    def encode(self, texts, **kwargs):
        if any(self.fragment in text for text in texts):
            raise EncoderError("worker lost")
        return super().encode(texts, **kwargs)


def test_an_interrupted_update_leaves_each_article_as_before_or_complete_and_a_rerun_finishes(tmp_path):
    settings = milvus_settings(tmp_path / "store.db", chunk_tokens=24, milvus_write_batch=2)
    folder = tmp_path / "articles"
    write_collection(folder, ARTICLES)
    index_sources([folder], tmp_path / "unused", settings=settings, encoder=FakeEncoder())
    before = {a.id: a for a in MilvusStore.open(settings).articles()}

    edited = {name: text.replace("\n\n", "\n\nUpdated report. ", 1) for name, text in ARTICLES.items()}
    edited["extra.txt"] = "Bridge Reopens After Repairs\nDate: 2024-07-01\n\n" + " ".join(
        f"The old stone bridge reopened after {n} years of repairs by crew number {n}." for n in range(2, 12))
    write_collection(folder, edited)
    last = max(read_sources([folder], progress=False).articles, key=lambda a: a.id)  # articles are written in id order
    with pytest.raises(ModelLoadError):
        index_sources([folder], tmp_path / "unused", settings=settings, encoder=FailingEncoder(last.title))

    # Every live article is its old version or its new one, complete: all its chunks are there, none of another version.
    store = MilvusStore.open(settings)
    fresh = milvus_settings(tmp_path / "fresh.db", chunk_tokens=24, milvus_write_batch=2)
    index_sources([folder], tmp_path / "unused", settings=fresh, encoder=FakeEncoder())
    after_fresh = {a.id: a for a in MilvusStore.open(fresh).articles()}
    live = {a.id: a for a in store.articles()}
    assert set(before) <= set(live)
    new_versions = [i for i, a in live.items() if i not in before or a != before[i]]
    assert new_versions and len(new_versions) < len(after_fresh)  # the run was cut part way
    rows = chunk_rows(settings)
    fresh_rows = chunk_rows(fresh)
    for article_id, article in live.items():
        mine = sorted(r[2:4] for r in rows.values() if r[0] == article_id and r[1] == article.content_hash)
        if article == after_fresh.get(article_id):
            assert mine == sorted(r[2:4] for r in fresh_rows.values() if r[0] == article_id)
        else:
            assert article == before[article_id] and mine
    vector = FakeEncoder().encode(["bridge repairs"])[0]
    for hit in store.search(vector, "bridge repairs", settings=settings, top_k=8):
        assert hit.article == live[hit.article.id]  # a chunk of a version not live is never returned

    encoder = FakeEncoder()
    rerun = index_sources([folder], tmp_path / "unused", settings=settings, encoder=encoder)
    assert rerun.unchanged == len(new_versions)
    assert any("interrupted" in note for note in rerun.notes)
    assert sorted(chunk_rows(settings).values()) == sorted(fresh_rows.values())
    assert {a.id: a for a in MilvusStore.open(settings).articles()} == after_fresh


def test_cli_indexes_asks_and_describes_a_milvus_lite_store(tmp_path, fake_models, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["index", str(DEMO_CORPUS), "--store", "demo.db", "--model", "fake-encoder", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "added 22" in out and "demo.db" in out
    assert main(["ask", "Who is Kazakhstan's new ambassador in Belarus?", "--store", "demo.db", "--model", "fake-encoder", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["found"] and "Baizhanov" in answer["text"]
    assert main(["stats", "--store", "demo.db", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["articles"] == 22 and stats["model_name"] == "fake-encoder"


def test_a_milvus_lite_file_written_by_one_process_is_read_by_the_next(tmp_path):
    """`qa index --store demo.db` then `qa ask --store demo.db` are two processes; the second finds the collections released."""
    import subprocess
    import sys

    write = (f"import sys; sys.path.insert(0, {str(REPO / 'tests')!r}); from conftest import FakeEncoder, DEMO_CORPUS; "
             "from qa.assistant import index_sources; from qa.config import Settings; "
             f"s = Settings(model_name='fake-encoder', show_progress=False, store={str(tmp_path / 'demo.db')!r}); "
             f"index_sources([DEMO_CORPUS], {str(tmp_path / 'unused')!r}, settings=s, encoder=FakeEncoder())")
    read = ("from qa.config import Settings; from qa.store.milvus import MilvusStore; "
            f"s = Settings(model_name='fake-encoder', show_progress=False, store={str(tmp_path / 'demo.db')!r}); "
            "store = MilvusStore.open(s); print(store.counts()[0], len(list(store.articles())))")
    for script in (write, read):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO)
        assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["22", "22"]


def test_cli_errors_for_a_missing_or_unknown_store_say_what_to_do(tmp_path, fake_models, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["ask", "Who?", "--store", "missing.db", "--model", "fake-encoder"]) == 2
    assert "no Milvus Lite store" in capsys.readouterr().err
    assert main(["ask", "Who?", "--store", "elsewhere", "--model", "fake-encoder"]) == 2
    assert "is not understood" in capsys.readouterr().err


def test_faiss_store_is_still_the_default_and_answers_through_the_same_protocol(tmp_path, collection, settings, fake_models):
    assert Settings().store == "faiss"
    assistant = Assistant.build([collection], settings.index_dir, settings=settings)
    assert as_store(assistant.index) is not assistant.index  # the NewsIndex, wrapped
    assert assistant.ask("Who financed the harbour in Port Selin?").citations[0].title == "New Harbour Opens in Port Selin"


def test_update_milvus_refuses_a_collection_that_is_not_an_index(tmp_path):
    from pymilvus import MilvusClient

    from qa.errors import ConfigError

    path = tmp_path / "other.db"
    client = MilvusClient(str(path))
    client.create_collection("qa_news", dimension=4)
    client.close()
    with pytest.raises(ConfigError, match="not a qa-news index"):
        update_milvus([], settings=milvus_settings(path), encoder=FakeEncoder())
