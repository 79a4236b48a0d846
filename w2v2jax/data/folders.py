"""Your own recordings as the same examples as the synthesized corpus.

Two layouts are read (manifests.py): a LibriSpeech-layout folder, or a TSV manifest of
"path<TAB>transcript[<TAB>speaker]" lines. Audio may be any format soundfile reads, any sample
rate (resampled to 16 kHz), any channel count (averaged to mono); bad files raise AudioError
naming them and the line that lists them.

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
from w2v2jax.data.manifests import (
    Entry,
    librispeech_entries,
    manifest_entries,
    read_entries,
)
from w2v2jax.frames import SAMPLE_RATE

__all__ = [
    "Entry",
    "EntrySource",
    "build_dataset",
    "folder_source",
    "librispeech_entries",
    "manifest_entries",
    "manifest_source",
    "read_entries",
]


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
                    raise audio.AudioError(
                        f"{e} (listed at {entry.where}), or pass --skip_bad_files "
                        "(skip_bad_files=True) to leave out every file that cannot be read"
                    ) from e
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
    unlabeled: bool = False,
) -> Path:
    """Writes {split: folder or manifest} as a TFDS dataset in out_dir; returns its path.

    phonemize=True fills "phonemes" with espeak-ng en-us IPA (else ""). unlabeled=True reads
    each folder as plain audio files with empty transcripts (for pretraining). Safe like
    corpus.build_corpus: built aside, renamed into place, never silently replacing data.
    """
    entries = {split: read_entries(src, unlabeled) for split, src in splits.items()}
    params = {
        "kind": "user-unlabeled" if unlabeled else "user",
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
    # Everything the build reads: a folder holding any of it is never replaced.
    inputs = [*splits.values(), *(e.path for split in entries.values() for e in split)]
    return writer.write_dataset(
        out_dir,
        lambda d: UserSpeech(config=cfg, data_dir=d),
        params,
        overwrite=overwrite,
        inputs=inputs,
    )
