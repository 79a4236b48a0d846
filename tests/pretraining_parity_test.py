"""Parity with transformers' PyTorch Wav2Vec2ForPreTraining in eval mode: the same
weights, the reference's own mask and negative draws fed to both, padded batches."""

import jax
import numpy as np
import pytest
import torch
import transformers
from hf_reference import SMALL, batch, hf_pretraining_outputs, make_hf_model
from transformers.models.wav2vec2.modeling_wav2vec2 import (
    _compute_mask_indices,
    _sample_negative_indices,
)

from w2v2jax.convert import from_hf
from w2v2jax.models import Wav2Vec2ForPreTraining, get_config

QUANT = {
    "num_codevector_groups": 2,
    "num_codevectors_per_group": 8,
    "codevector_dim": 16,
    "proj_codevector_dim": 12,
    "num_negatives": 5,
    "mask_time_prob": 0.5,
    "mask_time_length": 3,
    "mask_time_min_masks": 2,
}
ARCHS = {
    "group_norm_cnn": get_config("base", **SMALL, **QUANT),
    "layer_norm_cnn": get_config("large", **SMALL, **QUANT),
}
LENGTHS = [16000, 9001, 4321]


def hf_draws(ref, pads, cfg, seed=0):
    """The reference's _compute_mask_indices / _sample_negative_indices draws, and the
    negatives as our frame indices within the row (theirs index the flat B*T frames)."""
    np.random.seed(seed)
    lengths = torch.from_numpy((1 - pads).sum(-1).astype(np.int64))
    frames = ref._get_feat_extract_output_lengths(lengths).numpy()
    b, t = len(frames), int(frames.max())
    attn = (np.arange(t)[None, :] < frames[:, None]).astype(np.int64)
    mask = _compute_mask_indices(
        (b, t),
        cfg.mask_time_prob,
        cfg.mask_time_length,
        attention_mask=torch.from_numpy(attn),
        min_masks=cfg.mask_time_min_masks,
    )
    flat = _sample_negative_indices((b, t), cfg.num_negatives, mask)
    ours = flat - (np.arange(b) * t)[:, None, None]
    return mask, flat, ours.astype(np.int32)


def run_both(cfg, tmp_path, lengths=LENGTHS, seed=0):
    ref = make_hf_model(cfg, tmp_path, cls=transformers.Wav2Vec2ForPreTraining)
    cfg2, params = from_hf(str(tmp_path))
    audio, pads = batch(lengths, seed=seed)
    mask, flat, negatives = hf_draws(ref, pads, cfg, seed=seed)
    expected = hf_pretraining_outputs(ref, audio, pads, mask, flat)
    out = Wav2Vec2ForPreTraining(cfg2).apply(
        {"params": params}, audio, pads, mask_time_BxT=mask, negatives_BxTxK=negatives
    )
    return out, expected, mask


def close(a, b, tol=1e-4):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_pretraining_matches_transformers(name, tmp_path):
    cfg = ARCHS[name]
    out, expected, mask = run_both(cfg, tmp_path)
    valid = 1 - np.asarray(out["paddings_BxT"])
    for b, n in enumerate(valid.sum(-1).astype(int)):
        close(out["projected_states"][b, :n], expected.projected_states[b, :n].numpy())
        close(
            out["projected_quantized_states"][b, :n],
            expected.projected_quantized_states[b, :n].numpy(),
        )
    close(out["codevector_perplexity"], expected.codevector_perplexity.item())
    close(out["contrastive_loss"], expected.contrastive_loss.item())
    close(out["diversity_loss"], expected.diversity_loss.item())
    np.testing.assert_array_equal(out["mask_time_BxT"], mask)
    assert float(out["num_masked"]) == mask.sum()
    # The draws exercise what the comparison is about: padded rows, several masked frames
    # per row, and negatives equal to their positive (a codebook of 8 x 8 on ~50 frames).
    assert (valid.sum(-1) < valid.shape[1]).any() and (mask.sum(-1) >= 3).all()
    assert np.isneginf(np.asarray(out["logits_BxTxK1"])[mask]).any()


def test_pretraining_round_trip_to_hf(tmp_path):
    from w2v2jax.convert import to_hf

    cfg = ARCHS["layer_norm_cnn"]
    out, _, _ = run_both(cfg, tmp_path / "a")
    cfg2, params = from_hf(str(tmp_path / "a"))
    to_hf(cfg2, params, str(tmp_path / "b"))
    back = transformers.Wav2Vec2ForPreTraining.from_pretrained(str(tmp_path / "b")).eval()
    audio, pads = batch(LENGTHS)
    mask, flat, _ = hf_draws(back, pads, cfg)
    expected = hf_pretraining_outputs(back, audio, pads, mask, flat)
    close(out["contrastive_loss"], expected.contrastive_loss.item())
    close(out["codevector_perplexity"], expected.codevector_perplexity.item())
    cfg3, params3 = from_hf(str(tmp_path / "b"))
    assert cfg3 == cfg2
    jax.tree.map(np.testing.assert_array_equal, params3, params)
