import os
import warnings

# Tests run on the CPU; 8 host devices let the sharding tests build real meshes.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import shutil

import pytest


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A synthesized digits corpus of 48/12/12 utterances (needs flite and espeak-ng)."""
    if not (shutil.which("flite") and shutil.which("espeak-ng")):
        pytest.skip("flite/espeak-ng not installed (make setup installs them with apt-get)")
    from w2v2jax.data import corpus

    out = tmp_path_factory.mktemp("corpus") / "digits"
    return str(corpus.build_corpus(out, "digits", num_train=48, num_valid=12, num_test=12, seed=0))
