"""Word n-gram language model read from an ARPA file, plus hotwords, scored as pyctcdecode does.

pyctcdecode's convention (its decoder.py and language_model.py): a completed word adds
    alpha * ln(10) * (log10 p(word | history) [+ unk_score_offset if out of vocabulary]) + beta
where `ln(10)` turns kenlm's log10 into natural log; the sentence end adds log10 p(</s> | ...)
the same way; a partial word that no known word starts with costs unk_score_offset (not
scaled by alpha, longer than 6 characters scaled by length / 6); each hotword occurrence in
the text adds hotword_weight, and a partial word that starts a hotword adds
hotword_weight * len(partial) / len(shortest such hotword).
"""

import math
import re

LOG10_TO_LN = math.log(10.0)
AVG_WORD_LEN = 6  # pyctcdecode's AVG_TOKEN_LEN
OOV_LOG10 = -100.0  # kenlm's log10 p(<unk>) when the ARPA file has no <unk>


class ArpaLM:
    """Back-off n-gram model: log10 probabilities and back-off weights keyed by word tuples."""

    def __init__(self, ngrams, order):
        self.ngrams = ngrams  # {(w1, ..., wn): (log10 prob, log10 back-off)}
        self.order = order
        self.words = {key[0] for key in ngrams if len(key) == 1} - {"<s>", "</s>", "<unk>"}

    @classmethod
    def from_file(cls, path):
        ngrams, order, section = {}, 0, None
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                line = line.strip()
                match = re.fullmatch(r"\\(\d+)-grams:", line)
                if match:
                    section = int(match.group(1))
                    order = max(order, section)
                elif line.startswith("\\") or not line or section is None:
                    section = None if line == "\\end\\" else section
                else:
                    fields = line.split()
                    words = tuple(fields[1 : 1 + section])
                    if len(words) != section:
                        raise ValueError(f"{path}: malformed {section}-gram line {line!r}.")
                    backoff = float(fields[1 + section]) if len(fields) > 1 + section else 0.0
                    ngrams[words] = (float(fields[0]), backoff)
        if order == 0:
            raise ValueError(f"{path} has no \\1-grams: section; is it an ARPA file?")
        return cls(ngrams, order)

    def log10_prob(self, history, word):
        """log10 p(word | history) with Katz back-off; history is a tuple of words."""
        history = history[len(history) - self.order + 1 :] if self.order > 1 else ()
        backoff = 0.0
        while True:
            entry = self.ngrams.get((*history, word))
            if entry is not None:
                return backoff + entry[0]
            if not history:
                unk = self.ngrams.get(("<unk>",))
                return backoff + (unk[0] if unk else OOV_LOG10)
            backoff += self.ngrams.get(history, (0.0, 0.0))[1]
            history = history[1:]


# pyctcdecode's defaults, the one copy every search signature uses.
ALPHA, BETA, UNK_SCORE_OFFSET, HOTWORD_WEIGHT = 0.5, 1.5, -10.0, 10.0


class WordScorer:
    """LM + hotword score of a transcript prefix, split into completed words and a partial one."""

    def __init__(
        self,
        lm=None,
        *,
        alpha=ALPHA,
        beta=BETA,
        unk_score_offset=UNK_SCORE_OFFSET,
        hotwords=(),
        hotword_weight=HOTWORD_WEIGHT,
    ):
        self.lm, self.alpha, self.beta, self.unk = lm, alpha, beta, unk_score_offset
        self.prefixes = {w[:i] for w in (lm.words if lm else ()) for i in range(1, len(w) + 1)}
        words = sorted({w for phrase in hotwords for w in phrase.split()}, key=len)
        self.hotwords, self.hotword_weight = set(words), hotword_weight
        self.hotword_prefixes = {}
        for word in words:  # shortest first, so the first hotword seen per prefix is shortest
            for i in range(1, len(word) + 1):
                self.hotword_prefixes.setdefault(word[:i], len(word))

    def start(self):
        return ("<s>",)

    def word(self, history, word, is_last=False):
        """(score, new history) for a completed word; is_last adds the sentence end."""
        if self.lm is None:
            return self.hotword_weight * (word in self.hotwords), history
        log10 = self.lm.log10_prob(history, word)
        if word not in self.lm.words:
            log10 += self.unk
        history = (*history, word)
        if is_last:
            log10 += self.lm.log10_prob(history, "</s>")
        bonus = self.hotword_weight * (word in self.hotwords)
        return self.alpha * LOG10_TO_LN * log10 + self.beta + bonus, history

    def end(self, history):
        """Score of the sentence end after a completed word."""
        if self.lm is None:
            return 0.0
        return self.alpha * LOG10_TO_LN * self.lm.log10_prob(history, "</s>")

    def partial(self, part):
        """Score of an unfinished word: hotword progress, else an unknown-word penalty."""
        if not part:
            return 0.0
        if part in self.hotword_prefixes:
            return self.hotword_weight * len(part) / self.hotword_prefixes[part]
        if self.lm is None or part in self.prefixes:
            return 0.0
        return self.unk * max(1.0, len(part) / AVG_WORD_LEN)
