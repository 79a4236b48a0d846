"""`python -m w2v2jax.demo --task=phonemes`: the demo with IPA labels.

    python -m w2v2jax.demo --task=phonemes [--workdir=runs/demo-phonemes] [--budget_s=600]
    make demo-phonemes                        # the same, after setting up from nothing

Builds (or reuses) the `words` corpus (short sentences of 354 common words: a phoneme model
must hear each phone in many words), trains the tiny model on its espeak-ng IPA labels
(`label=phonemes`) with the config and wall-clock budget of `make demo`, and prints PER and
FER (the feature-weighted phone error, panphon) on held-out texts and on unseen voices, a
few IPA transcriptions beside their references, and writes phone_posteriors.png: one unseen
voice's utterance, its phone posteriors and its aligned phone boundaries. Everything lands in
the workdir, so `w2v2jax align --workdir=runs/demo-phonemes FILE "TEXT"` and
`python -m experiments.phone_alignment --workdir=runs/demo-phonemes --out=DIR` reuse it.
Runtime, measured (2026-12-01, 2-core machine, nothing else running): 742 s with the
corpus built in 55 s (3600 utterances) and 570 s of training (822 steps; the cpu budget
of `make demo`), plus, on a bare machine, the runtime install.
"""

import os
import time

import numpy as np
import soundfile as sf

from w2v2jax.frames import SAMPLE_RATE

WORKDIR = "runs/demo-phonemes"
DATA_DIR = "runs/corpus-words"
SAMPLES_PER_GROUP = 3


def main(flag_values, demo_config) -> None:
    """Runs the demo with demo.py's flags; `demo_config` is demo.py's config builder
    (passed in: demo.py runs as __main__, and importing it again would define its flags
    twice). The digits demo's default folders give way to this demo's own."""
    from w2v2jax import compile_cache

    compile_cache.enable()
    workdir = flag_values.workdir if flag_values["workdir"].present else WORKDIR
    data_dir = flag_values.data_dir if flag_values["data_dir"].present else DATA_DIR
    # Its figures were measured at 16 utterances a step, at most 1200 steps (the digits demo's
    # older settings); the flags override them.
    c = demo_config(
        data_dir,
        flag_values.budget_s,
        flag_values.total_steps if flag_values["total_steps"].present else 1200,
        clock=flag_values.budget_clock,
        batch_size=flag_values.batch_size if flag_values["batch_size"].present else 16,
    )
    c.label = "phonemes"
    report = run(c, workdir, flag_values.num_train)
    print(report)


def run(c, workdir: str, num_train: int) -> str:
    """Builds the corpus at c.data_dir, trains c in `workdir`, evaluates; returns the report
    (also written to workdir/demo_summary.txt)."""
    from w2v2jax.data import corpus
    from w2v2jax.files import write_text
    from w2v2jax.inference import Transcriber
    from w2v2jax.train import loop

    t0 = time.time()
    corpus.build_corpus(c.data_dir, "words", num_train=num_train, seed=0)
    t_corpus = time.time() - t0
    summary = loop.run(c, workdir)
    t = Transcriber(workdir)
    picked = pick_samples(c.data_dir, os.path.join(workdir, "samples"))
    lines = [transcription_line(t, *p) for p in picked]
    png = plot_phone_posteriors(t, *picked[0][:2], os.path.join(workdir, "phone_posteriors.png"))
    report = "\n".join(
        [
            "",
            "== w2v2jax demo: phonemes ==",
            f"corpus: {c.data_dir} (words task, built/reused in {t_corpus:.0f} s)",
            f"trained {summary['step']} steps in {summary['train_seconds']:.0f} s",
            *rate_lines(summary, c.eval_beam),
            "IPA transcriptions of held-out files (reference, then the model's; stress dropped):",
            *lines,
            f"phone posteriors and aligned phone boundaries: {png}",
            (
                "phone boundaries on joined words: python -m experiments.phone_alignment "
                f"--workdir={workdir} --out={workdir}/phone_alignment"
            ),
            f"total demo time: {time.time() - t0:.0f} s",
        ]
    )
    write_text(os.path.join(workdir, "demo_summary.txt"), report + "\n")
    return report


def rate_lines(summary: dict, beam: int) -> list[str]:
    """PER and FER of each split and voice group the run scored."""
    named = [
        ("validation/", "held-out texts, training voices"),
        ("test/espeak/", "unseen espeak-ng voices"),
        ("test/flite/", "unseen flite voice (kal16)"),
        ("validation/beam_", f"held-out texts, beam search ({beam})"),
    ]
    return [
        f"{what}: PER {100 * summary[k + 'per']:.1f}%  FER {100 * summary[k + 'fer']:.1f}%"
        for k, what in named
        if k + "per" in summary
    ]


def pick_samples(data_dir: str, out_dir: str) -> list[tuple[str, str, str, str]]:
    """(wav path, reference IPA, English text, voice group) of a few test utterances of each
    group, unseen espeak-ng voices first; the files are written for `w2v2jax align`."""
    from w2v2jax.data import group_indices, load_split

    test = load_split(data_dir, "test")
    os.makedirs(out_dir, exist_ok=True)
    picked = []
    for group, idx in sorted(group_indices(test).items()):
        for i in idx[:SAMPLES_PER_GROUP]:
            ex = test[i]
            path = os.path.join(out_dir, f"test_{i:04d}_{group}.wav")
            sf.write(path, np.asarray(ex["audio"], np.int16), SAMPLE_RATE, subtype="PCM_16")
            picked.append((path, _s(ex["phonemes"]), _s(ex["text"]), group))
    return picked


def transcription_line(t, path: str, ref: str, text: str, group: str) -> str:
    from w2v2jax.data import ipa
    from w2v2jax.scoring import ErrorRates

    hyp, _ = t.transcribe(path)
    ref = ipa.normalize(ref)
    # strict=False: a barely trained model may emit <unk>, which has no phonetic features.
    rates = ErrorRates(phonemes=True, inventory=t.tok.inventory, strict=False)
    rates.add(ref, hyp)
    return (
        f"  [{group:6s}] {text!r}\n      ref: {ref}\n      hyp: {hyp}  (PER {100 * rates.per:.0f}%)"
    )


def plot_phone_posteriors(t, path: str, ref: str, out: str) -> str:
    """The waveform with its aligned phones, over the posteriors of the blank and of each
    phone of `ref` (one row each, in order of first use), each phone's aligned frames boxed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from w2v2jax.data import ipa, load_audio

    audio = load_audio(path)
    lp_TxV = t.log_probs(audio)
    tokens, words = t.align(lp_TxV, ref, ipa=True)
    rows = ["<blank>", *dict.fromkeys(p for p, _, _ in tokens)]
    ids = [0, *(t.tok.vocab[p] for p in rows[1:])]
    seconds = lp_TxV.shape[0] * t.frame_seconds
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(13, 3 + 0.22 * len(rows)), sharex=True, height_ratios=[1, 2.5]
    )
    top.plot(np.arange(len(audio)) / SAMPLE_RATE, audio, lw=0.4, color="0.3")
    for n, (phone, start, end) in enumerate(tokens):
        top.axvspan(start, end, color=f"C{n % 2}", alpha=0.25, lw=0)
        top.text((start + end) / 2, 1.02, phone, transform=top.get_xaxis_transform(), ha="center")
    for word, start, end in words:
        top.annotate(
            word, ((start + end) / 2, -0.02), xycoords=top.get_xaxis_transform(),
            ha="center", va="top", color="0.35", fontsize=8,
        )  # fmt: skip
    top.set(ylabel="audio", yticks=[])
    bottom.imshow(
        np.exp(lp_TxV[:, ids].T),
        aspect="auto",
        origin="upper",
        cmap="magma",
        vmin=0,
        vmax=1,
        extent=(0, seconds, len(rows) - 0.5, -0.5),
        interpolation="nearest",
    )
    for phone, start, end in tokens:
        row = rows.index(phone)
        bottom.add_patch(Rectangle((start, row - 0.5), end - start, 1, fill=False, ec="cyan"))
        bottom.axvline(start, color="cyan", lw=0.4, alpha=0.5)
    bottom.set(yticks=range(len(rows)), yticklabels=rows, xlabel="seconds", xlim=(0, seconds))
    bottom.set_title("phone posteriors (boxes: forced alignment, blank frames excluded)")
    fig.suptitle(f"{os.path.basename(path)}: /{ipa.normalize(ref)}/", y=0.995)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)
