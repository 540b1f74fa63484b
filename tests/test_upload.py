"""Articles added in the chat: per-session collections over a base index that is never modified, limits, cleanup."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa.errors import UploadError
from qa.types import Answer, Citation
from qa.upload import SessionCollection, SessionCollections, merge_answers

UPLOADED = """Lighthouse Restored in Kelmar Bay
Date: 2025-04-02

The old lighthouse of Kelmar Bay was restored by the stonemason Ivo Brandt over two summers.
It now guides fishing boats again and opens to visitors every Sunday.
"""
PASTED = """Orchard Festival Returns to Velden

The orchard festival of Velden returned this spring, and the cider prize went to Marta Quell this year.
"""


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def base(collection, settings, fake_encoder):
    from conftest import fake_assistant

    from qa.assistant import index_sources

    index_sources([collection], settings.index_dir, settings=settings, encoder=fake_encoder)
    return fake_assistant(settings.index_dir, settings)


@pytest.fixture
def upload_file(tmp_path) -> Path:
    path = tmp_path / "uploads" / "lighthouse.txt"
    path.parent.mkdir()
    path.write_text(UPLOADED, encoding="utf-8")
    return path


def test_uploaded_and_pasted_articles_are_answered_at_once_and_the_base_index_is_untouched(base, settings, upload_file):
    before = _tree_digest(settings.index_dir)
    session = SessionCollection(base, settings)
    try:
        progress: list[tuple[float, str]] = []
        summary = session.add([upload_file], PASTED, on_progress=lambda fraction, message: progress.append((fraction, message)))
        assert (summary.files, summary.added, summary.updated, summary.unchanged, summary.articles) == (2, 2, 0, 0, 2)
        assert summary.skipped == () and "Added 2, updated 0, unchanged 0 (2 files read, 0 skipped)" in summary.describe()
        assert progress[-1] == (1.0, "done") and [f for f, _ in progress] == sorted(f for f, _ in progress)

        answer = session.ask("Who restored the lighthouse of Kelmar Bay?")
        assert answer.found and answer.span == "Ivo Brandt"
        assert answer.citations[0].title == "Lighthouse Restored in Kelmar Bay"
        assert answer.citations[0].published == dt.date(2025, 4, 2)
        assert session.ask("Who won the cider prize in Velden?").span == "Marta Quell"
        # The base collection still answers, and the base assistant alone knows nothing of the uploads.
        assert session.ask("Who directed the opening film of the festival?").span == "Lena Moritz"
        assert all(c.title != "Lighthouse Restored in Kelmar Bay"
                   for c in base.ask("Who restored the lighthouse of Kelmar Bay?").citations)
        assert _tree_digest(settings.index_dir) == before
        assert settings.index_dir.resolve() not in (session.root.resolve(), *session.root.resolve().parents)
    finally:
        session.close()
    assert not session.root.exists()
    with pytest.raises(UploadError, match="session has ended"):
        session.add([upload_file])


def test_adding_again_is_incremental_and_bad_files_are_reported_by_name(base, settings, upload_file, tmp_path):
    session = SessionCollection(base, settings)
    try:
        session.add([upload_file])
        edited = tmp_path / "lighthouse.txt"
        edited.write_text(UPLOADED.replace("two summers", "three summers"), encoding="utf-8")
        binary = tmp_path / "photo.png"
        binary.write_bytes(b"\x89PNG\x00\x00")
        summary = session.add([binary])
        assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 1)
        assert summary.skipped and summary.skipped[0].startswith("photo.png: ")
        assert str(session.root) not in summary.describe()
        # The same file name twice: both kept (each upload has its own folder), the edited copy merges with the first.
        summary = session.add([edited])
        assert summary.articles == 1 and summary.added + summary.updated + summary.unchanged == 1
    finally:
        session.close()


def test_session_limits_say_what_to_do_and_leave_the_collection_as_it_was(base, settings, upload_file, tmp_path):
    tight = settings.with_(upload_max_files=2, upload_max_bytes=2_000, upload_max_articles=2)
    session = SessionCollection(base, tight)
    try:
        with pytest.raises(UploadError, match="nothing to add"):
            session.add([], "  ")
        session.add([upload_file])
        with pytest.raises(UploadError, match="at most 2 files per session: you have added 1 and chose 2"):
            session.add([upload_file, upload_file])
        big = tmp_path / "big.txt"
        big.write_text("Big\n\n" + "word " * 500, encoding="utf-8")
        with pytest.raises(UploadError, match=r"at most 2\.0 kB per session: these files hold 2\.5 kB and 0\.\d kB are already added"):
            session.add([big])
        records = tmp_path / "many.jsonl"
        records.write_text("\n".join(f'{{"title": "Story {n}", "body": "Story number {n} happened in town {n}."}}'
                                     for n in range(3)), encoding="utf-8")
        with pytest.raises(UploadError, match="at most 2 articles per session: these files would make 4"):
            session.add([records])
        packed = tmp_path / "news.jsonl.gz"
        packed.write_bytes(b"\x1f\x8b")  # never unpacked: the byte limits count what was uploaded
        with pytest.raises(UploadError, match=r"compressed files cannot be added here \(news\.jsonl\.gz\)"):
            session.add([packed])
        assert session.articles == 1 and len(list(session.sources.iterdir())) == 1
        assert session.ask("Who restored the lighthouse of Kelmar Bay?").span == "Ivo Brandt"
    finally:
        session.close()


def test_an_upload_with_no_readable_article_is_an_error_naming_the_reason(base, settings, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    session = SessionCollection(base, settings)
    try:
        with pytest.raises(UploadError, match="no article could be read from what you added.*empty.txt"):
            session.add([empty])
        assert session.articles == 0 and list(session.sources.iterdir()) == []
    finally:
        session.close()


def test_sessions_are_kept_apart_capped_and_closed(base, settings, upload_file):
    sessions = SessionCollections(settings.with_(upload_max_sessions=2))
    first = sessions.open("a", base)
    assert sessions.open("a", base) is first and sessions.get("a") is first and sessions.get("b") is None
    first.add([upload_file])
    second = sessions.open("b", base)
    assert "Lighthouse" not in " ".join(c.title for c in second.ask("Who restored the lighthouse of Kelmar Bay?").citations)
    with pytest.raises(UploadError, match="2 visitors have added articles already"):
        sessions.open("c", base)
    sessions.close("a")
    sessions.close("unknown")
    sessions.close(None)
    assert not first.root.exists() and sessions.get("a") is None and len(sessions) == 1
    sessions.close_all()
    assert not second.root.exists() and len(sessions) == 0


def _answer(found: bool, confidence: float, *titles_and_scores: tuple[str, float]) -> Answer:
    citations = tuple(Citation(article_id=title, title=title, published=None, sources=(), url=None, quote=f"{title}.", start=0,
                               end=len(title) + 1, answer_start=None, answer_end=None, score=score)
                      for title, score in titles_and_scores)
    return Answer(question="q", text=citations[0].quote if found else "not found", found=found, confidence=confidence,
                  citations=citations)


def test_merge_answers_keeps_the_better_supported_answer_and_adds_the_other_sources():
    uploaded = _answer(True, 0.7, ("U1", 0.7), ("U2", 0.2))
    base = _answer(True, 0.5, ("B1", 0.5), ("B2", 0.4))
    merged = merge_answers(uploaded, base, top_k=3)
    assert merged.text == "U1." and [c.title for c in merged.citations] == ["U1", "U2", "B1"]
    assert merge_answers(base, uploaded, top_k=5).text == "U1."  # by confidence, not by order
    not_found = _answer(False, 0.9, ("N1", 0.1))
    assert merge_answers(not_found, base, top_k=5).text == "B1."  # a found answer beats a not-found one
    both = merge_answers(_answer(False, 0.1, ("N1", 0.1)), _answer(False, 0.2, ("N2", 0.3), ("N1", 0.05)), top_k=5)
    assert not both.found and [c.title for c in both.citations] == ["N2", "N1"]
    tie = merge_answers(_answer(True, 0.5, ("U1", 0.5)), _answer(True, 0.5, ("B1", 0.5)), top_k=5)
    assert tie.text == "U1."


# --- in the chat --------------------------------------------------------------------------------


def test_the_chat_adds_articles_per_session_answers_from_them_and_forgets_them_when_the_page_closes(base, settings, upload_file):
    from qa.web import build_demo

    demo = build_demo(base, settings=settings.with_(allow_upload=True), examples=())
    functions = {f.name: f.fn for f in demo.fns.values()}
    add, respond, close = functions["add_articles"], functions["respond"], functions["close_session"]
    visitor, other = SimpleNamespace(session_hash="visitor"), SimpleNamespace(session_hash="other")

    status, files, pasted = add([str(upload_file)], PASTED, visitor, lambda *args, **kwargs: None)
    assert "Added 2" in status and files is None and pasted == ""
    session = demo.qa_uploads.get("visitor")
    assert session is not None and session.articles == 2

    _, chat, _, transcript = list(respond("Who restored the lighthouse of Kelmar Bay?", [], 3, "", "", [], "", visitor))[-1]
    assert "Ivo Brandt" in chat[-1]["content"] and 'href="#qa-1-' in chat[-1]["content"]
    assert transcript.startswith("Q: Who restored the lighthouse of Kelmar Bay?\n\n")
    assert "[1] Lighthouse Restored in Kelmar Bay, 2025-04-02, lighthouse.txt" in transcript
    _, chat, _, _ = list(respond("Who restored the lighthouse of Kelmar Bay?", [], 3, "", "", [], "", other))[-1]
    assert "Ivo Brandt" not in chat[-1]["content"]  # another visitor's chat does not see these articles

    refused, kept, _ = add([], "", visitor, lambda *args, **kwargs: None)
    assert kept == []  # a refused upload keeps the visitor's selection
    assert 'class="qa-error"' in refused and "Could not add the articles." in refused and "Nothing to add" in refused

    close(visitor)
    assert demo.qa_uploads.get("visitor") is None and not session.root.exists()


def test_upload_is_off_unless_allowed(base, settings):
    from qa.web import build_demo

    demo = build_demo(base, settings=settings, examples=())
    assert "add_articles" not in {f.name for f in demo.fns.values()}
    assert "Add articles" not in str(demo.config)


def test_qa_serve_allow_upload_and_the_environment_switch_it_on(monkeypatch):
    import qa.web
    from qa.cli import main
    from qa.config import Settings

    served: list[Settings] = []
    monkeypatch.setattr(qa.web, "launch", lambda **options: served.append(options["settings"]))
    monkeypatch.delenv("QA_ALLOW_UPLOAD", raising=False)
    assert main(["serve"]) == 0 and main(["serve", "--allow-upload"]) == 0
    assert [s.allow_upload for s in served] == [False, True]
    monkeypatch.setenv("QA_ALLOW_UPLOAD", "1")
    assert main(["serve"]) == 0 and served[-1].allow_upload is True
    assert Settings.from_env({"QA_ALLOW_UPLOAD": "0"}).allow_upload is False
