"""Writes converted weights as a workdir that training (`init_from`) and inference read."""

import os
import shutil

import jax

from w2v2jax.errors import WorkdirError
from w2v2jax.models.layout import to_layout
from w2v2jax.train import checkpoint


def write_workdir(cfg, params, out_dir: str, vocab_json: str | None = None) -> str:
    """out_dir/{config.json, checkpoints/0/params[, vocab.json]}; refuses a non-empty out_dir."""
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise WorkdirError(f"{out_dir} is not empty; choose a new --out (nothing was changed)")
    params = to_layout(jax.device_get(params), cfg)
    checkpoint.save_run_config(
        out_dir, cfg, {"converted": True, "headless": "lm_head" not in params}
    )
    mngr = checkpoint.manager(out_dir, async_save=False)
    checkpoint.save(mngr, 0, params, force=True)
    mngr.wait_until_finished()
    mngr.close()
    if vocab_json:
        shutil.copy(vocab_json, os.path.join(out_dir, "vocab.json"))
    return out_dir
