"""The training run: data, sharded state, the jitted step, evaluation, checkpoints, logs.

from w2v2jax.configs.ctc import get_config
run(get_config("tiny"), "runs/tiny")     # or: w2v2jax train --config=...:tiny --workdir=...
"""

import json
import math
import os
import time

import flax.linen as nn
import jax
from absl import logging
from tqdm import tqdm

from w2v2jax.data import corpus, pipeline
from w2v2jax.data import tokenizer as toklib
from w2v2jax.models.config import Wav2Vec2Config
from w2v2jax.frames import frame_count
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC
from w2v2jax.train import checkpoint, flops, sharding
from w2v2jax.train.evaluate import evaluate_split
from w2v2jax.train.metrics import MetricsWriter
from w2v2jax.train.optim import make_optimizer
from w2v2jax.train.precompile import ShapeDispatch, batch_spec, compile_all, rng_spec
from w2v2jax.train.state import adopt_params, init_state, param_count, state_shardings
from w2v2jax.train.step import make_eval_step, make_train_step

# Label slots per frame of a bucket's longest audio: training drops what does not fit;
# evaluation keeps every example, and no feasible transcript has more labels than frames.
TRAIN_LABEL_RATIO = 0.5
EVAL_LABEL_RATIO = 1.0


class TrainingError(RuntimeError):
    """The run cannot go on (e.g. a non-finite loss); the last good checkpoint is kept."""


def model_config(c, vocab_size: int) -> Wav2Vec2Config:
    fields = c.model.to_dict()
    fields["vocab_size"] = vocab_size
    return Wav2Vec2Config.from_dict(fields)


def frames_fn(cfg):
    return lambda n: max(int(frame_count(int(n), cfg)), 0)


def boundaries(c, train_lengths=None) -> list[int]:
    """Bucket boundaries in samples: fitted to the training lengths when c.num_buckets > 0
    (pipeline.fit_boundaries), else c.bucket_seconds."""
    if c.num_buckets:
        cap = round(c.max_seconds * 16000)
        return pipeline.fit_boundaries(train_lengths, c.num_buckets, max_samples=cap)
    return [round(s * 16000) for s in c.bucket_seconds]


def rules_of(c):
    return tuple(tuple(r) for r in c.logical_rules) or sharding.DEFAULT_RULES


def load_tokenizer(c, workdir: str):
    """The workdir's vocab.json if it has one (resume), else built from the texts of every
    split (a symbol seen only in evaluation must still be scorable)."""
    if os.path.exists(os.path.join(workdir, "vocab.json")):
        return toklib.load(workdir)
    cls = toklib.PhonemeTokenizer if c.label == "phonemes" else toklib.CharTokenizer
    texts = []
    for split in ("train", *c.eval_splits):
        src = open_split(c, split)
        texts += [src[i][c.label] for i in range(len(src))]
    tok = cls.from_texts(texts)
    if jax.process_index() == 0:
        os.makedirs(workdir, exist_ok=True)
        tok.save(workdir)
    return tok


def open_split(c, split: str):
    if not c.data_dir or not os.path.isdir(c.data_dir):
        raise FileNotFoundError(
            f"data_dir={c.data_dir!r} is not a folder. Build the corpus first: "
            "w2v2jax corpus --out=DIR --task=digits, then --config.data_dir=DIR"
        )
    return corpus.load_split(c.data_dir, split)


class Trainer:
    """Holds what one run needs; `run()` trains to total_steps (or the time budget)."""

    def __init__(self, c, workdir: str, devices=None):
        self.c, self.workdir = c, workdir
        self.train_src = open_split(c, "train")
        lengths = pipeline.source_lengths(self.train_src)
        self.boundaries = boundaries(c, lengths)
        logging.info("bucket boundaries (s): %s", [b / 16000 for b in self.boundaries])
        self.tok = load_tokenizer(c, workdir)
        self.cfg = model_config(c, self.tok.vocab_size)
        checkpoint.save_run_config(workdir, self.cfg, c.to_dict())
        self.mesh = sharding.make_mesh(c.mesh, devices)
        sharding.check_batch(c.batch_size, self.mesh, c.grad_accum)
        self.rules = rules_of(c)
        self.model = Wav2Vec2ForCTC(self.cfg)
        self.tx, self.schedule = make_optimizer(c)
        self.abstract, self.shardings = state_shardings(self.model, self.tx, self.mesh, self.rules)
        self.data = pipeline.make_batches(
            self.train_src,
            self.tok,
            batch_size=c.batch_size // jax.process_count(),
            bucket_boundaries=self.boundaries,
            seed=c.seed,
            shard_index=jax.process_index(),
            shard_count=jax.process_count(),
            label_key=c.label,
            max_label_ratio=TRAIN_LABEL_RATIO,
            frames_fn=frames_fn(self.cfg),
            skip_infeasible=c.skip_infeasible,
            lengths=lengths,
        )
        self.data_iter = iter(self.data)
        self.mngr = checkpoint.manager(workdir, c.keep_checkpoints)
        self._compile()

    def _compile(self):
        c, sh = self.c, self.shardings
        batch_sh = sharding.batch_sharding(self.mesh)
        step = make_train_step(
            self.model,
            self.tx,
            self.schedule,
            grad_accum=c.grad_accum,
            zero_infinity=c.zero_infinity,
        )
        self.train_step = ShapeDispatch(
            jax.jit(
                step,
                in_shardings=(sh, batch_sh, sharding.replicated(self.mesh)),
                out_shardings=(sh, sharding.replicated(self.mesh)),
                donate_argnums=(0,),
            )
        )
        self.eval_step = ShapeDispatch(
            jax.jit(
                make_eval_step(self.model, zero_infinity=True),
                in_shardings=(sh["params"], batch_sh),
                out_shardings=sharding.replicated(self.mesh),
            )
        )

    def precompile(self) -> float:
        """Compiles the train and eval steps for every bucket (precompile.py); wall seconds."""
        c, bounds = self.c, self.boundaries
        batch_sh, rep = sharding.batch_sharding(self.mesh), sharding.replicated(self.mesh)
        fn = frames_fn(self.cfg)
        jobs = [
            (self.train_step, self.ctx, self.abstract, batch_spec(c.batch_size, s, u, batch_sh))
            + (rng_spec(rep),)
            for s, u in zip(
                bounds, pipeline.label_lengths(bounds, TRAIN_LABEL_RATIO, fn), strict=True
            )
        ]
        jobs += [
            (self.eval_step, self.ctx, self.abstract["params"])
            + (batch_spec(c.batch_size, s, u, batch_sh),)
            for s, u in zip(
                bounds, pipeline.label_lengths(bounds, EVAL_LABEL_RATIO, fn), strict=True
            )
            if c.eval_splits  # a run that never evaluates needs no eval step
        ]
        seconds = compile_all(jobs, threads=c.compile_threads)
        logging.info("compiled %d step shapes in %.0f s", len(jobs), seconds)
        return seconds

    def ctx(self):
        return _Ctx(self.mesh, self.rules)

    def initial_state(self):
        c = self.c
        latest = self.mngr.latest_step()
        if latest is not None:
            opt_abstract = {k: self.abstract[k] for k in ("opt_state", "step")}
            out = checkpoint.restore(
                self.mngr, latest, self.abstract["params"], opt_abstract, self.data_iter
            )
            logging.info("resumed from step %d in %s", latest, self.workdir)
            return {"params": out["params"], **out["opt"]}
        with self.ctx():
            state = init_state(
                self.model, self.tx, self.mesh, self.rules, jax.random.PRNGKey(c.seed)
            )
        if c.init_from:
            state = self._init_from(state)
        return state

    def _init_from(self, state):
        src_cfg = checkpoint.load_model_config(self.c.init_from)
        src_model = Wav2Vec2ForCTC(src_cfg)
        tx = make_optimizer(self.c)[0]
        abstract, _ = state_shardings(src_model, tx, self.mesh, self.rules)
        params, step = checkpoint.restore_params(self.c.init_from, abstract["params"])
        state, replaced = adopt_params(state, params, self.tx, self.shardings)
        logging.info("init_from %s (step %d); fresh: %s", self.c.init_from, step, replaced)
        return state

    def evaluate(self, params, splits=None, beam=0) -> dict:
        c, out = self.c, {}
        for split in splits or c.eval_splits:
            src = open_split(c, split)
            groups = corpus.group_indices(src) if split == "test" else None
            with self.ctx():
                res = evaluate_split(
                    self.eval_step,
                    params,
                    src,
                    self.tok,
                    self.mesh,
                    batch_size=c.batch_size,
                    boundaries=self.boundaries,
                    label_key=c.label,
                    frames_fn=frames_fn(self.cfg),
                    groups=groups,
                    beam=beam,
                )
            out.update({f"{split}/{k}": v for k, v in res.items()})
        return out

    def run(self) -> dict:
        c = self.c
        state = self.initial_state()
        start = int(jax.device_get(state["step"]))
        writer = MetricsWriter(self.workdir, start)
        if start == 0 and jax.process_index() == 0:
            logging.info("model: %s parameters", f"{param_count(state['params']):,}")
        compile_s = self.precompile() if c.precompile else 0.0
        rng = jax.device_put(jax.random.PRNGKey(c.seed + 1), sharding.replicated(self.mesh))
        pending, t_train = None, 0.0
        self._t_last = time.perf_counter()
        bar = tqdm(
            total=c.total_steps,
            initial=start,
            disable=jax.process_index() != 0,
            dynamic_ncols=True,
            mininterval=2.0,
        )
        step = start
        while step < c.total_steps:
            t0 = time.perf_counter()
            batch = next(self.data_iter)
            gb = sharding.global_batch(batch, self.mesh)
            with self.ctx():
                state, metrics = self.train_step(state, gb, rng)
            if pending is not None:
                self._log(writer, bar, *pending)
            step += 1
            pending = (step, metrics, batch["audio"].shape)
            if step % c.checkpoint_every == 0 or step == c.total_steps:
                self._log(writer, bar, *pending)  # never save a state whose loss was not finite
                pending = None
                self._save(step, state)
            if c.eval_every and step % c.eval_every == 0 and step < c.total_steps:
                writer.write(step, self.evaluate(state["params"], splits=["validation"]))
            t_train += time.perf_counter() - t0
            if c.time_budget_s and t_train > c.time_budget_s:
                logging.info("time budget of %.0f s reached at step %d", c.time_budget_s, step)
                break
        if pending is not None:
            self._log(writer, bar, *pending)
        bar.close()
        if step % c.checkpoint_every and step != c.total_steps:
            self._save(step, state, force=True)
        self.mngr.wait_until_finished()
        final = self.evaluate(state["params"], beam=c.eval_beam)
        final.update(
            step=step,
            train_seconds=t_train,
            compile_seconds=compile_s,
            skipped=dict(self.data.stats.counts),
        )
        writer.write(step, {k: v for k, v in final.items() if k != "step"})
        writer.close()
        if jax.process_index() == 0:
            with open(os.path.join(self.workdir, "summary.json"), "w") as f:
                json.dump(final, f, indent=2, default=str)
        self.state = state
        return final

    def _save(self, step, state, force=False):
        opt = {"opt_state": state["opt_state"], "step": state["step"]}
        checkpoint.save(self.mngr, step, state["params"], opt, self.data_iter, force=force)

    def _log(self, writer, bar, step, metrics, shape):
        m = {k: float(v) for k, v in jax.device_get(metrics).items()}
        if not math.isfinite(m["loss"]):
            latest = self.mngr.latest_step()
            raise TrainingError(
                f"non-finite loss ({m['loss']}) at step {step}. The last good checkpoint is "
                f"step {latest} in {self.workdir}/checkpoints (kept). Lower learning_rate, "
                "raise warmup_steps or check the data, then rerun to resume from it."
            )
        now = time.perf_counter()
        dt, self._t_last = now - self._t_last, now
        m["audio_per_second"] = m["audio_seconds"] / max(dt, 1e-9)
        m["step_seconds"] = dt
        bar.update(step - bar.n)
        bar.set_postfix(loss=f"{m['loss']:.3f}", audio_s_per_s=f"{m['audio_per_second']:.0f}")
        if step % self.c.log_every == 0 or step == 1:
            step_flops = flops.train_step_flops(self.cfg, shape, self.c.batch_size)
            m["model_tflops_per_s"] = step_flops / max(dt, 1e-9) / 1e12
            mfu = flops.mfu(self.cfg, shape, self.c.batch_size, dt, self.c.peak_flops)
            if mfu is not None:
                m["mfu"] = mfu
            writer.write(step, m)


class _Ctx:
    """The mesh and logical-axis rules active while tracing and running jitted code."""

    def __init__(self, mesh, rules):
        self.mesh, self.rules = mesh, rules

    def __enter__(self):
        self._m = self.mesh.__enter__()
        self._r = nn.logical_axis_rules(self.rules)
        self._r.__enter__()
        return self

    def __exit__(self, *exc):
        self._r.__exit__(*exc)
        self.mesh.__exit__(*exc)


def run(c, workdir: str, devices=None) -> dict:
    return Trainer(c, workdir, devices).run()
