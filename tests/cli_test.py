"""The command line explains itself: help per command, one sentence per bad flag or config
(issue 13, items 6 and 14)."""

import os
import subprocess
import sys

import pytest
import xla_env

from w2v2jax import cli_help


def w2v2jax(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "w2v2jax.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        env=xla_env.env(),
    )


def test_overview_lists_every_command():
    out = w2v2jax("--help")
    assert out.returncode == 0
    for name in cli_help.COMMANDS:
        assert f"  {name} " in out.stdout


@pytest.mark.parametrize("command", sorted(cli_help.COMMANDS))
def test_each_command_has_its_own_help(command):
    out = w2v2jax(command, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: w2v2jax {command}")
    assert "example:\n  w2v2jax " + command in out.stdout
    if command in ("train", "pretrain"):
        assert "--config.learning_rate=" in out.stdout and "model sizes" in out.stdout


BAD = [
    (["--config.nope=1"], "the config has no field 'nope'"),
    (["--config.learning_rate=abc"], "could not convert string to float: 'abc'"),
    (["--config.learning_rate=nan"], "learning_rate=nan: must be a finite number above 0"),
    (["--config.log_every=0"], "log_every=0: must be a whole number above 0"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[b[0][0] for b in BAD])
def test_bad_config_is_one_sentence(extra, message, tiny_corpus, tmp_path):
    out = w2v2jax(
        "train",
        "--config=w2v2jax/configs/ctc.py:micro",
        f"--config.data_dir={tiny_corpus}",
        f"--workdir={tmp_path / 'run'}",
        *extra,
    )
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert not os.path.exists(tmp_path / "run")  # nothing written


def test_readme_config_path_works_from_any_folder(tmp_path):
    out = w2v2jax(
        "train",
        "--config=w2v2jax/configs/ctc.py:micro",
        "--config.data_dir=",
        "--workdir=run",
        cwd=tmp_path,
    )
    assert out.returncode == 1 and "holds no dataset" in out.stderr, out.stderr
    out = w2v2jax("train", "--config=nowhere/c.py:tiny", cwd=tmp_path)
    assert out.returncode == 1 and f"no file nowhere/c.py (looked in {tmp_path})" in out.stderr


def test_missing_config_and_the_wrong_command(tmp_path):
    out = w2v2jax("train", f"--workdir={tmp_path}")
    assert out.returncode == 1 and "--config=w2v2jax/configs/ctc.py:tiny is required" in out.stderr
    out = w2v2jax("train", "--config=w2v2jax/configs/pretrain.py:micro", f"--workdir={tmp_path}")
    assert out.returncode == 1 and "run it with `w2v2jax pretrain`" in out.stderr
