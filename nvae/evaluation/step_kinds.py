"""What the middle steps of an interpolation are made of: copies, splices, concatenations or other.

Interpolating two latents is meant to give sentences between A and B. On a latent whose components
are "token at position" codes, a middle step is often one endpoint unchanged (a copy), a prefix of
one endpoint followed by a suffix of the other (a splice), or one endpoint followed by the other (a
concatenation). `step_kind` names which, on words; `step_kinds` counts them over strips and adds a
softer measure, the share of a step's words that a prefix of one endpoint plus a suffix of the other
explain (1.0 for an exact splice or copy).

The endpoints are the strip's own first and last sentences (the decoded tau = 0 and tau = 1), so a
step is compared with what the user sees at the ends. Words are compared lower-cased, split on
whitespace with punctuation as words of its own.
"""

from __future__ import annotations

import re
from collections import Counter

KINDS = ("copy", "splice", "concatenation", "other")  # in the order `step_kind` tries them
_WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks of `text`."""
    return _WORD.findall(text.lower())


def _common_prefix(x: list[str], y: list[str]) -> int:
    n = 0
    for p, q in zip(x, y):
        if p != q:
            break
        n += 1
    return n


def _common_suffix(x: list[str], y: list[str]) -> int:
    return _common_prefix(x[::-1], y[::-1])


def _without_final_punctuation(x: list[str]) -> list[str]:
    return x[:-1] if x and not re.match(r"\w", x[-1]) else x


def splice_coverage(step: str, a: str, b: str) -> float:
    """The largest share of the step's words explained by a prefix of one endpoint followed by a
    suffix of the other (or by one endpoint alone): max over both orders of
    min(len(step), common prefix + common suffix) / len(step). 0.0 for an empty step."""
    s, x, y = words(step), words(a), words(b)
    if not s:
        return 0.0
    best = 0
    for first, last in ((x, y), (y, x)):
        best = max(best, min(len(s), _common_prefix(s, first) + _common_suffix(s, last)))
    return best / len(s)


def step_kind(step: str, a: str, b: str) -> str:
    """'copy' (the step is A or B), 'splice' (a non-empty prefix of one endpoint then a non-empty
    suffix of the other, nothing else), 'concatenation' (one endpoint, its final punctuation
    optional, then the whole other one) or 'other', on words."""
    s, x, y = words(step), words(a), words(b)
    if s == x or s == y:
        return "copy"
    for first, last in ((x, y), (y, x)):
        head = _without_final_punctuation(first)
        if len(s) >= len(head) + len(last) and s[: len(head)] == head and s[len(s) - len(last) :] == last:
            if len(s) == len(head) + len(last) or len(s) == len(first) + len(last):
                return "concatenation"
    for first, last in ((x, y), (y, x)):
        for i in range(1, len(s)):
            if s[:i] == first[:i] and len(s) - i <= len(last) and s[i:] == last[len(last) - (len(s) - i) :]:
                return "splice"
    return "other"


def step_kinds(strips: list[list[str]]) -> dict:
    """Counts and shares of each kind over the middle steps (every step but the first and last) of
    `strips` (each a list of decoded sentences from tau = 0 to tau = 1), and the mean splice coverage."""
    counts: Counter = Counter()
    coverage = []
    for strip in strips:
        if len(strip) < 3:
            continue
        a, b = strip[0], strip[-1]
        for step in strip[1:-1]:
            counts[step_kind(step, a, b)] += 1
            coverage.append(splice_coverage(step, a, b))
    total = sum(counts.values())
    return {
        "steps": total,
        "counts": {k: counts.get(k, 0) for k in KINDS},
        "shares": {k: (counts.get(k, 0) / total if total else None) for k in KINDS},
        "mean_splice_coverage": sum(coverage) / len(coverage) if coverage else None,
    }
