"""Property tests: chunk offsets always slice back, cleaning never invents characters, ingest is deterministic."""

from __future__ import annotations

import html
import json
import os
import subprocess
import sys

from conftest import DEMO_CORPUS, REPO, FakeEncoder
from hypothesis import HealthCheck, assume, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from qa.chunk import chunk_article, embedding_text
from qa.ingest.clean import clean_text, normalize_newlines, split_truncation
from qa.ingest.collect import ACCEPTED_FORMATS, cut_text, read_file
from qa.ingest.decode import UndecodableError, decode_bytes
from qa.ingest.identity import make_article
from qa.ingest.outcome import Parsed
from qa.render import escape_text
from qa.text import split_sentences, word_spans

ENCODER = FakeEncoder()
SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
# Any text: every Unicode category hypothesis draws (controls, format characters, emoji, combining marks).
ANY_TEXT = st.text(max_size=500)
# Text shaped like prose, so that sentences and chunks are actually exercised.
WORDS = st.sampled_from(["The", "mayor", "said", "on", "Monday", "3,000", "jobs", "U.S.", "Dr.", "café", "Zürich", "—",
                         "«quote»", "😀", "\u200b", "e.g.", "...", "?", "!", ".", ",", "\n", "\n\n", "\t", "<b>", "\x1b[31m",
                         "Порт", "港口", "عمدة", "a" * 60])
PROSE = st.lists(WORDS, max_size=120).map(" ".join)


def is_subsequence(short: str, long: str) -> bool:
    remaining = iter(long)
    return all(char in remaining for char in short)


# --- chunks and sentences -------------------------------------------------------------------------


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
@given(body=ANY_TEXT | PROSE, title=st.text(min_size=1, max_size=80), max_tokens=st.integers(24, 96),
       overlap=st.integers(0, 2))
@example(body="A.\n\nB? C!" * 3, title="T", max_tokens=24, overlap=1)
@example(body="x" * 2000, title="Long word", max_tokens=24, overlap=0)
def test_chunk_offsets_slice_back_to_the_chunk_text(body, title, max_tokens, overlap):
    article = make_article(title, body)
    try:
        chunks = chunk_article(article, count_tokens=ENCODER.count_tokens, max_tokens=max_tokens, overlap_sentences=overlap)
    except ValueError:
        assume(False)  # a title that leaves no room for text is refused with a message, not chunked
        return
    previous_start = -1
    for chunk in chunks:
        assert 0 <= chunk.start < chunk.end <= len(body)
        assert body[chunk.start : chunk.end] == chunk.text
        assert chunk.article_id == article.id
        assert chunk.start > previous_start
        previous_start = chunk.start
        assert embedding_text(article, chunk).endswith(chunk.text)
    # Every word of the body is in some chunk: nothing is lost to chunking.
    for word in word_spans(body):
        assert any(c.start <= word.start and word.end <= c.end for c in chunks), body[word.start : word.end]


@hypothesis_settings(max_examples=200, deadline=None, suppress_health_check=SLOW)
@given(ANY_TEXT | PROSE)
def test_sentence_spans_are_trimmed_ordered_and_inside_the_text(text):
    spans = split_sentences(text)
    end = 0
    for span in spans:
        assert end <= span.start < span.end <= len(text)
        sentence = text[span.start : span.end]
        assert sentence == sentence.strip() and sentence
        assert "\n" not in sentence  # a line break always ends a sentence
        end = span.end


# --- cleaning never invents characters --------------------------------------------------------------


@hypothesis_settings(max_examples=300, deadline=None)
@given(ANY_TEXT | PROSE | st.text(alphabet="ab .…\r\n\t\u00a0\u2028", max_size=100))
def test_cleaning_only_removes_characters_and_is_idempotent(text):
    cleaned = clean_text(text)
    assert is_subsequence(cleaned, normalize_newlines(text))
    assert clean_text(cleaned) == cleaned
    body, truncated = split_truncation(cleaned)
    assert cleaned.startswith(body)
    assert truncated == (body != cleaned.rstrip())


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_TEXT | PROSE, st.integers(1, 300))
def test_cutting_to_the_size_limit_keeps_a_prefix(text, limit):
    cut = cut_text(text, limit)
    assert text.startswith(cut) and len(cut) <= limit
    if len(text) <= limit:
        assert cut == text


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_utf8_text_decodes_to_itself_or_is_called_binary(text):
    data = text.encode("utf-8")
    try:
        decoded = decode_bytes(data)
    except UndecodableError as error:
        assert str(error).startswith(("empty file", "binary file"))
        return
    assert decoded == text.removeprefix("\ufeff")


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_decode_or_are_called_binary(data):
    try:
        text = decode_bytes(data)
    except UndecodableError:
        return
    assert isinstance(text, str) and "\x00" not in text
    text.encode("utf-8")  # no lone surrogates


@hypothesis_settings(max_examples=200, deadline=None)
@given(ANY_TEXT | PROSE)
def test_chat_escaping_shows_exactly_the_visible_text(text):
    from qa.render import _INVISIBLE

    escaped = escape_text(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == _INVISIBLE.sub("", text)


# --- ingest is total and deterministic --------------------------------------------------------------

TITLE = st.text(alphabet=st.characters(categories=("Lu", "Ll"), max_codepoint=0x17F) | st.just(" "), min_size=3, max_size=40).map(str.strip)
BODY = st.lists(WORDS, min_size=8, max_size=40).map(" ".join).map(lambda s: s.replace("\n", " ") + ".")
BOILERPLATE = st.sampled_from(["Home | World | Sport", "Subscribe now", "Viewing results 1 - 10 of 200", "Page 2 of 9",
                               "« Prev | Next »", "17 April 2025", "Markets: Index 1234 +0.4%"])


@st.composite
def pages(draw) -> str:
    """A scraped search-result page: boilerplate, an optional date, title/body pairs, boilerplate again."""
    header = draw(st.lists(BOILERPLATE, max_size=3))
    items = draw(st.lists(st.tuples(TITLE, BODY), min_size=1, max_size=6))
    lines = [*header, *header, *header, ""]
    for title, body in items:
        lines += [title, "", body, ""]
    lines += header
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(lines)


@hypothesis_settings(max_examples=100, deadline=None, suppress_health_check=SLOW)
@given(page=pages())
def test_a_page_reads_the_same_every_time_and_only_from_its_own_characters(tmp_path_factory, page):
    folder = tmp_path_factory.mktemp("page")
    path = folder / "page.txt"
    path.write_bytes(page.encode("utf-8"))
    first = read_file(str(path), path)
    assert first == read_file(str(path), path)
    normalized = normalize_newlines(page)
    for article in first.articles:
        assert article.title and article.body
        assert is_subsequence(article.title, normalized) and is_subsequence(article.body, normalized)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=SLOW)
@given(data=st.binary(max_size=2000) | ANY_TEXT.map(str.encode) | pages().map(str.encode),
       extension=st.sampled_from(sorted(ACCEPTED_FORMATS)))
def test_reading_any_bytes_as_any_format_never_raises(tmp_path_factory, data, extension):
    path = tmp_path_factory.mktemp("bytes") / f"file{extension}"
    path.write_bytes(data)
    parsed = read_file(str(path), path)
    assert isinstance(parsed, Parsed)
    assert parsed == read_file(str(path), path)
    for article in parsed.articles:
        assert article.title.strip() and article.body.strip()
    for problem in parsed.skipped:
        assert problem.reason and "\n" not in problem.reason


READ_IN_A_FRESH_PROCESS = """
import json, sys
from qa.ingest import read_sources
result = read_sources(sys.argv[1:])
print(json.dumps({
    "articles": [[a.id, a.title, a.body, str(a.published), list(a.sources), a.url, a.truncated, a.content_hash]
                 for a in result.articles],
    "skipped": [[s.path, s.reason, s.line] for s in result.skipped],
    "duplicates": result.duplicates_merged,
}))
"""


def test_ingest_is_identical_across_processes_and_hash_seeds(tmp_path):
    """Same bytes, same articles: no dependence on set or dict order under another PYTHONHASHSEED."""
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "records.jsonl").write_text("\n".join(json.dumps({"title": f"Story {n % 3}", "body": f"Body number {n} of story {n % 3}."})
                                                   for n in range(9)) + "\nnot json\n", encoding="utf-8")
    (extra / "copies.txt").write_text("Viewing results 1 - 2 of 2\n\nSame Title\n\nThe same body text, long enough to be a body.\n\n"
                                      "Same Title\n\nThe same body text, long enough to be a body...\n", encoding="utf-8")
    outputs = []
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", READ_IN_A_FRESH_PROCESS, str(DEMO_CORPUS), str(extra)],
                             capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path, check=False)
        assert run.returncode == 0, run.stderr[-2000:]
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] == outputs[2]
    result = json.loads(outputs[0])
    assert len(result["articles"]) >= 22 and result["skipped"]
