"""Issue 26: a fair position-wise interpolation for the baselines when the two sentences differ in
length, and the two endpoint measures ("endpoints match reconstructions", "endpoints reproduce
inputs").

The position-wise rule (latents without a prior component) aligns the two sentences by relative
position and interpolates the length: at tau the mixture has round((1 - tau) n_A + tau n_B)
positions, all of the same weight, position k blending A and B read at relative place k / (n - 1).
Most tests below fail on the rule before it (index-aligned positions over the longer length, the
longer sentence's extra positions weighted by their owner's share).
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import pytest
import torch
from helpers import TINY_SENTENCES, make_tokenizer, tiny_model

from nvae.evaluation import targets
from nvae.evaluation.endpoints import (
    INPUTS,
    LEGACY,
    MATCH,
    endpoint_value,
    strip_endpoints,
    summarise_endpoints,
    with_endpoints,
)
from nvae.model.mixture import (
    MIXINGS,
    PRIOR,
    SWEEP_WIDTH,
    LatentMixture,
    mixed_length,
    position_sources,
)
from nvae.readout import pair_study
from nvae.readout.sentence import Pair, mix_provenance

P = 4
LENGTHS = [(3, 11), (11, 3), (4, 21), (2, 7), (6, 6), (1, 5), (5, 1)]
TAUS = torch.linspace(0, 1, 21)


def baseline(n: int, seed: int = 0, stride: int = 1, pad: int = 0) -> LatentMixture:
    """A baseline's latent of one sentence: n vectors with uniform weights (and `pad` columns of
    padding after them), each from input token stride * i."""
    g = torch.Generator().manual_seed(seed)
    real = torch.zeros(1, n + pad, dtype=torch.bool)
    real[0, :n] = True
    return LatentMixture(
        mu=torch.randn(1, n + pad, P, generator=g) * real[..., None],
        logvar=(torch.randn(1, n + pad, P, generator=g) - 3) * real[..., None],
        alpha=real.float(),
        pi=real.float() / n,
        mask=~real,
        pad=~real,
        source=(torch.arange(n + pad) * stride)[None] * real,
        n_inputs=torch.tensor([stride * (n - 1) + 1]),
        has_prior=False,
    )


def row(mix: LatentMixture, t: int) -> LatentMixture:
    """Row t of a batch of mixtures, its padding columns dropped."""
    return mix.select(t).trim()


def assert_same_latent(x: LatentMixture, y: LatentMixture) -> None:
    """Equal to the bit: every tensor, and the flags."""
    for name in ("mu", "logvar", "alpha", "pi", "mask", "pad", "source", "n_inputs"):
        a, b = getattr(x, name), getattr(y, name)
        assert a.shape == b.shape, name
        assert torch.equal(a, b.to(a.dtype)), name
    assert x.has_prior == y.has_prior and x.threshold == y.threshold


# -- the rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("mixing", MIXINGS)
@pytest.mark.parametrize("na,nb", LENGTHS)
def test_endpoints_are_exactly_a_and_b_in_both_orders(na, nb, mixing):
    a, b = baseline(na, 0), baseline(nb, 1)
    for x, y in ((a, b), (b, a)):
        mix = x.mix(y, torch.tensor([0.0, 1.0]), mixing)
        assert_same_latent(row(mix, 0), x)
        assert_same_latent(row(mix, 1), y)


@pytest.mark.parametrize("mixing", MIXINGS)
@pytest.mark.parametrize("na,nb", LENGTHS)
def test_the_length_interpolates(na, nb, mixing):
    mix = baseline(na, 0).mix(baseline(nb, 1), TAUS, mixing)
    n = (~mix.pad).sum(-1)
    exact = [(1 - Fraction(k, 20)) * na + Fraction(k, 20) * nb for k in range(21)]  # TAUS = k / 20
    assert n.tolist() == [max(1, round(x)) for x in exact]  # a tie (x.5) rounds to even
    assert n.tolist() == mixed_length(na, nb, TAUS).tolist()
    steps = (n[1:] - n[:-1]).tolist()
    assert all(s >= 0 for s in steps) if nb >= na else all(s <= 0 for s in steps)
    # the padding columns are only ever after a row's positions
    assert all(bool(mix.pad[t, int(k) :].all()) and not bool(mix.pad[t, : int(k)].any()) for t, k in enumerate(n))


@pytest.mark.parametrize("mixing", MIXINGS)
@pytest.mark.parametrize("na,nb", LENGTHS)
def test_no_position_has_a_fractional_weight(na, nb, mixing):
    """Every position of the mixture weighs the same: no ghost of the longer sentence enters (or
    leaves) with a share of a weight, in either order."""
    for x, y in ((baseline(na, 0), baseline(nb, 1)), (baseline(nb, 1), baseline(na, 0))):
        mix = x.mix(y, TAUS, mixing)
        assert torch.equal(mix.mask, mix.pad)
        n = (~mix.pad).sum(-1, keepdim=True).float()
        torch.testing.assert_close(mix.pi, (~mix.pad).float() / n, atol=1e-7, rtol=0)
        assert bool((mix.alpha[~mix.pad] == 1).all())


def reference_position(x: LatentMixture, place: float, field: str = "mu") -> torch.Tensor:
    """A sentence's vector at a relative place, read independently of the library: the two
    nearest components blended linearly."""
    v = getattr(x, field)[0][~x.pad[0]]
    at = place * (v.shape[0] - 1)
    lo = math.floor(at + 1e-12)
    hi = min(lo + 1, v.shape[0] - 1)
    frac = at - lo
    return v[lo] if frac < 1e-9 else (1 - frac) * v[lo] + frac * v[hi]


@pytest.mark.parametrize("mixing", MIXINGS)
@pytest.mark.parametrize("na,nb", [(3, 11), (11, 3), (4, 9)])
def test_each_position_blends_a_and_b_at_the_same_relative_place(na, nb, mixing):
    """No component that exists in neither endpoint at its relative place: position k of n is
    (1 - s) A(p) + s B(p) with p = k / (n - 1), s B's share at p (tau for uniform mixing, the front
    for sweep mixing)."""
    a, b = baseline(na, 0, pad=2), baseline(nb, 1)  # padding in A is skipped, not read
    mix = a.mix(b, TAUS, mixing)
    for t, tau in enumerate(TAUS.tolist()):
        n = int((~mix.pad[t]).sum())
        for k in range(n):
            p = k / max(n - 1, 1)
            s = tau if mixing == "uniform" else min(max((tau * (1 + SWEEP_WIDTH) - p) / SWEEP_WIDTH, 0.0), 1.0)
            for field in ("mu", "logvar"):
                want = (1 - s) * reference_position(a, p, field) + s * reference_position(b, p, field)
                torch.testing.assert_close(getattr(mix, field)[t, k], want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("na,nb", LENGTHS)
def test_uniform_mixing_is_symmetric(na, nb):
    a, b = baseline(na, 0), baseline(nb, 1)
    ab, ba = a.mix(b, TAUS, "uniform"), b.mix(a, 1 - TAUS, "uniform")
    assert torch.equal(ab.pad, ba.pad) and torch.equal(ab.n_inputs, ba.n_inputs)
    for name in ("mu", "logvar", "pi", "alpha"):
        torch.testing.assert_close(getattr(ab, name), getattr(ba, name), atol=1e-6, rtol=1e-6)


def test_mixed_length_rounds_the_same_from_either_end():
    for na, nb in [(4, 21), (3, 8), (5, 6), (7, 7)]:
        for tau in torch.linspace(0, 1, 101).tolist():
            assert int(mixed_length(na, nb, tau)) == int(mixed_length(nb, na, 1 - tau))
    assert mixed_length(4, 21, 0.5).item() == 12  # 12.5: half to even
    assert mixed_length(1, 1, 0.3).item() == 1


def test_a_strided_baseline_keeps_its_sources_at_the_ends():
    """VTS: components from every second token; the mixture's sources and input count are A's at
    tau = 0 and B's at tau = 1, in between the nearest component's of the sentence holding the
    larger share."""
    a, b = baseline(3, 0, stride=2), baseline(8, 1, stride=2)
    mix = a.mix(b, torch.tensor([0.0, 0.25, 1.0]), "uniform")
    assert row(mix, 0).source.tolist() == [[0, 2, 4]] and int(mix.n_inputs[0]) == 5
    assert row(mix, 2).source.tolist() == b.source.tolist() and int(mix.n_inputs[2]) == 15
    n = int((~mix.pad[1]).sum())
    assert n == 4 and int(mix.n_inputs[1]) == round(0.75 * 5 + 0.25 * 15)
    assert row(mix, 1).source.tolist() == [[0, 2, 2, 4]]  # A's nearest: 0, 2/3 -> 1, 4/3 -> 1, 2
    src_a, src_b = position_sources(a, b, n)
    assert src_a == [0, 2, 2, 4] and src_b == [0, 4, 10, 14]


def test_sets_with_a_prior_are_mixed_as_before():
    """The NVAE's path (has_prior=True) is untouched: the union of both sets, A's weights times
    1 - share and B's times share, the prior following tau."""
    g = torch.Generator().manual_seed(3)

    def nvae(n: int) -> LatentMixture:
        alpha = torch.rand(1, n + 1, generator=g) + 0.05
        alpha[0, 2] = 0.01  # pruned
        mask = alpha <= 0.1
        pi = alpha.masked_fill(mask, 0) / alpha.masked_fill(mask, 0).sum()
        return LatentMixture(
            mu=torch.randn(1, n + 1, P, generator=g),
            logvar=torch.randn(1, n + 1, P, generator=g),
            alpha=alpha,
            pi=pi,
            mask=mask,
            pad=torch.zeros(1, n + 1, dtype=torch.bool),
            source=torch.cat([torch.tensor([PRIOR]), torch.arange(n)])[None],
            n_inputs=torch.tensor([n]),
        )

    a, b = nvae(3), nvae(7)
    for mixing in MIXINGS:
        mix = a.mix(b, TAUS, mixing)
        assert mix.n_components == a.n_components + b.n_components and mix.has_prior
        for x, share_of_x in ((a, lambda s: 1 - s), (b, lambda s: s)):
            place = (x.source.float() / (x.n_inputs.float() - 1)).clamp(0, 1)
            front = ((TAUS[:, None] * (1 + SWEEP_WIDTH) - place) / SWEEP_WIDTH).clamp(0, 1)
            s = TAUS[:, None].expand_as(front) if mixing == "uniform" else front
            s = torch.where(x.source < 0, TAUS[:, None], s)
            part = slice(0, a.n_components) if x is a else slice(a.n_components, None)
            torch.testing.assert_close(mix.alpha[:, part], share_of_x(s) * x.alpha)
            assert torch.equal(mix.mu[:, part], x.mu.expand(len(TAUS), -1, -1))
        assert torch.equal(mix.n_inputs, (a.n_inputs + b.n_inputs).expand(len(TAUS)))


# -- on a model -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


SHORT, LONG = "the cat sat", "the sun rose over the hills and he cooked a warm dinner in the garden"


@pytest.mark.parametrize("model_type", ["t", "vts"])
def test_a_baseline_decodes_exactly_a_and_b_at_the_ends_in_both_orders(tok, model_type):
    from nvae.data.text import encode_batch

    model = tiny_model(tok, model_type, max_len=24).eval()
    with torch.no_grad():
        batch = encode_batch(tok, [SHORT, LONG], model.cfg.max_len)
        lat = model.encode(batch.src, batch.pad_mask).latent
        short, long = lat.select(0).trim(), lat.select(1).trim()
        assert short.n_components < long.n_components
        for x, y in ((short, long), (long, short)):
            mix = x.mix(y, torch.linspace(0, 1, 5), "sweep")
            assert model.generate(mix.select([0, 4])) == model.generate(x) + model.generate(y)
            n = (~mix.pad).sum(-1).tolist()
            assert n[0] == x.n_components and n[-1] == y.n_components and min(n) >= 1


def test_the_mixture_names_the_tokens_of_a_and_b_at_the_same_place(tok):
    """The Interpolate page's weights chart: a baseline's position blends A's and B's tokens at
    the same relative place (first with first, end with end), not the tokens at the same index."""
    a, b = baseline(3, 0), baseline(7, 1)
    pair = Pair(a, b, ["x0", "x1", "x2"], [f"y{i}" for i in range(7)], "x", "y", [False, False])
    mixed = a.mix(b, 0.0, "sweep")
    assert [mix_provenance(pair, mixed, i) for i in range(3)] == [("A+B", "x0/y0"), ("A+B", "x1/y3"), ("A+B", "x2/y6")]
    mixed = a.mix(b, 1.0, "sweep")
    names = [mix_provenance(pair, mixed, i)[1] for i in range(7)]
    assert names[0] == "x0/y0" and names[-1] == "x2/y6" and names[3] == "x1/y3"


# -- the endpoint measures ------------------------------------------------------------------------------


def test_matching_the_reconstructions_is_not_reproducing_the_inputs():
    """The castle case: tau = 0 decodes like A's (wrong) reconstruction, so the endpoints match the
    reconstructions, yet they do not reproduce the inputs."""
    ref_a = "the castle was built in the twelfth century."
    wrong = "the castle was built in theelfth centuryth."
    ref_b = "he was born in london."
    strip = [wrong, "something between", ref_b]
    out = strip_endpoints(strip, [wrong, ref_b], [ref_a, ref_b])
    assert out[MATCH] is True and out[INPUTS] == 0.5
    assert strip_endpoints([ref_a, ref_b], [ref_a, ref_b], [ref_a, ref_b]) == {MATCH: True, INPUTS: 1.0}
    assert strip_endpoints([wrong, ref_b], [ref_a, ref_b], [ref_a, ref_b]) == {MATCH: False, INPUTS: 0.5}
    summary = summarise_endpoints([out, {MATCH: True, INPUTS: 1.0}])
    assert summary == {MATCH: 1.0, INPUTS: 0.75}


def test_a_study_on_an_untrained_model_matches_its_reconstructions_but_not_its_inputs(tok):
    """An untrained model reconstructs nothing: both mixings still end exactly on its
    reconstructions (100%), but no endpoint reproduces its input (0%)."""
    model = tiny_model(tok, "vt", max_len=16).eval()
    pairs = [(TINY_SENTENCES[0], TINY_SENTENCES[6]), (TINY_SENTENCES[6], TINY_SENTENCES[1])]
    result = pair_study.study(model, pairs, steps=3)
    assert all(r["decoded_a"] != r["ref_a"] for r in result["records"])  # nothing reconstructed
    assert result[MATCH] == 1.0 and result[INPUTS] == 0.0
    assert LEGACY[MATCH] not in result
    rows = pair_study.pair_rows(result)
    assert all(r[MATCH] is True and r[INPUTS] == 0.0 for r in rows)
    blob = pair_study.study_json(result)
    assert blob["summary"][MATCH] == 1.0 and blob["summary"][INPUTS] == 0.0


def test_results_stored_before_the_rename_still_read():
    """docs/results.json (and runs/ablations/results.jsonl) name the measure "endpoints_exact"."""
    stored = {"endpoints_exact": 1.0, "median_distinct": 7, "median_largest_step": 30.0}
    assert endpoint_value(stored, MATCH) == 1.0 and endpoint_value(stored, INPUTS) is None
    record = {"a": "he was born.", "b": "she left.", "strip": ["he was born.", "x", "she left it."]}
    assert endpoint_value({**record, "endpoints_exact": True}, MATCH) is True
    assert endpoint_value(record, INPUTS) == 0.5  # recomputed from the strip and the round trips
    paths = {"endpoints_exact": 1.0, "records": [{**record, "endpoints_exact": True}]}
    assert with_endpoints(paths) == {"records": paths["records"], MATCH: 1.0, INPUTS: 0.5}
    results = Path(__file__).resolve().parents[1] / "docs" / "results.json"
    if results.is_file():
        res = json.loads(results.read_text())["targets"]
        line = targets._path_measures(res["interpolation"])
        assert "endpoints match reconstructions" in line and "endpoints exact" not in line


def test_the_targets_report_both_measures():
    entry = {"median_distinct": 8, "median_largest_step": 31.0, MATCH: 1.0, INPUTS: 0.85, "mixing": "sweep"}
    line = targets._path_measures({"NVAE": entry})
    assert "endpoints match reconstructions 100%, endpoints reproduce inputs 85%" in line
    p = {
        "median_distinct": 8,
        "median_largest_step": 31.0,
        "endpoints_exact": 1.0,
        "pairs": 1,
        "mixing": "sweep",
        "records": [{"a": "a b.", "b": "c d.", "strip": ["a b.", "a d.", "c e."]}],
    }
    entry = targets._path_entry(p)
    assert entry[MATCH] == 1.0 and entry[INPUTS] == 0.5 and "endpoints_exact" not in entry
