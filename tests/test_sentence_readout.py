"""nvae/readout/sentence.py and nvae/readout/attention2d.py: what is read off a latent, on the tiny checkpoints."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from helpers import make_app_checkpoints

from nvae.data.text import encode_text
from nvae.evaluation import metrics
from nvae.evaluation.measures import keep_components
from nvae.model.grids import alpha_delta_values
from nvae.readout import attention2d, sentence
from nvae.store.checkpoint import load_checkpoint


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As in the app: one torch thread (two contend badly on a busy 2-core machine); restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def models(tmp_path_factory, one_thread):
    paths = make_app_checkpoints(tmp_path_factory.mktemp("readout-ckpts"))
    return {"nvae": load_checkpoint(paths["nvae"]), "vt": load_checkpoint(paths["baseline"])}


def test_word_diff():
    assert sentence.word_diff("a b c", "a b c") == ""
    assert sentence.word_diff("a b c", "a x c") == "-b +x"
    assert sentence.word_diff("a b", "a b c d") == "+c d"
    assert sentence.word_diff("a b c", "a") == "-b c"


def test_alpha_delta_arg(models):
    cfg = models["nvae"].cfg
    assert sentence.alpha_delta_arg(cfg, 7.0) == cfg.nvib.alpha_delta_max
    assert sentence.alpha_delta_arg(models["vt"].cfg, 0.5) is None


# -- model calls ---------------------------------------------------------------------------------


def test_inspect_sentences(models):
    model = models["nvae"]
    views = sentence.inspect_sentences(model, ["The game was released in Japan.", "hi 😀 <b>"], 0.3)
    v = views[0]
    assert v.tokens[-1] == "[EOS]" and v.n_inputs == len(v.tokens)
    assert len(v.components) == v.n_inputs + 1 and v.components[0]["token"] == "⟨prior⟩"
    assert v.n_retained == sum(c["retained"] for c in v.components[1:])
    assert np.asarray(v.attention).shape == (len(v.out_tokens), len(v.components))
    assert np.allclose(np.asarray(v.attention).sum(-1), 1.0, atol=1e-4)
    assert 0 <= v.bleu <= 100 and v.reference == "the game was released in japan."
    assert views[1].n_unknown >= 1
    tokens, weights, kept = sentence.token_weights(v)
    assert tokens == v.tokens and len(weights) == len(kept) == len(tokens)
    assert sum(w for w, k in zip(weights, kept) if k) <= 1.0 + 1e-6


def test_component_weights_are_pi_or_the_share_with_nothing_pruned(models):
    """A pruned component shows the weight it would have with every component kept
    (experiments.keep_components), a retained one its pi."""
    model = models["nvae"]
    with torch.inference_mode():
        latent = encode_text(model, ["The game was released in Japan in 2011."], alpha_delta=0.05)
    records = latent.records(0)
    everything = keep_components(latent, ~latent.pad).pi[0]
    assert any(not r.retained for r in records)  # both branches of the rule are used
    for r, w in zip(records, sentence.component_weights([dataclasses.asdict(r) for r in records])):
        assert w == pytest.approx(r.pi if r.retained else float(everything[r.component]), rel=1e-5)


def test_inspect_truncates_long_text(models):
    v = sentence.inspect_sentences(models["nvae"], ["word " * 500])[0]
    assert v.truncated and v.n_inputs == models["nvae"].cfg.max_len


def test_sparsity_curve_monotone_for_responsive_model(models):
    model = models["nvae"]
    grid = alpha_delta_values(model.cfg)  # the library's slider: 26 log-spaced values over the trained range
    curve = sentence.sparsity_curve(model, "The game was released in Japan in 2011.", grid)
    assert len(curve["retained"]) == len(grid) == len(curve["bleu"])
    assert curve["retained"][0] < curve["retained"][-1]
    single = sentence.inspect_sentences(model, ["The game was released in Japan in 2011."], grid[3])[0]
    assert single.n_retained == curve["retained"][3]  # batch of alpha values = one at a time


@pytest.mark.parametrize("kind", ["nvae", "vt"])
def test_interpolation(models, kind):
    model = models[kind]
    pair = sentence.encode_pair(model, "The film was good.", "He was born in a small village in England.")
    rows = sentence.interpolation_strip(model, pair)
    assert [r["tau"] for r in rows] == sentence.STRIP_TAUS
    ends = [
        sentence.inspect_sentences(model, [t])[0].reconstruction
        for t in ("The film was good.", "He was born in a small village in England.")
    ]
    assert rows[0]["text"] == ends[0] and rows[-1]["text"] == ends[1]  # tau 0 and 1 decode like the ends
    for prev, row in zip(rows, rows[1:]):
        assert row["changed"] == (row["text"] != prev["text"])
    mixed = sentence.mix_at(model, pair, 0.3, "uniform")  # the paper's shares: B holds 0.3
    total = sum(c["weight"] for c in mixed["components"])
    assert total == pytest.approx(1.0, abs=1e-4)
    if kind == "nvae":
        share_b = sum(c["weight"] for c in mixed["components"] if c["origin"] == "B")
        assert share_b == pytest.approx(0.3, abs=1e-4)
        assert mixed["components"][0]["token"] == "⟨prior⟩"
    else:
        assert {c["origin"] for c in mixed["components"]} == {"A+B"}


def test_prior_samples(models):
    samples = sentence.drawn_samples(models["nvae"], "prior", 5, 3, seed=1, temperature=0.7)
    again = sentence.drawn_samples(models["nvae"], "prior", 5, 3, seed=1, temperature=0.7)
    assert [s["text"] for s in samples] == [s["text"] for s in again]
    assert all(len(s["weights"]) == 6 and math.isclose(sum(s["weights"]), 1.0, rel_tol=1e-4) for s in samples)
    with pytest.raises(ValueError):
        sentence.drawn_samples(models["vt"], "prior", 5, 1, 0, 0.0)


def test_component_points(models):
    model = models["nvae"]
    texts = [f"Sentence number {i} is about the war." for i in range(8)]
    pts = sentence.component_points(model, texts, batch_size=3)
    m = len(pts["token"])
    assert pts["means"].shape == (m, model.cfg.d_model)
    assert len(pts["sentence"]) == len(pts["weight"]) == m and set(pts["sentence"]) == set(range(8))


# -- what a sentence became: [UNK]-heavy BLEU ----------------------------------------------------


def test_mostly_unknown_threshold():
    assert sentence.mostly_unknown(7, 8)  # seven [UNK] pieces + [EOS]
    assert sentence.mostly_unknown(3, 6) and not sentence.mostly_unknown(2, 5)  # more than half of the pieces
    assert not sentence.mostly_unknown(0, 1) and not sentence.mostly_unknown(0, 9)


def test_token_info_matches_inspect(models):
    model = models["nvae"]
    texts = ["القاهرة هي عاصمة مصر وأكبر مدنها اليوم", "The game was released in Japan.", "word " * 100]
    infos = sentence.token_info(model, texts)
    views = sentence.inspect_sentences(model, texts)
    for info, view in zip(infos, views):
        assert (info.n_inputs, info.n_unknown, info.truncated) == (view.n_inputs, view.n_unknown, view.truncated)
        assert info.mostly_unknown == view.mostly_unknown
    assert [i.mostly_unknown for i in infos] == [True, False, False]
    assert views[0].reference == " ".join(["[UNK]"] * 7)
    assert metrics.sentence_bleu(views[0].reference, views[0].reference) == pytest.approx(100.0)  # the flag: why


# -- denoising attention in 2-D (nvae.readout.attention2d) -----------------------------------------------


def test_denoising_demo_properties():
    means, variances = [(-2.0, 0.0), (2.0, 1.0)], [(0.3, 0.3), (1.5, 0.4)]
    out = attention2d.denoising_demo(means, variances, [0.5, 0.5], (1.0, -1.0), d=2)
    assert out["identity_gap"] < 1e-9  # ordinary attention = denoising attention over weighted impulses
    assert out["noise_var"] == pytest.approx(math.sqrt(2))
    assert sum(out["denoised_weights"]) == pytest.approx(1.0) and sum(out["ordinary_weights"]) == pytest.approx(1.0)
    # all weight on one narrow component: the query is pulled almost onto its mean
    narrow = attention2d.denoising_demo(
        [(3.0, 3.0), (-3.0, -3.0)], [(1e-6, 1e-6), (1.0, 1.0)], [1.0, 1e-12], (0.0, 0.0), d=4
    )
    assert narrow["denoised"] == pytest.approx([3.0, 3.0], abs=1e-3)
    # a very wide component trusts the query: little movement
    wide = attention2d.denoising_demo([(0.0, 0.0), (5.0, 5.0)], [(1e4, 1e4), (1e4, 1e4)], [0.5, 0.5], (1.0, 2.0), d=1)
    assert wide["denoised"] == pytest.approx([1.0, 2.0], abs=2e-3)
    # numerical integration of the definition in 2-D, for one component
    mu, var, u, noise = np.array([1.0, -0.5]), np.array([0.7, 0.2]), np.array([0.3, 0.4]), math.sqrt(2)
    out = attention2d.denoising_demo([tuple(mu)], [tuple(var)], [1.0], tuple(u), d=2)
    g = np.linspace(-6, 6, 801)
    X, Y = np.meshgrid(g, g)
    prior = np.exp(-0.5 * ((X - mu[0]) ** 2 / var[0] + (Y - mu[1]) ** 2 / var[1]))
    like = np.exp(-0.5 * ((u[0] - X) ** 2 + (u[1] - Y) ** 2) / noise)
    post = prior * like
    expected = [(post * X).sum() / post.sum(), (post * Y).sum() / post.sum()]
    assert out["denoised"] == pytest.approx(expected, abs=1e-3)


def test_ordinary_attention_limits():
    z = np.array([[1.0, 0.0], [0.0, 1.0]])
    result, w = attention2d.ordinary_attention(np.array([100.0, 0.0]), z, 1.0)
    assert result == pytest.approx([1.0, 0.0]) and w[0] == pytest.approx(1.0)
