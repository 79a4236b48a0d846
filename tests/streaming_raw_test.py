"""model.do_normalize=False: a model that hears raw samples in training hears them offline
too, so a chunked model's stream equals `transcribe` exactly; with the default (each
utterance z-normalised) the stream, which cannot know an utterance's statistics, differs."""

import io

import jax
import numpy as np
import pytest
import soundfile as sf
from train_helpers import micro_config

from w2v2jax import stream_cli
from w2v2jax.convert import write_workdir
from w2v2jax.data import audio, bucketing, pipeline
from w2v2jax.data.tokenizer import CharTokenizer
from w2v2jax.inference import Transcriber
from w2v2jax.models import get_config, init_params
from w2v2jax.transcribe_batch import long_log_probs, transcribe_files

TOK = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz'"))
SR = 16000


def _workdir(tmp_path_factory, do_normalize):
    cfg = get_config(
        "micro",
        vocab_size=TOK.vocab_size,
        feat_extract_norm="layer",
        attention_chunk_frames=4,
        do_normalize=do_normalize,
    )
    params = init_params(cfg, jax.random.PRNGKey(0), num_samples=3000)
    vocab = tmp_path_factory.mktemp("vocab")
    TOK.save(vocab)
    wd = str(tmp_path_factory.mktemp(f"norm{do_normalize}") / "wd")
    write_workdir(cfg, params, wd, str(vocab / "vocab.json"))
    return wd


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    """1.7 s far from zero mean and unit variance: quiet noise on a DC offset."""
    rng = np.random.default_rng(0)
    pcm = (1500 + 900 * rng.standard_normal(27300)).astype(np.int16)
    path = tmp_path_factory.mktemp("audio") / "quiet.wav"
    sf.write(path, pcm, SR, subtype="PCM_16")
    return str(path), pcm.astype(np.float32) / 32768


def _streamed(t, samples):
    stream = t.stream()
    for i in range(0, len(samples), 700):  # pieces unaligned to frames and chunks
        stream.push(samples[i : i + 700])
    return stream.finish(), stream.log_probs()


@pytest.mark.parametrize("do_normalize", [False, True])
def test_stream_equals_transcribe_only_for_a_model_of_raw_samples(
    tmp_path_factory, wav, do_normalize
):
    t = Transcriber(_workdir(tmp_path_factory, do_normalize))
    path, samples = wav
    offline = t.log_probs(samples)
    text, streamed = _streamed(t, samples)
    assert streamed.shape == offline.shape
    gap = float(np.max(np.abs(streamed - offline)))
    if do_normalize:
        assert gap > 1e-2  # the stream's raw samples are not what the model was given offline
    else:
        assert gap < 1e-4
        ((_, result),) = transcribe_files(t, [path], progress=False)
        assert result.text == text
        figures = stream_cli.run(
            t.workdir, path, realtime=False, out=io.StringIO(), err=io.StringIO(), warm=False
        )
        assert figures["text"] == text


def test_a_long_file_of_a_raw_model_streams_its_samples_as_they_are(tmp_path_factory, wav):
    t = Transcriber(_workdir(tmp_path_factory, False))
    samples = wav[1]
    np.testing.assert_allclose(long_log_probs(t, samples), _streamed(t, samples)[1], atol=1e-4)


def test_batches_are_raw_or_normalised_as_the_run_says(tiny_corpus):
    from w2v2jax.train import assemble, objectives

    rng = np.random.default_rng(0)
    src = [
        {"audio": (2000 + 500 * rng.standard_normal(9000)).astype(np.int16), "text": "one"}
        for _ in range(8)
    ]
    lengths = bucketing.source_lengths(src)
    for do_normalize in (True, False):
        c = micro_config(tiny_corpus, **{"model.do_normalize": do_normalize})
        run = assemble(c, objectives.build(c))
        for train in (True, False):
            ds = run.objective.batches(
                src,
                train=train,
                stats=pipeline.Stats(),
                **({"seed": 0, "lengths": lengths} if train else {}),
                **run.pipeline_args(),
            )
            b = next(iter(ds))
            i, n = int(b["index"][0]), 9000
            raw = audio.to_float(src[i]["audio"])[None]
            want = audio.normalize(raw, np.zeros((1, n))) if do_normalize else raw
            np.testing.assert_allclose(b["audio"][0, :n], want[0], atol=1e-5)
