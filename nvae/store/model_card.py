"""MODEL_CARD.md of a checkpoint: data and splits, command, seed, time, hardware, metrics, limits."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from ..config import alpha_delta_is_input, load_configs
from ..locations import PROJECT_ROOT
from .checkpoint import describe, read_metrics
from .format import CONFIG, METRICS, MODEL_CARD


def measuring_command(argv: list[str]) -> str:
    """The command line that measured a card, as a shell would take it, with the text of
    `--card-note` shown as NOTE (the card states the note itself; quoted inside the command, an
    apostrophe became '"'"')."""
    shown, skip = [], False
    for arg in argv:
        if skip:
            shown.append("NOTE")
            skip = False
        elif arg == "--card-note":
            shown.append(arg)
            skip = True
        elif arg.startswith("--card-note="):
            shown.append("--card-note=NOTE")
        else:
            shown.append(arg)
    return shlex.join(shown)


def run_info(path: Path) -> dict | None:
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


def kl_statement(model_type: str, train_cfg) -> str:
    """The latent's regulariser in the card's training line, in the model's own terms: the NVAE has
    both KL terms, the VT baselines only the Gaussian one, T none."""
    if train_cfg.kl_start_step or train_cfg.kl_anneal_steps:
        ramp = f"(0 until step {train_cfg.kl_start_step}, then a ramp over {train_cfg.kl_anneal_steps} steps), "
    else:
        ramp = "(at full weight from the first step), "
    if model_type == "nvae":
        return f"KL weights lambda_G {train_cfg.lambda_g}, lambda_D {train_cfg.lambda_d} {ramp}"
    if model_type == "t":
        return "no latent regulariser, "
    return f"Gaussian KL weight lambda_G {train_cfg.lambda_g} {ramp}"


def init_statement(init_from: str) -> str:
    """Where a fine-tune's starting weights came from, with that run's steps and training time when
    its folder is still here (the steps and minutes of the card's training line are this run's own)."""
    name = project_relative(init_from)
    rows = read_metrics(Path(init_from) if Path(init_from).is_absolute() else PROJECT_ROOT / init_from)
    if not rows:
        return f"the weights of `{name}` (a fine-tune: the training line counts its own steps only)."
    steps = max(r.get("step", 0) for r in rows)
    return (
        f"the weights of `{name}` after its {steps:,} steps and {training_time_s(rows) / 60:.0f} minutes "
        "of training (the training line counts this fine-tune's own)."
    )


def project_relative(command: str) -> str:
    """A recorded command with the project folder's absolute path taken out of its arguments."""
    return command.replace(f"{PROJECT_ROOT}/", "")


def _existing_note(checkpoint: Path) -> str:
    """The note of the model card already in `checkpoint`, or ""."""
    card = Path(checkpoint) / "MODEL_CARD.md"
    if not card.exists():
        return ""
    for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("- **Note**: "):
            return line[len("- **Note**: ") :]
    return ""


def write_model_card(
    checkpoint: Path, summary: dict | None, sweep: list[dict], run_info: dict | None, note: str = ""
) -> Path:
    """MODEL_CARD.md of a checkpoint: data, command, seed, time, hardware, metrics, limits."""
    model_cfg, train_cfg = load_configs(checkpoint / CONFIG)
    info = describe(checkpoint)
    metrics = read_metrics(checkpoint) if (checkpoint / METRICS).exists() else []
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
    if model_cfg.is_nvae:
        if alpha_delta_is_input(model_cfg):
            lines.append(
                f"- **alpha^Delta**: loss-conditional; drawn log-uniformly in [{model_cfg.nvib.alpha_delta_min}, "
                f"{model_cfg.nvib.alpha_delta_max}] per batch while training; default {model_cfg.nvib.alpha_delta}."
            )
        else:
            lines.append(f"- **alpha^Delta**: fixed at {model_cfg.nvib.alpha_delta}.")
        lines.append(
            f"- **Prior**: mu {model_cfg.prior_mu}, var {model_cfg.prior_var}, alpha {model_cfg.nvib.prior_alpha}; "
            f"kappa {model_cfg.nvib.kappa}; pruning threshold alpha <= {model_cfg.threshold}."
        )
    lines += [
        f"- **Data**: {data_statement(train_cfg, run_info)}",
        f"- **Training**: {steps} steps, batch {train_cfg.batch_size}, AdamW lr {train_cfg.lr}, warm-up "
        f"{train_cfg.warmup_steps}, "
        + kl_statement(model_cfg.model_type, train_cfg)
        + f"seed {train_cfg.seed}; {minutes:.0f} minutes of training wall time.",
        f"- **Hardware**: {run_info.get('hardware', 'not recorded').replace(' 1 torch threads', ' 1 torch thread')}.",
    ]
    if run_info.get("command"):
        lines.append(f"- **Command**: `{project_relative(run_info['command'])}`")
    for call in run_info.get("resumed", []):
        lines.append(f"- **Resumed** at step {call['start_step']} with `{project_relative(call['command'])}`")
    if train_cfg.init_from:
        lines.append(f"- **Initialised from** {init_statement(train_cfg.init_from)}")
    note = note or _existing_note(checkpoint)  # a card rewritten without a note keeps the one it had
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
        command = measuring_command(sys.argv[1:])
        lines += [
            "",
            "## Metrics on the test split",
            "",
            f"Measured by `python -m nvae {command}`"
            + (" (NOTE: the note above)." if "--card-note" in command else "."),
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
        f"- Trained on {size}; expect unknown words to be copied as [UNK] or misspelt"
        + (", and prior samples to be only locally fluent." if model_cfg.model_type != "t" else "."),
        "- Output is lowercase (uncased tokenizer); BLEU is measured against the tokenizer's round trip of each input.",
        "- Sentences longer than the model's limit are truncated.",
        "",
    ]
    path = checkpoint / MODEL_CARD
    path.write_text("\n".join(lines))
    return path
