"""The synthesized speech corpus, written as a TFDS dataset (array_record, read without tensorflow).

    path = build_corpus("runs/corpus", task="digits", num_train=3000, seed=0)
    train = load_split(path, "train")      # reader.py: random access, train[i] -> dict

Records as schema.py says (the same for user data, see folders.py).
Splits: train; validation (new texts, training voices); test (new texts, unseen voices: half
espeak-ng variants, half flite kal16, reported per voice_group). flite gets `flite_share` of
train/validation (flite voices lag otherwise: measured 7-11% CER at 13% share).
With noisy_test=True the test split also holds a copy of each test utterance heard in a
simulated room (RT60 0.2-0.8 s) with synthesized noise (white, pink, brown or babble at 5-20 dB
SNR), as a third voice group "noisy" reported beside the clean two; the split's overall
figures then cover all three.

`out_dir` is the dataset folder itself, written safely by writer.write_dataset: an interrupted
build leaves any existing dataset untouched, and an existing dataset built with other settings
is never replaced unless overwrite=True.
"""

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds

from w2v2jax.data import audio, augment, schema, synth, texts, workers, writer

NOISY_GROUP = "noisy"
# Every noisy copy is reverberated and noised; a bank of 8 rooms is simulated from the seed.
NOISY_TEST = {
    "reverb_prob": 1.0,
    "rt60_s": (0.2, 0.8),
    "num_rooms": 8,
    "noise_prob": 1.0,
    "snr_db": (5.0, 20.0),
}
_NOISY_STREAM = 0x401
_PEAK = 0.99  # noisy copies are scaled down to this peak rather than clipped


@dataclasses.dataclass(eq=False)
class SynthConfig(tfds.core.BuilderConfig):
    task: str = "digits"
    num_train: int = 3000
    num_valid: int = 300
    num_test: int = 300
    seed: int = 0
    flite_share: float = 0.4
    num_workers: int = 2
    noisy_test: bool = False

    @property
    def params(self) -> dict:
        # noisy_test is recorded only when on: corpora built before it existed stay reusable.
        noisy = {"noisy_test": True} if self.noisy_test else {}
        return noisy | {
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
    return schema.example(
        id_, synth.synthesize(utt), utt.text, phonemes, utt.voice.name, utt.voice.group
    )


class SynthSpeech(writer.SpeechBuilder):
    """Utterances synthesized with flite and espeak-ng (see module docstring)."""

    def _split_generators(self, dl_manager):
        plan = make_plan(self.builder_config)
        return {split: self._generate_examples(split, utts) for split, utts in plan.items()}

    def _generate_examples(self, split, utts):
        phonemes = synth.phonemize_many([u.text for u in utts])
        items = [
            (f"{split}-{i:06d}", u, p) for i, (u, p) in enumerate(zip(utts, phonemes, strict=True))
        ]
        made = workers.ordered_map(_synthesize, items, self.builder_config.num_workers, split)
        if split == "test" and self.builder_config.noisy_test:
            made = _and_noisy_copies(made, self.builder_config.seed)
        yield from writer.record_facts(self, split, enumerate(made))


def noisy_copy(ex: dict, index: int, augmenter: augment.Augmenter, seed: int) -> dict:
    """Test example `index` reverberated and noised (NOISY_TEST), in the "noisy" group."""
    rng = np.random.default_rng([seed, _NOISY_STREAM, index])
    wet = augmenter(audio.to_float(np.asarray(ex["audio"])), rng)
    wet = wet * min(1.0, _PEAK / max(float(np.abs(wet).max()), 1e-9))
    return schema.example(
        f"test-{NOISY_GROUP}-{index:06d}",
        audio.to_int16(wet),
        ex["text"],
        ex["phonemes"],
        ex["voice"],
        NOISY_GROUP,
    )


def _and_noisy_copies(examples, seed: int):
    """The clean examples, then a noisy copy of each in the same order."""
    clean = []
    for ex in examples:
        clean.append(ex)
        yield ex
    augmenter = augment.Augmenter(NOISY_TEST, seed=seed)
    for i, ex in enumerate(clean):
        yield noisy_copy(ex, i, augmenter, seed)


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
    noisy_test: bool = False,
) -> Path:
    """Synthesizes the corpus into `out_dir` (the dataset folder) and returns its path.

    num_valid / num_test default to 10% / 10% of num_train (at least 10 each). The same
    arguments give an identical corpus; calling again with them reuses the existing one.
    noisy_test: adds a reverberated, noised copy of each test utterance as the voice group
    "noisy" (module docstring); a different dataset from the one without.
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
        noisy_test=noisy_test,
    )
    return writer.write_dataset(
        out_dir, lambda d: SynthSpeech(config=cfg, data_dir=d), cfg.params, overwrite=overwrite
    )
