import re
from pathlib import Path

from setuptools import find_packages, setup

# Ranges: from the version the suite passes with (.ci/constraints.txt pins it exactly and
# `make upgrade` refreshes it) up to the next release that may break the API: the next minor
# for 0.x packages, the next major for the others.
VERSION = re.search(
    r'^__version__ = "([^"]+)"',
    Path(__file__).with_name("w2v2jax").joinpath("__init__.py").read_text(),
    re.MULTILINE,
).group(1)

setup(
    name="w2v2jax",
    version=VERSION,
    description="Wav2Vec2 speech models in JAX/Flax: exact against transformers, sharded training, fast CTC.",
    python_requires=">=3.11",
    packages=find_packages(include=["w2v2jax", "w2v2jax.*"]),
    install_requires=[
        "jax>=0.10.2,<0.11",
        "flax>=0.12.8,<0.13",
        "optax>=0.2.8,<0.3",
        "orbax-checkpoint>=0.12.8,<0.13",
        "tensorflow-datasets>=4.9,<5",
        "grain>=0.2.18,<0.3",
        "numpy>=2.4,<3",
        "absl-py>=2.5,<3",
        "ml_collections>=1.1,<2",
        "safetensors>=0.8,<0.9",
        "soundfile>=0.14,<0.15",
        "soxr>=1.1,<2",
        "tqdm>=4.70,<5",
        "matplotlib>=3.11,<4",
        "tensorboardX>=2.6,<3",
        # jax's file lock around the shared compilation cache (w2v2jax/compile_cache.py).
        "filelock>=4.3,<5",
        # Error rates (CER/WER/PER by edit distance), phonetic feature distances, rooms.
        "rapidfuzz>=3.14,<4",
        "jiwer>=4.0,<5",
        "panphon>=0.22,<0.23",
        "pyroomacoustics>=0.10,<0.11",
    ],
    extras_require={
        "test": [
            "pytest>=9.2,<10",
            "pytest-xdist>=3.8,<4",
            "chex>=0.1.92,<0.2",
            "ruff>=0.17.6,<0.18",
            "torch==2.13.0",
            "transformers>=5,<6",
            "pygtrie>=2.6,<3",
        ],
    },
    entry_points={"console_scripts": ["w2v2jax=w2v2jax.cli:run"]},
)
