"""The experiments end to end on a tiny budget: the quick ablation, then every figure drawn
from one of its trained runs. Checks that each file is written and holds what is plotted.

Both commands run as subprocesses, as a user runs them (`python -m ...` from the repository
root), on one CPU device: the 8 host devices conftest sets up for the sharding tests would
only split these micro batches eight ways. Those tests are slow (the quick ablation trains
first); the tests of the ablation's configs (its modes are config overrides) are not.
"""

import csv
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import xla_env

from w2v2jax.models import POSEMBS as SCHEMES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# `experiments` is a folder of the repository, not of the installed package: the config
# tests import it from here (appended, so the installed w2v2jax still comes first).
if ROOT not in sys.path:
    sys.path.append(ROOT)


def _run(*args: str) -> str:
    env = xla_env.env()
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
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


def _check_pdf(path: str) -> None:
    with open(path, "rb") as f:
        head = f.read(5)
    assert head == b"%PDF-" and os.path.getsize(path) > 2000, path


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def _assert_same_fields(c, want: dict) -> None:
    got, want = _flat(c.to_dict()), _flat(want)
    assert sorted(got) == sorted(want)
    for key in want:
        assert (got[key], type(got[key])) == (want[key], type(want[key])), key


# What the ablation set on get_config("tiny") before its modes were config overrides
# (make_config and the Mode fields of experiments/positional_ablation/run.py at a86e4b1).
OLD_FULL = {
    "num_buckets": 0,
    "bucket_seconds": (1.0, 1.5, 2.0, 3.0),
    "total_steps": 600,
    "warmup_steps": 150,  # min(150, 600 // 2)
    "learning_rate": 1e-3,
    "batch_size": 16,
    "eval_every": 100,
    "checkpoint_every": 600,  # total_steps: one checkpoint, at the end
    "log_every": 10,
}
OLD_QUICK = {
    **OLD_FULL,
    "bucket_seconds": (3.0,),
    "total_steps": 24,
    "warmup_steps": 4,  # min(4, 24 // 2)
    "learning_rate": 2e-3,
    "batch_size": 8,
    "eval_every": 8,
    "checkpoint_every": 24,
}
OLD_MICRO = {  # the quick mode's model: these shapes on tiny's model
    "conv_dim": (32,) * 7,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}
OLD_LEARNED = {"max_positions": 149, "learned_overflow": "clip"}  # the frames of 3 s


def _old_config(fields: dict, model: dict, scheme: str, seed: int, data_dir: str) -> dict:
    from w2v2jax.configs.ctc import get_config

    want = get_config("tiny").to_dict()
    want.update(fields, seed=seed, data_dir=data_dir)
    want["model"].update(model, posemb=scheme, **(OLD_LEARNED if scheme == "learned" else {}))
    return want


@pytest.mark.parametrize("scheme", SCHEMES)
def test_full_mode_trains_the_config_it_always_did(scheme):
    from experiments.positional_ablation import run

    c = run.make_config(run.FULL, scheme, 2, "/data/corpus")
    _assert_same_fields(c, _old_config(OLD_FULL, {}, scheme, 2, "/data/corpus"))


@pytest.mark.parametrize("scheme", ["conv", "learned"])
def test_quick_mode_is_the_micro_config(scheme):
    from experiments.positional_ablation import run

    assert run.QUICK.size == "micro"
    c = run.make_config(run.QUICK, scheme, 0, "corpus")
    _assert_same_fields(c, _old_config(OLD_QUICK, OLD_MICRO, scheme, 0, "corpus"))


def test_steps_flag_shortens_warmup_and_moves_the_checkpoint():
    from experiments.positional_ablation import run

    c = run.make_config(run.FULL, "rope", 0, "corpus", steps=50)
    assert (c.total_steps, c.warmup_steps, c.checkpoint_every) == (50, 25, 50)
    c = run.make_config(run.FULL, "rope", 0, "corpus", steps=1000)
    assert (c.total_steps, c.warmup_steps, c.checkpoint_every) == (1000, 150, 1000)


def test_override_sets_dotted_keys_and_refuses_unknown_ones():
    from w2v2jax.configs import override
    from w2v2jax.configs.ctc import get_config
    from w2v2jax.errors import ConfigError

    c = override(get_config("tiny"), {"model.posemb": "rope", "total_steps": 7})
    assert (c.model.posemb, c.total_steps) == ("rope", 7)
    for key in ("model.posembs", "total_step", "optim.lr"):
        with pytest.raises(ConfigError, match=key):
            override(get_config("tiny"), {key: 1})


@pytest.fixture(scope="module")
def ablation(tmp_path_factory):
    if not (_which("flite") and _which("espeak-ng")):
        pytest.skip("flite/espeak-ng not installed: the ablation synthesizes its corpus")
    root = tmp_path_factory.mktemp("ablation")
    out = root / "out"
    # Everything in the test's folder: never reuse (or write) runs under the repository.
    stdout = _run(
        "experiments.positional_ablation",
        "--quick",
        f"--out={out}",
        f"--runs_dir={root / 'runs'}",
        f"--data_dir={root / 'corpus'}",
    )
    return str(root), stdout


def _which(name):
    import shutil

    return shutil.which(name)


@pytest.mark.slow  # trains the quick ablation (5 schemes) first: minutes on 2 cores
def test_quick_ablation_writes_every_file(ablation):
    root, stdout = ablation
    out = os.path.join(root, "out")
    runs = _rows(os.path.join(out, "results.csv"))
    assert sorted(r["scheme"] for r in runs) == sorted(SCHEMES)
    assert all(r["status"] == "ok" for r in runs), runs
    for r in runs:
        for key in ("validation_cer", "test_cer", "cer_le3s", "cer_le12s"):
            assert 0.0 <= float(r[key]) < 10.0, (key, r)
    # The length plot's numbers: one row per scheme, seed and bin, equal to results.csv.
    lengths = _rows(os.path.join(out, "lengths.csv"))
    assert len(lengths) == len(SCHEMES) * 4
    by_run = {r["scheme"]: r for r in runs}
    for row in lengths:
        assert float(row["cer"]) == float(by_run[row["scheme"]][f"cer_le{float(row['bin_s']):g}s"])
        assert 0 < float(row["mean_duration_s"]) <= float(row["bin_s"])
    # The steps plot's numbers: validation CER at every eval_every and at the end.
    curves = _rows(os.path.join(out, "curves.csv"))
    assert {r["scheme"] for r in curves} == set(SCHEMES)
    assert all(len([c for c in curves if c["scheme"] == s]) >= 3 for s in SCHEMES)
    for name in ("cer_vs_steps.png", "cer_vs_length.png"):
        _check_png(os.path.join(out, name))
    with open(os.path.join(out, "table.md")) as f:
        table = f.read()
    assert all(f"| {s} |" in table for s in SCHEMES)
    assert table.count("| conv |") == 2  # the results table and the CER-against-step table
    assert "| conv |" in stdout


FIGURES = (
    "1_feature_encoder",
    "2_sinusoids",
    "3_relative_dot_products",
    "4_ctc_lattice",
    "5a_attention_maps",
    "5b_conv_posemb_groups",
    "6_greedy_vs_beam",
)


@pytest.fixture(scope="module")
def figures(ablation, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("figures"))
    workdir = os.path.join(ablation[0], "runs", "conv-s0")
    _run("experiments.figures", f"--workdir={workdir}", f"--out={out}")
    return out


@pytest.mark.slow  # needs the quick ablation's conv run
def test_figures_are_written_and_not_blank(figures):
    for name in FIGURES:
        _check_png(os.path.join(figures, name + ".png"))
        _check_pdf(os.path.join(figures, name + ".pdf"))
        assert len(_rows(os.path.join(figures, name + ".csv"))) > 0, name


@pytest.mark.slow  # needs the quick ablation's conv run
def test_figure_csvs_hold_the_plotted_numbers(figures):
    from w2v2jax.models.positional import sinusoid_table

    enc = _rows(os.path.join(figures, "1_feature_encoder.csv"))
    assert [int(r["length"]) for r in enc] == [400, 79, 39, 19, 9, 4, 2, 1]
    assert (int(enc[-1]["receptive_field"]), int(enc[-1]["hop"])) == (400, 320)

    sin = _rows(os.path.join(figures, "2_sinusoids.csv"))
    table = sinusoid_table(len(sin), 64)  # the quick model's width
    for key in (k for k in sin[0] if k.startswith("dim_")):
        np.testing.assert_allclose([float(r[key]) for r in sin], table[:, int(key[4:])], atol=1e-6)

    rel = _rows(os.path.join(figures, "3_relative_dot_products.csv"))
    raw = {int(r["offset"]): float(r["raw"]) for r in rel}
    assert len(rel) == 101 and max(raw, key=raw.get) == 0  # peak at offset 0
    assert all(math.isclose(raw[k], raw[-k], rel_tol=1e-5) for k in raw)  # symmetric

    lat = _rows(os.path.join(figures, "4_ctc_lattice.csv"))
    frames = {int(r["frame"]) for r in lat}
    assert sum(int(r["on_best_path"]) for r in lat) == len(frames)  # one state per frame
    for t in list(frames)[:5]:
        total = sum(float(r["alpha_normalised"]) for r in lat if int(r["frame"]) == t)
        assert math.isclose(total, 1.0, rel_tol=1e-6)

    att = _rows(os.path.join(figures, "5a_attention_maps.csv"))
    first = [
        float(r["prob"])
        for r in att
        if r["layer"] == "0" and r["head"] == "0" and r["query"] == "0"
    ]
    assert math.isclose(sum(first), 1.0, rel_tol=1e-5)

    groups = _rows(os.path.join(figures, "5b_conv_posemb_groups.csv"))
    assert len(groups) == 4 * 16  # quick model: 4 groups x 16 taps
    assert all(float(r["rms_trained"]) > 0 for r in groups)

    post = _rows(os.path.join(figures, "6_greedy_vs_beam.csv"))
    p = [[float(v) for k, v in r.items() if k.startswith("p_")] for r in post[:5]]
    assert all(math.isclose(sum(row), 1.0, rel_tol=1e-4) for row in p)
    decodings = _rows(os.path.join(figures, "6_greedy_vs_beam_decodings.csv"))
    assert [d["method"] for d in decodings[:3]] == ["reference", "greedy", "beam8_rank0"]
    (summary,) = _rows(os.path.join(figures, "6_greedy_vs_beam_summary.csv"))
    kinds = ("same_text", "beam_better", "beam_worse", "differ_same_cer")
    assert sum(int(summary[k]) for k in kinds) == int(summary["utterances"]) > 0
    assert 0.0 <= float(summary["cer_beam"]) and 0.0 <= float(summary["cer_greedy"])
    # The utterance shown is one where beam loses to greedy whenever the split has one.
    by_method = {d["method"]: float(d["cer"]) for d in decodings}
    if int(summary["beam_worse"]) > 0:
        assert by_method["beam8_rank0"] > by_method["greedy"]


def test_pretraining_experiment_arms_differ_only_in_init_and_freezing():
    from experiments.pretraining import run

    for mode in (run.FULL, run.QUICK):
        pre = run.finetune_config(mode, "pretrained", 50, 2, "corpus", "runs/pre")
        scratch = run.finetune_config(mode, "scratch", 50, 2, "corpus", "runs/pre")
        a, b = _flat(pre.to_dict()), _flat(scratch.to_dict())
        differ = {k for k in a if a[k] != b[k]}
        assert differ == {"init_from", "freeze_feature_encoder", "freeze_transformer_steps"}
        assert (a["init_from"], b["init_from"]) == ("runs/pre", "")
        assert (a["train_examples"], a["train_examples_seed"], a["seed"]) == (50, 2, 2)
        p = run.pretrain_config(mode, "corpus")
        assert p.objective == "pretrain" and p.data_dir == "corpus"
        # The Gumbel temperature reaches its floor at 69% of the run, as fairseq's base does.
        start, floor, decay = p.gumbel_temperature
        at = math.log(floor / start) / math.log(decay)
        assert math.isclose(at / p.total_steps, 0.69, rel_tol=0.02) or mode is run.QUICK


@pytest.mark.slow  # pretrains, then fine-tunes four runs: about a minute on 2 cores
def test_quick_pretraining_experiment_writes_every_file(tmp_path):
    if not (_which("flite") and _which("espeak-ng")):
        pytest.skip("flite/espeak-ng not installed: the experiment synthesizes its corpus")
    out = tmp_path / "out"
    stdout = _run(
        "experiments.pretraining",
        "--quick",
        f"--out={out}",
        f"--runs_dir={tmp_path / 'runs'}",
        f"--data_dir={tmp_path / 'corpus'}",
    )
    rows = _rows(os.path.join(out, "results.csv"))
    assert sorted((r["init"], r["labels"]) for r in rows) == [
        ("pretrained", "16"),
        ("pretrained", "all"),
        ("scratch", "16"),
        ("scratch", "all"),
    ]
    assert all(r["status"] == "ok" for r in rows), rows
    curves = _rows(os.path.join(out, "pretraining_curves.csv"))
    train = [r for r in curves if r.get("contrastive_loss")]
    assert len(train) >= 3 and all(float(r["prob_perplexity"]) > 0 for r in train)
    temps = [float(r["temperature"]) for r in train]
    assert temps == sorted(temps, reverse=True) and temps[-1] < temps[0]
    assert any(r.get("validation/accuracy") for r in curves)
    for name in ("cer_vs_labels.png", "pretraining_curves.png"):
        _check_png(os.path.join(out, name))
    with open(os.path.join(out, "setup.json")) as f:
        setup = json.load(f)
    assert setup["labels"] == [16, 64] and setup["pretraining_result"]["steps"] == 12
    assert "| 16 | pretrained | 1/1 |" in stdout and "| all (64) | scratch | 1/1 |" in stdout
