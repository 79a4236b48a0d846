"""Batched transcription of many files: ours (`w2v2jax transcribe`'s runner) against
transformers' `pipeline("automatic-speech-recognition")`, same weights, same files.

    .venv/bin/python -m benchmarks.transcribe            # runs/demo-s0, 200 digits test files
    .venv/bin/python -m benchmarks.transcribe --quick    # 8 files, one batch size each (smoke)

One process. The files are the first --num_files of the built-in digits corpus's test split
(runs/corpus-digits, or built into --corpus), written as 16 kHz wavs. The weights are the
workdir's, exported with `to_hf` into a transformers folder beside the tokenizer files and
a Wav2Vec2FeatureExtractor (do_normalize, an attention mask: our pass masks padded frames
too); the pipeline is built from that local folder, nothing is downloaded. Without a
trained workdir a randomly initialised tiny model is used: its texts mean nothing, but
they are still compared.

Each side runs at several batch sizes, all printed, the best of --reps timed passes each;
ours first runs once untimed per batch size (it compiles one program per padded shape;
the persistent cache keeps them, so the cold figure printed is the first pass of this
process). Ours reads the
wav files itself; the pipeline is handed the decoded arrays, so their reading is not in
its time. Printed: seconds of audio per second, ours / theirs at each side's best batch
size, and how many texts are identical. With the group-norm CNN (the demo model) a file's
frames depend on its padding: ours pads each file to whole seconds (as one-file
transcription always has), the pipeline to the longest file of its batch, so texts can
differ at the margin; the count says how often. The pipeline's texts can also change with
its own batch size (characters decoded from padded frames were seen with the layer-norm
CNN): the last line gives the ratio against its fastest batch size that keeps the texts of
its smallest one.
"""

import argparse
import os
import platform
import tempfile
import time

import jax
import numpy as np
import soundfile as sf
import torch
import transformers

from w2v2jax import compile_cache
from w2v2jax.convert import to_hf
from w2v2jax.convert.export import write_workdir
from w2v2jax.data import audio as audiolib
from w2v2jax.data import load_split
from w2v2jax.data.corpus import build_corpus
from w2v2jax.data.tokenizer import CharTokenizer
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.inference import Transcriber
from w2v2jax.models import get_config, init_params
from w2v2jax.transcribe_batch import transcribe_files

DEFAULT_WORKDIR = "runs/demo-s0"
DEFAULT_CORPUS = "runs/corpus-digits"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workdir", default=None, help=f"a trained run (default {DEFAULT_WORKDIR})")
    p.add_argument(
        "--corpus", default=DEFAULT_CORPUS, help="digits corpus folder (built if absent)"
    )
    p.add_argument("--num_files", type=int, default=200)
    p.add_argument("--ours_batch_sizes", default="0,4,16", help="0 = the automatic size")
    p.add_argument("--hf_batch_sizes", default="1,2,4,16")
    p.add_argument("--reps", type=int, default=3, help="timed passes per batch size (best kept)")
    p.add_argument("--quick", action="store_true", help="8 files, one batch size each")
    args = p.parse_args()
    if args.quick:
        args.num_files, args.ours_batch_sizes, args.hf_batch_sizes, args.reps = 8, "0", "4", 1
    if args.workdir is None and os.path.exists(os.path.join(DEFAULT_WORKDIR, "checkpoints")):
        args.workdir = DEFAULT_WORKDIR
    return args


def corpus_files(corpus: str, count: int, out: str) -> tuple[list[str], list[str]]:
    """The first `count` test utterances as wav files in `out`, and their texts."""
    if not os.path.exists(os.path.join(corpus, "dataset_info.json")):
        print(f"building the digits corpus in {corpus} ({count} test utterances)", flush=True)
        build_corpus(corpus, "digits", num_train=20, num_valid=4, num_test=count)
    test = load_split(corpus, "test")
    if len(test) < count:
        raise SystemExit(f"{corpus} has {len(test)} test utterances; --num_files={count}")
    paths, texts = [], []
    for i in range(count):
        ex = test[i]
        paths.append(os.path.join(out, f"utt{i:04d}.wav"))
        sf.write(paths[-1], np.asarray(ex["audio"], np.int16), SAMPLE_RATE)
        texts.append(ex["text"])
    return paths, texts


def random_workdir(texts: list[str], out: str) -> str:
    print(
        "\n*** no trained workdir: a RANDOMLY INITIALISED tiny model. Its texts are "
        "meaningless; they are still compared, and the speed is the tiny model's. ***\n",
        flush=True,
    )
    tok = CharTokenizer.from_texts(texts)
    cfg = get_config("tiny", vocab_size=tok.vocab_size)
    params = init_params(cfg, jax.random.PRNGKey(0))
    tok.save(os.path.join(out, "vocab"))
    return write_workdir(
        cfg, params, os.path.join(out, "wd"), os.path.join(out, "vocab", "vocab.json")
    )


def hf_pipeline(t: Transcriber, out: str):
    """transformers' ASR pipeline over the workdir's weights, from a local folder."""
    to_hf(t.cfg, t.params, out)
    t.tok.save(out)
    tokenizer = transformers.Wav2Vec2CTCTokenizer.from_pretrained(out)
    extractor = transformers.Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=SAMPLE_RATE,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    )
    model = transformers.Wav2Vec2ForCTC.from_pretrained(out).eval()
    return transformers.pipeline(
        "automatic-speech-recognition",
        model=model,
        tokenizer=tokenizer,
        feature_extractor=extractor,
        device=-1,
    )


def run_ours(t, paths, batch_size):
    start = time.perf_counter()
    out = list(transcribe_files(t, paths, batch_size=batch_size, progress=False))
    seconds = time.perf_counter() - start
    bad = [(p, r) for p, r in out if not hasattr(r, "text")]
    if bad:
        raise SystemExit(f"ours failed on {len(bad)} files, e.g. {bad[0]}")
    return [r.text for _, r in out], seconds


def run_hf(pipe, arrays, batch_size):
    inputs = [{"raw": a, "sampling_rate": SAMPLE_RATE} for a in arrays]
    start = time.perf_counter()
    with torch.inference_mode():
        out = pipe(inputs, batch_size=batch_size)
    return [o["text"] for o in out], time.perf_counter() - start


def same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def main():
    args = parse_args()
    compile_cache.enable()
    torch.set_num_threads(os.cpu_count() or 1)
    tmp = tempfile.mkdtemp(prefix="bench-transcribe-")
    paths, texts = corpus_files(args.corpus, args.num_files, tmp)
    workdir = args.workdir or random_workdir(texts, tmp)
    t = Transcriber(workdir)
    if t.phonemes:
        raise SystemExit(f"{workdir} spells phonemes; this benchmark compares a character model")
    pipe = hf_pipeline(t, os.path.join(tmp, "hf"))
    arrays = [audiolib.load_audio(p) for p in paths]
    audio_s = sum(len(a) for a in arrays) / SAMPLE_RATE
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, jax "
        f"{jax.__version__}, torch {torch.__version__}, transformers {transformers.__version__}"
    )
    print(f"workdir {workdir} (step {t.step}), CNN norm {t.cfg.feat_extract_norm}")
    print(f"{len(paths)} files, {audio_s:.1f} s of audio\n")
    print(f"{'side':<13} {'batch':>6} {'wall s':>8} {'audio s/s':>10}")
    ours, theirs = {}, {}
    for bs in [int(x) for x in args.ours_batch_sizes.split(",")]:
        _, cold = run_ours(t, paths, bs)
        ours[bs] = min((run_ours(t, paths, bs) for _ in range(args.reps)), key=lambda r: r[1])
        name = "auto" if bs == 0 else str(bs)
        print(
            f"{'ours':<13} {name:>6} {ours[bs][1]:8.2f} {audio_s / ours[bs][1]:10.1f}"
            f"   (first pass {cold:.2f} s, compiling or reading the cache)",
            flush=True,
        )
    run_hf(pipe, arrays[:2], 1)  # torch's first call allocates and picks kernels
    for bs in [int(x) for x in args.hf_batch_sizes.split(",")]:
        theirs[bs] = min((run_hf(pipe, arrays, bs) for _ in range(args.reps)), key=lambda r: r[1])
        print(
            f"{'transformers':<13} {bs:>6} {theirs[bs][1]:8.2f} {audio_s / theirs[bs][1]:10.1f}",
            flush=True,
        )
    best_ours = min(ours, key=lambda b: ours[b][1])
    best_hf = min(theirs, key=lambda b: theirs[b][1])
    ratio = theirs[best_hf][1] / ours[best_ours][1]
    print(
        f"\nbest: ours {audio_s / ours[best_ours][1]:.1f} audio s/s (batch "
        f"{best_ours or 'auto'}), transformers {audio_s / theirs[best_hf][1]:.1f} (batch "
        f"{best_hf}): ours / transformers = {ratio:.2f}x"
    )
    ours_texts, hf_texts = ours[best_ours][0], theirs[best_hf][0]
    for bs, (tx, _) in ours.items():
        if tx != ours_texts:
            print(f"!! ours at batch {bs} differs from batch {best_ours} (should never happen)")
    identical = sum(same(a, b) for a, b in zip(ours_texts, hf_texts, strict=True))
    print(
        f"identical texts (ours vs transformers at their best batch sizes): "
        f"{identical} / {len(paths)}"
    )
    for bs, (tx, _) in theirs.items():
        n = sum(same(a, b) for a, b in zip(ours_texts, tx, strict=True))
        print(f"  vs transformers at batch {bs}: {n} / {len(paths)}")
    shown = [
        (p, a, b) for p, a, b in zip(paths, ours_texts, hf_texts, strict=True) if not same(a, b)
    ]
    for p, a, b in shown[:5]:
        print(f"  {os.path.basename(p)}: ours {a!r} | transformers {b!r}")
    # A batch size whose texts differ from the pipeline's own smallest batch is not the
    # same transcription made faster; the ratio against the fastest one that keeps them:
    first = min(theirs)
    kept = [b for b in theirs if all(map(same, theirs[b][0], theirs[first][0]))]
    best_kept = min(kept, key=lambda b: theirs[b][1])
    print(
        f"transformers' batch sizes whose texts equal its batch {first}: {kept}; against the "
        f"fastest of them (batch {best_kept}, {audio_s / theirs[best_kept][1]:.1f} audio s/s): "
        f"ours / transformers = {theirs[best_kept][1] / ours[best_ours][1]:.2f}x"
    )
    if args.workdir:
        right = sum(same(a, b) for a, b in zip(ours_texts, texts, strict=True))
        print(f"ours equal to the reference transcript: {right} / {len(paths)}")


if __name__ == "__main__":
    main()
