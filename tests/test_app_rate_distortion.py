"""The Sparsity page's "Learned against fixed compression" section under streamlit.testing (AppTest):
the checkpoint's stored rate-distortion file (`nvae rate-distortion`) drawn with the other
checkpoints' files beside it, an info naming the command when there is none, a one-line notice
when the file is damaged. The checkpoints are copies of the app's tiny ones, so that the files
written here reach no other test."""

from __future__ import annotations

import json
import shutil

import pytest
from helpers import no_exception, open_page

from nvae.data.text import encode_texts
from nvae.readout import rate_distortion_file
from nvae.store.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("app_env")
SECTION = "Learned against fixed compression"
TITLE = "BLEU against the retained proportion"
TEXTS = [
    "The river flows north through the valley before it reaches the sea.",
    "After the war, the town was rebuilt with money from the new government.",
    "The film was released in the United States in 1998 and sold well.",
    "He was born in a small village in the north of England in 1950.",
    "The game was released in Japan in 2011.",
    "She plays the piano every day.",
]


@pytest.fixture
def folders(app_env, tmp_path, monkeypatch):
    """Copies of tiny-nvae and baseline-vt in a folder of their own, the app pointed at them."""
    root = tmp_path / "checkpoints"
    copies = {kind: shutil.copytree(app_env[kind], root / app_env[kind].name) for kind in ("nvae", "baseline")}
    monkeypatch.setenv("NVAE_CHECKPOINT", str(copies["nvae"]))
    monkeypatch.setenv("NVAE_CHECKPOINTS_DIR", str(root))
    return copies


def write_record(folder) -> dict:
    model = load_checkpoint(folder)
    ids, _ = encode_texts(model.tokenizer, TEXTS, model.cfg.max_len - 1)
    command = rate_distortion_file.command_for(folder, limit=len(ids))
    record = rate_distortion_file.compute_record(model, ids, folder, command, "wikitext-2", "validation")
    rate_distortion_file.save_record(rate_distortion_file.record_file(folder), record)
    return record


def figures(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


def section_figure(at) -> dict | None:
    return next((f for f in figures(at) if f["layout"]["title"]["text"] == TITLE), None)


def test_the_stored_curve_is_drawn_with_the_baselines_point(folders):
    own = write_record(folders["nvae"])
    write_record(folders["baseline"])
    at = open_page("sparsity")
    no_exception(at)
    assert SECTION in [h.value for h in at.subheader]
    fig = section_figure(at)
    assert fig is not None
    names = [t["name"] for t in fig["data"]]
    for line in ("learned choice", "nearest stride rule", "evenly spaced positions", "random subset"):
        assert line in names
    assert "VT (baseline-vt)" in names
    learned = next(t for t in fig["data"] if t["name"] == "learned choice")
    assert learned["y"] == [r["learned"]["bleu"] for r in own["rows"]]
    assert learned["x"] == [r["learned"]["retained_proportion"] for r in own["rows"]]
    caption = next(c.value for c in at.caption if c.value.startswith("BLEU of greedy reconstructions"))
    assert "the first 6 sentences of the validation split of WikiText-2" in caption
    assert f"`python -m nvae rate-distortion {folders['nvae']} --limit 6`" in caption
    assert "VT (baseline-vt)" in caption
    assert not [i.value for i in at.info if "No stored rate-distortion" in i.value]
    # the verdict in words: one sentence per measured share, the winner named with its BLEU
    said = next(m.value for m in at.markdown if m.value.startswith("**Which choice wins where**"))
    for line in rate_distortion_file.verdict(own):
        assert line in said
    assert len(rate_distortion_file.verdict(own)) == len(own["rows"]) >= 1


def test_the_markers_of_the_four_choices_stay_visible_where_they_meet(folders):
    """The evenly spaced and random choices keep as many components as the learned one, so their
    markers lie at the same rate: each drawn smaller than the one under it, and hollow, with its own
    symbol; none moved off its true rate."""
    own = write_record(folders["nvae"])
    at = open_page("sparsity")
    no_exception(at)
    fig = section_figure(at)
    lines = ("learned choice", "nearest stride rule", "evenly spaced positions", "random subset")
    traces = [next(t for t in fig["data"] if t["name"] == name) for name in lines]
    symbols = [t["marker"]["symbol"] for t in traces]
    sizes = [t["marker"]["size"] for t in traces]
    assert len(set(symbols)) == 4
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == 4  # later (on top) is smaller
    assert all(s.endswith("-open") for s in symbols[1:])  # the ones on top let the one under them show
    assert traces[0]["marker"]["opacity"] < 1
    for trace, choice in zip(traces, ("learned", "stride", "evenly_spaced", "random")):
        assert trace["x"] == [r[choice]["retained_proportion"] for r in own["rows"]]  # the true rate
    assert traces[2]["x"] == traces[0]["x"] == traces[3]["x"]
    assert [t["name"] for t in fig["data"]].index("learned choice") < [t["name"] for t in fig["data"]].index(
        "random subset"
    )


def test_the_verdict_names_the_winner_at_each_share():
    def row(target, learned, stride, evenly, rand, rule):
        return {
            "target": target,
            "learned": {"bleu": learned, "retained_proportion": target},
            "stride": {"bleu": stride, "rule": rule},
            "evenly_spaced": {"bleu": evenly},
            "random": {"bleu": rand},
        }

    record = {
        "rows": [row(0.25, 34.8, 53.5, 52.0, 37.1, "every fourth"), row(0.5, 94.6, 92.6, 91.0, 73.7, "every second")]
    }
    assert rate_distortion_file.verdict(record) == [
        "At a quarter kept, every fourth position wins: 53.5 BLEU against 34.8 for the model's own choice.",
        "At half kept, the model's own choice wins: 94.6 BLEU (92.6 for every second position).",
    ]
    assert rate_distortion_file.verdict({"rows": []}) == []


def test_without_a_file_the_section_names_the_command_and_a_bad_file_is_reported(folders):
    at = open_page("sparsity")
    no_exception(at)
    assert SECTION in [h.value for h in at.subheader]
    assert section_figure(at) is None
    info = [i.value for i in at.info if "No stored rate-distortion" in i.value]
    assert info and f"`python -m nvae rate-distortion {folders['nvae']}`" in info[0]
    assert not at.warning
    rate_distortion_file.record_file(folders["nvae"]).write_text("{torn")
    at.run()
    no_exception(at)
    assert section_figure(at) is None
    assert [w.value for w in at.warning] == [
        f"{rate_distortion_file.record_file(folders['nvae'])} was not used: it is not valid JSON."
    ]
    assert [i.value for i in at.info if "No stored rate-distortion" in i.value]


def test_a_baseline_shows_its_own_point_beside_the_nvae_curve(folders):
    write_record(folders["nvae"])
    base = write_record(folders["baseline"])
    at = open_page("sparsity", {"ckpt": folders["baseline"].name})
    no_exception(at)
    assert [i.value for i in at.info if "no sparsity to control" in i.value]  # the page's own message stays
    fig = section_figure(at)
    assert fig is not None
    names = [t["name"] for t in fig["data"]]
    assert "learned choice" not in names and "tiny-nvae: learned choice" in names
    own = next(t for t in fig["data"] if t["name"].startswith("baseline-vt: its own rule"))
    assert own["x"] == [base["point"]["retained_proportion"]] and own["y"] == [base["point"]["bleu"]]
