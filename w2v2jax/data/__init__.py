"""Audio, tokenizers, datasets (synthesized or your own) and grain batches.

    path = build_corpus("runs/corpus")                     # or build_dataset(out, {split: src})
    train = load_split(path, "train")                      # random access; .lengths, no audio
    tok = tokenizer_for(path, "text")                      # from the metadata, every split
    bounds = fit_boundaries(source_lengths(train), 8)
    stats = Stats()
    ds = make_batches(train, tok, batch_size=16, bucket_boundaries=bounds, seed=0, stats=stats)

Modules: schema (what a record holds), metadata (facts in metadata.json), writer and reader
(dataset folders), subset (a seeded labeled budget), corpus (synthesized), manifests and
folders (your recordings), bucketing, pipeline (grain batches), augment (with noise and
rooms: training augmentation), tokenizer, audio. Imports nothing from models/ or train/:
the batch dict is the whole interface.
"""

from w2v2jax.data.audio import load_audio
from w2v2jax.data.augment import Augmenter
from w2v2jax.data.bucketing import (
    batches_per_epoch,
    default_frames,
    fit_boundaries,
    label_lengths,
    source_lengths,
)
from w2v2jax.data.corpus import build_corpus
from w2v2jax.data.folders import build_dataset, folder_source, manifest_source
from w2v2jax.data.metadata import read_params
from w2v2jax.data.pipeline import Stats, make_batches, make_eval_batches
from w2v2jax.data.reader import SplitSource, group_indices, load_split, tokenizer_for
from w2v2jax.data.subset import Subset, subset
from w2v2jax.data.tokenizer import (
    CharTokenizer,
    OutOfVocabularyError,
    PhonemeTokenizer,
    load,
)
from w2v2jax.errors import AudioError, DatasetExistsError

__all__ = [
    "AudioError",
    "Augmenter",
    "CharTokenizer",
    "DatasetExistsError",
    "OutOfVocabularyError",
    "PhonemeTokenizer",
    "SplitSource",
    "Stats",
    "Subset",
    "batches_per_epoch",
    "build_corpus",
    "build_dataset",
    "default_frames",
    "fit_boundaries",
    "folder_source",
    "group_indices",
    "label_lengths",
    "load",
    "load_audio",
    "load_split",
    "make_batches",
    "make_eval_batches",
    "manifest_source",
    "read_params",
    "source_lengths",
    "subset",
    "tokenizer_for",
]
