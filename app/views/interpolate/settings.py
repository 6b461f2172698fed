"""The Interpolate page's settings: its link parameters, the view the link holds, what every export
records, and the steps and tau-grid control that both parts of the page draw."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from app import chooser, latents, messages, state
from app.page import Page
from nvae.model.autoencoder import NVAE
from nvae.model.grids import tau_grid
from nvae.model.mixture import DEFAULT_MIXING, MIXINGS
from nvae.readout import sentence_paths

PAGE = "interpolate"
DEFAULT_A = "The film received positive reviews from critics."
DEFAULT_B = "He was born in a small village in the north of England."
EXTRA = ("c", "d", "e")  # the optional waypoints after B
GRIDS = {"linear": "linear", "logodds": "log-odds"}
MIXING_NAMES = {"sweep": "sweep", "uniform": "uniform (the paper's)"}
MODES = {"path": "A path through sentences", "batch": "A batch of pairs (TSV file)"}
EXAMPLES_FILE = "examples/pairs.tsv"
NONE = "(none)"  # the select box's "no baseline"; `baseline=none` in the link
LO, HI = sentence_paths.MIN_STEPS, sentence_paths.MAX_STEPS


def value(name: str):
    """The page's control `name` as it stands."""
    return st.session_state[state.wkey(PAGE, name)]


def link_params(baselines: dict[str, Path]) -> list[state.Param]:
    """The page's query parameters (`baseline` only when there is a baseline to compare with)."""
    return [
        state.Param("a", "text", DEFAULT_A, max_chars=2000, label="sentence A"),
        state.Param("b", "text", DEFAULT_B, max_chars=2000, label="sentence B"),
        *(state.Param(x, "text", "", max_chars=2000, label=f"sentence {x.upper()}") for x in EXTRA),
        state.Param("tau", "float", 0.5, lo=0.0, hi=1.0, label="τ"),
        state.Param(
            "t", "float", 0.5, lo=0.0, hi=float(sentence_paths.MAX_WAYPOINTS - 1), label="position on the path"
        ),
        state.Param("steps", "int", sentence_paths.DEFAULT_STEPS, lo=LO, hi=HI, label="steps per segment"),
        state.Param("grid", "choice", "linear", choices=tuple(GRIDS), label="τ grid"),
        state.Param("mixing", "choice", DEFAULT_MIXING, choices=MIXINGS, label="mixing"),
        state.Param("mode", "choice", "path", choices=tuple(MODES), label="what to interpolate"),
        state.Param("map", "bool", False, label="path on the latent map"),
        *(
            [state.Param("baseline", "choice", next(iter(baselines)), choices=("none", *baselines), label="baseline")]
            if baselines
            else []
        ),
    ]


@dataclass
class InterpolatePage:
    """What the parts of the page share: the model and its cache key, the baseline checkpoints to
    compare it with (none when the model is a baseline itself), the page scaffold (which writes the
    link) and the link's parameters."""

    model: NVAE
    key: str
    baselines: dict[str, Path]
    scaffold: Page
    params: list[state.Param] = field(init=False)

    def __post_init__(self) -> None:
        self.params = link_params(self.baselines)

    @property
    def is_baseline(self) -> bool:
        return latents.is_baseline(self.model.cfg)

    def restore(self) -> None:
        """The controls set from the link, with a notice for anything it could not use; the link is the
        view `settings` gives when the scaffold writes it."""
        to_widget = {"baseline": lambda v: NONE if v == "none" else v}
        self.scaffold.restore(self.params, to_widget=to_widget, link_values=self.settings)
        messages.show_notices([state.clamp_number(state.wkey(PAGE, "tau"), 0.0, 1.0, 0.5)])
        if self.baselines:
            default = next(iter(self.baselines))
            messages.show_notices([state.clamp_choice(state.wkey(PAGE, "baseline"), [NONE, *self.baselines], default)])

    def settings(self) -> dict:
        """The page's view as the link holds it, from its controls as they stand."""
        mode = value("mode")
        values = {"mode": mode, "steps": int(value("steps")), "grid": value("grid"), "mixing": value("mixing")}
        if mode == "path":
            values.update({"a": value("a"), "b": value("b")})
            for x in EXTRA:
                values[x] = value(x) if str(value(x)).strip() else None
            if any(values[x] for x in EXTRA):
                values["t"] = value("t")
            else:
                values["tau"] = value("tau")
            values["map"] = bool(value("map"))
            if self.baselines:
                choice = value("baseline")
                values["baseline"] = "none" if choice == NONE else choice
        return values

    def meta(self) -> dict:
        """What every export records: the checkpoint, its alpha^Delta, the tau grid and the mixing."""
        return {
            "checkpoint": chooser.active_checkpoint().name,
            "model_type": self.model.cfg.model_type,
            "alpha_delta": sentence_paths.effective_alpha_delta(self.model.cfg),
            "steps": int(value("steps")),
            "grid": value("grid"),
            "mixing": value("mixing"),
        }


@dataclass(frozen=True)
class StripSettings:
    """The strip's settings, all in the link: steps per segment, the tau grid and its values, and
    how the two latents are mixed (`nvae.model.mixture.MIXINGS`)."""

    steps: int
    grid: str
    taus: list[float]
    mixing: str


def strip_settings() -> StripSettings:
    """The controls of the strip's settings: steps per segment, the tau grid and the mixing."""
    c1, c2, c3 = st.columns([1, 2, 2])
    steps = c1.number_input(
        "Steps per segment", LO, HI, step=1, key=state.wkey(PAGE, "steps"), persist_state="session",
        help="How many values of τ each segment is decoded at, both ends included.",
    )  # fmt: skip
    grid = c2.radio(
        "τ grid", list(GRIDS), key=state.wkey(PAGE, "grid"), horizontal=True, format_func=GRIDS.get,
        persist_state="session",
        help="linear: τ evenly spaced. log-odds: evenly spaced in log(τ / (1 − τ)), so more steps lie near "
        "τ = 0 and τ = 1, where the decoded text changes most.",
    )  # fmt: skip
    mixing = c3.radio(
        "Mixing", list(MIXING_NAMES), key=state.wkey(PAGE, "mixing"), horizontal=True,
        format_func=MIXING_NAMES.get, persist_state="session",
        help="sweep: τ hands the components (a baseline's positions) over from A to B first token first, so "
        "the text changes a few words at a time. uniform: every weight is scaled at once, "
        "(1 − τ)·F_A + τ·F_B, as in the paper (a baseline: every position blended by τ).",
    )  # fmt: skip
    return StripSettings(int(steps), grid, tau_grid(int(steps), grid), mixing)
