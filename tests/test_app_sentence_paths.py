"""The app's paths through several sentences, the interpolation study of a file of pairs, the side
by side view of two checkpoints, the honest latent map and the samples' sources, under AppTest on
tiny checkpoints: no exception, settings in the URL, bad input gives a message, never a traceback."""

from __future__ import annotations

import functools
import json
import shutil

import helpers
import pytest
from helpers import captions, no_exception
from streamlit.testing.v1 import AppTest

from app.views.interpolate.settings import MIXING_NAMES
from nvae.data import examples
from nvae.model.mixture import DEFAULT_MIXING, MIXINGS
from nvae.readout import pair_study, sentence
from nvae.store.checkpoint import load_checkpoint

C, D = "The cat sat on the mat.", "He was born in London."
pytestmark = pytest.mark.usefixtures("app_env")
open_page = functools.partial(helpers.open_page, fresh=True)  # every page opened on a cleared query string


def figures(at: AppTest) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def titled(at: AppTest, start: str) -> dict:
    return next(f for f in figures(at) if str(f["layout"].get("title", {}).get("text", "")).startswith(start))


def downloads(at: AppTest) -> list[str]:
    return [b.label for b in at.get("download_button")]


def metric_labels(at: AppTest) -> list[str]:
    return [m.label for m in at.metric]


# -- the two-sentence view stays as it was ----------------------------------------------------------


def test_two_sentences_work_as_before_with_a_player():
    at = open_page("interpolate", {"a": "Alpha sentence here.", "b": "Beta sentence there.", "tau": "0.3"})
    no_exception(at)
    assert at.slider(key="interpolate.tau").value == pytest.approx(0.3)
    assert len(at.table) == 2 and any("τ = 0.30" in c for c in captions(at))
    assert at.query_params["a"] == "Alpha sentence here." and at.query_params["tau"] == "0.3"
    assert at.query_params["steps"] == "11" and at.query_params["grid"] == "linear"
    assert "c" not in at.query_params and "t" not in at.query_params
    player = titled(at, "Each step")
    assert len(player["frames"]) == 11
    assert [b["label"] for b in player["layout"]["updatemenus"][0]["buttons"]] == ["▶ Play", "❚❚ Pause"]
    assert len(player["layout"]["sliders"][0]["steps"]) == 11
    assert [m for m in metric_labels(at) if m.startswith("BLEU")] == ["BLEU vs A", "BLEU vs B"]


def test_steps_and_grid_change_the_strip_and_are_in_the_url():
    at = open_page("interpolate")
    at.number_input(key="interpolate.steps").set_value(7).run()
    no_exception(at)
    assert any(s.value == "The strip: 7 steps decoded at once" for s in at.subheader)
    assert len(at.table[0].value) == 7
    at.radio(key="interpolate.grid").set_value("logodds").run()
    no_exception(at)
    assert at.query_params["steps"] == "7" and at.query_params["grid"] == "logodds"
    taus = list(at.table[0].value["tau"])
    assert taus[0] == 0 and taus[-1] == 1 and taus[1] < 0.05  # log-odds: more steps near the ends
    at = open_page("interpolate", {"steps": "7", "grid": "logodds"})
    no_exception(at)
    assert at.number_input(key="interpolate.steps").value == 7 and at.radio(key="interpolate.grid").value == "logodds"


def test_mixing_is_a_control_in_the_url_and_decodes_what_the_library_decodes(app_env):
    a, b = "Alpha sentence here.", "Beta sentence there."
    at = open_page("interpolate", {"a": a, "b": b})
    no_exception(at)
    assert at.radio(key="interpolate.mixing").value == DEFAULT_MIXING == "sweep"
    assert at.query_params["mixing"] == "sweep" and any("swept from the first token" in c for c in captions(at))
    model = load_checkpoint(app_env["nvae"])
    shown = {}
    for mixing in ("uniform", "sweep"):
        at.radio(key="interpolate.mixing").set_value(mixing).run()
        no_exception(at)
        assert at.query_params["mixing"] == mixing
        expected = sentence.interpolation_strip(model, sentence.encode_pair(model, a, b), sentence.STRIP_TAUS, mixing)
        shown[mixing] = list(at.table[0].value["text"])
        assert shown[mixing] == [r["text"] for r in expected]
    assert shown["uniform"] != shown["sweep"]  # the two mixings give different strips on this pair
    at.radio(key="interpolate.mixing").set_value("uniform").run()
    assert any("(1 − τ)·F_A + τ·F_B" in c for c in captions(at))
    at = open_page("interpolate", {"a": a, "b": b, "mixing": "uniform"})
    no_exception(at)
    assert at.radio(key="interpolate.mixing").value == "uniform"


def test_a_bad_mixing_in_a_link_falls_back_with_a_notice_naming_it():
    at = open_page("interpolate", {"mixing": "<i>cubic</i>"})
    no_exception(at)
    assert at.radio(key="interpolate.mixing").value == DEFAULT_MIXING
    assert any("mixing" in w.value for w in at.warning)


def test_mixing_names_cover_the_library_s_mixings():
    assert tuple(MIXING_NAMES) == MIXINGS


@pytest.mark.parametrize("query", [{"steps": "999"}, {"steps": "x"}, {"grid": "<b>cubic</b>"}, {"mode": "nope"}])
def test_bad_path_settings_in_a_link_fall_back_with_a_notice(query):
    at = open_page("interpolate", query)
    no_exception(at)
    notices = [w.value for w in at.warning if "is not reproduced" not in w.value]  # not the ends' own notices
    assert notices and not any("<b>" in w for w in notices)
    assert at.number_input(key="interpolate.steps").value == 11


def test_example_pairs_fill_a_and_b():
    pairs = examples.pairs()
    assert pairs, "examples/pairs.tsv ships with the project"
    at = open_page("interpolate", {"c": C})
    at.selectbox(key="interpolate.example").set_value(len(pairs) - 1).run()
    no_exception(at)
    assert at.text_input(key="interpolate.a").value == pairs[-1][0]
    assert at.text_input(key="interpolate.b").value == pairs[-1][1]
    assert at.text_input(key="interpolate.c").value == ""  # an example is a pair: the path's C is cleared
    assert at.selectbox(key="interpolate.example").value is None
    assert at.query_params["a"] == pairs[-1][0] and "c" not in at.query_params


# -- a path through several sentences --------------------------------------------------------------


def test_a_path_through_four_sentences():
    at = open_page("interpolate", {"c": C, "d": D, "t": "2.5", "steps": "5"})
    no_exception(at)
    assert at.slider(key="interpolate.t").value == pytest.approx(2.5)
    assert any(c.startswith("Decoded at 2.50: C → D, τ = 0.50") for c in captions(at))
    assert [m for m in metric_labels(at) if m.startswith("BLEU")] == [f"BLEU vs {x}" for x in "ABCD"]
    assert [t.label for t in at.tabs] == ["A → B", "B → C", "C → D"]
    assert len(at.table) == 6  # each segment's strip, beside the baseline's
    assert all(len(t.value) == 5 for t in at.table)
    bleu = titled(at, "BLEU of each step against every sentence")
    assert {d["name"] for d in bleu["data"]} >= {"NVAE vs A", "NVAE vs D", "baseline-vt vs D"}
    assert len(titled(at, "Each step")["frames"]) == 3 * 5 - 2
    assert titled(at, "Mixed latent at 2.50")
    assert "Download CSV" in downloads(at)
    at.slider(key="interpolate.t").set_value(0.5).run()
    no_exception(at)
    assert any(c.startswith("Decoded at 0.50: A → B") for c in captions(at))
    assert at.query_params["t"] == "0.5" and at.query_params["c"] == C and at.query_params["d"] == D
    assert "tau" not in at.query_params


def test_typing_a_third_sentence_makes_a_path():
    at = open_page("interpolate")
    at.text_input(key="interpolate.c").set_value(C)
    at.button[0].click().run()
    no_exception(at)
    assert at.query_params["c"] == C and "t" in at.query_params
    assert [t.label for t in at.tabs] == ["A → B", "B → C"]
    at.text_input(key="interpolate.c").set_value("   ")
    at.button[0].click().run()
    no_exception(at)
    assert "c" not in at.query_params and len(at.table) == 2  # back to two sentences
    assert at.slider(key="interpolate.tau")


def test_a_path_position_outside_the_path_is_clamped():
    at = open_page("interpolate", {"c": C, "t": "4"})
    no_exception(at)
    assert at.slider(key="interpolate.t").value == pytest.approx(2.0)
    assert any("position on the path" in w.value for w in at.warning)


def test_a_path_with_bad_or_empty_sentences():
    at = open_page("interpolate", {"c": "x " * 5000})
    no_exception(at)
    assert any("Sentence C is longer than the model's limit" in w.value for w in at.warning)
    at = open_page("interpolate", {"b": "   ", "c": C})
    no_exception(at)
    assert any(w.value.startswith("sentence B:") for w in at.warning)  # the link's blank B is not used


def test_the_path_on_the_latent_map():
    at = open_page("interpolate", {"c": C, "steps": "3"})
    at.toggle(key="interpolate.map").set_value(True).run()
    no_exception(at)
    assert at.query_params["map"] == "1"
    fig = titled(at, "The path on the latent map")
    assert len(fig["frames"]) == 5
    names = [d.get("name") for d in fig["data"]]
    assert "centre of each step" in names and "components at this step (size: weight)" in names
    assert any("R²" in c and "encode" in c for c in captions(at))
    at = open_page("interpolate", {"map": "1"})  # two sentences, from a link
    no_exception(at)
    assert len(titled(at, "The path on the latent map")["frames"]) == 11


# -- the study of a file of pairs -----------------------------------------------------------------


def test_batch_study_of_the_shipped_examples():
    at = open_page("interpolate", {"mode": "batch", "steps": "5"})
    no_exception(at)
    n = len(examples.pairs())
    assert next(m.value for m in at.metric if m.label == "Pairs") == str(n)
    assert {
        "Median distinct sentences",
        "Median largest BLEU step",
        "Endpoints match reconstructions",
        "Endpoints reproduce inputs",
    } <= set(metric_labels(at))
    assert any("examples/pairs.tsv" in c for c in captions(at))
    assert {"Pairs CSV", "Steps CSV", "Curves CSV", "All as JSON", "Strips as an HTML animation (for slides)"} <= set(
        downloads(at)
    )
    assert len(at.dataframe[0].value) == n and len(at.table[0].value) == 5
    anim = titled(at, "Interpolation strips")
    assert len(anim["frames"]) == 5 and anim["frames"][1]["data"][1]["text"][0].startswith("τ = ")
    assert titled(at, f"Over all {n} pairs")
    assert at.query_params["mode"] == "batch" and at.query_params["steps"] == "5"
    next(s for s in at.selectbox if s.label == "Show the strip of pair").set_value(n - 1).run()
    no_exception(at)
    assert at.table[0].value["text"].iloc[0]


def test_batch_study_takes_the_mixing_from_the_link(app_env):
    at = open_page("interpolate", {"mode": "batch", "steps": "3", "mixing": "uniform"})
    no_exception(at)
    assert at.query_params["mixing"] == "uniform"
    assert any("uniform (the paper's) mixing" in c for c in captions(at))
    model = load_checkpoint(app_env["nvae"])
    a, b = examples.pairs()[0]
    expected = pair_study.study_pair(model, a, b, 3, "linear", mixing="uniform")["strip"]
    assert list(at.table[0].value["text"]) == [r["text"] for r in expected]


def test_batch_study_of_an_uploaded_file_and_its_exports():
    at = open_page("interpolate", {"mode": "batch", "steps": "3"})
    tsv = "a\tb\nThe film was good.\tA storm hit the coast.\nonly one column\nSame.\tsame.\n"
    at.file_uploader(key="interpolate.upload").set_value(("mine.tsv", tsv.encode(), "text/tab-separated-values"))
    at.run()
    no_exception(at)
    assert next(m.value for m in at.metric if m.label == "Pairs") == "1"
    notices = " | ".join(w.value for w in at.warning)
    assert "line 3: one column" in notices and "line 4: the two sentences are the same" in notices
    assert any("input **mine" in c for c in captions(at))  # the name, escaped for markdown
    assert {"Pairs CSV", "Steps CSV", "Curves CSV", "All as JSON"} <= set(downloads(at))


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.tsv", b"", "The file is empty"),
        ("binary.tsv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not text"),
        ("latin1.tsv", b"caf\xe9\tna\xefve\n", "not UTF-8"),
        ("commas.tsv", b"a,b\nc,d\n", "no line has a tab"),
        ("same.tsv", b"One.\tone.\n", "No usable pair"),
        ("big.tsv", b"a\tb\n" * 70_000, "the limit is 256 kB"),
    ],
)
def test_batch_study_bad_files_give_a_message(name, data, message):
    at = open_page("interpolate", {"mode": "batch"})
    at.file_uploader(key="interpolate.upload").set_value((name, data, "text/plain"))
    at.run()
    no_exception(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not any(m.label == "Pairs" for m in at.metric)


# -- side by side ---------------------------------------------------------------------------------


def test_side_by_side_inspect():
    at = open_page("side_by_side", {"s": ["The game was released in Japan.", "He was born in England."]})
    no_exception(at)
    assert at.selectbox(key="side-by-side.other").value == "baseline-vt"
    assert at.query_params["other"] == "baseline-vt" and at.query_params["view"] == "inspect"
    labels = metric_labels(at)
    assert "Retained components" in labels and "Latent vectors" in labels
    assert labels.count("Reconstruction BLEU") == 4  # two sentences, two models
    summary = at.dataframe[0].value
    assert list(summary.columns) == [
        "sentence",
        "tiny-nvae: kept",
        "tiny-nvae: BLEU",
        "baseline-vt: kept",
        "baseline-vt: BLEU",
    ]
    assert len(summary) == 2 and [t.label for t in at.tabs] == ["Sentence 1", "Sentence 2"]
    assert "ad" in at.query_params  # the left NVAE's alpha^Delta; a baseline has none


def test_side_by_side_interpolate_and_its_link():
    at = open_page("side_by_side", {"view": "interpolate", "a": "Alpha here.", "b": "Beta there.", "tau": "0.3"})
    no_exception(at)
    assert sum("Decoded at τ = 0.30" in c for c in captions(at)) == 2
    assert len(at.table) == 2 and [m.label for m in at.metric].count("BLEU vs A") == 2
    fig = titled(at, "BLEU of each step against both endpoints")
    assert {d["name"] for d in fig["data"]} == {
        "tiny-nvae vs A",
        "tiny-nvae vs B",
        "baseline-vt vs A",
        "baseline-vt vs B",
    }
    at.slider(key="side-by-side.tau").set_value(0.8).run()
    no_exception(at)
    assert sum("Decoded at τ = 0.80" in c for c in captions(at)) == 2
    assert at.query_params["tau"] == "0.8" and at.query_params["a"] == "Alpha here."
    at.radio(key="side-by-side.view").set_value("inspect").run()
    no_exception(at)
    assert at.query_params["view"] == "inspect"


def test_side_by_side_with_a_baseline_on_the_left_and_bad_links():
    at = open_page("side_by_side", {"ckpt": "baseline-vt", "other": "tiny-nvae", "ad2": "5"})
    no_exception(at)
    assert at.query_params["ckpt"] == "baseline-vt" and at.query_params["other"] == "tiny-nvae"
    assert any("α^Δ (right)" in w.value for w in at.warning)
    assert "ad" not in at.query_params and at.query_params["ad2"] == "1"
    at = open_page("side_by_side", {"other": "../../etc/passwd"})
    no_exception(at)
    assert any("right checkpoint" in w.value for w in at.warning)
    assert not any("passwd" in w.value for w in at.warning)
    at = open_page("side_by_side", {"other": "broken"})
    no_exception(at)
    assert at.error and "could not be loaded" in at.error[0].value


# -- the latent map says what its axes encode -----------------------------------------------------


def test_latent_map_measures_what_its_axes_encode():
    at = open_page("latent_map")
    no_exception(at)
    caption = next(c for c in captions(at) if c.startswith("**What the axes encode"))
    assert "token position explains R² =" in caption and "token identity R² =" in caption
    assert at.radio(key="latent-map.colour").value == "token"
    assert at.query_params["colour"] == "token" and at.query_params["proj"] in ("means", "residual")
    fig = titled(at, "Component means of the corpus sample (UMAP)")
    assert fig["data"][0]["name"] == "other tokens" and len(fig["data"]) >= 3
    at.radio(key="latent-map.proj").set_value("residual").run()
    no_exception(at)
    caption = next(c for c in captions(at) if c.startswith("**What the axes encode"))
    assert "the means with position removed" in caption
    assert titled(at, "Component means of the corpus sample (UMAP), position removed")
    assert at.query_params["proj"] == "residual"
    at = open_page("latent_map", {"proj": "residual", "colour": "position", "s": "A new sentence here."})
    no_exception(at)
    assert at.radio(key="latent-map.proj").value == "residual"
    names = [d.get("name") for d in titled(at, "Component means")["data"]]
    assert names == ["corpus components", "your sentences"]


def test_latent_map_bad_projection_in_a_link():
    at = open_page("latent_map", {"proj": "<i>pca</i>"})
    no_exception(at)
    assert any(w.value.startswith("layout:") for w in at.warning)


# -- samples name their source --------------------------------------------------------------------


def test_samples_name_their_source_without_an_aggregate_fit():
    at = open_page("samples")
    no_exception(at)
    assert not at.radio and at.query_params["source"] == "prior"
    assert set(at.table[0].value["source"]) == {"prior"}
    assert any("no aggregate-posterior fit" in c for c in captions(at))
    at = open_page("samples", {"source": "aggregate"})
    no_exception(at)
    assert any("no aggregate-posterior fit; using the prior" in w.value for w in at.warning)
    assert set(at.table[0].value["source"]) == {"prior"}


def test_samples_choose_the_aggregate_posterior(app_checkpoints, monkeypatch, tmp_path):
    from nvae.data.text import encode_texts
    from nvae.evaluation.sampling import fit_aggregate, save_aggregate
    from nvae.store.checkpoint import load_checkpoint

    folder = tmp_path / "nvae-aggregate"
    shutil.copytree(app_checkpoints["nvae"], folder)
    model = load_checkpoint(folder)
    ids, _ = encode_texts(model.tokenizer, [C, D, "A storm hit the coast in June."] * 3, model.cfg.max_len - 1)
    save_aggregate(folder, fit_aggregate(model, ids))
    monkeypatch.setenv("NVAE_CHECKPOINT", str(folder))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(tmp_path))
    at = open_page("samples")
    no_exception(at)
    assert at.radio(key="samples.source").value == "aggregate"  # as the command line's `auto`
    assert set(at.table[0].value["source"]) == {"aggregate"}
    at.radio(key="samples.source").set_value("prior")
    at.button[0].click().run()
    no_exception(at)
    assert set(at.table[0].value["source"]) == {"prior"} and at.query_params["source"] == "prior"
    assert any("drawn from the prior" in c for c in captions(at))
    assert not any("no aggregate-posterior fit" in c for c in captions(at))
