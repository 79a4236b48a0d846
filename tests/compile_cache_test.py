"""The persistent compilation cache: a second process reads what the first compiled.

Each case runs in a fresh interpreter: jax reads the cache settings at its first compile,
and this test process already has its own (tests/conftest.py).
"""

import os
import subprocess
import sys

from w2v2jax import compile_cache

# Compiles one program and prints how many cache hits and misses jax counted.
SCRIPT = """
import sys
import jax
import jax.numpy as jnp
from w2v2jax import compile_cache

events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
print("dir", compile_cache.enable(sys.argv[1], min_compile_secs=0.0))
print("max_size", jax.config.jax_compilation_cache_max_size)
jax.jit(lambda x: jnp.sin(x) @ x.T)(jnp.ones((8, 8))).block_until_ready()
print("hits", events.count("/jax/compilation_cache/cache_hits"))
print("misses", events.count("/jax/compilation_cache/cache_misses"))
"""


def _run(cache_dir, **env) -> dict[str, str]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", **env}
    env.pop(compile_cache.ENV_DIR, None)
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(cache_dir)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    return dict(line.split(" ", 1) for line in out.strip().splitlines())


def test_second_process_reads_the_first_ones_program(tmp_path):
    first = _run(tmp_path / "cache")
    assert first["dir"] == str(tmp_path / "cache")
    assert first["hits"] == "0" and int(first["misses"]) >= 1
    assert any(n.endswith("-cache") for n in os.listdir(tmp_path / "cache"))
    # A size limit is what makes jax lock the folder, so processes can share it.
    assert int(first["max_size"]) > 0
    second = _run(tmp_path / "cache")
    assert (second["hits"], second["misses"]) == (first["misses"], "0")


def test_switched_off_by_the_environment(tmp_path):
    out = _run(tmp_path / "cache", W2V2JAX_COMPILE_CACHE="0")
    assert out["dir"] == "None" and not (tmp_path / "cache").exists()


def test_default_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(compile_cache.ENV_DIR, str(tmp_path))
    assert compile_cache.default_dir() == str(tmp_path)
    monkeypatch.delenv(compile_cache.ENV_DIR)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert compile_cache.default_dir() == os.path.join(str(tmp_path), ".cache", "w2v2jax", "jax")


def test_an_unwritable_folder_turns_it_off_with_a_warning(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert compile_cache.enable(str(blocker / "cache")) is None
