"""The demo set that ships with the project (`examples/`, or $NVAE_EXAMPLES_DIR): short sentences
written for the project and sentences of the validation split (never of test).

    sentences.txt  one sentence per line
    pairs.tsv      two sentences per line, separated by a tab (interpolation endpoints)

Both readers return plain lists and never raise: a missing or unreadable file gives [].
"""

from __future__ import annotations

from ..locations import examples_dir

MAX_EXAMPLE_CHARS = 2000  # a line longer than this is not an example sentence


def _lines(name: str) -> list[str]:
    try:
        text = (examples_dir() / name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.strip() for line in text.splitlines() if line.strip() and len(line) <= MAX_EXAMPLE_CHARS]


def sentences() -> list[str]:
    """The demo sentences (examples/sentences.txt), in file order, each once."""
    return list(dict.fromkeys(_lines("sentences.txt")))


def pairs() -> list[tuple[str, str]]:
    """The demo sentence pairs (examples/pairs.tsv): lines with exactly two non-empty fields."""
    out = []
    for line in _lines("pairs.tsv"):
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) == 2 and all(fields):
            out.append((fields[0], fields[1]))
    return out
