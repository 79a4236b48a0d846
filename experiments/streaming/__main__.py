"""python -m experiments.streaming [--quick] --out=DIR

Builds (or reuses) the positional ablation's corpus, trains every scheme x attention
setting x seed for the same number of steps, evaluates held-out texts and unseen voices,
streams a few utterances of each seed-0 chunked run against its offline pass, and writes
results.csv, summary.csv, cer_vs_latency.png, table.md and setup.json into --out.
Finished runs are reused, so an interrupted sweep resumes: a run's row.json in its
workdir, or its ok row in --out's results.csv (which travels with the repository when the
checkpoints do not, so a sweep cut short on one machine goes on on another). The outputs
are rewritten after every run, so a cut-short sweep leaves a table of what finished.
"""

import json
import os
import time

from absl import app, flags, logging

from w2v2jax import allocator, compile_cache

flags.DEFINE_bool("quick", False, "Micro model, tiny corpus, 2 schemes x 2 settings, 1 seed.")
flags.DEFINE_string("out", None, "Folder for the CSVs, plot and table.", required=True)
flags.DEFINE_string("runs_dir", None, "Run workdirs (checkpoints); default: runs/streaming-MODE.")
flags.DEFINE_string(
    "data_dir",
    None,
    "Corpus folder (built if missing); default: the ablation's, runs/corpus-ablation-MODE.",
)
flags.DEFINE_integer("seeds", None, "Seeds per cell (0, 1, ...); default: the mode's.")
flags.DEFINE_integer("steps", None, "Training steps per run; default: the mode's.")
flags.DEFINE_list("schemes", None, "Positional schemes (default: the mode's).")
flags.DEFINE_list(
    "settings", None, "Attention settings, of run.SETTINGS (default: the mode's; c32raw is extra)."
)
flags.DEFINE_integer(
    "stream_check", None, "Validation utterances streamed per seed-0 chunked run (0: none)."
)
FLAGS = flags.FLAGS


def _finished_rows(results_csv: str) -> dict:
    """(scheme, setting, seed, steps) -> the row of a run that finished ("ok") in an
    earlier sweep's results.csv; a failed run is not reused (it runs again)."""
    if not os.path.exists(results_csv):
        return {}
    from experiments.csv_rows import read_csv

    rows = [r for r in read_csv(results_csv) if r.get("status") == "ok"]
    return {(r["scheme"], r["setting"], r["seed"], r["steps"]): r for r in rows}


def main(_):
    from experiments.streaming import plots, run
    from w2v2jax.data import build_corpus
    from w2v2jax.errors import UsageError
    from w2v2jax.models import POSEMBS

    mode = run.QUICK if FLAGS.quick else run.FULL
    schemes = FLAGS.schemes or list(mode.schemes)
    unknown = set(schemes) - set(POSEMBS)
    if unknown:
        raise UsageError(f"--schemes: unknown {sorted(unknown)}; choose from {POSEMBS}")
    if FLAGS.steps is not None and FLAGS.steps < 1:
        raise UsageError(f"--steps={FLAGS.steps}: give a number of training steps >= 1")
    for flag in ("seeds", "stream_check"):
        if getattr(FLAGS, flag) is not None and getattr(FLAGS, flag) < 0:
            raise UsageError(f"--{flag}={getattr(FLAGS, flag)}: give a whole number >= 0")
    seeds = range(FLAGS.seeds if FLAGS.seeds is not None else mode.seeds)
    checked = mode.stream_check if FLAGS.stream_check is None else FLAGS.stream_check
    unknown = set(FLAGS.settings or ()) - set(run.SETTINGS)
    if unknown:
        raise UsageError(f"--settings: unknown {sorted(unknown)}; choose from {list(run.SETTINGS)}")
    settings = {name: run.SETTINGS[name] for name in FLAGS.settings or mode.settings}
    out = os.path.abspath(FLAGS.out)
    # Checkpoints and the corpus stay out of --out, which may be a folder under git.
    runs_dir = FLAGS.runs_dir or f"runs/streaming-{mode.name}"
    os.makedirs(out, exist_ok=True)
    # Seeds of one cell compile the same programs: the persistent cache compiles them once.
    compile_cache.enable()
    t0 = time.time()
    # The ablation's corpus, by its arguments: an existing one is reused, not rebuilt.
    data_dir = FLAGS.data_dir or f"runs/corpus-ablation-{mode.name}"
    data_dir = str(build_corpus(data_dir, **mode.base.corpus))
    # The budget every run gets, as make_config lays it (for setup.json).
    probe = run.make_config(mode, schemes[0], run.SETTINGS["full"], 0, data_dir, FLAGS.steps)
    done = _finished_rows(os.path.join(out, "results.csv"))
    rows = []
    for seed in seeds:  # seed-major: a cut-short sweep still has every cell at seed 0
        for scheme in schemes:
            for setting in settings.values():
                c = run.make_config(mode, scheme, setting, seed, data_dir, FLAGS.steps)
                # Another step count is another run: never reuse (or resume) the mode's.
                name = f"{scheme}-{setting.name}-s{seed}"
                name += f"-{c.total_steps}steps" if FLAGS.steps else ""
                workdir = os.path.join(runs_dir, name)
                logging.warning("run %s -> %s", name, workdir)
                key = (scheme, setting.name, str(seed), str(c.total_steps))
                if key in done:
                    rows.append({**done[key], "reused": True})
                else:
                    rows.append(run.run_one(c, workdir, setting, checked if seed == 0 else 0))
                logging.warning("done %s", json.dumps(rows[-1]))
                plots.write_all(out, rows, schemes, settings)
    written = plots.write_all(out, rows, schemes, settings)
    setup = {
        "mode": mode.name,
        "schemes": schemes,
        "settings": {
            s.name: {
                "attention_chunk_frames": s.chunk_frames,
                "attention_left_chunks": s.left_chunks,
                "do_normalize": not s.raw,
            }
            for s in settings.values()
        },
        "seeds": list(seeds),
        "steps": probe.total_steps,
        "warmup_steps": probe.warmup_steps,
        "config": f"w2v2jax/configs/ctc.py:{mode.base.size}",
        "overrides": {**mode.base.config, **mode.config, "model.feat_extract_norm": "layer"},
        "corpus": mode.base.corpus,
        "stream_check_utterances": checked,
        "runs_reused": sum(bool(r.get("reused")) for r in rows),
        "wall_seconds": round(time.time() - t0, 1),
    }
    with open(os.path.join(out, "setup.json"), "w") as f:
        json.dump(setup, f, indent=1)
    with open(os.path.join(out, "table.md")) as f:
        print(f.read())
    print(f"wrote {len(written) + 1} files to {out} in {setup['wall_seconds']:.0f} s")


if __name__ == "__main__":
    allocator.reexec_with_tcmalloc()
    logging.set_verbosity(logging.WARNING)
    app.run(main)
