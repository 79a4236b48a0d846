"""`make demo`: synthesize the digits corpus, train the tiny model for a fixed budget of
the CPU's time, evaluate, transcribe held-out files and plot the curves.

    python -m w2v2jax.demo --workdir=runs/demo [--budget_s=600] [--budget_clock=cpu|wall]
        [--noaugment] [--seed=N] [--nonoisy_test] [--batch_size=8]
    python -m w2v2jax.demo --task=phonemes     # IPA labels on the words corpus: demo_phonemes.py

Everything lands in the workdir (checkpoint, vocab.json, metrics.jsonl, summary.json,
training_curves.png, samples/), so `w2v2jax transcribe --workdir=runs/demo FILE` and
`make figures` reuse it. The budget fixes the step count after the first steps
(train/budget.py), so the schedule ends with the budget. It counts CPU seconds per core
(`--budget_clock=cpu`): on a machine busy with other work the demo takes longer and
trains the same steps, so its result does not depend on the load (a wall-clock budget
halves the steps when another process takes one of two cores). The training audio is
augmented (demo_setup.AUGMENT); the test split holds a reverberated, noised copy scored as "noisy".
Rerunning reuses the corpus and resumes from the run's last checkpoint: a run that reached
its planned steps is done (it is evaluated again), one cut short trains on to them.
"""

import copy
import os
import time

import numpy as np
import soundfile as sf
from absl import app, flags, logging

from w2v2jax import allocator
from w2v2jax.demo_setup import demo_config, steps_hint
from w2v2jax.frames import SAMPLE_RATE

flags.DEFINE_string("workdir", "runs/demo", "Run folder.")
flags.DEFINE_string("data_dir", "runs/corpus-digits", "Corpus folder (built if missing).")
flags.DEFINE_integer("num_train", 3000, "Training utterances to synthesize.")
flags.DEFINE_float("budget_s", 600.0, "Training budget in seconds (of --budget_clock).")
flags.DEFINE_integer(
    "total_steps", 4000, "Most steps; the schedule is laid over those that fit in the budget."
)
flags.DEFINE_integer(
    "batch_size",
    8,
    "Utterances per step. 8 buys about 3x the steps of 16 in the budget and learns further "
    "(benchmarks/RESULTS_demo.md); at 4 the run stayed on CTC's blank plateau.",
)
flags.DEFINE_enum(
    "task",
    "digits",
    ["digits", "phonemes"],
    "digits: characters, digits corpus; phonemes: IPA, words corpus (runs/demo-phonemes).",
)
flags.DEFINE_enum(
    "budget_clock",
    "cpu",
    ["cpu", "wall"],
    "What the budget counts: cpu = this process's CPU seconds per core (the same steps however "
    "busy the machine is; a busy machine takes longer), wall = wall-clock seconds.",
)
flags.DEFINE_integer("seed", 0, "Training seed (init, order, augmentation).")
flags.DEFINE_bool(
    "augment",
    True,
    "Augment the training audio (demo_setup.AUGMENT: speed, pitch, noise, rooms, gain).",
)
flags.DEFINE_bool(
    "noisy_test", True, "Add the reverberated, noised copy of the test split (group 'noisy')."
)
FLAGS = flags.FLAGS


def write_samples(data_dir: str, out_dir: str, count: int = 4) -> list[tuple[str, str, str]]:
    """A few held-out test utterances (both voice groups) as WAV files to transcribe."""
    from w2v2jax.data import group_indices, load_split

    test = load_split(data_dir, "test")
    groups = group_indices(test)
    os.makedirs(out_dir, exist_ok=True)
    picked = []
    for g, idx in sorted(groups.items()):
        for i in idx[: count // len(groups)]:
            ex = test[i]
            path = os.path.join(out_dir, f"test_{i:04d}_{g}.wav")
            sf.write(path, np.asarray(ex["audio"], np.int16), SAMPLE_RATE, subtype="PCM_16")
            picked.append((path, _s(ex["text"]), g))
    return picked


def long_file_check(data_dir: str, t, out_dir: str, count: int = 12) -> tuple[str, str, str]:
    """Joins `count` held-out utterances (0.3 s apart) into one long file and transcribes it
    in one pass and in 8 s chunks with 2 s of context: (reference, one pass, chunked)."""
    from w2v2jax.data import load_split

    test = load_split(data_dir, "test")
    gap = np.zeros(4800, np.int16)
    pieces, refs = [], []
    for i in range(min(count, len(test))):
        pieces += [np.asarray(test[i]["audio"], np.int16), gap]
        refs.append(_s(test[i]["text"]))
    path = os.path.join(out_dir, "long_test.wav")
    sf.write(path, np.concatenate(pieces), SAMPLE_RATE, subtype="PCM_16")
    whole, chunked = copy.copy(t), copy.copy(t)  # same weights, other chunking
    whole.chunk = len(np.concatenate(pieces)) + 1
    chunked.chunk, chunked.context = 8 * SAMPLE_RATE, 2 * SAMPLE_RATE
    return " ".join(refs), whole.transcribe(path)[0], chunked.transcribe(path)[0]


def _s(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main(_):
    from w2v2jax import compile_cache
    from w2v2jax.data import corpus
    from w2v2jax.inference import Transcriber
    from w2v2jax.scoring import ErrorRates
    from w2v2jax.train import loop
    from w2v2jax.train.plot import plot_curves

    if FLAGS.task == "phonemes":
        from w2v2jax import demo_phonemes

        return demo_phonemes.main(FLAGS, demo_config)
    # A rerun reads the bucket steps from disk instead of compiling them again (~60 s).
    compile_cache.enable()
    t0 = time.time()
    corpus.build_corpus(
        FLAGS.data_dir, "digits", num_train=FLAGS.num_train, seed=0, noisy_test=FLAGS.noisy_test
    )
    t_corpus = time.time() - t0
    summary = loop.run(
        demo_config(
            FLAGS.data_dir,
            FLAGS.budget_s,
            FLAGS.total_steps,
            FLAGS.seed,
            FLAGS.augment,
            FLAGS.budget_clock,
            FLAGS.batch_size,
        ),
        FLAGS.workdir,
    )
    png = plot_curves(FLAGS.workdir)
    t = Transcriber(FLAGS.workdir)
    lines = []
    for path, ref, group in write_samples(FLAGS.data_dir, os.path.join(FLAGS.workdir, "samples")):
        hyp, _ = t.transcribe(path)
        lines.append(f"  [{group:6s}] ref: {ref!r:40s} hyp: {hyp!r}")
    ref, one_pass, chunked = long_file_check(
        FLAGS.data_dir, t, os.path.join(FLAGS.workdir, "samples")
    )
    long_cer, chunk_cer = ErrorRates(), ErrorRates()
    long_cer.add(ref, one_pass)
    chunk_cer.add(ref, chunked)
    speed = _speed(FLAGS.workdir)
    report = "\n".join(
        [
            "",
            "== w2v2jax demo ==",
            f"corpus: {FLAGS.data_dir} (built/reused in {t_corpus:.0f} s)",
            (
                f"trained {summary['step']} steps (planned: {summary.get('planned_steps', '-')}) "
                f"in {summary['train_seconds']:.0f} s of the {FLAGS.budget_clock} budget "
                f"({summary.get('train_wall_seconds', summary['train_seconds']):.0f} s of wall time) "
                f"({speed:.0f} s of audio per second, median), after compiling the steps "
                f"for every bucket in {summary.get('compile_seconds', 0):.0f} s"
            ),
            (
                f"validation CER (held-out texts, training voices): {100 * summary['validation/cer']:.1f}%"
                f"  WER {100 * summary['validation/wer']:.1f}%"
            ),
            f"test CER, unseen espeak-ng voices: {100 * summary['test/espeak/cer']:.1f}%",
            f"test CER, unseen flite voice (kal16): {100 * summary['test/flite/cer']:.1f}%",
            *(
                [f"test CER, noisy copy (rooms + noise): {100 * summary['test/noisy/cer']:.1f}%"]
                if "test/noisy/cer" in summary
                else []
            ),
            f"beam search (8) validation CER: {100 * summary.get('validation/beam_cer', float('nan')):.1f}%",
            "transcriptions of held-out files:",
            *lines,
            (
                f"long file (12 test utterances joined, {len(ref.split())} words): CER "
                f"{100 * long_cer.cer:.1f}% in one pass, {100 * chunk_cer.cer:.1f}% in 8 s "
                f"chunks; same text: {'yes' if chunked == one_pass else 'no'}"
            ),
            *steps_hint(summary, FLAGS.budget_s, FLAGS.batch_size, FLAGS.total_steps),
            f"curves: {png}",
            f"total demo time: {time.time() - t0:.0f} s",
        ]
    )
    print(report)
    with open(os.path.join(FLAGS.workdir, "demo_summary.txt"), "w") as f:
        f.write(report + "\n")


def _speed(workdir: str) -> float:
    from w2v2jax.train.metrics import read_metrics

    vals = [r["audio_per_second"] for r in read_metrics(workdir) if "audio_per_second" in r]
    return float(np.median(vals[3:] or vals or [0.0]))


if __name__ == "__main__":
    allocator.reexec_with_tcmalloc()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
