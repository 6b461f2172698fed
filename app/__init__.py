"""nvae-explorer's Streamlit front end: thin pages over the `nvae` library.

main.py       entry script (`streamlit run app/main.py`): st.navigation over views/
views/        the pages, one short script each; a page with several parts has a folder of its own
              (views/interpolate/: page.py is the script, its neighbours the parts). Not named
              `pages/`: Streamlit treats a pages/ folder beside the entry script as a legacy
              multipage app and would run a page file without the entry script (on a server's first
              request, and on every AppTest rerun).
figures/      pure functions -> plotly figures (and the token strip's HTML), by topic: style.py
              (colours, template, safe text, HTML export), components.py, attention.py, sparsity.py,
              interpolation.py, player.py (the animations), training.py, walkthrough.py

How a page is built: its script starts with `page = page_scaffold(PAGE, title, intros=...)` (page.py),
which draws the title and intro, loads the model and shows pending notices; `page.restore(PARAMS)` sets
the controls from an opened link and declares the page's link (its controls' values, or `page.link(...)`);
the scaffold alone writes the link into the address bar: when the run ends (main.py's `page_run()`), at
`page.stop()` (never `st.stop()`) and when a `@link_fragment` reruns alone.

What the pages share, in the order a page uses them:
page.py       the page scaffold: the shared start of every page and the one writer of its link
chooser.py    which checkpoint: those there are, the session's choice, `?ckpt=`, the model or an error
cache.py      the caches: the shared model (st.cache_resource) and the pages' results over
              `nvae.readout.sentence` (st.cache_data), keyed by the checkpoint; the latent map on disk
stores.py     what cache.py builds on, with no streamlit: ResultStore, Prefetcher, KeyedLocks
state.py      session state and shareable, validated URL query parameters
inputs.py     typed text and uploaded corpora checked (no streamlit, no model calls)
latents.py    a checkpoint's latent in its own terms (is_nvae / is_baseline, the one test of which
              kind a checkpoint is), and its components as table rows (no streamlit, no model calls)
messages.py   page titles and intros, link notices, text and token notices, the BLEU flag
controls.py   the alpha^Delta control and its URL parameter, the Examples menu
output.py     plots with an HTML download, tables, CSV/JSON exports, verbatim text
"""
