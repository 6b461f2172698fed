"""Command line: `python -m nvae <train|evaluate|encode|interpolate|sample|export> ...`.

Every command that needs a model defaults `--checkpoint` to the shipped default
(`checkpoints/nvae-default`, or the NVAE_CHECKPOINT environment variable). Bad input gets a
one-line error on stderr and exit status 2, never a traceback. Output is JSON (one object per
line) so studies can pipe it into other tools.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

from .config import RECIPES as _RECIPES
from .paths import DEFAULT_CHECKPOINT, PROJECT_ROOT, default_checkpoint  # noqa: F401 (re-exported)

RECIPE_NAMES = tuple(_RECIPES)
TRAINING_COMMANDS = ("train", "ablate", "lm")  # the commands that need autograd


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


# -- the shared validators: every option's value is checked by one of these, at parse time --------


def number(lo: float | None = None, hi: float | None = None, integer: bool = False, what: str = "a number"):
    """An argparse `type`: a finite number (an integer if asked) within [lo, hi]."""

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f">= {lo}" if hi is None else f"between {lo} and {hi}" if lo is not None else f"<= {hi}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {text!r}")
        return value

    parse.__name__ = "integer" if integer else "number"
    return parse


ALPHA_DELTA = number(0.0, 100.0, what="alpha^Delta, a number >= 0")
NON_NEGATIVE = number(0.0)
COUNT = number(1, integer=True, what="an integer")
SEED = number(0, 2**63 - 1, integer=True, what="an integer")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2 (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def _emit(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _load(args):
    import torch

    from .checkpoint import load_checkpoint

    device = check_device(args.device) or ("cuda" if torch.cuda.is_available() else "cpu")
    return load_checkpoint(args.checkpoint, device=device)


def check_device(device: str | None) -> str | None:
    """A --device value this machine can use (None stays None), or a UsageError."""
    if device is None:
        return None
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device: unknown device {device!r} (use cpu, cuda or cuda:N)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(
                f"--device {device}: CUDA is not available here (this torch build or machine has no "
                f"GPU); use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {device}: only {torch.cuda.device_count()} GPU(s) here")
    elif dev.type != "cpu":
        raise UsageError(f"--device: {device!r} is not supported (use cpu or cuda)")
    return device


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
        raise UsageError(
            f"--alpha-delta must lie in [{cfg.alpha_delta_min}, {cfg.alpha_delta_max}], "
            f"the range this model was trained on"
        )
    if not cfg.alpha_delta_conditional:
        print(
            f"note: this model was trained at alpha_delta={cfg.alpha_delta}; --alpha-delta only changes "
            f"a loss-conditional model's latent",
            file=sys.stderr,
        )
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
        _emit(
            {
                "text": text,
                "tokens": tokens,
                "truncated": batch.truncated[b],
                "components": latent.records(b, tokens),
                "retained": int(latent.n_retained[b]),
                "n_tokens": n,
                "retained_proportion": round(float(latent.retained_proportion[b]), 4),
                "reconstruction": recon[b],
            }
        )


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
    _emit(
        {
            "a": args.a,
            "b": args.b,
            "truncated": batch.truncated,
            "strip": [{"tau": round(float(t), 4), "text": s} for t, s in zip(taus, texts)],
        }
    )


def cmd_sample(args) -> None:
    model = _load(args)
    if model.cfg.model_type != "nvae":
        raise UsageError(
            f"{args.checkpoint} is a {model.cfg.model_type.upper()} baseline: prior samples are "
            "defined for an NVAE only"
        )
    _check_alpha_delta(model, args.alpha_delta)
    if not 1 <= args.components <= model.cfg.max_len:
        raise UsageError(f"--components must be between 1 and {model.cfg.max_len}")
    from .sampling import draw

    source = args.source
    if source == "auto":
        source = "aggregate" if getattr(model, "aggregate", None) is not None else "prior"
    try:
        latent = draw(model, source, args.components, batch_size=args.n, alpha_delta=args.alpha_delta, seed=args.seed)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    texts = model.decode_text(latent, temperature=args.temperature, seed=args.seed)
    for i, t in enumerate(texts):
        _emit({"sample": i, "seed": args.seed, "components": args.components, "source": source, "text": t})


def _evaluation_ids(model, args) -> tuple[list[list[int]], int]:
    """Token ids of the sentences `evaluate` reads (a file, or a corpus split) and how many were truncated."""
    from .data import load_sentences
    from .text import encode_texts

    if args.data:
        texts = _read_lines(args.data)
        if not texts:
            raise UsageError(f"{args.data}: no non-empty lines")
    else:
        tc = getattr(model, "train_cfg", None)
        lo, hi = (tc.min_tokens, tc.max_tokens) if tc else (6, 49)
        texts = load_sentences(args.corpus, args.split, model.tokenizer, lo, hi)
    if args.limit:
        texts = texts[: args.limit]
    ids, flags = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    kept = [(s, f) for s, f in zip(ids, flags) if s]
    if not kept:
        raise UsageError("no sentence with any token to evaluate")
    return [s for s, _ in kept], sum(int(f) for _, f in kept)


def cmd_evaluate(args) -> None:
    import time

    from .evaluate import alpha_delta_sweep, cached_reconstruct
    from .model_card import run_info, write_model_card
    from .report import ReportSpec, report

    model = _load(args)
    ad = _check_alpha_delta(model, args.alpha_delta)
    ids, truncated = _evaluation_ids(model, args)
    cache = not args.no_cache
    t0 = time.time()
    res = cached_reconstruct(model, ids, alpha_delta=ad, batch_size=args.batch_size, progress=True, use_cache=cache)
    summary = {
        "checkpoint": str(args.checkpoint),
        "data": args.data or f"{args.corpus}:{args.split}",
        "model_type": model.cfg.model_type,
        "alpha_delta": ad if ad is not None else model.cfg.alpha_delta,
        **res.summary(),
        "truncated": truncated,
        "seconds": round(time.time() - t0, 2),
    }
    if args.report:
        spec = ReportSpec(
            checkpoint=args.checkpoint,
            out=args.out,
            pairs=args.pairs,
            baselines=args.baselines,
            fixed=args.fixed,
            lm=args.lm,
            limit=args.limit,
            use_cache=cache,
        )
        report(model, ids, spec)
    if args.model_card:
        sweep = alpha_delta_sweep(model, ids, use_cache=cache)
        ckpt = Path(args.checkpoint)
        print(f"wrote {write_model_card(ckpt, res.summary(), sweep, run_info(ckpt), args.card_note)}", file=sys.stderr)
    _emit(summary)


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
    from .train import RunExists, train

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
    check_device(args.device)
    if args.resume and args.overwrite:
        raise UsageError("--resume and --overwrite exclude each other")
    try:
        train(
            args.out,
            model_cfg,
            train_cfg,
            resume=args.resume,
            device=args.device,
            progress=not args.quiet,
            overwrite=args.overwrite,
        )
    except RunExists as e:
        raise UsageError(str(e)) from None


def cmd_study(args) -> None:
    from .data import load_sentences
    from .study import MAX_SENTENCES, corpus_study

    model = _load(args)
    if model.cfg.model_type != "nvae":
        raise UsageError(
            f"{args.checkpoint} is a {model.cfg.model_type.upper()} baseline: a sparsity study needs an NVAE"
        )
    ad = _check_alpha_delta(model, args.alpha_delta)
    texts = _read_lines(args.file)
    if not texts:
        raise UsageError(f"{args.file}: no non-empty lines")
    if len(texts) > MAX_SENTENCES:
        print(f"note: {args.file} has {len(texts)} lines; the study reads the first {MAX_SENTENCES}", file=sys.stderr)
    tc = getattr(model, "train_cfg", None)
    reference = load_sentences(tc.data, tc.split)[:20000] if tc and not Path(tc.data).is_file() else None
    res = corpus_study(model, texts, ad, reference_texts=reference)
    res = {"checkpoint": str(args.checkpoint), "file": args.file, **res}
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    _emit(res)


def cmd_lm(args) -> None:
    from .lm import load_lm, train_lm

    if args.action == "train":
        out = Path(args.out)
        if (out / "lm.safetensors").exists() and not args.force:
            raise UsageError(f"{out} already holds a language model: pass --force to replace it")
        lm = train_lm(out, data=args.data, steps=args.steps, seed=args.seed, progress=not args.quiet)
        _emit({"lm": str(out), **lm.info})
    else:
        texts = _texts(args)
        lm = load_lm(args.out)
        _emit({"lm": args.out, "texts": len(texts), "perplexity": round(lm.perplexity(texts), 4)})


def cmd_ablate(args) -> None:
    from .ablate import main

    args.settings = _parse_settings(args.set)
    main(args)


def _choose_on_validation(model, reference: str, n: int) -> tuple[float, str]:
    """A loss-conditional model's default alpha^Delta, chosen on the validation split: the sparsest
    slider value at >= 0.95 x the reference model's BLEU that reconstructs the demo sentences."""
    from .checkpoint import load_checkpoint
    from .data import load_sentences
    from .experiments import SHORT_SENTENCES, choose_default_alpha_delta
    from .metrics import reconstruct
    from .text import encode_texts

    if not model.cfg.alpha_delta_conditional:
        raise UsageError("--choose-alpha-delta: the model was trained at one alpha^Delta; there is nothing to choose")
    ref = load_checkpoint(reference)
    tc = model.train_cfg
    texts = load_sentences(tc.data, "validation", model.tokenizer, tc.min_tokens, tc.max_tokens)[:n]
    ref_ids, _ = encode_texts(ref.tokenizer, texts, ref.cfg.max_len - 1)
    ref_bleu = reconstruct(ref, ref_ids).summary()["bleu"]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    res = choose_default_alpha_delta(model, ids, ref_bleu, must_reconstruct=SHORT_SENTENCES)
    print(json.dumps({"choose_alpha_delta": res}), file=sys.stderr)
    if res["alpha_delta"] is None:
        raise UsageError(
            f"no alpha^Delta in the model's range reaches 0.95 x {reference}'s validation BLEU "
            f"({ref_bleu:.2f}) with the demo sentences exact"
        )
    best = next(e for e in res["evaluated"] if e["alpha_delta"] == res["alpha_delta"])
    why = (
        f"Default alpha^Delta {res['alpha_delta']:.4g} chosen on {len(ids)} validation sentences: the sparsest of "
        f"the slider's values with BLEU >= 0.95 x {Path(reference).name} ({best['bleu']:.2f} against "
        f"{ref_bleu:.2f}, retained {best['retained_proportion']:.3f}) that reconstructs the "
        f"{len(SHORT_SENTENCES)} demo sentences exactly."
    )
    return round(res["alpha_delta"], 5), why


def _fit_aggregate(model, dest: Path, n: int) -> None:
    """Fit the aggregate-posterior sampler on `n` training sentences and store it beside the weights."""
    from .data import load_sentences
    from .sampling import fit_aggregate, save_aggregate
    from .text import encode_texts

    tc = model.train_cfg
    texts = load_sentences(tc.data, tc.split, model.tokenizer, tc.min_tokens, tc.max_tokens)[:n]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    stats = fit_aggregate(model, ids)
    path = save_aggregate(dest, stats)
    print(f"fitted the aggregate posterior on {len(ids)} sentences of {tc.data}:{tc.split} -> {path}", file=sys.stderr)


def cmd_export(args) -> None:
    """Copy a run's checkpoint (without optimizer state) into a shippable folder."""
    from .checkpoint import FILE_MODE, load_checkpoint, save_checkpoint
    from .model_card import run_info, write_model_card

    run = Path(args.run)
    src = run / "checkpoint" if (run / "checkpoint").exists() else run
    dest = Path(args.dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not args.force:
        raise UsageError(f"{dest} already exists: pass --force to replace the checkpoint in it")
    if dest.resolve() == src.resolve():
        raise UsageError(f"{dest} is the checkpoint being exported; choose another destination")
    model = load_checkpoint(src)
    note = args.card_note
    if args.choose_alpha_delta:
        if args.alpha_delta is not None:
            raise UsageError("--alpha-delta and --choose-alpha-delta exclude each other")
        args.alpha_delta, why = _choose_on_validation(model, args.choose_alpha_delta, args.choose_sentences)
        note = f"{note} {why}".strip()
    if args.alpha_delta is not None:
        if not model.cfg.alpha_delta_conditional:
            raise UsageError(
                f"--alpha-delta: {src} was trained at alpha_delta={model.cfg.alpha_delta}; only a "
                "loss-conditional model's default can be chosen after training"
            )
        model.cfg.alpha_delta = _check_alpha_delta(model, args.alpha_delta)
    dest = save_checkpoint(dest, model, getattr(model, "train_cfg", None), half=args.half)
    for name in ("metrics.jsonl", "run.json"):
        if (run / name).exists():
            shutil.copy(run / name, dest / name)
            os.chmod(dest / name, FILE_MODE)
    if args.fit_aggregate and model.cfg.model_type == "nvae":
        _fit_aggregate(model, dest, args.fit_aggregate)
    card = write_model_card(dest, None, [], run_info(dest), note)
    os.chmod(card, FILE_MODE)
    _emit({"exported": str(dest), "half": args.half, "alpha_delta": model.cfg.alpha_delta, "model_card": str(card)})


# -- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nvae", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def with_model(sp):
        sp.add_argument(
            "--checkpoint",
            default=str(default_checkpoint()),
            help="checkpoint folder (default: the shipped nvae-default)",
        )
        sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
        return sp

    sp = with_model(sub.add_parser("encode", help="latent components of sentences, as JSON lines"))
    sp.add_argument("text", nargs="*")
    sp.add_argument("--file", help="one sentence per line")
    sp.add_argument("--alpha-delta", type=ALPHA_DELTA, default=None, help="conditional prior (loss-conditional models)")
    sp.set_defaults(func=cmd_encode)

    sp = with_model(sub.add_parser("interpolate", help="decode the mixture (1-tau) F_A + tau F_B"))
    sp.add_argument("a")
    sp.add_argument("b")
    sp.add_argument("--steps", type=number(2, 101, integer=True, what="an integer"), default=11)
    sp.set_defaults(func=cmd_interpolate)

    sp = with_model(sub.add_parser("sample", help="sentences decoded from the prior"))
    sp.add_argument("--n", type=number(1, 1000, integer=True, what="an integer"), default=5)
    sp.add_argument("--seed", type=SEED, default=0)
    sp.add_argument("--components", type=COUNT, default=10, help="number of prior components (besides one)")
    sp.add_argument("--temperature", type=number(0.0, 10.0), default=0.0, help="0 = greedy")
    sp.add_argument("--alpha-delta", type=ALPHA_DELTA, default=None)
    sp.add_argument(
        "--source",
        choices=["auto", "prior", "aggregate"],
        default="auto",
        help="prior: z ~ N(0, I), as the paper; aggregate: a Gaussian fitted to the training latents "
        "(export --fit-aggregate); auto (default): aggregate when the checkpoint has the fit. "
        "Each line names its source",
    )
    sp.set_defaults(func=cmd_sample)

    sp = with_model(sub.add_parser("evaluate", help="BLEU, cross-entropy, retained proportion (+ paper figures)"))
    sp.add_argument("--data", help="a plain-text file, one sentence per line (default: the test split)")
    sp.add_argument("--split", default="test", choices=["train", "validation", "test"])
    sp.add_argument(
        "--corpus", default="wikitext-2", help="wikitext-2 or wiki-mix (the repository's data/), a hub name"
    )
    sp.add_argument("--limit", type=COUNT, default=None, help="evaluate the first N sentences only")
    sp.add_argument("--alpha-delta", type=ALPHA_DELTA, default=None)
    sp.add_argument("--batch-size", type=number(1, 4096, integer=True, what="an integer"), default=64)
    sp.add_argument(
        "--report", action="store_true", help="run the paper's experiments and write docs/results.md with figures"
    )
    sp.add_argument(
        "--baselines",
        nargs="*",
        default=None,
        help="baseline checkpoints for the report (default: checkpoints/baseline-*)",
    )
    sp.add_argument(
        "--fixed",
        nargs="*",
        default=None,
        help="NVAEs trained at one fixed alpha^Delta, to compare the loss-conditional model with "
        "(default: checkpoints/nvae-ad*)",
    )
    sp.add_argument("--out", default=str(PROJECT_ROOT / "docs"), help="report folder")
    sp.add_argument(
        "--lm",
        default=None,
        help="the fluency LM's folder for the report's targets (nvae lm train); without it, fluency is not measured",
    )
    sp.add_argument(
        "--pairs",
        type=number(1, 10000, integer=True, what="an integer"),
        default=100,
        help="sentence pairs of the interpolation study",
    )
    sp.add_argument(
        "--model-card", action="store_true", help="write MODEL_CARD.md into the checkpoint folder from this evaluation"
    )
    sp.add_argument("--card-note", default="", help="a free-text note for the model card")
    sp.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute every reconstruction instead of reusing a stored one (results are "
        "stored by model fingerprint, sentences and alpha^Delta)",
    )
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("train", help="train a model (resumable; runs under torchrun)")
    sp.add_argument("--out", required=True, help="run folder (checkpoint/, metrics.jsonl, tokenizer.json)")
    sp.add_argument("--config", help="config.json with {'model': {...}, 'train': {...}}")
    sp.add_argument("--model-type", choices=["nvae", "t", "vt", "vtp", "vts"])
    sp.add_argument(
        "--recipe", choices=sorted(RECIPE_NAMES), help="a named set of latent settings (applied before --set)"
    )
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or train setting")
    sp.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint")
    sp.add_argument("--overwrite", action="store_true", help="delete the run already in --out and start again")
    sp.add_argument("--device", default=None)
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("ablate", help="train a small model for a fixed budget and print the latent's measures")
    sp.add_argument("name", help="run folder under runs/ablations/ (an existing finished run is only re-measured)")
    sp.add_argument("--recipe", choices=sorted(RECIPE_NAMES))
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or train setting")
    sp.add_argument(
        "--sentences",
        type=number(2, 100000, integer=True, what="an integer"),
        default=200,
        help="validation sentences to measure on",
    )
    sp.add_argument("--pairs", type=COUNT, default=20, help="interpolation pairs")
    sp.add_argument(
        "--threads", type=number(1, 256, integer=True, what="an integer"), default=None, help="torch threads"
    )
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_ablate)

    sp = with_model(sub.add_parser("study", help="a sparsity study of a corpus file (one sentence per line), as JSON"))
    sp.add_argument("file")
    sp.add_argument("--alpha-delta", type=ALPHA_DELTA, default=None)
    sp.add_argument("--out", default=None, help="also write the JSON to this file")
    sp.set_defaults(func=cmd_study)

    sp = sub.add_parser("lm", help="the fluency language model: train it, or score sentences with it")
    sp.add_argument("action", choices=["train", "score"])
    sp.add_argument("text", nargs="*", help="sentences to score")
    sp.add_argument("--out", default=str(PROJECT_ROOT / "checkpoints" / "lm-wiki-mix"), help="the model's folder")
    sp.add_argument("--file", help="sentences to score, one per line")
    sp.add_argument("--data", default="wiki-mix", help="corpus whose train split it learns")
    sp.add_argument("--steps", type=COUNT, default=3000)
    sp.add_argument("--seed", type=SEED, default=0)
    sp.add_argument("--force", action="store_true", help="replace a trained model in --out")
    sp.add_argument("--quiet", action="store_true")
    sp.set_defaults(func=cmd_lm)

    sp = sub.add_parser("export", help="copy a run's checkpoint for shipping (optionally half precision)")
    sp.add_argument("run")
    sp.add_argument("dest")
    sp.add_argument("--half", action="store_true", help="store the weights in float16")
    sp.add_argument("--force", action="store_true", help="replace a checkpoint already in DEST")
    sp.add_argument(
        "--card-note",
        default="",
        help="a free-text note for the model card (for example how the default alpha^Delta was chosen)",
    )
    sp.add_argument(
        "--alpha-delta",
        type=ALPHA_DELTA,
        default=None,
        help="a loss-conditional model's default alpha^Delta (where the app's slider and the CLI "
        "start), within its training range",
    )
    sp.add_argument(
        "--choose-alpha-delta",
        metavar="REFERENCE",
        default=None,
        help="choose a loss-conditional model's default alpha^Delta on the validation split: the sparsest "
        "slider value with BLEU >= 0.95 x the REFERENCE checkpoint's (for example the T baseline) "
        "that reconstructs the demo sentences exactly",
    )
    sp.add_argument(
        "--fit-aggregate",
        type=COUNT,
        nargs="?",
        const=2000,
        default=None,
        metavar="N",
        help="fit the aggregate-posterior sampler (sample --source aggregate) on N training sentences (default 2000)",
    )
    sp.add_argument("--choose-sentences", type=COUNT, default=500, help="validation sentences for --choose-alpha-delta")
    sp.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .checkpoint import CheckpointError
    from .config import ConfigError

    try:
        if args.command in TRAINING_COMMANDS:
            args.func(args)
        else:  # inference only: no autograd graph (scoped, so a caller's grad mode is left as it was)
            import torch

            with torch.no_grad():
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


def entry_point() -> None:
    """The `nvae` console command (pyproject.toml): the same as `python -m nvae`."""
    sys.exit(main())
