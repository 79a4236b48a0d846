"""w2v2jax: Wav2Vec2 speech models in JAX/Flax.

    models/   the model config, the encoder and its CTC head (`from w2v2jax.models import ...`)
    ctc/      CTC loss, decoding and alignment, in jax + numpy
    data/     audio, tokenizers, datasets and batches
    train/    the training run: objectives, optimizer, sharding, checkpoints, loop
    convert/  transformers and fairseq checkpoints <-> Flax trees
    configs/  training configs (`--config=PATH:ARG`)
    cli.py    the `w2v2jax` command

Nothing heavy is imported here: the entry points re-execute themselves under tcmalloc
(allocator.py) before jax is loaded.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
