"""CTC for w2v2jax: loss, decoding, alignment. Pure jax + numpy."""

from w2v2jax.ctc.loss import ctc_loss, ctc_loss_reduced

__all__ = ["ctc_loss", "ctc_loss_reduced"]
