"""CTC: Wav2Vec2ForCTC, the CTC loss per target token, greedy (and beam) CER and WER.

The label-shape policy lives here: a bucket of S samples carries U = ratio x frames(S)
label slots, 0.5 in training (longer transcripts are left out, counted) and 1.0 in
evaluation (no feasible transcript has more labels than frames, so nothing is left out).

Legend: B batch, S samples, T frames, V vocab, U labels.
"""

import os

import jax
import jax.numpy as jnp

from w2v2jax import data
from w2v2jax.ctc import ctc_loss, greedy_decode
from w2v2jax.errors import ConfigError
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC
from w2v2jax.train.objectives.base import Objective, audio_seconds, audio_spec
from w2v2jax.train.objectives.ctc_eval import score_split

TRAIN_LABEL_RATIO = 0.5
EVAL_LABEL_RATIO = 1.0
LABELS = ("text", "phonemes")
VOCAB_WITHOUT_DATA = 32  # `w2v2jax compile` without a dataset: a character vocabulary


def loss_sums(model, params, batch, key, *, zero_infinity: bool = True):
    """(CTC loss summed over the real rows, {"weight": target tokens, ...})."""
    k_drop, k_mask = jax.random.split(key)
    logits_BxTxV, paddings_BxT = model.apply(
        {"params": params},
        batch["audio"],
        batch["audio_paddings"],
        deterministic=False,
        rngs={"dropout": k_drop, "mask": k_mask},
    )
    loss_B = ctc_loss(
        logits_BxTxV,
        paddings_BxT,
        batch["labels"],
        batch["label_paddings"],
        zero_infinity=zero_infinity,
    )
    valid_B = batch["valid"]
    loss_sum = jnp.sum(jnp.where(valid_B > 0, loss_B, 0.0))
    tokens = jnp.sum((1.0 - batch["label_paddings"]) * valid_B[:, None])
    return loss_sum, {"weight": tokens, "tokens": tokens, "audio_seconds": audio_seconds(batch)}


def make_eval_step(model, *, with_log_probs: bool = False, zero_infinity: bool = True):
    """params, batch -> per-row loss, greedy ids and what the host needs to score them;
    the frame log-probs only for a beam search (they are the largest output by far)."""

    def eval_step(params, batch):
        logits_BxTxV, paddings_BxT = model.apply(
            {"params": params}, batch["audio"], batch["audio_paddings"], deterministic=True
        )
        out = {
            "loss": ctc_loss(
                logits_BxTxV,
                paddings_BxT,
                batch["labels"],
                batch["label_paddings"],
                zero_infinity=zero_infinity,
            ),
            "ids": greedy_decode(logits_BxTxV, paddings_BxT),
            "labels": batch["labels"],
            "label_paddings": batch["label_paddings"],
            "valid": batch["valid"],
            "index": batch["index"],
        }
        if with_log_probs:
            out["log_probs"] = jax.nn.log_softmax(logits_BxTxV, axis=-1)
            out["paddings"] = paddings_BxT
        return out

    return eval_step


class CTC(Objective):
    name = "ctc"
    MODEL = Wav2Vec2ForCTC
    fresh_heads = ("lm_head",)

    def __init__(self, c, tokenizer=None):
        if c.label not in LABELS:
            raise ConfigError(f"label={c.label!r}: choose one of {LABELS}")
        self.c, self.tok = c, tokenizer

    @classmethod
    def from_config(cls, c, workdir: str | None = None) -> "CTC":
        """The tokenizer of a resumed workdir (vocab.json), else the dataset's symbol
        inventory (its metadata), else none (compiling without data)."""
        if workdir and os.path.exists(os.path.join(workdir, "vocab.json")):
            return cls(c, data.load(workdir))
        if c.data_dir and os.path.isdir(c.data_dir):
            return cls(c, data.tokenizer_for(c.data_dir, c.label))
        return cls(c)

    def model_config(self, c) -> Wav2Vec2Config:
        fields = c.model.to_dict()
        if self.tok is not None:
            fields["vocab_size"] = self.tok.vocab_size
        elif fields.get("vocab_size", -1) <= 0:
            fields["vocab_size"] = VOCAB_WITHOUT_DATA
        return Wav2Vec2Config.from_dict(fields)

    def make_model(self, cfg):
        return Wav2Vec2ForCTC(cfg)

    def loss_sums(self, model, params, batch, key, step):
        return loss_sums(model, params, batch, key, zero_infinity=self.c.zero_infinity)

    def batches(self, source, *, train: bool, stats, augment=None, **pipeline_args):
        common = {"label_key": self.c.label, "stats": stats, **pipeline_args}
        if train:
            return data.make_batches(
                source,
                self.tok,
                max_label_ratio=TRAIN_LABEL_RATIO,
                skip_infeasible=self.c.skip_infeasible,
                augment=augment,
                **common,
            )
        return data.make_eval_batches(source, self.tok, max_label_ratio=EVAL_LABEL_RATIO, **common)

    def batch_spec(self, rows, samples, frames_fn, sharding, *, train):
        ratio = TRAIN_LABEL_RATIO if train else EVAL_LABEL_RATIO
        u = data.label_lengths([samples], ratio, frames_fn)[0]
        spec = audio_spec(rows, samples, sharding)
        spec["labels"] = jax.ShapeDtypeStruct((rows, u), jnp.int32, sharding=sharding)
        spec["label_paddings"] = jax.ShapeDtypeStruct((rows, u), jnp.float32, sharding=sharding)
        return spec

    def eval_step(self, model, *, with_log_probs=False):
        # Evaluation keeps infeasible pairs finite, whatever the training setting.
        return make_eval_step(model, with_log_probs=with_log_probs, zero_infinity=True)

    def score(self, outputs, *, groups=None, beam=0):
        return score_split(outputs, self.tok, groups=groups, beam=beam)

    def save(self, workdir: str) -> None:
        if jax.process_index() == 0:
            self.tok.save(workdir)
