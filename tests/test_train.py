"""Training end to end on tiny data: train -> checkpoint -> load -> evaluate, resume after a kill,
a 2-process torchrun (gloo) run, non-finite losses, and the CLI's error handling."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import latent_config

from nvae.config import ModelConfig, TrainConfig, save_configs
from nvae.data.text import decode_batch, encode_text
from nvae.store.checkpoint import load_checkpoint, read_metrics
from nvae.store.train_state import load_training_state
from nvae.training.loop import TrainingStopped, train

ROOT = Path(__file__).resolve().parents[1]
WORDS = (
    "the cat dog bird sat ran flew on over under a mat tree house red green blue small big "
    "quickly slowly today yesterday and then"
).split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    import random

    rng = random.Random(0)
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))) + "." for _ in range(120)]
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def tiny_configs(corpus: Path, **train_kw) -> tuple[ModelConfig, TrainConfig]:
    model = latent_config(d_model=32, n_heads=4, d_ff=64, n_enc_layers=1, n_dec_layers=1, max_len=20, dropout=0.0)
    kw = dict(
        data=str(corpus),
        split="train",
        eval_split="",
        max_steps=24,
        batch_size=16,
        lr=3e-3,
        warmup_steps=5,
        kl_anneal_steps=10,
        eval_every=1000,
        checkpoint_every=8,
        vocab_size=120,
        min_tokens=3,
        max_tokens=19,
        seed=0,
    )
    kw.update(train_kw)
    return model, TrainConfig(**kw)


def test_train_checkpoint_load_evaluate(corpus, tmp_path):
    model_cfg, train_cfg = tiny_configs(corpus, eval_split="train", eval_every=12, eval_sentences=16)
    ckpt = train(tmp_path / "run", model_cfg, train_cfg, progress=False)
    model = load_checkpoint(ckpt)
    assert load_training_state(ckpt)["step"] == 24
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [12, 24]
    train_losses = [r["loss"] for r in records if r["kind"] == "train"]
    assert train_losses[-1] < train_losses[0]
    # the loaded model encodes and decodes text
    latent = encode_text(model, ["the cat sat on the mat."])
    assert latent.n_components == latent.n_inputs[0] + 1
    assert isinstance(decode_batch(model.tokenizer, model.generate(latent))[0], str)
    # and the CLI evaluates it on a plain text file, summary JSON on the last line
    out = subprocess.run(
        [sys.executable, "-m", "nvae", "evaluate", "--checkpoint", str(ckpt), "--data", str(corpus), "--limit", "20"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert summary["sentences"] == 20 and 0 <= summary["bleu"] <= 100 and summary["cross_entropy"] > 0


def test_resume_continues_exactly(corpus, tmp_path):
    """An interrupted run resumed from its checkpoint ends where an uninterrupted one does."""
    model_cfg, train_cfg = tiny_configs(corpus)
    full = load_checkpoint(train(tmp_path / "full", model_cfg, train_cfg, progress=False))
    # interrupted after 10 steps: the last checkpoint is at step 8, steps 9-10 are lost
    train(tmp_path / "cut", model_cfg, train_cfg, progress=False, stop_after=10)
    assert load_training_state(tmp_path / "cut" / "checkpoint")["step"] == 8
    ckpt = train(tmp_path / "cut", model_cfg, train_cfg, resume=True, progress=False)
    assert load_training_state(ckpt)["step"] == 24
    resumed = load_checkpoint(ckpt)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)


def _train_cmd(run: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "nvae", "train", "--out", str(run), "--config", str(config), "--quiet"]


def test_kill_9_then_resume(corpus, tmp_path):
    model_cfg, train_cfg = tiny_configs(corpus, max_steps=120, checkpoint_every=5)
    config = tmp_path / "config.json"
    save_configs(config, model_cfg, train_cfg)
    run = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(run, config), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "checkpoint" / "training_state.json").exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = load_training_state(run / "checkpoint")["step"]
    assert 5 <= step < 120
    # no half-written folder is left where the checkpoint lives
    load_checkpoint(run / "checkpoint")
    done = subprocess.run(_train_cmd(run, config) + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"resumed {run / 'checkpoint'} at step {step}" in done.stderr
    assert load_training_state(run / "checkpoint")["step"] == 120


def test_sigterm_saves_a_checkpoint(corpus, tmp_path):
    model_cfg, train_cfg = tiny_configs(corpus, max_steps=100000, checkpoint_every=100000)
    config = tmp_path / "config.json"
    save_configs(config, model_cfg, train_cfg)
    run = tmp_path / "run"
    proc = subprocess.Popen(
        _train_cmd(run, config), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped by signal" in err
    assert load_training_state(run / "checkpoint")["step"] >= 1


def test_torchrun_two_processes(corpus, tmp_path):
    model_cfg, train_cfg = tiny_configs(corpus, max_steps=6, checkpoint_every=3)
    config = tmp_path / "config.json"
    save_configs(config, model_cfg, train_cfg)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "nvae",
            "train",
            "--out",
            str(run),
            "--config",
            str(config),
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads((run / "run.json").read_text())["world_size"] == 2
    assert load_training_state(run / "checkpoint")["step"] == 6
    model = load_checkpoint(run / "checkpoint")
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_non_finite_losses_stop_cleanly(corpus, tmp_path, monkeypatch):
    model_cfg, train_cfg = tiny_configs(corpus, max_steps=40, checkpoint_every=4)
    run = tmp_path / "run"
    train(run, model_cfg, train_cfg, progress=False, stop_after=8)
    good = load_checkpoint(run / "checkpoint").state_dict()
    # from now on every loss is NaN
    from nvae.model import autoencoder

    original = autoencoder.NVAE.forward

    def nan_forward(self, *a, **k):
        loss, parts = original(self, *a, **k)
        return loss * float("nan"), parts

    monkeypatch.setattr(autoencoder.NVAE, "forward", nan_forward)
    with pytest.raises(TrainingStopped, match="non-finite"):
        train(run, model_cfg, train_cfg, resume=True, progress=False)
    kept = load_checkpoint(run / "checkpoint")
    assert load_training_state(run / "checkpoint")["step"] == 8
    for a, b in zip(good.values(), kept.state_dict().values()):
        assert torch.equal(a, b)


def test_cli_errors_are_one_line(tmp_path):
    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "nvae", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
        )

    missing = run("encode", "--checkpoint", str(tmp_path / "nope"), "hello")
    assert missing.returncode == 2
    assert missing.stderr.startswith("error:") and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    unreadable = run("evaluate", "--checkpoint", str(tmp_path / "nope"), "--data", str(tmp_path / "none.txt"))
    assert unreadable.returncode == 2 and "Traceback" not in unreadable.stderr


def test_kl_weight_schedule():
    from nvae.training.schedules import kl_weight

    cfg = TrainConfig(kl_start_step=100, kl_anneal_steps=50)
    assert [kl_weight(cfg, s) for s in (0, 99, 100, 125, 150, 1000)] == [0.0, 0.0, 0.0, 0.5, 1.0, 1.0]
    assert kl_weight(TrainConfig(kl_start_step=0, kl_anneal_steps=0), 0) == 1.0


@pytest.mark.slow
def test_repeated_sigkill_and_resume(corpus, tmp_path):
    """SIGKILL at random points, 5 times, resuming each time: the run ends at the same step as an
    uninterrupted one, every checkpoint left behind loads, and the loss curve goes on."""
    import random

    # five kills at most 80 steps apart stay below 600
    model_cfg, train_cfg = tiny_configs(corpus, max_steps=600, checkpoint_every=10)
    config = tmp_path / "config.json"
    save_configs(config, model_cfg, train_cfg)
    run = tmp_path / "run"
    metrics = run / "metrics.jsonl"
    rng = random.Random(0)
    saved, lost = 0, []
    for kill in range(5):
        cmd = _train_cmd(run, config) + (["--resume"] if kill else [])
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = saved + rng.randint(15, 80)  # kill somewhere after this step
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            rows = read_metrics(metrics) if metrics.exists() else []
            if rows and rows[-1]["step"] >= target:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        last_logged = max(r["step"] for r in read_metrics(metrics))
        load_checkpoint(run / "checkpoint")  # never half-written
        saved = load_training_state(run / "checkpoint")["step"]
        lost.append(max(0, last_logged - saved))
    assert saved < 600
    done = subprocess.run(_train_cmd(run, config) + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert load_training_state(run / "checkpoint")["step"] == 600
    assert not list(run.glob(".checkpoint.*"))
    losses = [r["loss"] for r in read_metrics(metrics) if r["kind"] == "train"]
    assert losses[-1] < losses[0]
    assert max(lost) <= train_cfg.checkpoint_every + 10  # at most one interval (+ one logging period)
    print(f"steps lost per kill: {lost}; largest gap {max(lost)}")


# -- honest splits ----------------------------------------------------------------------------------


def test_text_file_corpus_holds_out_its_validation_part(corpus, tmp_path):
    from nvae.training.setup import HOLD_OUT_EVERY, corpus_splits

    _, cfg = tiny_configs(corpus, eval_split="validation")
    train_sents, eval_sents, where = corpus_splits(cfg)
    every = corpus.read_text().splitlines()
    assert len(eval_sents) == len(every) // HOLD_OUT_EVERY > 0
    assert not set(eval_sents) & set(train_sents)
    assert len(train_sents) + len(eval_sents) == len(set(every))
    assert "held out of training" in where
    # --set valid_data=FILE evaluates on that file and trains on every line of the corpus
    valid = tmp_path / "valid.txt"
    valid.write_text("A sentence only for validation.\n")
    _, cfg = tiny_configs(corpus, eval_split="validation", valid_data=str(valid))
    train_sents, eval_sents, where = corpus_splits(cfg)
    assert eval_sents == ["A sentence only for validation."] and len(train_sents) == len(set(every))
    assert "valid_data" in where


def test_local_corpus_trains_on_train_and_evaluates_on_validation():
    from nvae.data.corpora import load_sentences
    from nvae.training.setup import corpus_splits

    cfg = TrainConfig()
    assert (cfg.data, cfg.split, cfg.eval_split) == ("wikitext-2", "train", "validation")
    train_sents, eval_sents, where = corpus_splits(cfg)
    assert where == "wikitext-2:validation"
    assert eval_sents == load_sentences("wikitext-2", "validation")
    assert not set(load_sentences("wikitext-2", "test")) & set(train_sents)


def test_periodic_evaluation_reads_a_loss_conditional_model_at_several_alpha_deltas(corpus, tmp_path):
    model_cfg, train_cfg = tiny_configs(corpus, eval_split="validation", eval_every=12, eval_sentences=8)
    model_cfg.nvib.alpha_delta_conditional, model_cfg.nvib.alpha_delta_min, model_cfg.nvib.alpha_delta_max = (
        True,
        0.01,
        1.0,
    )
    train(tmp_path / "run", model_cfg, train_cfg, progress=False)
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    sweep = [r for r in records if r["kind"] == "eval_sweep"]
    assert sorted({r["alpha_delta"] for r in sweep}) == [0.03162, 0.1, 0.31623]
    assert sorted({r["step"] for r in sweep}) == [12, 24]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "held out of training" in info["eval_from"]


def test_alpha_delta_floor_curriculum():
    import math

    from nvae.training.schedules import alpha_delta_floor

    model_cfg = latent_config(alpha_delta_conditional=True, alpha_delta_min=0.005, alpha_delta_max=0.2)
    off = TrainConfig(kl_start_step=100, kl_anneal_steps=100)
    assert alpha_delta_floor(off, model_cfg, 0) == math.log(0.005)
    on = TrainConfig(kl_start_step=100, kl_anneal_steps=100, alpha_delta_warmup_min=0.1)
    floors = [math.exp(alpha_delta_floor(on, model_cfg, s)) for s in (0, 99, 100, 150, 200, 5000)]
    assert floors[:3] == pytest.approx([0.1, 0.1, 0.1])
    assert floors[3] == pytest.approx(math.sqrt(0.1 * 0.005))
    assert floors[4:] == pytest.approx([0.005, 0.005])


def test_init_from_starts_a_run_from_another_runs_weights(corpus, tmp_path):
    """`init_from`: the weights and tokenizer of a checkpoint start a new run (a new optimiser and
    schedule; the latent's settings may change); another architecture is refused in one line."""
    model_cfg, train_cfg = tiny_configs(corpus)
    first = train(tmp_path / "first", model_cfg, train_cfg, progress=False)
    model_cfg2, train_cfg2 = tiny_configs(corpus, init_from=str(tmp_path / "first"), max_steps=1, lr=1e-12)
    model_cfg2.nvib.alpha_delta = 0.5  # a latent setting may differ
    second = train(tmp_path / "second", model_cfg2, train_cfg2, progress=False)
    assert (tmp_path / "second" / "tokenizer.json").read_bytes() == (first / "tokenizer.json").read_bytes()
    assert load_training_state(second)["step"] == 1
    a, b = load_checkpoint(first), load_checkpoint(second)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=1e-5, msg=name)  # one step at lr 1e-12 moves nothing
    other, _ = tiny_configs(corpus)
    other.d_ff = 128
    with pytest.raises(ValueError, match="another architecture"):
        train(tmp_path / "third", other, train_cfg2, progress=False)
    out = subprocess.run(
        [sys.executable, "-m", "nvae", "train", "--out", str(tmp_path / "fourth"), "--set", f"init_from={tmp_path}"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2 and "holds no checkpoint" in out.stderr and "Traceback" not in out.stderr
