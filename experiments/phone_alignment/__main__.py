"""python -m experiments.phone_alignment --workdir=RUN --out=DIR [--count=100]

Synthesizes --count utterances of words spoken one by one and joined with silences of known
length (w2v2jax/data/joined.py), aligns each with the phoneme model of --workdir, and writes
boundaries.csv (every word onset and offset under every blanks rule), summary.json and
table.md into --out; prints the table and the median boundary error.
"""

import sys

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


def main(_):
    from experiments.phone_alignment import evaluate
    from experiments.phone_alignment.run import run
    from w2v2jax import compile_cache
    from w2v2jax.errors import W2V2JaxError

    compile_cache.enable()
    try:
        result = run(
            FLAGS.workdir, FLAGS.out, FLAGS.count, FLAGS.seed, FLAGS.vocabulary, FLAGS.voices
        )
    except W2V2JaxError as e:  # bad input is one sentence, as in the w2v2jax command
        print(f"phone_alignment: error: {e}", file=sys.stderr)
        return 1
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
