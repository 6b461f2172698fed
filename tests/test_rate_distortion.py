"""The rate-distortion measure of a model's choice of components (`measures.rate_distortion`): at
each retained proportion, the learned choice against fixed ones on the same model at the same
alpha^Delta (the nearest stride rule, evenly spaced positions, a random subset), the last two with
the learned choice's count in every sentence. Then its form for each kind of checkpoint
(`nvae.evaluation.compression`) and the stored file `nvae rate-distortion` writes and the app reads
(`nvae.readout.rate_distortion_file`)."""

from __future__ import annotations

import pytest
import torch
from helpers import make_responsive, make_tiny_checkpoint

from nvae.data.text import collate, encode_texts
from nvae.evaluation import measures
from nvae.store.checkpoint import load_checkpoint

TEXTS = [
    "The river flows north through the valley before it reaches the sea.",
    "After the war, the town was rebuilt with money from the new government.",
    "The film was released in the United States in 1998 and sold well.",
    "He was born in a small village in the north of England in 1950.",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path_factory.mktemp("rd") / "nvae")))


def kept_positions(latent, b: int) -> list[int]:
    return sorted(int(s) for s, k in zip(latent.source[b], latent.retained[b]) if k and s >= 0)


def test_the_fixed_rules_keep_what_they_say(model):
    ids, _ = encode_texts(model.tokenizer, TEXTS, model.cfg.max_len - 1)
    batch = collate(ids, model.cfg.max_len)
    latent = model.encode(batch.src, batch.pad_mask, 0.3).latent
    n = int(latent.n_inputs[0])
    assert kept_positions(measures.every_kth(2)(latent), 0) == kept_positions(measures.every_second(latent), 0)
    assert kept_positions(measures.every_kth(3)(latent), 0) == list(range(0, n, 3))
    assert kept_positions(measures.every_kth(4, drop=True)(latent), 0) == [p for p in range(n) if p % 4]
    even = measures.evenly_spaced_like_learned(latent)
    for b in range(latent.batch_size):
        m, nb = int(latent.n_retained[b]), int(latent.n_inputs[b])
        assert kept_positions(even, b) == sorted({j * nb // m for j in range(m)})
    assert torch.equal(even.n_retained, latent.n_retained)
    names = [measures.fixed_rule_for(r)[0] for r in measures.RATES]
    assert names == ["every fourth", "every third", "every second", "all but every fourth"]


def test_the_curve_compares_every_choice_at_each_reachable_rate(model):
    ids, _ = encode_texts(model.tokenizer, TEXTS * 3, model.cfg.max_len - 1)
    rows = measures.rate_distortion(model, ids)
    assert rows and {r["target"] for r in rows} <= set(measures.RATES)
    for r in rows:
        assert set(r) >= {"target", "alpha_delta", "learned", "stride", "evenly_spaced", "random"}
        kept = r["learned"]["retained_proportion"]
        # the same count in every sentence for the evenly spaced and the random choice
        assert r["evenly_spaced"]["retained_proportion"] == pytest.approx(kept)
        assert r["random"]["retained_proportion"] == pytest.approx(kept)
        assert r["stride"]["rule"] == measures.fixed_rule_for(r["target"])[0]
        assert all(0.0 <= r[c]["bleu"] <= 100.0 for c in ("learned", "stride", "evenly_spaced", "random"))
        # the learned point is the model's own reconstruction at that alpha^Delta
        own = measures.reconstruct(model, ids, alpha_delta=r["alpha_delta"]).summary()
        assert r["learned"]["bleu"] == own["bleu"] and kept == own["retained_proportion"]


def test_nvae_evaluate_prints_the_curve(model, tmp_path, capsys):
    import json

    from nvae.cli.main import main

    data = tmp_path / "sentences.txt"
    data.write_text("\n".join(TEXTS * 3) + "\n")
    folder = model.checkpoint_dir
    assert main(["evaluate", "--checkpoint", str(folder), "--data", str(data), "--rate-distortion", "--no-cache"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["rate_distortion"] and out["rate_distortion"][0]["stride"]["rule"].startswith("every")
    baseline = make_tiny_checkpoint(tmp_path / "vts", model_type="vts")
    assert main(["evaluate", "--checkpoint", str(baseline), "--data", str(data), "--rate-distortion"]) == 2
    assert "loss-conditional NVAE" in capsys.readouterr().err


def test_kept_layout_says_how_regular_a_kept_set_is(model, monkeypatch):
    """A stride keeps only even positions at one gap (1.0 and 1.0); keeping two of every three
    positions gives gaps 1, 2, 1, 2, ...: about half the kept positions even, half the gaps the mode."""
    ids, _ = encode_texts(model.tokenizer, TEXTS, model.cfg.max_len - 1)
    real = measures.encoded_batches

    def with_choice(transform):
        def batches(*args, **kwargs):
            for start, batch, latent in real(*args, **kwargs):
                yield start, batch, transform(latent)

        monkeypatch.setattr(measures, "encoded_batches", batches)
        return measures.kept_layout(model, ids, 0.3)

    stride = with_choice(measures.every_kth(2))
    assert stride["even_share"] == 1.0 and stride["regular_gap_share"] == 1.0
    two_of_three = with_choice(measures.every_kth(3, drop=True))  # keeps p % 3 != 0: 1, 2, 4, 5, ...
    assert 0.3 < two_of_three["even_share"] < 0.7
    assert 0.4 < two_of_three["regular_gap_share"] < 0.7
    everything = with_choice(lambda latent: measures.keep_components(latent, latent.source >= 0))
    assert everything["regular_gap_share"] == 1.0 and 0.4 < everything["even_share"] < 0.6


# -- the stored result: `nvae rate-distortion CHECKPOINT` writes it, the app's loader reads it --------


def test_each_kind_of_model_gets_its_own_form(model, tmp_path):
    """A loss-conditional NVAE gets a curve over the rates, an NVAE at one fixed alpha^Delta its own
    point with the fixed choices at its retained proportion, a baseline its own rule's point."""
    from nvae.evaluation.compression import measure_compression

    ids, _ = encode_texts(model.tokenizer, TEXTS, model.cfg.max_len - 1)
    steps = []
    curve = measure_compression(model, ids, progress=lambda done, total, what: steps.append((done, total)))
    assert curve["kind"] == "curve" and len(curve["rows"]) >= 2
    assert steps[-1] == (len(measures.RATES) + 2,) * 2  # one step per rate, after the point and the curve
    own = measures.reconstruct(model, ids).summary()
    assert curve["point"]["bleu"] == own["bleu"] and curve["point"]["alpha_delta"] == model.cfg.nvib.alpha_delta
    fixed = load_checkpoint(make_responsive(make_tiny_checkpoint(tmp_path / "fixed", conditional=False, seed=2)))
    point = measure_compression(fixed, ids)
    kept = point["point"]["retained_proportion"]
    assert point["kind"] == "point" and 0 < kept < 1 and [r["target"] for r in point["rows"]] == [kept]
    assert point["rows"][0]["learned"]["bleu"] == point["point"]["bleu"]
    assert point["rows"][0]["stride"]["rule"] == measures.fixed_rule_for(kept)[0]
    vts = load_checkpoint(make_tiny_checkpoint(tmp_path / "vts", model_type="vts"))
    base = measure_compression(vts, ids)
    assert base["kind"] == "baseline" and base["rows"] == []
    assert base["point"]["retained_proportion"] == measures.reconstruct(vts, ids).summary()["retained_proportion"]


def test_nvae_rate_distortion_writes_a_file_the_loader_reads_back(model, tmp_path, capsys):
    import json
    import shutil

    from nvae.cli.main import main
    from nvae.readout import rate_distortion_file
    from nvae.store.checkpoint import fingerprint

    ckpt = tmp_path / "nvae"
    shutil.copytree(model.checkpoint_dir, ckpt)
    assert rate_distortion_file.load_record(rate_distortion_file.record_file(ckpt)) == (
        None,
        None,
    )  # no file yet: nothing, no notice
    assert main(["rate-distortion", str(ckpt), "--limit", "8", "--quiet"]) == 0
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    record, notice = rate_distortion_file.load_record(
        rate_distortion_file.record_file(ckpt), fingerprint(load_checkpoint(ckpt))
    )
    assert notice is None and record is not None
    assert record["kind"] == "curve" and record["split"] == "validation" and record["sentences"] == 8
    assert record["command"] == f"python -m nvae rate-distortion {ckpt} --limit 8"
    assert {r["target"] for r in record["rows"]} <= set(measures.RATES)
    assert record["rows"] == printed["rows"] and record["point"] == printed["point"]
    assert rate_distortion_file.load_record(rate_distortion_file.record_file(ckpt)) == (
        record,
        None,
    )  # checked by the files, unloaded
    # an existing file is kept unless --force
    assert main(["rate-distortion", str(ckpt), "--limit", "8", "--quiet"]) == 2
    assert "--force" in capsys.readouterr().err
    vts = make_tiny_checkpoint(tmp_path / "baseline-vts", model_type="vts")
    assert main(["rate-distortion", str(vts), "--limit", "8", "--quiet"]) == 0
    base, _ = rate_distortion_file.load_record(rate_distortion_file.record_file(vts))
    assert base["kind"] == "baseline" and base["rows"] == [] and base["model_type"] == "vts"
    assert base["sentences_sha256"] == record["sentences_sha256"]  # the same sentences as the NVAE's
    assert 0.4 < base["point"]["retained_proportion"] < 0.65  # every second position


def test_a_damaged_or_stale_file_gives_a_one_line_notice(tmp_path):
    import json

    from nvae.readout import rate_distortion_file

    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    point = {"bleu": 50.0, "retained_proportion": 0.5, "exact_match": 0.1, "alpha_delta": 0.1}
    good = {
        "format": rate_distortion_file.FORMAT_VERSION,
        "command": "python -m nvae rate-distortion ckpt",
        "split": "validation",
        "model_type": "nvae",
        "sentences": 3,
        "fingerprint": "f" * 64,
        "files_sha256": rate_distortion_file.files_digest(folder),
        "kind": "curve",
        "point": point,
        "rows": [{"target": 0.5, "alpha_delta": 0.1, **{c: dict(point) for c in rate_distortion_file.CHOICES}}],
    }
    file = rate_distortion_file.save_record(rate_distortion_file.record_file(folder), good)
    assert rate_distortion_file.load_record(file) == (good, None)
    assert rate_distortion_file.load_record(file, "f" * 64) == (good, None)

    def notice(text: str, fingerprint: str | None = None) -> str:
        file.write_text(text)
        record, message = rate_distortion_file.load_record(file, fingerprint)
        assert record is None and message and "\n" not in message and message.startswith(f"{file} was not used: ")
        return message

    assert "not valid JSON" in notice("{torn")
    assert "not valid JSON" in notice("\xff\xfe")
    assert "format 7" in notice(json.dumps({**good, "format": 7}))
    assert "no rows" in notice(json.dumps({**good, "rows": []}))
    assert "BLEU" in notice(json.dumps({**good, "point": {**point, "bleu": 250}}))
    assert "random" in notice(json.dumps({**good, "rows": [{**good["rows"][0], "random": None}]}))
    assert "row 1's alpha^Delta" in notice(json.dumps({**good, "rows": [{**good["rows"][0], "alpha_delta": "x"}]}))
    assert "'model_type'" in notice(json.dumps({k: v for k, v in good.items() if k != "model_type"}))
    assert "other weights" in notice(json.dumps(good), "0" * 64)  # the loaded model's fingerprint differs
    (folder / "model.safetensors").write_bytes(b"new weights")  # or, unloaded, the checkpoint's files
    stale = notice(json.dumps(good))
    assert "other weights" in stale and "python -m nvae rate-distortion ckpt --force" in stale
