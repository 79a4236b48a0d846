"""Checkpoints with orbax: params, optimizer state and the data iterator, per step.

Layout of a workdir:
    config.json        model config + training config (written once, checked on resume)
    vocab.json         the tokenizer (transformers' Wav2Vec2CTCTokenizer reads it)
    checkpoints/<step>/{params, opt, data}
Inference and `init_from` read only `params`; `w2v2jax convert` writes only `params`.

A damaged step (a file deleted or truncated, a manifest emptied) is skipped with a warning
and the newest readable one restored. Nothing is deleted: when training comes back to a
skipped step, its folder is moved to damaged-checkpoints/ before the new save.
"""

import json
import os
import shutil
import time

import jax
import orbax.checkpoint as ocp

from w2v2jax.errors import WorkdirError
from w2v2jax.files import write_json
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.train.metrics import tell

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


def save_run_config(
    workdir: str, model_cfg: Wav2Vec2Config, train_cfg: dict, resuming: bool = True
) -> None:
    """Writes config.json, or checks that an existing one describes the same model. Without
    a checkpoint (resuming False) an existing config.json holds nothing trained: a run that
    failed before its first save left it, and it is replaced."""
    path = os.path.join(workdir, "config.json")
    if os.path.exists(path) and resuming:
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
        write_json(path, {"model": model_cfg.to_dict(), "train": train_cfg})


def has_checkpoints(workdir: str) -> bool:
    """Whether the workdir holds a finished checkpoint step (a number-named folder)."""
    folder = os.path.join(workdir, "checkpoints")
    return os.path.isdir(folder) and any(n.isdigit() for n in os.listdir(folder))


def tuple_or(v):
    return tuple(v) if isinstance(v, list | tuple) else v


def load_model_config(workdir: str) -> Wav2Vec2Config:
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise WorkdirError(
            f"{workdir}: no config.json. Expected a training workdir or a `w2v2jax convert` output."
        )
    return Wav2Vec2Config.from_dict(read_run_config(workdir)["model"])


def read_run_config(workdir: str) -> dict:
    path = os.path.join(workdir, "config.json")
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        if not isinstance(d, dict) or "model" not in d:
            raise ValueError("it has no 'model' entry")
        return d
    except ValueError as e:
        raise WorkdirError(
            f"{path} is damaged or not a w2v2jax config ({type(e).__name__}: {e}). Restore it "
            "from a copy, or use a new --workdir; nothing was changed."
        ) from e


def is_headless(workdir: str) -> bool:
    """True for a converted encoder without a CTC head (Wav2Vec2Model, pretraining)."""
    return bool(read_run_config(workdir).get("train", {}).get("headless", False))


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


def saved_keys(mngr, step: int, item: str) -> set[str]:
    """Every key name in the tree of a saved item (read from its metadata, no array), to
    tell which layout a checkpoint holds before restoring onto one."""
    path = mngr.directory / str(step) / item  # an epath.Path
    keys: set[str] = set()

    def walk(tree):
        if isinstance(tree, dict):
            keys.update(tree)
            tree = list(tree.values())
        if isinstance(tree, list | tuple):
            for sub in tree:
                walk(sub)

    walk(ocp.StandardCheckpointHandler().metadata(path).tree)
    return keys


def _placed(abstract):
    """Leaves without a sharding go to the first local device (inference, conversion)."""
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])

    def place(x):
        if getattr(x, "sharding", None) is not None:
            return x
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=device)

    return jax.tree.map(place, abstract)


def restore_params(workdir: str, abstract_params, step: int | None = None):
    """The params of the newest readable (or the given) checkpoint of a workdir."""
    mngr = manager(workdir, async_save=False)
    abstract = _placed(abstract_params_of(workdir, abstract_params))
    try:
        if step is not None:
            return restore(mngr, step, abstract)["params"], step
        out, step, _ = restore_newest(mngr, workdir, lambda s: restore(mngr, s, abstract))
    finally:
        mngr.close()
    if step is None:
        raise WorkdirError(f"{workdir}: no checkpoint found under {workdir}/checkpoints")
    return out["params"], step


def restore_newest(mngr, workdir: str, restore_step):
    """(restore_step(step), step, skipped) for the newest step that restores; (None, None,
    []) when there is none. skipped: [(step, reason)] of the newer ones that failed."""
    skipped = []
    for step in sorted(mngr.all_steps(), reverse=True):
        try:
            return restore_step(step), step, skipped
        # orbax and tensorstore raise many types for a damaged file; any of them means this
        # step cannot be used, and the next older one may.
        except Exception as e:  # noqa: BLE001
            reason = _first_sentence(e)
            tell(f"checkpoint step {step} of {workdir} is unreadable ({reason}); it is kept")
            skipped.append((step, reason))
    if skipped:
        raise WorkdirError(
            f"no checkpoint of {workdir} can be read: "
            + "; ".join(f"step {s}: {r}" for s, r in skipped)
            + ". Nothing was deleted; restore the folder from a copy or use a new --workdir."
        )
    return None, None, skipped


def _first_sentence(e: Exception, limit: int = 160) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if "not compatible with the stored shape" in text:
        # orbax would advise `strict=False`, an option no command has; the cause is a
        # config.json (or config override) describing another model than the checkpoint.
        return (
            "its arrays have other shapes than this run's model: config.json or the config "
            f"describes another model than the checkpoint ({text.split('. ')[0]})"
        )
    text = text.split(" See full TensorStore details")[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def set_aside(mngr, workdir: str, step: int) -> str:
    """Moves an unreadable step out of the manager's folder (so the step can be saved
    anew) into workdir/damaged-checkpoints/; returns where it went."""
    src = os.path.join(str(mngr.directory), str(step))
    dst = os.path.join(workdir, "damaged-checkpoints", f"{step}-{time.strftime('%Y%m%dT%H%M%S')}")
    if jax.process_index() == 0 and os.path.exists(src):
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.move(src, dst)
    mngr.reload()
    return dst
