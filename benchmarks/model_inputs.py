"""The model benchmark's inputs: the seed, random token-id sentences, and their latents."""

from __future__ import annotations

import random

import torch

from nvae.data.text import collate
from nvae.model.autoencoder import NVAE

SEED = 0
FIRST_WORD_ID = 4  # ids 0..3 are pad, unk, bos, eos


def seed_all(seed: int = SEED) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def random_sentences(n: int, lo: int, hi: int, vocab: int, rng: random.Random) -> list[list[int]]:
    return [[rng.randrange(FIRST_WORD_ID, vocab) for _ in range(rng.randint(lo, hi))] for _ in range(n)]


def encode_ids(model: NVAE, ids: list[list[int]]):
    """The latent of token-id sentences (collated on the model's device)."""
    batch = collate(ids, model.cfg.max_len, device=model.device)
    return model.encode(batch.src, batch.pad_mask).latent
