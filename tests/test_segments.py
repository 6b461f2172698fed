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
