"""What an objective gives the shared run: its model, its loss, its batches, its metrics.

The run assembly (train/assembly.py), the loop, checkpoints, sharding, precompilation and
resume know an objective only through this interface; CTC (ctc.py) is one implementation
and the coming pretraining objective another. An objective holds what it learned from the
data (CTC: the tokenizer) and writes it into the workdir in `save`, after the whole run has
been assembled and validated.

Legend: B batch, S samples, T frames.
"""

import abc

import jax
import jax.numpy as jnp

from w2v2jax.frames import SAMPLE_RATE


class Objective(abc.ABC):
    name = ""
    MODEL = None  # the flax module class of its workdirs (init_from across objectives)
    # Top-level parameter names `init_from` may leave freshly initialised when the source
    # has none or another shape (a new CTC head over another vocabulary).
    fresh_heads: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, c, workdir: str | None = None) -> "Objective":
        """The objective of config `c`; `workdir` holds what a resumed run saved."""
        return cls()

    @abc.abstractmethod
    def model_config(self, c):
        """The Wav2Vec2Config of this run (c.model plus what the data decides)."""

    @abc.abstractmethod
    def make_model(self, cfg):
        """The flax module trained, e.g. Wav2Vec2ForCTC(cfg)."""

    @abc.abstractmethod
    def loss_sums(self, model, params, batch, key, step):
        """(loss summed over the batch, aux sums with a "weight" that divides it); `step`
        (a traced int) is the update being computed, for per-step schedules."""

    def finish(self, aux: dict) -> dict:
        """The logged metrics from the aux sums of a whole (accumulated) step, in jnp."""
        return {k: v for k, v in aux.items() if k != "weight"}

    def health(self, metrics: dict) -> str | None:
        """A problem with a logged step's metrics (host floats) that should stop the run if
        it persists (e.g. a collapsed codebook), or None."""
        return None

    @abc.abstractmethod
    def batches(self, source, *, train: bool, stats, **pipeline_args):
        """A grain dataset of this objective's batches over `source` (data/pipeline.py).

        train=True: shuffled, bucketed, repeating; False: every example once, in order."""

    @abc.abstractmethod
    def batch_spec(self, rows: int, samples: int, frames_fn, sharding, *, train: bool) -> dict:
        """Abstract global batch of one bucket, for precompilation and `w2v2jax compile`."""

    @abc.abstractmethod
    def eval_step(self, model, *, with_log_probs: bool = False):
        """params, batch -> per-row outputs the host scores in `evaluate`."""

    @abc.abstractmethod
    def score(self, outputs, *, groups=None, beam: int = 0) -> dict:
        """Metrics of one split from the host copies of its eval-step outputs (an iterable,
        one dict per batch); groups {name: [indices]} are also reported apart."""

    def save(self, workdir: str) -> None:
        """Writes what the objective learned from the data into the workdir (process 0);
        most objectives learn nothing from it."""
        return

    def log_line(self, metrics: dict) -> dict:
        """Progress-bar fields of one logged step."""
        return {"loss": f"{metrics['loss']:.3f}"}


def audio_spec(rows: int, samples: int, sharding) -> dict:
    """The audio part of every batch: audio, audio_paddings, valid, index."""

    def spec(shape, dtype):
        return jax.ShapeDtypeStruct(shape, dtype, sharding=sharding)

    return {
        "audio": spec((rows, samples), jnp.float32),
        "audio_paddings": spec((rows, samples), jnp.float32),
        "valid": spec((rows,), jnp.float32),
        "index": spec((rows,), jnp.int32),
    }


def audio_seconds(batch):
    """Seconds of real audio in a batch (padding rows and samples excluded)."""
    valid_B = batch["valid"]
    return jnp.sum((1.0 - batch["audio_paddings"]) * valid_B[:, None]) / SAMPLE_RATE
