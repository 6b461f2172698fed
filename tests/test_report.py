"""Evaluation and the report on tiny checkpoints: `evaluate --report` and the model card, BLEU at a
retained proportion, stored results reused only for the same model, the pairs of the
interpolation study."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nvae.store.checkpoint import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def test_evaluate_report_and_model_card(tiny_checkpoint, tiny_baseline_checkpoint, tmp_path):
    """`evaluate --report` writes results.md with every figure; `--model-card` writes the card."""
    import shutil

    from helpers import make_tiny_checkpoint

    ckpt = tmp_path / "nvae"
    shutil.copytree(tiny_checkpoint, ckpt)
    fixed = make_tiny_checkpoint(tmp_path / "nvae-ad0.3", conditional=False, seed=1)
    # a training run's checkpoint (RUN/checkpoint, its run.json one level up), given out of order
    sparse = make_tiny_checkpoint(tmp_path / "nvae-ad0.05" / "checkpoint", conditional=False, seed=2, alpha_delta=0.05)
    (sparse.parent / "run.json").write_text(json.dumps({"train": {"max_steps": 1234}}))
    paper = make_tiny_checkpoint(tmp_path / "tiny-paper", conditional=False, seed=3)  # another NVAE to set beside
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "nvae",
            "evaluate",
            "--checkpoint",
            str(ckpt),
            "--limit",
            "12",
            "--report",
            "--pairs",
            "3",
            "--baselines",
            str(tiny_baseline_checkpoint),
            "--fixed",
            str(fixed),
            str(sparse),
            "--compare",
            str(paper),
            "--out",
            str(tmp_path / "docs"),
            "--model-card",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    md = (tmp_path / "docs" / "results.md").read_text()
    assert "## The latent's targets" in md
    for target in (
        "1. alpha^Delta is a smooth control",
        "2. learned pruning",
        "3. a useful default",
        "4. interpolations move",
        "5. prior samples land",
    ):
        assert target in md
    targets = json.loads((tmp_path / "docs" / "results.json").read_text())["targets"]
    assert len(targets["slider"]["curve"]) == 26 and targets["interpolation"]["NVAE"]["pairs"] == 3
    for fig in ("fig4_retained_vs_length", "fig5_bleu_vs_retained", "fig6_interpolation_bleu", "fig7_rate_distortion"):
        assert f"figures/{fig}.png" in md
        assert (tmp_path / "docs" / "figures" / f"{fig}.png").stat().st_size > 1000
        assert (tmp_path / "docs" / "figures" / f"{fig}.html").exists()
    assert "## Figure 7: rate-distortion" in md
    compression = json.loads((tmp_path / "docs" / "results.json").read_text())["rate_distortion"]
    assert compression[f"NVAE ({ckpt.name})"]["kind"] == "curve"
    assert compression["VT (baseline-vt)"]["kind"] == "baseline"
    assert compression["NVAE fixed alpha_delta=0.3 (nvae-ad0.3)"]["kind"] == "point"
    # the compared NVAE is in the table, figure 4, figure 6 and figure 7
    results = json.loads((tmp_path / "docs" / "results.json").read_text())
    assert compression["NVAE (tiny-paper)"]["kind"] == "point"
    assert "NVAE (tiny-paper)" in results["table"] and "NVAE (tiny-paper)" in results["interpolation"]
    assert list(results["table"])[0] == f"NVAE ({ckpt.name})"  # the report's own NVAE comes first
    assert "| 0.01 |" in md  # the alpha^Delta sweep of the loss-conditional model
    assert "VT (baseline-vt)" in md
    assert "NVAE fixed alpha_delta=0.3 (nvae-ad0.3)" in md
    assert "NVAE fixed alpha_delta=0.05 (nvae-ad0.05)" in md
    rows = [line for line in md.splitlines() if line.count("|") == 10 and line.startswith(("| 0.3 |", "| 0.05 |"))]
    assert [r.split(" | ")[:2] for r in rows] == [
        ["| 0.05", "1234"],
        ["| 0.3", "?"],
    ]  # sorted; steps from run.json, "?" without one
    assert all(r.rstrip(" |").endswith(("yes", "no")) for r in rows)  # the conditional model compared at each
    assert "monotonically" in md
    # the report states the command that reproduces it, with the models it compared
    assert (
        f"--checkpoint {ckpt} --limit 12 --pairs 3 --baselines {tiny_baseline_checkpoint} "
        f"--fixed {fixed} {sparse} --compare {paper}`" in md
    )
    # reproduction.md is written from the same numbers, each finding with its verdict
    rep = (tmp_path / "docs" / "reproduction.md").read_text()
    assert f"--limit 12 --pairs 3 --baselines {tiny_baseline_checkpoint}" in rep
    sweep = json.loads((tmp_path / "docs" / "results.json").read_text())["sweep"]
    assert f"{sweep[-1]['retained_proportion']:.3f} at {sweep[-1]['alpha_delta']:g}" in rep
    for finding in ("Figure 5, alpha^Delta controls sparsity: ", "Figure 6, smoother interpolation: "):
        verdict = rep.split(finding)[1].split("**")[0]
        assert verdict in ("reproduces.", "does not reproduce."), verdict
    card = (ckpt / "MODEL_CARD.md").read_text()
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert f"| {summary['bleu']:.2f} |" in card


def test_report_figure_7_compares_the_learned_choice_with_fixed_ones(tmp_path):
    """Figure 7 on tiny models: the loss-conditional NVAE's four choices as curves, a fixed-alpha^Delta
    NVAE's point with the fixed choices there, a baseline's point from its table row; PNG and HTML
    written, and a table row per (model, rate)."""
    from helpers import make_responsive, make_tiny_checkpoint

    from nvae.data.text import encode_texts
    from nvae.evaluation import report_render
    from nvae.evaluation.metrics import reconstruct
    from nvae.evaluation.report import rate_distortion_study

    nvae = load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path / "nvae")))
    fixed = load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path / "fixed", conditional=False, seed=2)))
    texts = ["The river flows north through the valley.", "He was born in a small village in 1950.",
             "The film was released in the United States.", "After the war, the town was rebuilt."]  # fmt: skip
    ids, _ = encode_texts(nvae.tokenizer, texts, nvae.cfg.max_len - 1)
    vts = {"bleu": 12.5, "retained_proportion": 0.51, "exact_match": 0.0, "cross_entropy": 3.0}
    res = rate_distortion_study({"NVAE (nvae)": nvae, "NVAE fixed (fixed)": fixed}, {"VTS (vts)": vts}, ids, print)
    assert [r["kind"] for r in res.values()] == ["curve", "point", "baseline"]
    assert res["VTS (vts)"]["point"]["bleu"] == 12.5
    assert res["NVAE fixed (fixed)"]["point"]["bleu"] == reconstruct(fixed, ids).summary()["bleu"]
    series = report_render.rate_distortion_series(res)
    labels = [s["label"] for s in series]
    assert labels[:4] == [f"NVAE (nvae): {n}" for n in report_render.CHOICE_NAMES.values()]
    assert labels[4:] == ["NVAE fixed (fixed): learned choice", "VTS (vts): its own rule"]
    assert series[-1]["x"] == [0.51] and series[0]["y"] == [r["learned"]["bleu"] for r in res["NVAE (nvae)"]["rows"]]
    assert report_render.write_rate_distortion_figure(res, tmp_path)
    assert (tmp_path / "fig7_rate_distortion.png").stat().st_size > 1000
    assert "Figure 7" in (tmp_path / "fig7_rate_distortion.html").read_text()
    lines = report_render.rate_distortion_lines(res, "test sentences")
    rows = [line for line in lines if line.startswith("| NVAE (nvae) |")]
    assert len(rows) == len(res["NVAE (nvae)"]["rows"]) >= 2
    cells = [[c.strip() for c in line.strip()[1:-1].split("|")] for line in lines if line.startswith("| VTS (vts) |")]
    assert cells == [["VTS (vts)", "", "", "0.510", "12.50", "its own rule", "", "", "", "", ""]]
    assert any(line.startswith("![fig7](figures/fig7_rate_distortion.png)") for line in lines)
    assert not report_render.write_rate_distortion_figure({}, tmp_path / "none")  # nothing measured: no figure


def test_bleu_at_retained_interpolates_along_the_sweep():
    from nvae.evaluation.evaluate import bleu_at_retained

    sweep = [
        {"retained_proportion": 0.9, "bleu": 95.0},
        {"retained_proportion": 0.5, "bleu": 55.0},
        {"retained_proportion": 0.7, "bleu": 85.0},
    ]
    assert bleu_at_retained(sweep, 0.6) == pytest.approx(70.0)
    assert bleu_at_retained(sweep, 0.85) == pytest.approx(92.5)
    assert bleu_at_retained(sweep, 0.9) == pytest.approx(95.0)
    assert bleu_at_retained(sweep, 0.95) is None and bleu_at_retained(sweep, 0.4) is None


def test_report_names_a_run_checkpoint_by_its_run():
    from nvae.evaluation.report import _label

    assert _label(Path("runs/baseline-vtp/checkpoint")) == "baseline-vtp"
    assert _label(Path("checkpoints/baseline-t")) == "baseline-t"


def test_evaluation_results_are_reused_only_for_the_same_model(tiny_checkpoint, tmp_path, monkeypatch):
    """A stored reconstruction is reused for the same model, sentences and alpha^Delta; another
    weight, another alpha^Delta or a damaged entry recompute."""
    from nvae.evaluation import evaluate

    monkeypatch.setenv("NVAE_CACHE_DIR", str(tmp_path / "cache"))
    model = load_checkpoint(tiny_checkpoint)
    ids = [model.tokenizer.encode(t).ids for t in ("the cat sat on the mat .", "a storm hit the coast in june .")]
    calls = []
    real = evaluate.reconstruct
    monkeypatch.setattr(evaluate, "reconstruct", lambda *a, **k: calls.append(k.get("alpha_delta")) or real(*a, **k))
    first = evaluate.cached_reconstruct(model, ids, alpha_delta=0.3).summary()
    assert evaluate.cached_reconstruct(model, ids, alpha_delta=0.3).summary() == first
    assert evaluate.cached_reconstruct(model, ids, alpha_delta=None).summary() == first  # 0.3 is the default
    assert calls == [0.3]
    model.cfg.nvib.alpha_delta = 0.05  # another default (export --alpha-delta): the explicit 0.3 is still stored
    assert evaluate.cached_reconstruct(model, ids, alpha_delta=0.3).summary() == first
    assert calls == [0.3]
    model.cfg.nvib.alpha_delta = 0.3
    evaluate.cached_reconstruct(model, ids, alpha_delta=0.05)
    assert calls == [0.3, 0.05]
    for entry in (tmp_path / "cache" / "eval").glob("*.json"):
        entry.write_text("{not json")
    assert evaluate.cached_reconstruct(model, ids, alpha_delta=0.3).summary() == first
    assert len(calls) == 3
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    evaluate.cached_reconstruct(model, ids, alpha_delta=0.3)
    assert len(calls) == 4
    evaluate.cached_reconstruct(model, ids, alpha_delta=0.3, use_cache=False)
    assert len(calls) == 5


def test_interpolation_pairs_are_distinct_sentences():
    from nvae.evaluation.measures import sentence_pairs

    pairs = sentence_pairs(3, 500, seed=0)
    assert all(i != j for i, j in pairs)
    assert {i for i, _ in pairs} == {0, 1, 2} and {j for _, j in pairs} == {0, 1, 2}


def test_a_model_card_states_its_note_once_without_shell_quoting(tiny_checkpoint, tmp_path, monkeypatch):
    """The card's 'Measured by' command shows --card-note NOTE, not the note quoted for a shell (an
    apostrophe used to come out as '"'"')."""
    import shutil
    import sys

    from nvae.store.model_card import measuring_command, write_model_card

    assert measuring_command(["evaluate", "--card-note", "the slider's values", "--limit", "5"]) == (
        "evaluate --card-note NOTE --limit 5"
    )
    assert measuring_command(["evaluate", "--card-note=it's"]) == "evaluate --card-note=NOTE"
    folder = tmp_path / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    note = "Chosen on validation: the sparsest of the slider's values."
    monkeypatch.setattr(sys, "argv", ["nvae", "evaluate", "--model-card", "--card-note", note])
    summary = {
        "bleu": 1.0,
        "cross_entropy": 2.0,
        "perplexity": 7.4,
        "retained_proportion": 0.5,
        "mean_retained": 3.0,
        "exact_match": 0.0,
        "sentences": 4,
    }
    card = write_model_card(folder, summary, [], None, note).read_text()
    assert card.count(note) == 1 and "'\"'\"'" not in card
    assert "--card-note NOTE` (NOTE: the note above)." in card
    # measured again without a note (`evaluate --model-card` alone), the card keeps the note it had
    monkeypatch.setattr(sys, "argv", ["nvae", "evaluate", "--model-card"])
    again = write_model_card(folder, {**summary, "bleu": 2.0}, [], None).read_text()
    assert again.count(note) == 1 and "| 2.00 |" in again
    assert "--model-card`." in again and "NOTE: the note above" not in again  # its command has no note


def test_no_shipped_model_card_shows_shell_quoting():
    from pathlib import Path

    cards = sorted((Path(__file__).resolve().parents[1] / "checkpoints").glob("*/MODEL_CARD.md"))
    assert len(cards) >= 4
    for card in cards:
        assert "'\"'\"'" not in card.read_text(), card
