"""Parity with transformers' PyTorch Wav2Vec2ForCTC, weights copied across by from_hf."""

import numpy as np
import pytest
import torch
import transformers
from hf_reference import SMALL as HF_SMALL
from hf_reference import batch, hf_logits, make_hf_model

from w2v2jax.convert import from_hf, to_hf
from w2v2jax.models.config import get_config
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC

SMALL = {**HF_SMALL, "vocab_size": 29}

ARCHS = {
    "base_style": get_config("base", **SMALL),
    "large_style": get_config("large", **SMALL),
    "odd_conv_stack": get_config(
        "base",
        **{
            **SMALL,
            "conv_dim": (24, 40, 16),
            "conv_kernel": (7, 4, 3),
            "conv_stride": (3, 3, 2),
            "conv_bias": True,
        },
    ),
    "odd_heads_groups": get_config(
        "large",
        **{
            **SMALL,
            "hidden_size": 48,
            "num_attention_heads": 3,
            "num_conv_pos_embedding_groups": 3,
            "num_conv_pos_embeddings": 15,
        },
    ),
    "masked_embed_present": get_config("base", **{**SMALL, "mask_time_prob": 0.3}),
}


def valid_frames(paddings_BxT):
    return [int(n) for n in (1 - np.asarray(paddings_BxT)).sum(-1)]


def assert_close_on_valid(ours, ref, paddings, atol=1e-4):
    for b, n in enumerate(valid_frames(paddings)):
        np.testing.assert_allclose(ours[b, :n], ref[b, :n], atol=atol, rtol=0)


@pytest.mark.parametrize("name", sorted(ARCHS))
def test_logits_match_transformers(name, tmp_path):
    cfg = ARCHS[name]
    ref = make_hf_model(cfg, tmp_path)
    cfg2, params = from_hf(str(tmp_path))
    assert cfg2.do_stable_layer_norm == cfg.do_stable_layer_norm
    audio, pads = batch([16000, 9001, 4321])
    logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
    expected = hf_logits(ref, audio, pads)
    assert logits.shape == expected.shape
    assert valid_frames(paddings) == [
        int(n) for n in ref._get_feat_extract_output_lengths(torch.tensor([16000, 9001, 4321]))
    ]
    assert_close_on_valid(np.asarray(logits), expected, paddings)


def test_scan_and_remat_layouts_match(tmp_path):
    cfg = ARCHS["base_style"]
    ref = make_hf_model(cfg, tmp_path)
    audio, pads = batch([8000, 5000])
    expected = hf_logits(ref, audio, pads)
    for kw in (
        {"scan_layers": True},
        {"scan_layers": True, "remat": "full"},
        {"remat": "dots_saveable"},
    ):
        cfg2, params = from_hf(str(tmp_path), **kw)
        logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
        assert_close_on_valid(np.asarray(logits), expected, paddings)


@pytest.mark.slow
def test_real_base_size(tmp_path):
    cfg = get_config("base", vocab_size=32)
    ref = make_hf_model(cfg, tmp_path, perturb=0.01)
    cfg2, params = from_hf(str(tmp_path))
    audio, pads = batch([16000, 12000])
    logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
    assert_close_on_valid(np.asarray(logits), hf_logits(ref, audio, pads), paddings)


def test_round_trip_to_hf(tmp_path):
    cfg = ARCHS["large_style"]
    make_hf_model(cfg, tmp_path / "a")
    cfg2, params = from_hf(str(tmp_path / "a"))
    assert cfg2.do_normalize  # no preprocessor_config.json: transformers' default
    to_hf(cfg2.replace(do_normalize=False), params, str(tmp_path / "b"))
    # The feature extractor travels: transformers feeds the model what it was trained on.
    fe = transformers.Wav2Vec2FeatureExtractor.from_pretrained(str(tmp_path / "b"))
    assert (fe.do_normalize, fe.return_attention_mask, fe.sampling_rate) == (False, True, 16000)
    assert not from_hf(str(tmp_path / "b"))[0].do_normalize
    back = transformers.Wav2Vec2ForCTC.from_pretrained(str(tmp_path / "b")).eval()
    audio, pads = batch([7000, 12000])
    logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
    assert_close_on_valid(np.asarray(logits), hf_logits(back, audio, pads), paddings)


@pytest.mark.parametrize("cls", [transformers.Wav2Vec2Model, transformers.Wav2Vec2ForPreTraining])
def test_headless_checkpoints(cls, tmp_path):
    from w2v2jax.models.wav2vec2 import Wav2Vec2Model

    cfg = ARCHS["base_style"]
    ref = make_hf_model(cfg, tmp_path, cls=cls)
    cfg2, params = from_hf(str(tmp_path))
    assert "lm_head" not in params
    audio, pads = batch([9000, 6000])
    out = Wav2Vec2Model(cfg2).apply({"params": params["wav2vec2"]}, audio, pads)
    base = ref if cls is transformers.Wav2Vec2Model else ref.wav2vec2
    with torch.no_grad():
        expected = base(torch.from_numpy(audio), attention_mask=torch.from_numpy(1 - pads).long())
    assert_close_on_valid(
        np.asarray(out["hidden"]), expected.last_hidden_state.numpy(), out["paddings"]
    )


def test_legacy_weight_norm_spelling(tmp_path):
    from safetensors.numpy import load_file, save_file

    cfg = ARCHS["base_style"]
    make_hf_model(cfg, tmp_path)
    path = tmp_path / "model.safetensors"
    sd = load_file(str(path))
    renamed = {
        k.replace("parametrizations.weight.original0", "weight_g").replace(
            "parametrizations.weight.original1", "weight_v"
        ): v
        for k, v in sd.items()
    }
    assert renamed != sd
    save_file(renamed, str(path), metadata={"format": "pt"})
    _, params = from_hf(str(tmp_path))
    pos = params["wav2vec2"]["encoder"]["pos_conv_embed"]
    np.testing.assert_array_equal(
        pos["weight_g"],
        sd["wav2vec2.encoder.pos_conv_embed.conv.parametrizations.weight.original0"].reshape(-1),
    )


def test_pytorch_bin_checkpoint(tmp_path):
    cfg = ARCHS["base_style"]
    ref = make_hf_model(cfg, tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(ref.state_dict(), tmp_path / "pytorch_model.bin")
    cfg2, params = from_hf(str(tmp_path))
    audio, pads = batch([6000])
    logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
    assert_close_on_valid(np.asarray(logits), hf_logits(ref, audio, pads), paddings)
