from setuptools import find_packages, setup

setup(
    name="w2v2jax",
    version="0.1.0",
    description="Wav2Vec2 speech models in JAX/Flax: exact against transformers, sharded training, fast CTC.",
    python_requires=">=3.10",
    packages=find_packages(include=["w2v2jax", "w2v2jax.*"]),
    install_requires=[
        "jax",
        "flax",
        "optax",
        "orbax-checkpoint",
        "tensorflow-datasets",
        "grain",
        "numpy",
        "absl-py",
        "ml_collections",
        "safetensors",
        "soundfile",
        "soxr",
        "tqdm",
        "matplotlib",
        "tensorboardX",
    ],
    extras_require={
        "test": [
            "pytest",
            "pytest-xdist",
            "chex",
            "ruff",
            "torch==2.13.0",
            "transformers>=5,<6",
            "pygtrie",
        ],
    },
    entry_points={"console_scripts": ["w2v2jax=w2v2jax.cli:run"]},
)
