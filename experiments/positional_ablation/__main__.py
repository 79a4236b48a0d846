"""python -m experiments.positional_ablation [--quick] --out=DIR

Builds (or reuses) the corpus, trains every scheme x seed for the same number of steps,
evaluates held-out texts, held-out voices and lengths up to 4x the training length, and
writes results.csv, curves.csv, lengths.csv, cer_vs_steps.png, cer_vs_length.png and
table.md into --out. Finished runs are reused, so an interrupted sweep resumes.
"""

import json
import os
import time

from absl import app, flags, logging

from w2v2jax import allocator, compile_cache

flags.DEFINE_bool("quick", False, "Micro model, tiny corpus, 1 seed, few steps (minutes).")
flags.DEFINE_string("out", None, "Folder for the CSVs, plots and table.", required=True)
flags.DEFINE_string(
    "runs_dir", None, "Run workdirs (checkpoints); default: runs/positional_ablation-MODE."
)
flags.DEFINE_string(
    "data_dir", None, "Corpus folder (built if missing); default: runs/corpus-ablation-MODE."
)
flags.DEFINE_integer("seeds", None, "Seeds per scheme (0, 1, ...); default: the mode's.")
flags.DEFINE_integer("steps", None, "Training steps per run; default: the mode's.")
flags.DEFINE_list("schemes", None, "Subset of w2v2jax.models.POSEMBS (default: all).")
FLAGS = flags.FLAGS


def main(_):
    from experiments.positional_ablation import lengths, plots, run
    from w2v2jax.data import build_corpus
    from w2v2jax.models import POSEMBS

    mode = run.QUICK if FLAGS.quick else run.FULL
    schemes = FLAGS.schemes or list(POSEMBS)
    unknown = set(schemes) - set(POSEMBS)
    if unknown:
        raise app.UsageError(f"unknown schemes {sorted(unknown)}; choose from {POSEMBS}")
    seeds = range(FLAGS.seeds if FLAGS.seeds is not None else mode.seeds)
    out = os.path.abspath(FLAGS.out)
    # Checkpoints and the corpus stay out of --out, which may be a folder under git.
    runs_dir = FLAGS.runs_dir or f"runs/positional_ablation-{mode.name}"
    os.makedirs(out, exist_ok=True)
    # Seeds of one scheme compile the same programs: the persistent cache compiles them once.
    compile_cache.enable()
    t0 = time.time()
    data_dir = FLAGS.data_dir or f"runs/corpus-ablation-{mode.name}"
    data_dir = str(build_corpus(data_dir, **mode.corpus))
    long_set = lengths.build_long_set(
        data_dir, run.TRAIN_S, run.FACTOR, mode.long_per_bin, seed=mode.corpus["seed"]
    )
    runs, curves, length_rows = [], [], []
    for seed in seeds:  # seed-major: a cut-short sweep still has every scheme at seed 0
        for scheme in schemes:
            c = run.make_config(mode, scheme, seed, data_dir, FLAGS.steps)
            # Another step count is another run: never reuse (or resume) the mode's.
            name = f"{scheme}-s{seed}" + (f"-{c.total_steps}steps" if FLAGS.steps else "")
            workdir = os.path.join(runs_dir, name)
            logging.warning("run %s seed %d -> %s", scheme, seed, workdir)
            row = run.run_one(c, workdir, long_set)
            runs.append(row)
            curves += [{"scheme": scheme, "seed": seed, **p} for p in run.curve(workdir)]
            length_rows += _length_rows(row, long_set)
            logging.warning("done %s", json.dumps(row))
    bins = [lengths.bin_name(b) for b in long_set.bins]
    written = plots.write_all(out, runs, curves, length_rows, schemes, bins, run.TRAIN_S)
    setup = {
        "mode": mode.name,
        "schemes": schemes,
        "seeds": list(seeds),
        "steps": FLAGS.steps or mode.config["total_steps"],
        "config": f"w2v2jax/configs/ctc.py:{mode.size}",
        "overrides": mode.config,
        "corpus": mode.corpus,
        "long_set": {
            b: sum(x["bin"] == hi for x in long_set)
            for b, hi in zip(bins, long_set.bins, strict=True)
        },
        "train_utterances_over_train_s": run.count_longer(data_dir, run.TRAIN_S),
        "wall_seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(out, "setup.json"), "w") as f:
        json.dump(setup, f, indent=1)
    with open(os.path.join(out, "table.md")) as f:
        print(f.read())
    print(f"wrote {len(written) + 1} files to {out} in {setup['wall_seconds']:.0f} s")


def _length_rows(row: dict, long_set) -> list[dict]:
    if row.get("status") != "ok":
        return []
    from experiments.positional_ablation.lengths import bin_name

    return [
        {
            "scheme": row["scheme"],
            "seed": row["seed"],
            "bin_s": hi,
            "mean_duration_s": row[f"dur_{bin_name(hi)}"],
            "cer": row[f"cer_{bin_name(hi)}"],
        }
        for hi in long_set.bins
    ]


if __name__ == "__main__":
    allocator.reexec_with_tcmalloc()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
