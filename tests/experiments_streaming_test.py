"""experiments/streaming end to end on a tiny budget (the quick mode, as a user runs it, in
a subprocess), then again to see finished runs reused; and, without training, its
configs, its latency definition, its summary and the table rendered from summary.csv."""

import csv
import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `experiments` is a folder of the repository, not of the installed package (appended, so
# the installed w2v2jax still comes first).
if ROOT not in sys.path:
    sys.path.append(ROOT)

import xla_env

from experiments.csv_rows import read_csv, write_csv
from experiments.streaming import plots, run


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def test_the_full_mode_is_45_runs_at_the_ablations_budget():
    m = run.FULL
    assert set(m.schemes) == {"conv", "rope", "none"} and m.seeds == 3
    assert m.config["total_steps"] == 600 == run.ablation.FULL.config["total_steps"]
    chunks = {run.SETTINGS[s].chunk_frames: run.SETTINGS[s].left_chunks for s in m.settings}
    assert sorted(run.SETTINGS[s].chunk_frames for s in m.settings) == [0, 16, 32, 32, 64]
    assert chunks[16] == chunks[64] == -1 and 2 in [run.SETTINGS[s].left_chunks for s in m.settings]
    assert len(m.schemes) * len(m.settings) * m.seeds == 45
    assert run.QUICK.seeds == 1 and len(run.QUICK.schemes) == len(run.QUICK.settings) == 2


def test_latency_is_the_chunk_plus_the_cnn_look_ahead():
    want = {"c16": (325.0, 165.0), "c32": (645.0, 325.0), "c64": (1285.0, 645.0)}
    for name, (worst, mean) in want.items():
        c = run.make_config(run.FULL, "rope", run.SETTINGS[name], 0, "corpus")
        assert run.latency_ms(c.model) == pytest.approx((worst, mean))
        row = run.describe(c, run.SETTINGS[name])
        # 80 samples of look-ahead = 5 ms; the mean waits half a chunk.
        assert row["latency_worst_ms"] == pytest.approx(row["chunk_ms"] + 5.0)
        assert row["latency_mean_ms"] == pytest.approx(row["chunk_ms"] / 2 + 5.0)
    c = run.make_config(run.FULL, "rope", run.SETTINGS["full"], 0, "corpus")
    assert run.latency_ms(c.model) == (math.inf, math.inf)
    limited = run.make_config(run.FULL, "rope", run.SETTINGS["c32l2"], 0, "corpus")
    assert run.latency_ms(limited.model) == run.latency_ms(
        run.make_config(run.FULL, "rope", run.SETTINGS["c32"], 0, "corpus").model
    )


@pytest.mark.parametrize("mode", [run.FULL, run.QUICK], ids=lambda m: m.name)
def test_settings_differ_only_in_chunking_and_every_run_has_the_layer_norm_cnn(mode):
    from experiments.positional_ablation import run as ablation

    for scheme in ("conv", "none"):
        configs = {
            s: _flat(run.make_config(mode, scheme, run.SETTINGS[s], 1, "corpus").to_dict())
            for s in run.SETTINGS
        }
        full = configs["full"]
        for s, c in configs.items():
            assert c["model.feat_extract_norm"] == "layer"
            assert c["model.do_normalize"] == (not run.SETTINGS[s].raw)
            differ = {k for k in full if c[k] != full[k]}
            chunking = {"model.attention_chunk_frames", "model.attention_left_chunks"}
            assert differ <= chunking | ({"model.do_normalize"} if s == "c32raw" else set()), s
            assert (c["seed"], c["model.posemb"]) == (1, scheme)
        # Against the ablation's run of the same scheme: the CNN's norm and the budget.
        old = _flat(ablation.make_config(mode.base, scheme, 1, "corpus").to_dict())
        differ = {k for k in old if old[k] != full[k]}
        budget = {"total_steps", "warmup_steps", "eval_every", "checkpoint_every"}
        assert differ <= budget | {"model.feat_extract_norm"}
        assert full["checkpoint_every"] == full["total_steps"] == mode.config["total_steps"]


def test_steps_flag_keeps_a_quarter_of_warmup():
    c = run.make_config(run.FULL, "conv", run.SETTINGS["c16"], 0, "corpus", steps=600)
    assert (c.total_steps, c.warmup_steps, c.checkpoint_every) == (600, 150, 600)


def _fake_runs():
    rows = []
    for scheme, base in (("conv", 0.10), ("none", 0.50)):
        for name in ("full", "c16", "c32l2", "c32raw"):
            setting = run.SETTINGS[name]
            c = run.make_config(run.FULL, scheme, setting, 0, "corpus")
            for seed in (0, 1, 2):
                r = {**run.describe(c, setting), "seed": seed, "status": "ok"}
                extra = 0.0 if name == "full" else 0.05 * (1 + (name == "c32l2"))
                r.update(
                    validation_cer=base + extra + 0.01 * seed,
                    test_cer=base + 0.1 + extra,
                    test_espeak_cer=base,
                    test_flite_cer=math.nan,
                )
                if seed == 0 and name != "full":
                    r.update(stream_cer=0.2, offline_cer=0.19, stream_same_text=0.75)
                rows.append(r)
    rows.append({**rows[-1], "seed": 3, "status": "failed: loss is nan"})
    return rows


def test_summary_and_the_table_drawn_from_summary_csv(tmp_path):
    summary = plots.summarise(_fake_runs(), ["conv", "none"], run.SETTINGS)
    assert [(r["scheme"], r["setting"]) for r in summary] == [
        (s, n) for s in ("conv", "none") for n in ("full", "c16", "c32l2", "c32raw")
    ]
    by = {(r["scheme"], r["setting"]): r for r in summary}
    assert by["conv", "c16"]["validation_cer_mean"] == pytest.approx(0.16)
    assert by["conv", "c16"]["validation_cer_sd"] == pytest.approx(0.01)
    assert by["none", "c32l2"]["validation_cer_cost"] == pytest.approx(0.10)
    assert (by["none", "c32raw"]["runs"], by["none", "c32raw"]["of"]) == (3, 4)
    kinds = {n: plots._kind(by["conv", n]) for n in ("c16", "c32l2", "c32raw")}
    assert kinds == {"c16": "all", "c32l2": "limited", "c32raw": "raw"}  # drawn apart
    assert math.isnan(by["conv", "full"]["validation_cer_cost"])
    assert math.isnan(by["conv", "full"]["stream_cer"]) and by["conv", "c16"]["stream_cer"] == 0.2
    path = str(tmp_path / "summary.csv")
    write_csv(path, summary)
    md = plots.table(read_csv(path))
    lines = md.strip().splitlines()
    assert len(lines) == 2 + len(summary)
    assert "| conv | c16 | 320 | all | 325 / 165 | 3/3 | 16.0 ± 1.0 | +5.0 |" in md
    assert "| none | c32l2 | 640 | 2 | 645 / 325 | 3/3 |" in md
    assert "| none | c32raw | 640 | all | 645 / 325 | 3/4 |" in md
    assert "| conv | full | — | — | offline | 3/3 | 11.0 ± 1.0 | — |" in md
    assert "20.0 / 19.0, 75 %" in md
    (tmp_path / "out").mkdir()
    written = plots.write_all(str(tmp_path / "out"), _fake_runs(), ["conv", "none"], run.SETTINGS)
    assert all(os.path.getsize(p) > 0 for p in written)
    _check_png(os.path.join(tmp_path, "out", "cer_vs_latency.png"))


# --- the quick mode, end to end ---------------------------------------------------------


def _run(*args: str, timeout: int) -> str:
    env = xla_env.env()  # one CPU device
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout


def _rows(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _check_png(path: str) -> None:
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.shape[0] > 100 and img.shape[1] > 100, path
    assert float(np.std(img[..., :3])) > 0.02, f"{path} is (nearly) blank"


def _run_files(runs_dir: str) -> dict:
    """Every file of every run with its size and mtime: what a retraining would change."""
    out = {}
    for dirpath, _, files in os.walk(runs_dir):
        for f in files:
            p = os.path.join(dirpath, f)
            st = os.stat(p)
            out[os.path.relpath(p, runs_dir)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if not (shutil.which("flite") and shutil.which("espeak-ng")):
        pytest.skip("flite/espeak-ng not installed: the experiment synthesizes its corpus")
    root = tmp_path_factory.mktemp("streaming")
    args = [
        "experiments.streaming",
        "--quick",
        f"--out={root / 'out'}",
        f"--runs_dir={root / 'runs'}",
        f"--data_dir={root / 'corpus'}",
    ]
    # Everything in the test's folder: never reuse (or write) runs under the repository.
    first = _run(*args, timeout=3600)  # a guard; other jobs may pause this one
    return str(root), args, first


@pytest.mark.slow  # trains 4 micro runs and streams 6 utterances: minutes on 2 cores
def test_quick_sweep_writes_every_file(quick):
    root, _, stdout = quick
    out = os.path.join(root, "out")
    rows = _rows(os.path.join(out, "results.csv"))
    cells = [(s, n) for s in run.QUICK.schemes for n in run.QUICK.settings]
    assert sorted((r["scheme"], r["setting"]) for r in rows) == sorted(cells)
    assert all(r["status"] == "ok" and r["seed"] == "0" for r in rows), rows
    for r in rows:
        for key in ("validation_cer", "test_cer", "test_espeak_cer", "test_flite_cer"):
            assert 0.0 <= float(r[key]) < 10.0 and math.isfinite(float(r[key])), (key, r)
        assert int(r["steps"]) == run.QUICK.config["total_steps"]
        chunk_ms = float(r["chunk_ms"])
        worst, mean = float(r["latency_worst_ms"]), float(r["latency_mean_ms"])
        if r["setting"] == "full":
            assert chunk_ms == 0 and math.isinf(worst) and math.isinf(mean)
            assert r["stream_cer"] == ""  # nothing to stream exactly
        else:
            assert (worst, mean) == pytest.approx((chunk_ms + 5.0, chunk_ms / 2 + 5.0))
            assert int(r["stream_utterances"]) == run.QUICK.stream_check
            for key in ("stream_cer", "offline_cer"):
                assert math.isfinite(float(r[key])), (key, r)
            assert 0.0 <= float(r["stream_same_text"]) <= 1.0
    summary = _rows(os.path.join(out, "summary.csv"))
    assert [(r["scheme"], r["setting"]) for r in summary] == cells
    _check_png(os.path.join(out, "cer_vs_latency.png"))
    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    assert table == plots.table(summary)  # rendered from summary.csv, nothing else
    assert all(f"| {s} | {n} |" in table for s, n in cells)
    assert "| conv | full |" in stdout
    with open(os.path.join(out, "setup.json")) as f:
        setup = json.load(f)
    assert setup["runs_reused"] == 0 and setup["steps"] == run.QUICK.config["total_steps"]


@pytest.mark.slow  # needs the quick sweep
def test_a_rerun_reuses_finished_runs_without_training(quick):
    root, args, _ = quick
    out = os.path.join(root, "out")
    before_files = _run_files(os.path.join(root, "runs"))
    before = _rows(os.path.join(out, "results.csv"))
    _run(*args, timeout=600)
    assert _run_files(os.path.join(root, "runs")) == before_files  # no checkpoint rewritten
    after = _rows(os.path.join(out, "results.csv"))
    assert all(r["reused"] == "True" for r in after), after
    keys = ("scheme", "setting", "validation_cer", "test_cer", "stream_cer", "train_seconds")
    assert [[r[k] for k in keys] for r in after] == [[r[k] for k in keys] for r in before]
    with open(os.path.join(out, "setup.json")) as f:
        assert json.load(f)["runs_reused"] == len(before)


@pytest.mark.slow  # needs the quick sweep
def test_a_sweep_without_its_checkpoints_resumes_from_results_csv(quick, tmp_path):
    """Another machine: the committed results.csv, none of the run folders."""
    root, args, _ = quick
    before = _rows(os.path.join(root, "out", "results.csv"))
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(os.path.join(root, "out", "results.csv"), out / "results.csv")
    moved = [a for a in args if not a.startswith(("--out=", "--runs_dir="))]
    _run(*moved, f"--out={out}", f"--runs_dir={tmp_path / 'no-runs'}", timeout=600)
    assert not (tmp_path / "no-runs").exists()  # nothing trained
    after = _rows(str(out / "results.csv"))
    assert all(r["reused"] == "True" for r in after), after
    keys = ("scheme", "setting", "seed", "validation_cer", "test_cer", "stream_cer")
    assert [[r[k] for k in keys] for r in after] == [[r[k] for k in keys] for r in before]
