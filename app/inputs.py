"""What the user gives, checked before any model sees it: typed text split into sentences
(`check_text`, every page with a text box) and a corpus pasted or uploaded (`check_corpus`, the Corpus
study). Plain functions that never raise: they return the texts to use and the errors and notices to
show (`app.messages.text_messages`). No streamlit, no model calls.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from nvae.data.text import clean_user_text

MAX_SENTENCES = 5  # sentences per text box
MAX_INPUT_CHARS = 20_000  # typed text beyond this is cut before tokenizing (the model keeps far fewer)


# -- typed text -----------------------------------------------------------------------------------


@dataclass
class TextCheck:
    """Typed text split into sentences: `texts` (cleaned, non-empty), errors and notices to show."""

    texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def check_text(raw: Any, max_sentences: int = MAX_SENTENCES, one_per_line: bool = True) -> TextCheck:
    """Validate typed text; never raises. With `one_per_line`, each non-empty line is a sentence."""
    out = TextCheck()
    raw = raw if isinstance(raw, str) else ""
    if len(raw) > MAX_INPUT_CHARS:
        raw = raw[:MAX_INPUT_CHARS]
        out.notices.append(f"The text is very long: only its first {MAX_INPUT_CHARS:,} characters were read.")
    pieces = raw.splitlines() if one_per_line else [raw]
    texts = [t for t in (clean_user_text(p) for p in pieces) if t]
    if not texts:
        out.errors.append("Type a sentence: the text is empty (or holds only spaces or invisible characters).")
    elif len(texts) > max_sentences:
        out.notices.append(f"Only the first {max_sentences} sentences are used ({len(texts)} were given).")
        texts = texts[:max_sentences]
    out.texts = texts
    return out


# -- a corpus: pasted text or an uploaded file -----------------------------------------------------

MAX_STUDY_SENTENCES = 1000  # sentences the Corpus study page reads (`nvae study` reads up to 5,000)
MAX_STUDY_BYTES = 1_000_000  # pasted text or a file beyond this is refused (server.maxUploadSize is 1 MB)
BINARY_SHARE = 0.05  # a file with more undecodable or control characters than this is not text


@dataclass
class CorpusCheck:
    """A corpus read for a study: `texts` (its non-blank lines, as `nvae study FILE` reads them, at
    most MAX_STUDY_SENTENCES), errors and notices to show, and how many of the lines are distinct."""

    texts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    distinct: int = 0


def check_corpus(data: Any, what: str = "The text", max_sentences: int = MAX_STUDY_SENTENCES) -> CorpusCheck:
    """Read a corpus (str, bytes of a file, or a list of lines), one sentence per line; never raises.

    Refuses what is too large, binary (NUL bytes, or more than 5% undecodable or control
    characters), empty, blank or invisible; keeps the first `max_sentences` lines with a notice; says
    when lines repeat (they are studied each time, as on the command line)."""
    out = CorpusCheck()
    cli = "`python -m nvae study FILE`"
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        if len(data) > MAX_STUDY_BYTES:
            out.errors.append(
                f"{what} is {len(data) / 1e6:.1f} MB; this page reads up to {MAX_STUDY_BYTES / 1e6:g} MB "
                f"({max_sentences:,} sentences). Split it, or run {cli}, which reads up to 5,000 sentences."
            )
            return out
        if b"\x00" in data:
            out.errors.append(
                f"{what} does not look like text: it holds NUL bytes (a binary file, or text saved as UTF-16). "
                "Upload a plain-text file in UTF-8, one sentence per line."
            )
            return out
        text = data.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v")
        if text and (bad + controls) / len(text) > BINARY_SHARE:
            out.errors.append(
                f"{what} does not look like text: {bad + controls:,} of its {len(text):,} characters are not "
                "valid UTF-8 or are control characters. Upload a plain-text file in UTF-8, one sentence per line."
            )
            return out
        if bad:
            out.notices.append(f"{what} has {bad:,} byte sequence(s) that are not valid UTF-8; they read as �.")
    elif isinstance(data, (list, tuple)):
        text = "\n".join(str(line) for line in data)
    else:
        text = data if isinstance(data, str) else ""
        if len(text.encode("utf-8", "surrogatepass")) > MAX_STUDY_BYTES:
            out.errors.append(
                f"{what} is larger than {MAX_STUDY_BYTES / 1e6:g} MB; this page reads up to "
                f"{max_sentences:,} sentences. Run {cli} on it instead."
            )
            return out
    text = text.lstrip("\ufeff")  # a byte-order mark is not part of the first sentence
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        out.errors.append(f"{what} is empty (or holds only blank lines): give one sentence per line.")
        return out
    cleaned = [clean_user_text(line) for line in lines[:max_sentences]]
    if not any(cleaned):
        out.errors.append(f"{what} holds only spaces or invisible characters: give one sentence per line.")
        return out
    if len(lines) > max_sentences:
        out.notices.append(
            f"{what} has {len(lines):,} sentences; this page studies the first {max_sentences:,} "
            f"({cli} reads up to 5,000)."
        )
        lines = lines[:max_sentences]
    out.texts = lines
    out.distinct = len({c for c in cleaned if c})
    kept = sum(1 for c in cleaned if c)
    if out.distinct == 1 and kept > 1:
        out.notices.append(
            f"All {kept} sentences are the same sentence. It is studied {kept} times, as {cli} does, so "
            "every point of the length plot lies on one spot and every share below is that one sentence's."
        )
    elif out.distinct < kept:
        out.notices.append(
            f"{kept - out.distinct} of the {kept} sentences repeat an earlier one. Each is studied every "
            f"time it occurs, as {cli} does: repeated sentences weigh more."
        )
    return out
