"""The phoneme demo end to end on a micro budget: corpus, IPA training, report, figure."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
import xla_env
from train_helpers import micro_config

from w2v2jax import demo_phonemes

needs_synth = pytest.mark.skipif(
    not (shutil.which("flite") and shutil.which("espeak-ng")), reason="flite/espeak-ng missing"
)


@needs_synth
@pytest.mark.slow  # a words corpus and a micro run: ~1 minute on 2 loaded cores
def test_phoneme_demo_reports_per_fer_transcriptions_and_a_figure(tmp_path):
    import matplotlib.image

    data_dir = str(tmp_path / "corpus")
    c = micro_config(data_dir, label="phonemes", total_steps=4, eval_beam=2)
    c.bucket_seconds = (8.0,)  # sentences of up to 8 words
    report = demo_phonemes.run(c, str(tmp_path / "run"), num_train=40)
    for line in (
        "held-out texts, training voices: PER",
        "unseen espeak-ng voices: PER",
        "unseen flite voice (kal16): PER",
        "held-out texts, beam search (2): PER",
    ):
        assert line in report
    assert report.count("FER ") == 4
    # A few transcriptions per voice group, each reference beside the model's output.
    assert report.count("ref: ") == report.count("hyp: ") == 2 * demo_phonemes.SAMPLES_PER_GROUP
    assert (tmp_path / "run" / "demo_summary.txt").read_text() == report + "\n"
    img = matplotlib.image.imread(tmp_path / "run" / "phone_posteriors.png")
    assert img.shape[0] > 300 and float(np.std(img[..., :3])) > 0.02


def test_demo_takes_the_phonemes_task_and_names_a_wrong_one():
    env = xla_env.env()
    out = subprocess.run(
        [sys.executable, "-m", "w2v2jax.demo", "--task=chars"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert out.returncode != 0 and "<digits|phonemes>" in out.stderr
