"""The feature-weighted phone error (FER) through panphon's articulatory features.

FER is panphon's `Distance.feature_error_rate`: over a corpus, the sum of the feature edit
distances between each reference and its hypothesis (`Distance.feature_edit_distance`),
divided by the number of panphon segments of the references. In that edit distance

- substituting segment a by b costs the mean over panphon's 24 features of |a_f - b_f| / 2
  (features are +1, 0, -1): d for t costs 1/24 (voicing), a for t 19/48;
- inserting or deleting a segment costs the mean over its features of 1 (0.5 for a
  feature it leaves unspecified): a bit under 1, like a whole phone in PER.

So FER is on PER's scale, and a near miss costs a fraction of a phone. The segments are
the phoneme units of `w2v2jax.data.ipa` spelled for panphon: ɚ, ɝ and ᵻ, which panphon
lacks, as ə˞, ɜ˞ and ɨ; a two-symbol unit panphon knows tied (tʃ as t͡ʃ, one segment, as
it is one unit in PER); any other unit as the segments panphon reads in it (the diphthong
aɪ is a and ɪ, two segments with their own features).

panphon's own loop is O(n m) in Python per pair; here the same recurrence runs row by row
over many pairs at once in numpy, on cost tables of the segments seen so far.
"""

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np

from w2v2jax.data import ipa
from w2v2jax.errors import InputError

PANPHON_SPELLING = {"ɚ": "ə˞", "ɝ": "ɜ˞", "ᵻ": "ɨ"}
CHUNK = 512  # pairs per batched recurrence: bounds the padding and the memory


class UnknownPhoneError(InputError):
    """A phoneme unit that panphon has no features for."""


@functools.cache
def _table():
    """panphon's feature table, built once: it reads its CSVs (~1 s), so not at import."""
    from panphon.featuretable import FeatureTable

    return FeatureTable()


def _panphon_segments(unit: str) -> list[str] | None:
    """panphon's segments of one unit, or None when panphon cannot read all of it."""
    spelled = "".join(PANPHON_SPELLING.get(c, c) for c in ipa.normalize(unit))
    ft = _table()
    if len(spelled) > 1 and not unicodedata.combining(spelled[1]):
        tied = spelled[0] + ipa.TIE + spelled[1:]
        if ft.seg_known(tied):
            return [unicodedata.normalize("NFD", tied)]
    segs = ft.ipa_segs(spelled)
    return segs if segs and "".join(segs) == unicodedata.normalize("NFD", spelled) else None


class _Segments:
    """Segment ids, their feature vectors and the cost tables of panphon's unweighted
    feature edit distance, grown as new units are seen. A unit panphon cannot read is one
    segment of its own (strict=False) that costs 1 to insert, delete or substitute."""

    def __init__(self):
        self.ids: dict = {}
        self.vectors: list = []  # None for a unit without features
        self.of_unit: dict[str, tuple[int, ...] | None] = {}
        self._tables = None

    def _id(self, key, vector) -> int:
        if key not in self.ids:
            self.ids[key] = len(self.vectors)
            self.vectors.append(vector)
            self._tables = None
        return self.ids[key]

    def of(self, unit: str, strict: bool) -> tuple[int, ...]:
        if unit not in self.of_unit:
            segs = _panphon_segments(unit)
            vectors = (
                [_table().word_to_vector_list(s, numeric=True)[0] for s in segs] if segs else []
            )
            self.of_unit[unit] = (
                tuple(self._id(s, v) for s, v in zip(segs, vectors, strict=True)) if segs else None
            )
        ids = self.of_unit[unit]
        if ids is not None:
            return ids
        if strict:
            raise UnknownPhoneError(
                f"phoneme {unit!r} has IPA symbols outside panphon's inventory, so it has no "
                "features: write it in IPA panphon knows, or score with strict=False"
            )
        return (self._id(("unknown", unit), None),)

    def tables(self) -> tuple[np.ndarray, np.ndarray]:
        """(substitution costs [K, K], insertion = deletion costs [K]) of the K segments."""
        if self._tables is None:
            known = np.array([v is not None for v in self.vectors], bool)
            f = len(_table().names)
            v_KxF = np.array([[0] * f if v is None else v for v in self.vectors], float)
            v_KxF = v_KxF.reshape(len(self.vectors), f)
            sub_KxK = np.abs(v_KxF[:, None] - v_KxF[None]).sum(-1) / 2 / f
            indel_K = np.where(v_KxF == 0, 0.5, 1.0).sum(-1) / f
            both = known[:, None] & known[None]
            sub_KxK = np.where(both, sub_KxK, 1.0 - np.eye(len(known)))
            self._tables = sub_KxK, np.where(known, indel_K, 1.0)
        return self._tables


@functools.cache
def _segments() -> _Segments:
    return _Segments()


def distances(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], sub_KxK, indel_K):
    """The edit distance of each (ref ids, hyp ids) pair under the cost tables: panphon's
    `min_edit_distance`, one row of the table per step for all pairs at once. A row's
    insertions chain left to right; with C the running sum of insertion costs,
    d[j] = C[j] + min over k <= j of (e[k] - C[k]), a cumulative minimum."""
    out = np.zeros(len(pairs))
    if not len(indel_K):  # no segment seen: every pair is two empty sequences
        return out
    order = np.argsort([len(r) for r, _ in pairs], kind="stable")
    for start in range(0, len(pairs), CHUNK):
        chunk = order[start : start + CHUNK]
        out[chunk] = _chunk_distances([pairs[i] for i in chunk], sub_KxK, indel_K)
    return out


def _chunk_distances(pairs, sub_KxK, indel_K):
    n_P = np.array([len(r) for r, _ in pairs])
    m_P = np.array([len(h) for _, h in pairs])
    ref_PxN = np.zeros((len(pairs), max(n_P.max(), 1)), int)
    hyp_PxM = np.zeros((len(pairs), max(m_P.max(), 1)), int)
    for p, (r, h) in enumerate(pairs):
        ref_PxN[p, : len(r)], hyp_PxM[p, : len(h)] = r, h
    rows = np.arange(len(pairs))
    c_PxM1 = np.concatenate([np.zeros((len(pairs), 1)), np.cumsum(indel_K[hyp_PxM], 1)], 1)
    d_PxM1 = c_PxM1
    out = np.where(n_P == 0, c_PxM1[rows, m_P], 0.0)
    for i in range(n_P.max()):
        ref_P = ref_PxN[:, i]
        delete_P = indel_K[ref_P]
        e_PxM = np.minimum(
            d_PxM1[:, 1:] + delete_P[:, None], d_PxM1[:, :-1] + sub_KxK[ref_P[:, None], hyp_PxM]
        )
        first_P = d_PxM1[:, 0] + delete_P
        g_PxM1 = np.concatenate([first_P[:, None], e_PxM - c_PxM1[:, 1:]], 1)
        d_PxM1 = np.minimum.accumulate(g_PxM1, axis=1) + c_PxM1
        done = n_P == i + 1
        out[done] = d_PxM1[rows[done], m_P[done]]
    return out


class FeatureErrors:
    """Accumulates feature edit distances and reference segments over a corpus of unit
    sequences; the distances are computed in one batch when `edits` or `fer` is read."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self.segments = 0
        self.unknown: set[str] = set()  # units scored as whole phones (strict=False)
        self._edits = 0.0
        self._pending: list[tuple[list[int], list[int]]] = []

    def add(self, ref_units: Sequence[str], hyp_units: Sequence[str]) -> None:
        table = _segments()
        ref = [s for u in ref_units for s in table.of(u, self.strict)]
        hyp = [s for u in hyp_units for s in table.of(u, self.strict)]
        self.segments += len(ref)
        self._pending.append((ref, hyp))
        if not self.strict:
            self.unknown.update(u for u in (*ref_units, *hyp_units) if table.of_unit[u] is None)

    @property
    def edits(self) -> float:
        if self._pending:
            self._edits += float(distances(self._pending, *_segments().tables()).sum())
            self._pending = []
        return self._edits

    @property
    def fer(self) -> float:
        return self.edits / max(self.segments, 1)


def panphon_spelling(units: Sequence[str], strict: bool = True) -> str:
    """The units as the string panphon reads as the same segments (for comparing with
    panphon's own functions)."""
    table = _segments()
    ids = [s for u in units for s in table.of(u, strict)]
    key = {i: k for k, i in table.ids.items()}
    return "".join(key[s] if isinstance(key[s], str) else key[s][1] for s in ids)


def feature_distance(ref_units: Sequence[str], hyp_units: Sequence[str]) -> float:
    """panphon's `feature_edit_distance` between two unit sequences (strict)."""
    errors = FeatureErrors()
    errors.add(ref_units, hyp_units)
    return errors.edits
