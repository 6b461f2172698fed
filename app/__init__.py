"""nvae-explorer's Streamlit front end: thin pages over the `nvae` library.

main.py       entry script (`streamlit run app/main.py`): st.navigation over views/
views/        the pages, one short script each. Not named `pages/`: Streamlit treats a pages/
              folder beside the entry script as a legacy multipage app and would run a page
              file without the entry script (on a server's first request, and on every
              AppTest rerun).
cache.py      the caches: the shared model (st.cache_resource) and the pages' results over
              `nvae.readout.sentence` (st.cache_data), keyed by the checkpoint; the latent map on disk
chooser.py    which checkpoint: those there are, the session's choice, `?ckpt=`, the model or an error
analysis.py   what shapes the display (no streamlit, no model calls): text checks, slider stops,
              labels, tables, the map's layout
*_figures.py  pure functions -> plotly figures, by topic: figure_style.py (colours, template,
              safe text, HTML export), component_figures.py, attention_figures.py,
              sparsity_figures.py, interpolation_figures.py, player_figures.py (the animations),
              training_figures.py, walkthrough_figures.py
state.py      session state and shareable, validated URL query parameters
messages.py   page titles and intros, link notices, text and token notices, the BLEU flag
controls.py   the alpha^Delta control and its URL parameter
output.py     plots with an HTML download, tables, CSV/JSON exports, verbatim text
"""
