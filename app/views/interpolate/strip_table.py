"""An interpolation strip shown as a table, for both parts of the Interpolate page: what each step is
(a copy of one end, a splice, a concatenation or other, as the report counts them;
`nvae.readout.strip_steps`) and its perplexity under the fluency LM when there is one, with a line
that counts the middle steps' kinds; the share of each kind over many strips; and a notice for each
end that does not reproduce its own input."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from app import cache, output
from nvae.evaluation.step_kinds import KINDS, step_kinds
from nvae.readout import strip_steps

FLUENCY = "LM perplexity"


def _number(v) -> str:
    return "–" if v is None or v != v else f"{v:.0f}"


def fluency_help(lm) -> str:
    """What the perplexity means, with that of real sentences (the LM's validation split) beside it."""
    real = lm.info.get("validation_perplexity") if lm is not None else None
    return (
        "Perplexity per token under the project's fluency language model (`nvae lm train`, the report's "
        "measure): lower reads more fluently" + (f"; real validation sentences score {real:.0f}." if real else ".")
    )


def strip_table(rows: list[dict], names: tuple[str, str] = ("A", "B")) -> None:
    """A strip as a wrapping table; rows that differ from the step before are highlighted. Each step
    says what it is and, with the fluency LM, its perplexity; a line under the table counts the
    middle steps by kind."""
    a, b = names
    texts = [r["text"] for r in rows]
    lm, lm_key, _ = cache.fluency_lm()
    scores = cache.perplexities(lm, lm_key, tuple(texts)) if lm is not None else None
    df = pd.DataFrame(
        [
            {
                "tau": r["tau"],
                "text": r["text"],
                "kind": kind,
                "change": r["change"],
                f"BLEU vs {a}": r["bleu_a"],
                f"BLEU vs {b}": r["bleu_b"],
                **({FLUENCY: scores[k]} if scores is not None else {}),
            }
            for k, (r, kind) in enumerate(zip(rows, strip_steps.strip_labels(texts, names)))
        ]
    )
    fine = any(abs(r["tau"] * 10 - round(r["tau"] * 10)) > 1e-9 for r in rows)  # a log-odds grid
    output.text_table(
        df,
        highlight=[r["changed"] for r in rows],
        columns=["text", "change"],
        formats={
            "tau": "{:.3g}" if fine else "{:.1f}",
            f"BLEU vs {a}": "{:.1f}",
            f"BLEU vs {b}": "{:.1f}",
            FLUENCY: _number,
        },
    )
    st.markdown(f"**What the middle steps are.** {strip_steps.kinds_line([texts], names)}", help=strip_steps.KIND_HELP)


def kind_shares(strips: Sequence[Sequence[str]], where: str, line: bool = True) -> None:
    """Over the middle steps of `strips` (each a list of texts from tau = 0 to 1; `where` names them,
    "the path's"): the count of each kind in words (`line` False: `strip_table` wrote it), its share as
    metrics, and the perplexity of the middle steps together under the fluency LM (a caption says when
    there is none)."""
    strips = [list(s) for s in strips]
    summary = step_kinds(strips)
    n = summary["steps"]
    if line:
        st.markdown(f"**What {where} middle steps are.** {strip_steps.kinds_line(strips)}", help=strip_steps.KIND_HELP)
    cols = st.columns(len(KINDS) + 1)
    for col, kind in zip(cols, KINDS):
        share = summary["shares"][kind]
        col.metric(
            strip_steps.NAMES[kind][1].capitalize(),
            "–" if share is None else f"{share:.0%}",
            help=f"share of the {n} middle steps of this kind: {strip_steps.MEANING[kind]}",
        )
    lm, lm_key, why = cache.fluency_lm()
    if lm is None:
        cols[-1].caption(f"No fluency measure: {why}.")
        return
    ppl = cache.middle_perplexity(lm, lm_key, tuple(tuple(s) for s in strips))
    cols[-1].metric(
        f"{FLUENCY}, middle steps",
        _number(ppl),
        help=fluency_help(lm) + " Here, of all middle steps taken together, as the report measures an interpolation.",
    )


def unreproduced_notices(ends: Sequence[str], refs: Sequence[str], inputs: Sequence[str], names: Sequence[str]) -> None:
    """A warning for each end (`ends`, the decoded text at each sentence) that is not its input as the
    tokenizer reads it back (`refs`), compared as the report compares them."""
    for miss in strip_steps.unreproduced(ends, refs, inputs, names):
        decoded = f"“{output.md_escape(miss['decoded'])}”" if miss["decoded"].strip() else "an empty sentence"
        st.warning(
            f"Sentence {miss['name']} is not reproduced: the model decodes “{output.md_escape(miss['input'])}” as "
            f"{decoded}, so that is the strip's end at {miss['name']}, not {miss['name']} itself.",
            icon=":material/sync_problem:",
        )
