"""Speech whose word boundaries are known by construction, to measure alignments against.

    utts = draw_joined(["one", "two", "five"], count=20, seed=0)
    utts[0].audio                        # int16 [S] at 16 kHz
    [(w.text, w.phonemes, w.start, w.end) for w in utts[0].words]   # samples

Each word is synthesized alone by espeak-ng (one training voice, speed and pitch per
utterance, drawn as the corpus draws them), and its clip is cut to its speech: from the first
to one past the last sample where it is within TRIM_DB of the clip's loudest (found on its
RMS envelope over 5 ms, refined to the sample: `speech_bounds`). The clips are then joined with digital silence of drawn
lengths, and silence before the first and after the last. So a word's first phone starts at
its clip's first sample and its last phone ends at its clip's last: those two boundaries of
every word are known to the sample, whatever the model. (Boundaries inside a word are not:
espeak-ng does not say where one of its phones ends.)

The threshold decides what "speech" is: at 40 dB below the peak a word starts where it rises
above 1% of its loudest, which on espeak-ng's clean output is never before and at most 4 ms
after its first non-zero sample (tests/data_joined_test.py); a faint release or breath after the last
phone below that level is counted as silence. Phonemes are each word's own espeak-ng IPA
(en-us, as the corpus labels), so the joined utterance's IPA is the words' IPA in order.
"""

import dataclasses

import numpy as np

from w2v2jax.data import synth
from w2v2jax.frames import SAMPLE_RATE

TRIM_DB = 40.0
WINDOW = SAMPLE_RATE // 200  # 5 ms


@dataclasses.dataclass(frozen=True)
class JoinedWord:
    text: str
    phonemes: str  # espeak-ng's IPA for the word alone
    start: int  # the sample where its first phone starts, in the joined audio
    end: int  # one past the sample where its last phone ends

    def seconds(self) -> tuple[float, float]:
        return self.start / SAMPLE_RATE, self.end / SAMPLE_RATE


@dataclasses.dataclass(frozen=True)
class Joined:
    audio: np.ndarray  # int16 [S]
    words: tuple[JoinedWord, ...]
    voice: str

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def ipa(self) -> str:
        return " ".join(w.phonemes for w in self.words)


def speech_bounds(samples_S: np.ndarray, trim_db: float = TRIM_DB) -> tuple[int, int]:
    """(first, one past the last) sample of the speech in a clip, (0, 0) for silence.

    The envelope (5 ms RMS) finds where the clip is within trim_db of its peak; a centred
    window sees a sharp onset up to 2.5 ms early, so each end is then moved to the first
    (last) sample near it whose own magnitude reaches that level."""
    x = np.asarray(samples_S, np.float64)
    envelope = np.sqrt(np.convolve(x * x, np.ones(WINDOW) / WINDOW, mode="same"))
    level = float(envelope.max(initial=0.0)) * 10 ** (-trim_db / 20)
    if level == 0.0:
        return 0, 0
    loud = np.flatnonzero(envelope >= level)
    near = np.flatnonzero(np.abs(x[max(loud[0] - WINDOW, 0) : loud[0] + WINDOW]) >= level)
    first = max(loud[0] - WINDOW, 0) + (near[0] if len(near) else WINDOW)
    near = np.flatnonzero(np.abs(x[max(loud[-1] - WINDOW, 0) : loud[-1] + WINDOW]) >= level)
    last = max(loud[-1] - WINDOW, 0) + (near[-1] if len(near) else WINDOW)
    return int(first), int(last) + 1


def join(
    clips: list[np.ndarray],
    texts: list[str],
    phonemes: list[str],
    gaps_s: list[float],
    edge_s: float,
    voice: str = "",
) -> Joined:
    """Trimmed clips joined with gaps_s[i] seconds of silence between clip i and i + 1 and
    edge_s seconds before the first and after the last."""
    if len(gaps_s) != len(clips) - 1:
        raise ValueError(f"{len(clips)} clips need {len(clips) - 1} gaps, got {len(gaps_s)}")
    edge = np.zeros(round(edge_s * SAMPLE_RATE), np.int16)
    pieces, words, at = [edge], [], len(edge)
    for i, (clip, text, ipa) in enumerate(zip(clips, texts, phonemes, strict=True)):
        first, last = speech_bounds(clip)
        if last == first:
            raise ValueError(f"the clip of {text!r} is silent")
        speech = np.asarray(clip[first:last], np.int16)
        words.append(JoinedWord(text, ipa, at, at + len(speech)))
        gap = np.zeros(round((gaps_s[i] if i < len(gaps_s) else edge_s) * SAMPLE_RATE), np.int16)
        pieces += [speech, gap]
        at += len(speech) + len(gap)
    return Joined(np.concatenate(pieces), tuple(words), voice)


def draw_joined(
    vocabulary: list[str],
    count: int,
    seed: int = 0,
    words: tuple[int, int] = (3, 6),
    gap_s: tuple[float, float] = (0.1, 0.5),
    edge_s: float = 0.3,
    voices: list[synth.Voice] | None = None,
) -> list[Joined]:
    """`count` utterances of words[0]..words[1] words from `vocabulary`, each in one espeak-ng
    voice (default: the training voices) with the corpus's speed and pitch draws, joined
    with silences drawn uniformly from gap_s; the same seed gives the same audio."""
    synth.check_installed(("espeak-ng",))
    voices = voices or synth.train_voices()[1]
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(count):
        chosen = [
            vocabulary[i]
            for i in rng.integers(len(vocabulary), size=rng.integers(words[0], words[1] + 1))
        ]
        utt = synth.draw_settings("", voices[rng.integers(len(voices))], rng)
        plans.append((chosen, utt, rng.uniform(*gap_s, size=len(chosen) - 1).tolist()))
    lexicon = sorted({w for chosen, _, _ in plans for w in chosen})
    ipa = dict(zip(lexicon, synth.phonemize_many(lexicon), strict=True))
    out = []
    for chosen, utt, gaps in plans:
        clips = [synth.synthesize(dataclasses.replace(utt, text=w)) for w in chosen]
        out.append(join(clips, chosen, [ipa[w] for w in chosen], gaps, edge_s, utt.voice.name))
    return out
