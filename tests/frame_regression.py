"""A second objective in a few lines, to show the loop knows nothing of CTC: regress each
frame's log energy from the encoder's output (audio only, no transcripts read)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax import data
from w2v2jax.frames import hop_length
from w2v2jax.models import Wav2Vec2Config, Wav2Vec2Model
from w2v2jax.train.objectives import Objective, audio_seconds, audio_spec


class EnergyModel(nn.Module):
    cfg: Wav2Vec2Config

    @nn.compact
    def __call__(self, audio_BxS, audio_paddings_BxS, deterministic=True):
        out = Wav2Vec2Model(self.cfg, name="wav2vec2")(audio_BxS, audio_paddings_BxS, deterministic)
        pred_BxT = nn.Dense(1, name="head")(out["hidden"])[..., 0]
        t, hop = pred_BxT.shape[1], hop_length(self.cfg)
        frames_BxTxH = audio_BxS[:, : t * hop].reshape(audio_BxS.shape[0], t, hop)
        target_BxT = jnp.log(jnp.mean(frames_BxTxH**2, axis=-1) + 1e-3)
        return pred_BxT, target_BxT, out["paddings"]


def squared_errors(model, params, batch, deterministic, rngs=None):
    pred_BxT, target_BxT, paddings_BxT = model.apply(
        {"params": params}, batch["audio"], batch["audio_paddings"], deterministic, rngs=rngs
    )
    w_BxT = (1.0 - paddings_BxT) * batch["valid"][:, None]
    return w_BxT * (pred_BxT - target_BxT) ** 2, w_BxT


class FrameEnergy(Objective):
    name = "frame_energy"

    def model_config(self, c):
        return Wav2Vec2Config.from_dict(c.model.to_dict())

    def make_model(self, cfg):
        return EnergyModel(cfg)

    def loss_sums(self, model, params, batch, key, step):
        k_drop, k_mask = jax.random.split(key)
        se_BxT, w_BxT = squared_errors(
            model, params, batch, False, rngs={"dropout": k_drop, "mask": k_mask}
        )
        return jnp.sum(se_BxT), {"weight": jnp.sum(w_BxT), "audio_seconds": audio_seconds(batch)}

    def batches(self, source, *, train, stats, **pipeline_args):
        make = data.make_batches if train else data.make_eval_batches
        return make(source, None, stats=stats, **pipeline_args)

    def batch_spec(self, rows, samples, frames_fn, sharding, *, train):
        return audio_spec(rows, samples, sharding)

    def eval_step(self, model, *, with_log_probs=False):
        def step(params, batch):
            se_BxT, w_BxT = squared_errors(model, params, batch, True)
            return {"se": jnp.sum(se_BxT, -1), "frames": jnp.sum(w_BxT, -1)}

        return step

    def score(self, outputs, *, groups=None, beam=0):
        se, frames = 0.0, 0.0
        for out in outputs:
            se, frames = se + float(np.sum(out["se"])), frames + float(np.sum(out["frames"]))
        return {"mse": se / max(frames, 1.0), "frames": frames}
