"""Choosing the demo set that ships in `examples/` (`nvae demo`): sentences and pairs that show what
the model does, read by `nvae.data.examples` for the app's Examples menus.

- **Written sentences** (the project's own, from no split): the short everyday ones a useful default
  must reconstruct, and two longer ones. Those the model reconstructs exactly at its default
  alpha^Delta are kept; the others are reported as left out.
- **Validation sentences** (never test): from a seeded draw of `pool` sentences of 8 to 24 tokens
  with no [UNK] (capitalised, ending in a full stop, no citation boilerplate), those reconstructed
  exactly at the default, the ones with the smallest retained proportion first (they show that
  the model prunes and still reads the sentence back).
- **Pairs**: every pair of the chosen sentences is interpolated (11 steps); pairs whose ends decode
  exactly like the sentences alone come first, then strips with at least 4 distinct sentences,
  then the smallest largest step of sentence BLEU against decoded A. Each sentence ends at most
  one chosen pair.

Plain values in, a dict out; the command writes the files.
"""

from __future__ import annotations

import itertools
import random

from ..data.text import UNK_ID, encode_texts
from ..evaluation.endpoints import MATCH, endpoint_value
from ..evaluation.measures import SHORT_SENTENCES, pair_record
from ..evaluation.metrics import reconstruct
from ..model.autoencoder import NVAE
from ..model.grids import tau_grid

WRITTEN = [
    *SHORT_SENTENCES,
    "The river flows north through the valley before it reaches the sea.",
    "After the war, the town was rebuilt with money from the new government.",
]
MIN_TOKENS, MAX_TOKENS = 8, 24  # validation sentences of a length a demo reads at a glance
# Wikipedia's citation boilerplate ("Archived from the original on ...", "Retrieved 3 May 2010."),
# which reads back easily and shows nothing
BOILERPLATE = ("archived from", "retrieved ")


def readable(text: str) -> bool:
    """A sentence a demo may show: it starts with a capital letter, ends with a full stop and is
    not citation boilerplate."""
    t = text.strip()
    return bool(t) and t[0].isupper() and t.endswith(".") and not t.lower().startswith(BOILERPLATE)


STEPS = 11
MIN_DISTINCT = 4  # a strip worth showing moves through at least this many sentences


def _readback(model: NVAE, texts: list[str], alpha_delta: float | None) -> list[dict]:
    """Each sentence's greedy reconstruction at `alpha_delta`: exact or not, and the retained share."""
    ids, _ = encode_texts(model.tokenizer, texts, model.cfg.max_len - 1)
    res = reconstruct(model, ids, alpha_delta)
    return [
        {
            "text": t,
            "ids": i,
            "reconstruction": h,
            "exact": h == r,
            "retained_proportion": k / n,
        }
        for t, i, h, r, k, n in zip(texts, ids, res.hyps, res.refs, res.n_retained, res.n_inputs)
    ]


def choose(
    model: NVAE,
    validation: list[str],
    written: list[str] | None = None,
    n_sentences: int = 6,
    n_pairs: int = 4,
    pool: int = 300,
    alpha_delta: float | None = None,
    seed: int = 0,
) -> dict:
    """The demo set for `model` at `alpha_delta` (its default when None): {"sentences", "pairs",
    "measures", "left_out", ...}. `validation`: sentences of the validation split."""
    if not model.cfg.is_nvae:
        raise ValueError("the demo set shows an NVAE's pruning: choose it with an NVAE checkpoint")
    ad = model.cfg.nvib.alpha_delta if alpha_delta is None else alpha_delta
    written = list(WRITTEN if written is None else written)
    mine = _readback(model, written, ad)

    ids, _ = encode_texts(model.tokenizer, validation, model.cfg.max_len - 1)
    fit = [t for t, i in zip(validation, ids) if MIN_TOKENS <= len(i) <= MAX_TOKENS and UNK_ID not in i and readable(t)]
    drawn = random.Random(seed).sample(fit, min(pool, len(fit)))
    theirs = [r for r in _readback(model, drawn, ad) if r["exact"]]
    theirs.sort(key=lambda r: (r["retained_proportion"], r["text"]))
    chosen = [r for r in mine if r["exact"]] + theirs[:n_sentences]

    taus = tau_grid(STEPS)
    scored = []
    for a, b in itertools.combinations(chosen, 2):
        rec = pair_record(model, a["ids"], b["ids"], taus, ad)
        key = (not endpoint_value(rec, MATCH), rec["distinct"] < MIN_DISTINCT, rec["largest_step"], -rec["distinct"])
        scored.append((key, a["text"], b["text"], rec))
    scored.sort(key=lambda x: x[:3])
    pairs, used = [], set()
    for _, a, b, rec in scored:
        if len(pairs) == n_pairs:
            break
        if a in used or b in used:
            continue
        used |= {a, b}
        pairs.append(
            {
                "a": a,
                "b": b,
                **{k: rec[k] for k in ("distinct", "largest_step", "strip")},
                MATCH: endpoint_value(rec, MATCH),
            }
        )

    def row(r, source):
        return {"text": r["text"], "source": source, "retained_proportion": round(r["retained_proportion"], 3)}

    return {
        "alpha_delta": ad,
        "sentences": [r["text"] for r in chosen],
        "pairs": [(p["a"], p["b"]) for p in pairs],
        "measures": {
            "sentences": [row(r, "written") for r in mine if r["exact"]]
            + [row(r, "validation") for r in theirs[:n_sentences]],
            "pairs": pairs,
            "validation_drawn": len(drawn),
            "validation_exact": len(theirs),
        },
        "left_out": [{"text": r["text"], "reconstruction": r["reconstruction"]} for r in mine if not r["exact"]],
    }


def readme(result: dict, command: str, checkpoint: str) -> str:
    """examples/README.md: what the files hold, where each sentence comes from and how it was chosen."""
    m = result["measures"]
    lines = [
        "# The demo set",
        "",
        "`sentences.txt` (one sentence per line) and `pairs.tsv` (two sentences per line, a tab between)",
        "are the examples the app offers on its pages. They were chosen by",
        "",
        f"    {command}",
        "",
        f"with `{checkpoint}` at its default alpha^Delta ({result['alpha_delta']:.3g}), as `nvae/demo_set.py`",
        "describes: the project's own written sentences that the model reconstructs exactly, then",
        f"validation sentences (never test) reconstructed exactly ({m['validation_exact']} of",
        f"{m['validation_drawn']} drawn), the sparsest first, then the pairs whose interpolation strips",
        "end exactly on their sentences and move through the most distinct sentences in the smallest steps.",
        "",
        "| sentence | source | retained proportion |",
        "|---|---|---|",
        *[f"| {s['text']} | {s['source']} | {s['retained_proportion']:.2f} |" for s in m["sentences"]],
        "",
        "| pair | distinct sentences (of 11) | largest BLEU step |",
        "|---|---|---|",
        *[f"| {p['a']} / {p['b']} | {p['distinct']} | {p['largest_step']:.1f} |" for p in m["pairs"]],
        "",
    ]
    if result["left_out"]:
        lines += [
            "Written sentences left out (not reconstructed exactly at the default):",
            "",
            *[f"- {r['text']} -> {r['reconstruction']}" for r in result["left_out"]],
            "",
        ]
    lines += [
        "The validation sentences are English Wikipedia text from WikiText-2 (CC BY-SA; see",
        "data/README.md). The written sentences are the project's own.",
        "",
    ]
    return "\n".join(lines)
