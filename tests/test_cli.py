"""One contract for every command: a bad value gives one line on stderr and exit status 2, never a
traceback, whichever command and option it reaches."""

from __future__ import annotations

import pytest

from nvae.cli.main import main


@pytest.fixture(scope="module")
def ckpts(tiny_checkpoint, tiny_baseline_checkpoint):
    return {"nvae": str(tiny_checkpoint), "vt": str(tiny_baseline_checkpoint)}


def _table(tmp):
    bad_file = tmp / "binary.txt"
    bad_file.write_bytes(b"\x00\x01\x02")
    (tmp / "demo-full").mkdir()
    (tmp / "demo-full" / "sentences.txt").write_text("A sentence someone chose.\n")
    return [
        # (argv with {nvae}/{vt}/{tmp} placeholders, a word the message must contain)
        (["encode", "--checkpoint", "{nvae}"], "no text"),
        (["encode", "--checkpoint", "{nvae}", "   "], "empty text"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--alpha-delta", "-3"], "alpha"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--alpha-delta", "nan"], "finite"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--alpha-delta", "abc"], "alpha"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--alpha-delta", "50"], "range"),
        (["encode", "--checkpoint", "{tmp}/nope", "hi"], "nope"),
        (["encode", "--checkpoint", "{nvae}", "--file", "{tmp}/missing.txt"], "cannot read"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--device", "cuda"], "cuda"),
        (["encode", "--checkpoint", "{nvae}", "hi", "--device", "tpu9"], "device"),
        (["interpolate", "--checkpoint", "{nvae}", "a b", "c d", "--steps", "1"], "between"),
        (["interpolate", "--checkpoint", "{nvae}", "a b", "c d", "--steps", "x"], "integer"),
        (["interpolate", "--checkpoint", "{nvae}", "", "c d"], "empty"),
        (["interpolate", "--checkpoint", "{nvae}", "a b", "c d", "--mixing", "linear"], "invalid choice"),
        (["sample", "--checkpoint", "{nvae}", "--alpha-delta", "-3"], "alpha"),
        (["sample", "--checkpoint", "{nvae}", "--alpha-delta", "inf"], "finite"),
        (["sample", "--checkpoint", "{nvae}", "--alpha-delta", "50"], "range"),
        (["sample", "--checkpoint", "{nvae}", "--temperature", "-1"], "between"),
        (["sample", "--checkpoint", "{nvae}", "--n", "0"], "between"),
        (["sample", "--checkpoint", "{nvae}", "--components", "0"], ">= 1"),
        (["sample", "--checkpoint", "{nvae}", "--components", "100000"], "components"),
        (["sample", "--checkpoint", "{nvae}", "--seed", "-1"], "between"),
        (["sample", "--checkpoint", "{vt}"], "baseline"),
        (["evaluate", "--checkpoint", "{nvae}", "--limit", "0"], ">= 1"),
        (["evaluate", "--checkpoint", "{nvae}", "--batch-size", "-5"], "between"),
        (["evaluate", "--checkpoint", "{nvae}", "--pairs", "many"], "integer"),
        (["evaluate", "--checkpoint", "{nvae}", "--alpha-delta", "-1"], "alpha"),
        (["evaluate", "--checkpoint", "{nvae}", "--data", "{tmp}/missing.txt"], "cannot read"),
        (["evaluate", "--checkpoint", "{nvae}", "--corpus", "no-such-corpus"], "no-such-corpus"),
        (["evaluate", "--checkpoint", "{nvae}", "--split", "dev"], "split"),
        (["evaluate", "--checkpoint", "{vt}", "--targets"], "NVAE"),
        (["train", "--out", "{tmp}/r1", "--set", "lr=-1"], "lr"),
        (["train", "--out", "{tmp}/r2", "--set", "max_steps=abc"], "integer"),
        (["train", "--out", "{tmp}/r3", "--set", "max_steps=0"], "max_steps"),
        (["train", "--out", "{tmp}/r4", "--set", "no_such_key=1"], "unknown setting"),
        (["train", "--out", "{tmp}/r5", "--set", "novalue"], "key=value"),
        (["train", "--out", "{tmp}/r6", "--set", "dropout=1.5"], "dropout"),
        (["train", "--out", "{tmp}/r7", "--set", "prune_gate=maybe"], "prune_gate"),
        (["train", "--out", "{tmp}/r8", "--set", "data=no-such-corpus", "--set", "max_steps=1"], "no-such-corpus"),
        (["train", "--out", "{tmp}/r9", "--device", "cuda"], "cuda"),
        (["train", "--out", "{tmp}/r10", "--recipe", "nonsense"], "recipe"),
        (["train", "--out", "{tmp}/r11", "--resume", "--overwrite"], "exclude"),
        (["export", "{tmp}/nope", "{tmp}/out"], "nope"),
        (["export", "{nvae}", "{tmp}/out1", "--alpha-delta", "-2"], "alpha"),
        (["export", "{nvae}", "{tmp}/out2", "--alpha-delta", "50"], "range"),
        (["export", "{vt}", "{tmp}/out3", "--alpha-delta", "0.2"], "loss-conditional"),
        (["ablate", "x", "--set", "lr=abc"], "lr"),
        (["ablate", "x", "--sentences", "1"], "between"),
        (["ablate", "x", "--threads", "0"], "between"),
        (["study", "--checkpoint", "{nvae}", "{tmp}/missing.txt"], "cannot read"),
        (["study", "--checkpoint", "{vt}", "{tmp}/binary.txt"], "baseline"),
        (["study", "--checkpoint", "{nvae}", "{tmp}/binary.txt", "--alpha-delta", "-1"], "alpha"),
        (["pairs", "--checkpoint", "{nvae}", "{tmp}/missing.tsv"], "cannot read"),
        (["pairs", "--checkpoint", "{nvae}", "{tmp}/binary.txt"], "binary"),
        (["pairs", "--checkpoint", "{nvae}", "{tmp}/binary.txt", "--steps", "2"], "between"),
        (["pairs", "--checkpoint", "{nvae}", "{tmp}/binary.txt", "--grid", "cubic"], "grid"),
        (["map", "{tmp}/nope"], "nope"),
        (["map", "{nvae}", "--sentences", "5"], "between"),
        (["map", "{vt}", "--device", "tpu9"], "device"),
        (["lm", "score", "hello", "--out", "{tmp}/no-lm"], "not found"),
        (["lm", "train", "--out", "{tmp}/x", "--steps", "0"], ">= 1"),
        (["demo", "--checkpoint", "{vt}", "--out", "{tmp}/demo1"], "baseline"),
        (["demo", "--checkpoint", "{nvae}", "--out", "{tmp}/demo-full"], "--force"),
        (["demo", "--checkpoint", "{nvae}", "--out", "{tmp}/demo2", "--pool", "5"], "between"),
        (["demo", "--checkpoint", "{nvae}", "--out", "{tmp}/demo3", "--sentences", "-1"], "between"),
        (["demo", "--checkpoint", "{nvae}", "--out", "{tmp}/demo4", "--alpha-delta", "-1"], "alpha"),
        (["demo", "--checkpoint", "{nvae}", "--out", "{tmp}/demo5", "--pool", "10"], "fewer than two"),
        (["nosuchcommand"], "invalid choice"),
        ([], "required"),
    ]


def test_every_command_reports_bad_values_in_one_line(ckpts, tmp_path, capsys):
    failures = []
    for argv, word in _table(tmp_path):
        argv = [a.format(tmp=tmp_path, **ckpts) for a in argv]
        capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as e:  # argparse
            code = e.code
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip() and not line.startswith("note:")]
        ok = code == 2 and len(lines) == 1 and "Traceback" not in err and word.lower() in err.lower()
        if not ok:
            failures.append((argv, code, err[-400:]))
    assert not failures, "\n".join(map(str, failures))


def test_study_on_a_corpus_file(ckpts, tmp_path, capsys):
    import json

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the mat.\nA storm hit the coast in June, 2011.\n\nThe cat sat on the mat.\n")
    out = tmp_path / "study.json"
    assert main(["study", "--checkpoint", ckpts["nvae"], str(corpus), "--out", str(out)]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res == json.loads(out.read_text())
    assert res["sentences"] == 3 and len(res["retained_vs_length"]) == 3
    total = sum(p["tokens"] for p in res["retained_vs_length"])
    assert sum(c["count"] for c in res["by_class"] if c["class"] != "first position") == total
    assert sum(c["count"] for c in res["by_frequency_band"]) == total
    assert all(0 <= c["retained_share"] <= 1 for c in res["by_class"] + res["by_frequency_band"])
    kept = sum(p["retained"] for p in res["retained_vs_length"])
    shares = sum(c["retained_share"] * c["count"] for c in res["by_class"] if c["class"] != "first position")
    assert round(shares) == kept
    assert [c["class"] for c in res["by_class"]][-2:] == ["end of sentence", "first position"]
    assert len(res["sweep"]) == 7


def test_commands_leave_the_callers_grad_mode_alone(ckpts, capsys):
    import torch

    assert torch.is_grad_enabled()
    assert main(["encode", "--checkpoint", ckpts["nvae"], "The cat sat on the mat."]) == 0
    assert main(["sample", "--checkpoint", ckpts["nvae"], "--n", "1"]) == 0
    assert torch.is_grad_enabled()  # later code in the same process (tests, notebooks) can still train


def test_pairs_study_from_the_command_line_gives_the_library_numbers(ckpts, tmp_path, capsys):
    import json

    from nvae.readout import pair_study
    from nvae.store.checkpoint import load_checkpoint

    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("The cat sat on the mat.\tA storm hit the coast.\nonly one column\nHe was born.\tShe left.\n")
    out = tmp_path / "pairs.json"
    assert main(["pairs", "--checkpoint", ckpts["nvae"], str(tsv), "--steps", "5", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    res = json.loads(captured.out)
    assert res == json.loads(out.read_text())
    assert "line 2" in captured.err  # the skipped line is named
    assert [p["line"] for p in res["inputs"]] == [1, 3] and res["settings"]["steps"] == 5
    model = load_checkpoint(ckpts["nvae"]).eval()
    direct = pair_study.study(model, [(p["a"], p["b"]) for p in res["inputs"]], 5, "linear", None)
    assert res["summary"]["median_distinct"] == direct["median_distinct"]
    assert res["summary"]["median_largest_step"] == direct["median_largest_step"]
    assert [r["strip"][2]["text"] for r in res["pairs"]] == [r["strip"][2]["text"] for r in direct["records"]]


def test_a_missing_shipped_default_says_how_to_name_a_model(tmp_path, monkeypatch, capsys):
    """An installed package (pip install .) carries no checkpoints/: the error names the way out."""
    import nvae.cli.commands

    missing = tmp_path / "checkpoints" / "nvae-default"
    monkeypatch.delenv("NVAE_CHECKPOINT", raising=False)
    monkeypatch.setattr(nvae.cli.commands, "DEFAULT_CHECKPOINT", missing)
    assert main(["encode", "The cat sat on the mat.", "--checkpoint", str(missing)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--checkpoint DIR" in err and "NVAE_CHECKPOINT" in err


def test_interpolate_names_its_mixing_and_decodes_the_ends_in_both(ckpts, capsys):
    import json

    from nvae.cli.main import main

    strips = {}
    for mixing in ("sweep", "uniform"):
        extra = [] if mixing == "sweep" else ["--mixing", mixing]
        argv = ["interpolate", "--checkpoint", ckpts["nvae"], "the cat sat on the mat", "a storm hit the coast"]
        assert main([*argv, "--steps", "5", *extra]) == 0
        out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert out["mixing"] == mixing  # sweep is the default
        strips[mixing] = [r["text"] for r in out["strip"]]
    assert strips["sweep"][0] == strips["uniform"][0] and strips["sweep"][-1] == strips["uniform"][-1]


def test_evaluate_targets_measures_the_five_targets_at_the_given_alpha_delta(ckpts, tmp_path, capsys):
    """`evaluate --targets` prints the report's target rows for these sentences, the NVAE read at
    --alpha-delta (the experiments on the validation split use it)."""
    import json

    from nvae.cli.main import main

    data = tmp_path / "few.txt"
    data.write_text("\n".join(["the cat sat on the mat", "a storm hit the coast", "he was born in london"] * 3))
    argv = ["evaluate", "--checkpoint", ckpts["nvae"], "--data", str(data), "--targets", "--pairs", "2"]
    assert main([*argv, "--alpha-delta", "0.5"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    rows = out["targets"]["verdicts"]
    assert [r["target"][:2] for r in rows][:5] == ["1.", "2.", "3.", "4.", "5."]
    assert rows[-1]["target"].startswith("7. very short inputs")  # row 6 needs a retained 0.5 on the slider
    assert out["targets"]["default"]["alpha_delta"] == 0.5 == out["alpha_delta"]
    assert out["targets"]["interpolation"]["NVAE"]["pairs"] == 2
    # target 4 on the default (sweep) mixing, with the paper's uniform mixing measured beside it
    assert out["targets"]["interpolation"]["NVAE"]["mixing"] == "sweep"
    assert out["targets"]["interpolation_uniform"]["NVAE"]["mixing"] == "uniform"
    assert rows[3]["measured"].startswith("sweep mixing (the default): median distinct")
    assert "; uniform mixing (the paper's): median distinct" in rows[3]["measured"]
    assert out["targets"]["prior"]["source"] == "prior" and "prior_paper" not in out["targets"]
    assert rows[2]["met"] is None  # no T given: the BLEU ratio is not measured


def test_the_package_version_is_pyproject_s():
    """One version number: `nvae.__version__` is the one pyproject.toml ships (and the public API
    the package's docstring names is importable from it)."""
    import re
    from pathlib import Path

    import nvae

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert nvae.__version__ == re.search(r'^version\s*=\s*"([^"]+)"', project, re.M).group(1)
    assert all(callable(getattr(nvae, name)) for name in nvae.__all__)


def test_evaluate_gives_an_nvae_its_alpha_delta_and_a_baseline_none(ckpts, tmp_path, capsys):
    """A baseline has no alpha^Delta (its config has no NVIB settings): `evaluate` says null, not a
    value it never read."""
    import json

    data = tmp_path / "two.txt"
    data.write_text("The cat sat on the mat.\nA dog ran in the park.\n")
    said = {}
    for name in ("nvae", "vt"):
        assert main(["evaluate", "--checkpoint", ckpts[name], "--data", str(data)]) == 0
        said[name] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["alpha_delta"]
    assert said["vt"] is None and isinstance(said["nvae"], float)
