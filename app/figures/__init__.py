"""The app's figures: pure functions, plain lists and dicts in, plotly figures (and the token strip's
escaped HTML) out. No streamlit and no model calls here: the pages draw what these return
(`app.output.plot`, `app.output.token_strip`), and the tests check them without a server.

style.py          what every figure shares: colours, the plotly template and layout, `plain` (user
                  text shown as typed, never as markup), saving a figure as standalone HTML
components.py     a latent's components: weight bars, the token strip (plotly, and as HTML), drawn
                  weights, the latent map
attention.py      cross-attention over the components; denoising attention in 2-D
sparsity.py       how many components survive: against alpha^Delta, over a corpus
interpolation.py  BLEU along a strip or a path, the mixed latent's components, the pair study's curves
player.py         the animations (a path, a path on the latent map, the pair study's strips)
training.py       a checkpoint's training curves (the Model page)
walkthrough.py    the Walkthrough's steps (encoder states, pseudo-counts, the next token)

Use them as `from app import figures` then `figures.components.component_bars(...)`: every module is
imported here, so the prefix says which topic a figure belongs to.
"""

from app.figures import attention, components, interpolation, player, sparsity, style, training, walkthrough

__all__ = ["attention", "components", "interpolation", "player", "sparsity", "style", "training", "walkthrough"]
