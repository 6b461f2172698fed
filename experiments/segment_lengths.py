"""How many tokens each kept component stands for, on a pooling checkpoint (`kept_pooling` "segment"):
the model's own kept set against a random subset and evenly spaced positions of the same size in
every sentence, at the alpha^Delta its rate-distortion file gives for a retained proportion.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/segment_lengths.py \
        [--checkpoint checkpoints/nvae-segments] [--rate 0.5] [--limit 300]

A segment is a kept token and the pruned tokens after it up to the next kept one (the pruned tokens
before the first kept one join the first segment), [EOS] included, as `kept_set.pool_segments` pools
them. Prints the mean segment length, the share of segments of 4 tokens or more, the mean longest
segment of a sentence, and the share of kept components that open a word (not a ## piece) beside
that share among all tokens.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.data.text import encode_texts, encoded_batches  # noqa: E402
from nvae.model.autoencoder import eval_mode  # noqa: E402
from nvae.readout.rate_distortion_file import read_record, record_file  # noqa: E402


def segments(kept: list[int], n: int) -> list[int]:
    """Lengths of the segments opened by the sorted kept positions of a sentence of n components."""
    if not kept:
        return []
    bounds = [0] + kept[1:] + [n]  # the first segment also takes the pruned tokens before it
    return [b - a for a, b in zip(bounds, bounds[1:])]


def summary(lengths: list[list[int]]) -> dict:
    flat = [x for s in lengths for x in s]
    return {
        "mean_length": sum(flat) / len(flat),
        "share_4_or_more": sum(x >= 4 for x in flat) / len(flat),
        "mean_longest": sum(max(s) for s in lengths if s) / sum(1 for s in lengths if s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "nvae-segments"))
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    model = load_checkpoint(args.checkpoint)
    rows = read_record(record_file(args.checkpoint))["rows"]
    ad = min(rows, key=lambda r: abs(r["target"] - args.rate))["alpha_delta"]
    texts = load_sentences("wikitext-2", "validation", model.tokenizer, 6, 49)[: args.limit]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    rng = random.Random(0)
    learned, rand, even, word_starts, kept_total, all_starts, all_total = [], [], [], 0, 0, 0, 0
    with eval_mode(model), torch.no_grad():
        for _, batch, latent in encoded_batches(model, ids, ad):
            for b in range(latent.batch_size):
                n = int(latent.n_inputs[b])
                kept = sorted(int(p) for p in latent.source[b][latent.retained[b]].tolist())
                k = len(kept)
                learned.append(segments(kept, n))
                rand.append(segments(sorted(rng.sample(range(n), k)), n))
                even.append(segments(sorted({round(i * n / k) for i in range(k)}) if k else [], n))
                toks = [model.tokenizer.id_to_token(int(t)) for t in batch.src[b][:n]]
                word_starts += sum(1 for p in kept if p < len(toks) and not (toks[p] or "").startswith("##"))
                kept_total += k
                all_starts += sum(1 for t in toks if not (t or "").startswith("##"))
                all_total += len(toks)
    print(f"{args.checkpoint} at alpha^Delta {ad:.4g} (retained about {args.rate}), {len(ids)} validation sentences")
    for name, lengths in (("learned", learned), ("random", rand), ("evenly spaced", even)):
        s = summary(lengths)
        print(
            f"  {name:14s} mean segment {s['mean_length']:.2f} tokens, {s['share_4_or_more']:.1%} of segments >= 4, "
            f"longest per sentence {s['mean_longest']:.2f}"
        )
    print(
        f"  learned kept components that open a word (not a ## piece): {word_starts / max(kept_total, 1):.1%} "
        f"(of all tokens: {all_starts / max(all_total, 1):.1%})"
    )


if __name__ == "__main__":
    main()
