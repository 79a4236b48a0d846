"""Batched transcription (w2v2jax/transcribe_batch.py, transcript_formats.py, the CLI):
each file of a padded batch gets the one-file pass's log-probs and text, results keep the
input order, manifests resolve relative paths, every output format parses back, and a
chunked model's long file is one exact streaming pass. Micro models, randomly initialised
(their head scaled so the text changes from frame to frame), on synthetic audio."""

import io
import json
import os
import re
import shutil

import jax
import numpy as np
import pytest
import soundfile as sf
from absl import flags

from w2v2jax import transcribe_batch as tb
from w2v2jax import transcript_formats as tf
from w2v2jax.convert.export import write_workdir
from w2v2jax.data import audio as audiolib
from w2v2jax.data.tokenizer import CharTokenizer
from w2v2jax.errors import AudioError, InputError, UsageError
from w2v2jax.inference import Transcriber
from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params

TOK = CharTokenizer(list("abcdefghijklmnopqrstuvwxyz'"))
LENGTHS = (35000, 9000, 21000, 14000)  # 2.2, 0.6, 1.3, 0.9 s: three padded lengths


def make_workdir(root, **fields):
    cfg = get_config("micro", vocab_size=TOK.vocab_size, **fields)
    params = init_params(cfg, jax.random.PRNGKey(0), num_samples=3000)
    head = params["lm_head"]
    head["kernel"] = head["kernel"] * 20
    # <s>, </s>, <unk> never win: their spelling is no text a transcript can be aligned to.
    head["bias"] = head["bias"].at[1:4].set(-50.0)
    TOK.save(root / "vocab")
    return write_workdir(cfg, params, str(root / "wd"), str(root / "vocab" / "vocab.json"))


def write_files(folder, lengths=LENGTHS, seed=0):
    """Noise over a tone whose loudness changes every 50 ms, as int16 wavs."""
    rng, paths = np.random.default_rng(seed), []
    for n in lengths:
        loud = rng.uniform(0.05, 0.5, n // 800 + 1).repeat(800)[:n]
        audio = loud * np.sin(np.arange(n) * rng.uniform(0.02, 0.2)) + 0.05 * rng.standard_normal(n)
        paths.append(str(folder / f"f{len(paths)}_{n}.wav"))
        sf.write(paths[-1], (audio * 30000).astype(np.int16), 16000)
    return paths


@pytest.fixture(scope="module", params=["layer", "group"])
def model(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    t = Transcriber(make_workdir(root, feat_extract_norm=request.param))
    return t, write_files(root)


@pytest.fixture(scope="module")
def layer_model(tmp_path_factory):
    """The layer-norm model alone: for what does not depend on the CNN (the CLI)."""
    root = tmp_path_factory.mktemp("layer_only")
    return Transcriber(make_workdir(root, feat_extract_norm="layer")), write_files(root)


def test_a_padded_batch_gives_each_file_its_own_log_probs(model):
    t, paths = model
    audios = {i: audiolib.load_audio(p) for i, p in enumerate(paths)}
    single = {i: t.log_probs(a) for i, a in audios.items()}
    batches = tb.plan_batches({i: len(a) for i, a in audios.items()}, t.cfg, t.chunk)
    assert sorted(i for _, _, idx in batches for i in idx) == list(range(len(paths)))
    for shape, rows, idx in batches:
        lp, pads = t.log_probs_batch([audios[i] for i in idx], shape, rows)
        assert lp.shape[0] == rows >= len(idx)
        for row, i in enumerate(idx):
            frames = int((1 - pads[row]).sum())
            assert frames == len(single[i])
            np.testing.assert_allclose(lp[row, :frames], single[i], atol=1e-4)
    shapes = sorted(s for s, _, _ in batches)
    lp, _ = t.log_probs_batch([audios[1]], 48000)  # 0.6 s padded to 3 s
    gap = np.abs(lp[0, : len(single[1])] - single[1]).max()
    if t.cfg.feat_extract_norm == "layer":
        # Padding cannot reach a frame: any shape may hold any shorter file, so the
        # shapes are the lengths rounded up to 0.1 s, not to whole seconds.
        assert gap < 1e-4
        assert shapes == [-(-n // tb.GRID) * tb.GRID for n in sorted(LENGTHS)]
        many = dict(enumerate(range(8000, 168000, 8000)))  # 0.5 to 10 s: 20 lengths
        plan = tb.plan_batches(many, t.cfg, t.chunk, batch_size=3)
        assert len({s for s, _, _ in plan}) == tb.NUM_BUCKETS
        assert all(many[i] <= s for s, _, idx in plan for i in idx)
        # Full batches of 3, then leftovers of 2 or 1: never a row of padding.
        assert all(rows == len(idx) and rows in (1, 2, 3) for _, rows, idx in plan)
    else:
        # Group norm spans the padding: more of it changes the frames, hence one shape per
        # whole-second length.
        assert shapes == [16000, 32000, 48000]
        assert gap > 1e-3


@pytest.mark.parametrize("beam", [0, 3])
def test_texts_equal_the_one_file_pass_in_the_order_given(model, beam):
    t, paths = model
    order = [paths[2], paths[0], paths[3], paths[1], paths[2]]  # a path twice, lengths mixed
    out = list(tb.transcribe_files(t, order, beam=beam, batch_size=1 if beam else 2))
    assert [p for p, _ in out] == order
    texts = [r.text for _, r in out]
    assert texts == [t.transcribe(p, beam=beam)[0] for p in order]
    assert len(set(texts)) == 4 and all(texts)  # the model says something, not one thing


def test_manifest_relative_paths_header_and_a_missing_file(model, tmp_path):
    t, paths = model
    (tmp_path / "sub").mkdir()
    local = tmp_path / "sub" / "x.wav"
    shutil.copy(paths[1], local)
    manifest = tmp_path / "list.tsv"
    manifest.write_text(
        f"path\ttranscript\n# a comment\nsub/x.wav\tone two\n\n{paths[0]}\tthree\ngone.wav\tfour\n",
        encoding="utf-8",
    )
    listed = tb.read_manifest(str(manifest))
    assert listed == [str(tmp_path / "sub" / "x.wav"), paths[0], str(tmp_path / "gone.wav")]
    out = list(tb.transcribe_files(t, listed))
    assert [type(r) for _, r in out] == [tf.Transcript, tf.Transcript, AudioError]
    assert "gone.wav: no such audio file" in str(out[2][1])
    assert out[0][1].text == t.transcribe(paths[1])[0]
    # strict: every file before the bad one comes out, then its error; none after it runs.
    results = tb.transcribe_files(t, [listed[0], listed[2], listed[1]], strict=True)
    assert next(results)[0] == listed[0]
    with pytest.raises(AudioError, match="gone.wav"):
        next(results)
    with pytest.raises(InputError, match="no such file"):
        tb.read_manifest(str(tmp_path / "none.tsv"))
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(InputError, match="lists no audio files"):
        tb.read_manifest(str(tmp_path / "empty.txt"))


def test_progress_bar_counts_audio_seconds(model):
    t, paths = model
    bar = io.StringIO()
    list(tb.transcribe_files(t, paths[:2], progress=True, progress_file=bar))
    assert "audio s/s" in bar.getvalue()


def transcript(words, tokens=None, path="a.wav", phonemes=False, index=0):
    return tf.Transcript(
        path, " ".join(w for w, _, _ in words), 9.0, tokens, words, phonemes, index
    )


def test_formats_parse_back():
    words = [("one", 0.1, 0.5), ("two", 0.52, 0.9), ("three", 2.5, 3.1)]
    tokens = [("o", 0.1, 0.2), ("n", 0.2, 0.3)]
    t = transcript(words, tokens)
    assert tf.tsv_line(t, False).split("\t") == ["a.wav", "one two three"]
    assert tf.tsv_line(t, True).split("\t")[2] == "one[0.10-0.50] two[0.52-0.90] three[2.50-3.10]"
    assert tf.tsv_line(transcript([]), True) == "a.wav\t"
    obj = json.loads(tf.json_line(t, True))
    assert obj["text"] == "one two three" and obj["words"][2] == {
        "word": "three",
        "start": 2.5,
        "end": 3.1,
    }
    assert obj["tokens"][1] == {"token": "n", "start": 0.2, "end": 0.3}
    phones = json.loads(tf.json_line(transcript(words, tokens, phonemes=True), True))
    assert "phones" in phones and "tokens" not in phones
    assert set(json.loads(tf.json_line(t, False))) == {"path", "text", "seconds"}
    # A pause of a second or more starts a new cue; so do the word and length limits.
    many = [(f"w{i}", 0.3 * i, 0.3 * i + 0.25) for i in range(30)]  # 12 + 12 + 6 words
    slow = [(f"s{i}", 0.9 * i, 0.9 * i + 0.85) for i in range(10)]  # 6 s reached at s6
    for ws, cues in ((words, 2), (many, 3), (slow, 2)):
        parsed = parse_srt(tf.srt_text(transcript(ws)))
        assert len(parsed) == cues
        assert all(e - s <= tf.CUE_MAX_SECONDS for s, e, _ in parsed)
        assert " ".join(text for _, _, text in parsed) == " ".join(w for w, _, _ in ws)
    assert tf.srt_time(3725.042) == "01:02:05,042"
    assert tf.srt_text(transcript([])) == ""
    assert tf.srt_names(["a/x.wav", "b/x.flac", "x", "c/y.wav"]) == [
        "x.srt",
        "x-2.srt",
        "x-3.srt",
        "y.srt",
    ]
    with pytest.raises(UsageError, match="needs --output_dir"):
        tf.Writer("srt", None, ["a.wav", "b.wav"], False)


SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"


def parse_srt(text):
    """[(start, end, text)] of an SRT document; asserts its form and that times increase."""
    cues, last = [], 0.0
    for n, block in enumerate(text.strip().split("\n\n") if text.strip() else [], 1):
        number, times, *lines = block.split("\n")
        assert number == str(n) and lines
        m = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", times)
        assert m, times
        h, mi, s, ms, h2, mi2, s2, ms2 = map(int, m.groups())
        start, end = h * 3600 + mi * 60 + s + ms / 1000, h2 * 3600 + mi2 * 60 + s2 + ms2 / 1000
        assert last <= start < end
        cues.append((start, end, " ".join(lines)))
        last = end
    return cues


def run_cli(capsys, *argv):
    from w2v2jax import cli, cli_args

    argv = ["w2v2jax", *argv]
    rest = cli_args.parse_flags(argv)
    try:
        code = cli.main(rest)
    finally:
        flags.FLAGS.unparse_flags()
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_writes_each_format(layer_model, tmp_path, capsys):
    t, paths = layer_model
    manifest = tmp_path / "m.txt"
    manifest.write_text("\n".join(os.path.basename(p) for p in paths[1:3]) + "\n")
    # The manifest's paths are relative to its own folder, not to ours.
    for p in paths[1:3]:
        shutil.copy(p, tmp_path)
    wd = f"--workdir={t.workdir}"
    code, out, err = run_cli(capsys, "transcribe", wd, paths[0], f"--manifest={manifest}")
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[0] for r in rows] == [
        paths[0],
        str(tmp_path / os.path.basename(paths[1])),
        str(tmp_path / os.path.basename(paths[2])),
    ]
    assert [r[1] for r in rows] == [t.transcribe(p)[0] for p in paths[:3]]
    code, out, _ = run_cli(
        capsys, "transcribe", wd, "--output_format=json", "--timestamps", *paths[:3]
    )
    objs = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [o["path"] for o in objs] == paths[:3]
    for o in objs:
        assert " ".join(w["word"] for w in o["words"]) == o["text"]
        assert all(w["start"] < w["end"] <= o["seconds"] + 0.02 for w in o["words"])
        assert "".join(x["token"] for x in o["tokens"]) == o["text"].replace(" ", "|")
    out_dir = tmp_path / "subs"
    code, _, err = run_cli(
        capsys, "transcribe", wd, "--output_format=srt", f"--output_dir={out_dir}", *paths[:3]
    )
    assert code == 0 and "wrote 3 files" in err
    for o in objs:
        name = os.path.splitext(os.path.basename(o["path"]))[0] + ".srt"
        cues = parse_srt((out_dir / name).read_text(encoding="utf-8"))
        assert " ".join(text for _, _, text in cues) == o["text"]
    code, _, err = run_cli(capsys, "transcribe", wd, "--output_format=srt", *paths[:2])
    assert code == 1 and "needs --output_dir" in err


def test_a_chunked_models_long_file_is_one_exact_streaming_pass(tmp_path):
    fields = {"feat_extract_norm": "layer", "attention_chunk_frames": 4}
    wd = make_workdir(tmp_path, **fields)
    (path,) = write_files(tmp_path, [16000 * 2 + 5000])
    t = Transcriber(wd, chunk_s=1.0, context_s=0.25)  # 2.3 s is long to this one
    audio = audiolib.load_audio(path)
    lp = tb.long_log_probs(t, audio)
    # The reference: the offline model over the whole z-normalised file, unpadded.
    normed = audiolib.normalize(audio[None], np.zeros((1, len(audio)), np.float32))
    logits, _ = Wav2Vec2ForCTC(t.cfg).apply({"params": t.params}, normed, np.zeros_like(normed))
    reference = np.asarray(jax.nn.log_softmax(logits, -1)[0])
    assert lp.shape == reference.shape
    np.testing.assert_allclose(lp, reference, atol=1e-4)
    ((_, result),) = tb.transcribe_files(t, [path])
    assert result.text == t.decode(reference) != ""
    assert tb.plan_batches({0: len(audio)}, t.cfg, t.chunk) == [(0, 1, [0])]  # run alone


def test_a_full_attention_models_long_file_keeps_the_overlapped_chunks(layer_model):
    t, paths = layer_model
    short = Transcriber(t.workdir, chunk_s=1.0, context_s=0.25)
    ((_, result),) = tb.transcribe_files(short, [paths[0]])
    assert result.text == short.transcribe(paths[0])[0]
    assert result.text != t.transcribe(paths[0])[0]  # chunks of 1 s change a random model's
