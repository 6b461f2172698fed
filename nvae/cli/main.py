"""The nvae command line (`nvae COMMAND ...` or `python -m nvae COMMAND ...`): encode, interpolate and
sample sentences, study a corpus or a file of pairs, train, ablate, evaluate and export models.

Every command that needs a model defaults `--checkpoint` to the shipped default
(`checkpoints/nvae-default`, or the NVAE_CHECKPOINT environment variable). Bad input gets a
one-line error on stderr and exit status 2, never a traceback. Output is JSON (one object per
line) so studies can pipe it into other tools.
"""

from __future__ import annotations

import argparse
import sys

from ..config import RECIPES as _RECIPES
from ..locations import PROJECT_ROOT, default_checkpoint
from .args import ALPHA_DELTA, COUNT, SEED, UsageError, number
from .commands import (
    cmd_ablate,
    cmd_demo,
    cmd_encode,
    cmd_evaluate,
    cmd_interpolate,
    cmd_lm,
    cmd_map,
    cmd_pairs,
    cmd_rate_distortion,
    cmd_sample,
    cmd_study,
    cmd_train,
)
from .export import cmd_export

RECIPE_NAMES = tuple(_RECIPES)
TRAINING_COMMANDS = ("train", "ablate", "lm")  # the commands that need autograd
AD_HELP = "the conditional prior of a loss-conditional model (default: the checkpoint's own)"
RECIPE_HELP = (
    "a named configuration (nvae/config.py RECIPES): the paper's or a shipped checkpoint's, applied before --set"
)
ABLATE_RECIPE_HELP = "a named configuration's model settings (its corpus and budget are the harness's)"


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr and exit status 2 (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message}\n")


def alpha_delta_option(sp: argparse.ArgumentParser) -> None:
    """--alpha-delta for the commands that read a model at one alpha^Delta."""
    sp.add_argument("--alpha-delta", type=ALPHA_DELTA, default=None, help=AD_HELP)


def mixing_option(sp: argparse.ArgumentParser) -> None:
    """--mixing for the commands that decode interpolations."""
    from ..model.mixture import DEFAULT_MIXING, MIXINGS

    sp.add_argument(
        "--mixing",
        choices=MIXINGS,
        default=DEFAULT_MIXING,
        help="how tau is shared among the components: sweep (B's components replace A's from the first "
        "token on) or uniform (the paper's (1-tau) F_A + tau F_B); default %(default)s",
    )


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
    alpha_delta_option(sp)
    sp.add_argument(
        "--prior",
        type=number(0, 50, what="a number"),
        default=None,
        help="the positional prior's strength for this call, as Inspect's control and its link's `prior` "
        "(0: the content score alone; default: the checkpoint's own); an NVAE only",
    )
    sp.set_defaults(func=cmd_encode)

    sp = with_model(sub.add_parser("interpolate", help="decode mixtures of F_A and F_B from tau = 0 to 1"))
    sp.add_argument("a", help="the first sentence (tau = 0)")
    sp.add_argument("b", help="the second sentence (tau = 1)")
    sp.add_argument(
        "--steps",
        type=number(2, 101, integer=True, what="an integer"),
        default=11,
        help="taus, 0 to 1 (default 11)",
    )
    mixing_option(sp)
    sp.set_defaults(func=cmd_interpolate)

    sp = with_model(sub.add_parser("sample", help="sentences decoded from the prior"))
    sp.add_argument("--n", type=number(1, 1000, integer=True, what="an integer"), default=5, help="samples (default 5)")
    sp.add_argument("--seed", type=SEED, default=0, help="random seed (default 0)")
    sp.add_argument("--components", type=COUNT, default=10, help="number of prior components (besides one)")
    sp.add_argument("--temperature", type=number(0.0, 10.0), default=0.0, help="0 = greedy")
    alpha_delta_option(sp)
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
    sp.add_argument("--split", default="test", choices=["train", "validation", "test"], help="(default test)")
    sp.add_argument(
        "--corpus", default="wikitext-2", help="wikitext-2 or wiki-mix (the repository's data/), a hub name"
    )
    sp.add_argument("--limit", type=COUNT, default=None, help="evaluate the first N sentences only")
    alpha_delta_option(sp)
    sp.add_argument(
        "--batch-size", type=number(1, 4096, integer=True, what="an integer"), default=64, help="(default 64)"
    )
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
    sp.add_argument(
        "--compare",
        nargs="*",
        default=None,
        help="other NVAEs for every table and figure of the report beside the checkpoint "
        "(default: checkpoints/nvae-paper, the paper's recipe, and checkpoints/nvae-segments)",
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
        "--rate-distortion",
        action="store_true",
        help="also measure BLEU at retained 0.25, 1/3, 0.5 and 0.75 for the learned choice of components "
        "against the nearest stride rule, evenly spaced positions and a random subset, on the same model "
        "(a loss-conditional NVAE)",
    )
    sp.add_argument(
        "--targets",
        action="store_true",
        help="also measure the latent's five targets on these sentences (at --alpha-delta, else the default) and "
        "print them: the report's section without the rest, for experiments on the validation split (the "
        "targets' own setting: --pairs 50); baselines only those given with --baselines",
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
    sp.add_argument(
        "--model-type", choices=["nvae", "t", "vt", "vtp", "vts"], help="the NVAE or a baseline (default nvae)"
    )
    sp.add_argument("--recipe", choices=sorted(RECIPE_NAMES), help=RECIPE_HELP)
    sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or train setting")
    sp.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint")
    sp.add_argument("--overwrite", action="store_true", help="delete the run already in --out and start again")
    sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("ablate", help="train a small model for a fixed budget and print the latent's measures")
    sp.add_argument("name", help="run folder under runs/ablations/ (an existing finished run is only re-measured)")
    sp.add_argument("--recipe", choices=sorted(RECIPE_NAMES), help=ABLATE_RECIPE_HELP)
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
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_ablate)

    sp = with_model(sub.add_parser("study", help="a sparsity study of a corpus file (one sentence per line), as JSON"))
    sp.add_argument("file")
    alpha_delta_option(sp)
    sp.add_argument("--out", default=None, help="also write the JSON to this file")
    sp.set_defaults(func=cmd_study)

    sp = with_model(
        sub.add_parser("pairs", help="the interpolation study of a TSV of sentence pairs (A<TAB>B per line), as JSON")
    )
    sp.add_argument("file")
    sp.add_argument("--steps", type=number(3, 41, integer=True, what="an integer"), default=11, help="taus per pair")
    sp.add_argument("--grid", choices=["linear", "logodds"], default="linear", help="how the taus are spread")
    mixing_option(sp)
    alpha_delta_option(sp)
    sp.add_argument("--out", default=None, help="also write the JSON to this file")
    sp.set_defaults(func=cmd_pairs)

    sp = with_model(sub.add_parser("demo", help="choose the demo set (examples/) on the validation split with a model"))
    sp.add_argument("--out", default=str(PROJECT_ROOT / "examples"), help="folder to write (default examples/)")
    sp.add_argument("--sentences", type=number(0, 50, integer=True, what="an integer"), default=6,
                    help="validation sentences to add to the written ones (default 6)")  # fmt: skip
    sp.add_argument("--pairs", type=number(0, 20, integer=True, what="an integer"), default=4,
                    help="interpolation pairs (default 4)")  # fmt: skip
    sp.add_argument("--pool", type=number(10, 5000, integer=True, what="an integer"), default=300,
                    help="validation sentences drawn to choose from (default 300)")  # fmt: skip
    alpha_delta_option(sp)
    sp.add_argument("--seed", type=SEED, default=0, help="seed of the draw (default 0)")
    sp.add_argument("--force", action="store_true", help="replace the files already in --out")
    sp.set_defaults(func=cmd_demo)

    sp = sub.add_parser("lm", help="the fluency language model: train it, or score sentences with it")
    sp.add_argument("action", choices=["train", "score"])
    sp.add_argument("text", nargs="*", help="sentences to score")
    sp.add_argument(
        "--out",
        default=str(PROJECT_ROOT / "checkpoints" / "lm-wiki-mix"),
        help="the model's folder (default checkpoints/lm-wiki-mix)",
    )
    sp.add_argument("--file", help="sentences to score, one per line")
    sp.add_argument("--data", default="wiki-mix", help="corpus whose train split it learns (default wiki-mix)")
    sp.add_argument("--steps", type=COUNT, default=3000, help="training steps of batch 64 (default 3000)")
    sp.add_argument("--seed", type=SEED, default=0, help="random seed of the training (default 0)")
    sp.add_argument("--force", action="store_true", help="replace a trained model in --out")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_lm)

    sp = sub.add_parser("map", help="write CHECKPOINT/latent_map.npz: the app's Latent map, computed once")
    sp.add_argument("checkpoint", help="checkpoint folder")
    sp.add_argument(
        "--sentences",
        type=number(10, 5000, integer=True, what="an integer"),
        default=300,
        help="test sentences on the map (the app's NVAE_APP_MAP_SENTENCES must match to use the file)",
    )
    sp.add_argument("--out", default=None, help="write here instead of CHECKPOINT/latent_map.npz")
    sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_map)

    sp = sub.add_parser(
        "rate-distortion",
        help="write CHECKPOINT/rate_distortion.json: BLEU against the retained proportion, learned against "
        "fixed choices of components (the app's Sparsity page)",
    )
    sp.add_argument("checkpoint", help="checkpoint folder")
    sp.add_argument("--split", default="validation", choices=["train", "validation", "test"],
                    help="(default validation)")  # fmt: skip
    sp.add_argument("--corpus", default="wikitext-2",
                    help="wikitext-2 (default; its validation and test splits are wiki-mix's) or wiki-mix")  # fmt: skip
    sp.add_argument("--limit", type=COUNT, default=300, help="the split's first N sentences (default 300)")
    sp.add_argument("--force", action="store_true", help="replace the file already there")
    sp.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if available)")
    sp.add_argument("--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_rate_distortion)

    sp = sub.add_parser("export", help="copy a run's checkpoint for shipping (optionally half precision)")
    sp.add_argument("run", help="a training run folder (its checkpoint/ is exported) or a checkpoint folder")
    sp.add_argument("dest", help="the checkpoint folder to write (for example checkpoints/nvae-default)")
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
        "--kept-chooser",
        choices=("score", "segments"),
        default=None,
        help="who places a pooling NVAE's kept components from now on: its pseudo-count score, or the "
        "segmentation of its own vectors (docs/nvib.md section 9); set before anything is chosen",
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
    sp.add_argument(
        "--choose-spread-bias",
        action="store_true",
        help="choose a loss-conditional NVAE's positional prior of the kept set (spread_bias) on the "
        "validation split, before its default alpha^Delta",
    )
    sp.add_argument(
        "--choose-sentences",
        type=COUNT,
        default=500,
        help="validation sentences for --choose-alpha-delta and --choose-spread-bias",
    )
    sp.set_defaults(func=cmd_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..config import ConfigError
    from ..store.format import CheckpointError

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
