"""The sweep's outputs: results.csv (a row per run), summary.csv (mean and sample sd over
seeds per scheme x setting), cer_vs_latency.png and table.md, both drawn from the CSVs.

    written = write_all("experiments/streaming/results", rows, ["conv", "none"], SETTINGS)
    print(table(read_csv("experiments/streaming/results/summary.csv")))
"""

import math
import os
import statistics

import matplotlib

matplotlib.use("Agg")  # files only; no display on the machines this runs on
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from experiments.csv_rows import read_csv, write_csv
from experiments.positional_ablation.plots import COLORS

METRICS = (  # results.csv column -> table heading
    ("validation_cer", "held-out texts"),
    ("test_cer", "unseen voices"),
    ("test_espeak_cer", "espeak"),
    ("test_flite_cer", "flite kal16"),
)
COSTS = ("validation_cer", "test_cer")  # the metrics whose cost against full attention is kept
STREAM = ("stream_cer", "offline_cer", "stream_same_text")  # check.py, seed-0 runs only


def _floats(rows, key) -> list[float]:
    vals = [float(r[key]) for r in rows if r.get(key) not in ("", None)]
    return [v for v in vals if not math.isnan(v)]


def _mean(values) -> float:
    return statistics.mean(values) if values else math.nan


def _sd(values) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def summarise(runs: list[dict], schemes, settings: dict) -> list[dict]:
    """One row per (scheme, setting) that has runs: mean and sample sd over seeds of every
    CER, and its cost (mean minus the same scheme's full-attention mean), in fractions."""
    out = []
    for scheme in schemes:
        full = [r for r in runs if r["scheme"] == scheme and r["setting"] == "full"]
        full = [r for r in full if r.get("status") == "ok"]
        for name in settings:
            mine = [r for r in runs if r["scheme"] == scheme and r["setting"] == name]
            if not mine:
                continue
            ok = [r for r in mine if r.get("status") == "ok"]
            row = {k: mine[0][k] for k in ("scheme", "setting", "chunk_ms", "left_chunks")}
            row.update(
                latency_worst_ms=mine[0]["latency_worst_ms"],
                latency_mean_ms=mine[0]["latency_mean_ms"],
                runs=len(ok),
                of=len(mine),
            )
            for key, _ in METRICS:
                row[f"{key}_mean"] = _mean(_floats(ok, key))
                row[f"{key}_sd"] = _sd(_floats(ok, key))
            for key in COSTS:
                ref = _mean(_floats(full, key))
                row[f"{key}_cost"] = math.nan if name == "full" else row[f"{key}_mean"] - ref
            for key in STREAM:
                row[key] = _mean(_floats(ok, key))
            out.append(row)
    return out


def _pct(mean: str, sd: str = "nan", signed: bool = False) -> str:
    m, s = float(mean), float(sd)
    if math.isnan(m):
        return "—"
    text = f"{100 * m:+.1f}" if signed else f"{100 * m:.1f}"
    return text if math.isnan(s) else f"{text} ± {100 * s:.1f}"


def _latency(worst: str, mean: str) -> str:
    w, m = float(worst), float(mean)
    return "offline" if math.isinf(w) else f"{w:.0f} / {m:.0f}"


def table(summary: list[dict]) -> str:
    """Markdown from summary.csv's rows (strings): CER in %, mean ± sample sd over seeds;
    "cost" = the setting's mean minus the scheme's full-attention mean, in points."""
    head = ["scheme", "setting", "chunk ms", "left chunks", "latency worst / mean ms", "runs"]
    for key, title in METRICS:
        head.append(title)
        if key in COSTS:
            head.append("cost")
    head.append("stream / offline CER, same text (seed 0)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in summary:
        left = "all" if int(r["left_chunks"]) < 0 else r["left_chunks"]
        chunk = "—" if float(r["chunk_ms"]) == 0 else f"{float(r['chunk_ms']):g}"
        cells = [r["scheme"], r["setting"], chunk, left if chunk != "—" else "—"]
        cells += [_latency(r["latency_worst_ms"], r["latency_mean_ms"]), f"{r['runs']}/{r['of']}"]
        for key, _ in METRICS:
            cells.append(_pct(r[f"{key}_mean"], r[f"{key}_sd"]))
            if key in COSTS:
                cells.append(_pct(r[f"{key}_cost"], signed=True))
        if math.isnan(float(r["stream_cer"])):
            cells.append("—")
        else:
            same = 100 * float(r["stream_same_text"])
            cells.append(f"{_pct(r['stream_cer'])} / {_pct(r['offline_cer'])}, {same:.0f} %")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


MARKERS = {"limited": "s", "raw": "^"}


def _kind(row) -> str:
    """How a chunked setting is drawn: on its scheme's line ("all": every earlier chunk,
    normalised input), or apart ("limited" left context; "raw" samples: the c32raw kind)."""
    if row["setting"].endswith("raw"):
        return "raw"
    return "limited" if int(row["left_chunks"]) >= 0 else "all"


def plot_latency(summary_csv: str, out_png: str) -> None:
    """CER against worst-case latency, a panel per eval set: a line per scheme over its
    chunked settings with every earlier chunk (bars: sample sd), an open square for a
    limited left context, an open triangle for raw samples, and the scheme's full
    attention as a dashed horizontal line."""
    rows = read_csv(summary_csv)
    schemes = list(dict.fromkeys(r["scheme"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.2), sharey=True)
    ticks = sorted({float(r["latency_worst_ms"]) for r in rows} - {math.inf})
    for ax, (key, title) in zip(axes, METRICS[:2], strict=True):
        for s in schemes:
            mine = [r for r in rows if r["scheme"] == s and r[f"{key}_mean"] != "nan"]
            color = COLORS.get(s)
            full = [r for r in mine if math.isinf(float(r["latency_worst_ms"]))]
            for r in full:
                ax.axhline(100 * float(r[f"{key}_mean"]), color=color, ls="--", lw=1.2)
            for kind in ("all", "limited", "raw"):
                pts = sorted(
                    (float(r["latency_worst_ms"]), r)
                    for r in mine
                    if not math.isinf(float(r["latency_worst_ms"])) and _kind(r) == kind
                )
                if not pts:
                    continue
                xs = [x for x, _ in pts]
                ys = [100 * float(r[f"{key}_mean"]) for _, r in pts]
                sd = [100 * float(r[f"{key}_sd"]) for _, r in pts]
                sd = [0.0 if math.isnan(v) else v for v in sd]
                style = {"marker": "o"}
                if kind != "all":
                    style = {"marker": MARKERS[kind], "mfc": "none", "ls": "none", "ms": 8}
                ax.errorbar(xs, ys, yerr=sd, color=color, capsize=3, **style)
        ax.set(xscale="log", xlabel="algorithmic latency, worst case (ms)", title=title)
        if ticks:
            ax.set_xticks(ticks, [f"{t:.0f}" for t in ticks])
            ax.set_xlim(ticks[0] / 1.4, ticks[-1] * 1.4)
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[0].set(ylabel="CER (%)", ylim=(0, None))
    handles = [Line2D([], [], color=COLORS.get(s), marker="o", label=s) for s in schemes]
    handles.append(Line2D([], [], color="k", ls="--", label="full attention (offline)"))
    for kind, label in (("limited", "limited left context"), ("raw", "raw samples")):
        if any(_kind(r) == kind for r in rows):
            handles.append(
                Line2D([], [], color="k", marker=MARKERS[kind], mfc="none", ls="none", label=label)
            )
    axes[1].legend(handles=handles, fontsize=8)
    fig.suptitle("What streaming costs: chunked attention against full attention (mean of seeds)")
    fig.tight_layout()
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def write_all(out: str, runs: list[dict], schemes, settings: dict) -> list[str]:
    """Writes every output into `out`; the table and the plot read summary.csv back, so
    they show exactly what it holds. Returns the paths."""
    paths = {
        name: os.path.join(out, name)
        for name in ("results.csv", "summary.csv", "cer_vs_latency.png", "table.md")
    }
    write_csv(paths["results.csv"], runs)
    write_csv(paths["summary.csv"], summarise(runs, schemes, settings))
    plot_latency(paths["summary.csv"], paths["cer_vs_latency.png"])
    with open(paths["table.md"], "w") as f:
        f.write(table(read_csv(paths["summary.csv"])))
    return list(paths.values())
