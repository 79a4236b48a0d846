"""Model FLOPs of a training step, counted analytically (the posts' arithmetic), and MFU.

Counts multiply-adds x 2 of the convolutions, projections, attention and head over the
padded batch; the backward pass is taken as twice the forward (the usual 3x rule).
"""

import jax

from w2v2jax.frames import frame_count, layer_lengths

# Dense bf16 peak per device, from the vendors' sheets.
PEAK_FLOPS = {
    "TPU v4": 275e12,
    "TPU v5 lite": 197e12,
    "TPU v5e": 197e12,
    "TPU v5p": 459e12,
    "TPU v6 lite": 918e12,
    "NVIDIA H100": 989e12,
    "NVIDIA H200": 989e12,
    "NVIDIA A100": 312e12,
}


def forward_flops(cfg, num_samples: int) -> float:
    """FLOPs of one utterance of num_samples through Wav2Vec2ForCTC."""
    lengths = layer_lengths(num_samples, cfg)[1:]
    total, c_in = 0.0, 1
    for t, k, c_out in zip(lengths, cfg.conv_kernel, cfg.conv_dim, strict=True):
        total += 2.0 * t * k * c_in * c_out
        c_in = c_out
    t, d, f = frame_count(num_samples, cfg), cfg.hidden_size, cfg.intermediate_size
    total += 2.0 * t * c_in * d  # feature projection
    if cfg.posemb == "conv":
        total += 2.0 * t * cfg.num_conv_pos_embeddings * d * d / cfg.num_conv_pos_embedding_groups
    per_layer = 8.0 * t * d * d + 4.0 * t * t * d + 4.0 * t * d * f
    total += cfg.num_hidden_layers * per_layer
    total += 2.0 * t * d * cfg.vocab_size
    return total


def train_step_flops(cfg, audio_shape, global_batch: int) -> float:
    return 3.0 * global_batch * forward_flops(cfg, audio_shape[-1])


def peak_flops(override: float = 0.0) -> float | None:
    if override:
        return override
    kind = jax.devices()[0].device_kind
    for name, value in PEAK_FLOPS.items():
        if kind.startswith(name):
            return value
    return None  # CPUs and unknown devices: no MFU unless the config gives peak_flops


def mfu(cfg, audio_shape, global_batch: int, seconds: float, override: float = 0.0):
    peak = peak_flops(override)
    if peak is None or seconds <= 0:
        return None
    return train_step_flops(cfg, audio_shape, global_batch) / seconds / (peak * jax.device_count())
