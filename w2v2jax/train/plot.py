"""Training curves of a run (loss, learning rate, validation CER) as a PNG beside its logs."""

import os

from w2v2jax.train.metrics import read_metrics


def plot_curves(workdir: str, out: str | None = None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(workdir)
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "validation/cer" in r]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    axes[0].plot([r["step"] for r in train], [r["loss"] for r in train])
    axes[0].set(title="training CTC loss (per token)", xlabel="step", yscale="log")
    axes[1].plot([r["step"] for r in train], [r["learning_rate"] for r in train])
    axes[1].set(title="learning rate", xlabel="step")
    axes[2].plot(
        [r["step"] for r in evals],
        [100 * r["validation/cer"] for r in evals],
        "o-",
        label="validation",
    )
    tests = [r for r in evals if "test/espeak/cer" in r]
    for group in ("espeak", "flite"):
        if tests and f"test/{group}/cer" in tests[-1]:
            axes[2].plot(
                [r["step"] for r in tests],
                [100 * r[f"test/{group}/cer"] for r in tests],
                "s",
                label=f"test, unseen {group} voices",
            )
    axes[2].set(title="CER (%)", xlabel="step", yscale="log")
    axes[2].legend()
    fig.tight_layout()
    out = out or os.path.join(workdir, "training_curves.png")
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
