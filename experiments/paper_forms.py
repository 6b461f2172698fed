"""The paper recipe's checkpoint read two ways: by the evaluation form of denoising attention (the
Gaussian-mixture integral, `decode_form` "integral", what the other NVAEs are read with) and by its
training form with the noise left out (each kept component's mean as its vector, z = mu, `decode_form`
"means", what its shipped config.json says). The two agree when the variances are small; `--recipe
paper` never trains on the integral (gaussian_train_prob 0).

    OMP_NUM_THREADS=1 .venv/bin/python experiments/paper_forms.py [--checkpoint checkpoints/nvae-paper] [--limit 300]

BLEU on the first `--limit` wikitext-2 validation sentences (6-49 pieces), and the kept components'
mean variance against sqrt(E), the variance of the query noise the integral assumes.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere
from nvae import load_checkpoint  # noqa: E402
from nvae.data.corpora import load_sentences  # noqa: E402
from nvae.data.text import encode_texts, encoded_batches  # noqa: E402
from nvae.evaluation.metrics import reconstruct  # noqa: E402
from nvae.model.autoencoder import eval_mode  # noqa: E402


def read_with(model, form: str):
    """The model read with `decode_form` `form`, whatever its config.json says."""
    model.cfg = dataclasses.replace(model.cfg, nvib=dataclasses.replace(model.cfg.nvib, decode_form=form))
    for layer in model.decoder:
        layer.cross_attn.read_means = form == "means"
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "nvae-paper"))
    parser.add_argument("--limit", type=int, default=300)
    args = parser.parse_args()
    model = read_with(load_checkpoint(args.checkpoint), "integral")
    means_model = read_with(load_checkpoint(args.checkpoint), "means")
    texts = load_sentences("wikitext-2", "validation", model.tokenizer, 6, 49)[: args.limit]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    integral = reconstruct(model, ids).summary()
    means = reconstruct(means_model, ids).summary()
    variances = []
    with eval_mode(model), torch.no_grad():
        for _, _, lat in encoded_batches(model, ids):
            variances.append(lat.logvar.exp().mean(-1)[lat.retained])
    print(f"sentences: {len(ids)}")
    kept = integral["retained_proportion"]
    print(f"evaluation form (Gaussian integral): BLEU {integral['bleu']:.2f} at {kept:.3f} kept")
    print(f"training form, means as vectors:     BLEU {means['bleu']:.2f}")
    print(
        f"kept components' mean variance {float(torch.cat(variances).mean()):.3f}; "
        f"sqrt(E) = {math.sqrt(model.cfg.head_dim):.1f}"
    )


if __name__ == "__main__":
    main()
