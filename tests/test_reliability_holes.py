"""The holes an attack run found on the reliability guarantees, each reproduced.

Holes 1, 2 and 12 (concurrent writers, loads during re-indexing, hot reload) are in
`test_index_concurrency.py`; this file has the others: odd files and folders in a source folder,
legacy encodings, a full disk, tampering, typed errors and a closed pipe.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, FakeEncoder, use_fake_models
from test_crash_safety import SETTINGS, write_collection

import qa.ingest.collect
from qa.assistant import index_sources
from qa.cli import main
from qa.errors import IndexCorruptError, IndexWriteError
from qa.index import CURRENT_FILE, MANIFEST_FILE, load_index
from qa.ingest import read_sources
from qa.ingest.decode import UndecodableError, decode_bytes

GOOD = "Harbour Opens\nDate: 2024-06-15\n\nThe new harbour in Port Selin opened after four years of construction work.\n"


def folder_with_good_article(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "good.txt").write_text(GOOD, encoding="utf-8")
    return root


def reasons(result) -> dict[str, str]:
    return {Path(entry.path).name: entry.reason for entry in result.skipped}


# --- hole 3: tracebacks instead of a skip line ---------------------------------------------------------------


def test_a_symlink_loop_in_a_source_folder_is_a_skip_line(tmp_path):
    sources = folder_with_good_article(tmp_path / "sources")
    (sources / "loop.txt").symlink_to(sources / "loop.txt")
    (sources / "a").symlink_to(sources / "b")
    (sources / "b").symlink_to(sources / "a")
    result = read_sources([sources])
    assert [a.title for a in result.articles] == ["Harbour Opens"]
    found = reasons(result)
    assert found["loop.txt"].startswith("a symbolic link that leads nowhere") and found["a"].startswith("a symbolic link")
    assert set(found) == {"loop.txt", "a", "b"}


def test_a_jsonl_line_nested_100000_levels_deep_is_a_skip_line(tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    good = json.dumps({"title": "Harbour Opens", "body": "The new harbour in Port Selin opened after four years."})
    (sources / "records.jsonl").write_text(good + "\n" + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    result = read_sources([sources])
    assert [a.title for a in result.articles] == ["Harbour Opens"]
    assert [(s.line, s.reason) for s in result.skipped] == [(2, "JSON nested too deeply to be an article record")]


# --- hole 4: an unreadable subfolder ---------------------------------------------------------------------------


def test_an_unreadable_subfolder_is_a_skip_line_not_the_end_of_the_run(tmp_path, monkeypatch):
    sources = folder_with_good_article(tmp_path / "sources")
    locked = sources / "locked"
    locked.mkdir()
    (locked / "hidden.txt").write_text(GOOD, encoding="utf-8")
    if os.geteuid() == 0:  # root reads any folder: make this one unreadable the way the kernel would
        real_scandir, real_stat, real_listdir = os.scandir, os.stat, os.listdir

        def denied(path, *, inside_only=False):
            if (not inside_only and str(path) == str(locked)) or str(path).startswith(str(locked) + os.sep):
                raise PermissionError(13, "Permission denied", str(path))

        # Listing the folder is refused, and so is a stat of anything in it (the attack's `locked/CURRENT`).
        monkeypatch.setattr(os, "scandir", lambda path=".": denied(path) or real_scandir(path))
        monkeypatch.setattr(os, "listdir", lambda path=".": denied(path) or real_listdir(path))
        monkeypatch.setattr(os, "stat", lambda path, *args, **kwargs: denied(path, inside_only=True) or real_stat(path, *args, **kwargs))
    else:
        locked.chmod(0)
    try:
        result = read_sources([sources])
    finally:
        locked.chmod(0o755)
    assert [a.title for a in result.articles] == ["Harbour Opens"]
    assert [(Path(s.path), s.reason) for s in result.skipped] == [(locked, "cannot read the folder: Permission denied")]


# --- hole 5: legacy encodings --------------------------------------------------------------------------------

RUSSIAN = ("Новости Казахстана\n\nАстана, 12 марта. Президент Казахстана провёл встречу с министрами правительства и "
           "обсудил вопросы экономики, энергетики и сельского хозяйства. Участники совещания отметили рост производства.")
KAZAKH = "Қазақстан жаңалықтары\n\nАстана қаласында жаңа мектеп ашылды. Оқушылар мен мұғалімдер бұл жаңалыққа қуанышты."
FRENCH = ("Le café rouvre à Zürich\n\nLe président a visité la région où les élèves étudient. Il a déclaré que "
          "l'économie était forte et que les résultats étaient très encourageants pour l'été.")


@pytest.mark.parametrize(("text", "encoding"), [
    (RUSSIAN, "cp1251"), (RUSSIAN, "koi8_r"), (FRENCH, "cp1252"),
    (RUSSIAN, "utf-16-le"), (RUSSIAN, "utf-16-be"), (FRENCH, "utf-16-le"), (FRENCH, "utf-16-be"),
])
def test_legacy_encodings_and_utf16_without_bom_are_read_without_mojibake(tmp_path, text, encoding):
    assert decode_bytes(text.encode(encoding)) == text
    (tmp_path / "article.txt").write_bytes(text.encode(encoding))
    (article,) = read_sources([tmp_path]).articles
    assert article.title == text.split("\n")[0]
    assert article.body == text.split("\n\n", 1)[1]


def test_kazakh_in_its_code_page_is_read_or_reported_never_garbled():
    # kz1048 and cp1251 share the Russian letters and differ in the Kazakh ones; on short texts the two
    # readings can look equally good, and then the file is reported instead of read with the wrong letters.
    for text in (KAZAKH, KAZAKH.split("\n\n")[1], KAZAKH + " " + RUSSIAN.split("\n\n")[1]):
        try:
            assert decode_bytes(text.encode("kz1048")) == text
        except UndecodableError as error:
            assert "kz1048" in str(error)


def test_a_file_whose_encoding_stays_uncertain_is_reported_not_guessed(tmp_path):
    short = "Новости дня".encode("cp1251")  # too short to tell Cyrillic from Greek or Mac code pages
    with pytest.raises(UndecodableError, match="cannot tell its encoding: it reads equally well as .*cp1251.*save it as UTF-8 text"):
        decode_bytes(short)
    folder_with_good_article(tmp_path)
    (tmp_path / "short.txt").write_bytes(b"x\n\n" + short)
    assert reasons(read_sources([tmp_path]))["short.txt"].startswith("cannot tell its encoding")


# --- hole 6: a symlinked folder ---------------------------------------------------------------------------------


def test_a_folder_that_is_a_symlink_is_reported_not_ignored(tmp_path):
    sources = folder_with_good_article(tmp_path / "sources")
    elsewhere = folder_with_good_article(tmp_path / "elsewhere")
    (sources / "linked").symlink_to(elsewhere, target_is_directory=True)
    result = read_sources([sources])
    assert reasons(result) == {"linked": f"a symbolic link to a folder ({elsewhere}): not followed; give that folder as a source to index it"}
    assert len(read_sources([sources, sources / "linked"]).articles) == 1  # given itself, it is read (the same article here)


# --- hole 7: a full disk -------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 160 kB tmpfs, mounted for the test (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount)], capture_output=True, check=False).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_names_the_index_the_cause_and_the_fix_and_keeps_the_previous_index(tmp_path, small_disk, monkeypatch, capsys):
    use_fake_models(monkeypatch)
    small, large, index_dir = tmp_path / "small-sources", tmp_path / "large-sources", small_disk / "index"
    write_collection(small, 3, edition=1)
    write_collection(large, 400, edition=2)
    assert main(["index", str(small), "--index", str(index_dir), "--quiet", "--model", "fake-encoder"]) == 0
    before = load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"]
    capsys.readouterr()
    assert main(["index", str(large), "--index", str(index_dir), "--quiet", "--model", "fake-encoder"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert "Traceback" not in err, err
    assert err.startswith(f"error: cannot write the index at {index_dir}: "), err
    assert "No space left on device" in err or "the disk is full" in err, err
    assert "free some disk space" in err and "the previous index, if any, is unchanged" in err
    assert load_index(index_dir, settings=SETTINGS).manifest["corpus_hash"] == before
    assert not [p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")]


def test_a_short_write_without_an_error_number_is_reported_as_a_full_disk(tmp_path, monkeypatch):
    import qa.index

    write_collection(tmp_path / "sources", 3, edition=1)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10_000, 10_000, 0))

    def short_write(self, directory):
        raise OSError("377856 requested and 282592 written")  # what numpy says on a full disk

    monkeypatch.setattr(qa.index.VectorIndex, "save", short_write)
    with pytest.raises(IndexWriteError) as raised:
        index_sources([tmp_path / "sources"], tmp_path / "index", settings=SETTINGS, encoder=FakeEncoder())
    assert str(raised.value).startswith(f"cannot write the index at {tmp_path / 'index'}: the disk is full "
                                        "(377856 requested and 282592 written): free some disk space (0 bytes free)")


# --- hole 9: newlines in file names ----------------------------------------------------------------------------


def test_a_file_name_with_a_newline_stays_on_one_skip_line(tmp_path, monkeypatch, capsys):
    use_fake_models(monkeypatch)
    sources = folder_with_good_article(tmp_path / "sources")
    (sources / "evil\nskipped forged.txt: fake line.pdf").write_bytes(b"%PDF")
    assert main(["index", str(sources), "--index", str(tmp_path / "index"), "--quiet", "--model", "fake-encoder"]) == 0
    lines = capsys.readouterr().err.splitlines()
    skipped = [line for line in lines if line.startswith("skipped ")]
    assert skipped == [f"skipped {sources}/evil\\nskipped forged.txt: fake line.pdf: unsupported extension .pdf; "
                       + qa.ingest.collect._HINT]
    assert not [line for line in lines if line.startswith("skipped forged")]


# --- hole 10: long CSV cells --------------------------------------------------------------------------------------


def test_a_csv_cell_over_131072_characters_is_read_and_the_rest_of_the_file_too(tmp_path):
    body = ("The harbour board met again to discuss the pilots. " * 4000).strip()  # about 200,000 characters
    with open(tmp_path / "records.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["title", "body"])
        writer.writerow(["Long Report", body])
        writer.writerow(["Short Report", "The new harbour in Port Selin opened after four years."])
    result = read_sources([tmp_path])
    assert result.skipped == ()
    assert {a.title: len(a.body) for a in result.articles} == {"Long Report": len(body), "Short Report": 54}


# --- hole 11: tampering --------------------------------------------------------------------------------------------


@pytest.fixture
def built(tmp_path) -> Path:
    write_collection(tmp_path / "sources", 4, edition=1)
    index_sources([tmp_path / "sources"], tmp_path / "index", settings=SETTINGS, encoder=FakeEncoder())
    return tmp_path / "index"


def live(index_dir: Path) -> Path:
    return index_dir / (index_dir / CURRENT_FILE).read_text().strip()


def rewrite_manifest(index_dir: Path, change) -> None:
    path = live(index_dir) / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def test_a_manifest_with_an_empty_files_map_is_damage(built):
    rewrite_manifest(built, lambda manifest: manifest["files"].clear())
    (live(built) / "chunks.jsonl").write_text("")  # the tampering the checksums would have caught
    with pytest.raises(IndexCorruptError, match="has no checksum in the manifest: rebuild it with .*--rebuild"):
        load_index(built, settings=SETTINGS)


def test_a_manifest_that_leaves_out_one_file_is_damage(built):
    rewrite_manifest(built, lambda manifest: manifest["files"].pop("articles.jsonl"))
    with pytest.raises(IndexCorruptError, match="articles.jsonl has no checksum in the manifest"):
        load_index(built, settings=SETTINGS)


def test_a_current_naming_a_generation_symlink_that_leads_outside_is_refused(built, tmp_path):
    outside = tmp_path / "outside-generation"
    shutil.copytree(live(built), outside)
    (built / "gen-planted").symlink_to(outside, target_is_directory=True)
    (built / CURRENT_FILE).write_text("gen-planted\n")
    with pytest.raises(IndexCorruptError, match="names 'gen-planted', not a generation directory of the index"):
        load_index(built, settings=SETTINGS)


def test_a_symlink_inside_the_generation_is_damage(built, tmp_path):
    vectors = live(built) / "articles.jsonl"
    outside = tmp_path / "articles-elsewhere.jsonl"
    shutil.copy(vectors, outside)  # the same bytes: the checksum alone would pass
    vectors.unlink()
    vectors.symlink_to(outside)
    with pytest.raises(IndexCorruptError, match="articles.jsonl is missing or damaged"):
        load_index(built, settings=SETTINGS)


def test_a_deleted_current_with_its_generation_present_is_damage_not_no_index(built, monkeypatch, capsys):
    use_fake_models(monkeypatch)
    generation = live(built).name
    (built / CURRENT_FILE).unlink()
    with pytest.raises(IndexCorruptError, match=f"has no CURRENT file but holds {generation}: rebuild it with"):
        load_index(built, settings=SETTINGS)
    assert main(["ask", "Which plan did the harbour board approve?", "--index", str(built), "--model", "fake-encoder"]) == 2
    assert "--rebuild" in capsys.readouterr().err


# --- hole 8: typed errors from the Python API, and a model that cannot load -----------------------------------------


def test_a_model_that_cannot_load_is_one_error_line_with_exit_2(built, monkeypatch, capsys):
    from conftest import FakeReader, fake_calibration

    import qa.assistant

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the missing model is looked for on disk only
    monkeypatch.setattr(qa.assistant, "SpanReader", FakeReader)
    monkeypatch.setattr(qa.assistant, "read_header", lambda folder: {"sha256": ""})
    monkeypatch.setattr(qa.assistant, "load_calibration", lambda *args, **kwargs: fake_calibration())
    missing = str(built.parent / "no-such-model")
    index_sources([built.parent / "sources"], built.parent / "other", settings=SETTINGS, encoder=FakeEncoder(name=missing))
    code = main(["ask", "Which plan did the harbour board approve?", "--index", str(built.parent / "other"), "--model", missing])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: could not load embedding model") and err.count("\n") == 1, err


# --- hole 13: a closed pipe -------------------------------------------------------------------------------------------

ASK_DRIVER = """
import sys
sys.path.insert(0, {tests!r})
import pytest
from conftest import use_fake_models
use_fake_models(pytest.MonkeyPatch())
from qa.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("reader", ["true", "head -1"])
def test_qa_ask_into_a_closed_pipe_ends_quietly(built, reader):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", ASK_DRIVER.format(tests=str(REPO / "tests")), "ask", "Which plan did the harbour board approve?",
               "--index", str(built), "--model", "fake-encoder", "--top-k", "5"]
    shell = f"{' '.join(_quote(part) for part in command)} 2>{_quote(str(built.parent / 'err.txt'))} | {reader} >/dev/null; " \
            "echo ${PIPESTATUS[0]}"
    done = subprocess.run(["bash", "-c", shell], check=False, capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.strip() == "0", (done.stdout, (built.parent / "err.txt").read_text())
    assert (built.parent / "err.txt").read_text() == ""


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def test_the_demo_index_is_rebuilt_when_its_current_is_missing(tmp_path):
    from qa.assistant import ensure_default_index

    settings = SETTINGS.with_(index_dir=tmp_path / "demo")
    ensure_default_index(settings, encoder=FakeEncoder())
    (tmp_path / "demo" / CURRENT_FILE).unlink()
    ensure_default_index(settings, encoder=FakeEncoder())
    assert len(load_index(tmp_path / "demo", settings=SETTINGS).articles) >= 5
