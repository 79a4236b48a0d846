"""Checkpoints with orbax: params, optimizer state and the data iterator, per step.

Layout of a workdir:
    config.json        model config + training config (written once, checked on resume)
    vocab.json         the tokenizer (transformers' Wav2Vec2CTCTokenizer reads it)
    checkpoints/<step>/{params, opt, data}
Inference and `init_from` read only `params`; `w2v2jax convert` writes only `params`.
"""

import json
import os

import jax
import orbax.checkpoint as ocp

from w2v2jax.errors import WorkdirError
from w2v2jax.models.config import Wav2Vec2Config

# Fields that decide parameter shapes: a workdir that differs in one of them holds another model.
SHAPE_FIELDS = (
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "conv_dim",
    "conv_kernel",
    "conv_bias",
    "feat_extract_norm",
    "num_conv_pos_embeddings",
    "num_conv_pos_embedding_groups",
    "posemb",
    "max_positions",
    "scan_layers",
)


def save_run_config(workdir: str, model_cfg: Wav2Vec2Config, train_cfg: dict) -> None:
    """Writes config.json, or checks that an existing one describes the same model."""
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path):
        old = load_model_config(workdir)
        diff = {
            k: (getattr(old, k), getattr(model_cfg, k))
            for k in SHAPE_FIELDS
            if tuple_or(getattr(old, k)) != tuple_or(getattr(model_cfg, k))
        }
        if diff:
            raise WorkdirError(
                f"{workdir} holds a checkpoint of another model shape: "
                + ", ".join(f"{k} {a} (saved) vs {b} (asked)" for k, (a, b) in diff.items())
                + ". Use a new --workdir, or init_from= to start from it; nothing was changed."
            )
        return
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"model": model_cfg.to_dict(), "train": train_cfg}, f, indent=2, default=list)
        os.replace(tmp, path)


def tuple_or(v):
    return tuple(v) if isinstance(v, list | tuple) else v


def load_model_config(workdir: str) -> Wav2Vec2Config:
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise WorkdirError(
            f"{workdir}: no config.json. Expected a training workdir or a `w2v2jax convert` output."
        )
    with open(path) as f:
        return Wav2Vec2Config.from_dict(json.load(f)["model"])


def is_headless(workdir: str) -> bool:
    """True for a converted encoder without a CTC head (Wav2Vec2Model, pretraining)."""
    with open(os.path.join(workdir, "config.json")) as f:
        return bool(json.load(f).get("train", {}).get("headless", False))


def abstract_params_of(workdir: str, abstract_params: dict) -> dict:
    if is_headless(workdir):
        return {k: v for k, v in abstract_params.items() if k != "lm_head"}
    return abstract_params


def manager(workdir: str, keep: int = 3, async_save: bool = True) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, create=True, enable_async_checkpointing=async_save
    )
    return ocp.CheckpointManager(
        os.path.join(os.path.abspath(workdir), "checkpoints"), options=options
    )


def save(mngr: ocp.CheckpointManager, step: int, params, opt=None, data_iter=None, force=False):
    items = {"params": ocp.args.StandardSave(params)}
    if opt is not None:
        items["opt"] = ocp.args.StandardSave(opt)
    if data_iter is not None:
        import grain

        items["data"] = grain.checkpoint.CheckpointSave(data_iter)
    return mngr.save(step, args=ocp.args.Composite(**items), force=force)


def restore(mngr, step, abstract_params, abstract_opt=None, data_iter=None):
    """Restores onto the shardings of the abstract trees (any mesh: orbax reshards)."""
    items = {"params": ocp.args.StandardRestore(abstract_params)}
    if abstract_opt is not None:
        items["opt"] = ocp.args.StandardRestore(abstract_opt)
    if data_iter is not None:
        import grain

        items["data"] = grain.checkpoint.CheckpointRestore(data_iter)
    return mngr.restore(step, args=ocp.args.Composite(**items))


def _placed(abstract):
    """Leaves without a sharding go to the first local device (inference, conversion)."""
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def place(x):
        if getattr(x, "sharding", None) is not None:
            return x
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device)

    return jax.tree.map(place, abstract)


def restore_params(workdir: str, abstract_params, step: int | None = None):
    """The params of the latest (or given) checkpoint of a workdir."""
    mngr = manager(workdir, async_save=False)
    step = mngr.latest_step() if step is None else step
    if step is None:
        raise WorkdirError(f"{workdir}: no checkpoint found under {workdir}/checkpoints")
    out = restore(mngr, step, _placed(abstract_params_of(workdir, abstract_params)))
    mngr.close()
    return out["params"], step
