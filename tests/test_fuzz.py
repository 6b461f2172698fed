"""Text-path fuzzing (hypothesis): arbitrary unicode through tokenize -> encode -> retained
components -> decode -> interpolate never crashes, never gives NaN, and flags truncation.

1,000 generated inputs in all (600 + 400), plus explicit nasty cases.
"""

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nvae.data.text import decode_batch, encode_batch
from nvae.store.checkpoint import load_checkpoint

NASTY = [
    "",
    " ",
    "\t\n\r",
    "\x00",
    "\x00abc\x00",
    "a\u0301\u0302\u0303" * 20,
    "مرحبا بالعالم",
    "שלום עולם",
    "😀🙈🏳️‍🌈👩‍👩‍👧",
    "<script>alert('x')</script>",
    "<b>bold</b> & &amp; &lt;",
    "\u202eevil\u202c",
    "\ufeffbom",
    "x" * 10_000,
    "word " * 3000,
    "[EOS] [BOS] [PAD] [UNK]",
    "中文字符测试",
    "\ud800",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
]

text_strategy = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),
    st.sampled_from(NASTY),
    st.lists(st.sampled_from(["the", "cat", "é", "😀", "<", ">", "\x00", "1,000", "[EOS]", "\u0301"]), max_size=80).map(
        " ".join
    ),
)


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


def _check_latent(latent):
    for name in ("mu", "logvar", "alpha", "pi"):
        assert torch.isfinite(getattr(latent, name)).all(), name
    assert torch.allclose(latent.pi.sum(-1), torch.ones(latent.batch_size), atol=1e-5)


@torch.no_grad()
def _roundtrip(model, text: str):
    batch = encode_batch(model.tokenizer, [text], model.cfg.max_len)
    n_ids = int((~batch.pad_mask).sum())
    assert 1 <= n_ids <= model.cfg.max_len  # EOS always there, never past the limit
    if batch.truncated[0]:
        assert n_ids == model.cfg.max_len
    latent = model.encode(batch.src, batch.pad_mask, alpha_delta=0.3).latent
    _check_latent(latent)
    assert 0 <= int(latent.n_retained[0]) <= n_ids
    logits = model.decode(latent, model.decoder_input(batch.src))
    assert torch.isfinite(logits).all()
    out = decode_batch(model.tokenizer, model.generate(latent, max_len=6))
    assert isinstance(out[0], str)
    return latent


def test_nasty_inputs(model):
    for text in NASTY:
        _roundtrip(model, text)
    tok, max_len = model.tokenizer, model.cfg.max_len
    assert encode_batch(tok, ["word " * 3000], max_len).truncated == [True]
    assert encode_batch(tok, ["x" * 10_000], max_len).truncated == [False]  # one over-long word: a single [UNK]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=text_strategy)
def test_arbitrary_text_round_trip(model, text):
    _roundtrip(model, text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(a=text_strategy, b=text_strategy, tau=st.floats(0, 1))
@torch.no_grad()
def test_arbitrary_interpolation(model, a, b, tau):
    la, lb = _roundtrip(model, a).trim(), _roundtrip(model, b).trim()
    taus = torch.tensor([0.0, tau, 1.0])
    mix = la.mix(lb, taus, "uniform")
    _check_latent(mix)
    assert not math.isnan(float(mix.pi.sum()))
    texts = decode_batch(model.tokenizer, model.generate(mix, max_len=6))
    assert len(texts) == 3
