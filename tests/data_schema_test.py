"""The record schema: every feature an example has, stored and read back unchanged."""

import numpy as np

from w2v2jax.data import metadata, schema


def test_example_has_exactly_the_features_and_its_duration():
    audio_S = np.arange(8000, dtype=np.int16)
    ex = schema.example("a-1", audio_S, "go", "ɡoʊ", "slt", "flite")
    assert set(ex) == set(schema.speech_features().keys())
    assert ex["duration"] == np.float32(0.5) and ex["duration"].dtype == np.float32
    assert ex["audio"] is audio_S and ex["voice_group"] == "flite"
    assert set(metadata.LABEL_FIELDS) <= set(ex)  # the fields whose symbols are recorded


def test_audio_is_int16_stored_as_raw_bytes():
    audio = schema.speech_features()["audio"]
    assert audio.np_dtype == np.int16 and audio.shape == (None,)
    # One string of little-endian samples, not one int64 varint per sample.
    assert audio.get_serialized_info().shape == ()
    assert audio.encode_example(np.array([1, -2], np.int16)) == b"\x01\x00\xfe\xff"
