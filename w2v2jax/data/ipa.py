"""IPA text in one spelling, and its phoneme units: the tokenizer and the metrics use both.

    normalize("ˈt͡ʃɜ˞tʃ")                  -> "tʃɝtʃ"
    normalize("ˈt͡ʃɜ˞tʃ", stress=True)     -> "ˈtʃɝtʃ"
    phonemes("tʃˈaɪldz ɡoʊ")              -> ["tʃ", "aɪ", "l", "d", "z", "ɡ", "oʊ"]

The choices, each where two spellings of one sound meet (the winner is espeak-ng's, since
every phoneme label of this project comes from `espeak-ng --ipa`, so the datasets and the
vocab.json files already written stay byte-identical under it):

- Unicode: NFC, after the mappings below were applied to the NFD form. A precomposed
  letter and its base + combining mark become the same code points (ĩ U+0129 and i U+0303
  are both U+0129; ɛ̃ has no precomposed form and stays two); stacked marks come in one
  canonical order. NFC rather than NFD because espeak-ng, transformers' vocabularies and
  text editors write NFC; the units do not depend on it (a mark joins its base either way).
  Never NFKC: it would turn modifier letters into plain ones (ʰ -> h, ˡ -> l).
- Tie bars (U+0361, U+035C) are removed: t͡ʃ is tʃ. espeak-ng writes affricates and
  diphthongs untied, and the units keep tʃ whole through MULTI_PHONEMES. With ties=True
  they are kept (U+035C as U+0361), which is how `phoneme_words` reads them: a tied pair is
  one unit even outside MULTI_PHONEMES (t͡s -> "ts"), written without its tie.
- Length: ASCII ':' is 'ː' (U+02D0); 'ː' and half-long 'ˑ' are kept, or dropped with
  length=False. They belong to the unit before them (iː is one unit, not i + ː).
- Stress marks ˈ ˌ are dropped unless stress=True: they mark syllables, not phones, and
  espeak-ng places them before the syllable's onset.
- ASCII 'g' is the IPA 'ɡ' (U+0261), the one espeak-ng writes (panphon knows only ɡ).
- Rhotic vowels: ə˞ is ɚ and ɜ˞ is ɝ, the single code points espeak-ng writes; the metrics
  spell them back as ə˞ and ɜ˞ for panphon, which lacks ɚ and ɝ.
- Ligatures are their letters (ʧ tʃ, ʤ dʒ, ʦ ts, ʣ dz, ʨ tɕ, ʥ dʑ); look-alikes from other
  alphabets are the IPA letters (Greek ε α φ, Latin ǝ ɩ ɂ, the integral sign ∫).
- espeak-ng's language-switch markers, "(fr)" around a foreign word, are removed.
- Modifier letters (ʰ ʲ ʷ ˠ ˤ ⁿ ˡ ʼ ˞) and combining marks join the unit before them: tʰ
  and ẽ are one unit each.

Nothing else is changed: r and ɹ, a and ɑ, ɫ and l are different sounds.
"""

import functools
import re
import unicodedata
from collections.abc import Iterable

# espeak-ng units written with two symbols; kept whole so one phoneme is one label.
MULTI_PHONEMES = ("tʃ", "dʒ", "aɪ", "aʊ", "eɪ", "oʊ", "ɔɪ", "əʊ", "eə", "ɪə", "ʊə", "iə")
STRESS = "ˈˌ"
LENGTH = "ːˑ"
TIE, UNDERTIE = "\u0361", "\u035c"
MODIFIERS = "ːˑ˞ʰʱʲʷˠˤⁿˡʼ"

_SAME = {
    ":": "ː",
    "g": "ɡ",
    "ə˞": "ɚ",
    "ɜ˞": "ɝ",
    "ʧ": "tʃ",
    "ʤ": "dʒ",
    "ʦ": "ts",
    "ʣ": "dz",
    "ʨ": "tɕ",
    "ʥ": "dʑ",
    "ε": "ɛ",
    "α": "ɑ",
    "φ": "ɸ",
    "ǝ": "ə",
    "ɩ": "ɪ",
    "ɂ": "ʔ",
    "∫": "ʃ",
    UNDERTIE: TIE,
}
_SAME_RE = re.compile("|".join(map(re.escape, sorted(_SAME, key=len, reverse=True))))
_LANG_SWITCH = re.compile(r"\([a-z-]+\)")
# Every combining mark of the BMP but the ties, as a regex class (the BMP holds all IPA).
_MARKS = "".join(
    re.escape(chr(c))
    for c in range(0x10000)
    if unicodedata.combining(chr(c)) and chr(c) not in (TIE, UNDERTIE)
)
_ATTACHED = f"[{_MARKS}{re.escape(MODIFIERS)}]*"


def normalize(text: str, *, stress: bool = False, length: bool = True, ties: bool = False) -> str:
    """`text` in this module's one spelling (see the module docstring for each choice);
    whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFD", _LANG_SWITCH.sub(" ", text))
    text = _SAME_RE.sub(lambda m: _SAME[m.group()], text)
    drop = ("" if stress else STRESS) + ("" if length else LENGTH) + ("" if ties else TIE)
    if drop:
        text = text.translate(str.maketrans("", "", drop))
    return unicodedata.normalize("NFC", " ".join(text.split()))


@functools.lru_cache(maxsize=64)
def _unit_pattern(inventory: frozenset) -> re.Pattern:
    """One unit: a multi-symbol unit of `inventory` (longest first) or any one symbol, with
    the marks that follow it, and whatever a tie bar joins to it."""
    multi = sorted((u for u in inventory if len(u) > 1), key=len, reverse=True)
    base = "|".join([*map(re.escape, multi), r"\S"])
    return re.compile(f"(?:{base}){_ATTACHED}(?:{TIE}\\S{_ATTACHED})*")


def phoneme_words(text: str, inventory: Iterable[str] = MULTI_PHONEMES) -> list[list[str]]:
    """IPA text -> words -> phoneme units: normalized (stress dropped), multi-symbol units
    of `inventory` whole (greedy longest match), marks and length joined to their unit, a
    tied pair one unit written without its tie."""
    pattern = _unit_pattern(frozenset(inventory))
    words = []
    for word in normalize(text, ties=True).split():
        units = [u for u in (m.replace(TIE, "") for m in pattern.findall(word)) if u]
        if units:  # a stray tie is no unit
            words.append(units)
    return words


def phonemes(text: str, inventory: Iterable[str] = MULTI_PHONEMES) -> list[str]:
    """The phoneme units of `text` in order, word boundaries left out (what PER counts)."""
    return [u for word in phoneme_words(text, inventory) for u in word]
