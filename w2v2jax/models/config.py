"""The model configuration: one frozen dataclass and a table of named sizes.

Every field of transformers' Wav2Vec2Config that changes the computation has a
counterpart here under the same name, so `from_hf_dict` is a plain field copy.
"""

import dataclasses
from typing import Any

from w2v2jax.errors import ConfigError

POSEMBS = ("conv", "sinusoidal", "learned", "rope", "none")
REMATS = ("none", "full", "dots_saveable")


@dataclasses.dataclass(frozen=True)
class Wav2Vec2Config:
    vocab_size: int = 32
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout: float = 0.1
    activation_dropout: float = 0.1
    attention_dropout: float = 0.1
    feat_proj_dropout: float = 0.0
    final_dropout: float = 0.1
    layerdrop: float = 0.1
    layer_norm_eps: float = 1e-5
    feat_extract_norm: str = "group"  # "group" (base) or "layer" (large)
    feat_extract_activation: str = "gelu"
    conv_dim: tuple[int, ...] = (512,) * 7
    conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2)
    conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2)
    conv_bias: bool = False
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False  # True: pre-LN ("large"); False: post-LN ("base")
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_time_min_masks: int = 2
    mask_feature_prob: float = 0.0
    mask_feature_length: int = 10
    mask_feature_min_masks: int = 0
    # Positional scheme; the ablations change only this key.
    posemb: str = "conv"
    max_positions: int = 2048  # table size for posemb="learned" (frames, 20 ms each)
    # What "learned" does past its table: "error" or "clip" (reuse the last row).
    learned_overflow: str = "error"
    rope_theta: float = 10000.0
    # Chunked (block-causal) attention, so a model can stream exactly (models/chunking.py):
    # frames attend in blocks of this many frames (0 = full attention) to their own chunk
    # and to `attention_left_chunks` earlier ones (-1 = every earlier chunk).
    attention_chunk_frames: int = 0
    attention_left_chunks: int = -1
    # The input: each utterance z-normalised over its whole length (transformers'
    # Wav2Vec2FeatureExtractor(do_normalize=True)), or raw samples (False, as fairseq's base
    # recipe, normalize=False). A stream cannot know an utterance's statistics before its
    # end, so only a chunked model trained on raw samples streams to exactly its offline
    # text (experiments/streaming measures the gap of a normalised one).
    do_normalize: bool = True
    # Pretraining (Wav2Vec2ForPreTraining): the quantizer, the contrastive task, their losses.
    num_codevector_groups: int = 2  # G
    num_codevectors_per_group: int = 320  # V
    codevector_dim: int = 256  # Q, the quantized vector (G pieces of Q / G)
    proj_codevector_dim: int = 256  # P, where predictions and targets are compared
    contrastive_logits_temperature: float = 0.1
    num_negatives: int = 100  # K
    diversity_loss_weight: float = 0.1
    feat_quantizer_dropout: float = 0.0
    # fairseq's: the gradient into the CNN is multiplied by this (0.1 in its base recipe);
    # the forward pass is unchanged, and 1.0 adds nothing to the graph.
    feature_grad_mult: float = 1.0
    dtype: str = "float32"  # compute dtype; parameters stay float32
    scan_layers: bool = False
    remat: str = "none"

    def __post_init__(self):
        if self.posemb not in POSEMBS:
            raise ConfigError(f"posemb={self.posemb!r}: choose one of {POSEMBS}")
        if self.remat not in REMATS:
            raise ConfigError(f"remat={self.remat!r}: choose one of {REMATS}")
        if self.feat_extract_norm not in ("group", "layer"):
            raise ConfigError(f"feat_extract_norm={self.feat_extract_norm!r}: 'group' or 'layer'")
        if self.learned_overflow not in ("error", "clip"):
            raise ConfigError(f"learned_overflow={self.learned_overflow!r}: 'error' or 'clip'")
        if not len(self.conv_dim) == len(self.conv_stride) == len(self.conv_kernel):
            raise ConfigError("conv_dim, conv_stride and conv_kernel must have the same length")
        if self.hidden_size % self.num_attention_heads:
            raise ConfigError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if self.posemb == "conv" and self.hidden_size % self.num_conv_pos_embedding_groups:
            raise ConfigError(
                f"hidden_size={self.hidden_size} is not divisible by "
                f"num_conv_pos_embedding_groups={self.num_conv_pos_embedding_groups}"
            )

        self._check_chunking()
        self._check_pretraining()

    def _check_chunking(self):
        def whole(v, low):
            return isinstance(v, int) and not isinstance(v, bool) and v >= low

        c, left = self.attention_chunk_frames, self.attention_left_chunks
        if not whole(c, 0):
            raise ConfigError(
                f"attention_chunk_frames={c!r}: give a whole number of frames >= 0 (0 = full "
                "attention, 16 = attention in chunks of 16 frames = 320 ms)"
            )
        if not whole(left, -1):
            raise ConfigError(
                f"attention_left_chunks={left!r}: give -1 (every earlier chunk) or a whole "
                "number of earlier chunks >= 0"
            )
        if left != -1 and c == 0:
            raise ConfigError(
                f"attention_left_chunks={left} limits chunked attention, which is off: set "
                "attention_chunk_frames > 0 as well, or leave attention_left_chunks at -1"
            )
        if c > 0 and self.feat_extract_norm == "group":
            raise ConfigError(
                "feat_extract_norm='group' normalises each CNN channel over the whole input, so "
                "no frame is known before the audio ends and chunked attention cannot stream "
                "exactly: use feat_extract_norm='layer' (the large model's CNN) or set "
                "attention_chunk_frames=0"
            )

    def _check_pretraining(self):
        g, v = self.num_codevector_groups, self.num_codevectors_per_group
        if g < 1 or v < 1:
            raise ConfigError(
                f"num_codevector_groups={g} and num_codevectors_per_group={v} must be >= 1"
            )
        if self.codevector_dim % g:
            raise ConfigError(
                f"codevector_dim={self.codevector_dim} is not divisible by "
                f"num_codevector_groups={g}: each group holds codevector_dim / groups values"
            )
        if self.proj_codevector_dim < 1 or self.num_negatives < 1:
            raise ConfigError(
                f"proj_codevector_dim={self.proj_codevector_dim} and "
                f"num_negatives={self.num_negatives} must be >= 1"
            )
        if self.contrastive_logits_temperature <= 0:
            raise ConfigError(
                f"contrastive_logits_temperature={self.contrastive_logits_temperature} "
                "must be > 0 (fairseq and transformers use 0.1)"
            )
        if not 0.0 <= self.feat_quantizer_dropout < 1.0:
            raise ConfigError(
                f"feat_quantizer_dropout={self.feat_quantizer_dropout} must be in [0, 1)"
            )
        if self.feature_grad_mult < 0:
            raise ConfigError(
                f"feature_grad_mult={self.feature_grad_mult} must be >= 0 (0 freezes the CNN, "
                "1 trains it fully; fairseq's base recipe uses 0.1)"
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def has_masked_spec_embed(self) -> bool:
        # transformers creates the mask embedding only when masking is configured.
        return self.mask_time_prob > 0.0 or self.mask_feature_prob > 0.0

    @property
    def chunked(self) -> bool:
        """Whether attention is block-causal (attention_chunk_frames > 0)."""
        return self.attention_chunk_frames > 0

    def replace(self, **changes: Any) -> "Wav2Vec2Config":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Wav2Vec2Config":
        """Builds from our own dict or transformers' config.json (unknown keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("conv_dim", "conv_stride", "conv_kernel"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


# The shapes of the micro model: fast tests and the full ablation on a 2-core CPU (~100 k params).
MICRO_SHAPES: dict[str, Any] = {
    "conv_dim": (32,) * 7,
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}

SIZES: dict[str, dict[str, Any]] = {
    # ~4 M parameters: the model of the demo and the tests (measured ~40+ s audio/s on 2 cores).
    "tiny": {
        "hidden_size": 256,
        "num_hidden_layers": 4,
        "num_attention_heads": 4,
        "intermediate_size": 1024,
        "conv_dim": (128,) * 7,
        "num_conv_pos_embeddings": 128,
        "num_conv_pos_embedding_groups": 16,
        "layerdrop": 0.0,
        "hidden_dropout": 0.1,
        "activation_dropout": 0.0,
        "attention_dropout": 0.1,
        "final_dropout": 0.0,
    },
    "base": {},
    "large": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
        "feat_extract_norm": "layer",
        "conv_bias": True,
        "do_stable_layer_norm": True,
    },
}


SIZES["micro"] = {**SIZES["tiny"], **MICRO_SHAPES}


def get_config(size: str = "base", **overrides: Any) -> Wav2Vec2Config:
    if size not in SIZES:
        raise ConfigError(f"unknown model size {size!r}: choose one of {sorted(SIZES)}")
    return Wav2Vec2Config(**{**SIZES[size], **overrides})
