"""python -m experiments.figures --workdir=runs/demo --out=runs/demo/figures

Writes every figure as NAME.png and NAME.pdf with its numbers in NAME.csv (README.md lists
them). Figures 1 and 2 need only the model config; 3-6 read the trained checkpoint and
the corpus it was trained on (its config.json names it; --data_dir overrides).
"""

import os
import time

from absl import app, flags, logging

flags.DEFINE_string("workdir", "runs/demo", "A trained run (make demo, or any train workdir).")
flags.DEFINE_string("out", None, "Output folder; default: WORKDIR/figures.")
flags.DEFINE_string("data_dir", None, "The corpus, if not where the run's config says.")
FLAGS = flags.FLAGS


def main(_):
    from experiments.figures import (
        attention,
        decoding,
        encoder,
        lattice,
        relative,
        sinusoids,
    )
    from experiments.figures.trained import TrainedRun
    from w2v2jax import compile_cache

    compile_cache.enable()
    if not os.path.isdir(FLAGS.workdir):
        raise app.UsageError(f"{FLAGS.workdir} is not a folder: run `make demo` first")
    out = FLAGS.out or os.path.join(FLAGS.workdir, "figures")
    run = TrainedRun(FLAGS.workdir, FLAGS.data_dir)
    steps = [
        ("1 feature encoder", lambda: encoder.draw(run.cfg, out)),
        ("2 sinusoids", lambda: sinusoids.draw(run.cfg, out)),
        ("3 relative dot products", lambda: relative.draw(run, out)),
        ("4 CTC lattice", lambda: lattice.draw(run, out)),
        ("5a attention maps", lambda: attention.draw_maps(run, out)),
        ("5b conv posemb groups", lambda: attention.draw_groups(run, out)),
        ("6 greedy vs beam", lambda: decoding.draw(run, out)),
    ]
    written = []
    for name, fn in steps:
        t0 = time.time()
        paths = fn()
        written += paths
        print(f"{name}: {len(paths)} files in {time.time() - t0:.1f} s")
    print(f"wrote {len(written)} files to {out}")


if __name__ == "__main__":
    logging.set_verbosity(logging.WARNING)
    app.run(main)
