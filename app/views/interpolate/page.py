"""Interpolate (the page script, /interpolate): decode mixtures along a path through two to five
sentences' latents, or study a file of sentence pairs. The parts are its neighbours in this folder
(see __init__.py): settings (the link), path (the sentences and their strips), player (the
animations), batch (a file of pairs)."""

import streamlit as st

from app import chooser, latents, state
from app.page import page_scaffold
from app.views.interpolate.batch import batch_study
from app.views.interpolate.path import path_view
from app.views.interpolate.player import on_the_map, play_path
from app.views.interpolate.settings import MODES, PAGE, InterpolatePage

INTRO_NVAE = """
An NVAE latent is a *set* of weighted components, one per kept token, so two sentences blend by
**mixing their sets**. Here τ hands the components over from A to B **first token first** (sweep
mixing): as τ grows, B's components enter from the start of the sentence and A's leave in the same
order, so the decoded text changes a few words at a time. The paper's **uniform** mixing,
F_τ = (1 − τ)·F_A + τ·F_B, scales every weight at once, and the shipped model's text then jumps from
A to B in one or two large steps: choose it under *Mixing* to compare. Move τ to decode one mixture; the strip
decodes every step at once and marks what changes from step to step, beside a baseline's
position-by-position interpolation when a baseline checkpoint exists. Add sentences C, D, E for a
path A → B → C …, press ▶ Play to step through it, or study a whole file of pairs.
"""
INTRO_BASELINE = """
This checkpoint is a **{kind} baseline**: its latent is {latent}, so two sentences blend **position by
position**, first position first: the vector at a position is (1 − s)·(A's vector) + s·(B's vector),
where s goes from 0 to 1 as τ passes that position (sweep mixing; *uniform* under *Mixing* uses
s = τ everywhere). Move τ to decode one blend; the strip decodes every step at once and marks
what changes from step to step. Add sentences C, D, E for a path A → B → C …, press ▶ Play to step
through it, or study a whole file of pairs.
"""

scaffold = page_scaffold(PAGE, "Interpolate between sentences", intros=(INTRO_NVAE, INTRO_BASELINE), kept_set=True)
model, key = scaffold.model, scaffold.key
baseline = latents.is_baseline(model.cfg)
baselines = {} if baseline else chooser.baseline_checkpoints(exclude=chooser.active_checkpoint())
page = InterpolatePage(model, key, baselines, scaffold)
page.restore()

mode = st.radio(
    "Interpolate", list(MODES), key=state.wkey(PAGE, "mode"), horizontal=True, format_func=MODES.get,
    persist_state="session", label_visibility="collapsed",
)  # fmt: skip

if mode == "batch":
    batch_study(page)
    scaffold.stop()

path = path_view(page)
play_path(page, path)
on_the_map(page, path)
