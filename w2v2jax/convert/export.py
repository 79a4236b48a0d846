"""Writes converted weights as a workdir that training (`init_from`) and inference read."""

import os
import shutil
import uuid

import jax

from w2v2jax.convert.hf import PRETRAINING_HEADS
from w2v2jax.data import tokenizer as toklib
from w2v2jax.errors import CheckpointError, DataError, WorkdirError
from w2v2jax.models.layout import to_layout
from w2v2jax.train import checkpoint


def write_workdir(cfg, params, out_dir: str, vocab_json: str | None = None) -> str:
    """out_dir/{config.json, checkpoints/0/params[, vocab.json]}; refuses a non-empty out_dir.

    Everything is written into a hidden sibling folder that is renamed to out_dir at the
    end, so a convert that fails or is killed leaves no half-written workdir behind."""
    check_out_dir(out_dir)
    if vocab_json:
        check_vocab(vocab_json)
    parent, name = os.path.split(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
    os.makedirs(tmp)
    try:
        # The workdir holds what `init_from` and inference restore: the encoder and a CTC
        # head. A pretraining checkpoint's quantizer and projections stay with from_hf /
        # from_fairseq (a restore into the CTC model's tree would meet keys it lacks).
        params = {k: v for k, v in params.items() if k not in PRETRAINING_HEADS}
        params = to_layout(jax.device_get(params), cfg)
        checkpoint.save_run_config(
            tmp, cfg, {"converted": True, "headless": "lm_head" not in params}
        )
        mngr = checkpoint.manager(tmp, async_save=False)
        checkpoint.save(mngr, 0, params, force=True)
        mngr.wait_until_finished()
        mngr.close()
        if vocab_json:
            shutil.copy(vocab_json, os.path.join(tmp, "vocab.json"))
        os.replace(tmp, out_dir)  # replaces an empty out_dir too
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def check_out_dir(out_dir: str) -> None:
    """Raises WorkdirError unless out_dir is absent or an empty folder."""
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        raise WorkdirError(f"{out_dir} is not empty; choose a new --out (nothing was changed)")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise WorkdirError(f"{out_dir} is a file; choose a new --out (nothing was changed)")


def check_vocab(vocab_json: str) -> None:
    """Raises CheckpointError naming vocab_json unless transcribe can read it."""
    try:
        toklib.CharTokenizer.load(os.path.dirname(vocab_json) or ".")
    except (OSError, ValueError, AttributeError, TypeError) as e:
        if isinstance(e, DataError):
            raise CheckpointError(str(e)) from None
        raise CheckpointError(
            f"{vocab_json}: not a vocabulary transcribe can read ({type(e).__name__}: {e}); "
            'it should be a JSON object of symbol -> id, as {"<pad>": 0, ...}: restore it '
            "from the model's source (nothing was written)"
        ) from None
