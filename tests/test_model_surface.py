"""What the model offers its readers: `NVAE.encode`'s typed output, `NVAE.latent_from_states` (the
latent layer alone on states already encoded), and the typed result of the cross-attention's
`prepare`. (The decoder's queries, `NVAE.cross_queries`, are checked in tests/test_walkthrough.py.)"""

import pytest
import torch
from helpers import tiny_nvae

from nvae.data.text import collate
from nvae.model.attention import GaussianForm, SampleForm
from nvae.model.autoencoder import EncoderOutput
from nvae.model.mixture import LatentMixture

ALL_TYPES = ["nvae", "t", "vt", "vtp", "vts"]
SENTS = [[5, 6, 7, 8, 9, 10, 11], [12, 13, 14], [15, 16, 17, 18, 19]]


def assert_same_latent(a: LatentMixture, b: LatentMixture) -> None:
    assert vars(a).keys() == vars(b).keys()
    for name, x in vars(a).items():
        y = getattr(b, name)
        if isinstance(x, torch.Tensor):
            assert isinstance(y, torch.Tensor) and torch.equal(x, y), name
        else:
            assert x == y, name


@pytest.mark.parametrize("model_type", ALL_TYPES)
def test_encode_returns_the_latent_its_states_and_its_kl_terms(model_type):
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    B, L = batch.src.shape
    with torch.no_grad():
        out = model.encode(batch.src, batch.pad_mask, 0.2)
        assert isinstance(out, EncoderOutput) and isinstance(out.latent, LatentMixture)
        assert out.states.shape == (B, L, model.cfg.d_model)
        assert out.kl_g.shape == out.kl_d.shape == (B,) and out.latent.batch_size == B
        # the encoder, then the latent layer, by hand
        states = model.encode_states(batch.src, batch.pad_mask)
        latent, kl_g, kl_d = model.latent(states, batch.pad_mask, 0.2)
    assert torch.equal(out.states, states) and torch.equal(out.kl_g, kl_g) and torch.equal(out.kl_d, kl_d)
    assert_same_latent(out.latent, latent)
    assert out.latent.z is None  # eval mode: the evaluation latent
    if model_type != "nvae":
        assert bool((out.kl_d == 0).all())


@pytest.mark.parametrize("model_type", ["nvae", "vt"])
def test_encode_in_training_mode_keeps_the_kl_terms_in_the_graph(model_type):
    model = tiny_nvae(model_type, gaussian_train_prob=0.0).train()
    batch = collate(SENTS, model.cfg.max_len)
    out = model.encode(batch.src, batch.pad_mask, 0.2)
    assert out.kl_g.requires_grad and out.latent.z is not None  # a sample


@pytest.mark.parametrize("model_type", ALL_TYPES)
def test_latent_from_states_equals_a_full_encode(model_type):
    model = tiny_nvae(model_type).eval()
    batch = collate(SENTS, model.cfg.max_len)
    with torch.no_grad():
        states = model.encode(batch.src, batch.pad_mask, 0.2).states
        for ad in (None, 0.05, 0.5):  # the states do not depend on alpha^Delta
            full = model.encode(batch.src, batch.pad_mask, ad)
            again = model.latent_from_states(states, batch.pad_mask, ad)
            assert again.states is states
            assert torch.equal(again.kl_g, full.kl_g) and torch.equal(again.kl_d, full.kl_d)
            assert_same_latent(again.latent, full.latent)
        if model_type == "nvae":  # another strength of the positional prior, for this call
            for bias in (0.0, 3.0):
                full = model.encode(batch.src, batch.pad_mask, 0.2, bias)
                assert_same_latent(model.latent_from_states(states, batch.pad_mask, 0.2, bias).latent, full.latent)
            prior = model.encode(batch.src, batch.pad_mask, 0.2, 3.0).latent
            assert not torch.equal(prior.alpha, model.encode(batch.src, batch.pad_mask, 0.2).latent.alpha)
        else:
            for call in (model.encode, model.latent_from_states):
                first = batch.src if call == model.encode else states
                with pytest.raises(ValueError, match="no positional prior"):
                    call(first, batch.pad_mask, None, 0.0)


@pytest.mark.parametrize(
    "model_type,settings,training,form",
    [
        ("nvae", {}, False, GaussianForm),  # the evaluation latent, read by the Gaussian integral
        ("nvae", {"decode_form": "means"}, False, SampleForm),  # read by its means
        ("nvae", {"gaussian_train_prob": 0.0}, True, SampleForm),  # sampled vectors
        ("nvae", {"gaussian_train_prob": 1.0}, True, GaussianForm),  # training on the evaluation form
        ("vt", {}, False, SampleForm),  # a baseline: ordinary attention
    ],
)
def test_prepare_gives_one_typed_form_and_the_layer_reads_it_as_the_latent(model_type, settings, training, form):
    model = tiny_nvae(model_type, **settings).train(training)
    batch = collate(SENTS, model.cfg.max_len)
    torch.manual_seed(1)
    with torch.no_grad():
        latent = model.encode(batch.src, batch.pad_mask, 0.2).latent
        cross = model.decoder[0].cross_attn
        prep = cross.prepare(latent)
        assert type(prep) is form
        assert (prep.gated is None) == (latent.gate is None)
        B, N, H = latent.batch_size, latent.n_components, model.cfg.n_heads
        E = model.cfg.d_model // H
        if form is SampleForm:
            assert prep.k.shape == prep.v.shape == (B, H, N, E) and prep.bias.shape == (B, 1, 1, N)
        else:
            assert prep.k2.shape == prep.v2.shape == (B, H, N, E) and prep.const.shape == (B, 1, 1, N)
        x = torch.randn(B, 5, model.cfg.d_model)
        out, weights = cross(x, prep, need_weights=True)
        again, again_weights = cross(x, latent, need_weights=True)
    assert torch.equal(out, again) and torch.equal(weights, again_weights)
    assert weights.shape == (B, 5, N)
