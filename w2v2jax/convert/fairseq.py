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
_PRETRAIN_ONLY = ("quantizer.", "project_q.", "final_proj.", "label_embs_concat", "target_glu.")
_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 16}
_RESAVE = (
    "fairseq stores its config as an omegaconf object: re-save it as plain data once, from "
    "an environment you trust (see the docstring of w2v2jax/convert/fairseq.py)"
)


def fairseq_to_hf_key(key: str) -> str:
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
    }
    try:
        return Wav2Vec2Config(**{**kw, **overrides})
    except ConfigError as e:
        raise CheckpointError(f"the shapes and config of the checkpoint disagree: {e}") from None


def _find(sd: dict, suffix: str) -> str:
    for k in sd:
        if k.endswith(suffix):
            return k
    raise CheckpointError(f"not a fairseq wav2vec 2.0 checkpoint: no key ending in {suffix!r}")


def from_fairseq(path: str, **overrides):
    """(cfg, params) from a fairseq checkpoint file; params has "lm_head" if fine-tuned."""
    ck = _load(path)
    sd = ck.get("model", ck)
    sd = {k: v for k, v in sd.items() if hasattr(v, "shape")}
    try:
        cfg = infer_config(sd, _model_cfg(ck), overrides)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    hf_sd = {
        fairseq_to_hf_key(k): to_numpy(v)
        for k, v in sd.items()
        if not k.removeprefix("w2v_encoder.w2v_model.").startswith(_PRETRAIN_ONLY)
    }
    # The config came from some of these shapes; the check finds a tensor that disagrees.
    params = state_dict_to_params(hf_sd, cfg, path, hint=_DAMAGED)
    return cfg, to_layout(params, cfg)


_DAMAGED = (
    "The config was read from the tensors' shapes, so they disagree with each other: the "
    "file is damaged or not a wav2vec 2.0 checkpoint."
)
