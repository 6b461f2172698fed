"""Command line: `python -m nvae <train|evaluate|encode|interpolate|sample|export> ...`.

Every command that needs a model defaults `--checkpoint` to the shipped default
(`checkpoints/nvae-default`, or the NVAE_CHECKPOINT environment variable). Bad input gets a
one-line error on stderr and exit status 2, never a traceback. Output is JSON (one object per
line) so studies can pipe it into other tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

from .config import RECIPES as _RECIPES
from .paths import DEFAULT_CHECKPOINT, PROJECT_ROOT, default_checkpoint  # noqa: F401 (re-exported)


RECIPE_NAMES = tuple(_RECIPES)


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


def _emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _load(args):
    import torch

    from .checkpoint import load_checkpoint

    torch.set_grad_enabled(False)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    return load_checkpoint(args.checkpoint, device=device)


def _read_lines(path: str) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    return [line for line in text.splitlines() if line.strip()]


def _texts(args) -> list[str]:
    texts = list(args.text or [])
    if args.file:
        texts += _read_lines(args.file)
    if not texts:
        raise UsageError("no text given: pass sentences as arguments or --file FILE")
    from .text import clean_user_text

    for t in texts:
        if not clean_user_text(t):
            raise UsageError(f"empty text: {t!r} has no visible characters")
    return texts


def _check_alpha_delta(model, value):
    if value is None:
        return None
    if value < 0:
        raise UsageError("--alpha-delta must be >= 0")
    cfg = model.cfg
    if cfg.alpha_delta_conditional and not cfg.alpha_delta_min <= value <= cfg.alpha_delta_max:
        raise UsageError(f"--alpha-delta must lie in [{cfg.alpha_delta_min}, {cfg.alpha_delta_max}], "
                         f"the range this model was trained on")
    if not cfg.alpha_delta_conditional:
        print(f"note: this model was trained at alpha_delta={cfg.alpha_delta}; --alpha-delta only changes "
              f"a loss-conditional model's latent", file=sys.stderr)
    return value


# -- commands -------------------------------------------------------------------------------------


def cmd_encode(args) -> None:
    from .text import tokens_of

    model = _load(args)
    texts = _texts(args)
    ad = _check_alpha_delta(model, args.alpha_delta)
    batch = model.tokenize(texts)
    latent = model.encode(batch, alpha_delta=ad)
    recon = model.decode_text(latent)
    for b, text in enumerate(texts):
        n = int(latent.n_inputs[b])
        tokens = tokens_of(model.tokenizer, batch.src[b, :n].tolist())
        _emit({
            "text": text, "tokens": tokens, "truncated": batch.truncated[b],
            "components": latent.records(b, tokens), "retained": int(latent.n_retained[b]),
            "n_tokens": n, "retained_proportion": round(float(latent.retained_proportion[b]), 4),
            "reconstruction": recon[b],
        })


def cmd_interpolate(args) -> None:
    import torch

    model = _load(args)
    if args.steps < 2 or args.steps > 101:
        raise UsageError("--steps must be between 2 and 101")
    for t in (args.a, args.b):
        _texts(argparse.Namespace(text=[t], file=None))
    batch = model.tokenize([args.a, args.b])
    latent = model.encode(batch)
    a, b = latent.select(0).trim(), latent.select(1).trim()
    taus = torch.linspace(0, 1, args.steps)
    texts = model.decode_text(a.mix(b, taus))
    _emit({"a": args.a, "b": args.b, "truncated": batch.truncated,
           "strip": [{"tau": round(float(t), 4), "text": s} for t, s in zip(taus, texts)]})


def cmd_sample(args) -> None:
    model = _load(args)
    if not 1 <= args.n <= 1000:
        raise UsageError("--n must be between 1 and 1000")
    if not 1 <= args.components <= model.cfg.max_len:
        raise UsageError(f"--components must be between 1 and {model.cfg.max_len}")
    latent = model.sample_prior(args.components, batch_size=args.n, alpha_delta=args.alpha_delta, seed=args.seed)
    texts = model.decode_text(latent, temperature=args.temperature, seed=args.seed)
    for i, t in enumerate(texts):
        _emit({"sample": i, "seed": args.seed, "components": args.components, "text": t})


def cmd_evaluate(args) -> None:
    from .evaluate import evaluate_cli

    evaluate_cli(args)


def _parse_settings(items: list[str] | None) -> dict:
    """--set key=value items as a dict (values read as JSON where they parse, else as strings)."""
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--set takes key=value, got {item!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return settings


def cmd_train(args) -> None:
    from .config import RECIPES, ConfigError, ModelConfig, TrainConfig, apply_settings, load_configs
    from .train import train

    model_cfg, train_cfg = ModelConfig(), TrainConfig()
    if args.config:
        try:
            model_cfg, train_cfg = load_configs(args.config)
        except OSError as e:
            raise UsageError(f"cannot read {args.config}: {e.strerror or e}") from None
    try:
        if args.recipe:
            apply_settings(model_cfg, train_cfg, RECIPES[args.recipe])
        if args.model_type:
            model_cfg.model_type = args.model_type
        apply_settings(model_cfg, train_cfg, _parse_settings(args.set))
    except ConfigError as e:
        raise UsageError(str(e)) from None
    model_cfg.validate()
    train_cfg.validate()
    train(args.out, model_cfg, train_cfg, resume=args.resume, device=args.device, progress=not args.quiet)


def cmd_ablate(args) -> None:
    from .ablate import main

    args.settings = _parse_settings(args.set)
    main(args)


def cmd_export(args) -> None:
    """Copy a run's checkpoint (without optimizer state) into a shippable folder."""
    from .checkpoint import load_checkpoint, save_checkpoint

    run = Path(args.run)
    src = run / "checkpoint" if (run / "checkpoint").exists() else run
    model = load_checkpoint(src)
    if args.alpha_delta is not None:
        if not model.cfg.alpha_delta_conditional:
            raise UsageError(f"--alpha-delta: {src} was trained at alpha_delta={model.cfg.alpha_delta}; only a "
                             "loss-conditional model's default can be chosen after training")
        model.cfg.alpha_delta = _check_alpha_delta(model, args.alpha_delta)
    dest = save_checkpoint(args.dest, model, getattr(model, "train_cfg", None), half=args.half)
    for name in ("metrics.jsonl", "run.json"):
        if (run / name).exists():
            shutil.copy(run / name, dest / name)
    _emit({"exported": str(dest), "half": args.half, "alpha_delta": model.cfg.alpha_delta})


# -- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nvae", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def with_model(sp):
        sp.add_argument("--checkpoint", default=str(default_checkpoint()),
                        help="checkpoint folder (default: the shipped nvae-default)")
        sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
        return sp

    sp = with_model(sub.add_parser("encode", help="latent components of sentences, as JSON lines"))
    sp.add_argument("text", nargs="*")
    sp.add_argument("--file", help="one sentence per line")
    sp.add_argument("--alpha-delta", type=float, default=None, help="conditional prior (loss-conditional models)")
    sp.set_defaults(func=cmd_encode)

    sp = with_model(sub.add_parser("interpolate", help="decode the mixture (1-tau) F_A + tau F_B"))
    sp.add_argument("a")
    sp.add_argument("b")
    sp.add_argument("--steps", type=int, default=11)
    sp.set_defaults(func=cmd_interpolate)

    sp = with_model(sub.add_parser("sample", help="sentences decoded from the prior"))
    sp.add_argument("--n", type=int, default=5)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--components", type=int, default=10, help="number of prior components (besides one)")
    sp.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    sp.add_argument("--alpha-delta", type=float, default=None)
    sp.set_defaults(func=cmd_sample)

    sp = with_model(sub.add_parser("evaluate", help="BLEU, cross-entropy, retained proportion (+ paper figures)"))
    sp.add_argument("--data", help="a plain-text file, one sentence per line (default: the test split)")
    sp.add_argument("--split", default="test")
    sp.add_argument("--corpus", default="wikitext-2", help="wikitext-2 or wiki-mix (the repository's data/), a hub name")
    sp.add_argument("--limit", type=int, default=None, help="evaluate the first N sentences only")
    sp.add_argument("--alpha-delta", type=float, default=None)
    sp.add_argument("--batch-size", type=int, default=64)
    sp.add_argument("--report", action="store_true",
                    help="run the paper's experiments and write docs/results.md with figures")
    sp.add_argument("--baselines", nargs="*", default=None,
                    help="baseline checkpoints for the report (default: checkpoints/baseline-*)")
    sp.add_argument("--fixed", nargs="*", default=None,
                    help="NVAEs trained at one fixed alpha^Delta, to compare the loss-conditional model with "
                         "(default: checkpoints/nvae-ad*)")
    sp.add_argument("--out", default=str(PROJECT_ROOT / "docs"), help="report folder")
    sp.add_argument("--pairs", type=int, default=100, help="sentence pairs of the interpolation study")
    sp.add_argument("--model-card", action="store_true",
                    help="write MODEL_CARD.md into the checkpoint folder from this evaluation")
    sp.add_argument("--card-note", default="", help="a free-text note for the model card")
    sp.add_argument("--no-cache", action="store_true",
                    help="recompute every reconstruction instead of reusing a stored one (results are "
                         "stored by model fingerprint, sentences and alpha^Delta)")
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("train", help="train a model (resumable; runs under torchrun)")
    sp.add_argument("--out", required=True, help="run folder (checkpoint/, metrics.jsonl, tokenizer.json)")
    sp.add_argument("--config", help="config.json with {'model': {...}, 'train': {...}}")
    sp.add_argument("--model-type", choices=["nvae", "t", "vt", "vtp", "vts"])
    sp.add_argument("--recipe", choices=sorted(RECIPE_NAMES), help="a named set of latent settings (applied before --set)")
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or train setting")
    sp.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint")
    sp.add_argument("--device", default=None)
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("ablate", help="train a small model for a fixed budget and print the latent's measures")
    sp.add_argument("name", help="run folder under runs/ablations/ (an existing finished run is only re-measured)")
    sp.add_argument("--recipe", choices=sorted(RECIPE_NAMES))
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or train setting")
    sp.add_argument("--sentences", type=int, default=200, help="validation sentences to measure on")
    sp.add_argument("--pairs", type=int, default=20, help="interpolation pairs")
    sp.add_argument("--threads", type=int, default=None, help="torch threads")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_ablate)

    sp = sub.add_parser("export", help="copy a run's checkpoint for shipping (optionally half precision)")
    sp.add_argument("run")
    sp.add_argument("dest")
    sp.add_argument("--half", action="store_true", help="store the weights in float16")
    sp.add_argument("--alpha-delta", type=float, default=None,
                    help="a loss-conditional model's default alpha^Delta (where the app's slider and the CLI "
                         "start), within its training range")
    sp.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .config import ConfigError

    try:
        args.func(args)
    except (UsageError, CheckpointError, ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return 0
