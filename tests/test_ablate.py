"""The ablation harness's measures on a baseline: no slider and no pruning to measure, but its
reconstruction, the short sentences and position-wise interpolation, on the same validation
sentences as an NVAE's ablation."""

from __future__ import annotations

from helpers import make_tiny_checkpoint

from nvae.store.checkpoint import load_checkpoint
from nvae.tools.ablate import measure, summary_line


def test_a_baseline_is_measured_on_what_it_has(tmp_path):
    model = load_checkpoint(make_tiny_checkpoint(tmp_path / "vts", model_type="vts"))
    res = measure(model, n_sentences=6, pairs=2, log=lambda *a: None)
    assert res["sentences"] == 6 and "slider" not in res and "half" not in res
    fixed = res["at"]["fixed"]
    assert 0 <= fixed["bleu"] <= 100 and 0.4 <= fixed["retained_proportion"] <= 0.65  # every second vector
    assert 0 <= res["short_exact"]["fixed"]["exact"] <= 5
    assert res["interpolation"]["endpoints_match_reconstructions"] == 1.0  # tau = 0 and 1 are A and B
    line = summary_line({"name": "vts", **res})
    assert line.startswith("baseline: BLEU") and "retained 0." in line


def test_a_stopped_ablation_is_kept_for_resuming_and_never_measured(tmp_path, monkeypatch):
    """Ctrl-C during an ablation's training: the harness says where it stopped and records no result
    (a half-trained model's measures would read as the idea's)."""
    import pytest

    from nvae.tools import ablate
    from nvae.training import loop

    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(f"the cat number {i} sat on the mat today." for i in range(60)) + "\n")
    monkeypatch.setattr(ablate, "ABLATION_DIR", tmp_path / "ablations")
    real_train = loop.train
    monkeypatch.setattr(loop, "train", lambda *a, **k: real_train(*a, **{**k, "stop_after": 2}))
    settings = {
        "data": str(corpus), "eval_split": "", "vocab_size": 80, "d_model": 16, "n_heads": 2, "d_ff": 16,
        "n_enc_layers": 1, "n_dec_layers": 1, "max_steps": 4, "batch_size": 8, "checkpoint_every": 2,
    }  # fmt: skip
    with pytest.raises(ablate.AblationStopped, match="stopped at step 2 of 4"):
        ablate.ablate("stopped", "default", settings, n_sentences=4, pairs=1, progress=False)
    assert not (tmp_path / "ablations" / "results.jsonl").exists()
    assert (tmp_path / "ablations" / "stopped" / "checkpoint" / "training_state.json").exists()


def test_prior_weight_grows_as_alpha_delta_prunes_more(tmp_path):
    """The prior component's share of pi rises as alpha^Delta falls (fewer, lighter token
    components); a baseline has no prior component."""
    from helpers import make_responsive

    from nvae.data.text import encode_texts
    from nvae.evaluation.measures import prior_weight

    model = load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path / "nvae")))
    ids, _ = encode_texts(model.tokenizer, ["The game was released in Japan in 2011.", "A storm hit the coast."], 30)
    low, high = prior_weight(model, ids, 0.01), prior_weight(model, ids, 1.0)
    assert 0 < high < low <= 1
    vts = load_checkpoint(make_tiny_checkpoint(tmp_path / "vts", model_type="vts"))
    assert prior_weight(vts, ids, None) == 0.0
