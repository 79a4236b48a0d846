"""Self-supervised pretraining as fairseq defines it (wav2vec 2.0, `wav2vec_criterion.py`).

Per batch, with N the masked frames (fairseq's sample_size):
    loss_sum = contrastive (InfoNCE summed over masked frames, cosine / 0.1 logits, K
               negatives from the other masked frames of the same utterance)
             + diversity_loss_weight (0.1) * (G*V - soft perplexity) / (G*V) * N
             + feature_penalty_weight (10) * mean squared CNN features * N
and the step divides by N, as fairseq's optimizer does (so with gradient accumulation each
micro-batch's extra terms count by its own N, as in fairseq's update_freq). The diversity
term uses the SOFT codebook perplexity (transformers' Flax port used another reduction and
collapsed, transformers#19588). The Gumbel temperature max(start * decay**step, floor) is
computed from the step inside the jitted step and passed to the model each call.

Legend: B batch, T frames, K negatives.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax import data
from w2v2jax.errors import ConfigError
from w2v2jax.models import Wav2Vec2Config, Wav2Vec2ForPreTraining
from w2v2jax.train.objectives.base import Objective, audio_seconds, audio_spec

EVAL_SEED = 1234  # evaluation masks and negatives are the same draws at every evaluation


def temperature(c, step):
    """max(start * decay**step, floor); decay**step as exp(step * log(decay)) with the log
    taken in float64 on the host: float32's 0.999995 is off by 5e-8, which 10**5 steps
    would amplify into a 0.1 % error."""
    start, floor, decay = c.gumbel_temperature
    return jnp.maximum(start * jnp.exp(step.astype(jnp.float32) * math.log(decay)), floor)


def fairseq_terms(out, valid_B):
    """Sums over the masked frames of the real rows: contrastive loss, correct predictions
    (fairseq's `correct`: the positive scores highest), and N."""
    logits_BxTxK1 = out["logits_BxTxK1"].astype(jnp.float32)
    counted_BxT = out["mask_time_BxT"].astype(jnp.float32) * valid_B[:, None]
    ce_BxT = jax.nn.logsumexp(logits_BxTxK1, axis=-1) - logits_BxTxK1[..., 0]
    best_BxT = jnp.argmax(logits_BxTxK1, axis=-1)
    return {
        "contrastive": jnp.sum(ce_BxT * counted_BxT),
        "correct": jnp.sum((best_BxT == 0) * counted_BxT),
        "masked": jnp.sum(counted_BxT),
    }


class Pretraining(Objective):
    name = "pretrain"
    MODEL = Wav2Vec2ForPreTraining

    def __init__(self, c):
        if len(c.gumbel_temperature) != 3:
            raise ConfigError(
                f"gumbel_temperature={c.gumbel_temperature}: give (start, floor, decay), "
                "fairseq base: (2.0, 0.5, 0.999995)"
            )
        self.c = c

    @classmethod
    def from_config(cls, c, workdir=None):
        return cls(c)

    def model_config(self, c):
        return Wav2Vec2Config.from_dict(c.model.to_dict())

    def make_model(self, cfg):
        return Wav2Vec2ForPreTraining(cfg)

    def _weighted(self, model, out, terms):
        cfg, n = model.cfg, terms["masked"]
        codes = cfg.num_codevector_groups * cfg.num_codevectors_per_group
        diversity = (codes - out["prob_perplexity"]) / codes
        loss = (
            terms["contrastive"]
            + cfg.diversity_loss_weight * diversity * n
            + self.c.feature_penalty_weight * out["features_penalty"] * n
        )
        return loss, diversity

    def loss_sums(self, model, params, batch, key, step):
        k_drop, k_mask, k_gumbel = jax.random.split(key, 3)
        out = model.apply(
            {"params": params},
            batch["audio"],
            batch["audio_paddings"],
            deterministic=False,
            gumbel_temperature=temperature(self.c, step),
            rngs={"dropout": k_drop, "mask": k_mask, "gumbel": k_gumbel},
        )
        terms = fairseq_terms(out, batch["valid"])
        loss, diversity = self._weighted(model, out, terms)
        n = terms["masked"]
        # Per-batch values enter as value x N, so accumulated micro-batches average by N.
        aux = {
            "weight": n,
            "contrastive_sum": terms["contrastive"],
            "correct": terms["correct"],
            "diversity_x_n": diversity * n,
            "features_penalty_x_n": out["features_penalty"] * n,
            "prob_perplexity_x_n": out["prob_perplexity"] * n,
            "code_perplexity_x_n": out["code_perplexity"] * n,
            "audio_seconds": audio_seconds(batch),
            "temperature": temperature(self.c, step),
            "micro_batches": jnp.float32(1.0),
        }
        return loss, aux

    def finish(self, aux):
        n = jnp.maximum(aux["weight"], 1.0)
        return {
            "contrastive_loss": aux["contrastive_sum"] / n,
            "accuracy": aux["correct"] / n,
            "diversity": aux["diversity_x_n"] / n,
            "features_penalty": aux["features_penalty_x_n"] / n,
            "prob_perplexity": aux["prob_perplexity_x_n"] / n,
            "code_perplexity": aux["code_perplexity_x_n"] / n,
            "masked_frames": aux["weight"],
            "audio_seconds": aux["audio_seconds"],
            "temperature": aux["temperature"] / aux["micro_batches"],
        }

    def health(self, m):
        cfg = self.c.model
        codes = cfg.num_codevector_groups * cfg.num_codevectors_per_group
        floor = self.c.collapse_fraction * codes
        if m["prob_perplexity"] < floor:
            return (
                f"the codebook is collapsing: soft perplexity {m['prob_perplexity']:.1f} is "
                f"under {self.c.collapse_fraction:g} x {codes} codes"
            )
        return None

    def log_line(self, m):
        return {
            "loss": f"{m['loss']:.3f}",
            "acc": f"{m['accuracy']:.2f}",
            "ppl": f"{m['prob_perplexity']:.0f}",
        }

    def batches(self, source, *, train, stats, augment=None, **pipeline_args):
        if train:  # audio only: no text read
            return data.make_batches(source, None, stats=stats, augment=augment, **pipeline_args)
        return data.make_eval_batches(source, None, stats=stats, **pipeline_args)

    def batch_spec(self, rows, samples, frames_fn, sharding, *, train):
        return audio_spec(rows, samples, sharding)

    def eval_step(self, model, *, with_log_probs=False):
        def step(params, batch):
            # fairseq validates on masked frames too; the draws depend only on the batch's
            # first example, so every evaluation scores the same masks and negatives.
            key = jax.random.fold_in(jax.random.PRNGKey(EVAL_SEED), batch["index"][0])
            out = model.apply(
                {"params": params},
                batch["audio"],
                batch["audio_paddings"],
                deterministic=True,
                gumbel_temperature=self.c.gumbel_temperature[1],
                rngs={"mask": key},
            )
            terms = fairseq_terms(out, batch["valid"])
            loss, _ = self._weighted(model, out, terms)
            return {
                **terms,
                "loss": loss,
                "prob_perplexity_x_n": out["prob_perplexity"] * terms["masked"],
                "code_perplexity_x_n": out["code_perplexity"] * terms["masked"],
            }

        return step

    def score(self, outputs, *, groups=None, beam=0):
        sums = {}
        for out in outputs:
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + float(np.sum(v))
        n = max(sums.get("masked", 0.0), 1.0)
        return {
            "loss": sums["loss"] / n,
            "contrastive_loss": sums["contrastive"] / n,
            "accuracy": sums["correct"] / n,
            "prob_perplexity": sums["prob_perplexity_x_n"] / n,
            "code_perplexity": sums["code_perplexity_x_n"] / n,
            "masked_frames": sums.get("masked", 0.0),
        }
