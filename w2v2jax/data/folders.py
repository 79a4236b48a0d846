"""Your own recordings as the same examples as the synthesized corpus.

Two layouts are read:
  LibriSpeech: ROOT/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac with one
    <speaker>-<chapter>.trans.txt per chapter holding "<utt id> <TRANSCRIPT>" lines.
  TSV manifest: one "path<TAB>transcript[<TAB>speaker]" line per utterance (a first line
    "path<TAB>transcript" is taken as a header); relative paths are relative to the manifest.
Audio may be any format soundfile reads, any sample rate (resampled to 16 kHz), any channel
count (averaged to mono); bad files raise AudioError naming them.

Train from them either directly (reads and resamples on the fly):
    train = folder_source("LibriSpeech/train-clean-100"); valid = manifest_source("dev.tsv")
or after writing them once as a TFDS dataset (int16 16 kHz, faster to read, same features and
splits as corpus.py, voice_group "user", voice = speaker; its facts in metadata.json):
    path = build_dataset("runs/mydata", {"train": "LibriSpeech/train-clean-100",
                                          "validation": "dev.tsv"})
    train = reader.load_split(path, "train")
Then `pipeline.make_batches(train, tokenizer, ...)`.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import tensorflow_datasets as tfds
from absl import logging

from w2v2jax.data import audio, schema, synth, tokenizer, workers, writer
from w2v2jax.errors import DataError, DataNotFoundError
from w2v2jax.frames import SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class Entry:
    id: str
    path: str
    text: str
    speaker: str = ""


def librispeech_entries(root: str | os.PathLike) -> list[Entry]:
    """Entries of a LibriSpeech-layout folder, sorted by transcript file then line."""
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: no such folder")
    entries = []
    for trans in sorted(root.rglob("*.trans.txt")):
        for n, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            utt, _, text = line.strip().partition(" ")
            if not text.strip():
                raise DataError(f"{trans}:{n}: expected '<utterance id> <transcript>'")
            found = [p for p in trans.parent.glob(f"{utt}.*") if not p.name.endswith(".txt")]
            if not found:
                raise DataNotFoundError(
                    f"{trans}:{n}: no audio file {trans.parent}/{utt}.* for this transcript line"
                )
            entries.append(Entry(utt, str(found[0]), text.strip(), utt.split("-")[0]))
    if not entries:
        raise DataError(
            f"{root}: no *.trans.txt transcripts found; expected the LibriSpeech "
            "layout speaker/chapter/*.flac + *.trans.txt, or pass a .tsv manifest"
        )
    return entries


def manifest_entries(tsv: str | os.PathLike) -> list[Entry]:
    """Entries of a "path<TAB>transcript[<TAB>speaker]" manifest."""
    tsv = Path(tsv)
    entries = []
    for n, line in enumerate(tsv.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if n == 1 and fields[:2] == ["path", "transcript"]:
            continue
        if len(fields) < 2 or not fields[1].strip():
            raise DataError(f"{tsv}:{n}: expected 'path<TAB>transcript', got {line!r}")
        path = (tsv.parent / fields[0]).resolve()
        speaker = fields[2].strip() if len(fields) > 2 else path.parent.name
        entries.append(Entry(fields[0], str(path), fields[1].strip(), speaker))
    if not entries:
        raise DataError(f"{tsv}: the manifest lists no utterances")
    return entries


def read_entries(path: str | os.PathLike) -> list[Entry]:
    """A folder is read as LibriSpeech, a file as a TSV manifest."""
    return librispeech_entries(path) if Path(path).is_dir() else manifest_entries(path)


def to_example(entry: Entry, phonemes: str = "") -> dict:
    audio_S = audio.to_int16(audio.load_audio(entry.path))
    return schema.example(entry.id, audio_S, entry.text, phonemes, entry.speaker, "user")


def header_length(path: str) -> int:
    """Samples at 16 kHz, from the header only (soxr yields round(n * 16000 / rate))."""
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError):
        return 0  # load_audio reports the file properly when it is read
    return round(info.frames * SAMPLE_RATE / info.samplerate)


class EntrySource:
    """Random access to entries, reading audio on access; `lengths` from file headers."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.lengths = np.asarray([header_length(e.path) for e in entries], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> dict:
        return to_example(self.entries[index])


def folder_source(root: str | os.PathLike) -> EntrySource:
    return EntrySource(librispeech_entries(root))


def manifest_source(tsv: str | os.PathLike) -> EntrySource:
    return EntrySource(manifest_entries(tsv))


@dataclasses.dataclass(eq=False)
class UserConfig(tfds.core.BuilderConfig):
    # repr=False: TFDS logs the config, and a split may hold 100k entries.
    splits: dict = dataclasses.field(default_factory=dict, repr=False)  # split -> list[Entry]
    params: dict = dataclasses.field(default_factory=dict, repr=False)  # identifies the build
    phonemize: bool = False
    skip_bad_files: bool = False
    num_workers: int = 2


class UserSpeech(writer.SpeechBuilder):
    """Recordings from LibriSpeech-layout folders or TSV manifests (see folders.py)."""

    def _split_generators(self, dl_manager):
        return {s: self._generate_examples(s, e) for s, e in self.builder_config.splits.items()}

    def _generate_examples(self, split, entries):
        cfg = self.builder_config
        phonemes = [""] * len(entries)
        if cfg.phonemize:
            synth.check_installed(["espeak-ng"])
            phonemes = synth.phonemize_many([tokenizer.normalize_chars(e.text) for e in entries])

        def load(item):
            entry, ph = item
            try:
                return to_example(entry, ph)
            except audio.AudioError as e:
                if not cfg.skip_bad_files:
                    raise audio.AudioError(f"{e} (or pass skip_bad_files=True)") from e
                logging.warning("skipping %s", e)
                return None

        made = workers.ordered_map(
            load, list(zip(entries, phonemes, strict=True)), cfg.num_workers, split
        )
        yield from writer.record_facts(self, split, ((ex["id"], ex) for ex in made if ex))


def build_dataset(
    out_dir: str | os.PathLike,
    splits: dict[str, str | os.PathLike],
    *,
    phonemize: bool = False,
    skip_bad_files: bool = False,
    num_workers: int = 2,
    overwrite: bool = False,
) -> Path:
    """Writes {split: folder or manifest} as a TFDS dataset in out_dir; returns its path.

    phonemize=True fills "phonemes" with espeak-ng en-us IPA (else ""). Safe like
    corpus.build_corpus: built aside, renamed into place, never silently replacing data.
    """
    entries = {split: read_entries(src) for split, src in splits.items()}
    params = {
        "kind": "user",
        "phonemize": phonemize,
        "skip_bad_files": skip_bad_files,
        "splits": {s: [str(Path(src).resolve()), len(entries[s])] for s, src in splits.items()},
        "version": str(UserSpeech.VERSION),
    }
    cfg = UserConfig(
        name="user",
        splits=entries,
        params=params,
        phonemize=phonemize,
        skip_bad_files=skip_bad_files,
        num_workers=num_workers,
    )
    return writer.write_dataset(
        out_dir, lambda d: UserSpeech(config=cfg, data_dir=d), params, overwrite=overwrite
    )
