"""The Interpolate page, in parts. Streamlit runs page.py as the page's script (app/main.py's
st.Page, address /interpolate); the other modules are imported by it as `app.views.interpolate.X`.

page.py         the page script: header, intro, the path/batch switch, then the parts below
settings.py     the page's link parameters, the view the link holds, what every export records, and the
                steps and tau-grid control both parts draw (`InterpolatePage`, `strip_settings`)
path.py         a path through A, B (C, D, E): the mixture at one tau, the strips of every segment,
                beside a baseline's when one is chosen (`path_view` -> `DecodedPath`)
player.py       the path as an animation, and (opt-in) drawn on the latent map
batch.py        a TSV file of sentence pairs: every strip, the curves over all pairs, the downloads
strip_table.py  one interpolation strip as a wrapping table with what each step is (copy, splice, ...) and
                its LM perplexity, the share of each kind over many strips, and the ends that do not
                reproduce their input (used by path.py and batch.py)
"""
