"""wav2vec 2.0 pretraining: the encoder, the quantizer and the contrastive task's terms.

Submodules under transformers' names (wav2vec2, quantizer, project_hid, project_q), so
conversion is a renaming. The output holds transformers' reductions ("contrastive_loss":
cross-entropy summed over the masked frames; "diversity_loss": ((G*V - perplexity) / (G*V))
x masked frames) and the pieces fairseq's criterion combines (logits, soft and hard
perplexities, the feature penalty, the masked count); the objective picks its recipe.
Legend: B batch, S samples, T frames, C conv channels, D model width, P proj_codevector_dim,
Q codevector_dim, G groups, K negatives (K1 = K + 1, the positive first).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from w2v2jax.errors import ConfigError, InputError
from w2v2jax.frames import frame_count
from w2v2jax.models import axes
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.models.dropout import Dropout
from w2v2jax.models.feature_encoder import check_length, frame_paddings
from w2v2jax.models.masking import pretraining_mask, sample_negatives
from w2v2jax.models.quantizer import GumbelVectorQuantizer
from w2v2jax.models.wav2vec2 import Wav2Vec2Model


def _unit(x_BxTxP):
    # torch.cosine_similarity: each side divided by max(norm, 1e-8), then the dot product.
    norm_BxT = jnp.linalg.norm(x_BxTxP, axis=-1, keepdims=True)
    return x_BxTxP / jnp.maximum(norm_BxT, 1e-8)


def contrastive_logits(pred_BxTxP, target_BxTxP, codes_BxTxG, negatives_BxTxK, temperature):
    """[B, T, K+1]: cosine(prediction, target) / temperature, the positive (own frame)
    first, then the K negatives (frame indices within the row); a negative whose target
    equals the positive's is -inf (fairseq's compute_preds).

    Every pair of frames of a row is one matmul [T, T] (float32, "highest": fairseq takes
    the cosine in float32) and the negatives are picked from it: no [B, T, K, P] gather, so
    neither the memory nor a scatter-add backward grows with K * P. Equal targets are found
    by their codes (equal codes in every group give the same codewords, hence the same
    projected vector), again [B, T, K, G] instead of comparing P floats per negative.
    """
    p_BxTxP, q_BxTxP = _unit(pred_BxTxP), _unit(target_BxTxP)
    pos_BxT = jnp.sum(p_BxTxP * q_BxTxP, axis=-1)
    cos_BxTxT = jnp.einsum("btp,bsp->bts", p_BxTxP, q_BxTxP, precision="highest")
    neg_BxTxK = jnp.take_along_axis(cos_BxTxT, negatives_BxTxK, axis=-1)
    neg_codes_BxTxKxG = jax.vmap(lambda c_TxG, i_TxK: c_TxG[i_TxK])(codes_BxTxG, negatives_BxTxK)
    neg_is_pos_BxTxK = jnp.all(neg_codes_BxTxKxG == codes_BxTxG[:, :, None, :], axis=-1)
    neg_BxTxK = jnp.where(neg_is_pos_BxTxK, -jnp.inf, neg_BxTxK / temperature)
    return jnp.concatenate([(pos_BxT / temperature)[..., None], neg_BxTxK], axis=-1)


def _dense(cfg: Wav2Vec2Config, features: int, names: tuple[str, str], name: str):
    # torch.nn.Linear's default kernel init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    kernel = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
    return nn.Dense(
        features,
        dtype=cfg.dtype,
        kernel_init=nn.with_logical_partitioning(kernel, names),
        bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (names[1],)),
        name=name,
    )


class Wav2Vec2ForPreTraining(nn.Module):
    """audio [B, S], audio paddings [B, S] (1.0 = padding) -> dict (see the module doc).

    mask_time_BxT (bool [B, T]) and negatives_BxTxK (int32 frame indices within the row)
    may be given (a reference's draws); otherwise they are sampled from the rng stream
    "mask" when training, or in eval when that stream is given (fairseq validates on masked
    frames too). Eval without either has no masked frame: the states, zero losses, and
    perplexities over the non-padded frames. Training also needs "dropout" and "gumbel".
    """

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(
        self,
        audio_BxS,
        audio_paddings_BxS,
        mask_time_BxT=None,
        negatives_BxTxK=None,
        deterministic: bool = True,
        gumbel_temperature=2.0,
    ):
        cfg = self.cfg
        if cfg.mask_time_prob <= 0:
            raise ConfigError(
                f"mask_time_prob={cfg.mask_time_prob}: pretraining predicts masked frames, "
                "set it > 0 (fairseq's recipe: 0.65)"
            )
        check_length(audio_BxS.shape[-1], cfg)
        paddings_BxT = frame_paddings(
            audio_paddings_BxS, frame_count(audio_BxS.shape[-1], cfg), cfg
        )
        mask_time_BxT, negatives_BxTxK = self._draws(
            paddings_BxT, mask_time_BxT, negatives_BxTxK, deterministic
        )
        out = Wav2Vec2Model(cfg, name="wav2vec2")(
            audio_BxS, audio_paddings_BxS, deterministic, mask_time_BxT
        )
        if mask_time_BxT is None:
            mask_time_BxT = jnp.zeros(paddings_BxT.shape, bool)
            counted_BxT = 1.0 - paddings_BxT
        else:
            counted_BxT = mask_time_BxT & (paddings_BxT == 0)
        p = cfg.proj_codevector_dim
        project_hid = _dense(cfg, p, (axes.EMBED, axes.PROJ), "project_hid")
        project_q = _dense(cfg, p, (axes.CODEVECTOR_DIM, axes.PROJ), "project_q")
        projected_BxTxP = project_hid(out["hidden"]).astype(jnp.float32)
        features_BxTxC = Dropout(cfg.feat_quantizer_dropout, name="dropout_features")(
            out["features"], deterministic=deterministic
        )
        q = GumbelVectorQuantizer(cfg, name="quantizer")(
            features_BxTxC,
            counted_BxT,
            temperature=gumbel_temperature,
            deterministic=deterministic,
        )
        quantized_BxTxP = project_q(q["quantized_BxTxQ"]).astype(jnp.float32)
        logits_BxTxK1 = contrastive_logits(
            projected_BxTxP,
            quantized_BxTxP,
            q["codes_BxTxG"],
            negatives_BxTxK,
            cfg.contrastive_logits_temperature,
        )
        nll_BxT = -jax.nn.log_softmax(logits_BxTxK1, axis=-1)[..., 0]
        num_masked = jnp.sum(mask_time_BxT).astype(jnp.float32)
        num_codes = cfg.num_codevector_groups * cfg.num_codevectors_per_group
        return {
            "projected_states": projected_BxTxP,
            "projected_quantized_states": quantized_BxTxP,
            "codevector_perplexity": q["codevector_perplexity"],
            "contrastive_loss": jnp.sum(jnp.where(mask_time_BxT, nll_BxT, 0.0)),
            "diversity_loss": (num_codes - q["codevector_perplexity"]) / num_codes * num_masked,
            "logits_BxTxK1": logits_BxTxK1,
            "mask_time_BxT": mask_time_BxT,
            "paddings_BxT": paddings_BxT,
            "prob_perplexity": q["prob_perplexity"],
            "code_perplexity": q["code_perplexity"],
            # fairseq: features.float().pow(2).mean() on the CNN output [B, C, T] before its
            # layer norm: the mean over every channel of every frame of the padded batch,
            # padding frames included (its batches are usually cropped, not padded).
            "features_penalty": jnp.mean(jnp.square(out["conv_features"].astype(jnp.float32))),
            "num_masked": num_masked,
        }

    def _draws(self, paddings_BxT, mask_time_BxT, negatives_BxTxK, deterministic):
        """The mask and the negatives: given, sampled, or (eval without "mask") absent."""
        cfg = self.cfg
        can_sample = not deterministic or self.has_rng("mask")
        if mask_time_BxT is None and can_sample:
            mask_time_BxT = pretraining_mask(
                self.make_rng("mask"),
                paddings_BxT,
                cfg.mask_time_prob,
                cfg.mask_time_length,
                cfg.mask_time_min_masks,
            )
        if mask_time_BxT is not None:
            mask_time_BxT = jnp.asarray(mask_time_BxT, bool)
        if negatives_BxTxK is not None:
            return mask_time_BxT, jnp.asarray(negatives_BxTxK, jnp.int32)
        if mask_time_BxT is None:
            # No masked frame: every "negative" is the frame itself, masked out (-inf).
            b, t = paddings_BxT.shape
            own_BxTx1 = jnp.broadcast_to(jnp.arange(t, dtype=jnp.int32)[None, :, None], (b, t, 1))
            return None, jnp.broadcast_to(own_BxTx1, (b, t, cfg.num_negatives))
        if not can_sample:
            raise InputError(
                "mask_time_BxT was given without negatives_BxTxK in eval: pass the negatives "
                'too, or rngs={"mask": key} to sample them'
            )
        negatives_BxTxK = sample_negatives(self.make_rng("mask"), mask_time_BxT, cfg.num_negatives)
        return mask_time_BxT, negatives_BxTxK
