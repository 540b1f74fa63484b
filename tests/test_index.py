"""Tests for qa.index: build, incremental update, atomic writes, load errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEncoder

import qa.index
from qa.chunk import embedding_text
from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError, IndexWriteError
from qa.index import build_index, check_dimension, corpus_hash, load_index
from qa.ingest import read_sources
from qa.types import Article


def sentence(topic: str, i: int) -> str:
    return f"The {topic} report number {i} describes events in detail for readers."


def make_articles() -> list[Article]:
    """Three articles of four sentences each: two or three chunks apiece with 32-token chunks."""
    topics = {"a1": "harbour", "a2": "glacier", "a3": "festival"}
    return [
        Article(id=key, title=f"{topic.title()} News", body=" ".join(sentence(topic, i) for i in range(4)),
                content_hash=f"hash-{key}", published=dt.date(2024, 1, n + 1), sources=(f"{key}.txt",))
        for n, (key, topic) in enumerate(topics.items())
    ]


@pytest.fixture
def small_settings(settings):
    return settings.with_(chunk_tokens=32)


def live_dir(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith("gen-"))


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-"))


def snapshot(index) -> tuple:
    return (index.articles, index.chunks, index.sentences, index.vectors.vectors.tolist(), index.manifest)


def test_build_then_load_round_trip(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    report = build_index(articles, tmp_path / "idx", settings=small_settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=small_settings)

    assert index.articles == {a.id: a for a in articles}
    assert set(index.sentences) == {"a1", "a2", "a3"}
    for article in articles:
        assert [article.body[s.start : s.end] for s in index.sentences[article.id]] == [
            sentence(article.title.split()[0].lower(), i) for i in range(4)
        ]
    assert len(index.chunks) == report.chunks > 3
    for row, chunk in enumerate(index.chunks):
        assert index.articles[chunk.article_id].body[chunk.start : chunk.end] == chunk.text
        assert row in index.chunk_rows[chunk.article_id]
    expected = fake_encoder.encode([embedding_text(index.articles[c.article_id], c) for c in index.chunks])
    np.testing.assert_allclose(index.vectors.vectors, expected, atol=1e-6)
    assert (report.added, report.updated, report.removed, report.unchanged) == (3, 0, 0, 0)
    assert report.chunks_embedded == len(index.chunks)
    assert index.date_range() == (dt.date(2024, 1, 1), dt.date(2024, 1, 3))


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x1c", "\x0b"])
def test_a_body_with_a_character_splitlines_breaks_on_survives_the_round_trip(tmp_path, small_settings, fake_encoder, separator):
    # JSON leaves these unescaped in articles.jsonl, and str.splitlines treats each as a line end.
    articles = [*make_articles(), Article(id="odd", title="Odd Separators", body=f"The pier reopened.{separator}It cost 5 million euros.")]
    build_index(articles, tmp_path / "idx", settings=small_settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=small_settings)
    assert index.articles == {a.id: a for a in articles}


def test_manifest_contents(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    build_index(articles, tmp_path / "idx", settings=small_settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=small_settings)
    manifest = json.loads((live_dir(tmp_path / "idx") / "manifest.json").read_text())
    assert manifest == index.manifest
    assert manifest["format_version"] == qa.index.FORMAT_VERSION
    assert manifest["model_name"] == "fake-encoder"
    assert manifest["dimension"] == 64
    assert manifest["counts"] == {"articles": 3, "chunks": len(index.chunks)}
    assert manifest["corpus_hash"] == corpus_hash(articles)
    assert manifest["chunking"] == {"chunk_tokens": 32, "chunk_overlap_sentences": 1}
    assert manifest["date_range"] == ["2024-01-01", "2024-01-03"]
    assert {"articles.jsonl", "chunks.jsonl", "vectors.npy", "vectors.json"} <= set(manifest["files"])
    assert any(name.startswith("lexical/") for name in manifest["files"])
    for name, entry in manifest["files"].items():
        assert entry["bytes"] == (live_dir(tmp_path / "idx") / name).stat().st_size


def test_corpus_hash_ignores_order_and_sees_edits():
    articles = make_articles()
    assert corpus_hash(articles) == corpus_hash(list(reversed(articles)))
    edited = [dataclasses.replace(articles[0], content_hash="other"), *articles[1:]]
    assert corpus_hash(edited) != corpus_hash(articles)


def test_build_from_collection_folder(tmp_path, collection, settings, fake_encoder):
    articles = read_sources([collection]).articles
    report = build_index(articles, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=settings)
    assert report.articles == 3
    assert sorted(a.title for a in index.articles.values()) == [
        "Film Festival Draws Record Crowds", "Glacier Melt Threatens Mountain Villages", "New Harbour Opens in Port Selin",
    ]


def test_second_build_with_same_articles_embeds_nothing(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    before_generations, before_encoded = generations(index_dir), len(fake_encoder.encoded)
    before = snapshot(load_index(index_dir, settings=small_settings))

    report = build_index(list(reversed(articles)), index_dir, settings=small_settings, encoder=fake_encoder)

    assert len(fake_encoder.encoded) == before_encoded
    assert report.chunks_embedded == 0
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 0, 3)
    assert generations(index_dir) == before_generations
    assert snapshot(load_index(index_dir, settings=small_settings)) == before


def test_editing_one_article_reembeds_only_its_chunks(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    old = load_index(index_dir, settings=small_settings)
    edited = dataclasses.replace(articles[1], body=articles[1].body + " A late update adds avalanche warnings.",
                                 content_hash="hash-a2-v2")
    encoded_before = len(fake_encoder.encoded)

    report = build_index([articles[0], edited, articles[2]], index_dir, settings=small_settings, encoder=fake_encoder)

    new_texts = fake_encoder.encoded[encoded_before:]
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 1, 0, 2)
    new = load_index(index_dir, settings=small_settings)
    edited_chunks = [c for c in new.chunks if c.article_id == "a2"]
    old_texts = {embedding_text(articles[1], c) for c in old.chunks if c.article_id == "a2"}
    changed_chunks = [c for c in edited_chunks if embedding_text(edited, c) not in old_texts]
    # only the edited article's chunks whose text changed are embedded: here the last one
    assert report.chunks_embedded == len(new_texts) == len(changed_chunks) == 1
    assert new_texts == [embedding_text(edited, changed_chunks[0])]
    assert new_texts[0].startswith("Glacier News\n") and "avalanche" in edited_chunks[-1].text
    for chunk in edited_chunks[:-1]:  # its unchanged chunks kept their vectors
        old_row = next(r for r in old.chunk_rows["a2"] if old.chunks[r].text == chunk.text)
        np.testing.assert_array_equal(new.vectors.vectors[new.chunks.index(chunk)], old.vectors.vectors[old_row])
    assert new.articles["a2"] == edited
    # the other articles keep their chunks and vectors
    for key in ("a1", "a3"):
        assert [c for c in new.chunks if c.article_id == key] == [c for c in old.chunks if c.article_id == key]
        np.testing.assert_array_equal(new.vectors.vectors[list(new.chunk_rows[key])],
                                      old.vectors.vectors[list(old.chunk_rows[key])])
    assert len(generations(index_dir)) == 1


def test_a_new_date_alone_embeds_nothing(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    redated = dataclasses.replace(articles[0], published=dt.date(2030, 1, 1), content_hash="hash-a1-v2")
    report = build_index([redated, *articles[1:]], index_dir, settings=small_settings, encoder=fake_encoder)
    assert (report.updated, report.chunks_embedded) == (1, 0)
    assert load_index(index_dir, settings=small_settings).articles[redated.id].published == dt.date(2030, 1, 1)


def test_removing_an_article_drops_its_chunks(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    old = load_index(index_dir, settings=small_settings)
    encoded_before = len(fake_encoder.encoded)

    report = build_index([articles[0], articles[2]], index_dir, settings=small_settings, encoder=fake_encoder)

    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 0, 1, 2)
    assert report.chunks_embedded == 0 and len(fake_encoder.encoded) == encoded_before
    new = load_index(index_dir, settings=small_settings)
    assert set(new.articles) == {"a1", "a3"}
    assert set(new.sentences) == {"a1", "a3"}
    assert [c for c in new.chunks] == [c for c in old.chunks if c.article_id != "a2"]
    assert new.vectors.count == len(new.chunks) == new.manifest["counts"]["chunks"]
    assert new.lexical.count == len(new.chunks)
    assert "a2" not in new.chunk_rows


def test_adding_an_article_embeds_only_the_new_one(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles[:2], index_dir, settings=small_settings, encoder=fake_encoder)
    encoded_before = len(fake_encoder.encoded)
    report = build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    assert (report.added, report.updated, report.removed, report.unchanged) == (1, 0, 0, 2)
    assert all(text.startswith("Festival News\n") for text in fake_encoder.encoded[encoded_before:])
    assert report.chunks_embedded == len(fake_encoder.encoded) - encoded_before > 0


def test_rebuild_embeds_everything(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    first = build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    old_generation = generations(index_dir)
    encoded_before = len(fake_encoder.encoded)
    report = build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder, rebuild=True)
    assert report.chunks_embedded == first.chunks == len(fake_encoder.encoded) - encoded_before
    assert (report.added, report.unchanged) == (3, 0)
    assert generations(index_dir) != old_generation and len(generations(index_dir)) == 1


def test_changed_chunk_settings_reembed_everything_with_a_note(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    encoded_before = len(fake_encoder.encoded)
    wider = small_settings.with_(chunk_tokens=64)
    report = build_index(articles, index_dir, settings=wider, encoder=fake_encoder)
    assert "chunk settings changed: embedding everything again" in report.notes
    assert report.chunks_embedded == report.chunks == len(fake_encoder.encoded) - encoded_before
    assert load_index(index_dir, settings=wider).manifest["chunking"] == {"chunk_tokens": 64, "chunk_overlap_sentences": 1}


def test_changed_model_reembeds_everything_with_a_note(tmp_path, small_settings, fake_encoder):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    other = FakeEncoder(name="other-model", dimension=32)
    report = build_index(articles, index_dir, settings=small_settings.with_(model_name="other-model"), encoder=other)
    assert any("model changed from fake-encoder to other-model" in note for note in report.notes)
    assert report.chunks_embedded == report.chunks == len(other.encoded)
    index = load_index(index_dir, settings=small_settings.with_(model_name="other-model"))
    assert (index.manifest["dimension"], index.vectors.dimension) == (32, 32)


@pytest.mark.parametrize("target", ["lexical", "vectors"])
def test_interrupted_build_keeps_previous_index(tmp_path, small_settings, fake_encoder, monkeypatch, target):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=small_settings, encoder=fake_encoder)
    before = snapshot(load_index(index_dir, settings=small_settings))
    before_generations = generations(index_dir)

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    if target == "lexical":
        monkeypatch.setattr(qa.index.LexicalIndex, "build", fail)
    else:
        original_save = qa.index.VectorIndex.save

        def half_save(self, directory):
            original_save(self, directory)  # some files are written, then the crash
            raise RuntimeError("disk full")

        monkeypatch.setattr(qa.index.VectorIndex, "save", half_save)
    edited = dataclasses.replace(articles[0], body="Entirely new text about the harbour.", content_hash="hash-new")
    with pytest.raises(RuntimeError, match="disk full"):
        build_index([edited, *articles[1:]], index_dir, settings=small_settings, encoder=fake_encoder)

    assert leftovers(index_dir) == []
    assert generations(index_dir) == before_generations
    assert snapshot(load_index(index_dir, settings=small_settings)) == before


def test_interrupted_first_build_leaves_no_index(tmp_path, small_settings, fake_encoder, monkeypatch):
    monkeypatch.setattr(qa.index.LexicalIndex, "build", lambda texts: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        build_index(make_articles(), tmp_path / "idx", settings=small_settings, encoder=fake_encoder)
    assert leftovers(tmp_path / "idx") == []
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path / "idx", settings=small_settings)


def test_load_missing_directory(tmp_path, settings):
    with pytest.raises(IndexNotFoundError, match="qa index") as caught:
        load_index(tmp_path / "nothing-here", settings=settings)
    assert str(tmp_path / "nothing-here") in str(caught.value)


def test_load_generation_without_manifest_is_corrupt(tmp_path, settings, fake_encoder):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    (live_dir(tmp_path / "idx") / "manifest.json").unlink()
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        load_index(tmp_path / "idx", settings=settings)


def test_load_with_another_model_raises_mismatch(tmp_path, settings, fake_encoder):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    with pytest.raises(IndexMismatchError, match="'fake-encoder'.*'other-model'"):
        load_index(tmp_path / "idx", settings=settings.with_(model_name="other-model"))
    # the same model under its hub prefix is accepted
    assert load_index(tmp_path / "idx", settings=settings.with_(model_name="sentence-transformers/fake-encoder")).chunks
    # and the check can be turned off
    assert load_index(tmp_path / "idx", settings=settings.with_(model_name="other-model"), check_model=False).chunks


def test_load_of_another_format_version_raises_mismatch(tmp_path, settings, fake_encoder):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    manifest_path = live_dir(tmp_path / "idx") / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match="format version 99"):
        load_index(tmp_path / "idx", settings=settings)


def test_check_dimension(tmp_path, settings, fake_encoder):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    index = load_index(tmp_path / "idx", settings=settings)
    check_dimension(index, fake_encoder)  # same dimension: no error
    with pytest.raises(IndexMismatchError, match="64-d vectors .* 32-d ones"):
        check_dimension(index, FakeEncoder(dimension=32))


def flip_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for position in (len(data) - 1, len(data) // 2):
        data[position] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


@pytest.mark.parametrize("damage", [flip_bytes, truncate])
@pytest.mark.parametrize("name", ["vectors.npy", "articles.jsonl", "chunks.jsonl"])
def test_damaged_file_raises_corrupt(tmp_path, settings, fake_encoder, damage, name):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    damage(live_dir(tmp_path / "idx") / name)
    with pytest.raises(IndexCorruptError, match="--rebuild") as caught:
        load_index(tmp_path / "idx", settings=settings)
    assert name in str(caught.value)


def test_missing_file_raises_corrupt(tmp_path, settings, fake_encoder):
    build_index(make_articles(), tmp_path / "idx", settings=settings, encoder=fake_encoder)
    (live_dir(tmp_path / "idx") / "vectors.npy").unlink()
    with pytest.raises(IndexCorruptError, match="--rebuild"):
        load_index(tmp_path / "idx", settings=settings)


def test_build_over_a_damaged_index_starts_afresh(tmp_path, settings, fake_encoder):
    articles = make_articles()
    build_index(articles, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    flip_bytes(live_dir(tmp_path / "idx") / "vectors.npy")
    report = build_index(articles, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    assert any(note.startswith("previous index not reused") for note in report.notes)
    assert report.added == 3 and report.chunks_embedded == report.chunks
    assert load_index(tmp_path / "idx", settings=settings).articles == {a.id: a for a in articles}


def test_metadata_changes_outside_the_content_hash_are_saved(tmp_path, settings, fake_encoder):
    articles = make_articles()
    build_index(articles, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    moved = [dataclasses.replace(a, sources=(f"moved/{a.sources[0]}",)) for a in articles]
    report = build_index(moved, tmp_path / "idx", settings=settings, encoder=fake_encoder)
    assert report.chunks_embedded == 0
    assert load_index(tmp_path / "idx", settings=settings).articles == {a.id: a for a in moved}


def test_crash_while_switching_generations_keeps_previous_index(tmp_path, settings, fake_encoder, monkeypatch):
    articles = make_articles()
    index_dir = tmp_path / "idx"
    build_index(articles, index_dir, settings=settings, encoder=fake_encoder)
    before = snapshot(load_index(index_dir, settings=settings))
    original_fsync = qa.index._fsync_file

    def fail_on_pointer(path):
        if path.name.startswith(".tmp-CURRENT"):
            raise OSError("power cut")
        original_fsync(path)

    monkeypatch.setattr(qa.index, "_fsync_file", fail_on_pointer)
    edited = dataclasses.replace(articles[0], body="Entirely new text about the harbour.", content_hash="hash-new")
    with pytest.raises(IndexWriteError, match="power cut"):
        build_index([edited, *articles[1:]], index_dir, settings=settings, encoder=fake_encoder)
    assert snapshot(load_index(index_dir, settings=settings)) == before

    monkeypatch.setattr(qa.index, "_fsync_file", original_fsync)
    build_index([edited, *articles[1:]], index_dir, settings=settings, encoder=fake_encoder)
    assert load_index(index_dir, settings=settings).articles["a1"] == edited
    # the next good build clears what the crash left behind
    assert leftovers(index_dir) == [] and len(generations(index_dir)) == 1
