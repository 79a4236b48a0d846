"""Checkpoint conversion: transformers and fairseq PyTorch weights <-> Flax trees."""

from w2v2jax.convert.fairseq import from_fairseq
from w2v2jax.convert.hf import CheckpointError, from_hf, to_hf

__all__ = ["CheckpointError", "from_fairseq", "from_hf", "to_hf"]
