"""Tests of nvae.data.text: WikiText normalisation, sentences, user-text cleaning, the tokenizer."""

from __future__ import annotations

import re
import unicodedata

import pytest
from helpers import latent_config
from hypothesis import given, settings
from hypothesis import strategies as st

from nvae.data.corpora import load_sentences
from nvae.data.text import (
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK,
    clean_user_text,
    collate,
    decode_batch,
    decode_ids,
    encode_batch,
    encode_text,
    encode_texts,
    is_heading,
    load_tokenizer,
    normalize_wikitext,
    reconstruct_text,
    split_sentences,
    tokens_of,
    train_tokenizer,
)

# -- normalize_wikitext -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, expected",
    [
        ("a state @-@ of @-@ the @-@ art design", "a state-of-the-art design"),
        ("1 @,@ 000 people", "1,000 people"),
        ("2 @.@ 5 kg", "2.5 kg"),
        ("it 's here", "it's here"),
        ("we do n't know", "we don't know"),
        ("they don 't know", "they don't know"),
        ("we 're sure they 've gone and I 'm sad , he 'll say", "we're sure they've gone and I'm sad, he'll say"),
        ("hello , world . yes ; no : maybe ! really ?", "hello, world. yes; no: maybe! really?"),
        ("a ( 24 in ) b [ c ] 79 %", "a (24 in) b [c] 79%"),
        ('the " cutter " , which', 'the "cutter", which'),
        ('" one " and " two "', '"one" and "two"'),
        ("a <unk> lobster", "a [UNK] lobster"),
        ("  many   spaces\there  \n", "many spaces here"),
        (" ", ""),
    ],
)
def test_normalize_wikitext_rules(line, expected):
    assert normalize_wikitext(line) == expected


def test_normalize_wikitext_real_line():
    line = ' The spines of H. americanus are red or red @-@ tipped , while 3 @,@ 462 t ( 79 % ) were " excellent " . \n'
    assert normalize_wikitext(line) == (
        'The spines of H. americanus are red or red-tipped, while 3,462 t (79%) were "excellent".'
    )


def test_is_heading():
    assert is_heading(" = Homarus gammarus = \n")
    assert is_heading(" = = Description = = ")
    assert is_heading(" = = = Early life = = = ")
    assert not is_heading(" The value is x = 3 = y . ")
    assert not is_heading(" ")
    assert not is_heading("Homarus gammarus is a lobster .")


# -- split_sentences ----------------------------------------------------------------------------------


def test_split_sentences_basic():
    text = 'It rained. Then it stopped! Did it? "Yes," he said. 1990 was dry. [UNK] came later.'
    assert split_sentences(text) == [
        "It rained.",
        "Then it stopped!",
        "Did it?",
        '"Yes," he said.',
        "1990 was dry.",
        "[UNK] came later.",
    ]


def test_split_sentences_keeps_abbreviations_and_initials():
    text = (
        "Mr. Smith met Dr. Jones at St. Paul. The U.S. Army and H. americanus were there. He left at 5 p.m. yesterday."
    )
    assert split_sentences(text) == [
        "Mr. Smith met Dr. Jones at St. Paul.",
        "The U.S. Army and H. americanus were there.",
        "He left at 5 p.m. yesterday.",
    ]


def test_split_sentences_needs_uppercase_after_period():
    assert split_sentences("It weighs 0.7 kg. and more") == ["It weighs 0.7 kg. and more"]
    assert split_sentences("  ") == []
    assert split_sentences("One (short). Two.") == ["One (short).", "Two."]


# -- clean_user_text ----------------------------------------------------------------------------------


def test_clean_user_text_controls_and_spaces():
    assert clean_user_text("a\x00b") == "ab"
    assert clean_user_text("  hello\t\tworld\r\n again \x0b") == "hello world again"
    assert clean_user_text("zero\u200bwidth\u200e mark\x07") == "zerowidth mark"
    assert clean_user_text("\x00\x01\u200b \n") == ""
    assert clean_user_text("") == ""


def test_clean_user_text_unicode():
    assert clean_user_text("cafe\u0301") == "caf\u00e9"  # combining mark composed (NFC)
    assert unicodedata.is_normalized("NFC", clean_user_text("e\u0301\u0323"))
    assert clean_user_text("مرحبا بالعالم") == "مرحبا بالعالم"  # RTL kept
    assert clean_user_text("\u202eevil\u202c text") == "evil text"  # direction overrides removed
    assert clean_user_text("hi 😀 👍🏽") == "hi 😀 👍🏽"
    assert clean_user_text("lone \ud800 surrogate") == "lone surrogate"


def test_clean_user_text_long():
    text = "word " * 2000
    assert len(text) == 10_000
    assert clean_user_text(text) == ("word " * 2000).strip()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_clean_user_text_never_raises(text):
    cleaned = clean_user_text(text)
    assert cleaned == cleaned.strip()
    assert "  " not in cleaned
    assert not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in cleaned)


# -- tokenizer ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return load_sentences("wikitext-2", "validation")[:300]


@pytest.fixture(scope="module")
def tok(corpus):
    return train_tokenizer(corpus, vocab_size=500)


def _squash_punctuation(text: str) -> str:
    """Remove spaces around punctuation (the decoder's spacing of "(" or "'" differs)."""
    return re.sub(r"\s*([^\w\s])\s*", r"\1", text)


def test_special_token_ids(tok):
    assert [tok.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert 300 < tok.get_vocab_size() <= 500
    assert tok.post_processor is None
    assert sorted(tok.get_added_tokens_decoder()) == [0, 1, 2, 3]  # no other token is special
    assert "##s" not in tok.encode("##s").tokens  # typed text never matches a "##" token whole


def test_training_is_deterministic(corpus, tok):
    again = train_tokenizer(iter(corpus), vocab_size=500)  # a generator works too
    assert again.to_str() == tok.to_str()


def test_round_trip_lowercase(tok):
    assert decode_ids(tok, tok.encode("the cat sat on the mat.").ids) == "the cat sat on the mat."
    for text in [
        "the city was founded in 1850, and it grew quickly.",
        "she said that the war (which began in may) had ended.",
        "a state-of-the-art lobster weighs 2.5 kg; it's blue!",
    ]:
        ids, truncated = encode_texts(tok, [text], 64)
        assert truncated == [False]
        assert UNK not in tokens_of(tok, ids[0])
        assert _squash_punctuation(decode_ids(tok, ids[0])) == _squash_punctuation(text)


def test_uppercase_is_lowercased(tok):
    assert decode_ids(tok, tok.encode("The Cat").ids) == "the cat"


@pytest.mark.parametrize(
    "text",
    [
        "I love it 😀👍🏽",
        "café crème brûlée",
        "مرحبا بالعالم",
        "中文字符 and 日本語",
        "1234567890 3.14",
        "<script>alert(1)</script>",
        "a\x00b\u200bc",
        "ünïcödé ñ ß ø",
        "x" * 500,
    ],
)
def test_odd_text_tokenizes_and_decodes(tok, text):
    ids, truncated = encode_texts(tok, [text], 1000)
    assert len(ids[0]) > 0
    assert truncated == [False]
    assert all(0 <= i < tok.get_vocab_size() for i in ids[0])
    decoded = decode_ids(tok, ids[0])
    assert isinstance(decoded, str) and decoded
    assert len(tokens_of(tok, ids[0])) == len(ids[0])


def test_odd_text_details(tok):
    (emoji,), _ = encode_texts(tok, ["😀"], 10)
    assert emoji == [1]
    (accents,), _ = encode_texts(tok, ["café"], 10)
    assert decode_ids(tok, accents) == "cafe"
    (script,), _ = encode_texts(tok, ["<script>alert(1)</script>"], 50)
    assert "script" in decode_ids(tok, script) and "alert(1)" in _squash_punctuation(decode_ids(tok, script))
    (typed_unk,), _ = encode_texts(tok, ["a [UNK] b"], 10)
    assert 1 in typed_unk and "[UNK]" in decode_ids(tok, typed_unk)


def test_encode_texts_truncation_and_empty(tok):
    long_text = "the river " * 30
    ids, truncated = encode_texts(tok, [long_text, "the the", "", " \x00\n "], 5)
    assert [len(x) for x in ids] == [5, 2, 0, 0]
    assert truncated == [True, False, False, False]
    full, _ = encode_texts(tok, [long_text], 1000)
    assert len(full[0]) > 30 and ids[0] == full[0][:5]
    exact, flags = encode_texts(tok, ["the the the the the", "the the the the the the"], 5)
    assert [len(x) for x in exact] == [5, 5] and flags == [False, True]
    assert encode_texts(tok, [], 5) == ([], [])
    with pytest.raises(ValueError):
        encode_texts(tok, ["x"], -1)


def test_decode_ids_stops_at_eos_and_drops_pad_bos(tok):
    ids = tok.encode("the cat").ids
    assert decode_ids(tok, [2] + ids + [3] + tok.encode("river").ids + [0, 0]) == "the cat"
    assert decode_ids(tok, [0, 2, 0] + ids) == "the cat"
    assert decode_ids(tok, [3] + ids) == ""
    assert decode_ids(tok, ids[:1] + [1] + ids[1:]) == "the [UNK] cat"
    assert decode_ids(tok, ids + [10**6]) == "the cat [UNK]"  # out of range renders as [UNK]


def test_tokens_of(tok):
    ids = tok.encode("the lobster").ids
    tokens = tokens_of(tok, ids)
    assert tokens[0] == "the"
    assert "".join(t.removeprefix("##") for t in tokens[1:]) == "lobster"
    assert tokens_of(tok, [0, 1, 2, 3, -5, 10**6]) == SPECIAL_TOKENS + [UNK, UNK]


def test_save_load_round_trip(tok, tmp_path):
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    loaded = load_tokenizer(path)
    assert loaded.to_str() == tok.to_str()
    text = "the lobster, 2.5 kg, café 😀"
    assert encode_texts(loaded, [text], 64) == encode_texts(tok, [text], 64)
    assert decode_ids(loaded, tok.encode(text).ids) == decode_ids(tok, tok.encode(text).ids)


def test_load_tokenizer_missing_or_corrupt(tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(ValueError, match="nope.json"):
        load_tokenizer(missing)
    corrupt = tmp_path / "bad.json"
    corrupt.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        load_tokenizer(corrupt)
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"model": 3}')
    with pytest.raises(ValueError, match="wrong.json"):
        load_tokenizer(str(wrong))


def test_typed_control_token_names_are_not_control_tokens(tok):
    ids, _ = encode_texts(tok, ["the [EOS] city [BOS] of [PAD] rome"], 50)
    assert 3 not in ids[0] and 2 not in ids[0] and 0 not in ids[0]
    assert ids[0].count(1) == 3  # each became [UNK]


@pytest.mark.parametrize(
    "raw, tidy",
    [
        ("i don ' t know, it ' s $ 3. 50.", "i don't know, it's $3.50."),
        ("1, 000 people in 1990, 200 died.", "1,000 people in 1990, 200 died."),
        ("a state - of - the - art model ( 2011 ) at 5 %.", "a state-of-the-art model (2011) at 5%."),
        ('he said " yes " to them.', 'he said "yes" to them.'),
        ("##lolo there.", "lolo there."),
        ("the [UNK] cat.", "the [UNK] cat."),
    ],
)
def test_tidy_spacing(raw, tidy):
    from nvae.data.text import tidy_spacing

    assert tidy_spacing(raw) == tidy


def test_decoded_text_reads_like_typed_text(tok):
    text = "It's $3.50 and they don't care."
    assert decode_ids(tok, tok.encode(text).ids).replace("[UNK]", "?").count(" ' ") == 0


# -- batches: text in, text out ------------------------------------------------------------------


def test_collate_cuts_to_max_len_and_flags_what_it_cut():
    batch = collate([[5, 6, 7, 8, 9], [10], []], max_len=4)
    assert batch.src.tolist() == [[5, 6, 7, EOS_ID], [10, EOS_ID, PAD_ID, PAD_ID], [EOS_ID, PAD_ID, PAD_ID, PAD_ID]]
    assert batch.pad_mask.tolist() == [[False] * 4, [False, False, True, True], [False, True, True, True]]
    assert batch.truncated == [True, False, False]
    assert collate([[5, 6, 7, 8, 9]]).src.shape == (1, 6)  # no max_len: nothing cut
    assert collate([[5]], max_len=4, truncated=[True]).truncated == [True]  # the caller's flags win
    assert collate([[5]], device="cpu").src.device.type == "cpu"


def test_encode_batch_and_decode_batch(tok):
    texts = ["the cat sat on the mat.", "the river " * 30]
    batch = encode_batch(tok, texts, max_len=32)
    ids, truncated = encode_texts(tok, texts, 31)
    assert batch.truncated == truncated == [False, True]
    assert batch.src.shape[1] == 32 and int((~batch.pad_mask[1]).sum()) == 32
    for row, seq in zip(batch.src.tolist(), ids):
        assert row[: len(seq) + 1] == seq + [EOS_ID]
    one = encode_batch(tok, texts[0], 32)  # a str is one text
    assert one.src.tolist() == batch.src[:1, : len(ids[0]) + 1].tolist()
    assert decode_batch(tok, ids) == [decode_ids(tok, x) for x in ids]
    assert decode_batch(tok, ids)[0] == "the cat sat on the mat."


def test_encode_text_and_reconstruct_text_use_the_model_tokenizer(tok):
    import torch

    from nvae.model.autoencoder import NVAE

    torch.manual_seed(0)
    cfg = latent_config(vocab_size=tok.get_vocab_size(), d_model=32, n_heads=4, d_ff=64, max_len=12, dropout=0.0)
    model = NVAE(cfg, tok).eval()
    texts = ["the cat sat on the mat.", "a river"]
    batch = encode_batch(tok, texts, cfg.max_len)
    with torch.no_grad():
        latent = encode_text(model, texts, alpha_delta=0.2)
        direct = model.encode(batch.src, batch.pad_mask, 0.2).latent
    torch.testing.assert_close(latent.mu, direct.mu)
    out = reconstruct_text(model, texts, alpha_delta=0.2)
    assert out == decode_batch(tok, model.generate(direct)) and all(isinstance(t, str) for t in out)
    model.tokenizer = None
    with pytest.raises(ValueError, match="no tokenizer"):
        encode_text(model, texts)
