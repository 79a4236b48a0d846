"""Builds randomly initialised transformers reference models for the parity tests."""

import numpy as np
import torch
import transformers

from w2v2jax.convert.hf import hf_config_dict

# A small model with every architectural feature of the real ones, for fast parity tests.
SMALL = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 96,
    "conv_dim": (32,) * 7,
    "num_conv_pos_embeddings": 16,
    "num_conv_pos_embedding_groups": 4,
}


def make_hf_model(cfg, out_dir, cls=transformers.Wav2Vec2ForCTC, seed=0, perturb=0.05):
    """A random reference model with every parameter perturbed (so norms and biases are
    not the trivial 1 / 0 they start at), saved with save_pretrained into `out_dir`."""
    torch.manual_seed(seed)
    hf_cfg = transformers.Wav2Vec2Config(**hf_config_dict(cfg), attn_implementation="eager")
    model = cls(hf_cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(perturb * torch.randn_like(p))
    model.save_pretrained(out_dir)
    return model


def batch(lengths, seed=0):
    """Zero-padded audio [B, S] and paddings (1.0 = padding) for the given valid lengths."""
    rng = np.random.default_rng(seed)
    audio = np.zeros((len(lengths), max(lengths)), np.float32)
    paddings = np.ones_like(audio)
    for i, n in enumerate(lengths):
        audio[i, :n] = rng.standard_normal(n)
        paddings[i, :n] = 0.0
    return audio, paddings


def hf_logits(model, audio, paddings):
    with torch.no_grad():
        out = model(torch.from_numpy(audio), attention_mask=torch.from_numpy(1 - paddings).long())
    return out.logits.numpy()


def hf_pretraining_outputs(model, audio, paddings, mask, flat_negatives):
    """transformers' Wav2Vec2ForPreTraining in eval on our draws (flat B*T negatives)."""
    with torch.no_grad():
        return model(
            torch.from_numpy(audio),
            attention_mask=torch.from_numpy(1 - paddings).long(),
            mask_time_indices=torch.from_numpy(mask),
            sampled_negative_indices=torch.from_numpy(flat_negatives).long(),
        )
