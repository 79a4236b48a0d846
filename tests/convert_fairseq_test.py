"""from_fairseq on state dicts laid out with fairseq's key names (pretrained and fine-tuned)."""

import re

import numpy as np
import pytest
import torch
import transformers
from hf_reference import SMALL as HF_SMALL
from hf_reference import batch, hf_logits, make_hf_model

from w2v2jax.convert import CheckpointError, from_fairseq
from w2v2jax.models.config import get_config
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, Wav2Vec2Model

SMALL = {**HF_SMALL, "vocab_size": 29, "mask_time_prob": 0.05}

# transformers name -> fairseq name, the inverse of the released conversion script.
_TO_FAIRSEQ = [
    (r"^wav2vec2\.", ""),
    (r"conv_layers\.0\.layer_norm\.", "conv_layers.0.2."),
    (r"conv_layers\.(\d+)\.conv\.", r"conv_layers.\1.0."),
    (r"conv_layers\.(\d+)\.layer_norm\.", r"conv_layers.\1.2.1."),
    (r"^feature_projection\.layer_norm\.", "layer_norm."),
    (r"^feature_projection\.projection\.", "post_extract_proj."),
    (r"^masked_spec_embed$", "mask_emb"),
    (
        r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original0",
        "encoder.pos_conv.0.weight_g",
    ),
    (
        r"^encoder\.pos_conv_embed\.conv\.parametrizations\.weight\.original1",
        "encoder.pos_conv.0.weight_v",
    ),
    (r"^encoder\.pos_conv_embed\.conv\.", "encoder.pos_conv.0."),
    (r"\.attention\.", ".self_attn."),
    (r"(layers\.\d+)\.layer_norm\.", r"\1.self_attn_layer_norm."),
    (r"\.feed_forward\.intermediate_dense\.", ".fc1."),
    (r"\.feed_forward\.output_dense\.", ".fc2."),
]


def to_fairseq(sd, finetuned):
    out = {}
    for k, v in sd.items():
        if k.startswith("lm_head."):
            out["w2v_encoder.proj." + k.split(".", 1)[1]] = v
            continue
        for pat, repl in _TO_FAIRSEQ:
            k = re.sub(pat, repl, k)
        out[("w2v_encoder.w2v_model." if finetuned else "") + k] = v
    return out


@pytest.mark.parametrize("size", ["base", "large"])
def test_finetuned_layout(size, tmp_path):
    cfg = get_config(size, **SMALL)
    ref = make_hf_model(cfg, tmp_path / "hf")
    sd = to_fairseq(ref.state_dict(), finetuned=True)
    assert "w2v_encoder.w2v_model.encoder.layers.0.self_attn.q_proj.weight" in sd
    fcfg = {
        "model": {
            "w2v_args": {
                "model": {
                    "encoder_attention_heads": 4,
                    "layer_norm_first": cfg.do_stable_layer_norm,
                    "conv_feature_layers": "[(32, 10, 5)] + [(32, 3, 2)] * 4 + [(32, 2, 2)] * 2",
                },
                "task": {"normalize": size == "large"},  # as fairseq's recipes
            }
        }
    }
    torch.save({"model": sd, "cfg": fcfg}, tmp_path / "ft.pt")
    cfg2, params = from_fairseq(str(tmp_path / "ft.pt"))
    assert (cfg2.feat_extract_norm, cfg2.do_stable_layer_norm) == (
        cfg.feat_extract_norm,
        cfg.do_stable_layer_norm,
    )
    assert cfg2.do_normalize == (size == "large")  # the model hears what fairseq fed it
    fcfg["task"] = {"normalize": True}  # the fine-tuning task's own setting comes first
    torch.save({"model": sd, "cfg": fcfg}, tmp_path / "ft2.pt")
    assert from_fairseq(str(tmp_path / "ft2.pt"))[0].do_normalize
    audio, pads = batch([12000, 7000])
    logits, paddings = Wav2Vec2ForCTC(cfg2).apply({"params": params}, audio, pads)
    expected = hf_logits(ref, audio, pads)
    for b, n in enumerate((1 - np.asarray(paddings)).sum(-1).astype(int)):
        np.testing.assert_allclose(logits[b, :n], expected[b, :n], atol=1e-4)


# transformers' Wav2Vec2ForPreTraining heads -> fairseq's names (top level).
_HEADS_TO_FAIRSEQ = {
    "quantizer.codevectors": "quantizer.vars",
    "project_hid.weight": "final_proj.weight",
    "project_hid.bias": "final_proj.bias",
}
PRETRAIN = {
    **SMALL,
    "num_codevector_groups": 2,
    "num_codevectors_per_group": 8,
    "codevector_dim": 16,
    "proj_codevector_dim": 12,
    "num_negatives": 5,
    "mask_time_prob": 0.5,
    "mask_time_length": 3,
}


def pretraining_checkpoint(cfg, tmp_path):
    """A fairseq-named pretraining state dict (encoder + quantizer, final_proj, project_q)
    from a random transformers Wav2Vec2ForPreTraining, and that reference model."""
    ref = make_hf_model(cfg, tmp_path / "hf", cls=transformers.Wav2Vec2ForPreTraining)
    sd = ref.state_dict()
    heads = {_HEADS_TO_FAIRSEQ.get(k, k): v for k, v in sd.items() if not k.startswith("wav2vec2.")}
    encoder = {k: v for k, v in sd.items() if k.startswith("wav2vec2.")}
    return {**to_fairseq(encoder, finetuned=False), **heads}, ref


def test_pretraining_checkpoint_carries_its_quantizer(tmp_path):
    from hf_reference import batch as hf_batch
    from hf_reference import hf_pretraining_outputs
    from pretraining_parity_test import hf_draws

    from w2v2jax.models import Wav2Vec2ForPreTraining

    cfg = get_config("base", **PRETRAIN)
    sd, ref = pretraining_checkpoint(cfg, tmp_path)
    assert {"quantizer.vars", "quantizer.weight_proj.weight", "final_proj.bias"} <= set(sd)
    fcfg = {
        "model": {
            "latent_groups": 2,
            "num_negatives": 5,
            "logit_temp": 0.1,
            "feature_grad_mult": 0.1,
            "mask_prob": 0.5,
            "mask_length": 3,
            "encoder_attention_heads": 4,
        }
    }
    torch.save({"model": sd, "cfg": fcfg}, tmp_path / "pt.pt")
    cfg2, params = from_fairseq(str(tmp_path / "pt.pt"))
    assert set(params) == {"wav2vec2", "quantizer", "project_hid", "project_q"}
    assert cfg2 == cfg.replace(feature_grad_mult=0.1, vocab_size=32)  # no CTC head: default
    audio, pads = hf_batch([16000, 9001, 4321])
    mask, flat, negatives = hf_draws(ref, pads, cfg)
    expected = hf_pretraining_outputs(ref, audio, pads, mask, flat)
    out = Wav2Vec2ForPreTraining(cfg2).apply(
        {"params": params}, audio, pads, mask_time_BxT=mask, negatives_BxTxK=negatives
    )
    for k in ("contrastive_loss", "diversity_loss", "codevector_perplexity"):
        np.testing.assert_allclose(out[k], getattr(expected, k).item(), rtol=1e-4)


def test_unsupported_pretraining_heads_keep_the_encoder_and_say_so(tmp_path):
    cfg = get_config("base", **PRETRAIN)
    sd, ref = pretraining_checkpoint(cfg, tmp_path)
    # fairseq's quantizer_depth=2: weight_proj is a Sequential, which we do not model.
    w = sd.pop("quantizer.weight_proj.weight")
    sd["quantizer.weight_proj.0.0.weight"] = torch.zeros(32, 32)
    sd["quantizer.weight_proj.1.weight"] = w
    sd["target_glu.0.weight"] = torch.zeros(24, 12)
    torch.save({"model": sd}, tmp_path / "deep.pt")
    with pytest.warns(UserWarning, match=r"deep\.pt: final_proj, project_q, quantizer, target_glu"):
        cfg2, params = from_fairseq(str(tmp_path / "deep.pt"), num_attention_heads=4)
    assert set(params) == {"wav2vec2"}
    audio, pads = batch([9000])
    out = Wav2Vec2Model(cfg2).apply({"params": params["wav2vec2"]}, audio, pads)
    with torch.no_grad():
        ref_out = ref.wav2vec2(torch.from_numpy(audio)).last_hidden_state.numpy()
    np.testing.assert_allclose(out["hidden"], ref_out, atol=1e-4)


def test_unexpected_and_missing_keys_are_listed(tmp_path):
    cfg = get_config("base", **SMALL)
    ref = make_hf_model(cfg, tmp_path / "hf")
    sd = to_fairseq(ref.state_dict(), finetuned=True)
    sd["w2v_encoder.w2v_model.encoder.extra.weight"] = torch.zeros(3)
    del sd["w2v_encoder.w2v_model.encoder.layers.1.fc2.bias"]
    torch.save({"model": sd}, tmp_path / "bad.pt")
    with pytest.raises(
        CheckpointError,
        match=r"(?s)missing keys.*layers\.1\.feed_forward"
        r"\.output_dense\.bias.*unexpected keys.*encoder\.extra\.weight",
    ):
        from_fairseq(str(tmp_path / "bad.pt"), num_attention_heads=4)


class Opaque:
    """Stands for fairseq's omegaconf config: an arbitrary pickled object."""


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"model": {}, "cfg": Opaque()}, tmp_path / "obj.pt")
    with pytest.raises(CheckpointError, match=r"obj\.pt: holds pickled .*Opaque.* re-save") as e:
        from_fairseq(str(tmp_path / "obj.pt"))
    assert "weights_only=False" not in str(e.value)  # an option the CLI does not have


def test_a_tensor_that_disagrees_with_the_others_is_named(tmp_path):
    """The config comes from some tensors' shapes; another layer's tensor that disagrees
    (a damaged file) is named with both shapes, before anything is written."""
    cfg = get_config("base", **SMALL)
    sd = to_fairseq(make_hf_model(cfg, tmp_path / "hf").state_dict(), finetuned=True)
    sd["w2v_encoder.w2v_model.encoder.layers.1.fc1.weight"] = torch.zeros(90, 64)
    torch.save({"model": sd}, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError) as e:
        from_fairseq(str(tmp_path / "odd.pt"), num_attention_heads=4)
    message = str(e.value)
    wrong = "layers.1.feed_forward.intermediate_dense.weight is [90, 64], the config needs [96, 64]"
    assert wrong in message
    assert message.startswith(str(tmp_path / "odd.pt")) and "damaged" in message


@pytest.mark.parametrize(
    "content, message",
    [
        ("truncated", r"truncated\.pt: cannot be read as a PyTorch file .*truncated"),
        ("no_tensors", r"no_tensors\.pt: not a fairseq wav2vec 2\.0 checkpoint"),
        ("a_list", r"a_list\.pt: expected a fairseq checkpoint"),
        ("no_heads", r"no_heads\.pt: cannot tell the attention head count .*encoder_attention_"),
    ],
)
def test_damaged_or_foreign_files_are_one_sentence(tmp_path, content, message):
    path = tmp_path / f"{content}.pt"
    if content == "truncated":
        torch.save({"model": {"a": torch.zeros(1000)}}, path)
        path.write_bytes(path.read_bytes()[:600])
    elif content == "no_tensors":
        torch.save({"model": {"step": 3}}, path)
    elif content == "a_list":
        torch.save([torch.zeros(3)], path)
    else:
        cfg = get_config("base", **{**SMALL, "hidden_size": 96, "num_conv_pos_embedding_groups": 4})
        sd = to_fairseq(make_hf_model(cfg, tmp_path / "hf").state_dict(), finetuned=True)
        torch.save({"model": sd}, path)  # width 96: no released model to take heads from
    with pytest.raises(CheckpointError, match=message) as e:
        from_fairseq(str(path))
    assert "\n" not in str(e.value) and "pass num_attention_heads=" not in str(e.value)
