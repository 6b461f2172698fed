"""The report written out: `results.md` and its figures (PNG via matplotlib, interactive HTML via
plotly), from the numbers `report.measure` computes (a ReportNumbers). Every number and count in
the prose is read from those numbers; nothing here runs a model."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .compression import CHOICES, choice_series, learned_series
from .sampling import SOURCE_NAMES
from .targets import render_targets

# a fixed-alpha^Delta model and the loss-conditional model at its alpha^Delta "match" within these
MATCH_RETAINED = 0.05
MATCH_BLEU = 3.0
CORPUS_NAMES = {"wikitext-2": "WikiText-2"}


@dataclass
class ReportNumbers:
    """Everything the report states, measured, and what it read."""

    command: str  # the command line that reproduces the report
    data: str | None  # the sentence file read, or None for a corpus split
    corpus: str
    split: str
    n_sentences: int
    token_range: tuple[int, int]  # fewest and most subword tokens of a sentence read
    rows: list[tuple[str, dict]]  # the table: the NVAE, the baselines, then the fixed-alpha^Delta NVAEs
    n_models: int  # how many rows are the NVAE and its baselines
    retained_by_length: dict[str, dict[int, float]]  # figure 4, for the NVAE and its baselines
    sweep: list[dict]  # figure 5: the NVAE across alpha^Delta
    fixed_points: list[dict]  # figure 5: the fixed-alpha^Delta NVAEs, sorted by alpha^Delta
    trained_steps: int | None  # max_steps of the run that trained the NVAE, if recorded
    pairs: int
    interp: dict[str, dict]  # figure 6: `evaluate.interpolation_study` of each model
    prior_components: int
    prior_seeds: int
    samples: list[str]  # one prior sample per seed
    training_text: dict[tuple[str, str] | None, int]  # (data, split) a model trained on -> how many models
    targets: dict
    # figure 7: model name (as in the table) -> `compression.measure_compression`'s result
    compression: dict[str, dict] = field(default_factory=dict)


CHOICE_NAMES = {
    "learned": "learned choice",
    "stride": "nearest stride rule",
    "evenly_spaced": "evenly spaced positions",
    "random": "random subset",
}


def figure(name: str, out: Path, series: list[dict], xlabel: str, ylabel: str, title: str, kind: str = "line") -> None:
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


def write_figures(nums: ReportNumbers, out: Path) -> None:
    """Figures 4, 5, 6 (and 6b) and 7 into the folder `out`."""
    series = [{"label": name, "x": list(by), "y": list(by.values())} for name, by in nums.retained_by_length.items()]
    series.append({"label": "all tokens", "x": series[0]["x"], "y": series[0]["x"]})
    figure(
        "fig4_retained_vs_length",
        out,
        series,
        "input tokens (EOS included)",
        "mean retained vectors",
        "Figure 4: latent vectors against input length",
    )

    s5 = []
    if nums.sweep:
        s5.append(
            {
                "label": "NVAE, loss-conditional",
                "x": [p["retained_proportion"] for p in nums.sweep],
                "y": [p["bleu"] for p in nums.sweep],
            }
        )
    if nums.fixed_points:
        s5.append(
            {
                "label": "NVAE, fixed alpha_delta",
                "x": [p["retained_proportion"] for p in nums.fixed_points],
                "y": [p["bleu"] for p in nums.fixed_points],
            }
        )
    for name, r in nums.rows[1 : nums.n_models]:
        s5.append({"label": name, "x": [r["retained_proportion"]], "y": [r["bleu"]]})
    if s5:
        figure(
            "fig5_bleu_vs_retained",
            out,
            s5,
            "retained proportion nu",
            "BLEU",
            "Figure 5: BLEU against retained proportion",
            kind="scatter" if not nums.sweep else "line",
        )

    s6 = []
    for name, st in nums.interp.items():
        s6.append({"label": f"{name} vs S1", "x": st["taus"], "y": st["bleu_a"]})
        s6.append({"label": f"{name} vs S2", "x": st["taus"], "y": st["bleu_b"]})
    figure("fig6_interpolation_bleu", out, s6, "tau", "BLEU", "Figure 6: interpolation BLEU against each endpoint")
    figure(
        "fig6_interpolation_novel",
        out,
        [{"label": name, "x": st["taus"], "y": st["novel"]} for name, st in nums.interp.items()],
        "tau",
        "share of outputs unlike both decoded endpoints",
        "Figure 6b: new sentences along the path",
    )
    write_rate_distortion_figure(nums.compression, out)


def rate_distortion_series(compression: dict[str, dict]) -> list[dict]:
    """Figure 7's series: every choice of the first NVAE with rows (learned, the nearest stride rule,
    evenly spaced, random), then each other NVAE's learned choice (a line, or its one point) and
    each baseline's own point."""
    main = next((name for name, r in compression.items() if r["kind"] != "baseline" and r["rows"]), None)
    series = []
    if main is not None:
        for choice in CHOICES:
            x, y = choice_series(compression[main], choice)
            series.append({"label": f"{main}: {CHOICE_NAMES[choice]}", "x": x, "y": y})
    for name, r in compression.items():
        if name == main:
            continue
        x, y = learned_series(r)
        own = "its own rule" if r["kind"] == "baseline" else "learned choice"
        series.append({"label": f"{name}: {own}", "x": x, "y": y})
    return series


def write_rate_distortion_figure(compression: dict[str, dict], out: Path) -> bool:
    """Figure 7 (fig7_rate_distortion.png and .html) into `out`; False when there is nothing to draw."""
    series = rate_distortion_series(compression)
    if not series:
        return False
    figure(
        "fig7_rate_distortion",
        out,
        series,
        "retained proportion nu",
        "BLEU",
        "Figure 7: rate-distortion, learned against fixed choices",
    )
    return True


def sentences_read(nums: ReportNumbers) -> tuple[str, str]:
    """What the report read, as prose: ("test sentences", "of WikiText-2") for a corpus split,
    ("sentences of `FILE`", "") for a file."""
    if nums.data:
        return f"sentences of `{nums.data}`", ""
    return f"{nums.split} sentences", f" of {CORPUS_NAMES.get(nums.corpus, f'`{nums.corpus}`')}"


def provenance(nums: ReportNumbers) -> str:
    """Which text the reported models trained on, stated from their own configs, and what the
    report reads."""
    keys = {key: f"the **{key[1]}** split of `{key[0]}`" if key else "unrecorded text" for key in nums.training_text}
    if len(keys) == 1:
        trained = "All models were trained on " + next(iter(keys.values()))
    else:
        trained = "Of the models, " + "; ".join(f"{count} on {keys[k]}" for k, count in nums.training_text.items())
    held = any(key and key[1] in ("validation", "test") for key in nums.training_text)
    warn = (
        (
            " Models trained on a held-out split predate the shipped train text; their numbers on that split "
            "are training numbers."
        )
        if held
        else ""
    )
    reads = f"`{nums.data}`" if nums.data else f"the {nums.split} split"
    return f"{trained}. Settings were chosen on the validation split; this report reads {reads}.{warn}"


def render_markdown(nums: ReportNumbers) -> str:
    """results.md: the table, figures 4 to 6 with their tables, examples, prior samples, targets."""
    what, of_corpus = sentences_read(nums)
    lo, hi = nums.token_range
    lines = [
        "# Results",
        "",
        f"Produced by `{nums.command}` on {time.strftime('%Y-%m-%d')} ({nums.n_sentences} {what}{of_corpus}, "
        f"{lo} to {hi} subword tokens). {provenance(nums)} BLEU is sacrebleu's "
        "corpus BLEU of greedy reconstructions against the tokenizer's round trip of each input "
        "(lowercased, unknown words as [UNK]); cross-entropy is per real target token (EOS included).",
        "",
        "## Reconstruction",
        "",
        "| model | BLEU | CE | perplexity | retained proportion | mean retained | exact match |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in nums.rows:
        lines.append(
            f"| {name} | {r['bleu']:.2f} | {r['cross_entropy']:.3f} | {r['perplexity']:.3f} | "
            f"{r['retained_proportion']:.3f} | {r['mean_retained']:.2f} | {r['exact_match']:.3f} |"
        )
    t_rows = [r for name, r in nums.rows if name.startswith("T (")]
    if t_rows and nums.rows[0][0].startswith("NVAE"):
        nv, t = nums.rows[0][1], t_rows[0]
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
    lines += _sweep_lines(nums) + _fixed_lines(nums)
    lines += ["![fig5](figures/fig5_bleu_vs_retained.png) ([interactive](figures/fig5_bleu_vs_retained.html))", ""]
    lines += _interpolation_lines(nums, what)
    lines += rate_distortion_lines(nums.compression, what)
    if nums.samples:
        lines += [
            "## Prior samples",
            "",
            f"Greedy decoding of latents drawn from the prior ({nums.prior_components} components, "
            f"seeds 0-{nums.prior_seeds - 1}):",
            "",
        ]
        lines += [f"- {s}" for s in nums.samples]
        lines.append("")
    return "\n".join(lines) + "\n" + "\n" + "\n".join(render_targets(nums.targets))


def _sweep_lines(nums: ReportNumbers) -> list[str]:
    """The alpha^Delta sweep as a table, and whether retained proportion falls with alpha^Delta."""
    if not nums.sweep:
        return []
    lines = ["| alpha^Delta | retained proportion | BLEU | CE |", "|---|---|---|---|"]
    lines += [
        f"| {p['alpha_delta']} | {p['retained_proportion']:.3f} | {p['bleu']:.2f} | {p['cross_entropy']:.3f} |"
        for p in nums.sweep
    ]
    ret = [p["retained_proportion"] for p in nums.sweep]
    mono = all(a <= b for a, b in zip(ret, ret[1:]))
    return lines + [
        "",
        f"Retained proportion {'falls' if mono else 'does NOT fall'} monotonically as alpha^Delta "
        f"falls ({ret[-1]:.3f} at {nums.sweep[-1]['alpha_delta']} to {ret[0]:.3f} at {nums.sweep[0]['alpha_delta']}).",
        "",
    ]


def _fixed_lines(nums: ReportNumbers) -> list[str]:
    """The fixed-alpha^Delta models against the loss-conditional one, at equal alpha^Delta and at
    equal retained proportion."""
    if not nums.fixed_points:
        return []
    trained = f" (trained {nums.trained_steps} steps)" if nums.trained_steps else ""
    lines = [
        f"Models trained at one fixed alpha^Delta, to check the loss-conditional model{trained} against "
        f"(it should match them: retained proportion within {MATCH_RETAINED}, BLEU within {MATCH_BLEU:g} points):",
        "",
        "| alpha^Delta | fixed model: training steps | retained: fixed | retained: conditional | difference | "
        "BLEU: fixed | BLEU: conditional | difference | matches |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in nums.fixed_points:
        c, steps = p.get("conditional"), p.get("steps") or "?"
        if c is None:
            lines.append(
                f"| {p['alpha_delta']} | {steps} | {p['retained_proportion']:.3f} | | | {p['bleu']:.2f} | | | |"
            )
            continue
        dr, db = c["retained_proportion"] - p["retained_proportion"], c["bleu"] - p["bleu"]
        ok = "yes" if abs(dr) <= MATCH_RETAINED and abs(db) <= MATCH_BLEU else "no"
        lines.append(
            f"| {p['alpha_delta']} | {steps} | {p['retained_proportion']:.3f} | {c['retained_proportion']:.3f} | "
            f"{dr:+.3f} | {p['bleu']:.2f} | {c['bleu']:.2f} | {db:+.2f} | {ok} |"
        )
    lines.append("")
    same = [p for p in nums.fixed_points if p.get("conditional_bleu_same_retained") is not None]
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
    return lines


def _share(layout: dict, key: str) -> str:
    value = layout.get(key)
    return f"{value:.2f}" if value is not None else ""


def rate_distortion_lines(compression: dict[str, dict], what: str = "sentences") -> list[str]:
    """Figure 7's section: what it compares, its table (one row per model and rate) and how often
    the learned choice beats every fixed one."""
    if not compression:
        return []
    lines = [
        "## Figure 7: rate-distortion (learned against fixed choices of components)",
        "",
        f"BLEU on the same {what} against the retained proportion. For a loss-conditional NVAE, at the "
        "alpha^Delta that keeps a quarter, a third, a half and three quarters of the components, its own "
        "(learned) choice against fixed choices decoded by the same model at the same alpha^Delta: the "
        "nearest stride rule, evenly spaced positions and a random subset (the last two with as many "
        "components as the learned choice in every sentence). An NVAE trained at one fixed alpha^Delta "
        "gives the same comparison at its own retained proportion; a baseline, the point of its own rule. "
        "The layout columns say how regular the learned kept set is (a stride gives 1 and 1).",
        "",
        "| model | target | alpha^Delta | retained | BLEU: learned | stride rule | BLEU: stride | "
        "BLEU: evenly spaced | BLEU: random | kept at even positions | regular gaps |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    wins, total = 0, 0
    for name, r in compression.items():
        if not r["rows"]:
            p = r["point"]
            rule = "its own rule" if r["kind"] == "baseline" else "keeps every component"
            ad = f"{p['alpha_delta']:g}" if p.get("alpha_delta") is not None else ""
            lines.append(f"| {name} | | {ad} | {p['retained_proportion']:.3f} | {p['bleu']:.2f} | {rule} | | | | | |")
            continue
        for row in r["rows"]:
            learned, layout = row["learned"], row["learned"].get("layout", {})
            fixed_best = max(row[c]["bleu"] for c in CHOICES if c != "learned")
            wins += learned["bleu"] >= fixed_best
            total += 1

            lines.append(
                f"| {name} | {row['target']:.3f} | {row['alpha_delta']:.4g} | {learned['retained_proportion']:.3f} | "
                f"{learned['bleu']:.2f} | {row['stride'].get('rule', '')} | {row['stride']['bleu']:.2f} | "
                f"{row['evenly_spaced']['bleu']:.2f} | {row['random']['bleu']:.2f} | {_share(layout, 'even_share')} | "
                f"{_share(layout, 'regular_gap_share')} |"
            )
    lines.append("")
    if total:
        lines += [
            f"The learned choice reaches at least the best fixed choice's BLEU at {wins} of {total} "
            f"(model, rate) points.",
            "",
        ]
    lines += [
        "![fig7](figures/fig7_rate_distortion.png) ([interactive](figures/fig7_rate_distortion.html))",
        "",
    ]
    return lines


def _interpolation_lines(nums: ReportNumbers, what: str) -> list[str]:
    """Figure 6: the interpolation table of every model and the first model's example strips."""
    taus = next(iter(nums.interp.values()))["taus"]
    lines = [
        "## Figure 6: interpolation",
        "",
        f"For {nums.pairs} random pairs of {what}, the mixture (1 - tau) F_1 + tau F_2 (position-wise for "
        f"the baselines) decoded greedily at {len(taus)} values of tau.",
        "",
        "| model | " + " | ".join(f"tau={t:.1f}" for t in taus) + " | largest step |",
        "|---|" + "---|" * (len(taus) + 1),
    ]
    for name, st in nums.interp.items():
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
    for ex in next(iter(nums.interp.values()))["examples"]:
        lines.append(f"- S1: {ex['a']}\n- S2: {ex['b']}")
        for t, s in ex["strip"]:
            lines.append(f"  - tau {t:.1f}: {s}")
        lines.append("")
    return lines


# -- docs/reproduction.md: the paper's findings against this report's numbers -----------------------


def render_reproduction(res: dict, produced_by: str) -> str:
    """reproduction.md from the report's results.json (`res`): each of the paper's findings, the
    number that decides it here, and whether it reproduces. The paper is known through its poster,
    which shows figures, not tables, so each verdict is qualitative; the numbers are this report's."""
    table, sweep, interp, tg = res["table"], res["sweep"], res["interpolation"], res.get("targets", {})
    nvae = next((k for k in table if k.startswith("NVAE")), None)
    others = [k for k in table if not k.startswith("NVAE")]
    t_name = next((k for k in others if k.startswith("T ")), None)
    lines = [
        "# Reproduction report: what matches the paper and what does not",
        "",
        f"Written by {produced_by} from its numbers ([results.md](results.md), `results.json`). The paper",
        "(Henderson and Fehr, ICLR 2023) is known here through its poster, which reports findings as",
        "figures, so each comparison is qualitative: the finding, this project's number, a verdict.",
        "",
        "## Findings",
        "",
    ]
    if sweep:
        pts = sorted(sweep, key=lambda s: -s["alpha_delta"])
        monotone = all(a["retained_proportion"] >= b["retained_proportion"] for a, b in zip(pts, pts[1:]))
        series = ", ".join(f"{s['retained_proportion']:.3f} at {s['alpha_delta']:g}" for s in pts)
        bleus = ", ".join(f"{s['bleu']:.1f}" for s in pts)
        lines += [
            f"1. **Figure 5, alpha^Delta controls sparsity: {'reproduces' if monotone else 'does not reproduce'}.** "
            f"The retained proportion {'falls monotonically' if monotone else 'does not fall monotonically'} as "
            f"alpha^Delta falls: {series}, with BLEU {bleus}. As in the paper, BLEU holds while the first "
            "vectors are pruned and falls steeply once most are.",
        ]
    if nvae and t_name:
        d, t = table[nvae], table[t_name]
        ratio = d["bleu"] / t["bleu"] if t["bleu"] else 0.0
        lines += [
            f"2. **Reconstruction with fewer vectors than tokens.** At its default alpha^Delta the NVAE keeps "
            f"{d['retained_proportion']:.3f} of the vectors ({d['mean_retained']:.1f} of {d['mean_input_tokens']:.1f}) "
            f"at BLEU {d['bleu']:.2f}, {ratio:.3f} x T's {t['bleu']:.2f}; the default was chosen on validation.",
        ]
    half = tg.get("half", {})
    if half.get("alpha_delta") is not None and "vts" in half:
        learned, vts = half["learned"]["bleu"], half["vts"]["bleu"]
        verdict = "reproduces" if learned >= vts else "does not reproduce"
        lines += [
            f"3. **Learned pruning against fixed striding: {verdict}.** "
            f"At {half['learned']['retained_proportion']:.3f} of the vectors the NVAE's learned choice reaches "
            f"{learned:.2f} BLEU (every second position of the same model {half['every_second']['bleu']:.2f}, a random "
            f"half {half['random']['bleu']:.2f}); VTS, trained to keep every second vector, {vts:.2f}.",
        ]
    if interp:
        jumps = "; ".join(f"{name} {v['max_jump']:.1f}" for name, v in interp.items())
        novel = {name: max(v["novel"][1:-1]) for name, v in interp.items() if len(v["novel"]) > 2}
        nv = interp.get(nvae, {})
        # the paper's claim is about the NVAE against its baselines (other NVAEs are shown, not compared)
        smoother = nvae in interp and all(nv["max_jump"] <= interp[k]["max_jump"] for k in others if k in interp)
        lines += [
            f"4. **Figure 6, smoother interpolation: {'reproduces' if smoother else 'does not reproduce'}.** "
            f"Largest step between neighbouring tau of the mean BLEU curve against the first sentence: {jumps} "
            "(position-wise mixtures for the baselines). Share of outputs inside the path unlike both decoded "
            "endpoints, at most: " + ", ".join(f"{k} {v:.2f}" for k, v in novel.items()) + ".",
        ]
    lines += [
        "5. **Figure 4, retained vectors against input length**: see the figure in results.md; the NVAE's "
        "curve lies below the diagonal where it keeps fewer vectors than tokens.",
    ]
    prior = tg.get("prior")
    if prior:
        ppl, source = prior.get("perplexity_ratio"), prior.get("source", "prior")
        lines += [
            f"6. **Samples** from {SOURCE_NAMES.get(source, source)} (the default sampler): adjacent repeated "
            f"words {prior['repeat_rate']:.2%}, "
            f"[UNK] {prior['unk_rate']:.1%}"
            + (f", fluency-LM perplexity {ppl:.2f} x that of real test sentences" if ppl is not None else "")
            + "; examples in results.md.",
        ]
    lines += [
        "",
        "## Where this project departs from the paper",
        "",
        "The latent's training departs from the paper's where it measurably helps; each departure, its",
        "reason and its numbers are in [model.md](model.md) and [experiments.md](experiments.md). The paper's",
        "NVIB stays available as `--recipe paper`.",
        "",
    ]
    return "\n".join(lines)


def write_reproduction(folder: Path, produced_by: str) -> Path:
    """Render reproduction.md beside results.json in `folder`."""
    res = json.loads((Path(folder) / "results.json").read_text())
    path = Path(folder) / "reproduction.md"
    path.write_text(render_reproduction(res, produced_by))
    return path
