"""Audio, tokenizers, datasets (synthesized or your own) and grain batches; see pipeline.py.

Imports nothing from models/ or train/: the batch dict is the whole interface.
"""

from w2v2jax.data.audio import AudioError, load_audio
from w2v2jax.data.corpus import (
    DatasetExistsError,
    build_corpus,
    group_indices,
    load_split,
)
from w2v2jax.data.folders import build_dataset, folder_source, manifest_source
from w2v2jax.data.pipeline import default_frames, make_batches, make_eval_batches
from w2v2jax.data.tokenizer import (
    CharTokenizer,
    OutOfVocabularyError,
    PhonemeTokenizer,
    load,
)

__all__ = [
    "AudioError",
    "CharTokenizer",
    "DatasetExistsError",
    "OutOfVocabularyError",
    "PhonemeTokenizer",
    "build_corpus",
    "build_dataset",
    "default_frames",
    "folder_source",
    "group_indices",
    "load",
    "load_audio",
    "load_split",
    "make_batches",
    "make_eval_batches",
    "manifest_source",
]
