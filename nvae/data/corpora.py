"""Data: the corpora, their sentences, length-grouped batches and collation (`nvae.data.text.collate`).

Corpora (the `name` of `load_paragraphs` / `load_sentences`):
    "wikitext-2"
        the copy in the repository's `data/` folder (or $NVAE_DATA_DIR): train = the first 163
        articles of the WikiText-2 train split, validation and test = the official splits, all in
        the WikiText-103 tokenisation (data/README.md says where each file comes from).
    "wiki-mix"
        train = "wikitext-2" train plus the extra Wikipedia sources chosen by measurement
        (MIX_SOURCES; data/README.md has the numbers); validation and test as "wikitext-2".
    "wikitext-2+SOURCE+..."
        any other mix of the train sources in TRAIN_SOURCES, for experiments.
    "wikitext-2-raw-v1", "wikitext-2-v1", "wikitext-103-raw-v1", "wikitext-103-v1"
        the Hugging Face hub dataset `Salesforce/wikitext` (needs internet the first time);
    a path to a text file
        one sentence or paragraph per line (the `split` argument is ignored); a file whose name
        ends in ".tokens" is read as tokenized WikiText, any other as text typed by a person.

Every local corpus trains on train text only: sentences of its train split that also occur in
the validation or test split are dropped, and duplicates across sources are kept once.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..locations import cache_dir, data_dir
from .text import clean_user_text, collate, is_heading, normalize_wikitext, split_sentences

HUB_DATASET = "Salesforce/wikitext"
HUB_NAMES = ("wikitext-2-raw-v1", "wikitext-2-v1", "wikitext-103-raw-v1", "wikitext-103-v1")
LOCAL_NAME = "wikitext-2"
MIX_NAME = "wiki-mix"
SPLITS = ("train", "validation", "test")
CHUNK_BATCHES = 50  # LengthBatcher sorts by length within chunks of this many batches

__all__ = [
    "load_paragraphs",
    "load_sentences",
    "LengthBatcher",
    "collate",
    "HUB_NAMES",
    "LOCAL_NAME",
    "MIX_NAME",
    "TRAIN_SOURCES",
    "MIX_SOURCES",
    "data_dir",
    "cache_dir",
]


@dataclass(frozen=True)
class Source:
    """One file of the data folder: its path there and how its lines are written.

    style: "wikitext" (WikiText tokens: `@-@`, ` 's`, `<unk>`), "tokens" (tokenised much like
    WikiText, but hyphens as ` - ` and quotes as `` and ''), "prose" (Wikipedia text as written,
    with ` = Title = ` headings) or "typed" (a user's file: every line kept, only cleaned).
    """

    path: str
    style: str


EVAL_FILES = {
    "validation": Source("wikitext-2/wiki.valid.tokens", "wikitext"),
    "test": Source("wikitext-2/wiki.test.tokens", "wikitext"),
}
TRAIN_SOURCES = {
    "wikitext-2": Source("wikitext-2/wiki.train.prefix.tokens", "wikitext"),
    "enwiki": Source("wikipedia-extra/enwiki2016_103articles_paragraphs.txt", "prose"),
    "squad": Source("wikipedia-extra/squad11_dev_paragraphs.txt", "prose"),
    "docred": Source("wikipedia-extra/docred_leads.tokens.txt", "tokens"),
    "fewrel": Source("wikipedia-extra/fewrel_val_sentences.tokens.txt", "tokens"),
    "wikisplit": Source("wikipedia-extra/wikisplit_complex_sentences.tokens.txt", "tokens"),
}
# The sources of "wiki-mix", chosen by the measurement in data/README.md.
MIX_SOURCES = ("wikitext-2", "enwiki", "squad", "docred")


def _mix_sources(name: str) -> tuple[str, ...] | None:
    """The train sources of a local corpus name, or None when `name` is not a local corpus."""
    if name == LOCAL_NAME:
        return (LOCAL_NAME,)
    if name == MIX_NAME:
        return MIX_SOURCES
    parts = name.split("+")
    if len(parts) > 1 and parts[0] == LOCAL_NAME:
        unknown = [p for p in parts if p not in TRAIN_SOURCES]
        if unknown:
            raise FileNotFoundError(
                f"unknown source(s) {unknown} in corpus {name!r}: the sources are {', '.join(TRAIN_SOURCES)}"
            )
        return tuple(dict.fromkeys(parts))
    return None


def _local_file(source: Source) -> Path:
    """The file of a source in the data folder, compressed (.gz) or not."""
    base = data_dir() / source.path
    for path in (base, base.with_name(base.name + ".gz")):
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{base}(.gz) not found: the data folder is {data_dir()} "
        f"(set NVAE_DATA_DIR to a folder laid out like the repository's data/)"
    )


def _read_text_file(path: Path) -> list[str]:
    """The lines of a text file (plain or gzip), read through `datasets`."""
    import datasets  # slow to import; only needed here

    progress_was_on = datasets.is_progress_bar_enabled()
    verbosity = datasets.logging.get_verbosity()
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        ds = datasets.load_dataset("text", data_files={"train": str(path)}, split="train", cache_dir=str(cache_dir()))
        return list(ds["text"])
    finally:
        datasets.logging.set_verbosity(verbosity)
        if progress_was_on:
            datasets.enable_progress_bars()


def _load_hub(name: str, split: str) -> list[str]:
    import datasets

    try:
        ds = datasets.load_dataset(HUB_DATASET, name, split=split, cache_dir=str(cache_dir()))
    except (ConnectionError, OSError) as e:  # offline, or the hub unreachable
        raise FileNotFoundError(
            f"cannot load {HUB_DATASET}/{name} ({split}) from the hub: {e}; offline, use "
            f"the local corpus {LOCAL_NAME!r} or {MIX_NAME!r}"
        ) from None
    return list(ds["text"])


# Quotes written `` and '' by some tokenisers, and hyphens written " - " between two word characters.
_TEX_QUOTES = re.compile(r"``|''")
_SPACED_HYPHEN = re.compile(r"(?<=\w) - (?=\w)")


def normalize_line(line: str, style: str) -> str:
    """One line of a source as plain text ("" for a heading or an empty line)."""
    if style != "typed" and is_heading(line):  # a person's file keeps every line
        return ""
    if style == "tokens":
        line = _SPACED_HYPHEN.sub("-", _TEX_QUOTES.sub('"', line))
    if style in ("wikitext", "tokens"):
        line = normalize_wikitext(line)
    return clean_user_text(line)


def _paragraphs_of(lines: list[str], style: str) -> list[str]:
    paragraphs = []
    for line in lines:
        text = normalize_line(line, style)
        if text:
            paragraphs.append(text)
    return paragraphs


def _distinct_sentences(paragraphs: list[str]) -> list[str]:
    seen: set[str] = set()
    sentences = []
    for paragraph in paragraphs:
        for sentence in split_sentences(paragraph):
            if sentence not in seen:
                seen.add(sentence)
                sentences.append(sentence)
    return sentences


@lru_cache(maxsize=16)
def _source_paragraphs(path: str, mtime: float, style: str) -> tuple[str, ...]:
    return tuple(_paragraphs_of(_read_text_file(Path(path)), style))


def _local_paragraphs(source: Source) -> list[str]:
    path = _local_file(source)
    return list(_source_paragraphs(str(path), path.stat().st_mtime, source.style))


def sentence_key(sentence: str) -> str:
    """What two sentences must share to count as the same: case, accents and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", sentence.lower())
    return "".join(c for c in decomposed if not c.isspace() and not unicodedata.combining(c))


def _held_out_keys() -> set[str]:
    """The keys of the validation and test sentences (no train sentence may share one)."""
    keys = set()
    for source in EVAL_FILES.values():
        keys.update(sentence_key(s) for s in _distinct_sentences(_local_paragraphs(source)))
    return keys


def _check_split(name: str, split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r} for {name!r}: use one of {list(SPLITS)}")


def load_paragraphs(name: str, split: str) -> list[str]:
    """The non-empty paragraphs (lines) of a corpus split, as plain text, in corpus order.

    Headings are dropped and every line is normalised to plain text (`normalize_line`). For a
    mix, the paragraphs of its sources follow one another in the order the name gives.
    """
    sources = _mix_sources(name)
    if sources is not None:
        _check_split(name, split)
        if split != "train":
            return _local_paragraphs(EVAL_FILES[split])
        return [p for s in sources for p in _local_paragraphs(TRAIN_SOURCES[s])]
    if name in HUB_NAMES:
        return _paragraphs_of(_load_hub(name, split), "wikitext")
    path = Path(name)
    if path.is_file():
        return _paragraphs_of(_read_text_file(path), "wikitext" if path.suffix == ".tokens" else "typed")
    raise FileNotFoundError(
        f"unknown corpus {name!r}: use {LOCAL_NAME!r}, {MIX_NAME!r}, a mix such as "
        f"'wikitext-2+squad', one of {list(HUB_NAMES)} or the path of a text file"
    )


def load_sentences(name: str, split: str, tokenizer=None, min_tokens: int = 6, max_tokens: int = 49) -> list[str]:
    """The distinct sentences of a corpus split, in corpus order.

    The train split of a local corpus leaves out every sentence that occurs in its validation or
    test split. With a tokenizer, only sentences of `min_tokens`..`max_tokens` subword tokens
    (EOS not counted) are kept.
    """
    if min_tokens > max_tokens:
        raise ValueError(f"min_tokens ({min_tokens}) > max_tokens ({max_tokens})")
    sentences = _distinct_sentences(load_paragraphs(name, split))
    if split == "train" and _mix_sources(name) is not None:
        held, seen = _held_out_keys(), set()
        kept = []
        for s in sentences:  # a sentence counts once, whatever its case, accents or spacing
            key = sentence_key(s)
            if key not in held and key not in seen:
                seen.add(key)
                kept.append(s)
        sentences = kept
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

    def __init__(
        self,
        lengths: list[int],
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = False,
    ):
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
            raise ValueError(
                f"{len(self.lengths)} items make no batch of {batch_size} for each of {world_size} rank(s)"
            )

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
            part = sorted(order[start : start + chunk], key=lambda i: self.lengths[i])
            batches += [part[k : k + self.batch_size] for k in range(0, len(part), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            rng.shuffle(batches)
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._all_batches()
        per_rank = len(batches) // self.world_size
        return iter(batches[self.rank : per_rank * self.world_size : self.world_size])

    def __len__(self) -> int:
        n = len(self.lengths)
        total = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return total // self.world_size
