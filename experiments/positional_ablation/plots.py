"""The sweep's outputs: CSVs of every run, the two plots (drawn from those CSVs) and the table."""

import math
import os

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt
import numpy as np

from experiments.csv_rows import read_csv, write_csv
from w2v2jax.models import POSEMBS

# One colour per scheme, in POSEMBS' order (conv blue, sinusoidal orange, learned green,
# rope red, none gray); a new scheme fails here until it has one.
COLORS = dict(
    zip(POSEMBS, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:gray"), strict=True)
)


def _by_scheme(rows, schemes):
    return {
        s: [r for r in rows if r["scheme"] == s]
        for s in schemes
        if any(r["scheme"] == s for r in rows)
    }


def plot_steps(curves_csv: str, out_png: str, schemes) -> None:
    """Validation CER against training step: thin line per seed, thick line the mean."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s, rows in _by_scheme(read_csv(curves_csv), schemes).items():
        steps = sorted({int(r["step"]) for r in rows})
        seeds = sorted({r["seed"] for r in rows})
        table = {(r["seed"], int(r["step"])): float(r["validation_cer"]) for r in rows}
        for seed in seeds:
            xs = [t for t in steps if (seed, t) in table]
            ax.plot(xs, [100 * table[seed, t] for t in xs], color=COLORS.get(s), lw=0.6, alpha=0.5)
        mean = [100 * np.mean([table[k, t] for k in seeds if (k, t) in table]) for t in steps]
        ax.plot(steps, mean, color=COLORS.get(s), lw=2, label=f"{s} (n={len(seeds)})")
    ax.set(xlabel="training step", ylabel="validation CER (%)", ylim=(0, None))
    ax.set_title("CER on held-out texts during training (mean and each seed)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def plot_lengths(lengths_csv: str, out_png: str, schemes, train_s: float) -> None:
    """CER against utterance length per scheme: mean over seeds, bars = min..max."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for s, rows in _by_scheme(read_csv(lengths_csv), schemes).items():
        bins = sorted({float(r["bin_s"]) for r in rows})
        xs, mean, lo, hi = [], [], [], []
        for b in bins:
            cer = [100 * float(r["cer"]) for r in rows if float(r["bin_s"]) == b]
            dur = [float(r["mean_duration_s"]) for r in rows if float(r["bin_s"]) == b]
            xs.append(np.mean(dur))
            mean.append(np.mean(cer))
            lo.append(np.mean(cer) - min(cer))
            hi.append(max(cer) - np.mean(cer))
        ax.errorbar(xs, mean, yerr=[lo, hi], marker="o", capsize=3, color=COLORS.get(s), label=s)
    ax.axvline(train_s, ls="--", color="k", lw=1)
    ax.text(train_s, ax.get_ylim()[1] * 0.95, " longest training input", fontsize=8, va="top")
    ax.set(xlabel="mean utterance length in the bin (s)", ylabel="CER (%)", ylim=(0, None))
    ax.set_title(f"Length extrapolation: trained on <= {train_s:g} s")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def _stat(values) -> str:
    vals = [100 * float(v) for v in values if v not in ("", None) and not math.isnan(float(v))]
    if not vals:
        return "n/a"
    if len(vals) == 1:
        return f"{vals[0]:.1f}"
    return f"{np.mean(vals):.1f} ± {np.std(vals, ddof=1):.1f}"


def table(runs: list[dict], schemes, bins: list[str]) -> str:
    """Markdown: mean ± sample sd over seeds of every CER, in %, one line per scheme."""
    head = ["scheme", "runs", "held-out texts", "held-out voices", "espeak", "flite"]
    head += [b.replace("le", "≤ ") for b in bins] + ["train s/run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s, rows in _by_scheme(runs, schemes).items():
        ok = [r for r in rows if r.get("status") == "ok"]
        cells = [s, f"{len(ok)}/{len(rows)}"]
        for key in ("validation_cer", "test_cer", "test_espeak_cer", "test_flite_cer"):
            cells.append(_stat([r[key] for r in ok]))
        cells += [_stat([r[f"cer_{b}"] for r in ok]) for b in bins]
        cells.append(f"{np.mean([float(r['train_seconds']) for r in ok]):.0f}" if ok else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def curve_table(curves: list[dict], schemes) -> str:
    """Markdown: validation CER (%) at every evaluated step, mean over seeds."""
    steps = sorted({int(c["step"]) for c in curves})
    lines = ["| scheme | " + " | ".join(map(str, steps)) + " |", "|" + "---|" * (len(steps) + 1)]
    for s, rows in _by_scheme(curves, schemes).items():
        by_step = {t: [r["validation_cer"] for r in rows if int(r["step"]) == t] for t in steps}
        cells = [
            f"{100 * np.mean([float(v) for v in by_step[t]]):.1f}" if by_step[t] else "n/a"
            for t in steps
        ]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_all(out: str, runs, curves, length_rows, schemes, bins, train_s) -> list[str]:
    paths = {k: os.path.join(out, k) for k in ("results.csv", "curves.csv", "lengths.csv")}
    write_csv(paths["results.csv"], runs)
    write_csv(paths["curves.csv"], curves)
    write_csv(paths["lengths.csv"], length_rows)
    steps_png = os.path.join(out, "cer_vs_steps.png")
    length_png = os.path.join(out, "cer_vs_length.png")
    plot_steps(paths["curves.csv"], steps_png, schemes)
    plot_lengths(paths["lengths.csv"], length_png, schemes, train_s)
    table_md = os.path.join(out, "table.md")
    with open(table_md, "w") as f:
        f.write(table(runs, schemes, bins))
        f.write("\nValidation CER (%) against step, mean over seeds:\n\n")
        f.write(curve_table(curves, schemes))
    return [*paths.values(), steps_png, length_png, table_md]
