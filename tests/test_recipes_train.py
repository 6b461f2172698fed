"""Every shipped recipe end to end, on a tiny corpus: `nvae train --recipe NAME` (the recipe's latent
settings as they ship, a tiny architecture and a three-step budget), `nvae export`, `load_checkpoint`,
and a sentence encoded by the reloaded model. The fine-tuned recipes start from the tiny run of the
recipe they fine-tune instead of the real run."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from nvae.cli.main import main
from nvae.config import RECIPES, apply_settings, recipe_configs
from nvae.data.text import encode_text, encode_texts
from nvae.store.checkpoint import load_checkpoint
from nvae.store.train_state import load_training_state

WORDS = "the cat dog bird sat ran on over a mat tree house red green small big today and then".split()
SENTENCE = "the big cat sat on a red mat today."
TINY_MODEL = {"d_model": 16, "n_heads": 2, "d_ff": 32, "n_enc_layers": 1, "n_dec_layers": 1, "max_len": 20}
TINY_TRAIN = {
    "max_steps": 3,
    "batch_size": 8,
    "warmup_steps": 1,
    "eval_split": "",
    "eval_every": 1000,
    "checkpoint_every": 1000,
    "min_tokens": 3,
    "max_tokens": 19,
}
# recipe -> the recipe whose tiny run stands in for its `init_from` (the real one is a full-size run)
FINE_TUNES = {"default": "default-base", "tournament": "default", "segments-chooser-ft": "segments"}
EXPORT_ALPHA_DELTA = 0.2  # the default alpha^Delta `nvae export` writes into a loss-conditional model


def tiny_settings(name: str, corpus: Path) -> dict:
    """The settings `--set` gives recipe `name`: the tiny architecture and budget on `corpus`, the KL and
    alpha^Delta warmup (where the recipe has them) over one step each. Nothing of the latent."""
    train = RECIPES[name]["train"]
    schedule = {key: 1 for key in ("kl_start_step", "kl_anneal_steps") if train.get(key, 1) > 0}
    return {**TINY_MODEL, **TINY_TRAIN, **schedule, "data": str(corpus)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`trained(name)`: the run folder of recipe `name` trained by `nvae train` (once a module)."""
    folder = tmp_path_factory.mktemp("recipes")
    corpus = folder / "tiny.txt"
    rng = random.Random(0)
    corpus.write_text("\n".join(" ".join(rng.choices(WORDS, k=rng.randint(5, 10))) + "." for _ in range(80)) + "\n")
    runs: dict[str, Path] = {}

    def run(name: str) -> Path:
        if name not in runs:
            settings = tiny_settings(name, corpus)
            if name in FINE_TUNES:
                settings["init_from"] = str(run(FINE_TUNES[name]))
            args = ["train", "--out", str(folder / name), "--recipe", name, "--device", "cpu", "--quiet"]
            args += [f"--set={key}={json.dumps(value)}" for key, value in settings.items()]
            assert main(args) == 0
            runs[name] = folder / name
        return runs[name]

    return run


def test_the_fine_tuned_recipes_are_the_ones_that_start_from_other_weights():
    assert set(FINE_TUNES) == {name for name, recipe in RECIPES.items() if recipe["train"].get("init_from")}


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_each_recipe_trains_exports_reloads_and_encodes(name, trained, tmp_path, capsys):
    run = trained(name)
    assert load_training_state(run / "checkpoint")["step"] == TINY_TRAIN["max_steps"]
    want, want_train = recipe_configs(name)
    conditional = want.is_nvae and want.nvib.alpha_delta_conditional
    export = ["export", str(run), str(tmp_path / name), "--half"]
    export += ["--alpha-delta", str(EXPORT_ALPHA_DELTA)] if conditional else []
    assert main(export) == 0, capsys.readouterr().err
    shipped = load_checkpoint(tmp_path / name)

    # the shipped config is the recipe's: every latent setting as it ships, the tiny architecture
    settings = tiny_settings(name, Path(shipped.train_cfg.data))
    if name in FINE_TUNES:
        settings["init_from"] = str(trained(FINE_TUNES[name]))
    apply_settings(want, want_train, settings)
    want.vocab_size = shipped.tokenizer.get_vocab_size()
    if conditional:
        want.nvib.alpha_delta = EXPORT_ALPHA_DELTA
    assert shipped.cfg == want
    assert shipped.train_cfg == want_train

    # the shipped weights are the trained ones (its parameters in float16)
    trained_model = load_checkpoint(run / "checkpoint")
    params = dict(trained_model.named_parameters())
    assert trained_model.state_dict().keys() == shipped.state_dict().keys()
    for key, value in trained_model.state_dict().items():
        expected = value.half().float() if key in params else value
        assert torch.equal(shipped.state_dict()[key], expected), key
    if name in FINE_TUNES:  # and they moved from the weights the run started from
        start = load_checkpoint(trained(FINE_TUNES[name]) / "checkpoint")
        assert any(not torch.equal(a, b) for a, b in zip(start.parameters(), trained_model.parameters()))

    # a sentence encodes to a latent of the recipe's shape
    ids, _ = encode_texts(shipped.tokenizer, [SENTENCE], shipped.cfg.max_len - 1)
    n = len(ids[0]) + 1  # the end-of-sentence token included
    with torch.no_grad():
        latent = encode_text(shipped.eval(), SENTENCE)
    assert int(latent.n_inputs[0]) == n
    components = {"nvae": n + 1, "t": n, "vt": n, "vtp": 1, "vts": math.ceil(n / shipped.cfg.stride)}
    assert latent.n_components == components[want.model_type]
    assert latent.has_prior == want.is_nvae
    if want.is_nvae:  # the floor: at least min_kept tokens kept at the sparsest alpha^Delta, and only
        # those once no pseudo-count reaches the threshold
        with torch.no_grad():
            sparsest = encode_text(shipped, SENTENCE, shipped.cfg.nvib.alpha_delta_min if conditional else None)
            shipped.cfg.threshold = 1e9
            bare = encode_text(shipped, SENTENCE)
        assert int(sparsest.n_retained[0]) >= want.nvib.min_kept
        assert int(bare.n_retained[0]) == want.nvib.min_kept
