"""`NVAE.from_pretrained` / `model.save_pretrained` (nvae/store/pretrained.py): exact round trips of a
shipped checkpoint and of a model built here, the CLI on a saved folder, which files come along, a hub
id read through a stand-in for the download, and the errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import huggingface_hub
import huggingface_hub.hub_mixin
import pytest
import safetensors
import safetensors.torch
import torch
from helpers import make_tokenizer, tiny_model

from nvae import NVAE, load_checkpoint
from nvae.cli.main import main
from nvae.config import TrainConfig
from nvae.store.checkpoint import fingerprint
from nvae.store.format import CheckpointError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "checkpoints" / "nvae-default"
CHECKPOINT_FILES = {"config.json", "model.safetensors", "tokenizer.json"}
COMPANIONS = ["MODEL_CARD.md", "metrics.jsonl", "latent_map.npz", "rate_distortion.json", "aggregate.safetensors"]


def stored(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors of a folder's weights file as stored (no conversion), and its metadata."""
    with safetensors.safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        metadata = dict(f.metadata() or {})
    return safetensors.torch.load_file(str(folder / "model.safetensors")), metadata


def assert_same_stored_weights(a: Path, b: Path) -> None:
    ta, ma = stored(a)
    tb, mb = stored(b)
    assert ta.keys() == tb.keys() and ma == mb
    for name in ta:
        assert ta[name].dtype == tb[name].dtype, name
        assert torch.equal(ta[name], tb[name]), name


def assert_same_model(a: NVAE, b: NVAE) -> None:
    assert a.cfg == b.cfg
    assert (getattr(a, "train_cfg", None) or TrainConfig()) == b.train_cfg  # a model built here: the default's
    assert a.tokenizer.to_str() == b.tokenizer.to_str()
    assert fingerprint(a) == fingerprint(b)


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> dict[str, Path]:
    """A copy of the shipped default, and the folder `save_pretrained` wrote from it."""
    folder = tmp_path_factory.mktemp("pretrained")
    source = folder / "nvae-default"
    shutil.copytree(SHIPPED, source)
    NVAE.from_pretrained(source).save_pretrained(folder / "saved")
    return {"source": source, "saved": folder / "saved"}


@pytest.fixture
def tok():
    return make_tokenizer()


# -- round trips ---------------------------------------------------------------------------------


def test_a_shipped_checkpoint_round_trips_exactly(shipped):
    source, saved = shipped["source"], shipped["saved"]
    original = NVAE.from_pretrained(source)
    again = NVAE.from_pretrained(saved)
    assert original.stored_dtype == again.stored_dtype == torch.float16
    assert_same_stored_weights(source, saved)  # float16 as shipped, bit for bit
    assert_same_model(original, again)
    assert_same_model(again, load_checkpoint(SHIPPED))  # from_pretrained is load_checkpoint
    assert set(json.loads((saved / "config.json").read_text())) == {"model", "train"}  # the checkpoint's own
    assert not (saved / "README.md").exists()


def test_the_files_of_an_unchanged_model_come_along(shipped):
    """Copied byte for byte; the latent map and rate-distortion file are tied to the weights by the
    fingerprint, which the round trip keeps (test above), so they hold for the copy as for the original."""
    source, saved = shipped["source"], shipped["saved"]
    for name in [*COMPANIONS, "run.json"]:
        assert (saved / name).read_bytes() == (source / name).read_bytes(), name
    copy = NVAE.from_pretrained(saved)
    assert copy.aggregate is not None
    assert not any(p.name.startswith(("training_state", ".")) for p in saved.iterdir())
    # the copied latent map and rate-distortion file are valid for the copy's weights, as the app reads them
    from nvae.readout import latent_map, rate_distortion_file

    record, notice = rate_distortion_file.load_record(rate_distortion_file.record_file(saved), fingerprint(copy))
    assert notice is None and record is not None
    layout, notice = latent_map.load_map(saved / latent_map.FILE_NAME, copy, latent_map.DEFAULT_SENTENCES)
    assert notice is None and layout is not None


def test_the_cli_reads_a_saved_folder_as_the_original(shipped, capsys):
    outputs = []
    for folder in (shipped["source"], shipped["saved"]):
        assert main(["encode", "The cat sat.", "--checkpoint", str(folder)]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] and '"components"' in outputs[0]


def test_a_model_built_here_round_trips_in_full_precision(tmp_path, tok):
    model = tiny_model(tok)  # in training mode, as built
    model.save_pretrained(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == CHECKPOINT_FILES  # no README.md, no mixin config
    tensors, metadata = stored(tmp_path / "m")
    assert metadata["dtype"] == "float32" and {t.dtype for t in tensors.values()} == {torch.float32}
    back = NVAE.from_pretrained(tmp_path / "m")
    assert back.stored_dtype == torch.float32 and not back.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, back.state_dict()[name]), name
    assert_same_model(model.eval(), back)


def test_half_precision_is_remembered_through_a_second_save(tmp_path, tok):
    tiny_model(tok).save_pretrained(tmp_path / "half", half=True)
    loaded = NVAE.from_pretrained(tmp_path / "half")
    assert loaded.stored_dtype == torch.float16
    loaded.save_pretrained(tmp_path / "again")
    assert_same_stored_weights(tmp_path / "half", tmp_path / "again")
    loaded.save_pretrained(tmp_path / "full", half=False)
    assert stored(tmp_path / "full")[1]["dtype"] == "float32"
    assert_same_model(NVAE.from_pretrained(tmp_path / "full"), loaded)


def test_a_changed_model_leaves_the_loaded_folders_files_behind(tmp_path, tok):
    tiny_model(tok).save_pretrained(tmp_path / "a")
    (tmp_path / "a" / "MODEL_CARD.md").write_text("# the weights of folder a\n")
    safetensors.torch.save_file({"mean": torch.zeros(32)}, str(tmp_path / "a" / "aggregate.safetensors"))
    model = NVAE.from_pretrained(tmp_path / "a")
    model.train()  # the training mode alone changes nothing that is stored
    tiny_model(tok, seed=1).save_pretrained(tmp_path / "same")  # a destination with files of its own
    (tmp_path / "same" / "MODEL_CARD.md").write_text("# other weights\n")
    (tmp_path / "same" / "notes.txt").write_text("mine\n")
    model.save_pretrained(tmp_path / "same")
    assert model.training  # and is given back
    assert (tmp_path / "same" / "MODEL_CARD.md").read_text() == "# the weights of folder a\n"
    assert (tmp_path / "same" / "notes.txt").read_text() == "mine\n"
    assert (tmp_path / "same" / "aggregate.safetensors").is_file()
    with torch.no_grad():
        model.embed.weight[5, 0] += 1.0
    model.save_pretrained(tmp_path / "changed")
    assert {p.name for p in (tmp_path / "changed").iterdir()} == CHECKPOINT_FILES
    # saved over its own folder: the destination keeps its other files (save_checkpoint), but the
    # aggregate fit, made for the old weights, goes
    model.save_pretrained(tmp_path / "a")
    assert (tmp_path / "a" / "MODEL_CARD.md").is_file() and not (tmp_path / "a" / "aggregate.safetensors").exists()
    assert torch.equal(NVAE.from_pretrained(tmp_path / "a").embed.weight, model.embed.weight.detach())


# -- hub ids -------------------------------------------------------------------------------------


def hub_snapshot(folder: Path, checkpoint: Path) -> Path:
    """A snapshot laid out as the hub's cache lays it out: the files are links to blobs."""
    blobs, snapshot = folder / "blobs", folder / "snapshots" / "0123abc"
    blobs.mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for k, f in enumerate(sorted(checkpoint.iterdir())):
        shutil.copy(f, blobs / str(k))
        (snapshot / f.name).symlink_to(Path("..", "..", "blobs", str(k)))
    return snapshot


def test_a_hub_id_is_downloaded_then_read_as_a_folder(tmp_path, tok, monkeypatch):
    model = tiny_model(tok).eval()
    model.save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "MODEL_CARD.md").write_text("# a card\n")
    snapshot = hub_snapshot(tmp_path / "cache", tmp_path / "m")
    calls = []

    def download(repo_id, **options):
        calls.append((repo_id, options))
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    monkeypatch.chdir(tmp_path)  # no folder of that name here
    loaded = NVAE.from_pretrained("someone/nvae-tiny", revision="v1", cache_dir=tmp_path / "cache")
    assert [c[0] for c in calls] == ["someone/nvae-tiny"]
    assert calls[0][1]["revision"] == "v1" and calls[0][1]["cache_dir"] == tmp_path / "cache"
    assert_same_model(model, loaded)
    loaded.save_pretrained(tmp_path / "local")  # the snapshot's links become files
    card = tmp_path / "local" / "MODEL_CARD.md"
    assert not card.is_symlink() and card.read_text() == "# a card\n"
    assert_same_model(model, NVAE.from_pretrained(tmp_path / "local"))
    assert len(calls) == 1  # a folder that exists is read offline


def test_push_to_hub_uploads_the_checkpoint_files_only(tmp_path, tok, monkeypatch):
    uploaded = {}

    class Api:
        def __init__(self, token=None):
            pass

        def create_repo(self, repo_id, **_):
            return type("Repo", (), {"repo_id": repo_id})()

        def upload_folder(self, repo_id, folder_path, **_):
            uploaded[repo_id] = sorted(p.name for p in Path(folder_path).iterdir())
            return "https://hub.example/commit/1"

    monkeypatch.setattr(huggingface_hub.hub_mixin, "HfApi", Api)
    assert tiny_model(tok).push_to_hub("me/tiny") == "https://hub.example/commit/1"
    assert uploaded == {"me/tiny": sorted(CHECKPOINT_FILES)}


# -- errors --------------------------------------------------------------------------------------


@pytest.fixture
def no_download(monkeypatch):
    def download(repo_id, **_):
        raise AssertionError(f"{repo_id} should not reach the hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)


def test_a_missing_folder_is_a_clear_error(tmp_path, no_download):
    with pytest.raises(CheckpointError, match=r"missing.*checkpoint folder missing"):
        NVAE.from_pretrained(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a hub id either"):
        NVAE.from_pretrained("not a valid id!")
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        NVAE.from_pretrained(tmp_path / "file")


def test_a_hub_id_that_cannot_be_fetched_is_a_clear_error(tmp_path, monkeypatch):
    def download(repo_id, **_):
        raise huggingface_hub.errors.LocalEntryNotFoundError("cannot reach the hub and the cache has nothing")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as err:
        NVAE.from_pretrained("someone/no-such-model")
    message = str(err.value)
    assert message.startswith("someone/no-such-model: no checkpoint folder") and "could not be fetched" in message
    assert "cannot reach the hub" in message and "\n" not in message


def test_save_pretrained_takes_no_mixin_config(tmp_path, tok):
    with pytest.raises(ValueError, match="no config"):
        tiny_model(tok).save_pretrained(tmp_path / "m", config={"size": 1})
    assert not (tmp_path / "m").exists()
