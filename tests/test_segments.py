"""The segmentation chooser (`kept_set.segment_starts`): the best split of each sentence into a given
number of contiguous segments, checked against enumerating every split."""

import itertools

import torch

from nvae.model.kept_set import segment_starts


def _sse(x: torch.Tensor, starts: list[int]) -> float:
    """The summed within-segment squared error of the split of x [n, P] opened at `starts`."""
    bounds = [*starts, x.shape[0]]
    return sum(float(((x[a:b] - x[a:b].mean(0)) ** 2).sum()) for a, b in zip(bounds, bounds[1:]))


def _brute_force(x: torch.Tensor, m: int) -> float:
    n = x.shape[0]
    return min(_sse(x, [0, *cuts]) for cuts in itertools.combinations(range(1, n), m - 1))


def test_it_matches_enumerating_every_split_on_small_inputs():
    gen = torch.Generator().manual_seed(0)
    cases = 0
    for trial in range(40):
        B, n, P = 3, 9, 4
        x = torch.randn(B, n, P, generator=gen)
        if trial % 4 == 0:  # runs of alike vectors, where the best split is clear
            x = x[:, torch.tensor([0, 0, 0, 3, 3, 5, 5, 5, 8])] + 0.01 * torch.randn(B, n, P, generator=gen)
        lengths = torch.randint(1, n + 1, (B,), generator=gen)
        pad = torch.arange(n)[None, :] >= lengths[:, None]
        counts = torch.stack([torch.randint(1, int(k) + 1, (1,), generator=gen)[0] for k in lengths])
        starts = segment_starts(x, pad, counts)
        for b in range(B):
            k, m = int(lengths[b]), int(counts[b])
            chosen = starts[b].nonzero().flatten().tolist()
            assert len(chosen) == m and chosen[0] == 0 and max(chosen) < k  # m segments inside the sentence
            assert abs(_sse(x[b, :k], chosen) - _brute_force(x[b, :k], m)) < 1e-6
            cases += 1
    assert cases == 120


def test_every_sentence_gets_at_least_one_segment_and_never_more_than_its_tokens():
    x = torch.randn(3, 5, 2)
    pad = torch.tensor([[False] * 5, [False, False, True, True, True], [False] + [True] * 4])
    starts = segment_starts(x, pad, torch.tensor([0, 7, 3]))
    assert starts.sum(-1).tolist() == [1, 2, 1]
    assert not bool((starts & pad).any())


def test_it_splits_where_the_vectors_change():
    a, b, c = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 5.0]), torch.tensor([-3.0, -3.0])
    x = torch.stack([a, a, b, b, b, c, c])[None]
    starts = segment_starts(x, torch.zeros(1, 7, dtype=torch.bool), torch.tensor([3]))
    assert starts[0].nonzero().flatten().tolist() == [0, 2, 5]


def test_the_measure_keeps_the_models_count_at_the_segment_starts(tiny_checkpoint):
    """`measures.segmentation_like_learned` on a real latent: per sentence the model's own count (at
    least one), placed where `segment_starts` puts them on the token means."""
    from nvae.data.text import collate
    from nvae.evaluation.measures import segmentation_like_learned
    from nvae.model.autoencoder import eval_mode
    from nvae.model.mixture import PRIOR
    from nvae.store.checkpoint import load_checkpoint

    model = load_checkpoint(tiny_checkpoint)
    ids = [model.tokenizer.encode(t).ids for t in ("the cat sat on the mat .", "a storm hit the coast in june .")]
    batch = collate(ids, model.cfg.max_len)
    with eval_mode(model), torch.no_grad():
        latent = model.encode(batch.src, batch.pad_mask, 0.3).latent
    chosen = segmentation_like_learned(latent)
    kept = ~chosen.mask & (chosen.source != PRIOR)
    assert kept.sum(-1).tolist() == latent.n_retained.clamp_min(1).tolist()
    for b in range(2):
        n = int(latent.n_inputs[b])
        x = latent.mu[b, 1 : n + 1][None]  # token components follow the prior, in order
        expected = segment_starts(x, torch.zeros(1, n, dtype=torch.bool), latent.n_retained[b : b + 1].clamp_min(1))
        assert (
            sorted(int(latent.source[b, i]) for i in kept[b].nonzero().flatten())
            == expected[0].nonzero().flatten().tolist()
        )


# -- the chooser in the model (`kept_chooser` "segments") -------------------------------------------

SEGMENTS = {"kept_pooling": "segment", "kept_chooser": "segments", "prune_gate": "st", "min_kept": 0}


def _layer(**kw):
    from helpers import latent_config

    from nvae.model.nvib import NVIB

    torch.manual_seed(0)
    layer = NVIB(latent_config(d_model=16, n_heads=2, dropout=0.0, **{**SEGMENTS, **kw}))
    with torch.no_grad():  # pseudo-counts spread around the threshold
        layer.alpha_quad.fill_(0.0)
        layer.alpha_proj.weight.normal_(0.0, 1.0)
    return layer


def _batch():
    gen = torch.Generator().manual_seed(3)
    h = torch.randn(3, 9, 16, generator=gen)
    pad = torch.arange(9)[None, :] >= torch.tensor([9, 5, 1])[:, None]  # 9, 5 and 1 tokens
    return h, pad


def test_the_layer_keeps_the_scores_count_where_the_segmentation_puts_it():
    from nvae.model.kept_set import segment_starts
    from nvae.model.mixture import PRIOR

    layer = _layer().eval()
    h, pad = _batch()
    score = _layer(kept_chooser="score").eval()(h, pad, 0.3)[0]  # the same weights, the score's own set
    latent = layer(h, pad, 0.3)[0]
    counts = score.n_retained.clamp_min(1)
    assert latent.n_retained.tolist() == counts.tolist()
    starts = segment_starts(latent.token_mu[:, 1:], pad, counts)
    assert torch.equal(latent.retained[:, 1:], starts)
    assert bool((~latent.mask[:, 0]).all()) and int(latent.source[0, 0]) == PRIOR  # the prior stays
    # each kept component carries its segment's summed pseudo-count; pi follows them
    for b in range(3):
        kept = starts[b].nonzero().flatten().tolist()
        n = int((~pad[b]).sum())
        for a, e in zip(kept, [*kept[1:], n]):
            assert torch.isclose(latent.alpha[b, a + 1], latent.token_alpha[b, a + 1 : e + 1].sum())
    alive = ~latent.mask
    torch.testing.assert_close(
        latent.pi[alive], (latent.alpha * alive).div((latent.alpha * alive).sum(-1, keepdim=True))[alive]
    )


def test_a_kept_components_mean_depends_on_exactly_its_segments_tokens():
    layer = _layer().eval()
    h, pad = _batch()
    h = h[:1].clone().requires_grad_(True)
    latent = layer(h, pad[:1], 0.3)[0]
    kept = latent.retained[0].nonzero().flatten().tolist()
    assert len(kept) >= 2
    starts = [int(latent.source[0, i]) for i in kept]
    for j, (a, e) in enumerate(zip(starts, [*starts[1:], 9])):
        (grad,) = torch.autograd.grad(latent.mu[0, kept[j]].sum(), h, retain_graph=True)
        depends = grad[0].abs().sum(-1) > 0
        assert depends.nonzero().flatten().tolist() == list(range(a, e))


def test_every_input_keeps_a_component_at_every_alpha_delta():
    h, pad = _batch()
    conditional = _layer(alpha_delta_min=0.03, alpha_delta_max=0.5).eval()
    for ad in (0.03, 0.05, 0.1, 0.2, 0.5):
        assert bool((conditional(h, pad, ad)[0].n_retained >= 1).all())
    fixed = _layer(alpha_delta_conditional=False, alpha_conditioning="none").eval()
    with torch.no_grad():
        fixed.alpha_proj.weight.zero_()
        fixed.alpha_proj.bias.fill_(-8.0)  # every pseudo-count far under the threshold: the score keeps none
    assert fixed(h, pad)[0].n_retained.tolist() == [1, 1, 1]  # one segment: the whole sentence


def test_training_decodes_the_segmentations_set_and_the_score_keeps_its_gradient():
    layer = _layer().train()
    h, pad = _batch()
    torch.manual_seed(0)
    latent = layer(h, pad, 0.3)[0]
    from nvae.model.kept_set import choose_segments

    hard = latent.gate.detach() > 0.5
    expected = choose_segments(latent.token_mu.detach(), pad, hard)
    assert torch.equal(hard, expected)
    (latent.gate * torch.randn_like(latent.gate)).sum().backward()
    assert layer.alpha_proj.weight.grad.abs().sum() > 0  # the pseudo-counts learn through the gate


def test_fixed_choices_on_such_a_model_sum_their_own_segments_pseudo_counts():
    from nvae.evaluation.measures import every_kth

    layer = _layer().eval()
    h, pad = _batch()
    latent = layer(h, pad, 0.3)[0]
    second = every_kth(2)(latent)
    alpha = latent.token_alpha[0]
    assert torch.isclose(second.alpha[0, 1], alpha[1] + alpha[2])  # tokens 0 and 1
    assert torch.isclose(second.alpha[0, 9], alpha[9])  # the last token alone


def test_the_pages_say_the_segmentation_chooses():
    from helpers import latent_config

    from nvae.readout.sentence import kept_set_rule

    rule = kept_set_rule(latent_config(**{**SEGMENTS, "min_kept": 1}))
    assert "segmentation of the model's own vectors" in rule and "at least 1" in rule
    assert "segmentation" not in kept_set_rule(latent_config(kept_pooling="segment"))


def test_a_share_of_training_batches_decodes_the_scores_own_set():
    from nvae.model.kept_set import choose_segments

    h, pad = _batch()
    own = _layer(segments_train_share=0.0).train()
    torch.manual_seed(0)
    latent = own(h, pad, 0.3)[0]
    score = latent.gate.detach() > 0.5
    segmented = choose_segments(latent.token_mu.detach(), pad, score)
    assert not torch.equal(score, segmented)  # this batch's two sets differ, so the test can tell them apart
    assert torch.equal(score, (latent.token_alpha > 0.1) | (latent.source < 0) & ~latent.pad)
    torch.manual_seed(0)
    assert torch.equal(_layer(segments_train_share=1.0).train()(h, pad, 0.3)[0].gate.detach() > 0.5, segmented)


def test_encode_prints_each_kept_components_span_on_a_pooling_model(app_checkpoints, tmp_path, capsys):
    import json

    from helpers import variant_checkpoint

    from nvae.cli.main import main

    plain = app_checkpoints["nvae"]
    pooled = variant_checkpoint(plain, tmp_path / "pooled", **{**SEGMENTS, "min_kept": 1})
    text = "The river flows north through the valley to the sea."
    assert main(["encode", text, "--checkpoint", str(pooled), "--alpha-delta", "0.1"]) == 0
    out = json.loads(capsys.readouterr().out)
    spans = out["segments"]
    kept = [c for c in out["components"] if c["retained"] and c["source"] >= 0]
    assert [s["component"] for s in spans] == [c["component"] for c in kept] and len(spans) >= 1
    assert spans[0]["span"][0] == 0 and spans[-1]["span"][1] == out["n_tokens"]  # the whole sentence, once
    assert all(a["span"][1] == b["span"][0] for a, b in zip(spans, spans[1:]))
    for s, c in zip(spans[1:], kept[1:]):
        assert s["span"][0] == c["source"]  # a segment opens at its kept token
    assert all(s["tokens"] == out["tokens"][s["span"][0] : s["span"][1]] for s in spans)
    assert main(["encode", text, "--checkpoint", str(plain)]) == 0
    assert "segments" not in json.loads(capsys.readouterr().out)  # a kept component is its own token
