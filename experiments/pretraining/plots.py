"""The experiment's outputs: CSVs, the two figures (drawn from the CSVs) and the table."""

import math
import os
import statistics

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt

from experiments.csv_rows import read_csv, write_csv

INITS = {"pretrained": "tab:blue", "scratch": "tab:gray"}
METRICS = (  # column -> table heading
    ("validation_cer", "held-out texts"),
    ("test_cer", "unseen voices"),
    ("test_espeak_cer", "espeak"),
    ("test_flite_cer", "flite kal16"),
)


def _label_key(labels) -> int:
    return math.inf if str(labels) == "all" else int(labels)


def _mean_sd(values) -> str:
    values = [100 * v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(rows: list[dict], all_count: int) -> str:
    """Markdown: one line per (labels, init), mean ± sample sd over seeds, in %."""
    ok = [r for r in rows if r.get("status") == "ok"]
    groups = sorted({(_label_key(r["labels"]), r["init"]) for r in rows})
    head = "| labeled utterances | init | runs | " + " | ".join(h for _, h in METRICS)
    lines = [head + " | train s/run |", "|---" * (len(METRICS) + 4) + "|"]
    for labels, init in groups:
        mine = [r for r in rows if _label_key(r["labels"]) == labels and r["init"] == init]
        good = [r for r in ok if r in mine]
        cells = [_mean_sd([float(r[m]) for r in good]) for m, _ in METRICS]
        secs = statistics.mean(float(r["train_seconds"]) for r in good) if good else math.nan
        name = f"all ({all_count})" if labels == math.inf else str(labels)
        lines.append(
            f"| {name} | {init} | {len(good)}/{len(mine)} | "
            + " | ".join(cells)
            + f" | {secs:.0f} |"
        )
    return "\n".join(lines)


def plot_labels(results_csv: str, out_png: str, all_count: int) -> None:
    """CER against labeled utterances (log x), one line per init, a panel per eval set."""
    rows = [r for r in read_csv(results_csv) if r["status"] == "ok"]
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0), sharey=True)
    for ax, (metric, title) in zip(axes, METRICS[:2], strict=True):
        for init, color in INITS.items():
            mine = [r for r in rows if r["init"] == init]
            xs = sorted({_label_key(r["labels"]) for r in mine})
            for x in xs:
                ys = [100 * float(r[metric]) for r in mine if _label_key(r["labels"]) == x]
                xpos = all_count if x == math.inf else x
                ax.scatter([xpos] * len(ys), ys, color=color, s=12, alpha=0.5)
            means = [
                statistics.mean(
                    100 * float(r[metric]) for r in mine if _label_key(r["labels"]) == x
                )
                for x in xs
            ]
            ax.plot(
                [all_count if x == math.inf else x for x in xs],
                means,
                color=color,
                lw=2,
                marker="o",
                label=init,
            )
        ax.set(xscale="log", xlabel="labeled utterances", title=title)
        ticks = sorted(
            {all_count if _label_key(r["labels"]) == math.inf else int(r["labels"]) for r in rows}
        )
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, None)
    axes[0].set_ylabel("CER (%)")
    axes[0].legend()
    fig.suptitle("CTC fine-tuning, same steps: pretrained encoder vs random init (mean, seeds)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def plot_pretraining(curves_csv: str, out_png: str, codes: int, collapse_fraction: float) -> None:
    """The pretraining run: loss terms, codebook perplexities, temperature, accuracy."""
    rows = read_csv(curves_csv)
    train = [r for r in rows if r.get("contrastive_loss")]
    val = [r for r in rows if r.get("validation/contrastive_loss")]

    def series(rs, key):
        xs = [int(r["step"]) for r in rs if r.get(key)]
        return xs, [float(r[key]) for r in rs if r.get(key)]

    fig, axes = plt.subplots(2, 2, figsize=(9.6, 7.0))
    ax = axes[0, 0]
    for key, label in (
        ("contrastive_loss", "contrastive (per masked frame)"),
        ("diversity", "diversity (x0.1 in the loss)"),
        ("features_penalty", "feature penalty (x10 in the loss)"),
    ):
        ax.plot(*series(train, key), label=label, lw=1)
    ax.plot(*series(val, "validation/contrastive_loss"), "k--", label="contrastive, validation")
    ax.set(xlabel="step", title="loss terms", yscale="log")
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    ax.plot(*series(train, "prob_perplexity"), label="soft (prob) perplexity", lw=1)
    ax.plot(*series(train, "code_perplexity"), label="hard (code) perplexity", lw=1)
    ax.axhline(codes, color="k", lw=0.8, label=f"G x V = {codes}")
    ax.axhline(collapse_fraction * codes, color="r", lw=0.8, ls=":", label="collapse line")
    ax.set(xlabel="step", title="codebook perplexity", ylim=(0, None))
    ax.legend(fontsize=7)
    ax = axes[1, 0]
    ax.plot(*series(train, "temperature"), color="tab:purple")
    ax.set(xlabel="step", title="Gumbel temperature")
    ax = axes[1, 1]
    ax.plot(*series(train, "accuracy"), lw=0.6, alpha=0.6, label="train (one batch)")
    ax.plot(*series(val, "validation/accuracy"), "k--o", ms=3, label="validation")
    ax.set(xlabel="step", title="contrastive accuracy (positive ranked first)", ylim=(0, None))
    ax.legend(fontsize=7)
    for a in axes.flat:
        a.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def write_all(out: str, rows, curves, all_count: int, codes: int, collapse_fraction: float):
    paths = {
        name: os.path.join(out, name)
        for name in (
            "results.csv",
            "pretraining_curves.csv",
            "cer_vs_labels.png",
            "pretraining_curves.png",
            "table.md",
        )
    }
    write_csv(paths["results.csv"], rows)
    write_csv(paths["pretraining_curves.csv"], curves)
    plot_labels(paths["results.csv"], paths["cer_vs_labels.png"], all_count)
    plot_pretraining(
        paths["pretraining_curves.csv"], paths["pretraining_curves.png"], codes, collapse_fraction
    )
    with open(paths["table.md"], "w") as f:
        f.write(table(rows, all_count) + "\n")
    return list(paths.values())
