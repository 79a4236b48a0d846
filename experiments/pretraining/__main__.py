"""python -m experiments.pretraining [--quick] --out=DIR

Builds (or reuses) the corpus, pretrains the model on the train split's audio (its text is
never read), then fine-tunes with CTC on 50, 200 and all labeled utterances from the
pretrained encoder and from scratch, for the same steps and seeds. Writes results.csv,
pretraining_curves.csv, cer_vs_labels.png, pretraining_curves.png, table.md and setup.json
into --out. Finished runs are reused, so an interrupted sweep resumes.
"""

import json
import os
import time

from absl import app, flags, logging

from w2v2jax import allocator, compile_cache

flags.DEFINE_bool("quick", False, "Micro model, tiny corpus, 1 seed, few steps (minutes).")
flags.DEFINE_string("out", None, "Folder for the CSVs, plots and table.", required=True)
flags.DEFINE_string("runs_dir", None, "Run workdirs; default: runs/pretraining-MODE.")
flags.DEFINE_string(
    "data_dir", None, "Corpus folder (built if missing); default: runs/corpus-pretraining-MODE."
)
flags.DEFINE_integer("seeds", None, "Fine-tuning seeds (0, 1, ...); default: the mode's.")
FLAGS = flags.FLAGS


def main(_):
    from experiments.pretraining import plots, run
    from w2v2jax.data import build_corpus, load_split

    mode = run.QUICK if FLAGS.quick else run.FULL
    seeds = range(FLAGS.seeds if FLAGS.seeds is not None else mode.seeds)
    out = os.path.abspath(FLAGS.out)
    runs_dir = FLAGS.runs_dir or f"runs/pretraining-{mode.name}"
    os.makedirs(out, exist_ok=True)
    # Fine-tuning runs share their programs: the persistent cache compiles them once.
    compile_cache.enable()
    t0 = time.time()
    data_dir = str(
        build_corpus(FLAGS.data_dir or f"runs/corpus-pretraining-{mode.name}", **mode.corpus)
    )
    pre_c = run.pretrain_config(mode, data_dir)
    pre_dir = os.path.join(runs_dir, "pretrain")
    logging.warning("pretraining -> %s", pre_dir)
    pre_row = run.run_pretraining(pre_c, pre_dir)
    logging.warning("pretraining done %s", json.dumps(pre_row))
    rows = []
    for seed in seeds:  # seed-major: a cut-short sweep still has every cell at seed 0
        for labels in mode.labels:
            for init in ("pretrained", "scratch"):
                c = run.finetune_config(mode, init, labels, seed, data_dir, pre_dir)
                name = f"{init}-{labels or 'all'}-s{seed}"
                logging.warning("fine-tuning %s", name)
                rows.append(run.run_finetuning(c, os.path.join(runs_dir, name), init))
                logging.warning("done %s", json.dumps(rows[-1]))
    all_count = len(load_split(data_dir, "train"))
    m = pre_c.model
    codes = m.num_codevector_groups * m.num_codevectors_per_group
    curves = run.pretraining_curves(pre_dir)
    written = plots.write_all(out, rows, curves, all_count, codes, pre_c.collapse_fraction)
    setup = {
        "mode": mode.name,
        "seeds": list(seeds),
        "pretrain": {"config": f"w2v2jax/configs/pretrain.py:{mode.size}", **mode.pretrain},
        "finetune": {"config": f"w2v2jax/configs/ctc.py:{mode.size}", **mode.finetune},
        "pretrained_init": {
            "freeze_feature_encoder": True,
            "freeze_transformer_steps": mode.freeze_transformer_steps,
        },
        "labels": [x or all_count for x in mode.labels],
        "corpus": mode.corpus,
        "pretraining_result": pre_row,
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
