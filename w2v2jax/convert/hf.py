"""transformers checkpoints (folders written by `save_pretrained`) <-> our Flax trees.

    cfg, params = from_hf("path/to/wav2vec2-base-960h")
    to_hf(cfg, params, "out_dir")  # loadable by transformers' Wav2Vec2ForCTC.from_pretrained

Reads config.json + model.safetensors (also sharded), or pytorch_model.bin through
torch.load(weights_only=True): nothing is unpickled beyond tensors.
"""

import json
import os

import flax.linen as nn
import jax
import numpy as np

from w2v2jax.convert.keys import (
    canonical_hf_key,
    from_torch_layout,
    ours_to_hf,
    to_torch_layout,
)
from w2v2jax.errors import CheckpointError
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.layout import to_layout, unstack_layers

# Heads of other training objectives that an encoder (+ CTC) model does not use.
IGNORED_PREFIXES = ("quantizer.", "project_hid.", "project_q.", "final_proj.", "label_embs")


def read_state_dict(model_dir: str) -> dict[str, np.ndarray]:
    """All tensors of a save_pretrained folder as float32 numpy arrays."""
    st = os.path.join(model_dir, "model.safetensors")
    index = st + ".index.json"
    if os.path.exists(st) or os.path.exists(index):
        from safetensors.numpy import load_file

        files = [st]
        if not os.path.exists(st):
            with open(index) as f:
                files = sorted(
                    {os.path.join(model_dir, v) for v in json.load(f)["weight_map"].values()}
                )
        out = {}
        for path in files:
            out.update(load_file(path))
        return {k: np.asarray(v, np.float32) for k, v in out.items()}
    binary = os.path.join(model_dir, "pytorch_model.bin")
    if os.path.exists(binary):
        return load_torch_weights(binary)
    raise CheckpointError(
        f"{model_dir}: no model.safetensors or pytorch_model.bin found. Point --from_hf at a "
        "folder written by transformers' save_pretrained."
    )


def load_torch_weights(path: str) -> dict:
    try:
        import torch
    except ImportError as e:
        raise CheckpointError(
            f"{path} is a PyTorch pickle; reading it needs torch (pip install torch), "
            "or convert it to safetensors first."
        ) from e
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise CheckpointError(
            f"{path}: cannot be read with torch.load(weights_only=True) ({type(e).__name__}: "
            f"{str(e)[:200]}). w2v2jax never unpickles arbitrary objects; re-save the tensors "
            "alone (torch.save(state_dict)) or as safetensors."
        ) from e
    return _to_numpy(obj)


def _to_numpy(obj):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().to(torch.float32).numpy() if obj.is_floating_point() else obj.numpy()
    if isinstance(obj, dict):
        return {k: _to_numpy(v) for k, v in obj.items()}
    return obj


def _flatten(tree, prefix=()):
    if isinstance(tree, dict):
        for k, v in tree.items():
            yield from _flatten(v, (*prefix, k))
    else:
        yield prefix, tree


def _set(tree, path, value):
    for k in path[:-1]:
        tree = tree.setdefault(k, {})
    tree[path[-1]] = value


def expected_paths(cfg: Wav2Vec2Config, with_head: bool) -> list[tuple[str, ...]]:
    """Every parameter path of Wav2Vec2ForCTC(cfg) in the unrolled layout, without compute."""
    from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC

    flat = cfg.replace(scan_layers=False, remat="none")
    shapes = jax.eval_shape(
        lambda: Wav2Vec2ForCTC(flat).init(
            jax.random.PRNGKey(0), np.zeros((1, 400), np.float32), np.zeros((1, 400), np.float32)
        )
    )["params"]
    paths = [p for p, _ in _flatten(nn.unbox(shapes))]
    return [p for p in paths if with_head or p[0] != "lm_head"]


def state_dict_to_params(sd: dict[str, np.ndarray], cfg: Wav2Vec2Config, source: str):
    """Maps a transformers-named state dict onto our tree; errors list every bad key."""
    sd = {canonical_hf_key(k): v for k, v in sd.items()}
    prefixed = any(k.startswith("wav2vec2.") for k in sd)
    with_head = "lm_head.weight" in sd
    params, used, missing = {}, set(), []
    for path in expected_paths(cfg, with_head):
        key, kind = ours_to_hf(path)
        if not prefixed:
            key = key.removeprefix("wav2vec2.")
        if key not in sd:
            missing.append(key)
            continue
        used.add(key)
        _set(params, path, from_torch_layout(np.asarray(sd[key], np.float32), kind))
    unexpected = sorted(
        k
        for k in sd
        if k not in used
        and not k.removeprefix("wav2vec2.").startswith(IGNORED_PREFIXES)
        and not k.endswith("num_batches_tracked")
    )
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: the weights do not match the config.\n  missing keys ({len(missing)}): "
            f"{missing[:20]}\n  unexpected keys ({len(unexpected)}): {unexpected[:20]}\n"
            "Check that config.json belongs to these weights."
        )
    return params


def from_hf(model_dir: str, **overrides):
    """(cfg, params) from a save_pretrained folder of Wav2Vec2ForCTC, Wav2Vec2Model or
    Wav2Vec2ForPreTraining. params has "lm_head" only if the checkpoint has a CTC head."""
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.exists(cfg_path):
        raise CheckpointError(f"{model_dir}: no config.json; expected a save_pretrained folder.")
    with open(cfg_path) as f:
        hf_cfg = json.load(f)
    cfg = Wav2Vec2Config.from_dict(hf_cfg).replace(**overrides)
    params = state_dict_to_params(read_state_dict(model_dir), cfg, model_dir)
    return cfg, to_layout(params, cfg)


def hf_config_dict(cfg: Wav2Vec2Config) -> dict:
    if cfg.posemb != "conv":
        raise CheckpointError(
            f"posemb={cfg.posemb!r} has no transformers counterpart; only 'conv' exports to HF."
        )
    d = {k: v for k, v in cfg.to_dict().items() if k not in _OURS_ONLY}
    d.update(
        model_type="wav2vec2",
        architectures=["Wav2Vec2ForCTC"],
        num_feat_extract_layers=len(cfg.conv_dim),
        conv_dim=list(cfg.conv_dim),
        conv_stride=list(cfg.conv_stride),
        conv_kernel=list(cfg.conv_kernel),
        pad_token_id=0,
        ctc_loss_reduction="mean",
    )
    return d


_OURS_ONLY = {
    "posemb",
    "max_positions",
    "learned_overflow",
    "rope_theta",
    "dtype",
    "scan_layers",
    "remat",
}


def to_hf(cfg: Wav2Vec2Config, params, out_dir: str) -> str:
    """Writes config.json + model.safetensors that transformers' from_pretrained loads."""
    from safetensors.numpy import save_file

    hf_cfg = hf_config_dict(cfg)
    params = unstack_layers(jax.device_get(params))
    sd = {}
    for path, value in _flatten(params):
        key, kind = ours_to_hf(path)
        if key.endswith("weight_g"):
            key = key.replace("weight_g", "parametrizations.weight.original0")
        elif key.endswith("weight_v"):
            key = key.replace("weight_v", "parametrizations.weight.original1")
        sd[key] = np.ascontiguousarray(to_torch_layout(np.asarray(value, np.float32), kind))
    if "lm_head" not in params:
        hf_cfg["architectures"] = ["Wav2Vec2Model"]
        sd = {k.removeprefix("wav2vec2."): v for k, v in sd.items()}
    os.makedirs(out_dir, exist_ok=True)
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_cfg, f, indent=2)
    return out_dir
