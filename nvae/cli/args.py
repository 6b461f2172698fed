"""What the command line's parser (nvae.cli.main) and its commands (nvae.cli.commands, nvae.cli.export) share:
the user's errors, the validators of option values, and the JSON-lines output.

Bad input raises `UsageError`, which `nvae.cli.main.main` reports in one line with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from ..config import alpha_delta_is_input


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


def check_alpha_delta(model, value):
    """A --alpha-delta value `model` accepts (None stays None), or a UsageError; a note on stderr
    when the model was trained at one fixed alpha^Delta. The rule is `nvae.config.resolve_alpha_delta`'s
    ("refuse"): outside a loss-conditional model's trained range, one line and exit status 2."""
    from ..config import AlphaDeltaError, resolve_alpha_delta

    cfg = model.cfg
    try:
        value = resolve_alpha_delta(cfg, value, "refuse", what="--alpha-delta")
    except AlphaDeltaError as e:
        raise UsageError(str(e)) from None
    if value is None:
        return None
    if not alpha_delta_is_input(cfg):
        trained = (
            f"was trained at alpha_delta={cfg.nvib.alpha_delta}"
            if cfg.is_nvae
            else f"is a {cfg.model_type.upper()} baseline"
        )
        print(
            f"note: this model {trained}; --alpha-delta only changes a loss-conditional model's latent",
            file=sys.stderr,
        )
    return value


def emit(obj) -> None:
    """Print one JSON object as one line on stdout."""
    print(json.dumps(obj, ensure_ascii=False))
