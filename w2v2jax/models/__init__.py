"""Wav2Vec2 in Flax: the config, the encoder and its CTC head, their building blocks.

    from w2v2jax.models import Wav2Vec2ForCTC, get_config, init_params

    cfg = get_config("tiny", vocab_size=32)
    params = init_params(cfg, jax.random.key(0))
    logits_BxTxV, paddings_BxT = Wav2Vec2ForCTC(cfg).apply({"params": params}, audio, paddings)
    out = Wav2Vec2ForPreTraining(cfg).apply({"params": p}, audio, paddings, rngs=...)

Chunked attention (attention_chunk_frames > 0, models/chunking.py) makes a model stream
exactly; models/incremental.py runs it one chunk at a time with caches.

Imports nothing outside models/ but the constants module `w2v2jax.frames`.
"""

from w2v2jax.models import activations, axes, chunking, incremental
from w2v2jax.models.chunking import (
    attention_bias,
    dependency_samples,
    lookahead_samples,
)
from w2v2jax.models.config import (
    MICRO_SHAPES,
    POSEMBS,
    REMATS,
    SIZES,
    Wav2Vec2Config,
    get_config,
)
from w2v2jax.models.feature_encoder import FeatureEncoder, FeatureProjection
from w2v2jax.models.layout import stack_layers, to_layout, unstack_layers
from w2v2jax.models.masking import (
    feature_mask,
    pretraining_mask,
    same_count_mask,
    sample_negatives,
    span_mask,
    time_mask,
)
from w2v2jax.models.positional import get_posemb, rope, sinusoid_table
from w2v2jax.models.pretraining import Wav2Vec2ForPreTraining, contrastive_logits
from w2v2jax.models.quantizer import GumbelVectorQuantizer
from w2v2jax.models.strided_conv import strided_conv
from w2v2jax.models.transformer import Encoder
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, Wav2Vec2Model, init_params

__all__ = [
    "MICRO_SHAPES",
    "POSEMBS",
    "REMATS",
    "SIZES",
    "Encoder",
    "FeatureEncoder",
    "FeatureProjection",
    "GumbelVectorQuantizer",
    "Wav2Vec2Config",
    "Wav2Vec2ForCTC",
    "Wav2Vec2ForPreTraining",
    "Wav2Vec2Model",
    "activations",
    "attention_bias",
    "axes",
    "chunking",
    "contrastive_logits",
    "dependency_samples",
    "feature_mask",
    "get_config",
    "get_posemb",
    "incremental",
    "init_params",
    "lookahead_samples",
    "pretraining_mask",
    "rope",
    "same_count_mask",
    "sample_negatives",
    "sinusoid_table",
    "span_mask",
    "stack_layers",
    "strided_conv",
    "time_mask",
    "to_layout",
    "unstack_layers",
]
