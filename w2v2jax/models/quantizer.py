"""The Gumbel vector quantizer of wav2vec 2.0: CNN features -> G codewords, concatenated.

Parameters as transformers' Wav2Vec2GumbelVectorQuantizer (`codevectors` [1, G*V, Q/G],
`weight_proj` C -> G*V), behaviour as fairseq's GumbelVectorQuantizer: a hard
straight-through Gumbel-softmax in training, the argmax in eval. The temperature is an
argument of every call (the run's schedule sets it per step), never module state.
Everything here runs in float32: argmax ties and log-probabilities in 16 bits would change
which code is picked and what the perplexities say.
Legend: B batch, T frames, C conv channels, G groups, V codes per group, Q codevector dim.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp

from w2v2jax.models import axes
from w2v2jax.models.config import Wav2Vec2Config


def marginal(probs_BxTxGxV, counted_BxT):
    """The average distribution [G, V] over the counted frames (none counted: zeros)."""
    w_BxT = counted_BxT.astype(jnp.float32)
    total = jnp.einsum("btgv,bt->gv", probs_BxTxGxV, w_BxT, precision="highest")
    return total / jnp.maximum(jnp.sum(w_BxT), 1.0)


def fairseq_perplexity(avg_GxV):
    """fairseq's: exp(-sum p log(p + 1e-7)) per group, summed over groups."""
    return jnp.sum(jnp.exp(-jnp.sum(avg_GxV * jnp.log(avg_GxV + 1e-7), axis=-1)))


def hf_perplexity(avg_GxV):
    """transformers' _compute_perplexity: exp(-sum xlogy(p, p)) per group, summed."""
    return jnp.sum(jnp.exp(-jnp.sum(jax.scipy.special.xlogy(avg_GxV, avg_GxV), axis=-1)))


def gumbel_softmax_hard(rng, logits_NxV, temperature):
    """torch's gumbel_softmax(hard=True): the one-hot of argmax((logits + g) / tau) forward,
    the gradient of the soft sample backward. Returns (probs [..., V], chosen index [...])."""
    gumbels = jax.random.gumbel(rng, logits_NxV.shape, jnp.float32)
    soft = jax.nn.softmax((logits_NxV + gumbels) / temperature, axis=-1)
    index = jnp.argmax(soft, axis=-1)
    hard = jax.nn.one_hot(index, logits_NxV.shape[-1], dtype=soft.dtype)
    return hard - jax.lax.stop_gradient(soft) + soft, index


class GumbelVectorQuantizer(nn.Module):
    """features [B, T, C], counted [B, T] -> dict: "quantized_BxTxQ", "codes_BxTxG" (the
    chosen code of each group) and the perplexities.

    counted_BxT (1.0 = the frame counts in the perplexities; pretraining passes the masked,
    non-padded frames). "prob_perplexity" (soft) and "code_perplexity" (hard) are fairseq's,
    "codevector_perplexity" is transformers' (soft in training, hard in eval). Training
    (deterministic=False) needs the rng stream "gumbel".
    """

    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, features_BxTxC, counted_BxT, *, temperature, deterministic: bool):
        cfg = self.cfg
        g, v = cfg.num_codevector_groups, cfg.num_codevectors_per_group
        b, t, _ = features_BxTxC.shape
        codevectors = self.param(
            "codevectors",
            nn.with_logical_partitioning(
                nn.initializers.uniform(1.0), (None, axes.CODEVECTORS, axes.CODEVECTOR_DIM)
            ),
            (1, g * v, cfg.codevector_dim // g),
        )
        logits_BxTxGV = nn.Dense(
            g * v,
            dtype=jnp.float32,
            kernel_init=nn.with_logical_partitioning(
                nn.initializers.normal(1.0), (axes.CONV_OUT, axes.CODEVECTORS)
            ),
            bias_init=nn.with_logical_partitioning(nn.initializers.zeros, (axes.CODEVECTORS,)),
            name="weight_proj",
        )(features_BxTxC.astype(jnp.float32))
        logits_BxTxGxV = logits_BxTxGV.reshape(b, t, g, v)
        soft_BxTxGxV = jax.nn.softmax(logits_BxTxGxV, axis=-1)
        hard_BxTxGxV = jax.nn.one_hot(jnp.argmax(logits_BxTxGxV, axis=-1), v, dtype=jnp.float32)
        avg_soft_GxV = marginal(soft_BxTxGxV, counted_BxT)
        avg_hard_GxV = marginal(hard_BxTxGxV, counted_BxT)
        if deterministic:
            probs_BxTxGxV = hard_BxTxGxV
            codes_BxTxG = jnp.argmax(logits_BxTxGxV, axis=-1)
            codevector_ppl = hf_perplexity(avg_hard_GxV)
        else:
            probs_BxTxGxV, codes_BxTxG = gumbel_softmax_hard(
                self.make_rng("gumbel"), logits_BxTxGxV, temperature
            )
            codevector_ppl = hf_perplexity(avg_soft_GxV)
        codebook_GxVxd = codevectors.reshape(g, v, -1)
        # "highest": a one-hot row times the codebook must return the codeword exactly, also
        # where the default matmul precision is bfloat16 (TPU).
        quantized_BxTxGxd = jnp.einsum(
            "btgv,gvd->btgd", probs_BxTxGxV, codebook_GxVxd, precision="highest"
        )
        return {
            "quantized_BxTxQ": quantized_BxTxGxd.reshape(b, t, cfg.codevector_dim),
            "codes_BxTxG": codes_BxTxG.astype(jnp.int32),
            "prob_perplexity": fairseq_perplexity(avg_soft_GxV),
            "code_perplexity": jax.lax.stop_gradient(fairseq_perplexity(avg_hard_GxV)),
            "codevector_perplexity": codevector_ppl,
        }
