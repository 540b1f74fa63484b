"""Bad input files at the level of `qa index` and `Assistant.build`: every problem is reported, the rest is indexed."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ARTICLES, REPO, fake_assistant, use_fake_models

from qa.assistant import index_sources
from qa.cli import main
from qa.config import Settings
from qa.errors import EmptyCollectionError
from qa.ingest.collect import MAX_BODY_CHARS

GOOD_BODY = (
    "The river authority opened the new flood barrier on Tuesday after three years of work. "
    "Engineer Mira Holt said the barrier protects twelve thousand homes in the lower town."
)


@pytest.fixture
def fake_model(monkeypatch) -> None:
    """Every encoder the library loads by name is a FakeEncoder, every reader a FakeReader: no model in these tests."""
    use_fake_models(monkeypatch)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def bad_collection(folder: Path) -> dict[str, str]:
    """Three good articles beside every kind of bad file; returns {file name: expected reason fragment}."""
    for name, text in ARTICLES.items():
        write(folder, name, text)
    write(folder, "cp1252.txt", "Caf\u00e9 Prices Rise in Dornbach\n\nThe caf\u00e9 \u201cZum Markt\u201d raised its "
                                "prices by 5 \u20ac on Monday, the owner said.".encode("cp1252"))
    write(folder, "mixed.txt", "Museum Reopens in Zürich\n\n".encode()
          + "The museum in Zürich reopened; the na\u00efve painting returned.".encode("utf-8").replace(
              "na\u00efve".encode("utf-8"), "na\u00efve".encode("cp1252")))
    write(folder, "empty.txt", b"")
    write(folder, "blank.md", " \n\t\n")
    write(folder, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    noise = random.Random(7)
    write(folder, "noise.md", bytes(noise.randrange(1, 256) for _ in range(4000)))  # binary, but no NUL byte
    write(folder, "boilerplate.txt", "Home | World | Sport\nViewing results 1 - 10 of 200\n" * 3
          + "Page 1 of 20\n« Prev | Next »\n")
    write(folder, "title-only.txt", "A Title With No Body\n\n\n")
    write(folder, "orphans.txt", "Viewing results 1 - 3 of 3\n\nOrphan Headline\n\nLibrary Wins Award\n\n"
          "The city library won the national design award for its reading room.\n\nAnother Orphan\n\n"
          "Ferry Service Resumes\n\nThe ferry to the island resumed service after the winter storms ended.\n")
    write(folder, "records.jsonl", "\n".join([
        json.dumps({"title": "Bridge Vote Passes", "body": GOOD_BODY.replace("flood barrier", "bridge")}),
        '{"title": "Broken", "body": ',
        "[1, 2, 3]",
        json.dumps({"title": "Record Without Body"}),
        json.dumps({"body": "A body without a title."}),
        "this line is not JSON",
        json.dumps({"title": "Tram Line Extended", "text": GOOD_BODY.replace("flood barrier", "tram line")}),
    ]) + "\n")
    write(folder, "no-body-column.csv", "title,notes,date\nA Story,Short,2024-01-01\n")
    write(folder, "short-rows.csv", "title,body\nCanal Cleaned,\"" + GOOD_BODY.replace("flood barrier", "canal")
          + "\"\nRow Without Body\n")
    write(folder, "slides.pdf", b"%PDF-1.4\n")
    return {
        "empty.txt": "empty file",
        "blank.md": "empty file (only whitespace)",
        "image.txt": "binary file (contains NUL bytes)",
        "noise.md": "binary file",
        "boilerplate.txt": "holds no title/body pairs",
        "title-only.txt": "no body after the title 'A Title With No Body'",
        "orphans.txt": "title 'Orphan Headline' has no body",
        "orphans.txt#2": "title 'Another Orphan' has no body",
        "records.jsonl:2": "invalid JSON",
        "records.jsonl:3": "expected a JSON object, got list",
        "records.jsonl:4": "record 'Record Without Body' has an empty body",
        "records.jsonl:5": "record has no title",
        "records.jsonl:6": "invalid JSON",
        "no-body-column.csv": "missing column 'body'/'text'/'content'",
        "short-rows.csv:3": "record 'Row Without Body' has an empty body",
        "slides.pdf": "unsupported extension .pdf",
    }


GOOD_TITLES = {
    "Glacier Melt Threatens Mountain Villages", "New Harbour Opens in Port Selin", "Film Festival Draws Record Crowds",
    "Café Prices Rise in Dornbach", "Museum Reopens in Zürich", "Bridge Vote Passes", "Tram Line Extended",
    "Canal Cleaned", "Library Wins Award", "Ferry Service Resumes",
}


def where(problem, seen: set[str]) -> str:
    """`name`, `name:line`, or `name#2` for a second problem in one file without line numbers."""
    name = Path(problem.path).name
    key = f"{name}:{problem.line}" if problem.line else name
    key = f"{key}#2" if key in seen else key
    seen.add(key)
    return key


def test_build_indexes_the_good_articles_and_reports_every_bad_file(tmp_path, settings, fake_encoder):
    expected = bad_collection(tmp_path / "articles")
    report = index_sources([tmp_path / "articles"], tmp_path / "index", settings=settings, encoder=fake_encoder)
    seen: set[str] = set()
    reasons = {where(problem, seen): problem.reason for problem in report.skipped}
    assert set(reasons) == set(expected)
    for key, fragment in expected.items():
        assert fragment in reasons[key], (key, reasons[key])
    assert report.articles == len(GOOD_TITLES)
    assert report.files_read == 16
    assistant = fake_assistant(tmp_path / "index", settings, encoder=fake_encoder)
    titles = {article.title for article in assistant.index.articles.values()}
    assert titles == GOOD_TITLES
    bodies = {article.title: article.body for article in assistant.index.articles.values()}
    assert bodies["Café Prices Rise in Dornbach"] == "The café “Zum Markt” raised its prices by 5 € on Monday, the owner said."
    # Mixed encodings: the UTF-8 "ü" and the cp1252 "ï" both survive, no mojibake.
    assert bodies["Museum Reopens in Zürich"] == "The museum in Zürich reopened; the naïve painting returned."
    answer = assistant.ask("Who opened the new flood barrier?")
    assert answer.citations


def test_cli_index_prints_each_skipped_file_and_line_with_counts(tmp_path, fake_model, capsys):
    expected = bad_collection(tmp_path / "articles")
    code = main(["index", str(tmp_path / "articles"), "--index", str(tmp_path / "index"), "--quiet", "--model", "fake-encoder"])
    out, err = capsys.readouterr()
    assert code == 0
    skipped_lines = [line for line in err.splitlines() if line.startswith("skipped ")]
    assert len(skipped_lines) == len(expected)
    for key, fragment in expected.items():
        path_part = str(tmp_path / "articles" / key.split("#")[0])
        assert any(line.startswith(f"skipped {path_part}: ") and fragment in line for line in skipped_lines), key
    assert f"read 16 files: {len(GOOD_TITLES)} articles (0 duplicate copies merged, {len(expected)} skipped)" in out
    assert f"added {len(GOOD_TITLES)}, updated 0, removed 0" in out
    assert "Traceback" not in err
    assert main(["ask", "Who opened the new flood barrier?", "--index", str(tmp_path / "index"), "--model", "fake-encoder"]) == 0


def test_collection_of_only_bad_files_is_one_clear_error(tmp_path, fake_model, capsys):
    folder = tmp_path / "bad"
    write(folder, "empty.txt", b"")
    write(folder, "image.txt", b"\x89PNG\x00\x00")
    with pytest.raises(EmptyCollectionError, match="no articles found"):
        index_sources([folder], tmp_path / "index", settings=Settings(model_name="fake-encoder", show_progress=False))
    assert main(["index", str(folder), "--index", str(tmp_path / "index"), "--quiet", "--model", "fake-encoder"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no articles found") and err.count("\n") == 1
    assert not (tmp_path / "index").exists()


def test_huge_first_line_gives_a_short_message(tmp_path, settings, fake_encoder):
    """A 5 MB single-line file: no title/body split; the reason quoting it stays one short line."""
    write(tmp_path / "articles", "blob.txt", "x" * 5_000_000)
    write(tmp_path / "articles", "ok.txt", ARTICLES["harbour.txt"])
    report = index_sources([tmp_path / "articles"], tmp_path / "index", settings=settings, encoder=fake_encoder)
    (problem,) = report.skipped
    assert problem.reason.startswith("no body after the title 'xxx")
    assert len(problem.reason) <= 500 and "\n" not in problem.reason


def test_an_index_inside_the_source_folder_is_not_read_as_articles(tmp_path, settings, fake_encoder):
    folder = tmp_path / "articles"
    for name, text in ARTICLES.items():
        write(folder, name, text)
    first = index_sources([folder], folder / "index", settings=settings, encoder=fake_encoder)
    second = index_sources([folder], folder / "index", settings=settings, encoder=fake_encoder)
    assert first.files_read == second.files_read == 3
    assert second.skipped == () and second.chunks_embedded == 0


def test_an_index_given_as_a_source_is_refused_with_a_hint(tmp_path, settings, fake_encoder):
    from qa.errors import IngestError

    folder = tmp_path / "articles"
    for name, text in ARTICLES.items():
        write(folder, name, text)
    index_sources([folder], tmp_path / "index", settings=settings, encoder=fake_encoder)
    with pytest.raises(IngestError, match=r"is an index built by `qa index`, not a folder of articles: give the article files"):
        index_sources([folder, tmp_path / "index"], tmp_path / "other", settings=settings, encoder=fake_encoder)


# --- size policy: a 50 MB article -----------------------------------------------------------------

BIG_DRIVER = """
import json, resource, sys, time
sys.path.insert(0, {tests!r})
import qa.assistant, qa.index
import hashlib
import numpy as np
from conftest import FakeEncoder
from qa.text import content_terms


class CachedFakeEncoder(FakeEncoder):
    # FakeEncoder's vectors, with each word's vector computed once (the 50 MB text repeats its words).

    cache = {{}}

    def encode(self, texts, *, batch_size=32, progress=False):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for term in content_terms(text) or ["<empty>"]:
                if term not in self.cache:
                    seed = int.from_bytes(hashlib.md5(term.encode()).digest()[:4], "little")
                    self.cache[term] = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
                out[row] += self.cache[term]
            out[row] /= np.linalg.norm(out[row]) or 1.0
        return out


make = lambda name, **_: CachedFakeEncoder(name=name, max_tokens=256)
qa.index.load_encoder = make
qa.assistant.load_encoder = make
from qa.cli import main
from qa.config import Settings
started = time.perf_counter()
code = main(sys.argv[1:])

def peak_mb():
    # VmHWM is this process's own peak; ru_maxrss can report the parent's size, inherited through fork/exec.
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


print(json.dumps({{"code": code, "seconds": time.perf_counter() - started, "max_rss_mb": peak_mb()}}))
"""


def write_big_article(path: Path, size: int) -> int:
    """An article of `size` characters: numbered, distinct paragraphs (no boilerplate repetition)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("Annual Report of the Harbour Authority\nDate: 2024-05-01\n\n")
        written, number = 0, 0
        while written < size:
            paragraph = " ".join(
                f"In session {number} item {item}, the council approved {number * 7 + item} million euros for berth {item}."
                for item in range(8)
            ) + "\n\n"
            handle.write(paragraph)
            written += len(paragraph)
            number += 1
    return written


def test_a_50_mb_article_is_cut_to_the_size_limit_in_bounded_time_and_memory(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    body_chars = write_big_article(folder / "huge.txt", 50_000_000)
    write(folder, "harbour.txt", ARTICLES["harbour.txt"])
    index_dir = tmp_path / "index"
    env = {**os.environ, "PYTHONPATH": str(REPO), "QA_CHUNK_TOKENS": "256"}
    env.pop("QA_INDEX_DIR", None)
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-c", BIG_DRIVER.format(tests=str(REPO / "tests")), "index", str(folder), "--index", str(index_dir),
         "--quiet", "--model", "fake-encoder"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path, check=False,
    )
    elapsed = time.perf_counter() - started
    assert run.returncode == 0, run.stderr[-2000:]
    stats = json.loads(run.stdout.strip().splitlines()[-1])
    assert stats["code"] == 0
    assert elapsed < 120, f"indexing a 50 MB article took {elapsed:.0f} s"
    assert stats["max_rss_mb"] < 1500, f"indexing a 50 MB article peaked at {stats['max_rss_mb']:.0f} MB"
    assert not [line for line in run.stderr.splitlines() if line.startswith("skipped ")]
    notes = [line for line in run.stderr.splitlines() if line.startswith("cut ")]
    assert len(notes) == 1
    assert f"huge.txt: the body of article 'Annual Report of the Harbour Authority' is {body_chars - 2:,} characters long" in notes[0]
    assert "limit 1,000,000" in notes[0]
    assert "read 2 files: 2 articles (0 duplicate copies merged, 0 skipped, 1 cut to the size limit)" in run.stdout

    from qa.config import Settings
    from qa.index import load_index

    index = load_index(index_dir, settings=Settings(model_name="fake-encoder"))
    (big,) = [a for a in index.articles.values() if a.title.startswith("Annual Report")]
    assert MAX_BODY_CHARS // 2 < len(big.body) <= MAX_BODY_CHARS
    assert big.truncated is True
    assert big.body.endswith("berth 7.")  # cut at a paragraph end
    assert all(index.articles[c.article_id].body[c.start:c.end] == c.text for c in index.chunks)


def test_an_over_long_article_is_kept_cut_and_reported_as_shortened_not_skipped(tmp_path, monkeypatch):
    from qa.ingest import collect, read_sources

    monkeypatch.setattr(collect, "MAX_BODY_CHARS", 120)
    folder = tmp_path / "articles"
    folder.mkdir()
    write(folder, "long.txt", "A Long Report\n\n" + "The council met again today. " * 10 + "\n")
    result = read_sources([folder])
    assert result.skipped == ()
    assert [str(s) for s in result.shortened] == [
        f"{folder / 'long.txt'}: the body of article 'A Long Report' is 289 characters long: only its first 115 were kept (limit 120)"
    ]
    (article,) = result.articles
    assert article.truncated and article.body.endswith("today.") and len(article.body) == 115
