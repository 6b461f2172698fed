"""Data: corpora through `datasets`, sentences, length-grouped batches and collation.

Corpora (the `name` of `load_paragraphs` / `load_sentences`):
    "wikitext-2-raw-v1", "wikitext-2-v1", "wikitext-103-raw-v1", "wikitext-103-v1"
        the Hugging Face hub dataset `Salesforce/wikitext` (needs internet the first time);
    "wikitext-2"
        the local tokenized WikiText-2 files in DATA_DIR (splits "validation" and "test" only:
        the train split is not shipped);
    a path to a text file
        one sentence or paragraph per line (the `split` argument is ignored); a file whose name
        ends in ".tokens" is read as tokenized WikiText, any other as text typed by a person.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
from pathlib import Path
from typing import Iterator

import torch

from .text import clean_user_text, is_heading, normalize_wikitext, split_sentences

DATA_DIR = Path(os.environ.get("NVAE_DATA_DIR")
                or Path(__file__).resolve().parents[2] / "shared" / "data" / "wikitext-2")
HUB_DATASET = "Salesforce/wikitext"
HUB_NAMES = ("wikitext-2-raw-v1", "wikitext-2-v1", "wikitext-103-raw-v1", "wikitext-103-v1")
LOCAL_NAME = "wikitext-2"
LOCAL_FILES = {"validation": "wiki.valid.tokens", "test": "wiki.test.tokens"}
CHUNK_BATCHES = 50  # LengthBatcher sorts by length within chunks of this many batches


def data_dir() -> Path:
    """The local WikiText-2 folder: $NVAE_DATA_DIR if set now, else DATA_DIR."""
    env = os.environ.get("NVAE_DATA_DIR")
    return Path(env) if env else DATA_DIR


def cache_dir() -> Path:
    """Where `datasets` keeps its cache: $NVAE_CACHE_DIR, else a folder in the system temp dir."""
    env = os.environ.get("NVAE_CACHE_DIR")
    return Path(env) if env else Path(tempfile.gettempdir()) / "nvae-datasets-cache"


def _local_split_file(split: str) -> Path:
    if split == "train":
        raise FileNotFoundError(
            f"the WikiText-2 train split is not shipped in {data_dir()} (it is too large for the "
            f"snapshot); use split 'validation' (or 'test'), or the hub name 'wikitext-2-v1' online")
    if split not in LOCAL_FILES:
        raise ValueError(f"unknown split {split!r} for {LOCAL_NAME!r}: use one of {sorted(LOCAL_FILES)}")
    path = data_dir() / LOCAL_FILES[split]
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set NVAE_DATA_DIR to the folder holding "
                                f"{', '.join(LOCAL_FILES.values())}")
    return path


def _load_lines(name: str, split: str) -> tuple[list[str], bool]:
    """The raw lines of a corpus split and whether they are WikiText (tokenized format)."""
    import datasets  # slow to import; only needed here

    progress_was_on = datasets.is_progress_bar_enabled()
    verbosity = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        cache = str(cache_dir())
        if name in HUB_NAMES:
            ds = datasets.load_dataset(HUB_DATASET, name, split=split, cache_dir=cache)
            return list(ds["text"]), True
        if name == LOCAL_NAME:
            path = _local_split_file(split)
            ds = datasets.load_dataset("text", data_files={split: str(path)}, split=split, cache_dir=cache)
            return list(ds["text"]), True
        path = Path(name)
        if path.is_file():
            ds = datasets.load_dataset("text", data_files={"train": str(path)}, split="train", cache_dir=cache)
            return list(ds["text"]), path.suffix == ".tokens"
        raise FileNotFoundError(f"unknown corpus {name!r}: use {LOCAL_NAME!r}, one of {list(HUB_NAMES)} "
                                f"or the path of a text file")
    finally:
        datasets.logging.set_verbosity(verbosity)
        if progress_was_on:
            datasets.enable_progress_bars()


def load_paragraphs(name: str, split: str) -> list[str]:
    """The non-empty paragraphs (lines) of a corpus split, as plain text, in corpus order.

    WikiText sources lose their headings and are normalised with `normalize_wikitext`; every
    line is then passed through `clean_user_text`.
    """
    lines, wikitext = _load_lines(name, split)
    paragraphs = []
    for line in lines:
        if wikitext:
            if is_heading(line):
                continue
            line = normalize_wikitext(line)
        text = clean_user_text(line)
        if text:
            paragraphs.append(text)
    return paragraphs


def load_sentences(name: str, split: str, tokenizer=None, min_tokens: int = 6,
                   max_tokens: int = 49) -> list[str]:
    """The distinct sentences of a corpus split, in corpus order.

    With a tokenizer, only sentences of `min_tokens`..`max_tokens` subword tokens (EOS not
    counted) are kept.
    """
    if min_tokens > max_tokens:
        raise ValueError(f"min_tokens ({min_tokens}) > max_tokens ({max_tokens})")
    seen: set[str] = set()
    sentences = []
    for paragraph in load_paragraphs(name, split):
        for sentence in split_sentences(paragraph):
            if sentence not in seen:
                seen.add(sentence)
                sentences.append(sentence)
    if tokenizer is None:
        return sentences
    encodings = tokenizer.encode_batch(sentences, add_special_tokens=False)
    return [s for s, enc in zip(sentences, encodings) if min_tokens <= len(enc.ids) <= max_tokens]


class LengthBatcher:
    """Batches of indices with similar lengths, reshuffled every epoch, split across ranks.

    Each epoch: shuffle the indices (random.Random(seed + epoch)), sort them by length within
    chunks of CHUNK_BATCHES batches, cut the chunks into batches, then shuffle the batch order.
    With world_size > 1, batches are dealt round-robin and the extra ones dropped, so every rank
    gets the same number of disjoint batches.
    """

    def __init__(self, lengths: list[int], batch_size: int, seed: int = 0, shuffle: bool = True,
                 rank: int = 0, world_size: int = 1, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.drop_last = drop_last
        self.epoch = 0
        if len(self) == 0:
            raise ValueError(f"{len(self.lengths)} items make no batch of {batch_size} "
                             f"for each of {world_size} rank(s)")

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration yields."""
        self.epoch = epoch

    def _all_batches(self) -> list[list[int]]:
        rng = random.Random(self.seed + self.epoch)
        order = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(order)
        chunk = self.batch_size * CHUNK_BATCHES
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda i: self.lengths[i])
            batches += [part[k:k + self.batch_size] for k in range(0, len(part), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        per_rank = len(batches) // self.world_size
        return iter(batches[self.rank:per_rank * self.world_size:self.world_size])

    def __len__(self) -> int:
        n = len(self.lengths)
        total = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return total // self.world_size


def collate(ids_list: list[list[int]], pad_id: int = 0, eos_id: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Append EOS to each id list and right-pad: (src [B, L] long, pad_mask [B, L] bool, True = pad)."""
    if not ids_list:
        raise ValueError("collate needs at least one sequence")
    seqs = [list(ids) + [eos_id] for ids in ids_list]
    width = max(len(s) for s in seqs)
    src = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(seqs):
        src[row, :len(seq)] = torch.tensor(seq, dtype=torch.long)
    lengths = torch.tensor([len(s) for s in seqs])
    pad_mask = torch.arange(width)[None, :] >= lengths[:, None]
    return src, pad_mask
