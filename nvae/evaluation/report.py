"""The report: the paper's experiments and the latent's targets on the test split, written to
docs/results.md with figures (PNG via matplotlib, interactive HTML via plotly) in docs/figures/:

  table     BLEU / CE / perplexity / retained for the NVAE and every baseline checkpoint
  figure 4  retained vectors against input length
  figure 5  BLEU against retained proportion while sweeping alpha^Delta
  figure 6  interpolation: BLEU of the decoded text against each endpoint across tau, and the
            share of outputs that differ from both endpoints
  figure 7  rate-distortion: BLEU against retained proportion for the learned choice of components
            and fixed choices on the same model (`compression.measure_compression`), for the NVAE
            and every fixed-alpha^Delta NVAE, with the baselines' own points
  targets   nvae/targets.py, with verdicts
  examples  prior samples and interpolations

`report(model, ids, spec)` takes plain values (a ReportSpec); `nvae evaluate --report` builds them.
This module measures (`measure`); `report_render` writes the markdown and the figures.
"""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import alpha_delta_in_range, alpha_delta_is_input
from ..data.text import decode_batch, decode_ids
from ..locations import CHECKPOINTS_DIR, default_checkpoint
from ..model.autoencoder import NVAE
from ..store.checkpoint import load_checkpoint
from ..store.model_card import run_info
from .compression import measure_compression
from .evaluate import (
    alpha_delta_sweep,
    bleu_at_retained,
    cached_reconstruct,
    interpolation_study,
    retained_by_length,
)
from .lm import load_lm
from .report_render import ReportNumbers, render_markdown, write_figures, write_reproduction
from .targets import measure_targets

PRIOR_COMPONENTS = 10  # prior samples: a latent of this many components,
PRIOR_SEEDS = 5  # one sample for each seed 0, 1, ...


@dataclass
class ReportSpec:
    """What a report reads and where it writes."""

    checkpoint: str
    out: str
    pairs: int = 100
    baselines: list[str] | None = None  # None: checkpoints/baseline-*
    fixed: list[str] | None = None  # None: checkpoints/nvae-ad*
    compare: list[str] | None = None  # None: COMPARED (other NVAEs in every table and figure)
    lm: str | None = None
    limit: int | None = None
    use_cache: bool = True
    data: str | None = None  # the sentence file `evaluate` read; None: the corpus split below
    corpus: str = "wikitext-2"
    split: str = "test"

    def command(self) -> str:
        """The command line that reproduces the report."""
        parts = ["python", "-m", "nvae", "evaluate", "--report"]
        if self.checkpoint and Path(self.checkpoint).resolve() != default_checkpoint().resolve():
            parts += ["--checkpoint", str(self.checkpoint)]
        if self.data:
            parts += ["--data", str(self.data)]
        else:
            parts += ["--corpus", self.corpus] if self.corpus != "wikitext-2" else []
            parts += ["--split", self.split] if self.split != "test" else []
        if self.limit:
            parts += ["--limit", str(self.limit)]
        parts += ["--pairs", str(self.pairs)]
        if self.lm:
            parts += ["--lm", str(self.lm)]
        for flag, paths in (("--baselines", self.baselines), ("--fixed", self.fixed), ("--compare", self.compare)):
            if paths is not None:
                parts += [flag, *map(str, paths)]
        return shlex.join(parts)


def _find_baselines(spec: ReportSpec) -> list[Path]:
    if spec.baselines is not None:
        return [Path(p) for p in spec.baselines]
    return sorted(p for p in CHECKPOINTS_DIR.glob("baseline-*") if p.is_dir())


# the other shipped NVAEs a report sets beside its checkpoint: the paper's recipe, and the latent
# that chooses by content with pooled segments (docs/experiments.md)
COMPARED = ("nvae-paper", "nvae-segments")


def _find_compared_nvaes(spec: ReportSpec) -> list[Path]:
    """The other NVAEs the report sets beside the checkpoint (the paper's recipe by default), never
    the checkpoint itself."""
    default = [CHECKPOINTS_DIR / name for name in COMPARED]
    paths = [Path(p) for p in spec.compare] if spec.compare is not None else default
    main = Path(spec.checkpoint).resolve() if spec.checkpoint else None
    return [p for p in paths if p.is_dir() and p.resolve() != main]


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


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def training_texts(models) -> dict[tuple[str, str] | None, int]:
    """(data, split) each model trained on, from its own config (None where unrecorded) -> how many
    of the models trained on it, in the order first met."""
    counts: dict[tuple[str, str] | None, int] = {}
    for m in models:
        tc = getattr(m, "train_cfg", None)
        key = (tc.data, tc.split) if tc else None
        counts[key] = counts.get(key, 0) + 1
    return counts


def measure(model: NVAE, ids: list[list[int]], spec: ReportSpec) -> ReportNumbers:
    """Run the paper's experiments and the targets on the sentences `ids`: every number the report
    states."""
    device = next(model.parameters()).device
    cache = spec.use_cache
    models = {f"NVAE ({_label(spec.checkpoint)})": model}
    for path in _find_compared_nvaes(spec):
        models[f"NVAE ({_label(path)})"] = load_checkpoint(path, device)
    for path in _find_baselines(spec):
        m = load_checkpoint(path, device)
        models[f"{m.cfg.model_type.upper()} ({_label(path)})"] = m
    fixed_paths = {_label(p): Path(p) for p in _find_fixed_nvaes(spec)}
    fixed = dict(
        sorted(
            ((name, load_checkpoint(p, device)) for name, p in fixed_paths.items()),
            key=lambda kv: kv[1].cfg.nvib.alpha_delta,
        )
    )

    # the table, and figure 4 (retained vectors against input length)
    rows, by_length = [], {}
    for name, m in models.items():
        _log(f"report: evaluating {name}")
        res = cached_reconstruct(m, ids, progress=True, use_cache=cache)
        by_length[name] = retained_by_length(res)
        rows.append((name, res.summary()))
    for name, m in fixed.items():
        _log(f"report: evaluating {name}")
        rows.append(
            (
                f"NVAE fixed alpha_delta={m.cfg.nvib.alpha_delta} ({name})",
                cached_reconstruct(m, ids, use_cache=cache).summary(),
            )
        )

    # figure 5: BLEU against retained proportion, sweeping alpha^Delta
    sweep = alpha_delta_sweep(model, ids, use_cache=cache, log=_log)
    fixed_points = [
        {"alpha_delta": m.cfg.nvib.alpha_delta, "steps": _training_steps(fixed_paths[name]), **dict(r)}
        for (_, r), (name, m) in zip(rows[len(models) :], fixed.items())
    ]
    if alpha_delta_is_input(model.cfg):  # the loss-conditional model at each fixed model's value
        for p in fixed_points:
            if alpha_delta_in_range(model.cfg, p["alpha_delta"]):  # else no reading: the cells stay empty
                c = cached_reconstruct(model, ids, alpha_delta=p["alpha_delta"], use_cache=cache).summary()
                p["conditional"] = {k: c[k] for k in ("bleu", "retained_proportion", "cross_entropy")}
            # and at the fixed model's retained proportion (same sparsity, whatever alpha^Delta)
            p["conditional_bleu_same_retained"] = bleu_at_retained(sweep, p["retained_proportion"])

    # figure 7: rate-distortion, the learned choice of components against fixed ones, same sentences
    nvaes = {name: m for name, m in models.items() if m.cfg.is_nvae}
    nvaes.update({row: m for (row, _), m in zip(rows[len(models) :], fixed.values())})
    baseline_rows = {name: r for name, r in rows[: len(models)] if not models[name].cfg.is_nvae}
    compression = rate_distortion_study(nvaes, baseline_rows, ids)

    # figure 6: interpolation
    interp = {}
    for name, m in models.items():
        _log(f"report: interpolation study {name}")
        interp[name] = interpolation_study(m, ids, pairs=spec.pairs)

    # prior samples
    samples = []
    if model.cfg.is_nvae:
        for seed in range(PRIOR_SEEDS):
            lat = model.sample_prior(PRIOR_COMPONENTS, seed=seed)
            samples.append(decode_batch(model.tokenizer, model.generate(lat))[0])

    # the latent's targets (nvae/targets.py), with the baselines the report found and the fluency LM
    by_type = {m.cfg.model_type: m for m in models.values()}
    texts = [decode_ids(model.tokenizer, s) for s in ids]
    targets = measure_targets(
        model,
        texts,
        t_model=by_type.get("t"),
        vts_model=by_type.get("vts"),
        vt_model=by_type.get("vt"),
        lm=load_lm(spec.lm) if spec.lm else None,
        pairs=spec.pairs,
        log=_log,
    )
    return ReportNumbers(
        command=spec.command(),
        data=spec.data,
        corpus=spec.corpus,
        split=spec.split,
        n_sentences=len(ids),
        token_range=(min(map(len, ids)), max(map(len, ids))),
        rows=rows,
        n_models=len(models),
        retained_by_length=by_length,
        sweep=sweep,
        fixed_points=fixed_points,
        trained_steps=_training_steps(Path(spec.checkpoint)),
        pairs=spec.pairs,
        interp=interp,
        prior_components=PRIOR_COMPONENTS,
        prior_seeds=PRIOR_SEEDS,
        samples=samples,
        training_text=training_texts([*models.values(), *fixed.values()]),
        targets=targets,
        compression=compression,
    )


def rate_distortion_study(
    nvaes: dict[str, NVAE], baseline_rows: dict[str, dict], ids: list[list[int]], log=_log
) -> dict[str, dict]:
    """Figure 7's numbers: `measure_compression` of each NVAE on `ids` (a loss-conditional one: a
    curve over the rates; one trained at a fixed alpha^Delta: its own point and the fixed choices
    there), and each baseline's own point from its row of the table (`reconstruct`'s summary on
    the same sentences), named as the table names them."""
    out = {}
    for name, m in nvaes.items():
        log(f"report: rate-distortion {name}")
        out[name] = measure_compression(m, ids)
    for name, r in baseline_rows.items():
        point = {k: r[k] for k in ("bleu", "retained_proportion", "exact_match")}
        out[name] = {"kind": "baseline", "point": {**point, "alpha_delta": None}, "rows": []}
    return out


def report(model: NVAE, ids: list[list[int]], spec: ReportSpec) -> Path:
    """Run the paper's experiments and the targets; write `results.md` + figures into spec.out."""
    out = Path(spec.out)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    numbers = measure(model, ids, spec)
    write_figures(numbers, figs)
    (out / "results.md").write_text(render_markdown(numbers))
    (out / "results.json").write_text(
        json.dumps(
            {
                "table": dict(numbers.rows),
                "sweep": numbers.sweep,
                "fixed": numbers.fixed_points,
                "interpolation": {
                    k: {kk: vv for kk, vv in v.items() if kk != "examples"} for k, v in numbers.interp.items()
                },
                "targets": numbers.targets,
                "rate_distortion": numbers.compression,
            },
            indent=2,
        )
    )
    write_reproduction(out, f"`{spec.command()}`")
    _log(f"report: wrote {out / 'results.md'} and {out / 'reproduction.md'}")
    return out / "results.md"
