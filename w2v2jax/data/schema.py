"""What every record of a dataset holds, synthesized (corpus.py) or the user's (folders.py).

  id str, audio int16 [S] at 16 kHz, text str, phonemes str (espeak-ng en-us IPA, or ""),
  voice str, voice_group str ("flite"/"espeak"; "user" for user data), duration float32 s.

Stored as TFDS array_record and read without tensorflow (reader.py). Facts about the whole
dataset (lengths, voice groups, symbols) go to its metadata.json (metadata.py).

Shape legend: S samples.
"""

import numpy as np
import tensorflow_datasets as tfds

from w2v2jax.data import metadata
from w2v2jax.frames import SAMPLE_RATE

SPLITS = ("train", "validation", "test")


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
        metadata=metadata.new(params),
    )


def example(id_: str, audio_S: np.ndarray, text: str, phonemes: str, voice: str, group: str):
    return {
        "id": id_,
        "audio": audio_S,
        "text": text,
        "phonemes": phonemes,
        "voice": voice,
        "voice_group": group,
        "duration": np.float32(len(audio_S) / SAMPLE_RATE),
    }
