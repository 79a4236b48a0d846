"""The demo's pieces that do not need a training run (w2v2jax/demo_setup.py): its config and
the slower-CPU note. Not demo.py itself: importing it defines absl flags that clash with the
CLI's in the same test process."""

import pytest

from w2v2jax import demo_setup as demo


def test_config_evaluates_every_3200_utterances_and_turns_augmentation_on():
    c = demo.demo_config("corpus", 600.0, 4000, augment=True, batch_size=8)
    assert c.batch_size == 8 and c.eval_every == c.checkpoint_every == 400
    assert c.time_budget_s == 600.0 and c.time_budget_clock == "cpu"
    assert all(c.augment[k] == v for k, v in demo.AUGMENT.items())
    assert demo.demo_config("corpus", 600.0, 4000).augment.speed_prob == 0.0


@pytest.mark.parametrize(
    "planned, batch, cap, says",
    [
        (1725, 8, 4000, True),  # a CPU half as fast as the README's
        (3400, 8, 4000, False),  # within 10 % of the reference steps
        (1725, 16, 4000, False),  # another batch: the reference does not apply
        (1200, 8, 1200, False),  # a cap below the reference: the user asked for fewer
        (None, 8, 4000, False),  # no plan (no budget)
    ],
)
def test_steps_hint_only_when_the_cpu_bought_fewer_steps(planned, batch, cap, says):
    summary = {} if planned is None else {"planned_steps": planned}
    lines = demo.steps_hint(summary, 600.0, batch, cap)
    assert bool(lines) == says
    if says:
        # The budget that buys the reference's middle (3711 steps) at the measured rate.
        assert "--budget_s=1291 buys about 3711 here" in lines[0]
