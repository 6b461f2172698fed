"""nvae.readout.walkthrough (one sentence through the model, step by step) and nvae.data.examples (the demo set),
on tiny checkpoints: the trace's numbers are the model's own (the same components, weights and
reconstruction as nvae.readout.sentence; its queries give the decoder's cross-attention), and the 2-D
picture is an honest projection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import make_app_checkpoints

from nvae.data.text import encode_batch
from nvae.model.autoencoder import NVAE
from nvae.model.mixture import PRIOR
from nvae.readout import sentence, walkthrough
from nvae.store.checkpoint import fingerprint, load_checkpoint

TEXT = "The game was released in Japan in 2011."


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    return make_app_checkpoints(tmp_path_factory.mktemp("walkthrough-ckpts"))


@pytest.fixture(scope="module")
def model(paths):
    return load_checkpoint(paths["nvae"])


def test_trace_agrees_with_the_readout(model):
    tr = walkthrough.trace(model, TEXT, 0.3)
    (view,) = sentence.inspect_sentences(model, [TEXT], 0.3)
    assert tr.tokens == view.tokens and tr.n_inputs == view.n_inputs
    assert tr.n_retained == view.n_retained
    assert tr.retained_proportion == pytest.approx(view.retained_proportion)
    assert tr.reconstruction == view.reconstruction and tr.bleu == pytest.approx(view.bleu)
    T = len(tr.out_tokens)
    assert tr.out_tokens == view.out_tokens[:T] and (tr.stopped == (T == len(view.out_tokens)))
    for mine, theirs in zip(tr.components, view.components):
        assert mine["component"] == theirs["component"] and mine["token"] == theirs["token"]
        assert mine["alpha"] == pytest.approx(theirs["alpha"]) and mine["pi"] == pytest.approx(theirs["pi"])
        assert mine["retained"] == theirs["retained"]
        assert mine["log_alpha"] == pytest.approx(np.log(theirs["alpha"]), abs=1e-6)
    # the denoising weights of the traced queries, averaged over heads, are the decoder's cross-attention
    assert np.allclose(tr.attention.mean(1), np.asarray(view.attention)[:T], atol=1e-5)
    assert tr.states.shape == (tr.n_inputs, model.cfg.d_model)
    assert tr.attention.shape == (T, model.cfg.n_heads, tr.n_inputs + 1)
    assert tr.queries.shape == tr.denoised.shape == (T, model.cfg.n_heads, model.cfg.d_model)
    assert np.allclose(tr.attention[:, :, ~tr.kept], 0) and np.allclose(tr.attention.sum(-1), 1, atol=1e-5)


def test_trace_denoised_vectors_follow_the_formula(model):
    """E[v | u] = sum_i w_i (var_i u + s mu_i) / (var_i + s) (docs/nvib.md section 3), from the trace's
    own means, variances, weights and queries."""
    tr = walkthrough.trace(model, TEXT)
    s = tr.noise_var
    assert s == pytest.approx(np.sqrt(model.cfg.d_model // model.cfg.n_heads))
    for t, h in ((0, 0), (len(tr.out_tokens) - 1, tr.n_heads - 1)):
        u, w = tr.queries[t, h].astype(np.float64), tr.attention[t, h].astype(np.float64)
        proposals = (tr.var * u + s * tr.mu) / (tr.var + s)
        assert np.allclose(w @ proposals, tr.denoised[t, h], rtol=1e-4, atol=1e-4)


def _queries_by_hand(model, latent, tgt_in, layer: int = -1):
    """Decoder layer `layer`'s cross-attention queries in latent space, u_h = (W_k^h)^T q_h, computed
    from the layers' parts: the embedding, the layers before it, its self-attention block, q_proj and
    k_proj (eval mode: no dropout)."""
    layers = list(model.decoder)
    x = model._embed(tgt_in)
    for block in layers[: layer % len(layers)]:
        x, _ = block(x, block.cross_attn.prepare(latent))
    here = layers[layer]
    x = x + here.self_attn(here.norm1(x))
    cross = here.cross_attn
    H, E, P = cross.n_heads, cross.head_dim, model.cfg.d_model
    q = cross.q_proj(here.norm2(x)).float()
    B, T = q.shape[:2]
    q = q.view(B, T, H, E).transpose(1, 2)
    return torch.einsum("bhte,hep->bhtp", q, cross.k_proj.weight.float().view(H, E, P))


@pytest.mark.parametrize("n_dec_layers", [None, 3])
def test_queries_are_the_decoders_own(model, n_dec_layers):
    """`NVAE.cross_queries`, and so the trace's queries, equal the queries computed from the decoder's
    parts, bit for bit, on the tiny checkpoint (one decoder layer) and on a model with three."""
    if n_dec_layers is not None:
        torch.manual_seed(0)
        model = NVAE(dataclasses.replace(model.cfg, n_dec_layers=n_dec_layers), model.tokenizer).eval()
    with torch.inference_mode():
        batch = encode_batch(model.tokenizer, [TEXT, "A storm hit the coast."], model.cfg.max_len)
        latent = model.encode(batch.src, batch.pad_mask, 0.3).latent
        tgt_in = model.decoder_input(batch.src)
        mine = model.cross_queries(latent, tgt_in)
        T = tgt_in.shape[1]
        assert mine.shape == (2, model.cfg.n_heads, T, model.cfg.d_model) and mine.dtype == torch.float32
        assert torch.equal(mine, _queries_by_hand(model, latent, tgt_in))
        first = model.cross_queries(latent, tgt_in, layer=0)
        assert torch.equal(first, _queries_by_hand(model, latent, tgt_in, 0))
        assert torch.equal(first, mine) == (len(model.decoder) == 1)
        tr = walkthrough.trace(model, TEXT, 0.3)
        written = [c["id"] for c in tr.chosen]
        tgt_in = torch.tensor([[model.cfg.bos_id] + written[:-1]])
        alone = encode_batch(model.tokenizer, [TEXT], model.cfg.max_len)
        one = model.encode(alone.src, alone.pad_mask, 0.3).latent
        assert np.array_equal(tr.queries, _queries_by_hand(model, one, tgt_in)[0].transpose(0, 1).numpy())


def test_trace_next_tokens_are_the_greedy_choices(model):
    tr = walkthrough.trace(model, TEXT)
    assert not tr.stopped and len(tr.out_tokens) == model.cfg.max_len  # the tiny model never writes [EOS]
    assert len(tr.choices) == len(tr.chosen) == len(tr.out_tokens)
    for t, (cands, chosen) in enumerate(zip(tr.choices, tr.chosen)):
        probs = [c["probability"] for c in cands]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
        assert chosen["token"] == tr.out_tokens[t]
        assert chosen["probability"] >= probs[0] - 1e-4  # greedy: the most probable (up to rounding)


def test_trace_prior_and_pruning(model):
    low, high = walkthrough.trace(model, TEXT, 0.01), walkthrough.trace(model, TEXT, 1.0)
    assert low.n_retained < high.n_retained
    for tr, ad in ((low, 0.01), (high, 1.0)):
        prior = tr.components[0]
        assert prior["source"] == PRIOR and prior["retained"] and prior["mu_norm"] == 0
        assert tr.prior_alpha == pytest.approx(model.cfg.nvib.prior_alpha)
        assert tr.prior_total == pytest.approx(tr.prior_alpha + ad * tr.n_inputs)
        assert tr.posterior_total == pytest.approx(sum(c["alpha"] for c in tr.components), rel=1e-5)
        kept = [c for c in tr.components if c["source"] >= 0 and c["retained"]]
        assert all(c["alpha"] > tr.threshold for c in kept) and len(kept) == tr.n_retained
        assert tr.alpha_delta == ad
        assert sum(c["pi"] for c in tr.components) == pytest.approx(1, abs=1e-5)


def test_query_plane_is_an_honest_projection(model):
    tr = walkthrough.trace(model, TEXT, 1.0)
    views = [walkthrough.query_plane(tr, t, h) for t in (0, 3) for h in (0, 1)]
    for v in views:
        k = len(v["components"])
        assert k == int(tr.kept.sum()) and len(v["labels"]) == k and v["labels"][0] == "prior"
        assert np.asarray(v["means"]).shape == (k, 2) and np.asarray(v["variances"]).shape == (k, 2)
        assert sum(v["result"]["denoised_weights"]) == pytest.approx(1, abs=1e-5)
        assert sum(v["result"]["ordinary_weights"]) == pytest.approx(1)
        assert 0 < v["spread_shown"] <= 1 + 1e-9 and v["shift"] > 0
        assert np.asarray(v["variances"]).min() >= 0
    assert all(v["means"] == views[0]["means"] for v in views), "one plane for every step and head"
    basis = walkthrough.plane(tr.mu[tr.kept], tr.queries[0, 0])
    assert np.allclose(basis @ basis.T, np.eye(2), atol=1e-9)
    # the plane keeps weighted averages: the projected proposals, averaged, give the projected E[v | u]
    v, u = views[0], tr.queries[0, 0].astype(np.float64)
    keep = tr.kept
    proposals = (tr.var[keep] * u + tr.noise_var * tr.mu[keep]) / (tr.var[keep] + tr.noise_var)
    w = np.asarray(v["result"]["denoised_weights"])
    assert np.allclose(w @ (proposals @ basis.T), v["result"]["denoised"], atol=1e-3)
    with pytest.raises(IndexError):
        walkthrough.query_plane(tr, len(tr.out_tokens), 0)


@pytest.mark.parametrize("points", [np.zeros((1, 6)), np.ones((3, 6)), np.eye(6)[:2] * 3])
def test_plane_of_degenerate_points(points):
    basis = walkthrough.plane(points, extra=np.arange(6.0))
    assert basis.shape == (2, 6) and np.allclose(basis @ basis.T, np.eye(2))


def test_trace_of_a_sentence_with_no_token_left(model):
    tr = walkthrough.trace(model, "\u0301\u0300")
    assert tr.tokens == ["[EOS]"] and tr.n_inputs == 1
    view = walkthrough.query_plane(tr, 0, 0)
    assert len(view["means"]) == int(tr.kept.sum())


def test_trace_leaves_the_model_and_grad_mode_alone(model, paths):
    before = fingerprint(model)
    assert torch.is_grad_enabled()
    walkthrough.trace(model, "Tokens 🌍 and <b>markup</b>!", 0.5)
    assert torch.is_grad_enabled() and fingerprint(model) == before
    with pytest.raises(ValueError, match="baseline"):
        walkthrough.trace(load_checkpoint(paths["baseline"]), TEXT)


# -- the demo set -----------------------------------------------------------------------------------


def test_examples_read_the_shipped_demo_set():
    from nvae.data import examples
    from nvae.locations import PROJECT_ROOT, examples_dir

    assert examples_dir() == PROJECT_ROOT / "examples"
    lines = [x for x in (PROJECT_ROOT / "examples" / "sentences.txt").read_text().splitlines() if x.strip()]
    assert examples.sentences() == list(dict.fromkeys(lines)) and len(lines) >= 5
    pairs = examples.pairs()
    assert pairs and all(len(p) == 2 and all(p) for p in pairs)


def test_examples_elsewhere_or_missing(tmp_path, monkeypatch):
    from nvae.data import examples

    monkeypatch.setenv("NVAE_EXAMPLES_DIR", str(tmp_path))
    assert examples.sentences() == [] and examples.pairs() == []
    (tmp_path / "sentences.txt").write_bytes(b"One.\n\n  Two.  \nOne.\n\xff\xfe bad bytes\n" + b"x" * 3000 + b"\n")
    (tmp_path / "pairs.tsv").write_text("A.\tB.\nno tab here\nC.\t\t\nD.\tE.\tF.\n")
    assert examples.sentences() == ["One.", "Two.", "\ufffd\ufffd bad bytes"]
    assert examples.pairs() == [("A.", "B.")]
