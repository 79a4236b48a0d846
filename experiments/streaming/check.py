"""A trained chunked run streamed as a microphone would feed it, against its offline pass.

The sweep's CERs come from the offline evaluation, which feeds each utterance
z-normalised over its whole length (as training did). A stream cannot know an
utterance's mean and variance before its end, so w2v2jax/streaming.py feeds the samples
as they come. Chunking makes the model block-causal, and tests/streaming_test.py shows a
stream equals the offline pass over the same samples; what is left between the two is
that normalisation alone, and this check measures it on real utterances. A run of raw
samples (setting c32raw, model.do_normalize False) is fed them offline too: there the
check measures nothing but that the two passes agree.

    check.stream_against_offline("runs/streaming-full/rope-c32-s0", data_dir, count=32)
    # {"stream_utterances": 32, "stream_cer": ..., "offline_cer": ..., "stream_same_text": ...}
"""

import numpy as np

from w2v2jax.data import load_split
from w2v2jax.data.audio import to_float
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.inference import Transcriber
from w2v2jax.scoring import cer

PUSH_S = 0.1  # a microphone's buffer; the stream's output does not depend on it


def stream_against_offline(workdir: str, data_dir: str, count: int) -> dict:
    """Greedy texts of the first `count` validation utterances, streamed (raw samples,
    pushed PUSH_S at a time) and offline (Transcriber: the whole file normalised), each
    scored against the reference; and the share of utterances whose two texts agree."""
    t = Transcriber(workdir)
    source = load_split(data_dir, "validation")
    piece = int(PUSH_S * SAMPLE_RATE)
    refs, offline, streamed = [], [], []
    for i in range(min(count, len(source))):
        ex = source[i]
        audio = to_float(np.asarray(ex["audio"]))
        offline.append(t.decode(t.log_probs(audio)))
        stream = t.stream()
        for start in range(0, len(audio), piece):
            stream.push(audio[start : start + piece])
        streamed.append(stream.finish())
        # The reference as the evaluation scores it: the text spelled by the model's symbols.
        refs.append(t.tok.decode(t.tok.encode(ex["text"], strict=False)))
    return {
        "stream_utterances": len(refs),
        "stream_cer": cer(refs, streamed),
        "offline_cer": cer(refs, offline),
        "stream_same_text": float(
            np.mean([a == b for a, b in zip(offline, streamed, strict=True)])
        ),
    }
