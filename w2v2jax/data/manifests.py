"""The lists of your recordings: LibriSpeech transcripts and TSV manifests, read into Entries.

  LibriSpeech: ROOT/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac with one
    <speaker>-<chapter>.trans.txt per chapter holding "<utt id> <TRANSCRIPT>" lines.
  TSV manifest: one "path<TAB>transcript[<TAB>speaker]" line per utterance; relative paths
    are relative to the manifest. The first line may be the header "path<TAB>transcript"
    (or "path<TAB>transcript<TAB>speaker"), exactly; blank lines and "#" lines are skipped.

Text files are UTF-8 (a leading byte-order mark is accepted). Every malformed line, duplicate
or undecodable byte raises DataError naming the file and line, before any audio is read.
"""

import dataclasses
import os
from pathlib import Path

from w2v2jax.errors import DataError, DataNotFoundError

HEADERS = (["path", "transcript"], ["path", "transcript", "speaker"])
_FORMAT = "'path<TAB>transcript' or 'path<TAB>transcript<TAB>speaker'"


@dataclasses.dataclass(frozen=True)
class Entry:
    id: str
    path: str
    text: str
    speaker: str = ""
    # "list.tsv:3": where the entry is listed, so an error about its audio can say which
    # line to fix. Not part of its identity.
    where: str = dataclasses.field(default="", compare=False)


def read_lines(path: Path) -> list[str]:
    """The lines of a UTF-8 text file (BOM dropped), numbered as an editor numbers them."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{path}: no such file; check the path") from e
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror}); check the path") from e
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{raw[e.start]:02x}); re-save the file as "
            "UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT` for a Latin-1 file"
        ) from e
    # Not str.splitlines: it also breaks at \x0c, \x1c, \u2028..., which a transcript may hold
    # and which would shift every line number after them.
    return [line.removesuffix("\r") for line in text.split("\n")]


def librispeech_entries(root: str | os.PathLike) -> list[Entry]:
    """Entries of a LibriSpeech-layout folder, sorted by transcript file then line."""
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    entries, seen = [], {}
    for trans in sorted(root.rglob("*.trans.txt")):
        for n, line in enumerate(read_lines(trans), 1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            where = f"{trans}:{n}"
            if not text.strip():
                raise DataError(f"{where}: expected '<utterance id> <transcript>', got {line!r}")
            if utt in seen:
                raise DataError(
                    f"{where}: utterance {utt} is listed twice (first at {seen[utt]}); "
                    "remove one of the two lines"
                )
            seen[utt] = where
            found = [p for p in trans.parent.glob(f"{utt}.*") if not p.name.endswith(".txt")]
            if not found:
                raise DataNotFoundError(
                    f"{where}: no audio file {trans.parent}/{utt}.* for this transcript line"
                )
            entries.append(Entry(utt, str(found[0]), text.strip(), utt.split("-")[0], where))
    if not entries:
        raise DataError(
            f"{root}: no *.trans.txt transcripts found; expected the LibriSpeech "
            "layout speaker/chapter/*.flac + *.trans.txt, or give a .tsv manifest"
        )
    return entries


def manifest_entries(tsv: str | os.PathLike) -> list[Entry]:
    """Entries of a "path<TAB>transcript[<TAB>speaker]" manifest."""
    tsv = Path(tsv)
    entries, seen, first = [], {}, True
    for n, line in enumerate(read_lines(tsv), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields, where = line.split("\t"), f"{tsv}:{n}"
        if fields in HEADERS:
            if not first:
                raise DataError(f"{where}: a header line belongs only at the top; remove it")
            first = False
            continue
        if len(fields) not in (2, 3) or not fields[0].strip() or not fields[1].strip():
            raise DataError(f"{where}: expected {_FORMAT}, got {line!r}; fix this line")
        path = (tsv.parent / fields[0]).resolve()
        if first and not path.exists() and not Path(fields[0]).suffix:
            # Most likely a header with other names ("file<TAB>text"): as an entry it would
            # only fail later, as a missing audio file called "file".
            raise DataError(
                f"{where}: {line!r} is neither an audio file nor the header; a header must be "
                "exactly 'path<TAB>transcript': fix or remove this line"
            )
        first = False
        if str(path) in seen:
            raise DataError(
                f"{where}: {fields[0]} is listed twice (lines {seen[str(path)]} and {n}); "
                "remove one of the two lines"
            )
        seen[str(path)] = n
        speaker = fields[2].strip() if len(fields) == 3 else ""
        entries.append(
            Entry(fields[0], str(path), fields[1].strip(), speaker or path.parent.name, where)
        )
    if not entries:
        raise DataError(f"{tsv}: the manifest lists no utterances; add {_FORMAT} lines")
    return entries


def audio_dir_entries(root: str | os.PathLike) -> list[Entry]:
    """Every audio file under a folder (any format libsndfile reads), without transcripts:
    unlabeled audio for pretraining. Ids are the paths relative to the folder."""
    import soundfile

    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    extensions = {f".{ext.lower()}" for ext in soundfile.available_formats()} | {".oga"}
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in extensions)
    if not paths:
        raise DataError(
            f"{root}: no audio files found (looked for {', '.join(sorted(extensions))} under "
            "it); point --from_audio_dir at the folder that holds them"
        )
    return [
        Entry(str(p.relative_to(root).with_suffix("")), str(p), "", p.parent.name, str(p))
        for p in paths
    ]


def read_entries(path: str | os.PathLike, unlabeled: bool = False) -> list[Entry]:
    """A folder is read as LibriSpeech (or, unlabeled, as a folder of audio files), a file
    as a TSV manifest."""
    if not os.path.exists(path):
        raise DataNotFoundError(f"{path}: no such folder or manifest file; check the path")
    if unlabeled and Path(path).is_dir():
        return audio_dir_entries(path)
    return librispeech_entries(path) if Path(path).is_dir() else manifest_entries(path)
