"""Shared fixtures: a tiny checkpoint (real tokenizer on a few hundred local sentences, small
untrained-but-valid NVAE) for the CLI and app tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nvae.checkpoint import save_checkpoint
from nvae.config import ModelConfig, TrainConfig
from nvae.data import load_sentences
from nvae.model import NVAE
from nvae.text import train_tokenizer


def make_tiny_checkpoint(
    path: Path, model_type: str = "nvae", conditional: bool = True, seed: int = 0, alpha_delta: float = 0.3
) -> Path:
    sentences = load_sentences("wikitext-2", "train")[:400]
    tok = train_tokenizer(sentences, vocab_size=400)
    torch.manual_seed(seed)
    cfg = ModelConfig(
        model_type=model_type,
        vocab_size=tok.get_vocab_size(),
        d_model=32,
        n_heads=4,
        d_ff=64,
        n_enc_layers=1,
        n_dec_layers=1,
        max_len=50,
        dropout=0.0,
        alpha_delta=alpha_delta,
        alpha_delta_conditional=conditional and model_type == "nvae",
    )
    model = NVAE(cfg, tok).eval()
    return save_checkpoint(path, model, TrainConfig(max_steps=1, vocab_size=tok.get_vocab_size()))


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-nvae")


@pytest.fixture(scope="session")
def tiny_baseline_checkpoint(tmp_path_factory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "baseline-vt", model_type="vt")
