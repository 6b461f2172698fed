"""`python -m nvae export`: copy a run's checkpoint into a shippable folder, optionally choosing a
loss-conditional model's default alpha^Delta and positional prior on the validation split
(`nvae.cli.choose`) and fitting the aggregate-posterior sampler.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from ..config import alpha_delta_is_input
from ..store.format import LATENT_MAP
from .args import UsageError, check_alpha_delta, emit


def _choose_on_validation(model, reference: str, n: int) -> tuple[float, str]:
    """A loss-conditional model's default alpha^Delta, chosen on the validation split: the sparsest
    slider value at >= 0.95 x the reference model's BLEU that reconstructs the demo sentences."""
    from ..data.corpora import load_sentences
    from ..data.text import encode_texts
    from ..evaluation.measures import SHORT_SENTENCES
    from ..evaluation.metrics import reconstruct
    from ..store.checkpoint import load_checkpoint
    from .choose import choose_default_alpha_delta

    if not alpha_delta_is_input(model.cfg):
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


def _choose_spread_bias(model, n: int) -> str:
    """Set a loss-conditional NVAE's positional prior (`spread_bias`) on the validation split
    (`nvae.cli.choose.choose_spread_bias`); returns the model card's sentence on it."""
    from ..data.corpora import load_sentences
    from ..data.text import encode_texts
    from .choose import choose_spread_bias

    if not alpha_delta_is_input(model.cfg):
        raise UsageError("--choose-spread-bias: only a loss-conditional NVAE has a kept set to tune")
    tc = model.train_cfg
    texts = load_sentences(tc.data, "validation", model.tokenizer, tc.min_tokens, tc.max_tokens)[:n]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    res = choose_spread_bias(model, ids)
    print(json.dumps({"choose_spread_bias": res}), file=sys.stderr)
    if res["spread_bias"] is None:
        raise UsageError("--choose-spread-bias: the model never keeps half its vectors over its range")
    model.cfg.nvib.spread_bias = res["spread_bias"]
    grid = ", ".join(f"{e['spread_bias']:g}: {e['learned']:.1f}" for e in res["evaluated"])
    return (
        f"Positional prior spread_bias {res['spread_bias']:g} chosen on {len(ids)} validation sentences: the "
        f"smallest value within 0.5 BLEU of the best learned choice at half the vectors ({grid})."
    )


def _fit_aggregate(model, dest: Path, n: int) -> None:
    """Fit the aggregate-posterior sampler on `n` training sentences and store it beside the weights."""
    from ..data.corpora import load_sentences
    from ..data.text import encode_texts
    from ..evaluation.sampling import fit_aggregate, save_aggregate

    tc = model.train_cfg
    texts = load_sentences(tc.data, tc.split, model.tokenizer, tc.min_tokens, tc.max_tokens)[:n]
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    stats = fit_aggregate(model, ids)
    path = save_aggregate(dest, stats)
    print(f"fitted the aggregate posterior on {len(ids)} sentences of {tc.data}:{tc.split} -> {path}", file=sys.stderr)


CHOOSERS = {"score": "the pseudo-count score", "segments": "the segmentation of the model's own vectors"}


def cmd_export(args) -> None:
    """Copy a run's checkpoint (without optimizer state) into a shippable folder."""
    from ..model.kept_set import pools_segments
    from ..store.checkpoint import load_checkpoint, save_checkpoint
    from ..store.format import FILE_MODE, METRICS
    from ..store.model_card import run_info, write_model_card

    run = Path(args.run)
    src = run / "checkpoint" if (run / "checkpoint").exists() else run
    dest = Path(args.dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not args.force:
        raise UsageError(f"{dest} already exists: pass --force to replace the checkpoint in it")
    if dest.resolve() == src.resolve():
        raise UsageError(f"{dest} is the checkpoint being exported; choose another destination")
    model = load_checkpoint(src)
    note = args.card_note
    if args.kept_chooser is not None:  # first: every choice below reads the model with its chooser
        if not pools_segments(model.cfg):
            raise UsageError(
                "--kept-chooser: only an NVAE whose kept components stand for segments (kept_pooling "
                "'segment') has a chooser to set"
            )
        if args.kept_chooser != model.cfg.nvib.kept_chooser:
            said = (
                f"Kept set placed by {CHOOSERS[args.kept_chooser]} (set at export; the run read it with "
                f"{CHOOSERS[model.cfg.nvib.kept_chooser]})."
            )
            note = f"{note} {said}".strip()
            model.cfg.nvib.kept_chooser = args.kept_chooser
    if args.choose_spread_bias:  # before alpha^Delta: the prior changes which vectors each value keeps
        note = f"{note} {_choose_spread_bias(model, args.choose_sentences)}".strip()
    if args.choose_alpha_delta:
        if args.alpha_delta is not None:
            raise UsageError("--alpha-delta and --choose-alpha-delta exclude each other")
        args.alpha_delta, why = _choose_on_validation(model, args.choose_alpha_delta, args.choose_sentences)
        note = f"{note} {why}".strip()
    if args.alpha_delta is not None:
        if not alpha_delta_is_input(model.cfg):
            what = (
                f"was trained at alpha_delta={model.cfg.nvib.alpha_delta}"
                if model.cfg.is_nvae
                else f"is a {model.cfg.model_type.upper()} baseline, with no alpha^Delta"
            )
            raise UsageError(
                f"--alpha-delta: {src} {what}; only a loss-conditional model's default can be chosen after training"
            )
        model.cfg.nvib.alpha_delta = check_alpha_delta(model, args.alpha_delta)
    dest = save_checkpoint(dest, model, getattr(model, "train_cfg", None), half=args.half)
    stale_map = dest / LATENT_MAP
    if stale_map.exists():  # it was fitted on the weights this export replaced
        stale_map.unlink()
        print(
            f"note: removed {stale_map} (made for the replaced weights); rebuild it with: nvae map {dest}",
            file=sys.stderr,
        )
    for name in (METRICS, "run.json"):
        if (run / name).exists():
            shutil.copy(run / name, dest / name)
            os.chmod(dest / name, FILE_MODE)
    if args.fit_aggregate and model.cfg.is_nvae:
        _fit_aggregate(model, dest, args.fit_aggregate)
    card = write_model_card(dest, None, [], run_info(dest), note)
    os.chmod(card, FILE_MODE)
    ad = {"alpha_delta": model.cfg.nvib.alpha_delta} if model.cfg.is_nvae else {}  # a baseline has none
    emit({"exported": str(dest), "half": args.half, **ad, "model_card": str(card)})
