"""A checkpoint's latent as the pages show it, in plain functions (no streamlit, no model calls):
which kind it is (`is_nvae`, `is_baseline`: the one place the app tells an NVAE from a baseline),
what it is in its own words (`latent_description`), and its components as table rows (`components_table`;
a pooling checkpoint's segments: `segment_split`, `segment_rows`; the Latent map's selected points:
`selected_rows`, `by_sentence`). What is read off a model's latent is
`nvae.readout.sentence`'s (the map's layout: `nvae.readout.latent_map`).
"""

from __future__ import annotations

from collections.abc import Mapping

from nvae.model.mixture import source_label
from nvae.readout import sentence
from nvae.readout.sentence import SentenceView, segment_positions, segment_spans

# -- which kind of latent ---------------------------------------------------------------------------


def is_nvae(cfg) -> bool:
    """The NVAE (a mixture of components with a prior component, pruned by the conditional prior α^Δ),
    not a baseline. `cfg` is a model's config (`model.cfg`) or its config.json read as a dict (the
    Model page's `describe(path)["config"]`)."""
    return (cfg["model_type"] if isinstance(cfg, Mapping) else cfg.model_type) == "nvae"


def is_baseline(cfg) -> bool:
    """A baseline (T, VT, VTP, VTS): a fixed set of vectors, no prior component, no α^Δ."""
    return not is_nvae(cfg)


# -- a checkpoint's latent in its own terms -------------------------------------------------------


_LATENTS = {
    "nvae": "a Dirichlet-weighted mixture of Gaussian components, one per input token plus a prior component, "
    "pruned by the conditional prior α^Δ",
    "t": "the encoder states themselves: one vector per token (no noise, no regulariser, nothing pruned)",
    "vt": "one Gaussian vector per token (nothing pruned)",
    "vtp": "one Gaussian vector pooled over the whole sentence",
    "vts": "a Gaussian vector on every {nth} position (the positions between are dropped by that fixed rule, "
    "whatever the words: the pages mark them pruned)",
}


def latent_description(model_type: str, stride: int = 2) -> str:
    """What a checkpoint's latent is, in its own terms (a baseline has no prior and no α^Δ)."""
    nth = {1: "", 2: "second", 3: "third"}.get(int(stride), f"{int(stride)}th")
    text = _LATENTS.get(model_type, "its encoder's latent vectors")
    return text.format(nth=nth).replace("every  position", "every position")


# -- tables ---------------------------------------------------------------------------------------


def components_table(view: SentenceView, pooled: bool = False) -> list[dict]:
    """Rows for the components table and its CSV/JSON export; `pooled` (a model whose kept components
    stand for their segments) adds the tokens each kept component stands for and their positions
    ("segment": '2–5', counted from 0; '' for a pruned component)."""
    rows = [
        {
            "component": r["component"],
            "source": source_label(r["source"]).strip("⟨⟩") if r["source"] < 0 else f"token {r['source']}",
            "token": r["token"],
            "alpha": r["alpha"],
            "pi": r["pi"],
            "status": "retained" if r["retained"] else "pruned",
            "mean_variance": r["mean_variance"],
        }
        for r in view.components
    ]
    if pooled:
        spans = {s["component"]: s for s in segment_spans(view.components)}
        for row in rows:
            span = spans.get(row["component"])
            row["stands for"] = " ".join(span["tokens"]) if span else ""
            row["segment"] = segment_positions(span["span"]) if span else ""
    return rows


SUMMED_ALPHA = (
    "A kept component's α is its segment's sum of pseudo-counts, so a kept bar can sit under the threshold and "
    "a pruned token over it: the threshold counts how many are kept, the split places them."
)
SPLIT_LABEL = "The sentence split into its segments, a bar between each two (each kept component stands for one)"


def segment_split(view: SentenceView) -> str:
    """The sentence's tokens with a bar between its segments ('the cat | sat on | the mat [EOS]'), or a
    note that nothing is kept (then the decoder reads the prior alone)."""
    return sentence.segment_split(view.components) or "(no segment: no token component is kept)"


def segment_rows(view: SentenceView) -> list[dict]:
    """One row per segment of a sentence (a model whose kept components stand for segments): the kept
    component, its token, the token positions it stands for (from 0) and their tokens."""
    by_component = {r["component"]: r for r in view.components}
    return [
        {
            "component": s["component"],
            "token": by_component[s["component"]]["token"],
            "segment": segment_positions(s["span"]),
            "stands for": " ".join(s["tokens"]),
        }
        for s in segment_spans(view.components)
    ]


# -- latent map selections -------------------------------------------------------------------------


def selected_rows(
    points: list[dict],
    corpus: dict,
    sentences: list[str],
    user: dict | None = None,
    user_sentences: list[str] | None = None,
    limit: int = 5000,
) -> list[dict]:
    """Rows (sentence, token, weight) for points picked on the map. Each point carries
    `customdata` = [layer, index]: layer 0 = corpus, 1 = the user's sentences."""
    rows = []
    for p in points[:limit]:
        data = p.get("customdata") if isinstance(p, dict) else None
        if not isinstance(data, (list, tuple)) or len(data) < 2:
            continue
        try:
            layer, idx = int(data[0]), int(data[1])
        except (TypeError, ValueError):
            continue
        source, texts = (corpus, sentences) if layer == 0 else (user, user_sentences)
        if source is None or texts is None or not 0 <= idx < len(source["token"]):
            continue
        s = int(source["sentence"][idx])
        rows.append(
            {
                "from": "corpus" if layer == 0 else "yours",
                "token": str(source["token"][idx]),
                "weight": float(source["weight"][idx]),
                "sentence": texts[s] if 0 <= s < len(texts) else "",
            }
        )
    return rows


def by_sentence(rows: list[dict]) -> list[dict]:
    """Selected components grouped per sentence (the user's first): the tokens picked in each."""
    groups: dict[tuple[str, str], dict] = {}
    for r in rows:
        g = groups.setdefault(
            (r["from"], r["sentence"]), {"from": r["from"], "sentence": r["sentence"], "tokens": [], "weight": 0.0}
        )
        g["tokens"].append(r["token"])
        g["weight"] += r["weight"]
    out = sorted(groups.values(), key=lambda g: (g["from"] != "yours", -len(g["tokens"])))
    return [
        {
            "from": g["from"],
            "components": len(g["tokens"]),
            "tokens": " ".join(g["tokens"]),
            "total weight": g["weight"],
            "sentence": g["sentence"],
        }
        for g in out
    ]
