"""Evaluation CLI and the paper's experiments (`python -m nvae evaluate [--report]`).

Without --report: reconstruction BLEU, cross-entropy / perplexity per real token and retained
proportion of one checkpoint on the test split (or any text file, one sentence per line); the
summary is a JSON object on the last line of stdout.

With --report: the experiments of the paper on the test split, written to docs/results.md with
figures (PNG via matplotlib, interactive HTML via plotly) in docs/figures/:
  table     BLEU / CE / perplexity / retained for the NVAE and every baseline checkpoint
  figure 4  retained vectors against input length
  figure 5  BLEU against retained proportion while sweeping alpha^Delta
  figure 6  interpolation: BLEU of the decoded text against each endpoint across tau, and the
            share of outputs that differ from both endpoints
  examples  prior samples and interpolations
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shlex
import sys
import time
from pathlib import Path

import sacrebleu
import torch

from .metrics import Reconstruction, reconstruct
from .model import NVAE
from .paths import PROJECT_ROOT, default_checkpoint
from .targets import measure_targets, render_targets
from .text import decode_ids

ALPHA_DELTA_SWEEP = [0.01, 0.02, 0.05, 0.07, 0.1, 0.11, 0.12, 0.15, 0.2, 0.3, 0.5, 1.0]
TAUS = [i / 10 for i in range(11)]
CACHE_VERSION = 2  # 2: decoded text with tidied spacing


def cached_reconstruct(
    model: NVAE,
    ids: list[list[int]],
    alpha_delta: float | None = None,
    progress: bool = False,
    batch_size: int = 64,
    use_cache: bool = True,
) -> Reconstruction:
    """`reconstruct`, stored on disk under the model's fingerprint, the sentences and alpha^Delta.

    Evaluation is deterministic (eval mode, greedy decoding), so a model card, the report and a
    rerun share one computation per (model, data, alpha^Delta). The store is `eval/` in nvae's cache
    folder ($NVAE_CACHE_DIR); an unreadable or inconsistent entry is recomputed.
    """
    from .checkpoint import fingerprint
    from .data import cache_dir

    if not use_cache:
        return reconstruct(model, ids, alpha_delta=alpha_delta, progress=progress, batch_size=batch_size)
    if model.cfg.model_type != "nvae":
        ad = None  # the baselines have no alpha^Delta
    else:
        ad = float(model.cfg.alpha_delta if alpha_delta is None else alpha_delta)
    # the config's alpha_delta only matters through `ad` (a fixed model's latent does not depend
    # on it at all), so a checkpoint re-exported with another default still finds its results
    key = json.dumps([CACHE_VERSION, fingerprint(model, ignore=("alpha_delta",)), ad, ids])
    key = hashlib.sha256(key.encode()).hexdigest()
    file = cache_dir() / "eval" / f"{key[:32]}.json"
    try:
        data = json.loads(file.read_text())
        res = Reconstruction(**data)
        if len(res.n_inputs) == len(res.hyps) == len(res.refs) == len(ids):
            return res
    except (OSError, ValueError, TypeError):
        pass
    res = reconstruct(model, ids, alpha_delta=alpha_delta, progress=progress, batch_size=batch_size)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dataclasses.asdict(res)))
        os.replace(tmp, file)
    except OSError as err:  # a read-only cache only costs time
        print(f"evaluate: could not store the result in {file.parent} ({err})", file=sys.stderr)
    return res


def _sentences(model: NVAE, args) -> tuple[list[list[int]], int]:
    """Token ids of the evaluation sentences and how many were truncated."""
    from .cli import UsageError, _read_lines
    from .data import load_sentences

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
    batch_ids, truncated = [], 0
    from .text import encode_texts

    ids, flags = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    for s, f in zip(ids, flags):
        if s:
            batch_ids.append(s)
            truncated += int(f)
    if not batch_ids:
        raise UsageError("no sentence with any token to evaluate")
    return batch_ids, truncated


def alpha_delta_sweep(model: NVAE, ids: list[list[int]], use_cache: bool = True, log=None) -> list[dict]:
    """Summaries of a loss-conditional model at each ALPHA_DELTA_SWEEP value inside its training
    range (the app's slider); [] for a model trained at one fixed alpha^Delta."""
    if not model.cfg.alpha_delta_conditional:
        return []
    sweep = []
    for ad in ALPHA_DELTA_SWEEP:
        if model.cfg.alpha_delta_min <= ad <= model.cfg.alpha_delta_max:
            if log:
                log(f"report: alpha_delta sweep {ad}")
            s = cached_reconstruct(model, ids, alpha_delta=ad, use_cache=use_cache).summary()
            sweep.append({"alpha_delta": ad, **s})
    return sweep


def evaluate_cli(args) -> None:
    from .cli import _check_alpha_delta, _load

    model = _load(args)
    ad = _check_alpha_delta(model, args.alpha_delta)
    ids, truncated = _sentences(model, args)
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
        report(model, args, ids)
    if args.model_card:
        sweep = alpha_delta_sweep(model, ids, use_cache=cache)
        ckpt = Path(args.checkpoint)
        print(f"wrote {write_model_card(ckpt, res.summary(), sweep, _run_info(ckpt), args.card_note)}", file=sys.stderr)
    print(json.dumps(summary))


# -- experiments ----------------------------------------------------------------------------------


def _find_baselines(args) -> list[Path]:

    if args.baselines is not None:
        return [Path(p) for p in args.baselines]
    return sorted(p for p in (PROJECT_ROOT / "checkpoints").glob("baseline-*") if p.is_dir())


def _find_fixed_nvaes(args) -> list[Path]:

    if getattr(args, "fixed", None) is not None:
        return [Path(p) for p in args.fixed]
    return sorted(p for p in (PROJECT_ROOT / "checkpoints").glob("nvae-ad*") if p.is_dir())


def _label(path: Path) -> str:
    """How the report names a checkpoint folder: its name, or for a training run's checkpoint
    (RUN/checkpoint) the run's name."""
    path = Path(path)
    return path.parent.name if path.name == "checkpoint" else path.name


def _run_info(path: Path) -> dict | None:
    """The run.json beside a checkpoint (an exported folder holds it; a training run's
    RUN/checkpoint has it one level up); None when neither has a readable one."""
    path = Path(path)
    for f in (path / "run.json", path.parent / "run.json"):
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict):
            return info
    return None


def _training_steps(path: Path) -> int | None:
    """max_steps of the run that trained a checkpoint, from its run.json; None if unknown."""
    try:
        return int((_run_info(path) or {})["train"]["max_steps"])
    except (KeyError, TypeError, ValueError):
        return None


def _report_command(args) -> str:
    """The command line that reproduces the report, from its arguments."""

    parts = ["python", "-m", "nvae", "evaluate", "--report"]
    if args.checkpoint and Path(args.checkpoint).resolve() != default_checkpoint().resolve():
        parts += ["--checkpoint", str(args.checkpoint)]
    if args.limit:
        parts += ["--limit", str(args.limit)]
    parts += ["--pairs", str(args.pairs)]
    for flag, paths in (("--baselines", args.baselines), ("--fixed", getattr(args, "fixed", None))):
        if paths is not None:
            parts += [flag, *map(str, paths)]
    return shlex.join(parts)


def bleu_at_retained(sweep: list[dict], retained: float) -> float | None:
    """BLEU of the alpha^Delta sweep at a given retained proportion, interpolated linearly between
    the two sweep points around it; None outside the sweep's range."""
    pts = sorted((p["retained_proportion"], p["bleu"]) for p in sweep)
    for (r0, b0), (r1, b1) in zip(pts, pts[1:]):
        if r0 <= retained <= r1:
            return b0 if r1 == r0 else b0 + (retained - r0) / (r1 - r0) * (b1 - b0)
    return None


def _retained_by_length(res) -> dict[int, float]:
    by: dict[int, list[int]] = {}
    for n, r in zip(res.n_inputs, res.n_retained):
        by.setdefault(n, []).append(r)
    return {n: sum(v) / len(v) for n, v in sorted(by.items())}


@torch.no_grad()
def interpolation_study(model: NVAE, ids: list[list[int]], pairs: int = 100, seed: int = 0) -> dict:
    """For random sentence pairs: decode F_tau for tau in TAUS; BLEU vs each endpoint per tau."""
    from .experiments import _pairs
    from .text import decode_ids

    model.eval()
    chosen = _pairs(len(ids), pairs, seed)  # two distinct sentences each
    by_tau = {t: [] for t in TAUS}
    refs_a, refs_b, examples = [], [], []
    for k, (i, j) in enumerate(chosen):
        lat = model.encode(model.collate([ids[i], ids[j]]))
        a, b = lat.select(0).trim(), lat.select(1).trim()
        texts = model.decode_text(a.mix(b, torch.tensor(TAUS)))
        for t, s in zip(TAUS, texts):
            by_tau[t].append(s)
        refs_a.append(decode_ids(model.tokenizer, ids[i]))
        refs_b.append(decode_ids(model.tokenizer, ids[j]))
        if k < 3:
            examples.append({"a": refs_a[-1], "b": refs_b[-1], "strip": list(zip(TAUS, texts))})
    bleu_a = [sacrebleu.corpus_bleu(by_tau[t], [refs_a]).score for t in TAUS]
    bleu_b = [sacrebleu.corpus_bleu(by_tau[t], [refs_b]).score for t in TAUS]
    # new sentences: unlike both decoded endpoints (tau = 0 and tau = 1), not merely unlike the inputs
    ends = list(zip(by_tau[TAUS[0]], by_tau[TAUS[-1]]))
    novel = [sum(s not in e for s, e in zip(by_tau[t], ends)) / pairs for t in TAUS]
    # smoothness: the largest change of one curve (BLEU against S1) between neighbouring tau
    jumps = [abs(bleu_a[k + 1] - bleu_a[k]) for k in range(len(TAUS) - 1)]
    return {
        "taus": TAUS,
        "bleu_a": bleu_a,
        "bleu_b": bleu_b,
        "novel": novel,
        "max_jump": max(jumps),
        "examples": examples,
    }


def _figure(name: str, out: Path, series: list[dict], xlabel: str, ylabel: str, title: str, kind: str = "line") -> None:
    """One figure as PNG (matplotlib) and interactive HTML (plotly), from the same series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    pfig = go.Figure()
    for s in series:
        style = "o" if kind == "scatter" else "o-"
        ax.plot(s["x"], s["y"], style, label=s["label"], markersize=3 if kind == "scatter" else 4, alpha=0.8)
        pfig.add_trace(
            go.Scatter(x=s["x"], y=s["y"], name=s["label"], mode="markers" if kind == "scatter" else "lines+markers")
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{name}.png")
    plt.close(fig)
    pfig.update_layout(title=title, xaxis_title=xlabel, yaxis_title=ylabel, template="plotly_white")
    pfig.write_html(out / f"{name}.html", include_plotlyjs="cdn")


def report(model: NVAE, args, ids: list[list[int]]) -> Path:
    """Run the paper's experiments and write `results.md` + figures into args.out."""
    from .checkpoint import load_checkpoint

    out = Path(args.out)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    cache = not getattr(args, "no_cache", False)
    models = {f"NVAE ({_label(args.checkpoint)})": model}
    for path in _find_baselines(args):
        m = load_checkpoint(path, device)
        models[f"{m.cfg.model_type.upper()} ({_label(path)})"] = m
    fixed_paths = {_label(p): Path(p) for p in _find_fixed_nvaes(args)}
    fixed = dict(
        sorted(
            ((name, load_checkpoint(p, device)) for name, p in fixed_paths.items()),
            key=lambda kv: kv[1].cfg.alpha_delta,
        )
    )

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    # the table
    rows, results = [], {}
    for name, m in models.items():
        log(f"report: evaluating {name}")
        res = cached_reconstruct(m, ids, progress=True, use_cache=cache)
        results[name] = res
        rows.append((name, res.summary()))
    for name, m in fixed.items():
        log(f"report: evaluating {name}")
        rows.append(
            (
                f"NVAE fixed alpha_delta={m.cfg.alpha_delta} ({name})",
                cached_reconstruct(m, ids, use_cache=cache).summary(),
            )
        )

    # figure 4: retained vectors against input length
    series = []
    for name, res in results.items():
        by = _retained_by_length(res)
        series.append({"label": name, "x": list(by), "y": list(by.values())})
    series.append({"label": "all tokens", "x": series[0]["x"], "y": series[0]["x"]})
    _figure(
        "fig4_retained_vs_length",
        figs,
        series,
        "input tokens (EOS included)",
        "mean retained vectors",
        "Figure 4: latent vectors against input length",
    )

    # figure 5: BLEU against retained proportion, sweeping alpha^Delta
    sweep = alpha_delta_sweep(model, ids, use_cache=cache, log=log)
    fixed_points = [
        {"alpha_delta": m.cfg.alpha_delta, "steps": _training_steps(fixed_paths[name]), **dict(r)}
        for (_, r), (name, m) in zip(rows[len(models) :], fixed.items())
    ]
    if model.cfg.alpha_delta_conditional:  # the loss-conditional model at each fixed model's value
        for p in fixed_points:
            c = cached_reconstruct(model, ids, alpha_delta=p["alpha_delta"], use_cache=cache).summary()
            p["conditional"] = {k: c[k] for k in ("bleu", "retained_proportion", "cross_entropy")}
            # and at the fixed model's retained proportion (same sparsity, whatever alpha^Delta)
            p["conditional_bleu_same_retained"] = bleu_at_retained(sweep, p["retained_proportion"])
    s5 = []
    if sweep:
        s5.append(
            {
                "label": "NVAE, loss-conditional",
                "x": [p["retained_proportion"] for p in sweep],
                "y": [p["bleu"] for p in sweep],
            }
        )
    if fixed_points:
        s5.append(
            {
                "label": "NVAE, fixed alpha_delta",
                "x": [p["retained_proportion"] for p in fixed_points],
                "y": [p["bleu"] for p in fixed_points],
            }
        )
    for name, r in rows[1 : len(models)]:
        s5.append({"label": name, "x": [r["retained_proportion"]], "y": [r["bleu"]]})
    if s5:
        _figure(
            "fig5_bleu_vs_retained",
            figs,
            s5,
            "retained proportion nu",
            "BLEU",
            "Figure 5: BLEU against retained proportion",
            kind="scatter" if not sweep else "line",
        )

    # figure 6: interpolation
    interp = {}
    for name, m in models.items():
        log(f"report: interpolation study {name}")
        interp[name] = interpolation_study(m, ids, pairs=args.pairs)
    s6 = []
    for name, st in interp.items():
        s6.append({"label": f"{name} vs S1", "x": st["taus"], "y": st["bleu_a"]})
        s6.append({"label": f"{name} vs S2", "x": st["taus"], "y": st["bleu_b"]})
    _figure("fig6_interpolation_bleu", figs, s6, "tau", "BLEU", "Figure 6: interpolation BLEU against each endpoint")
    _figure(
        "fig6_interpolation_novel",
        figs,
        [{"label": n, "x": st["taus"], "y": st["novel"]} for n, st in interp.items()],
        "tau",
        "share of outputs unlike both decoded endpoints",
        "Figure 6b: new sentences along the path",
    )

    # prior samples
    samples = []
    if model.cfg.model_type == "nvae":
        for seed in range(5):
            lat = model.sample_prior(10, seed=seed)
            samples.append(model.decode_text(lat)[0])

    # the latent's targets (nvae/targets.py), with the baselines the report found and the fluency LM
    by_type = {m.cfg.model_type: m for m in models.values()}
    lm = None
    if getattr(args, "lm", None):
        from .lm import load_lm

        lm = load_lm(args.lm)
    texts = [decode_ids(model.tokenizer, s) for s in ids]
    targets = measure_targets(
        model,
        texts,
        t_model=by_type.get("t"),
        vts_model=by_type.get("vts"),
        vt_model=by_type.get("vt"),
        lm=lm,
        pairs=args.pairs,
        log=log,
    )
    md = _render(
        args, rows, sweep, fixed_points, interp, samples, len(ids), _provenance([*models.values(), *fixed.values()])
    )
    md += "\n" + "\n".join(render_targets(targets))
    (out / "results.md").write_text(md)
    (out / "results.json").write_text(
        json.dumps(
            {
                "table": dict(rows),
                "sweep": sweep,
                "fixed": fixed_points,
                "interpolation": {k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in interp.items()},
                "targets": targets,
            },
            indent=2,
        )
    )
    log(f"report: wrote {out / 'results.md'}")
    return out / "results.md"


def _fmt(x, nd=2):
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def _provenance(models) -> str:
    """Which text the reported models trained on, stated from their own configs."""
    splits = {}
    for m in models:
        tc = getattr(m, "train_cfg", None)
        key = f"the **{tc.split}** split of `{tc.data}`" if tc else "unrecorded text"
        splits[key] = splits.get(key, 0) + 1
    parts = [f"{n} on {k}" for k, n in splits.items()]
    trained = (
        "All models were trained on " + next(iter(splits)) if len(splits) == 1 else "Of the models, " + "; ".join(parts)
    )
    held = [k for k in splits if "**validation**" in k or "**test**" in k]
    warn = (
        (
            " Models trained on a held-out split predate the shipped train text; their numbers on that split "
            "are training numbers."
        )
        if held
        else ""
    )
    return f"{trained}. Settings were chosen on the validation split; this report reads the test split.{warn}"


def _render(args, rows, sweep, fixed_points, interp, samples, n_sent, provenance: str = "") -> str:
    cmd = _report_command(args)
    lines = [
        "# Results",
        "",
        f"Produced by `{cmd}` on {time.strftime('%Y-%m-%d')} ({n_sent} test sentences of WikiText-2, "
        f"6 to 49 subword tokens). {provenance} BLEU is sacrebleu's "
        "corpus BLEU of greedy reconstructions against the tokenizer's round trip of each input "
        "(lowercased, unknown words as [UNK]); cross-entropy is per real target token (EOS included).",
        "",
        "## Reconstruction",
        "",
        "| model | BLEU | CE | perplexity | retained proportion | mean retained | exact match |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        lines.append(
            f"| {name} | {r['bleu']:.2f} | {r['cross_entropy']:.3f} | {r['perplexity']:.3f} | "
            f"{r['retained_proportion']:.3f} | {r['mean_retained']:.2f} | {r['exact_match']:.3f} |"
        )
    t_rows = [r for name, r in rows if name.startswith("T (")]
    if t_rows and rows[0][0].startswith("NVAE"):
        nv, t = rows[0][1], t_rows[0]
        lines += [
            "",
            f"The NVAE (first row, at its default alpha^Delta) reaches {nv['bleu'] / max(t['bleu'], 1e-9):.3f} "
            f"x the T baseline's BLEU ({nv['bleu']:.2f} against {t['bleu']:.2f}) while keeping "
            f"{nv['retained_proportion']:.3f} of the input vectors ({nv['mean_retained']:.1f} of "
            f"{nv['mean_input_tokens']:.1f} on average).",
        ]
    lines += [
        "",
        "## Figure 4: retained vectors against input length",
        "",
        "![fig4](figures/fig4_retained_vs_length.png) ([interactive](figures/fig4_retained_vs_length.html))",
        "",
    ]
    lines += ["## Figure 5: BLEU against retained proportion (sweeping alpha^Delta)", ""]
    if sweep:
        lines += ["| alpha^Delta | retained proportion | BLEU | CE |", "|---|---|---|---|"]
        lines += [
            f"| {p['alpha_delta']} | {p['retained_proportion']:.3f} | {p['bleu']:.2f} | {p['cross_entropy']:.3f} |"
            for p in sweep
        ]
        lines.append("")
    if sweep:
        ret = [p["retained_proportion"] for p in sweep]
        mono = all(a <= b for a, b in zip(ret, ret[1:]))
        lines += [
            f"Retained proportion {'falls' if mono else 'does NOT fall'} monotonically as alpha^Delta "
            f"falls ({ret[-1]:.3f} at {sweep[-1]['alpha_delta']} to {ret[0]:.3f} at {sweep[0]['alpha_delta']}).",
            "",
        ]
    if fixed_points:
        steps = _training_steps(Path(args.checkpoint))
        trained = f" (trained {steps} steps)" if steps else ""
        lines += [
            f"Models trained at one fixed alpha^Delta, to check the loss-conditional model{trained} against "
            "(it should match them: retained proportion within 0.05, BLEU within 3 points):",
            "",
            "| alpha^Delta | fixed model: training steps | retained: fixed | retained: conditional | difference | "
            "BLEU: fixed | BLEU: conditional | difference | matches |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for p in fixed_points:
            c, steps = p.get("conditional"), p.get("steps") or "?"
            if c is None:
                lines.append(
                    f"| {p['alpha_delta']} | {steps} | {p['retained_proportion']:.3f} | | | {p['bleu']:.2f} | | | |"
                )
                continue
            dr, db = c["retained_proportion"] - p["retained_proportion"], c["bleu"] - p["bleu"]
            ok = "yes" if abs(dr) <= 0.05 and abs(db) <= 3 else "no"
            lines.append(
                f"| {p['alpha_delta']} | {steps} | {p['retained_proportion']:.3f} | {c['retained_proportion']:.3f} | "
                f"{dr:+.3f} | {p['bleu']:.2f} | {c['bleu']:.2f} | {db:+.2f} | {ok} |"
            )
        lines.append("")
        same = [p for p in fixed_points if p.get("conditional_bleu_same_retained") is not None]
        if same:
            lines += [
                "The same check at equal sparsity instead of equal alpha^Delta: the loss-conditional model's "
                "BLEU at each fixed model's retained proportion (interpolated linearly along the sweep above):",
                "",
                "| fixed model | retained | BLEU: fixed | BLEU: conditional, same retained | difference |",
                "|---|---|---|---|---|",
            ]
            for p in same:
                b = p["conditional_bleu_same_retained"]
                lines.append(
                    f"| alpha^Delta {p['alpha_delta']} | {p['retained_proportion']:.3f} | {p['bleu']:.2f} | "
                    f"{b:.2f} | {b - p['bleu']:+.2f} |"
                )
            lines.append("")
    lines += ["![fig5](figures/fig5_bleu_vs_retained.png) ([interactive](figures/fig5_bleu_vs_retained.html))", ""]
    lines += [
        "## Figure 6: interpolation",
        "",
        f"For {args.pairs} random pairs of test sentences, the mixture (1 - tau) F_1 + tau F_2 (position-wise for "
        "the baselines) decoded greedily at 11 values of tau.",
        "",
        "| model | " + " | ".join(f"tau={t:.1f}" for t in TAUS) + " | largest step |",
        "|---|" + "---|" * (len(TAUS) + 1),
    ]
    for name, st in interp.items():
        lines.append(
            f"| {name}: BLEU vs S1 | " + " | ".join(f"{v:.1f}" for v in st["bleu_a"]) + f" | {st['max_jump']:.1f} |"
        )
        lines.append(f"| {name}: BLEU vs S2 | " + " | ".join(f"{v:.1f}" for v in st["bleu_b"]) + " | |")
        lines.append(
            f"| {name}: unlike both decoded endpoints | " + " | ".join(f"{v:.2f}" for v in st["novel"]) + " | |"
        )
    lines += [
        "",
        "![fig6](figures/fig6_interpolation_bleu.png) ([interactive](figures/fig6_interpolation_bleu.html))",
        "![fig6b](figures/fig6_interpolation_novel.png)",
        "",
        "### Example interpolations",
        "",
    ]
    first = next(iter(interp.values()))
    for ex in first["examples"]:
        lines.append(f"- S1: {ex['a']}\n- S2: {ex['b']}")
        for t, s in ex["strip"]:
            lines.append(f"  - tau {t:.1f}: {s}")
        lines.append("")
    if samples:
        lines += [
            "## Prior samples",
            "",
            "Greedy decoding of latents drawn from the prior (10 components, seeds 0-4):",
            "",
        ]
        lines += [f"- {s}" for s in samples]
        lines.append("")
    return "\n".join(lines) + "\n"


# -- model cards ----------------------------------------------------------------------------------


def training_time_s(metrics: list[dict]) -> float:
    """Wall time of training from metrics.jsonl: the sum over calls (a resumed call restarts its
    clock, so each drop in elapsed_s starts a new segment)."""
    total, last = 0.0, 0.0
    for row in metrics:
        e = row.get("elapsed_s")
        if e is None:
            continue
        if e < last:
            total += last
        last = e
    return total + last


def data_statement(train_cfg, run_info: dict | None = None) -> str:
    """One sentence on which text a model trained on and which text its periodic evaluation read."""
    run_info = run_info or {}
    n = run_info.get("train_sentences")
    trained = f"the **{train_cfg.split}** split of `{train_cfg.data}`" + (f" ({n:,} sentences)" if n else "")
    evaluated = run_info.get("eval_from") or (
        f"`{train_cfg.data}:{train_cfg.eval_split}`" if train_cfg.eval_split else "no held-out text"
    )
    warn = ""
    if train_cfg.split in ("validation", "test"):
        warn = (
            " This model was trained before the project shipped train text: its training text is a "
            "held-out split, so its numbers on that split are training numbers."
        )
    return (
        f"trained on {trained}; periodic evaluation during training on {evaluated}; sentences of "
        f"{train_cfg.min_tokens} to {train_cfg.max_tokens} subword tokens. Text CC BY-SA (data/README.md).{warn}"
    )


def write_model_card(
    checkpoint: Path, summary: dict | None, sweep: list[dict], run_info: dict | None, note: str = ""
) -> Path:
    """MODEL_CARD.md of a checkpoint: data, command, seed, time, hardware, metrics, limits."""
    from .checkpoint import describe, read_metrics
    from .config import load_configs

    model_cfg, train_cfg = load_configs(checkpoint / "config.json")
    info = describe(checkpoint)
    metrics = read_metrics(checkpoint) if (checkpoint / "metrics.jsonl").exists() else []
    minutes = training_time_s(metrics) / 60
    run_info = run_info or {}
    steps = max((r.get("step", 0) for r in metrics), default=0)
    lines = [
        f"# Model card: {checkpoint.name}",
        "",
        f"- **Model**: {model_cfg.model_type.upper()}, d_model {model_cfg.d_model}, {model_cfg.n_heads} heads, "
        f"{model_cfg.n_enc_layers}+{model_cfg.n_dec_layers} layers, d_ff {model_cfg.d_ff}, vocabulary "
        f"{model_cfg.vocab_size} (uncased WordPiece), {info['parameters']:,} parameters, weights "
        f"{'float16' if info['half'] else 'float32'} ({info['total_bytes'] / 1e6:.1f} MB on disk).",
    ]
    if model_cfg.model_type == "nvae":
        if model_cfg.alpha_delta_conditional:
            lines.append(
                f"- **alpha^Delta**: loss-conditional; drawn log-uniformly in [{model_cfg.alpha_delta_min}, "
                f"{model_cfg.alpha_delta_max}] per batch while training; default {model_cfg.alpha_delta}."
            )
        else:
            lines.append(f"- **alpha^Delta**: fixed at {model_cfg.alpha_delta}.")
        lines.append(
            f"- **Prior**: mu {model_cfg.prior_mu}, var {model_cfg.prior_var}, alpha {model_cfg.prior_alpha}; "
            f"kappa {model_cfg.kappa}; pruning threshold alpha <= {model_cfg.threshold}."
        )
    lines += [
        f"- **Data**: {data_statement(train_cfg, run_info)}",
        f"- **Training**: {steps} steps, batch {train_cfg.batch_size}, AdamW lr {train_cfg.lr}, warm-up "
        f"{train_cfg.warmup_steps}, "
        + (
            f"KL weights lambda_G {train_cfg.lambda_g}, lambda_D {train_cfg.lambda_d} (0 until step "
            f"{train_cfg.kl_start_step}, then a ramp over {train_cfg.kl_anneal_steps} steps), "
            if model_cfg.model_type != "t"
            else "no latent regulariser, "
        )
        + f"seed {train_cfg.seed}; {minutes:.0f} minutes of training wall time.",
        f"- **Hardware**: {run_info.get('hardware', 'not recorded')}.",
    ]
    if run_info.get("command"):
        lines.append(f"- **Command**: `{run_info['command']}`")
    for call in run_info.get("resumed", []):
        lines.append(f"- **Resumed** at step {call['start_step']} with `{call['command']}`")
    if note:
        lines.append(f"- **Note**: {note}")
    if summary is None:
        lines += [
            "",
            "## Metrics",
            "",
            f"Not measured yet: `python -m nvae evaluate --checkpoint {checkpoint} --model-card` adds them "
            "(on the test split).",
            "",
        ]
    else:
        lines += [
            "",
            "## Metrics on the test split",
            "",
            "Measured by `python -m nvae " + shlex.join(sys.argv[1:]) + "`.",
            "",
            "| BLEU | cross-entropy | perplexity | retained proportion | mean retained | exact match | sentences |",
            "|---|---|---|---|---|---|---|",
            f"| {summary['bleu']:.2f} | {summary['cross_entropy']:.3f} | {summary['perplexity']:.2f} | "
            f"{summary['retained_proportion']:.3f} | {summary['mean_retained']:.2f} | {summary['exact_match']:.3f} | "
            f"{summary['sentences']} |",
            "",
        ]
    if sweep:
        lines += [
            "Sweeping alpha^Delta (the app's slider):",
            "",
            "| alpha^Delta | retained proportion | BLEU | cross-entropy |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {p['alpha_delta']} | {p['retained_proportion']:.3f} | {p['bleu']:.2f} | {p['cross_entropy']:.3f} |"
            for p in sweep
        ]
        lines.append("")
    n_train = run_info.get("train_sentences")
    size = f"{n_train:,} sentences" if n_train else "a small corpus"
    lines += [
        "## Limits",
        "",
        f"- Trained on {size}; expect unknown words to be copied as [UNK] "
        "or misspelt, and prior samples to be only locally fluent.",
        "- Output is lowercase (uncased tokenizer); BLEU is measured against the tokenizer's round trip of each input.",
        "- Sentences longer than the model's limit are truncated.",
        "",
    ]
    path = checkpoint / "MODEL_CARD.md"
    path.write_text("\n".join(lines))
    return path
