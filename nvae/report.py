"""The report: the paper's experiments and the latent's targets on the test split, written to
docs/results.md with figures (PNG via matplotlib, interactive HTML via plotly) in docs/figures/:

  table     BLEU / CE / perplexity / retained for the NVAE and every baseline checkpoint
  figure 4  retained vectors against input length
  figure 5  BLEU against retained proportion while sweeping alpha^Delta
  figure 6  interpolation: BLEU of the decoded text against each endpoint across tau, and the
            share of outputs that differ from both endpoints
  targets   nvae/targets.py, with verdicts
  examples  prior samples and interpolations

`report(model, ids, spec)` takes plain values (a ReportSpec); `nvae evaluate --report` builds them.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .checkpoint import load_checkpoint
from .evaluate import (
    TAUS,
    alpha_delta_sweep,
    bleu_at_retained,
    cached_reconstruct,
    interpolation_study,
    retained_by_length,
)
from .model import NVAE
from .model_card import run_info
from .paths import CHECKPOINTS_DIR, default_checkpoint
from .targets import measure_targets, render_targets
from .text import decode_batch, decode_ids


@dataclass
class ReportSpec:
    """What a report reads and where it writes."""

    checkpoint: str
    out: str
    pairs: int = 100
    baselines: list[str] | None = None  # None: checkpoints/baseline-*
    fixed: list[str] | None = None  # None: checkpoints/nvae-ad*
    lm: str | None = None
    limit: int | None = None
    use_cache: bool = True

    def command(self) -> str:
        """The command line that reproduces the report."""
        parts = ["python", "-m", "nvae", "evaluate", "--report"]
        if self.checkpoint and Path(self.checkpoint).resolve() != default_checkpoint().resolve():
            parts += ["--checkpoint", str(self.checkpoint)]
        if self.limit:
            parts += ["--limit", str(self.limit)]
        parts += ["--pairs", str(self.pairs)]
        if self.lm:
            parts += ["--lm", str(self.lm)]
        for flag, paths in (("--baselines", self.baselines), ("--fixed", self.fixed)):
            if paths is not None:
                parts += [flag, *map(str, paths)]
        return shlex.join(parts)


def _find_baselines(spec: ReportSpec) -> list[Path]:
    if spec.baselines is not None:
        return [Path(p) for p in spec.baselines]
    return sorted(p for p in CHECKPOINTS_DIR.glob("baseline-*") if p.is_dir())


def _find_fixed_nvaes(spec: ReportSpec) -> list[Path]:
    if spec.fixed is not None:
        return [Path(p) for p in spec.fixed]
    return sorted(p for p in CHECKPOINTS_DIR.glob("nvae-ad*") if p.is_dir())


def _label(path: Path) -> str:
    """How the report names a checkpoint folder: its name, or for a training run's checkpoint
    (RUN/checkpoint) the run's name."""
    path = Path(path)
    return path.parent.name if path.name == "checkpoint" else path.name


def _training_steps(path: Path) -> int | None:
    """max_steps of the run that trained a checkpoint, from its run.json; None if unknown."""
    try:
        return int((run_info(path) or {})["train"]["max_steps"])
    except (KeyError, TypeError, ValueError):
        return None


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


def report(model: NVAE, ids: list[list[int]], spec: ReportSpec) -> Path:
    """Run the paper's experiments and the targets; write `results.md` + figures into spec.out."""
    out = Path(spec.out)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    device = next(model.parameters()).device
    cache = spec.use_cache
    models = {f"NVAE ({_label(spec.checkpoint)})": model}
    for path in _find_baselines(spec):
        m = load_checkpoint(path, device)
        models[f"{m.cfg.model_type.upper()} ({_label(path)})"] = m
    fixed_paths = {_label(p): Path(p) for p in _find_fixed_nvaes(spec)}
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
        by = retained_by_length(res)
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
        interp[name] = interpolation_study(m, ids, pairs=spec.pairs)
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
            samples.append(decode_batch(model.tokenizer, model.generate(lat))[0])

    # the latent's targets (nvae/targets.py), with the baselines the report found and the fluency LM
    by_type = {m.cfg.model_type: m for m in models.values()}
    lm = None
    if spec.lm:
        from .lm import load_lm

        lm = load_lm(spec.lm)
    texts = [decode_ids(model.tokenizer, s) for s in ids]
    targets = measure_targets(
        model,
        texts,
        t_model=by_type.get("t"),
        vts_model=by_type.get("vts"),
        vt_model=by_type.get("vt"),
        lm=lm,
        pairs=spec.pairs,
        log=log,
    )
    md = _render(
        spec, rows, sweep, fixed_points, interp, samples, len(ids), _provenance([*models.values(), *fixed.values()])
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


def _render(spec: ReportSpec, rows, sweep, fixed_points, interp, samples, n_sent, provenance: str = "") -> str:
    cmd = spec.command()
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
        steps = _training_steps(Path(spec.checkpoint))
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
        f"For {spec.pairs} random pairs of test sentences, the mixture (1 - tau) F_1 + tau F_2 (position-wise for "
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
