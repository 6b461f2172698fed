"""What the steps of an interpolation strip are, in words, for the Interpolate page and its exports.

- `strip_labels`: each step of one strip named by the report's kinds (`evaluation.step_kinds`:
  a copy of one end, a splice, a concatenation, other), the ends named as such;
- `kinds_line`: one sentence that counts the kinds of the middle steps ("Of 9 middle steps: 3
  copies (2 of A, 1 of B), 1 splice, 5 other; none is a concatenation.");
- `perplexities`, `middle_perplexity`: each sentence's perplexity under the fluency LM
  (`evaluation.lm`), and that of all middle steps together, as the report measures an
  interpolation's fluency (`evaluation.targets`);
- `unreproduced`: the ends that do not decode to their own input, compared as
  `evaluation.endpoints` compares them (the tokenizer's round trip of the input, exactly).

A step is compared with its strip's own first and last sentences (as `step_kinds` does); a path's
segments are strips of their own. Plain values; no streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..evaluation.step_kinds import KINDS, step_kind, step_kinds, words

NAMES = {  # kind -> (one, many)
    "copy": ("copy", "copies"),
    "splice": ("splice", "splices"),
    "concatenation": ("concatenation", "concatenations"),
    "other": ("other", "other"),
}
NONE_IS = {"copy": "a copy", "splice": "a splice", "concatenation": "a concatenation", "other": "of another kind"}
MEANING = {
    "copy": "one end sentence unchanged",
    "splice": "the start of one end sentence, then the end of the other",
    "concatenation": "one end sentence, then the whole other one",
    "other": "none of these: new wording",
}
KIND_HELP = (
    "What a middle step is made of, compared word by word (lower-cased) with the strip's two end sentences: "
    + "; ".join(f"**{NAMES[k][0]}**, {MEANING[k]}" for k in KINDS)
    + ". The project's report counts the same kinds (`nvae.evaluation.step_kinds`)."
)


def step_label(step: str, a: str, b: str, names: Sequence[str] = ("A", "B")) -> str:
    """'copy of A', 'copy of B', 'splice', 'concatenation' or 'other': `step_kind`, a copy named
    by the end it copies."""
    kind = step_kind(step, a, b)
    if kind == "copy":
        return f"copy of {names[0] if words(step) == words(a) else names[1]}"
    return kind


def strip_labels(texts: Sequence[str], names: Sequence[str] = ("A", "B")) -> list[str]:
    """The kind of every step of one strip (its texts from tau = 0 to tau = 1): 'start (A)' and
    'end (B)' at the ends, `step_label` between."""
    if len(texts) < 2:
        return [f"start ({names[0]})"] * len(texts)
    a, b = texts[0], texts[-1]
    return [f"start ({names[0]})", *(step_label(t, a, b, names) for t in texts[1:-1]), f"end ({names[1]})"]


def _count(n: int, kind: str) -> str:
    return f"{n} {NAMES[kind][0] if n == 1 else NAMES[kind][1]}"


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def kinds_line(strips: Sequence[Sequence[str]], names: Sequence[str] | None = None) -> str:
    """The middle steps of `strips` (each a list of texts from tau = 0 to 1) counted by kind, in one
    sentence; with `names` (one strip's ends) the copies are split by the end they copy."""
    summary = step_kinds([list(s) for s in strips])
    n, counts = summary["steps"], summary["counts"]
    if not n:
        return "There is no middle step: the strip holds only its two ends."
    parts = []
    for kind in KINDS:
        if not counts[kind]:
            continue
        part = _count(counts[kind], kind)
        if kind == "copy" and names is not None and len(strips) == 1:
            labels = strip_labels(strips[0], names)[1:-1]
            of = [f"{labels.count(f'copy of {x}')} of {x}" for x in names[:2] if f"copy of {x}" in labels]
            part += f" ({', '.join(of)})"
        parts.append(part)
    missing = [NONE_IS[k] for k in KINDS if not counts[k]]
    line = f"Of {n} middle step{'s' if n != 1 else ''}: {', '.join(parts)}"
    return line + (f"; none is {_or(missing)}." if missing else ".")


def middle_texts(strips: Sequence[Sequence[str]]) -> list[str]:
    """Every step of `strips` but each strip's first and last."""
    return [t for s in strips for t in list(s)[1:-1]]


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def perplexities(lm, texts: Sequence[str]) -> list[float | None]:
    """Each sentence's perplexity per token under the fluency LM (`FluencyLM.perplexity` of it
    alone; lower reads more fluently); None for an empty sentence."""
    scores = {t: _finite(lm.perplexity([t])) for t in dict.fromkeys(texts)}
    return [scores[t] for t in texts]


def middle_perplexity(lm, strips: Sequence[Sequence[str]]) -> float | None:
    """The perplexity of all middle steps of `strips` together: how the report measures the fluency
    of an interpolation. None when there is no middle step with text."""
    return _finite(lm.perplexity(middle_texts(strips)))


def unreproduced(
    ends: Sequence[str], refs: Sequence[str], inputs: Sequence[str], names: Sequence[str] = ("A", "B")
) -> list[dict]:
    """The ends that do not decode to their own input: `ends` the decoded text at each sentence of a
    strip or path (tau = 0 at A, ...), `refs` the tokenizer's round trip of each input (what a
    perfect reconstruction gives), compared exactly as `evaluation.endpoints` compares them.
    [{"name", "input", "read_as", "decoded"}] for each end that differs."""
    return [
        {"name": name, "input": text, "read_as": ref, "decoded": end}
        for name, text, ref, end in zip(names, inputs, refs, ends)
        if end != ref
    ]
