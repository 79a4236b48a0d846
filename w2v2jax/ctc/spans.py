"""Label spans of a forced alignment: the frames each label owns, and words made of them.

A CTC path puts each label on a run of frames (its emitting frames) with blank frames
between labels. Which label a blank frame counts toward decides a phone's duration; the
rule is the `blanks` argument:

- "exclude" (the default, and `Alignment.starts_BxU` / `ends_BxU`): a label spans its first
  to one past its last emitting frame; blank frames belong to no label. A pause is then a
  gap between two phones, never a long phone, and a phone lasts as long as the model
  emitted it: durations come from the audio, not a constant (allosaurus#62 reports 45 ms
  for every phone). The cost: a peaky model that emits a phone on one frame gives it one
  frame, and the phone's true end lies somewhere in the blanks after it.
- "previous": every blank frame joins the label before it (the blanks before the first
  label join none), so the spans tile the audio from the first label to the end, as a
  segmentation (a TextGrid tier) wants.
- "split": the blanks between two labels are shared at their middle (the earlier label takes
  the odd frame); the blanks before the first and after the last label join none.

`Alignment.label_index_BxT` (each frame's label position, -1 on blanks) is the whole path,
for any other rule. Times: frame t is at t x the hop (`frames.frame_seconds(cfg)`, 20 ms for
wav2vec2's stack), the start of its 25 ms window, as `word_spans` and torchaudio count; a
span [start, end) in frames is [start x hop, end x hop) in seconds.
"""

from typing import NamedTuple

import numpy as np

from w2v2jax.ctc.align import STANDARD_FRAME_SECONDS

BLANK_RULES = ("exclude", "previous", "split")


class TokenSpan(NamedTuple):
    index: int  # the label's position u in its label sequence
    id: int  # the label id
    start: int  # first frame
    end: int  # one past the last frame

    def seconds(self, frame_seconds: float = STANDARD_FRAME_SECONDS) -> tuple[float, float]:
        return self.start * frame_seconds, self.end * frame_seconds


def token_spans(alignment, labels_BxU, *, blanks="exclude", skip_ids=()) -> list[list[TokenSpan]]:
    """Each row's labels as TokenSpans in order (module docstring: the `blanks` rules).

    The rule is applied over every label, then the labels in `skip_ids` are left out: with
    the word delimiter skipped, "previous" ends a word's last phone where the delimiter
    begins. An infeasible row (score -inf) has no spans."""
    if blanks not in BLANK_RULES:
        raise ValueError(f"blanks={blanks!r}: choose one of {BLANK_RULES}")
    starts_BxU, ends_BxU = np.asarray(alignment.starts_BxU), np.asarray(alignment.ends_BxU)
    labels_BxU = np.asarray(labels_BxU)
    # Padded frames are -1 on the path, and an infeasible row is -1 throughout.
    frames_B = np.sum(np.asarray(alignment.path_BxT) >= 0, axis=1)
    skip = {int(i) for i in skip_ids}
    rows = []
    for labels_U, starts_U, ends_U, frames in zip(
        labels_BxU, starts_BxU, ends_BxU, frames_B, strict=True
    ):
        placed = np.flatnonzero(ends_U >= 0)
        starts, ends = _apply(starts_U[placed].copy(), ends_U[placed].copy(), blanks, frames)
        rows.append(
            [
                TokenSpan(int(u), int(labels_U[u]), int(s), int(e))
                for u, s, e in zip(placed, starts, ends, strict=True)
                if int(labels_U[u]) not in skip
            ]
        )
    return rows


def _apply(starts_N, ends_N, blanks, frames):
    """The spans of N placed labels (in path order) under a blanks rule."""
    if blanks == "previous" and len(starts_N):
        ends_N[:-1] = starts_N[1:]
        ends_N[-1] = frames
    elif blanks == "split" and len(starts_N):
        middle_N = ends_N[:-1] + (starts_N[1:] - ends_N[:-1] + 1) // 2
        ends_N[:-1] = middle_N
        starts_N[1:] = middle_N
    return starts_N, ends_N


def word_groups(spans: list[TokenSpan], word_delimiter_id: int) -> list[list[TokenSpan]]:
    """One row's spans cut into words at the delimiter (which is left out); with
    blanks="exclude" each word's first start and last end are `word_spans`'s."""
    words, current = [], []
    for span in spans:
        if span.id != word_delimiter_id:
            current.append(span)
        elif current:
            words.append(current)
            current = []
    return words + ([current] if current else [])
