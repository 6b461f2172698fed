"""Tests of nvae.data.corpora: local corpora through `datasets`, sentences, LengthBatcher, collate."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nvae.data import corpora
from nvae.data.corpora import LengthBatcher, collate, load_paragraphs, load_sentences
from nvae.data.text import is_heading, train_tokenizer

# -- corpora ------------------------------------------------------------------------------------------


def test_data_dir_default_is_the_repository_data_folder(monkeypatch):
    monkeypatch.delenv("NVAE_DATA_DIR", raising=False)
    assert corpora.data_dir() == Path(__file__).resolve().parents[1] / "data"
    assert (corpora.data_dir() / "wikitext-2" / "wiki.valid.tokens.gz").is_file()
    assert (corpora.data_dir() / "README.md").is_file()


@pytest.mark.parametrize("split, at_least", [("train", 4000), ("validation", 1500), ("test", 1800)])
def test_load_paragraphs_local(split, at_least):
    paragraphs = load_paragraphs("wikitext-2", split)
    assert len(paragraphs) >= at_least
    assert all(p and p == p.strip() for p in paragraphs)
    joined = "\n".join(paragraphs)
    for marker in ("@-@", "@,@", "@.@", "<unk>", " , "):
        assert marker not in joined
    assert not re.search(r" 's\b", joined)  # the clitic is joined ("Issledovatel 'skiy" is a name)
    assert not any(is_heading(p) for p in paragraphs)
    assert "= =" not in joined  # section headings such as " = = Description = = " are gone
    assert "[UNK]" in joined


def test_load_paragraphs_first_paragraphs():
    first = load_paragraphs("wikitext-2", "validation")[0]
    assert first.startswith("Homarus gammarus, known as the European lobster or common lobster, is a species")
    assert load_paragraphs("wikitext-2", "train")[0].startswith("Senjō no Valkyria 3")


def test_data_readme_lists_every_file_with_its_checksum():
    readme = (corpora.data_dir() / "README.md").read_text()
    files = sorted(p for p in corpora.data_dir().rglob("*") if p.is_file() and p.name != "README.md")
    assert len(files) == 8
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest in readme, f"{path.name}: sha256 {digest} not in data/README.md"
        assert path.name in readme
    assert "CC BY-SA" in readme


def test_mix_names():
    mix = load_paragraphs("wiki-mix", "train")
    assert len(mix) > len(load_paragraphs("wikitext-2", "train"))
    assert load_paragraphs("wiki-mix", "test") == load_paragraphs("wikitext-2", "test")
    assert load_paragraphs("+".join(corpora.MIX_SOURCES), "train") == mix
    with pytest.raises(FileNotFoundError, match="nosuch"):
        load_paragraphs("wikitext-2+nosuch", "train")


def test_normalize_line_styles():
    assert corpora.normalize_line(" = Title = ", "prose") == ""
    assert corpora.normalize_line(" = Title = ", "typed") == "= Title ="
    assert (
        corpora.normalize_line("a four - lane road , `` the bridge '' .", "tokens") == 'a four-lane road, "the bridge".'
    )
    assert corpora.normalize_line("the men 's event ( born 1963 ) .", "tokens") == "the men's event (born 1963)."
    assert corpora.normalize_line("Prose, as written (here).", "prose") == "Prose, as written (here)."


@pytest.mark.parametrize("corpus", ["wikitext-2", "wiki-mix", "+".join(corpora.TRAIN_SOURCES)])
def test_no_training_sentence_is_a_validation_or_test_sentence(corpus):
    train = load_sentences(corpus, "train")
    assert len(train) == len(set(train)) > 15000  # deduplicated
    held = set(load_sentences(corpus, "validation")) | set(load_sentences(corpus, "test"))
    assert len(held) > 15000
    assert not held & set(train)
    assert not {corpora.sentence_key(s) for s in held} & {corpora.sentence_key(s) for s in train}
    # nor after the tokenizer's own normalisation, for the sentences long enough to train on
    tok = train_tokenizer(train[:2000], vocab_size=2000)

    def key(sents):
        return {" ".join(e.tokens) for e in tok.encode_batch(sents, add_special_tokens=False) if len(e.ids) >= 6}

    assert not key(list(held)) & key(train)


def test_train_split_drops_sentences_of_the_held_out_splits(tmp_path, monkeypatch):
    (tmp_path / "wikitext-2").mkdir()
    (tmp_path / "wikitext-2" / "wiki.valid.tokens").write_text(" A held out sentence . \n")
    (tmp_path / "wikitext-2" / "wiki.test.tokens").write_text(" Another one . \n")
    (tmp_path / "wikitext-2" / "wiki.train.prefix.tokens").write_text(
        " Kept first . A HELD out   sentence . Kept again . \n kept first . ANOTHER ONE . Last . \n"
    )
    monkeypatch.setenv("NVAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NVAE_CACHE_DIR", str(tmp_path / "cache"))
    assert load_sentences("wikitext-2", "train") == ["Kept first.", "Kept again.", "Last."]


def test_unknown_split_or_corpus():
    with pytest.raises(ValueError, match="split"):
        load_paragraphs("wikitext-2", "dev")
    with pytest.raises(FileNotFoundError, match="no-such-corpus"):
        load_paragraphs("no-such-corpus", "validation")


def test_data_dir_override(tmp_path, monkeypatch):
    (tmp_path / "wikitext-2").mkdir()
    with gzip.open(tmp_path / "wikitext-2" / "wiki.valid.tokens.gz", "wt") as f:
        f.write(
            ' \n = Title = \n \n The pay @-@ off was 1 @,@ 000 <unk> . It \'s " fine " . \n'
            " = = Part = = \n A second paragraph here . \n"
        )
    monkeypatch.setenv("NVAE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NVAE_CACHE_DIR", str(tmp_path / "cache"))
    assert load_paragraphs("wikitext-2", "validation") == [
        'The pay-off was 1,000 [UNK]. It\'s "fine".',
        "A second paragraph here.",
    ]
    assert (tmp_path / "cache").is_dir()
    with pytest.raises(FileNotFoundError, match="wiki.test.tokens"):
        load_paragraphs("wikitext-2", "test")
    (tmp_path / "wikitext-2" / "wiki.test.tokens").write_text(" Uncompressed works too . \n")
    assert load_paragraphs("wikitext-2", "test") == ["Uncompressed works too."]


def test_hub_name_offline_is_a_clear_error(tmp_path):
    code = (
        "from nvae.data.corpora import load_paragraphs\n"
        "try:\n    load_paragraphs('wikitext-103-raw-v1', 'train')\n"
        "except FileNotFoundError as e:\n    print('ERR', e)\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", NVAE_CACHE_DIR=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.startswith("ERR cannot load Salesforce/wikitext/wikitext-103-raw-v1"), out.stderr[-2000:]
    assert "offline, use the local corpus" in out.stdout


def test_user_text_file_is_only_cleaned(tmp_path, monkeypatch):
    monkeypatch.setenv("NVAE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "mine.txt"
    path.write_text("First line , as typed.\n\n  \x00Second\tline. Third one!\r\n = Not a heading = \n")
    assert load_paragraphs(str(path), "whatever") == [
        "First line , as typed.",
        "Second line. Third one!",
        "= Not a heading =",
    ]
    assert load_sentences(str(path), "train") == [
        "First line , as typed.",
        "Second line.",
        "Third one!",
        "= Not a heading =",
    ]


def test_load_sentences_dedup_and_order(tmp_path, monkeypatch):
    monkeypatch.setenv("NVAE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "dups.txt"
    path.write_text("B comes first. A next.\nA next. C last.\nB comes first.\n")
    assert load_sentences(str(path), "train") == ["B comes first.", "A next.", "C last."]


@pytest.fixture(scope="module")
def valid_sentences() -> list[str]:
    return load_sentences("wikitext-2", "validation")


def test_load_sentences_token_range(valid_sentences):
    tok = train_tokenizer(valid_sentences[:300], vocab_size=500)
    kept = load_sentences("wikitext-2", "validation", tok, min_tokens=6, max_tokens=49)
    counts = [len(e.ids) for e in tok.encode_batch(kept)]
    assert counts and min(counts) >= 6 and max(counts) <= 49
    all_counts = [len(e.ids) for e in tok.encode_batch(valid_sentences)]
    assert len(kept) == sum(6 <= n <= 49 for n in all_counts) < len(valid_sentences)
    positions = {s: i for i, s in enumerate(valid_sentences)}
    assert [positions[s] for s in kept] == sorted(positions[s] for s in kept)  # corpus order
    with pytest.raises(ValueError):
        load_sentences("wikitext-2", "validation", tok, min_tokens=10, max_tokens=5)


def test_load_sentences_are_distinct_sentences(valid_sentences):
    assert len(valid_sentences) > 5000
    assert len(set(valid_sentences)) == len(valid_sentences)
    assert valid_sentences[0].endswith("Black Sea.")
    assert valid_sentences[1] == "It is closely related to the American lobster, H. americanus."


# -- LengthBatcher ------------------------------------------------------------------------------------


def _lengths(n: int = 1037, seed: int = 3) -> list[int]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(1, 60, (n,), generator=gen).tolist()


def test_batcher_covers_every_index_once():
    lengths = _lengths()
    batcher = LengthBatcher(lengths, batch_size=16, seed=1)
    for epoch in range(3):
        batcher.set_epoch(epoch)
        batches = list(batcher)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(len(lengths)))
        assert len(batches) == len(batcher) == 65
        assert all(1 <= len(b) <= 16 for b in batches)
        assert sum(len(b) < 16 for b in batches) == 1


def test_batcher_groups_similar_lengths():
    lengths = _lengths(3200)
    batches = list(LengthBatcher(lengths, batch_size=32, seed=0))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 3  # random batches of 32 from 1..59 would spread about 55


def test_batcher_deterministic_per_seed_and_epoch():
    lengths = _lengths()
    a, b = LengthBatcher(lengths, 16, seed=7), LengthBatcher(lengths, 16, seed=7)
    assert list(a) == list(b)
    a.set_epoch(1)
    epoch1 = list(a)
    assert epoch1 != list(b)
    b.set_epoch(1)
    assert epoch1 == list(b)
    assert list(LengthBatcher(lengths, 16, seed=8)) != list(LengthBatcher(lengths, 16, seed=7))


def test_batcher_without_shuffle_is_fixed():
    lengths = [5, 1, 4, 2, 3]
    batcher = LengthBatcher(lengths, batch_size=2, shuffle=False)
    assert list(batcher) == [[1, 3], [4, 2], [0]]
    batcher.set_epoch(4)
    assert list(batcher) == [[1, 3], [4, 2], [0]]


def test_batcher_drop_last():
    batcher = LengthBatcher(_lengths(), batch_size=16, drop_last=True)
    batches = list(batcher)
    assert len(batches) == len(batcher) == 64
    assert all(len(b) == 16 for b in batches)


def test_batcher_ranks_are_disjoint_and_equal():
    lengths = _lengths()  # 65 batches: one is dropped so that both ranks get 32
    ranks = [LengthBatcher(lengths, 16, seed=2, rank=r, world_size=2) for r in range(2)]
    for epoch in range(2):
        for r in ranks:
            r.set_epoch(epoch)
        shares = [list(r) for r in ranks]
        assert [len(s) for s in shares] == [len(r) for r in ranks] == [32, 32]
        sets = [{i for b in s for i in b} for s in shares]
        assert not sets[0] & sets[1]
        assert len(sets[0] | sets[1]) >= len(lengths) - 16
        single = LengthBatcher(lengths, 16, seed=2)
        single.set_epoch(epoch)
        assert {tuple(b) for s in shares for b in s} <= {tuple(b) for b in single}


def test_batcher_rejects_bad_arguments():
    with pytest.raises(ValueError):
        LengthBatcher([1, 2], batch_size=0)
    with pytest.raises(ValueError):
        LengthBatcher([1, 2], batch_size=1, rank=2, world_size=2)
    with pytest.raises(ValueError):
        LengthBatcher([], batch_size=4)
    with pytest.raises(ValueError):  # one batch cannot be shared by two ranks
        LengthBatcher([1, 2, 3], batch_size=4, world_size=2)


# -- collate ------------------------------------------------------------------------------------------


def test_collate_shapes_eos_and_mask():
    batch = collate([[5, 6, 7], [8], []])
    src, pad = batch.src, batch.pad_mask
    assert src.dtype == torch.long and pad.dtype == torch.bool
    assert src.shape == pad.shape == (3, 4)
    assert src.tolist() == [[5, 6, 7, 3], [8, 3, 0, 0], [3, 0, 0, 0]]
    assert pad.tolist() == [[False] * 4, [False, False, True, True], [False, True, True, True]]


def test_collate_custom_ids():
    batch = collate([[9, 9], [9]], pad_id=1, eos_id=2)
    src, pad = batch.src, batch.pad_mask
    assert src.tolist() == [[9, 9, 2], [9, 2, 1]]
    assert pad.tolist() == [[False, False, False], [False, False, True]]
    with pytest.raises(ValueError):
        collate([])
