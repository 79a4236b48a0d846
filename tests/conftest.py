import os

import xla_env

# Tests run on the CPU; 8 host devices let the sharding tests build real meshes; LLVM at -O1
# compiles faster (xla_env.py). Both before jax starts its backend.
_flags = os.environ.get("XLA_FLAGS") or xla_env.flags(devices=8)
if xla_env.FAST_COMPILE not in _flags:
    _flags = f"{xla_env.FAST_COMPILE} {_flags}"
os.environ["XLA_FLAGS"] = _flags
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import shutil

import pytest

from w2v2jax import compile_cache

# One compilation cache for every test process and every run of the suite, apart from the
# user's own runs: xdist workers share it under jax's file lock, and subprocesses (the CLI)
# find it through W2V2JAX_CACHE_DIR. W2V2JAX_COMPILE_CACHE=0 turns it off, to rule it out
# when a test fails.
TEST_CACHE_DIR = os.environ.setdefault(
    "W2V2JAX_TEST_CACHE_DIR", os.path.join(compile_cache.default_dir(), "tests")
)
if compile_cache.enable(TEST_CACHE_DIR, min_compile_secs=0.5):
    os.environ[compile_cache.ENV_DIR] = TEST_CACHE_DIR


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes more than ~20 s on 2 CPU cores; `make test-fast` skips it"
    )
    # A deprecated call in our own code fails the test that reaches it (jax, flax and
    # numpy attribute their deprecation warnings to the calling line).
    config.addinivalue_line("filterwarnings", "error::DeprecationWarning:w2v2jax")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A synthesized digits corpus of 48/12/12 utterances (needs flite and espeak-ng)."""
    if not (shutil.which("flite") and shutil.which("espeak-ng")):
        pytest.skip("flite/espeak-ng not installed (make setup installs them with apt-get)")
    from w2v2jax.data import corpus

    out = tmp_path_factory.mktemp("corpus") / "digits"
    return str(corpus.build_corpus(out, "digits", num_train=48, num_valid=12, num_test=12, seed=0))
