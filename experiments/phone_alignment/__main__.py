"""python -m experiments.phone_alignment --workdir=RUN --out=DIR [--count=100]

Synthesizes --count utterances of words spoken one by one and joined with silences of known
length (w2v2jax/data/joined.py), aligns each with the phoneme model of --workdir, and writes
boundaries.csv (every word onset and offset under every blanks rule), summary.json and
table.md into --out; prints the table and the median boundary error.
"""

import os
import time

from absl import app, flags, logging

from w2v2jax import allocator

flags.DEFINE_string("workdir", None, "A phoneme model's run folder.", required=True)
flags.DEFINE_string(
    "out", None, "Folder for boundaries.csv, summary.json, table.md.", required=True
)
flags.DEFINE_integer("count", 100, "Joined utterances to synthesize and align.")
flags.DEFINE_integer("seed", 0, "Seed of the words, voices, settings and silences.")
flags.DEFINE_enum("vocabulary", "words", ["words", "digits"], "The words to join (a task's).")
flags.DEFINE_enum("voices", "train", ["train", "test"], "espeak-ng voices: training or unseen.")
FLAGS = flags.FLAGS


def run(workdir, out, count=100, seed=0, vocabulary="words", voices="train") -> dict:
    """The evaluation; returns the setup and summary it writes to out/summary.json."""
    from experiments.csv_rows import write_csv
    from experiments.phone_alignment import evaluate
    from w2v2jax.data import joined, synth
    from w2v2jax.errors import UsageError
    from w2v2jax.files import write_json
    from w2v2jax.inference import Transcriber

    t0 = time.time()
    t = Transcriber(workdir)
    if not t.phonemes:
        raise UsageError(f"{workdir} spells characters: train it with --config.label=phonemes")
    kept, left_out = evaluate.known_words(t, evaluate.VOCABULARIES[vocabulary])
    if not kept:
        raise UsageError(f"{workdir} can emit the phonemes of none of the {vocabulary} words")
    pool = synth.train_voices()[1] if voices == "train" else synth.test_voices()[1]
    utts = joined.draw_joined(kept, count, seed, voices=pool)
    rows = evaluate.boundary_rows(t, utts)
    summary = evaluate.summarize(rows)
    os.makedirs(out, exist_ok=True)
    write_csv(os.path.join(out, "boundaries.csv"), rows)
    result = {
        "workdir": os.path.abspath(workdir),
        "checkpoint_step": int(t.step),
        "count": count,
        "seed": seed,
        "vocabulary": vocabulary,
        "voices": voices,
        "words_left_out": left_out,
        "frame_ms": 1000 * t.frame_seconds,
        "summary": summary,
        "wall_seconds": round(time.time() - t0, 1),
    }
    write_json(os.path.join(out, "summary.json"), result, indent=1)
    with open(os.path.join(out, "table.md"), "w", encoding="utf-8") as f:
        f.write(evaluate.table(summary) + "\n")
    return result


def main(_):
    from experiments.phone_alignment import evaluate
    from w2v2jax import compile_cache

    compile_cache.enable()
    result = run(FLAGS.workdir, FLAGS.out, FLAGS.count, FLAGS.seed, FLAGS.vocabulary, FLAGS.voices)
    s = result["summary"]["exclude"]
    print(evaluate.table(result["summary"]))
    print(
        f"median boundary error: {s['median_ms']:.0f} ms (90th percentile {s['p90_ms']:.0f} ms) "
        f"over {s['boundaries']} word onsets and offsets, blank frames excluded; "
        f"{result['count']} utterances, checkpoint step {result['checkpoint_step']}, "
        f"{result['wall_seconds']:.0f} s; wrote {FLAGS.out}"
    )


if __name__ == "__main__":
    allocator.reexec_with_tcmalloc()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
