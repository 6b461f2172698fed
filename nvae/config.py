"""Settings: one dataclass for the model, one for training, each with a JSON round trip.

A checkpoint folder holds `config.json` = {"model": ModelConfig, "train": TrainConfig}; that file
alone (with the tokenizer and weights beside it) is enough to rebuild the model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_TYPES = ("nvae", "t", "vt", "vtp", "vts")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


ALPHA_CONDITIONINGS = ("input", "direct", "budget", "spread", "quantile")
KEEP_POSITIONS = ("learned", "stride", "spread", "tournament")  # which components the NVAE keeps


def _from_dict(cls, data: dict[str, Any]):
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}")
    obj = cls(**data)
    obj.validate()
    return obj


@dataclass
class ModelConfig:
    """Architecture and latent settings. Defaults: the shipped NVAE size."""

    model_type: str = "nvae"  # nvae | t | vt | vtp | vts
    vocab_size: int = 8000
    d_model: int = 256
    n_heads: int = 4
    n_enc_layers: int = 2
    n_dec_layers: int = 2
    d_ff: int = 1024
    dropout: float = 0.1
    max_len: int = 64  # longest input in tokens, end-of-sentence included
    pad_id: int = 0
    unk_id: int = 1
    bos_id: int = 2
    eos_id: int = 3
    # NVIB prior: component 0 is N(prior_mu, prior_var) with pseudo-count prior_alpha.
    prior_mu: float = 0.0
    prior_var: float = 1.0
    prior_alpha: float = 1.0
    # Conditional prior alpha0_p = prior_alpha + alpha_delta * n (docs/nvib.md section 2).
    alpha_delta: float = 0.3
    # Loss-conditional training: alpha_delta is an input of the NVIB layer, drawn per batch
    # log-uniformly from [alpha_delta_min, alpha_delta_max] while training.
    alpha_delta_conditional: bool = False
    alpha_delta_min: float = 0.01
    alpha_delta_max: float = 1.0
    kappa: int = 1  # samples per component while training
    # Share of training batches whose decoder integrates over the Gaussian components (the
    # evaluation form of denoising attention, with sampled Dirichlet weights) instead of attending
    # to sampled vectors. Training on both forms keeps the decoder consistent with how it is
    # evaluated (see docs/model.md).
    gaussian_train_prob: float = 0.5
    # In those batches, use the evaluation-time weights too: pi = alpha / sum(retained alpha), with
    # components at or under `threshold` pruned, so the decoder trains on exactly the set it will
    # be evaluated on. False: Dirichlet-sampled weights over all components.
    gaussian_train_pruned: bool = True
    threshold: float = 0.1  # eval: a component is retained when alpha > threshold
    # How alpha^Delta reaches the pseudo-counts. "input" (the first shipped models): a small MLP
    # of alpha^Delta is added to the encoder states before every projection (so it moves mu too).
    # "direct": log alpha_i = f(h_i) + log alpha^Delta, mu and the variances do not depend on it;
    # this builds in the optimum of KL_D (mean alpha / alpha^Delta = 1 at every alpha^Delta).
    # "budget": alpha_i = alpha^Delta * n * softmax_i(s(alpha^Delta) f(h_i)): the posterior's total
    # pseudo-count is exactly the prior's (KL_D = 0), and the model only decides how to share that
    # budget between the tokens, with a learned sharpness s for each alpha^Delta.
    # "spread": log alpha_i = log alpha^Delta + mean_j f_j + alpha_spread * z_i, z the sentence's
    # standardised scores f: the model learns which tokens rank high and, through KL_D, the level;
    # the spread across tokens is fixed, so the retained proportion cannot collapse into a step.
    # "quantile": as "spread", with z_i the normal quantile of token i's soft rank in its sentence,
    # so the scores cannot bunch: the retained share is about a normal CDF of log alpha^Delta.
    alpha_conditioning: str = "input"
    alpha_spread: float = 1.5
    # The pruning gate while training. "none" (the paper): training batches keep every component
    # (sampled weights) or hard-mask the pruned ones (gaussian_train_pruned), neither with a
    # gradient. "st": every training batch drops exactly the components evaluation prunes
    # (alpha <= threshold), and a straight-through gradient, sigmoid((log alpha - log threshold)
    # / gate_temperature), tells each pseudo-count whether the loss wants its component kept.
    prune_gate: str = "none"
    gate_temperature: float = 1.0
    # Training weights pi ~ Dir(pi_concentration * alpha). 1 is the paper; larger values make the
    # draws less noisy (log pi of a component with alpha 0.1 varies by about 10 nats at 1); 0
    # uses their mean alpha / sum(alpha), with no noise.
    pi_concentration: float = 1.0
    log_alpha_min: float = -10.0
    log_alpha_max: float = 10.0  # exp overflows fp16 at about 11
    init_logvar: float = -4.0  # initial log-variance of the posterior components
    stride: int = 2  # VTS keeps every stride-th position
    # Which components the NVAE keeps. "learned" (the model): those with alpha > threshold.
    # "stride" (a diagnostic of docs/experiments.md): every stride-th position, as VTS keeps, with
    # the rest of the NVIB layer unchanged, to tell the cost of the learned choice from the cost of
    # the mixture itself.
    # "spread" (a diagnostic too): no content in the choice at all; the positions are ranked in the
    # van der Corput order (0, 4, 2, 6, 1, 5, 3, 7 for eight), so the kept set is spread evenly over
    # the sentence at every alpha^Delta (every second position at half, every fourth at a quarter).
    # "tournament": learned, with the positional prior of `spread_bias` in a content order: the van
    # der Corput tree whose every node puts first the half holding the better raw score, so that the
    # prior asks for one token of every pair (of every four, ...) and the scores pick which
    # (`nvib.tournament_order`). Needs spread_bias > 0.
    keep_positions: str = "learned"
    # "learned" with a positional prior on the scores: stride_bias is added to the raw score of every
    # stride-th position and subtracted from the others before alpha^Delta's conditioning, so that
    # the choice starts as VTS's and the model departs from it where the content says so (the raw
    # scores' scale is learned). 0: no prior.
    stride_bias: float = 0.0
    # The same with the van der Corput order (`keep_positions = "spread"`): spread_bias x (1 - 2 vdc(i))
    # is added to position i's raw score, so that at every alpha^Delta the kept set leans towards
    # positions spread evenly over the sentence. 0: no prior.
    spread_bias: float = 0.0
    # Where the pseudo-counts are read. 0 (the paper): from the encoder's output, so no encoder layer
    # knows which tokens will be pruned. k >= 1: from the states after encoder layer k, and a learned
    # vector is added to the tokens that will be kept before the layers after k, which can then move
    # the pruned tokens' information into the kept ones (as VTS's encoder knows its kept positions).
    alpha_layer: int = 0

    def validate(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise ConfigError(f"model_type must be one of {MODEL_TYPES}, got {self.model_type!r}")
        if self.d_model % self.n_heads:
            raise ConfigError(f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")
        for name in (
            "vocab_size",
            "d_model",
            "n_heads",
            "n_enc_layers",
            "n_dec_layers",
            "d_ff",
            "max_len",
            "kappa",
            "stride",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout must be in [0, 1)")
        if self.prior_var <= 0 or self.prior_alpha <= 0:
            raise ConfigError("prior_var and prior_alpha must be > 0")
        if self.alpha_delta < 0:
            raise ConfigError("alpha_delta must be >= 0")
        if not 0 < self.alpha_delta_min <= self.alpha_delta_max:
            raise ConfigError("need 0 < alpha_delta_min <= alpha_delta_max")
        if not 0.0 <= self.gaussian_train_prob <= 1.0:
            raise ConfigError("gaussian_train_prob must be in [0, 1]")
        if self.log_alpha_min >= self.log_alpha_max:
            raise ConfigError("log_alpha_min must be < log_alpha_max")
        if self.alpha_conditioning not in ALPHA_CONDITIONINGS:
            raise ConfigError(
                f"alpha_conditioning must be one of {ALPHA_CONDITIONINGS}, got {self.alpha_conditioning!r}"
            )
        if not self.alpha_spread > 0:
            raise ConfigError("alpha_spread must be > 0")
        if self.prune_gate not in ("none", "st"):
            raise ConfigError(f"prune_gate must be 'none' or 'st', got {self.prune_gate!r}")
        if not self.gate_temperature > 0:
            raise ConfigError("gate_temperature must be > 0")
        if not self.pi_concentration >= 0:
            raise ConfigError("pi_concentration must be >= 0")
        if not self.threshold > 0:
            raise ConfigError("threshold must be > 0")
        if not 0 <= self.alpha_layer < self.n_enc_layers:
            raise ConfigError(f"alpha_layer must be in [0, n_enc_layers - 1], got {self.alpha_layer}")
        if self.alpha_layer and self.model_type != "nvae":
            raise ConfigError("alpha_layer is an NVAE setting (a baseline has no pseudo-counts)")
        if self.keep_positions not in KEEP_POSITIONS:
            raise ConfigError(f"keep_positions must be one of {KEEP_POSITIONS}, got {self.keep_positions!r}")
        if self.keep_positions == "tournament" and not self.spread_bias > 0:
            raise ConfigError("keep_positions=tournament orders the positional prior: it needs spread_bias > 0")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data)


@dataclass
class TrainConfig:
    """Optimisation settings of `python -m nvae train`."""

    data: str = "wikitext-2"  # a local corpus (wikitext-2, wiki-mix), a hub name or a text file
    split: str = "train"
    eval_split: str = "validation"  # periodic evaluation; "" for none. The test split is for the report.
    valid_data: str = ""  # evaluate on this corpus's validation split or this file instead
    max_steps: int = 6000
    batch_size: int = 64
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 300
    grad_clip: float = 1.0
    lambda_g: float = 0.001
    lambda_d: float = 1.0
    kl_start_step: int = 0  # KL weights stay 0 until this step (the decoder first learns to read the latent)
    kl_anneal_steps: int = 1000  # then ramp linearly from 0 to 1 over this many steps
    # Loss-conditional runs: draw alpha^Delta >= this until kl_start_step, then lower the floor to
    # alpha_delta_min over kl_anneal_steps (0: off). Lets the decoder learn to read a latent that
    # keeps its components before the small values prune most of them.
    alpha_delta_warmup_min: float = 0.0
    eval_every: int = 500
    checkpoint_every: int = 200
    eval_sentences: int = 256
    # A checkpoint (or run) folder whose weights and tokenizer start this run: fine-tuning, with a new
    # optimiser and schedule. The model settings must describe the same architecture; the latent's
    # settings (alpha^Delta's range, for one) may differ.
    init_from: str = ""
    seed: int = 0
    amp: str = "auto"  # auto | bf16 | fp16 | none
    vocab_size: int = 8000
    min_tokens: int = 6
    max_tokens: int = 49
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1:
            raise ConfigError("max_steps and batch_size must be >= 1")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr}")
        for name in (
            "weight_decay",
            "lambda_g",
            "lambda_d",
            "warmup_steps",
            "kl_start_step",
            "kl_anneal_steps",
            "eval_sentences",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.grad_clip > 0:
            raise ConfigError(f"grad_clip must be > 0, got {self.grad_clip}")
        for name in ("eval_every", "checkpoint_every", "min_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

        if self.amp not in ("auto", "bf16", "fp16", "none"):
            raise ConfigError("amp must be auto, bf16, fp16 or none")
        if self.min_tokens > self.max_tokens:
            raise ConfigError("min_tokens must be <= max_tokens")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return _from_dict(cls, data)


# Named recipes: settings applied before any --set. "paper" is the NVIB as the paper trains it
# (sampled vectors and Dirichlet weights in every batch, no pruning in training); "v1" the recipe
# of the first shipped models (half the batches in the evaluation form with pruned weights,
# alpha^Delta as an input of the latent layer); "gated" this project's default (docs/model.md).
RECIPES: dict[str, dict[str, Any]] = {
    "paper": {
        "gaussian_train_prob": 0.0,
        "gaussian_train_pruned": False,
        "prune_gate": "none",
        "alpha_conditioning": "input",
        "pi_concentration": 1.0,
    },
    "v1": {
        "gaussian_train_prob": 0.5,
        "gaussian_train_pruned": True,
        "prune_gate": "none",
        "alpha_conditioning": "input",
        "pi_concentration": 1.0,
    },
    "gated": {"gaussian_train_prob": 0.5, "prune_gate": "st", "alpha_conditioning": "direct", "pi_concentration": 1.0},
}


def coerce_setting(obj, key: str, value: Any) -> Any:
    """`value` as the type of field `key` of the config `obj`, or a ConfigError saying what is wanted."""
    current = getattr(obj, key)
    kind = type(current)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    if kind is str:
        if isinstance(value, (dict, list)):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value if isinstance(value, str) else json.dumps(value)
    if kind is dict and not isinstance(value, dict):
        raise ConfigError(f"{key} must be a JSON object, got {value!r}")
    return value


def apply_settings(model: ModelConfig, train: TrainConfig, settings: dict[str, Any]) -> None:
    """Set fields of either config by name (a model field wins), each checked against its field's
    type; unknown names and values of the wrong type raise ConfigError."""
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    for key, value in settings.items():
        if key in model_fields:
            setattr(model, key, coerce_setting(model, key, value))
        elif key in train_fields:
            setattr(train, key, coerce_setting(train, key, value))
        else:
            raise ConfigError(f"unknown setting {key!r}")


def save_configs(path: str | Path, model: ModelConfig, train: TrainConfig | None = None) -> None:
    data = {"model": model.to_dict(), "train": (train or TrainConfig()).to_dict()}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def load_configs(path: str | Path) -> tuple[ModelConfig, TrainConfig]:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or "model" not in data:
        raise ConfigError(f"{path}: expected an object with a 'model' entry")
    return ModelConfig.from_dict(data["model"]), TrainConfig.from_dict(data.get("train", {}))
