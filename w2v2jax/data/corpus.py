"""The synthesized speech corpus as a TFDS dataset (array_record, read without tensorflow).

    path = build_corpus("runs/corpus", task="digits", num_train=3000, seed=0)
    train = load_split(path, "train")      # random access: train[i] -> dict of numpy/str
    # or: tfds.builder_from_directory(path).as_data_source("train") (text fields as bytes)

Features of every example (the same for user data, see folders.py):
  id str, audio int16 [S] at 16 kHz, text str, phonemes str (espeak-ng en-us IPA),
  voice str, voice_group str ("flite"/"espeak"; "user" for user data), duration float32 s.
Splits: train; validation (new texts, training voices); test (new texts, unseen voices: half
espeak-ng variants, half flite kal16, reported per voice_group). flite gets `flite_share` of
train/validation (flite voices lag otherwise: measured 7-11% CER at 13% share).

`out_dir` is the dataset folder itself. It is built in a hidden sibling folder and renamed into
place at the end, so an interrupted build leaves any existing dataset untouched; an existing
dataset built with other settings is never replaced unless overwrite=True.
"""

import collections
import dataclasses
import json
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

import numpy as np
import tensorflow_datasets as tfds
from absl import logging
from tensorflow_datasets.core.utils import tqdm_utils
from tqdm import tqdm

from w2v2jax.data import audio, synth, texts

SPLITS = ("train", "validation", "test")


class DatasetExistsError(FileExistsError):
    """out_dir already holds something other than the requested dataset."""


def speech_features() -> tfds.features.FeaturesDict:
    # tfds.features.Audio needs tensorflow; a plain int16 tensor stores the same samples.
    return tfds.features.FeaturesDict(
        {
            "id": tfds.features.Text(),
            # Raw bytes: the default stores each int16 as an int64 varint, 9 ms per utterance.
            "audio": tfds.features.Tensor(shape=(None,), dtype=np.int16, encoding="bytes"),
            "text": tfds.features.Text(),
            "phonemes": tfds.features.Text(),
            "voice": tfds.features.Text(),
            "voice_group": tfds.features.Text(),
            "duration": tfds.features.Scalar(dtype=np.float32),
        }
    )


def speech_info(builder, params: dict, description: str) -> tfds.core.DatasetInfo:
    # disable_shuffling keeps generation order, so metadata["num_samples"][split][i] is the
    # length of record i and the pipeline can bucket without reading any audio.
    return tfds.core.DatasetInfo(
        builder=builder,
        description=description,
        features=speech_features(),
        disable_shuffling=True,
        metadata=tfds.core.MetadataDict(build=params, num_samples={}),
    )


def example(id_: str, audio_S: np.ndarray, text: str, phonemes: str, voice: str, group: str):
    return {
        "id": id_,
        "audio": audio_S,
        "text": text,
        "phonemes": phonemes,
        "voice": voice,
        "voice_group": group,
        "duration": np.float32(len(audio_S) / audio.SAMPLE_RATE),
    }


def record_lengths(builder, split: str, examples):
    """Passes (key, example) through, noting each audio length in the dataset metadata."""
    lengths = builder.info.metadata["num_samples"].setdefault(split, [])
    for key, ex in examples:
        lengths.append(int(ex["audio"].shape[0]))
        yield key, ex


def ordered_map(fn, items, num_workers: int, desc: str):
    """fn over items in order, `num_workers` at a time, with a progress bar.

    Threads suffice: each call spends its time in a flite/espeak-ng/libsndfile process or C
    code, and threads avoid multiprocessing's start-method pitfalls in callers' programs.
    """
    with (
        ThreadPoolExecutor(max(1, num_workers)) as pool,
        tqdm(total=len(items), desc=desc, unit="utt", leave=False) as bar,
    ):
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= 8 * num_workers:
                bar.update()
                yield pending.popleft().result()
        while pending:
            bar.update()
            yield pending.popleft().result()


@dataclasses.dataclass(eq=False)
class SynthConfig(tfds.core.BuilderConfig):
    task: str = "digits"
    num_train: int = 3000
    num_valid: int = 300
    num_test: int = 300
    seed: int = 0
    flite_share: float = 0.4
    num_workers: int = 2

    @property
    def params(self) -> dict:
        return {
            "kind": "synth",
            "task": self.task,
            "num_train": self.num_train,
            "num_valid": self.num_valid,
            "num_test": self.num_test,
            "seed": self.seed,
            "flite_share": self.flite_share,
            "version": str(SynthSpeech.VERSION),
        }


def make_plan(cfg: SynthConfig) -> dict[str, list[synth.Utterance]]:
    """Every text, voice and setting, drawn from the seed before any synthesis."""
    rng_texts, rng_train, rng_valid, rng_test = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4)
    )
    train = texts.draw_texts(cfg.task, cfg.num_train, rng_texts)
    valid = texts.draw_texts(cfg.task, cfg.num_valid, rng_texts, exclude=set(train))
    test = texts.draw_texts(cfg.task, cfg.num_test, rng_texts, exclude={*train, *valid})
    flite, espeak = synth.train_voices()
    test_flite, test_espeak = synth.test_voices()

    def pick(text, rng, flite_voices, espeak_voices, use_flite):
        pool = flite_voices if use_flite else espeak_voices
        return synth.draw_settings(text, pool[rng.integers(len(pool))], rng)

    return {
        "train": [
            pick(t, rng_train, flite, espeak, rng_train.random() < cfg.flite_share) for t in train
        ],
        "validation": [
            pick(t, rng_valid, flite, espeak, rng_valid.random() < cfg.flite_share) for t in valid
        ],
        # Alternating groups gives both test groups the same size.
        "test": [
            pick(t, rng_test, test_flite, test_espeak, i % 2 == 1) for i, t in enumerate(test)
        ],
    }


def _synthesize(item: tuple[str, synth.Utterance, str]) -> dict:
    id_, utt, phonemes = item
    return example(id_, synth.synthesize(utt), utt.text, phonemes, utt.voice.name, utt.voice.group)


class SpeechBuilder(tfds.core.GeneratorBasedBuilder):
    """What the speech builders share; abstract, so TFDS does not register it."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES: ClassVar[dict[str, str]] = {"1.0.0": "First version."}
    # TFDS would look for download checksums beside this file through importlib_resources
    # (not installed); nothing is downloaded, so there is nothing to look for.
    code_path = None

    def _info(self) -> tfds.core.DatasetInfo:
        return speech_info(self, self.builder_config.params, self.__doc__)

    # TFDS prints "downloading ... prepared to <the temporary folder>": misleading here, as
    # write_dataset moves the result and logs the final path itself.
    def _log_download_bytes(self) -> None:
        pass

    def _log_download_done(self) -> None:
        pass


class SynthSpeech(SpeechBuilder):
    """Utterances synthesized with flite and espeak-ng (see module docstring)."""

    def _split_generators(self, dl_manager):
        plan = make_plan(self.builder_config)
        return {split: self._generate_examples(split, utts) for split, utts in plan.items()}

    def _generate_examples(self, split, utts):
        phonemes = synth.phonemize_many([u.text for u in utts])
        items = [
            (f"{split}-{i:06d}", u, p) for i, (u, p) in enumerate(zip(utts, phonemes, strict=True))
        ]
        made = ordered_map(_synthesize, items, self.builder_config.num_workers, split)
        yield from record_lengths(self, split, enumerate(made))


def build_corpus(
    out_dir: str | os.PathLike,
    task: str = "digits",
    num_train: int = 3000,
    num_valid: int | None = None,
    num_test: int | None = None,
    seed: int = 0,
    *,
    flite_share: float = 0.4,
    num_workers: int = 2,
    overwrite: bool = False,
) -> Path:
    """Synthesizes the corpus into `out_dir` (the dataset folder) and returns its path.

    num_valid / num_test default to 10% / 10% of num_train (at least 10 each). The same
    arguments give an identical corpus; calling again with them reuses the existing one.
    """
    texts.get_task(task)
    synth.check_installed()
    cfg = SynthConfig(
        name=task,
        task=task,
        num_train=num_train,
        seed=seed,
        flite_share=flite_share,
        num_valid=max(10, num_train // 10) if num_valid is None else num_valid,
        num_test=max(10, num_train // 10) if num_test is None else num_test,
        num_workers=num_workers,
    )
    return write_dataset(
        out_dir, lambda d: SynthSpeech(config=cfg, data_dir=d), cfg.params, overwrite=overwrite
    )


def read_params(path: str | os.PathLike) -> dict | None:
    """The build settings recorded in a dataset folder, or None if it is not one of ours."""
    try:
        with open(os.path.join(path, "metadata.json"), encoding="utf-8") as f:
            return json.load(f).get("build")
    except (OSError, ValueError):
        return None


def write_dataset(out_dir, make_builder, params: dict, overwrite: bool = False) -> Path:
    """Builds with make_builder(tmp_data_dir) beside out_dir, then renames it into place."""
    out = Path(out_dir).absolute()
    params = json.loads(json.dumps(params))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if read_params(out) == params:
            logging.info("%s already holds this dataset; reusing it", out)
            return out
        if not overwrite:
            found = read_params(out)
            raise DatasetExistsError(
                f"{out} already holds {'a dataset built with ' + str(found) if found else 'files'}"
                f"; requested {params}. Choose another folder or pass overwrite=True "
                "(--overwrite) to replace it."
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building-{uuid.uuid4().hex[:8]}"
    shown = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(False)  # our own bar counts utterances instead
    try:
        builder = make_builder(str(tmp))
        builder.download_and_prepare(file_format="array_record")
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        if out.exists():
            out.rename(old)
        try:
            Path(builder.data_dir).rename(out)
        except BaseException:
            if old.exists() and not out.exists():
                old.rename(out)  # interrupted between the two renames: put the old data back
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        tfds.display_progress_bar(shown)
        shutil.rmtree(tmp, ignore_errors=True)
    logging.info("wrote %s", out)
    return out


class SplitSource:
    """Random access to one split of a dataset folder: source[i] -> dict with str text fields.

    `lengths` holds every example's sample count (from the metadata, no audio read).
    """

    def __init__(self, path: str | os.PathLike, split: str):
        builder = tfds.builder_from_directory(os.fspath(path))
        if split not in builder.info.splits:
            raise ValueError(f"{path} has no split {split!r}; it has {list(builder.info.splits)}")
        self.path, self.split = Path(path), split
        self._source = builder.as_data_source(split=split)
        lengths = metadata_lengths(path, split)
        self.lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, index: int) -> dict:
        return decode_strings(self._source[index])

    def __getitems__(self, indices) -> list[dict]:
        return [decode_strings(e) for e in self._source.__getitems__(indices)]

    def __repr__(self) -> str:
        return f"SplitSource({str(self.path)!r}, {self.split!r}, n={len(self)})"


def metadata_lengths(path: str | os.PathLike, split: str) -> list[int] | None:
    """Sample counts of a split's records in order, as written at build time (None if absent)."""
    try:
        with open(os.path.join(path, "metadata.json"), encoding="utf-8") as f:
            return json.load(f)["num_samples"][split]
    except (OSError, ValueError, KeyError):
        return None


def decode_strings(ex: dict) -> dict:
    return {k: v.decode("utf-8") if isinstance(v, bytes) else v for k, v in ex.items()}


def load_split(path: str | os.PathLike, split: str) -> SplitSource:
    return SplitSource(path, split)


def group_indices(source, key: str = "voice_group") -> dict[str, list[int]]:
    """Indices of a split by a string feature, e.g. the two test voice groups."""
    groups = collections.defaultdict(list)
    for i in range(len(source)):
        value = source[i][key]
        groups[value.decode() if isinstance(value, bytes) else value].append(i)
    return dict(groups)
