"""A trained workdir as the figures need it: config, tokenizer, params, corpus, forward passes.

Legend: S samples, T frames, V vocab, L layers, H heads.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.data import audio as audiolib
from w2v2jax.data import load_split
from w2v2jax.inference import Transcriber


class TrainedRun:
    def __init__(self, workdir: str, data_dir: str | None = None):
        self.workdir = workdir
        self.transcriber = Transcriber(workdir)
        self.cfg, self.tok = self.transcriber.cfg, self.transcriber.tok
        self.params, self.step = self.transcriber.params, self.transcriber.step
        with open(os.path.join(workdir, "config.json")) as f:
            self.train_cfg = json.load(f).get("train", {})
        self.data_dir = data_dir or self.train_cfg.get("data_dir", "")
        if not os.path.isdir(self.data_dir):
            raise FileNotFoundError(
                f"the corpus of {workdir} ({self.data_dir!r}) is not a folder: pass --data_dir"
            )

    def split(self, name: str):
        return load_split(self.data_dir, name)

    def pick(self, split: str, min_chars: int, max_chars: int) -> dict:
        """The first utterance whose transcript length is in [min_chars, max_chars]: short
        enough to read every frame of a plot, long enough to hold a few words."""
        src = self.split(split)
        for i in range(len(src)):
            ex = src[i]
            if min_chars <= len(ex["text"]) <= max_chars:
                return {**ex, "index": i, "split": split}
        return {**src[0], "index": 0, "split": split}

    def log_probs(self, audio_S: np.ndarray) -> np.ndarray:
        """[T, V] frame log-probabilities of the model (the inference path)."""
        return self.transcriber.log_probs(audiolib.to_float(np.asarray(audio_S)))

    def attention(self, audio_S: np.ndarray) -> np.ndarray:
        """[L, H, T, T] attention probabilities of every layer, valid frames only."""
        samples = audiolib.to_float(np.asarray(audio_S))[None]
        pads = np.zeros_like(samples)
        samples = audiolib.normalize(samples, pads)
        _, state = jax.jit(
            lambda p, a, m: self.transcriber.model.apply(
                {"params": p}, a, m, mutable=["intermediates"]
            )
        )(self.params, jnp.asarray(samples), jnp.asarray(pads))
        enc = state["intermediates"]["wav2vec2"]["encoder"]
        if self.cfg.scan_layers:  # one stacked entry [L, 1, H, T, T]
            return np.asarray(enc["layers"]["layer"]["attention"]["attention"][0][:, 0])
        layers = [
            enc[f"layers_{i}"]["attention"]["attention"][0][0]
            for i in range(self.cfg.num_hidden_layers)
        ]
        return np.stack([np.asarray(x) for x in layers])

    def encoder_params(self) -> dict:
        return self.params["wav2vec2"]["encoder"]
