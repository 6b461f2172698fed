"""Checkpoint folders: round trips (full and half precision), every kind of damage giving a clear
CheckpointError, atomic overwrite."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import safetensors.torch
import torch
from helpers import TINY_SENTENCES, make_tokenizer, tiny_model
from tokenizers import Tokenizer

import nvae.store.format
from nvae.config import TrainConfig
from nvae.data.text import collate
from nvae.model.autoencoder import NVAE
from nvae.store import atomic, checkpoint, train_state
from nvae.store.atomic import recover_interrupted_save
from nvae.store.checkpoint import describe, load_checkpoint, read_metrics, save_checkpoint
from nvae.store.format import REQUIRED_FILES, CheckpointError


@pytest.fixture(scope="module")
def tok() -> Tokenizer:
    return make_tokenizer()


def encode_ids(model: NVAE):
    """The latent of two fixed id sentences."""
    batch = collate([[5, 6, 7, 8], [9, 10, 11]], model.cfg.max_len, device=model.device)
    return model.encode(batch.src, batch.pad_mask).latent


@pytest.fixture
def saved(tmp_path, tok) -> Path:
    """A valid nvae checkpoint folder."""
    return save_checkpoint(tmp_path / "ckpt", tiny_model(tok), TrainConfig(max_steps=7))


def expect_error(path: Path, file_name: str, *words: str) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert file_name in msg, msg
    assert any(w in msg for w in words), msg
    return msg


# -- round trips ----------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["nvae", "vt", "t"])
def test_round_trip_is_exact(tmp_path, tok, model_type):
    model = tiny_model(tok, model_type).eval()
    train_cfg = TrainConfig(max_steps=123, lr=1e-3)
    path = save_checkpoint(tmp_path / "ck", model, train_cfg)
    assert sorted(p.name for p in path.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    loaded = load_checkpoint(path)
    assert not loaded.training
    assert loaded.cfg == model.cfg
    assert loaded.train_cfg == train_cfg
    assert loaded.checkpoint_dir == path
    assert loaded.tokenizer.get_vocab() == tok.get_vocab()
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with torch.no_grad():
        la, lb = encode_ids(model), encode_ids(loaded)
        assert torch.equal(la.mu, lb.mu) and torch.equal(la.alpha, lb.alpha)
        assert model.generate(la) == loaded.generate(lb)


@pytest.mark.parametrize("model_type", ["nvae", "vt"])
def test_half_round_trip_is_close_and_smaller(tmp_path, tok, model_type):
    model = tiny_model(tok, model_type).eval()
    full = save_checkpoint(tmp_path / "full", model)
    half = save_checkpoint(tmp_path / "half", model, half=True)
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    loaded = load_checkpoint(half)
    for k, v in loaded.state_dict().items():
        assert v.dtype == torch.float32, k
        torch.testing.assert_close(v, model.state_dict()[k], atol=1e-3, rtol=1e-3)
    with torch.no_grad():
        la, lb = encode_ids(model), encode_ids(loaded)
    torch.testing.assert_close(la.mu, lb.mu, atol=2e-2, rtol=2e-2)
    info = describe(half)
    assert info["half"] is True and describe(full)["half"] is False


def test_load_to_device_and_train_cfg_default(tmp_path, tok):
    model = tiny_model(tok)
    path = save_checkpoint(tmp_path / "ck", model)  # no train_cfg: defaults
    loaded = load_checkpoint(path, device=torch.device("cpu"))
    assert loaded.train_cfg == TrainConfig()
    assert loaded.embed.weight.device.type == "cpu"
    # re-export keeps the train config attached to the loaded model
    loaded.train_cfg = TrainConfig(max_steps=5)
    again = load_checkpoint(save_checkpoint(tmp_path / "ck2", loaded))
    assert again.train_cfg.max_steps == 5


def test_save_requires_tokenizer(tmp_path, tok):
    model = tiny_model(tok)
    model.tokenizer = None
    with pytest.raises(CheckpointError, match="tokenizer"):
        save_checkpoint(tmp_path / "ck", model)
    assert not (tmp_path / "ck").exists()
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_nan_weights_and_keeps_old(saved, tok):
    model = tiny_model(tok, seed=1)
    with torch.no_grad():
        model.embed.weight[3, 0] = float("nan")
    with pytest.raises(CheckpointError, match="NaN"):
        save_checkpoint(saved, model)
    load_checkpoint(saved)


def test_save_refuses_to_replace_a_folder_that_is_not_a_checkpoint(tmp_path, tok):
    other = tmp_path / "notes"
    other.mkdir()
    (other / "important.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        save_checkpoint(other, tiny_model(tok))
    assert (other / "important.txt").read_text() == "keep me"


# -- damaged checkpoints --------------------------------------------------------------------------


def test_missing_folder(tmp_path):
    expect_error(tmp_path / "nope", "nope", "missing")


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors"])
def test_missing_file(saved, name):
    (saved / name).unlink()
    expect_error(saved, name, "missing")


def test_truncated_weights(saved):
    w = saved / "model.safetensors"
    data = w.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    expect_error(saved, "model.safetensors", "truncated", "corrupt")


@pytest.mark.parametrize("where", ["length", "json"])
def test_flipped_header_bytes(saved, where):
    w = saved / "model.safetensors"
    data = bytearray(w.read_bytes())
    start = 3 if where == "length" else 9  # the 8-byte header length, or the JSON header after it
    for i in range(start, start + 4):
        data[i] ^= 0xFF
    w.write_bytes(bytes(data))
    expect_error(saved, "model.safetensors", "truncated", "corrupt")


class _Trap:
    """Unpickling this creates the marker file: proof that something was unpickled."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_pickle_disguised_as_weights_is_never_unpickled(saved, tmp_path, protocol):
    marker = tmp_path / "PWNED"
    (saved / "model.safetensors").write_bytes(pickle.dumps({"embed.weight": _Trap(marker)}, protocol=protocol))
    expect_error(saved, "model.safetensors", "corrupt", "not a readable safetensors")
    assert not marker.exists()
    describe(saved)  # reading the metadata must not unpickle either
    assert not marker.exists()


@pytest.mark.parametrize("module", [checkpoint, nvae.store.format, train_state, atomic], ids=lambda m: m.__name__)
def test_module_never_uses_pickle(module):
    source = Path(module.__file__).read_text()
    for call in ("torch.load(", "import pickle", "pickle.load", "pickle.loads("):
        assert call not in source, call


def rewrite_config(path: Path, **changes) -> None:
    data = json.loads((path / "config.json").read_text())
    data["model"].update(changes)
    (path / "config.json").write_text(json.dumps(data))


def test_wrong_shapes(saved):
    rewrite_config(saved, d_model=64)
    msg = expect_error(saved, "model.safetensors", "shape")
    assert "32]" in msg and "64]" in msg


def test_config_from_another_model_type(saved):
    rewrite_config(saved, model_type="vt", nvib=None)  # nvae weights, a vt config
    msg = expect_error(saved, "config.json", "model_type")
    assert "'vt'" in msg and "'nvae'" in msg


def test_other_model_type_without_metadata_is_caught_by_the_tensor_names(saved):
    w = saved / "model.safetensors"
    safetensors.torch.save_file(safetensors.torch.load_file(str(w)), str(w))  # drop the metadata
    rewrite_config(saved, model_type="vt", nvib=None)
    expect_error(saved, "model.safetensors", "unexpected tensors")


def test_missing_and_unexpected_tensors(saved):
    w = saved / "model.safetensors"
    tensors = safetensors.torch.load_file(str(w))
    tensors.pop("dec_norm.bias")
    safetensors.torch.save_file(tensors, str(w))
    assert "dec_norm.bias" in expect_error(saved, "model.safetensors", "missing tensors")
    tensors["dec_norm.bias"] = torch.zeros(32)
    tensors["extra.weight"] = torch.zeros(2)
    safetensors.torch.save_file(tensors, str(w))
    assert "extra.weight" in expect_error(saved, "model.safetensors", "unexpected tensors")


def test_vocabulary_mismatch(saved):
    make_tokenizer(TINY_SENTENCES[:3], vocab_size=40).save(str(saved / "tokenizer.json"))
    expect_error(saved, "tokenizer.json", "vocabulary size")


def test_special_token_ids_mismatch(saved, tok):
    other = make_tokenizer(specials=["[UNK]", "[PAD]", "[BOS]", "[EOS]"])
    assert other.get_vocab_size() == tok.get_vocab_size()
    other.save(str(saved / "tokenizer.json"))
    expect_error(saved, "tokenizer.json", "[PAD]", "[UNK]")


def test_corrupt_tokenizer(saved):
    (saved / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    expect_error(saved, "tokenizer.json", "corrupt")


def test_invalid_json_config(saved):
    (saved / "config.json").write_text('{"model": {"d_model": 32,')
    expect_error(saved, "config.json", "JSON")


def test_invalid_config_value(saved):
    rewrite_config(saved, n_heads=5)
    expect_error(saved, "config.json", "divisible")


def test_nan_in_a_weight(saved):
    w = saved / "model.safetensors"
    tensors = safetensors.torch.load_file(str(w))
    tensors["enc_norm.weight"][0] = float("nan")
    safetensors.torch.save_file(tensors, str(w), metadata={"model_type": "nvae"})
    msg = expect_error(saved, "model.safetensors", "NaN")
    assert "enc_norm.weight" in msg


# -- atomicity ------------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("victim", [(checkpoint, "save_configs"), (atomic, "fsync")], ids=["save_configs", "fsync"])
def test_failed_overwrite_keeps_the_old_checkpoint(saved, tok, monkeypatch, victim):
    before = load_checkpoint(saved).state_dict()

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(*victim, boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_checkpoint(saved, tiny_model(tok, seed=5), TrainConfig(max_steps=99))
    monkeypatch.undo()
    after = load_checkpoint(saved)
    assert after.train_cfg.max_steps == 7
    assert all(torch.equal(before[k], v) for k, v in after.state_dict().items())
    assert leftovers(saved.parent) == []


def test_failed_swap_puts_the_old_checkpoint_back(saved, tok, monkeypatch):
    real_rename = os.rename

    def rename(src, dst):
        if ".tmp-" in str(src):  # moving the new folder in fails
            raise OSError("rename failed")
        return real_rename(src, dst)

    monkeypatch.setattr(atomic.os, "rename", rename)
    with pytest.raises(OSError):
        save_checkpoint(saved, tiny_model(tok, seed=5), TrainConfig(max_steps=99))
    monkeypatch.undo()
    assert load_checkpoint(saved).train_cfg.max_steps == 7
    assert leftovers(saved.parent) == []


def test_successful_overwrite_replaces_and_keeps_foreign_files(saved, tok):
    (saved / "MODEL_CARD.md").write_text("# card\n")
    (saved / "metrics.jsonl").write_text('{"step": 1}\n')
    new = tiny_model(tok, seed=5)
    save_checkpoint(
        saved,
        new,
        TrainConfig(max_steps=99),
        training_state={"optimizer": torch.optim.AdamW(new.parameters()).state_dict(), "step": 0},
    )
    assert (saved / "training_state.json").exists()
    save_checkpoint(saved, new, TrainConfig(max_steps=100))  # no training state: the stale one goes
    loaded = load_checkpoint(saved)
    assert loaded.train_cfg.max_steps == 100
    assert torch.equal(loaded.embed.weight, new.embed.weight)
    assert (saved / "MODEL_CARD.md").read_text() == "# card\n"
    assert read_metrics(saved) == [{"step": 1}]
    assert not (saved / "training_state.json").exists()
    assert leftovers(saved.parent) == []


def test_crash_between_the_renames_is_recovered(saved):
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    os.rename(saved, saved.parent / f".{saved.name}.old-{dead_pid}")
    (saved.parent / f".{saved.name}.tmp-{dead_pid}").mkdir()  # the half-written new one
    assert recover_interrupted_save(saved, REQUIRED_FILES)
    assert load_checkpoint(saved).train_cfg.max_steps == 7
    assert leftovers(saved.parent) == []


# -- describe / metrics ---------------------------------------------------------------------------


def test_describe(saved, tok):
    info = describe(saved)
    assert info["model_type"] == "nvae"
    assert info["parameters"] == tiny_model(tok).num_parameters()
    assert info["config"]["d_model"] == 32 and info["train_config"]["max_steps"] == 7
    assert set(info["files"]) == {"config.json", "model.safetensors", "tokenizer.json"}
    assert info["total_bytes"] == sum(info["files"].values()) > 0
    assert not info["has_model_card"] and not info["has_metrics"] and not info["has_training_state"]
    (saved / "MODEL_CARD.md").write_text("# NVAE\n")
    (saved / "metrics.jsonl").write_text("")
    info = describe(saved)
    assert info["has_model_card"] and info["has_metrics"]
    with pytest.raises(CheckpointError, match="missing"):
        describe(saved.parent / "nope")


def test_read_metrics_skips_torn_lines(tmp_path):
    assert read_metrics(tmp_path) == []
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 10, "loss": 2.5}\n\n{"step": 20, "lo{"step": 30, "loss": 2.1}\n{"step": 40, "loss": 2.0}\n{"step": 5'
    )
    assert read_metrics(tmp_path) == [{"step": 10, "loss": 2.5}, {"step": 40, "loss": 2.0}]
    assert read_metrics(tmp_path / "metrics.jsonl")[0]["step"] == 10
