"""Corpus metrics of a model (docs/nvib.md section 7): reconstruction BLEU, cross-entropy and
perplexity per real token, retained proportion. Shared by training (periodic validation), the
evaluation CLI and the app.

Every BLEU the project reports comes from the two functions here: `corpus_bleu` (sacrebleu's
corpus BLEU: the report, training's validation, the ablations) and `sentence_bleu` (one sentence:
the app's pages, interpolation strips and paths). References for BLEU are the tokenizer's round trip
of each input (lowercased, unknown words as [UNK]): the text the model can possibly reproduce.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import sacrebleu
import torch
from tqdm.auto import tqdm

from ..data.text import collate, decode_ids
from ..model.autoencoder import NVAE, eval_mode


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacrebleu's corpus BLEU (0..100) of hypotheses against one reference each; 0 for none."""
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score) if hypotheses else 0.0


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacrebleu's sentence BLEU (0..100) of one hypothesis against one reference."""
    return float(sacrebleu.sentence_bleu(hypothesis, [reference]).score)


@dataclass
class Reconstruction:
    refs: list[str] = field(default_factory=list)
    hyps: list[str] = field(default_factory=list)
    n_inputs: list[int] = field(default_factory=list)  # input tokens, EOS included
    n_retained: list[int] = field(default_factory=list)
    nll_sum: float = 0.0
    n_target_tokens: int = 0

    @property
    def bleu(self) -> float:
        return corpus_bleu(self.hyps, self.refs)

    @property
    def cross_entropy(self) -> float:
        return self.nll_sum / max(self.n_target_tokens, 1)

    @property
    def retained_proportion(self) -> float:
        """Mean over sentences of retained vectors / input tokens."""
        if not self.n_inputs:
            return 0.0
        return sum(r / n for r, n in zip(self.n_retained, self.n_inputs)) / len(self.n_inputs)

    def summary(self) -> dict:
        ce = self.cross_entropy
        return {
            "bleu": round(self.bleu, 3),
            "cross_entropy": round(ce, 5),
            "perplexity": round(math.exp(min(ce, 50.0)), 4),
            "retained_proportion": round(self.retained_proportion, 5),
            "mean_retained": round(sum(self.n_retained) / max(len(self.n_retained), 1), 4),
            "mean_input_tokens": round(sum(self.n_inputs) / max(len(self.n_inputs), 1), 4),
            "sentences": len(self.n_inputs),
            "exact_match": round(sum(h == r for h, r in zip(self.hyps, self.refs)) / max(len(self.refs), 1), 5),
        }


@torch.no_grad()
def reconstruct(
    model: NVAE,
    ids: list[list[int]],
    alpha_delta: float | None = None,
    batch_size: int = 64,
    generate: bool = True,
    progress: bool = False,
    transform=None,
) -> Reconstruction:
    """Evaluate `model` (switched to eval mode, restored afterwards) on token-id sentences.

    `transform`, if given, maps each batch's latent to the one decoded (for example another
    choice of retained components, as in `nvae.evaluation.measures`)."""
    out = Reconstruction()
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths batch well
    hyps: dict[int, str] = {}
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    with eval_mode(model):
        for idx in tqdm(batches, desc="evaluate", disable=not progress, leave=False):
            batch = collate([ids[i] for i in idx], model.cfg.max_len, device=model.device)
            latent = model.encode(batch.src, batch.pad_mask, alpha_delta).latent
            if transform is not None:
                latent = transform(latent)
            logits = model.decode(latent, model.decoder_input(batch.src)).float()
            nll = torch.nn.functional.cross_entropy(
                logits.flatten(0, 1), batch.src.flatten(), ignore_index=model.cfg.pad_id, reduction="sum"
            )
            out.nll_sum += float(nll)
            out.n_target_tokens += int((~batch.pad_mask).sum())
            out.n_inputs += latent.n_inputs.tolist()
            out.n_retained += latent.n_retained.tolist()
            if generate:
                for i, g in zip(idx, model.generate(latent)):
                    hyps[i] = decode_ids(model.tokenizer, g)
    # restore corpus order for the per-sentence lists
    inv = {i: k for k, i in enumerate(order)}
    out.n_inputs = [out.n_inputs[inv[i]] for i in range(len(ids))]
    out.n_retained = [out.n_retained[inv[i]] for i in range(len(ids))]
    if generate:
        out.hyps = [hyps[i] for i in range(len(ids))]
        out.refs = [decode_ids(model.tokenizer, s) for s in ids]
    return out
