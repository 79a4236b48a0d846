"""Character and IPA-phoneme tokenizers whose vocab.json transformers' Wav2Vec2CTCTokenizer reads.

Ids: 0 "<pad>" (the CTC blank), 1 "<s>", 2 "</s>", 3 "<unk>", 4 "|" (stands for a space), then
the symbols in sorted order. Keeping HF's layout means a vocabulary built here drives a HF
checkpoint head and a HF vocabulary drives ours (`load` accepts either).

    tok = CharTokenizer.from_texts(texts)        # or PhonemeTokenizer.from_texts(ipa_strings)
    ids = tok.encode("three one")                 # list[int]; raises on unknown characters
    tok.decode(ids) == "three one"
    tok.save(workdir); load(workdir)
"""

import json
import os
import unicodedata
from collections.abc import Iterable, Sequence

from w2v2jax.data import ipa
from w2v2jax.data.ipa import MULTI_PHONEMES
from w2v2jax.errors import DataError, InputError
from w2v2jax.files import write_json

PAD, BOS, EOS, UNK, DELIM = "<pad>", "<s>", "</s>", "<unk>", "|"
SPECIALS = (PAD, BOS, EOS, UNK, DELIM)
BLANK_ID, UNK_ID, DELIM_ID = 0, 3, 4


class OutOfVocabularyError(InputError):
    """A transcript holds symbols the vocabulary lacks."""


def normalize_chars(text: str) -> str:
    """Lowercase; punctuation becomes a space; apostrophes kept; whitespace collapsed.

    Digits and other symbols are kept on purpose: silently dropping "3" would corrupt the label,
    so they surface as out-of-vocabulary errors that tell the user to spell numbers out.
    """
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    kept = [c if c == "'" or not unicodedata.category(c).startswith("P") else " " for c in text]
    return " ".join("".join(kept).split())


def split_phonemes(text: str, inventory: Iterable[str] = MULTI_PHONEMES) -> list[list[str]]:
    """IPA string -> words -> phoneme units (ipa.phoneme_words: normalized, stress dropped,
    multi-symbol units whole by greedy longest match)."""
    return ipa.phoneme_words(text, inventory)


class Tokenizer:
    """Shared id logic; subclasses say how text becomes words of symbols."""

    kind = ""

    def __init__(self, symbols: Sequence[str]):
        self.vocab = {s: i for i, s in enumerate(SPECIALS)}
        for s in symbols:
            self.vocab.setdefault(s, len(self.vocab))
        self.symbols = list(self.vocab)
        self._ids = self.vocab  # what encode looks units up in; subclasses add spellings

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def words(self, text: str) -> list[list[str]]:
        raise NotImplementedError

    @classmethod
    def from_texts(cls, texts: Iterable[str]):
        return cls(cls.symbols_of(texts))

    @classmethod
    def symbols_of(cls, texts: Iterable[str]) -> list[str]:
        """The sorted units `texts` hold: cls(symbols_of(texts)) is from_texts(texts), and a
        dataset records them at build time so no record is read to make its tokenizer."""
        found = {u for t in texts for w in cls.words_of(t) for u in w}
        return sorted(found - set(SPECIALS))

    @classmethod
    def words_of(cls, text: str) -> list[list[str]]:
        return cls([]).words(text)

    def encode(self, text: str, strict: bool = True) -> list[int]:
        """Text -> ids, "|" between words. Unknown symbols raise unless strict=False (<unk>)."""
        words = self.words(text)
        missing = sorted({u for w in words for u in w if u not in self._ids})
        if missing and strict:
            raise OutOfVocabularyError(
                f"transcript {text!r} has symbols outside the {self.kind} vocabulary: {missing}; "
                "the model cannot emit them: remove or replace them in the transcript"
            )
        ids = []
        for w in words:
            if ids:
                ids.append(DELIM_ID)
            ids.extend(self._ids.get(u, UNK_ID) for u in w)
        return ids

    def decode(self, ids: Iterable[int], collapse_repeats: bool = False) -> str:
        """Ids -> text like HF Wav2Vec2CTCTokenizer.decode: blanks dropped, "|" is a space.

        collapse_repeats=True first merges repeated ids (CTC greedy output, HF's default
        group_tokens=True); the default treats `ids` as a label sequence.
        """
        ids = [int(i) for i in ids]
        if collapse_repeats:
            ids = [i for j, i in enumerate(ids) if j == 0 or ids[j - 1] != i]
        parts = [" " if i == DELIM_ID else self.symbols[i] for i in ids if i not in (0, 1, 2)]
        return " ".join("".join(parts).split())

    def units_of(self, ids: Iterable[int]) -> list[str]:
        """The symbols of label ids in order, blanks, <s>, </s> and "|" left out: the units
        an error rate over symbols (PER) counts, as the model emits them."""
        return [self.symbols[i] for i in map(int, ids) if i not in (0, 1, 2, DELIM_ID)]

    def save(self, directory: str | os.PathLike) -> None:
        """Writes vocab.json and tokenizer_config.json (Wav2Vec2CTCTokenizer.from_pretrained),
        each whole or not at all."""
        write_json(os.path.join(directory, "vocab.json"), self.vocab, indent=1)
        config = {
            "tokenizer_class": "Wav2Vec2CTCTokenizer",
            "unk_token": UNK,
            "pad_token": PAD,
            "bos_token": BOS,
            "eos_token": EOS,
            "word_delimiter_token": DELIM,
            "do_lower_case": False,
            "w2v2jax_kind": self.kind,
        }
        write_json(os.path.join(directory, "tokenizer_config.json"), config, indent=1)

    @classmethod
    def load(cls, directory: str | os.PathLike):
        with open(os.path.join(directory, "vocab.json"), encoding="utf-8") as f:
            vocab = json.load(f)
        order = sorted(vocab, key=vocab.get)
        if order[:5] != list(SPECIALS) or [vocab[s] for s in order] != list(range(len(order))):
            raise DataError(
                f"{directory}/vocab.json: expected ids 0..N-1 starting with "
                f"{list(SPECIALS)}; got {order[:5]}"
            )
        return cls(order[5:])


class CharTokenizer(Tokenizer):
    """Letters and apostrophes of normalize_chars(text)."""

    kind = "char"

    def words(self, text: str) -> list[list[str]]:
        return [list(w) for w in normalize_chars(text).split()]


class PhonemeTokenizer(Tokenizer):
    """IPA phonemes (espeak-ng --ipa) in ipa.normalize's spelling: multi-symbol units whole,
    length marks attached, stress dropped.

    A vocabulary written in another spelling (t͡ʃ, ə˞, g) keeps its ids and symbols: each
    symbol is also reachable under its normalized spelling, which is what `words` yields.
    """

    kind = "phoneme"

    def __init__(self, symbols: Sequence[str]):
        super().__init__(symbols)
        own = self.symbols[len(SPECIALS) :]
        spelled = {s: ipa.normalize(s) for s in own}
        self._ids = {}
        for s in own:
            if spelled[s]:
                self._ids.setdefault(spelled[s], self.vocab[s])
        self._ids.update(self.vocab)
        multi = (u for u in (*own, *spelled.values()) if len(u) > 1)
        self.inventory = frozenset(MULTI_PHONEMES).union(multi)

    def words(self, text: str) -> list[list[str]]:
        return split_phonemes(text, self.inventory)


def class_for(label_key: str) -> type[Tokenizer]:
    """The tokenizer of a label field: IPA units for "phonemes", characters for the others."""
    return PhonemeTokenizer if label_key == "phonemes" else CharTokenizer


def load(directory: str | os.PathLike) -> Tokenizer:
    """Loads a saved tokenizer of either kind (chars if the config does not say)."""
    kind = "char"
    config = os.path.join(directory, "tokenizer_config.json")
    if os.path.exists(config):
        with open(config, encoding="utf-8") as f:
            kind = json.load(f).get("w2v2jax_kind", "char")
    return {"char": CharTokenizer, "phoneme": PhonemeTokenizer}[kind].load(directory)
