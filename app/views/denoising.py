"""Denoising attention in 2-D: a teaching page, no checkpoint needed."""

import streamlit as st

from app import figures, messages, output, state
from app.page import link_fragment, page_scaffold
from nvae.readout import attention2d

PAGE = "denoising"
DEFAULTS = [  # weight, mean x, mean y, variance x, variance y
    (0.5, -2.0, 0.0, 0.3, 0.3),
    (0.3, 2.0, 1.0, 1.5, 0.4),
    (0.2, 0.0, 3.0, 0.2, 1.0),
]

page = page_scaffold(
    PAGE,
    "Denoising attention in 2-D",
    """
Attention reads a set of vectors. **Denoising attention** (the poster's figure 2) reads a
*distribution* F over vectors instead, here a mixture of 2 or 3 Gaussians you can edit: it treats
the query **u** as a noisy observation (noise variance √d) of an unknown vector v drawn from F, and
returns the best guess of v, the posterior mean E[v | u]. Ordinary attention is the special case of
point-like components.
""",
    model=False,
)

D_OPTIONS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
# per component i (0, 1, 2): name, label, default column of DEFAULTS, range
COMPONENT = [
    ("w", "weight π", 0, 0.01, 1.0),
    ("mx", "mean x", 1, -5.0, 5.0),
    ("my", "mean y", 2, -5.0, 5.0),
    ("vx", "variance x", 3, 0.01, 4.0),
    ("vy", "variance y", 4, 0.01, 4.0),
]
PARAMS = [
    state.Param("k", "int", 3, lo=2, hi=3, label="Components"),
    state.Param("d", "int", 2, lo=1, hi=1024, label="d (noise variance √d)"),
    state.Param("ux", "float", 1.0, lo=-5.0, hi=5.0, label="query u, x"),
    state.Param("uy", "float", -1.0, lo=-5.0, hi=5.0, label="query u, y"),
    *(
        state.Param(f"{name}{i}", "float", DEFAULTS[i][col], lo=lo, hi=hi, label=f"component {i + 1}, {label}")
        for i in range(3)
        for name, label, col, lo, hi in COMPONENT
    ),
]
page.restore(PARAMS)
messages.show_notices(
    [
        state.clamp_choice(state.wkey(PAGE, "d"), D_OPTIONS, 2),
        *(state.clamp_number(state.wkey(PAGE, p.name), p.lo, p.hi, float(p.default)) for p in PARAMS[2:]),
    ]
)


@link_fragment
def demo() -> None:
    """The controls, the figure and the numbers: a slider move reruns only these, not the text below."""
    controls, view = st.columns([1, 2])
    with controls:
        k = st.radio("Components", [2, 3], horizontal=True, key=state.wkey(PAGE, "k"), persist_state="session")
        d = st.select_slider("d (noise variance √d)", D_OPTIONS, key=state.wkey(PAGE, "d"), persist_state="session")
        ux = st.slider("query u, x", -5.0, 5.0, step=0.1, key=state.wkey(PAGE, "ux"), persist_state="session")
        uy = st.slider("query u, y", -5.0, 5.0, step=0.1, key=state.wkey(PAGE, "uy"), persist_state="session")
        values = {"k": k, "d": d, "ux": ux, "uy": uy}
        for i in range(k):
            with st.expander(f"Component {i + 1}", expanded=False):
                for name, label, _, lo, hi in COMPONENT:
                    if name == "mx":
                        c1, c2 = st.columns(2)  # means and variances: x left, y right
                    where = st if name == "w" else (c1 if name.endswith("x") else c2)
                    values[f"{name}{i}"] = where.slider(
                        label,
                        lo,
                        hi,
                        step=0.1 if name.startswith("m") else 0.01,
                        key=state.wkey(PAGE, f"{name}{i}"),
                        persist_state="session",
                    )
        means = [(values[f"mx{i}"], values[f"my{i}"]) for i in range(k)]
        variances = [(values[f"vx{i}"], values[f"vy{i}"]) for i in range(k)]
        weights = [values[f"w{i}"] for i in range(k)]
    page.link(values)  # every setting of the components in use (and the checkpoint)

    result = attention2d.denoising_demo(means, variances, weights, (ux, uy), d)
    with view:
        total = sum(weights)
        output.plot(
            figures.attention.denoising_2d(means, variances, [w / total for w in weights], (ux, uy), result),
            "denoising-attention-2d",
            key="demo",
        )
        c1, c2 = st.columns(2)
        c1.metric("Ordinary attention", f"({result['ordinary'][0]:.2f}, {result['ordinary'][1]:.2f})")
        c2.metric("Denoising attention", f"({result['denoised'][0]:.2f}, {result['denoised'][1]:.2f})")
        output.plot(
            figures.attention.attention_weights_bars(result["ordinary_weights"], result["denoised_weights"]),
            "attention-weights-2d",
            key="weights",
        )
    view.caption(
        f"Noise variance √d = {result['noise_var']:.3f}. Identity check: ordinary attention minus denoising "
        f"attention over the weighted impulses = {result['identity_gap']:.1e} (zero up to rounding)."
    )


demo()

st.markdown(r"""
**How to read it.** *Ordinary attention* (red ✕) sees only the means $z_i$ and returns their
average weighted by $\mathrm{softmax}(u\cdot z_i/\sqrt d)$: it ignores the weights π and the
variances. The poster rewrites it as denoising attention over **impulses** at $z_i$ weighted by
$\exp(\lVert z_i\rVert^2/2\sqrt d)$ (the identity is checked below).

*Denoising attention* (purple ◆) uses the whole mixture
$F=\sum_i \pi_i\,\mathcal N(\mu_i,\sigma_i^2)$. Each component proposes its own denoised vector
$\bar v_i = (\sigma_i^2\,u + \sqrt d\,\mu_i)/(\sigma_i^2+\sqrt d)$: a wide component (large σ²)
trusts the query and moves it little, a narrow one pulls it to its mean. The proposals are averaged
with weights $\propto \pi_i\,\mathcal N(u;\mu_i,\sigma_i^2+\sqrt d)$: components with a large π that
explain the query well win. In the NVAE the decoder's queries read the encoder's latent mixture this
way, and a pruned component (π = 0) is simply not there.
""")
