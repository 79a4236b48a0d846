"""Transcription and alignment with a trained workdir (or a `w2v2jax convert` output).

Long files are cut into overlapping chunks; each chunk's frames near its edges are dropped
and the rest concatenated, so the decoded text is that of one pass over the whole file
(the frames kept always have `context_s` of audio on both sides inside their chunk).
Legend: S samples, T frames, V vocab.
"""

import functools
import math
import os

import jax
import jax.numpy as jnp
import numpy as np

from w2v2jax.data import audio as audiolib
from w2v2jax.data import tokenizer as toklib
from w2v2jax.data.tokenizer import UNK_ID
from w2v2jax.errors import InputError, UsageError, WorkdirError
from w2v2jax.frames import SAMPLE_RATE, frame_count, frame_seconds, hop_length
from w2v2jax.models.wav2vec2 import Wav2Vec2ForCTC, init_params
from w2v2jax.train import checkpoint

PAD_MULTIPLE = SAMPLE_RATE  # pad to whole seconds: few shapes, few compilations
# The widest beam we search with. The jitted search holds K x K prefix-merge tables per
# frame and T x K backpointers: measured with memory_analysis (V = 32), K = 1024 needs
# ~24 MiB for a 30 s file and ~1.5 GB for a 60-minute one, while K = 100000 would ask for
# ~120 GB. Past a few hundred beams the best path stops changing in practice
# (pyctcdecode's default is 100), so a wider beam only costs memory.
MAX_BEAM = 1024
INVENTORY_SHOWN = 12  # phonemes a message lists of the model's inventory


def padded_length(num_samples: int) -> int:
    """The samples one pass pads a file to: whole seconds, at least one second."""
    return max(PAD_MULTIPLE, math.ceil(num_samples / PAD_MULTIPLE) * PAD_MULTIPLE)


def check_beam(beam: int, name: str = "beam") -> None:
    """Raises InputError unless 0 <= beam <= MAX_BEAM (0 = greedy decoding)."""
    if not 0 <= beam <= MAX_BEAM:
        raise InputError(
            f"{name}={beam}: the beam width must be between 0 (greedy) and {MAX_BEAM}; wider "
            "beams do not change the result and their memory grows as the square of the width"
        )


class Transcriber:
    def __init__(self, workdir: str, chunk_s: float = 30.0, context_s: float = 2.0):
        self.workdir = workdir
        self.cfg = checkpoint.load_model_config(workdir)
        if checkpoint.is_headless(workdir):
            raise WorkdirError(
                f"{workdir} holds an encoder without a CTC head (converted from a pretrained "
                "model): fine-tune it first with w2v2jax train --config.init_from="
                f"{workdir}, then transcribe with that run's workdir"
            )
        if not os.path.exists(os.path.join(workdir, "vocab.json")):
            raise WorkdirError(
                f"{workdir}: no vocab.json, so the model's ids cannot be spelled; copy the "
                "vocab.json the model was trained with (symbol -> id, as transformers writes "
                "it) into the folder"
            )
        self.tok = toklib.load(workdir)
        abstract = jax.eval_shape(lambda: init_params(self.cfg, jax.random.PRNGKey(0)))
        self.params, self.step = checkpoint.restore_params(workdir, abstract)
        self.model = Wav2Vec2ForCTC(self.cfg)
        self.chunk = int(chunk_s * SAMPLE_RATE)
        self.context = int(context_s * SAMPLE_RATE)
        self.frame_seconds = frame_seconds(self.cfg)

    @functools.partial(jax.jit, static_argnums=0)
    def _log_probs(self, params, audio_1xS, paddings_1xS):
        logits, pads = self.model.apply({"params": params}, audio_1xS, paddings_1xS)
        return jax.nn.log_softmax(logits, -1), pads

    def model_input(self, audio_BxS: np.ndarray, paddings_BxS: np.ndarray) -> np.ndarray:
        """The samples the model was trained on: each row z-normalised over its unpadded
        audio (cfg.do_normalize, the default), or as they are."""
        audio_BxS = np.asarray(audio_BxS, np.float32)
        return audiolib.normalize(audio_BxS, paddings_BxS) if self.cfg.do_normalize else audio_BxS

    def _pass(self, audio_S: np.ndarray) -> np.ndarray:
        """Frame log-probs [T, V] of one pass over audio already normalised (whole file)."""
        n = len(audio_S)
        buf = np.zeros((1, padded_length(n)), np.float32)
        pads = np.ones_like(buf)
        buf[0, :n], pads[0, :n] = audio_S, 0.0
        lp, _ = self._log_probs(self.params, jnp.asarray(buf), jnp.asarray(pads))
        return np.asarray(lp[0, : max(int(frame_count(n, self.cfg)), 0)])

    def log_probs_batch(self, audios: list[np.ndarray], length: int, rows: int = 0):
        """One padded pass over several files of at most `length` samples each: frame
        log-probs [B, T, V] and frame paddings [B, T] (1.0 = padding), B = len(audios).

        Each file is z-normalised on its own (model_input), then zero-padded to `length`,
        as log_probs does to one file; `rows` > B pads the batch with copies of the first
        file, so every batch of a shape compiles once. A file's frames equal log_probs(audio) when the
        padding cannot reach them: always for the layer-norm CNN (padded frames are masked
        in attention), and for the group-norm CNN, which normalises over the padding too,
        only at length == padded_length(len(audio)) (transcribe_batch buckets so)."""
        if not audios or any(len(a) > length for a in audios):
            raise ValueError(f"log_probs_batch: {len(audios)} files, each <= {length} samples")
        buf = np.zeros((max(rows, len(audios)), length), np.float32)
        pads = np.ones_like(buf)
        for i in range(len(buf)):
            a = audios[i] if i < len(audios) else audios[0]
            buf[i, : len(a)], pads[i, : len(a)] = a, 0.0
        buf = self.model_input(buf, pads)
        lp, frame_pads = self._log_probs(self.params, jnp.asarray(buf), jnp.asarray(pads))
        return np.asarray(lp[: len(audios)]), np.asarray(frame_pads[: len(audios)])

    def log_probs(self, audio_S: np.ndarray) -> np.ndarray:
        """[T, V] for a whole file; chunked with overlap when longer than chunk_s.

        The file is normalised once, as a whole: chunks normalised on their own would each
        see other statistics than the unchunked pass."""
        audio_S = self.model_input(audio_S[None], np.zeros((1, len(audio_S)), np.float32))[0]
        if len(audio_S) <= self.chunk:
            return self._pass(audio_S)
        hop = hop_length(self.cfg)
        total = int(frame_count(len(audio_S), self.cfg))
        out, t = [], 0
        while t < total:
            keep = (self.chunk - 2 * self.context) // hop
            start = max(t * hop - self.context, 0)
            piece = self._pass(audio_S[start : start + self.chunk])
            first = t - start // hop
            take = piece[first : first + keep] if t + keep < total else piece[first:]
            out.append(take[: total - t])
            t += len(out[-1])
            if len(out[-1]) == 0:
                break
        return np.concatenate(out, 0)

    def transcribe(self, path: str, beam: int = 0) -> tuple[str, np.ndarray]:
        check_beam(beam)  # before the model runs, not after
        lp = self.log_probs(audiolib.load_audio(path))
        return self.decode(lp, beam), lp

    def decode(self, lp_TxV: np.ndarray, beam: int = 0) -> str:
        from w2v2jax.ctc import greedy_decode, prefix_beam_search

        check_beam(beam)
        pads = np.zeros((1, lp_TxV.shape[0]), np.float32)
        if beam:
            ids, _ = prefix_beam_search(lp_TxV[None], pads, beam_size=beam, num_best=1)
            ids = np.asarray(ids)[0, 0]
        else:
            ids = np.asarray(greedy_decode(jnp.asarray(lp_TxV[None]), jnp.asarray(pads)))[0]
        return self.tok.decode([int(i) for i in ids if i >= 0])

    @property
    def phonemes(self) -> bool:
        """Whether the model spells IPA phonemes (its tokenizer's kind)."""
        return self.tok.kind == "phoneme"

    def align(self, lp_TxV: np.ndarray, text: str, ipa: bool = False, blanks: str = "exclude"):
        """(token rows, word rows) for `text` over the frames of lp_TxV, times in seconds:
        tokens as (symbol, start, end), words as (word, start, end).

        A phoneme model aligns phones: `text` is phonemised by espeak-ng (the voice the
        corpus labels come from), or read as IPA with ipa=True; its token rows are the
        phones, the word delimiter left out, and its words are IPA. A token spans its
        emitting frames, blank frames counted in no token's duration unless `blanks` names
        another rule of ctc.spans ("previous", "split"); words run from their first token's
        start to their last token's end.

        The Viterbi runs in segments (ctc.align_long): memory grows as U sqrt(T), not T U,
        so an hour of audio aligns in under a gigabyte (tests/ctc_align_long_test.py)."""
        from w2v2jax.ctc import align_long, token_spans, word_groups

        ids = self.encode(text, ipa=ipa)
        frames = lp_TxV.shape[0]
        if len(ids) > frames:
            raise InputError(
                f"{len(ids)} tokens cannot be aligned to {frames} frames "
                f"({frames * self.frame_seconds:.2f} s of audio): the transcript is too long"
            )
        res = align_long(lp_TxV, np.asarray(ids, np.int32))
        if not np.isfinite(float(res.scores_B[0])):
            raise InputError(
                "no alignment fits: the transcript needs more frames than the audio has "
                "(a repeated symbol needs a blank frame between its two)"
            )
        (spans,) = token_spans(res, np.asarray([ids], np.int32), blanks=blanks)
        delim = self.tok.vocab.get("|")
        shown = [s for s in spans if not (self.phonemes and s.id == delim)]
        tokens = [(self._symbol(s.id), *s.seconds(self.frame_seconds)) for s in shown]
        words = [
            (
                self.tok.decode([s.id for s in w]),
                w[0].seconds(self.frame_seconds)[0],
                w[-1].seconds(self.frame_seconds)[1],
            )
            for w in word_groups(spans, delim)
        ]
        return tokens, words

    def _symbol(self, i: int) -> str:
        return self.tok.decode([i]) or "|"

    def stream(self, **options):
        """A streaming transcriber over this workdir's model (w2v2jax/streaming.py): exact
        for a chunked model, a re-computed sliding window otherwise."""
        from w2v2jax.streaming import Stream

        return Stream.of(self, **options)

    def encode(self, text: str, ipa: bool = False) -> list[int]:
        """The transcript's ids; symbols outside the model's vocabulary are an InputError
        that lists them (the tokenizer's own message names an option this CLI lacks).
        A phoneme model's text is phonemised by espeak-ng unless ipa=True."""
        if ipa and not self.phonemes:
            raise UsageError(
                f"--ipa needs a phoneme model, and {self.workdir} spells characters: give "
                "the transcript as written, without --ipa"
            )
        if not self.phonemes:
            return self._encode(text, text, ipa)
        return self._encode(text if ipa else _phonemize(text), text, ipa)

    def _encode(self, spelled: str, text: str, ipa: bool) -> list[int]:
        """Ids of `spelled`: `text` itself, or espeak-ng's IPA for it (named in errors)."""
        try:
            ids = self.tok.encode(spelled)
        except toklib.OutOfVocabularyError:
            units = {u for w in self.tok.words(spelled) for u in w}
            missing = sorted(u for u in units if self.tok.encode(u, strict=False) == [UNK_ID])
            if self.phonemes:
                raise InputError(self._outside(missing, spelled, text, ipa)) from None
            raise InputError(
                f"the transcript has symbols this model cannot emit: {missing}; "
                f"rewrite it with the symbols of {self.workdir}/vocab.json (spell numbers "
                "out, drop other characters)"
            ) from None
        if not ids and self.phonemes:
            raise InputError(
                f"the IPA {text!r} holds no phonemes (stress and length marks alone are none)"
                if ipa
                else f"espeak-ng finds no phonemes in {text!r}: give words it can read, or "
                "the IPA itself (--ipa; ipa=True in Transcriber.align)"
            )
        return ids

    def _outside(self, missing: list[str], spelled: str, text: str, ipa: bool) -> str:
        own = sorted(self.tok.symbols[len(toklib.SPECIALS) :])
        shown = " ".join(own[:INVENTORY_SHOWN])
        more = f" and {len(own) - INVENTORY_SHOWN} more" if len(own) > INVENTORY_SHOWN else ""
        where = f"the IPA {text!r}" if ipa else f"espeak-ng's IPA for {text!r}, {spelled!r},"
        fix = (
            "write it with those"
            if ipa
            else "rephrase the text, or give its IPA within that inventory with --ipa"
        )
        return (
            f"{where} has phonemes this model cannot emit: {missing}; its {len(own)} "
            f"phonemes ({self.workdir}/vocab.json) are {shown}{more}: {fix}"
        )


def _phonemize(text: str) -> str:
    """espeak-ng's IPA for `text`, in the voice the corpus labels come from."""
    from w2v2jax.data import synth

    synth.check_installed(("espeak-ng",))
    return synth.phonemize(text) if text.strip() else ""
