"""What does streaming cost, and which positional scheme pays least? (issue 15; README.md).

    python -m experiments.streaming --out=experiments/streaming/results   # ~4.5 h, 45 runs
    python -m experiments.streaming --quick --out=/tmp/streaming-quick    # minutes

Modules: run (settings, modes, configs, latency, one run), check (a stream against the
offline pass), plots (results.csv, summary.csv, cer_vs_latency.png, table.md).
"""
