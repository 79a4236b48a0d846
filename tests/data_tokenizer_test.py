"""Char and phoneme tokenizers; their vocab.json must drive transformers' Wav2Vec2CTCTokenizer."""

import json
import shutil

import pytest
from transformers import Wav2Vec2CTCTokenizer

from w2v2jax.data import synth, tokenizer
from w2v2jax.data.tokenizer import CharTokenizer, OutOfVocabularyError, PhonemeTokenizer

TEXTS = ["three one four", "don't stop", "go left right"]
IPA = ["θɹˈiː wˈʌn fˈoːɹ", "dˈoʊnt stˈɑːp", "tʃˈaɪldz dʒˈʌmp"]


def test_char_normalisation_and_round_trip():
    assert tokenizer.normalize_chars("Don’t STOP, go-left!  ") == "don't stop go left"
    tok = CharTokenizer.from_texts(TEXTS)
    assert tok.symbols[:5] == ["<pad>", "<s>", "</s>", "<unk>", "|"]
    ids = tok.encode("Three, one!")
    assert 0 not in ids and ids.count(tokenizer.DELIM_ID) == 1
    assert tok.decode(ids) == "three one"


def test_unknown_characters_name_text_and_symbols():
    tok = CharTokenizer.from_texts(TEXTS)
    with pytest.raises(OutOfVocabularyError, match=r"'zebra 42'.*\['2', '4', 'a', 'b', 'z'\]"):
        tok.encode("zebra 42")
    ids = tok.encode("zebra", strict=False)
    assert ids.count(tokenizer.UNK_ID) == 3  # z, b, a; e and r are known


def test_phonemes_kept_whole_length_attached_stress_dropped():
    assert tokenizer.split_phonemes("tʃˈaɪldz θɹˈiː") == [
        ["tʃ", "aɪ", "l", "d", "z"],
        ["θ", "ɹ", "iː"],
    ]
    tok = PhonemeTokenizer.from_texts(IPA)
    assert {"tʃ", "dʒ", "aɪ", "oʊ", "iː", "ɑː", "oː"} <= set(tok.symbols)
    assert not {"ˈ", "ː", "a"} & set(tok.symbols)
    assert tok.decode(tok.encode("θɹˈiː wˌʌn")) == "θɹiː wʌn"


@pytest.mark.parametrize("cls, texts", [(CharTokenizer, TEXTS), (PhonemeTokenizer, IPA)])
def test_hf_reads_our_vocab_and_decodes_the_same(tmp_path, cls, texts):
    tok = cls.from_texts(texts)
    tok.save(tmp_path)
    vocab = json.loads((tmp_path / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["<pad>"] == 0 and vocab["|"] == 4
    hf = Wav2Vec2CTCTokenizer(str(tmp_path / "vocab.json"))
    assert hf.pad_token_id == 0 and hf.word_delimiter_token == "|"
    for text in texts:
        ids = tok.encode(text)
        assert hf.decode(ids, group_tokens=False) == tok.decode(ids)
        # CTC greedy output: repeats and blanks; HF collapses by default.
        ctc = [x for i in ids for x in (i, i, 0)]
        assert hf.decode(ctc) == tok.decode(ctc, collapse_repeats=True) == tok.decode(ids)
    loaded = tokenizer.load(tmp_path)
    assert type(loaded) is cls and loaded.vocab == tok.vocab
    hf_pretrained = Wav2Vec2CTCTokenizer.from_pretrained(str(tmp_path))
    ids = tok.encode(texts[0])
    assert hf_pretrained.decode(ids, group_tokens=False) == tok.decode(ids)


def test_load_rejects_a_vocab_without_the_hf_layout(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"a": 0, "b": 1}))
    with pytest.raises(ValueError, match="expected ids 0..N-1 starting with"):
        tokenizer.load(tmp_path)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_ipa_for_the_digit_task_tokenizes():
    ipa = synth.phonemize_many(["three one four", "zero nine", "stop go"])
    tok = PhonemeTokenizer.from_texts(ipa)
    assert tok.decode(tok.encode(ipa[0])) == ipa[0].replace("ˈ", "").replace("ˌ", "")
    assert "oʊ" in tok.symbols  # "zero", "go": a diphthong is one label


@pytest.mark.parametrize("cls, texts", [(CharTokenizer, TEXTS), (PhonemeTokenizer, IPA)])
def test_symbols_of_is_what_from_texts_builds(cls, texts):
    symbols = cls.symbols_of(texts)
    assert symbols == sorted(set(symbols)) and not set(tokenizer.SPECIALS) & set(symbols)
    assert cls(symbols).vocab == cls.from_texts(texts).vocab
    halves = sorted({*cls.symbols_of(texts[:1]), *cls.symbols_of(texts[1:])})
    assert cls(halves).vocab == cls.from_texts(texts).vocab  # a union over splits is the same


def test_class_for_a_label_field():
    assert tokenizer.class_for("phonemes") is PhonemeTokenizer
    assert tokenizer.class_for("text") is CharTokenizer


# The symbols of the vocab.json a phoneme run wrote before IPA normalisation (espeak-ng IPA of
# every word of the synthetic tasks), and the ids that code gave these transcripts.
SAVED_SYMBOLS = [
    "aɪ",
    "aʊ",
    "b",
    "d",
    "dʒ",
    "eɪ",
    "f",
    "h",
    "i",
    "iə",
    "iː",
    "j",
    "k",
    "l",
    "m",
    "n",
    "oʊ",
    "oː",
    "p",
    "s",
    "t",
    "tʃ",
    "uː",
    "v",
    "w",
    "z",
    "æ",
    "ð",
    "ŋ",
    "ɐ",
    "ɑː",
    "ɔ",
    "ɔɪ",
    "ɔː",
    "ə",
    "ɚ",
    "ɛ",
    "ɜː",
    "ɡ",
    "ɪ",
    "ɹ",
    "ɾ",
    "ʃ",
    "ʊ",
    "ʌ",
    "θ",
    "ᵻ",
]
SAVED_IDS = {
    "θɹˈiː wˈʌn fˈoːɹ": [50, 45, 15, 4, 29, 49, 20, 4, 11, 22, 45],
    "zˈiəɹoʊ nˈaɪn": [30, 14, 45, 21, 4, 20, 5, 20],
    "tʃˈɪldɹən wˈɜːld": [26, 44, 18, 8, 45, 39, 20, 4, 29, 42, 18, 8],
}


def test_a_vocab_saved_before_normalisation_loads_with_the_same_ids(tmp_path):
    vocab = {s: i for i, s in enumerate([*tokenizer.SPECIALS, *SAVED_SYMBOLS])}
    (tmp_path / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"w2v2jax_kind": "phoneme"}))
    tok = tokenizer.load(tmp_path)
    assert tok.vocab == vocab
    for text, ids in SAVED_IDS.items():
        assert tok.encode(text) == ids
        # other spellings of the same phonemes: a tie bar, the ASCII colon
        assert tok.encode(text.replace("tʃ", "t͡ʃ").replace("ː", ":")) == ids


def test_a_vocab_in_other_spellings_keeps_its_ids_and_reads_ours():
    tok = PhonemeTokenizer(["t͡ʃ", "ə˞", "g", "a"])
    assert tok.encode("tʃɚɡa") == tok.encode("t͡ʃə˞ga") == [5, 6, 7, 8]
    assert tok.decode([5, 6, 7, 8]) == "t͡ʃə˞ga"  # its own symbols, as HF decodes them
    assert tok.units_of([5, 0, 4, 6, 1, 2]) == ["t͡ʃ", "ə˞"]
