"""The training loop of every objective: data, state, steps, evaluation, checkpoints, logs.

from w2v2jax.configs.ctc import get_config
run(get_config("tiny"), "runs/tiny")     # or: w2v2jax train --config=...:tiny --workdir=...

The run is assembled by assembly.py; this module only drives it. It knows nothing of CTC:
the objective (train/objectives/) gives the model, loss, batches and metrics.
"""

import math
import os
import time

import jax
from absl import logging
from tqdm import tqdm

from w2v2jax import data
from w2v2jax.errors import TrainingError
from w2v2jax.files import write_json
from w2v2jax.train import budget, checkpoint, flops, objectives, sharding
from w2v2jax.train.assembly import assemble, open_split
from w2v2jax.train.metrics import MetricsWriter, tell
from w2v2jax.train.state import adopt_params, param_count, state_shardings
from w2v2jax.train.workdir_lock import WorkdirLock


class Trainer:
    """Holds what one run needs; `run()` trains to total_steps, or with a time budget to
    the steps that fit in it (budget.py). `clock` (seconds) times the steps and the budget
    (default: the one c.time_budget_clock names); tests pass a fake one to fix the measured
    rate. The logged speed is always per wall second, unless a clock is passed."""

    def __init__(self, c, workdir: str, devices=None, objective=None, clock=None):
        self.c, self.workdir = c, workdir
        self.clock = clock or budget.make_clock(c)
        self.wall = clock or time.perf_counter
        self.train_src = data.subset(
            open_split(c, "train"), c.get("train_examples", 0), c.get("train_examples_seed", 0)
        )
        lengths = data.source_lengths(self.train_src)
        resuming = checkpoint.has_checkpoints(workdir)
        # What a resumed run saved (CTC: its vocab.json) counts only beside a checkpoint: a
        # run that failed before its first one leaves nothing the next run must follow.
        self.objective = objective or objectives.build(c, workdir if resuming else None)
        self.assembly = assemble(c, self.objective, lengths=lengths, devices=devices)
        self.stats = data.Stats()
        self.data = self.assembly.train_batches(self.train_src, lengths, self.stats)
        self.data_iter = iter(self.data)
        # Everything above validates; only now is anything written into the workdir.
        self.lock = WorkdirLock(workdir).acquire()
        try:
            checkpoint.save_run_config(workdir, self.assembly.cfg, c.to_dict(), resuming)
            self.objective.save(workdir)
            self.mngr = checkpoint.manager(workdir, c.keep_checkpoints)
        except BaseException:
            self.lock.release()
            raise
        self.damaged_steps: set[int] = set()
        self._unhealthy_since = None
        self.overhead_s = 0.0  # training time spent saving and evaluating

    def initial_state(self):
        a = self.assembly
        opt_abstract = {k: a.abstract[k] for k in ("opt_state", "step")}
        out, latest, skipped = checkpoint.restore_newest(
            self.mngr,
            self.workdir,
            lambda s: budget.restore(
                self.mngr, s, a.abstract["params"], opt_abstract, self.data_iter
            ),
        )
        self.damaged_steps.update(step for step, _ in skipped)
        if latest is not None:
            tell(f"resumed from step {latest} in {self.workdir}")
            return {"params": out["params"], **out["opt"]}
        state = a.init_state(jax.random.PRNGKey(self.c.seed))
        if self.c.init_from:
            state = self._init_from(state)
        return state

    def _init_from(self, state):
        a = self.assembly
        # The source may be of another objective (CTC fine-tuning of a pretrained workdir):
        # restore its whole tree; adopt_params takes the parts this model shares.
        src = checkpoint.read_run_config(self.c.init_from).get("train", {})
        src_cfg = checkpoint.load_model_config(self.c.init_from)
        if src.get("objective", self.objective.name) == self.objective.name:
            src_model = self.objective.make_model(src_cfg)
        else:
            src_model = objectives.model_of(src["objective"], src_cfg)
        abstract, _ = state_shardings(src_model, a.tx, a.mesh, a.rules)
        params, step = checkpoint.restore_params(self.c.init_from, abstract["params"])
        state, replaced = adopt_params(
            state, params, a.tx, a.shardings, fresh_heads=self.objective.fresh_heads
        )
        tell(f"initialised from {self.c.init_from} (step {step}); fresh: {', '.join(replaced)}")
        return state

    def evaluate(self, params, splits=None, beam=0) -> dict:
        out = {}
        for split in splits or self.c.eval_splits:
            src = open_split(self.c, split)
            groups = data.group_indices(src) if split == "test" else None
            res = self.assembly.evaluate(params, src, groups=groups, beam=beam)
            out.update({f"{split}/{k}": v for k, v in res.items()})
        return out

    def run(self) -> dict:
        try:
            return self._run()
        finally:
            self.lock.release()

    def _run(self) -> dict:
        c, a = self.c, self.assembly
        state = self.initial_state()
        start = int(jax.device_get(state["step"]))
        writer = MetricsWriter(self.workdir, start)
        if start == 0 and jax.process_index() == 0:
            logging.info("model: %s parameters", f"{param_count(state['params']):,}")
        compile_s = a.precompile(evaluate=bool(c.eval_splits)) if c.precompile else 0.0
        rng = jax.device_put(jax.random.PRNGKey(c.seed + 1), sharding.replicated(a.mesh))
        planner = budget.Planner(c, start, budget.read_plan(state["opt_state"]))
        end = planner.plan.planned_steps if planner.plan else c.total_steps
        pending, t_train = None, 0.0
        self._t_last, wall0 = self.wall(), self.wall()
        bar = tqdm(
            total=end,
            initial=start,
            disable=jax.process_index() != 0,
            dynamic_ncols=True,
            mininterval=2.0,
        )
        step, saved, evaluated = start, start, None
        while step < end:
            t0 = self.clock()
            batch = next(self.data_iter)
            gb = sharding.global_batch(batch, a.mesh)
            with a.context():
                state, metrics = a.train_step(state, gb, rng)
            if pending is not None:
                self._log(writer, bar, *pending)
            step += 1
            pending = (step, metrics, batch["audio"].shape)
            # Fixed before this step's save, so the checkpoint of the step carries the plan.
            t_now = t_train + self.clock() - t0 if planner.measuring else t_train
            if planner.observe(step, t_now, self.overhead_s):
                state, evaluated = self._fix_plan(planner, state, step, t_train - t0, writer)
                end = bar.total = planner.plan.planned_steps
            if step % c.checkpoint_every == 0 or step == end:
                # Logging waits for the step; only the save after it is the save's time.
                self._log(writer, bar, *pending)  # never save a state whose loss was not finite
                pending, saved, t_save = None, step, self.clock()
                self._save(step, state)
                planner.save_seconds.append(self._overhead(t_save))
            if c.eval_every and step % c.eval_every == 0 and step < end and evaluated != step:
                jax.block_until_ready(state["params"])  # the step in flight is no evaluation time
                t_eval = self.clock()
                writer.write(step, self.evaluate(state["params"], splits=["validation"]))
                self._overhead(t_eval)
            t_train += self.clock() - t0
            if step < end and budget.over_budget(c, step, t_train):
                self._tell_budget_end(step, planner.plan)
                break
        if pending is not None:
            self._log(writer, bar, *pending)
        wall_s = self.wall() - wall0
        bar.close()
        if step != saved:
            self._save(step, state, force=True)
        self.mngr.wait_until_finished()
        final = self.evaluate(state["params"], beam=c.get("eval_beam", 0))
        final.update(
            step=step,
            train_seconds=t_train,
            train_wall_seconds=wall_s,
            compile_seconds=compile_s,
            skipped=dict(self.stats.counts),
            **(planner.plan.record() if planner.plan else {}),
        )
        writer.write(step, {k: v for k, v in final.items() if k != "step"})
        writer.close()
        if jax.process_index() == 0:
            write_json(os.path.join(self.workdir, "summary.json"), final)
        self.state = state
        return final

    def _overhead(self, since: float) -> float:
        seconds = self.clock() - since
        self.overhead_s += seconds
        return seconds

    def _fix_plan(self, planner, state, step, clock_offset, writer):
        """Fixes the budget's plan (budget.py) after timing one validation pass, which the
        plan must leave room for when the run evaluates; the training time so far is
        clock_offset + clock(). Returns (state, step evaluated)."""
        eval_s, evaluated = 0.0, None
        if self.c.eval_every:
            jax.block_until_ready(state["params"])  # the step in flight is no evaluation time
            t_eval = self.clock()
            writer.write(step, self.evaluate(state["params"], splits=["validation"]))
            eval_s, evaluated = self._overhead(t_eval), step
        plan = planner.fix(step, clock_offset + self.clock(), eval_s)
        writer.write(step, {**plan.record(), "planned_eval_seconds": eval_s})
        return {**state, "opt_state": budget.with_plan(state["opt_state"], plan)}, evaluated

    def _tell_budget_end(self, step, plan) -> None:
        budget_s = self.c.time_budget_s
        if plan is None or step >= plan.planned_steps:
            tell(f"time budget of {budget_s:.0f} s reached at step {step}")
            return
        tell(
            f"time budget of {budget_s:.0f} s reached at step {step}, before the planned "
            f"{plan.planned_steps} (steps ran slower than measured): the schedule, fixed, is cut "
            "short there; rerunning resumes and trains on to the plan's end"
        )

    def _save(self, step, state, force=False):
        if step in self.damaged_steps:
            where = checkpoint.set_aside(self.mngr, self.workdir, step)
            self.damaged_steps.discard(step)
            tell(f"moved the unreadable checkpoint step {step} to {where} to save it anew")
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
        self._check_health(step, m)
        now = self.wall()
        dt, self._t_last = now - self._t_last, now
        m["audio_per_second"] = m["audio_seconds"] / max(dt, 1e-9)
        m["step_seconds"] = dt
        bar.update(step - bar.n)
        bar.set_postfix(**self.objective.log_line(m), audio_s_per_s=f"{m['audio_per_second']:.0f}")
        if step % self.c.log_every == 0 or step == 1:
            cfg, batch_size = self.assembly.cfg, self.c.batch_size
            step_flops = flops.train_step_flops(cfg, shape, batch_size)
            m["model_tflops_per_s"] = step_flops / max(dt, 1e-9) / 1e12
            mfu = flops.mfu(cfg, shape, batch_size, dt, self.c.peak_flops)
            if mfu is not None:
                m["mfu"] = mfu
            writer.write(step, m)

    def _check_health(self, step: int, m: dict) -> None:
        """The objective's warning signs (a collapsing codebook): told once, and the run
        stops when they last `health_patience` steps."""
        problem = self.objective.health(m)
        if problem is None:
            self._unhealthy_since = None
            return
        if self._unhealthy_since is None:
            self._unhealthy_since = step
            tell(f"warning at step {step}: {problem}")
        patience = self.c.get("health_patience", 0)
        if patience and step - self._unhealthy_since >= patience:
            raise TrainingError(
                f"stopped at step {step}: {problem} since step {self._unhealthy_since}. "
                f"Checkpoints in {self.workdir}/checkpoints up to step "
                f"{self._unhealthy_since - 1} predate it (all are kept); lower learning_rate "
                "or change the config, then rerun from one of them (init_from=...)."
            )


def run(c, workdir: str, devices=None, objective=None) -> dict:
    return Trainer(c, workdir, devices, objective).run()
