"""Checkpoint conversion: transformers and fairseq PyTorch weights <-> Flax trees, and the
workdir that training (`init_from`) and inference read."""

from w2v2jax.convert.export import write_workdir
from w2v2jax.convert.fairseq import from_fairseq
from w2v2jax.convert.hf import CheckpointError, from_hf, hf_config_dict, to_hf

__all__ = ["CheckpointError", "from_fairseq", "from_hf", "hf_config_dict", "to_hf", "write_workdir"]
