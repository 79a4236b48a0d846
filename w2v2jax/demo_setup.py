"""The demo's training run and the note its report adds, apart from demo.py's absl flags
(importing demo.py defines them, which clash with the CLI's in one process: tests import
this module)."""

# The augmentation the demo trains with (`--noaugment`: none). Measured at the demo's budget,
# 8 utterances a step, 2 seeds (benchmarks/RESULTS_demo.md): unseen flite voice 12.9 -> 10.2 %
# CER, the noisy copy 46.1 -> 13.9 %, unseen espeak-ng voices 0.7 -> 0.75 %, validation
# 0.85 -> 1.15 %. Adding the telephone band on a fifth of the utterances (3 seeds, 3711
# steps, session 14): kal16 9.0 -> 7.6 % mean, noisy copy 13.5 -> 12.9 %; pitch +-3 and
# stronger masking were tried and gained nothing.
AUGMENT = {
    "speed_prob": 0.5,
    "pitch_prob": 0.5,
    "noise_prob": 0.3,
    "reverb_prob": 0.3,
    "gain_prob": 0.5,
    "telephone_prob": 0.2,
}
EVAL_UTTERANCES = 3200
# The steps the default budget bought where the README's figures were measured (2-core
# Sapphire Rapids VM, 8 a step, 600 s): a slower CPU buys fewer in the same budget, and the
# report says what budget would buy these there (steps_hint).
REFERENCE_STEPS = (3553, 3869)


def demo_config(
    data_dir: str,
    budget_s: float,
    total_steps: int,
    seed: int = 0,
    augment: bool = False,
    clock: str = "cpu",
    batch_size: int = 16,
):
    from w2v2jax.configs.ctc import get_config

    c = get_config("tiny")
    c.data_dir = data_dir
    c.seed = seed
    if augment:
        c.augment.update(AUGMENT)
    c.batch_size = batch_size
    c.total_steps = total_steps
    c.time_budget_s = budget_s
    c.time_budget_clock = clock
    # Every 3200 utterances whatever the batch: each evaluation is paid from the budget.
    c.eval_every = c.checkpoint_every = max(1, EVAL_UTTERANCES // batch_size)
    c.eval_beam = 8
    return c


def steps_hint(summary: dict, budget_s: float, batch_size: int, total_steps: int) -> list[str]:
    """A line for a CPU that bought fewer steps than the README's figures came from, with the
    budget that buys those on it (empty at other batch sizes or caps, or when the plan came
    within 10 % of them)."""
    planned, low = summary.get("planned_steps"), REFERENCE_STEPS[0]
    if batch_size != 8 or total_steps < low or not planned or planned >= 0.9 * low:
        return []
    want = min(total_steps, sum(REFERENCE_STEPS) // 2)
    line = (
        f"note: this CPU bought {planned} steps in the {budget_s:.0f} s budget, where the "
        f"README's figures came from {low}-{REFERENCE_STEPS[1]} (a faster CPU; fewer steps "
        f"learn less, kal16 most); --budget_s={budget_s * want / planned:.0f} buys about "
        f"{want} here"
    )
    return [line]
