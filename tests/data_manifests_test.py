"""Manifests and LibriSpeech transcripts: what is accepted, and one sentence naming the file and
line for everything that is not."""

import numpy as np
import pytest
import soundfile as sf

from w2v2jax.data import manifests
from w2v2jax.errors import DataError, DataNotFoundError


@pytest.fixture
def clips(tmp_path):
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, np.zeros(1600, np.float32), 16000)
    return tmp_path


@pytest.mark.parametrize(
    "content, ids, speakers",
    [
        ("a.wav\tgo\nb.wav\tstop\n", ["a.wav", "b.wav"], None),
        ("\ufeffa.wav\tgo\n", ["a.wav"], None),  # a UTF-8 BOM (Notepad, Excel) is dropped
        ("\ufeffpath\ttranscript\na.wav\tgo\n", ["a.wav"], None),
        ("path\ttranscript\tspeaker\na.wav\tgo\tann\nb.wav\tstop\t\n", ["a.wav", "b.wav"], "ann"),
        ("# recorded in May\n\na.wav\tgo\r\nb.wav\tstop\r\n", ["a.wav", "b.wav"], None),
        ("a.wav\tcafé\u2028crème\n", ["a.wav"], None),  # only \n ends a line
    ],
    ids=["plain", "bom", "bom_and_header", "speaker_column", "comments_crlf", "unicode"],
)
def test_manifests_that_are_read(clips, content, ids, speakers):
    (clips / "m.tsv").write_text(content, encoding="utf-8", newline="")
    entries = manifests.manifest_entries(clips / "m.tsv")
    assert [e.id for e in entries] == ids
    assert entries[0].path == str(clips / "a.wav")
    assert entries[0].speaker == (speakers or clips.name)
    assert entries[-1].speaker == clips.name  # an empty speaker field: the folder's name
    assert entries[0].where.rpartition(":")[0] == str(clips / "m.tsv")  # for audio errors


BAD_MANIFESTS = [
    # name, bytes, the line named, words of the message
    ("latin1", "a.wav\tgo\nb.wav\tcafé\n".encode("latin-1"), 2, r"not UTF-8 text \(byte 0xe9\)"),
    ("utf16", "a.wav\tgo\n".encode("utf-16"), 1, "not UTF-8 text.*re-save the file as UTF-8"),
    ("other_header", b"path\ttext\na.wav\tgo\n", 1, "neither an audio file nor the header"),
    ("named_header", b"file\tsentence\na.wav\tgo\n", 1, "exactly 'path<TAB>transcript'"),
    ("late_header", b"a.wav\tgo\npath\ttranscript\n", 2, "header line belongs only at the top"),
    ("no_tab", b"a.wav go\n", 1, "expected 'path<TAB>transcript'"),
    ("no_transcript", b"a.wav\t \n", 1, "expected 'path<TAB>transcript'"),
    ("no_path", b"\tgo\n", 1, "expected 'path<TAB>transcript'"),
    ("four_columns", b"a.wav\tgo\tann\t1.2\n", 1, "got 'a.wav\\\\tgo\\\\tann\\\\t1.2'"),
    ("duplicate", b"a.wav\tgo\nb.wav\tstop\n./a.wav\tgo\n", 3, r"listed twice \(lines 1 and 3\)"),
]


@pytest.mark.parametrize(
    "content, line, words", [c[1:] for c in BAD_MANIFESTS], ids=[c[0] for c in BAD_MANIFESTS]
)
def test_bad_manifests_name_the_file_and_line(clips, content, line, words):
    (clips / "m.tsv").write_bytes(content)
    with pytest.raises(DataError, match=words) as info:
        manifests.read_entries(clips / "m.tsv")
    assert str(info.value).startswith(f"{clips / 'm.tsv'}:{line}: ")


def test_empty_or_missing_manifests(clips):
    (clips / "m.tsv").write_text("path\ttranscript\n# nothing yet\n")
    with pytest.raises(DataError, match=r"m.tsv: the manifest lists no utterances; add"):
        manifests.read_entries(clips / "m.tsv")
    with pytest.raises(DataNotFoundError, match=r"nope.tsv: no such folder or manifest file"):
        manifests.read_entries(clips / "nope.tsv")


@pytest.mark.parametrize(
    "lines, line, words",
    [
        (["19-198-0000 GO", "19-198-0001 CAFÉ"], 2, r"not UTF-8 text \(byte 0xc9\)"),
        (["19-198-0000 GO", "19-198-0000 GO"], 2, r"listed twice \(first at .*trans.txt:1\)"),
        (["19-198-0000"], 1, "expected '<utterance id> <transcript>'"),
    ],
    ids=["latin1", "duplicate", "no_transcript"],
)
def test_bad_librispeech_transcripts_name_the_file_and_line(tmp_path, lines, line, words):
    chapter = tmp_path / "19" / "198"
    chapter.mkdir(parents=True)
    for k in range(2):
        sf.write(chapter / f"19-198-{k:04d}.flac", np.zeros(1600, np.float32), 16000)
    trans = chapter / "19-198.trans.txt"
    trans.write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.raises(DataError, match=words) as info:
        manifests.read_entries(tmp_path)
    assert str(info.value).startswith(f"{trans}:{line}: ")
