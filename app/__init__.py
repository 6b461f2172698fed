"""nvae-explorer's Streamlit front end: thin pages over the `nvae` library.

    main.py       entry script (`streamlit run app/main.py`): st.navigation over pages/
    pages/        one short script per page
    analysis.py   what the pages compute, as plain functions over nvae's public API (no streamlit)
    model.py      checkpoint discovery, cached model loading and cached results (streamlit caches)
    figures.py    pure functions -> plotly figures
    state.py      session state and shareable, validated URL query parameters
    ui.py         widgets and messages the pages share
"""
