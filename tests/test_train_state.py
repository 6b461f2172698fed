"""Resumable training: the pickle-free training state (optimizer, scheduler, step, RNG) and a run
folder that is never started over without --resume or --overwrite."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from helpers import make_tokenizer, tiny_model

from nvae.cli.main import main
from nvae.config import TrainConfig
from nvae.data.text import collate
from nvae.model.autoencoder import NVAE
from nvae.store.checkpoint import load_checkpoint, save_checkpoint
from nvae.store.format import CheckpointError
from nvae.store.train_state import capture_rng, load_training_state, restore_rng, save_training_state


@pytest.fixture(scope="module")
def tok():
    return make_tokenizer()


# -- training state -------------------------------------------------------------------------------


def loss_of(model: NVAE, seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    batch = collate([[5, 6, 7, 8, 9], [10, 11, 12]], model.cfg.max_len)
    loss, _ = model(batch.src, batch.pad_mask, lambda_g=0.01, lambda_d=1.0)
    return loss


def make_optimizer(model: NVAE):
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.98)
    )
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 4))
    return opt, sched


def train_step(model, opt, sched, seed):
    model.train()
    opt.zero_grad(set_to_none=True)
    loss_of(model, seed).backward()
    opt.step()
    sched.step()


@pytest.mark.parametrize("model_type", ["nvae", "vt"])
def test_training_state_round_trip_resumes_exactly(tmp_path, tok, model_type):
    model = tiny_model(tok, model_type)
    opt, sched = make_optimizer(model)
    for s in range(3):
        train_step(model, opt, sched, seed=s)
    path = save_checkpoint(
        tmp_path / "ck",
        model,
        TrainConfig(),
        training_state={
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "step": 3,
            "rng": capture_rng(),
            "extra": {"epoch": 1, "offset": 17, "note": "x"},
        },
    )
    assert {p.name for p in path.iterdir()} >= {"training_state.json", "training_state.safetensors"}

    state = load_training_state(path)
    assert state["step"] == 3 and state["extra"] == {"epoch": 1, "offset": 17, "note": "x"}
    model2 = load_checkpoint(path)
    opt2, sched2 = make_optimizer(model2)
    opt2.load_state_dict(state["optimizer"])
    sched2.load_state_dict(state["scheduler"])

    a, b = opt.state_dict(), opt2.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for idx in a["state"]:
        for name, v in a["state"][idx].items():
            assert torch.equal(v, b["state"][idx][name]), (idx, name)
    assert sched.state_dict() == sched2.state_dict()

    train_step(model, opt, sched, seed=3)
    train_step(model2, opt2, sched2, seed=3)
    for (n, p), (_, q) in zip(model.named_parameters(), model2.named_parameters()):
        assert torch.equal(p, q), n
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_training_state_standalone_and_missing(tmp_path, tok):
    model = tiny_model(tok)
    opt, sched = make_optimizer(model)
    train_step(model, opt, sched, 0)
    save_training_state(tmp_path / "st", opt, sched, step=1, extra={"k": [1, 2]})
    state = load_training_state(tmp_path / "st")
    assert state["step"] == 1 and state["extra"] == {"k": [1, 2]}
    assert [p.name for p in (tmp_path / "st").iterdir() if p.name.startswith(".")] == []
    with pytest.raises(CheckpointError, match="training_state.json: missing"):
        load_training_state(tmp_path)
    (tmp_path / "st" / "training_state.safetensors").write_bytes(b"garbage" * 3)
    with pytest.raises(CheckpointError, match="training_state.safetensors: truncated or corrupt"):
        load_training_state(tmp_path / "st")


def draws() -> tuple:
    return torch.rand(3).tolist(), random.random(), np.random.rand(2).tolist()


def test_rng_capture_and_restore(tmp_path, tok):
    random.gauss(0, 1)  # a cached gaussian in the python state
    np.random.standard_normal()
    state = capture_rng()
    first = draws()
    restore_rng(state)
    assert draws() == first

    # through the files as well
    model = tiny_model(tok)
    opt, _ = make_optimizer(model)
    state = capture_rng()
    save_checkpoint(tmp_path / "ck", model, training_state={"optimizer": opt.state_dict(), "step": 0, "rng": state})
    expected = draws()
    draws()
    restore_rng(load_training_state(tmp_path / "ck")["rng"])
    assert draws() == expected


def test_train_refuses_to_start_over_an_existing_run(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("\n".join(f"the cat number {i} sat on the mat today." for i in range(60)) + "\n")
    args = [
        "train",
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        "--set",
        f"data={corpus}",
        "--set",
        "max_steps=2",
        "--set",
        "batch_size=8",
        "--set",
        "vocab_size=80",
        "--set",
        "d_model=16",
        "--set",
        "n_heads=2",
        "--set",
        "d_ff=16",
        "--set",
        "n_enc_layers=1",
        "--set",
        "n_dec_layers=1",
        "--set",
        "eval_split=",
    ]
    assert main(args) == 0
    metrics = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--overwrite" in err and "Traceback" not in err
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == metrics  # nothing appended
    assert main(args + ["--overwrite"]) == 0
    assert (tmp_path / "run" / "metrics.jsonl").read_text().count('"step": 1,') == 1  # one history
    assert main(args + ["--overwrite", "--resume"]) == 2
