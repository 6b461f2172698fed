"""Model: the checkpoint in use, its model card, configuration and training curves."""

import streamlit as st

from app import cache, chooser, figures, latents, output
from app.page import page_scaffold
from nvae.store.checkpoint import describe, read_metrics
from nvae.store.format import CheckpointError

PAGE = "model"
# config keys (model and training) that only the NVAE's latent reads: a baseline's page leaves them out
NVAE_ONLY = (
    "alpha_delta",
    "alpha_conditioning",
    "quantile_scale",
    "prior_",
    "prune_gate",
    "pi_concentration",
    "gaussian_train",
    "kappa",
    "init_logvar",
    "lambda_d",
)
LATENT_SHORT = {"t": "encoder states", "vt": "vector per token", "vtp": "one pooled vector", "vts": "strided vectors"}

page = page_scaffold(
    PAGE,
    "Model",
    """
Which checkpoint the app is using, what it is (its model card), how it is configured and how its
training went. If several checkpoints exist (the NVAE and the paper's baselines T, VT, VTP, VTS),
choose one here: every page then uses it.
""",
    model=False,  # it reads the checkpoint's files, and shows why when they cannot be read
)

chooser.checkpoint_selector(key="model_page_ckpt")
path = chooser.active_checkpoint()
page.link({}, params=[])  # the link holds the checkpoint only
st.caption(f"Folder: {output.md_escape(path)}")
try:
    info = describe(path)
except CheckpointError as err:
    st.error(f"This checkpoint cannot be read. {output.md_escape(err)}", icon=":material/error:")
    page.stop()

cfg = info["config"]
c = st.columns(4)
c[0].metric("Model type", cfg["model_type"].upper())
c[1].metric("Parameters", f"{info['parameters']:,}" if info["parameters"] else "?")
c[2].metric("Size on disk", f"{info['total_bytes'] / 1e6:.1f} MB")
if latents.is_baseline(cfg):  # no prior component, no alpha^Delta
    c[3].metric("Latent", LATENT_SHORT.get(cfg["model_type"], cfg["model_type"].upper()))
    st.caption(
        f"{cfg['model_type'].upper()} baseline, whose latent is "
        f"{latents.latent_description(cfg['model_type'], cfg.get('stride', 2))}."
    )
elif cfg["nvib"]["alpha_delta_conditional"]:
    c[3].metric(
        "α^Δ range (loss-conditional)", f"{cfg['nvib']['alpha_delta_min']:g} – {cfg['nvib']['alpha_delta_max']:g}"
    )
else:
    c[3].metric("α^Δ (fixed)", f"{cfg['nvib']['alpha_delta']:g}")
try:
    at_load, now = cache.model_fingerprints(path)
except CheckpointError as err:
    st.error(f"The weights cannot be loaded. {output.md_escape(err)}", icon=":material/error:")
else:
    if at_load == now:
        st.caption(
            f"Model fingerprint `{now[:16]}` (SHA-256 of weights, configuration and tokenizer): "
            "unchanged since the app loaded it."
        )
    else:
        st.error(
            f"The model shared by all sessions has changed since it was loaded (fingerprint "
            f"`{at_load[:16]}` → `{now[:16]}`). Restart the app to reload it.",
            icon=":material/error:",
        )

with st.expander("Model card", expanded=True, icon=":material/description:"):
    card_file = path / "MODEL_CARD.md"
    if card_file.is_file():
        st.markdown(card_file.read_text(encoding="utf-8", errors="replace"))  # our own file
    else:
        st.info("This checkpoint has no MODEL_CARD.md.")

rows = read_metrics(path)
if rows:
    output.plot(figures.training.training_curves(rows), "training-curves", key="curves")
    evals = [r for r in rows if r.get("kind") == "eval"]
    if evals:
        with st.expander("Evaluations during training"):
            output.table(evals, width="stretch")
else:
    st.info("This checkpoint has no metrics.jsonl, so there are no training curves.")

with st.expander("Configuration and files", icon=":material/settings:"):
    st.caption("Model")
    shown = cfg
    if latents.is_baseline(cfg):  # the NVAE's conditional-prior settings do nothing in a baseline
        shown = {k: v for k, v in cfg.items() if not k.startswith(NVAE_ONLY)}
        st.caption("Settings only the NVAE uses are not listed.")
    output.table([{"setting": k, "value": str(v)} for k, v in shown.items()], width="stretch")
    st.caption("Training")
    train_shown = info["train_config"]
    if latents.is_baseline(cfg):
        train_shown = {k: v for k, v in train_shown.items() if not k.startswith(NVAE_ONLY)}
    output.table([{"setting": k, "value": str(v)} for k, v in train_shown.items()], width="stretch")
    st.caption("Files")
    output.table([{"file": k, "bytes": v} for k, v in info["files"].items()], width="stretch")
