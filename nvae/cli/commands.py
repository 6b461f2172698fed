"""The commands of `python -m nvae` that read or train models: encode, interpolate, sample,
evaluate, study, lm, train and ablate (export is in nvae.cli.export, the parser in nvae.cli.main).

Each `cmd_NAME(args)` takes the parsed arguments; bad input raises `UsageError` (nvae.cli.args).
Output is JSON, one object per line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from ..config import alpha_delta_is_input
from ..locations import DEFAULT_CHECKPOINT
from .args import UsageError, check_alpha_delta, check_device, emit


def _load(args):
    import torch

    from ..store.checkpoint import load_checkpoint

    device = check_device(args.device) or ("cuda" if torch.cuda.is_available() else "cpu")
    if not Path(args.checkpoint).exists() and Path(args.checkpoint) == DEFAULT_CHECKPOINT:
        raise UsageError(
            f"no model at {args.checkpoint} (the shipped default, which a clone of the repository carries): "
            "pass --checkpoint DIR or set NVAE_CHECKPOINT"
        )
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
    from ..data.text import clean_user_text

    for t in texts:
        if not clean_user_text(t):
            raise UsageError(f"empty text: {t!r} has no visible characters")
    return texts


def cmd_encode(args) -> None:
    from ..data.text import decode_batch, encode_batch, tokens_of
    from ..model.kept_set import pools_segments
    from ..readout.sentence import kept_set_rule, prior_only_notice, segment_spans

    model = _load(args)
    texts = _texts(args)
    ad = check_alpha_delta(model, args.alpha_delta)
    if args.prior is not None and not model.cfg.is_nvae:
        raise UsageError(f"--prior: a {model.cfg.model_type.upper()} baseline has no positional prior")
    # "who chooses" for the strength this call used (the checkpoint's own when --prior is not given)
    shown_cfg = (
        model.cfg
        if args.prior is None
        else dataclasses.replace(model.cfg, nvib=dataclasses.replace(model.cfg.nvib, spread_bias=args.prior))
    )
    batch = encode_batch(model.tokenizer, texts, model.cfg.max_len, model.device)
    latent = model.encode(batch.src, batch.pad_mask, ad, args.prior).latent
    recon = decode_batch(model.tokenizer, model.generate(latent))
    for b, text in enumerate(texts):
        n = int(latent.n_inputs[b])
        tokens = tokens_of(model.tokenizer, batch.src[b, :n].tolist())
        notice = prior_only_notice(model, int(latent.n_retained[b]), n, text=text)
        rows = [dataclasses.asdict(row) for row in latent.records(b, tokens)]
        pooled = pools_segments(model.cfg)  # a kept component stands for a segment
        emit(
            {
                "text": text,
                "tokens": tokens,
                "truncated": batch.truncated[b],
                "components": rows,
                **({"segments": segment_spans(rows)} if pooled else {}),
                "retained": int(latent.n_retained[b]),
                "n_tokens": n,
                "retained_proportion": round(float(latent.retained_proportion[b]), 4),
                "reconstruction": recon[b],
                "kept_by": kept_set_rule(shown_cfg),
                **({"prior": args.prior} if args.prior is not None else {}),
                **({"notices": [notice]} if notice else {}),  # the key and shape `interpolate` uses
            }
        )


def cmd_interpolate(args) -> None:
    import torch

    from ..data.text import decode_batch, encode_batch
    from ..readout.sentence import prior_only_notice

    model = _load(args)
    if args.steps < 2 or args.steps > 101:
        raise UsageError("--steps must be between 2 and 101")
    for t in (args.a, args.b):
        _texts(argparse.Namespace(text=[t], file=None))
    batch = encode_batch(model.tokenizer, [args.a, args.b], model.cfg.max_len, model.device)
    latent = model.encode(batch.src, batch.pad_mask).latent
    a, b = latent.select(0).trim(), latent.select(1).trim()
    taus = torch.linspace(0, 1, args.steps)
    texts = decode_batch(model.tokenizer, model.generate(a.mix(b, taus, args.mixing)))
    notices = [
        prior_only_notice(model, int(latent.n_retained[k]), int(latent.n_inputs[k]), f"Sentence {name}", text)
        for k, (name, text) in enumerate(zip("AB", (args.a, args.b)))
    ]
    notices = [n for n in notices if n]
    emit(
        {
            "a": args.a,
            "b": args.b,
            "mixing": args.mixing,
            "truncated": batch.truncated,
            "strip": [{"tau": round(float(t), 4), "text": s} for t, s in zip(taus, texts)],
            **({"notices": notices} if notices else {}),
        }
    )


def cmd_sample(args) -> None:
    model = _load(args)
    if not model.cfg.is_nvae:
        raise UsageError(
            f"{args.checkpoint} is a {model.cfg.model_type.upper()} baseline: prior samples are "
            "defined for an NVAE only"
        )
    check_alpha_delta(model, args.alpha_delta)
    if not 1 <= args.components <= model.cfg.max_len:
        raise UsageError(f"--components must be between 1 and {model.cfg.max_len}")
    from ..data.text import decode_batch
    from ..evaluation.sampling import default_source, draw

    source = default_source(model) if args.source == "auto" else args.source
    try:
        latent = draw(model, source, args.components, batch_size=args.n, alpha_delta=args.alpha_delta, seed=args.seed)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    texts = decode_batch(model.tokenizer, model.generate(latent, temperature=args.temperature, seed=args.seed))
    for i, t in enumerate(texts):
        emit({"sample": i, "seed": args.seed, "components": args.components, "source": source, "text": t})


def _evaluation_ids(model, args) -> tuple[list[list[int]], int]:
    """Token ids of the sentences `evaluate` reads (a file, or a corpus split) and how many were truncated."""
    from ..data.corpora import load_sentences
    from ..data.text import encode_texts

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

    from ..evaluation.evaluate import alpha_delta_sweep, cached_reconstruct
    from ..evaluation.report import ReportSpec, report
    from ..store.model_card import run_info, write_model_card

    model = _load(args)
    if args.targets and not model.cfg.is_nvae:
        raise UsageError(f"--targets measures an NVAE's latent; {args.checkpoint} is a {model.cfg.model_type.upper()}")
    if args.rate_distortion and not alpha_delta_is_input(model.cfg):
        raise UsageError("--rate-distortion needs a loss-conditional NVAE (its alpha^Delta sets how many it keeps)")
    ad = check_alpha_delta(model, args.alpha_delta)
    ids, truncated = _evaluation_ids(model, args)
    cache = not args.no_cache
    t0 = time.time()
    res = cached_reconstruct(model, ids, alpha_delta=ad, batch_size=args.batch_size, progress=True, use_cache=cache)
    summary = {
        "checkpoint": str(args.checkpoint),
        "data": args.data or f"{args.corpus}:{args.split}",
        "model_type": model.cfg.model_type,
        "alpha_delta": (ad if ad is not None else model.cfg.nvib.alpha_delta) if model.cfg.is_nvae else None,
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
            compare=args.compare,
            lm=args.lm,
            limit=args.limit,
            use_cache=cache,
            data=args.data,
            corpus=args.corpus,
            split=args.split,
        )
        report(model, ids, spec)
    if args.targets:
        summary["targets"] = _targets(model, ids, ad, args)
    if args.rate_distortion:
        from ..evaluation.measures import rate_distortion

        summary["rate_distortion"] = rate_distortion(model, ids)
    if args.model_card:
        sweep = alpha_delta_sweep(model, ids, use_cache=cache)
        ckpt = Path(args.checkpoint)
        print(f"wrote {write_model_card(ckpt, res.summary(), sweep, run_info(ckpt), args.card_note)}", file=sys.stderr)
    emit(summary)


def _targets(model, ids: list[list[int]], alpha_delta: float | None, args) -> dict:
    """The latent's targets (`nvae.evaluation.targets.measure_targets`) on `ids`, the NVAE read at
    `alpha_delta` (its default when None); T, VTS and VT only where --baselines names them."""
    from ..data.text import decode_ids
    from ..evaluation.lm import load_lm
    from ..evaluation.targets import measure_targets
    from ..store.checkpoint import load_checkpoint

    if alpha_delta is not None:
        model.cfg.nvib.alpha_delta = alpha_delta  # every target reads the model at its default
    by_type = {}
    for path in args.baselines or []:
        other = load_checkpoint(path, device=model.device)
        by_type[other.cfg.model_type] = other
    res = measure_targets(
        model,
        [decode_ids(model.tokenizer, s) for s in ids],
        t_model=by_type.get("t"),
        vts_model=by_type.get("vts"),
        vt_model=by_type.get("vt"),
        lm=load_lm(args.lm) if args.lm else None,
        pairs=args.pairs,
        log=lambda msg: print(msg, file=sys.stderr),
    )
    return {
        "verdicts": res["verdicts"],
        "slider": {k: v for k, v in res["slider"].items() if k != "curve"},
        "half": res["half"],
        "default": {k: v for k, v in res["default"].items() if k != "short"},
        **{
            key: {k: {x: y for x, y in v.items() if x != "examples"} for k, v in res[key].items()}
            for key in ("interpolation", "interpolation_uniform")
            if key in res
        },
        "prior": {k: v for k, v in res["prior"].items() if k != "examples"},
        **(
            {"prior_paper": {k: v for k, v in res["prior_paper"].items() if k != "examples"}}
            if "prior_paper" in res
            else {}
        ),
    }


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
    from ..config import RECIPES, ConfigError, ModelConfig, TrainConfig, apply_settings, load_configs
    from ..training.loop import train
    from ..training.setup import RunExists

    model_cfg, train_cfg = ModelConfig(), TrainConfig()
    if args.config:
        try:
            model_cfg, train_cfg = load_configs(args.config)
        except OSError as e:
            raise UsageError(f"cannot read {args.config}: {e.strerror or e}") from None
    try:
        if args.recipe:
            apply_settings(model_cfg, train_cfg, {**RECIPES[args.recipe]["model"], **RECIPES[args.recipe]["train"]})
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
    except (RunExists, ConfigError) as e:
        raise UsageError(str(e)) from None


def cmd_study(args) -> None:
    from ..data.corpora import load_sentences
    from ..readout.corpus_study import MAX_SENTENCES, corpus_study

    model = _load(args)
    if not model.cfg.is_nvae:
        raise UsageError(
            f"{args.checkpoint} is a {model.cfg.model_type.upper()} baseline: a sparsity study needs an NVAE"
        )
    ad = check_alpha_delta(model, args.alpha_delta)
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
    emit(res)


def cmd_pairs(args) -> None:
    """The batch interpolation study of a TSV of sentence pairs (the Interpolate page's), as JSON."""
    from ..readout import pair_study

    model = _load(args)
    try:
        data = Path(args.file).read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {args.file}: {err.strerror or err}") from None
    parsed = pair_study.parse_pairs(data)
    if parsed.errors:
        raise UsageError(f"{args.file}: {parsed.errors[0]}")
    for notice in parsed.notices:
        print(f"note: {notice}", file=sys.stderr)
    ad = check_alpha_delta(model, args.alpha_delta)
    result = pair_study.study(model, parsed.pairs, args.steps, args.grid, ad, mixing=args.mixing)
    inputs = [{"line": n, "a": a, "b": b} for n, (a, b) in zip(parsed.lines, parsed.pairs)]
    res = pair_study.study_json(result, {"checkpoint": str(args.checkpoint), "file": args.file}, inputs)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    emit(res)


def cmd_lm(args) -> None:
    from ..evaluation.lm import load_lm, train_lm

    if args.action == "train":
        out = Path(args.out)
        if (out / "lm.safetensors").exists() and not args.force:
            raise UsageError(f"{out} already holds a language model: pass --force to replace it")
        lm = train_lm(out, data=args.data, steps=args.steps, seed=args.seed, progress=not args.quiet)
        emit({"lm": str(out), **lm.info})
    else:
        texts = _texts(args)
        lm = load_lm(args.out)
        emit({"lm": args.out, "texts": len(texts), "perplexity": round(lm.perplexity(texts), 4)})


def cmd_map(args) -> None:
    """Write the app's Latent map beside a checkpoint's weights (nvae.readout.latent_map), with progress."""
    from tqdm.auto import tqdm

    from ..readout.latent_map import compute_map, map_file, save_map

    model = _load(args)
    out = Path(args.out) if args.out else map_file(args.checkpoint)
    bar = tqdm(total=1, desc="latent map", unit="step", disable=args.quiet)

    def progress(done: int, total: int, what: str) -> None:
        bar.total, bar.n = total, done
        bar.set_postfix_str(what)

    try:
        m = compute_map(model, args.sentences, progress=progress)
    except ValueError as err:
        raise UsageError(f"{args.checkpoint}: {err}") from None
    finally:
        bar.close()
    try:
        save_map(out, m)
    except OSError as err:
        raise UsageError(f"cannot write {out}: {err.strerror or err}") from None
    emit(
        {
            "checkpoint": str(args.checkpoint),
            "file": str(out),
            "bytes": out.stat().st_size,
            "sentences": len(m.sentences),
            "points": m.n_points,
            "reference_points": len(m.reference),
            **m.summary(),
        }
    )


def cmd_rate_distortion(args) -> None:
    """Write CHECKPOINT/rate_distortion.json (nvae.readout.rate_distortion_file): BLEU against the
    retained proportion for the learned choice of components and for fixed choices on the same
    model, on a split's sentences, with a progress bar that steps once per rate."""
    from tqdm.auto import tqdm

    from ..readout import rate_distortion_file
    from ..store.model_card import project_relative

    out = rate_distortion_file.record_file(args.checkpoint)
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists: pass --force to replace it")
    model = _load(args)
    args.data = None  # the corpus split, never a file: the app compares checkpoints on the same sentences
    ids, truncated = _evaluation_ids(model, args)
    command = project_relative(rate_distortion_file.command_for(args.checkpoint, args.split, args.limit, args.corpus))
    bar = tqdm(total=1, desc="rate-distortion", unit="step", disable=args.quiet)

    def progress(done: int, total: int, what: str) -> None:
        bar.total = total
        bar.update(done - bar.n)
        bar.set_postfix_str(what)

    try:
        record = rate_distortion_file.compute_record(
            model,
            ids,
            project_relative(str(args.checkpoint)),
            command,
            args.corpus,
            args.split,
            truncated=truncated,
            progress=progress,
        )
    finally:
        bar.close()
    try:
        rate_distortion_file.save_record(out, record)
    except OSError as err:
        raise UsageError(f"cannot write {out}: {err.strerror or err}") from None
    emit({"file": str(out), **{k: v for k, v in record.items() if k not in ("what", "fingerprint", "files_sha256")}})


def cmd_ablate(args) -> None:
    from ..tools.ablate import main

    args.settings = _parse_settings(args.set)
    main(args)


def cmd_demo(args) -> None:
    """Choose the demo set (`nvae.tools.demo_set`) with a model on its corpus's validation split and write
    sentences.txt, pairs.tsv and README.md into --out (examples/ by default)."""
    import shlex

    from ..data.corpora import load_sentences
    from ..store.model_card import project_relative
    from ..tools import demo_set

    model = _load(args)
    if not model.cfg.is_nvae:
        raise UsageError(f"{args.checkpoint} is a {model.cfg.model_type.upper()} baseline: the demo set needs an NVAE")
    out = Path(args.out)
    names = ("sentences.txt", "pairs.tsv", "README.md")
    present = [n for n in names if (out / n).exists()]
    if present and not args.force:
        raise UsageError(f"{out} already holds {', '.join(present)}: pass --force to replace them")
    ad = check_alpha_delta(model, args.alpha_delta)
    tc = getattr(model, "train_cfg", None)
    corpus = tc.data if tc and not Path(tc.data).is_file() else "wikitext-2"
    validation = load_sentences(corpus, "validation")
    res = demo_set.choose(
        model, validation, n_sentences=args.sentences, n_pairs=args.pairs, pool=args.pool, alpha_delta=ad,
        seed=args.seed,
    )  # fmt: skip
    if len(res["sentences"]) < 2:
        raise UsageError(f"{args.checkpoint}: fewer than two sentences are reconstructed exactly; no demo set")
    options = ["--checkpoint", str(args.checkpoint), "--sentences", str(args.sentences), "--pairs", str(args.pairs),
               "--pool", str(args.pool), "--seed", str(args.seed)]  # fmt: skip
    if args.alpha_delta is not None:
        options += ["--alpha-delta", str(args.alpha_delta)]
    command = "python -m nvae demo " + shlex.join(options)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "sentences.txt").write_text("\n".join(res["sentences"]) + "\n", encoding="utf-8")
        (out / "pairs.tsv").write_text("".join(f"{a}\t{b}\n" for a, b in res["pairs"]), encoding="utf-8")
        card = demo_set.readme(res, project_relative(command), project_relative(str(args.checkpoint)))
        (out / "README.md").write_text(card, encoding="utf-8")
    except OSError as err:
        raise UsageError(f"cannot write into {out}: {err.strerror or err}") from None
    emit({"out": str(out), "corpus": f"{corpus}:validation", **{k: v for k, v in res.items() if k != "measures"},
          "measures": {k: v for k, v in res["measures"].items() if k != "pairs"}})  # fmt: skip
