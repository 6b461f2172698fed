"""The latent's targets, measured on one split (the report reads the test split): plain values
in, a dict out, and its markdown section.

1. alpha^Delta is a smooth control (26 log-spaced values: monotone, >= 60% strictly inside
   (0.1, 0.9), no jump > 0.10);
2. learned pruning beats fixed striding (at retained 0.5: the NVAE against VTS, every second
   position and a random half on the same NVAE);
3. a useful default (retained <= 0.6 at BLEU >= 0.95 x T; short sentences exact);
4. interpolations move through the middle (50 pairs, 11 steps: median distinct >= 4, median
   largest BLEU step <= 40, endpoints match the reconstructions; fluency under an independent LM
   beside T's and VT's position-wise paths; the share of endpoints that reproduce the inputs
   themselves is reported beside it, `evaluation.endpoints`). Measured on the default mixing
   (`mixture.DEFAULT_MIXING`, the app's and the CLI's), with the paper's uniform mixing beside it;
5. prior samples land on the data (40 samples: repeats <= 3%, [UNK] <= 3%, LM perplexity within
   2x of real sentences). Measured on the sampler the app and `nvae sample` use by default: the
   aggregate-posterior fit when the checkpoint has one, else the prior; the prior's own samples
   are measured beside it when they are not the default;
6. the NVIB chooses the kept set (no positional prior; at retained 0.5 at most 70% of the kept
   positions even and at most 70% of the gaps equal to the sentence's most common gap);
7. very short inputs (1 to 5 word pieces) keep a component and come back exactly at the default.
"""

from __future__ import annotations

import torch

from ..config import alpha_delta_is_input
from ..data.text import encode_texts
from ..model.autoencoder import NVAE
from ..model.grids import FINE_CURVE_POINTS, alpha_delta_values
from ..model.mixture import DEFAULT_MIXING
from .endpoints import INPUTS, MATCH, endpoint_value, with_endpoints
from .measures import (
    SHORT_SENTENCES,
    interpolation_paths,
    kept_layout,
    prior_sample_stats,
    pruning_comparison,
    retained_curve,
    short_inputs,
    short_sentences_exact,
    smoothness,
)
from .metrics import reconstruct
from .sampling import SOURCE_NAMES, default_source

GOALS = {
    "slider_inside": 0.6,
    "slider_max_jump": 0.10,
    "default_retained": 0.6,
    "default_bleu_ratio": 0.95,
    "interp_distinct": 4,
    "interp_step": 40.0,
    "prior_repeat": 0.03,
    "prior_unk": 0.03,
    "prior_ppl_ratio": 2.0,
    "layout_even": 0.70,
    "layout_regular": 0.70,
}


def _ids(model: NVAE, texts: list[str]) -> list[list[int]]:
    return encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)[0]


def _middle_texts(paths: dict) -> list[str]:
    """The decoded sentences strictly inside the paths (0 < tau < 1)."""
    return [s for r in paths["records"] for s in r["strip"][1:-1]]


@torch.no_grad()
def measure_targets(
    model: NVAE,
    texts: list[str],
    t_model: NVAE | None = None,
    vts_model: NVAE | None = None,
    vt_model: NVAE | None = None,
    lm=None,
    pairs: int = 50,
    samples: int = 40,
    sample_components: int = 20,
    log=None,
) -> dict:
    """Every target on `texts` (sentences of one split) for the NVAE `model` at its default."""
    log = log or (lambda msg: None)
    ids = _ids(model, texts)
    res: dict = {"sentences": len(ids), "goals": GOALS}

    log("targets: slider")
    curve = retained_curve(model, ids, alpha_delta_values(model.cfg))
    res["slider"] = {**smoothness(curve), "curve": curve}

    log("targets: pruning at half the vectors")
    fine = (
        retained_curve(model, ids, alpha_delta_values(model.cfg, FINE_CURVE_POINTS))
        if alpha_delta_is_input(model.cfg)
        else curve
    )
    res["half"] = pruning_comparison(model, ids, 0.5, curve=fine)
    if vts_model is not None:
        s = reconstruct(vts_model, _ids(vts_model, texts)).summary()
        res["half"]["vts"] = {"bleu": s["bleu"], "retained_proportion": s["retained_proportion"]}

    log("targets: the default")
    s = reconstruct(model, ids).summary()
    res["default"] = {"alpha_delta": model.cfg.nvib.alpha_delta, **s}
    if t_model is not None:
        t = reconstruct(t_model, _ids(t_model, texts)).summary()
        res["default"]["t_bleu"] = t["bleu"]
        res["default"]["bleu_ratio"] = s["bleu"] / t["bleu"] if t["bleu"] else None
    res["default"]["short"] = short_sentences_exact(model, SHORT_SENTENCES)

    log("targets: who chooses the kept set, very short inputs")
    if res["half"].get("alpha_delta") is not None:
        ad = res["half"]["alpha_delta"]
        res["layout"] = {
            "alpha_delta": ad,
            "spread_bias": float(model.cfg.nvib.spread_bias),
            **kept_layout(model, ids, ad),
        }
    res["very_short"] = short_inputs(model)

    # target 4 on the default mixing (the app's and the CLI's), with the paper's uniform mixing
    # beside it; T and VT (position-wise) on both
    mixings = {"interpolation": DEFAULT_MIXING}
    if DEFAULT_MIXING != "uniform":
        mixings["interpolation_uniform"] = "uniform"
    for key, mixing in mixings.items():
        log(f"targets: interpolation ({mixing} mixing)")
        res[key] = {}
        for name, m in (("NVAE", model), ("T", t_model), ("VT", vt_model)):
            if m is not None:
                paths = interpolation_paths(m, _ids(m, texts), pairs=pairs, steps=11, mixing=mixing)
                res[key][name] = _path_entry(paths, lm)

    log("targets: prior samples")
    real = lm.perplexity(texts[:500]) if lm is not None else None
    source = default_source(model)
    res["prior"] = sample_entry(model, source, samples, sample_components, lm, real)
    if source != "prior":
        res["prior_paper"] = sample_entry(model, "prior", samples, sample_components, lm, real)
    res["verdicts"] = verdicts(res)
    return res


def _path_entry(p: dict, lm=None) -> dict:
    """The medians of `interpolation_paths`, both endpoint measures (`evaluation.endpoints`), the LM
    perplexity of the middle steps, three strips."""
    entry = {k: p[k] for k in ("median_distinct", "median_largest_step", "pairs", "mixing")}
    ends = with_endpoints(p)
    entry.update({MATCH: ends[MATCH], INPUTS: ends[INPUTS]})
    if lm is not None:
        entry["middle_perplexity"] = lm.perplexity(_middle_texts(p))
    if "step_kinds" in p:  # what the middle steps are: copies, splices, concatenations, other
        entry["step_kinds"] = p["step_kinds"]
    entry["examples"] = [{"a": r["a"], "b": r["b"], "strip": r["strip"]} for r in p["records"][:3]]
    return entry


def sample_entry(model: NVAE, source: str, n: int, components: int, lm=None, real_perplexity=None) -> dict:
    """Repeat and [UNK] rates of `n` decoded samples from `source`, five examples, and their
    perplexity under the fluency LM against that of real sentences (when an LM is given)."""
    stats = prior_sample_stats(model, n=n, components=components, source=source)
    entry = {k: stats[k] for k in ("repeat_rate", "unk_rate", "words", "source")}
    entry["components"] = components
    entry["examples"] = stats["samples"][:5]
    if lm is not None:
        entry["perplexity"] = lm.perplexity(stats["samples"])
        entry["real_perplexity"] = real_perplexity
        entry["perplexity_ratio"] = entry["perplexity"] / real_perplexity
    return entry


def _path_measures(paths: dict) -> str:
    """The NVAE's medians and endpoint measures on one mixing (results stored before the rename
    read too), and the LM perplexity of every model's middle steps."""
    it = paths["NVAE"]
    fluency = ", ".join(f"{n} {e['middle_perplexity']:.1f}" for n, e in paths.items() if "middle_perplexity" in e)
    inputs = endpoint_value(it, INPUTS)
    return (
        f"median distinct {it['median_distinct']}, median largest step {it['median_largest_step']:.1f}, endpoints "
        f"match reconstructions {endpoint_value(it, MATCH):.0%}"
        + (f", endpoints reproduce inputs {inputs:.0%}" if inputs is not None else "")
        + (f"; LM perplexity of the middle steps: {fluency}" if fluency else "")
        + (f"; middle steps: {_kinds(it['step_kinds'])}" if it.get("step_kinds") else "")
    )


def _kinds(k: dict) -> str:
    """'copies 17%, splices 18%, concatenations 0%, other 65% (a splice explains 87% of a step's words)'."""
    names = {"copy": "copies", "splice": "splices", "concatenation": "concatenations", "other": "other"}
    shares = ", ".join(f"{names[n]} {v:.0%}" for n, v in k["shares"].items() if v is not None)
    cover = k.get("mean_splice_coverage")
    return shares + (f" (a splice explains {cover:.0%} of a step's words on average)" if cover is not None else "")


def _sample_measures(p: dict) -> str:
    ppl = p.get("perplexity_ratio")
    return f"repeats {p['repeat_rate']:.2%}, [UNK] {p['unk_rate']:.1%}" + (
        f", LM perplexity {p['perplexity']:.1f} = {ppl:.2f} x real sentences" if ppl is not None else ""
    )


def verdicts(res: dict) -> list[dict]:
    """One row per target: what was measured, the goal, met or not (None: not measured)."""
    g, rows = res["goals"], []

    def row(target, measured, goal, met):
        rows.append({"target": target, "measured": measured, "goal": goal, "met": met})

    sl = res["slider"]
    row(
        "1. alpha^Delta is a smooth control",
        f"monotone {sl['monotone']}, {sl['share_inside']:.0%} of 26 values inside (0.1, 0.9), "
        f"largest jump {sl['max_jump']:.3f}",
        f"monotone, >= {g['slider_inside']:.0%} inside, jump <= {g['slider_max_jump']}",
        sl["monotone"] and sl["share_inside"] >= g["slider_inside"] and sl["max_jump"] <= g["slider_max_jump"],
    )
    h = res["half"]
    if h.get("alpha_delta") is None:
        row("2. learned pruning beats striding", "the model never keeps half its vectors", "-", False)
    else:
        vts = h.get("vts", {}).get("bleu")
        learned = h["learned"]["bleu"]
        beats = learned >= h["every_second"]["bleu"] and learned >= h["random"]["bleu"]
        met = (None if beats else False) if vts is None else beats and learned >= vts
        row(
            "2. learned pruning beats striding",
            f"at retained {h['learned']['retained_proportion']:.3f}: learned {learned:.2f}, every second "
            f"{h['every_second']['bleu']:.2f}, random half {h['random']['bleu']:.2f}, VTS "
            + (f"{vts:.2f} (retained {h['vts']['retained_proportion']:.3f})" if vts is not None else "not measured"),
            "learned >= VTS, every second and random",
            met,
        )
    d = res["default"]
    short = d["short"]
    ratio = d.get("bleu_ratio")
    row(
        "3. a useful default",
        f"alpha^Delta {d['alpha_delta']:.4g}: retained {d['retained_proportion']:.3f}, BLEU {d['bleu']:.2f}"
        + (f" = {ratio:.3f} x T" if ratio is not None else "")
        + f"; short sentences exact {sum(s['exact'] for s in short)} of {len(short)}",
        f"retained <= {g['default_retained']}, BLEU >= {g['default_bleu_ratio']} x T, all short sentences exact",
        None
        if ratio is None
        else d["retained_proportion"] <= g["default_retained"]
        and ratio >= g["default_bleu_ratio"]
        and all(s["exact"] for s in short),
    )
    it = res["interpolation"]["NVAE"]
    measured = f"{it.get('mixing', 'uniform')} mixing (the default): {_path_measures(res['interpolation'])}"
    if "interpolation_uniform" in res and it.get("mixing") != "uniform":
        measured += f"; uniform mixing (the paper's): {_path_measures(res['interpolation_uniform'])}"
    row(
        "4. interpolations move through the middle",
        measured,
        f"distinct >= {g['interp_distinct']}, step <= {g['interp_step']:.0f}, endpoints match reconstructions",
        it["median_distinct"] >= g["interp_distinct"]
        and it["median_largest_step"] <= g["interp_step"]
        and endpoint_value(it, MATCH) == 1.0,
    )
    p = res["prior"]
    ppl = p.get("perplexity_ratio")
    source = p.get("source", "prior")
    measured = f"from {SOURCE_NAMES.get(source, source)} (the default sampler): {_sample_measures(p)}"
    if "prior_paper" in res:
        measured += f"; from {SOURCE_NAMES['prior']}: {_sample_measures(res['prior_paper'])}"
    row(
        "5. prior samples land on the data",
        measured,
        f"repeats <= {g['prior_repeat']:.0%}, [UNK] <= {g['prior_unk']:.0%}, perplexity <= {g['prior_ppl_ratio']}x",
        p["repeat_rate"] <= g["prior_repeat"]
        and p["unk_rate"] <= g["prior_unk"]
        and (ppl is None or ppl <= g["prior_ppl_ratio"]),
    )
    _kept_set_rows(res, row)
    return rows


def _kept_set_rows(res: dict, row) -> None:
    """Rows 6 and 7: who chooses the kept set at half (no positional prior, an irregular layout) and
    very short inputs (something kept, reconstructed exactly). Absent from results written before."""
    g = res["goals"]
    lay = res.get("layout")
    if lay is not None:
        prior = lay["spread_bias"]
        row(
            "6. the NVIB chooses the kept set",
            f"at retained 0.5 (alpha^Delta {lay['alpha_delta']:.4g}): kept positions even {lay['even_share']:.2f}, "
            f"gaps equal to the sentence's most common gap {lay['regular_gap_share']:.2f}; positional prior "
            + (f"of strength {prior:g}" if prior else "none"),
            f"no positional prior, even <= {g.get('layout_even', 0.7):.2f}, regular gaps <= "
            f"{g.get('layout_regular', 0.7):.2f}",
            prior == 0
            and lay["even_share"] <= g.get("layout_even", 0.7)
            and lay["regular_gap_share"] <= g.get("layout_regular", 0.7),
        )
    vs = res.get("very_short")
    if vs is not None:
        row(
            "7. very short inputs keep something",
            f"{vs['n']} inputs of 1 to 5 word pieces at the default: {vs['n'] - vs['kept_none']} keep a component, "
            f"{vs['exact']} come back exactly",
            "every one keeps a component and comes back exactly",
            vs["kept_none"] == 0 and vs["exact"] == vs["n"],
        )


def render_targets(res: dict) -> list[str]:
    """The markdown lines of the report's targets section."""
    mark = {True: "met", False: "**missed**", None: "not measured"}
    lines = [
        "## The latent's targets",
        "",
        f"On {res['sentences']} sentences of this split, the NVAE at its default alpha^Delta "
        f"({res['default']['alpha_delta']:.4g}) unless a row says otherwise.",
        "",
        "| target | measured | goal | verdict |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['target']} | {r['measured']} | {r['goal']} | {mark[r['met']]} |" for r in res["verdicts"]]
    lines += ["", "Retained proportion over the slider:", "", "| alpha^Delta | retained |", "|---|---|"]
    lines += [f"| {p['alpha_delta']:.4g} | {p['retained_proportion']:.3f} |" for p in res["slider"]["curve"]]
    lines += ["", "Short sentences at the default:", ""]
    lines += [
        f"- {s['text']} -> {s['reconstruction']} ({'exact' if s['exact'] else 'not exact'}, "
        f"{s['retained']} of {s['tokens']} vectors)"
        for s in res["default"]["short"]
    ]
    if "very_short" in res:
        lines += ["", "Very short inputs at the default:", ""]
        lines += [
            f"- {s['text']} -> {s['reconstruction'] or '(nothing)'} ({'exact' if s['exact'] else 'not exact'}, "
            f"{s['retained']} of {s['tokens']} vectors)"
            for s in res["very_short"]["inputs"]
        ]
    for key in ("prior", "prior_paper"):
        if key in res:
            source = res[key]["source"]
            default = " (the default sampler of the app and `nvae sample`)" if key == "prior" else ""
            lines += ["", f"Samples from {SOURCE_NAMES.get(source, source)}{default}:", ""]
            lines += [f"- {t}" for t in res[key]["examples"]]
    for key in ("interpolation", "interpolation_uniform"):
        if key not in res:
            continue
        nvae = res[key]["NVAE"]
        for e in nvae["examples"][:1]:
            lines += ["", f"An interpolation, {nvae.get('mixing', 'uniform')} mixing: {e['a']} -> {e['b']}", ""]
            lines += [f"    tau {k / 10:.1f}: {s}" for k, s in enumerate(e["strip"])]
    lines.append("")
    return lines
