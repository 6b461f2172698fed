"""nvae/readout/latent_map.py: the Latent map computed once, stored beside the weights as a plain .npz,
read back with validation (a damaged or stale file gives a notice, never a traceback), and new
points placed on a stored layout by their nearest reference means (no UMAP)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nvae.cli.main import main
from nvae.readout import latent_map, map_stats
from nvae.store.checkpoint import fingerprint, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def pca_layout(vectors, seed=0):
    """A fast stand-in for UMAP in the tests: the first two principal components."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v - v.mean(0)
    _, _, vt = np.linalg.svd(v, full_matrices=False)
    return (v @ vt[:2].T).astype(np.float32)


@pytest.fixture
def fast_fit(monkeypatch):
    calls = []

    def fit(vectors, seed=0):
        calls.append(len(vectors))
        return pca_layout(vectors, seed)

    monkeypatch.setattr(latent_map, "fit_layout", fit)
    return calls


@pytest.fixture(scope="module")
def model(tiny_checkpoint):
    return load_checkpoint(tiny_checkpoint)


@pytest.fixture
def made(model, fast_fit):
    return latent_map.compute_map(model, 20)


# -- placing new points ---------------------------------------------------------------------------


def test_a_reference_placed_on_itself_lands_on_its_place():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 8))
    layout = rng.normal(size=(50, 2)) * 5
    xy = latent_map.knn_place(ref[[3, 17, 42]], ref, layout, k=10)
    assert np.allclose(xy, layout[[3, 17, 42]], atol=1e-6)


def test_a_point_between_two_clusters_lands_between_them():
    rng = np.random.default_rng(1)
    a, b = np.zeros(16), np.full(16, 4.0)
    noise = rng.normal(scale=0.1, size=(5, 16))
    ref = np.concatenate([a + noise, b + noise])
    layout = np.concatenate([np.tile([0.0, 0.0], (5, 1)), np.tile([10.0, 0.0], (5, 1))])
    mid = latent_map.knn_place(((a + b) / 2)[None], ref, layout, k=10)[0]
    assert 4.0 < mid[0] < 6.0 and abs(mid[1]) < 1e-9
    near_a = latent_map.knn_place((a + 0.25 * (b - a))[None], ref, layout, k=10)[0]
    assert 0.0 < near_a[0] < mid[0]  # nearer A, still between
    assert latent_map.knn_place(a[None] + 0.01, ref, layout, k=3)[0][0] == pytest.approx(0.0)  # only A's


def test_knn_place_edges():
    ref, layout = np.eye(3), np.arange(6.0).reshape(3, 2)
    assert latent_map.knn_place(np.zeros((0, 3)), ref, layout).shape == (0, 2)
    assert latent_map.knn_place(np.ones((2, 3)), ref, layout, k=99).shape == (2, 2)  # k capped at R
    with pytest.raises(ValueError):
        latent_map.knn_place(np.ones((1, 4)), ref, layout)
    with pytest.raises(ValueError):
        latent_map.knn_place(np.ones((1, 3)), ref, layout[:2])


# -- computing ------------------------------------------------------------------------------------


def test_compute_map_on_the_tiny_checkpoint(model, made, fast_fit):
    m = made
    assert len(m.sentences) == 20 and m.n_points > 20
    assert set(m.layouts) == {"means", "residual"} and all(xy.shape == (m.n_points, 2) for xy in m.layouts.values())
    assert m.points["sentence"].max() == 19 and len(m.points["token"]) == m.n_points
    assert set(m.measures) == {"means", "residual"}
    assert all(set(v) == {"position", "token"} for v in m.measures.values())
    assert m.summary()["default"] in ("means", "residual") and 0 <= m.position_share <= 1
    assert m.fingerprint == fingerprint(model) and m.d_model == 32 and m.n_sentences == 20
    assert len(m.reference) == m.n_points  # a tiny model's means all fit the budget
    # the measures are those of the stored layouts
    r2 = map_stats.layout_r2(m.layouts["means"], m.points["position"], m.points["token"], m.points["sentence"])
    assert r2 == pytest.approx(m.measures["means"])


def test_placing_the_corpus_means_again_gives_their_places(model, made):
    """Each view places a corpus point's own (float16-rounded) mean on its own place, position
    removed for the residual view just as it was for the layout."""
    m = made
    pick = m.reference[:15]
    for projection in ("means", "residual"):
        xy = m.place(m.reference_means[:15], m.points["position"][pick], projection)
        assert np.allclose(xy, m.layouts[projection][pick], atol=1e-5)
    with pytest.raises(ValueError):
        m.place(m.reference_means[:1], m.points["position"][:1], "pca")


def test_the_reference_subset_keeps_a_full_size_file_small(model, fast_fit):
    assert latent_map.reference_count(6824, 256) == latent_map.REFERENCE_BYTES // 512 < 6824
    m = latent_map.compute_map(model, 20, reference_bytes=64 * 20)  # 20 float16 means of 32 numbers
    assert len(m.reference) == 20 and np.all(np.diff(m.reference) > 0)
    xy = m.place(m.reference_means[:3], m.points["position"][m.reference[:3]], "means")
    assert np.allclose(xy, m.layouts["means"][m.reference[:3]], atol=1e-5)


def test_progress_is_reported(model, fast_fit):
    seen = []
    latent_map.compute_map(model, 70, progress=lambda done, total, what: seen.append((done, total, what)))
    assert seen[0][:2] == (0, 5) and seen[-1][:2] == (5, 5)  # two chunks of 64 sentences, two fits, measures
    assert any("UMAP" in w for *_, w in seen)


def test_fit_layout_is_a_real_umap():
    rng = np.random.default_rng(0)
    torch.set_num_threads(1)  # numba's OpenMP layer turned one torch thread into two (one per core)
    xy = latent_map.fit_layout(np.concatenate([rng.normal(size=(20, 8)), rng.normal(size=(20, 8)) + 6]))
    assert torch.get_num_threads() == 1
    assert xy.shape == (40, 2) and xy.dtype == np.float32 and np.isfinite(xy).all()
    a, b = xy[:20].mean(0), xy[20:].mean(0)
    assert np.linalg.norm(a - b) > np.linalg.norm(xy[:20] - a, axis=1).mean()  # the clusters stay apart


@pytest.mark.parametrize("fails", [False, True])
def test_fit_layout_gives_torch_its_thread_count_back(monkeypatch, fails):
    """Whatever the UMAP fit does to the thread count torch reads (numba's OpenMP layer changed it, and
    a later one-thread test ran 13 times slower), fit_layout leaves it as it was, failed fit or not."""
    import sys
    import types

    before = torch.get_num_threads()

    class ThreadChangingUMAP:
        def __init__(self, **kw):
            pass

        def fit_transform(self, vectors):
            torch.set_num_threads(before + 1)
            if fails:
                raise RuntimeError("the fit failed")
            return np.zeros((len(vectors), 2))

    monkeypatch.setitem(sys.modules, "umap", types.SimpleNamespace(UMAP=ThreadChangingUMAP))
    if fails:
        with pytest.raises(RuntimeError, match="the fit failed"):
            latent_map.fit_layout(np.zeros((10, 4)))
    else:
        assert latent_map.fit_layout(np.zeros((10, 4))).shape == (10, 2)
    assert torch.get_num_threads() == before


# -- the file -------------------------------------------------------------------------------------


def test_round_trip(tmp_path, model, made):
    m = made
    m.sentences[0] = "Unicode: Zoë's café — ☃ 😀"
    path = latent_map.save_map(tmp_path / "latent_map.npz", m)
    back, notice = latent_map.load_map(path, model, 20)
    assert notice is None and back is not None
    assert back.sentences == m.sentences
    assert list(back.points["token"]) == list(m.points["token"])
    for k in ("sentence", "position", "weight"):
        assert np.array_equal(back.points[k], m.points[k])
    for p in ("means", "residual"):
        assert np.array_equal(back.layouts[p], m.layouts[p])
        assert back.measures[p] == pytest.approx(m.measures[p])
    assert np.array_equal(back.reference_means, m.reference_means)  # stored float16, already rounded
    assert back.summary()["default"] == m.summary()["default"]
    assert back.position_share == pytest.approx(m.position_share)
    assert back.fingerprint == m.fingerprint and back.created == m.created
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        assert all(data[name].dtype != object for name in data.files)


def _rewrite(src: Path, dst: Path, **changes) -> Path:
    with np.load(src, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays.update(changes)
    np.savez(dst, **arrays)
    return dst


def test_bad_or_stale_files_are_ignored_with_a_notice(tmp_path, model, made):
    good = latent_map.save_map(tmp_path / "good.npz", made)
    assert latent_map.load_map(tmp_path / "missing.npz", model) == (None, None)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file at all")
    obj = tmp_path / "obj.npz"
    np.savez(obj, sentences_utf8=np.array([{"x": 1}], dtype=object))
    cases = {
        "junk.npz": "cannot be read",
        "obj.npz": "cannot be read",  # object arrays would need pickle: refused
        _rewrite(good, tmp_path / "old.npz", version=np.int64(99)).name: "format 99",
        _rewrite(
            good,
            tmp_path / "wide.npz",  # a whole map of a wider model
            d_model=np.int64(64),
            position_table=np.zeros((map_stats.POSITION_CAP + 1, 64), np.float32),
            reference_means=np.zeros((len(made.reference), 64), np.float16),
        ).name: "width 64",
        _rewrite(good, tmp_path / "other.npz", fingerprint=np.str_("0" * 64)).name: "other weights",
        _rewrite(good, tmp_path / "short.npz", layout_means=np.zeros((3, 2), np.float32)).name: "inconsistent",
        _rewrite(
            good, tmp_path / "nan.npz", layout_residual=np.full_like(made.layouts["residual"], np.nan)
        ).name: "not finite",
        _rewrite(good, tmp_path / "index.npz", sentence=np.full(made.n_points, 99, np.int32)).name: "out of range",
        _rewrite(good, tmp_path / "refs.npz", reference=np.array([0, 10**6], np.int32)).name: "inconsistent",
        _rewrite(good, tmp_path / "text.npz", sentences_end=np.array([5, 3], np.int64)).name: "inconsistent",
        _rewrite(good, tmp_path / "n.npz", n_sentences=np.int64(300)).name: "300 sentences",
    }
    without = tmp_path / "partial.npz"
    with np.load(good, allow_pickle=False) as data:
        np.savez(without, **{k: data[k] for k in data.files if k != "reference_means"})
    cases["partial.npz"] = "reference_means"
    for name, word in cases.items():
        m, notice = latent_map.load_map(tmp_path / name, model, 20)
        assert m is None and notice and word in notice and str(tmp_path / name) in notice, (name, notice)
        assert "\n" not in notice
    assert latent_map.load_map(good, model, 20)[0] is not None


def test_a_file_is_stale_once_the_weights_change(tmp_path, tiny_checkpoint, made):
    path = latent_map.save_map(tmp_path / "latent_map.npz", made)
    changed = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    m, notice = latent_map.load_map(path, changed)
    assert m is None and "other weights" in notice


# -- the command line -----------------------------------------------------------------------------


def test_the_map_command_writes_the_file(tmp_path, tiny_checkpoint, model, fast_fit, capsys):
    out = tmp_path / "map.npz"
    argv = ["map", str(tiny_checkpoint), "--sentences", "12", "--out", str(out), "--quiet", "--device", "cpu"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["file"] == str(out) and res["sentences"] == 12 and res["bytes"] == out.stat().st_size
    assert set(res["layouts"]) == {"means", "residual"} and res["default"] in ("means", "residual")
    assert len(fast_fit) == 2  # two layouts
    m, notice = latent_map.load_map(out, model, 12)
    assert notice is None and m.n_points == res["points"]


def test_the_map_command_reports_bad_input_in_one_line(tmp_path, tiny_checkpoint, fast_fit, capsys):
    blocked = tmp_path / "file"
    blocked.write_text("a file where a folder should be")
    for argv, word in [
        (["map", str(tmp_path / "nope")], "nope"),
        (["map", str(tiny_checkpoint), "--sentences", "3"], "between"),
        (["map", str(tiny_checkpoint), "--sentences", "10", "--quiet", "--out", str(blocked / "x")], "cannot write"),
    ]:
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and word in err and "Traceback" not in err, (argv, err)


# -- the shipped checkpoints ---------------------------------------------------------------------


SHIPPED = sorted(p.parent for p in (ROOT / "checkpoints").glob(f"*/{latent_map.FILE_NAME}"))


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_the_shipped_maps_are_valid_for_their_weights(folder):
    """A checkpoint's latent_map.npz must match its weights (rewrite it with `python -m nvae map`
    whenever they change) and stay small."""
    path = folder / latent_map.FILE_NAME
    assert path.stat().st_size < 1_100_000
    m, notice = latent_map.load_map(path, load_checkpoint(folder), latent_map.DEFAULT_SENTENCES)
    assert notice is None, notice
    assert len(m.sentences) == latent_map.DEFAULT_SENTENCES and m.n_points >= len(m.sentences)


def test_a_pooled_model_puts_one_point_per_sentence_on_the_map():
    """VTP keeps one vector pooled over the sentence: the map shows it (one point per sentence, labelled
    ⟨pooled⟩), where it once found no token component and had nothing to lay out."""
    from helpers import make_tokenizer, tiny_model

    from nvae.readout.sentence import component_points

    model = tiny_model(make_tokenizer(), "vtp").eval()
    points = component_points(model, ["the cat sat on the mat", "a dog ran in the park", "the bird sang"])
    assert len(points["means"]) == 3 and list(points["sentence"]) == [0, 1, 2]
    assert set(points["token"]) == {"⟨pooled⟩"} and set(points["position"]) == {0}
