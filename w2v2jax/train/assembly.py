"""A training run assembled in one place: model config, mesh and rules, buckets, optimiser,
sharded state layout and the jitted steps, for any objective.

The loop (loop.py), `w2v2jax compile` (compile_report.py), the experiments and every
objective use this one assembly, so what is trained, compiled ahead and reported is the
same executable (one jit of the training step).

    run = assemble(c, objectives.build(c), lengths=train_lengths)
    state = run.init_state(jax.random.PRNGKey(c.seed))
    with run.context():
        state, metrics = run.train_step(state, global_batch, rng)
    run.evaluate(state["params"], data.load_split(c.data_dir, "validation"))
"""

import dataclasses
import functools

import flax.linen as nn
import jax
from absl import logging

from w2v2jax import data
from w2v2jax.errors import DataNotFoundError
from w2v2jax.frames import SAMPLE_RATE, frame_count, seconds_to_samples
from w2v2jax.train import config_checks, sharding
from w2v2jax.train.objectives import Objective
from w2v2jax.train.optim import make_optimizer
from w2v2jax.train.precompile import ShapeDispatch, compile_all, rng_spec
from w2v2jax.train.state import boxed_state, state_shardings
from w2v2jax.train.step import make_train_step


def bucket_boundaries(c, train_lengths=None) -> list[int]:
    """Bucket boundaries in samples: fitted to the training lengths when c.num_buckets > 0
    (data.fit_boundaries), else c.bucket_seconds."""
    if c.num_buckets and train_lengths is not None:
        cap = seconds_to_samples(c.max_seconds)
        return data.fit_boundaries(train_lengths, c.num_buckets, max_samples=cap)
    return [seconds_to_samples(s) for s in c.bucket_seconds]


def open_split(c, split: str):
    if not c.data_dir or data.read_params(c.data_dir) is None:
        raise DataNotFoundError(
            f"data_dir={c.data_dir!r} holds no dataset. Build one first: "
            "w2v2jax corpus --out=DIR --task=digits, then --config.data_dir=DIR"
        )
    return data.load_split(c.data_dir, split)


@dataclasses.dataclass
class Assembly:
    """What one run is made of; built by `assemble`, holds no training state."""

    c: object
    objective: Objective
    cfg: object  # Wav2Vec2Config
    mesh: jax.sharding.Mesh
    rules: tuple
    model: nn.Module
    tx: object
    schedule: object
    abstract: dict  # the state's ShapeDtypeStructs, shardings attached
    shardings: dict
    boundaries: list[int]
    train_step: ShapeDispatch
    eval_step: ShapeDispatch

    def context(self) -> sharding.MeshRules:
        return sharding.MeshRules(self.mesh, self.rules)

    def frames(self, num_samples: int) -> int:
        return max(int(frame_count(int(num_samples), self.cfg)), 0)

    def batch_spec(self, num_samples: int, *, train: bool) -> dict:
        return self.objective.batch_spec(
            self.c.batch_size,
            num_samples,
            self.frames,
            sharding.batch_sharding(self.mesh),
            train=train,
        )

    @functools.cached_property
    def beam_eval_step(self) -> ShapeDispatch:
        """The eval step that also returns log-probs; compiled only when a beam search runs."""
        return jit_eval_step(self.objective, self.model, self.shardings, self.mesh, True)

    def init_state(self, rng) -> dict:
        """A fresh state, created sharded (never whole on one device)."""
        with self.context():
            init = jax.jit(
                lambda r: nn.unbox(boxed_state(self.model, self.tx, r)),
                out_shardings=self.shardings,
            )
            return init(rng)

    def precompile(self, evaluate: bool = True) -> float:
        """Compiles the train (and eval) step for every bucket before the clock starts;
        wall seconds."""
        rep = sharding.replicated(self.mesh)
        jobs = [
            (self.train_step, self.context, self.abstract, self.batch_spec(s, train=True))
            + (rng_spec(rep),)
            for s in self.boundaries
        ]
        if evaluate:
            jobs += [
                (self.eval_step, self.context, self.abstract["params"])
                + (self.batch_spec(s, train=False),)
                for s in self.boundaries
            ]
        seconds = compile_all(jobs, threads=self.c.compile_threads)
        logging.info("compiled %d step shapes in %.0f s", len(jobs), seconds)
        return seconds

    def pipeline_args(self, boundaries=None) -> dict:
        """What every batch of this run shares: rows per process, buckets, shard, frames,
        and the augmenter when c.augment turns one on (objectives use it for training only;
        left out otherwise, so an objective that passes these on unread keeps working)."""
        args = {
            "batch_size": self.c.batch_size // jax.process_count(),
            "bucket_boundaries": boundaries or self.boundaries,
            "shard_index": jax.process_index(),
            "shard_count": jax.process_count(),
            "frames_fn": self.frames,
            "normalize": bool(self.c.model.get("do_normalize", True)),
        }
        augmenter = data.Augmenter(self.c.get("augment"), seed=self.c.seed)
        if augmenter.active:
            args["augment"] = augmenter
        return args

    def train_batches(self, source, lengths, stats):
        return self.objective.batches(
            source,
            train=True,
            stats=stats,
            seed=self.c.seed,
            lengths=lengths,
            **self.pipeline_args(),
        )

    def evaluate(self, params, source, *, groups=None, beam=0, boundaries=None) -> dict:
        """Metrics of any data source (a split, an experiment's own set) with this run's
        eval step; `boundaries` overrides the run's buckets (e.g. longer utterances)."""
        ds = self.objective.batches(
            source, train=False, stats=data.Stats(), **self.pipeline_args(boundaries)
        )
        step = self.beam_eval_step if beam else self.eval_step

        def outputs():
            for batch in ds:
                with self.context():
                    out = step(params, sharding.global_batch(batch, self.mesh))
                yield jax.device_get(out)

        return self.objective.score(outputs(), groups=groups, beam=beam)


def assemble(c, objective: Objective, *, lengths=None, devices=None) -> Assembly:
    """Everything but the data and the state: validates the mesh against the devices and
    the batch, and jits the steps once (nothing compiles until used or precompiled)."""
    config_checks.validate(c)
    cfg = objective.model_config(c)
    mesh = sharding.make_mesh(c.mesh, devices)
    sharding.check_batch(c.batch_size, mesh, c.grad_accum)
    rules = sharding.rules_of(c)
    model = objective.make_model(cfg)
    tx, schedule = make_optimizer(c)
    abstract, shardings = state_shardings(model, tx, mesh, rules)
    boundaries = bucket_boundaries(c, lengths)
    logging.info("bucket boundaries (s): %s", [b / SAMPLE_RATE for b in boundaries])
    batch_sh, rep = sharding.batch_sharding(mesh), sharding.replicated(mesh)
    step = make_train_step(
        functools.partial(objective.loss_sums, model),
        tx,
        schedule,
        grad_accum=c.grad_accum,
        finish=objective.finish,
    )
    train_step = ShapeDispatch(
        jax.jit(
            step,
            in_shardings=(shardings, batch_sh, rep),
            out_shardings=(shardings, rep),
            donate_argnums=(0,),
        )
    )
    eval_step = jit_eval_step(objective, model, shardings, mesh, with_log_probs=False)
    return Assembly(
        c, objective, cfg, mesh, rules, model, tx, schedule, abstract, shardings,
        boundaries, train_step, eval_step,
    )  # fmt: skip


def jit_eval_step(objective, model, shardings, mesh, with_log_probs: bool) -> ShapeDispatch:
    step = objective.eval_step(model, with_log_probs=with_log_probs)
    return ShapeDispatch(
        jax.jit(
            step,
            in_shardings=(shardings["params"], sharding.batch_sharding(mesh)),
            out_shardings=sharding.replicated(mesh),
        )
    )
