"""Samples: sentences decoded from latents drawn from the prior."""

import pandas as pd
import streamlit as st

from app import analysis, cache, chooser, figures, messages, output, state

PAGE = "samples"

INTRO_NVAE = """
A latent can also be drawn from the prior instead of encoded from a sentence: K + 1 random vectors
z ~ N(0, I) with Dirichlet weights π. Decoding it shows what the model generates "from nothing".
Choose the number of components, the random seed and the sampling temperature (0 = greedy).
"""
INTRO_BASELINE = """
This page decodes latents drawn from an NVAE's Dirichlet prior. This checkpoint is a **{kind}
baseline**, whose latent is {latent}.
"""

messages.header("Samples from the prior")
model, key = chooser.get_model()
cfg = model.cfg
messages.model_intro(cfg, INTRO_NVAE, INTRO_BASELINE)
PARAMS = [
    state.Param("k", "int", min(10, cfg.max_len - 1), lo=1, hi=cfg.max_len - 1, label="Components K"),
    state.Param("n", "int", 5, lo=1, hi=20, label="Samples"),
    state.Param("seed", "int", 0, lo=0, hi=2**31 - 1, label="Seed"),
    state.Param("temp", "float", 0.0, lo=0.0, hi=2.0, label="Temperature"),
]
messages.show_notices(state.restore(PAGE, PARAMS))
messages.show_notices([state.clamp_number(state.wkey(PAGE, "temp"), 0.0, 2.0, 0.0)])
if analysis.is_baseline(cfg):
    # the link still carries the checkpoint and the settings (they apply again on an NVAE checkpoint)
    state.publish(
        PARAMS, {p.name: st.session_state[state.wkey(PAGE, p.name)] for p in PARAMS}, chooser.checkpoint_extra()
    )
    st.info(
        "Sampling from the Dirichlet prior is defined for the NVAE only. Choose an NVAE checkpoint on the Model page."
    )
    st.stop()

with st.form("controls", border=False):
    c = st.columns(4)
    k = c[0].number_input("Components K", 1, cfg.max_len - 1, key=state.wkey(PAGE, "k"), persist_state="session")
    n = c[1].number_input("Samples", 1, 20, key=state.wkey(PAGE, "n"), persist_state="session")
    seed = c[2].number_input("Seed", 0, 2**31 - 1, key=state.wkey(PAGE, "seed"), persist_state="session")
    temp = c[3].slider("Temperature", 0.0, 2.0, step=0.1, key=state.wkey(PAGE, "temp"), persist_state="session")
    st.form_submit_button("Sample", icon=":material/casino:")
state.publish(PARAMS, {"k": k, "n": n, "seed": seed, "temp": temp}, chooser.checkpoint_extra())

samples = cache.prior_samples(model, key, int(k), int(n), int(seed), float(temp), None)
output.text_table(
    pd.DataFrame(
        [{"sample": s["sample"], "text": s["text"], "largest weight": f"{s['largest_weight']:.3f}"} for s in samples]
    )
)
output.download_table([{k: v for k, v in s.items() if k != "weights"} for s in samples], "prior-samples", key="samples")
output.plot(figures.sample_weights(samples), "prior-sample-weights", key="weights")
