"""The pair-choice diagnostic (nvae.tools.pair_choice): one token of every pair of neighbours, chosen by
the model's pseudo-counts, on a tiny untrained loss-conditional NVAE."""

from __future__ import annotations

import json

import torch
from helpers import TINY_SENTENCES, make_tokenizer, tiny_model

from nvae.data.text import collate, encode_texts
from nvae.locations import CHECKPOINTS_DIR
from nvae.tools import pair_choice


def latent_of(model, texts):
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    batch = collate(ids, model.cfg.max_len)
    with torch.no_grad():
        return model.encode(batch.src, batch.pad_mask, 0.2).latent, ids


def test_each_pair_keeps_the_token_with_the_larger_or_smaller_pseudo_count():
    tok = make_tokenizer()
    model = tiny_model(tok, alpha_delta_conditional=True, alpha_conditioning="quantile").eval()
    latent, ids = latent_of(model, TINY_SENTENCES[:6])
    best, worst = pair_choice.pair_choice(latent), pair_choice.pair_choice(latent, larger=False)
    for b, sentence in enumerate(ids):
        n = int(latent.n_inputs[b])
        assert n == len(sentence) + 1  # the tokens and EOS
        by_position = {int(p): j for j, p in enumerate(latent.source[b].tolist()) if p >= 0 and not latent.pad[b, j]}
        assert sorted(by_position) == list(range(n))
        for keep in (best, worst):
            kept = sorted(p for p, j in by_position.items() if keep[b, j])
            assert len(kept) == (n + 1) // 2  # one of every pair, and a last token alone
            assert all(p // 2 != q // 2 for p, q in zip(kept, kept[1:]))
        for p in range(0, n - 1, 2):
            j, k = by_position[p], by_position[p + 1]
            a_j, a_k = float(latent.alpha[b, j]), float(latent.alpha[b, k])
            if a_j != a_k:
                assert bool(best[b, j]) == (a_j > a_k) and bool(worst[b, j]) == (a_j < a_k)
        if n % 2:
            last = by_position[n - 1]
            assert best[b, last] and worst[b, last]
        prior = (latent.source[b] < 0).nonzero().flatten()
        assert not best[b, prior].any()  # the prior component is not a token: keep_components keeps it


def test_the_study_keeps_the_same_number_of_components_for_each_pair_choice():
    tok = make_tokenizer()
    model = tiny_model(tok, alpha_delta_conditional=True, alpha_conditioning="quantile").eval()
    ids, _ = encode_texts(tok, TINY_SENTENCES, model.cfg.max_len - 1)
    rows = pair_choice.study(model, ids, biases=(0.0, 2.0))
    assert model.cfg.nvib.spread_bias == 0.0  # restored
    for r in rows:
        if r["alpha_delta"] is None:
            continue
        assert set(pair_choice.CHOICES) <= set(r)
        shares = {name: r[name]["retained_proportion"] for name in ("every_second", "best_of_pairs", "worst_of_pairs")}
        assert max(shares.values()) - min(shares.values()) < 1e-9
        assert all(0 <= r[name]["bleu"] <= 100 for name in pair_choice.CHOICES)


def test_the_command_refuses_a_baseline_and_a_missing_checkpoint(tmp_path, capsys):
    assert pair_choice.main(["--checkpoint", str(tmp_path / "nothing")]) == 2
    assert "error:" in capsys.readouterr().err
    assert pair_choice.main(["--checkpoint", str(CHECKPOINTS_DIR / "baseline-t"), "--limit", "5"]) == 2
    assert "loss-conditional NVAE" in capsys.readouterr().err


def test_the_command_prints_its_rows_as_json(capsys):
    assert pair_choice.main(["--limit", "8", "--biases", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sentences"] == 8 and [r["spread_bias"] for r in out["rows"]] == [5.0]


def test_the_module_runs_as_a_command_with_help():
    """`python -m nvae.tools.pair_choice --help` (its own argparse, outside `nvae`'s CLI) prints its usage."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    run = [sys.executable, "-m", "nvae.tools.pair_choice", "--help"]
    out = subprocess.run(run, cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "usage: python -m nvae.tools.pair_choice" in out.stdout and "--biases" in out.stdout
