"""NVAE explorer, the Streamlit app: `streamlit run app/main.py` (from the repository root).

Pages live in app/views/ (see app/__init__.py for the whole layout, and why not pages/), one short
script each; a page in parts has a folder whose page.py is the script (views/interpolate/page.py).
st.navigation gives every page its own address (/inspect, /sparsity, /interpolate, /latent-map,
/side-by-side, /samples, /denoising, /corpus-study, /walkthrough, /model: `url_path` below, not the
file's name) and the query string holds the page's settings, so the address bar is always a link to
the current view. `?page=NAME` on any address opens that page too. The pages draw with app/figures/
and the shared modules beside this file (page, chooser, cache, state, inputs, latents, messages,
controls, output); each starts with page.page_scaffold and runs inside page.page_run, which writes its link.

Environment: NVAE_CHECKPOINT (default checkpoint folder), NVAE_CHECKPOINTS_DIR (folders to list instead of checkpoints/
on the Model page), NVAE_APP_THREADS (torch threads, default 1), NVAE_APP_MAP_SENTENCES (corpus
sample of the latent map, default 300), NVAE_APP_CACHE_DIR (where a latent map the app had to compute
is kept: a checkpoint's shipped latent_map.npz needs none).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import cache, chooser, output, state  # noqa: E402
from app.page import page_run  # noqa: E402

cache.use_app_threads()  # torch's thread count: here, not when a module is imported
st.set_page_config(page_title="NVAE explorer", page_icon=":material/scatter_plot:", layout="wide")

HERE = Path(__file__).resolve().parent
PAGES = {
    "inspect": st.Page(
        HERE / "views/inspect.py", title="Inspect", icon=":material/search:", url_path="home", default=True
    ),
    "sparsity": st.Page(
        HERE / "views/sparsity.py", title="Sparsity", icon=":material/filter_alt:", url_path="sparsity"
    ),
    "interpolate": st.Page(
        HERE / "views/interpolate/page.py", title="Interpolate", icon=":material/swap_horiz:", url_path="interpolate"
    ),
    "latent-map": st.Page(
        HERE / "views/latent_map.py", title="Latent map", icon=":material/bubble_chart:", url_path="latent-map"
    ),
    "side-by-side": st.Page(
        HERE / "views/side_by_side.py", title="Side by side", icon=":material/compare:", url_path="side-by-side"
    ),
    "samples": st.Page(HERE / "views/samples.py", title="Samples", icon=":material/casino:", url_path="samples"),
    "denoising": st.Page(
        HERE / "views/denoising.py",
        title="Denoising attention in 2-D",
        icon=":material/my_location:",
        url_path="denoising",
    ),
    "corpus-study": st.Page(
        HERE / "views/corpus_study.py", title="Corpus study", icon=":material/query_stats:", url_path="corpus-study"
    ),
    "walkthrough": st.Page(
        HERE / "views/walkthrough.py", title="Walkthrough", icon=":material/school:", url_path="walkthrough"
    ),
    "model": st.Page(HERE / "views/model_page.py", title="Model", icon=":material/info:", url_path="model"),
}
PAGE_PARAM = state.Param("page", "choice", "inspect", choices=tuple(PAGES), label="page")
# The default page is served at / only (its url_path, which no link uses, just keeps /inspect free):
# /inspect, typed or linked, reaches it through a hidden page that hands over with the link's settings.
INSPECT_ADDRESS = st.Page(HERE / "views/inspect_address.py", title="Inspect", url_path="inspect", visibility="hidden")

nav = st.navigation([*PAGES.values(), INSPECT_ADDRESS])

chooser.restore_checkpoint_param()
if "page" in st.query_params:  # ?page=NAME: open that page with the rest of the query string
    name, notice = state.parse_param(PAGE_PARAM, st.query_params.get_all("page"))
    rest = {k: st.query_params.get_all(k) for k in st.query_params if k != "page"}
    if notice:
        st.session_state["_notices"] = [  # after the `ckpt` notice, if any: one notice per bad value
            *st.session_state.get("_notices", []),
            "The link names a page that does not exist; showing this one.",
        ]
        st.query_params.from_dict(rest)
    else:
        st.switch_page(PAGES[name], query_params=rest)

with st.sidebar:
    path = chooser.active_checkpoint()
    st.caption(f"Checkpoint: **{output.md_escape(path.name)}** (change it on the Model page)")
    st.caption("The address bar always holds a link to the current view: copy it to share.")

with page_run():  # the page scaffold (app/page.py) writes the page's link when its run ends
    nav.run()
cache.freeze_heap()  # once per server, after the first page has loaded the model and the libraries
