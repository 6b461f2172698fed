"""nvae-explorer's Streamlit front end: thin pages over the `nvae` library.

main.py       entry script (`streamlit run app/main.py`): st.navigation over views/
views/        the pages, one short script each. Not named `pages/`: Streamlit treats a pages/
              folder beside the entry script as a legacy multipage app and would run a page
              file without the entry script (on a server's first request, and on every
              AppTest rerun).
analysis.py   what the pages compute, as plain functions over nvae's public API (no streamlit)
model.py      checkpoint discovery, cached model loading and cached results (streamlit caches)
figures.py    pure functions -> plotly figures
state.py      session state and shareable, validated URL query parameters
ui.py         widgets and messages the pages share
"""
