"""The evaluation as one call: draw the joined utterances, align them, write the files.

result = run("runs/demo-phonemes", "runs/phone_alignment", count=100)
result["summary"]["exclude"]["median_ms"]
"""

import os
import time

from experiments.csv_rows import write_csv
from experiments.phone_alignment import evaluate
from w2v2jax.data import joined, synth
from w2v2jax.errors import UsageError
from w2v2jax.files import write_json
from w2v2jax.inference import Transcriber


def run(workdir, out, count=100, seed=0, vocabulary="words", voices="train") -> dict:
    """The evaluation; returns the setup and summary it writes to out/summary.json."""
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
