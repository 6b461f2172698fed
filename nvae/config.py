"""Settings: one dataclass for the model, one for training, each with a JSON round trip, and the
named recipes.

A checkpoint folder holds `config.json` = {"model": ModelConfig, "train": TrainConfig}; that file
alone (with the tokenizer and weights beside it) is enough to rebuild the model. ModelConfig's
defaults are the shipped default NVAE's recipe; `RECIPES` names the paper's configuration and each
shipped checkpoint's. Reading a config migrates what earlier versions wrote: a renamed field is read
under its new name, a closed experiment's field loads at its neutral value and fails otherwise.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_TYPES = ("nvae", "t", "vt", "vtp", "vts")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


ALPHA_CONDITIONINGS = ("none", "quantile")  # how alpha^Delta reaches the pseudo-counts
KEEP_POSITIONS = ("learned", "tournament")  # how the positional prior orders the positions
KEPT_POOLINGS = ("none", "segment")  # what a kept component stands for (kept_set.pool_segments)
KEPT_CHOOSERS = ("score", "segments")  # who places the kept components (kept_set.choose_segments)
DECODE_FORMS = ("integral", "means")  # how the decoder reads an evaluation latent (attention.LatentCrossAttention)

# The closed experiments: fields and values that earlier checkpoints may name and the code no longer
# has (docs/experiments.md has each one's measurements). A removed field at its neutral value is
# dropped when a config is read; any other value fails with one line naming the commit that still
# runs it.
LAST_COMMIT_WITH_EXPERIMENTS = "8f2cd48"
REMOVED_FIELDS = {"alpha_layer": 0, "stride_bias": 0.0}  # field -> the value that meant "off"
# Settings that held one value in every recipe and shipped checkpoint, now constants of the code
# (docs/model.md); a config naming another value fails with the commit that still reads the field.
LAST_COMMIT_WITH_SETTINGS = "53a7b9f"
FIXED_FIELDS = {"gate_temperature": 1.0, "log_alpha_min": -10.0, "log_alpha_max": 10.0}
REMOVED_TRAIN_FIELDS = {"extra": {}}
RENAMED_FIELDS = {"alpha_spread": "quantile_scale"}  # old name -> new name ("spread" names the prior)
# ModelConfig's defaults before they became the shipped default's recipe. Every config this version
# writes names every field, so a field missing from a config.json was written by an earlier version,
# whose default it then takes (not today's).
EARLIER_DEFAULTS = {
    "alpha_delta": 0.3,
    "alpha_delta_conditional": False,
    "alpha_delta_min": 0.01,
    "alpha_delta_max": 1.0,
    "alpha_conditioning": "input",
    "quantile_scale": 1.5,
    "prune_gate": "none",
    "pi_concentration": 1.0,
    "spread_bias": 0.0,
    "keep_positions": "learned",
    "kept_pooling": "none",
    "min_kept": 0,
    "decode_form": "integral",
    "kept_chooser": "score",
    "segments_train_share": 1.0,
}
# Fields added after stored artefacts (latent maps, rate-distortion files) were fingerprinted, with the
# value that changes nothing: `store.checkpoint.fingerprint` leaves a field out at that value, so that
# adding a field does not make every stored artefact stale.
NEUTRAL_ADDITIONS = {
    "kept_pooling": "none",
    "min_kept": 0,
    "decode_form": "integral",
    "kept_chooser": "score",
    "segments_train_share": 1.0,
}


# The NVIB fields as every baseline checkpoint wrote them before they were grouped under
# `ModelConfig.nvib` (a baseline never read them; its fingerprint still does, so that its stored
# artefacts stay valid).
BASELINE_NVIB_FINGERPRINT = {
    "prior_alpha": 1.0,
    "alpha_delta": 0.3,
    "alpha_delta_conditional": False,
    "alpha_delta_min": 0.01,
    "alpha_delta_max": 1.0,
    "kappa": 1,
    "gaussian_train_prob": 0.5,
    "alpha_conditioning": "none",
    "quantile_scale": 1.5,
    "prune_gate": "none",
    "pi_concentration": 1.0,
    "spread_bias": 0.0,
    "keep_positions": "learned",
    **NEUTRAL_ADDITIONS,
}


def fingerprinted_fields(cfg: ModelConfig) -> dict[str, Any]:
    """The config as `store.checkpoint.fingerprint` reads it, so that stored artefacts stay valid when
    fields come and go: its fields, less those added later at their neutral value (NEUTRAL_ADDITIONS),
    plus those removed later at the value every earlier config wrote (FIXED_FIELDS; and
    `gaussian_train_pruned`, false where the paper's recipe set it, an NVAE with no gate and no
    evaluation-form batches, true everywhere else). The NVIB group reads as the flat fields it was
    before the grouping; a baseline's, which it no longer has, at the values every baseline checkpoint
    wrote then (BASELINE_NVIB_FINGERPRINT)."""
    flat = cfg.to_dict()
    flat.update(flat.pop("nvib") or BASELINE_NVIB_FINGERPRINT)
    data = {k: v for k, v in flat.items() if not (k in NEUTRAL_ADDITIONS and v == NEUTRAL_ADDITIONS[k])}
    paper_like = cfg.is_nvae and cfg.nvib.prune_gate == "none" and cfg.nvib.gaussian_train_prob == 0
    return {**data, **FIXED_FIELDS, "gaussian_train_pruned": not paper_like}


REMOVED_VALUES = {
    "alpha_conditioning": ("input", "direct", "budget", "spread"),
    "keep_positions": ("stride", "spread"),
}


def _closed(what: str) -> ConfigError:
    return ConfigError(
        f"{what} was a closed experiment and is no longer in the code (docs/experiments.md); "
        f"commit {LAST_COMMIT_WITH_EXPERIMENTS} still runs it"
    )


def _fixed(what: str) -> ConfigError:
    return ConfigError(
        f"{what}: this setting is now a constant of the code (no recipe used another value); "
        f"commit {LAST_COMMIT_WITH_SETTINGS} still reads it"
    )


def _gaussian_train_pruned_did_nothing(data: dict[str, Any]) -> bool:
    """`gaussian_train_pruned` False (removed) changed training only for an NVAE with no pruning gate
    that trained some batches on the evaluation form; everywhere else it did nothing."""
    return (
        data.get("model_type", "nvae") != "nvae"
        or data.get("prune_gate") == "st"
        or not data.get("gaussian_train_prob", 0.0) > 0
    )


def _migrate_model(data: dict[str, Any]) -> dict[str, Any]:
    """A model config as this version reads it: renamed fields under their new names, missing fields at
    the default of the version that wrote it (`EARLIER_DEFAULTS`), removed fields at their neutral
    value dropped, the first models' `alpha_conditioning="input"` read as "none" where it did nothing
    (a model trained at one alpha^Delta, or a baseline); anything a closed experiment changed raises
    ConfigError. The NVIB layer's fields are migrated with the rest, then grouped under "nvib" (a
    config from before the grouping names them at the top level); a baseline's are dropped, since it
    never read them."""
    data = dict(data)
    if "nvib" in data:
        nvib = data.pop("nvib")
        if nvib is not None and not isinstance(nvib, dict):
            raise ConfigError(f"ModelConfig: nvib must be a JSON object or null, got {nvib!r}")
        if nvib is not None and data.get("model_type", "nvae") != "nvae":
            raise ConfigError(f"ModelConfig: a {data['model_type']!r} model has no NVIB layer: its nvib must be null")
        both = sorted(set(nvib or {}) & set(data))
        if both:
            raise ConfigError(f"ModelConfig: {both} given both in nvib and at the top level")
        data.update(nvib or {})
    for old, new in RENAMED_FIELDS.items():
        if old in data:
            if new in data:
                raise ConfigError(f"ModelConfig: both {old!r} and its new name {new!r} are given")
            data[new] = data.pop(old)
    for name, earlier in EARLIER_DEFAULTS.items():
        data.setdefault(name, earlier)
    for name, neutral in REMOVED_FIELDS.items():
        if name in data:
            if data[name] != neutral:
                raise _closed(f"{name}={data[name]!r}")
            del data[name]
    if "gaussian_train_pruned" in data:
        # True: the evaluation-form batches hard-masked the pruned components, as the code now always does
        if data["gaussian_train_pruned"] is not True and not _gaussian_train_pruned_did_nothing(data):
            raise _closed(f"gaussian_train_pruned={data['gaussian_train_pruned']!r}")
        del data["gaussian_train_pruned"]
    for name, value in FIXED_FIELDS.items():
        if name in data:
            if data[name] != value:
                raise _fixed(f"{name}={data[name]!r}")
            del data[name]
    if data.get("alpha_conditioning") == "input":
        # "input" added an MLP of alpha^Delta to the states only when alpha^Delta was an input
        if data.get("alpha_delta_conditional") and data.get("model_type", "nvae") == "nvae":
            raise _closed("alpha_conditioning='input' with alpha_delta_conditional=true")
        data["alpha_conditioning"] = "none"
    for name, values in REMOVED_VALUES.items():
        if data.get(name) in values:
            raise _closed(f"{name}={data[name]!r}")
    group = {name: data.pop(name) for name in NVIB_FIELDS if name in data}
    data["nvib"] = group if data.get("model_type", "nvae") == "nvae" else None
    return data


def _migrate_train(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    for name, neutral in REMOVED_TRAIN_FIELDS.items():
        if name in data:
            if data[name] != neutral:
                raise _closed(f"train.{name}={data[name]!r}")
            del data[name]
    return data


def _from_dict(cls, data: dict[str, Any]):
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    data = _migrate_model(data) if cls is ModelConfig else _migrate_train(data)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {unknown}")
    if cls is ModelConfig and data["nvib"] is not None:
        data["nvib"] = NVIBConfig(**data["nvib"])
    obj = cls(**data)
    obj.validate()
    return obj


@dataclass
class NVIBConfig:
    """The NVIB layer's settings (docs/nvib.md): what only the NVAE reads. A baseline's config has none
    (`ModelConfig.nvib` is None). The defaults are the shipped default NVAE's recipe."""

    # Component 0 of the prior has pseudo-count prior_alpha (its Gaussian is ModelConfig's prior_mu, prior_var).
    prior_alpha: float = 1.0
    # Conditional prior alpha0_p = prior_alpha + alpha_delta * n (docs/nvib.md section 2).
    alpha_delta: float = 0.1
    # Loss-conditional training: alpha_delta is an input of the NVIB layer, drawn per batch
    # log-uniformly from [alpha_delta_min, alpha_delta_max] while training, so that one checkpoint
    # serves the app's slider. False (the paper): one alpha^Delta, in the prior only.
    alpha_delta_conditional: bool = True
    alpha_delta_min: float = 0.03
    alpha_delta_max: float = 0.5
    kappa: int = 1  # samples per component while training
    # Share of training batches whose decoder integrates over the Gaussian components (the
    # evaluation form of denoising attention) instead of attending to sampled vectors, with the
    # evaluation-time weights pi = alpha / sum(retained alpha) and the components at or under
    # `threshold` pruned, so the decoder trains on exactly the set it will be evaluated on
    # (docs/model.md). 0: the paper.
    gaussian_train_prob: float = 0.5
    # How alpha^Delta reaches the pseudo-counts (nvib.NVIB._log_alpha). "none" (the paper): it does
    # not; it is in the prior only. "quantile": log alpha_i = log alpha^Delta + the sentence's mean
    # score + quantile_scale x the normal quantile of token i's soft rank in its sentence, so the
    # scores cannot bunch and the retained share is about a normal CDF of log alpha^Delta.
    alpha_conditioning: str = "quantile"
    quantile_scale: float = 0.75
    # The pruning gate while training. "none" (the paper): training batches keep every component
    # (sampled weights) or hard-mask the pruned ones (the evaluation-form batches), neither with a
    # gradient. "st": every training batch drops exactly the components evaluation prunes
    # (alpha <= threshold), and a straight-through gradient, sigmoid(log alpha - log threshold),
    # tells each pseudo-count whether the loss wants its component kept (nvae/model/kept_set.py).
    prune_gate: str = "st"
    # Training weights pi ~ Dir(pi_concentration * alpha). 1 is the paper; larger values make the
    # draws less noisy (log pi of a component with alpha 0.1 varies by about 10 nats at 1); 0
    # uses their mean alpha / sum(alpha), with no noise.
    pi_concentration: float = 0.0
    # The positional prior: spread_bias x (1 - 2 vdc(i)), centred on the sentence, is added to
    # position i's raw score before alpha^Delta's conditioning, vdc the van der Corput order
    # (0, 4, 2, 6, 1, 5, 3, 7 for eight), so that at every alpha^Delta the kept set leans towards
    # positions spread evenly over the sentence (every second at half, every fourth at a quarter).
    # 0: no prior, the content scores alone choose.
    spread_bias: float = 2.0
    # "learned": the prior's order is van der Corput's. "tournament": the van der Corput tree whose
    # every node puts first the half holding the better raw score, so that the prior asks for one
    # token of every pair (of every four, ...) and the scores pick which (`kept_set.tournament_order`).
    # Needs spread_bias > 0.
    keep_positions: str = "learned"
    # What a kept component's Gaussian stands for (kept_set.pool_segments). "none" (the paper): its own
    # token. "segment": its token and the pruned tokens after it up to the next kept one (the first
    # kept token also those before it), averaged (means averaged, variances of the average), so that
    # dropping a token moves its content into the nearest kept component before it (after it, for tokens
    # before the first kept one) instead of losing it. The KL terms still read every token's own
    # Gaussian; only what the decoder attends to changes.
    kept_pooling: str = "none"
    # Who places the kept components. "score" (the paper): the components whose pseudo-count is over
    # the threshold (and the floor). "segments": as many per sentence as the score keeps (at least one),
    # at the first tokens of the split of the sentence into that many contiguous segments whose token
    # means are most alike (kept_set.choose_segments, an exact dynamic programme); each kept component
    # then stands for its segment (needs kept_pooling "segment") and carries its segment's summed
    # pseudo-count. In training with the gate, the segmentation's set is decoded and the score keeps its
    # straight-through gradient.
    kept_chooser: str = "score"
    # With kept_chooser "segments": the share of training batches that decode the segmentation's set; the
    # others decode the score's own set (irregular, so the decoder learns to read any layout). 1: all.
    segments_train_share: float = 1.0
    # At least this many token components are kept in every sentence (those with the largest
    # pseudo-counts), whatever alpha^Delta; 0: none are forced (the paper).
    min_kept: int = 0
    # How the decoder reads a latent outside training (NVAE only). "integral": denoising attention's
    # exact integral over each kept component's Gaussian (docs/model.md). "means": each kept
    # component's mean as its vector (z = mu), the training form with the noise left out: the fair
    # reading of a model never trained on the integral (gaussian_train_prob 0, the paper's recipe),
    # whose decoder otherwise meets the prior component's variance 1 for the first time at evaluation.
    decode_form: str = "integral"

    def validate(self) -> None:
        if self.prior_alpha <= 0:
            raise ConfigError("prior_alpha must be > 0")
        if int(self.kappa) < 1:
            raise ConfigError("kappa must be >= 1")
        if self.alpha_delta < 0:
            raise ConfigError("alpha_delta must be >= 0")
        if not 0 < self.alpha_delta_min <= self.alpha_delta_max:
            raise ConfigError("need 0 < alpha_delta_min <= alpha_delta_max")
        if not 0.0 <= self.gaussian_train_prob <= 1.0:
            raise ConfigError("gaussian_train_prob must be in [0, 1]")
        if self.alpha_conditioning not in ALPHA_CONDITIONINGS:
            raise ConfigError(
                f"alpha_conditioning must be one of {ALPHA_CONDITIONINGS}, got {self.alpha_conditioning!r}"
            )
        if not self.quantile_scale > 0:
            raise ConfigError("quantile_scale must be > 0")
        if self.prune_gate not in ("none", "st"):
            raise ConfigError(f"prune_gate must be 'none' or 'st', got {self.prune_gate!r}")
        if not self.pi_concentration >= 0:
            raise ConfigError("pi_concentration must be >= 0")
        if self.keep_positions not in KEEP_POSITIONS:
            raise ConfigError(f"keep_positions must be one of {KEEP_POSITIONS}, got {self.keep_positions!r}")
        if self.keep_positions == "tournament" and not self.spread_bias > 0:
            raise ConfigError("keep_positions=tournament orders the positional prior: it needs spread_bias > 0")
        if self.kept_pooling not in KEPT_POOLINGS:
            raise ConfigError(f"kept_pooling must be one of {KEPT_POOLINGS}, got {self.kept_pooling!r}")
        if self.kept_chooser not in KEPT_CHOOSERS:
            raise ConfigError(f"kept_chooser must be one of {KEPT_CHOOSERS}, got {self.kept_chooser!r}")
        if not 0.0 <= self.segments_train_share <= 1.0:
            raise ConfigError("segments_train_share must be in [0, 1]")
        if self.kept_chooser == "segments" and self.kept_pooling != "segment":
            raise ConfigError("kept_chooser=segments keeps segments: it needs kept_pooling='segment'")
        if self.decode_form not in DECODE_FORMS:
            raise ConfigError(f"decode_form must be one of {DECODE_FORMS}, got {self.decode_form!r}")
        if int(self.min_kept) < 0:
            raise ConfigError("min_kept must be >= 0")


NVIB_FIELDS = tuple(f.name for f in dataclasses.fields(NVIBConfig))


@dataclass
class ModelConfig:
    """Architecture and latent settings. The defaults are the shipped default NVAE's recipe
    (`RECIPES["default"]`, checkpoints/nvae-default): what its last training run was given."""

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
    # The Gaussian prior N(prior_mu, prior_var) of every latent model (the NVIB's component 0; VT, VTP
    # and VTS's KL), the posterior's initial log-variance, and the retention threshold.
    prior_mu: float = 0.0
    prior_var: float = 1.0
    init_logvar: float = -4.0  # initial log-variance of the posterior components
    threshold: float = 0.1  # eval: a component is retained when alpha > threshold
    stride: int = 2  # VTS keeps every stride-th position
    # The NVIB layer's settings: an NVAE's own (`NVIBConfig()` when none is given), None for a baseline.
    nvib: NVIBConfig | None = None

    def __post_init__(self) -> None:
        if isinstance(self.nvib, dict):
            self.nvib = NVIBConfig(**self.nvib)
        if self.nvib is None and self.model_type == "nvae":
            self.nvib = NVIBConfig()

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
            "stride",
        ):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("dropout must be in [0, 1)")
        if self.prior_var <= 0:
            raise ConfigError("prior_var must be > 0")
        if not self.threshold > 0:
            raise ConfigError("threshold must be > 0")
        if self.is_nvae != (self.nvib is not None):
            raise ConfigError(
                "an NVAE needs its NVIB settings (nvib)"
                if self.is_nvae
                else f"a {self.model_type!r} model has no NVIB layer: its nvib must be None"
            )
        if self.nvib is not None:
            self.nvib.validate()

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def is_nvae(self) -> bool:
        """The NVAE (an NVIB latent with pseudo-counts), not one of the baselines T, VT, VTP, VTS."""
        return self.model_type == "nvae"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return _from_dict(cls, data)


# -- alpha^Delta's trained range ----------------------------------------------------------------------
# A loss-conditional model (`alpha_delta_conditional`) was trained over [alpha_delta_min,
# alpha_delta_max] and reads alpha^Delta only there. Every reader of a checkpoint (the app, the CLI,
# the readers, the grids and sweeps) asks `resolve_alpha_delta` or `alpha_delta_in_range`, and the
# model refuses the rest itself (`check_trained_range`, in NVIB._alpha_delta).

OUT_OF_RANGE = ("refuse", "clamp")  # what `resolve_alpha_delta` does with a request outside the range
# How far past an end of the stored range the model still accepts a value, relative: float rounding (a
# training draw exp(log alpha_delta_max), a bound read in float32), not extrapolation.
ALPHA_DELTA_ROUNDING = 1e-6


class AlphaDeltaError(ConfigError):
    """A requested alpha^Delta a model does not take: negative, or outside a loss-conditional model's
    trained range."""


def alpha_delta_range(cfg) -> tuple[float, float]:
    """[alpha_delta_min, alpha_delta_max]: the range a loss-conditional model was trained over, which
    the app's slider, the grids and the sweeps span. A model trained at one alpha^Delta keeps the two
    bounds in its config too, but they bind nothing there (`resolve_alpha_delta`). A baseline has no
    alpha^Delta: the default NVAE's range, for grids that span every model alike."""
    nvib = cfg.nvib or NVIBConfig()
    return float(nvib.alpha_delta_min), float(nvib.alpha_delta_max)


def alpha_delta_in_range(cfg, value: float, slack: float = 0.0) -> bool:
    """Whether `value` lies in `alpha_delta_range(cfg)`, each end moved out by the relative `slack`
    (0 for a request, the exact bounds; `ALPHA_DELTA_ROUNDING` for the model)."""
    lo, hi = alpha_delta_range(cfg)
    return lo * (1 - slack) <= value <= hi * (1 + slack)


def default_alpha_delta(cfg) -> float:
    """The alpha^Delta a model is read at when none is asked for: an NVAE's own (`cfg.nvib.alpha_delta`);
    a baseline has none and ignores it: the default NVAE's, for grids that span every model alike."""
    return float((cfg.nvib or NVIBConfig()).alpha_delta)


def alpha_delta_is_input(cfg) -> bool:
    """True when alpha^Delta changes the model's latent: a loss-conditional NVAE. A model trained at one
    alpha^Delta reads it in its prior only (KL_D and prior samples); a baseline ignores it."""
    return cfg.is_nvae and bool(cfg.nvib.alpha_delta_conditional)


def resolve_alpha_delta(cfg, requested: float | None, out_of_range: str = "refuse", what: str = "alpha_delta"):
    """The alpha^Delta to give a model of config `cfg` when `requested` is asked for; None (the model's
    own, `cfg.nvib.alpha_delta`) when nothing is. The one rule of alpha^Delta's trained range:

    - "refuse" (the CLI: the user asked for exactly this value). A negative value raises AlphaDeltaError
      "{what} must be >= 0". A config that is loss-conditional refuses a value outside its trained range
      with AlphaDeltaError "{what} must lie in [min, max], the range this model was trained on". Anything
      else is returned as given: a model trained at one alpha^Delta reads it in its prior only (the CLI
      adds a note), a baseline ignores it.
    - "clamp" (the app and the readers, which show the latent a model makes). A loss-conditional NVAE
      gets the value moved to the nearer end of its trained range; every other model gets None, its
      own value, since its latent does not depend on alpha^Delta.

    The model itself takes no value outside a loss-conditional model's range (`check_trained_range`), so
    a caller with a value from elsewhere (a grid, a stored file, a link) resolves it here first. The
    app's link parameter and slider use the same range (`alpha_delta_range`) and keep their own notice."""
    if out_of_range not in OUT_OF_RANGE:
        raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE}, got {out_of_range!r}")
    if requested is None:
        return None
    if out_of_range == "clamp":
        if not alpha_delta_is_input(cfg):
            return None
        lo, hi = alpha_delta_range(cfg)
        return float(min(max(requested, lo), hi))
    if requested < 0:
        raise AlphaDeltaError(f"{what} must be >= 0")
    if alpha_delta_is_input(cfg) and not alpha_delta_in_range(cfg, requested):
        raise AlphaDeltaError(
            f"{what} must lie in [{cfg.nvib.alpha_delta_min}, {cfg.nvib.alpha_delta_max}], the range this model "
            "was trained on"
        )
    return requested


def check_trained_range(cfg, smallest: float, largest: float | None = None) -> None:
    """The model's own check, as a language model checks its block size: a loss-conditional model given
    alpha^Delta values from `smallest` to `largest` (one value: `smallest` alone) outside its trained
    range, beyond float rounding (`ALPHA_DELTA_ROUNDING`), raises ValueError naming the value and the
    range. A model trained at one alpha^Delta takes any value (its prior only), as does a baseline."""
    if not alpha_delta_is_input(cfg):
        return
    for value in (smallest,) if largest is None else (smallest, largest):
        if not alpha_delta_in_range(cfg, value, ALPHA_DELTA_ROUNDING):
            lo, hi = alpha_delta_range(cfg)
            raise ValueError(
                f"alpha_delta={value:g} is outside [{lo:g}, {hi:g}], the range this loss-conditional model was "
                "trained on (alpha_delta_min, alpha_delta_max of its config); it does not extrapolate: resolve a "
                "requested value first (nvae.config.resolve_alpha_delta)"
            )


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


# Named recipes: settings applied over the defaults before any --set, each the exact configuration
# a shipped checkpoint was trained with (its config.json, tests/test_recipes.py), or the paper's.
# "model" holds the model's settings, "train" the run's (corpus, budget, schedule); `nvae ablate`
# takes the model's only and keeps its own small budget.
#
#   paper          the NVIB as the paper trains it: one alpha^Delta (0.3) in the prior only, sampled
#                  vectors and Dirichlet weights in every batch, no pruning while training; the same
#                  corpus and budget as default-base
#   default-base   the shipped default's first run (ablation G3 of docs/experiments.md): the pruning
#                  gate, quantile conditioning, loss-conditional over [0.03, 0.5]; 5,000 steps
#   segments       default-base with no positional prior, each kept component standing for its
#                  segment (kept_pooling "segment") and at least one kept (min_kept 1): the latent
#                  issue's candidate (docs/experiments.md, M rows); same corpus and budget
#   segments-chooser  segments with the segmentation chooser placing the kept set, trained on the
#                  segmentation's sets in half the batches and the score's own in the other half (the
#                  segments issue's full-length run; docs/experiments.md, "The segmentation chooser")
#   segments-chooser-ft  checkpoints/nvae-chooser: nvae-segments fine-tuned 1,500 steps on its score's own
#                  kept sets and read with the segmentation chooser (the segments issue's control
#                  fine-tune, whose chooser leads every fixed rule on validation)
#   default        the shipped default (checkpoints/nvae-default): default-base fine-tuned 3,000 steps
#                  with the positional prior (spread_bias 2); these are ModelConfig's defaults
#   tournament     the retired candidate nvae-tournament (docs/experiments.md): the default fine-tuned 2,000 steps with
#                  the prior's order by content
#   baseline-t, baseline-vt, baseline-vtp, baseline-vts   the paper's four baselines (T: the states
#                  themselves; VT: a Gaussian per token; VTP: one pooled Gaussian; VTS: a Gaussian every
#                  second token) on the same corpus and budget as default-base
#
# Shipping a run (`nvae export`) chooses two settings on validation and writes them into the
# checkpoint: the default alpha^Delta and the positional prior's strength (their model cards say).
_BASE_RUN = {
    "data": "wiki-mix",
    "max_steps": 5000,
    "batch_size": 64,
    "lr": 7e-4,
    "warmup_steps": 200,
    "eval_every": 500,
    "checkpoint_every": 100,
    "seed": 0,
}
_FINE_TUNE = {
    "data": "wiki-mix",
    "batch_size": 64,
    "lr": 3.5e-4,
    "warmup_steps": 100,
    "kl_start_step": 0,
    "kl_anneal_steps": 0,
    "eval_every": 500,
    "checkpoint_every": 100,
}
RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "model": {
            "alpha_delta": 0.3,
            "alpha_delta_conditional": False,
            "alpha_conditioning": "none",
            "gaussian_train_prob": 0.0,
            "prune_gate": "none",
            "pi_concentration": 1.0,
            "spread_bias": 0.0,
            "decode_form": "means",  # read the way it is trained (it never meets the integral)
        },
        "train": {**_BASE_RUN, "kl_start_step": 600, "kl_anneal_steps": 600},
    },
    "default-base": {
        "model": {"spread_bias": 0.0},
        "train": {**_BASE_RUN, "kl_start_step": 600, "kl_anneal_steps": 600, "alpha_delta_warmup_min": 0.3},
    },
    "segments": {
        "model": {"spread_bias": 0.0, "kept_pooling": "segment", "min_kept": 1},
        "train": {**_BASE_RUN, "kl_start_step": 600, "kl_anneal_steps": 600, "alpha_delta_warmup_min": 0.3},
    },
    "segments-chooser": {
        "model": {
            "spread_bias": 0.0,
            "kept_pooling": "segment",
            "min_kept": 1,
            "kept_chooser": "segments",
            "segments_train_share": 0.5,
        },
        "train": {**_BASE_RUN, "kl_start_step": 600, "kl_anneal_steps": 600, "alpha_delta_warmup_min": 0.3},
    },
    "segments-chooser-ft": {
        "model": {
            "spread_bias": 0.0,
            "kept_pooling": "segment",
            "min_kept": 1,
            "kept_chooser": "segments",
            "segments_train_share": 0.0,
        },
        "train": {
            **_BASE_RUN,
            "init_from": "checkpoints/nvae-segments",
            "max_steps": 1500,
            "lr": 3.5e-4,
            "warmup_steps": 50,
            "kl_start_step": 0,
            "kl_anneal_steps": 0,
        },
    },
    "default": {
        "model": {},
        "train": {**_FINE_TUNE, "init_from": "runs/nvae-g3-mix", "max_steps": 3000, "seed": 1},
    },
    "tournament": {
        "model": {"spread_bias": 5.0, "keep_positions": "tournament"},
        "train": {**_FINE_TUNE, "init_from": "checkpoints/nvae-default", "max_steps": 2000, "seed": 2},
    },
    "baseline-t": {"model": {"model_type": "t"}, "train": dict(_BASE_RUN)},
    "baseline-vt": {"model": {"model_type": "vt"}, "train": dict(_BASE_RUN)},
    "baseline-vtp": {"model": {"model_type": "vtp"}, "train": dict(_BASE_RUN)},
    "baseline-vts": {"model": {"model_type": "vts"}, "train": dict(_BASE_RUN)},
}


def model_config(**settings: Any) -> ModelConfig:
    """A ModelConfig from flat settings (`model_config(model_type="nvae", alpha_delta=0.3)`), as a recipe
    or `--set` gives them: `apply_settings` over the defaults, validated."""
    model = ModelConfig(model_type=settings.get("model_type", "nvae"))
    apply_settings(model, TrainConfig(), settings)
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(ModelConfig)} - set(NVIB_FIELDS))
    if unknown:
        raise ConfigError(f"ModelConfig: unknown field(s) {unknown}")
    model.validate()
    return model


def recipe_configs(name: str) -> tuple[ModelConfig, TrainConfig]:
    """The model and training settings of recipe `name` (over the defaults)."""
    if name not in RECIPES:
        raise ConfigError(f"unknown recipe {name!r}: one of {sorted(RECIPES)}")
    model, train = ModelConfig(), TrainConfig()
    apply_settings(model, train, {**RECIPES[name]["model"], **RECIPES[name]["train"]})
    return model, train


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
    """Set fields of either config by name (a model field wins; the NVIB layer's by their own names, as
    `alpha_delta`), each checked against its field's type; unknown names, values of the wrong type and an
    NVIB setting for a baseline raise ConfigError. `model_type` is set first: a baseline has no NVIB
    settings, an NVAE gets the defaults' when it had none."""
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)} - {"nvib"}
    train_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    if "model_type" in settings:
        model.model_type = coerce_setting(model, "model_type", settings["model_type"])
        if not model.is_nvae:
            model.nvib = None
        elif model.nvib is None:
            model.nvib = NVIBConfig()
    for key, value in settings.items():
        if key == "model_type":
            continue
        if key in NVIB_FIELDS:
            if model.nvib is None:
                raise ConfigError(
                    f"{key} is a setting of the NVIB layer, which a {model.model_type!r} model does not have"
                )
            setattr(model.nvib, key, coerce_setting(model.nvib, key, value))
        elif key in model_fields:
            setattr(model, key, coerce_setting(model, key, value))
        elif key in train_fields:
            setattr(train, key, coerce_setting(train, key, value))
        elif key in RENAMED_FIELDS:
            raise ConfigError(f"the setting {key!r} is now called {RENAMED_FIELDS[key]!r}")
        elif key in REMOVED_FIELDS or key in REMOVED_TRAIN_FIELDS or key == "gaussian_train_pruned":
            raise _closed(f"the setting {key!r}")
        elif key in FIXED_FIELDS:
            raise _fixed(f"the setting {key!r}")
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
