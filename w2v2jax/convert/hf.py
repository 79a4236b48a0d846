"""transformers checkpoints (folders written by `save_pretrained`) <-> our Flax trees.

    cfg, params = from_hf("path/to/wav2vec2-base-960h")
    to_hf(cfg, params, "out_dir")  # loadable by transformers' Wav2Vec2ForCTC.from_pretrained

Reads config.json + model.safetensors (also sharded), or pytorch_model.bin through
torch.load(weights_only=True): nothing is unpickled beyond tensors. Every key and every
tensor's shape is checked against the config before anything is written, and a damaged
file is named in one sentence.
"""

import json
import os

import flax.linen as nn
import jax
import numpy as np

from w2v2jax.convert.keys import (
    WN_G,
    canonical_hf_key,
    check_field_types,
    from_torch_layout,
    ours_to_hf,
    to_torch_layout,
    torch_shape,
)
from w2v2jax.convert.torch_files import to_numpy, torch_load
from w2v2jax.errors import CheckpointError, ConfigError
from w2v2jax.files import write_json
from w2v2jax.frames import SAMPLE_RATE
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.layout import to_layout, unstack_layers

# Heads of other models (HuBERT's, fairseq-named ones) that we have no counterpart for.
IGNORED_PREFIXES = ("final_proj.", "label_embs")
# Wav2Vec2ForPreTraining's heads, read when a checkpoint has them (its quantizer's codebook).
PRETRAINING_HEADS = ("quantizer", "project_hid", "project_q")
PRETRAINING_KEY = "quantizer.codevectors"


def read_state_dict(model_dir: str) -> dict[str, np.ndarray]:
    """All tensors of a save_pretrained folder as float32 numpy arrays."""
    st = os.path.join(model_dir, "model.safetensors")
    index = st + ".index.json"
    if os.path.exists(st) or os.path.exists(index):
        files = [st] if os.path.exists(st) else _shards(index, model_dir)
        out = {}
        for path in files:
            out.update(_read_safetensors(path))
        return {k: np.asarray(v, np.float32) for k, v in out.items()}
    binary = os.path.join(model_dir, "pytorch_model.bin")
    if os.path.exists(binary):
        return load_torch_weights(binary)
    raise CheckpointError(
        f"{model_dir}: no model.safetensors or pytorch_model.bin found. Point --from_hf at a "
        "folder written by transformers' save_pretrained."
    )


def _shards(index: str, model_dir: str) -> list[str]:
    try:
        with open(index, encoding="utf-8") as f:
            names = set(json.load(f)["weight_map"].values())
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise CheckpointError(
            f"{index}: not a safetensors index ({type(e).__name__}: {e}); it should map each "
            'tensor to its shard as {"weight_map": {...}}: re-save the model or restore the file'
        ) from None
    return sorted(os.path.join(model_dir, n) for n in names)


def _read_safetensors(path: str) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as e:
        raise CheckpointError(
            f"{path}: cannot be read as safetensors ({e}); the file is truncated or damaged: "
            "download or save it again"
        ) from None


def load_torch_weights(path: str) -> dict:
    """A pytorch_model.bin's state dict as numpy arrays (torch.load(weights_only=True))."""
    obj = torch_load(path)
    sd = to_numpy(obj)
    if not isinstance(sd, dict) or not all(hasattr(v, "shape") for v in sd.values()):
        raise CheckpointError(
            f"{path}: expected a state dict (tensor name -> tensor), got {type(obj).__name__} "
            "holding other objects; save model.state_dict() instead"
        )
    return sd


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


def expected_shapes(
    cfg: Wav2Vec2Config, with_head: bool, with_pretraining: bool = False
) -> dict[tuple[str, ...], tuple]:
    """Every parameter path of Wav2Vec2ForCTC(cfg) in the unrolled layout and its shape,
    from the abstract init (no compute, no memory); with_pretraining adds the heads of
    Wav2Vec2ForPreTraining."""
    from w2v2jax.models import Wav2Vec2ForCTC, Wav2Vec2ForPreTraining

    flat = cfg.replace(scan_layers=False, remat="none")
    audio = np.zeros((1, 400), np.float32)
    shapes = jax.eval_shape(lambda: Wav2Vec2ForCTC(flat).init(jax.random.PRNGKey(0), audio, audio))[
        "params"
    ]
    out = {
        p: tuple(x.shape) for p, x in _flatten(nn.unbox(shapes)) if with_head or p[0] != "lm_head"
    }
    if with_pretraining:
        # The heads do not depend on masking; a checkpoint saved with mask_time_prob=0 (which
        # pretraining itself refuses) still has them.
        pre = flat.replace(mask_time_prob=max(flat.mask_time_prob, 0.05))
        heads = jax.eval_shape(
            lambda: Wav2Vec2ForPreTraining(pre).init(jax.random.PRNGKey(0), audio, audio)
        )["params"]
        out.update(
            (p, tuple(x.shape)) for p, x in _flatten(nn.unbox(heads)) if p[0] in PRETRAINING_HEADS
        )
    return out


def state_dict_to_params(
    sd: dict[str, np.ndarray],
    cfg: Wav2Vec2Config,
    source: str,
    hint: str = "Check that config.json belongs to these weights.",
):
    """Maps a transformers-named state dict onto our tree; every key and every tensor's
    shape is checked against cfg first, so a mismatch fails here, naming the keys, and
    never later in an orbax restore. Errors list every bad key."""
    sd = {canonical_hf_key(k): v for k, v in sd.items()}
    prefixed = any(k.startswith("wav2vec2.") for k in sd)
    with_head = "lm_head.weight" in sd
    with_pretraining = PRETRAINING_KEY in sd
    params, used, missing, wrong = {}, set(), [], []
    for path, shape in expected_shapes(cfg, with_head, with_pretraining).items():
        key, kind = ours_to_hf(path)
        if not prefixed:
            key = key.removeprefix("wav2vec2.")
        if key not in sd:
            missing.append(key)
            continue
        used.add(key)
        value, want = np.asarray(sd[key], np.float32), torch_shape(shape, kind)
        if value.shape != want and not (kind == WN_G and value.size == np.prod(shape)):
            wrong.append(f"{key} is {list(value.shape)}, the config needs {list(want)}")
            continue
        _set(params, path, from_torch_layout(value, kind))
    unexpected = sorted(
        k
        for k in sd
        if k not in used
        and not k.removeprefix("wav2vec2.").startswith(IGNORED_PREFIXES)
        and not k.endswith("num_batches_tracked")
    )
    if missing or unexpected or wrong:
        parts = [f"wrong shapes ({len(wrong)}):" + "".join(f"\n    {w}" for w in wrong[:20])]
        parts += [f"missing keys ({len(missing)}): {missing[:20]}"]
        parts += [f"unexpected keys ({len(unexpected)}): {unexpected[:20]}"]
        shown = [p for p, n in zip(parts, (wrong, missing, unexpected), strict=True) if n]
        raise CheckpointError(
            f"{source}: the weights do not match the config.\n  " + "\n  ".join(shown) + f"\n{hint}"
        )
    return params


def read_config(model_dir: str, **overrides) -> Wav2Vec2Config:
    """The model config of a save_pretrained folder; a config.json that is not JSON or
    holds values of the wrong kind is a CheckpointError naming the file and the key."""
    cfg_path = os.path.join(model_dir, "config.json")
    if not os.path.exists(cfg_path):
        raise CheckpointError(f"{model_dir}: no config.json; expected a save_pretrained folder.")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            hf_cfg = json.load(f)
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointError(
            f"{cfg_path}: not a readable JSON file ({e}); restore it from the model's source "
            "or save the model again with save_pretrained"
        ) from None
    if not isinstance(hf_cfg, dict):
        raise CheckpointError(f"{cfg_path}: expected a JSON object of config fields")
    check_field_types(hf_cfg, cfg_path)
    try:
        return Wav2Vec2Config.from_dict(hf_cfg).replace(**{**_input_fields(model_dir), **overrides})
    except ConfigError as e:
        raise CheckpointError(f"{cfg_path}: {e}") from None


PREPROCESSOR = "preprocessor_config.json"


def _input_fields(model_dir: str) -> dict:
    """do_normalize from the folder's feature extractor (preprocessor_config.json), which
    says what the model was fed; absent or unreadable: nothing, the default holds."""
    try:
        with open(os.path.join(model_dir, PREPROCESSOR), encoding="utf-8") as f:
            pre = json.load(f)
    except (OSError, ValueError):
        return {}
    value = pre.get("do_normalize") if isinstance(pre, dict) else None
    return {"do_normalize": value} if isinstance(value, bool) else {}


def preprocessor_config(cfg: Wav2Vec2Config) -> dict:
    """transformers' Wav2Vec2FeatureExtractor for this model: what its pipeline feeds it."""
    return {
        "feature_extractor_type": "Wav2Vec2FeatureExtractor",
        "feature_size": 1,
        "sampling_rate": SAMPLE_RATE,
        "padding_value": 0.0,
        "padding_side": "right",
        "do_normalize": cfg.do_normalize,
        # transformers' rule: only the layer-norm CNN is given an attention mask
        "return_attention_mask": cfg.feat_extract_norm == "layer",
    }


def from_hf(model_dir: str, **overrides):
    """(cfg, params) from a save_pretrained folder of Wav2Vec2ForCTC, Wav2Vec2Model or
    Wav2Vec2ForPreTraining. params has "lm_head" only if the checkpoint has a CTC head, and
    "quantizer", "project_hid", "project_q" only if it has Wav2Vec2ForPreTraining's."""
    cfg = read_config(model_dir, **overrides)
    params = state_dict_to_params(read_state_dict(model_dir), cfg, model_dir)
    return cfg, to_layout(params, cfg)


def hf_config_dict(cfg: Wav2Vec2Config) -> dict:
    if cfg.posemb != "conv":
        raise CheckpointError(
            f"posemb={cfg.posemb!r} has no transformers counterpart; only 'conv' exports to HF."
        )
    if cfg.attention_chunk_frames:
        # transformers would load it and silently attend over the whole input.
        raise CheckpointError(
            f"attention_chunk_frames={cfg.attention_chunk_frames}: transformers has no chunked "
            "attention, so the exported model would not compute what this one does; export a "
            "model trained with attention_chunk_frames=0."
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
    """Writes config.json + model.safetensors that transformers' from_pretrained loads (and
    preprocessor_config.json, its feature extractor: pipeline(model=out_dir) works): as
    Wav2Vec2ForCTC with "lm_head", else Wav2Vec2ForPreTraining with its heads, else
    Wav2Vec2Model."""
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
    if "lm_head" not in params and "quantizer" in params:
        hf_cfg["architectures"] = ["Wav2Vec2ForPreTraining"]
    elif "lm_head" not in params:
        hf_cfg["architectures"] = ["Wav2Vec2Model"]
        sd = {k.removeprefix("wav2vec2."): v for k, v in sd.items()}
    os.makedirs(out_dir, exist_ok=True)
    save_file(sd, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    write_json(os.path.join(out_dir, "config.json"), hf_cfg)
    write_json(os.path.join(out_dir, PREPROCESSOR), preprocessor_config(cfg))
    return out_dir
