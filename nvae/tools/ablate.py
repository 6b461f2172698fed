"""The ablation harness: `python -m nvae ablate NAME [--recipe R] [--set key=value ...]`.

Trains a small NVAE for a fixed budget (default 1,500 steps of batch 64, d_model 128) on the
train split, then measures on the validation split (never test) what the latent targets ask:

- the alpha^Delta slider: retained proportion at 26 log-spaced values (monotone? share strictly
  inside (0.1, 0.9)? largest jump between neighbours?);
- BLEU where the model keeps about half its vectors: the learned choice against every second
  position and a random half of the same size, on the same model;
- the rate-distortion curve: the same at retained proportions 0.25, 1/3, 0.5 and 0.75, against the
  nearest stride rule, evenly spaced positions and a random subset (`measures.rate_distortion`);
- BLEU and retained proportion at a few alpha^Delta values, and short sentences reconstructed;
- interpolation strips (distinct sentences, largest BLEU step against decoded A, endpoints);
- prior samples (adjacent repeated words, [UNK]).

The result is printed as JSON and appended to `runs/ablations/results.jsonl`, so that each idea
of docs/experiments.md costs minutes and is one command to rerun. A run folder that already holds
a finished checkpoint is measured again without retraining; an interrupted one resumes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import torch

from ..config import RECIPES, ModelConfig, TrainConfig, alpha_delta_in_range, alpha_delta_is_input, apply_settings
from ..data.corpora import load_sentences
from ..data.text import decode_batch, encode_text, encode_texts
from ..evaluation.endpoints import KEYS as ENDPOINT_KEYS
from ..evaluation.measures import (
    SHORT_SENTENCES,
    interpolation_paths,
    prior_sample_stats,
    prior_weight,
    pruning_comparison,
    rate_distortion,
    retained_curve,
    smoothness,
)
from ..evaluation.metrics import reconstruct
from ..locations import PROJECT_ROOT
from ..model.autoencoder import eval_mode
from ..model.grids import FINE_CURVE_POINTS, alpha_delta_values
from ..store.checkpoint import load_checkpoint

ABLATION_DIR = PROJECT_ROOT / "runs" / "ablations"
# The small model and budget every ablation shares (any of it can be changed with --set).
SMALL = {
    "d_model": 128,
    "n_heads": 4,
    "n_enc_layers": 2,
    "n_dec_layers": 2,
    "d_ff": 512,
    "dropout": 0.1,
    "alpha_delta_conditional": True,
    "alpha_delta_min": 0.01,
    "alpha_delta_max": 1.0,
    "max_steps": 1500,
    "batch_size": 64,
    "lr": 1e-3,
    "warmup_steps": 150,
    "kl_start_step": 200,
    "kl_anneal_steps": 300,
    "eval_every": 500,
    "eval_sentences": 128,
    "checkpoint_every": 250,
    "vocab_size": 8000,
    "seed": 0,
}
MEASURE_ALPHAS = (0.02, 0.05, 0.1, 0.2, 0.5)


def _share(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def configs(recipe: str | None, settings: dict) -> tuple[ModelConfig, TrainConfig]:
    model_cfg, train_cfg = ModelConfig(), TrainConfig()
    apply_settings(model_cfg, train_cfg, SMALL)
    if recipe:
        apply_settings(model_cfg, train_cfg, RECIPES[recipe]["model"])
    apply_settings(model_cfg, train_cfg, settings)
    model_cfg.validate()
    train_cfg.validate()
    return model_cfg, train_cfg


def measure(model, n_sentences: int = 200, pairs: int = 20, samples: int = 40, log=print) -> dict:
    """All the measures of the harness on the first `n_sentences` validation sentences."""
    tc = getattr(model, "train_cfg", None)
    lo, hi = (tc.min_tokens, tc.max_tokens) if tc else (6, 49)
    texts = load_sentences(
        tc.data if tc and not Path(tc.data).is_file() else "wikitext-2", "validation", model.tokenizer, lo, hi
    )[:n_sentences]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    out: dict = {"sentences": len(ids)}
    t0 = time.time()
    if not model.cfg.is_nvae:  # a baseline: its reconstruction, short sentences, interpolation
        return {**out, **measure_baseline(model, ids, pairs, log), "measure_seconds": round(time.time() - t0, 1)}
    curve = retained_curve(model, ids, alpha_delta_values(model.cfg))
    out["slider"] = {
        **smoothness(curve),
        "curve": [round(p["retained_proportion"], 4) for p in curve],
        "alpha_delta": [round(p["alpha_delta"], 5) for p in curve],
    }
    log(f"slider: {out['slider']['share_inside']:.2f} inside, max jump {out['slider']['max_jump']:.3f}")
    out["at"] = {}
    cfg = model.cfg
    alphas = (
        [a for a in MEASURE_ALPHAS if alpha_delta_in_range(cfg, a)]
        if alpha_delta_is_input(cfg)
        else [cfg.nvib.alpha_delta]
    )
    for ad in alphas:
        s = reconstruct(model, ids, alpha_delta=ad).summary()
        out["at"][str(ad)] = {k: s[k] for k in ("bleu", "retained_proportion", "exact_match", "cross_entropy")}
        out["at"][str(ad)]["prior_weight"] = round(prior_weight(model, ids, ad), 4)
    log(f"at: {out['at']}")
    fine = (
        retained_curve(model, ids, alpha_delta_values(model.cfg, FINE_CURVE_POINTS))
        if alpha_delta_is_input(cfg)
        else curve
    )
    out["half"] = pruning_comparison(model, ids, 0.5, curve=fine)
    log(f"half: {out['half']}")
    out["rate_distortion"] = rate_distortion(model, ids, curve=fine)
    log(
        "rate-distortion (BLEU learned / stride / evenly spaced / random): "
        + "; ".join(
            f"{r['target']:.2f}: {r['learned']['bleu']:.1f} / {r['stride']['bleu']:.1f} / "
            f"{r['evenly_spaced']['bleu']:.1f} / {r['random']['bleu']:.1f}"
            for r in out["rate_distortion"]
        )
    )
    log(
        "kept layout (share at even positions / share of gaps equal to the sentence's most common): "
        + "; ".join(
            f"{r['target']:.2f}: {_share(r['learned']['layout']['even_share'])} / "
            f"{_share(r['learned']['layout']['regular_gap_share'])}"
            for r in out["rate_distortion"]
        )
    )
    with eval_mode(model), torch.no_grad():
        short = {}
        for ad in alphas:
            lat = encode_text(model, SHORT_SENTENCES, ad)
            recon = decode_batch(model.tokenizer, model.generate(lat))
            short[str(ad)] = {
                "exact": sum(a.lower() == b for a, b in zip(SHORT_SENTENCES, recon)),
                "retained": round(float(lat.retained_proportion.mean()), 3),
            }
    out["short_exact"] = short
    ad_mid = out["half"].get("alpha_delta")
    # the ablations compare training recipes on the paper's uniform mixing (the table's column)
    interp = interpolation_paths(model, ids, pairs=pairs, steps=11, alpha_delta=ad_mid, mixing="uniform")
    out["interpolation"] = {k: interp[k] for k in ("median_distinct", "median_largest_step", *ENDPOINT_KEYS)}
    out["interpolation"]["alpha_delta"] = ad_mid
    out["interpolation"]["example"] = interp["records"][0]["strip"]
    log(f"interpolation: {out['interpolation']}")
    stats = prior_sample_stats(model, n=samples)
    out["prior"] = {k: stats[k] for k in ("repeat_rate", "unk_rate")}
    out["prior"]["examples"] = stats["samples"][:3]
    log(f"prior: {out['prior']}")
    out["measure_seconds"] = round(time.time() - t0, 1)
    return out


class AblationStopped(RuntimeError):
    """Training stopped before its budget: the run is kept for resuming, and nothing is measured."""


def measure_baseline(model, ids: list[list[int]], pairs: int, log=print) -> dict:
    """The measures that a baseline (T, VT, VTP, VTS: no alpha^Delta, no pruning) has: BLEU and the
    share of vectors kept, the short sentences, and position-wise interpolation."""
    s = reconstruct(model, ids).summary()
    out: dict = {"at": {"fixed": {k: s[k] for k in ("bleu", "retained_proportion", "exact_match", "cross_entropy")}}}
    log(f"at: {out['at']}")
    with eval_mode(model), torch.no_grad():
        recon = decode_batch(model.tokenizer, model.generate(encode_text(model, SHORT_SENTENCES)))
    out["short_exact"] = {"fixed": {"exact": sum(a.lower() == b for a, b in zip(SHORT_SENTENCES, recon))}}
    interp = interpolation_paths(model, ids, pairs=pairs, steps=11, mixing="uniform")
    out["interpolation"] = {k: interp[k] for k in ("median_distinct", "median_largest_step", *ENDPOINT_KEYS)}
    out["interpolation"]["example"] = interp["records"][0]["strip"]
    log(f"interpolation: {out['interpolation']}")
    return out


def ablate(
    name: str,
    recipe: str | None = None,
    settings: dict | None = None,
    n_sentences: int = 200,
    pairs: int = 20,
    threads: int | None = None,
    progress: bool = True,
) -> dict:
    from ..training.loop import train

    if threads:
        torch.set_num_threads(threads)
    settings = dict(settings or {})
    model_cfg, train_cfg = configs(recipe, settings)
    run = ABLATION_DIR / name
    t0 = time.time()
    done = False
    state = run / "checkpoint" / "training_state.json"
    if state.exists():
        done = json.loads(state.read_text()).get("step", 0) >= train_cfg.max_steps
    if not done:
        resume = state.exists()
        train(run, model_cfg, train_cfg, resume=resume, overwrite=not resume, progress=progress)
        step = json.loads(state.read_text()).get("step", 0) if state.exists() else 0
        if step < train_cfg.max_steps:  # stopped (Ctrl-C, SIGTERM): never measure a half-trained model
            raise AblationStopped(
                f"{name} stopped at step {step} of {train_cfg.max_steps}; the same command continues it"
            )
    train_s = time.time() - t0
    model = load_checkpoint(run / "checkpoint")
    with torch.no_grad():
        measured = measure(model, n_sentences, pairs)
    res = {
        "name": name,
        "recipe": recipe,
        "settings": settings,
        "steps": train_cfg.max_steps,
        "train_seconds": round(train_s, 1) if not done else None,
        **measured,
    }
    ABLATION_DIR.mkdir(parents=True, exist_ok=True)
    with open(ABLATION_DIR / "results.jsonl", "a") as f:
        f.write(json.dumps(res) + "\n")
    return res


def summary_line(res: dict) -> str:
    """One row of docs/experiments.md's table from an ablation result."""
    if "slider" not in res:  # a baseline
        at, it = res["at"]["fixed"], res["interpolation"]
        return (
            f"baseline: BLEU {at['bleu']:.1f} at retained {at['retained_proportion']:.2f} | short exact "
            f"{res['short_exact']['fixed']['exact']} | interp distinct {it['median_distinct']}, "
            f"step {it['median_largest_step']:.1f}"
        )
    sl, half, it, pr = res["slider"], res["half"], res["interpolation"], res["prior"]
    learned = half.get("learned", {})
    every, rnd = half.get("every_second", {}), half.get("random", {})
    at = res["at"]
    top = max(at, key=lambda k: float(k)) if at else None
    return (
        f"inside {sl['share_inside']:.2f}, jump {sl['max_jump']:.2f}, mono {sl['monotone']} | "
        f"half@{half.get('alpha_delta') or math.nan:.3g}: learned {learned.get('bleu', math.nan):.1f} / "
        f"every-2nd {every.get('bleu', math.nan):.1f} / random {rnd.get('bleu', math.nan):.1f} | "
        f"BLEU@{top} {at[top]['bleu'] if top else math.nan:.1f} | interp distinct {it['median_distinct']}, "
        f"step {it['median_largest_step']:.1f} | prior rep {pr['repeat_rate']:.3f}"
    )


def main(args) -> None:
    try:
        res = ablate(
            args.name, args.recipe, args.settings, args.sentences, args.pairs, args.threads, progress=not args.quiet
        )
    except AblationStopped as e:
        print(str(e), file=sys.stderr)
        raise SystemExit(130) from None
    print(summary_line(res), file=sys.stderr)
    print(json.dumps(res))
