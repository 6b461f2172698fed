"""A small causal Transformer language model, independent of the autoencoders, that scores how
fluent a sentence is: `python -m nvae lm train --out checkpoints/lm-wiki-mix`.

It is trained on the same training text as the models it judges (the train split only, with its
own tokenizer) and measures the perplexity of decoded interpolations and prior samples against
real test sentences (`perplexity`). Its folder: `lm.safetensors`, `lm.json` (config and training
record), `tokenizer.json`.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ..data.text import BOS_ID, EOS_ID, PAD_ID, encode_texts, load_tokenizer, train_tokenizer
from ..model.attention import SelfAttention
from ..model.autoencoder import FeedForward, sinusoidal_positions

WEIGHTS, CONFIG, TOKENIZER = "lm.safetensors", "lm.json", "tokenizer.json"


@dataclass
class LMConfig:
    vocab_size: int = 8000
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 512
    dropout: float = 0.1
    max_len: int = 64


class Block(nn.Module):
    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = SelfAttention(cfg.d_model, cfg.n_heads, cfg.dropout, causal=True)
        self.ff = FeedForward(cfg.d_model, cfg.d_ff, cfg.dropout)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.ff(self.norm2(x)))


class CausalLM(nn.Module):
    """ids [B, T] (BOS first) -> logits [B, T, V] of the next token; output tied to the embedding."""

    def __init__(self, cfg: LMConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model, padding_idx=PAD_ID)
        nn.init.normal_(self.embed.weight, std=cfg.d_model**-0.5)
        self.register_buffer("positions", sinusoidal_positions(cfg.max_len + 1, cfg.d_model), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.drop(self.embed(ids) * math.sqrt(self.cfg.d_model) + self.positions[: ids.shape[1]])
        for block in self.blocks:
            x = block(x)
        return F.linear(self.norm(x), self.embed.weight)


def _batch(ids_list: list[list[int]]) -> tuple[Tensor, Tensor]:
    """(inputs BOS + ids, targets ids + EOS), right-padded with PAD."""
    width = max(len(s) for s in ids_list) + 1
    inp = torch.full((len(ids_list), width), PAD_ID, dtype=torch.long)
    tgt = torch.full((len(ids_list), width), PAD_ID, dtype=torch.long)
    for r, s in enumerate(ids_list):
        inp[r, : len(s) + 1] = torch.tensor([BOS_ID, *s])
        tgt[r, : len(s) + 1] = torch.tensor([*s, EOS_ID])
    return inp, tgt


class FluencyLM:
    """A trained CausalLM with its tokenizer."""

    def __init__(self, model: CausalLM, tokenizer, info: dict | None = None):
        self.model, self.tokenizer, self.info = model.eval(), tokenizer, info or {}

    @torch.no_grad()
    def nll(self, texts: list[str], batch_size: int = 128) -> tuple[float, int]:
        """Total negative log-likelihood (nats) of the texts (EOS included) and its token count."""
        ids, _ = encode_texts(self.tokenizer, texts, self.model.cfg.max_len - 1)
        total, count = 0.0, 0
        for i in range(0, len(ids), batch_size):
            chunk = [s for s in ids[i : i + batch_size]]
            inp, tgt = _batch(chunk)
            logits = self.model(inp).float()
            total += float(F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID, reduction="sum"))
            count += int((tgt != PAD_ID).sum())
        return total, count

    def perplexity(self, texts: list[str]) -> float:
        """Perplexity per token (EOS included) of the texts taken together; nan for no text."""
        texts = [t for t in texts if t.strip()]
        if not texts:
            return float("nan")
        total, count = self.nll(texts)
        return math.exp(total / max(count, 1))

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().half().contiguous() for k, v in self.model.state_dict().items()}
        safetensors.torch.save_file(weights, str(folder / WEIGHTS))
        self.tokenizer.save(str(folder / TOKENIZER))
        (folder / CONFIG).write_text(json.dumps({"config": asdict(self.model.cfg), **self.info}, indent=2) + "\n")
        for f in (WEIGHTS, TOKENIZER, CONFIG):
            (folder / f).chmod(0o644)
        return folder


def load_lm(folder: str | Path) -> FluencyLM:
    folder = Path(folder)
    for f in (WEIGHTS, CONFIG, TOKENIZER):
        if not (folder / f).is_file():
            raise FileNotFoundError(
                f"{folder / f} not found: train the fluency LM with `python -m nvae lm train --out {folder}`"
            )
    info = json.loads((folder / CONFIG).read_text())
    model = CausalLM(LMConfig(**info.pop("config")))
    state = safetensors.torch.load_file(str(folder / WEIGHTS))
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return FluencyLM(model, load_tokenizer(folder / TOKENIZER), info)


def train_lm(
    out: str | Path,
    data: str = "wiki-mix",
    steps: int = 3000,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    cfg: LMConfig | None = None,
    progress: bool = True,
    eval_sentences: int = 500,
) -> FluencyLM:
    """Train the fluency LM on the train split of `data`; report validation perplexity."""
    from ..data.corpora import LengthBatcher, load_sentences

    random.seed(seed)
    torch.manual_seed(seed)
    cfg = cfg or LMConfig()
    train_texts = load_sentences(data, "train")
    tok = train_tokenizer(train_texts, cfg.vocab_size)
    cfg.vocab_size = tok.get_vocab_size()
    ids = [s for s in encode_texts(tok, train_texts, cfg.max_len - 1)[0] if 6 <= len(s) <= 49]
    valid = load_sentences(data, "validation")[:eval_sentences]
    model = CausalLM(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1))))
    )
    t0 = time.time()
    batcher = LengthBatcher([len(s) for s in ids], batch_size, seed=seed)  # similar lengths batch well
    batches: list[list[int]] = []
    for step in tqdm(range(steps), desc="lm", disable=not progress):
        if not batches:
            batcher.set_epoch(step)
            batches = list(batcher)
        inp, tgt = _batch([ids[i] for i in batches.pop()])
        model.train()
        loss = F.cross_entropy(model(inp).flatten(0, 1), tgt.flatten(), ignore_index=PAD_ID)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
    lm = FluencyLM(model, tok)
    lm.info = {
        "data": data,
        "split": "train",
        "train_sentences": len(ids),
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "seed": seed,
        "minutes": round((time.time() - t0) / 60, 1),
        "validation_perplexity": round(lm.perplexity(valid), 3),
        "validation_sentences": len(valid),
        "threads": torch.get_num_threads(),
    }
    lm.save(out)
    return lm
