"""nvae.readout.sentence_paths (paths through several sentences), nvae.readout.pair_study (the study of a file of
pairs), nvae.readout.map_stats (what a map of component means encodes) and sentence.drawn_samples, on tiny
checkpoints."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from nvae.data.text import encode_texts
from nvae.evaluation import measures
from nvae.evaluation.endpoints import INPUTS, MATCH, endpoint_value
from nvae.model.grids import tau_grid
from nvae.readout import map_stats, pair_study, sentence, sentence_paths
from nvae.store.checkpoint import load_checkpoint

S = ["The cat sat on the mat.", "A storm hit the coast in June.", "He was born in London."]


@pytest.fixture(scope="module")
def models(tiny_checkpoint, tiny_baseline_checkpoint):
    torch.manual_seed(0)
    return {"nvae": load_checkpoint(tiny_checkpoint), "vt": load_checkpoint(tiny_baseline_checkpoint)}


# -- paths ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", ["linear", "logodds"])
def test_path_through_three_sentences(models, grid):
    model = models["nvae"]
    out = sentence_paths.path_strip(model, S, steps=5, grid=grid)
    assert out["labels"] == ["A", "B", "C"]
    assert out["taus"] == tau_grid(5, grid)
    assert len(out["segments"]) == 2 and all(len(seg) == 5 for seg in out["segments"])
    path = out["path"]
    assert len(path) == 2 * 5 - 1  # the junction step is listed once
    assert [r["step"] for r in path] == list(range(len(path)))
    positions = [r["position"] for r in path]
    assert positions == sorted(positions) and positions[0] == 0.0 and positions[-1] == 2.0
    assert all(len(r["bleu"]) == 3 for r in path)
    # the ends of every segment decode exactly like each waypoint alone
    assert path[0]["text"] == out["decoded"][0]
    assert next(r["text"] for r in path if r["position"] == 1.0) == out["decoded"][1]
    assert path[-1]["text"] == out["decoded"][2]
    # BLEU against every waypoint, and "changed" against the path's previous row
    for r in path:
        assert r["bleu"] == pytest.approx(sentence_paths.bleu_against(r["text"], out["waypoints"]))
    for prev, r in zip(path, path[1:]):
        assert r["changed"] == (r["text"] != prev["text"])


def test_a_two_sentence_path_is_todays_strip(models):
    """Two sentences at the default settings give exactly the Interpolate page's 11-step strip."""
    model = models["nvae"]
    out = sentence_paths.path_strip(model, S[:2])
    strip = sentence.interpolation_strip(model, sentence.encode_pair(model, *S[:2]))
    assert [r["tau"] for r in out["segments"][0]] == sentence.STRIP_TAUS
    for mine, theirs in zip(out["segments"][0], strip):
        assert mine["text"] == theirs["text"] and mine["change"] == theirs["change"]
        assert mine["bleu_a"] == pytest.approx(theirs["bleu_a"]) and mine["bleu_b"] == pytest.approx(theirs["bleu_b"])
    as_path = sentence_paths.strip_as_path(strip)
    assert [r["text"] for r in as_path] == [r["text"] for r in out["path"]]
    np.testing.assert_allclose([r["bleu"] for r in as_path], [r["bleu"] for r in out["path"]])


def test_path_arguments_are_checked(models):
    model = models["nvae"]
    with pytest.raises(ValueError, match="2 to 5"):
        sentence_paths.path_strip(model, S[:1])
    with pytest.raises(ValueError, match="2 to 5"):
        sentence_paths.path_strip(model, S * 2)
    with pytest.raises(ValueError, match="steps"):
        sentence_paths.path_strip(model, S, steps=2)
    with pytest.raises(ValueError, match="grid"):
        sentence_paths.path_strip(model, S, grid="cubic")


def test_segment_at_and_labels():
    assert sentence_paths.segment_at(0.0, 3) == (0, 0.0)
    assert sentence_paths.segment_at(0.5, 3) == (0, 0.5)
    assert sentence_paths.segment_at(1.0, 3) == (1, 0.0)
    assert sentence_paths.segment_at(1.25, 3) == (1, 0.25)
    assert sentence_paths.segment_at(2.0, 3) == (1, 1.0)  # the last waypoint ends the last segment
    assert sentence_paths.segment_at(9.0, 3) == (1, 1.0) and sentence_paths.segment_at(-1, 3) == (0, 0.0)
    comps = [{"origin": "A", "w": 1}, {"origin": "B", "w": 2}, {"origin": "A+B", "w": 3}]
    assert [c["origin"] for c in sentence_paths.relabel_origins(comps, 2)] == ["C", "D", "C+D"]
    row = {"step": 0, "position": 0.0, "text": "x", "bleu": [1.0, 2.0]}
    assert sentence_paths.path_row_export(row, ["A", "B"]) == {
        "step": 0,
        "position": 0.0,
        "text": "x",
        "bleu_A": 1.0,
        "bleu_B": 2.0,
    }


def test_path_components_of_a_mixture_of_sets(models):
    model = models["nvae"]
    comps = sentence_paths.path_components(model, S, steps=5)
    points = sentence.component_points(model, S)  # each waypoint's retained components alone
    assert comps["means"].shape == (len(points["token"]), model.cfg.d_model)
    assert set(comps["origin"]) == {"A", "B", "C"}
    w = comps["weights"]
    assert w.shape == (2 * 5 - 1, len(points["token"]))
    assert (w >= 0).all() and (w.sum(1) <= 1 + 1e-5).all()
    # at tau = 0 the mixture is A: its components carry A's own weights, the others none
    a = comps["origin"] == "A"
    assert not w[0, ~a].any()
    assert sorted(w[0, a]) == pytest.approx(sorted(points["weight"][points["sentence"] == 0]), abs=1e-5)
    assert not w[-1, comps["origin"] != "C"].any()
    assert list(comps["position"][a]) == list(points["position"][points["sentence"] == 0])


def test_path_components_of_a_position_wise_blend(models):
    comps = sentence_paths.path_components(models["vt"], S[:2], steps=3)
    assert set(comps["origin"]) == {"A+B"}
    assert comps["weights"].shape[0] == 3
    assert len(comps["means"]) > comps["weights"][0].astype(bool).sum()  # new vectors at the middle step


def test_path_centroids():
    xy = np.array([[0.0, 0.0], [2.0, 4.0]])
    weights = np.array([[1.0, 0.0], [0.25, 0.25], [0.0, 0.0]])
    out = sentence_paths.path_centroids(xy, weights)
    assert out[0] == pytest.approx([0.0, 0.0]) and out[1] == pytest.approx([1.0, 2.0])
    assert np.isnan(out[2]).all()


# -- a file of pairs -----------------------------------------------------------------------------


def test_parse_pairs_reads_a_good_file():
    data = "\ufeffa\tb\n# a comment\nThe cat sat.\tA storm hit.\r\n\nShe plays.\tHe was born.\textra\n".encode()
    out = pair_study.parse_pairs(data)
    assert out.pairs == [("The cat sat.", "A storm hit."), ("She plays.", "He was born.")]
    assert out.lines == [3, 5] and not out.errors
    assert out.notices == ["Ignored the columns after the second on line 5."]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"  \n\n \t \n", "empty"),
        (b"x" * 300_000, "limit is 256 kB"),
        (b"PK\x03\x04\x00\x00binary", "not text"),
        (b"caf\xe9\tbar\n", "not UTF-8"),
        (b"one,two\nthree,four\n", "no line has a tab"),
        (b"same\tSame\n", "No usable pair"),
    ],
)
def test_parse_pairs_bad_files(data, message):
    out = pair_study.parse_pairs(data)
    assert not out.pairs and out.errors and message in out.errors[0]


def test_parse_pairs_skips_bad_lines_and_names_them():
    text = "a1\tb1\nonly one column\na2\t\n\tb3\nsame\tsame\n" + "x" * 2500 + "\ty\n"
    out = pair_study.parse_pairs(text)
    assert out.pairs[0] == ("a1", "b1") and len(out.pairs) == 2 and len(out.pairs[1][0]) == pair_study.MAX_CHARS
    joined = " | ".join(out.notices)
    assert "line 2: one column" in joined
    assert "lines 3, 4: a sentence is empty" in joined
    assert "line 5: the two sentences are the same" in joined
    assert "longer than 2000 characters on line 6" in joined
    many = "".join(f"a{i}\tb{i}\n" for i in range(150))
    out = pair_study.parse_pairs(many)
    assert len(out.pairs) == pair_study.MAX_PAIRS and "first 100 of the 150" in out.notices[-1]


# -- the study -----------------------------------------------------------------------------------


def test_study_gives_the_numbers_of_interpolation_paths(models):
    """The study of given pairs measures each pair exactly as measures.interpolation_paths does."""
    model = models["nvae"]
    ids, _ = encode_texts(model.tokenizer, S, model.cfg.max_len - 1)
    theirs = measures.interpolation_paths(model, ids, pairs=3, steps=7, seed=1)
    pairs = [(r["a"], r["b"]) for r in theirs["records"]]
    done = []
    mine = pair_study.study(model, pairs, steps=7, progress=lambda k, n: done.append((k, n)))
    assert done == [(1, 3), (2, 3), (3, 3)]
    assert mine["taus"] == theirs["taus"]
    for m, t in zip(mine["records"], theirs["records"]):
        assert [s["text"] for s in m["strip"]] == t["strip"]
        assert m["distinct"] == t["distinct"]
        assert m["bleu_vs_decoded_a"] == pytest.approx(t["bleu_vs_a"])
        assert m["largest_step"] == pytest.approx(t["largest_step"])
        assert m[MATCH] == endpoint_value(t, MATCH)
        assert m[INPUTS] == endpoint_value(t, INPUTS)
    for k in ("median_distinct", "median_largest_step"):
        assert mine[k] == pytest.approx(theirs[k])
    assert mine[MATCH] == pytest.approx(endpoint_value(theirs, MATCH))
    assert mine["settings"] == {
        "steps": 7,
        "grid": "linear",
        "mixing": "sweep",
        "alpha_delta": 0.3,
        "model_type": "nvae",
    }
    # the paper's uniform mixing, measured the same way by both
    theirs = measures.interpolation_paths(model, ids, pairs=3, steps=7, seed=1, mixing="uniform")
    mine = pair_study.study(model, pairs, steps=7, mixing="uniform")
    assert [[s["text"] for s in m["strip"]] for m in mine["records"]] == [t["strip"] for t in theirs["records"]]
    assert mine["settings"]["mixing"] == theirs["mixing"] == "uniform"


def test_study_curves_and_exports(models):
    model = models["nvae"]
    result = pair_study.study(model, [(S[0], S[1]), (S[1], S[2])], steps=5, grid="logodds")
    c = result["curves"]
    assert c["tau"] == tau_grid(5, "logodds")
    for k in ("bleu_a", "bleu_b", "bleu_vs_decoded_a", "new", "changed"):
        assert len(c[k]) == 5
    assert all(0 <= v <= 1 for v in c["new"] + c["changed"])
    r0 = result["records"][0]
    assert c["bleu_a"][0] == pytest.approx((r0["strip"][0]["bleu_a"] + result["records"][1]["strip"][0]["bleu_a"]) / 2)
    if all(r[MATCH] for r in result["records"]):
        assert c["new"][0] == 0 and c["new"][-1] == 0
    meta = {"checkpoint": "tiny-nvae", "alpha_delta": 0.3}
    pairs = pair_study.pair_rows(result, meta)
    steps = pair_study.step_rows(result, meta)
    curves = pair_study.curve_rows(result, meta)
    assert len(pairs) == 2 and len(steps) == 10 and len(curves) == 5
    assert all(r["checkpoint"] == "tiny-nvae" and r["alpha_delta"] == 0.3 for r in pairs + steps + curves)
    assert pairs[0]["a"] == S[0] and steps[0]["tau"] == 0.0
    blob = json.loads(json.dumps(pair_study.study_json(result, meta)))
    assert blob["checkpoint"] == "tiny-nvae" and blob["settings"]["grid"] == "logodds"
    assert blob["inputs"] == [{"a": S[0], "b": S[1]}, {"a": S[1], "b": S[2]}]
    assert blob["summary"]["pairs"] == 2 and len(blob["pairs"]) == 2
    with pytest.raises(ValueError):
        pair_study.summarise([], [0.0, 1.0])


def test_study_on_a_baseline_records_no_alpha_delta(models):
    result = pair_study.study(models["vt"], [(S[0], S[1])], steps=3)
    assert result["settings"]["alpha_delta"] is None and result["settings"]["model_type"] == "vt"
    assert result["records"][0][MATCH] in (True, False)


# -- what a map encodes --------------------------------------------------------------------------


def test_group_r2():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(10), 30)
    centres = rng.normal(size=(10, 2)) * 5
    y = centres[groups] + rng.normal(scale=0.1, size=(300, 2))
    assert map_stats.group_r2(y, groups) > 0.99
    noise = rng.normal(size=(300, 2))
    assert abs(map_stats.group_r2(noise, groups)) < 0.1
    # a group seen once cannot explain itself out of fold
    assert map_stats.group_r2(y, np.arange(300)) <= 0.0
    assert map_stats.group_r2(np.ones((5, 2)), np.arange(5)) == 0.0  # no variance at all
    assert map_stats.group_r2(np.zeros((1, 2)), [0]) == 0.0


def test_layout_r2_tells_position_from_token():
    rng = np.random.default_rng(1)
    n_sent, length = 60, 12
    position = np.tile(np.arange(length), n_sent)
    sentence_of = np.repeat(np.arange(n_sent), length)
    token = rng.choice(list("abcdefgh"), size=len(position))
    by_position = np.stack([position, position**0.5], 1) + rng.normal(scale=0.05, size=(len(position), 2))
    r2 = map_stats.layout_r2(by_position, position, token, sentence_of)
    assert r2["position"] > 0.95 and r2["token"] < 0.1
    codes = {t: rng.normal(size=2) * 3 for t in "abcdefgh"}
    by_token = np.stack([codes[t] for t in token]) + rng.normal(scale=0.05, size=(len(token), 2))
    r2 = map_stats.layout_r2(by_token, position, token, sentence_of)
    assert r2["token"] > 0.95 and r2["position"] < 0.1
    assert map_stats.axes_encode(r2) == "mostly token identity"
    assert map_stats.axes_encode({"position": 0.99, "token": -0.2}) == "mostly token position"
    assert map_stats.axes_encode({"position": 0.0, "token": 0.28}).startswith("in part token identity")
    assert map_stats.axes_encode({"position": 0.05, "token": 0.1}) == "neither token position nor token identity"


def test_remove_position():
    rng = np.random.default_rng(2)
    position = np.tile(np.arange(50), 8)  # past the cap too
    means = rng.normal(size=(len(position), 6)) + position[:, None] * 3.0
    residual, fit = map_stats.remove_position(means, position)
    assert residual.dtype == np.float32 and residual.shape == means.shape
    groups = map_stats.position_group(position)
    for g in np.unique(groups):
        assert np.abs(residual[groups == g].mean(0)).max() < 1e-4  # no position left in the means
    assert map_stats.share_explained(means, position) > 0.9
    assert map_stats.share_explained(residual, position) < 1e-6
    # new points lose the same per-position mean; a position past the cap uses the pooled group
    new = np.ones((2, 6))
    out = fit.apply(new, [3, 99])
    assert out[0] == pytest.approx(1 - fit.table[3]) and out[1] == pytest.approx(1 - fit.table[map_stats.POSITION_CAP])
    assert fit.apply(np.zeros((0, 6)), []).shape == (0, 6)


def test_choose_projection_and_top_tokens():
    assert map_stats.choose_projection({"means": {"position": 0.2, "token": 0.5}}) == "means"
    dominated = {"means": {"position": 0.99, "token": -0.2}, "residual": {"position": 0.0, "token": 0.3}}
    assert map_stats.choose_projection(dominated) == "residual"
    no_better = {"means": {"position": 0.9, "token": 0.1}, "residual": {"position": 0.95, "token": 0.1}}
    assert map_stats.choose_projection(no_better) == "means"
    assert map_stats.top_tokens(["b", "a", "b", "c", "a", "b"], 2) == ["b", "a"]
    assert map_stats.top_tokens([], 3) == []


def test_the_position_removed_map_of_a_model(models):
    """On a real latent: removing position leaves no position in the means, their token content stays."""
    model = models["nvae"]
    points = sentence.component_points(model, S * 4)
    residual, fit = map_stats.remove_position(points["means"], points["position"])
    assert map_stats.share_explained(residual, points["position"]) < 1e-6
    again = fit.apply(points["means"], points["position"])
    assert again == pytest.approx(residual, abs=1e-5)


# -- samples name their source -------------------------------------------------------------------


def test_drawn_samples_name_their_source(models):
    from nvae.evaluation.sampling import fit_aggregate

    model = models["nvae"]
    assert sentence.sample_sources(model) == ["prior"]
    assert sentence.sample_sources(models["vt"]) == []
    prior = sentence.drawn_samples(model, "prior", 5, 2, seed=3, temperature=0.0)
    assert [s["source"] for s in prior] == ["prior", "prior"]
    assert [s["text"] for s in prior] == [s["text"] for s in sentence.drawn_samples(model, "prior", 5, 2, 3, 0.0)]
    with pytest.raises(FileNotFoundError):
        sentence.drawn_samples(model, "aggregate", 5, 2, seed=3, temperature=0.0)
    ids, _ = encode_texts(model.tokenizer, S * 3, model.cfg.max_len - 1)
    try:
        model.aggregate = fit_aggregate(model, ids)
        assert sentence.sample_sources(model) == ["prior", "aggregate"]
        agg = sentence.drawn_samples(model, "aggregate", 5, 2, seed=3, temperature=0.0)
        assert [s["source"] for s in agg] == ["aggregate", "aggregate"]
        assert all(math.isclose(sum(s["weights"]), 1.0, rel_tol=1e-4) for s in agg)
    finally:
        model.aggregate = None
