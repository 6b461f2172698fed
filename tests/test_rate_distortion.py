"""The rate-distortion measure of a model's choice of components (`measures.rate_distortion`): at
each retained proportion, the learned choice against fixed ones on the same model at the same
alpha^Delta (the nearest stride rule, evenly spaced positions, a random subset), the last two with
the learned choice's count in every sentence."""

from __future__ import annotations

import pytest
import torch
from helpers import make_responsive, make_tiny_checkpoint

from nvae.data.text import collate, encode_texts
from nvae.evaluation import measures
from nvae.store.checkpoint import load_checkpoint

TEXTS = [
    "The river flows north through the valley before it reaches the sea.",
    "After the war, the town was rebuilt with money from the new government.",
    "The film was released in the United States in 1998 and sold well.",
    "He was born in a small village in the north of England in 1950.",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path_factory.mktemp("rd") / "nvae")))


def kept_positions(latent, b: int) -> list[int]:
    return sorted(int(s) for s, k in zip(latent.source[b], latent.retained[b]) if k and s >= 0)


def test_the_fixed_rules_keep_what_they_say(model):
    ids, _ = encode_texts(model.tokenizer, TEXTS, model.cfg.max_len - 1)
    batch = collate(ids, model.cfg.max_len)
    latent = model.encode(batch.src, batch.pad_mask, 0.3)
    n = int(latent.n_inputs[0])
    assert kept_positions(measures.every_kth(2)(latent), 0) == kept_positions(measures.every_second(latent), 0)
    assert kept_positions(measures.every_kth(3)(latent), 0) == list(range(0, n, 3))
    assert kept_positions(measures.every_kth(4, drop=True)(latent), 0) == [p for p in range(n) if p % 4]
    even = measures.evenly_spaced_like_learned(latent)
    for b in range(latent.batch_size):
        m, nb = int(latent.n_retained[b]), int(latent.n_inputs[b])
        assert kept_positions(even, b) == sorted({j * nb // m for j in range(m)})
    assert torch.equal(even.n_retained, latent.n_retained)
    names = [measures.fixed_rule_for(r)[0] for r in measures.RATES]
    assert names == ["every fourth", "every third", "every second", "all but every fourth"]


def test_the_curve_compares_every_choice_at_each_reachable_rate(model):
    ids, _ = encode_texts(model.tokenizer, TEXTS * 3, model.cfg.max_len - 1)
    rows = measures.rate_distortion(model, ids)
    assert rows and {r["target"] for r in rows} <= set(measures.RATES)
    for r in rows:
        assert set(r) >= {"target", "alpha_delta", "learned", "stride", "evenly_spaced", "random"}
        kept = r["learned"]["retained_proportion"]
        # the same count in every sentence for the evenly spaced and the random choice
        assert r["evenly_spaced"]["retained_proportion"] == pytest.approx(kept)
        assert r["random"]["retained_proportion"] == pytest.approx(kept)
        assert r["stride"]["rule"] == measures.fixed_rule_for(r["target"])[0]
        assert all(0.0 <= r[c]["bleu"] <= 100.0 for c in ("learned", "stride", "evenly_spaced", "random"))
        # the learned point is the model's own reconstruction at that alpha^Delta
        own = measures.reconstruct(model, ids, alpha_delta=r["alpha_delta"]).summary()
        assert r["learned"]["bleu"] == own["bleu"] and kept == own["retained_proportion"]


def test_nvae_evaluate_prints_the_curve(model, tmp_path, capsys):
    import json

    from nvae.cli.main import main

    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(TEXTS * 3) + "\n")
    folder = model.checkpoint_dir
    assert main(["evaluate", "--checkpoint", str(folder), "--data", str(data), "--rate-distortion", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["rate_distortion"] and out["rate_distortion"][0]["stride"]["rule"].startswith("every")
    baseline = make_tiny_checkpoint(tmp_path / "vts", model_type="vts")
    assert main(["evaluate", "--checkpoint", str(baseline), "--data", str(data), "--rate-distortion"]) == 2
    assert "loss-conditional NVAE" in capsys.readouterr().err
