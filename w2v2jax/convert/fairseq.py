"""fairseq wav2vec 2.0 checkpoints (pretrained `Wav2Vec2Model` and fine-tuned `Wav2VecCtc`).

    cfg, params = from_fairseq("wav2vec_small_960h.pt")

Keys are renamed to transformers' names and mapped by the same table as `from_hf`. The
shapes come from the weights; what weights cannot tell (strides, heads, pre/post-LN) comes
from the checkpoint's config when it is stored as plain data, else from the released
models' conventions, and any of it can be overridden by keyword.

torch.load runs with weights_only=True. Checkpoints whose config is an omegaconf object
cannot be read that way; re-save them once from a trusted environment:
    ck = torch.load(p, weights_only=False)
    torch.save({"model": ck["model"], "cfg": OmegaConf.to_container(ck["cfg"])}, p2)
"""

import argparse
import re
import warnings

from w2v2jax.convert.hf import state_dict_to_params
from w2v2jax.convert.torch_files import to_numpy, torch_load
from w2v2jax.errors import CheckpointError, ConfigError
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.layout import to_layout

_RENAMES = [
    (r"^w2v_encoder\.proj\.", "lm_head."),
    (r"^w2v_encoder\.w2v_model\.", ""),
    (r"conv_layers\.(\d+)\.0\.", r"conv_layers.\1.conv."),
    (r"conv_layers\.(\d+)\.2\.1\.", r"conv_layers.\1.layer_norm."),
    (r"conv_layers\.0\.2\.", "conv_layers.0.layer_norm."),
    (r"^layer_norm\.", "feature_projection.layer_norm."),
    (r"^post_extract_proj\.", "feature_projection.projection."),
    (r"^mask_emb$", "masked_spec_embed"),
    (r"^encoder\.pos_conv\.0\.", "encoder.pos_conv_embed.conv."),
    (r"\.self_attn\.", ".attention."),
    (r"\.self_attn_layer_norm\.", ".layer_norm."),
    (r"\.fc1\.", ".feed_forward.intermediate_dense."),
    (r"\.fc2\.", ".feed_forward.output_dense."),
]
# A pretraining checkpoint's heads: fairseq name -> transformers' (ours), top level.
_HEAD_RENAMES = [
    (r"^quantizer\.vars$", "quantizer.codevectors"),
    (r"^quantizer\.weight_proj\.(weight|bias)$", r"quantizer.weight_proj.\1"),
    (r"^project_q\.(weight|bias)$", r"project_q.\1"),
    (r"^final_proj\.(weight|bias)$", r"project_hid.\1"),
]
_PRETRAIN_ONLY = (
    "quantizer.",
    "project_q.",
    "final_proj.",
    "label_embs_concat",
    "target_glu.",
    "input_quantizer.",
    "project_inp.",
)
_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 16}
_RESAVE = (
    "fairseq stores its config as an omegaconf object: re-save it as plain data once, from "
    "an environment you trust (see the docstring of w2v2jax/convert/fairseq.py)"
)


def fairseq_to_hf_key(key: str) -> str:
    for pattern, repl in _HEAD_RENAMES:
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    for pattern, repl in _RENAMES:
        key = re.sub(pattern, repl, key)
    return key if key.startswith("lm_head.") else "wav2vec2." + key


def _load(path: str) -> dict:
    ck = torch_load(path, plain_types=(argparse.Namespace,), pickled_objects_hint=_RESAVE)
    if not isinstance(ck, dict) or not isinstance(ck.get("model", ck), dict):
        raise CheckpointError(
            f"{path}: expected a fairseq checkpoint (a dict with the model's tensors under "
            f'"model"), got {type(ck).__name__}'
        )
    return ck


def _model_cfg(ck: dict) -> dict:
    raw = ck.get("cfg") or ck.get("args") or {}
    if isinstance(raw, argparse.Namespace):
        raw = vars(raw)
    model = raw.get("model", raw) if isinstance(raw, dict) else {}
    if isinstance(model, argparse.Namespace):
        model = vars(model)
    w2v = model.get("w2v_args") if isinstance(model, dict) else None
    if isinstance(w2v, dict):  # fine-tuned: the encoder's own config sits inside
        model = {**model, **(w2v.get("model", w2v))}
    return model if isinstance(model, dict) else {}


def _namespace_free(value) -> dict:
    value = vars(value) if isinstance(value, argparse.Namespace) else value
    return value if isinstance(value, dict) else {}


def _input_fields(ck: dict) -> dict:
    """do_normalize from the task's `normalize` (False in fairseq's base recipes, True in
    its large ones); a fine-tuned checkpoint's own task, else its pretraining's. Absent:
    nothing, so the default (normalised) holds."""
    raw = _namespace_free(ck.get("cfg") or ck.get("args"))
    w2v = _namespace_free(_namespace_free(raw.get("model")).get("w2v_args"))
    for task in (_namespace_free(raw.get("task", raw)), _namespace_free(w2v.get("task", w2v))):
        if isinstance(task.get("normalize"), bool):
            return {"do_normalize": task["normalize"]}
    return {}


def _strides(spec: str | None, n: int) -> tuple[int, ...]:
    if spec:
        out = []
        for _dim, _k, s, times in re.findall(
            r"\[\((\d+),\s*(\d+),\s*(\d+)\)\]\s*(?:\*\s*(\d+))?", spec
        ):
            out += [int(s)] * int(times or 1)
        if len(out) == n:
            return tuple(out)
    if n == 7:
        return (5, 2, 2, 2, 2, 2, 2)
    raise CheckpointError(
        f"cannot tell the strides of {n} conv layers: store them in the checkpoint's config "
        'as cfg["model"]["conv_feature_layers"] (fairseq\'s "[(dim, kernel, stride)] * n" '
        "form), or call from_fairseq(path, conv_stride=(...))"
    )


def infer_config(sd: dict, fcfg: dict, overrides: dict) -> Wav2Vec2Config:
    """The model config from the state dict's shapes plus fairseq's config where present."""
    for suffix in (
        "conv_layers.0.0.weight",
        "post_extract_proj.weight",
        "encoder.layers.0.fc1.weight",
    ):
        _find(sd, suffix)  # a file without them is no wav2vec 2.0 checkpoint: say so first
    n_conv = 1 + max(
        int(m.group(1)) for k in sd if (m := re.search(r"conv_layers\.(\d+)\.0\.weight", k))
    )
    convs = [sd[_find(sd, f"conv_layers.{i}.0.weight")].shape for i in range(n_conv)]
    hidden = sd[_find(sd, "post_extract_proj.weight")].shape[0]
    layers = 1 + max(
        int(m.group(1)) for k in sd if (m := re.search(r"encoder\.layers\.(\d+)\.", k))
    )
    wv = sd[_find(sd, "pos_conv.0.weight_v")].shape
    norm = "layer" if any("conv_layers.1.2.1.weight" in k for k in sd) else "group"
    heads = (
        overrides.get("num_attention_heads")
        or fcfg.get("encoder_attention_heads")
        or _HEADS_BY_WIDTH.get(hidden)
    )
    if heads is None:
        raise CheckpointError(
            f"cannot tell the attention head count of width {hidden}: store it in the "
            'checkpoint\'s config as cfg["model"]["encoder_attention_heads"], or call '
            "from_fairseq(path, num_attention_heads=N)"
        )
    head = [k for k in sd if k.startswith("w2v_encoder.proj.weight")]
    kw = {
        "vocab_size": sd[head[0]].shape[0] if head else 32,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": sd[_find(sd, "encoder.layers.0.fc1.weight")].shape[0],
        "feat_extract_norm": norm,
        "conv_dim": tuple(s[0] for s in convs),
        "conv_kernel": tuple(s[2] for s in convs),
        "conv_stride": _strides(fcfg.get("conv_feature_layers"), n_conv),
        "conv_bias": any(k.endswith("conv_layers.0.0.bias") for k in sd),
        "num_conv_pos_embeddings": wv[2],
        "num_conv_pos_embedding_groups": hidden // wv[1],
        "do_stable_layer_norm": bool(fcfg.get("layer_norm_first", norm == "layer")),
        "layer_norm_eps": 1e-5,
        "mask_time_prob": float(fcfg.get("mask_prob", 0.05)) or 0.05,  # fairseq always has mask_emb
        "mask_time_length": int(fcfg.get("mask_length", 10)),
        **(_pretraining_fields(sd, fcfg) if has_heads(sd) else {}),
    }
    try:
        return Wav2Vec2Config(**{**kw, **overrides})
    except ConfigError as e:
        raise CheckpointError(f"the shapes and config of the checkpoint disagree: {e}") from None


def has_heads(sd: dict) -> bool:
    """A pretraining checkpoint whose quantizer we can read: one linear weight_proj
    (quantizer_depth=1) and its codebook. Others keep only their encoder."""
    return "quantizer.vars" in sd and "quantizer.weight_proj.weight" in sd


def _pretraining_fields(sd: dict, fcfg: dict) -> dict:
    """The quantizer's sizes from its tensors, the task's settings from fairseq's config."""
    groups = int(fcfg.get("latent_groups", 2))
    num_codes, piece = sd["quantizer.weight_proj.weight"].shape[0], sd["quantizer.vars"].shape[2]
    if num_codes % groups:
        raise CheckpointError(
            f"the quantizer has {num_codes} codes, not a multiple of latent_groups={groups}: "
            'store the group count as cfg["model"]["latent_groups"], or call '
            "from_fairseq(path, num_codevector_groups=G)"
        )
    final = sd.get("final_proj.weight")
    return {
        "num_codevector_groups": groups,
        "num_codevectors_per_group": num_codes // groups,
        "codevector_dim": groups * piece,
        "proj_codevector_dim": final.shape[0] if final is not None else 256,
        "num_negatives": int(fcfg.get("num_negatives", 100)),
        "contrastive_logits_temperature": float(fcfg.get("logit_temp", 0.1)),
        "feature_grad_mult": float(fcfg.get("feature_grad_mult", 1.0)),
        "feat_quantizer_dropout": float(fcfg.get("dropout_features", 0.0)),
    }


def _find(sd: dict, suffix: str) -> str:
    for k in sd:
        if k.endswith(suffix):
            return k
    raise CheckpointError(f"not a fairseq wav2vec 2.0 checkpoint: no key ending in {suffix!r}")


def from_fairseq(path: str, **overrides):
    """(cfg, params) from a fairseq checkpoint file; params has "lm_head" if fine-tuned, and
    Wav2Vec2ForPreTraining's "quantizer", "project_hid" (fairseq's final_proj) and
    "project_q" if it is a pretraining checkpoint."""
    ck = _load(path)
    sd = ck.get("model", ck)
    sd = {k: v for k, v in sd.items() if hasattr(v, "shape")}
    try:
        cfg = infer_config(sd, _model_cfg(ck), {**_input_fields(ck), **overrides})
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    heads = has_heads(sd)
    keep = {
        k: v
        for k, v in sd.items()
        if not k.removeprefix("w2v_encoder.w2v_model.").startswith(_PRETRAIN_ONLY)
        or (heads and any(re.match(pattern, k) for pattern, _ in _HEAD_RENAMES))
    }
    _warn_dropped(path, [k for k in sd if k not in keep], heads)
    hf_sd = {fairseq_to_hf_key(k): to_numpy(v) for k, v in keep.items()}
    # The config came from some of these shapes; the check finds a tensor that disagrees.
    params = state_dict_to_params(hf_sd, cfg, path, hint=_DAMAGED)
    return cfg, to_layout(params, cfg)


def _warn_dropped(path: str, dropped: list[str], heads: bool) -> None:
    # A fine-tuned checkpoint has no pretraining modules left; HuBERT's label embeddings
    # and the rarer wav2vec 2.0 variants (a deeper quantizer, target_glu, a quantized
    # input) have no counterpart here: say what was left behind.
    names = sorted({k.removeprefix("w2v_encoder.w2v_model.").split(".")[0] for k in dropped})
    if names:
        warnings.warn(
            f"{path}: {', '.join(names)} not loaded (no counterpart in w2v2jax's "
            f"Wav2Vec2ForPreTraining); the encoder{' and quantizer' if heads else ''} were",
            stacklevel=3,
        )


_DAMAGED = (
    "The config was read from the tensors' shapes, so they disagree with each other: the "
    "file is damaged or not a wav2vec 2.0 checkpoint."
)
