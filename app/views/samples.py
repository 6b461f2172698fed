"""Samples: sentences decoded from latents drawn from the prior, or from the aggregate posterior when
the checkpoint has its fit; every sample names its source."""

import pandas as pd
import streamlit as st

from app import cache, chooser, figures, latents, messages, output, state
from app.page import page_scaffold
from nvae.evaluation import sampling
from nvae.readout.sentence import SAMPLE_SOURCES, sample_sources

PAGE = "samples"
SOURCE_LABELS = {
    "prior": "the prior, z ~ N(0, I)",
    "aggregate": "the aggregate posterior (fitted to training latents)",
}

INTRO_NVAE = """
A latent can also be drawn instead of encoded from a sentence: from the **prior** (the paper's: K + 1
vectors z ~ N(0, I) with Dirichlet weights π), or, when the checkpoint has the fit, from the
**aggregate posterior** (a Gaussian fitted to the means of the components that encode training
sentences, with the prior's Dirichlet weights). Decoding it shows what the model generates "from
nothing"; every sample names its source. Choose the number of components, the random seed and the
sampling temperature (0 = greedy).
"""
INTRO_BASELINE = """
This page decodes latents drawn from an NVAE's Dirichlet prior (or its aggregate posterior). This
checkpoint is a **{kind} baseline**, whose latent is {latent}.
"""

page = page_scaffold(PAGE, "Samples", intros=(INTRO_NVAE, INTRO_BASELINE))
model, key, cfg = page.model, page.key, page.cfg
sources = sample_sources(model)
default_source = sampling.default_source(model)
PARAMS = [
    state.Param("k", "int", min(10, cfg.max_len - 1), lo=1, hi=cfg.max_len - 1, label="Components K"),
    state.Param("n", "int", 5, lo=1, hi=20, label="Samples"),
    state.Param("seed", "int", 0, lo=0, hi=cache.SEED_MAX, label="Seed"),
    state.Param("temp", "float", 0.0, lo=0.0, hi=2.0, label="Temperature"),
    state.Param("source", "choice", default_source, choices=tuple(SAMPLE_SOURCES), label="source"),
]
page.restore(PARAMS)  # the link: the settings as their controls hold them
messages.show_notices([state.clamp_number(state.wkey(PAGE, "temp"), 0.0, 2.0, 0.0)])
if latents.is_baseline(cfg):
    # the link still carries the checkpoint and the settings (they apply again on an NVAE checkpoint)
    st.info(
        "Sampling from the Dirichlet prior is defined for the NVAE only. Choose an NVAE checkpoint on the Model page."
    )
    page.stop()
if st.session_state[state.wkey(PAGE, "source")] not in sources:  # a link's `aggregate` on a checkpoint without the fit
    notice = state.clamp_choice(state.wkey(PAGE, "source"), sources, default_source)
    if notice:
        st.warning("source: this checkpoint has no aggregate-posterior fit; using the prior.", icon=":material/link:")

with st.form("controls", border=False):
    c = st.columns(4)
    k = c[0].number_input("Components K", 1, cfg.max_len - 1, key=state.wkey(PAGE, "k"), persist_state="session")
    n = c[1].number_input("Samples", 1, 20, key=state.wkey(PAGE, "n"), persist_state="session")
    seed = c[2].number_input("Seed", 0, cache.SEED_MAX, key=state.wkey(PAGE, "seed"), persist_state="session")
    temp = c[3].slider("Temperature", 0.0, 2.0, step=0.1, key=state.wkey(PAGE, "temp"), persist_state="session")
    if len(sources) > 1:
        source = st.radio(
            "Draw the latents from",
            sources,
            key=state.wkey(PAGE, "source"),
            horizontal=True,
            format_func=SOURCE_LABELS.get,
            persist_state="session",
            help="The prior N(0, I) lies far from where trained posteriors put their means, so its samples are "
            "mostly word salad; the aggregate posterior draws the means from where encoded sentences put them.",
        )
    else:
        source = sources[0]
    st.form_submit_button("Sample", icon=":material/casino:")
if len(sources) == 1:
    st.caption(
        "Source: **the prior**, z ~ N(0, I). This checkpoint has no aggregate-posterior fit "
        "(`nvae export RUN DEST --fit-aggregate` stores one beside the weights); with it, the page can also "
        "draw from the aggregate posterior."
    )

samples = cache.drawn_samples(model, key, source, int(k), int(n), int(seed), float(temp), None)
if len(sources) > 1:
    st.caption(f"{len(samples)} samples drawn from {SAMPLE_SOURCES[source]}.")
output.text_table(
    pd.DataFrame(
        [
            {
                "sample": s["sample"],
                "source": s["source"],
                "text": s["text"],
                "largest weight": f"{s['largest_weight']:.3f}",
            }
            for s in samples
        ]
    )
)
output.download_table(
    [
        {"checkpoint": chooser.active_checkpoint().name, **{k: v for k, v in s.items() if k != "weights"}}
        for s in samples
    ],
    f"{source}-samples",
    key="samples",
)
output.plot(figures.components.sample_weights(samples), f"{source}-sample-weights", key="weights")
